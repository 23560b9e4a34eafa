"""Benchmark: the PostGIS workspace against the GeoPackage workspace, on a 1M-parcel survey.

Usage::

    python benchmarks/bench_store.py [--parcels N] [--data DIR] [--viewports K] [--repeat R]

The survey is the sample city of ``planner sample-data --parcels N``, cached
in ``--data`` (default ``/work/bench-data`` when it exists, else
``benchmarks/out``) as ``sample_<N>.gpkg`` and built when missing (about two
minutes for a million parcels). PostGIS: ``PLANNER_PG_DSN`` (default
``postgresql://postgres@localhost/planner_test``); the benchmark works in a
schema of its own and drops it at the end.

Timed, in the same run, on the same parcels:

* publish: ``Store.publish_survey`` of the whole survey into an empty
  workspace (GeoPackage: a copy-on-write of the file and a GDAL layer write
  with its R-tree; PostGIS: one transaction with a ``COPY`` of the rows, the
  primary key, the GiST index and ``ANALYZE``), best of ``--repeat``;
* viewport read: ``Store.read_parcels(bbox=...)`` of ``--viewports`` random
  street-scale boxes (600 m and 2 km across, the map's street level), the
  same boxes on both sides, after one warm-up read; the median time per box.
  GeoPackage reads go through GDAL's R-tree, PostGIS through the GiST index;
* whole read: ``Store.read_parcels()`` of all parcels, best of ``--repeat``
  (what the app does today to classify and index the survey).

The ratio column is PostGIS time / GeoPackage time (lower = PostGIS faster).
The machine's load average is printed with the table: timings on a shared
machine are noisy.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from planner.io.postgis import drop_workspace  # noqa: E402
from planner.io.store import GpkgStore, open_store  # noqa: E402


def _data_dir(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    shared = Path("/work/bench-data")
    return shared if shared.is_dir() else ROOT / "benchmarks" / "out"


def _city(n: int, data: Path) -> Path:
    path = data / f"sample_{n}.gpkg"
    if not path.exists():
        data.mkdir(parents=True, exist_ok=True)
        print(f"building {path} ({n:,} parcels) ...", flush=True)
        subprocess.run([sys.executable, "-m", "planner", "sample-data", "--parcels", str(n), "--out", str(path)],
                       check=True, cwd=ROOT)
    return path


def _pg_dsn() -> str:
    return os.environ.get("PLANNER_PG_DSN", "postgresql://postgres@localhost/planner_test")


def _best(f, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t)
    return best


def _boxes(bounds, k: int, size: float, seed: int) -> list[tuple[float, float, float, float]]:
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = bounds
    xs = rng.uniform(x0 + (x1 - x0) * 0.2, x1 - (x1 - x0) * 0.2 - size, k)
    ys = rng.uniform(y0 + (y1 - y0) * 0.2, y1 - (y1 - y0) * 0.2 - size, k)
    return [(float(x), float(y), float(x) + size, float(y) + size) for x, y in zip(xs, ys, strict=True)]


def _viewports(store, boxes) -> tuple[float, float]:
    """Median seconds per box and median parcels per box."""
    store.read_parcels(bbox=boxes[0])  # warm-up (connection, file cache)
    times, counts = [], []
    for b in boxes:
        t = time.perf_counter()
        g = store.read_parcels(bbox=b)
        times.append(time.perf_counter() - t)
        counts.append(len(g))
    return statistics.median(times), statistics.median(counts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--parcels", type=int, default=1_000_000)
    ap.add_argument("--data", default=None, help="folder caching sample_<N>.gpkg")
    ap.add_argument("--viewports", type=int, default=30)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args(argv)

    city = _city(args.parcels, _data_dir(args.data))
    parcels = GpkgStore(city).read_parcels()
    print(f"{len(parcels):,} parcels from {city}", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="bench_store_"))
    uri = _pg_dsn() + ("&" if "?" in _pg_dsn() else "?") + f"schema=bench_{uuid.uuid4().hex[:10]}"
    rows = []
    try:
        def publish_gpkg():
            p = tmp / f"ws_{uuid.uuid4().hex[:6]}.gpkg"
            GpkgStore(p, crs=parcels.crs, create=True).publish_survey(parcels)
            return p

        def publish_pg():
            drop_workspace(uri)
            open_store(uri, create=True, crs=parcels.crs).publish_survey(parcels)

        t_gp = _best(publish_gpkg, args.repeat)
        t_pg = _best(publish_pg, args.repeat)
        rows.append((f"publish a {len(parcels):,}-parcel survey", t_gp, t_pg, ""))
        gp = GpkgStore(publish_gpkg())
        pg = open_store(uri)
        bounds = parcels.total_bounds
        for size in (600.0, 2000.0):
            boxes = _boxes(bounds, args.viewports, size, seed=int(size))
            (t_gp, n_gp), (t_pg, n_pg) = _viewports(gp, boxes), _viewports(pg, boxes)
            assert n_gp == n_pg, (n_gp, n_pg)
            rows.append((f"viewport read, {size / 1000:g} km box (median of {args.viewports}, ~{n_gp:,.0f} parcels)",
                         t_gp, t_pg, ""))
        t_gp = _best(lambda: gp.read_parcels(), args.repeat)
        t_pg = _best(lambda: pg.read_parcels(), args.repeat)
        rows.append(("read the whole survey", t_gp, t_pg, ""))
    finally:
        drop_workspace(uri)
        for p in tmp.glob("*"):
            p.unlink()
        tmp.rmdir()

    load = os.getloadavg()
    print(f"\nmachine load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (2 cores; shared, timings are noisy)\n")
    print("| step | GeoPackage | PostGIS | PostGIS / GeoPackage |")
    print("|---|---|---|---|")
    for name, a, b, _ in rows:
        fmt = (lambda s: f"{s * 1000:.1f} ms") if a < 1 else (lambda s: f"{s:.2f} s")
        print(f"| {name} | {fmt(a)} | {fmt(b)} | {b / a:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
