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
    return st.session_state.get("lang", "zh")


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
    ss.setdefault("lang", "zh")
    ss.setdefault("workspace", default_workspace())
    with st.sidebar:
        st.radio(t("language", ss["lang"]), list(LANGS), format_func=LANGS.get, key="lang", horizontal=True)
        st.text_input(tr("workspace"), key="workspace", help=tr("workspace_help"))
        kinds = ["blank", "osm", "tianditu", "amap", "custom"]
        st.selectbox(tr("basemap"), kinds, format_func=lambda k: tr(f"bm_{k}"), key="basemap")
        custom = None
        if ss.get("basemap") == "custom":
            custom = st.text_input(tr("custom_url"), key="custom_url",
                                   placeholder="http://tiles.intranet/{z}/{x}/{y}.png") or None
        key = _tianditu_key()
        basemap = ss.get("basemap", "blank")
        if basemap == "tianditu" and not key:
            st.warning(tr("tianditu_no_key"))
            basemap = "blank"
        if basemap == "custom" and not custom:
            basemap = "blank"
    return Settings(ss["workspace"], ss["lang"], basemap, custom, key)
