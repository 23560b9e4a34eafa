"""planner.maptiles and planner.ui.tiles: the app's own map tiles, without a browser.

The browser journeys (tests/e2e) show the tiles drawn; these tests pin what a
tile holds on hand-checked grids: the slippy-map arithmetic, which parcels a
tile sends and with which properties, the grid cells of low zooms, the GCJ-02
shift, the size of real tiles, the HMAC token, the HTTP route with hostile
input, and the bounded server caches.

A parcel belongs to exactly one tile, the one holding its representative
point, and is sent whole (not clipped): the browser adds each tile as its own
Leaflet layer and does not de-duplicate, so a parcel sent by two tiles would be
drawn twice (a darker fill, two tooltips, double counts in the caption).
"""

from __future__ import annotations

import gzip
import json
import math
import threading
import time
from collections import OrderedDict

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

from planner import maps, maptiles
from planner.crs import wgs84_to_gcj02
from planner.ui import tiles
from tests.conftest import ROOT
from tests.e2e._workspace import grid_parcels

UTM = "EPSG:32650"  # Jinjiang lies in UTM zone 50N (114-120 E)
TO_UTM = pyproj.Transformer.from_crs("EPSG:4326", UTM, always_xy=True)
HOSTILE_HTML = "<img src=x onerror=alert(1)>"
HOSTILE_CELL = '=HYPERLINK("http://evil.example/","click")'


# ---------------------------------------------------------------------------------------------------- helpers
def slippy(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The standard slippy-map tile of a point (OpenStreetMap wiki formula)."""
    n = 2**z
    r = math.radians(lat)
    return int((lon + 180.0) / 360.0 * n), int((1.0 - math.asinh(math.tan(r)) / math.pi) / 2.0 * n)


def rep_lonlat(gdf: gpd.GeoDataFrame) -> gpd.GeoSeries:
    """Representative points of the parcels in EPSG:4326, indexed by parcel id."""
    return gpd.GeoSeries(gdf.geometry.representative_point().to_numpy(), crs=gdf.crs,
                         index=gdf["parcel_id"].to_numpy()).to_crs("EPSG:4326")


def ids_with_point_in(points: gpd.GeoSeries, z: int, x: int, y: int) -> set[str]:
    """Ids whose point lies in tile z/x/y (west and north edges inside), by a geopandas ``cx`` selection."""
    w, s, e, n = maptiles.tile_lonlat_bounds(z, x, y)
    sel = points.cx[w:e, s:n]
    sel = sel[(sel.x < e) & (sel.y > s)]  # cx is inclusive on every side; a tile owns its west and north edges
    return set(sel.index)


def utm_box_ll(w: float, s: float, e: float, n: float):
    """A box given in lon/lat, as a polygon in UTM 50N (its edges stay within a centimetre of the lon/lat box)."""
    (x0, x1), (y0, y1) = TO_UTM.transform([w, e], [s, n])
    return shapely.box(x0, y0, x1, y1)


def feature_ids(t: dict) -> list[str]:
    return [f["id"] for f in t["features"]]


def strict_json(data: bytes):
    """Parse a tile as a browser would (NaN/Infinity are not JSON)."""
    def no_constant(c):
        raise AssertionError(f"not valid JSON: {c}")

    return json.loads(data.decode("utf-8"), parse_constant=no_constant)


@pytest.fixture
def grid() -> gpd.GeoDataFrame:
    """24 x 24 parcels of 60 m (EPSG:4549, near 120 E 24.8 N), ~1.4 km across: about 3 x 3 tiles of zoom 16."""
    g = grid_parcels()
    g["three_low"] = g["parcel_id"].str.endswith(("c0", "c1", "c2"))  # 3 of 24 columns flagged
    return g


@pytest.fixture
def grid_index(grid) -> maps.LayerIndex:
    return maps.LayerIndex.build(grid, flag_col="three_low")


@pytest.fixture
def fresh_tiles(monkeypatch):
    """Empty spec and tile tables for the test (restored after), the route not marked as mounted."""
    monkeypatch.setattr(tiles, "_SPECS", OrderedDict())
    monkeypatch.setattr(tiles, "_TILES", OrderedDict())
    monkeypatch.setattr(tiles, "_tile_bytes", 0)
    monkeypatch.setattr(tiles, "_INFLIGHT", {})
    monkeypatch.setattr(tiles, "ENABLED", False)  # routes() sets it; monkeypatch puts it back
    return tiles


def grid_tiles(index: maps.LayerIndex, z: int) -> set[tuple[int, int, int]]:
    return {maptiles.tile_of(index, i, z) for i in range(len(index))}


# ---------------------------------------------------------------------------------------------------- tile math
def test_tile_math_agrees_with_the_slippy_map_scheme_on_a_jinjiang_point():
    lon, lat, z = 118.58, 24.78, 14
    x, y = slippy(lon, lat, z)
    assert (x, y) == (13588, 7027)  # by hand: 298.58/360*2^14 = 13588.7; (1 - asinh(tan 24.78°)/pi)/2*2^14 = 7027.3
    w, s, e, n = maptiles.tile_lonlat_bounds(z, x, y)
    assert w <= lon < e and s < lat <= n
    assert w == pytest.approx(x / 2**z * 360 - 180) and e - w == pytest.approx(360 / 2**z)
    assert maptiles.tiles_for_view((lon, lat, lon, lat), z) == [(z, x, y)]
    # a view 3 tiles wide and 2 high around it
    tw, th = e - w, n - s
    view = (w + 0.5 * tw, s - 0.5 * th, w + 2.5 * tw, n - 0.1 * th)
    assert maptiles.tiles_for_view(view, z) == [(z, x + i, y + j) for i in range(3) for j in range(2)]
    # tile_of agrees for a parcel around the point
    g = gpd.GeoDataFrame({"parcel_id": ["p"]}, geometry=[utm_box_ll(lon - 1e-4, lat - 1e-4, lon + 1e-4, lat + 1e-4)],
                         crs=UTM)
    assert maptiles.tile_of(maps.LayerIndex.build(g), 0, z) == (z, x, y)
    # the neighbours share edges: tile x+1 starts where x ends, tile y+1 (south) ends where y starts
    assert maptiles.tile_lonlat_bounds(z, x + 1, y)[0] == pytest.approx(e)
    assert maptiles.tile_lonlat_bounds(z, x, y + 1)[3] == pytest.approx(s)


def test_tiles_for_view_stays_inside_the_world():
    assert maptiles.tiles_for_view((-180.0, -85.0511, 180.0, 85.0511), 1) == [
        (1, 0, 0), (1, 0, 1), (1, 1, 0), (1, 1, 1)]
    # a view past the poles or the antimeridian (Leaflet allows both when zoomed out) gives real tiles only
    out = maptiles.tiles_for_view((-200.0, -89.9, 200.0, 89.9), 2)
    assert len(out) == 16 and all(0 <= x < 4 and 0 <= y < 4 for _, x, y in out)


@pytest.mark.parametrize(("display", "data"), [(0, 6), (5.99, 6), (6, 6), (13.7, 13), (16, 16), (16.5, 16), (19, 16)])
def test_data_zoom_is_the_floor_clamped_to_6_16(display, data):
    assert maptiles.data_zoom(display) == data


def test_data_zoom_custom_limits():
    assert maptiles.data_zoom(20, max_data_zoom=18) == 18
    assert maptiles.data_zoom(3.2, min_data_zoom=2) == 3


# ---------------------------------------------------------------------------------------------------- features
def test_street_tile_holds_the_parcels_whose_point_it_holds_each_once_and_whole(grid, grid_index):
    z = 16
    pts = rep_lonlat(grid)
    covered = grid_tiles(grid_index, z)
    assert len(covered) >= 4  # the grid spans several tiles, with parcels across their edges
    seen: list[str] = []
    straddlers = 0
    for _, x, y in sorted(covered):
        t = maptiles.tile_features(grid_index, z, x, y)
        assert t["mode"] == "features" and not t["truncated"]
        ids = feature_ids(t)
        assert set(ids) == ids_with_point_in(pts, z, x, y)
        assert t["n"] == len(ids) == len(set(ids))
        seen += ids
        w, s, e, n = maptiles.tile_lonlat_bounds(z, x, y)
        box = shapely.box(w, s, e, n)
        # every parcel intersecting the tile but not sent with it is sent by the tile holding its point
        inter = set(grid.to_crs("EPSG:4326").set_index("parcel_id").cx[w:e, s:n].index)
        for pid in inter - set(ids):
            owner = maptiles.tile_of(grid_index, int(np.flatnonzero(grid["parcel_id"] == pid)[0]), z)
            assert owner != (z, x, y)
        # features are whole: a parcel across the tile edge keeps its part outside the tile
        for f in t["features"]:
            geom = shapely.geometry.shape(f["geometry"])
            if not box.contains(geom):
                straddlers += 1
                assert np.allclose(geom.bounds, bounds_ll(grid, f["id"]), rtol=0, atol=1e-6)  # 6 places at z16
    assert straddlers > 0
    assert sorted(seen) == sorted(grid["parcel_id"])  # the tiles of the layer send every parcel exactly once


def bounds_ll(gdf: gpd.GeoDataFrame, pid: str) -> tuple[float, float, float, float]:
    return tuple(gdf[gdf["parcel_id"] == pid].to_crs("EPSG:4326").total_bounds)


def edge_layer() -> tuple[gpd.GeoDataFrame, tuple[int, int, int]]:
    """Four parcels around the east edge of a zoom-16 tile in Jinjiang (UTM 50N)."""
    z = 16
    x, y = slippy(118.58, 24.78, z)
    w, s, e, n = maptiles.tile_lonlat_bounds(z, x, y)
    mid = (s + n) / 2
    d = 2e-4  # ~20 m
    geoms = [
        utm_box_ll(e - 5 * d, mid, e - 3 * d, mid + d),  # inside
        utm_box_ll(e - 3 * d, mid - 2 * d, e + d, mid - d),  # across the edge, mostly west: point west
        utm_box_ll(e - d, mid + 2 * d, e + 3 * d, mid + 3 * d),  # across the edge, mostly east: point east
        utm_box_ll(e + 2 * d, mid - 5 * d, e + 4 * d, mid - 4 * d),  # in the east neighbour
    ]
    g = gpd.GeoDataFrame({"parcel_id": ["in", "west_half", "east_half", "out"],
                          "land_area_m2": shapely.area(np.asarray(geoms))}, geometry=geoms, crs=UTM)
    return g, (z, x, y)


def test_a_parcel_across_a_tile_edge_is_sent_whole_by_exactly_one_neighbour():
    g, (z, x, y) = edge_layer()
    idx = maps.LayerIndex.build(g)
    here = maptiles.tile_features(idx, z, x, y)
    east = maptiles.tile_features(idx, z, x + 1, y)
    assert feature_ids(here) == ["in", "west_half"]
    assert feature_ids(east) == ["east_half", "out"]
    e = maptiles.tile_lonlat_bounds(z, x, y)[2]
    crossing = {f["id"]: shapely.geometry.shape(f["geometry"]) for f in here["features"] + east["features"]}
    for pid in ("west_half", "east_half"):  # not clipped at the edge: drawn whole from one tile
        b = crossing[pid].bounds
        assert b[0] < e < b[2]
    # the tiles above and below hold none of them
    assert maptiles.tile_features(idx, z, x, y - 1)["n"] == maptiles.tile_features(idx, z, x, y + 1)["n"] == 0


def small_layer() -> gpd.GeoDataFrame:
    """Three parcels in one zoom-16 tile with hand-picked attributes (hostile text included)."""
    z = 16
    x, y = slippy(118.58, 24.78, z)
    w, s, e, n = maptiles.tile_lonlat_bounds(z, x, y)
    c_lon, c_lat = (w + e) / 2, (s + n) / 2
    d = 2e-4
    geoms = [utm_box_ll(c_lon + i * 2 * d, c_lat, c_lon + i * 2 * d + d, c_lat + d) for i in range(3)]
    return gpd.GeoDataFrame({
        "parcel_id": ["007", "A-1", "</script><b>x</b>"],
        "land_use": ["industrial", "warehouse", "industrial"],
        "floor_area_m2": [1234.5678, np.nan, 10.0],
        "far": [0.4249, np.inf, 1.005],
        "employees": np.array([3, 0, 12], dtype=np.int64),
        "three_low": [True, False, True],
        "owner": [HOSTILE_HTML, HOSTILE_CELL, "晋江市某某鞋业有限公司"],
        "tax_cny": [987654.0, 1.0, 2.0],
    }, geometry=geoms, crs=UTM)


def test_tile_sends_only_the_requested_columns_with_raw_ids_and_rounded_numbers():
    g = small_layer()
    idx = maps.LayerIndex.build(g, flag_col="three_low")
    z, x, y = maptiles.tile_of(idx, 0, 16)
    seen_rows = []

    def color(rows):
        seen_rows.append(rows.copy())
        return np.where(rows["three_low"], "#d7191c", "#1a9641")

    def fmt(col, values):  # a formatter that would mangle an id if it were applied to ids
        return values.map(lambda v: f"<{v}>") if col == "land_use" else values

    t = maptiles.tile_features(idx, z, x, y, columns=("land_use", "floor_area_m2", "far", "employees", "three_low",
                                                      "tax_cny", "no_such_column"),
                               send=("land_use", "floor_area_m2", "far", "employees"), color=color, fmt=fmt)
    assert feature_ids(t) == ["007", "A-1", "</script><b>x</b>"]
    props = {f["id"]: f["properties"] for f in t["features"]}
    assert props["007"] == {"parcel_id": "007", "land_use": "<industrial>", "floor_area_m2": 1234.57, "far": 0.42,
                            "employees": 3, "_c": "#d7191c"}
    assert props["A-1"]["floor_area_m2"] is None and props["A-1"]["far"] is None  # NaN and inf are not JSON
    assert props["A-1"]["_c"] == "#1a9641"
    assert props["</script><b>x</b>"]["parcel_id"] == "</script><b>x</b>"
    # the colour saw the columns read (tax_cny included), the browser gets only the ones sent
    assert {"three_low", "tax_cny"} <= set(seen_rows[0].columns)
    body = maptiles.encode(t)
    assert b"tax_cny" not in body and b"987654" not in body and b"three_low" not in body
    assert strict_json(body) == json.loads(json.dumps(t))


def test_coordinates_are_rounded_to_a_quarter_pixel_of_the_zoom():
    g = small_layer()
    idx = maps.LayerIndex.build(g)
    z, x, y = maptiles.tile_of(idx, 0, 16)
    for dz, decimals in ((16, 6), (13, 5)):  # 360/(256*2^16)/4 = 5.4e-6 deg -> 6 places; at 13: 4.3e-5 -> 5
        t = maptiles.tile_features(idx, z, x, y, display_zoom=dz, lod=False)
        coords = shapely.get_coordinates(shapely.geometry.shape(t["features"][0]["geometry"]))
        assert np.allclose(coords, np.round(coords, decimals), rtol=0, atol=1e-12)
        assert not np.allclose(coords, np.round(coords, decimals - 1), rtol=0, atol=1e-12)


def test_keep_filter_drops_parcels(grid, grid_index):
    z = 16
    _, x, y = maptiles.tile_of(grid_index, int(np.flatnonzero(grid["parcel_id"] == "r12c12")[0]), z)
    full = maptiles.tile_features(grid_index, z, x, y)
    keep = grid["land_use"].eq("industrial").to_numpy()
    kept = maptiles.tile_features(grid_index, z, x, y, keep=keep)
    industrial = set(grid.loc[keep, "parcel_id"])
    assert set(feature_ids(kept)) == set(feature_ids(full)) & industrial
    assert 0 < kept["n"] < full["n"]
    none = maptiles.tile_features(grid_index, z, x, y, keep=np.zeros(len(grid), dtype=bool))
    assert none["n"] == 0 and none["features"] == []


def test_low_zoom_sends_grid_cells_that_add_up_to_the_tile(grid, grid_index):
    z = 11
    (_, x, y), = grid_tiles(grid_index, z)  # the 1.4 km grid falls in one zoom-11 tile (~18 km)
    t = maptiles.tile_features(grid_index, z, x, y, grid_color=lambda s: np.where(s > 0.1, "#ff0000", "#00ff00"))
    assert t["mode"] == "grid" and t["n"] == len(grid)
    cells = [f["properties"] for f in t["features"]]
    assert 1 <= len(cells) <= maptiles.CELLS**2
    assert sum(c["n"] for c in cells) == len(grid)
    land_ha = grid["land_area_m2"].sum() / 1e4
    flagged_ha = grid.loc[grid["three_low"], "land_area_m2"].sum() / 1e4
    assert sum(c["land_ha"] for c in cells) == pytest.approx(land_ha, abs=0.005 * len(cells))
    assert sum(c["flagged_ha"] for c in cells) == pytest.approx(flagged_ha, abs=0.005 * len(cells))
    for c in cells:
        assert 0 <= c["share"] <= 1
        assert c["share"] == pytest.approx(c["flagged_ha"] / c["land_ha"], abs=0.002)
        assert c["_c"] == ("#ff0000" if c["share"] > 0.1 else "#00ff00")
    # the cells lie inside the tile, ids name the tile
    w, s, e, n = maptiles.tile_lonlat_bounds(z, x, y)
    tile_box = shapely.box(w, s, e, n).buffer(1e-6)
    assert all(tile_box.contains(shapely.geometry.shape(f["geometry"])) for f in t["features"])
    assert all(f["id"].startswith(f"g{z}_{x}_{y}_") for f in t["features"])
    # the filter applies to the cells too
    keep = grid["three_low"].to_numpy()
    kept = maptiles.tile_features(grid_index, z, x, y, keep=keep)
    assert sum(f["properties"]["n"] for f in kept["features"]) == int(keep.sum())
    assert all(f["properties"]["share"] == 1.0 for f in kept["features"])


def test_dense_tiles_switch_to_grid_below_street_zoom_and_lod_false_never_does(grid, grid_index):
    z = 11
    (_, x, y), = grid_tiles(grid_index, z)  # all 576 parcels in one tile, shown at zooms 14-17
    assert maptiles.tile_features(grid_index, z, x, y, display_zoom=14)["mode"] == "features"  # 576 <= 600
    dense = maptiles.tile_features(grid_index, z, x, y, display_zoom=15, max_tile_features=100)
    assert dense["mode"] == "grid" and dense["n"] == len(grid)
    # at and above always_detail_zoom: features, the largest first when over the cap
    capped = maptiles.tile_features(grid_index, z, x, y, display_zoom=17, max_tile_features=100, cap=50)
    assert capped["mode"] == "features" and capped["truncated"] and len(capped["features"]) == 50
    assert capped["n"] == len(grid)
    lines = maptiles.tile_features(grid_index, 10, *maptiles.tile_of(grid_index, 0, 10)[1:], lod=False)
    assert lines["mode"] == "features" and len(lines["features"]) == len(grid)


def test_outlines_below_street_zoom_are_the_largest_up_to_the_coarse_cap_and_all_closer(grid, grid_index):
    """Site outlines at city scale (85,631 at 1M were 5 MB of tiles): the largest ``coarse_cap`` of a tile below the
    detail zoom, every one from it."""
    z = 11
    (_, x, y), = grid_tiles(grid_index, z)  # all 576 parcels in one tile
    coarse = maptiles.tile_features(grid_index, z, x, y, display_zoom=12, lod=False, coarse_cap=100)
    assert coarse["mode"] == "features" and coarse["truncated"] and coarse["n"] == len(grid)
    sent = [f["id"] for f in coarse["features"]]
    largest = grid.assign(a=grid.geometry.area).sort_values("a", ascending=False, kind="stable")
    assert len(sent) == 100 and set(sent) == set(largest["parcel_id"].astype(str).iloc[:100])
    close = maptiles.tile_features(grid_index, z, x, y, display_zoom=14, lod=False, coarse_cap=100)
    assert not close["truncated"] and len(close["features"]) == len(grid)
    assert len(maptiles.tile_features(grid_index, z, x, y, display_zoom=12, lod=False)["features"]) == len(grid)


def test_gcj02_tiles_shift_the_parcels_by_the_gcj02_offset():
    g, _ = edge_layer()
    idx = maps.LayerIndex.build(g)
    z = 16
    pts = rep_lonlat(g)
    glon, glat = wgs84_to_gcj02(pts.x.to_numpy(), pts.y.to_numpy())
    gcj_pts = gpd.GeoSeries(gpd.points_from_xy(glon, glat), index=pts.index, crs="EPSG:4326")
    gcj_tiles = {slippy(lo, la, z) for lo, la in zip(glon, glat, strict=True)}
    sent = {}
    for x, y in gcj_tiles:
        t = maptiles.tile_features(idx, z, x, y, gcj02=True)
        assert set(feature_ids(t)) == ids_with_point_in(gcj_pts, z, x, y)  # tiles of the GCJ-02 basemap
        sent.update({f["id"]: shapely.geometry.shape(f["geometry"]) for f in t["features"]})
    assert sorted(sent) == sorted(g["parcel_id"])
    wgs = g.to_crs("EPSG:4326").set_index("parcel_id").geometry
    geod = pyproj.Geod(ellps="WGS84")
    for pid, geom in sent.items():
        w = shapely.get_coordinates(wgs[pid])
        got = shapely.get_coordinates(geom)
        want = np.column_stack(wgs84_to_gcj02(w[:, 0], w[:, 1]))
        assert np.allclose(got, want, rtol=0, atol=2e-6)  # rounded to 6 places at zoom 16
        _, _, dist = geod.inv(w[0, 0], w[0, 1], got[0, 0], got[0, 1])
        assert 300 < dist < 1000  # the GCJ-02 offset in Jinjiang: about 560 m (450 m east, 330 m south)


# ---------------------------------------------------------------------------------------------------- size
@pytest.fixture(scope="module")
def city_index() -> maps.LayerIndex:
    from planner.io.store import GpkgStore

    g = GpkgStore(ROOT / "gis_data" / "sample_city.gpkg").read_parcels()
    assert len(g) == 20_000
    return maps.LayerIndex.build(g, id_col="parcel_id", flag_col="three_low")


def _in_tile_by_tree(index: maps.LayerIndex, z: int, x: int, y: int, keep, gcj02: bool) -> np.ndarray:
    """The tile's features as found before the points were sorted: the polygon tree, then the points."""
    w, s, e, n = maptiles.tile_lonlat_bounds(z, x, y)
    if gcj02:
        w, s, e, n = w - 0.01, max(s - 0.01, -85.0), e + 0.01, min(n + 0.01, 85.0)
    hits = index.query((w, s, e, n))
    if keep is not None:
        hits = hits[keep[hits]]
    mx, my = maptiles.merc_points(index, gcj02)
    x0, y0, x1, y1 = maptiles._merc_bounds(z, x, y)
    return hits[(mx[hits] >= x0) & (mx[hits] < x1) & (my[hits] > y0) & (my[hits] <= y1)]


@pytest.mark.parametrize("gcj02", [False, True])
def test_the_sorted_points_find_what_the_polygon_tree_found_in_every_tile_of_the_city(city_index, gcj02):
    keep = np.random.default_rng(3).random(len(city_index)) < 0.7
    seen = 0
    for z in (9, 11, 13, 15, 17):
        for t in sorted(grid_tiles(city_index, z))[:: max(1, len(grid_tiles(city_index, z)) // 40)]:
            for k in (None, keep):
                got = maptiles._in_tile(city_index, *t, k, gcj02)
                want = _in_tile_by_tree(city_index, *t, k, gcj02)
                assert np.array_equal(got, want), (t, k is None)
                seen += len(got)
    assert seen > 20_000  # the sample tiles hold parcels (not a comparison of empty sets)


def register_explorer(index: maps.LayerIndex, **kw) -> str:
    """Register the parcel layer as the explorer does (tooltip columns sent, colour from the columns read)."""
    send = ("parcel_id", "land_use", "land_area_m2", "owner")
    spec = tiles.TileSpec(index, columns=(*send, "floor_area_m2"), send=send,
                          color=lambda g: maps.colors_for(g["floor_area_m2"] / g["land_area_m2"],
                                                          np.array([0.5, 1.0, 1.5, 2.0, 3.0])),
                          lod=True, lang="zh", **kw)
    return tiles.register(tiles.spec_key("test", id(index), kw), spec)


def view_tiles(center: tuple[float, float], zoom: int, width: int = 1920, height: int = 1080) -> list[tuple]:
    """The tiles the browser asks for a ``width`` x ``height`` view at ``zoom`` (the view padded by 15 %)."""
    lon, lat = center
    deg_x = width * 1.3 * 360 / (256 * 2**zoom)
    deg_y = height * 1.3 * 360 / (256 * 2**zoom) * math.cos(math.radians(lat))
    view = (lon - deg_x / 2, lat - deg_y / 2, lon + deg_x / 2, lat + deg_y / 2)
    return maptiles.tiles_for_view(view, maptiles.data_zoom(zoom))


def test_densest_city_tile_and_a_full_street_view_stay_small(city_index, fresh_tiles):
    token = register_explorer(city_index)
    z = 16
    counts: dict[tuple, int] = {}
    for i in range(len(city_index)):
        t = maptiles.tile_of(city_index, i, z)
        counts[t] = counts.get(t, 0) + 1
    (_, x, y), n = max(counts.items(), key=lambda kv: kv[1])
    assert n >= 70  # the sample city's densest zoom-16 tile holds 79 parcels
    data = tiles.tile_bytes(token, z, x, y, z)
    t = strict_json(data)
    assert t["mode"] == "features" and len(t["features"]) == n
    assert len(data) < 64 * 1024  # measured ~28 KB
    # a 1920 x 1080 street view (zoom 16 and 18) centred on it, with the browser's 15 % pad
    w, s, e, nn = maptiles.tile_lonlat_bounds(z, x, y)
    for zoom in (16, 18):
        total = sum(len(tiles.tile_bytes(token, *tile, zoom)) for tile in view_tiles(((w + e) / 2, (s + nn) / 2), zoom))
        assert total <= 5 * 1024 * 1024


def test_every_zoom_of_the_city_view_stays_under_5_mb(city_index, fresh_tiles):
    """From the whole city (zoom 11) to the street: what the browser fetches for one 1920 x 1080 view.

    Measured: zoom 14 is the heaviest (4.87 MB in 66 tiles of up to 600 parcels, the largest 208 KB);
    15: 2.8 MB; 16: 0.85 MB; 13 and below (cells): under 0.25 MB.
    """
    token = register_explorer(city_index)
    w, s, e, n = city_index.lonlat_bounds()
    center = ((w + e) / 2, (s + n) / 2)
    sizes = {}
    for zoom in (11, 12, 13, 14, 15, 16):
        sizes[zoom] = sum(len(tiles.tile_bytes(token, *tile, zoom)) for tile in view_tiles(center, zoom))
    assert max(sizes.values()) <= 5 * 1024 * 1024, sizes


# ---------------------------------------------------------------------------------------------------- security
@pytest.fixture
def client(fresh_tiles):
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    routes = tiles.routes()
    assert tiles.ENABLED
    assert len(routes) == 1 and routes[0].path == tiles.PREFIX + "/{token:str}/{z:int}/{x:int}/{y:int}.json"
    with TestClient(Starlette(routes=routes)) as c:  # server exceptions are raised here: a traceback fails
        yield c


def small_token(**kw) -> tuple[str, tuple[int, int, int]]:
    g = small_layer()
    idx = maps.LayerIndex.build(g, flag_col="three_low")
    spec = tiles.TileSpec(idx, columns=("parcel_id", "land_use", "owner", "floor_area_m2"), **kw)
    return tiles.register(tiles.spec_key("small", kw), spec), maptiles.tile_of(idx, 0, 16)


def test_unknown_or_forged_tokens_get_nothing(fresh_tiles):
    token, (z, x, y) = small_token()
    assert tiles.tile_bytes(token, z, x, y, z) is not None
    forged = ("0" if token[0] != "0" else "1") + token[1:]
    for bad in (forged, token[:-1], token + "0", token.upper(), "", "x" * 32,
                tiles.spec_key("small", {})[:32]):  # the key itself (not its HMAC) is not a token
        assert tiles.tile_bytes(bad, z, x, y, z) is None


def test_token_is_an_hmac_under_the_process_secret(fresh_tiles, monkeypatch):
    key = tiles.spec_key("layer", 1, "a")
    spec = tiles.TileSpec(maps.LayerIndex.build(small_layer()))
    t1 = tiles.register(key, spec)
    assert t1 == tiles.register(key, spec) and len(t1) == 32 and int(t1, 16) >= 0
    assert tiles.register(tiles.spec_key("layer", 1, "b"), spec) != t1
    monkeypatch.setattr(tiles, "_SECRET", b"another server process")
    assert tiles.register(key, spec) != t1  # another process (secret) gives another token for the same layer


def test_route_serves_a_registered_tile_as_json(client):
    token, (z, x, y) = small_token()
    r = client.get(f"{tiles.PREFIX}/{token}/{z}/{x}/{y}.json?dz={z}")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.headers["x-content-type-options"] == "nosniff"
    t = strict_json(r.content)
    assert t["mode"] == "features" and len(t["features"]) == 3
    assert client.get(f"{tiles.PREFIX}/{token}/{z}/{x}/{y}.json").status_code == 200  # dz defaults to z


def test_route_sends_the_kept_gzip_to_browsers_that_take_it_and_plain_json_to_others(client, monkeypatch):
    """The tile is compressed once when made and kept so (the middleware compressed every response again)."""
    token, (z, x, y) = small_token()
    url = f"{tiles.PREFIX}/{token}/{z}/{x}/{y}.json?dz={z}"
    kept = tiles.tile_gzip(token, z, x, y, z)
    assert kept[:2] == b"\x1f\x8b" and tiles._TILES[(token, z, x, y, z)] == kept
    calls = []
    monkeypatch.setattr(maptiles, "tile_features", lambda *a, **k: calls.append(a) or pytest.fail("made again"))
    r = client.get(url, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert r.headers["content-encoding"] == "gzip" and r.headers["vary"] == "Accept-Encoding"
    assert r.num_bytes_downloaded == len(kept)  # the kept bytes as they are
    assert strict_json(r.content) == strict_json(gzip.decompress(kept))
    for accept in ("identity", "gzip;q=0, identity", "br", ""):
        plain = client.get(url, headers={"Accept-Encoding": accept})
        assert "content-encoding" not in plain.headers, accept
        assert plain.content == gzip.decompress(kept) == tiles.tile_bytes(token, z, x, y, z)
    assert not calls


def test_route_answers_404_for_an_unknown_token(client):
    token, (z, x, y) = small_token()
    forged = ("0" if token[0] != "0" else "1") + token[1:]
    r = client.get(f"{tiles.PREFIX}/{forged}/{z}/{x}/{y}.json")
    assert r.status_code == 404 and b"features" not in r.content


def test_registered_token_serves_only_registered_columns(client):
    token, (z, x, y) = small_token(send=("land_use", "owner"))
    r = client.get(f"{tiles.PREFIX}/{token}/{z}/{x}/{y}.json?dz={z}")
    t = strict_json(r.content)
    for f in t["features"]:
        assert set(f["properties"]) == {"parcel_id", "land_use", "owner"}
    assert b"tax_cny" not in r.content and b"987654" not in r.content  # in the layer, never registered
    assert b"floor_area" not in r.content and b"1,234" not in r.content  # registered to read, not to send


def test_hostile_text_comes_back_as_the_same_plain_json_strings(client):
    token, (z, x, y) = small_token(send=("land_use", "owner"))
    t = strict_json(client.get(f"{tiles.PREFIX}/{token}/{z}/{x}/{y}.json?dz={z}").content)
    props = {f["id"]: f["properties"] for f in t["features"]}
    assert props["007"]["owner"] == HOSTILE_HTML
    assert props["A-1"]["owner"] == HOSTILE_CELL
    assert props["</script><b>x</b>"]["parcel_id"] == "</script><b>x</b>"
    assert props["007"]["land_use"] == "工业"  # formatted text in the UI language, the hostile text left as is


@pytest.mark.parametrize("path", [
    "{token}/-1/0/0.json", "{token}/16/-5/3.json", "{token}/abc/0/0.json", "{token}/16/1e3/2.json",
    "{token}/16/0/0.json/../../x", "{token}/16/0/0", "{token}/16/0/0.geojson", "..%2F..%2Fetc/16/0/0.json",
    "{token}/16/0x10/0.json", "{token}/ 16/0/0.json",
])
def test_route_rejects_malformed_addresses_as_not_found(client, path):
    token, _ = small_token()
    assert client.get(f"{tiles.PREFIX}/" + path.format(token=token)).status_code == 404


@pytest.mark.parametrize("suffix", [
    "23/0/0.json", "16/65536/0.json", "16/0/65536.json", "3/8/0.json", "16/99999999999999999999999/1.json",
    "16/0/0.json?dz=abc", "16/0/0.json?dz=23", "16/0/0.json?dz=-1", "16/0/0.json?dz=1e9", "16/0/0.json?dz=16.5",
])
def test_route_rejects_out_of_range_addresses_with_400(client, suffix):
    token, _ = small_token()
    r = client.get(f"{tiles.PREFIX}/{token}/{suffix}")
    assert r.status_code == 400 and r.text == "bad tile address"


def test_route_serves_the_zoom_6_tiles_of_a_map_zoomed_out_further(client, grid_index):
    """Below zoom 6 the browser still asks for zoom-6 tiles (``?dz=`` is the map's zoom): they come as cells."""
    spec = tiles.TileSpec(grid_index, columns=("parcel_id",), lod=True)
    token = tiles.register("zoomed-out", spec)
    _, x, y = maptiles.tile_of(grid_index, 0, 6)
    for dz in (3, 5):
        r = client.get(f"{tiles.PREFIX}/{token}/6/{x}/{y}.json?dz={dz}")
        assert r.status_code == 200
        t = strict_json(r.content)
        assert t["mode"] == "grid" and t["n"] == len(grid_index)


# ---------------------------------------------------------------------------------------------------- caches
def test_spec_table_evicts_the_least_recently_registered_beyond_max_specs(fresh_tiles, monkeypatch, grid_index):
    monkeypatch.setattr(tiles, "MAX_SPECS", 3)
    z, x, y = maptiles.tile_of(grid_index, 0, 16)
    spec = tiles.TileSpec(grid_index, columns=("parcel_id",))
    a, b, c = (tiles.register(k, spec) for k in "abc")
    for t in (a, b, c):
        assert tiles.tile_bytes(t, z, x, y, z) is not None
    assert tiles.register("a", spec) == a  # touched: now the most recent
    d = tiles.register("d", spec)
    assert list(tiles._SPECS) == [c, a, d]
    assert tiles.tile_bytes(b, z, x, y, z) is None
    assert all(k[0] != b for k in tiles._TILES)  # its cached tiles went with it
    assert tiles._tile_bytes == sum(len(v) for v in tiles._TILES.values())
    for t in (a, c, d):
        assert tiles.tile_bytes(t, z, x, y, z) is not None


def test_tile_cache_keeps_within_its_byte_budget(fresh_tiles, monkeypatch, grid_index):
    token = tiles.register("budget", tiles.TileSpec(grid_index, columns=("parcel_id", "owner", "land_use")))
    addrs = sorted(grid_tiles(grid_index, 16))
    sizes = {a: len(tiles.tile_gzip(token, *a, a[0])) for a in addrs}  # the cache keeps them compressed
    tiles._TILES.clear()
    tiles._tile_bytes = 0
    budget = sorted(sizes.values())[-1] + sorted(sizes.values())[-2]  # room for about two tiles
    monkeypatch.setattr(tiles, "MAX_TILE_BYTES", budget)
    for a in addrs:
        assert tiles.tile_bytes(token, *a, a[0]) is not None
        assert tiles._tile_bytes == sum(len(v) for v in tiles._TILES.values()) <= budget
    assert 1 <= len(tiles._TILES) < len(addrs)
    last = addrs[-1]
    assert (token, *last, last[0]) in tiles._TILES  # the most recent stays
    # a hit is served from the cache, byte for byte, and becomes the most recent
    calls = []
    monkeypatch.setattr(maptiles, "tile_features", lambda *a, **k: calls.append(a) or pytest.fail("recomputed"))
    assert tiles.tile_gzip(token, *last, last[0]) == tiles._TILES[(token, *last, last[0])]
    assert not calls


def _held_maker(monkeypatch, *, fail_first: bool = False):
    """Make the first tile computation wait at a gate: ``(inside, go, calls)``; ``go.set()`` lets it finish (or fail)."""
    real = maptiles.tile_features
    inside, go, calls = threading.Event(), threading.Event(), []

    def held(*a, **k):
        calls.append(1)
        if len(calls) == 1:
            inside.set()
            go.wait(10)
            if fail_first:
                raise RuntimeError("boom")
        return real(*a, **k)

    monkeypatch.setattr(maptiles, "tile_features", held)
    return inside, go, calls


def test_two_requests_for_the_same_tile_make_it_once(fresh_tiles, monkeypatch, grid_index):
    """A second request for a tile being made (another tab, a prefetch) waits for it; it is made and counted once."""
    token = tiles.register("race", tiles.TileSpec(grid_index, columns=("parcel_id",)))
    z, x, y = maptiles.tile_of(grid_index, 0, 16)
    inside, go, calls = _held_maker(monkeypatch)
    out = []
    first = threading.Thread(target=lambda: out.append(tiles.tile_bytes(token, z, x, y, z)))
    first.start()
    assert inside.wait(10)
    second = threading.Thread(target=lambda: out.append(tiles.tile_bytes(token, z, x, y, z)))
    second.start()
    time.sleep(0.2)
    assert second.is_alive()  # waiting for the first, not making it again
    go.set()
    first.join(15)
    second.join(15)
    assert len(out) == 2 and out[0] == out[1] and len(calls) == 1
    assert len(tiles._TILES) == 1 and tiles._tile_bytes == len(tiles.tile_gzip(token, z, x, y, z))
    assert not tiles._INFLIGHT


def test_a_failed_tile_lets_the_waiting_request_make_it(fresh_tiles, monkeypatch, grid_index):
    token = tiles.register("fail", tiles.TileSpec(grid_index, columns=("parcel_id",)))
    z, x, y = maptiles.tile_of(grid_index, 0, 16)
    inside, go, calls = _held_maker(monkeypatch, fail_first=True)
    errors, out = [], []

    def first():
        try:
            tiles.tile_bytes(token, z, x, y, z)
        except RuntimeError as exc:
            errors.append(exc)

    t1 = threading.Thread(target=first)
    t1.start()
    assert inside.wait(10)
    t2 = threading.Thread(target=lambda: out.append(tiles.tile_bytes(token, z, x, y, z)))
    t2.start()
    go.set()
    t1.join(15)
    t2.join(15)
    assert len(errors) == 1 and out and out[0] and len(calls) == 2 and not tiles._INFLIGHT


def _browser_view(center, zoom, width, height):
    """Leaflet's getBounds() of a map of ``width`` x ``height`` px at ``center``/``zoom``, as the browser has it."""
    lat, lon = center
    n = 256 * 2**zoom
    px = (lon + 180) / 360 * n
    py = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n

    def ll(x, y):
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / n)))), x / n * 360 - 180

    return ll(px - width / 2, py + height / 2), ll(px + width / 2, py - height / 2)  # (south, west), (north, east)


def test_prefetch_makes_the_tiles_a_focused_map_asks_for_before_it_asks(fresh_tiles, monkeypatch, grid_index):
    """A search or a site row moves the map: the server starts that view's tiles; the browser's requests hit them."""
    token = tiles.register("focus", tiles.TileSpec(grid_index, columns=("parcel_id",), lod=True))
    c = grid_index.lonlat_bounds()
    center, zoom = ((c[1] + c[3]) / 2, (c[0] + c[2]) / 2), 17
    want = tiles.focus_tiles(center, zoom, width_px=1000, height_px=620)
    assert want and all(t[0] == 16 and t[3] == 17 for t in want)
    assert tiles.prefetch(token, center, zoom, width_px=1000, height_px=620) == len(want)
    deadline = time.time() + 30
    while time.time() < deadline and (tiles._INFLIGHT or len(tiles._TILES) < len(want)):
        time.sleep(0.05)
    assert {k[1:] for k in tiles._TILES} == set(want)
    monkeypatch.setattr(maptiles, "tile_features", lambda *a, **k: pytest.fail("made again"))
    for z, x, y, dz in want:
        assert tiles.tile_bytes(token, z, x, y, dz)
    assert tiles.prefetch(token, center, zoom) == 0  # all made: nothing queued
    assert tiles.prefetch("no-such-token", center, zoom) == 0


@pytest.mark.parametrize("zoom", [8, 13, 16, 18])
def test_focus_tiles_are_the_tiles_the_browser_side_asks_for(zoom):
    """The browser pads its bounds by 15% (degrees) and asks for one more ring past the data zoom (tiles.py _JS)."""
    center, w, h = (24.78, 118.57), 1037, 620
    (s_, w_), (n_, e_) = _browser_view(center, zoom, w, h)
    dz = min(max(zoom, 6), 16)
    pw, ph = (e_ - w_) * 0.15, (n_ - s_) * 0.15
    x0, y0 = tiles._tile_xy(w_ - pw, n_ + ph, dz)
    x1, y1 = tiles._tile_xy(e_ + pw, s_ - ph, dz)
    ring = 1 if zoom > dz else 0
    want = {(dz, x, y, zoom) for x in range(x0 - ring, x1 + ring + 1) for y in range(y0 - ring, y1 + ring + 1)}
    got = tiles.focus_tiles(center, zoom, width_px=w, height_px=h)
    assert set(got) == want
    mid = tiles._tile_xy(center[1], center[0], dz)
    assert got[0][1:3] == mid  # the middle first


def test_the_tiled_map_caption_keeps_its_placeholder_for_the_browser():
    """The caption under the tiled map is filled in by the browser (textContent): '{n}' must reach it unescaped
    (Markdown escaping turned it into '\\{n\\}' and the map said "视图内约 \\{n\\} 宗地块")."""
    import json

    from planner import maps
    from planner.ui import mapview, tiles
    from tests.e2e._workspace import grid_parcels

    idx = maps.LayerIndex.build(grid_parcels(6), id_col="parcel_id")
    layer = mapview.MapLayer("parcels", "宗地", idx, columns=("parcel_id",), tooltip={"parcel_id": "宗地"}, lod=True)
    fg, _ = mapview._tiled(layer, False, "zh")
    cfg = json.loads(next(c for c in fg._children.values() if isinstance(c, tiles.TileLayer)).cfg_json)
    assert "{n}" in cfg["caption"]["features"] and "\\" not in cfg["caption"]["features"]


def test_the_route_writes_the_geometry_text_as_it_is_and_reads_as_the_tile_dict(city_index, fresh_tiles):
    """The tile route puts each geometry's GeoJSON text into the tile (parsing and writing it again took a third of
    a zoom-14 tile's time); the tile reads back equal to :func:`maptiles.tile_features`' dict, grid cells too."""
    token = register_explorer(city_index)
    spec = tiles._SPECS[token].spec
    w, s, e, n = city_index.lonlat_bounds()
    kw = {"columns": spec.columns, "send": spec.send, "color": spec.color, "fmt": tiles._format("zh")}
    seen = set()
    for zoom in (12, 14, 16):
        for t in view_tiles(((w + e) / 2, (s + n) / 2), zoom)[::7]:
            raw = maptiles.tile_features(city_index, *t, display_zoom=zoom, raw=True, **kw)
            assert all(isinstance(f["geometry"], maptiles.RawJSON) for f in raw["features"])
            parsed = maptiles.tile_features(city_index, *t, display_zoom=zoom, **kw)
            assert strict_json(maptiles.encode(raw)) == strict_json(maptiles.encode(parsed)) == parsed
            seen.add(raw["mode"])
    assert seen == {"grid", "features"}
    props = pd.DataFrame({"a": [1.234, np.nan, np.inf], "b": np.array([1, 2, 3], dtype=np.int64), "c": [True, False, True],
                          "d": pd.array(["x", None, "=1+1"], dtype="string"), "e": [np.float32(2.5), None, 3]})
    old = [{k: maptiles._round(v) for k, v in r.items()} for r in props.to_dict("records")]
    assert maptiles._records(props) == old
    assert json.dumps(maptiles._records(props)) == json.dumps(old)  # the same JSON types (int, bool, null)


def test_a_grid_tile_of_the_last_cell_zoom_has_the_parcel_tiles_under_it_made_ahead(client, city_index, monkeypatch):
    """Zooming in from the cells to the parcels asked for 50 new tiles at once; the server makes them while the
    user looks at the cells (one thread, newest first), and the browser's requests find them made."""
    monkeypatch.setattr(tiles, "_AHEAD", [])
    token = register_explorer(city_index)
    z, x, y = maptiles.tile_of(city_index, len(city_index) // 2, 13)
    r = client.get(f"{tiles.PREFIX}/{token}/{z}/{x}/{y}.json?dz=13")
    assert strict_json(r.content)["mode"] == "grid"
    under = [(token, 14, cx, cy, 14) for cx in (2 * x, 2 * x + 1) for cy in (2 * y, 2 * y + 1)]
    deadline = time.time() + 30
    while not all(k in tiles._TILES for k in under) and time.time() < deadline:
        time.sleep(0.05)
    assert all(k in tiles._TILES for k in under)
    made = []
    monkeypatch.setattr(maptiles, "tile_features", lambda *a, **k: made.append(a) or pytest.fail("made again"))
    for k in under:
        assert strict_json(client.get(f"{tiles.PREFIX}/{token}/14/{k[2]}/{k[3]}.json?dz=14").content)["type"]
    assert not made
    # not for parcels already shown, nor for a layer without cells, nor beyond the queue's bound
    before = len(tiles._TILES)
    client.get(f"{tiles.PREFIX}/{token}/14/{under[0][2]}/{under[0][3]}.json?dz=14")
    plain = tiles.register("no-lod", tiles.TileSpec(city_index, columns=("parcel_id",)))
    monkeypatch.setattr(maptiles, "tile_features", lambda *a, **k: {"type": "FeatureCollection", "mode": "features",
                                                                     "n": 0, "truncated": False, "features": []})
    client.get(f"{tiles.PREFIX}/{plain}/{z}/{x}/{y}.json?dz=13")
    time.sleep(0.3)
    assert not any(k[0] == plain and k[1] == 14 for k in tiles._TILES) and len(tiles._TILES) == before + 1
    # work nobody waits for: not while a page runs (nor while a map fetches tiles)
    def under_of(t):
        return [(token, 14, cx, cy, 14) for cx in (2 * t[1], 2 * t[1] + 1) for cy in (2 * t[2], 2 * t[2] + 1)]

    _, x2, y2 = next(t for t in sorted(grid_tiles(city_index, 13)) if not any(k in tiles._TILES for k in under_of(t)))
    later = under_of((13, x2, y2))
    running = threading.Event()
    page_run = threading.Thread(target=running.wait, args=(10,), name="ScriptRunner.scriptThread")
    page_run.start()
    try:
        tiles.ahead(token, 13, x2, y2)
        time.sleep(0.8)
        assert not any(k in tiles._TILES for k in later)
    finally:
        running.set()
        page_run.join()
    deadline = time.time() + 30
    while not all(k in tiles._TILES for k in later) and time.time() < deadline:
        time.sleep(0.05)
    assert all(k in tiles._TILES for k in later)
    monkeypatch.setattr(tiles, "MAX_AHEAD", 8)
    monkeypatch.setattr(tiles, "_AHEAD_WAKE", threading.Event())  # the worker waits on the old event: nothing runs
    for i in range(5):
        tiles.ahead(token, 13, x + 10 + i, y)
    assert len(tiles._AHEAD) == 8 and tiles._AHEAD[-1][2:4] == (2 * (x + 14) + 1, 2 * y + 1)  # the newest kept
