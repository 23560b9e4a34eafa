"""Provenance of stored results: what a result came from, whether its pieces belong together, whether it is stale.

Every stored result (a flags layer; a sites layer with its parcel table) and
every report carries a :class:`Provenance` in its layer meta: a result id
shared by all pieces of one result, the survey version, the policy name and
hash, and the site parameters. Readers that combine pieces call
:func:`check_together`; pages and commands call :func:`stale_reasons` to say
when the inputs have changed since.
"""

from __future__ import annotations

import datetime as _dt
import json
import uuid
from dataclasses import asdict, dataclass

from planner.errors import PlannerError


class ResultMismatchError(PlannerError):
    """Pieces of a stored result do not belong together (e.g. sites of one build, parcel table of another)."""


def new_result_id() -> str:
    """A fresh id shared by the pieces of one result."""
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True)
class Provenance:
    """What a stored result was made from.

    Attributes
    ----------
    result_id : str
        Shared by every piece of one result (sites and site_parcels).
    kind : str
        "flags" or "sites".
    survey_version : int, optional
    policy_name, policy_hash : str, optional
    site_params : dict, optional
        The site parameters (sites only).
    flags_version : int, optional
        The flags layer version the sites were built from.
    flags_result_id : str, optional
        The result id of that flags layer (how readers find it).
    edits : str, optional
        ``name@version`` of the site edits replayed.
    enterprise_version : int, optional
        The enterprise table version joined into the parcels (None: none was).
    created_at : str
        UTC ISO time.
    """

    result_id: str
    kind: str
    survey_version: int | None = None
    policy_name: str | None = None
    policy_hash: str | None = None
    site_params: dict | None = None
    flags_version: int | None = None
    flags_result_id: str | None = None
    edits: str | None = None
    enterprise_version: int | None = None
    created_at: str = ""

    @classmethod
    def new(cls, kind: str, **kw) -> Provenance:
        now = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
        return cls(result_id=new_result_id(), kind=kind, created_at=now, **kw)

    def to_meta(self) -> dict:
        """Layer meta: the provenance fields (plus the legacy ``params`` key older readers use)."""
        out = {k: v for k, v in asdict(self).items() if v is not None}
        if self.site_params is not None:
            out["params"] = self.site_params
        return out

    @classmethod
    def from_meta(cls, meta: dict | None) -> Provenance:
        """Provenance from layer meta; older layers (no result id) get an empty id."""
        m = dict(meta or {})
        sv = m.get("survey_version")
        fv = m.get("flags_version")
        return cls(result_id=str(m.get("result_id") or ""), kind=str(m.get("kind") or ""),
                   survey_version=None if sv is None else int(sv), policy_name=m.get("policy_name"),
                   policy_hash=m.get("policy_hash"), site_params=m.get("site_params", m.get("params")),
                   flags_version=None if fv is None else int(fv), flags_result_id=m.get("flags_result_id"),
                   edits=m.get("edits"), enterprise_version=_int_or_none(m.get("enterprise_version")),
                   created_at=str(m.get("created_at") or ""))

    def summary(self, lang: str = "en") -> str:
        """One line: survey version, policy and hash, when (for pages and reports)."""
        pol = f"{self.policy_name or '–'} ({(self.policy_hash or '')[:12] or '–'})"
        sv = f"v{self.survey_version}" if self.survey_version is not None else "–"
        if lang == "zh":
            return f"调查版本 {sv} · 识别规则 {pol} · 结果 {self.result_id or '–'}"
        return f"survey {sv} · policy {pol} · result {self.result_id or '–'}"


def _int_or_none(v) -> int | None:
    return None if v is None else int(v)


def _meta_key(meta: dict) -> str:
    return json.dumps({k: v for k, v in (meta or {}).items() if k != "n_rows"}, sort_keys=True, default=str)


def check_together(pieces: dict[str, dict], *, what: str) -> None:
    """Raise :class:`ResultMismatchError` unless the metas of ``pieces`` come from one result.

    Parameters
    ----------
    pieces : dict
        Piece label (e.g. ``"sites/default"``) -> its layer meta.
    what : str
        What is being read, for the message (e.g. ``"sites 'default'"``).
    """
    ids = {k: str((m or {}).get("result_id") or "") for k, m in pieces.items()}
    if all(ids.values()) and len(set(ids.values())) == 1:
        return
    # layers written before result ids: the same meta means the same build
    if not any(ids.values()) and len({_meta_key(m) for m in pieces.values()}) == 1:
        return
    detail = ", ".join(f"{k} (result {v or 'none'})" for k, v in ids.items())
    msg = (f"{what}: the stored pieces do not belong together: {detail}. They were written by different runs "
           "(an interrupted or concurrent write); rebuild the result (`planner sites -w WS`, or Rebuild in the app)")
    zh = (f"{what}：存储的各部分不属于同一次计算（{detail}），可能是中断或并发写入所致；"
          "请重新生成（`planner sites -w WS`，或在应用中点击“重新生成”）")
    raise ResultMismatchError(msg, zh=zh)


def stale_reasons(prov: Provenance, *, survey_version: int | None = None, policy_hash: str | None = None,
                  site_params: dict | None = None, enterprise_version: int | None | bool = False,
                  flags: tuple[int, Provenance] | None = None, built_flags: Provenance | None = None
                  ) -> list[tuple[str, str]]:
    """Why a stored result no longer matches the current inputs: ``[(en, zh), ...]`` (empty: up to date).

    Only the inputs given are compared (``enterprise_version=False``: not
    compared; None: the workspace has no enterprise table now). ``flags``:
    the version and provenance of the policy's current flags layer, which
    sites were built from unless it was classified again since (another
    result id; for sites stored without one, another version).
    ``built_flags``: the provenance of the flags version the sites were built
    from, when the workspace still holds it; a classification of the same
    survey, rules and enterprise table again gives the same flags (not
    stale), and the reason names what differs.
    """
    out = []
    if enterprise_version is not False and prov.kind == "flags" and enterprise_version != prov.enterprise_version:
        was = f"enterprise table v{prov.enterprise_version}" if prov.enterprise_version else "no enterprise table"
        now = f"v{enterprise_version}" if enterprise_version else "none"
        out.append((f"classified with {was}; the current enterprise table is {now}",
                     f"识别时{'企业表为 v' + str(prov.enterprise_version) if prov.enterprise_version else '无企业表'}，"
                     f"当前企业表为 {now}"))
    if survey_version is not None and prov.survey_version is not None and int(prov.survey_version) != int(survey_version):
        out.append((f"built on survey v{prov.survey_version}; the current survey is v{survey_version}",
                    f"基于调查版本 v{prov.survey_version}，当前为 v{survey_version}"))
    if policy_hash and prov.policy_hash and prov.policy_hash != policy_hash:
        out.append((f"built under policy {prov.policy_name!r} ({prov.policy_hash[:12]}); the rules in use are "
                    f"{policy_hash[:12]}",
                    f"基于识别规则 {prov.policy_name}（{prov.policy_hash[:12]}），当前规则为 {policy_hash[:12]}"))
    if site_params is not None and prov.site_params is not None:
        changed = sorted(k for k in set(site_params) | set(prov.site_params)
                         if site_params.get(k) != prov.site_params.get(k))
        if changed:
            out.append((f"built with other site parameters ({', '.join(changed)})",
                        f"片区参数已改变（{'、'.join(changed)}）"))
    if flags is not None and prov.kind == "sites" and _classified_again(prov, *flags):
        name, (now, fp) = prov.policy_name, flags
        diff = _inputs_changed(built_flags, fp) if built_flags is not None else [("", "")]
        if diff:
            was_en = f"v{prov.flags_version}" if prov.flags_version is not None else "an earlier version"
            was_zh = f"第 {prov.flags_version} 版" if prov.flags_version is not None else "较早的版本"
            what_en, what_zh = ", ".join(en for en, _ in diff if en), "，".join(zh for _, zh in diff if zh)
            out.append((f"built from flags/{name} {was_en}; policy {name!r} was classified again since "
                        f"(flags/{name} v{now} now{': ' + what_en if what_en else ''})",
                        f"基于三低识别结果 flags/{name} {was_zh}，此后规则 {name} 已重新识别（当前为第 {now} 版"
                        f"{'：' + what_zh if what_zh else ''}）"))
    return out


def flags_built_from(prov: Provenance, flags_cat, flags_prov: list[Provenance]) -> Provenance | None:
    """The provenance of the flags a sites result ``prov`` was built from, among the flags layer versions
    ``flags_cat`` (a catalogue, :meth:`Store.layers`) with provenance ``flags_prov``: by result id; sites stored
    before result ids by policy name and version. None when the workspace no longer holds that flags version."""
    if not len(flags_cat):
        return None
    hit = [p for p, v, n in zip(flags_prov, flags_cat["version"], flags_cat["name"], strict=True)
           if (prov.flags_result_id and p.result_id == prov.flags_result_id)
           or (not prov.flags_result_id and n == prov.policy_name and int(v) == prov.flags_version)]
    return hit[-1] if hit else None


def _inputs_changed(was: Provenance, now: Provenance) -> list[tuple[str, str]]:
    """What two classifications were made from differently: survey, rules, enterprise table (``[(en, zh)]``)."""
    out = []
    if was.survey_version != now.survey_version:
        out.append((f"survey v{now.survey_version}, was v{was.survey_version}",
                    f"调查版本 v{now.survey_version}，原为 v{was.survey_version}"))
    if was.policy_hash != now.policy_hash:
        out.append((f"rules {(now.policy_hash or '–')[:12]}, were {(was.policy_hash or '–')[:12]}",
                    f"识别规则 {(now.policy_hash or '–')[:12]}，原为 {(was.policy_hash or '–')[:12]}"))
    if was.enterprise_version != now.enterprise_version:
        def v(x, lang):
            return (f" v{x}" if x else "无") if lang == "zh" else (f"v{x}" if x else "none")
        out.append((f"enterprise table {v(now.enterprise_version, 'en')}, was {v(was.enterprise_version, 'en')}",
                    f"企业表{v(now.enterprise_version, 'zh')}，原为{v(was.enterprise_version, 'zh')}"))
    return out


def _classified_again(prov: Provenance, version: int, flags: Provenance) -> bool:
    """Whether the flags layer ``flags`` (version ``version``) is another classification than the sites ``prov``
    were built from: another result id, or for sites stored without one (or flags without one), another version."""
    if prov.flags_result_id and flags.result_id:
        return prov.flags_result_id != flags.result_id
    return prov.flags_version is not None and int(prov.flags_version) != int(version)


def _setting_items(params: dict, prefix: str = "") -> dict:
    """Site settings flattened to ``name -> value`` (``weights.difficulty``), for naming what differs."""
    out = {}
    for k, v in params.items():
        if isinstance(v, dict):
            out.update(_setting_items(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _setting_text(v, lang: str) -> str:
    if v is None:
        return "无" if lang == "zh" else "none"
    if isinstance(v, bool):
        return ("是" if v else "否") if lang == "zh" else str(v).lower()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def other_settings_reason(built: dict, saved: dict, *, policy_name: str | None) -> tuple[str, str] | None:
    """That sites were built with other settings than those saved for their policy, naming each and both values
    (``(en, zh)``; None when they are the same). Not an error: ``planner sites --gap 5`` without ``--save-params``
    builds such sites on purpose; it says what the sites rest on and that the saved settings would differ.

    Examples
    --------
    >>> other_settings_reason({"gap_m": 5.0, "weights": {"area": 1}}, {"gap_m": 2.0, "weights": {"area": 1}},
    ...                       policy_name="default")[0]
    "built with other site settings than those saved for policy 'default': gap_m 5 (saved: 2)"
    """
    b, s = _setting_items(built), _setting_items(saved)
    changed = sorted(k for k in set(b) | set(s) if b.get(k) != s.get(k))
    if not changed:
        return None
    en = ", ".join(f"{k} {_setting_text(b.get(k), 'en')} (saved: {_setting_text(s.get(k), 'en')})" for k in changed)
    zh = "，".join(f"{k} 为 {_setting_text(b.get(k), 'zh')}（已保存：{_setting_text(s.get(k), 'zh')}）"
                   for k in changed)
    return (f"built with other site settings than those saved for policy {policy_name!r}: {en}",
            f"所用片区设置与规则 {policy_name} 已保存的设置不同：{zh}")
