"""Benchmark the sample-city parcel subdivision against a naive per-parcel shapely loop.

Usage: python benchmarks/bench_sample.py [--parcels N] [--seed S] [--naive-max N]

Ours: ``planner.sample.build_city`` (whole-array shapely 2 ops per split level).
Peer: the same recursive long-axis splitting of the same blocks written the
usual way, one polygon at a time (scalar shapely calls in a Python loop), timed
on the subdivision step only (the peer does less work than the full build);
skipped above ``--naive-max`` parcels.

Second table: the split step alone on the same arterial blocks, ours
``subdivide(fast=True)`` (whole-array Sutherland-Hodgman, used beyond the
Jinjiang boundary) against ``subdivide(fast=False)`` (a GEOS overlay per piece
and level, the bit-reproducible path of the committed 20,000-parcel city).
CPU seconds are shown too: the machine is shared.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import shapely

from planner.sample.boundary import jinjiang_boundary
from planner.sample.city import (
    CENTRE,
    GROSS_M2_PER_PARCEL,
    MAX_FEATURE_M,
    TILE_M,
    _region,
    build_city,
)
from planner.sample.geometry import build_network, city_blocks, subdivide
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


def _timed(fn, *a, **kw):
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn(*a, **kw)
    return out, time.perf_counter() - t0, time.process_time() - c0


def split_step(n: int, seed: int):
    """Blocks of an n-parcel region, split by both paths (same rng seed, same targets)."""
    origin = np.round(np.array(CENTRE), -3)
    region, inside = _region(n * GROSS_M2_PER_PARCEL, jinjiang_boundary(), origin)
    net = build_network(np.random.default_rng(seed), region.bounds, region, max_len=None if inside else MAX_FEATURE_M)
    blocks = city_blocks(region, net.cut, tile_m=None if inside else TILE_M)
    blocks = blocks[(shapely.get_type_id(blocks) == 3) & (shapely.area(blocks) > 3 * MU_M2)]

    def target(x, y, owner, rng):
        return 13 * MU_M2 * np.exp(rng.normal(0, 0.85, len(owner)))

    rows = []
    for name, fast in (("ours: subdivide fast (whole-array S-H)", True), ("peer: subdivide GEOS overlay", False)):
        (parcels, _), wall, cpu = _timed(subdivide, np.random.default_rng(seed), blocks, target, fast=fast)
        rows.append((name, len(parcels), wall, cpu))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--parcels", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--naive-max", type=int, default=100_000)
    a = ap.parse_args()
    city, t_ours, c_ours = _timed(build_city, a.parcels, a.seed)
    print(f"{'step':<42}{'parcels':>10}{'wall s':>9}{'cpu s':>9}")
    print(f"{'ours: build_city (whole city)':<42}{len(city.parcels):>10,}{t_ours:>9.2f}{c_ours:>9.2f}")
    if a.parcels <= a.naive_max:
        # the peer splits the arterial blocks of the same city (parcels dissolved per block = lanes included)
        blocks = shapely.get_parts(shapely.union_all(shapely.buffer(city.parcels.geometry.values, 8, quad_segs=1)))
        peer, t_peer, c_peer = _timed(naive_subdivide, blocks, 13 * MU_M2, a.seed)
        print(f"{'peer: naive per-polygon split loop':<42}{len(peer):>10,}{t_peer:>9.2f}{c_peer:>9.2f}")
        per_ours = c_ours / len(city.parcels) * 1e6
        per_peer = c_peer / len(peer) * 1e6
        print(f"CPU µs per parcel: ours {per_ours:.0f}, peer {per_peer:.0f}, ratio peer/ours {per_peer / per_ours:.2f}x")
    rows = split_step(a.parcels, a.seed)
    print()
    for name, n, wall, cpu in rows:
        print(f"{name:<42}{n:>10,}{wall:>9.2f}{cpu:>9.2f}")
    print(f"split step CPU ratio GEOS/ours: {rows[1][3] / rows[0][3]:.2f}x")


if __name__ == "__main__":
    main()
