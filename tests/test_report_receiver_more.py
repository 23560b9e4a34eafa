"""More deliveries as their receivers open them (after tests/test_report_receiver.py): the ingest report CSV, the
scenario GeoPackage/GeoJSON, the zipped shapefile exports and the printed summary of ``scenario run``.

What a receiver saw, and checks here:

- the ingest report CSV ended its ``#`` summary lines with LF and its rows with CRLF (two line endings in a file);
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "planner", *args], cwd=cwd or ROOT, env=env, capture_output=True,
                          text=True, encoding="utf-8", timeout=600, check=False)


def test_ingest_report_csv_has_one_line_ending(tmp_path):
    """`planner ingest ... --report r.csv`: the summary lines and the problem rows end in CRLF alike (write_csv)."""
    out = tmp_path / "r.csv"
    proc = _cli("ingest", str(ROOT / "gis_data" / "survey_update.zip"), "--dry-run", "--report", str(out))
    assert proc.returncode == 0, proc.stderr
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    lines = data.split(b"\n")[:-1]
    assert data.endswith(b"\r\n") and lines and all(line.endswith(b"\r") for line in lines), lines[:3]
    assert b"\r\r" not in data
    assert any(line.startswith(b"# n_read") for line in data[3:].split(b"\r\n"))
