"""The data manager for issue 15, through AppTest: the CRS warning, enterprise tables uploaded, checked,
published and switched."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from planner.io.store import GpkgStore
from tests._text import rendered
from tests.test_enterprise import parcels, write_links, write_table
from tests.test_security import _data_page

X_FT, Y_FT = 985_000.0, 195_000.0


_page = _data_page  # the data manager, in a language


@pytest.fixture
def env(tmp_path, monkeypatch):
    def offer(ws):
        monkeypatch.setenv("PLANNER_WORKSPACE", str(ws))
        monkeypatch.delenv("PLANNER_DATA_DIR", raising=False)
        monkeypatch.delenv("PLANNER_WORKSPACES", raising=False)
        monkeypatch.setenv("PLANNER_UPLOAD_DIR", str(tmp_path / "uploads"))
        return ws
    return offer


def test_data_outside_the_workspace_crs_are_warned_with_the_area_error(tmp_path, env):
    ws = env(tmp_path / "ws.gpkg")
    GpkgStore(ws, crs="EPSG:4549", create=True)  # a Chinese workspace, no survey yet
    lots = gpd.GeoDataFrame({"parcel_id": [f"L{i}" for i in range(4)]},
                            geometry=shapely.box(X_FT + np.arange(4) * 100, Y_FT, X_FT + np.arange(4) * 100 + 90,
                                                 Y_FT + 90), crs="EPSG:2263").to_crs(4326)
    src = tmp_path / "lots.geojson"
    lots.to_file(src, driver="GeoJSON")
    at = _page()
    at.file_uploader[0].set_value(("lots.geojson", src.read_bytes(), "application/geo+json")).run()
    at.button(key="dm_read").click().run()
    assert not at.exception, [e.message for e in at.exception]
    warns = [rendered(w.value) for w in at.warning]
    assert any("坐标系提示" in w and "面积偏大 3." in w and "EPSG:32618" in w for w in warns), warns


def test_enterprise_table_uploaded_checked_published_and_switched(tmp_path, env):
    ws = env(tmp_path / "ws.gpkg")
    store = GpkgStore(ws, crs="EPSG:4549", create=True)
    store.publish_survey(parcels(), label="base")
    table = write_table(tmp_path / "t.xlsx").read_bytes()
    links = write_links(tmp_path / "l.csv").read_bytes()
    at = _page()
    at.file_uploader[1].set_value(("2024亩均效益.xlsx", table, "application/vnd.ms-excel")).run()
    at.file_uploader[2].set_value(("宗地关联.csv", links, "text/csv")).run()
    at.button(key="de_check").click().run()
    assert not at.exception, [e.message for e in at.exception]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["读取"] == "5" and metrics["接受"] == "5"
    texts = " ".join(str(c.value) for c in at.caption)
    assert "关联到地块的企业 3 家，涉及地块 3 宗（多企业地块 1 宗）" in texts
    frames = [d.value for d in at.dataframe]
    probs = next(f for f in frames if "message" in f.columns or "问题" in " ".join(map(str, f.columns)))
    assert probs.astype(str).apply(lambda c: c.str.contains("校验码错误")).to_numpy().any()
    assert GpkgStore(ws).layers("enterprise").empty  # a check writes nothing
    at.button(key="de_publish").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert [s.value for s in at.success if "企业数据 v1" in s.value]
    cat = GpkgStore(ws).layers("enterprise")
    assert cat["version"].tolist() == [1] and cat["source_file"].iloc[0] == "2024亩均效益.xlsx"
    assert GpkgStore(ws).layers("enterprise_link")["source_file"].iloc[0] == "宗地关联.csv"
    assert not (tmp_path / "uploads").exists() or not any((tmp_path / "uploads").iterdir())
    # a second version by floor area, then back to the first
    at.file_uploader[1].set_value(("2024b.xlsx", table, "application/vnd.ms-excel")).run()
    at.file_uploader[2].set_value(("宗地关联.csv", links, "text/csv")).run()
    at.radio(key="de_share").set_value("floor").run()
    at.button(key="de_check").click().run()
    at.button(key="de_publish").click().run()
    from planner.workflow.enterprises import analysis_parcels, enterprise_version

    assert enterprise_version(GpkgStore(ws)) == 2
    assert analysis_parcels(GpkgStore(ws)).set_index("parcel_id").loc["P1", "tax_cny"] == pytest.approx(140_000.0)
    at.selectbox(key="de_ver").set_value(1).run()
    at.button(key="de_set").click().run()
    assert enterprise_version(GpkgStore(ws)) == 1
    assert analysis_parcels(GpkgStore(ws)).set_index("parcel_id").loc["P1", "tax_cny"] == pytest.approx(120_000.0)
    assert pd.Series([s.value for s in at.success]).str.contains("v1").any()
