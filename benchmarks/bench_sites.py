"""Benchmark: contiguous sites (planner.sites.build_sites) vs PostGIS ST_ClusterDBSCAN and naive GeoPandas.

Usage::

    python benchmarks/bench_sites.py [--parcels N ...] [--gap M] [--no-naive] [--sample]
    python benchmarks/bench_sites.py --layers [--parcels N ...] [--repeat R]

Parcels: by default a synthetic cadastre (jittered quadrilateral grid, so
neighbours share edges like real parcels; ~35% shrunk by 0.1-1.5 m to leave
gaps around the 2 m tolerance, ``--gaps 0`` for a clean coverage; ~25%
flagged, clustered in blocks). With
``--sample`` the sample city of ``planner.sample.build_city`` is used, flagged
with the same clustered rule (its classification is not part of this stage).

Timed, in the same run on the same flagged parcels:

* ours: ``build_sites`` with default parameters (adjacency, components,
  enclave absorption, outlines, metrics, score);
* PostGIS: ``CREATE INDEX ... USING gist`` + ``ST_ClusterDBSCAN(geom, eps,
  minpoints := 1) OVER ()`` materialized into a table (the table is loaded
  with COPY beforehand, not timed); needs PLANNER_PG_DSN or
  ``postgresql://postgres@localhost/planner_test``;
* naive GeoPandas: ``buffer(gap/2).dissolve().explode()`` (clusters only);
* ours, clusters only: ``planner.sites.graph.neighbour_components`` (shared
  vertices + grid-hashed bounding-box pairs + exact ``dwithin`` on the pairs
  not yet connected, scipy connected components), the like-for-like
  counterpart of ST_ClusterDBSCAN.

Each timed step runs ``--repeat`` times (default 3) and the best time is
kept, on both sides: PostGIS drops and rebuilds its index and output table
every time. Our code uses both cores of the machine where it can (GEOS calls
in two threads); PostGIS's window function runs in one backend process.

Peak memory: ``resource.getrusage`` maximum RSS of this process right after
ours (it includes the generated input).

The table gives three ratios (higher = ours faster):

* clustering: PostGIS index + ``ST_ClusterDBSCAN`` vs our clustering alone
  (the same job: a cluster id per parcel);
* sites: PostGIS index + clusters + ``ST_Union`` per cluster + area and
  perimeter vs our full ``build_sites`` (the same job and more: we also close
  gaps, absorb enclaves, compute metrics and ranks);
* full vs clustering: PostGIS clustering alone vs our full ``build_sites``
  (not the same job; shown so nothing is hidden).

``--layers``: the default path, as ``planner sites`` runs it. The sample
city from ``planner sample-data`` (cached, see ``benchmarks/_city.py``),
classified by the default policy, with its arterial roads, rivers, railways,
ecological red line and farmland. Rounds are interleaved (ours with barriers
and constraints, ours without, PostGIS) and the best of each is kept:

* ours: ``build_sites`` with barriers and constraints, and the time of each
  of its steps (from its progress messages);
* ours without barriers and constraints (the same build otherwise);
* PostGIS doing the same job (``benchmarks/_postgis_sites.py``: clusters,
  pairs split by barriers, protected land cut out, ``ST_Union`` per site,
  area and perimeter; checked to give our partition in
  ``tests/test_sites_speed_paths.py``).

Targets (issue 18) at 1M: the default build at least 1.5x faster than
PostGIS, and at most 1.5x the build without barriers and constraints.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import sys
import time

import _city  # benchmarks/ helpers (the script's folder is on sys.path)
import _postgis_sites
import geopandas as gpd
import numpy as np
import shapely

from planner import sites as S


def synthetic(n: int, seed: int = 7, cell: float = 40.0, gaps: float = 0.35) -> gpd.GeoDataFrame:
    """About ``n`` irregular quadrilateral parcels tiling a plane, ~25% flagged in clusters.

    A share ``gaps`` of the parcels is shrunk by 0.1-1.5 m (slivers and lanes
    around the gap tolerance); with ``gaps=0`` the parcels form a clean coverage.
    """
    rng = np.random.default_rng(seed)
    nx = int(np.ceil(np.sqrt(n)))
    ny = int(np.ceil(n / nx))
    cx, cy = np.meshgrid(np.arange(nx + 1) * cell, np.arange(ny + 1) * cell, indexing="ij")
    cx = cx + rng.uniform(-0.3, 0.3, cx.shape) * cell
    cy = cy + rng.uniform(-0.3, 0.3, cy.shape) * cell
    i, j = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
    i, j = i.ravel()[:n], j.ravel()[:n]
    ring = np.stack([np.stack([cx[i, j], cy[i, j]], -1), np.stack([cx[i + 1, j], cy[i + 1, j]], -1),
                     np.stack([cx[i + 1, j + 1], cy[i + 1, j + 1]], -1), np.stack([cx[i, j + 1], cy[i, j + 1]], -1),
                     np.stack([cx[i, j], cy[i, j]], -1)], axis=1)
    geoms = shapely.polygons(ring + [500_000.0, 2_700_000.0])
    shrink = rng.random(n) < gaps
    geoms[shrink] = shapely.buffer(geoms[shrink], -rng.uniform(0.1, 1.5, int(shrink.sum())), join_style="mitre")
    flagged = clustered_flags(i, j, rng)
    return gpd.GeoDataFrame({"parcel_id": np.char.add("P", np.arange(n).astype(str)).astype(object),
                             "three_low": flagged, "land_area_m2": shapely.area(geoms),
                             "floor_area_m2": shapely.area(geoms) * rng.uniform(0.2, 1.5, n),
                             "owner": rng.integers(0, n // 3 + 1, n).astype(str).astype(object),
                             "upgrade_class": np.where(rng.random(n) < 0.1, "retain", "upgrade")},
                            geometry=geoms, crs="EPSG:4549")


def clustered_flags(i: np.ndarray, j: np.ndarray, rng: np.random.Generator, block: int = 8) -> np.ndarray:
    """~25% flagged: blocks of ``block`` x ``block`` cells are 'low' districts (45% of blocks, 55% flagged in them)."""
    bi, bj = i // block, j // block
    hot = rng.random((bi.max() + 1, bj.max() + 1)) < 0.45
    return hot[bi, bj] & (rng.random(len(i)) < 0.55)


def from_sample(n: int) -> gpd.GeoDataFrame:
    from planner.sample import build_city

    city = build_city(n)
    parcels = city.parcels.reset_index(drop=True)
    c = shapely.centroid(parcels.geometry.values)
    x, y = shapely.get_x(c), shapely.get_y(c)
    i = ((x - x.min()) // 40).astype(int)
    j = ((y - y.min()) // 40).astype(int)
    parcels["three_low"] = clustered_flags(i, j, np.random.default_rng(7))
    return parcels


def best(repeat, fn, *args):
    """Best wall time of ``repeat`` calls of ``fn(*args)`` (which returns its own time first), the last result."""
    runs = [fn(*args) for _ in range(max(repeat, 1))]
    return (min(r[0] for r in runs), *runs[-1][1:])


def run_ours(parcels, gap):
    t = time.perf_counter()
    res = S.build_sites(parcels, S.SiteParams(gap_m=gap))
    dt = time.perf_counter() - t
    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    return dt, res, rss_gb


def run_ours_clusters(flagged, gap):
    """Only what ST_ClusterDBSCAN does: the components of the "within gap" graph (as build_sites does it)."""
    from planner.sites import graph as _graph

    g = np.asarray(flagged.geometry.values, dtype=object)
    t = time.perf_counter()
    labels = _graph.neighbour_components(g, gap)[0]
    return time.perf_counter() - t, int(labels.max()) + 1


def run_postgis(flagged, gap, repeat=1):
    """(clustering s, clusters, note, clustering + union s), best of ``repeat`` for each query."""
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
    import psycopg

    dsn = os.environ.get("PLANNER_PG_DSN", "postgresql://postgres@localhost/planner_test")
    try:
        con = psycopg.connect(dsn, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        return None, None, f"PostGIS unavailable ({str(exc).splitlines()[0]})", None
    con.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    con.execute("DROP TABLE IF EXISTS bench_sites, bench_sites_out")
    con.execute("CREATE UNLOGGED TABLE bench_sites (k integer, geom geometry(Geometry, 4549))")
    wkb = shapely.to_wkb(shapely.set_srid(flagged.geometry.values, 4549), hex=True, include_srid=True)
    buf = io.StringIO("".join(f"{k}\t{w}\n" for k, w in enumerate(wkb)))
    with con.cursor() as cur, cur.copy("COPY bench_sites (k, geom) FROM STDIN") as cp:
        while chunk := buf.read(1 << 20):
            cp.write(chunk)
    con.execute("VACUUM ANALYZE bench_sites")
    clusters = ("CREATE UNLOGGED TABLE bench_sites_out AS SELECT k, "
                f"ST_ClusterDBSCAN(geom, eps := {float(gap)}, minpoints := 1) OVER () AS cid FROM bench_sites")
    # like for like with our full build_sites: clusters dissolved into site polygons with area and
    # perimeter (compactness)
    sites = ("CREATE UNLOGGED TABLE bench_sites_out AS SELECT cid, u AS geom, ST_Area(u) AS area, "
             "ST_Perimeter(u) AS perimeter FROM (SELECT cid, ST_Union(geom) AS u FROM (SELECT geom, "
             f"ST_ClusterDBSCAN(geom, eps := {float(gap)}, minpoints := 1) OVER () AS cid FROM bench_sites) c "
             "GROUP BY cid) q")

    def timed(sql):
        con.execute("DROP TABLE IF EXISTS bench_sites_out")
        con.execute("DROP INDEX IF EXISTS bench_sites_gix")
        t = time.perf_counter()
        con.execute("CREATE INDEX bench_sites_gix ON bench_sites USING gist (geom)")
        con.execute(sql)
        return (time.perf_counter() - t,)

    dt = best(repeat, timed, clusters)[0]
    (n_clusters,) = con.execute("SELECT count(DISTINCT cid) FROM bench_sites_out").fetchone()
    dt_full = best(repeat, timed, sites)[0]
    con.execute("DROP TABLE IF EXISTS bench_sites, bench_sites_out")
    con.close()
    return dt, int(n_clusters), "", dt_full


def run_naive(flagged, gap):
    t = time.perf_counter()
    blobs = gpd.GeoDataFrame(geometry=flagged.buffer(gap / 2), crs=flagged.crs).dissolve().explode(index_parts=False)
    return time.perf_counter() - t, len(blobs)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parcels", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--gap", type=float, default=2.0)
    ap.add_argument("--gaps", type=float, default=0.35,
                    help="share of synthetic parcels shrunk to leave slivers (0 = clean coverage)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per timed step, best kept (both sides)")
    ap.add_argument("--no-naive", action="store_true", help="skip the naive GeoPandas peer")
    ap.add_argument("--no-postgis", action="store_true", help="skip the PostGIS peer")
    ap.add_argument("--sample", action="store_true", help="use planner.sample.build_city instead of the synthetic grid")
    ap.add_argument("--layers", action="store_true",
                    help="the default path: sample city from `planner sample-data` with barriers and constraints")
    args = ap.parse_args(argv)
    if args.layers:
        return main_layers(args)
    rows = []
    for n in args.parcels:
        parcels = from_sample(n) if args.sample else synthetic(n, gaps=args.gaps)
        flagged = parcels[parcels["three_low"]]
        ours, res, rss = best(args.repeat, run_ours, parcels, args.gap)
        cl_t, _ = best(args.repeat, run_ours_clusters, flagged, args.gap)
        pg_t, pg_n, note, pg_full = ((None, None, "PostGIS skipped", None) if args.no_postgis
                                     else run_postgis(flagged, args.gap, args.repeat))
        nv_t, nv_n = (None, None) if args.no_naive else run_naive(flagged, args.gap)
        rows.append(dict(n=n, nf=len(flagged), sites=len(res.sites), ours=ours, rss=rss, cl=cl_t, pg=pg_t, pg_n=pg_n,
                         pg_full=pg_full, nv=nv_t, nv_n=nv_n, note=note))
        del parcels, flagged, res

    def f(v, fmt="{:.2f}"):
        return "-" if v is None else fmt.format(v)

    def ratio(a, b):
        return f(a / b if a and b else None, "{:.2f}x")

    src = "planner.sample.build_city" if args.sample else f"synthetic jittered grid, {args.gaps:.0%} shrunk"
    print(f"\nbench_sites  gap={args.gap} m  parcels: {src}  cpus={os.cpu_count()}  best of {args.repeat}")
    print("\ntimes (s)")
    print(f"{'parcels':>9} {'flagged':>8} {'sites':>7} {'PG clusters':>11} | {'PostGIS clustering':>18} "
          f"{'ours clustering':>15} | {'PostGIS cluster+union':>21} {'ours build_sites':>16} {'peak GB':>7} | "
          f"{'naive GeoPandas':>15}")
    for r in rows:
        print(f"{r['n']:>9,} {r['nf']:>8,} {r['sites']:>7,} {f(r['pg_n'], '{:,}'):>11} | {f(r['pg']):>18} "
              f"{r['cl']:>15.2f} | {f(r['pg_full']):>21} {r['ours']:>16.2f} {r['rss']:>7.2f} | {f(r['nv']):>15} "
              f"{r['note']}")
    print("\nratios (peer time / our time; > 1 means ours is faster)")
    print(f"{'parcels':>9} {'clustering vs ST_ClusterDBSCAN':>30} {'sites vs cluster+ST_Union':>25} "
          f"{'naive/ours':>10} {'build_sites vs bare ST_ClusterDBSCAN':>36}")
    for r in rows:
        print(f"{r['n']:>9,} {ratio(r['pg'], r['cl']):>30} {ratio(r['pg_full'], r['ours']):>25} "
              f"{ratio(r['nv'], r['ours']):>10} {ratio(r['pg'], r['ours']):>36}")
    print("(clustering: the same job on both sides. sites: PostGIS clusters dissolved with ST_Union, area and "
          "perimeter vs our full build_sites, which also closes gaps, absorbs enclaves, scores and ranks. "
          "The last column compares our whole build with PostGIS clustering alone, not the same job.)")
    print("(PostGIS clusters should equal our sites; naive blobs may differ where buffers of gap/2 merge "
          "parcels just over the gap at corners)")
    return 0


# -- the default path: barriers and constraints on ---------------------------------

def _step(message: str) -> str:
    """A step's name from a progress message of build_sites ("adjacency of 1,234 flagged parcels" -> "adjacency")."""
    return "adjacency" if message.startswith("adjacency") else message


def run_ours_steps(parcels, params, barriers, constraints):
    """Wall time of ``build_sites`` and of each of its steps (between its progress messages)."""
    marks = []
    t0 = time.perf_counter()
    res = S.build_sites(parcels, params, barriers=barriers, constraints=constraints,
                        progress=lambda m: marks.append((time.perf_counter(), _step(m))))
    t1 = time.perf_counter()
    steps, prev, name = {}, t0, "checks"
    for t, m in [*marks, (t1, "end")]:
        steps[name] = steps.get(name, 0.0) + t - prev
        prev, name = t, m
    return t1 - t0, res, steps


def main_layers(args) -> int:
    params = S.SiteParams(gap_m=args.gap)
    rows = []
    for n in args.parcels:
        parcels, barriers, constraints = _city.classified_city(n)
        flagged = parcels[parcels["three_low"]]
        con, note = (None, "PostGIS skipped") if args.no_postgis else _postgis_sites.connect()
        if con is not None:
            _postgis_sites.load(con, flagged.geometry.values, barriers.geometry.values, constraints.geometry.values)
        best = {"on": None, "off": None, "pg": None}
        for r in range(max(args.repeat, 1)):  # interleaved rounds; ours on and off in turns first
            for on in ((True, False) if r % 2 == 0 else (False, True)):
                if on:
                    dt, res, steps = run_ours_steps(parcels, params, barriers, constraints)
                    if best["on"] is None or dt < best["on"][0]:
                        best["on"] = (dt, len(res.sites), len(res.excluded), steps)
                else:
                    dt, res_off, _ = run_ours_steps(parcels, params, None, None)
                    best["off"] = min(best["off"] or (dt, len(res_off.sites)), (dt, len(res_off.sites)))
            if con is not None:
                dt, counts = _postgis_sites.run_job(con, args.gap, exclude_share=params.constraint_exclude_share,
                                                    contact_tol=params.barrier_contact_tol_m,
                                                    contact_share=params.barrier_contact_share)
                best["pg"] = min(best["pg"] or (dt, counts), (dt, counts), key=lambda x: x[0])
        if con is not None:
            _postgis_sites.drop(con)
            con.close()
        rows.append(dict(n=n, nf=len(flagged), nb=len(barriers), nc=len(constraints), best=best, note=note,
                         load=_city.load_avg()))
        del parcels, flagged, res, res_off

    print(f"\nbench_sites --layers  gap={args.gap} m  sample city from `planner sample-data`, default policy, "
          f"barriers and constraints on  cpus={os.cpu_count()}  best of {args.repeat} interleaved rounds")
    for r in rows:
        on, off, pg = r["best"]["on"], r["best"]["off"], r["best"]["pg"]
        print(f"\n{r['n']:,} parcels, {r['nf']:,} flagged, {r['nb']} barriers, {r['nc']} constraint polygons "
              f"({r['load']} after the run)")
        print(f"  ours, barriers and constraints on  {on[0]:7.2f} s   {on[1]:,} sites, {on[2]:,} parcels excluded")
        print(f"  ours, barriers and constraints off {off[0]:7.2f} s   {off[1]:,} sites   "
              f"on/off {on[0] / off[0]:.2f}x (target <= 1.5x)")
        if pg is not None:
            c = pg[1]
            print(f"  PostGIS, the same job              {pg[0]:7.2f} s   {c['sites']:,} sites (no enclaves), "
                  f"{r['nf'] - c['kept']:,} excluded, {c['separated']:,} pairs split by barriers   "
                  f"PostGIS/ours {pg[0] / on[0]:.2f}x (target >= 1.5x)")
        else:
            print(f"  PostGIS: {r['note']}")
        total = sum(on[3].values())
        print("  our steps (best on-run): " + ", ".join(f"{k} {v:.2f} s ({v / total:.0%})" for k, v in on[3].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
