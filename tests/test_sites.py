"""Contiguous sites: hand-checked cases on tiny box grids (planner/sites.py)."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import box_grid

from planner import sites as S
from planner.cli import main
from planner.errors import ConfigError, DataError
from planner.sites import graph as _graph
from planner.sites.build import _site_ids

X0, Y0 = 500_000.0, 2_740_000.0


def frame(boxes, flagged=None, **cols) -> gpd.GeoDataFrame:
    """Parcels p0, p1, ... from (xmin, ymin, xmax, ymax) tuples relative to (X0, Y0)."""
    b = np.asarray(boxes, dtype=float)
    g = shapely.box(X0 + b[:, 0], Y0 + b[:, 1], X0 + b[:, 2], Y0 + b[:, 3])
    n = len(b)
    data = {"parcel_id": [f"p{k}" for k in range(n)],
            "three_low": np.ones(n, bool) if flagged is None else np.asarray(flagged, bool)}
    data.update(cols)
    return gpd.GeoDataFrame(data, geometry=g, crs="EPSG:4549")


def flag(grid: gpd.GeoDataFrame, off=(), retain=()) -> gpd.GeoDataFrame:
    g = grid.copy()
    g["three_low"] = ~g["parcel_id"].isin(off)
    g["upgrade_class"] = np.where(g["parcel_id"].isin(retain), "retain", np.where(g["three_low"], "redevelop", "upgrade"))
    return g


def partition(res: S.SiteResult, role="flagged") -> set[frozenset]:
    ps = res.parcel_sites[res.parcel_sites["role"] == role]
    return {frozenset(v) for v in ps.groupby("site_id")["parcel_id"].apply(set)}


P0 = S.SiteParams(min_area_m2=0)


# -- adjacency ------------------------------------------------------------------

def test_touching_grid_is_one_site_with_hand_metrics(grid3):
    g = flag(grid3)
    g["floor_area_m2"] = 1000.0
    g["owner"] = ["A", "A", "B", "B", "C", None, "C", "A", "B"]
    res = S.build_sites(g, S.SiteParams())
    s = res.sites.iloc[0]
    assert len(res.sites) == 1 and s["site_id"] == "S0001"
    assert s["n_parcels"] == 9 and s["n_owners"] == 3
    assert s["land_area_m2"] == pytest.approx(22_500)  # 9 x 2,500
    assert s["land_area_mu"] == pytest.approx(22_500 / (10_000 / 15))
    assert s["floor_area_m2"] == pytest.approx(9_000) and s["plot_ratio"] == pytest.approx(0.4)
    assert s["compactness"] == pytest.approx(math.pi / 4)  # 150 m square: 4*pi*22500/600^2
    assert s["potential_floor_area_m2"] == pytest.approx(22_500 * 2.5)
    assert s["flagged_share"] == 1.0 and s["status"] == "ok" and s["rank"] == 1
    assert shapely.area(s.geometry) == pytest.approx(22_500)
    assert "score =" in s["score_formula"] and "0.3*land_area" in s["score_formula"]
    # one text for every site, held once (85k copies of it took 26 MB per sites table at 1M parcels)
    formula = res.sites["score_formula"]
    assert isinstance(formula.dtype, pd.CategoricalDtype) and list(formula.cat.categories) == [s["score_formula"]]


@pytest.mark.parametrize(("dist", "gap", "n_sites"), [(1.5, 2.0, 1), (2.5, 2.0, 2), (2.0, 2.0, 1), (0.5, 0.0, 2)])
def test_near_parcels_join_within_gap_only(dist, gap, n_sites):
    g = frame([(0, 0, 100, 100), (100 + dist, 0, 200 + dist, 100)])
    res = S.build_sites(g, S.SiteParams(gap_m=gap, min_area_m2=0))
    assert len(res.sites) == n_sites


def test_corner_touching_counts_as_touching_even_with_gap_zero():
    g = frame([(0, 0, 100, 100), (100, 100, 200, 200)])
    res = S.build_sites(g, S.SiteParams(gap_m=0, min_area_m2=0))
    assert partition(res) == {frozenset({"p0", "p1"})}


def test_chain_is_transitive_and_nonflagged_do_not_join(grid3):
    # middle column not flagged: left and right columns are 50 m apart -> two sites
    g = flag(grid3, off={"r0c1", "r1c1", "r2c1"})
    res = S.build_sites(g, P0)
    assert partition(res) == {frozenset({"r0c0", "r1c0", "r2c0"}), frozenset({"r0c2", "r1c2", "r2c2"})}


# -- barriers -------------------------------------------------------------------

def test_barrier_line_between_near_parcels_splits_them():
    g = frame([(0, 0, 100, 100), (110, 0, 210, 100)])
    road = shapely.LineString([(X0 + 105, Y0 - 50), (X0 + 105, Y0 + 150)])
    p = S.SiteParams(gap_m=15, min_area_m2=0)
    assert len(S.build_sites(g, p).sites) == 1
    assert len(S.build_sites(g, p, barriers=[road]).sites) == 2
    # a barrier along the far side of a parcel (touching the segment's end only) does not split
    far = shapely.LineString([(X0 + 100, Y0 + 100), (X0 + 100, Y0 + 300)])
    assert len(S.build_sites(g, p, barriers=[far]).sites) == 1


def test_barrier_polygon_river_splits():
    g = frame([(0, 0, 100, 100), (110, 0, 210, 100)])
    river = shapely.box(X0 + 101, Y0 - 500, X0 + 109, Y0 + 500)
    res = S.build_sites(g, S.SiteParams(gap_m=15, min_area_m2=0), barriers=gpd.GeoSeries([river], crs="EPSG:4549"))
    assert len(res.sites) == 2


def test_centreline_on_shared_boundary_splits_touching_parcels():
    g = frame([(0, 0, 100, 100), (100, 0, 200, 100)])
    on_edge = shapely.LineString([(X0 + 100, Y0 - 50), (X0 + 100, Y0 + 150)])
    crossing_corner = shapely.LineString([(X0 + 100, Y0 + 100), (X0 + 100, Y0 + 130)])  # meets only the end point
    p = S.SiteParams(gap_m=2, min_area_m2=0)
    assert len(S.build_sites(g, p, barriers=[on_edge]).sites) == 2
    assert len(S.build_sites(g, p, barriers=[crossing_corner]).sites) == 1


# -- constraints ----------------------------------------------------------------

def test_constraint_cut_and_exclusion():
    # p0: 30% inside the red line -> kept and cut; p2: 60% inside -> excluded
    g = frame([(0, 0, 100, 100), (100, 0, 200, 100), (200, 0, 300, 100)])
    red = [shapely.box(X0 - 10, Y0 + 70, X0 + 100, Y0 + 200), shapely.box(X0 + 200, Y0 + 40, X0 + 400, Y0 + 200)]
    res = S.build_sites(g, S.SiteParams(min_area_m2=0), constraints=red)
    assert res.excluded["parcel_id"].tolist() == ["p2"]
    assert res.excluded["constraint_share"].iloc[0] == pytest.approx(0.6)
    s = res.sites.iloc[0]
    assert partition(res) == {frozenset({"p0", "p1"})}
    assert s["constraint_overlap_m2"] == pytest.approx(3_000)
    assert s["land_area_m2"] == pytest.approx(17_000)  # 20,000 gross - 3,000 protected
    assert shapely.area(s.geometry) == pytest.approx(17_000)
    assert s["score_unconstrained"] == pytest.approx(0.1 * (1 - 3_000 / 20_000))


def test_overlapping_constraints_are_not_counted_twice():
    g = frame([(0, 0, 100, 100)])
    red = [shapely.box(X0, Y0, X0 + 40, Y0 + 100), shapely.box(X0, Y0, X0 + 40, Y0 + 100)]
    res = S.build_sites(g, P0, constraints=red)
    assert res.sites["constraint_overlap_m2"].iloc[0] == pytest.approx(4_000)


# -- enclaves -------------------------------------------------------------------

def test_enclave_absorbed_fills_the_hole(grid3):
    res = S.build_sites(flag(grid3, off={"r1c1"}), S.SiteParams())
    s = res.sites.iloc[0]
    roles = res.parcel_sites.set_index("parcel_id")["role"]
    assert roles["r1c1"] == "absorbed" and s["n_parcels"] == 9 and s["n_retained_inside"] == 0
    assert s["land_area_m2"] == pytest.approx(22_500) and s["flagged_share"] == pytest.approx(20_000 / 22_500)
    assert shapely.area(s.geometry) == pytest.approx(22_500)


def test_high_performer_enclave_is_retained_outside_the_site(grid3):
    res = S.build_sites(flag(grid3, off={"r1c1"}, retain={"r1c1"}), S.SiteParams())
    s = res.sites.iloc[0]
    assert res.parcel_sites.set_index("parcel_id").loc["r1c1", "role"] == "retained_inside"
    assert s["n_parcels"] == 8 and s["n_retained_inside"] == 1
    assert s["land_area_m2"] == pytest.approx(20_000) and shapely.area(s.geometry) == pytest.approx(20_000)


def test_enclave_limits_and_open_corner(grid3):
    g = flag(grid3, off={"r1c1"})
    too_big = S.build_sites(g, S.SiteParams(enclave_max_area_m2=2_000))
    assert "r1c1" not in set(too_big.parcel_sites["parcel_id"])
    share = S.build_sites(g, S.SiteParams(enclave_max_share=0.1))  # 2,500 > 10% of 20,000
    assert "r1c1" not in set(share.parcel_sites["parcel_id"])
    off = S.build_sites(g, S.SiteParams(absorb_enclaves=False))
    assert "r1c1" not in set(off.parcel_sites["parcel_id"])
    # an L-shaped site: the parcel in the open corner touches only site members but is not enclosed
    grid = box_grid(2, 2)
    lshape = S.build_sites(flag(grid, off={"r1c1"}), P0)
    assert set(lshape.parcel_sites["parcel_id"]) == {"r0c0", "r0c1", "r1c0"}


def test_enclave_with_gaps_between_parcels():
    grid = box_grid(3, 3, gap=1.0)  # 1 m slivers between the parcels; gap 2 m bridges them
    res = S.build_sites(flag(grid, off={"r1c1"}), S.SiteParams(gap_m=2))
    assert res.parcel_sites.set_index("parcel_id").loc["r1c1", "role"] == "absorbed"
    assert res.sites["geometry"].iloc[0].geom_type == "Polygon"  # outline closes the 1 m gaps
    assert shapely.area(res.sites.geometry.iloc[0]) == pytest.approx(152 * 152)


def test_hole_with_absorbed_and_retained_parcels_keeps_only_the_retained_one_out():
    grid = box_grid(4, 3)  # r1c1 (retained) and r1c2 (absorbed) form one hole
    res = S.build_sites(flag(grid, off={"r1c1", "r1c2"}, retain={"r1c1"}), S.SiteParams())
    s = res.sites.iloc[0]
    roles = res.parcel_sites.set_index("parcel_id")["role"]
    assert roles["r1c2"] == "absorbed" and roles["r1c1"] == "retained_inside"
    assert s["n_parcels"] == 11 and s["n_retained_inside"] == 1 and s["land_area_m2"] == pytest.approx(27_500)
    geom = s.geometry
    assert geom.geom_type == "Polygon" and shapely.is_valid(geom) and len(geom.interiors) == 1
    assert shapely.area(geom) == pytest.approx(27_500)
    hole = shapely.Polygon(geom.interiors[0])
    assert shapely.equals(hole, grid.set_index("parcel_id").geometry["r1c1"])


def test_filled_hole_does_not_swallow_another_site_inside_it():
    grid = box_grid(7, 7)  # ring of 24 flagged cells; inside 24 enclaves and a flagged centre (its own site)
    ring = {f"r{r}c{c}" for r in range(7) for c in range(7) if r in (0, 6) or c in (0, 6)}
    g = flag(grid, off=set(grid["parcel_id"]) - ring - {"r3c3"})
    res = S.build_sites(g, S.SiteParams(min_area_m2=0, enclave_max_share=1.0))
    s = res.sites.set_index("site_id")
    assert s["n_parcels"].to_dict() == {"S0001": 48, "S0002": 1}
    outer, centre = s.geometry["S0001"], s.geometry["S0002"]
    assert shapely.is_valid(outer) and shapely.area(outer) == pytest.approx(120_000)
    assert shapely.area(shapely.intersection(outer, centre)) == pytest.approx(0)
    assert len(outer.interiors) == 1 and shapely.equals(shapely.Polygon(outer.interiors[0]), centre)


# -- graph helpers ------------------------------------------------------------------

def test_bbox_pairs_equal_brute_force():
    rng = np.random.default_rng(3)
    lo = rng.uniform(0, 300, (400, 2))
    b = np.c_[lo, lo + rng.exponential(8, (400, 2))]
    b[:5, 2:] += 200  # a few large boxes spanning many grid cells
    i, j = _graph.bbox_pairs(b, 2.0)
    dx = np.maximum(b[:, None, 0] - b[None, :, 2], b[None, :, 0] - b[:, None, 2])
    dy = np.maximum(b[:, None, 1] - b[None, :, 3], b[None, :, 1] - b[:, None, 3])
    bi, bj = np.nonzero(np.triu((dx <= 2.0) & (dy <= 2.0), 1))
    assert sorted(zip(i.tolist(), j.tolist(), strict=True)) == sorted(zip(bi.tolist(), bj.tolist(), strict=True))


@pytest.mark.parametrize("threads", [False, True])
def test_neighbour_components_equal_all_pairs_components(threads, monkeypatch):
    if threads:  # the two-thread path used on large inputs gives the same components
        monkeypatch.setattr(_graph, "_PARALLEL_MIN", 1)
        monkeypatch.setattr(_graph, "_WORKERS", 2)
    # shrunk Voronoi-like cells: some share vertices, some are 0-4 m apart
    rng = np.random.default_rng(5)
    pts = shapely.multipoints(rng.uniform(0, 800, (300, 2)))
    cells = shapely.get_parts(shapely.voronoi_polygons(pts, extend_to=shapely.box(0, 0, 800, 800)))
    cells = shapely.intersection(cells, shapely.box(0, 0, 800, 800))
    shrink = np.where(rng.random(len(cells)) < 0.5, 0.0, rng.uniform(0.2, 2.0, len(cells)))
    g = shapely.buffer(cells, -shrink, join_style="mitre")
    for gap in (0.0, 2.0):
        labels, vlab = _graph.neighbour_components(g, gap)
        ref = _graph.components(len(g), *_graph.neighbour_pairs(g, gap))
        assert len(np.unique(np.c_[labels, ref], axis=0)) == labels.max() + 1 == ref.max() + 1
        assert (np.bincount(np.unique(np.c_[labels, vlab], axis=0)[:, 0]) >= 1).all()
    i, j = _graph.neighbour_pairs(g, 2.0)
    assert (shapely.distance(g[i], g[j]) <= 2.0).all() and (i < j).all()


def test_coverage_union_falls_back_for_overlaps_and_bad_noding():
    a, t_junction, overlap = shapely.box(0, 0, 10, 10), shapely.box(10, 0, 20, 5), shapely.box(5, 0, 15, 10)
    colls = shapely.geometrycollections([a, t_junction, a, overlap, a, shapely.box(10, 0, 20, 10)],
                                        indices=[0, 0, 1, 1, 2, 2])
    out = _graph.coverage_union(colls)
    assert shapely.is_valid(out).all() and shapely.get_type_id(out).tolist() == [3, 3, 3]
    assert shapely.area(out).tolist() == pytest.approx([150, 150, 200])
    # overlaps that snapping makes look noded (a duplicate, a parcel inside another sharing its corner,
    # one inside touching an edge): GEOS rejects them or gives an invalid result; the general union runs
    groups = [[a, a], [a, shapely.box(0, 0, 5, 5)], [a, shapely.box(0, 2, 5, 5)], [a, shapely.box(2, 2, 5, 5)]]
    colls = shapely.geometrycollections([g for grp in groups for g in grp], indices=np.repeat(range(4), 2))
    out = _graph.coverage_union(colls)
    assert shapely.is_valid(out).all() and shapely.area(out).tolist() == pytest.approx([100] * 4)


def test_coverage_union_nodes_t_junctions_and_closes_nanometre_slivers():
    a = shapely.Polygon([(0, 10), (20, 10), (20, 20), (0, 20)])
    # exact T-junction: B1 and B2 meet at (10, 10), a point inside A's bottom edge
    b1, b2 = shapely.box(0, 0, 10, 10), shapely.box(10, 0, 20, 10)
    # sliver: the same corner 1 nm below A's edge, so A touches B1 and B2 only at (0, 10) and (20, 10)
    s1 = shapely.Polygon([(0, 0), (10, 0), (10, 10 - 1e-9), (0, 10)])
    s2 = shapely.Polygon([(10, 0), (20, 0), (20, 10), (10, 10 - 1e-9)])
    out = _graph.coverage_union(shapely.geometrycollections([a, b1, b2, a, s1, s2], indices=[0, 0, 0, 1, 1, 1]))
    assert shapely.get_type_id(out).tolist() == [3, 3] and shapely.is_valid(out).all()
    assert shapely.area(out).tolist() == pytest.approx([400, 400])
    assert shapely.length(out).tolist() == pytest.approx([80, 80])
    # the general union keeps the sliver: two parts touching at two points, their shared side counted twice
    assert shapely.length(shapely.union_all([a, s1, s2])) == pytest.approx(120)


def test_coverage_union_falls_back_where_snapping_cannot_node():
    # corners 1 nm apart (not shared): snapping inserts both, GEOS rejects the result, the general union runs
    a = shapely.Polygon([(0, 10), (20, 10), (20, 20), (0, 20)])
    b1, b2 = shapely.box(0, 0, 10, 10), shapely.box(10, 0, 20, 10 - 1e-9)
    out = _graph.coverage_union(shapely.geometrycollections([a, b1, b2], indices=[0, 0, 0]))
    assert shapely.is_valid(out).all() and shapely.area(out[0]) == pytest.approx(400)


def test_coverage_union_of_many_groups_equals_each_group_alone():
    """Groups go to GEOS in chunks; a chunk holding a rejected group is done again one group at a time, so each
    outline is what the group gives alone, whatever else shares its chunk (here 300 groups, every seventh rejected)."""
    a = shapely.Polygon([(0, 10), (20, 10), (20, 20), (0, 20)])
    good = [a, shapely.box(0, 0, 10, 10), shapely.box(10, 0, 20, 10)]
    bad = [a, shapely.box(0, 0, 10, 10), shapely.box(10, 0, 20, 10 - 1e-9)]  # as in the test above
    groups = [[shapely.affinity.translate(g, 30 * k, 0) for g in (bad if k % 7 == 3 else good)] for k in range(300)]
    colls = shapely.geometrycollections([g for grp in groups for g in grp], indices=np.repeat(range(300), 3))
    together = _graph.coverage_union(colls)
    alone = np.array([_graph.coverage_union(colls[k:k + 1])[0] for k in range(300)], dtype=object)
    assert (shapely.to_wkb(together) == shapely.to_wkb(alone)).all()
    assert shapely.area(together) == pytest.approx(np.full(300, 400.0))


def test_coverage_union_of_a_large_group_skips_the_quadratic_snap():
    x, y = np.meshgrid(np.arange(30) * 10.0, np.arange(30) * 10.0)
    cells = shapely.box(x.ravel(), y.ravel(), x.ravel() + 10, y.ravel() + 10)
    coll = shapely.geometrycollections(cells)
    assert shapely.get_num_coordinates(coll) > _graph.SNAP_MAX_VERTICES
    out = _graph.coverage_union(np.array([coll, shapely.geometrycollections(cells[:4])]))
    assert shapely.area(out).tolist() == pytest.approx([90_000, 400])
    assert shapely.length(out[0]) == pytest.approx(1_200)


# -- status, ranks ----------------------------------------------------------------

def test_too_small_and_too_large_are_kept_and_unranked():
    g = frame([(0, 0, 100, 100), (100, 0, 200, 100), (500, 0, 550, 100), (1000, 0, 1300, 300)])
    res = S.build_sites(g, S.SiteParams(min_area_m2=10_000, max_area_m2=50_000))
    s = res.sites.set_index("site_id")
    assert s["status"].to_dict() == {"S0001": "too_large", "S0002": "ok", "S0003": "too_small"}
    assert s.loc["S0002", "rank"] == 1 and pd.isna(s.loc["S0001", "rank"]) and pd.isna(s.loc["S0003", "rank"])


def test_score_terms_and_rank_order():
    # a 200x100 site beats a 100x100 one: larger, same shape class
    g = frame([(0, 0, 100, 100), (100, 0, 200, 100), (500, 0, 600, 100)])
    res = S.build_sites(g, S.SiteParams(min_area_m2=0))
    s = res.sites.set_index("site_id")
    assert s.loc["S0001", "score_area"] == pytest.approx(0.3) and s.loc["S0002", "score_area"] == pytest.approx(0.15)
    assert s.loc["S0002", "compactness"] == pytest.approx(math.pi / 4)
    assert s.loc["S0001", "compactness"] == pytest.approx(4 * math.pi * 20_000 / 600**2)
    terms = s[["score_area", "score_flagged", "score_compactness", "score_unconstrained", "score_uplift"]].sum(axis=1)
    assert np.allclose(terms, s["score"]) and s["rank"].tolist() == [1, 2]


def test_duplicate_ids_among_placed_parcels_are_refused_elsewhere_ignored():
    g = frame([(0, 0, 100, 100), (100, 0, 200, 100), (500, 0, 600, 100), (900, 0, 950, 50)],
              flagged=[True, True, True, False])
    g.loc[3, "parcel_id"] = "p0"  # a far-off unflagged parcel reuses an id: it is never placed, so no harm
    assert len(S.build_sites(g).parcel_sites) == 3
    g.loc[2, "parcel_id"] = "p0"  # a flagged one does: the parcel-to-site table would be ambiguous
    with pytest.raises(DataError, match=r"parcel_id not unique among the parcels placed in sites.*p0"):
        S.build_sites(g)


def test_no_flagged_parcel_gives_no_site_and_one_gives_one():
    g = frame([(0, 0, 100, 100), (200, 0, 300, 100)], flagged=[False, False])
    res = S.build_sites(g)
    assert res.sites.empty and res.parcel_sites.empty and list(res.sites.columns) == S.SITE_COLUMNS
    g = frame([(0, 0, 100, 100), (200, 0, 300, 100)], flagged=[True, False])
    res = S.build_sites(g, S.SiteParams(min_area_m2=0))
    assert res.sites["site_id"].tolist() == ["S0001"] and res.parcel_sites["parcel_id"].tolist() == ["p0"]


def test_site_ids_share_one_width_so_text_order_is_number_order():
    ids = _site_ids(10_000)
    assert ids[0] == "S00001" and ids[-1] == "S10000" and list(ids) == sorted(ids)
    assert _site_ids(3).tolist() == ["S0001", "S0002", "S0003"]
    # ties in flagged land are broken by the smallest member parcel id, whatever the input order
    g = frame([(0, 0, 100, 100), (500, 0, 600, 100), (1000, 0, 1100, 100)])
    g["parcel_id"] = ["c", "a", "b"]
    res = S.build_sites(g, S.SiteParams(min_area_m2=0))
    assert res.parcel_sites.sort_values("site_id")["parcel_id"].tolist() == ["a", "b", "c"]


@pytest.mark.parametrize("ids", [["p1", "p2", "p3", "p4", "p5"], ["p5", "p3", "p4", "p1", "p2"]])
def test_parcel_sites_are_ordered_by_site_role_and_id(ids):
    # one site: four flagged parcels around an absorbed enclave (p?), ids in row order or shuffled
    g = frame([(0, 0, 150, 50), (0, 50, 50, 100), (100, 50, 150, 100), (0, 100, 150, 150), (50, 50, 100, 100)],
              flagged=[True, True, True, True, False])
    g["parcel_id"] = ids
    ps = S.build_sites(g, S.SiteParams(min_area_m2=0)).parcel_sites
    assert ps["role"].tolist() == ["absorbed"] + ["flagged"] * 4
    assert ps.equals(ps.sort_values(["site_id", "role", "parcel_id"]).reset_index(drop=True))
    assert ps["parcel_id"].iloc[0] == ids[4]


def test_params_from_dict_and_errors():
    p = S.SiteParams.from_dict({"gap_m": 5, "min_area_m2": 3000, "weights": {"area": 1.0}})
    assert p.gap_m == 5.0 and p.weights.area == 1.0 and p.weights.uplift == 0.25
    assert S.SiteParams.from_dict(p.to_dict()) == p
    with pytest.raises(ConfigError, match="gap_mm"):
        S.SiteParams.from_dict({"gap_mm": 5})
    with pytest.raises(ConfigError, match="sites: gap_m must be a finite number from 0 to 50 metres, got -1"):
        S.SiteParams.from_dict({"gap_m": -1})
    with pytest.raises(DataError, match="three_low"):
        S.build_sites(frame([(0, 0, 1, 1)]).drop(columns="three_low"))


# -- manual edits -------------------------------------------------------------------

def test_manual_edits_recompute_metrics_and_ranks():
    g = frame([(0, 0, 100, 100), (100, 0, 200, 100), (500, 0, 600, 100), (200, 0, 300, 100)],
              flagged=[True, True, True, False], floor_area_m2=[1000.0, 1000.0, 500.0, 4000.0])
    res = S.build_sites(g, S.SiteParams(min_area_m2=0))
    assert res.sites.set_index("site_id").loc["S0001", "n_parcels"] == 2
    added = S.add_parcels(res, "S0001", ["p3"], g)
    s = added.sites.set_index("site_id")
    assert s.loc["S0001", "n_parcels"] == 3 and s.loc["S0001", "land_area_m2"] == pytest.approx(30_000)
    assert s.loc["S0001", "floor_area_m2"] == pytest.approx(6_000)
    assert s.loc["S0001", "flagged_share"] == pytest.approx(2 / 3)
    assert s.loc["S0001", "compactness"] == pytest.approx(4 * math.pi * 30_000 / 800**2)
    assert added.parcel_sites.set_index("parcel_id").loc["p3", "role"] == "added"
    assert len(res.sites) == 2 and res.sites.set_index("site_id").loc["S0001", "n_parcels"] == 2  # original intact
    # move p2 from S0002 into S0001: S0002 becomes empty and is dropped
    moved = S.add_parcels(added, "S0001", "p2", g)
    assert moved.sites["site_id"].tolist() == ["S0001"] and moved.sites["n_parcels"].iloc[0] == 4
    removed = S.remove_parcels(res, "S0001", ["p1"], g)
    s = removed.sites.set_index("site_id")
    assert s.loc["S0001", "land_area_m2"] == pytest.approx(10_000) and s.loc["S0001", "floor_area_m2"] == 1000
    assert s["rank"].notna().all() and sorted(s["rank"]) == [1, 2]
    with pytest.raises(DataError, match="not in site"):
        S.remove_parcels(res, "S0001", ["p2"], g)
    # an edit checks the polygons of the parcels it measures (not a 1M city's every one): a broken one elsewhere
    # does not stop it, one of the touched site's is named by its row
    broken = g.copy()
    broken.loc[broken["parcel_id"] == "p2", "geometry"] = shapely.Point(550, 50)  # S0002's only parcel
    assert S.add_parcels(res, "S0001", ["p3"], broken).sites["site_id"].tolist() == ["S0001", "S0002"]
    with pytest.raises(DataError, match=r"1 row\(s\) without polygon geometry, first rows \[2\]"):
        S.add_parcels(res, "S0001", ["p2"], broken)


def test_site_from_boundary_takes_majority_parcels():
    g = frame([(0, 0, 100, 100), (100, 0, 200, 100), (500, 0, 600, 100)], flagged=[True, False, True])
    res = S.build_sites(g, S.SiteParams(min_area_m2=0))
    poly = shapely.box(X0 - 10, Y0 - 10, X0 + 160, Y0 + 110)  # all of p0, 60% of p1, nothing of p2
    out = S.site_from_boundary(poly, g, result=res)
    new = out.parcel_sites[out.parcel_sites["site_id"] == "S0003"]
    assert set(new["parcel_id"]) == {"p0", "p1"}
    s = out.sites.set_index("site_id")
    assert "S0001" not in s.index  # p0's old site emptied and dropped
    assert s.loc["S0003", "land_area_m2"] == pytest.approx(20_000)
    replay = S.apply_edits(res, [{"op": "boundary", "wkt": poly.wkt}], g)
    assert partition(replay, "added") == partition(out, "added")
    alone = S.site_from_boundary(poly, g)
    assert alone.sites["site_id"].tolist() == ["S0001"] and alone.sites["rank"].iloc[0] == 1


# -- CLI ---------------------------------------------------------------------------

def test_cli_builds_stores_and_writes(tmp_path, store, capsys):
    ws = store.uri
    assert main(["sites", "-w", str(ws)]) == 2
    assert "planner classify" in capsys.readouterr().err
    grid = flag(box_grid(4, 4), off={"r1c1"})
    grid.loc[grid["parcel_id"].isin(["r0c3", "r1c3", "r2c3", "r3c3"]), "three_low"] = False
    store.write_layer("flags", "default", grid, meta={"policy_hash": "abc"})
    store.write_layer("barrier", "rivers", gpd.GeoDataFrame(
        {"category": ["river"]}, geometry=[shapely.LineString([(X0 + 100, Y0 - 10), (X0 + 100, Y0 + 300)])],
        crs="EPSG:4549"))
    out = tmp_path / "sites.csv"
    assert main(["sites", "-w", str(ws), "--min-area", "5000", "--out", str(out)]) == 0
    sites = store.read_layer("sites", "default")
    assert sites.attrs["meta"]["policy_hash"] == "abc" and sites.attrs["meta"]["params"]["min_area_m2"] == 5000
    # the river at x=100 splits columns 0-1 from column 2
    assert sorted(sites["n_parcels"].tolist()) == [4, 7]
    assert len(store.read_layer("site_parcels", "default")) == 11
    assert len(pd.read_csv(out)) == 2 and (tmp_path / "sites_parcels.csv").exists()
    assert main(["sites", "-w", str(ws), "--out", str(tmp_path / "s.geojson"), "--no-barriers"]) == 0
    out = gpd.read_file(tmp_path / "s.geojson")
    assert len(out) == 1 and out.crs.to_epsg() == 4326 and out.geometry.is_valid.all()
    assert main(["sites", "-w", str(ws), "--out", str(tmp_path / "s.gpkg")]) == 0
    store.save_doc("site_edit", "mine", {"ops": [{"op": "remove", "site_id": "S0001", "parcel_ids": ["r0c0"]}]})
    assert main(["sites", "-w", str(ws), "--apply-edits", "mine", "--name", "edited"]) == 0
    assert sorted(store.read_layer("sites", "edited")["n_parcels"]) == [4, 6]


def test_members_put_in_order_after_an_edit_equal_a_full_sort():
    """An edit sorts only the rows of the sites it touched (360k members at 1M); the order equals a full sort."""
    from planner.sites.edits import _MEMBER_ORDER, _sorted_members

    rng = np.random.default_rng(7)
    for trial in range(40):
        n = int(rng.integers(1, 300))
        ps = pd.DataFrame({"parcel_id": [f"P{i:05d}" for i in rng.permutation(n)],
                           "site_id": [f"S{k:04d}" for k in rng.integers(0, max(1, n // 5), n)],
                           "role": rng.choice(["flagged", "added", "retained_inside"], n)})
        ps = ps.sort_values(_MEMBER_ORDER).reset_index(drop=True)
        touched_sites = set(rng.choice(ps["site_id"].unique(), int(rng.integers(1, 4))))
        if trial % 3 == 0:  # a new site (a drawn boundary) among them
            touched_sites.add(f"S{int(rng.integers(0, 100)):04d}x")
        rest = ps[~ps["site_id"].isin(touched_sites)]
        moved = ps[ps["site_id"].isin(touched_sites)].sample(frac=1.0, random_state=trial)
        new = pd.DataFrame({"parcel_id": [f"N{trial}_{j}" for j in range(3)],
                            "site_id": sorted(touched_sites)[0], "role": "added"})
        edited = pd.concat([rest, moved, new], ignore_index=True)
        got = _sorted_members(edited, edited["site_id"].isin(touched_sites))
        pd.testing.assert_frame_equal(got, edited.sort_values(_MEMBER_ORDER, kind="stable").reset_index(drop=True))
    unsorted = pd.DataFrame({"parcel_id": ["b", "a", "c"], "site_id": ["S2", "S1", "S3"], "role": ["flagged"] * 3})
    got = _sorted_members(unsorted, np.array([False, False, True]))  # the others out of order: a full sort
    assert got["site_id"].tolist() == ["S1", "S2", "S3"]
    within = pd.DataFrame({"parcel_id": ["b", "a", "c"], "site_id": ["S1", "S1", "S3"], "role": ["flagged"] * 3})
    got = _sorted_members(within, np.array([False, False, True]))  # out of order inside a site: a full sort too
    assert got["parcel_id"].tolist() == ["a", "b", "c"]
    # the order check and the placement compare in Arrow: the order pandas sorts text in, CJK and case included
    ids = ["片区2", "片区10", "Z1", "a1", "片区1", "区", "S-1", "s_1"]
    ps = pd.DataFrame({"parcel_id": [f"{i}号" for i in range(len(ids))], "site_id": ids, "role": ["flagged"] * len(ids)})
    ps = ps.sort_values(_MEMBER_ORDER).reset_index(drop=True)
    for k in range(len(ps)):  # each row taken out and put at the end (the touched row)
        moved = pd.concat([ps.drop(index=k), ps.iloc[[k]]], ignore_index=True)
        pd.testing.assert_frame_equal(_sorted_members(moved, np.arange(len(ps)) == len(ps) - 1), ps)


# -- settings that are not finite or out of range --------------------------------------------

@pytest.mark.parametrize(("data", "expected"), [
    ({"gap_m": float("nan")}, "gap_m must be a finite number from 0 to 50 metres, got nan"),
    ({"gap_m": float("inf")}, "gap_m must be a finite number from 0 to 50 metres, got inf"),
    ({"gap_m": 500.0}, "gap_m must be a finite number from 0 to 50 metres, got 500.0"),
    ({"min_area_m2": float("nan")}, "min_area_m2 must be a finite number from 0 to 100,000,000 m², got nan"),
    ({"max_area_m2": float("nan")}, "max_area_m2 must be a finite number above 0 and at most 100,000,000 m²"),
    ({"street_gap_max_m": float("inf")}, "street_gap_max_m must be a finite number from 0 to 100 metres"),
    ({"enclave_max_area_m2": -5.0}, "enclave_max_area_m2 must be a finite number from 0 to 100,000,000 m²"),
    ({"barrier_contact_tol_m": float("nan")}, "barrier_contact_tol_m must be a finite number from 0 to 50 metres"),
    ({"enclave_max_share": float("nan")}, "enclave_max_share must be a finite number from 0 to 1 (a share)"),
    ({"target_plot_ratio": float("inf")}, "target_plot_ratio must be a finite number above 0 and at most 20"),
    ({"weights": {"difficulty": float("nan")}}, "x.toml [sites].weights: score weight 'difficulty' must be a finite"),
    ({"difficulty": {"owners": float("inf")}}, "x.toml [sites].difficulty: difficulty weight 'owners' must be a fin"),
])
def test_site_settings_that_are_not_finite_or_out_of_range_are_refused(data, expected):
    """NaN passes every `<` test: `gap_m = nan` gave 2,152 sites instead of 1,675, `min_area_m2 = nan` made every
    site "ok", `gap_m = inf` ran for more than 10 minutes. Each is refused, naming the file, table and key."""
    with pytest.raises(ConfigError) as info:
        S.SiteParams.from_dict(data, where="x.toml [sites]")
    assert str(info.value).startswith("x.toml [sites]") and expected in str(info.value)
    assert info.value.zh and info.value.zh.startswith("x.toml [sites]")


def _flagged_workspace(tmp_path):
    """A GeoPackage workspace with a flags layer of a 4 x 4 grid (15 flagged parcels)."""
    from planner.io.store import GpkgStore

    store = GpkgStore(tmp_path / "ws.gpkg", create=True, crs="EPSG:4549")
    store.write_layer("flags", "default", flag(box_grid(4, 4), off={"r1c1"}), meta={"policy_hash": "abc"})
    return store


def test_sites_refuses_non_finite_options_and_config_values_naming_the_file(tmp_path, capsys):
    """`--gap nan` and `[sites] min_area_m2 = nan` in --config: exit 2 before anything is stored; the [sites] error
    names the file (it said only "error: min_area_m2 must be >= 0, got -1.0")."""
    from planner.io.fingerprint import workspace_fingerprint

    store = _flagged_workspace(tmp_path)
    before = workspace_fingerprint(store.path)
    for opt in ("--gap", "--min-area", "--max-area", "--difficulty-weight"):
        for value in ("nan", "inf", "-inf"):
            with pytest.raises(SystemExit) as info:
                main(["sites", "-w", str(store.path), f"{opt}={value}"])
            assert info.value.code == 2
            assert f"argument {opt}: {value!r} is not a finite number" in capsys.readouterr().err
    cfg = tmp_path / "sites.toml"
    for line in ("min_area_m2 = nan", "gap_m = inf", "min_area_m2 = -1.0"):
        cfg.write_text(f"[sites]\n{line}\n", encoding="utf-8")
        assert main(["sites", "-w", str(store.path), "--config", str(cfg)]) == 2
        err = capsys.readouterr().err
        assert f"error: {cfg} [sites]: {line.split(' =')[0]} must be a finite number" in err, err
    assert workspace_fingerprint(store.path) == before
