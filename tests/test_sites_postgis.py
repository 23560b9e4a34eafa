"""Equivalence with PostGIS: with no barriers or constraints, sites = ST_ClusterDBSCAN(eps := gap, minpoints := 1)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from postgis import pg  # noqa: F401  (fixture)

from planner import sites as S

pytestmark = pytest.mark.postgis


def irregular_parcels(n: int, gap: float, seed: int) -> gpd.GeoDataFrame:
    """About ``n`` irregular parcels (Voronoi cells shrunk by random amounts): gaps scatter around ``gap``."""
    rng = np.random.default_rng(seed)
    side = np.sqrt(n) * 40.0
    pts = shapely.multipoints(rng.uniform(0, side, (n, 2)))
    cells = shapely.get_parts(shapely.voronoi_polygons(pts, extend_to=shapely.box(0, 0, side, side)))
    cells = shapely.intersection(cells, shapely.box(0, 0, side, side))
    # shrinking two neighbours by d1 and d2 leaves a gap d1 + d2, here within [0.6, 1.6] * gap,
    # so about half the neighbour pairs are within eps; 10% of cells are not shrunk (exact contacts)
    shrink = rng.uniform(0.3 * gap, 0.8 * gap, len(cells))
    shrink[rng.random(len(cells)) < 0.1] = 0.0
    geoms = shapely.buffer(cells, -shrink, join_style="mitre")
    geoms = geoms[~shapely.is_empty(geoms)]
    flagged = rng.random(len(geoms)) < 0.6
    return gpd.GeoDataFrame({"parcel_id": [f"q{k}" for k in range(len(geoms))], "three_low": flagged},
                            geometry=shapely.transform(geoms, lambda c: c + [500_000, 2_740_000]), crs="EPSG:4549")


def postgis_partition(con, parcels: gpd.GeoDataFrame, eps: float) -> set[frozenset]:
    con.execute("DROP TABLE IF EXISTS sites_eq")
    con.execute("CREATE TEMP TABLE sites_eq (parcel_id text, geom geometry(Polygon, 4549))")
    f = parcels[parcels["three_low"]]
    with con.cursor() as cur:
        cur.executemany("INSERT INTO sites_eq VALUES (%s, ST_GeomFromWKB(%s, 4549))",
                        list(zip(f["parcel_id"], shapely.to_wkb(f.geometry.values), strict=True)))
    rows = con.execute("SELECT parcel_id, ST_ClusterDBSCAN(geom, eps := %s, minpoints := 1) OVER () FROM sites_eq",
                       (eps,)).fetchall()
    groups: dict[int, set] = {}
    for pid, cid in rows:
        groups.setdefault(cid, set()).add(pid)
    return {frozenset(v) for v in groups.values()}


@pytest.mark.parametrize(("gap", "seed"), [(2.0, 1), (5.0, 2), (0.0, 3)])
def test_partition_equals_st_clusterdbscan(pg, gap, seed):  # noqa: F811
    parcels = irregular_parcels(400, max(gap, 2.0), seed)
    res = S.build_sites(parcels, S.SiteParams(gap_m=gap, min_area_m2=0, absorb_enclaves=False,
                                                 split_streets=False))  # PostGIS: no street splitting
    ps = res.parcel_sites
    ours = {frozenset(v) for v in ps.groupby("site_id")["parcel_id"].apply(set)}
    theirs = postgis_partition(pg, parcels, gap)
    n_flagged = int(parcels["three_low"].sum())
    assert sum(map(len, ours)) == n_flagged
    assert 5 < len(ours) < n_flagged  # a non-trivial partition: neither one blob nor all singletons
    assert ours == theirs
