"""Map payload and pan latency: viewport level of detail vs GeoDataFrame.explore() of the whole layer.

    python benchmarks/bench_map.py [--parcels 1000000] [--peer-parcels 100000] [--pans 5]

For a city of ``--parcels`` parcels (planner.sample.build_city; classified
with the default policy so that the grid shows the share of three-low land)
it measures, for a city-wide view and a street-level view (1,200 x 700 px):

- bytes sent to the browser per render: the folium HTML/JS of the map with
  the layer for that view (what streamlit-folium ships);
- time from a pan to the updated map: :func:`planner.maps.view_layer`
  (spatial-index query, simplification or grid aggregation, reprojection)
  plus building and rendering the folium layer; the median of ``--pans``
  pans to random places.

The peer is the naive approach: ``GeoDataFrame.explore()`` of the whole
parcel layer (every parcel, full geometry, every column), timed and sized in
the same run. explore() of a million parcels needs many GB and minutes, so
the peer runs on the first ``--peer-parcels`` parcels (default 100,000) and
our LOD is measured on that same subset too, for a like-for-like ratio; the
table says which size each row used. The one-time index build is reported
separately (it is cached per workspace and policy in the app).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from planner import maps

W, H = 1200, 700


def _render(view: maps.View, bounds) -> int:
    m, _ = maps.make_map(bounds)
    g = view.gdf.copy()
    if view.mode == "grid":
        g["_c"] = maps.colors_for(g["share"], np.array([0.05, 0.15, 0.3, 0.5, 1.0]))
        keep = ["cell_id", "n", "share", "_c"]
    else:
        g["_c"] = "#d7301f"
        keep = ["parcel_id", "land_use", "land_area_m2", "_c"]
    g = g[[c for c in keep if c in g.columns] + ["geometry"]]
    maps.geojson_layer(g, "layer", tooltip={k: k for k in keep[:-1]}).add_to(m)
    return maps.payload_bytes(m)


def _window(center_lon, center_lat, zoom):
    px = maps.pixel_size_m(zoom, center_lat)
    dlon = W * px / (111_320 * math.cos(math.radians(center_lat))) / 2
    dlat = H * px / 110_574 / 2
    return (center_lon - dlon, center_lat - dlat, center_lon + dlon, center_lat + dlat)


def measure_lod(index: maps.LayerIndex, pans: int, seed: int = 0) -> dict:
    """Median bytes and seconds per render at city and street level."""
    rng = np.random.default_rng(seed)
    w, s, e, n = index.lonlat_bounds()
    out = {}
    z_city = maps.zoom_for_bounds((w, s, e, n), W, H)
    for level, zoom in (("city", z_city), ("street", 17)):
        times, sizes, counts = [], [], []
        for k in range(pans):
            if level == "city":
                cx, cy = (w + e) / 2 + (k - pans / 2) * (e - w) * 0.02, (s + n) / 2
            else:  # a random place where there are parcels
                i = rng.integers(len(index))
                lon, lat = index._to_ll.transform(index.cx[i], index.cy[i])
                cx, cy = float(lon), float(lat)
            b = _window(cx, cy, zoom) if level == "street" else (w, s, e, n)
            t0 = time.perf_counter()
            v = maps.view_layer(index, b, zoom, columns=("land_use", "land_area_m2"))
            size = _render(v, b)
            times.append(time.perf_counter() - t0)
            sizes.append(size)
            counts.append((v.mode, len(v.gdf)))
        out[level] = {"zoom": zoom, "seconds": statistics.median(times), "bytes": statistics.median(sizes),
                      "what": f"{counts[0][0]}: {counts[0][1]:,} features"}
    return out


def measure_explore(gdf) -> dict:
    t0 = time.perf_counter()
    m = gdf.explore()
    html = m.get_root().render()
    return {"seconds": time.perf_counter() - t0, "bytes": len(html.encode("utf-8"))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--parcels", type=int, default=1_000_000)
    ap.add_argument("--peer-parcels", type=int, default=100_000)
    ap.add_argument("--pans", type=int, default=5)
    ap.add_argument("--no-classify", action="store_true", help="flag a random 20%% instead of classifying")
    a = ap.parse_args(argv)

    try:
        from planner.sample import build_city
        source = "planner.sample.build_city"
    except ImportError:  # pragma: no cover - before the sample module existed
        build_city, source = None, "synthetic box city"
    t0 = time.perf_counter()
    if build_city is not None:
        parcels = build_city(a.parcels).parcels
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from conftest import box_grid

        side = int(math.ceil(math.sqrt(a.parcels)))
        parcels = box_grid(side, side, size=40.0).iloc[: a.parcels]
    t_city = time.perf_counter() - t0
    t0 = time.perf_counter()
    if a.no_classify:
        parcels["three_low"] = np.random.default_rng(1).random(len(parcels)) < 0.2
        how = "random 20% flagged"
    else:
        from planner import classify
        from planner.classify import policy

        parcels = classify.classify(parcels, policy.default_policy())
        how = "classified with the default policy"
    t_cls = time.perf_counter() - t0
    print(f"city: {len(parcels):,} parcels from {source} ({t_city:.1f} s), {how} ({t_cls:.1f} s)")

    rows = []
    t0 = time.perf_counter()
    idx_full = maps.LayerIndex.build(parcels, flag_col="three_low")
    t_index = time.perf_counter() - t0
    full = measure_lod(idx_full, a.pans)
    n_peer = min(a.peer_parcels, len(parcels))
    sub = parcels.iloc[:n_peer].copy()
    idx_sub = maps.LayerIndex.build(sub, flag_col="three_low")
    lod_sub = measure_lod(idx_sub, a.pans)
    cols = [c for c in ("parcel_id", "land_use", "land_area_m2", "floor_area_m2", "three_low", "reason_zh")
            if c in sub.columns]
    print(f"peer: GeoDataFrame.explore() of {n_peer:,} parcels ...", flush=True)
    peer = measure_explore(sub[cols + ["geometry"]])

    for level in ("city", "street"):
        r = lod_sub[level]
        rows.append((f"{level} (z{r['zoom']}), {n_peer:,} parcels", r["bytes"], r["seconds"], peer["bytes"],
                     peer["seconds"], r["what"]))
        if len(parcels) > n_peer:
            r = full[level]
            rows.append((f"{level} (z{r['zoom']}), {len(parcels):,} parcels", r["bytes"], r["seconds"], None,
                         None, r["what"]))
    print()
    print(f"{'view':<34} {'ours MB':>9} {'ours s':>8} {'explore MB':>11} {'explore s':>10} "
          f"{'bytes ratio':>12} {'time ratio':>11}  sent")
    for name, b, s, pb, ps, what in rows:
        br = f"{pb / b:,.0f}x" if pb else "-"
        tr = f"{ps / s:,.0f}x" if ps else "-"
        pbs = f"{pb / 1e6:,.1f}" if pb else "-"
        pss = f"{ps:,.2f}" if ps else "-"
        print(f"{name:<34} {b / 1e6:>9.3f} {s:>8.3f} {pbs:>11} {pss:>10} {br:>12} {tr:>11}  {what}")
    print(f"\none-time spatial index build for {len(parcels):,} parcels: {t_index:.1f} s (cached in the app)")
    print("targets: < 5 MB per render and < 1 s per pan at street level")
    return 0


if __name__ == "__main__":
    sys.exit(main())
