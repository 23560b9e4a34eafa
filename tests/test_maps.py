"""planner.maps: level of detail for the viewport, colours, offline folium maps."""

from __future__ import annotations

import json
import re

import numpy as np
import pyproj
import pytest
import shapely

from planner import maps
from planner.errors import DataError
from tests.conftest import box_grid

X0, Y0 = 500_000.0, 2_740_000.0
TO_LL = pyproj.Transformer.from_crs("EPSG:4549", "EPSG:4326", always_xy=True)


def ll_box(x0, y0, x1, y1):
    """A lon/lat view that lies inside the projected box (x0, y0)-(x1, y1)."""
    w, s = TO_LL.transform(x0, y0)
    e, n = TO_LL.transform(x1, y1)
    return (w, s, e, n)


@pytest.fixture
def grid10():
    g = box_grid(10, 10)  # 100 squares of 50 m: 2,500 m² each, ids r{row}c{col}
    g["three_low"] = g["parcel_id"].str.endswith(("c0", "c1", "c2", "c3", "c4"))  # left half flagged
    return g


def test_pixel_size_and_zoom():
    assert maps.pixel_size_m(0, 0) == pytest.approx(156_543.03, rel=1e-6)
    assert maps.pixel_size_m(10, 60) == pytest.approx(156_543.03 / 1024 / 2, rel=1e-6)
    # 1 km square at the equator on 1000 px: 1 m/px -> zoom 17 (1.19 m/px) fits, 18 (0.6) does not
    deg = 1000 / 111_320
    assert maps.zoom_for_bounds((0, 0, deg, deg), 1000, 1000) == 17


def test_bounds_from_leaflet():
    b = {"_southWest": {"lat": 24.7, "lng": 118.5}, "_northEast": {"lat": 24.8, "lng": 118.6}}
    assert maps.bounds_from_leaflet(b) == (118.5, 24.7, 118.6, 24.8)
    assert maps.bounds_from_leaflet(None) is None
    assert maps.bounds_from_leaflet({"_southWest": {"lat": None, "lng": None},
                                     "_northEast": {"lat": None, "lng": None}}) is None


def test_viewport_features_only_what_is_in_view(grid10):
    idx = maps.LayerIndex.build(grid10, flag_col="three_low")
    # a view strictly inside cells c0..c1 x r0..r1 (0-100 m): exactly 4 parcels
    v = maps.viewport_features(idx, ll_box(X0 + 10, Y0 + 10, X0 + 90, Y0 + 90), 18, columns=["land_area_m2"])
    assert v.mode == "features"
    assert sorted(v.gdf["parcel_id"]) == ["r0c0", "r0c1", "r1c0", "r1c1"]
    assert list(v.gdf.index) == list(v.gdf["parcel_id"])  # stable id = GeoJSON feature id
    assert v.gdf.crs.to_epsg() == 4326
    assert set(v.gdf.columns) == {"parcel_id", "land_area_m2", "geometry"}


def test_viewport_cap_keeps_largest(grid10):
    g = grid10.copy()
    g["land_area_m2"] = np.arange(len(g), dtype=float)  # r9c9 largest
    idx = maps.LayerIndex.build(g)
    v = maps.viewport_features(idx, idx.lonlat_bounds(), 18, max_features=3)
    assert v.truncated and v.n_in_view == 100 and len(v.gdf) == 3
    assert sorted(v.gdf["parcel_id"]) == ["r9c7", "r9c8", "r9c9"]


def test_viewport_filter_positions(grid10):
    idx = maps.LayerIndex.build(grid10)
    v = maps.viewport_features(idx, idx.lonlat_bounds(), 18, pos=np.array([0, 5, 99]))
    assert sorted(v.gdf["parcel_id"]) == ["r0c0", "r0c5", "r9c9"]


def test_grid_aggregation_conserves_totals(grid10):
    idx = maps.LayerIndex.build(grid10, flag_col="three_low")
    v = maps.aggregate_grid(idx, idx.lonlat_bounds(), 13)
    assert v.mode == "grid" and v.n_in_view == 100
    assert v.gdf["n"].sum() == 100
    assert v.gdf["land_ha"].sum() == pytest.approx(25.0)  # 100 x 0.25 ha
    assert v.gdf["flagged_ha"].sum() == pytest.approx(12.5)  # left half
    assert ((v.gdf["share"] >= 0) & (v.gdf["share"] <= 1)).all()


def test_grid_cells_hand_checked():
    # cell size at zoom z: 40 px rounded to a power of two metres; pick z so that cells are 256 m
    lat = 24.77
    z = next(z for z in range(10, 20) if maps.grid_cell_m(z, lat) == 256.0)
    # 2 parcels of 50 m in cell [499,968..500,224) x [...], 1 flagged; 1 parcel in the next cell east
    g = box_grid(1, 1)
    g = g.iloc[[0, 0, 0]].copy()
    g["parcel_id"] = ["a", "b", "c"]
    g["geometry"] = [shapely.box(500_000, 2_740_100, 500_050, 2_740_150),
                     shapely.box(500_060, 2_740_100, 500_110, 2_740_150),
                     shapely.box(500_300, 2_740_100, 500_350, 2_740_150)]
    g["land_area_m2"] = 2500.0
    g["three_low"] = [True, False, False]
    idx = maps.LayerIndex.build(g, flag_col="three_low")
    v = maps.aggregate_grid(idx, idx.lonlat_bounds(), z)
    assert v.cell_m == 256.0
    cells = v.gdf.sort_values("n", ascending=False)
    assert list(cells["n"]) == [2, 1]
    assert list(cells["share"]) == [0.5, 0.0]
    assert list(cells["flagged_ha"]) == [0.25, 0.0]


def test_view_layer_switches_on_zoom_and_count(grid10):
    idx = maps.LayerIndex.build(grid10)
    b = idx.lonlat_bounds()
    assert maps.view_layer(idx, b, 12).mode == "grid"  # city scale
    assert maps.view_layer(idx, b, 15).mode == "features"  # 100 <= cap
    assert maps.view_layer(idx, b, 15, max_features=50).mode == "grid"  # too many for the cap
    v = maps.view_layer(idx, b, 18, max_features=50)  # street level: always features, capped
    assert v.mode == "features" and len(v.gdf) == 50 and v.truncated


def test_simplify_and_rounding():
    # a 200 m square with 400 extra collinear vertices: simplified to 5 coordinates
    ring = np.array([(X0 + i / 2, Y0) for i in range(401)] + [(X0 + 200, Y0 + 200), (X0, Y0 + 200), (X0, Y0)])
    g = box_grid(1, 1)
    g["geometry"] = [shapely.Polygon(ring)]
    idx = maps.LayerIndex.build(g)
    v = maps.viewport_features(idx, idx.lonlat_bounds(), 16)
    coords = shapely.get_coordinates(v.gdf.geometry.array)
    assert len(coords) == 5
    # zoom 16: a quarter pixel is ~5e-6 degrees -> 6 decimals
    assert maps._decimals_for(16) == 6
    assert np.allclose(coords, np.round(coords, 6), atol=0, rtol=0)


def test_payload_city_vs_street_level():
    g = box_grid(150, 150, size=30.0)  # 22,500 parcels on 4.5 km
    g["three_low"] = np.arange(len(g)) % 4 == 0
    idx = maps.LayerIndex.build(g, flag_col="three_low")
    city = maps.view_layer(idx, idx.lonlat_bounds(), 13)
    street = maps.view_layer(idx, ll_box(X0 + 1000, Y0 + 1000, X0 + 1600, Y0 + 1400), 17)
    assert city.mode == "grid" and street.mode == "features"
    assert street.n_in_view == len(street.gdf) < 400  # ~ 20 x 14 parcels in a 600 x 400 m view
    sizes = {}
    for name, v in (("city", city), ("street", street)):
        m, _ = maps.make_map(idx.lonlat_bounds())
        gdf = v.gdf.copy()
        gdf["_c"] = "#ff0000"
        maps.geojson_layer(gdf, name).add_to(m)
        sizes[name] = maps.payload_bytes(m)
    whole = len(g.to_crs(4326).to_json().encode())
    assert sizes["city"] < 200_000 and sizes["street"] < 400_000
    assert whole > 10 * max(sizes.values())


def test_gcj02_shift(grid10):
    idx = maps.LayerIndex.build(grid10)
    b = idx.lonlat_bounds()
    plain = maps.viewport_features(idx, b, 18).gdf
    shifted = maps.viewport_features(idx, b, 18, gcj02=True).gdf
    dx = shapely.get_coordinates(shifted.geometry.array)[:, 0] - shapely.get_coordinates(plain.geometry.array)[:, 0]
    assert np.abs(dx).min() > 0.001 and np.abs(dx).max() < 0.01  # GCJ-02 is a few hundred metres off
    back = maps.gcj02_bounds_to_wgs84(tuple(shifted.total_bounds))
    assert np.allclose(back, plain.total_bounds, atol=1e-6)


def test_class_breaks_and_colors():
    v = np.arange(1, 11, dtype=float)
    br = maps.class_breaks(v, 5, "quantile")
    assert np.allclose(br, [2.8, 4.6, 6.4, 8.2, 10.0])
    assert np.allclose(maps.class_breaks(v, 3, "equal"), [4.0, 7.0, 10.0])
    cols = maps.colors_for([1.0, 10.0, np.nan, 2.8, 2.9], br)
    pal = maps.SEQ_PALETTE
    assert list(cols) == [pal[0], pal[4], "#bdbdbd", pal[0], pal[1]]
    assert maps.legend_for_breaks(br)[0] == (pal[0], "≤ 2.80")
    with pytest.raises(DataError, match="quantile"):
        maps.class_breaks(v, 5, "jenks")


def test_three_low_class():
    import pandas as pd

    df = pd.DataFrame({"three_low": [True, False, False, False], "n_low": [2, 1, 0, 0], "n_unknown": [0, 0, 1, 0]})
    assert list(maps.three_low_class(df)) == ["three_low", "partial", "unknown", "ok"]
    assert list(maps.three_low_class(df[["n_low"]])) == ["unknown"] * 4


def test_map_is_offline_and_click_returns_ids(grid10):
    idx = maps.LayerIndex.build(grid10)
    m, gcj = maps.make_map(idx.lonlat_bounds(), draw=True)
    assert gcj is False
    v = maps.viewport_features(idx, idx.lonlat_bounds(), 18)
    gdf = v.gdf.copy()
    gdf["_c"] = "#123456"
    maps.geojson_layer(gdf, "parcels", tooltip={"parcel_id": "id"}).add_to(m)
    html = m.get_root().render()
    links = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert links and all(u.startswith(maps.DEFAULT_ASSET_BASE) for u in links), links
    assert "cdn" not in html.lower() and "jquery" not in html.lower()
    # stable ids in the GeoJSON: feature id and properties.parcel_id
    feats = json.loads(re.search(r"_add\((\{.*?\})\);", html, re.S).group(1))["features"]
    assert {f["id"] for f in feats} == set(grid10["parcel_id"])
    assert all(f["properties"]["parcel_id"] == f["id"] for f in feats)
    # folium's class defaults are untouched (instance override only)
    import folium

    assert "cdn" in folium.Map.default_js[0][1]


def test_basemaps():
    b = (118.5, 24.7, 118.6, 24.8)
    m, gcj = maps.make_map(b, basemap="amap")
    assert gcj is True and "autonavi" in m.get_root().render()
    m, _ = maps.make_map(b, basemap="custom", custom_url="http://tiles.local/{z}/{x}/{y}.png")
    assert "tiles.local" in m.get_root().render()
    with pytest.raises(DataError, match="key"):
        maps.make_map(b, basemap="tianditu")
    m, _ = maps.make_map(b, basemap="tianditu", tianditu_key="abc")
    assert "tk=abc" in m.get_root().render()
    with pytest.raises(DataError, match=r"\{z\}"):
        maps.make_map(b, basemap="custom", custom_url="http://nope")


def test_layer_index_needs_projected_crs(grid10):
    with pytest.raises(DataError, match="projected"):
        maps.LayerIndex.build(grid10.to_crs(4326))
    with pytest.raises(DataError, match="id column"):
        maps.LayerIndex.build(grid10, id_col="nope")


@pytest.mark.parametrize("code", ["EPSG:4547", "EPSG:32650", "EPSG:2326", "EPSG:3857"])
def test_layer_transformers_are_pipelines_with_the_same_coordinates(code):
    """The map's transformers are the PROJ pipeline from_crs chose (cheap in every new thread), same numbers."""
    crs = pyproj.CRS.from_user_input(code)
    to_ll, from_ll = maps.lonlat_transformers(crs)
    assert to_ll.source_crs is None and from_ll.source_crs is None  # pipelines, not an operation search per thread
    aou = crs.area_of_use
    box = (aou.west + 0.1, aou.south + 0.1, aou.west + 0.3, aou.south + 0.2)
    ref = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform_bounds(*box, densify_pts=11)
    assert np.allclose(maps.transform_bounds(from_ll, *box, densify_pts=11), ref, rtol=0, atol=1e-6)
    back = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform_bounds(*ref, densify_pts=21)
    assert np.allclose(maps.transform_bounds(to_ll, *ref), back, rtol=0, atol=1e-9)


def test_layer_transformers_search_the_operation_once_per_crs(monkeypatch):
    """A new index of the same CRS (a sites table after each edit) does not search the operation again (50-100 ms)."""
    crs = pyproj.CRS.from_user_input("EPSG:4547")
    maps.lonlat_transformers(crs)
    calls = []
    real = pyproj.Transformer.from_crs
    monkeypatch.setattr(pyproj.Transformer, "from_crs", lambda *a, **k: calls.append(a) or real(*a, **k))
    to_ll, from_ll = maps.lonlat_transformers(pyproj.CRS.from_user_input("EPSG:4547"))
    assert calls == [] and to_ll.source_crs is None
    assert np.allclose(to_ll.transform(*from_ll.transform(118.5, 24.8)), (118.5, 24.8), atol=1e-9)


def test_a_lazy_tree_is_made_once_on_the_first_query_and_answers_as_an_eager_one(grid3):
    import threading

    lazy = maps.LayerIndex.build(grid3, lazy_tree=True)
    eager = maps.LayerIndex.build(grid3)
    assert lazy.tree is None and eager.tree is not None
    view = lazy.lonlat_bounds()
    trees = []
    threads = [threading.Thread(target=lambda: trees.append(lazy.spatial_tree())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(t is trees[0] for t in trees)  # made once, shared by every thread
    assert lazy.query(view).tolist() == eager.query(view).tolist() == list(range(len(grid3)))


def test_a_map_in_a_scrolling_page_zooms_with_the_wheel_only_after_a_click():
    """The script that keeps the wheel for the page until the map is clicked, with its hint as text (never markup:
    the hint is the page's own words, set as textContent from a JSON string)."""
    from planner.maps import make_map

    plain, _ = make_map((118.5, 24.7, 118.6, 24.8))
    assert "scrollWheelZoom.disable" not in plain.get_root().render()
    m, _ = make_map((118.5, 24.7, 118.6, 24.8), wheel_hint='点击地图后可用滚轮缩放 <b>"x"</b>')
    html = m.get_root().render()
    assert "scrollWheelZoom.disable()" in html and "m.on('mousedown', on)" in html
    assert "'mouseleave', off" in html
    said = html.split("d.textContent = ", 1)[1].split(";", 1)[0]
    assert "<" not in said and json.loads(said) == '点击地图后可用滚轮缩放 <b>"x"</b>'  # a JSON string, no markup
