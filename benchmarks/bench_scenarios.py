"""Benchmark: scenarios over all sites of a 1M-parcel city, and a 3-scenario comparison.

Peers, timed in the same run:

* ``pyogrio.read_dataframe(parcels.gpkg, use_arrow=True)``: the raw read of
  the city's parcel layer (the cheapest way to get the parcels in memory);
  every time is also given as a ratio to it.
* a naive per-site Python loop (``DataFrame.itertuples``) computing the same
  floor-area ledger and timeline, to show what vectorizing buys.

Sites: by default a synthetic site table of the size the sample city's ratio
gives (20,000 parcels -> 1,578 sites, so about 79,000 sites for 1M parcels,
half of them "ok"), with box geometries of 1-30 ha (log-normal, median
2.8 ha like the sample city). ``--pipeline`` instead runs
``planner.classify`` and ``planner.sites.build_sites`` on the parcels (slow
for 1M parcels) and times the scenario on the real sites.

Usage::

    python benchmarks/bench_scenarios.py [--parcels 1000000] [--pipeline] [--reports]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from planner.scenarios import run, scenario_from_dict
from planner.scenarios.comparison import compare
from planner.scenarios.templates import builtin_templates

OUT = Path(__file__).resolve().parent / "out"
SITES_PER_PARCEL = 1578 / 20_000  # sample city: 20,000 parcels -> 1,578 sites


def parcels_file(n: int, *, realistic: bool = False) -> Path:
    """A cached N-parcel GeoPackage (reuses bench_classify's files when present).

    ``realistic``: the sample-city file (``bench_classify.py --sample``), whose
    contiguous low performers form real sites; built here when missing.
    """
    OUT.mkdir(exist_ok=True)
    if realistic:
        city = OUT / f"classify_sample_{n}.gpkg"
        if not city.exists():
            from planner.sample import build_city

            pyogrio.write_dataframe(build_city(n).parcels, city, layer="parcels", driver="GPKG", use_arrow=True)
        return city
    other = OUT / f"classify_synthetic_{n}.gpkg"
    if other.exists():
        return other
    p = OUT / f"scenarios_parcels_{n}.gpkg"
    if p.exists():
        return p
    rng = np.random.default_rng(0)
    side = int(np.ceil(np.sqrt(n)))
    i = np.arange(n)
    x0 = 400_000 + (i % side) * 80.0
    y0 = 2_700_000 + (i // side) * 80.0
    w, h = rng.uniform(30, 75, n), rng.uniform(30, 75, n)
    land = w * h
    g = gpd.GeoDataFrame({"parcel_id": [f"P{k:07d}" for k in i], "land_area_m2": land,
                          "floor_area_m2": land * rng.lognormal(np.log(0.95), 0.45, n),
                          "tax_cny": land / 666.67 * rng.lognormal(np.log(50_000), 0.8, n),
                          "land_use": "industrial"},
                         geometry=shapely.box(x0, y0, x0 + w, y0 + h), crs="EPSG:4549")
    pyogrio.write_dataframe(g, p, layer="parcels", driver="GPKG")
    return p


def synthetic_sites(n_sites: int, seed: int = 1) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    land = np.clip(rng.lognormal(np.log(28_000), 0.9, n_sites), 10_000, 300_000)
    side = int(np.ceil(np.sqrt(n_sites)))
    i = np.arange(n_sites)
    cx, cy = 400_000 + (i % side) * 700.0, 2_700_000 + (i // side) * 700.0
    half = np.sqrt(land) / 2
    status = np.where(rng.random(n_sites) < 0.51, "ok", "too_small")
    ok = status == "ok"
    rank = np.full(n_sites, np.nan)
    rank[ok] = rng.permutation(ok.sum()) + 1
    return gpd.GeoDataFrame({
        "site_id": [f"S{k:06d}" for k in i], "status": status, "rank": rank,
        "n_parcels": rng.integers(2, 60, n_sites), "land_area_m2": land,
        "floor_area_m2": land * rng.uniform(0.3, 1.0, n_sites),
        "tax_cny": land / 666.67 * rng.lognormal(np.log(30_000), 0.6, n_sites),
    }, geometry=shapely.box(cx - half, cy - half, cx + half, cy + half), crs="EPSG:4549")


def pipeline_sites(path: Path) -> gpd.GeoDataFrame:
    from planner import schema
    from planner.classify import classify
    from planner.classify.policy import default_policy
    from planner.sites import SiteParams, build_sites

    parcels = schema.conform(pyogrio.read_dataframe(path, use_arrow=True))
    flagged = classify(parcels, default_policy())
    return build_sites(flagged, SiteParams()).sites


def naive_ledger(sites: pd.DataFrame, per_year: int, years: int) -> pd.DataFrame:
    """The same ledger and timeline, one site and one year at a time (the peer)."""
    t = builtin_templates()["standard_factory"]
    sel = sites[sites["status"] == "ok"].sort_values(["rank", "site_id"])
    tl = {}
    rows = []
    for k, s in enumerate(sel.itertuples()):
        new = max(s.land_area_m2 * t.target_plot_ratio, 0.0)
        leas = new * (1 - t.support_floor_share)
        occ = leas * t.absorption[-1]
        inv = new * t.all_in_cost_per_m2
        start = 2026 + k // per_year
        ws = start + t.planning_months / 12
        dl = ws + t.construction_months / 12
        rows.append((s.site_id, new, leas, occ, occ / t.m2_per_enterprise, inv, occ * t.rent_per_m2_month * 12))
        for y in range(2026, 2026 + years):
            frac = max(min(y + 1, dl) - max(y, ws), 0) / (dl - ws)
            kk = y - int(np.floor(dl))
            share = t.absorption[min(kk, len(t.absorption) - 1)] if kk >= 0 else 0.0
            d = tl.setdefault(y, [0.0, 0.0])
            d[0] += inv * frac
            d[1] += leas * share
    return pd.DataFrame(rows, columns=["site_id", "new", "leasable", "occupied", "ent", "inv", "rent"])


def timed(f, *a, **kw):
    t0 = time.perf_counter()
    out = f(*a, **kw)
    return out, time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--parcels", type=int, default=1_000_000)
    ap.add_argument("--pipeline", action="store_true", help="build the sites with planner.classify + planner.sites")
    ap.add_argument("--reports", action="store_true", help="also time the HTML report and the Excel export")
    args = ap.parse_args(argv)

    path = parcels_file(args.parcels, realistic=args.pipeline)
    parcels, t_read = timed(pyogrio.read_dataframe, path, use_arrow=True)
    n_parcels = len(parcels)
    del parcels
    if args.pipeline:
        sites, t_sites = timed(pipeline_sites, path)
        src = f"planner.sites on {path.name} ({t_sites:.1f} s)"
    else:
        sites = synthetic_sites(int(round(args.parcels * SITES_PER_PARCEL)))
        src = "synthetic (sample-city ratio of sites to parcels)"
    n_ok = int((sites["status"] == "ok").sum())

    # phased over about 20 years, as a city programme would be
    per_year = max(1, n_ok // 20)
    std = scenario_from_dict({"name": "std_all", "sites_per_year": per_year})
    budget = float(sites.loc[sites["status"] == "ok", "land_area_m2"].sum() * 3.5 * 3400 / 20)
    up = scenario_from_dict({"name": "up_all", "template": "multi_storey", "budget_per_year": budget})
    top = scenario_from_dict({"name": "top500", "sites": {"top": 500}, "existing": "retain"})
    run(sites.head(50), std)  # warm-up (imports, template files)
    r1, t_run = timed(run, sites, std)

    def three():
        return compare([run(sites, std), run(sites, up), run(sites, top)])

    cmp, t_cmp = timed(three)
    _, t_naive = timed(naive_ledger, sites, per_year, len(r1.timeline))
    assert np.isclose(r1.totals["new_floor_m2"], sites.loc[sites["status"] == "ok", "land_area_m2"].sum() * 2.5)

    rows = [("raw pyogrio read of the parcels (peer)", t_read),
            (f"scenario over all {n_ok:,} ok sites (ours)", t_run),
            ("3 scenarios + comparison (ours)", t_cmp),
            ("naive per-site loop, ledger + timeline (peer)", t_naive)]
    if args.reports:
        from planner.report import compare_to_excel, html_report, to_excel

        with tempfile.TemporaryDirectory() as d:
            rows.append(("HTML report incl. map (ours)", timed(html_report, r1)[1]))
            rows.append(("Excel workbook, one scenario (ours)", timed(to_excel, r1, Path(d) / "r.xlsx")[1]))
            rows.append(("Excel workbook, comparison (ours)", timed(compare_to_excel, cmp, Path(d) / "c.xlsx")[1]))

    print(f"\nbench_scenarios  parcels={n_parcels:,}  sites={len(sites):,} ({n_ok:,} ok)  cpus={os.cpu_count()}")
    print(f"sites: {src}")
    print(f"{'step':<48} {'time s':>8} {'x read':>8}")
    for name, t in rows:
        print(f"{name:<48} {t:8.3f} {t / t_read:8.3f}")
    print(f"vectorized run is {t_naive / t_run:.1f}x faster than the naive per-site loop "
          f"({len(r1.timeline)} timeline years, {per_year:,} site starts a year)")
    print(f"totals std_all: new floor {r1.totals['new_floor_m2'] / 1e6:,.1f} M m², "
          f"investment {r1.totals['investment_cny'] / 1e9:,.0f} bn yuan, "
          f"{len(r1.timeline)} timeline years")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
