"""Enterprise tables in a workspace: load and publish a version, and join the current one into the parcels.

``planner enterprise ingest`` and the app's data manager call
:func:`ingest_enterprises`; every analysis reads parcels through
:func:`analysis_parcels`, so per-mu indicators and the grade come from the
enterprise figures once a table is published (and from the survey's own
fields before).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from planner import enterprise as E
from planner.enterprise.diff import same_enterprises, same_links
from planner.errors import DataError, IngestError, Note, message_in
from planner.io.store import LayerWrite, Store, catalogue_meta, source_sha256
from planner.workflow.permissions import acting_user

#: The one enterprise table of a workspace (name of its layers).
NAME = "enterprises"


@dataclass
class EnterpriseLoad:
    """What loading an enterprise table read, found and (unless a dry run) published."""

    report: object
    table: pd.DataFrame
    links: pd.DataFrame
    link_how: str
    join: dict = field(default_factory=dict)
    version: int | None = None
    #: A dry run: why the real run would refuse to publish (:class:`EnterpriseRefusal`), None: it would publish.
    refusal: EnterpriseRefusal | None = None


#: The link settings stored with a version that change what it means (the same rows shared by floor instead of land
#: area are another version).
_SETTINGS = ("by", "share", "years", "parcels_without")


@dataclass(frozen=True)
class EnterpriseRefusal:
    """Why a load would make a version identical to an existing one, so nothing is published.

    ``kind``: ``"same_file"`` (the table, and the link table if any, are the very files version ``version`` was
    published from, read with the same link settings) or ``"unchanged"`` (other files, or files read otherwise,
    that give the same enterprises and links). ``version`` is the current version, or an earlier one when
    ``current`` (the current version then, None for none) is set: that version is made current again by switching
    to it (:func:`set_current_enterprises`), not by publishing a copy of it. Said in either language by
    :meth:`text` in words of no face: the app adds where its versions list is (:attr:`switch_to`), the command line
    its ``planner workspace use enterprise`` and its option to publish anyway (``--publish-again``).
    """

    kind: str
    version: int
    name: str
    link: str | None = None
    created_at: str | None = None
    user: str | None = None
    n_enterprises: int = 0
    n_links: int = 0
    #: set when ``version`` is not the current version: the current one (None: the workspace has none current)
    current: int | None = None
    earlier: bool = False

    def text(self, lang: str, local_time: Callable[[object], str] | None = None) -> str:
        """The refusal in ``lang``; ``local_time`` writes the version's time (default: the machine's time zone)."""
        from planner.i18n import local_time as machine_time
        from planner.i18n import t

        files = t("de_files_with_link", lang, name=self.name, link=self.link) if self.link else self.name
        old = "_old" if self.earlier else ""
        if self.kind == "same_file":
            said = t(("de_same_files" if self.link else "de_same_file") + old, lang, files=files, v=self.version,
                     when=(local_time or machine_time)(self.created_at), user=self.user or "?")
        else:
            said = t("de_unchanged" + old, lang, files=files, v=self.version, n=self.n_enterprises, m=self.n_links)
        if not self.earlier:
            return said
        now = t("de_current_is", lang, v=self.current) if self.current is not None else t("de_current_none", lang)
        return said + ("" if lang == "zh" else " ") + now

    @property
    def switch_to(self) -> int | None:
        """The earlier version to make current again instead of publishing a copy of it (None: the current one)."""
        return self.version if self.earlier else None

    def error(self, report=None) -> IngestError:
        """The :class:`IngestError` of this refusal (``exc.refusal`` is this record, ``exc.report`` the report)."""
        exc = IngestError(self.text("en"), zh=self.text("zh"))
        exc.refusal = self  # type: ignore[attr-defined]
        exc.report = report  # type: ignore[attr-defined]
        return exc


def enterprise_version(store: Store) -> int | None:
    """The current enterprise table version (None: the workspace has none)."""
    cat = store.layers("enterprise")
    cur = cat[cat["is_current"] & (cat["name"] == NAME)] if len(cat) else cat
    return int(cur["version"].iloc[-1]) if len(cur) else None


def _versions(store: Store) -> list[dict]:
    """Every enterprise version's catalogue facts (version, current or not, when, by whom, rows, checksums, link
    settings): the current version first, then the others newest first (the order a load is compared in)."""
    cat = store.layers("enterprise")
    if not len(cat):
        return []
    cat = cat[cat["name"] == NAME]
    lcat = store.layers("enterprise_link")
    lcat = lcat[lcat["name"] == NAME] if len(lcat) else lcat

    def text(x) -> str | None:
        return None if x is None or (isinstance(x, float) and np.isnan(x)) or str(x) in ("", "None", "nan") else str(x)

    out = []
    for _, row in cat.iterrows():
        v = int(row["version"])
        lrow = lcat[lcat["version"] == v] if len(lcat) else lcat
        meta = catalogue_meta(row["meta"])
        out.append({"version": v, "is_current": bool(row["is_current"]), "n_rows": row.get("n_rows"),
                    "created_at": text(row["created_at"]), "user": text(row["user"]), "sha256": text(row["sha256"]),
                    "link_sha256": text(lrow["sha256"].iloc[-1]) if len(lrow) else None,
                    "link_file": meta.get("link_file"), "link": meta.get("link") or {}})
    return sorted(out, key=lambda f: (not f["is_current"], -f["version"]))


def _same_files(cur: dict | None, sha: str | None, link_sha: str | None, has_link: bool, spec: E.LinkSpec) -> bool:
    """Whether a load is version ``cur``'s files again (same checksums, no link table where it had none), read
    with the same link settings. A version stored before link tables had a checksum never matches one."""
    if cur is None or not sha or sha != cur["sha256"]:
        return False
    if has_link != bool(cur["link_file"]) or (has_link and (not link_sha or link_sha != cur["link_sha256"])):
        return False
    return all(str(getattr(spec, k)) == str(cur["link"].get(k, getattr(E.LinkSpec(), k))) for k in _SETTINGS)


def _unchanged(store: Store, cur: dict | None, ent: pd.DataFrame, links: pd.DataFrame, how: str,
               spec: E.LinkSpec) -> bool:
    """Whether a load gives version ``cur``'s enterprises, links and link settings again.

    Links found on the parcels (their credit codes or names) are found there again by every analysis
    (:func:`analysis_parcels`), so for such a version only the enterprises and settings count.
    """
    if cur is None:
        return False
    n_rows = cur.get("n_rows")
    if n_rows is not None and not pd.isna(n_rows) and int(n_rows) != len(ent):  # not read: another count of rows
        return False
    old = cur["link"]
    if any(str(old.get(k, getattr(E.LinkSpec(), k))) != str(getattr(spec, k)) for k in _SETTINGS if k != "by"):
        return False
    if str(old.get("how", "")) != str(how):
        return False
    if not same_enterprises(store.read_layer("enterprise", NAME, cur["version"]), ent):
        return False
    from_parcels = str(how).startswith("the parcels")
    return from_parcels or same_links(store.read_layer("enterprise_link", NAME, cur["version"]), links)


def _refusal(store: Store, *, sha: str | None, link_sha: str | None, has_link: bool, spec: E.LinkSpec,
             name: str, link_name: str | None, loaded: tuple | None = None) -> EnterpriseRefusal | None:
    """Why publishing this load would make nothing new (None: it would not). ``loaded``: ``(enterprises, links,
    how)`` as read; without it only the files are compared.

    Every version counts, not only the current one: a version equal to an earlier one is that version made
    current again, which switching to it does without a copy (as a survey's file published before is refused,
    :func:`planner.ingest.published_as`). The very files are looked for first, in the current version, then the
    others newest first; then the same enterprises and links, in the same order.
    """
    versions = _versions(store)
    if not versions:
        return None
    current = versions[0]["version"] if versions[0]["is_current"] else None

    def said(f: dict) -> dict:
        earlier = f["version"] != current
        return {"version": f["version"], "name": name, "link": link_name if has_link else None,
                "created_at": f["created_at"], "user": f["user"], "earlier": earlier,
                "current": current if earlier else None}

    for f in versions:
        if _same_files(f, sha, link_sha, has_link, spec):
            return EnterpriseRefusal("same_file", **said(f))
    if loaded is not None:
        for f in versions:
            if _unchanged(store, f, *loaded, spec):
                return EnterpriseRefusal("unchanged", n_enterprises=len(loaded[0]), n_links=len(loaded[1]),
                                         **said(f))
    return None


def ingest_enterprises(source: str | os.PathLike, store: Store, *, mapping=None, link: str | os.PathLike | None = None,
                       encoding: str | None = None, dry_run: bool = False, user: str | None = None,
                       label: str | None = None, source_name: str | None = None,
                       link_name: str | None = None, publish_again: bool = False) -> EnterpriseLoad:
    """Read, check, link and (unless ``dry_run``) publish an enterprise table as a new version.

    The links are checked against the current survey (unmatched codes and
    parcel ids, enterprises without parcels are problems in the report). The
    table and its links are written in one commit under the writer lock; a
    refused load (:class:`~planner.errors.IngestError`) writes nothing.
    ``source_name`` / ``link_name``: the files' names as the user knows them
    (an app upload is stored under a server-made name), for the audit log.

    A load that would make a version identical to an existing one (the current
    one, or an earlier one: switch to that instead) is refused
    (:class:`EnterpriseRefusal`, ``exc.refusal``) unless ``publish_again``:
    the very files a version was published from (same checksums, read with
    the same link settings; said before they are read), or files whose
    enterprises, links and link settings equal a version's (the same table
    saved as csv instead of xlsx). A dry run refuses nothing and says in
    ``refusal`` what the real run would refuse.
    """
    mp = E.as_enterprise_mapping(mapping)
    src = Path(source)
    name = source_name or src.name
    shown_link = (link_name or Path(link).name) if link is not None else None
    sha = source_sha256(src) if src.is_file() else None
    link_sha = source_sha256(Path(link)) if link is not None and Path(link).is_file() else None
    check = {"sha": sha, "link_sha": link_sha, "has_link": link is not None, "spec": mp.link, "name": name,
             "link_name": shown_link}
    if not dry_run and not publish_again:  # the same files again: said before any work (checked again below)
        same = _refusal(store, **check)
        if same is not None:
            raise same.error()
    ent, rep = E.read_enterprises(source, mapping=mp, encoding=encoding)
    link_rows = None
    if link is not None:
        link_rows, link_problems = E.read_links(link, encoding=encoding)
        rep.problems += link_problems
    parcels = store.read_parcels() if store.has_layer("survey", "parcels") else None
    links, how = E.links_for(ent, mp.link, parcels, link_rows)
    share_zh = "建筑面积" if mp.link.share == "floor" else "用地面积"
    rep.notes.append(Note(f"enterprises linked to parcels by {how}; shared by {mp.link.share} area",
                          zh=f"企业按{message_in(how, 'zh')}关联到宗地；跨宗地企业按{share_zh}分摊"))
    counts: dict = {}
    if parcels is not None:
        joined = E.join_enterprises(parcels, ent, links, share=mp.link.share, parcels_without=mp.link.parcels_without)
        rep.problems += joined.problems
        rep.notes += joined.notes
        counts = joined.counts
        n_p = int((joined.parcels["n_enterprises"] > 0).sum())
        rep.notes.append(Note(f"{counts['enterprises_linked']:,} of {len(ent):,} enterprises reach {n_p:,} parcels "
                              "of the current survey",
                              zh=f"{len(ent):,} 家企业中有 {counts['enterprises_linked']:,} 家关联到当前调查版本的 "
                                 f"{n_p:,} 宗地块"))
    else:
        rep.notes.append(Note("the workspace has no survey yet: the links are checked when one is published",
                              zh="工作空间尚无调查数据：发布调查数据时再核对关联"))
    unlinked = None
    if parcels is not None and len(ent) and not counts.get("enterprises_linked"):
        # published, every parcel's tax and output would turn unknown ("low contribution" would vanish)
        said = shown_link or name
        unlinked = DataError(
            f"{said}: none of the {len(ent):,} enterprises reaches a parcel of the current survey (linked by {how}); "
            "publishing it would leave every parcel without tax and output. Check the link table's parcel ids and "
            "credit codes against the survey",
            zh=f"{said}：{len(ent):,} 家企业均未关联到当前调查版本的任何宗地（关联方式：{message_in(how, 'zh')}）；发布后所有宗地将失去"
               "税收和产值。请核对关联表的宗地代码和统一社会信用代码")
        rep.notes.append(Note(str(unlinked), zh=unlinked.zh))
    rep.dry_run = dry_run
    rep.sha256 = sha
    out = EnterpriseLoad(rep, ent, links, how, counts)
    if dry_run:
        out.refusal = None if publish_again else _refusal(store, **check, loaded=(ent, links, how))
        if out.refusal is not None:  # in the report too, as a survey's dry run says it
            rep.add_refusal_note(out.refusal.text("en"), out.refusal.text("zh"), earlier=out.refusal.switch_to)
        return out
    if unlinked is not None:
        raise unlinked
    user = acting_user("ingest", store, user)
    meta = {"label": label, "link": {"by": mp.link.by, "how": how, "share": mp.link.share, "years": mp.link.years,
                                     "parcels_without": mp.link.parcels_without},
            "join": counts, "ingest": rep.summary(), "link_file": shown_link}
    with store.write_lock("publish_enterprises"):
        refusal = None if publish_again else _refusal(store, **check, loaded=(ent, links, how))
        if refusal is not None:  # against the versions there now, under the lock (another may have published)
            raise refusal.error(rep)
        versions = store.write_layers(
            [LayerWrite("enterprise", NAME, ent.reset_index(drop=True), meta=meta, source_file=name,
                        sha256=rep.sha256),
             LayerWrite("enterprise_link", NAME, _storable_links(links), meta=meta,
                        source_file=shown_link or name, sha256=link_sha)],
            user=user, action="publish_enterprises")
    out.version = versions[("enterprise", NAME)]
    return out


def set_current_enterprises(store: Store, version: int, *, user: str | None = None):
    """Make an enterprise table version (and its links, under the same lock) the current one.

    Returns the :class:`~planner.workflow.versions.VersionSwitch`; see
    :func:`planner.workflow.versions.switch_version`.
    """
    from planner.workflow.versions import switch_version

    return switch_version(store, "enterprise", version, user=user)


def _storable_links(links: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({"key": links["key"].astype("string").to_numpy(),
                        "parcel_id": links["parcel_id"].astype("string").to_numpy(),
                        "source_row": pd.to_numeric(links["source_row"], errors="coerce").to_numpy()})
    return out if len(out) else pd.DataFrame({"key": pd.Series(["-"], dtype="string"), "parcel_id": ["-"],
                                              "source_row": [float("nan")]}).iloc[:0]


def analysis_parcels(store: Store, survey_version: int | None = None, *, geometry: bool = True) -> gpd.GeoDataFrame:
    """The parcels every analysis reads: a survey version with the current enterprise table joined in.

    Without an enterprise table the survey's own fields are used as they
    are. ``attrs["enterprise_version"]`` says which table was joined (None).
    ``geometry=False`` reads the attributes only (a plain DataFrame) unless a
    parcel lacks a positive ``land_area_m2``: its area then comes from its
    polygon, so the geometry is read after all.
    """
    parcels = store.read_parcels(survey_version, geometry=geometry)
    if not geometry and len(parcels) and not _land_known(parcels):
        parcels = store.read_parcels(survey_version)
    v = enterprise_version(store)
    parcels.attrs["enterprise_version"] = v
    if v is None:
        return parcels
    ent = store.read_layer("enterprise", NAME, v)  # the version noted, whatever a colleague made current since
    meta = ent.attrs.get("meta") or {}
    spec = E.LinkSpec(**{k: v_ for k, v_ in (meta.get("link") or {}).items() if k in ("by", "share", "years",
                                                                                       "parcels_without")})
    if spec.by == "parcels" or (spec.by == "auto" and meta.get("link", {}).get("how", "").startswith("the parcels")):
        links, _ = E.links_for(ent, E.LinkSpec(by="parcels"), parcels)
    else:
        links = store.read_layer("enterprise_link", NAME, v)
    joined = E.join_enterprises(parcels, ent, links, share=spec.share, parcels_without=spec.parcels_without)
    out = joined.parcels
    out.attrs.update(parcels.attrs)
    out.attrs["enterprise_version"] = v
    out.attrs["enterprise_join"] = joined.counts
    return out


def _land_known(parcels: pd.DataFrame) -> bool:
    """Whether every parcel has a positive ``land_area_m2`` (no area has to come from geometry)."""
    if "land_area_m2" not in parcels.columns:
        return False
    land = pd.to_numeric(parcels["land_area_m2"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return bool((land > 0).all())


__all__ = ["NAME", "EnterpriseLoad", "EnterpriseRefusal", "analysis_parcels", "enterprise_version", "ingest_enterprises",
           "set_current_enterprises"]
