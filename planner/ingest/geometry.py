"""Geometry repair for ingest: polygonal parts, validity, absurd coordinates, problems per row."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import shapely

from planner.ingest.report import Problem

_POLY = (3, 6)  # Polygon, MultiPolygon type ids
#: Coordinates beyond this (in any unit: metres, feet, degrees) are absurd for a parcel on Earth.
COORD_LIMIT = 1e9
#: Parcels larger than this (m², 1,000 km²) are absurd: an overflow or a wrong unit, not land.
MAX_PARCEL_AREA_M2 = 1e9


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
        rows = np.unique(idx2)
        # shapely wants the indices 0..k-1 without gaps: number the rows that keep a part
        multi = shapely.multipolygons(parts2, indices=np.searchsorted(rows, idx2))
        out[rows] = multi
        single = np.flatnonzero(counts == 1)
        out[single] = shapely.get_geometry(out[single], 0)
    return out


def absurd_rows(geoms: np.ndarray, bounds: tuple | None = None, limit: float = COORD_LIMIT) -> np.ndarray | None:
    """Rows whose coordinates are infinite or beyond ``limit``; None when the layer's bounds show none.

    ``bounds``: the layer's total bounds when already known (the per-row
    bounds are computed only when those look wrong). NaN coordinates do not
    show in bounds; :func:`clean_geometry` catches them before repair.
    """
    if len(geoms) == 0:
        return None
    b = np.asarray(bounds if bounds is not None else shapely.total_bounds(geoms), dtype=float)
    if np.isnan(b).all() or (np.isfinite(b).all() and np.abs(b).max() <= limit):
        return None
    per_row = shapely.bounds(geoms)
    with np.errstate(invalid="ignore"):
        return np.isinf(per_row).any(axis=1) | (np.abs(per_row) > limit).any(axis=1)


def sane_bounds(geoms: np.ndarray, absurd: np.ndarray | None, bounds: tuple | None = None) -> tuple:
    """Total bounds of the rows that are not absurd (what a CRS guess may trust)."""
    if len(geoms) == 0:
        return (np.nan,) * 4
    if absurd is None:
        return tuple(bounds) if bounds is not None else tuple(shapely.total_bounds(geoms).tolist())
    if absurd.all():
        return (np.nan,) * 4
    return tuple(shapely.total_bounds(geoms[~absurd]).tolist())


def _nonfinite(geoms: np.ndarray) -> np.ndarray:
    """Rows with a NaN or infinite coordinate (GEOS refuses to repair them)."""
    coords, idx = shapely.get_coordinates(geoms, return_index=True)
    bad = ~np.isfinite(coords).all(axis=1)
    return np.bincount(idx[bad], minlength=len(geoms)) > 0


def _too_complex(geoms: np.ndarray, max_parts: int, max_vertices: int, nv: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows over the part or vertex limit, and their part and vertex counts (``nv``: vertex counts if known)."""
    nv = shapely.get_num_coordinates(geoms) if nv is None else nv
    npart = np.ones(len(geoms), dtype=np.int64)
    many = np.flatnonzero(nv > 4 * max_parts)  # a polygon part has at least 4 coordinates
    if len(many):
        npart[many] = shapely.get_num_geometries(geoms[many])
    return (nv > max_vertices) | (npart > max_parts), npart, nv


def _make_valid(geoms: np.ndarray) -> tuple[np.ndarray, dict[int, str]]:
    """``shapely.make_valid``; rows GEOS cannot repair are missing, with GEOS's reason."""
    try:
        return shapely.make_valid(geoms), {}
    except shapely.errors.GEOSException:
        pass
    out = np.full(len(geoms), None, dtype=object)
    failed: dict[int, str] = {}
    for i, g in enumerate(geoms):
        try:
            out[i] = shapely.make_valid(g)
        except shapely.errors.GEOSException as exc:
            failed[i] = str(exc)
    return out, failed


def clean_geometry(geoms: np.ndarray, rows: np.ndarray, problems: list[Problem], ids, policy: str,
                   valid_all: np.ndarray | None = None, tid: np.ndarray | None = None, *,
                   unreadable: dict[int, str] | None = None, absurd: np.ndarray | None = None,
                   max_parts: int = 10_000, max_vertices: int = 1_000_000, n_coords: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
    """Repair geometries in place; return (geoms, bad mask, n repaired, area (NaN where bad)).

    ``valid_all``: ``shapely.is_valid(geoms)`` when already computed (in the background);
    ``tid``: ``shapely.get_type_id(geoms)`` when already computed;
    ``unreadable``: rows the reader could not parse, with the reason;
    ``absurd``: rows with infinite or absurdly large coordinates (:func:`absurd_rows`);
    ``n_coords``: ``shapely.get_num_coordinates(geoms)`` when already computed.
    Rows with NaN or infinite coordinates, an absurd area or more parts or
    vertices than the limits are bad (never repaired: they are not land).
    """
    n = len(geoms)
    bad = np.zeros(n, dtype=bool)
    reason = np.full(n, "", dtype=object)
    reason_zh = np.full(n, "", dtype=object)

    def mark(mask: np.ndarray, en, zh) -> None:
        """Rows of ``mask`` not yet bad become bad with this reason (one text, or one per row of ``mask``)."""
        new = mask & ~bad
        if not isinstance(en, str):
            keep = ~bad[mask]
            en, zh = np.asarray(en, dtype=object)[keep], np.asarray(zh, dtype=object)[keep]
        bad[new] = True
        reason[new] = en
        reason_zh[new] = zh

    missing = shapely.is_missing(geoms)
    empty = ~missing & shapely.is_empty(geoms)
    if unreadable:
        at = np.fromiter(unreadable, dtype=np.int64, count=len(unreadable))
        why = np.array(list(unreadable.values()), dtype=object)
        m = np.zeros(n, dtype=bool)
        m[at] = True
        reason_at = np.full(n, "", dtype=object)
        reason_at[at] = [w if w.startswith("unreadable") else f"unreadable geometry ({w})" for w in why]
        mark(m, reason_at[m], [f"几何无法读取：{w}" for w in reason_at[m]])
    mark(missing | empty, "empty geometry", "几何为空")
    tid = shapely.get_type_id(geoms) if tid is None else tid
    coll = tid == 7
    nonpoly = ~bad & ~np.isin(tid, _POLY) & ~coll
    names = type_names(shapely.get_type_id(geoms[nonpoly]))
    mark(nonpoly, [f"not a polygon ({t})" for t in names], [f"不是面要素（{t}）" for t in names])
    if absurd is not None:
        mark(absurd, f"coordinates infinite or beyond ±{COORD_LIMIT:.0e} (not a place on Earth)",
             f"坐标为无穷大或超出 ±{COORD_LIMIT:.0e}（不是地球上的位置）")
    ok = np.flatnonzero(~bad)
    cx, nparts, nverts = _too_complex(geoms[ok], max_parts, max_vertices, None if n_coords is None else n_coords[ok])
    if cx.any():
        m = np.zeros(n, dtype=bool)
        m[ok[cx]] = True
        en = [f"too complex: {p:,} parts, {v:,} vertices (limits {max_parts:,} parts, {max_vertices:,} vertices)"
              for p, v in zip(nparts[cx], nverts[cx], strict=True)]
        zh = [f"几何过于复杂：{p:,} 个部分、{v:,} 个顶点（上限 {max_parts:,} 个部分、{max_vertices:,} 个顶点）"
              for p, v in zip(nparts[cx], nverts[cx], strict=True)]
        mark(m, en, zh)
    if shapely.has_z(geoms[~bad] if bad.any() else geoms).any():
        geoms = shapely.force_2d(geoms)
    ok = ~bad
    valid = np.ones(n, dtype=bool)
    valid[ok] = valid_all[ok] if valid_all is not None else is_valid(geoms[ok])
    fix = ok & (~valid | coll)
    n_rep = 0
    if fix.any():
        idx = np.flatnonzero(fix)
        nf = _nonfinite(geoms[idx])
        if nf.any():
            m = np.zeros(n, dtype=bool)
            m[idx[nf]] = True
            mark(m, "coordinates are not finite numbers (NaN or infinity)", "坐标不是有限数值（NaN 或无穷大）")
            idx = idx[~nf]
        fixed, failed = _make_valid(geoms[idx])
        fixed = _polygonal_parts(fixed)
        lost = shapely.is_missing(fixed)
        geoms[idx[~lost]] = fixed[~lost]
        m = np.zeros(n, dtype=bool)
        m[idx[lost]] = True
        mark(m, "no polygonal part left after repairing the geometry", "修复几何后没有剩下面要素")
        for k, why in failed.items():  # GEOS's own reason is more telling than "nothing left"
            reason[idx[k]] = f"geometry cannot be repaired ({why})"
            reason_zh[idx[k]] = f"几何无法修复（{why}）"
        rep = idx[~lost & ~valid[idx]]
        n_rep = len(rep)
        for i, pid in zip(rep[:10_000], ids_at(ids, rep[:10_000]), strict=True):
            problems.append(Problem("repaired_geometry", "repaired", "invalid polygon repaired (make_valid)",
                                    int(rows[i]), text_or_none(pid), "geometry",
                                    message_zh="无效多边形已自动修复（make_valid）"))
    ok = ~bad
    area = np.full(n, np.nan)
    with np.errstate(over="ignore", invalid="ignore"):
        if ok.all():
            area = shapely.area(geoms)
        else:
            area[ok] = shapely.area(geoms[ok])
    mark(ok & (area <= 0), "zero-area polygon", "面积为零的多边形")
    huge = ok & ~(area <= MAX_PARCEL_AREA_M2) & ~(area <= 0)
    if huge.any():  # the area itself, in km²: a county boundary (700 km²) is not broken coordinates (1e18 m²)
        km2 = area[huge] / 1e6
        shown = [f"{a:,.0f} km²" if np.isfinite(a) and a < 1e9 else "not a finite number" for a in km2]
        shown_zh = [f"{a:,.0f} 平方公里" if np.isfinite(a) and a < 1e9 else "不是有限值" for a in km2]
        limit = f"{MAX_PARCEL_AREA_M2 / 1e6:,.0f} km²"
        mark(huge, [f"polygon area {a}, over {limit}: not one parcel (an administrative area, a wrong unit or broken "
                    "coordinates)" for a in shown],
             [f"多边形面积 {a}，超过 {MAX_PARCEL_AREA_M2 / 1e6:,.0f} 平方公里：不是一宗地（行政区、单位错误或坐标异常）"
              for a in shown_zh])
    area[bad] = np.nan
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
    return {"reject": "rejected", "null": "nulled", "flag": "flagged", "refuse": "refused"}[policy]


def text_or_none(v) -> str | None:
    return None if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA else str(v)


def ids_at(ids: pd.Series, idx: np.ndarray) -> np.ndarray:
    """Parcel ids of rows ``idx`` as Python objects (None when missing), without converting all ids."""
    return ids.iloc[idx].to_numpy(dtype=object, na_value=None)
