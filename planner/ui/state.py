"""Session state and the sidebar shared by every page (workspace, language, basemap)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from planner.i18n import LANGS, t

#: Default workspace (made by ``planner sample-data``), relative to the app folder.
DEFAULT_WORKSPACE = "gis_data/sample_city.gpkg"
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Settings:
    """What the sidebar decided for this run."""

    workspace: str
    lang: str
    basemap: str
    custom_url: str | None
    tianditu_key: str | None


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
        v = default_workspace()
    st.session_state[store_key] = v


def tr(key: str, **fmt) -> str:
    """:func:`planner.i18n.t` in the session language."""
    return t(key, lang(), **fmt)


def _tianditu_key() -> str | None:
    key = os.environ.get("PLANNER_TIANDITU_KEY")
    if key:
        return key
    try:
        return st.secrets["tianditu"]["key"]
    except Exception:  # no secrets file, or no such entry
        return None


def default_workspace() -> str:
    ws = os.environ.get("PLANNER_WORKSPACE") or DEFAULT_WORKSPACE
    p = Path(ws)
    return str(p if p.is_absolute() else (ROOT / p))


def sidebar() -> Settings:
    """Draw the shared sidebar and return the settings."""
    ss = st.session_state
    _persist("w_lang", "_lang", "zh")
    _persist("w_workspace", "_workspace", default_workspace())
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
        st.text_input(tr("workspace"), key="w_workspace", help=tr("workspace_help"),
                      on_change=_keep, args=("w_workspace", "_workspace"))
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
    return Settings(ss["_workspace"], ss["_lang"], basemap, custom, key)
