"""Session state and the sidebar shared by every page (workspace, language, basemap).

The workspace is picked from the operator's list (:mod:`planner.ui.workspaces`),
never typed: the session keeps the chosen *name* and every run resolves it
again. Every text formatted by :func:`tr` has server paths taken out.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from planner.errors import PlannerError, message_in
from planner.i18n import LANGS, names_in, t, visible_text
from planner.ui import keys, workspaces

ROOT = Path(__file__).resolve().parents[2]
log = logging.getLogger("planner.ui")
_CATALOG_KEY = "_ws_catalog"


@dataclass(frozen=True)
class Settings:
    """What the sidebar decided for this run (``workspace``: the real path of the picked workspace)."""

    workspace: str
    lang: str
    basemap: str
    custom_url: str | None
    tianditu_key: str | None
    workspace_name: str = ""


def lang() -> str:
    """The UI language of this session ("zh" default, or "en")."""
    return st.session_state.get("_lang", "zh")


def _persist(widget_key: str, store_key: str, default) -> None:
    """Seed a widget from a permanent key (widget state is dropped on page switches)."""
    ss = st.session_state
    ss.setdefault(store_key, default)
    if widget_key not in ss:
        ss[widget_key] = ss[store_key]


def _keep(widget_key: str, store_key: str) -> None:
    v = st.session_state[widget_key]
    if v in ("", None) and store_key == "_workspace":  # an interrupted run can report an empty box
        v = None
    st.session_state[store_key] = v


def tr(key: str, **fmt) -> str:
    """:func:`planner.i18n.t` in the session language, for text Streamlit renders as Markdown.

    Text and errors filled in carry no server paths and are Markdown-escaped: a scenario or file
    named ``![x](http://host/x.png)`` shows as those characters, never as an image fetched from
    elsewhere or a link. An exception is shown by its message in the session language
    (:func:`planner.errors.message_in`). For plain-text places (table headers, select boxes) use
    :func:`tr_plain`.
    """
    return t(key, lang(), **{k: md_text(v) if isinstance(v, str) else v
                             for k, v in ((k, _shown(v)) for k, v in fmt.items())})


def tr_plain(key: str, **fmt) -> str:
    """:func:`tr` for places that show text as it is (no Markdown): paths taken out, nothing escaped."""
    return t(key, lang(), **{k: _shown(v) for k, v in fmt.items()})


def _shown(v):
    if isinstance(v, BaseException):
        v = message_in(v, lang())
    return redact(v) if isinstance(v, str) else v


def redact(text: str) -> str:
    """``text`` with server paths taken out: workspaces and the session's upload by name, other paths by their last part."""
    from planner.ui import uploads

    cat = st.session_state.get(_CATALOG_KEY)
    extra = uploads.shown_paths()
    if isinstance(cat, workspaces.Catalog):
        return cat.redact(text, extra)
    return workspaces.redact(text, extra)


def error_text(exc: BaseException, lang_: str | None = None) -> str:
    """An error's message in the session language (or ``lang_``) as a page may show it: workspaces and files by
    name, no server path, database host or password (:func:`redact`). Not Markdown-escaped (:func:`md_text`)."""
    return redact(message_in(exc, lang_ or lang()))


def workspace_error(exc: BaseException) -> str:
    """What a page says of a workspace that does not open: the error after "无法打开工作空间：", or as it is when it
    names the workspace itself ("工作空间 ws.gpkg：…"; it read "无法打开工作空间：工作空间 ws.gpkg：…")."""
    named = message_in(exc, lang()).lstrip().lower().startswith(("工作空间 ", "workspace "))
    return tr("workspace_bad_named" if named else "workspace_bad", err=exc)


def show_error(exc: Exception) -> None:
    """Show an error that escaped a page, without server paths; the traceback goes to the server log."""
    if isinstance(exc, PlannerError):
        st.error(tr("error", err=exc))
        return
    log.error("unexpected error on a page", exc_info=exc)
    st.error(tr("unexpected_error", kind=type(exc).__name__, err=exc))


def md_text(text) -> str:
    r"""``text`` shown literally where Streamlit renders Markdown (headings, captions): no links, images or markup.

    Examples
    --------
    >>> md_text("![x](http://evil/t.png) *a*")
    '\\!\\[x\\]\\(http\\:\\/\\/evil\\/t\\.png\\) \\*a\\*'

    A slash is escaped too: Streamlit's Markdown dropped the one of an escaped closing tag (``</b>`` read ``<b>``).
    Invisible characters are left out (:func:`~planner.i18n.visible_text`): a right-to-left override in a parcel id
    turned the rest of its heading around.
    """
    return re.sub(r"([\\`*_{}\[\]()<>#+\-.!|~$:&/])", r"\\\1", visible_text(text))


def _secret_table(name: str) -> dict:
    try:
        return dict(st.secrets[name])
    except Exception:  # no secrets file, or no such table
        return {}


def catalog() -> workspaces.Catalog:
    """The workspaces this server offers (env and ``[workspaces]`` in the Streamlit secrets)."""
    return workspaces.load_catalog(secrets=_secret_table("workspaces"))


def _tianditu_key() -> str | None:
    key = os.environ.get("PLANNER_TIANDITU_KEY")
    if key:
        return key
    try:
        return st.secrets["tianditu"]["key"]
    except Exception:  # no secrets file, or no such entry
        return None


def default_workspace() -> str:
    """Real path of the workspace offered by default ("" when the server offers none)."""
    cat = catalog()
    return str(cat.path_of(cat.default)) if cat.default else ""


def _pick_workspace() -> tuple[str, str]:
    """The sidebar's workspace list; returns ``(real path, name)`` of the pick (``("", "")`` if none)."""
    ss = st.session_state
    cat = catalog()
    ss[_CATALOG_KEY] = cat
    names = cat.names()
    if not names:
        st.warning(tr("ws_none"))
        return "", ""
    _persist("w_workspace", "_workspace", cat.default)
    pending = ss.pop(keys.WORKSPACE_PENDING, None)  # made in the data manager on the previous run
    if pending in names:
        ss["_workspace"] = ss["w_workspace"] = pending
    if ss["_workspace"] not in names:  # first run, a stale name, or the list changed
        ss["_workspace"] = cat.default
    if ss.get("w_workspace") not in names:
        ss["w_workspace"] = ss["_workspace"]
    st.selectbox(tr("workspace"), names, key="w_workspace", help=tr("workspace_help"),
                 format_func=lambda n: names_in(n, lang()), on_change=_keep, args=("w_workspace", "_workspace"))
    name = ss["_workspace"]
    try:
        return str(cat.path_of(name)), name
    except Exception as exc:  # the file moved out of the data directory since it was listed
        st.error(workspace_error(exc))
        return "", name


def sidebar() -> Settings:
    """Draw the shared sidebar and return the settings."""
    ss = st.session_state
    _persist("w_lang", "_lang", "zh")
    kinds = ["blank", "osm", "tianditu", "amap", "custom"]
    bm_key = f"w_basemap_{ss['_lang']}"  # the labels depend on the language
    bm_labels = {t(f"bm_{k}", ss["_lang"]): k for k in kinds}
    ss.setdefault("_basemap", "blank")
    if bm_key not in ss:
        ss[bm_key] = next(lbl for lbl, k in bm_labels.items() if k == ss["_basemap"])
    _persist("w_custom_url", "_custom_url", "")
    with st.sidebar:
        st.radio(t("language", ss["_lang"]), list(LANGS), format_func=LANGS.get, key="w_lang", horizontal=True,
                 on_change=_keep, args=("w_lang", "_lang"))
        ws_path, ws_name = _pick_workspace()
        st.selectbox(tr("basemap"), list(bm_labels), key=bm_key,
                     on_change=lambda: ss.__setitem__("_basemap", bm_labels[ss[bm_key]]))
        custom = None
        if ss["_basemap"] == "custom":
            st.text_input(tr("custom_url"), key="w_custom_url", placeholder="http://tiles.intranet/{z}/{x}/{y}.png",
                          on_change=_keep, args=("w_custom_url", "_custom_url"))
            custom = ss["_custom_url"] or None
        key = _tianditu_key()
        basemap = ss["_basemap"]
        if basemap == "tianditu" and not key:
            st.warning(tr("tianditu_no_key"))
            basemap = "blank"
        if basemap == "custom" and not custom:
            basemap = "blank"
    return Settings(ws_path, ss["_lang"], basemap, custom, key, ws_name)
