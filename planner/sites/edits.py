"""Manual site edits: add or remove parcels, draw a boundary, replay a list of edits."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from planner.arrowtext import text_array
from planner.errors import DataError
from planner.sites.build import (
    RESCORED,
    _check_parcels,
    _land_area,
    _overlap_area,
    _site_table,
    rescore,
)
from planner.sites.params import SITE_COLUMNS, SiteParams, SiteResult


def _recompute(result: SiteResult, parcel_sites: pd.DataFrame, parcels: gpd.GeoDataFrame,
               site_ids: Iterable[str]) -> SiteResult:
    """Recompute the metrics of ``site_ids`` from ``parcel_sites`` and refresh all scores/ranks."""
    _check_parcels(parcels, "parcels", check_ids=False, rows=np.empty(0, dtype=np.intp))  # columns, CRS
    site_ids = list(dict.fromkeys(site_ids))
    sub = parcel_sites[parcel_sites["site_id"].isin(site_ids)]
    want = pd.unique(sub["parcel_id"].astype(str).to_numpy())
    # only the parcels of the touched sites (an edit on a 1M-parcel city copied, hashed and measured all of them)
    pid = parcels["parcel_id"].astype(str)
    rows = np.flatnonzero(pid.isin(want).to_numpy())
    _check_parcels(parcels, "parcels", check_ids=False, rows=rows)  # the polygons of the rows used (ids: below)
    p = parcels.iloc[rows].reset_index(drop=True)
    p_ids = pid.iloc[rows].to_numpy()  # the few rows' ids (not all 1M parcels' as Python strings)
    pos = pd.Series(np.arange(len(p)), index=p_ids)
    if not pos.index.is_unique:
        dup = pos.index[pos.index.duplicated()].unique()[:5].tolist()
        msg = f"parcels: parcel_id not unique, e.g. {dup}"
        raise DataError(msg, zh=f"地块表的地块编号（parcel_id）有重复，例如 {dup}；请修正后重新导入调查数据")
    missing = sorted(set(want) - set(p_ids))
    if missing:
        msg = f"parcel id(s) not in the parcel table: {missing[:5]}"
        raise DataError(msg, zh=f"地块表中没有这些地块编号：{missing[:5]}")
    alive = [s for s in site_ids if (sub["site_id"] == s).any()]
    if alive:
        sid = np.asarray(alive, dtype=object)
        code = pd.Series(np.arange(len(sid)), index=sid)
        ps = pd.DataFrame({"row": pos.loc[sub["parcel_id"].astype(str)].to_numpy(),
                           "site": code.loc[sub["site_id"]].to_numpy(), "role": sub["role"].to_numpy()})
        geoms = np.asarray(p.geometry.values, dtype=object)
        land = _land_area(p)
        overlap = np.zeros(len(p))
        overlap[ps["row"].to_numpy()] = _overlap_area(geoms[ps["row"].to_numpy()], result.constraints)
        is_flag = p["three_low"].fillna(False).astype(bool).to_numpy()
        fresh = _site_table(p, geoms, land, overlap, is_flag, ps, sid, result.constraints, result.params)
        for c in SITE_COLUMNS:
            if c not in fresh.columns:
                fresh[c] = np.nan
        fresh = fresh[SITE_COLUMNS]
    else:
        fresh = None
    sites = _in_place(result.sites, site_ids, fresh)
    if sites is None:  # a new site, or a table not in id order: put together and sorted
        keep = result.sites[~result.sites["site_id"].isin(site_ids)]
        if fresh is not None:
            keep = pd.concat([keep, fresh], ignore_index=True)
        sites = gpd.GeoDataFrame(keep, geometry="geometry", crs=result.sites.crs).sort_values("site_id")
        sites = sites.reset_index(drop=True)
    return dataclasses.replace(result, sites=rescore(sites, result.params),
                               parcel_sites=_sorted_members(parcel_sites, parcel_sites["site_id"].isin(site_ids)))


def _in_place(sites: gpd.GeoDataFrame, site_ids: list[str], fresh: pd.DataFrame | None) -> gpd.GeoDataFrame | None:
    """``sites`` with the rows of ``site_ids`` replaced by ``fresh`` (those not in it dropped), in place of each.

    What concatenating the untouched rows with ``fresh`` and sorting by id
    gives, without taking and sorting every row of the table twice (a 1M
    city's 85k sites: 0.1 s of every edit). None when that does not hold: a
    site of ``fresh`` not in the table, the table not in strict id order, or
    a column whose type ``fresh`` would change.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if not len(sites):
        return None
    ids = text_array(sites, "site_id")
    if ids.null_count or (len(ids) > 1 and not pc.all(pc.less(ids[:-1], ids[1:])).as_py()):
        return None
    touched = np.flatnonzero(pc.is_in(ids, value_set=pa.array([str(v) for v in site_ids], type=ids.type))
                             .to_numpy(zero_copy_only=False))
    out = sites.reset_index(drop=True).copy()
    if fresh is not None and len(fresh):
        fresh_ids = fresh["site_id"].astype(str).to_numpy(dtype=object)
        at = pd.Index(ids.take(touched).to_pylist()).get_indexer(fresh_ids)
        if (at < 0).any():
            return None
        rows = touched[at]
        for c in SITE_COLUMNS:
            if c == "site_id" or c in RESCORED:  # (those rescore makes again from the others)
                continue
            new = fresh[c]
            if c != "geometry" and new.dtype != out[c].dtype:
                return None
            col = out[c].array.copy() if c != "geometry" else out.geometry.array.copy()
            col[rows] = new.array if c == "geometry" else new.to_numpy()
            out[c] = col
        gone = np.setdiff1d(touched, rows)
    else:
        gone = touched
    if len(gone):
        keep = np.ones(len(out), dtype=bool)
        keep[gone] = False
        out = out[keep].reset_index(drop=True)
    return out



_MEMBER_ORDER = ["site_id", "role", "parcel_id"]


def _sorted_members(parcel_sites: pd.DataFrame, touched) -> pd.DataFrame:
    """``parcel_sites`` in (site, role, parcel) order, where only the ``touched`` rows may be out of order.

    The other rows keep their order when it is already sorted (as a built or
    edited result's are), and the few touched rows are sorted and put in
    place: an edit of a 1M-parcel city no longer sorts its 360k members.
    """
    touched = np.asarray(touched, dtype=bool)
    rest, block = parcel_sites[~touched], parcel_sites[touched]
    if not len(block) or not len(rest) or not _in_order(rest):
        return parcel_sites.sort_values(_MEMBER_ORDER, kind="stable").reset_index(drop=True)
    import pyarrow.compute as pc

    keys = text_array(rest, "site_id")
    block = block.sort_values(_MEMBER_ORDER, kind="stable")
    bkeys = block["site_id"].astype(str).to_numpy(dtype=object)
    # each touched site goes before the first greater site: its place is the number of smaller ones (Arrow counts)
    at_of = {}
    for k in dict.fromkeys(bkeys):
        if pc.any(pc.equal(keys, k)).as_py():  # a touched site among the others: plain sort
            return parcel_sites.sort_values(_MEMBER_ORDER, kind="stable").reset_index(drop=True)
        at_of[k] = pc.sum(pc.less(keys, k)).as_py() or 0
    at = np.array([at_of[k] for k in bkeys], dtype=np.int64)
    where = np.concatenate([np.arange(len(rest)) + np.searchsorted(at, np.arange(len(rest)), side="right"),
                            at + np.arange(len(block))])
    out = pd.concat([rest, block], ignore_index=True)
    return out.iloc[np.argsort(where, kind="stable")].reset_index(drop=True)


def _in_order(ps: pd.DataFrame) -> bool:
    """Whether the rows are in (site, role, parcel) order already (one pass, no sort).

    Compared in Arrow (the ids as Python strings cost 0.1-0.2 s per edit for
    a 1M city's 360k members).
    """
    if len(ps) < 2:
        return True
    import pyarrow.compute as pc

    s, r, p = (text_array(ps, c) for c in _MEMBER_ORDER)
    nxt, prv = slice(1, None), slice(None, -1)

    def cmp(f, a):
        return f(a[nxt], a[prv])

    same_s, same_r = cmp(pc.equal, s), cmp(pc.equal, r)
    ok = pc.or_(cmp(pc.greater, s), pc.and_(same_s, pc.or_(cmp(pc.greater, r),
                                                          pc.and_(same_r, cmp(pc.greater_equal, p)))))
    return bool(pc.all(ok).as_py())


def _ids(parcel_ids) -> list[str]:
    return [str(x) for x in ([parcel_ids] if isinstance(parcel_ids, str) else parcel_ids)]


def add_parcels(result: SiteResult, site_id: str, parcel_ids, parcels: gpd.GeoDataFrame) -> SiteResult:
    """Add parcels to a site (moving them out of any other site) and recompute.

    Flagged parcels join with role ``"flagged"``, others with role ``"added"``.
    Returns a new :class:`SiteResult`; ``result`` is unchanged.
    """
    if site_id not in set(result.sites["site_id"]):
        msg = f"no site {site_id!r}; existing sites: {result.sites['site_id'].head(10).tolist()}"
        raise DataError(msg, zh=f"没有片区 {site_id}；现有片区如 {result.sites['site_id'].head(10).tolist()}")
    ids = _ids(parcel_ids)
    flag = _flags_of(parcels, ids)
    ps = result.parcel_sites.assign(parcel_id=result.parcel_sites["parcel_id"].astype(str))
    touched = set(ps.loc[ps["parcel_id"].isin(ids), "site_id"]) | {site_id}
    ps = ps[~ps["parcel_id"].isin(ids)]
    new = pd.DataFrame({"parcel_id": ids, "site_id": site_id,
                        "role": np.where(flag.loc[ids].to_numpy(), "flagged", "added")})
    return _recompute(result, pd.concat([ps, new], ignore_index=True), parcels, sorted(touched))


def _flags_of(parcels: gpd.GeoDataFrame, ids: list[str]) -> pd.Series:
    """``three_low`` of the parcels ``ids`` (by id; a scan of the id column, no copy of the table)."""
    pid = parcels["parcel_id"].astype(str)
    hit = pid.isin(ids).to_numpy()
    flag = pd.Series(parcels["three_low"].to_numpy()[hit], index=pid.to_numpy()[hit]).fillna(False).astype(bool)
    unknown = sorted(set(ids) - set(flag.index))
    if unknown:
        msg = f"parcel id(s) not in the parcel table: {unknown[:5]}"
        raise DataError(msg, zh=f"地块表中没有这些地块编号：{unknown[:5]}")
    return flag[~flag.index.duplicated()]


def remove_parcels(result: SiteResult, site_id: str, parcel_ids, parcels: gpd.GeoDataFrame) -> SiteResult:
    """Remove parcels from a site and recompute it (a site left empty is dropped)."""
    ids = _ids(parcel_ids)
    ps = result.parcel_sites.assign(parcel_id=result.parcel_sites["parcel_id"].astype(str))
    mask = (ps["site_id"] == site_id) & ps["parcel_id"].isin(ids)
    absent = sorted(set(ids) - set(ps.loc[mask, "parcel_id"]))
    if absent:
        msg = f"parcel id(s) {absent[:5]} are not in site {site_id!r}"
        raise DataError(msg, zh=f"地块 {absent[:5]} 不在片区 {site_id} 中")
    return _recompute(result, ps[~mask], parcels, [site_id])


def site_from_boundary(polygon, parcels: gpd.GeoDataFrame, *, result: SiteResult | None = None,
                       params: SiteParams | None = None, site_id: str | None = None,
                       majority: float = 0.5) -> SiteResult:
    """A new site from the parcels whose area lies more than ``majority`` inside a drawn polygon.

    The parcels leave any site they were in (those sites are recomputed). With
    ``result=None`` a result holding only the new site is returned.
    """
    if result is None:
        empty = gpd.GeoDataFrame({c: [] for c in SITE_COLUMNS if c != "geometry"}, geometry=[], crs=parcels.crs)
        result = SiteResult(empty, pd.DataFrame({"parcel_id": [], "site_id": [], "role": []}),
                            pd.DataFrame({"parcel_id": [], "constraint_share": []}), params or SiteParams())
    poly = shapely.from_wkt(polygon) if isinstance(polygon, str) else polygon
    if poly is None or shapely.get_type_id(poly) not in (3, 6):
        msg = "site boundary must be a Polygon or MultiPolygon in the parcels' CRS"
        raise DataError(msg, zh="片区边界须为面（Polygon 或 MultiPolygon），坐标系与地块相同")
    g = np.asarray(parcels.geometry.values, dtype=object)
    inside = np.zeros(len(g))
    hits = shapely.STRtree(g).query(poly, predicate="intersects")
    inside[hits] = shapely.area(shapely.intersection(g[hits], poly))
    share = np.divide(inside, shapely.area(g), out=np.zeros(len(g)), where=shapely.area(g) > 0)
    ids = parcels["parcel_id"].astype(str).to_numpy()[share > majority].tolist()
    if not ids:
        msg = "no parcel lies mostly inside the drawn boundary"
        raise DataError(msg, zh="所画边界内没有大部分面积落在其中的地块；请画得更大一些")
    if site_id is None:
        digits = result.sites["site_id"].astype(str).str[1:]
        nums = pd.to_numeric(digits, errors="coerce")
        width = max(4, int(digits.str.len().max()) if len(digits) else 4)
        site_id = f"S{int(nums.max() if len(nums) and nums.notna().any() else 0) + 1:0{width}d}"
    ps = result.parcel_sites.assign(parcel_id=result.parcel_sites["parcel_id"].astype(str))
    touched = set(ps.loc[ps["parcel_id"].isin(ids), "site_id"]) | {site_id}
    ps = ps[~ps["parcel_id"].isin(ids)]
    flag = _flags_of(parcels, ids)
    new = pd.DataFrame({"parcel_id": ids, "site_id": site_id,
                        "role": np.where(flag.loc[ids].to_numpy(), "flagged", "added")})
    return _recompute(result, pd.concat([ps, new], ignore_index=True), parcels, sorted(touched))


def apply_edits(result: SiteResult, edits: Iterable[dict], parcels: gpd.GeoDataFrame) -> SiteResult:
    """Replay a list of edit operations (as stored in a ``site_edit`` document).

    Each operation is ``{"op": "add" | "remove", "site_id": ..., "parcel_ids": [...]}``
    or ``{"op": "boundary", "wkt": ..., "site_id": optional}``.
    """
    for k, e in enumerate(edits):
        op = e.get("op")
        if op == "add":
            result = add_parcels(result, e["site_id"], e["parcel_ids"], parcels)
        elif op == "remove":
            result = remove_parcels(result, e["site_id"], e["parcel_ids"], parcels)
        elif op == "boundary":
            result = site_from_boundary(e["wkt"], parcels, result=result, site_id=e.get("site_id"))
        else:
            msg = f"site edit #{k + 1}: unknown op {op!r}; use 'add', 'remove' or 'boundary'"
            raise DataError(msg, zh=f"第 {k + 1} 项片区调整的操作 {op!r} 无法识别；应为 add、remove 或 boundary")
    return result

