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
from planner.io.store import GpkgStore, open_store, sha256_file
from tests.conftest import box_grid


@pytest.fixture
def ws(store):
    """A new workspace on each backend (GeoPackage, PostGIS)."""
    return store


@pytest.fixture
def gpkg_ws(tmp_path) -> GpkgStore:
    """A new GeoPackage workspace (for what only a file has: bytes, copies beside it)."""
    return GpkgStore(tmp_path / "ws.gpkg", crs="EPSG:4549", create=True)


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


def test_failed_layer_write_leaves_workspace_unchanged(gpkg_ws, monkeypatch):
    ws = gpkg_ws
    ws.publish_survey(box_grid(3, 3))
    ws.save_doc("policy", "p", {"a": 1})
    before = snapshot(ws)
    bytes_before = ws.path.read_bytes()

    import pyogrio

    real = pyogrio.write_dataframe

    def write_then_fail(*a, **kw):
        real(*a, **kw)  # the layer is fully written into the private copy ...
        raise OSError("disk full")  # ... then the write fails

    monkeypatch.setattr(pyogrio, "write_dataframe", write_then_fail)
    with pytest.raises(OSError, match="disk full"):
        ws.publish_survey(box_grid(5, 5))
    monkeypatch.undo()
    assert ws.path.read_bytes() == bytes_before
    assert snapshot(ws) == before
    assert not list(ws.path.parent.glob("*.tmp.gpkg"))


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
    """SIGKILL a process while it writes a large survey: the workspace stays as it was."""
    ws = gpkg_ws
    ws.publish_survey(box_grid(3, 3), label="baseline")
    ws.save_doc("scenario", "s", {"top": 10})
    before = snapshot(ws)
    digest = sha256_file(ws.path)
    script = tmp_path / "writer.py"
    script.write_text(_KILL_SCRIPT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, str(script), str(ws.path)], stdout=subprocess.PIPE, env=env)
    # Wait until the private copy exists and the layer write is under way, then kill.
    deadline = time.monotonic() + 120
    killed_midway = False
    while time.monotonic() < deadline and proc.poll() is None:
        tmps = list(ws.path.parent.glob(f".{ws.path.name}.*.tmp.gpkg"))
        if tmps and tmps[0].exists() and tmps[0].stat().st_size > ws.path.stat().st_size + 2_000_000:
            os.kill(proc.pid, signal.SIGKILL)
            killed_midway = True
            break
        time.sleep(0.01)
    proc.wait(timeout=60)
    assert killed_midway, "the writer finished before it could be killed; enlarge the layer"
    assert proc.returncode == -signal.SIGKILL
    # The original file is byte-identical and fully readable.
    assert sha256_file(ws.path) == digest
    again = GpkgStore(ws.path)
    assert snapshot(again) == before
    assert len(again.read_parcels()) == 9
    # The next write cleans up the stray copy and works.
    again.publish_survey(box_grid(2, 2), label="after crash")
    assert not list(ws.path.parent.glob("*.tmp.gpkg"))
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
