#!/usr/bin/env python3
"""Set up and run the planner with nothing but Python >= 3.11 and pip.

    python3 tasks.py run     # create .venv, install, start the app on the sample city
    python3 tasks.py test    # create .venv, install with test extras, run the whole test suite
    python3 tasks.py bench   # run the benchmarks (slow; prints ratio tables)

`make run` / `make test` call this script. Extra arguments after the task are
passed to streamlit / pytest.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("PLANNER_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")


def _ensure_env(extras: str) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - this script may be started by an older python3
        sys.exit(f"planner needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    if not PY.exists():
        print(f"creating virtual environment {VENV} ...", flush=True)
        venv.create(VENV, with_pip=True)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:16]
    stamp = VENV / f".planner-installed-{extras or 'base'}"
    covering = [stamp] + ([VENV / ".planner-installed-test"] if not extras else [])  # test extras include base
    if any(p.exists() and p.read_text() == digest for p in covering):
        return
    spec = f".[{extras}]" if extras else "."
    print(f"installing planner{'[' + extras + ']' if extras else ''} and its dependencies ...", flush=True)
    subprocess.run([str(PY), "-m", "pip", "install", "--disable-pip-version-check", "-q", "-e", spec],
                   cwd=ROOT, check=True)
    stamp.write_text(digest)


def _exec(cmd: list[str], env: dict | None = None) -> int:
    return subprocess.call(cmd, cwd=ROOT, env={**os.environ, **(env or {})})


def _without_password(where: str) -> str:
    """A workspace setting as the console may show it: each ``postgresql://`` URI as ``database/schema``.

    README ("The URI"): the app and the CLI name a PostGIS workspace ``database/schema``, never with its host or
    password. (The planner's own parsing, ``planner.io._pgconn.shown_name``, is not importable before the
    environment is.) The credentials end at the last ``@``, as there: a password may hold ``@``, ``/`` or ``:``;
    in a list (``PLANNER_WORKSPACES``) the schema name ends at the next ``:``.

    >>> _without_password("a.gpkg:postgresql://gis:p@ss:w/rd@db.office:5432/planner?sslmode=require&schema=jj:b.gpkg")
    'a.gpkg:planner/jj:b.gpkg'
    """
    for scheme in ("postgresql://", "postgres://"):
        head, found, rest = where.partition(scheme)
        if found:
            hostpart = rest.rpartition("@")[2]
            address, q, query = hostpart.partition("?")
            db = address.partition("/")[2]
            if q:
                query, _, tail = query.partition(":")
            else:
                db, _, tail = db.partition(":")
            m = re.search(r"(?:^|&)schema=([^&]*)", query)
            shown = f"{db or '(default database)'}/{m.group(1) if m else 'planner'}"
            return head + shown + (":" + _without_password(tail) if tail else "")
    return where


def run(args: list[str]) -> int:
    _ensure_env("")
    # The app offers the workspaces of PLANNER_DATA_DIR / PLANNER_WORKSPACE(S), else a working copy of the sample
    # city (planner.ui.workspaces.working_sample: workspaces/, git-ignored; the shipped file never changes).
    where = (os.environ.get("PLANNER_DATA_DIR") or os.environ.get("PLANNER_WORKSPACE")
             or os.environ.get("PLANNER_WORKSPACES")
             or f"{ROOT / 'workspaces' / 'sample_city.gpkg'} (a copy of gis_data/sample_city.gpkg; delete it to "
                "start again)")
    print(f"starting the planner on {_without_password(where)} (Ctrl+C to stop) ...", flush=True)
    return _exec([str(PY), "-m", "streamlit", "run", "serve.py", *args], env=SERVER_ENV)


#: The app server's environment: glibc gives every thread that meets a busy heap a heap of its own (up to eight
#: per core) and memory freed in one serves only that one; Streamlit runs each page run in a new thread. Two heaps
#: measured at 1M parcels, same browser actions: 3.60 GB at the end instead of 4.33 GB (README; glibc reads this
#: only at start-up, so it is set here; serve.py caps the heaps made after it starts too, planner/ui/memory.py).
SERVER_ENV = {"MALLOC_ARENA_MAX": os.environ.get("MALLOC_ARENA_MAX", "2")}


def test(args: list[str]) -> int:
    _ensure_env("test")
    # in parallel on up to 4 cores unless told otherwise (-n N, or -p no:xdist)
    parallel = [] if any(a.startswith(("-n", "--numprocesses")) or a == "no:xdist" for a in args) else \
        ["-n", "auto", "--maxprocesses", "4"]
    return _exec([str(PY), "-m", "pytest", *parallel, *args])


def bench(args: list[str]) -> int:
    _ensure_env("test")
    rc = 0
    for script in sorted((ROOT / "benchmarks").glob("bench_*.py")):
        print(f"\n=== {script.name} ===", flush=True)
        rc |= _exec([str(PY), str(script), *args])
    return rc


TASKS = {"run": run, "test": test, "bench": bench}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in TASKS:
        sys.exit(f"usage: python3 tasks.py {{{'|'.join(TASKS)}}} [args...]")
    sys.exit(TASKS[sys.argv[1]](sys.argv[2:]))
