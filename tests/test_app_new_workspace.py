"""The data manager makes new workspaces inside the data directory only, and publishes in the mode chosen."""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pytest
import shapely
from streamlit.testing.v1 import AppTest

from planner.io.store import GpkgStore
from tests.test_security import APP

X_FT, Y_FT = 985_000.0, 195_000.0


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    d = tmp_path / "data"
    d.mkdir()
    monkeypatch.setenv("PLANNER_DATA_DIR", str(d))
    for k in ("PLANNER_WORKSPACE", "PLANNER_WORKSPACES", "PLANNER_ROLE"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("PLANNER_UPLOAD_DIR", str(tmp_path / "uploads"))
    return d


def _data_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("views/data.py").run()
    return at


def _create(at: AppTest, name: str, crs: str | None = None) -> AppTest:
    at.text_input(key="nw_name").set_value(name).run()
    if crs is not None:
        at.text_input(key="nw_epsg").set_value(crs).run()
    return at.button(key="nw_create").click().run()


def _tree(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if not p.name.startswith("."))


def test_an_empty_data_directory_offers_a_new_workspace_and_opens_it(data_dir):
    at = _data_page()
    assert not at.exception, [e.message for e in at.exception]
    _create(at, "新城 2025", "EPSG:32650")
    assert not at.exception, [e.message for e in at.exception]
    assert _tree(data_dir) == ["新城 2025.gpkg"]
    assert GpkgStore(data_dir / "新城 2025.gpkg").crs.to_epsg() == 32650
    at.run()
    assert at.selectbox(key="w_workspace").value == "新城 2025.gpkg"  # the sidebar switched to it
    assert any("新城 2025.gpkg" in s.value for s in at.success) or at.session_state["_workspace"] == "新城 2025.gpkg"


@pytest.mark.parametrize("name", ["../outside", "/tmp/abs", "a/b", ".hidden", "x" * 80, "con\x00trol"])
def test_a_new_workspace_name_is_never_a_path(data_dir, tmp_path, name):
    before = _tree(tmp_path)
    at = _create(_data_page(), name, "EPSG:4549")
    assert not at.exception, [e.message for e in at.exception]
    assert any("未创建" in e.value for e in at.error), [e.value for e in at.error]
    assert _tree(tmp_path) == before


def test_a_new_workspace_refuses_degrees_and_existing_names(data_dir):
    at = _create(_data_page(), "city", "EPSG:4326")
    assert any("未创建" in e.value for e in at.error) and _tree(data_dir) == []
    GpkgStore(data_dir / "city.gpkg", crs="EPSG:4549", create=True)
    at = _create(_data_page(), "city", "EPSG:4549")
    assert any("已存在" in e.value for e in at.error), [e.value for e in at.error]


def test_a_decision_maker_cannot_make_a_workspace(data_dir, monkeypatch):
    """The button is greyed, saying who may (it could only be refused); the workflow refuses it anyway."""
    from planner import workflow as W
    from planner.errors import PlannerError

    monkeypatch.setenv("PLANNER_ROLE", "decision_maker")
    at = _data_page()
    at.text_input(key="nw_name").set_value("city").run()
    at.text_input(key="nw_epsg").set_value("EPSG:4549").run()
    button = at.button(key="nw_create")
    assert button.disabled and "只有" in button.help and _tree(data_dir) == []
    with pytest.raises(PlannerError):
        W.create_workspace(data_dir / "city.gpkg", "EPSG:4549")
    assert _tree(data_dir) == []


def test_without_a_data_directory_the_app_says_who_makes_workspaces(tmp_path, monkeypatch):
    ws = tmp_path / "ws.gpkg"
    GpkgStore(ws, crs="EPSG:4549", create=True)
    monkeypatch.setenv("PLANNER_WORKSPACE", str(ws))
    monkeypatch.delenv("PLANNER_DATA_DIR", raising=False)
    at = _data_page()
    assert any("PLANNER_DATA_DIR" in c.value for c in at.caption)
    assert not [b for b in at.button if b.key == "nw_create"]


def test_data_from_elsewhere_are_refused_in_auto_and_published_on_purpose_as_replace(data_dir, tmp_path):
    ws = data_dir / "brooklyn.gpkg"
    store = GpkgStore(ws, crs="EPSG:32618", create=True)
    here = gpd.GeoDataFrame({"parcel_id": ["A1", "A2"]},
                            geometry=shapely.box(X_FT + np.arange(2) * 100, Y_FT, X_FT + np.arange(2) * 100 + 90,
                                                 Y_FT + 90), crs="EPSG:2263").to_crs(32618)
    store.publish_survey(here, label="base")
    far = gpd.GeoDataFrame({"parcel_id": ["Z1", "Z2", "Z3"]},
                           geometry=shapely.box(X_FT + 1e6 + np.arange(3) * 100, Y_FT, X_FT + 1e6 + np.arange(3) * 100
                                                + 90, Y_FT + 90), crs="EPSG:2263").to_crs(4326)
    src = tmp_path / "far.geojson"
    far.to_file(src, driver="GeoJSON")
    at = _data_page()
    at.file_uploader[0].set_value(("far.geojson", src.read_bytes(), "application/geo+json")).run()
    at.button(key="dm_read").click().run()
    errors = [e.value for e in at.error]
    assert any("整体替换" in e and "新建工作空间" in e for e in errors), errors
    assert GpkgStore(ws).surveys()["version"].max() == 1
    at.radio(key="dm_mode").set_value("replace").run()
    at.button(key="dm_read").click().run()
    at.button(key="dm_publish").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert sorted(GpkgStore(ws).read_parcels()["parcel_id"]) == ["Z1", "Z2", "Z3"]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_crs_proposed_from_an_upload_says_why_in_the_pages_language(data_dir, tmp_path, lang):
    """The form proposing a new workspace's CRS from the uploaded survey said why in English on a Chinese page.

    The form is drawn alone, as the data manager draws it once a survey is uploaded (AppTest cannot set a radio
    whose labels are made from the session's upload).
    """
    src = tmp_path / "lonlat.geojson"
    gpd.GeoDataFrame({"parcel_id": ["Z1", "Z2"]}, geometry=shapely.box(118.55 + np.arange(2) * 0.001, 24.78,
                                                                      118.5508 + np.arange(2) * 0.001, 24.7808),
                     crs="EPSG:4326").to_file(src, driver="GeoJSON")

    def form():
        from planner.ui import new_workspace

        new_workspace.render()

    at = AppTest.from_function(form, default_timeout=60)
    for k, v in {"dm_path": str(src), "dm_name": "lonlat.geojson", "nw_crs_how": "upload", "_lang": lang}.items():
        at.session_state[k] = v
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    said = [c.value for c in at.caption if "EPSG" in c.value or "UTM" in c.value]
    assert len(said) == 1, [c.value for c in at.caption]
    why = said[0].split("：" if lang == "zh" else ": ", 1)[1]
    if lang == "zh":
        assert said[0].startswith("推荐坐标系") and not re.search(r"[a-z]{4,} [a-z]{3,}", why), said
    else:
        assert said[0].startswith("Proposed CRS") and not re.search(r"[\u4e00-\u9fff]", why), said
