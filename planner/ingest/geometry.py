"""Geometry repair for ingest: polygonal parts, validity, problems per row."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import shapely

from planner.ingest.report import Problem

_POLY = (3, 6)  # Polygon, MultiPolygon type ids


def _polygonal_parts(geoms: np.ndarray) -> np.ndarray:
    """Keep only the polygonal parts of each geometry (Polygon, MultiPolygon or None)."""
    parts, idx = shapely.get_parts(geoms, return_index=True)
    # collections may hold multi-geometries: flatten once more
    parts2, idx2 = shapely.get_parts(parts, return_index=True)
    idx2 = idx[idx2]
    keep = (shapely.get_type_id(parts2) == 3) & (shapely.area(parts2) > 0)
    parts2, idx2 = parts2[keep], idx2[keep]
    out = np.full(len(geoms), None, dtype=object)
    if len(parts2):
        counts = np.bincount(idx2, minlength=len(geoms))
        multi = shapely.multipolygons(parts2, indices=idx2)
        rows = np.unique(idx2)
        out[rows] = multi
        single = np.flatnonzero(counts == 1)
        out[single] = shapely.get_geometry(out[single], 0)
    return out


def clean_geometry(geoms: np.ndarray, rows: np.ndarray, problems: list[Problem], ids, policy: str,
                    valid_all: np.ndarray | None = None, tid: np.ndarray | None = None
                    ) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
    """Repair geometries in place; return (geoms, bad mask, n repaired, area (NaN where bad)).

    ``valid_all``: ``shapely.is_valid(geoms)`` when already computed (in the background);
    ``tid``: ``shapely.get_type_id(geoms)`` when already computed.
    """
    n = len(geoms)
    bad = np.zeros(n, dtype=bool)
    reason = np.full(n, "", dtype=object)
    reason_zh = np.full(n, "", dtype=object)
    missing = shapely.is_missing(geoms)
    empty = ~missing & shapely.is_empty(geoms)
    bad |= missing | empty
    reason[missing | empty] = "empty geometry"
    reason_zh[missing | empty] = "几何为空"
    tid = shapely.get_type_id(geoms) if tid is None else tid
    coll = tid == 7
    nonpoly = ~bad & ~np.isin(tid, _POLY) & ~coll
    bad |= nonpoly
    names = shapely.get_type_id(geoms[nonpoly])
    reason[nonpoly] = [f"not a polygon ({t})" for t in type_names(names)]
    reason_zh[nonpoly] = [f"不是面要素（{t}）" for t in type_names(names)]
    if shapely.has_z(geoms[~bad] if bad.any() else geoms).any():
        geoms = shapely.force_2d(geoms)
    ok = ~bad
    valid = np.ones(n, dtype=bool)
    valid[ok] = valid_all[ok] if valid_all is not None else is_valid(geoms[ok])
    fix = ok & (~valid | coll)
    n_rep = 0
    if fix.any():
        idx = np.flatnonzero(fix)
        fixed = _polygonal_parts(shapely.make_valid(geoms[idx]))
        lost = shapely.is_missing(fixed)
        geoms[idx[~lost]] = fixed[~lost]
        bad[idx[lost]] = True
        reason[idx[lost]] = "no polygonal part left after repairing the geometry"
        reason_zh[idx[lost]] = "修复几何后没有剩下面要素"
        rep = idx[~lost & ~valid[idx]]
        n_rep = len(rep)
        for i, pid in zip(rep[:10_000], ids_at(ids, rep[:10_000]), strict=True):
            problems.append(Problem("repaired_geometry", "repaired", "invalid polygon repaired (make_valid)",
                                    int(rows[i]), text_or_none(pid), "geometry",
                                    message_zh="无效多边形已自动修复（make_valid）"))
    ok = ~bad
    area = np.full(n, np.nan)
    if ok.all():
        area = shapely.area(geoms)
    else:
        area[ok] = shapely.area(geoms[ok])
    zero = ok & (area <= 0)
    bad |= zero
    area[bad] = np.nan
    reason[zero] = "zero-area polygon"
    reason_zh[zero] = "面积为零的多边形"
    bad_rows = np.flatnonzero(bad)
    for i, pid in zip(bad_rows, ids_at(ids, bad_rows), strict=True):
        problems.append(Problem("bad_geometry", action_of(policy), reason[i], int(rows[i]), text_or_none(pid), "geometry",
                                message_zh=reason_zh[i]))
    return geoms, bad, n_rep, area


def is_valid(geoms: np.ndarray, chunk: int = 100_000) -> np.ndarray:
    """``shapely.is_valid`` in chunks on two threads (GEOS releases the GIL)."""
    if len(geoms) <= chunk:
        return shapely.is_valid(geoms)
    parts = [geoms[i:i + chunk] for i in range(0, len(geoms), chunk)]
    with ThreadPoolExecutor(max_workers=min(2, os.cpu_count() or 1)) as ex:
        return np.concatenate(list(ex.map(shapely.is_valid, parts)))


def type_names(ids) -> list[str]:
    names = {0: "Point", 1: "LineString", 2: "LinearRing", 4: "MultiPoint", 5: "MultiLineString", 7: "GeometryCollection"}
    return [names.get(int(t), str(t)) for t in ids]


def action_of(policy: str) -> str:
    return {"reject": "rejected", "flag": "flagged", "refuse": "refused"}[policy]


def text_or_none(v) -> str | None:
    return None if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA else str(v)


def ids_at(ids: pd.Series, idx: np.ndarray) -> np.ndarray:
    """Parcel ids of rows ``idx`` as Python objects (None when missing), without converting all ids."""
    return ids.iloc[idx].to_numpy(dtype=object, na_value=None)


