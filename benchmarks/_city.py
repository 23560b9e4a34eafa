"""Sample-city workspaces for the benchmarks, generated as a user would and cached.

``planner sample-data --parcels N --out sample_N.gpkg --survey-update
sample_N_update.zip`` is run once per size (about two minutes for 1M
parcels) in the cache folder: ``$PLANNER_BENCH_DATA`` if set, else
``benchmarks/out/`` (git-ignored). Benchmarks copy the workspace before
changing it, so the cached file stays as generated.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLANNER = [sys.executable, "-m", "planner"]


def cache_dir() -> Path:
    d = Path(os.environ.get("PLANNER_BENCH_DATA", ROOT / "benchmarks" / "out"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def sample_workspace(n: int) -> tuple[Path, Path]:
    """The cached N-parcel sample workspace and its survey update (zipped shapefile), generated if missing."""
    d = cache_dir()
    ws, update = d / f"sample_{n}.gpkg", d / f"sample_{n}_update.zip"
    if not (ws.exists() and update.exists()):
        print(f"generating a {n:,}-parcel sample city in {d} (cached) ...", file=sys.stderr, flush=True)
        tmp = d / f"sample_{n}.tmp.gpkg"
        t = time.perf_counter()
        subprocess.run([*PLANNER, "sample-data", "--parcels", str(n), "--out", str(tmp), "--force",
                        "--survey-update", str(update)], check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        os.replace(tmp, ws)
        print(f"  built in {time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)
    return ws, update


def copy_workspace(src: Path, dst: Path) -> Path:
    """A private copy of a workspace (not timed by the callers)."""
    shutil.copyfile(src, dst)
    return dst


def classified_city(n: int):
    """(classified parcels, barriers, constraints) of the cached N-parcel sample city, default policy.

    Read through the workspace store and classified in this process (not
    timed by the callers).
    """
    from planner.classify import classify
    from planner.classify.policy import load_policy
    from planner.io.store import open_store

    ws, _ = sample_workspace(n)
    store = open_store(ws)
    parcels = classify(store.read_parcels(), load_policy(None))
    return parcels, store.read_all_layers("barrier"), store.read_all_layers("constraint")


def load_avg() -> str:
    """``uptime``-style load averages (1, 5, 15 min)."""
    try:
        return "load average {:.2f}, {:.2f}, {:.2f}".format(*os.getloadavg())
    except OSError:
        return "load average unknown"
