"""Map tiles: the features (or grid cells) of one Web-Mercator tile of a layer, as compact GeoJSON.

The app's map asks for the tiles that cover its view (``z/x/y`` as in every
web map) and draws them itself, so a pan or a zoom costs one small HTTP
request per new tile and no rerun of the page. This module is the pure part:
a :class:`planner.maps.LayerIndex` and a tile address in, GeoJSON text out.

- Each feature belongs to exactly one tile, the one that holds its
  representative point, so a parcel is never drawn twice.
- Below ``detail_zoom`` (and in tiles with more than ``max_tile_features``
  features below ``always_detail_zoom``) the tile is an 8 x 8 grid of cells with
  the number of features, land and the share of flagged land, as
  :func:`planner.maps.aggregate_grid` does for a whole view.
- Features are simplified to half a pixel of the zoom they are shown at and
  their coordinates rounded to a quarter pixel (:func:`planner.maps.simplify_for_zoom`).

Examples
--------
>>> import geopandas as gpd, shapely
>>> from planner import maps
>>> g = gpd.GeoDataFrame({"parcel_id": ["a"]}, geometry=[shapely.box(500000, 2740000, 500050, 2740050)],
...                      crs="EPSG:4549")
>>> idx = maps.LayerIndex.build(g)
>>> z, x, y = tile_of(idx, 0, 16)
>>> t = tile_features(idx, 16, x, y)
>>> t["mode"], t["n"], t["features"][0]["properties"]["parcel_id"]
('features', 1, 'a')
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable

import numpy as np
import pandas as pd
import pyproj
import shapely

from planner import maps

#: Web-Mercator half circumference (m).
_R = 20_037_508.342_789_244
#: Grid cells per tile side (32 px cells on 256 px tiles).
CELLS = 8
_MERC = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)


def tile_lonlat_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """``(west, south, east, north)`` of tile ``z/x/y`` (XYZ scheme, y down)."""
    n = 2.0**z
    w, e = x / n * 360.0 - 180.0, (x + 1) / n * 360.0 - 180.0
    north = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / n))))
    south = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * (y + 1) / n))))
    return w, south, e, north


def _merc_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    size = 2 * _R / 2.0**z
    return -_R + x * size, _R - (y + 1) * size, -_R + (x + 1) * size, _R - y * size


_MERC_LOCK = threading.Lock()


def merc_points(index: maps.LayerIndex, gcj02: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Web-Mercator x, y of the representative points of ``index`` (computed once per index).

    With ``gcj02`` the points are shifted to GCJ-02 first (tiles of a GCJ-02 basemap).
    """
    key = "_merc_xy_gcj" if gcj02 else "_merc_xy"
    cached = index.__dict__.get(key)
    if cached is None:
        with _MERC_LOCK:  # the first tiles of a new index ask in several threads at once: made once
            cached = index.__dict__.get(key)
            if cached is None:
                lon, lat = index._to_ll.transform(index.cx, index.cy)
                lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
                if gcj02:
                    from planner.crs import wgs84_to_gcj02

                    lon, lat = wgs84_to_gcj02(lon, lat)
                mx, my = _MERC.transform(np.asarray(lon), np.asarray(lat))
                cached = (np.asarray(mx), np.asarray(my))
                index.__dict__[key] = cached  # frozen dataclass: cached beside the fields
    return cached


def tile_of(index: maps.LayerIndex, pos: int, z: int) -> tuple[int, int, int]:
    """The tile ``(z, x, y)`` that holds feature ``pos`` (by its representative point)."""
    mx, my = merc_points(index)
    size = 2 * _R / 2.0**z
    return z, int((mx[pos] + _R) // size), int((_R - my[pos]) // size)


def merc_sorted(index: maps.LayerIndex, gcj02: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Positions of ``index`` by Web-Mercator x of their points and those x in that order (made once per index)."""
    key = "_merc_xy_gcj_order" if gcj02 else "_merc_xy_order"  # "_merc_xy...": a rule variant's index shares it
    cached = index.__dict__.get(key)
    if cached is None:
        mx, _my = merc_points(index, gcj02)
        with _MERC_LOCK:
            cached = index.__dict__.get(key)
            if cached is None:
                order = np.argsort(mx, kind="stable")
                cached = index.__dict__[key] = (order, mx[order])
    return cached


def _in_tile(index: maps.LayerIndex, z: int, x: int, y: int, keep: np.ndarray | None,
             gcj02: bool = False) -> np.ndarray:
    """Positions whose representative point lies in the tile (and where ``keep`` is True), ascending.

    The points sorted by x give the tile's column by two binary searches; its
    rows are then picked by y. No polygon is looked at: a city-scale tile of a
    1M-parcel layer holds 10^5 parcels, which the polygon tree returned one by
    one (0.84 s of the 80 tiles of a cold start's first view, py-spy).
    """
    if not len(index):
        return np.empty(0, dtype=np.intp)
    _mx, my = merc_points(index, gcj02)
    order, sx = merc_sorted(index, gcj02)
    x0, y0, x1, y1 = _merc_bounds(z, x, y)
    lo, hi = np.searchsorted(sx, (x0, x1), side="left")  # x0 <= x < x1
    hits = order[lo:hi]
    ys = my[hits]
    hits = hits[(ys > y0) & (ys <= y1)]
    if keep is not None:
        hits = hits[keep[hits]]
    hits.sort()
    return hits


def _round(v):
    if isinstance(v, float | np.floating):
        return None if not math.isfinite(v) else round(float(v), 2)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return None
    return v


class RawJSON(str):
    """GeoJSON text of a geometry, put into a tile's JSON as it is by :func:`encode` (not parsed and written again)."""

    __slots__ = ()


def _collection(geoms: np.ndarray, props: list[dict], ids: list[str], raw: bool = False) -> list[dict]:
    text = shapely.to_geojson(geoms)
    return [{"type": "Feature", "id": i, "properties": p, "geometry": RawJSON(g) if raw else json.loads(g)}
            for i, p, g in zip(ids, props, text, strict=True)]


def _column_values(s: pd.Series) -> list:
    """A column as JSON-ready Python values (:func:`_round` of each value; float, integer and bool columns at once)."""
    kind = s.dtype.kind if isinstance(s.dtype, np.dtype) else ""
    if kind == "f":
        return [round(v, 2) if math.isfinite(v) else None for v in s.to_numpy().tolist()]
    if kind and kind in "iub":
        return s.to_numpy().tolist()
    return [_round(v) for v in s.to_numpy(dtype=object).tolist()]


def _records(props: pd.DataFrame) -> list[dict]:
    """The rows of ``props`` as dicts of JSON-ready values (as ``_round`` over ``to_dict("records")``, column-wise)."""
    cols = list(props.columns)
    return [dict(zip(cols, row, strict=True)) for row in zip(*(_column_values(props[c]) for c in cols), strict=True)]


def tile_features(index: maps.LayerIndex, z: int, x: int, y: int, *, display_zoom: float | None = None,
                  columns: tuple = (), color: Callable[[pd.DataFrame], np.ndarray] | str | None = None,
                  fmt: Callable[[str, pd.Series], pd.Series] | None = None, keep: np.ndarray | None = None,
                  detail_zoom: int = 14, always_detail_zoom: int = 17, max_tile_features: int = 600,
                  cap: int = 3000, grid_color: Callable[[np.ndarray], np.ndarray] | None = None,
                  lod: bool = True, gcj02: bool = False, send: tuple | None = None, raw: bool = False,
                  coarse_cap: int | None = None) -> dict:
    """The features of tile ``z/x/y`` (or its grid cells) as a GeoJSON FeatureCollection dict.

    Parameters
    ----------
    index : LayerIndex
        The layer.
    z, x, y : int
        Tile address; ``display_zoom`` (default ``z``) sets simplification and rounding.
    columns : tuple of str
        Columns read for each feature (colours are computed from them).
    send : tuple of str, optional
        The properties sent (default: all ``columns``; the id column always is).
    color : callable or str, optional
        ``f(rows) -> colours`` or one colour; sent as the ``_c`` property.
    fmt : callable, optional
        ``fmt(column, values) -> text`` for the shown properties (not the id).
    keep : ndarray of bool, optional
        Features kept by attribute filters (one per feature of the index).
    gcj02 : bool
        The tile is in GCJ-02 (AMap-like basemaps): the data are shifted to match.
    raw : bool
        Geometries as :class:`RawJSON` text for :func:`encode` (the tile route) instead of parsed dicts.
    lod : bool
        Grid cells where there are too many features (parcel layers); False always sends features.
    max_tile_features, cap : int
        Between ``detail_zoom`` and ``always_detail_zoom`` a tile with more
        features than ``max_tile_features`` is sent as grid cells; at and above
        ``always_detail_zoom`` at most ``cap`` features (the largest) are sent.
    coarse_cap : int, optional
        Below ``detail_zoom``, at most this many features (the largest) in a
        tile of a layer sent as features (``lod=False``): the outlines of 85,631
        sites at city scale were 5 MB of tiles for the browser to draw.

    Returns
    -------
    dict
        ``{"type": "FeatureCollection", "mode": "features" | "grid", "n": features in the tile,
        "truncated": bool, "features": [...]}``.
    """
    dz = float(display_zoom if display_zoom is not None else z)
    hit = _in_tile(index, z, x, y, keep, gcj02)
    n = len(hit)
    grid = lod and (dz < detail_zoom or (dz < always_detail_zoom and n > max_tile_features))
    if grid:
        return _grid(index, z, x, y, hit, grid_color, gcj02, raw)
    if coarse_cap is not None and dz < detail_zoom:
        cap = min(cap, coarse_cap)
    truncated = n > cap
    if truncated:
        hit = np.sort(hit[np.argsort(-index.area[hit], kind="stable")[:cap]])
    lat = float(np.mean(tile_lonlat_bounds(z, x, y)[1::2]))
    geoms = maps.simplify_for_zoom(index.gdf.geometry.array[hit], dz, lat)
    geoms = maps._to_lonlat(index, geoms, dz, gcj02)
    cols = [c for c in dict.fromkeys([index.id_col, *columns]) if c in index.gdf.columns]
    # the tile's rows of the needed columns only (taking every column of a 1M-row layer first cost 0.1 s a tile)
    rows = pd.DataFrame(index.gdf.iloc[hit, [index.gdf.columns.get_loc(c) for c in cols]]).reset_index(drop=True)
    props = pd.DataFrame({index.id_col: rows[index.id_col].astype(str)})
    for c in cols:
        if c != index.id_col and (send is None or c in send):
            props[c] = fmt(c, rows[c]) if fmt is not None else rows[c]
    if color is not None:
        props["_c"] = color(rows) if callable(color) else color
    records = _records(props)
    ids = props[index.id_col].tolist()
    return {"type": "FeatureCollection", "mode": "features", "n": n, "truncated": bool(truncated),
            "features": _collection(np.asarray(geoms), records, ids, raw)}


def _grid(index: maps.LayerIndex, z: int, x: int, y: int, hit: np.ndarray,
          grid_color: Callable[[np.ndarray], np.ndarray] | None, gcj02: bool = False, raw: bool = False) -> dict:
    """An 8 x 8 grid of the tile: cells with features, their count, land and share of flagged land."""
    x0, y0, x1, y1 = _merc_bounds(z, x, y)
    size = (x1 - x0) / CELLS
    mx, my = merc_points(index, gcj02)
    ix = np.clip(((mx[hit] - x0) // size).astype(np.int64), 0, CELLS - 1)
    iy = np.clip(((y1 - my[hit]) // size).astype(np.int64), 0, CELLS - 1)
    key = iy * CELLS + ix
    area = index.area[hit]
    land = np.bincount(key, weights=area, minlength=CELLS * CELLS)
    flagged = np.bincount(key, weights=np.where(index.flagged[hit], area, 0.0), minlength=CELLS * CELLS)
    count = np.bincount(key, minlength=CELLS * CELLS)
    cells = np.flatnonzero(count)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(land > 0, flagged / land, 0.0)
    cx0 = x0 + (cells % CELLS) * size
    cy1 = y1 - (cells // CELLS) * size
    inv = pyproj.Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True)
    lon0, lat1 = inv.transform(cx0, cy1)
    lon1, lat0 = inv.transform(cx0 + size, cy1 - size)
    geoms = shapely.box(np.round(lon0, 6), np.round(lat0, 6), np.round(lon1, 6), np.round(lat1, 6))
    colors = grid_color(share[cells]) if grid_color is not None else np.full(len(cells), "#888888")
    props = [{"n": int(count[c]), "land_ha": round(float(land[c]) / 1e4, 2),
              "flagged_ha": round(float(flagged[c]) / 1e4, 2), "share": round(float(share[c]), 3), "_c": str(col)}
             for c, col in zip(cells, colors, strict=True)]
    ids = [f"g{z}_{x}_{y}_{c}" for c in cells]
    return {"type": "FeatureCollection", "mode": "grid", "n": int(len(hit)), "truncated": False,
            "features": _collection(np.asarray(geoms), props, ids, raw)}


def tiles_for_view(bounds_ll: tuple[float, float, float, float], z: int) -> list[tuple[int, int, int]]:
    """The tiles of zoom ``z`` that cover a lon/lat view (only real tiles: a view past the poles or the
    antimeridian is cut at the edge of the world)."""
    w, s, e, n = bounds_ll
    x0, y1 = _merc_xy_tile(w, s, z)
    x1, y0 = _merc_xy_tile(e, n, z)
    return [(z, tx, ty) for tx in range(x0, x1 + 1) for ty in range(y0, y1 + 1)]


#: Latitude limit of Web-Mercator tiles (the north edge of tile y=0).
_MAX_LAT = math.degrees(math.atan(math.sinh(math.pi)))


def _merc_xy_tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The tile of a point; points on or beyond the edge of the world fall in the last tile."""
    lon = min(max(lon, -180.0), 180.0)
    lat = min(max(lat, -_MAX_LAT), _MAX_LAT)
    mx, my = _MERC.transform(lon, lat)
    size = 2 * _R / 2.0**z
    last = 2**z - 1
    return min(max(int((mx + _R) // size), 0), last), min(max(int((_R - my) // size), 0), last)


def data_zoom(display_zoom: float, *, max_data_zoom: int = 16, min_data_zoom: int = 6) -> int:
    """The zoom of the tiles fetched for a map at ``display_zoom`` (street views share z16 tiles)."""
    return int(min(max(math.floor(display_zoom), min_data_zoom), max_data_zoom))


_DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def encode(collection: dict) -> bytes:
    """Compact UTF-8 JSON of a tile; :class:`RawJSON` geometries are written as they are."""
    feats = collection.get("features") or []
    if not any(isinstance(f.get("geometry"), RawJSON) for f in feats):
        return _DUMPS(collection).encode("utf-8")
    head = _DUMPS({k: v for k, v in collection.items() if k != "features"})
    body = ",".join(
        f'{{"type":"Feature","id":{_DUMPS(f["id"])},"properties":{_DUMPS(f["properties"])},"geometry":'
        f'{f["geometry"] if isinstance(f["geometry"], RawJSON) else _DUMPS(f["geometry"])}}}' for f in feats)
    return (head[:-1] + (',"features":[' if head != "{}" else '"features":[') + body + "]}").encode("utf-8")
