"""Benchmark: ``planner scenario compare A B C --out report.html / .xlsx`` on a city workspace, beside peers.

Commands are timed as a user runs them (a subprocess each, compiled modules, best of ``--repeat``); with
``--before DIR`` (a copy of an older ``planner/`` package, e.g. ``git archive <commit> planner | tar -x -C DIR``)
the same commands are timed with that copy too, in the same rounds.

Peers, timed in this process on the same comparison:

* the map: a naive ``GeoDataFrame.plot(column="group", categorical=True, legend=True)`` of the comparison's site
  geometries, saved as a PNG at the report's 150 dpi (``bbox_inches="tight"``), against
  :func:`planner.report.charts.membership_map` (legend, scale bar, north arrow, CJK text);
* the workbook: ``pandas.DataFrame.to_excel(engine="xlsxwriter")`` of the same three tables (figures, site
  membership, curves; no formats, widths, charts or neutralized text), against
  :func:`planner.report.compare_to_excel`.

The workspace must hold sites and the scenarios, as a user makes them::

    planner classify -w WS && planner sites -w WS
    for s in scenarios/*.toml; do planner scenario run $s -w WS; done

Usage::

    python benchmarks/bench_compare_reports.py --workspace WS [--repeat 3] [--before DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _city
from bench_cli import CLI_ENV, compile_planner

NAMES = ("conservative_top10", "phased_budget", "upstairs_all")


def run_compare(ws: Path, out: Path, cwd: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of ``planner scenario compare ... --out OUT`` run from ``cwd`` (whose ``planner/`` it
    imports); the CPU time (user + system) moves less than the wall time on a shared machine."""
    cpu = _children_cpu()
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "planner", "scenario", "compare", *NAMES, "-w", str(ws), "--out",
                        str(out)], cwd=cwd, capture_output=True, text=True, env=CLI_ENV)
    dt = time.perf_counter() - t
    if p.returncode:
        msg = f"compare --out {out} (in {cwd}) exited {p.returncode}:\n{p.stderr[-2000:]}"
        raise RuntimeError(msg)
    return dt, _children_cpu() - cpu


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def comparison(ws: Path):
    """The comparison the command writes (the stored scenarios re-run on the stored sites), and the background."""
    import planner.workflow as W
    from planner.cli.scenario import _background, _evaluate
    from planner.io.store import open_store

    store = open_store(ws)
    with contextlib.redirect_stderr(io.StringIO()):  # the scenarios' warnings
        runs = [_evaluate(n, store, None, {}, lang="zh") for n in NAMES]
    return W.compare_runs(runs), _background(store)


def naive_map(cmp) -> bytes:
    from matplotlib.figure import Figure

    g = cmp.site_geometries()
    fig = Figure(figsize=(7.5, 5.6))
    ax = fig.subplots()
    g.plot(column="group", categorical=True, legend=True, ax=ax, edgecolor="#333333", linewidth=0.3)
    ax.set_axis_off()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=150, bbox_inches="tight")
    return buf.getvalue()


def naive_excel(cmp, path: Path) -> None:
    import pandas as pd

    with pd.ExcelWriter(path, engine="xlsxwriter") as xw:
        cmp.table.to_excel(xw, sheet_name="Comparison")
        cmp.membership.to_excel(xw, sheet_name="Sites")
        cmp.curves.pivot_table(index="year", columns=["metric", "scenario"], values="value").to_excel(
            xw, sheet_name="Curves")


def best_of(n: int, fn) -> float:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return min(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--workspace", "-w", required=True, type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--before", type=Path, help="a folder holding an older planner/ package to time too")
    args = ap.parse_args(argv)
    compile_planner()
    tmp = Path(tempfile.mkdtemp(prefix="bench_compare_"))
    copies = {"this": _city.ROOT, **({"before": args.before} if args.before else {})}
    cli: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for _ in range(args.repeat):  # rounds interleave the copies, so a busy minute hits both alike
        for ext in ("html", "xlsx"):
            for name, cwd in copies.items():
                cli.setdefault((name, ext), []).append(run_compare(args.workspace, tmp / f"{name}.{ext}", cwd))
    from planner.report import compare_to_excel
    from planner.report.charts import cjk_font, membership_map

    cmp, bg = comparison(args.workspace)
    cjk_font()
    membership_map(cmp, "zh", background=bg)  # fonts loaded, caches warm, for both sides
    t_map = best_of(args.repeat, lambda: membership_map(cmp, "zh", background=bg))
    t_naive_map = best_of(args.repeat, lambda: naive_map(cmp))
    t_xlsx = best_of(args.repeat, lambda: compare_to_excel(cmp, tmp / "ours.xlsx", lang="zh"))
    t_naive_xlsx = best_of(args.repeat, lambda: naive_excel(cmp, tmp / "naive.xlsx"))
    n_sites = len(cmp.membership)
    print(f"\nbench_compare_reports: {args.workspace.name}, {n_sites:,} sites in the comparison, curves of "
          f"{len(cmp.curves):,} rows; best of {args.repeat}; cpus={os.cpu_count()}; {_city.load_avg()}\n")
    print("| what | ours | peer | peer time | ours/peer |")
    print("|---|---|---|---|---|")
    for ext in ("html", "xlsx"):
        wall, cpu = (min(x[i] for x in cli[("this", ext)]) for i in (0, 1))
        what = f"`planner scenario compare` (3 scenarios) `--out .{ext}`"
        if args.before:
            bw, bc = (min(x[i] for x in cli[("before", ext)]) for i in (0, 1))
            print(f"| {what}, wall | {wall:.2f} s | the same command, `--before` copy | {bw:.2f} s | {wall / bw:.2f}x |")
            print(f"| {what}, CPU | {cpu:.2f} s | the same command, `--before` copy | {bc:.2f} s | {cpu / bc:.2f}x |")
        else:
            print(f"| {what}, wall / CPU | {wall:.2f} s / {cpu:.2f} s | | | |")
    print(f"| membership map PNG (in process) | {t_map:.2f} s | naive `GeoDataFrame.plot` PNG | {t_naive_map:.2f} s "
          f"| {t_map / t_naive_map:.2f}x |")
    print(f"| comparison workbook (in process) | {t_xlsx:.2f} s | naive `DataFrame.to_excel` (xlsxwriter) | "
          f"{t_naive_xlsx:.2f} s | {t_xlsx / t_naive_xlsx:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
