"""`make run` with nothing configured works on a copy of the sample city, never on the shipped file.

The app opened ``gis_data/sample_city.gpkg`` itself: trying it out (saving rules, publishing the bundled survey
update) changed a file git tracks, so ``git pull`` refused to update it and the tests that read the shipped city
(its parcel statistics, its update's ids) found the user's survey instead. The copy lives in the git-ignored
``workspaces/`` folder, made on first start and kept (the user's work stays), one even when two servers start
at once.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import threading
from pathlib import Path

from streamlit.testing.v1 import AppTest

from planner.io.store import GpkgStore
from planner.ui import workspaces

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _unconfigured(monkeypatch, tmp_path) -> tuple[Path, Path]:
    """The app as `make run` starts it (no workspace configured), its sample in ``tmp_path``."""
    for var in ("PLANNER_WORKSPACE", "PLANNER_WORKSPACES", "PLANNER_DATA_DIR"):
        monkeypatch.delenv(var, raising=False)
    source = tmp_path / "gis_data" / "sample_city.gpkg"
    source.parent.mkdir()
    shutil.copyfile(ROOT / "gis_data" / "sample_city.gpkg", source)
    copy = tmp_path / "workspaces" / "sample_city.gpkg"
    monkeypatch.setattr(workspaces, "SAMPLE_SOURCE", source)
    monkeypatch.setattr(workspaces, "SAMPLE_WORKSPACE", copy)
    return source, copy


def test_saving_in_the_app_leaves_the_shipped_sample_as_it_was(monkeypatch, tmp_path):
    source, copy = _unconfigured(monkeypatch, tmp_path)
    before = _sha(source)
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("views/rules.py").run()
    at.text_input(key="r_name").set_value("mine")
    at.button(key="rules_save").click().run()
    assert not at.exception
    assert _sha(source) == before  # the shipped file: untouched
    assert GpkgStore(copy).load_doc("policy", "mine")["name"] == "mine"  # the work: in the copy
    assert workspaces.load_catalog(env={}).path_of("sample_city.gpkg") == copy.resolve()
    # a restarted server opens the same copy, the work still there (never made again from the shipped file)
    at2 = AppTest.from_file(APP, default_timeout=120)
    at2.run()
    assert GpkgStore(copy).load_doc("policy", "mine")["name"] == "mine" and _sha(source) == before


def test_the_working_copy_is_made_once_and_the_repository_ignores_it(tmp_path):
    source = tmp_path / "s.gpkg"
    source.write_bytes(b"sample" * 1000)
    copy = tmp_path / "ws" / "s.gpkg"
    got = []
    threads = [threading.Thread(target=lambda: got.append(workspaces.working_sample(source, copy))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == [copy] * 8 and copy.read_bytes() == source.read_bytes()
    assert [p.name for p in copy.parent.iterdir()] == ["s.gpkg"]  # no temporary copies left
    copy.write_bytes(b"the user's work")
    assert workspaces.working_sample(source, copy) == copy and copy.read_bytes() == b"the user's work"
    # nowhere to make it (a read-only install): the shipped file, as before
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    assert workspaces.working_sample(source, blocked / "s.gpkg") == source
    if (ROOT / ".git").exists():
        ignored = subprocess.run(["git", "check-ignore", "-q", "workspaces/sample_city.gpkg"], cwd=ROOT)
        assert ignored.returncode == 0, "workspaces/ is not in .gitignore"
    assert workspaces.SAMPLE_WORKSPACE == ROOT / "workspaces" / "sample_city.gpkg"
