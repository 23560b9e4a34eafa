"""The fast paths of site assembly equal the previous exact paths (planner/sites/overlay.py).

The barrier and constraint steps of :func:`planner.sites.build_sites` used to
test every parcel against whole barrier and constraint geometries; they now
work on small pieces of them and test only candidates. This module keeps the
previous implementation (``ref_*``, as it was before issue 18) and checks that
the fast path gives the same sites, the same overlaps (to 1e-6 m²) and the
same cut outlines, on the committed sample city and on parcels crossed by
roads, rivers and centrelines drawn on shared boundaries.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from planner import sites as S
from planner.sites import build as _build
from planner.sites import graph as _graph
from planner.sites import overlay as _overlay

ROOT = Path(__file__).resolve().parents[1]


# -- the previous exact path (planner/sites before issue 18) ---------------------

def ref_constraint_parts(constraints) -> np.ndarray:
    """Protected land as the parts of the union of the constraints (not subdivided)."""
    g = _build._as_geoms(constraints, "constraints")
    if not len(g):
        return g
    parts = shapely.get_parts(shapely.union_all(g))
    return parts[shapely.get_type_id(parts) == 3]


def ref_overlap_area(geoms: np.ndarray, parts: np.ndarray) -> np.ndarray:
    """Each geometry queried against a tree of the whole parts, intersected with every part it meets."""
    out = np.zeros(len(geoms))
    if not len(parts) or not len(geoms):
        return out
    i, j = shapely.STRtree(parts).query(geoms, predicate="intersects")
    if len(i):
        out += np.bincount(i, weights=shapely.area(shapely.intersection(geoms[i], parts[j])), minlength=len(geoms))
    return out


def ref_cut(geoms: np.ndarray, parts: np.ndarray) -> np.ndarray:
    """``geoms`` minus the union of the whole parts each one meets."""
    if not len(parts) or not len(geoms):
        return geoms
    i, j = shapely.STRtree(parts).query(geoms, predicate="intersects")
    if not len(i):
        return geoms
    out = geoms.copy()
    hit, inv = np.unique(i, return_inverse=True)
    pieces = _graph.grouped_union(parts[j], inv, len(hit))
    out[hit] = shapely.difference(geoms[hit], pieces)
    return out


def ref_barrier_separated(a, b, barriers, *, contact_tol=0.5, contact_share=0.5) -> np.ndarray:
    """Every pair tested against a tree of the whole barriers."""
    n = len(a)
    out = np.zeros(n, dtype=bool)
    if n == 0 or barriers is None or len(barriers) == 0:
        return out
    tree = shapely.STRtree(barriers)
    apart = shapely.distance(a, b) > 0
    if apart.any():
        idx = np.flatnonzero(apart)
        seg = shapely.shortest_line(a[idx], b[idx])
        si, bj = tree.query(seg, predicate="intersects")
        if len(si):
            s, bb = seg[si], barriers[bj]
            hit = shapely.relate_pattern(s, bb, "T********") | shapely.relate_pattern(s, bb, "*T*******")
            out[idx[si[hit]]] = True
    touch = ~apart
    if touch.any():
        idx = np.flatnonzero(touch)
        contact = shapely.intersection(shapely.boundary(a[idx]), shapely.boundary(b[idx]))
        ci, bj = tree.query(contact, predicate="dwithin", distance=contact_tol)
        if len(ci):
            length = shapely.length(contact)
            is_point = length[ci] == 0
            covered = shapely.length(shapely.intersection(contact[ci], shapely.buffer(barriers[bj], contact_tol)))
            cov = np.bincount(ci, weights=covered, minlength=len(idx))
            point_hit = np.bincount(ci[is_point], minlength=len(idx)) > 0
            sep = point_hit | ((length > 0) & (cov > contact_share * length))
            out[idx[sep]] = True
    return out


def ref_near_barriers(geoms, bar, params):
    """The whole barriers, and every parcel taken as within reach of them."""
    return None if not len(bar) else (bar, np.ones(len(geoms), dtype=bool))


def ref_components(mg, near, params, say):
    """Every neighbour edge tested against every barrier (whole geometries), before it joins a component.

    Components and touch labels come from the same batches as without
    barriers (:func:`planner.sites.graph.neighbour_components`); the labels
    equal the components of all pairs within the gap that no barrier
    separates (checked in :func:`test_random_roads_split_like_the_exact_path`).
    """
    if near is None:
        return _graph.neighbour_components(mg, params.gap_m)
    bar = near[0]

    def keep(i, j):
        return ~ref_barrier_separated(mg[i], mg[j], bar, contact_tol=params.barrier_contact_tol_m,
                                      contact_share=params.barrier_contact_share)

    return _graph.neighbour_components(mg, params.gap_m, keep=keep)


def ref_build_sites(monkeypatch, *args, **kwargs) -> S.SiteResult:
    """:func:`build_sites` with the previous exact steps in place of the fast ones."""
    with monkeypatch.context() as m:
        m.setattr(_build, "_constraint_parts", ref_constraint_parts)
        m.setattr(_build, "_overlap_area", ref_overlap_area)
        m.setattr(_build, "_cut", ref_cut)
        m.setattr(_build, "_near_barriers", ref_near_barriers)
        m.setattr(_build, "_components", ref_components)
        return S.build_sites(*args, **kwargs)


# -- helpers ----------------------------------------------------------------------

X0, Y0 = 500_000.0, 2_740_000.0


def voronoi_parcels(n: int, seed: int, gap: float = 2.0, exact_share: float = 0.3) -> gpd.GeoDataFrame:
    """About ``n`` irregular parcels: Voronoi cells, some shrunk a little (gaps around ``gap``), others exact."""
    rng = np.random.default_rng(seed)
    side = np.sqrt(n) * 40.0
    pts = shapely.multipoints(rng.uniform(0, side, (n, 2)))
    frame = shapely.box(0, 0, side, side)
    cells = shapely.intersection(shapely.get_parts(shapely.voronoi_polygons(pts, extend_to=frame)), frame)
    shrink = rng.uniform(0.2 * gap, 0.7 * gap, len(cells))
    shrink[rng.random(len(cells)) < exact_share] = 0.0
    geoms = shapely.buffer(cells, -shrink, join_style="mitre")
    keep = ~shapely.is_empty(geoms)
    geoms, exact = geoms[keep], shrink[keep] == 0
    return gpd.GeoDataFrame({"parcel_id": [f"v{k:04d}" for k in range(len(geoms))],
                             "three_low": rng.random(len(geoms)) < 0.7, "exact": exact},
                            geometry=shapely.transform(geoms, lambda c: c + [X0, Y0]), crs="EPSG:4549")


def random_barriers(parcels: gpd.GeoDataFrame, seed: int) -> np.ndarray:
    """Roads crossing the parcels, centrelines on shared boundaries, a river polygon, a multi-line railway."""
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = parcels.total_bounds
    ends = rng.uniform([x0, y0, x0, y0], [x1, y1, x1, y1], (25, 4))
    roads = [shapely.segmentize(shapely.LineString([(a, b), (c, d)]), 15.0) for a, b, c, d in ends]
    # centrelines drawn on the boundary of exact (unshrunk) parcels: along edges they share
    exact = parcels.geometry.values[parcels["exact"].to_numpy()]
    edges = [shapely.LineString(shapely.get_coordinates(shapely.get_exterior_ring(g))[:3]) for g in exact[:40]]
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    river = shapely.buffer(shapely.LineString([(x0, cy), (cx, cy + 80), (x1, cy - 40)]), 4.0, quad_segs=32)
    railway = shapely.MultiLineString([[(cx, y0), (cx + 30, cy)], [(cx + 30, cy), (cx - 20, y1)]])
    return np.array([*roads, *edges, river, railway], dtype=object)


def partition(res: S.SiteResult) -> set[frozenset]:
    ps = res.parcel_sites[res.parcel_sites["role"] == "flagged"]
    return {frozenset(v) for v in ps.groupby("site_id")["parcel_id"].apply(set)}


def assert_same_result(fast: S.SiteResult, ref: S.SiteResult, geom_tol: float = 1e-4) -> None:
    """Same sites and parcels, same overlaps to 1e-6 m², same outlines up to ``geom_tol`` m² of difference."""
    pd.testing.assert_frame_equal(fast.parcel_sites, ref.parcel_sites)
    assert fast.excluded["parcel_id"].tolist() == ref.excluded["parcel_id"].tolist()
    np.testing.assert_allclose(fast.excluded["constraint_share"], ref.excluded["constraint_share"], rtol=0, atol=1e-9)
    a, b = fast.sites, ref.sites
    assert a["site_id"].tolist() == b["site_id"].tolist()
    for col in ("constraint_overlap_m2", "land_area_m2", "floor_area_m2", "potential_floor_area_m2"):
        np.testing.assert_allclose(a[col], b[col], rtol=0, atol=1e-6, err_msg=col)
    for col in ("status", "n_parcels", "n_retained_inside", "rank"):
        assert a[col].tolist() == b[col].tolist(), col
    diff = shapely.area(shapely.symmetric_difference(a.geometry.values, b.geometry.values))
    assert diff.max() <= geom_tol, f"outlines differ by up to {diff.max():.3g} m²"
    np.testing.assert_allclose(a["compactness"], b["compactness"], rtol=0, atol=1e-9)


def classified_sample_city() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    from planner.classify import classify
    from planner.classify.policy import load_policy
    from planner.io.store import open_store

    src = ROOT / "gis_data" / "sample_city.gpkg"
    if not src.exists():
        pytest.skip("gis_data/sample_city.gpkg not generated")
    store = open_store(src)
    parcels = classify(store.read_parcels(), load_policy(None))
    return parcels, store.read_all_layers("barrier"), store.read_all_layers("constraint")


# -- whole builds -----------------------------------------------------------------

def test_sample_city_fast_path_equals_exact_path(monkeypatch):
    parcels, barriers, constraints = classified_sample_city()
    params = S.SiteParams()
    fast = S.build_sites(parcels, params, barriers=barriers, constraints=constraints)
    ref = ref_build_sites(monkeypatch, parcels, params, barriers=barriers, constraints=constraints)
    assert len(fast.excluded) > 10 and (fast.sites["constraint_overlap_m2"] > 0).sum() > 10  # the cases occur
    assert_same_result(fast, ref)


@pytest.mark.slow
def test_large_sample_city_fast_path_equals_exact_path(monkeypatch):
    """The generator's large-city path (beyond the boundary, as for 1M parcels), classified by the default policy."""
    from planner.classify import classify
    from planner.classify.policy import load_policy
    from planner.sample import build_city

    city = build_city(60_000, seed=3)
    parcels = classify(city.parcels, load_policy(None))
    barriers = pd.concat(list(city.barriers.values()), ignore_index=True)
    constraints = pd.concat(list(city.constraints.values()), ignore_index=True)
    fast = S.build_sites(parcels, S.SiteParams(), barriers=barriers, constraints=constraints)
    ref = ref_build_sites(monkeypatch, parcels, S.SiteParams(), barriers=barriers, constraints=constraints)
    assert len(fast.excluded) > 10
    assert_same_result(fast, ref)


@pytest.mark.parametrize(("seed", "gap"), [(1, 2.0), (2, 6.0), (3, 0.0)])
def test_random_roads_split_like_the_exact_path(monkeypatch, seed, gap):
    parcels = voronoi_parcels(900, seed, exact_share=0.6)
    barriers = random_barriers(parcels, seed)
    red = shapely.buffer(shapely.Point(*parcels.total_bounds[:2] + 300), 250, quad_segs=200)
    params = S.SiteParams(gap_m=gap, min_area_m2=0, split_streets=False)  # the clustering alone
    fast = S.build_sites(parcels, params, barriers=barriers, constraints=[red])
    ref = ref_build_sites(monkeypatch, parcels, params, barriers=barriers, constraints=[red])
    assert_same_result(fast, ref)
    # the labels are those of all pairs within the gap that no barrier separates
    kept = parcels[parcels["three_low"]].reset_index(drop=True)
    kept = kept[~kept["parcel_id"].isin(fast.excluded["parcel_id"])].reset_index(drop=True)
    g = kept.geometry.values
    i, j = _graph.neighbour_pairs(g, gap)
    sep = ref_barrier_separated(g[i], g[j], barriers)
    assert sep.sum() > 10  # barriers split many neighbour pairs here
    labels = _graph.components(len(g), i[~sep], j[~sep])
    exact = {frozenset(kept["parcel_id"][labels == k]) for k in np.unique(labels)}
    assert partition(fast) == exact
    without = S.build_sites(parcels, params, constraints=[red])
    assert len(fast.sites) > len(without.sites)


def test_barriers_that_separate_nothing_change_nothing():
    # A below B and C; B and C touch A along its top edge at T-junctions (no shared vertex) and are 1 m
    # apart: a notch 1 m wide and 50 m deep. All three touch, so the outline is not closed and the notch
    # stays open, with or without a road far away (before issue 18, any barrier layer closed it).
    g = gpd.GeoDataFrame({"parcel_id": ["a", "b", "c"], "three_low": [True] * 3},
                         geometry=[shapely.box(X0, Y0, X0 + 100, Y0 + 50), shapely.box(X0 + 20, Y0 + 50, X0 + 60, Y0 + 100),
                                   shapely.box(X0 + 61, Y0 + 50, X0 + 100, Y0 + 100)], crs="EPSG:4549")
    far = shapely.LineString([(X0 + 1000, Y0), (X0 + 1000, Y0 + 500)])
    alone = S.build_sites(g, S.SiteParams(min_area_m2=0))
    with_road = S.build_sites(g, S.SiteParams(min_area_m2=0), barriers=[far])
    assert shapely.area(alone.sites.geometry.iloc[0]) == pytest.approx(5000 + 2000 + 1950)
    assert shapely.equals(alone.sites.geometry.iloc[0], with_road.sites.geometry.iloc[0])


# -- the pieces -------------------------------------------------------------------

def test_barrier_separated_on_pieces_equals_whole_barriers():
    parcels = voronoi_parcels(900, 5)
    barriers = random_barriers(parcels, 5)
    g = parcels.geometry.values
    i, j = _graph.neighbour_pairs(g, 3.0)
    for tol, share in ((0.5, 0.5), (2.0, 0.2)):
        fast = _overlay.barrier_separated(g[i], g[j], barriers, contact_tol=tol, contact_share=share)
        ref = ref_barrier_separated(g[i], g[j], barriers, contact_tol=tol, contact_share=share)
        touching = shapely.distance(g[i], g[j]) == 0
        assert ref[touching].sum() > 5 and ref[~touching].sum() > 5  # both rules decide some pairs
        np.testing.assert_array_equal(fast, ref)


@pytest.mark.parametrize("tol", [0.5, 2.0, 0.1 + 0.2])
def test_a_touching_pair_with_a_barrier_just_within_reach_of_its_contact_is_tested(tol):
    """Touching pairs go to the contact test only when a barrier piece reaches the overlap of their boxes; a barrier
    exactly ``contact_tol`` from the contact (a corner point, a shared edge) is still found."""
    x, y = X0 + 50.0, Y0 + 50.0
    a = np.array([shapely.box(X0, Y0, x, y), shapely.box(X0, Y0, x, y), shapely.box(X0, Y0, x, y)])
    b = np.array([shapely.box(x, y, x + 50, y + 50),      # corner contact at (x, y)
                  shapely.box(x, Y0, x + 50, y),          # shared edge x = x
                  shapely.box(x, Y0 + 10, x + 50, y - 10)])  # a T-junction edge, 30 m of the 50 m side
    for barrier in (shapely.LineString([(x + tol, Y0 - 100), (x + tol, y + 100)]),  # tol to the right of the contacts
                    shapely.LineString([(x - 500, y + tol), (x + 500, y + tol)]),   # tol above the corner
                    shapely.LineString([(x + tol + 1e-6, Y0 - 100), (x + tol + 1e-6, y + 100)])):  # just out of reach
        bars = np.array([barrier])
        fast = _overlay.barrier_separated(a, b, bars, contact_tol=tol, contact_share=0.5)
        ref = ref_barrier_separated(a, b, bars, contact_tol=tol, contact_share=0.5)
        np.testing.assert_array_equal(fast, ref)
    assert ref_barrier_separated(a[:1], b[:1], np.array([shapely.LineString([(x + tol, Y0), (x + tol, y + 100)])]),
                                 contact_tol=tol)[0]  # the case is real: a corner exactly tol away separates


def test_near_barriers_equals_brute_force_distance():
    parcels = voronoi_parcels(400, 6)
    barriers = random_barriers(parcels, 6)
    g = np.asarray(parcels.geometry.values, dtype=object)
    bp = _overlay.cut_barriers(barriers)
    assert len(bp.pieces) > 3 * len(barriers)
    for d in (0.0, 2.0, 10.0):
        brute = (shapely.distance(g[:, None], barriers[None, :]) <= d).any(axis=1)
        np.testing.assert_array_equal(_overlay.near_barriers(g, bp, d), brute)


def test_subdivide_covers_each_polygon_exactly_with_small_pieces():
    ring = shapely.Point(X0, Y0).buffer(500, quad_segs=300)
    holed = shapely.Polygon(shapely.get_exterior_ring(ring), [shapely.Point(X0 + 100, Y0).buffer(50).exterior.coords])
    multi = shapely.MultiPolygon([shapely.box(X0 + 600, Y0, X0 + 700, Y0 + 100), holed])
    pieces, owner = _overlay.subdivide(np.array([holed, multi]), max_vertices=40)
    assert shapely.get_num_coordinates(pieces).max() <= 40 and len(pieces) > 30
    assert shapely.is_valid(pieces).all() and set(np.unique(owner)) == {0, 1}
    for k, poly in enumerate((holed, multi)):
        mine = pieces[owner == k]
        assert shapely.area(mine).sum() == pytest.approx(poly.area, abs=1e-6)
        assert shapely.area(shapely.symmetric_difference(shapely.union_all(mine), poly)) < 1e-6
        i, j = shapely.STRtree(mine).query(mine, predicate="intersects")
        assert shapely.area(shapely.intersection(mine[i[i < j]], mine[j[i < j]])).sum() < 1e-6  # no overlaps


def test_halves_are_exact_where_vertices_lie_on_the_cut():
    # vertices on the middle of the box, where the cut falls: a notch whose tip touches it (GEOS clip_by_rect
    # returns an invalid polygon there) and a V (libgeos/geos#605: a wrong triangle for such contacts);
    # the cut moves off the vertex and the halves are exact
    notch = shapely.from_wkt("POLYGON ((0 0, 0 10, 40 10, 40 6, 25 6, 20 5, 25 4, 40 4, 40 0, 0 0))")
    assert not shapely.is_valid(shapely.clip_by_rect(notch, 20, -50, 90, 60))
    v = shapely.from_wkt("POLYGON ((10 0, 10 60, 50 20, 90 60, 90 0, 10 0))")
    polys = np.array([notch, v], dtype=object)
    halves = _overlay._halve(polys)
    for k, p in enumerate(polys):
        a, b = halves[k], halves[k + 2]
        assert shapely.is_valid(a) and shapely.is_valid(b)
        assert shapely.area(shapely.difference(a, p)) == 0 and shapely.area(shapely.difference(b, p)) == 0
        assert shapely.area(a) + shapely.area(b) == pytest.approx(p.area, rel=1e-12)
        assert shapely.area(shapely.intersection(a, b)) == 0


def test_halves_fall_back_to_exact_overlay_when_clipping_goes_wrong(monkeypatch):
    square = shapely.box(0, 0, 10, 10)
    monkeypatch.setattr(_overlay.shapely, "clip_by_rect", lambda g, *r: shapely.box(0, 0, 10, 10))  # wrong area
    halves = _overlay._halve(np.array([square], dtype=object))
    assert shapely.equals(halves[0], shapely.box(0, 0, 5, 10)) and shapely.equals(halves[1], shapely.box(5, 0, 10, 10))


def test_overlap_and_cut_equal_the_whole_parts_with_overlapping_constraints():
    parcels = voronoi_parcels(900, 7)
    g = parcels.geometry.values
    x0, y0, x1, y1 = parcels.total_bounds
    red = [shapely.Point(x0 + 300, y0 + 300).buffer(260, quad_segs=256),
           shapely.Point(x0 + 500, y0 + 400).buffer(200, quad_segs=256),  # overlaps the first
           shapely.box(x1 - 400, y0, x1, y1)]
    parts, ref_parts = _build._constraint_parts(red), ref_constraint_parts(red)
    assert len(parts) > 10 * len(ref_parts)
    fast, ref = _overlay.overlap_area(g, parts), ref_overlap_area(g, ref_parts)
    assert (ref > 0).sum() > 100 and (ref == shapely.area(g)).sum() > 10  # cut and wholly inside parcels
    np.testing.assert_allclose(fast, ref, rtol=0, atol=1e-6)
    outlines = shapely.buffer(g[::7], 30.0)
    diff = shapely.symmetric_difference(_overlay.cut(outlines, parts), ref_cut(outlines, ref_parts))
    assert shapely.area(diff).max() < 1e-6


# -- the PostGIS peer of the benchmarks does the same job --------------------------

@pytest.mark.postgis
@pytest.mark.parametrize(("seed", "gap"), [(1, 2.0), (3, 0.0)])
def test_postgis_peer_in_benchmarks_gives_the_same_sites(seed, gap):
    """benchmarks/_postgis_sites.py (the peer of bench_sites and bench_cli) partitions like build_sites."""
    from postgis import connect

    from benchmarks import _postgis_sites as pg_job

    parcels = voronoi_parcels(900, seed, exact_share=0.6)
    barriers = random_barriers(parcels, seed)
    red = shapely.buffer(shapely.Point(*parcels.total_bounds[:2] + 300), 250, quad_segs=200)
    res = S.build_sites(parcels, S.SiteParams(gap_m=gap, min_area_m2=0, absorb_enclaves=False,
                                                   split_streets=False), barriers=barriers,
                        constraints=[red])
    flagged = parcels[parcels["three_low"]].reset_index(drop=True)
    con = connect()
    schema = f"t_peer_{seed}_{uuid.uuid4().hex[:8]}"  # the job's fixed table names, apart from a parallel worker's
    try:
        con.execute(f"CREATE SCHEMA {schema}")
        con.execute(f"SET search_path TO {schema}, public")
        pg_job.load(con, flagged.geometry.values, barriers, [red])
        _, counts = pg_job.run_job(con, gap)
        rows = con.execute("SELECT c.k, c.cid, coalesce(l.lab, -1) FROM bs_cl c LEFT JOIN bs_lab l USING (k)").fetchall()
        pg_job.drop(con)
    finally:
        con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        con.close()
    groups: dict[tuple, set] = {}
    for k, cid, lab in rows:
        groups.setdefault((cid, lab), set()).add(flagged["parcel_id"][k])
    assert counts["separated"] > 10 and counts["sites"] == len(res.sites)
    assert {frozenset(v) for v in groups.values()} == partition(res)
    assert counts["kept"] == len(flagged) - len(res.excluded)
    assert counts["overlap_m2"] == pytest.approx(res.sites["constraint_overlap_m2"].sum(), abs=1e-6)


@pytest.mark.parametrize("k", [1, 2, 4])
def test_line_runs_cover_each_line_exactly(k):
    lines = np.array([shapely.LineString([(i, i % 3) for i in range(n)]) for n in (2, 3, 5, 6, 9, 40)], dtype=object)
    runs, owner = _overlay._line_runs(lines, k)
    assert shapely.get_num_coordinates(runs).max() <= k + 1
    for i, line in enumerate(lines):
        mine = runs[owner == i]
        assert shapely.length(mine).sum() == pytest.approx(line.length)
        assert shapely.equals(shapely.line_merge(shapely.union_all(mine)), line)


# -- edits ------------------------------------------------------------------------

def test_edits_in_place_equal_concatenating_and_sorting_on_the_sample_city(monkeypatch):
    """An edit replaces its sites' rows where they are and ranks by a stable sort of the scores (a 1M city's
    85k sites were taken and sorted twice per edit): the same table as the untouched rows and the new ones
    concatenated and sorted by id, ranked by (score, id), through removals, moves, emptied sites and drawn sites."""
    from geopandas.testing import assert_geodataframe_equal

    from planner.sites import edits as _edits

    parcels, barriers, constraints = classified_sample_city()
    res = S.build_sites(parcels, S.SiteParams(), barriers=barriers, constraints=constraints)
    ps = res.parcel_sites
    rng = np.random.default_rng(11)
    sizes = ps.groupby("site_id").size()
    small = sizes[sizes == 1].index.tolist()  # removing its parcel empties the site: dropped
    ops = []
    for sid in rng.choice(sizes[sizes >= 3].index, 6, replace=False):
        ops.append({"op": "remove", "site_id": sid, "parcel_ids": [ps.loc[ps["site_id"] == sid, "parcel_id"].iloc[1]]})
    if small:
        ops.append({"op": "remove", "site_id": small[0],
                    "parcel_ids": ps.loc[ps["site_id"] == small[0], "parcel_id"].tolist()})
    a, b = rng.choice(sizes[sizes >= 3].index, 2, replace=False)
    ops.append({"op": "add", "site_id": a, "parcel_ids": ps.loc[ps["site_id"] == b, "parcel_id"].iloc[:2].tolist()})
    x0, y0 = shapely.get_coordinates(res.sites.geometry.iloc[5].centroid)[0]
    ops.append({"op": "boundary", "wkt": shapely.box(x0 - 150, y0 - 150, x0 + 150, y0 + 150).wkt})  # a new site
    fast, used = res, []
    real = _edits._in_place
    monkeypatch.setattr(_edits, "_in_place", lambda *a: used.append(real(*a)) or used[-1])
    for op in ops:
        fast = S.apply_edits(fast, [op], parcels)
    assert sum(u is not None for u in used) >= len(ops) - 1  # the fast path ran (all but the drawn site)
    monkeypatch.setattr(_edits, "_in_place", lambda *a: None)  # concatenated and sorted, as before
    ref = res
    for op in ops:
        ref = S.apply_edits(ref, [op], parcels)
    assert_geodataframe_equal(fast.sites, ref.sites)
    pd.testing.assert_frame_equal(fast.parcel_sites, ref.parcel_sites)
    assert fast.sites["rank"].notna().sum() > 100
    # the ranks of a table in id order (a stable sort by score) equal those of (score, id) on a shuffled table
    tied = fast.sites.assign(land_area_m2=fast.sites["land_area_m2"].round(-3), compactness=0.5,
                             flagged_share=1.0, potential_floor_area_m2=0.0, floor_area_m2=0.0)  # many equal scores
    by_id = _build.rescore(tied, res.params)
    shuffled = _build.rescore(tied.sample(frac=1.0, random_state=3), res.params).sort_values("site_id")
    assert by_id["score"].duplicated().sum() > 50
    assert by_id["rank"].tolist() == shuffled["rank"].tolist()
