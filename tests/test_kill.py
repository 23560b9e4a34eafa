"""SIGKILL at random moments of `ingest`, `classify`, `sites` and `scenario run`.

After each kill: ``PRAGMA integrity_check`` is ok; every layer version and
document that was stored before is untouched; every one that was added is
complete (its rows all there, its audit row with it); and the next run of
the same command succeeds and leaves no temporary file or journal behind.

One kill in three falls anywhere in the command's run; the others fall
while the command holds the workspace's writer lock (the lock file records
its holder, so the test sees when writing starts).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from planner.cli import main
from planner.io.fingerprint import workspace_fingerprint

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
_CLI = "import sys; from planner.cli import main; sys.exit(main(sys.argv[1:]))"


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> tuple[Path, Path]:
    """A 2,000-parcel sample workspace, classified, with sites and a saved scenario, and a survey update."""
    d = tmp_path_factory.mktemp("city")
    ws, upd = d / "base.gpkg", d / "update.zip"
    assert main(["sample-data", "--parcels", "2000", "--out", str(ws), "--survey-update", str(upd)]) == 0
    assert main(["classify", "-w", str(ws)]) == 0
    assert main(["sites", "-w", str(ws)]) == 0
    return ws, upd


def commands(ws: Path, upd: Path) -> dict[str, list[str]]:
    return {
        "ingest": ["ingest", str(upd), "-w", str(ws), "--publish-again"],  # the same file, run after run
        "classify": ["classify", "-w", str(ws)],
        "sites": ["sites", "-w", str(ws)],
        "scenario": ["scenario", "run", str(ROOT / "scenarios" / "conservative_top10.toml"), "-w", str(ws)],
    }


def state(ws: Path) -> dict:
    """Catalogue, documents and audit rows (as plain rows) and the per-part fingerprint."""
    con = sqlite3.connect(ws)
    try:
        layers = {(r[0], r[1], r[2]): r for r in con.execute(
            "SELECT kind, name, version, table_name, n_rows, source_file, sha256, meta FROM planner_layers")}
        current = {(r[0], r[1]): r[2] for r in con.execute(
            "SELECT kind, name, version FROM planner_layers WHERE is_current=1")}
        docs = {(r[0], r[1], r[2]): r for r in con.execute("SELECT * FROM planner_docs")}
        audit = con.execute("SELECT * FROM planner_audit ORDER BY id").fetchall()
    finally:
        con.close()
    return {"layers": layers, "current": current, "docs": docs, "audit": audit,
            "fingerprint": workspace_fingerprint(ws)}


def check_wholly_old_or_new(ws: Path, before: dict) -> dict:
    """The workspace after a kill: intact, old results untouched, new results complete. Returns the new state."""
    con = sqlite3.connect(ws)  # rolls back a hot journal left by a killed in-place transaction
    try:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        after = state(ws)
        old_fp, new_fp = before["fingerprint"], after["fingerprint"]
        # everything stored before is still there, unchanged
        for key, row in before["layers"].items():
            assert after["layers"].get(key) == row, f"layer version {key} changed or vanished"
            assert new_fp[f"layer:{row[3]}"] == old_fp[f"layer:{row[3]}"], f"rows of {key} changed"
        for key, row in before["docs"].items():
            assert after["docs"].get(key) == row, f"document {key} changed or vanished"
        assert after["audit"][:len(before["audit"])] == before["audit"], "audit history changed"
        # everything added is complete: all its rows, its audit row, one current version per layer
        added = set(after["layers"]) - set(before["layers"])
        for key in added:
            table, n_rows = after["layers"][key][3], after["layers"][key][4]
            (count,) = con.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()
            assert count == n_rows, f"new layer version {key}: {count} of {n_rows} rows"
        for key in set(after["docs"]) - set(before["docs"]):
            json.loads(after["docs"][key][6])
        new_audit = {(r[4], r[5], r[6]) for r in after["audit"][len(before["audit"]):]}
        assert new_audit == added | (set(after["docs"]) - set(before["docs"])), "audit rows and stored versions differ"
        for (kind, name), v in after["current"].items():
            assert (kind, name, v) in after["layers"]
        (n_current,) = con.execute("SELECT COUNT(*) FROM (SELECT kind, name FROM planner_layers "
                                   "WHERE is_current=1 GROUP BY kind, name HAVING COUNT(*) > 1)").fetchone()
        assert n_current == 0, "a layer has two current versions"
    finally:
        con.close()
    return after


def split_results(before: dict, after: dict) -> list[str]:
    """Results of one run stored as two pieces, only one of which landed (new sites, old parcel table)."""
    out = []
    for (kind, name), v in after["current"].items():
        if kind != "sites":
            continue
        new_sites = v != before["current"].get((kind, name))
        new_parcels = after["current"].get(("site_parcels", name)) != before["current"].get(("site_parcels", name))
        if new_sites != new_parcels:
            out.append(f"sites/{name} v{v} with site_parcels v{after['current'].get(('site_parcels', name))}")
    return out


def leftovers(ws: Path) -> list[str]:
    return sorted(p.name for p in ws.parent.iterdir() if ".tmp.gpkg" in p.name or p.name.endswith("-journal"))


def _lock_held(ws: Path) -> bool:
    lock = ws.with_name(f".{ws.name}.lock")
    try:
        return lock.stat().st_size > 0
    except OSError:
        return False


def run_killed(argv: list[str], ws: Path, delay: float, during_write: bool, timeout: float = 300) -> bool:
    """Start ``planner argv``; SIGKILL it ``delay`` s after start (or after it takes the writer lock). Killed?"""
    proc = subprocess.Popen([sys.executable, "-c", _CLI, *argv], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=ENV)
    deadline = time.monotonic() + timeout
    if during_write:
        while proc.poll() is None and not _lock_held(ws) and time.monotonic() < deadline:
            time.sleep(0.0005)
    time.sleep(delay)
    killed = proc.poll() is None
    if killed:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=timeout)
    assert proc.returncode in (0, -signal.SIGKILL), f"{argv[0]} failed on its own (exit {proc.returncode})"
    return killed


def calibrate(argv: list[str], ws: Path) -> tuple[float, float]:
    """Duration of an uninterrupted run, and how long it held the writer lock (summed)."""
    proc = subprocess.Popen([sys.executable, "-c", _CLI, *argv], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=ENV)
    t0 = time.monotonic()
    held, last = 0.0, None
    while proc.poll() is None:
        now = time.monotonic()
        if _lock_held(ws):
            held += now - last if last is not None else 0.0
            last = now
        else:
            last = None
        time.sleep(0.0005)
    assert proc.returncode == 0
    return time.monotonic() - t0, max(held, 0.02)


def kill_trials(city, tmp_path: Path, command: str, trials: int, seed: int) -> None:
    base, upd = city
    ws = tmp_path / "ws.gpkg"
    shutil.copyfile(base, ws)
    argv = commands(ws, upd)[command]
    total, held = calibrate(argv, ws)
    rng = random.Random(seed)
    splits, killed, mid_write = [], 0, 0
    for trial in range(trials):
        before = state(ws)
        during = trial % 3 != 0  # two kills in three while the command writes
        delay = rng.uniform(0, held * 0.8) if during else rng.uniform(0, total * 1.1)
        killed += run_killed(argv, ws, delay, during)
        mid_write += bool(leftovers(ws))  # a copy or a hot journal: the kill interrupted a write
        after = check_wholly_old_or_new(ws, before)
        splits += split_results(before, after)
        # the next run succeeds and cleans up what the killed one left
        assert main(argv) == 0, f"trial {trial} (seed {seed}, delay {delay:.3f} s): the next run failed"
        assert leftovers(ws) == [], f"trial {trial}: left behind {leftovers(ws)}"
        check_wholly_old_or_new(ws, after)
    print(f"{command}: {trials} trials, {killed} killed, {mid_write} in the middle of a write "
          f"(run {total:.2f} s, writing {held:.3f} s)")
    assert killed >= trials // 2, f"only {killed} of {trials} runs were still going when killed"
    if trials >= 20 and command != "scenario":  # a scenario saves one small document: a few ms to hit
        assert mid_write >= 1, "no kill landed in the middle of a write; the trials prove nothing"
    # every result is stored in one commit (Store.write_layers): a kill never leaves one split
    assert not splits, f"{len(splits)} kill(s) left a result split across two commits: {splits[:3]}"


COMMANDS = ("ingest", "classify", "sites", "scenario")


@pytest.mark.parametrize("command", COMMANDS)
def test_kill_at_random_moments(city, tmp_path, command):
    kill_trials(city, tmp_path, command, trials=3, seed=COMMANDS.index(command))


@pytest.mark.slow
@pytest.mark.parametrize("command", COMMANDS)
def test_kill_at_random_moments_many(city, tmp_path, command):
    kill_trials(city, tmp_path, command, trials=20, seed=100 + COMMANDS.index(command))


def test_stale_copies_and_their_journals_are_removed(tmp_path):
    """Today `.tmp.gpkg-journal` files of killed writes are never removed; the workspace's own journal is kept."""
    from planner.io.store import GpkgStore
    from tests.conftest import box_grid

    ws = GpkgStore(tmp_path / "ws.gpkg", crs="EPSG:4549", create=True)
    stale = [tmp_path / f".ws.gpkg.{'ab' * 16}.tmp.gpkg{s}" for s in ("", "-journal", "-wal", "-shm")]
    for p in stale:
        p.write_bytes(b"left by a killed write")
    other = tmp_path / f".other.gpkg.{'cd' * 16}.tmp.gpkg-journal"
    other.write_bytes(b"another workspace's")
    ws.publish_survey(box_grid(2, 2))
    assert not any(p.exists() for p in stale)
    assert other.exists()  # only this workspace's leftovers go
