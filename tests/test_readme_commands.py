"""README.md as a newcomer reads it: every `planner ...` command it shows is one the CLI takes, every option it names
exists, and "The whole pipeline from the command line" runs as written (on a copy of the sample workspace)."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from planner.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
#: Options the README names for other programs (Streamlit, Dask, the benchmarks, Chromium).
OTHERS = {"--server.address", "--dashboard-address", "--memory-limit", "--nthreads", "--nworkers", "--port",
          "--layers", "--no-naive", "--peer", "--peer-reps", "--prepare", "--repeat", "--reps", "--before",
          "--host-resolver-rules"}


def _blocks(text: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", text, re.S)


def block_commands(text: str | None = None) -> list[str]:
    """The `planner ...` lines of the README's ```bash blocks (comments and a leading `# ` dropped)."""
    text = README.read_text(encoding="utf-8") if text is None else text
    out = []
    for block in _blocks(text):
        for line in block.splitlines():
            line = line.strip().removeprefix("# ").strip()  # a commented alternative is a command too
            if line.startswith("planner "):
                out.append(re.sub(r"\s+#.*$", "", line))
    return out


def _all_options(parser: argparse.ArgumentParser) -> set[str]:
    out: set[str] = set()
    for a in parser._actions:
        out.update(a.option_strings)
        if isinstance(a, argparse._SubParsersAction):
            for sp in a.choices.values():
                out |= _all_options(sp)
    return out


def test_every_command_the_readme_shows_parses(monkeypatch):
    cmds = block_commands()
    assert len(cmds) >= 15 and "planner sites     -w /tmp/ws.gpkg --out /tmp/sites.geojson" in cmds
    # the office set-up exports PLANNER_WORKSPACE before its commands, which then need no -w
    monkeypatch.setenv("PLANNER_WORKSPACE", "postgresql://planner@localhost:5432/planner?schema=jinjiang")
    bad = []
    for cmd in cmds:
        argv = shlex.split(cmd)[1:]
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                build_parser(argv).parse_args(argv)
            except SystemExit as exc:
                if exc.code:
                    bad.append(f"{cmd}: {err.getvalue().strip().splitlines()[-1]}")
    assert not bad, bad


def test_every_option_the_readme_names_exists():
    text = README.read_text(encoding="utf-8")
    named = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9.-]*", text))
    missing = sorted(named - _all_options(build_parser(None)) - OTHERS)
    assert not missing, f"README.md names options no `planner` command has: {missing}"


def test_the_readme_pipeline_runs_as_written(tmp_path):
    """"The whole pipeline from the command line", with /tmp/ replaced by a test folder and without the 1M city."""
    block = next(b for b in _blocks(README.read_text(encoding="utf-8")) if "cp gis_data/sample_city.gpkg" in b)
    lines = [re.sub(r"\s+#.*$", "", x).strip() for x in block.splitlines()]
    lines = [x for x in lines if x and not x.startswith((". ", "#"))]
    assert lines[0] == "cp gis_data/sample_city.gpkg /tmp/ws.gpkg"
    lines = [x for x in lines if "--parcels 1000000" not in x]  # a 1M-parcel city: minutes (measured in the report)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "MPLBACKEND": "Agg"}
    env.pop("PLANNER_WORKSPACE", None)
    out = {}
    for line in lines:
        cmd = line.replace("/tmp/", f"{tmp_path}/")
        argv = shlex.split(cmd)
        if argv[0] == "planner":
            argv = [sys.executable, "-m", "planner", *argv[1:]]
        done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{line}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        out[argv[3] if argv[0] == sys.executable and len(argv) > 3 else argv[0]] = done.stdout + done.stderr
    assert "published as survey version 2" in out["ingest"] and "diff against survey version 1" in out["ingest"]
    assert "published as enterprise table version 1" in out["enterprise"]
    assert "stored flags/default version 1" in out["classify"]
    assert re.search(r"[\d,]+ sites from [\d,]+ flagged parcels", out["sites"])  # PLANNER_LANG=en (tests/conftest.py)
    assert "wrote 6 brief page(s)" in out["brief"]  # S0001, S0002 and the top 5, once each
    for f in ("flags.gpkg", "sites.geojson", "compare.html", "briefs.pdf", "out/upstairs_all.pdf",
              "out/conservative_top10.xlsx"):
        assert (tmp_path / f).stat().st_size > 0, f


def test_a_refused_survey_says_why_once(tmp_path):
    """A refused `planner ingest` printed its reasons twice: in the report's REFUSED line and in the error line."""
    src = tmp_path / "parcels.geojson"
    src.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": "x"}, '
                   '"geometry": {"type": "Polygon", "coordinates": [[[118.5, 24.7], [118.51, 24.7], [118.51, 24.71], '
                   '[118.5, 24.7]]]}}]}', encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-m", "planner", "ingest", str(src), "--dry-run"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert done.stderr.count("no parcel id field") == 1, done.stderr
    assert "REFUSED (see the error below)" in done.stderr and "error: parcels.geojson" in done.stderr
    assert "read               1" in done.stderr  # the report itself is still printed


@pytest.mark.parametrize("command", ["info", "workspace", "sample-data", "ingest", "enterprise", "classify", "policy",
                                     "sites", "scenario", "brief", "users"])
def test_every_command_says_what_it_does_in_both_languages(command):
    """`planner --help` lists each command with its Chinese name beside the English words."""
    sub = next(a for a in build_parser(None)._actions if isinstance(a, argparse._SubParsersAction))
    helps = {c.dest: c.help for c in sub._choices_actions}
    assert re.search(r"[\u4e00-\u9fff]", helps[command]) and re.search(r"[a-z]{3}", helps[command]), helps[command]


def test_every_workspace_option_says_both_kinds(monkeypatch):
    """README: every `planner` command takes a GeoPackage or a PostGIS schema (and $PLANNER_WORKSPACE); the help of
    `scenario run`, `brief`, `classify` ... said "workspace .gpkg" only."""
    monkeypatch.delenv("PLANNER_WORKSPACE", raising=False)
    said = {}

    def walk(p, path):
        for a in p._actions:
            if isinstance(a, argparse._SubParsersAction):
                for name, sp in a.choices.items():
                    walk(sp, f"{path} {name}")
            elif a.dest == "workspace":
                said[path] = a.help or ""

    walk(build_parser(None), "planner")
    assert len(said) >= 15, said
    bad = {k: v for k, v in said.items() if ".gpkg" in v and "postgresql://" not in v}
    assert not bad, bad
    assert sum("postgresql://" in v and "$PLANNER_WORKSPACE" in v for v in said.values()) >= len(said) - 2, said


def test_scenario_help_says_what_it_writes_and_in_which_language():
    """`scenario run --out` writes .xlsx, .html, .pdf and .gpkg (the help listed three); its summary on the console
    is printed in --lang, as `compare` prints its table (the summary was English whatever --lang said)."""
    sub = next(a for a in build_parser(["scenario"])._actions if isinstance(a, argparse._SubParsersAction))
    scen = sub.choices["scenario"]
    actions = next(a for a in scen._actions if isinstance(a, argparse._SubParsersAction))
    run_help = {c.dest: c.help for c in actions._choices_actions}["run"]
    assert all(k in run_help for k in ("xlsx", "html", "pdf", "gpkg")), run_help
    lang = {name: next(a.help for a in p._actions if a.dest == "lang") for name, p in actions.choices.items()
            if any(a.dest == "lang" for a in p._actions)}
    assert "printed summary" in lang["run"] and "printed table" in lang["compare"], lang


def test_a_command_piped_into_head_still_does_its_work(tmp_path):
    """`planner classify -w ws | head`: the first line written after head left ended the command with exit code 0,
    before the classification was stored."""
    import shutil

    from planner.io.store import GpkgStore

    ws = tmp_path / "ws.gpkg"
    shutil.copy(ROOT / "gis_data" / "sample_city.gpkg", ws)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "planner", "classify", "-w", str(ws)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the first line
    proc.stderr.close()
    assert proc.wait(timeout=300) == 0
    assert not GpkgStore(ws).layers("flags").empty
