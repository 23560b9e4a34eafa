"""Province scale on Dask: in-memory vs partitioned at 1M parcels, and a 10M-parcel province on Dask.

    python benchmarks/bench_dask.py --parcels 1000000                   # city: in-memory vs Dask, same machine
    python benchmarks/bench_dask.py --province 10000000 --postgis       # province: Dask (and the PostGIS job)

City: the cached sample city (``benchmarks/_city.py``), its survey written
once as a partitioned survey (Hilbert partitions, cached). In memory:
``classify`` and ``build_sites`` with the city's barriers and protected land,
in this process (the workspace read is not timed). Dask: a LocalCluster of
``--workers`` worker processes (one thread each; started before the clock),
``classify_partitioned`` (reads the partitions, three passes, writes the
classified partitions: I/O is inside the clock) and
``build_sites_partitioned`` (reads the classified partitions). The flags and
the parcel-to-site table of the two are compared (they must be equal).

Province: ``planner sample-data --province`` output (cached, generated if
missing: 100 cities of 100,000 parcels on the cluster), classified and
assembled on the cluster. Peak memory per worker is sampled every second
(resident set of each worker process); the client's peak is its own maximum
resident set. ``--postgis`` runs the PostGIS job of ``benchmarks/_postgis_sites.py``
(the same job as ``build_sites`` less gap closing, enclaves and ranks) on the
province's flagged parcels, loaded with COPY first (the load is reported, not
counted), when it finishes within ``--postgis-timeout`` seconds.

The machine is shared (2 cores): each run prints the load average.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import pandas as pd
from _city import cache_dir, load_avg, sample_workspace


def _rss() -> int:
    import psutil

    return psutil.Process().memory_info().rss


class WorkerMemory:
    """Peak resident memory of each worker, sampled every ``every`` seconds in a thread."""

    def __init__(self, client, every: float = 1.0):
        self.client, self.every, self.peak = client, every, {}
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                for w, v in self.client.run(_rss).items():
                    self.peak[w] = max(self.peak.get(w, 0), v)
            except Exception:
                pass
            self._stop.wait(self.every)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()

    def summary(self) -> str:
        gb = [v / 1e9 for v in self.peak.values()]
        return f"max {max(gb):.2f} GB per worker, {sum(gb):.2f} GB all workers" if gb else "not sampled"


def _client(workers: int):
    from planner.scale.cluster import dask_client

    return dask_client(n_workers=workers, say=lambda m: print(m, file=sys.stderr, flush=True))


def city(n: int, workers: int, partitions: int) -> dict:
    from planner.classify import classify
    from planner.classify.policy import load_policy
    from planner.io import geoparquet as gpq
    from planner.io.store import open_store
    from planner.scale.classify import classify_partitioned, with_reference_year
    from planner.scale.sites import build_sites_partitioned
    from planner.sites import SiteParams, build_sites

    ws, _ = sample_workspace(n)
    store = open_store(ws)
    parcels = store.read_parcels()
    bars, cons = store.read_all_layers("barrier"), store.read_all_layers("constraint")
    d = cache_dir() / "dask"
    d.mkdir(exist_ok=True)
    survey = d / f"city{n}_survey_{partitions}.parquet"
    if not survey.exists():
        gpq.write_partitioned_survey(parcels, survey, npartitions=partitions, barriers=bars, constraints=cons)
    policy = with_reference_year(load_policy(None))
    params = SiteParams()
    out = {"parcels": n, "partitions": partitions, "workers": workers}
    t = time.perf_counter()
    flags = classify(parcels, policy)
    out["classify_memory"] = time.perf_counter() - t
    t = time.perf_counter()
    mem = build_sites(flags, params, barriers=bars, constraints=cons)
    out["sites_memory"] = time.perf_counter() - t
    out["sites"] = len(mem.sites)
    out["load_after_memory"] = load_avg()
    del parcels
    with _client(workers) as client, WorkerMemory(client) as wm:
        t = time.perf_counter()
        cl = classify_partitioned(survey, policy, d / "city_flags.parquet", client=client, overwrite=True)
        out["classify_dask"] = time.perf_counter() - t
        out["classify_dask_stages"] = cl.seconds
        t = time.perf_counter()
        run = build_sites_partitioned(d / "city_flags.parquet", params, client=client, barriers=bars,
                                      constraints=cons)
        out["sites_dask"] = time.perf_counter() - t
        out["sites_dask_stages"] = run.seconds
    out["worker_memory"] = wm.summary()
    got = gpq.to_frame([gpq.read_partition(f, columns=["input_row", "three_low", "grade", "reason_en", "geometry"])
                        for f in gpq.partition_files(d / "city_flags.parquet")])
    out["flags_equal"] = bool((got["three_low"].to_numpy() == flags["three_low"].to_numpy()).all()
                              and got["grade"].astype("string").fillna("-").equals(
                                  flags["grade"].astype("string").fillna("-").reset_index(drop=True))
                              and got["reason_en"].equals(flags["reason_en"].reset_index(drop=True)))
    out["sites_equal"] = bool(mem.parcel_sites.equals(run.result.parcel_sites)
                              and mem.excluded.reset_index(drop=True)["parcel_id"].equals(run.result.excluded["parcel_id"]))
    out["load"] = load_avg()
    return out


def province(n: int, workers: int, postgis: bool, postgis_timeout: float) -> dict:
    from planner.classify.policy import load_policy
    from planner.io import geoparquet as gpq
    from planner.sample.province import write_province
    from planner.scale.classify import classify_partitioned, with_reference_year
    from planner.scale.sites import build_sites_partitioned
    from planner.sites import SiteParams

    d = cache_dir() / "dask"
    d.mkdir(exist_ok=True)
    survey = d / f"province{n // 1_000_000}m.parquet"
    out = {"parcels": n, "workers": workers}
    with _client(workers) as client:
        if not survey.exists():
            t = time.perf_counter()
            write_province(survey, n, client=client)
            out["generate"] = time.perf_counter() - t
        info = gpq.survey_info(survey)
        out["partitions"] = info["npartitions"]
        bars, cons = gpq.read_layer(survey, "barriers"), gpq.read_layer(survey, "constraints")
        policy = with_reference_year(load_policy(None))
        with WorkerMemory(client) as wm:
            t = time.perf_counter()
            cl = classify_partitioned(survey, policy, d / f"{survey.stem}_flags.parquet", client=client,
                                      overwrite=True)
            out["classify_dask"] = time.perf_counter() - t
            out["classify_stages"] = cl.seconds
            out["load_after_classify"] = load_avg()
            t = time.perf_counter()
            run = build_sites_partitioned(d / f"{survey.stem}_flags.parquet", SiteParams(), client=client,
                                          barriers=bars, constraints=cons)
            out["sites_dask"] = time.perf_counter() - t
            out["sites_stages"] = run.seconds
        out["worker_memory"] = wm.summary()
        out["worker_peaks_gb"] = {w: round(v / 1e9, 2) for w, v in wm.peak.items()}
    out["client_peak_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    res = run.result
    out["sites"] = len(res.sites)
    out["flagged_in_sites"] = int((res.parcel_sites["role"] == "flagged").sum())
    out["excluded"] = len(res.excluded)
    out["groups"], out["cross_pairs"], out["halo"] = run.n_groups, run.n_cross_pairs, run.halo_parcels
    out["load"] = load_avg()
    print(json.dumps(out, default=str), flush=True)
    if postgis:
        out["postgis"] = postgis_peer(d / f"{survey.stem}_flags.parquet", bars, cons, postgis_timeout)
        out["load_after_postgis"] = load_avg()
    return out


def postgis_peer(flags_path, bars, cons, timeout: float) -> dict:
    """The PostGIS job on the flagged parcels of a partitioned survey (load not counted)."""
    import _postgis_sites as pg
    import geopandas as gpd

    from planner.io import geoparquet as gpq

    con, why = pg.connect()
    if con is None:
        return {"skipped": why}
    con.execute("CREATE SCHEMA IF NOT EXISTS bench_dask")  # its own tables: bench_sites may run beside it
    con.execute("SET search_path TO bench_dask, public")
    parts = []
    for f in gpq.partition_files(flags_path):
        p = gpd.read_parquet(f, columns=["three_low", "geometry"])
        parts.append(np.asarray(p.geometry.values[p["three_low"].fillna(False).to_numpy(bool)], dtype=object))
    flagged = np.concatenate(parts)
    t = time.perf_counter()
    pg.load(con, flagged, np.asarray(bars.geometry.values, dtype=object), np.asarray(cons.geometry.values,
                                                                                        dtype=object))
    out = {"flagged": len(flagged), "load_s": time.perf_counter() - t}
    con.execute(f"SET statement_timeout = '{int(timeout)}s'")
    try:
        dt, counts = pg.run_job(con, 2.0)
        out.update(job_s=dt, **counts)
    except Exception as exc:
        out["unfinished"] = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    finally:
        con.execute("SET statement_timeout = 0")
        pg.drop(con)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parcels", type=int, default=None, help="city size for in-memory vs Dask (e.g. 1000000)")
    ap.add_argument("--partitions", type=int, default=8, help="partitions of the city survey (default 8)")
    ap.add_argument("--province", type=int, default=None, help="province size on Dask (e.g. 10000000)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--postgis", action="store_true", help="also run the PostGIS job on the province")
    ap.add_argument("--postgis-timeout", type=float, default=3600.0)
    args = ap.parse_args(argv)
    print(load_avg(), flush=True)
    if args.parcels:
        r = city(args.parcels, args.workers, args.partitions)
        print(json.dumps(r, default=str), flush=True)
        rows = [("classify", r["classify_memory"], r["classify_dask"]),
                ("sites (barriers, constraints)", r["sites_memory"], r["sites_dask"])]
        print(pd.DataFrame([(a, f"{m:.1f} s", f"{x:.1f} s", f"{x / m:.2f}x") for a, m, x in rows],
                           columns=["step", "in memory", f"Dask ({args.workers} workers)", "Dask / memory"])
              .to_string(index=False))
        print(f"equal: flags {r['flags_equal']}, sites {r['sites_equal']}; {r['worker_memory']}; {r['load']}")
    if args.province:
        r = province(args.province, args.workers, args.postgis, args.postgis_timeout)
        print(json.dumps(r, default=str), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
