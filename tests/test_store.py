"""Workspace store: versions, current version, documents, audit, atomicity."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from planner.errors import StoreError
from planner.io.store import GpkgStore, open_store
from tests.conftest import box_grid


@pytest.fixture
def ws(store):
    """A new workspace on each backend (GeoPackage, PostGIS)."""
    return store


@pytest.fixture
def gpkg_ws(tmp_path) -> GpkgStore:
    """A new GeoPackage workspace (for what only a file has: bytes, copies beside it)."""
    return GpkgStore(tmp_path / "ws.gpkg", crs="EPSG:4549", create=True)


def file_tables(path) -> tuple:
    """The SQLite tables of a GeoPackage file and its ``gpkg_contents`` rows (what a stray table would add to)."""
    import sqlite3

    con = sqlite3.connect(path)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return (sorted(r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")),
                sorted(r[0] for r in con.execute("SELECT table_name FROM gpkg_contents")))
    finally:
        con.close()


def snapshot(store) -> tuple:
    """Content of a workspace: catalogue, documents, audit and every layer's rows."""
    cat = store.layers()
    layers = {}
    for row in cat.itertuples():
        g = store.read_layer(row.kind, row.name, row.version)
        layers[row.table_name] = (len(g), g.drop(columns="geometry").astype(str).values.tolist(),
                                  [w.hex() for w in shapely.to_wkb(g.geometry.values)])
    return (cat.to_json(), store.docs().to_json(), store.audit_log().to_json(), layers)


def test_new_workspace_needs_crs_and_existing_file(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        GpkgStore(tmp_path / "missing.gpkg")
    with pytest.raises(StoreError, match="needs a projected metric CRS"):
        GpkgStore(tmp_path / "x.gpkg", create=True)
    with pytest.raises(StoreError, match="projected"):
        GpkgStore(tmp_path / "y.gpkg", crs="EPSG:4326", create=True)
    assert not (tmp_path / "y.gpkg").exists()


def test_not_a_workspace(tmp_path):
    p = tmp_path / "plain.gpkg"
    gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.box(0, 0, 1, 1)], crs="EPSG:4549").to_file(p)
    with pytest.raises(StoreError, match="not a planner workspace"):
        GpkgStore(p)
    bad = tmp_path / "junk.gpkg"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a readable GeoPackage"):
        GpkgStore(bad)
    with pytest.raises(StoreError, match="expected a .gpkg"):
        open_store(tmp_path / "ws.shp")


def test_survey_versions_current_and_rollback(ws):
    v1 = ws.publish_survey(box_grid(3, 3), label="2023 survey", user="alice", source_file="a.zip", sha256="ab")
    v2 = ws.publish_survey(box_grid(2, 2), label="2024 survey", user="bob")
    assert (v1, v2) == (1, 2)
    cat = ws.surveys()
    assert cat["version"].tolist() == [1, 2]
    assert cat["is_current"].tolist() == [False, True]
    assert cat["n_rows"].tolist() == [9, 4]
    assert len(ws.read_parcels()) == 4
    assert len(ws.read_parcels(version=1)) == 9
    ws.set_current("survey", "parcels", 1, user="carol")
    assert len(ws.read_parcels()) == 9
    assert ws.surveys()["is_current"].tolist() == [True, False]
    with pytest.raises(StoreError, match="no version 7"):
        ws.set_current("survey", "parcels", 7)
    log = ws.audit_log()
    assert log["action"].tolist() == ["publish_survey", "publish_survey", "set_current"]
    assert log["user"].tolist() == ["alice", "bob", "carol"]
    assert log["n_rows"].tolist()[:2] == [9, 4]
    assert log.loc[0, "source_file"] == "a.zip" and log.loc[0, "sha256"] == "ab"


def test_a_wrong_keyword_of_publish_survey_is_a_clear_type_error_naming_those_it_takes(ws):
    """``publish_survey(g, name="2025")`` (a version's name is its ``label=``) reached ``write_layer`` deep inside:
    "got multiple values for argument 'name'", of a method the caller never called. Now the TypeError names the
    keyword and those publish_survey takes, on either backend, before anything is written."""
    takes = "it takes label, user, source_file, sha256, meta, make_current, action"
    with pytest.raises(TypeError) as caught:
        ws.publish_survey(box_grid(2, 2), name="2025 survey")
    said = str(caught.value)
    assert said.startswith("publish_survey() got an unexpected keyword argument 'name' ") and takes in said, said
    assert "label=" in said
    with pytest.raises(TypeError, match=r"unexpected keyword arguments 'lable', 'who'; " + takes):
        ws.publish_survey(box_grid(2, 2), lable="2025", who="bob")
    assert ws.surveys().empty and ws.audit_log().empty
    assert ws.publish_survey(box_grid(2, 2), label="2025", user="bob", make_current=True) == 1


def test_roundtrip_keeps_schema_dtypes_and_values(ws):
    g = box_grid(2, 2)
    g["owner"] = pd.array(["陈氏鞋业", None, "晋江纺织", "x"], dtype="string")
    g["tax_cny"] = [1.5e5, np.nan, 0.0, 2.0]
    ws.publish_survey(g)
    r = ws.read_parcels()
    assert r["owner"].tolist()[0] == "陈氏鞋业" and pd.isna(r["owner"].iloc[1])
    assert np.isnan(r["tax_cny"].iloc[1]) and r["tax_cny"].iloc[0] == 1.5e5
    assert r.crs.to_epsg() == 4549
    assert shapely.equals(r.geometry.values, g.geometry.values).all()


def test_reprojects_to_workspace_crs(ws):
    g = box_grid(1, 1).to_crs("EPSG:4490")
    ws.write_layer("constraint", "farmland", g)
    r = ws.read_layer("constraint", "farmland")
    assert r.crs.to_epsg() == 4549
    assert r.geometry.area.iloc[0] == pytest.approx(2500.0, rel=1e-6)


def test_documents_are_versioned_and_audited(ws):
    assert ws.save_doc("policy", "default", {"min_criteria": 2}) == 1
    assert ws.save_doc("policy", "default", {"min_criteria": 3}) == 2
    assert ws.load_doc("policy", "default") == {"min_criteria": 3}
    assert ws.load_doc("policy", "default", version=1) == {"min_criteria": 2}
    with pytest.raises(StoreError, match="no scenario 'nope'"):
        ws.load_doc("scenario", "nope")
    with pytest.raises(StoreError, match="unknown document kind"):
        ws.save_doc("banana", "x", {})
    assert ws.docs()["version"].tolist() == [1, 2]
    assert ws.audit_log()["action"].tolist() == ["save_policy", "save_policy"]


def test_latest_documents_are_read_at_once(ws, monkeypatch):
    """The pages list saved scenarios on every run: one read for any number of them (was one per document)."""
    from planner import workflow as W

    for i in range(30):
        ws.save_doc("scenario", f"s{i:02d}", {"top": i})
    ws.save_doc("scenario", "s01", {"top": 100})
    ws.save_doc("scenario", "s02", {"deleted": True})
    ws.save_doc("scenario", "s03", {"deleted": True})
    ws.save_doc("scenario", "s03", {"top": 3})  # saved again after it was deleted
    ws.save_doc("policy", "p", {"min_criteria": 2})
    latest = ws.latest_docs("scenario")
    assert len(latest) == 30 and latest["s01"] == {"top": 100} and latest["s02"] == {"deleted": True}
    assert latest["s03"] == {"top": 3} and ws.latest_docs("comparison") == {}
    calls = []
    real = ws.load_doc
    monkeypatch.setattr(ws, "load_doc", lambda *a, **k: calls.append(a) or real(*a, **k))
    names = W.document_names(ws, "scenario")
    assert names == [f"s{i:02d}" for i in range(30) if i != 2] and calls == []


def test_failed_layer_write_leaves_workspace_unchanged(gpkg_ws, monkeypatch):
    """A layer written in full into the workspace file, then a failure: the table is dropped, nothing else changed."""
    ws = gpkg_ws
    ws.publish_survey(box_grid(3, 3))
    ws.save_doc("policy", "p", {"a": 1})
    before = snapshot(ws)
    tables_before = file_tables(ws.path)

    import pyogrio

    real = pyogrio.write_dataframe
    targets = []

    def write_then_fail(*a, **kw):
        real(*a, **kw)  # the layer is fully written into the workspace file ...
        targets.append(kw["layer"])
        raise OSError("disk full")  # ... then the write fails

    monkeypatch.setattr(pyogrio, "write_dataframe", write_then_fail)
    with pytest.raises(OSError, match="disk full"):
        ws.publish_survey(box_grid(5, 5))
    monkeypatch.undo()
    assert targets and targets[0] not in file_tables(ws.path)[0]
    assert file_tables(ws.path) == tables_before
    assert snapshot(ws) == before
    assert not list(ws.path.parent.glob("*.tmp.gpkg*"))
    assert not ws.path.with_name(ws.path.name + "-journal").exists()


def test_a_table_left_by_a_killed_write_is_dropped_by_the_next_write(gpkg_ws):
    """A table no catalogue row names (a write killed before its commit) is invisible, then dropped under the lock.

    Tables the store did not name as layer tables are never touched.
    """
    import pyogrio

    ws = gpkg_ws
    ws.publish_survey(box_grid(3, 3))
    before = snapshot(ws)
    stray = "survey_parcels_v0002_0a1b2c"  # as a killed `publish_survey` leaves it: written, never registered
    pyogrio.write_dataframe(box_grid(4, 4), ws.path, layer=stray, driver="GPKG", layer_options={"SPATIAL_INDEX": "YES"})
    pyogrio.write_dataframe(box_grid(2, 2), ws.path, layer="my_own_layer", driver="GPKG")  # a user's own table
    assert stray in file_tables(ws.path)[0] and any(t.startswith(f"rtree_{stray}") for t in file_tables(ws.path)[0])
    assert snapshot(ws) == before  # readers never see it
    assert len(ws.read_parcels()) == 9
    ws.publish_survey(box_grid(2, 2), label="next")
    tables, contents = file_tables(ws.path)
    assert not any(stray in t for t in tables) and stray not in contents
    assert "my_own_layer" in tables and "my_own_layer" in contents
    assert ws.surveys()["version"].tolist() == [1, 2]  # the stray table's version number is used, no clash
    assert len(ws.read_parcels()) == 4
    assert ws.read_parcels(version=1).shape[0] == 9


def test_bad_layer_refused_before_writing(ws):
    with pytest.raises(StoreError, match="GeoDataFrame with a CRS"):
        ws.write_layer("barrier", "roads", gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.box(0, 0, 1, 1)]))
    with pytest.raises(StoreError, match="unknown layer kind"):
        ws.write_layer("stuff", "x", box_grid(1, 1))
    assert len(ws.layers()) == 0


_KILL_SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np, shapely, geopandas as gpd
    from planner.io.store import GpkgStore
    n = 300_000
    x = np.arange(n) % 1000 * 20.0
    y = np.arange(n) // 1000 * 20.0
    g = gpd.GeoDataFrame({"parcel_id": np.arange(n).astype(str), "owner": ["某某有限公司"] * n},
                         geometry=shapely.box(x, y, x + 19, y + 19), crs="EPSG:4549")
    print("writing", flush=True)
    GpkgStore(sys.argv[1]).publish_survey(g, label="big")
    print("done", flush=True)
    """
)


@pytest.mark.slow
def test_write_killed_midway_leaves_previous_state(gpkg_ws, tmp_path):
    """SIGKILL a process while it writes a large survey into the workspace: the workspace stays as it was."""
    ws = gpkg_ws
    ws.publish_survey(box_grid(3, 3), label="baseline")
    ws.save_doc("scenario", "s", {"top": 10})
    before = snapshot(ws)
    tables_before = file_tables(ws.path)
    size = ws.path.stat().st_size
    script = tmp_path / "writer.py"
    script.write_text(_KILL_SCRIPT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, str(script), str(ws.path)], stdout=subprocess.PIPE, env=env)
    # Wait until the layer write into the workspace file is under way (the file grows), then kill.
    deadline = time.monotonic() + 120
    killed_midway = False
    while time.monotonic() < deadline and proc.poll() is None:
        if ws.path.stat().st_size > size + 2_000_000:
            os.kill(proc.pid, signal.SIGKILL)
            killed_midway = True
            break
        time.sleep(0.01)
    proc.wait(timeout=60)
    assert killed_midway, "the writer finished before it could be killed; enlarge the layer"
    assert proc.returncode == -signal.SIGKILL
    # Opened again (a hot journal is rolled back), the workspace reads as before.
    again = GpkgStore(ws.path)
    assert snapshot(again) == before
    assert len(again.read_parcels()) == 9
    # The next write drops whatever the killed one left and works.
    again.publish_survey(box_grid(2, 2), label="after crash")
    tables, contents = file_tables(ws.path)
    assert [t for t in tables if t not in tables_before[0] and "survey_parcels_v0002" not in t] == []
    assert not list(ws.path.parent.glob("*.tmp.gpkg*"))
    assert not ws.path.with_name(ws.path.name + "-journal").exists()
    assert again.surveys()["version"].tolist() == [1, 2]


def test_write_layers_is_one_commit(ws, monkeypatch):
    """Several layers land together or not at all (a failure in the second leaves the first unwritten)."""
    from planner.io.store import DocWrite, LayerWrite

    g = gpd.GeoDataFrame({"x": [1]}, geometry=[shapely.box(0, 0, 1, 1)], crs="EPSG:4549")
    got = ws.write_layers([LayerWrite("sites", "a", g), LayerWrite("site_parcels", "a", g)],
                          docs=[DocWrite("policy", "a", {"x": 1})], action="build_sites")
    assert got == {("sites", "a"): 1, ("site_parcels", "a"): 1, ("policy", "a"): 1}
    assert ws.load_doc("policy", "a") == {"x": 1}
    before = snapshot(ws)
    calls = []
    if isinstance(ws, GpkgStore):
        import pyogrio

        module, attr = pyogrio, "write_dataframe"
    else:
        from planner.io import _pgcopy

        module, attr = _pgcopy, "csv_batches"
    real = getattr(module, attr)

    def second_fails(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk full")
        return real(*a, **k)

    monkeypatch.setattr(module, attr, second_fails)
    with pytest.raises(OSError):
        ws.write_layers([LayerWrite("sites", "a", g), LayerWrite("site_parcels", "a", g)],
                        docs=[DocWrite("policy", "a", {"x": 2})])
    monkeypatch.undo()
    assert len(calls) == 2  # the first layer was written before the second failed
    assert ws.load_doc("policy", "a") == {"x": 1} and len(ws.docs()) == 1
    cat = ws.layers()
    assert cat.groupby("kind")["version"].max().to_dict() == {"site_parcels": 1, "sites": 1}
    assert snapshot(ws) == before
    with pytest.raises(StoreError, match="once per commit"):
        ws.write_layers([LayerWrite("sites", "a", g), LayerWrite("sites", "a", g)])


def test_geopackage_refusals_name_the_file_in_both_languages(tmp_path):
    """A GeoPackage workspace's refusals read "/srv/.../junk.gpkg is not a readable GeoPackage workspace: ...", the
    server's folders and all and with no Chinese; a read-only or vanished one named its folders in English (and the
    vanished one in Chinese too). They now name the workspace by its file name (``GpkgStore.label``, as the PostGIS
    side names ``db/schema``), in either language."""
    import re

    from planner.errors import message_in

    def words(call) -> tuple[str, str]:
        with pytest.raises(StoreError) as caught:
            call()
        en, zh = message_in(caught.value, "en"), message_in(caught.value, "zh")
        assert str(tmp_path) not in en + zh, (en, zh)
        assert zh != en and re.search(r"[\u4e00-\u9fff]", zh), zh  # a Chinese text of its own
        return en, zh

    bad = tmp_path / "junk.gpkg"
    bad.write_bytes(b"this is not sqlite" * 100)
    en, zh = words(lambda: GpkgStore(bad))
    assert en.startswith("workspace junk.gpkg: not a readable GeoPackage workspace"), en
    assert zh.startswith("工作空间 junk.gpkg：无法作为 GeoPackage 工作空间读取") and "备份" in zh, zh
    plain = tmp_path / "plain.gpkg"
    gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.box(0, 0, 1, 1)], crs="EPSG:4549").to_file(plain)
    en, zh = words(lambda: GpkgStore(plain))
    assert en.startswith("workspace plain.gpkg: a GeoPackage but not a planner workspace"), en
    assert zh.startswith("工作空间 plain.gpkg：是 GeoPackage，但不是 planner 工作空间"), zh
    ws = GpkgStore(tmp_path / "ws.gpkg", crs="EPSG:4549", create=True)
    en, zh = words(lambda: ws.load_doc("policy", "nope"))
    assert en == "workspace ws.gpkg has no policy 'nope'" and zh == "工作空间 ws.gpkg 中没有 policy 'nope'", (en, zh)
    os.chmod(ws.path, 0o444)
    try:
        en, zh = words(lambda: ws.save_doc("policy", "p", {"a": 1}))
        assert en.startswith("workspace ws.gpkg is read-only") and zh.startswith("工作空间 ws.gpkg 为只读"), (en, zh)
    finally:
        os.chmod(ws.path, 0o644)
    ws.path.unlink()
    en, zh = words(lambda: ws.save_doc("policy", "p", {"a": 1}))
    assert en.startswith("workspace ws.gpkg no longer exists") and zh.startswith("工作空间 ws.gpkg 已不存在"), (en, zh)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_app_names_a_workspace_that_does_not_open_once(tmp_path, monkeypatch, lang):
    """A GeoPackage that is not a planner workspace, offered in the sidebar: the Chinese page read "无法打开工作空间：
    plain.gpkg is a GeoPackage but not a planner workspace ..." (English), and the refusals that name the workspace
    read "无法打开工作空间：工作空间 plain.gpkg：…" (named twice). Now it is shown as it is, by file name, in the
    page's language."""
    from streamlit.testing.v1 import AppTest

    from tests.conftest import ROOT

    bad = tmp_path / "plain.gpkg"
    gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.box(0, 0, 1, 1)], crs="EPSG:4549").to_file(bad)
    monkeypatch.setenv("PLANNER_WORKSPACE", str(bad))
    monkeypatch.delenv("PLANNER_WORKSPACES", raising=False)
    monkeypatch.delenv("PLANNER_DATA_DIR", raising=False)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    if lang == "en":
        at.radio(key="w_lang").set_value("en").run()
    assert not at.exception, [e.message for e in at.exception]
    shown = [e.value.replace("\\", "") for e in at.error]
    want = ("工作空间 plain.gpkg：是 GeoPackage，但不是 planner 工作空间" if lang == "zh"
            else "workspace plain.gpkg: a GeoPackage but not a planner workspace")
    assert any(s.startswith(want) for s in shown), shown
    assert not any("无法打开工作空间：工作空间" in s or "Cannot open the workspace: workspace" in s for s in shown), shown
    assert not any(str(tmp_path) in s for s in shown), shown
