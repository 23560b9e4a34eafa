"""Benchmark the sample-city parcel subdivision against a naive per-parcel shapely loop.

Usage: python benchmarks/bench_sample.py [--parcels N] [--seed S]

Ours: ``planner.sample.build_city`` (whole-array shapely 2 ops per split level).
Peer: the same recursive long-axis splitting of the same blocks written the
usual way, one polygon at a time (scalar shapely calls in a Python loop), timed
on the subdivision step only (the peer does less work than the full build).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import shapely

from planner.sample import build_city
from planner.schema import MU_M2


def naive_subdivide(blocks, median_m2: float, seed: int) -> list:
    rng = np.random.default_rng(seed)
    out, stack = [], list(blocks)
    while stack:
        g = stack.pop()
        target = median_m2 * np.exp(rng.normal(0, 0.85))
        if g.area <= target or g.area <= 2.3 * MU_M2:
            out.append(g)
            continue
        c = np.asarray(shapely.oriented_envelope(g).exterior.coords)
        e1, e2 = c[1] - c[0], c[2] - c[1]
        v = e1 if np.hypot(*e1) >= np.hypot(*e2) else e2
        L = np.hypot(*v)
        d = v / L
        n = np.array([-d[1], d[0]])
        p = c[:4].mean(axis=0) + d * (rng.uniform(0.33, 0.67) - 0.5) * L
        B = 2 * L + 50
        left = shapely.Polygon([p + n * B, p - n * B, p - n * B - d * B, p + n * B - d * B])
        right = shapely.Polygon([p + n * B, p + n * B + d * B, p - n * B + d * B, p - n * B])
        for h in (g.intersection(left), g.intersection(right)):
            for part in getattr(h, "geoms", [h]):
                if part.geom_type == "Polygon" and part.area > 150:
                    stack.append(part)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--parcels", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()
    t0 = time.perf_counter()
    city = build_city(a.parcels, a.seed)
    t_ours = time.perf_counter() - t0
    # the peer splits the arterial blocks of the same city (parcels dissolved per block = lanes included)
    blocks = shapely.get_parts(shapely.union_all(shapely.buffer(city.parcels.geometry.values, 8, quad_segs=1)))
    t0 = time.perf_counter()
    peer = naive_subdivide(blocks, 13 * MU_M2, a.seed)
    t_peer = time.perf_counter() - t0
    print(f"{'step':<40}{'parcels':>10}{'seconds':>10}")
    print(f"{'ours: build_city (whole city)':<40}{len(city.parcels):>10,}{t_ours:>10.2f}")
    print(f"{'peer: naive per-polygon split loop':<40}{len(peer):>10,}{t_peer:>10.2f}")
    per_ours = t_ours / len(city.parcels) * 1e6
    per_peer = t_peer / len(peer) * 1e6
    print(f"µs per parcel: ours {per_ours:.0f}, peer {per_peer:.0f}, ratio peer/ours {per_peer / per_ours:.2f}x")


if __name__ == "__main__":
    main()
