"""Map building: level of detail for the viewport and folium maps that work offline.

The browser never receives the whole parcel layer. :func:`view_layer` takes a
viewport (lon/lat bounding box and Leaflet zoom) and returns only what that
view needs:

- at city scale (or when too many parcels are in view) a square grid
  aggregation whose cells are about 40 screen pixels wide, snapped to a
  power-of-two metre grid so that cells do not move when the user pans, each
  cell carrying the parcel count, land area and the share of flagged
  ("three-low") land;
- at street scale the parcels in view, simplified to the pixel size of the
  zoom level, coordinates rounded to a quarter pixel, and capped in number.

Everything here is pure: GeoDataFrames and numbers in, GeoDataFrames and
``folium.Map`` objects out; Streamlit caching and widgets live in
``planner/ui``. Leaflet and plugin scripts are pointed at a local URL
(:func:`use_local_assets`) so that the map works with no internet.

Examples
--------
>>> import geopandas as gpd, shapely
>>> g = gpd.GeoDataFrame({"parcel_id": ["a", "b"]},
...     geometry=[shapely.box(500000, 2740000, 500050, 2740050),
...               shapely.box(500050, 2740000, 500100, 2740050)], crs="EPSG:4549")
>>> idx = LayerIndex.build(g, id_col="parcel_id")
>>> v = view_layer(idx, idx.lonlat_bounds(), 17)
>>> v.mode, len(v.gdf)
('features', 2)
"""

from __future__ import annotations

import functools
import html
import json
import math
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from planner.crs import gcj02_to_wgs84, wgs84_geoms_to_gcj02
from planner.errors import DataError
from planner.i18n import visible_text

if TYPE_CHECKING:  # folium is imported where a map is built, so the core imports fast
    import folium

#: Metres per pixel at zoom 0 on the equator (256 px Web-Mercator tiles).
M_PER_PX_Z0 = 156_543.033_928
#: Colours of the three-low classes and upgrade classes.
CLASS_COLORS = {
    "three_low": "#d7301f",
    "partial": "#fc8d59",
    "ok": "#91bfdb",
    "unknown": "#bdbdbd",
    "retain": "#1a9850",
    "upgrade": "#fee08b",
    "redevelop": "#d73027",
}
#: Sequential palette (light to dark red) for indicator class breaks and grid shares.
SEQ_PALETTE = ("#fff5eb", "#fdd0a2", "#fd8d3c", "#d94801", "#7f2704")
#: Where the app serves Leaflet (see planner/ui/assets.py and .streamlit/config.toml).
DEFAULT_ASSET_BASE = "/app/static/vendor/leaflet"


# ---------------------------------------------------------------------------
# geometry of the view
# ---------------------------------------------------------------------------
def pixel_size_m(zoom: float, lat: float) -> float:
    """Ground size of one screen pixel in metres at a Leaflet zoom level and latitude."""
    return M_PER_PX_Z0 * math.cos(math.radians(lat)) / 2.0**zoom


def zoom_for_bounds(bounds_ll: tuple[float, float, float, float], width_px: int = 1000,
                    height_px: int = 600, max_zoom: int = 19) -> int:
    """Largest integer zoom at which a lon/lat box fits in ``width_px`` x ``height_px``."""
    w, s, e, n = bounds_ll
    lat = (s + n) / 2
    span_x = max(e - w, 1e-9) * 111_320 * math.cos(math.radians(lat))
    span_y = max(n - s, 1e-9) * 110_574
    px = max(span_x / width_px, span_y / height_px)
    z = math.floor(math.log2(M_PER_PX_Z0 * math.cos(math.radians(lat)) / px))
    return int(min(max(z, 1), max_zoom))


def bounds_from_leaflet(b: dict | None) -> tuple[float, float, float, float] | None:
    """``(west, south, east, north)`` from streamlit-folium's ``bounds`` dict (None if unset)."""
    try:
        sw, ne = b["_southWest"], b["_northEast"]
        out = (float(sw["lng"]), float(sw["lat"]), float(ne["lng"]), float(ne["lat"]))
    except (TypeError, KeyError, ValueError):
        return None
    if any(v is None or not math.isfinite(v) for v in out) or out[0] >= out[2] or out[1] >= out[3]:
        return None
    return out


def gcj02_bounds_to_wgs84(bounds_ll: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """A viewport seen on a GCJ-02 basemap, back in WGS84 (for querying the data)."""
    w, s, e, n = bounds_ll
    lon, lat = gcj02_to_wgs84(np.array([w, e]), np.array([s, n]))
    return float(lon[0]), float(lat[0]), float(lon[1]), float(lat[1])


_TREE_LOCK = threading.Lock()


@dataclass(frozen=True, eq=False)
class LayerIndex:
    """A layer prepared for fast viewport queries (build once, cache, query on every pan).

    Attributes
    ----------
    gdf : GeoDataFrame
        The layer in its projected metric CRS, positional index.
    tree : shapely.STRtree or None
        Spatial index of ``gdf.geometry`` (None when built with
        ``lazy_tree``: :meth:`spatial_tree` makes it on first use).
    cx, cy : ndarray
        Representative-point coordinates (for grid aggregation).
    area : ndarray
        Land area of each feature (m²).
    flagged : ndarray of bool
        Whether each feature counts as flagged in the grid share (all False if unknown).
    id_col : str
        Column with the stable feature id.
    """

    gdf: gpd.GeoDataFrame
    tree: shapely.STRtree | None
    cx: np.ndarray
    cy: np.ndarray
    area: np.ndarray
    flagged: np.ndarray
    id_col: str
    _to_ll: pyproj.Transformer = field(repr=False)
    _from_ll: pyproj.Transformer = field(repr=False)

    @classmethod
    def build(cls, gdf: gpd.GeoDataFrame, *, id_col: str = "parcel_id", flag_col: str | None = None,
              area_col: str | None = "land_area_m2",
              points: tuple[np.ndarray, np.ndarray] | None = None, lazy_tree: bool = False) -> LayerIndex:
        """Index a layer in a projected metric CRS.

        Parameters
        ----------
        gdf : GeoDataFrame
            Polygons (or lines) in a projected CRS.
        id_col : str
            Stable id column, sent to the browser with every feature.
        flag_col : str, optional
            Boolean column counted as "flagged" in grid aggregation (e.g. ``three_low``).
        area_col : str, optional
            Area column; the geometric area is used where it is missing.
        points : (x, y) arrays, optional
            The representative points as an earlier build of the same layer
            made them (``cx``, ``cy``; kept on disk by the app), not made again.
        lazy_tree : bool
            Make the polygon tree when a query first needs it (``tree`` is
            None until then): the map's tiles find features by their points,
            and a sites table made again on every edit mostly never needs it.
        """
        if gdf.crs is None or not pyproj.CRS.from_user_input(gdf.crs).is_projected:
            msg = "map layers must be in a projected metric CRS (the workspace CRS); got " + str(gdf.crs)
            raise DataError(msg)
        if id_col not in gdf.columns:
            msg = f"map layer has no id column {id_col!r}; columns are {list(gdf.columns)}"
            raise DataError(msg)
        g = gdf.reset_index(drop=True)
        geoms = g.geometry.array
        n = len(g)
        if points is not None and len(points[0]) == n and len(points[1]) == n:
            xy = np.column_stack([np.asarray(points[0], dtype=float), np.asarray(points[1], dtype=float)])
        else:
            xy = shapely.get_coordinates(shapely.point_on_surface(np.asarray(geoms)))
            if len(xy) != n:  # empty geometries give no point: fall back to bounds centres
                b = shapely.bounds(np.asarray(geoms))
                xy = np.column_stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2])
        if area_col and area_col in g.columns:
            area = pd.to_numeric(g[area_col], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            missing = ~np.isfinite(area)
            if missing.any():  # the geometric area where the column has none
                area = area.copy()
                area[missing] = shapely.area(np.asarray(geoms)[missing])
        else:
            area = shapely.area(np.asarray(geoms))
        if flag_col and flag_col in g.columns:
            flagged = g[flag_col].fillna(False).to_numpy(dtype=bool)
        else:
            flagged = np.zeros(n, dtype=bool)
        to_ll, from_ll = lonlat_transformers(pyproj.CRS.from_user_input(g.crs))
        tree = None if lazy_tree else shapely.STRtree(np.asarray(geoms))
        return cls(g, tree, xy[:, 0], xy[:, 1], area, flagged, id_col, to_ll, from_ll)

    def __len__(self) -> int:
        return len(self.gdf)

    def lonlat_bounds(self) -> tuple[float, float, float, float]:
        """``(west, south, east, north)`` of the whole layer."""
        if not len(self.gdf):
            msg = "the layer is empty: nothing to show on the map"
            raise DataError(msg)
        box = self.__dict__.get("_total_bounds")
        if box is None:  # the layer does not change: its extent is computed once
            box = self.__dict__["_total_bounds"] = tuple(float(v) for v in self.gdf.total_bounds)
        return transform_bounds(self._to_ll, *box)

    def to_crs_bounds(self, bounds_ll: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        """A lon/lat box in the layer's CRS (densified, so the result covers the whole view)."""
        return transform_bounds(self._from_ll, *bounds_ll, densify_pts=11)

    def query(self, bounds_ll: tuple[float, float, float, float]) -> np.ndarray:
        """Positions of the features intersecting a lon/lat box, in ascending order."""
        box = shapely.box(*self.to_crs_bounds(bounds_ll))
        return np.sort(self.spatial_tree().query(box, predicate="intersects"))

    def spatial_tree(self) -> shapely.STRtree:
        """The features' tree (``tree``; for an index built with ``lazy_tree``, made once on first use)."""
        if self.tree is not None:
            return self.tree
        made = self.__dict__.get("_lazy_tree")
        if made is None:
            with _TREE_LOCK:
                made = self.__dict__.get("_lazy_tree")
                if made is None:
                    made = self.__dict__["_lazy_tree"] = shapely.STRtree(np.asarray(self.gdf.geometry.array))
        return made


def lonlat_transformers(crs: pyproj.CRS) -> tuple[pyproj.Transformer, pyproj.Transformer]:
    """Transformers ``crs`` -> lon/lat and back (``always_xy``) that cost nothing to use from a new thread.

    pyproj re-creates a transformer's PROJ object in every thread that uses
    it; for one made with ``from_crs`` that repeats the search for the
    operation (50-100 ms for a CGCS2000 Gauss-Kruger zone). Streamlit runs
    every page run in a new thread and the tile route in a thread pool, so
    that cost landed on every click. The operation ``from_crs`` chose is kept
    as its PROJ pipeline instead (re-created in about 0.2 ms), after checking
    that both give the same coordinates in the CRS's area of use; otherwise
    the ``from_crs`` transformers are returned. The choice is made once per
    CRS (a new sites table after an edit gets its transformers in 0.2 ms).
    """
    pipes = _lonlat_pipelines(crs.to_wkt())
    if pipes is None:
        return (pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True),
                pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True))
    return tuple(pyproj.Transformer.from_pipeline(p) for p in pipes)


@functools.lru_cache(maxsize=32)
def _lonlat_pipelines(wkt: str) -> tuple[str, str] | None:
    """The PROJ pipelines of ``from_crs`` to and from lon/lat for the CRS ``wkt``, or None when they differ."""
    crs = pyproj.CRS.from_wkt(wkt)
    to_ll = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    from_ll = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    try:
        p_to, p_from = (pyproj.Transformer.from_pipeline(t.definition) for t in (to_ll, from_ll))
        aou = crs.area_of_use
        lon, lat = ((aou.west + aou.east) / 2, (aou.south + aou.north) / 2) if aou is not None else (0.0, 0.0)
        lon = np.array([lon, lon + 0.01, lon - 0.01])
        lat = np.array([lat, lat + 0.01, lat - 0.01])
        x, y = from_ll.transform(lon, lat)
        same = (np.allclose(p_from.transform(lon, lat), (x, y), rtol=0, atol=1e-6)
                and np.allclose(p_to.transform(x, y), to_ll.transform(x, y), rtol=0, atol=1e-9)
                and np.isfinite(x).all())
    except (pyproj.exceptions.ProjError, RuntimeError, ValueError):
        same = False
    return (to_ll.definition, from_ll.definition) if same else None


def transform_bounds(tr: pyproj.Transformer, x0: float, y0: float, x1: float, y1: float, *,
                     densify_pts: int = 21) -> tuple[float, float, float, float]:
    """The box ``(x0, y0, x1, y1)`` through ``tr``, edges densified (works for pipeline transformers too).

    Not for boxes across the antimeridian or a pole (a city's layers never are).
    """
    t = np.linspace(0.0, 1.0, densify_pts + 2)
    xs = np.r_[x0 + (x1 - x0) * t, np.full(t.size, x1), x1 - (x1 - x0) * t, np.full(t.size, x0)]
    ys = np.r_[np.full(t.size, y0), y0 + (y1 - y0) * t, np.full(t.size, y1), y1 - (y1 - y0) * t]
    u, v = tr.transform(xs, ys)
    u, v = np.asarray(u), np.asarray(v)
    return float(u.min()), float(v.min()), float(u.max()), float(v.max())


@dataclass(frozen=True)
class View:
    """What one map render sends for a layer.

    ``mode`` is ``"features"`` (the features in view) or ``"grid"`` (aggregated cells);
    ``n_in_view`` counts features intersecting the view, ``truncated`` tells
    whether the cap dropped some.
    """

    mode: str
    gdf: gpd.GeoDataFrame
    n_in_view: int
    truncated: bool = False
    cell_m: float | None = None


def _round_coords(geoms: np.ndarray, decimals: int) -> np.ndarray:
    coords = shapely.get_coordinates(geoms)
    return shapely.set_coordinates(geoms.copy(), np.round(coords, decimals))


def _decimals_for(zoom: float) -> int:
    """Decimal places of degrees that resolve a quarter pixel at ``zoom`` (5 at 15, 6 at 18+)."""
    deg_per_px = 360.0 / (256 * 2.0**zoom)
    return int(min(7, max(3, math.ceil(-math.log10(deg_per_px / 4)))))


def simplify_for_zoom(geoms, zoom: float, lat: float, *, pixels: float = 0.5) -> np.ndarray:
    """Simplify projected geometries to ``pixels`` screen pixels at ``zoom`` (topology kept per feature)."""
    tol = pixel_size_m(zoom, lat) * pixels
    return shapely.simplify(np.asarray(geoms), tol, preserve_topology=True)


def _to_lonlat(index: LayerIndex, geoms: np.ndarray, zoom: float, gcj02: bool) -> np.ndarray:
    out = shapely.transform(geoms, lambda c: np.column_stack(index._to_ll.transform(c[:, 0], c[:, 1])))
    if gcj02:
        out = wgs84_geoms_to_gcj02(out)
    return _round_coords(out, _decimals_for(zoom))


def viewport_features(index: LayerIndex, bounds_ll, zoom: float, *, columns: list[str] | tuple = (),
                      max_features: int = 4000, gcj02: bool = False, pos: np.ndarray | None = None) -> View:
    """The features of a layer inside a lon/lat view, simplified and rounded for ``zoom``.

    Parameters
    ----------
    index : LayerIndex
        The prepared layer.
    bounds_ll : tuple
        ``(west, south, east, north)`` in WGS84.
    zoom : float
        Leaflet zoom level.
    columns : sequence of str
        Attribute columns to keep (the id column is always kept, and becomes the index).
    max_features : int
        Cap; when more features are in view the largest are kept.
    gcj02 : bool
        Shift the output to GCJ-02 (for AMap-like basemaps).
    pos : ndarray, optional
        Positions already selected (e.g. after attribute filters); default: all in view.

    Returns
    -------
    View
        ``mode="features"``; ``gdf`` in EPSG:4326 indexed by the id column.
    """
    hit = index.query(bounds_ll)
    if pos is not None:
        hit = np.intersect1d(hit, pos, assume_unique=False)
    n = len(hit)
    truncated = n > max_features
    if truncated:
        keep = np.argsort(-index.area[hit], kind="stable")[:max_features]
        hit = np.sort(hit[keep])
    lat = (bounds_ll[1] + bounds_ll[3]) / 2
    geoms = simplify_for_zoom(index.gdf.geometry.array[hit], zoom, lat)
    geoms = _to_lonlat(index, geoms, zoom, gcj02)
    cols = [c for c in dict.fromkeys([index.id_col, *columns]) if c in index.gdf.columns]
    attrs = index.gdf.iloc[hit][cols].reset_index(drop=True)
    out = gpd.GeoDataFrame(attrs, geometry=geoms, crs="EPSG:4326")
    out.index = out[index.id_col].astype(str).to_numpy()
    return View("features", out, n, truncated)


def grid_cell_m(zoom: float, lat: float, cell_px: float = 40.0) -> float:
    """Grid cell size (m) for ``zoom``: about ``cell_px`` pixels, rounded to a power of two metres."""
    return float(2.0 ** round(math.log2(pixel_size_m(zoom, lat) * cell_px)))


def aggregate_grid(index: LayerIndex, bounds_ll, zoom: float, *, cell_px: float = 40.0,
                   gcj02: bool = False, pos: np.ndarray | None = None) -> View:
    """Square-grid aggregation of the features whose representative point is in view.

    Cells are ``grid_cell_m(zoom)`` wide and aligned on multiples of that size
    in the layer's CRS, so panning does not move them. Each cell carries
    ``n`` (features), ``land_ha``, ``flagged_ha`` and ``share`` (flagged land /
    land, 0-1).
    """
    lat = (bounds_ll[1] + bounds_ll[3]) / 2
    s = grid_cell_m(zoom, lat, cell_px)
    minx, miny, maxx, maxy = index.to_crs_bounds(bounds_ll)
    minx, miny = math.floor(minx / s) * s, math.floor(miny / s) * s
    cx, cy = index.cx, index.cy
    inview = (cx >= minx) & (cx <= maxx + s) & (cy >= miny) & (cy <= maxy + s)
    if pos is not None:
        sel = np.zeros(len(cx), dtype=bool)
        sel[pos] = True
        inview &= sel
    sel_pos = np.flatnonzero(inview)
    ix = np.floor(cx[sel_pos] / s).astype(np.int64)
    iy = np.floor(cy[sel_pos] / s).astype(np.int64)
    key = (ix - ix.min(initial=0)) * (1 << 31) + (iy - iy.min(initial=0)) if len(sel_pos) else ix
    uniq, first, inv = np.unique(key, return_index=True, return_inverse=True)
    area = index.area[sel_pos]
    land = np.bincount(inv, weights=area, minlength=len(uniq))
    flagged = np.bincount(inv, weights=np.where(index.flagged[sel_pos], area, 0.0), minlength=len(uniq))
    n = np.bincount(inv, minlength=len(uniq))
    x0, y0 = ix[first] * s, iy[first] * s
    cells = shapely.box(x0, y0, x0 + s, y0 + s)
    geoms = _to_lonlat(index, np.asarray(cells), zoom, gcj02)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(land > 0, flagged / land, 0.0)
    out = gpd.GeoDataFrame(
        {"cell_id": [f"g{a}_{b}" for a, b in zip(ix[first], iy[first], strict=True)],
         "n": n.astype(int), "land_ha": np.round(land / 1e4, 2),
         "flagged_ha": np.round(flagged / 1e4, 2), "share": np.round(share, 3)},
        geometry=geoms, crs="EPSG:4326")
    out.index = out["cell_id"].to_numpy()
    return View("grid", out, int(len(sel_pos)), False, s)


def view_layer(index: LayerIndex, bounds_ll, zoom: float, *, columns: list[str] | tuple = (),
               max_features: int = 4000, detail_zoom: int = 14, always_detail_zoom: int = 17,
               gcj02: bool = False, pos: np.ndarray | None = None, cell_px: float = 40.0) -> View:
    """Level of detail for a parcel layer: features when few enough are in view, else a grid.

    Features are sent when ``zoom >= detail_zoom`` and at most ``max_features``
    intersect the view, or always at ``zoom >= always_detail_zoom`` (capped).
    Otherwise cells from :func:`aggregate_grid`.
    """
    if zoom >= detail_zoom:
        n = len(index.query(bounds_ll)) if pos is None else None
        if zoom >= always_detail_zoom or (n is not None and n <= max_features) or (
                n is None and len(np.intersect1d(index.query(bounds_ll), pos)) <= max_features):
            return viewport_features(index, bounds_ll, zoom, columns=columns, max_features=max_features,
                                     gcj02=gcj02, pos=pos)
    return aggregate_grid(index, bounds_ll, zoom, cell_px=cell_px, gcj02=gcj02, pos=pos)


# ---------------------------------------------------------------------------
# colours
# ---------------------------------------------------------------------------
def class_breaks(values, k: int = 5, method: str = "quantile") -> np.ndarray:
    """Upper class breaks (``k`` values, last = max) of the finite values.

    ``method`` is ``"quantile"`` (equal counts) or ``"equal"`` (equal intervals).
    Duplicate breaks (many equal values) are merged, so fewer classes may result.
    """
    v = np.asarray(pd.to_numeric(pd.Series(values), errors="coerce"), dtype=float)
    v = v[np.isfinite(v)]
    if not len(v):
        return np.array([])
    if method == "quantile":
        br = np.quantile(v, np.linspace(0, 1, k + 1)[1:])
    elif method == "equal":
        br = np.linspace(v.min(), v.max(), k + 1)[1:]
    else:
        msg = f"unknown class-break method {method!r}; use 'quantile' or 'equal'"
        raise DataError(msg)
    return np.unique(br)


def colors_for(values, breaks: np.ndarray, palette=SEQ_PALETTE, missing: str = "#bdbdbd") -> np.ndarray:
    """Colour of each value: class ``i`` holds values ``<= breaks[i]``; missing gets ``missing``."""
    v = np.asarray(pd.to_numeric(pd.Series(values), errors="coerce"), dtype=float)
    pal = np.asarray(palette, dtype=object)
    if len(breaks) == 0:
        return np.full(len(v), missing, dtype=object)
    # spread the palette over the classes actually present
    pick = np.round(np.linspace(0, len(pal) - 1, len(breaks))).astype(int)
    cls = np.clip(np.searchsorted(breaks, v, side="left"), 0, len(breaks) - 1)
    out = pal[pick][cls]
    out[~np.isfinite(v)] = missing
    return out


def legend_for_breaks(breaks: np.ndarray, palette=SEQ_PALETTE, fmt: str = "{:,.2f}") -> list[tuple[str, str]]:
    """``[(colour, label), ...]`` for the classes of :func:`colors_for`."""
    pal = np.asarray(palette, dtype=object)
    pick = np.round(np.linspace(0, len(pal) - 1, len(breaks))).astype(int) if len(breaks) else []
    out, lo = [], None
    for b, p in zip(breaks, pick, strict=True):
        out.append((str(pal[p]), f"≤ {fmt.format(b)}" if lo is None else f"{fmt.format(lo)} – {fmt.format(b)}"))
        lo = b
    return out


def three_low_class(gdf: pd.DataFrame) -> pd.Series:
    """Display class of each parcel: three_low / partial (1 criterion low) / ok / unknown.

    Uses the classification columns (``three_low``, ``n_low``, ``n_unknown``);
    without them every parcel is ``unknown``.
    """
    out = pd.Series("unknown", index=gdf.index, dtype=object)
    if "three_low" not in gdf.columns:
        return out
    tl = gdf["three_low"].fillna(False).astype(bool)
    n_low = pd.to_numeric(gdf.get("n_low", 0), errors="coerce").fillna(0)
    n_unk = pd.to_numeric(gdf.get("n_unknown", 0), errors="coerce").fillna(0)
    out[:] = "ok"
    out[n_low > 0] = "partial"
    out[(n_low == 0) & (n_unk > 0)] = "unknown"
    out[tl] = "three_low"
    return out


# ---------------------------------------------------------------------------
# folium
# ---------------------------------------------------------------------------
#: Basemap kinds offered by :func:`add_basemap`.
BASEMAPS = ("blank", "osm", "tianditu", "amap", "custom")


def add_basemap(m: folium.Map, kind: str = "blank", *, tianditu_key: str | None = None,
                custom_url: str | None = None, attribution: str = "") -> bool:
    """Add a tile layer to ``m``; return whether the data must be shifted to GCJ-02.

    ``blank`` adds nothing (works offline); ``osm`` OpenStreetMap; ``tianditu``
    Tianditu vector + labels (needs a key, ``tk``); ``amap`` AMap tiles (GCJ-02,
    so the caller shifts the data); ``custom`` a tile URL template such as an
    intranet tile server (``http://tiles.local/{z}/{x}/{y}.png``).
    """
    import folium
    import folium.plugins

    if kind == "blank":
        return False
    if kind == "osm":
        folium.TileLayer("https://tile.openstreetmap.org/{z}/{x}/{y}.png", name="OpenStreetMap",
                         attr="© OpenStreetMap contributors", max_zoom=19).add_to(m)
        return False
    if kind == "tianditu":
        if not tianditu_key:
            msg = "the Tianditu basemap needs a key: set PLANNER_TIANDITU_KEY or [tianditu] key in .streamlit/secrets.toml"
            raise DataError(msg)
        for layer, name in (("vec", "天地图"), ("cva", "天地图注记")):
            url = (f"https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
                   f"&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={{z}}&TILEROW={{y}}"
                   f"&TILECOL={{x}}&tk={tianditu_key}")
            folium.TileLayer(url, name=name, attr="© 天地图 Tianditu", subdomains="01234567",
                             overlay=layer == "cva", max_zoom=18).add_to(m)
        return False
    if kind == "amap":
        folium.TileLayer("https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}",
                         name="高德 AMap (GCJ-02)", attr="© AMap", subdomains="1234", max_zoom=18).add_to(m)
        return True
    if kind == "custom":
        if not custom_url or "{z}" not in custom_url:
            msg = "a custom basemap needs a tile URL template with {z}, {x} and {y}, e.g. http://tiles.intranet/{z}/{x}/{y}.png"
            raise DataError(msg)
        folium.TileLayer(custom_url, name="custom", attr=attribution or "custom tiles").add_to(m)
        return False
    msg = f"unknown basemap {kind!r}; one of {BASEMAPS}"
    raise DataError(msg)


def local_assets(base: str = DEFAULT_ASSET_BASE) -> dict[str, list[tuple[str, str]]]:
    """Local ``default_js``/``default_css`` lists for the map and the Draw plugin."""
    return {
        "map_js": [("leaflet", f"{base}/leaflet.js")],
        "map_css": [("leaflet_css", f"{base}/leaflet.css")],
        "draw_js": [("leaflet_draw_js", f"{base}/draw/leaflet.draw.js")],
        "draw_css": [("leaflet_draw_css", f"{base}/draw/leaflet.draw.css")],
    }


def use_local_assets(m: folium.Map, base: str = DEFAULT_ASSET_BASE) -> folium.Map:
    """Point the map's Leaflet (and any Draw plugin) at ``base``; drop jQuery/Bootstrap/FontAwesome.

    Sets instance attributes, so folium's class defaults (CDN links) are untouched
    for other users. Call after adding plugins.
    """
    import folium
    import folium.plugins

    a = local_assets(base)
    m.default_js = a["map_js"]
    m.default_css = a["map_css"]
    stack = list(m._children.values())
    while stack:
        el = stack.pop()
        stack.extend(getattr(el, "_children", {}).values())
        if isinstance(el, folium.plugins.Draw):
            el.default_js = a["draw_js"]
            el.default_css = a["draw_css"]
        elif getattr(el, "default_js", None) or getattr(el, "default_css", None):
            msg = f"{type(el).__name__} loads scripts from a CDN; it is not available offline"
            raise DataError(msg)
    return m


def wheel_after_click(m: folium.Map, hint: str) -> folium.Map:
    """Make the mouse wheel zoom ``m`` only once it has been clicked, until the pointer leaves it.

    A map in a page that scrolls (the comparison's map of sites, the sites page's map beside its table, the data
    manager's map of changes) took every wheel turn over it: reading down the page, the map zoomed out to the
    world and the page stopped scrolling. Until a click, the wheel scrolls the page and ``hint`` (e.g. "click the
    map to zoom with the wheel") shows in the map's corner; the + and - buttons, a double click and a pinch zoom
    as before.
    """
    from branca.element import MacroElement
    from jinja2 import Template

    class _WheelAfterClick(MacroElement):
        _template = Template("""
            {% macro script(this, kwargs) %}
            (function (m) {
              if (L.Browser.mobile) return;  // a phone has no wheel: fingers pan and pinch as before
              var hint = L.control({position: 'bottomright'});
              hint.onAdd = function () {
                var d = L.DomUtil.create('div', 'planner-wheel-hint');
                d.style.cssText = 'background:rgba(255,255,255,.85);padding:1px 6px;font:11px sans-serif;color:#444';
                d.textContent = {{ this.hint|tojson }};
                return d;
              };
              function on() { m.scrollWheelZoom.enable(); if (hint._map) hint.remove(); }
              function off() { m.scrollWheelZoom.disable(); if (!hint._map) hint.addTo(m); }
              off();
              m.on('mousedown', on);  // a click, or the start of a drag: the user is working the map
              // the pointer leaves the map (the DOM's event: a layer that handles its own "mouseout" keeps Leaflet's)
              L.DomEvent.on(m.getContainer(), 'mouseleave', off);
            })({{ this._parent.get_name() }});
            {% endmacro %}
        """)

        def __init__(self, text: str) -> None:
            super().__init__()
            self._name = "WheelAfterClick"
            self.hint = text

    m.add_child(_WheelAfterClick(hint))
    return m


def make_map(bounds_ll: tuple[float, float, float, float], *, basemap: str = "blank",
             tianditu_key: str | None = None, custom_url: str | None = None,
             asset_base: str = DEFAULT_ASSET_BASE, zoom: int | None = None,
             center: tuple[float, float] | None = None, draw: bool = False,
             wheel_hint: str | None = None) -> tuple[folium.Map, bool]:
    """An empty map for a lon/lat extent, with a basemap and local assets.

    ``wheel_hint``: the map sits in a page that scrolls: the wheel zooms it only after a click
    (:func:`wheel_after_click`, saying ``wheel_hint``); None: the wheel always zooms it (a page that is the map).
    Returns ``(map, gcj02)``; ``gcj02`` tells the caller to shift its data.
    """
    import folium
    import folium.plugins

    w, s, e, n = bounds_ll
    if center is None:
        center = ((s + n) / 2, (w + e) / 2)
    z = zoom if zoom is not None else zoom_for_bounds(bounds_ll)
    m = folium.Map(location=list(center), zoom_start=z, tiles=None, control_scale=True,
                   prefer_canvas=False, max_zoom=20)
    gcj = add_basemap(m, basemap, tianditu_key=tianditu_key, custom_url=custom_url)
    if draw:
        folium.plugins.Draw(export=False, draw_options={"polyline": False, "circle": False,
                                                        "circlemarker": False, "marker": False,
                                                        "rectangle": True, "polygon": True},
                            edit_options={"edit": False}).add_to(m)
    use_local_assets(m, asset_base)
    if wheel_hint:
        wheel_after_click(m, wheel_hint)
    return m, gcj


def geojson_layer(gdf: gpd.GeoDataFrame, name: str, *, color_col: str = "_c", tooltip: dict | None = None,
                  weight: float = 0.6, line_color: str = "#555555", fill_opacity: float = 0.65,
                  highlight: bool = True, show: bool = True) -> folium.FeatureGroup:
    """A FeatureGroup with one GeoJson layer, styled by the per-feature colour column.

    ``tooltip`` maps property names to labels. The GeoDataFrame index becomes
    each feature's ``id`` and the id column travels in ``properties``, so a
    click returns a stable id (streamlit-folium ``last_active_drawing``).
    """
    import folium
    import folium.plugins

    fg = folium.FeatureGroup(name=name, show=show)
    if not len(gdf):
        return fg
    keep = [c for c in gdf.columns if c != gdf.geometry.name]
    props = gdf[keep].copy()
    for c in props.columns:  # JSON-safe: numbers rounded, missing as None
        if pd.api.types.is_float_dtype(props[c]):
            props[c] = props[c].round(2)
        props[c] = props[c].astype(object).where(props[c].notna(), None)
    geo = (json.loads(t) for t in shapely.to_geojson(np.asarray(gdf.geometry.array)))
    data = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": str(i), "properties": p, "geometry": g}
        for i, p, g in zip(gdf.index, props.to_dict("records"), geo, strict=True)]}
    is_line = gdf.geom_type.isin(["LineString", "MultiLineString"]).all()

    def style(f: dict) -> dict:
        c = f["properties"].get(color_col) or "#888888"
        if is_line:
            return {"color": c, "weight": 3, "opacity": 0.9}
        if fill_opacity <= 0:  # outline only: clicks inside reach the layers below
            return {"fill": False, "color": c, "weight": weight, "opacity": 0.95}
        return {"fillColor": c, "color": line_color, "weight": weight, "fillOpacity": fill_opacity}

    tip = None
    if tooltip:
        fields = [_html_field(data["features"], c) for c in tooltip]
        tip = folium.GeoJsonTooltip(fields=fields, aliases=[html.escape(str(a)) for a in tooltip.values()],
                                    sticky=True)
    folium.GeoJson(data, name=name, style_function=style, tooltip=tip,
                   highlight_function=(lambda f: {"weight": 2.5, "color": "#000000"}) if highlight else None,
                   ).add_to(fg)
    return fg


def _html_text(v):
    """A property value as folium's tooltip/popup puts it into ``innerHTML``: text escaped and without invisible
    characters (:func:`~planner.i18n.visible_text`: a right-to-left override turned an id around), numbers as
    they are."""
    if v is None or isinstance(v, bool | int | float | np.bool_ | np.integer | np.floating):
        return v
    return html.escape(visible_text(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)))


def _html_field(features: list[dict], col: str) -> str:
    """The property a tooltip or popup should show for ``col``: escaped HTML text, never markup from the data.

    folium's ``GeoJsonTooltip`` and ``GeoJsonPopup`` write property values
    into ``innerHTML``, so an attribute such as ``<img src=x onerror=...>``
    would run as script. Where escaping changes any value, the escaped text
    goes to a ``_h_<col>`` property for display and ``col`` keeps the raw value
    (a click returns the raw id).
    """
    esc = [_html_text(f["properties"].get(col)) for f in features]
    if all(e == f["properties"].get(col) for e, f in zip(esc, features, strict=True)):
        return col
    key = f"_h_{col}"
    for e, f in zip(esc, features, strict=True):
        f["properties"][key] = e
    return key


def payload_bytes(m: folium.Map) -> int:
    """Bytes of the standalone HTML of a map (what a render sends to the browser)."""
    return len(m.get_root().render().encode("utf-8"))
