"""Cached access to the workspace for the app.

Everything heavy is cached with ``st.cache_resource`` keyed by small hashable
inputs: the workspace path and its modification time (a publish, a set-current
or a saved document changes the mtime, so nothing stale is served), plus the
policy's canonical JSON where the result depends on it. Cached objects are
treated as read-only by the pages.

"""

from __future__ import annotations

import json
import os
from pathlib import Path

import geopandas as gpd
import pandas as pd
import streamlit as st

from planner import maps
from planner import workflow as W
from planner.classify import policy as pol
from planner.io.store import Store, open_store
from planner.sites import SiteParams
from planner.ui import keys
from planner.ui.state import tr


def _is_db(path: str) -> bool:
    return str(path).startswith(("postgresql://", "postgres://"))


def stamp(path: str) -> float | str:
    """What changes when the workspace is written (cache key part): the file's mtime, a database's revision."""
    if _is_db(path):
        from planner.io.postgis import workspace_revision

        try:
            return workspace_revision(path)
        except Exception:  # unreachable or not a workspace: workspace_ok() says why
            return "unreachable"
    try:
        return os.path.getmtime(path)
    except OSError:
        return 0.0


@st.cache_resource(max_entries=4, show_spinner=False)
def _store(path: str, mtime) -> Store:
    return open_store(path)


def store(path: str) -> Store:
    """The workspace store (cached per path and mtime)."""
    return _store(path, stamp(path))


@st.cache_resource(max_entries=4, show_spinner=False)
def _parcels(path: str, mtime) -> gpd.GeoDataFrame:
    # the current enterprise table (if any) joined in: per-mu figures come from it
    return W.enterprises.analysis_parcels(_store(path, mtime))


@st.cache_resource(max_entries=4, show_spinner=False)
def _survey_version(path: str, mtime: float | str) -> int | None:
    return W.current_survey_version(_store(path, mtime))


def survey_version(path: str) -> int | None:
    """The current survey version (cached)."""
    return _survey_version(path, stamp(path))


def parcels(path: str) -> gpd.GeoDataFrame:
    """The current survey version of the parcel layer (cached)."""
    return _parcels(path, stamp(path))


@st.cache_resource(max_entries=8, show_spinner=False)
def _all_layers(path: str, mtime: float | str, kind: str) -> gpd.GeoDataFrame:
    return _store(path, mtime).read_all_layers(kind)


def all_layers(path: str, kind: str) -> gpd.GeoDataFrame:
    """Current versions of every layer of a kind (barrier, constraint), stacked."""
    return _all_layers(path, stamp(path), kind)


# -- policy and classification ---------------------------------------------
def default_policy_dict() -> dict | None:
    """The shipped default policy as a dict."""
    return pol.policy_to_dict(pol.default_policy())


def policy_json(policy: dict) -> str:
    return json.dumps(policy, sort_keys=True, ensure_ascii=False, default=str)


@st.cache_resource(max_entries=6, show_spinner=False)
def _classified(path: str, mtime: float | str, pjson: str) -> gpd.GeoDataFrame:
    return W.operations.classify_parcels(_parcels(path, mtime), W.PolicyDoc(pol.from_dict(json.loads(pjson))))


def figures_visible(path: str) -> bool:
    """Whether the session's role may see enterprise tax and output (:mod:`planner.workflow.visibility`)."""
    from planner.workflow.visibility import figures_visible as visible

    return visible(_Where(path))


class _Where:  # what the permission check needs to know of a workspace: its URI
    def __init__(self, uri: str) -> None:
        self.uri = uri


@st.cache_resource(max_entries=6, show_spinner=False)
def _classified_shown(path: str, mtime: float | str, pjson: str | None) -> gpd.GeoDataFrame:
    from planner.workflow.visibility import hide_parcel_figures

    g = _classified(path, mtime, pjson) if pjson is not None else _parcels(path, mtime)
    return hide_parcel_figures(g)


def classified_full(path: str, policy: dict | None) -> gpd.GeoDataFrame:
    """Classified parcels with every column, for computations whose figures are hidden afterwards if need be."""
    if policy is None:
        return parcels(path)
    return _classified(path, stamp(path), policy_json(policy))


def classified(path: str, policy: dict | None) -> gpd.GeoDataFrame:
    """Parcels with indicators and flags for ``policy`` (plain parcels when classify is absent).

    Without the right to see enterprise figures, their columns are left out
    (the flags were computed with them).
    """
    show = figures_visible(path)
    if policy is None:
        return parcels(path) if show else _classified_shown(path, stamp(path), None)
    try:
        if show:
            return _classified(path, stamp(path), policy_json(policy))
        return _classified_shown(path, stamp(path), policy_json(policy))
    except Exception as exc:  # a broken stage must not take the whole app down
        st.error(tr("error", err=exc))  # no server paths in what the page shows
        return parcels(path) if show else _classified_shown(path, stamp(path), None)


@st.cache_resource(max_entries=6, show_spinner=False)
def _parcel_index(path: str, mtime: float | str, pjson: str | None, show: bool = True) -> maps.LayerIndex:
    if show:
        g = _classified(path, mtime, pjson) if pjson is not None else _parcels(path, mtime)
    else:
        g = _classified_shown(path, mtime, pjson)
    return maps.LayerIndex.build(g, id_col="parcel_id", flag_col="three_low")


def parcel_index(path: str, policy: dict | None) -> maps.LayerIndex:
    """Spatial index of the (classified) parcels, keyed by workspace + mtime + policy (+ figures shown or not)."""
    show = figures_visible(path)
    try:
        return _parcel_index(path, stamp(path), policy_json(policy) if policy is not None else None, show)
    except Exception:  # classification failed: index the plain parcels (error shown by classified())
        return _parcel_index(path, stamp(path), None, show)


@st.cache_resource(max_entries=8, show_spinner=False)
def _layer_index(path: str, mtime: float | str, kind: str) -> maps.LayerIndex | None:
    g = _all_layers(path, mtime, kind)
    if not len(g):
        return None
    g = g.copy()
    g["fid"] = [f"{kind[0]}{i}" for i in range(len(g))]
    return maps.LayerIndex.build(g, id_col="fid", area_col=None)


def layer_index(path: str, kind: str) -> maps.LayerIndex | None:
    """Spatial index of the barrier or constraint layers (None if the workspace has none)."""
    return _layer_index(path, stamp(path), kind)


def sites_index(sites: gpd.GeoDataFrame) -> maps.LayerIndex | None:
    """Spatial index of a sites table (small: not cached)."""
    if sites is None or not len(sites):
        return None
    return maps.LayerIndex.build(sites, id_col="site_id", area_col="land_area_m2")


def workspace_ok(path: str) -> tuple[bool, str | None]:
    """Whether ``path`` opens as a workspace, and the error text if not."""
    if not _is_db(path) and not Path(path).is_file():
        return False, None
    try:
        store(path)
    except Exception as exc:  # shown to the user as is
        return False, str(exc)
    return True, None


def has_survey(path: str) -> bool:
    return bool(store(path).has_layer("survey", "parcels"))


def survey_info(path: str) -> pd.Series | None:
    cat = store(path).surveys()
    cur = cat[cat["is_current"]]
    return None if not len(cur) else cur.iloc[-1]


# -- sites -------------------------------------------------------------------
def saved_sites(path: str) -> gpd.GeoDataFrame | None:
    """Sites for the map: built this session on the Sites page, else the workspace's current sites layer."""
    s = st.session_state.get(keys.SITE_RESULT)
    if s is not None and getattr(s, "sites", None) is not None:
        return s.sites
    return _saved_sites(path, stamp(path))


@st.cache_resource(max_entries=4, show_spinner=False)
def _saved_sites(path: str, mtime: float | str) -> gpd.GeoDataFrame | None:
    st_ = _store(path, mtime)
    cat = st_.layers("sites")
    cat = cat[cat["is_current"]]
    if not len(cat):
        return None
    return st_.read_layer("sites", cat.iloc[-1]["name"])


def find_bounds(index: maps.LayerIndex, sites: maps.LayerIndex | None, ident: str,
                pad_m: float = 60.0) -> tuple[float, float, float, float] | None:
    """Lon/lat box around a parcel id or a site id (None if neither exists)."""
    for idx in (index, sites):
        if idx is None:
            continue
        hit = (idx.gdf[idx.id_col].astype(str) == ident).to_numpy()
        if hit.any():
            x0, y0, x1, y1 = idx.gdf.geometry[hit].total_bounds
            return tuple(idx._to_ll.transform_bounds(x0 - pad_m, y0 - pad_m, x1 + pad_m, y1 + pad_m))
    return None


def class_colors(g: pd.DataFrame):
    """Colours of the three-low display classes."""
    return maps.three_low_class(g).map(maps.CLASS_COLORS).fillna("#bdbdbd").to_numpy()


def upgrade_colors(g: pd.DataFrame):
    """Colours of the upgrade classes."""
    return g["upgrade_class"].astype(object).map(maps.CLASS_COLORS).fillna("#bdbdbd").to_numpy()


@st.cache_resource(max_entries=4, show_spinner=False)
def _previous_sites(path: str, mtime: float | str, name: str):
    return W.operations.previous_sites(_store(path, mtime), name)


def previous_sites(path: str, name: str):
    """The stored sites ``name`` (for stable ids) and the highest site-id number issued (cached)."""
    return _previous_sites(path, stamp(path), name)


@st.cache_resource(max_entries=6, show_spinner=False)
def _site_result(path: str, mtime: float | str, pjson: str, params_json: str, use_barriers: bool, name: str):
    flagged = _classified(path, mtime, pjson)
    params = W.SiteParamsDoc(name=name, params=SiteParams.from_dict(json.loads(params_json) if params_json else {}),
                             use_barriers=use_barriers)
    prev, hw = _previous_sites(path, mtime, name)
    return W.assemble_sites(flagged, params, barriers=_all_layers(path, mtime, "barrier"),
                            constraints=_all_layers(path, mtime, "constraint"), previous=prev, high_water_mark=hw)


def site_result(path: str, policy: dict, params: dict, use_barriers: bool = True):
    """Candidate sites for a policy and site parameters, ids kept from the stored sites (cached).

    Returns ``(SiteResult, id match table)``.
    """
    name = (policy or {}).get("name", "default")
    return _site_result(path, stamp(path), policy_json(policy), json.dumps(params, sort_keys=True), use_barriers, name)


@st.cache_resource(max_entries=4, show_spinner=False)
def _stored_sites(path: str, mtime: float | str, name: str):
    try:
        return W.read_sites(_store(path, mtime), name, with_flags=False), None
    except Exception as exc:  # no sites, or pieces that do not belong together: the page says which
        return None, exc


def stored_sites(path: str, name: str):
    """``(StoredSites or None, error or None)`` of the workspace's sites layer ``name`` (cached)."""
    return _stored_sites(path, stamp(path), name)
