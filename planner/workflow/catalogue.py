"""The workspace's saved documents: open, save (without overwriting a colleague's version), rename, delete; and its
layer catalogue as pages and ``planner info`` show it (:func:`layer_catalogue`: what each result was built on).

Every document goes through its typed record (:mod:`planner.workflow.documents`)
and every write through the permission check. Deleting saves a tombstone
version: nothing saved is lost and the history stays.
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from planner import scenarios as sc_mod
from planner.errors import ConfigError, DataError, PlannerError, StoreError, message_in
from planner.i18n import has_hidden, without_hidden, workspace_option
from planner.io.store import Store, _doc_text, catalogue_meta
from planner.workflow import documents as D
from planner.workflow.permissions import acting_user


class SaveConflictError(PlannerError):
    """A document was saved by someone else since it was opened (or the name is taken)."""


# --------------------------------------------------------------------------- names and references
#: Longest document name (characters); names are titles on reports and file names of downloads.
MAX_NAME = 100


def check_document_name(kind: str, name: str) -> str:
    """``name`` if a document may be saved under it, else a :class:`DataError` saying what to change.

    A saved document is referred to as ``NAME`` or ``NAME@VERSION`` (``planner scenario compare a@2``, the
    comparison documents), and the CLI takes a scenario file before a saved name: a name with ``@`` could never be
    opened again (``plan@2026`` read as ``plan`` version 2026), one with a slash reads as a path. Line breaks,
    control and invisible formatting characters (zero-width spaces, right-to-left overrides) make two names look
    the same or a name look like another; names are also report titles, so they stay short and trimmed.
    """
    where = f"{kind} name {name!r}"
    bad = None
    if not isinstance(name, str) or not name.strip():
        bad = ("is empty", "为空")
    elif name != name.strip():
        bad = ("starts or ends with a space", "首尾有空格")
    elif len(name) > MAX_NAME:
        bad = (f"is longer than {MAX_NAME} characters", f"超过 {MAX_NAME} 个字符")
    elif "@" in name:
        bad = ("contains '@' (NAME@VERSION opens a saved version)", "含有「@」（名称@版本号 用于打开历史版本）")
    elif "/" in name or "\\" in name:
        bad = ("contains a slash (it would read as a file path)", "含有斜杠（会被当作文件路径）")
    elif has_hidden(name):
        bad = ("contains a line break, control or invisible formatting character",
               "含有换行、控制字符或不可见的格式字符")
    if bad:
        msg = f"{where} {bad[0]}: choose another name (letters, digits, Chinese, spaces inside, - _ . ( ))"
        raise DataError(msg, zh=f"{kind} 名称 {name!r} {bad[1]}：请换一个名称（字母、数字、中文、中间的空格、- _ . ( )）")
    return name


def parse_ref(ref: str, kind: str = "scenario") -> tuple[str, int | None]:
    """``NAME`` or ``NAME@VERSION`` as ``(name, version or None)``; a version that is not a number is refused."""
    name, at, version = str(ref).rpartition("@")
    if not at:
        return str(ref), None
    if not (version.isascii() and version.isdigit()) or not name:
        msg = f"{kind} {ref!r}: write NAME or NAME@VERSION with a version number (e.g. {name or 'name'}@2)"
        raise DataError(msg, zh=f"{kind} {ref!r}：请写 名称 或 名称@版本号（例如 {name or 'name'}@2）")
    return name, int(version)


# --------------------------------------------------------------------------- documents
def latest_version(store: Store, kind: str, name: str) -> int | None:
    """The latest version of a document, or None when there is none (or it was deleted)."""
    cat = store.docs(kind)
    cat = cat[cat["name"] == name] if len(cat) else cat
    if not len(cat):
        return None
    v = int(cat["version"].max())
    return None if D.is_deleted(store.load_doc(kind, name, v)) else v


def unchanged_version(store: Store, doc) -> int | None:
    """The latest saved version of ``doc``'s ``kind/name`` when it holds exactly ``doc`` (its stored digest is
    the digest of ``doc.to_dict()``), else None: a command that ran the same document again need not save it again."""
    latest = latest_version(store, doc.KIND, doc.name)
    if latest is None:
        return None
    cat = store.docs(doc.KIND)
    digest = cat.loc[(cat["name"] == doc.name) & (cat["version"] == latest), "sha256"]
    return latest if len(digest) and digest.iloc[0] == _doc_text(doc.to_dict())[1] else None


def saved_by(store: Store, kind: str, name: str, version: int, lang: str = "en") -> str:
    """"by USER on YYYY-MM-DD HH:MM UTC" ("由 USER 于 … 保存" in ``lang`` "zh") for a saved document version (for
    messages; "" when not recorded)."""
    who, when = _saved_by(store, kind, name, version)
    if not who:
        return ""
    if lang == "zh":
        return f"由 {who}" + (f" 于 {when}" if when else "") + " 保存"
    return f"by {who}" + (f" on {when}" if when else "")


def document_names(store: Store, kind: str) -> list[str]:
    """Names of the saved, not deleted documents of a kind, sorted."""
    return sorted(n for n, payload in store.latest_docs(kind).items() if not D.is_deleted(payload))


def document_versions(store: Store, kind: str):
    """Every saved version of the documents of a kind (``Store.docs``) with a ``deleted`` column: True for the
    versions that mark a deletion (:func:`delete_document`)."""
    cat = store.docs(kind)
    return cat.assign(deleted=cat["sha256"] == _doc_text(D.tombstone())[1]) if len(cat) else cat.assign(deleted=[])


def site_edit_names(store: Store, policy_name: str) -> list[str]:
    """Names of the saved, not deleted site edits made on the policy ``policy_name``: its own first, then the
    variants saved under other names (:func:`planner.workflow.operations.store_sites`), sorted."""
    out = [n for n, payload in store.latest_docs("site_edit").items() if not D.is_deleted(payload)
           and (n == policy_name or str(payload.get("policy_name") or "") == policy_name)]
    return sorted(out, key=lambda n: (n != policy_name, n))


def load_document(store: Store, kind: str, name: str, version: int | None = None):
    """The typed document ``kind/name`` (latest or ``version``), older shapes upgraded."""
    try:
        payload = store.load_doc(kind, name, version)
    except StoreError as exc:
        msg = f"no saved {kind} {name!r}" + (f" version {version}" if version else "") + " in the workspace"
        ver = f" 第 {version} 版" if version else ""
        raise DataError(msg, zh=f"工作空间中没有已保存的{_KIND_ZH.get(kind, kind)} {name!r}{ver}") from exc
    if D.is_deleted(payload):
        msg = f"{kind} {name!r} was deleted (its earlier versions are kept; open one with NAME@VERSION)"
        raise DataError(msg, zh=f"{_KIND_ZH.get(kind, kind)} {name!r} 已删除（历史版本仍保留，可用 名称@版本 打开）")
    where = f"saved {kind} {name}" + (f"@{version}" if version else "")
    try:
        if kind == "site_edit":
            return D.SiteEditsDoc.from_dict(payload, where=where, name=name)
        return D.parse_document(kind, payload, where=where)
    except ConfigError as exc:
        if D.is_newer(payload):  # saved by a newer planner: its message says to update the planner
            raise
        raise unusable_document(store, kind, name, version, exc) from exc


#: What rebuilds a saved document this planner refuses (a value an earlier release allowed): ``(en, zh)``
#: templates of the command or page that saves a corrected version over it ({ws}: the workspace option, -w ...; {name}).
_REPAIR = {
    "site_params": ("save corrected settings as its next version: `planner sites {ws} --gap M --min-area M2 "
                    "... --save-params {name}` (the options given replace the refused values), or change them on "
                    "the Sites page and save",
                    "请另存一版改正后的设置：`planner sites {ws} --gap 米 --min-area 平方米 … --save-params {name}`"
                    "（所给选项取代被拒绝的值），或在“连片地块”页面修改后保存"),
    "policy": ("save corrected rules as its next version: on the Rules page open an earlier version or other rules, "
               "set them and save them under the name {name}, or `planner classify {ws} -p FILE.toml` with "
               "name = \"{name}\" and the rules corrected in FILE.toml (`planner policy show -p FILE.toml` checks it)",
               "请另存一版改正后的规则：在“三低识别”页面打开其早先版本或其他规则，设好后以名称 {name} 保存；或把改正后的规则"
               "（name = \"{name}\"）写入 FILE.toml 再运行 `planner classify {ws} -p FILE.toml`"),
    "site_edit": ("build the sites again and redo the edits on the Sites page (saving makes its next version), or "
                  "`planner sites {ws} --no-edits`",
                  "请重新生成片区并在“连片地块”页面重做调整（保存即为新版本），或运行 `planner sites {ws} --no-edits`"),
    "scenario": ("save a corrected scenario as its next version: `planner scenario run FILE.toml {ws}` with the "
                 "scenario corrected in FILE.toml, or on the Scenarios page",
                 "请另存一版改正后的情景：把情景改正后写入 FILE.toml 再运行 `planner scenario run FILE.toml {ws}`，"
                 "或在“情景模拟”页面保存"),
    "comparison": ("save the comparison again: `planner scenario compare A B {ws} --save {name} --out FILE`, or "
                   "on the Comparison page",
                   "请重新保存对比：`planner scenario compare A B {ws} --save {name} --out 文件`，或在“情景对比”页面保存"),
}


def unusable_document(store: Store, kind: str, name: str, version: int | None, exc: ConfigError) -> ConfigError:
    """The error for a saved document this planner refuses to use (``exc`` names the field): which document and
    version, that it is kept as it is, that an earlier release may have allowed the value, and what saves a
    corrected version over it. A :class:`ConfigError` (the commands exit 2; the pages show it)."""
    v = version or latest_version(store, kind, name)
    who_en, who_zh = (saved_by(store, kind, name, v, lang) if v else "" for lang in ("en", "zh"))
    fix_en, fix_zh = (t.format(ws=workspace_option(store.uri, lang), name=name)  # no password shown
                      for t, lang in zip(_REPAIR.get(kind, ("", "")), ("en", "zh"), strict=True))
    kz = _KIND_ZH.get(kind, kind)
    msg = (f"saved {kind} {name!r} version {v}{' ' + who_en if who_en else ''} cannot be used by this planner: "
           f"{exc}. It may have been saved by an earlier release that allowed this value; it is kept unchanged"
           + (f"; to go on, {fix_en}" if fix_en else ""))
    zh = (f"已保存的{kz} {name!r} 第 {v} 版{'（' + who_zh + '）' if who_zh else ''}无法被本程序使用："
          f"{message_in(exc, 'zh')}。它可能是较早版本的程序保存的（当时允许该值）；原文档保持不变"
          + (f"。{fix_zh}" if fix_zh else ""))
    return ConfigError(msg, zh=zh)


_SAVE_ACTION = {"policy": "save_policy", "site_params": "save_site_params", "site_edit": "save_site_edits",
                "scenario": "save_scenario", "comparison": "save_comparison"}


def save_document(store: Store, doc, *, expect_version: int | None | bool = False, user: str | None = None) -> int:
    """Save a typed document as the next version of ``kind/name``; return the version.

    Parameters
    ----------
    expect_version : int, None or False
        ``False`` (default): save whatever is stored. An int: the version the
        caller opened; if another version was saved since, refuse with
        :class:`SaveConflictError` instead of overwriting a colleague's work.
        ``None``: the caller means a new name; refuse if it is taken.
    """
    user = acting_user(_SAVE_ACTION[doc.KIND], store, user)
    check_document_name(doc.KIND, doc.name)
    if expect_version is False:
        return store.save_doc(doc.KIND, doc.name, doc.to_dict(), user=user)
    with store.document_lock(doc.KIND, doc.name):  # the check and the save together: no one saves in between
        return _save_checked(store, doc, expect_version, user)


#: How the Chinese messages name each document kind.
_KIND_ZH = {"policy": "识别规则", "site_params": "连片参数", "site_edit": "片区调整", "scenario": "情景",
            "comparison": "对比"}


#: Documents named after their policy (one per policy), not by the user: None expected means "none saved yet".
_NAMED_BY_POLICY = ("site_edit", "site_params")


def check_expected_version(store: Store, kind: str, name: str, expect_version: int | None, *,
                           chosen: bool = False) -> None:
    """Raise :class:`SaveConflictError` unless the latest version of ``kind/name`` is ``expect_version``.

    ``expect_version`` is the version the caller opened (None: the caller
    opened none and means a new name). ``chosen``: a name the user typed for a
    document otherwise named after its policy (site edits saved under another
    name): taken, it is refused as any typed name is. Call it holding
    ``store.document_lock(kind, name)``, with the save in the same block.
    The message says who saved the newer version and when.
    """
    cur = latest_version(store, kind, name)
    if cur == expect_version:
        return
    zh_kind = _KIND_ZH.get(kind, kind)
    if cur is None:  # the version opened was deleted since
        msg = (f"{kind} {name!r} was deleted since you opened version {expect_version}; "
               "save it under another name or save it again as new")
        raise SaveConflictError(msg, zh=f"{zh_kind}「{name}」在您打开 v{expect_version} 之后已被删除；请另存为新名称或重新保存")
    who, when = _saved_by(store, kind, name, cur)
    who = _colleague(store, who)
    by_en = f" (by {who}" + (f" at {when}" if when else "") + ")" if who else ""
    by_zh = f"（{who}" + (f"，{when}" if when else "") + "）" if who else ""
    if expect_version is None and kind in _NAMED_BY_POLICY and not chosen:  # not a name the user chose: saved since they began
        msg = (f"{kind} {name!r} was saved as version {cur} since you began{by_en}, when none was saved; "
               "load it or save yours after all")
        zh = f"{zh_kind}「{name}」在您开始编辑之后已被保存为 v{cur}{by_zh}（当时尚无已保存版本）；请载入或仍保存您的版本"
    elif expect_version is None:
        msg = f"{kind} {name!r} exists: version {cur}{by_en}; saving would create version {cur + 1}"
        zh = f"已有同名{zh_kind}「{name}」：v{cur}{by_zh}，保存将生成 v{cur + 1}"
    else:
        msg = (f"{kind} {name!r} was saved as version {cur} since you opened version {expect_version}{by_en}; "
               "reopen it or save under another name")
        zh = f"「{name}」在您打开 v{expect_version} 之后已被保存为 v{cur}{by_zh}；请重新打开或另存为新名称"
    raise SaveConflictError(msg, zh=zh)


def _colleague(store: Store, user: str) -> str:
    """A user as colleagues know them: "王工 wang" for an account with a display name (the name the app's sidebar
    shows), else the user name as recorded."""
    if not user:
        return user
    try:
        rec = store.user_record(user)
    except Exception:  # the accounts cannot be read: the recorded name still says who
        return user
    display = without_hidden(str((rec or {}).get("display_name") or "")).strip()
    return f"{display} {user}" if display and display != user else user


def _saved_by(store: Store, kind: str, name: str, version: int) -> tuple[str, str]:
    """Who saved ``kind/name`` version ``version`` and when (UTC, minutes); empty strings when not recorded."""
    cat = store.docs(kind)
    if not len(cat) or "user" not in cat.columns:
        return "", ""
    row = cat[(cat["name"] == name) & (cat["version"] == version)]
    if not len(row):
        return "", ""
    user = str(row["user"].iloc[0] or "")
    when = str(row["created_at"].iloc[0] or "") if "created_at" in row.columns else ""
    return user, when[:16].replace("T", " ") + (" UTC" if when else "")


def _save_checked(store: Store, doc, expect_version, user: str | None) -> int:
    if expect_version is not False:
        check_expected_version(store, doc.KIND, doc.name, expect_version)
    return store.save_doc(doc.KIND, doc.name, doc.to_dict(), user=user)


def delete_document(store: Store, kind: str, name: str, *, expect_version: int | None | bool = False,
                    user: str | None = None) -> int:
    """Mark ``kind/name`` deleted (a new version; the history is kept). Returns that version.

    ``expect_version``: the version the caller opened (``False``, the default: whatever is stored). A colleague's
    version saved since is not deleted unseen: :class:`SaveConflictError` says who saved it.
    """
    user = acting_user("delete_scenario" if kind == "scenario" else _SAVE_ACTION[kind], store, user)
    with store.document_lock(kind, name):  # the check and the tombstone together
        if latest_version(store, kind, name) is None:
            msg = f"no saved {kind} {name!r} to delete"
            raise DataError(msg, zh=f"没有可删除的{_KIND_ZH.get(kind, kind)}「{name}」")
        if expect_version is not False:
            check_expected_version(store, kind, name, expect_version)
        return store.save_doc(kind, name, D.tombstone(), user=user)


def rename_scenario(store: Store, old: str, new: str, *, expect_version: int | None | bool = False,
                    user: str | None = None) -> int:
    """Save scenario ``old`` under ``new`` (refused if taken) and delete ``old``; return the new version.

    ``expect_version``: the version of ``old`` the caller opened; a colleague's version saved since is neither
    carried under the new name nor deleted unseen (:class:`SaveConflictError`). ``False``: the latest.
    """
    # both names' locks, for the old name's check and tombstone and the new name's check and save: a colleague
    # saving the new name meanwhile is either refused or refuses the rename, never saved beside it
    with store.document_locks("scenario", (old, new)):
        if expect_version is not False:
            check_expected_version(store, "scenario", old, expect_version)
        doc = load_document(store, "scenario", old)
        moved = dataclasses.replace(doc, scenario=sc_mod.replace(doc.scenario, name=new))
        v = save_document(store, moved, expect_version=None, user=user)
        delete_document(store, "scenario", old, user=user)
    return v


def duplicate_scenario(store: Store, name: str, new: str, *, version: int | None = None,
                       user: str | None = None) -> int:
    """Save a copy of scenario ``name`` (its latest version, or ``version``: the one the caller opened) as ``new``
    (refused if taken)."""
    doc = load_document(store, "scenario", name, version)
    copy = dataclasses.replace(doc, scenario=sc_mod.replace(doc.scenario, name=new))
    return save_document(store, copy, expect_version=None, user=user)


# --------------------------------------------------------------------------- the layer catalogue
#: Kinds of layer that are results of a computation (their provenance says what they were built on).
RESULT_KINDS = ("flags", "sites", "site_parcels")


def layer_catalogue(store: Store, lang: str = "en") -> pd.DataFrame:
    """The workspace's layer versions (:meth:`Store.layers`) with ``built_on``: for a result (flags, sites and their
    parcels), the survey version it was built on, and the version now current when that is another one; the
    enterprise table and rules of a classification, the flags version of sites. Empty for input layers. Read from
    the catalogue's metadata: no layer is read.
    """
    from planner.ingest.publish import current_survey_version
    from planner.workflow.provenance import Provenance

    cat = store.layers()
    now = current_survey_version(store) if len(cat) else None
    text = []
    for kind, meta in zip(cat["kind"], cat["meta"], strict=True):
        if kind not in RESULT_KINDS:
            text.append("")
            continue
        prov = Provenance.from_meta(catalogue_meta(meta))
        text.append(built_on(dataclasses.replace(prov, kind=prov.kind or ("flags" if kind == "flags" else "sites")),
                             now, lang))
    return cat.assign(built_on=text)


def built_on(prov, current_survey: int | None, lang: str = "en") -> str:
    """What a result with provenance ``prov`` was built on, in one line (see :func:`layer_catalogue`).
    Examples
    --------
    >>> from planner.workflow.provenance import Provenance
    >>> p = Provenance("r1", "flags", survey_version=1, policy_name="default", policy_hash="4b80544af42c99",
    ...                enterprise_version=2)
    >>> built_on(p, 2, "en"), built_on(p, 1, "zh")
    ('survey v1 (current: v2) · enterprise table v2 · rules default 4b80544af42c', '调查 v1 · 企业表 v2 · 识别规则 default 4b80544af42c')
    """
    zh = lang == "zh"
    parts = []
    if prov.survey_version is not None:
        sv = f"{'调查' if zh else 'survey'} v{prov.survey_version}"
        if current_survey is not None and int(prov.survey_version) != int(current_survey):
            sv += f"（当前为 v{current_survey}）" if zh else f" (current: v{current_survey})"
        parts.append(sv)
    if prov.kind == "flags":
        if prov.enterprise_version:
            parts.append(f"{'企业表' if zh else 'enterprise table'} v{prov.enterprise_version}")
        if prov.policy_name or prov.policy_hash:
            parts.append(f"{'识别规则' if zh else 'rules'} {prov.policy_name or '–'} {(prov.policy_hash or '')[:12]}"
                         .rstrip())
    else:
        if prov.flags_version is not None:
            parts.append(f"{'识别结果' if zh else 'flags'} v{prov.flags_version}")
        if prov.edits:
            parts.append(f"{'片区编辑' if zh else 'edits'} {prov.edits}")
    return " · ".join(parts) if parts else ("（无记录）" if zh else "(not recorded)")
