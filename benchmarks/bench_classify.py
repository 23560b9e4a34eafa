"""Benchmark: three-low classification and the sensitivity curve vs. a raw GeoPackage read.

Peer: ``pyogrio.read_dataframe(path, use_arrow=True)`` of the same N-parcel
GeoPackage (the cheapest way to get the parcels into memory at all). Targets
(issue 4): classify (indicators + flags + reasons) <= 0.5x the raw read;
a 100-threshold sensitivity curve <= 0.2x the raw read.

The GeoPackage is cached in ``benchmarks/out/``. By default it holds random box
parcels with realistic attributes (generated here); ``--sample`` uses
``planner.sample.build_city`` instead (slow to build for 1M parcels).

Usage::

    python benchmarks/bench_classify.py [--parcels 1000000] [--sample] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from planner.classify import classify, evaluate
from planner.classify.policy import default_policy, from_dict, policy_to_dict
from planner.classify.sensitivity import threshold_curve

OUT = Path(__file__).resolve().parent / "out"


def synthetic(n: int, seed: int = 0) -> gpd.GeoDataFrame:
    """``n`` box parcels on a jittered grid with attributes like the sample city's."""
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(n)))
    i = np.arange(n)
    x0 = 400_000 + (i % side) * 80.0
    y0 = 2_700_000 + (i // side) * 80.0
    w = rng.uniform(30, 75, n)
    h = rng.uniform(30, 75, n)
    geoms = shapely.box(x0, y0, x0 + w, y0 + h)
    land = w * h
    lu = rng.choice(np.array(["industrial", "warehouse", "residential", "commercial", "green"]), n,
                    p=[0.7, 0.05, 0.12, 0.06, 0.07])
    pr = rng.lognormal(np.log(0.95), 0.45, n)
    tax_mu = rng.lognormal(np.log(50_000), 0.8, n)
    out_mu = tax_mu * rng.lognormal(np.log(15), 0.3, n)

    def maybe(x, p):
        return np.where(rng.random(n) < p, np.nan, x)

    df = pd.DataFrame({
        "parcel_id": pd.array(np.char.add("P", i.astype(str)), dtype="string"),
        "land_area_m2": land,
        "floor_area_m2": maybe(pr * land, 0.02),
        "footprint_m2": maybe(land * rng.uniform(0.15, 0.6, n), 0.05),
        "land_use_code": pd.array(np.full(n, "1001"), dtype="string"),
        "land_use": pd.array(lu, dtype="string"),
        "industry": pd.array(rng.choice(np.array(["17", "18", "19", "29", "33", "39"]), n), dtype="string"),
        "output_cny": maybe(out_mu * land / 666.67, 0.05),
        "tax_cny": maybe(tax_mu * land / 666.67, 0.04),
        "employees": maybe(rng.poisson(40, n).astype(float), 0.1),
        "status": pd.array(rng.choice(np.array(["in_use", "idle", "vacant", "stopped", "half_stopped"]), n,
                                      p=[0.95, 0.01, 0.01, 0.015, 0.015]), dtype="string"),
        "year_built": np.round(rng.uniform(1985, 2022, n)),
        "zone_far_max": rng.choice(np.array([1.5, 2.0, 2.5, 3.0]), n),
    })
    return gpd.GeoDataFrame(df, geometry=geoms, crs="EPSG:4549")


def dataset(n: int, sample: bool) -> tuple[Path, str]:
    OUT.mkdir(exist_ok=True)
    kind = "sample" if sample else "synthetic"
    path = OUT / f"classify_{kind}_{n}.gpkg"
    if not path.exists():
        t = time.perf_counter()
        if sample:
            from planner.sample import build_city

            gdf = build_city(n).parcels
        else:
            gdf = synthetic(n)
        pyogrio.write_dataframe(gdf, path, layer="parcels", driver="GPKG")
        print(f"built {path.name} in {time.perf_counter() - t:.1f}s")
    return path, ("planner.sample.build_city" if sample else "synthetic random boxes (fallback generator)")


def best(fn, repeat: int) -> tuple[float, object]:
    times, res = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        res = fn()
        times.append(time.perf_counter() - t)
    return min(times), res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parcels", type=int, default=1_000_000)
    ap.add_argument("--sample", action="store_true", help="use planner.sample.build_city parcels")
    ap.add_argument("--repeat", type=int, default=3, help="best of N runs (default 3)")
    args = ap.parse_args()
    path, source = dataset(args.parcels, args.sample)
    policy = default_policy()

    t_read, parcels = best(lambda: pyogrio.read_dataframe(path, use_arrow=True), args.repeat)
    for c in ("land_use", "industry", "status", "parcel_id"):  # as the workspace store returns them
        if c in parcels.columns:
            parcels[c] = parcels[c].astype("string")
    t_cls, flagged = best(lambda: classify(parcels, policy), args.repeat)
    no_grade = from_dict({**policy_to_dict(policy), "grade": {**policy_to_dict(policy)["grade"], "enabled": False}})
    t_cls_ng, _ = best(lambda: classify(parcels, no_grade), args.repeat)
    t_eval, ev = best(lambda: evaluate(parcels, policy), args.repeat)
    t_curve, curve = best(lambda: threshold_curve(None, policy, "utilization", 0, steps=100, evaluation=ev),
                          args.repeat)
    t_curve_full, _ = best(lambda: threshold_curve(parcels, policy, "utilization", 0, steps=100), args.repeat)
    # naive peer for the curve: re-running the flag evaluation per threshold (timed on 5 steps, scaled to 100)

    def naive(steps=5):
        d = policy_to_dict(policy)
        for t in np.linspace(0.2, 2.0, steps):
            d["criteria"]["utilization"]["rules"][0]["threshold"] = float(t)
            evaluate(parcels, from_dict(d))
    t_naive5, _ = best(naive, 1)
    t_naive = t_naive5 * 20

    n = len(parcels)
    rows = [
        ("raw pyogrio.read_dataframe(use_arrow=True)", t_read, "peer", 1.0, ""),
        ("classify (indicators+flags+reasons, grade off)", t_cls_ng, "raw read", t_cls_ng / t_read, "<= 0.5"),
        ("classify, full (+ upgrade class + A-D grade)", t_cls, "raw read", t_cls / t_read, ""),
        ("sensitivity curve, 100 thresholds (cached evaluation)", t_curve, "raw read", t_curve / t_read, "<= 0.2"),
        ("sensitivity curve, 100 thresholds (incl. evaluate)", t_curve_full, "raw read", t_curve_full / t_read, ""),
        ("naive curve: re-evaluate per threshold (x100, est.)", t_naive, "our curve", t_naive / t_curve, ""),
    ]
    print(f"\n{n:,} parcels from {path.name} ({source}); best of {args.repeat}; policy hash "
          f"{flagged.attrs['policy_hash'][:12]}")
    print(f"three-low: {int(flagged['three_low'].sum()):,}; curve rows: {len(curve)}")
    print(f"{'step':58s} {'seconds':>9s}  {'ratio':>7s}  vs          target")
    for name, t, peer, ratio, target in rows:
        print(f"{name:58s} {t:9.3f}  {ratio:7.3f}  {peer:11s} {target}")


if __name__ == "__main__":
    main()
