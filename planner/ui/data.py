"""Cached access to the workspace for the app.

Everything heavy is cached with ``st.cache_resource`` (one copy per server,
shared by every session) keyed by small hashable inputs: the workspace path
and :func:`data_stamp` of the layers read (the current versions of those
kinds: a publish or a set-current changes it, a saved scenario, policy or
site edit does not), plus the policy's canonical JSON where the result
depends on it. The store and the catalogue are keyed by the file's
modification time. Cached objects are treated as read-only by the pages.

"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import functools
import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import streamlit as st

from planner import maps
from planner import workflow as W
from planner.arrowtext import text_array
from planner.classify import policy as pol
from planner.io.store import Store, open_store
from planner.shapes import single_parts
from planner.sites import SiteParams, SiteResult
from planner.sites import build as sites_build
from planner.ui import keys, memory
from planner.ui.state import tr


def _is_db(path: str) -> bool:
    return str(path).startswith(("postgresql://", "postgres://"))


#: The last revision read of each database workspace, and when: what a page keeps using while a read of it fails.
_LAST_REVISION: dict[str, tuple[str, float]] = {}
#: Seconds a failed revision read falls back on the last one read (longer: the workspace is "unreachable").
REVISION_GRACE_S = 30.0


def stamp(path: str) -> float | str:
    """What changes when the workspace is written (cache key part): the file's mtime, a database's revision.

    A database whose revision cannot be read (a dropped connection, a busy
    pool) within :data:`REVISION_GRACE_S` of the last good read keeps that
    revision: the page goes on with the data it had, not with whatever an
    earlier failure left cached under the fixed "unreachable" key (a
    catalogue of long ago). Longer than that, or never read: "unreachable"
    (workspace_ok() says why).
    """
    if _is_db(path):
        from planner.io.postgis import workspace_revision

        try:
            rev = workspace_revision(path)
        except Exception:
            last = _LAST_REVISION.get(path)
            fresh = last is not None and time.monotonic() - last[1] <= REVISION_GRACE_S
            return last[0] if fresh else "unreachable"
        _LAST_REVISION[path] = (rev, time.monotonic())
        return rev
    try:
        return os.path.getmtime(path)
    except OSError:
        return 0.0


#: Layer kinds the analysis parcels are read from (survey, and the enterprise table joined in).
PARCEL_KINDS = ("survey", "enterprise", "enterprise_link")
SITE_KINDS = ("sites", "site_parcels")


@st.cache_resource(max_entries=8, show_spinner=False)
def _catalogue(path: str, mtime: float | str) -> pd.DataFrame:
    return _store(path, mtime).layers()


def data_stamp(path: str, kinds: tuple[str, ...]) -> str:
    """What the current layers of ``kinds`` are (names, versions, times): a cache key part.

    Unlike the file's modification time it does not change when a scenario,
    a policy or site edits are saved, or another kind of layer is written, so
    the parcels, their classification and map index stay cached through those
    (issue 19: "saving does not throw away results that are still valid").
    """
    return _data_stamp(path, stamp(path), tuple(kinds))


@functools.lru_cache(maxsize=64)
def _data_stamp(path: str, mtime: float | str, kinds: tuple[str, ...]) -> str:
    # made once per workspace state: a page run asks for it a dozen times (a cache look-up and a filter of the
    # catalogue each, 20-30 ms of a 20k site edit's page run)
    cat = _catalogue(path, mtime)
    cur = cat[cat["kind"].isin(kinds) & cat["is_current"]]
    # the table name (its random suffix differs in a workspace made again at the same path) and the row count
    # make it a key for the disk cache as well (framecache)
    cols = [c for c in ("kind", "name", "version", "created_at", "table_name", "n_rows") if c in cur.columns]
    return "|".join("/".join(str(v) for v in row) for row in cur[cols].itertuples(index=False)) + f"#{path}"


@st.cache_resource(max_entries=4, show_spinner=False)
def _store(path: str, mtime) -> Store:
    return open_store(path)


def store(path: str) -> Store:
    """The workspace store (cached per path and mtime)."""
    return _store(path, stamp(path))


#: The modules whose code makes what the app keeps on disk (parcels, indicators, flags; an entry made by other code
#: is not used).
_KEPT_BY = ("planner.ui.data", "planner.workflow.enterprises", "planner.shapes", "planner.io.store",
            "planner.io.framecache", "planner.ui.memory", "planner.maps", "planner.maptiles",
            "planner.classify.flags", "planner.classify.indicators", "planner.classify.policy", "planner.schema",
            "planner.workflow.operations")
#: What the map index of parcels read from the disk cache takes from there (points, extent), until it does.
_KEPT_POINTS: dict[str, dict[str, np.ndarray]] = {}
#: The arrays of the parcels' map index kept on disk beside them: representative points, their Web-Mercator x/y
#: and x order (maptiles), the extent.
_KEPT_ARRAYS = ("cx", "cy", "mx", "my", "mx_order", "bounds")


@functools.lru_cache(maxsize=1)
def _kept_code() -> str:
    from planner.io import framecache

    return framecache.code_fingerprint(*_KEPT_BY)


@st.cache_resource(max_entries=4, show_spinner=False)
def _parcels(path: str, dstamp: str) -> gpd.GeoDataFrame:
    from planner.io import framecache

    # what a server before this one made of the same layers (1M parcels: 1 s instead of 4 s)
    kept = framecache.load("parcels", dstamp, code=_kept_code())
    if kept is not None:
        g, arrays = kept
        _KEPT_POINTS.clear()  # (only the latest: a read whose index was already made leaves nothing behind)
        _KEPT_POINTS[dstamp] = arrays  # for the map index (_geometry_index)
        return g
    # the current enterprise table (if any) joined in: per-mu figures come from it
    g = W.enterprises.analysis_parcels(store(path))
    # one-part multipolygons (how a GeoPackage stores polygons) held as polygons: every frame, index and tile
    # shares these; a 1M city's take 0.33 GB instead of 0.58 GB
    read = np.asarray(g.geometry.array)
    geoms = single_parts(read)
    if geoms is not read:
        g[g.geometry.name] = gpd.GeoSeries(geoms, index=g.index, crs=g.crs)
    return memory.owned_frame(g)  # not GDAL's record batches (and the polygons' WKB in them): 0.3 GB at 1M


@st.cache_resource(max_entries=4, show_spinner=False)
def _survey_version(path: str, mtime: float | str) -> int | None:
    return W.current_survey_version(_store(path, mtime))


def survey_version(path: str) -> int | None:
    """The current survey version (cached)."""
    return _survey_version(path, stamp(path))


def parcels(path: str) -> gpd.GeoDataFrame:
    """The current survey version of the parcel layer (cached)."""
    return _parcels(path, data_stamp(path, PARCEL_KINDS))


@st.cache_resource(max_entries=8, show_spinner=False)
def _all_layers(path: str, dstamp: str, kind: str) -> gpd.GeoDataFrame:
    return store(path).read_all_layers(kind)


def all_layers(path: str, kind: str) -> gpd.GeoDataFrame:
    """Current versions of every layer of a kind (barrier, constraint), stacked."""
    return _all_layers(path, data_stamp(path, (kind,)), kind)


# -- policy and classification ---------------------------------------------
def default_policy_dict() -> dict | None:
    """The shipped default policy as a dict."""
    return pol.policy_to_dict(pol.default_policy())


def policy_json(policy: dict) -> str:
    return json.dumps(policy, sort_keys=True, ensure_ascii=False, default=str)


#: Rule variants (rules other than the shipped default: thresholds tried on the Rules page) whose classification,
#: figure-less copy and map index each cache keeps per server. The shipped default's are cached apart and are never
#: pushed out by variants. A 1M city's variant holds ~0.03 GB of its own (flags, counts, grades; the parcel columns,
#: geometry and indicators are shared), so trying many thresholds recomputes an older one instead of growing the
#: server (issue 19: < 3 GB with one user). One: the map shows the variant being tried (the rules page counts
#: from :func:`flag_table`); the one before it is classified again when tried again (0.6 s at 1M, reasons left out).
MAX_RULE_VARIANTS = 1


@functools.lru_cache(maxsize=1)
def _default_json() -> str:
    return policy_json(default_policy_dict())


def _pinned(pjson: str | None) -> bool:
    """Whether results for ``pjson`` go to the caches of the shipped default rules (None: no classification)."""
    return pjson is None or pjson == _default_json()


@st.cache_resource(max_entries=2, show_spinner=False)
def _indicators(path: str, dstamp: str, year: int) -> pd.DataFrame:
    # the indicators do not depend on the rules: one table shared by the classification of every variant
    from planner.classify.indicators import compute_indicators
    from planner.io import framecache

    kept = framecache.load("indicators", _indicators_key(dstamp, year), code=_kept_code())
    if kept is not None:
        return kept[0]
    return compute_indicators(_parcels(path, dstamp), reference_year=year)


def _indicators_key(dstamp: str, year: int) -> str:
    return f"{dstamp}|{year}"


def _flags_key(dstamp: str, pjson: str) -> str:
    return f"{dstamp}|{pjson}"


def _policy_of(pjson: str):
    """The policy of a JSON text and the reference year its indicators are computed for."""
    policy = pol.from_dict(json.loads(pjson))
    return policy, int(policy.reference_year) if policy.reference_year is not None else datetime.date.today().year


def _classify(path: str, dstamp: str, pjson: str) -> gpd.GeoDataFrame:
    # without the reasons (two text columns, 81 MB per classification at 1M parcels): made for the rows a page
    # shows, exports or saves (reasons_for)
    from planner.classify import flags as cl
    from planner.io import framecache

    policy, year = _policy_of(pjson)
    kept = framecache.load("flags", _flags_key(dstamp, pjson), code=_kept_code())
    if kept is not None:  # the flags of these rules kept by a server before (keep_on_disk)
        return cl.assemble(_parcels(path, dstamp), _indicators(path, dstamp, year), kept[0], policy)
    return W.operations.classify_parcels(_parcels(path, dstamp), W.PolicyDoc(policy),
                                         indicators=_indicators(path, dstamp, year), with_reasons=False)


@st.cache_resource(max_entries=8, show_spinner=False)  # a policy each
def _resolved_policy(path: str, dstamp: str, pjson: str):
    from planner.classify import flags as cl

    policy, year = _policy_of(pjson)
    return cl.resolve_percentiles(_parcels(path, dstamp), policy, indicators=_indicators(path, dstamp, year))


def reasons_for(path: str, policy: dict | None) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """A function that gives rows of :func:`classified` their ``reason_zh`` and ``reason_en``.

    The app's classifications leave the reasons out; they are made for the
    rows needed (a clicked parcel, an export, a save) exactly as
    ``planner classify`` writes them: the rows are evaluated under the policy
    with its percentiles taken over the whole survey, and for a role without
    the right to see enterprise figures the numbers are taken out of them.
    What the session may see is decided here; the function may run in any
    thread (a download). Rows that have reasons, or no flags, come back as
    they are.
    """
    if policy is None:
        return lambda rows: rows
    ds, pjson, show = data_stamp(path, PARCEL_KINDS), policy_json(policy), figures_visible(path)

    def complete(rows: pd.DataFrame) -> pd.DataFrame:
        if not len(rows) or "reason_zh" in rows.columns or "three_low" not in rows.columns:
            return rows
        from planner.classify import flags as cl
        from planner.workflow.visibility import hide_parcel_figures

        full = _classified(path, ds, pjson)
        src = full.loc[rows.index]
        if "parcel_id" in rows.columns and not src["parcel_id"].astype(str).equals(rows["parcel_id"].astype(str)):
            raise ValueError("rows are not rows of the classified survey")  # a frame re-indexed on the way
        ind = _indicators(path, ds, _policy_of(pjson)[1]).loc[rows.index]
        rc = cl.reason_columns(src, _resolved_policy(path, ds, pjson), indicators=ind)
        out = rows.assign(reason_zh=rc["reason_zh"], reason_en=rc["reason_en"])
        cols = list(rows.columns)
        at = cols.index("grade") + 1 if "grade" in cols else len(cols)  # where classify puts them
        out = out[[*cols[:at], "reason_zh", "reason_en", *cols[at:]]]
        return out if show else hide_parcel_figures(out)

    return complete


@st.cache_resource(max_entries=2, show_spinner=False)
def _classified_default(path: str, dstamp: str, pjson: str) -> gpd.GeoDataFrame:
    return _classify(path, dstamp, pjson)


@st.cache_resource(max_entries=MAX_RULE_VARIANTS, show_spinner=False)
def _classified_variant(path: str, dstamp: str, pjson: str) -> gpd.GeoDataFrame:
    return _classify(path, dstamp, pjson)


def _classified(path: str, dstamp: str, pjson: str) -> gpd.GeoDataFrame:
    """The parcels classified under ``pjson`` (the default rules' result kept apart from the variants')."""
    return (_classified_default if _pinned(pjson) else _classified_variant)(path, dstamp, pjson)


def figures_visible(path: str) -> bool:
    """Whether the session's role may see enterprise tax and output (:mod:`planner.workflow.visibility`)."""
    from planner.workflow.visibility import figures_visible as visible

    return visible(_Where(path))


class _Where:  # what the permission check needs to know of a workspace: its URI
    def __init__(self, uri: str) -> None:
        self.uri = uri


def _shown(path: str, dstamp: str, pjson: str | None) -> gpd.GeoDataFrame:
    from planner.workflow.visibility import hide_parcel_figures

    g = _classified(path, dstamp, pjson) if pjson is not None else _parcels(path, dstamp)
    return hide_parcel_figures(g)


@st.cache_resource(max_entries=2, show_spinner=False)
def _shown_default(path: str, dstamp: str, pjson: str | None) -> gpd.GeoDataFrame:
    return _shown(path, dstamp, pjson)


@st.cache_resource(max_entries=MAX_RULE_VARIANTS, show_spinner=False)
def _shown_variant(path: str, dstamp: str, pjson: str | None) -> gpd.GeoDataFrame:
    return _shown(path, dstamp, pjson)


def _classified_shown(path: str, dstamp: str, pjson: str | None) -> gpd.GeoDataFrame:
    """:func:`_classified` without the enterprise figures (for roles that may not see them)."""
    return (_shown_default if _pinned(pjson) else _shown_variant)(path, dstamp, pjson)


@st.cache_resource(max_entries=2, show_spinner=False)  # 28 MB each at 1M parcels; 0.1 s to make again
def _flag_table(path: str, dstamp: str, pjson: str) -> pd.DataFrame:
    from planner.classify import flags as cl

    policy, year = _policy_of(pjson)
    ind = _indicators(path, dstamp, year)
    ev = cl.evaluate(_parcels(path, dstamp), policy, indicators=ind)
    cols = {"land_area_m2": ind["land_area_m2"].to_numpy(), "three_low": ev.three_low,
            "n_low": np.where(ev.in_scope, ev.n_low, 0), "n_unknown": np.where(ev.in_scope, ev.n_unknown, 0)}
    for cev in ev.criteria:
        cols[f"low_{cev.name}"] = pd.Categorical.from_codes(cev.state, categories=list(cl.FLAG_STATES))
    return pd.DataFrame(cols)


def flag_table(path: str, policy: dict) -> pd.DataFrame:
    """The flags of ``policy`` without the rest of a classification: what the rules page counts.

    ``land_area_m2``, ``three_low``, ``n_low``, ``n_unknown`` and one
    ``low_<criterion>`` column per criterion, equal to those of
    :func:`classified`; no reasons, grades or copies of the parcel columns
    (0.1 s at 1M parcels where the whole classification takes 0.6 s: a
    threshold change answers at once; :func:`classify_ahead` makes the rest
    for the map in the background).
    """
    try:
        return _flag_table(path, data_stamp(path, PARCEL_KINDS), policy_json(policy))
    except Exception as exc:  # rules the data cannot be evaluated with: said on the page, which stops there
        st.error(tr("error", err=exc))
        st.stop()


@st.cache_resource(max_entries=16, show_spinner=False)  # 60 rows each
def _threshold_curve(path: str, dstamp: str, pjson: str, criterion: str, rule: int, steps: int) -> pd.DataFrame:
    from planner.classify import flags as cl
    from planner.classify import sensitivity as sens

    policy, year = _policy_of(pjson)
    ev = cl.evaluate(_parcels(path, dstamp), policy, indicators=_indicators(path, dstamp, year))
    return sens.threshold_curve(None, policy, criterion, rule, steps=steps, evaluation=ev)


def threshold_curve(path: str, policy: dict, criterion: str, rule: int, steps: int = 60) -> pd.DataFrame:
    """The rules page's sensitivity curve of one rule (:func:`planner.classify.sensitivity.threshold_curve`).

    Evaluated with the indicators the classifications share (computing them
    again took 1 s and 1 GB of passing memory at 1M parcels on every run of
    the rules page) and kept per rules and rule: switching the rule shown
    back and forth, or a run that changed nothing, costs nothing.
    """
    return _threshold_curve(path, data_stamp(path, PARCEL_KINDS), policy_json(policy), criterion, int(rule), int(steps))


_AHEAD = {"lock": threading.Lock(), "latest": None, "pool": None}


def classify_ahead(path: str, policy: dict | None) -> bool:
    """Start the whole classification of a rule variant in the background; True if one was started.

    The rules page counts from :func:`flag_table` and calls this after: the
    map, usually the next page, finds the classification made or being made
    (the resource cache lets it wait for the same result). Only the latest
    variant is made: a threshold changed again meanwhile skips the older one.
    """
    if policy is None:
        return False
    pjson = policy_json(policy)
    if _pinned(pjson):  # the shipped rules: classified at start (warm-up) and kept
        return False
    from concurrent.futures import ThreadPoolExecutor

    key = (path, data_stamp(path, PARCEL_KINDS), pjson)
    with _AHEAD["lock"]:
        _AHEAD["latest"] = key
        if _AHEAD["pool"] is None:
            _AHEAD["pool"] = ThreadPoolExecutor(max_workers=1, thread_name_prefix="planner-classify-ahead")
        pool = _AHEAD["pool"]
    pool.submit(_classify_ahead, key)
    return True


def _classify_ahead(key: tuple) -> None:
    with _AHEAD["lock"]:
        if _AHEAD["latest"] != key:  # another variant was asked for since
            return
        made, _AHEAD["made"] = _AHEAD.get("made"), key
    if made != key:
        drop_variants()  # the kept variant goes before the new one is made, not after: one alive at a time
    with contextlib.suppress(Exception):  # the page that needs it classifies and reports the problem itself
        _classified_variant(*key)


def drop_variants() -> None:
    """Let go of the rule variants' classifications and map indexes (the shipped rules' stay).

    At most :data:`MAX_RULE_VARIANTS` are kept, but the cache lets the old one
    go only once the new one is made: a 1M city held two variants (0.15 GB
    each, plus the making) at every threshold change. A map still showing the
    old variant makes it again when it asks for tiles.
    """
    for cached in (_classified_variant, _shown_variant, _parcel_index_variant):
        cached.clear()


def classified_full(path: str, policy: dict | None) -> gpd.GeoDataFrame:
    """Classified parcels with every column, for computations whose figures are hidden afterwards if need be."""
    if policy is None:
        return parcels(path)
    return _classified(path, data_stamp(path, PARCEL_KINDS), policy_json(policy))


def classified(path: str, policy: dict | None) -> gpd.GeoDataFrame:
    """Parcels with indicators and flags for ``policy`` (plain parcels when classify is absent).

    Without the right to see enterprise figures, their columns are left out
    (the flags were computed with them).
    """
    show = figures_visible(path)
    ds = data_stamp(path, PARCEL_KINDS)
    if policy is None:
        return parcels(path) if show else _classified_shown(path, ds, None)
    try:
        if show:
            return _classified(path, ds, policy_json(policy))
        return _classified_shown(path, ds, policy_json(policy))
    except Exception as exc:  # a broken stage must not take the whole app down
        st.error(tr("error", err=exc))  # no server paths in what the page shows
        return parcels(path) if show else _classified_shown(path, ds, None)


def _build_parcel_index(path: str, dstamp: str, pjson: str | None, show: bool) -> maps.LayerIndex:
    base = _geometry_index(path, dstamp)
    if pjson is None and show:
        return base
    # without the right to see enterprise figures the map's rows do not hold them
    g = (_classified(path, dstamp, pjson) if show else _classified_shown(path, dstamp, pjson)).reset_index(drop=True)
    ids = base.gdf["parcel_id"]
    same = len(g) == len(ids) and (not len(g) or g["parcel_id"].iloc[[0, -1]].tolist() == ids.iloc[[0, -1]].tolist())
    if not same:
        idx = maps.LayerIndex.build(g, id_col="parcel_id", flag_col="three_low")
    else:
        # the rules change the attributes and flags, never the geometry: the tree, points and lookups are shared
        flagged = g["three_low"].fillna(False).to_numpy(dtype=bool) if "three_low" in g else base.flagged
        idx = dataclasses.replace(base, gdf=g, flagged=flagged)
        shared = ("_merc_xy", "_id_lookup", "_total_bounds")
        idx.__dict__.update({k: v for k, v in base.__dict__.items() if k.startswith(shared)})
        idx.__dict__["_ids_of"] = base  # the id look-up, made once on the base when first needed (id_lookup)
    # how to get it again once a cache let it go: the map's tile route holds a variant's index only weakly
    idx.__dict__["_reload"] = functools.partial(_parcel_index, path, dstamp, pjson, show)
    return idx


@st.cache_resource(max_entries=4, show_spinner=False)  # with and without figures, two survey versions
def _parcel_index_default(path: str, dstamp: str, pjson: str | None, show: bool = True) -> maps.LayerIndex:
    return _build_parcel_index(path, dstamp, pjson, show)


@st.cache_resource(max_entries=MAX_RULE_VARIANTS, show_spinner=False)
def _parcel_index_variant(path: str, dstamp: str, pjson: str | None, show: bool = True) -> maps.LayerIndex:
    return _build_parcel_index(path, dstamp, pjson, show)


def _parcel_index(path: str, dstamp: str, pjson: str | None, show: bool = True) -> maps.LayerIndex:
    """The map index of the parcels classified under ``pjson`` (the default rules' kept apart from the variants')."""
    return (_parcel_index_default if _pinned(pjson) else _parcel_index_variant)(path, dstamp, pjson, show)


@st.cache_resource(max_entries=2, show_spinner=False)
def _geometry_index(path: str, dstamp: str) -> maps.LayerIndex:
    idx = _index_with(_parcels(path, dstamp), _KEPT_POINTS.pop(dstamp, {}), id_col="parcel_id", flag_col="three_low")
    from planner import maptiles

    maptiles.merc_points(idx)  # computed once, shared by the index of every policy
    if len(idx):
        idx.lonlat_bounds()  # the extent too (a map page's first run of a new rule variant spent 50 ms on it)
    return idx  # (the id look-up a search or a click needs: made by the warm-up once the first map is served)


def _index_with(g: gpd.GeoDataFrame, kept: dict[str, np.ndarray], **kw) -> maps.LayerIndex:
    """``LayerIndex.build(g, **kw)`` taking the points, Web-Mercator points and extent ``kept`` on disk for ``g``."""
    n = len(g)
    if set(kept) != set(_KEPT_ARRAYS) or any(len(kept[k]) != n for k in _KEPT_ARRAYS[:5]) or len(kept["bounds"]) != 4:
        kept = {}  # not (all) there: made again
    idx = maps.LayerIndex.build(g, points=(kept["cx"], kept["cy"]) if kept else None, **kw)
    if kept:  # as maptiles and lonlat_bounds make them (_index_arrays)
        mx, my = kept["mx"], kept["my"]
        idx.__dict__.update({"_merc_xy": (mx, my), "_merc_xy_order": (kept["mx_order"], mx[kept["mx_order"]]),
                             "_total_bounds": tuple(float(v) for v in kept["bounds"])})
    return idx


def _index_arrays(idx: maps.LayerIndex) -> dict[str, np.ndarray]:
    """What :func:`_index_with` takes of a map index: kept on disk beside its layer."""
    from planner import maptiles

    mx, my = maptiles.merc_points(idx)
    return {"cx": idx.cx, "cy": idx.cy, "mx": mx, "my": my, "mx_order": maptiles.merc_sorted(idx)[0],
            "bounds": np.asarray(idx.__dict__.get("_total_bounds") or idx.gdf.total_bounds, dtype=float)}


def keep_on_disk(path: str) -> bool:
    """Keep the parcels, their map points and the shipped rules' classification in the disk cache.

    A server started later reads them from there (:mod:`planner.io.framecache`)
    instead of reading the survey, parsing its polygons and classifying it
    (1M parcels: a cold start's first map 9.5-10 s -> 4.1-4.4 s). Done by the warm-up
    once the server is quiet: about 3 s of work at 1M and 0.4 GB on disk, once
    per survey version. True when the cache holds them.
    """
    from planner.classify import flags as cl
    from planner.io import framecache

    ds, code = data_stamp(path, PARCEL_KINDS), _kept_code()
    pjson = _default_json()
    policy, year = _policy_of(pjson)
    idx = _geometry_index(path, ds)
    if not len(idx):
        return False
    if not framecache.has("parcels", ds, code=code) and not framecache.save("parcels", ds, _parcels(path, ds),
                                                                            _index_arrays(idx), code=code):
        return False
    ind = _indicators(path, ds, year)
    if not framecache.save("indicators", _indicators_key(ds, year), ind, code=code):
        return False
    if not framecache.has("flags", _flags_key(ds, pjson), code=code):
        flags = cl.flag_columns(_parcels(path, ds), policy, ind, with_reasons=False)  # what _classify adds, again
        if not framecache.save("flags", _flags_key(ds, pjson), flags, code=code):
            return False
    # the current sites layer as the map and the sites page open it
    sds = data_stamp(path, SITE_KINDS)
    sites = _saved_sites(path, sds)
    name = W.operations.sites_name(store(path))
    if sites is None or name is None or framecache.has("sites", _sites_key(sds, name), code=code):
        return True
    stored, _err = _stored_sites(path, sds, name)
    sidx = sites_index(stored.sites) if stored is not None else None
    if stored is None or sidx is None:
        return True
    return (framecache.save("site_parcels", _sites_key(sds, name), stored.parcel_sites, code=code)
            and framecache.save("sites", _sites_key(sds, name), stored.sites, _index_arrays(sidx), code=code))


def parcel_index(path: str, policy: dict | None) -> maps.LayerIndex:
    """Spatial index of the (classified) parcels, keyed by the parcel layers, the policy and the figures shown."""
    show = figures_visible(path)
    ds = data_stamp(path, PARCEL_KINDS)
    try:
        return _parcel_index(path, ds, policy_json(policy) if policy is not None else None, show)
    except Exception:  # classification failed: index the plain parcels (error shown by classified())
        return _parcel_index(path, ds, None, show)


@st.cache_resource(max_entries=8, show_spinner=False)
def _layer_index(path: str, dstamp: str, kind: str) -> maps.LayerIndex | None:
    g = _all_layers(path, dstamp, kind)
    if not len(g):
        return None
    g = g.copy()
    g["fid"] = [f"{kind[0]}{i}" for i in range(len(g))]
    return maps.LayerIndex.build(g, id_col="fid", area_col=None)


def layer_index(path: str, kind: str) -> maps.LayerIndex | None:
    """Spatial index of the barrier or constraint layers (None if the workspace has none)."""
    return _layer_index(path, data_stamp(path, (kind,)), kind)


class _Lru:
    """A small least-recently-used table shared by every session and tile thread (behind a lock)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key, default=None):
        with self._lock:
            if key not in self._items:
                return default
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key, value) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)

    def values(self) -> list:
        with self._lock:
            return list(self._items.values())


#: Site results whose look-ups (parcel -> site, the sites' map index) are kept per server: the result the session's
#: edits started from, the current one and the one before the last edit (undo). Each is about 50 MB at 1M parcels
#: (360k members).
MAX_SITE_LOOKUPS = 3
_SITE_INDEXES = _Lru(MAX_SITE_LOOKUPS)
#: Map points of sites tables read from the disk cache, by the table (for their map index: sites_index).
_KEPT_SITE_POINTS = _Lru(MAX_SITE_LOOKUPS)
_SITE_OF = _Lru(MAX_SITE_LOOKUPS)
_CHANGES = _Lru(MAX_SITE_LOOKUPS)
_UNSEEN = object()


class SiteLookup:
    """``parcel_id -> site_id`` of one site result, as a dict of its member rows would answer (the last row wins).

    Made for every edited result, so nothing is hashed up front: a single
    look-up (``.get(pid)``, ``pid in``, ``[pid]``) and a site's parcels
    (:meth:`members_of`) compare the member ids in Arrow (about a millisecond
    for a 1M city's 360k members); the hashed index of the member parcels
    (``.index``, what the map tiles look their parcels up in) is made on first
    use, once. Building a hashed Series for every edit took 0.2-0.3 s at 1M.
    """

    def __init__(self, parcel_sites: pd.DataFrame) -> None:
        self._pids, self._sids = text_array(parcel_sites, "parcel_id"), text_array(parcel_sites, "site_id")
        self._lock = threading.Lock()
        self._index: pd.Index | None = None

    def _last_row(self, pid) -> int | None:
        import pyarrow.compute as pc

        rows = np.flatnonzero(pc.equal(self._pids, str(pid)).to_numpy(zero_copy_only=False))
        return int(rows[-1]) if len(rows) else None

    def get(self, pid, default=None):
        row = self._last_row(pid)
        return default if row is None else self._sids[row].as_py()

    def __contains__(self, pid) -> bool:
        return self._last_row(pid) is not None

    def __getitem__(self, pid) -> str:
        row = self._last_row(pid)
        if row is None:
            raise KeyError(pid)
        return self._sids[row].as_py()

    def member_ids(self):
        """The member parcels' ids (Arrow, a parcel once per row it has)."""
        return self._pids

    def members_of(self, site_id) -> tuple[str, ...]:
        """The parcels whose site is ``site_id``, in member-table order."""
        import pyarrow.compute as pc

        sid = str(site_id)
        cand = self._pids.filter(pc.equal(self._sids, sid))
        theirs = pc.is_in(self._pids, value_set=cand)  # every row of those parcels: one listed again later belongs there
        last = dict(zip(self._pids.filter(theirs).to_pylist(), self._sids.filter(theirs).to_pylist(), strict=True))
        return tuple(p for p in dict.fromkeys(cand.to_pylist()) if last[p] == sid)

    @property
    def index(self) -> pd.Index:
        """The member parcels' ids, unique and hashed (made once, on first use)."""
        if self._index is None:
            with self._lock:  # several tile threads may ask at once: one of them makes it
                if self._index is None:
                    one = pd.DataFrame({"p": self._pids, "s": self._sids}).drop_duplicates("p", keep="last")
                    idx = pd.Index(one["p"].to_numpy(dtype=object))
                    idx.get_indexer(idx[:1])  # the hash table is built here
                    self._index = idx
        return self._index


def site_of_parcel(sig: str | None, parcel_sites: pd.DataFrame) -> SiteLookup:
    """The :class:`SiteLookup` of a site result whose signature is ``sig``; the last few are kept for every session."""
    hit = _SITE_OF.get(sig) if sig is not None else None
    if hit is not None:
        return hit
    hit = SiteLookup(parcel_sites)
    if sig is not None:
        _SITE_OF.put(sig, hit)
    return hit


#: Parcels whose site membership an unsaved edit changed, drawn by the browser over the tiles of the result before
#: the edits; more than this and the tiles are made again with the new membership.
MAX_CLIENT_FILLS = 5_000


def edit_candidates(ops: list[dict], lookup: SiteLookup) -> list[str] | None:
    """Every parcel whose site membership ``ops`` can have changed (None: not known from the ops alone).

    An added or removed parcel is named in its edit (a parcel moved from
    another site stays in a site); a drawn boundary's parcels are the members
    of the site it made (``lookup``: the result after the edits).
    """
    out: dict[str, None] = {}
    for op in ops:
        if op.get("op") in ("add", "remove"):
            out.update(dict.fromkeys(map(str, op.get("parcel_ids") or ())))
        elif op.get("op") == "boundary" and op.get("site_id"):
            out.update(dict.fromkeys(lookup.members_of(op["site_id"])))
        else:
            return None
    return list(out)


def membership_changes(base_sig: str, base_ps: pd.DataFrame, sig: str, ps: pd.DataFrame,
                       candidates: list[str] | None = None) -> tuple[pd.Index, pd.Index] | None:
    """``(parcels now in a site and not before, parcels in a site before and not now)`` between two site results.

    None when more than :data:`MAX_CLIENT_FILLS` parcels changed. With
    ``candidates`` (:func:`edit_candidates`: the parcels the edits between
    the two results name), only those are looked up (an Arrow membership test
    against a handful of ids, milliseconds at 1M parcels); without, every
    member is (hash look-ups over the members, 0.2-0.4 s per edit at 1M).
    Kept per pair.
    """
    key = (base_sig, sig)
    out = _CHANGES.get(key, _UNSEEN)
    if out is not _UNSEEN:
        return out
    old_lk, new_lk = site_of_parcel(base_sig, base_ps), site_of_parcel(sig, ps)
    if candidates is not None:
        import pyarrow as pa
        import pyarrow.compute as pc

        cand = pa.array(list(dict.fromkeys(map(str, candidates))), type=pa.string())

        def members(lk: SiteLookup) -> set:
            ids = lk.member_ids()
            return set(ids.filter(pc.is_in(ids, value_set=cand)).to_pylist())

        before, now = members(old_lk), members(new_lk)
        added = pd.Index([p for p in cand.to_pylist() if p in now and p not in before], dtype=object)
        removed = pd.Index([p for p in cand.to_pylist() if p in before and p not in now], dtype=object)
    else:
        old, new = old_lk.index, new_lk.index
        added, removed = new[old.get_indexer(new) < 0], old[new.get_indexer(old) < 0]
    out = (added, removed) if len(added) + len(removed) <= MAX_CLIENT_FILLS else None
    _CHANGES.put(key, out)
    return out


def sites_index(sites: gpd.GeoDataFrame) -> maps.LayerIndex | None:
    """Spatial index of a sites table; the last few tables' indexes are kept (a 1M city has 40k+ sites)."""
    if sites is None or not len(sites):
        return None
    hit = _SITE_INDEXES.get(id(sites))
    if hit is not None and hit[0] is sites:
        return hit[1]
    kept = _KEPT_SITE_POINTS.get(id(sites))
    kept = kept[1] if kept is not None and kept[0] is sites else {}
    geoms = np.asarray(sites.geometry.array, dtype=object)
    ids = pd.Index(np.fromiter(map(id, geoms), dtype=np.int64, count=len(geoms)))  # the outline objects
    solid = ids.is_unique and not (shapely.is_empty(geoms) | shapely.is_missing(geoms)).any()
    # the polygon tree made when a query needs it: a site edit makes a new table, and its map finds the tiles'
    # features by their points (a 1M city's 85k sites: 40 ms of every edit)
    if kept:
        idx = _index_with(sites, kept, id_col="site_id", area_col="land_area_m2", lazy_tree=True)
    else:
        idx = maps.LayerIndex.build(sites, id_col="site_id", area_col="land_area_m2", lazy_tree=True,
                                    points=_shared_points(geoms, ids) if solid else None)
    from planner import maptiles

    maptiles.merc_points(idx)  # here, not by the first tiles of the view
    if solid:  # what the next edit's table takes points by (_shared_points)
        idx.__dict__["_outline_ids"] = ids
    _SITE_INDEXES.put(id(sites), (sites, idx))
    return idx


def _shared_points(geoms: np.ndarray, new: pd.Index) -> tuple[np.ndarray, np.ndarray] | None:
    """Representative points of the outlines ``geoms`` (``new``: their object ids) taken from a kept index
    wherever it holds the same outline object.

    An edit changes the outlines of one or two sites and copies the others
    (the same shapely objects): their points are not made again (a 1M city's
    85k sites: 0.1 s of every edit). None when no kept index shares most
    outlines (:meth:`LayerIndex.build` then makes them all).
    """
    best = None
    for _prev, idx in _SITE_INDEXES.values():
        ids = idx.__dict__.get("_outline_ids")  # (its outlines are alive with it: an id here is that very object)
        if ids is None:  # its points may be outline centres (an empty outline) or it was not made here: not shared
            continue
        pos = ids.get_indexer(new)
        if best is None or (pos >= 0).sum() > (best[1] >= 0).sum():
            best = (idx, pos)
    if best is None or (best[1] >= 0).sum() < len(geoms) // 2:
        return None
    idx, pos = best
    found = pos >= 0
    x, y = np.empty(len(geoms)), np.empty(len(geoms))
    x[found], y[found] = idx.cx[pos[found]], idx.cy[pos[found]]
    if (~found).any():
        xy = shapely.get_coordinates(shapely.point_on_surface(geoms[~found]))
        x[~found], y[~found] = xy[:, 0], xy[:, 1]
    return x, y


def workspace_ok(path: str) -> tuple[bool, Exception | None]:
    """Whether ``path`` opens as a workspace, and the error if not (``tr`` shows it in the page's language)."""
    if not _is_db(path) and not Path(path).is_file():
        return False, None
    try:
        store(path)
    except Exception as exc:  # shown to the user in the session language (a Chinese page read the English text)
        return False, exc
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
    return _saved_sites(path, data_stamp(path, SITE_KINDS))


@st.cache_resource(max_entries=4, show_spinner=False)
def _saved_sites(path: str, dstamp: str) -> gpd.GeoDataFrame | None:
    st_ = store(path)
    cat = st_.layers("sites")
    cat = cat[cat["is_current"]]
    if not len(cat):
        return None
    name = cat.iloc[-1]["name"]
    # the frame the sites page reads (one copy of a 1M city's 80k+ site polygons, not one per page)
    stored, _ = _stored_sites(path, dstamp, name)
    if stored is not None and stored.name == name:
        return stored.sites
    return st_.read_layer("sites", name)


def id_lookup(index: maps.LayerIndex) -> pd.Index:
    """The ids of a layer as a hashed index (position of an id in O(1); built once per index)."""
    ids = index.__dict__.get("_id_lookup")
    if ids is None:
        src = index.__dict__.get("_ids_of", index)  # a rule variant's index: its geometry index's (same rows)
        ids = src.__dict__.get("_id_lookup")
        if ids is None:
            ids = pd.Index(src.gdf[src.id_col].astype(str).to_numpy())
            # the hash table and the uniqueness check are made here, once, not on a user's first search
            # (0.4 s at 1M parcels, profiled in the browser benchmark)
            ids.get_indexer_for(ids[:1])
            src.__dict__["_id_lookup"] = ids  # frozen dataclass: cached beside the fields
        index.__dict__["_id_lookup"] = ids
    return ids


def positions_of(index: maps.LayerIndex, ident) -> np.ndarray:
    """Positions of the features with id ``ident`` (or a list of ids) in ``index``."""
    ids = id_lookup(index)
    want = [str(ident)] if isinstance(ident, str) else [str(i) for i in ident]
    pos = ids.get_indexer_for(want)
    return np.unique(pos[pos >= 0])


def has_id(index: maps.LayerIndex, ident: str) -> bool:
    return bool(len(positions_of(index, ident)))


def find_bounds(index: maps.LayerIndex, sites: maps.LayerIndex | None, ident: str,
                pad_m: float = 60.0) -> tuple[float, float, float, float] | None:
    """Lon/lat box around a parcel id or a site id (None if neither exists)."""
    for idx in (index, sites):
        if idx is None:
            continue
        pos = positions_of(idx, ident)
        if len(pos):
            x0, y0, x1, y1 = shapely.total_bounds(idx.gdf.geometry.array[pos])
            return maps.transform_bounds(idx._to_ll, x0 - pad_m, y0 - pad_m, x1 + pad_m, y1 + pad_m)
    return None


def land_use_options(path: str, policy: dict | None) -> list[str]:
    """The land uses present (for the filter; cached per workspace and policy)."""
    return _land_uses(path, data_stamp(path, PARCEL_KINDS), policy_json(policy) if policy is not None else None)


@st.cache_resource(max_entries=6, show_spinner=False)
def _land_uses(path: str, dstamp: str, pjson: str | None) -> list[str]:
    g = _parcels(path, dstamp)
    return sorted(g["land_use"].dropna().astype(str).unique()) if "land_use" in g else []


def max_area(path: str, policy: dict | None) -> float:
    """Largest parcel area, rounded up (the area filter's range)."""
    idx = parcel_index(path, policy)
    return float(np.ceil(np.nanmax(idx.area))) if len(idx) else 1.0


@st.cache_resource(max_entries=32, show_spinner=False)
def _filter_positions(path: str, dstamp: str, pjson: str | None, land_use: tuple, classes: tuple, upgrade: tuple,
                      area: tuple, owner: str, _index: maps.LayerIndex) -> np.ndarray | None:
    from planner.ui.explore import filter_positions

    return filter_positions(_index.gdf, land_use=land_use, classes=classes, upgrade=upgrade, area=area,
                            owner=owner, area_arr=_index.area)


def filter_positions_cached(path: str, policy: dict | None, index: maps.LayerIndex, **filters) -> np.ndarray | None:
    """Positions passing the map page's attribute filters (None: no filter), shared by sessions."""
    pj = policy_json(policy) if policy is not None else None
    f = {k: (tuple(v) if isinstance(v, list | tuple) else v) for k, v in filters.items()}
    return _filter_positions(path, data_stamp(path, PARCEL_KINDS), pj, f["land_use"], f["classes"], f["upgrade"], f["area"],
                             str(f["owner"] or ""), index)


@st.cache_resource(max_entries=32, show_spinner=False)
def _breaks(path: str, dstamp: str, pjson: str | None, col: str, method: str, pos_key: str,
            _index: maps.LayerIndex, _pos) -> np.ndarray:
    v = _index.gdf[col] if _pos is None else _index.gdf[col].iloc[_pos]
    return maps.class_breaks(v, 5, method)


def breaks_for(path: str, policy: dict | None, index: maps.LayerIndex, col: str, method: str, pos) -> np.ndarray:
    """Class breaks of an indicator over the filtered parcels (cached)."""
    import hashlib

    pos_key = "all" if pos is None else hashlib.sha1(np.asarray(pos).tobytes()).hexdigest()
    pj = policy_json(policy) if policy is not None else None
    return _breaks(path, data_stamp(path, PARCEL_KINDS), pj, col, method, pos_key, index, pos)


def class_colors(g: pd.DataFrame):
    """Colours of the three-low display classes."""
    return maps.three_low_class(g).map(maps.CLASS_COLORS).fillna("#bdbdbd").to_numpy()


def upgrade_colors(g: pd.DataFrame):
    """Colours of the upgrade classes."""
    return g["upgrade_class"].astype(object).map(maps.CLASS_COLORS).fillna("#bdbdbd").to_numpy()


@st.cache_resource(max_entries=4, show_spinner=False)
def _previous_sites(path: str, dstamp: str, name: str):
    stored, _ = _stored_sites(path, dstamp, name)
    if stored is not None and stored.name == name:  # the sites already read: their ids and polygons shared
        return W.operations.previous_of(stored.sites)
    return W.operations.previous_sites(store(path), name)


def previous_sites(path: str, name: str):
    """The stored sites ``name`` (for stable ids) and the highest site-id number issued (cached)."""
    return _previous_sites(path, data_stamp(path, SITE_KINDS), name)


@st.cache_resource(show_spinner=False)
def _site_builds() -> dict:
    """Site results built in this server process, shared by every session (a small LRU behind a lock)."""
    return {"lock": threading.Lock(), "lru": OrderedDict()}


#: Built site results kept per server (each is the sites and their parcel table; a 1M city's is about 100 MB).
MAX_SITE_BUILDS = 4


def site_build_key(path: str, policy: dict, params: dict, use_barriers: bool = True) -> tuple:
    """What a site build depends on: the parcels, the rules, the settings, the layers, the stored ids."""
    name = (policy or {}).get("name", "default")
    return (path, data_stamp(path, PARCEL_KINDS), data_stamp(path, ("barrier", "constraint")),
            data_stamp(path, SITE_KINDS), policy_json(policy), json.dumps(params, sort_keys=True), bool(use_barriers),
            name)


def built_sites(key: tuple):
    """The ``(SiteResult, id table)`` built for ``key`` in this server, or None."""
    box = _site_builds()
    with box["lock"]:
        hit = box["lru"].get(key)
        if hit is not None:
            box["lru"].move_to_end(key)
        return hit


def site_result(path: str, policy: dict, params: dict, use_barriers: bool = True, *,
                progress: Callable[[str], None] | None = None):
    """Candidate sites for a policy and site parameters, ids kept from the stored sites (built once per server).

    ``progress`` is called with a short message at each stage of the build.
    Returns ``(SiteResult, id match table)``.
    """
    key = site_build_key(path, policy, params, use_barriers)
    hit = built_sites(key)
    if hit is not None:
        return hit
    name = (policy or {}).get("name", "default")
    doc = W.SiteParamsDoc(name=name, params=SiteParams.from_dict(dict(params or {})), use_barriers=use_barriers)
    prev, hw = previous_sites(path, name)
    out = W.assemble_sites(classified_full(path, policy), doc, barriers=all_layers(path, "barrier"),
                           constraints=all_layers(path, "constraint"), previous=prev, high_water_mark=hw,
                           progress=progress)
    box = _site_builds()
    with box["lock"]:
        box["lru"][key] = out
        while len(box["lru"]) > MAX_SITE_BUILDS:
            box["lru"].popitem(last=False)
    return out


@st.cache_resource(max_entries=4, show_spinner=False)
def _stored_result(path: str, dstamp: str, cstamp: str, name: str, params_json: str, use_constraints: bool):
    stored, _ = _stored_sites(path, dstamp, name)
    parts = _constraint_parts(path, cstamp) if use_constraints else np.empty(0, dtype=object)
    ps = stored.parcel_sites[["parcel_id", "site_id", "role"]].reset_index(drop=True)
    excluded = pd.DataFrame({"parcel_id": pd.Series(dtype=object), "constraint_share": pd.Series(dtype=float)})
    return SiteResult(stored.sites, ps, excluded, SiteParams.from_dict(json.loads(params_json)), parts)


@st.cache_resource(max_entries=2, show_spinner=False)
def _constraint_parts(path: str, cstamp: str) -> np.ndarray:
    con = all_layers(path, "constraint")
    return sites_build.constraint_parts(con) if con is not None and len(con) else np.empty(0, dtype=object)


def constraint_parts(path: str) -> np.ndarray:
    """The protected land of the workspace dissolved and cut into pieces, as site edits measure it (cached, shared).

    Made once per version of the constraint layers, whatever the site settings
    (1.4 s for the 1M sample city's layers: the sites page's first open after a
    restart paid it).
    """
    return _constraint_parts(path, data_stamp(path, ("constraint",)))


def stored_site_result(path: str, name: str, params: dict, use_constraints: bool = True) -> SiteResult:
    """The stored sites ``name`` as a :class:`planner.sites.SiteResult` (edits work on it; cached, shared)."""
    return _stored_result(path, data_stamp(path, SITE_KINDS), data_stamp(path, ("constraint",)), name,
                          json.dumps(params, sort_keys=True), bool(use_constraints))


@st.cache_resource(max_entries=4, show_spinner=False)
def _stored_sites(path: str, dstamp: str, name: str):
    from planner.io import framecache

    code = _kept_code()
    sites = framecache.load("sites", _sites_key(dstamp, name), code=code)
    parcels = framecache.load("site_parcels", _sites_key(dstamp, name), code=code) if sites is not None else None
    if sites is not None and parcels is not None:  # kept by a server before (keep_on_disk): as read_sites reads them
        frame, arrays = sites
        meta = frame.attrs.get("meta", {}) or {}
        _KEPT_SITE_POINTS.put(id(frame), (frame, arrays))
        return W.StoredSites(name, frame, parcels[0], None, W.Provenance.from_meta(meta), meta, []), None
    try:
        stored = W.read_sites(store(path), name, with_flags=False)
    except Exception as exc:  # no sites, or pieces that do not belong together: the page says which
        return None, exc
    # held by the server: columns of their own, not GDAL's record batches (the outlines' WKB in them)
    return dataclasses.replace(stored, sites=memory.owned_frame(stored.sites),
                               parcel_sites=memory.owned_frame(stored.parcel_sites)), None


def _sites_key(dstamp: str, name: str) -> str:
    return f"{dstamp}|{name}"


def stored_sites(path: str, name: str):
    """``(StoredSites or None, error or None)`` of the workspace's sites layer ``name`` (cached)."""
    return _stored_sites(path, data_stamp(path, SITE_KINDS), name)
