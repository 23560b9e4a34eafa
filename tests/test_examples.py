"""examples/README.md walks a new user from an empty folder to sites: run exactly the commands it shows."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "examples" / "README.md"


def tour_commands() -> list[str]:
    """The commands of the first ```bash block under "From an empty folder to sites" (comments dropped)."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## From an empty folder to sites", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [re.sub(r"\s+#.*$", "", line).strip() for line in block.splitlines() if line.strip()]


def test_readme_tour_runs_as_written(tmp_path):
    cmds = tour_commands()
    assert cmds[0] == "mkdir tour" and cmds[-1].startswith("planner sites")
    assert all(c.split()[0] in ("mkdir", "planner") for c in cmds)  # nothing else is needed
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    outputs = []
    for cmd in cmds:
        done = subprocess.run(["bash", "-c", cmd], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"{cmd}\n{done.stdout}\n{done.stderr}"
        outputs.append(done.stdout + done.stderr)
    init, dry, ingest, classify, _sites = outputs[1:]
    assert "EPSG:32618 (WGS 84 / UTM zone 18N)" in init
    assert "(dry run)" in dry and "no workspace" in dry and "impossible (nulled)" in dry
    assert "published as survey version 1" in ingest and "3029130259 " in dry
    assert "stored flags/taxlots" in classify
    sites = json.loads((tmp_path / "tour" / "sites.geojson").read_text(encoding="utf-8"))
    ok = [f for f in sites["features"] if f["properties"].get("status", "ok") == "ok"]
    assert len(ok) >= 3
    from planner.io.store import GpkgStore

    p = GpkgStore(tmp_path / "tour" / "city.gpkg").read_parcels()
    assert len(p) == 144 and p["parcel_id"].str.fullmatch(r"\d{10}").all()
    assert set(p.loc[p["land_use"] == "industrial", "land_use_code"]) == {"06"}
