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


def _texts(at) -> str:
    """Everything the page says, as read."""
    parts = [w.value for w in (*at.warning, *at.error, *at.info, *at.success, *at.caption, *at.markdown)]
    parts += [b.help or "" for b in at.button]
    return " | ".join(rendered(p) for p in parts)


def _published_v1(tmp_path, env) -> tuple[GpkgStore, bytes, bytes]:
    from planner.workflow.enterprises import ingest_enterprises

    ws = env(tmp_path / "ws.gpkg")
    store = GpkgStore(ws, crs="EPSG:4549", create=True)
    store.publish_survey(parcels(), label="base")
    t, lk = write_table(tmp_path / "t.xlsx"), write_links(tmp_path / "l.csv")
    assert ingest_enterprises(t, store, link=lk, source_name="2024亩均效益.xlsx", link_name="宗地关联.csv").version == 1
    return store, t.read_bytes(), lk.read_bytes()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_current_enterprise_table_again_is_refused_in_the_pages_language(tmp_path, env, lang):
    """The tax bureau's table uploaded again as it was, then saved as csv: each made an identical version 2. The
    check says, in the page's language and without the command line's option, that there is nothing to publish;
    the publish button is off (a click that came all the same is refused at publish: the next test). Nothing is
    written; the uploads stay (nothing lost)."""
    store, table, links = _published_v1(tmp_path, env)
    cat, link_cat, audit = store.layers(), store.layers("enterprise_link"), store.audit_log()
    at = _page(lang)
    at.file_uploader[1].set_value(("2024亩均效益.xlsx", table, "application/vnd.ms-excel")).run()
    at.file_uploader[2].set_value(("宗地关联.csv", links, "text/csv")).run()
    at.button(key="de_check").click().run()
    assert not at.exception, [e.message for e in at.exception]
    said = ("2024亩均效益.xlsx 及关联表 宗地关联.csv 与", "发布的当前企业数据 v1 是相同的文件", "无需发布") if lang == "zh" \
        else ("2024亩均效益.xlsx with the link table 宗地关联.csv: the same files as the current enterprise table v1",
              "nothing to publish")
    warns = [rendered(w.value) for w in at.warning]
    assert any(all(s in w for s in said) for w in warns), warns
    assert at.button(key="de_publish").disabled
    assert "--publish-again" not in _texts(at)
    # the same rows saved as csv (no title row): other bytes, the same enterprises and links
    csv = write_table(tmp_path / "t.csv", title=False, encoding="utf-8").read_bytes()
    at.file_uploader[1].set_value(("2024亩均效益.csv", csv, "text/csv")).run()
    at.button(key="de_check").click().run()
    said = ("与当前企业数据 v1 相同的 5 家企业", "6 条宗地关联", "无需发布") if lang == "zh" \
        else ("the same 5 enterprises (codes, names and figures) and 6 parcel links as the current enterprise table v1",
              "nothing to publish")
    warns = [rendered(w.value) for w in at.warning]
    assert any(all(s in w for s in said) for w in warns), warns
    assert at.button(key="de_publish").disabled and "--publish-again" not in _texts(at)
    pd.testing.assert_frame_equal(store.layers(), cat)
    pd.testing.assert_frame_equal(store.layers("enterprise_link"), link_cat)
    pd.testing.assert_frame_equal(store.audit_log(), audit)
    assert not [s for s in at.success if "v2" in s.value]
    assert len(list((tmp_path / "uploads").glob("u-*/upload.*"))) == 2  # both uploads kept: cancel or change a file


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_earlier_enterprise_table_again_is_refused_pointing_to_the_switch(tmp_path, env, lang):
    """Last year's table uploaded again after a corrected v2: the check names v1, says v2 is current and that v1 is
    made current again in the versions list below (no command-line option or command: the app adds its own how-to
    to the library's words); publish is off; the switch does it."""
    from planner.workflow.enterprises import enterprise_version, ingest_enterprises
    from tests.test_enterprise import ROWS

    store, table, links = _published_v1(tmp_path, env)
    rows = [list(r) for r in ROWS]
    rows[0][3] = "11"
    assert ingest_enterprises(write_table(tmp_path / "t2.csv", rows, title=False), store,
                              link=tmp_path / "l.csv").version == 2
    cat = store.layers()
    at = _page(lang)
    at.file_uploader[1].set_value(("2024亩均效益.xlsx", table, "application/vnd.ms-excel")).run()
    at.file_uploader[2].set_value(("宗地关联.csv", links, "text/csv")).run()
    at.button(key="de_check").click().run()
    assert not at.exception, [e.message for e in at.exception]
    said = ("2024亩均效益.xlsx 及关联表 宗地关联.csv 与", "发布的企业数据 v1 是相同的文件", "当前企业数据为 v2",
            "如需让 v1 重新成为当前版本，请在应用的「数据管理 › 企业数据 › 企业数据版本」中切换到 v1") if lang == "zh" \
        else ("2024亩均效益.xlsx with the link table 宗地关联.csv: the same files as enterprise table v1",
              "The current enterprise table is v2.", "To make v1 current again, switch to it in the app (Data "
              "manager › Enterprises › Enterprise table versions)")
    warns = [rendered(w.value) for w in at.warning]
    assert any(all(s in w for s in said) for w in warns), warns
    assert at.button(key="de_publish").disabled and "--publish-again" not in _texts(at)
    assert "planner workspace use" not in _texts(at)  # the command line's way is the command line's
    pd.testing.assert_frame_equal(store.layers(), cat)
    at.selectbox(key="de_ver").set_value(1).run()
    at.button(key="de_set").click().run()
    assert enterprise_version(GpkgStore(store.path)) == 1


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_table_published_by_another_while_checked_is_refused_at_publish(tmp_path, env, lang):
    """Checked against an empty catalogue, the same table published by a colleague before the click: the publish
    is refused under the lock, said in the page's language, and nothing is published."""
    from planner.workflow.enterprises import ingest_enterprises

    ws = env(tmp_path / "ws.gpkg")
    store = GpkgStore(ws, crs="EPSG:4549", create=True)
    store.publish_survey(parcels(), label="base")
    t, lk = write_table(tmp_path / "t.xlsx"), write_links(tmp_path / "l.csv")
    at = _page(lang)
    at.file_uploader[1].set_value(("ent.xlsx", t.read_bytes(), "application/vnd.ms-excel")).run()
    at.file_uploader[2].set_value(("links.csv", lk.read_bytes(), "text/csv")).run()
    at.button(key="de_check").click().run()
    assert not at.button(key="de_publish").disabled and not at.warning
    ingest_enterprises(t, store, link=lk, user="colleague")  # v1, meanwhile
    cat, audit = store.layers(), store.audit_log()
    at.button(key="de_publish").click().run()
    assert not at.exception, [e.message for e in at.exception]
    errs = [rendered(e.value) for e in at.error]
    said = ("无法发布：ent.xlsx 及关联表 links.csv 与", "由 colleague 发布的当前企业数据 v1 是相同的文件") if lang == "zh" \
        else ("Cannot publish: ent.xlsx with the link table links.csv: the same files as the current enterprise table "
              "v1, published by colleague on",)
    assert any(all(s in e for s in said) for e in errs), errs
    assert "--publish-again" not in _texts(at)
    pd.testing.assert_frame_equal(store.layers(), cat)
    pd.testing.assert_frame_equal(store.audit_log(), audit)


def test_publish_is_greyed_for_a_role_that_lost_the_right_to_load_tables_after_its_check(tmp_path, env):
    """A GIS officer checked a table; an administrator made them a planner before they clicked Publish: the button
    is greyed saying who may (as the uploaders are for such a role), and nothing is published."""
    from planner.ui import auth
    from planner.workflow import accounts as A
    from tests.test_app_drafts import _sign_in

    ws = env(tmp_path / "ws.gpkg")
    store = GpkgStore(ws, crs="EPSG:4549", create=True)
    store.publish_survey(parcels(), label="base")
    A.add_user(store, "gus", "gis_staff", "gis-pass-1")
    A.add_user(store, "ada", "admin", "admin-pass-1")
    at = _sign_in(_page(), "gus", "gis-pass-1")
    at.switch_page("views/data.py").run()
    at.file_uploader[1].set_value(("t.xlsx", write_table(tmp_path / "t.xlsx").read_bytes(),
                                   "application/vnd.ms-excel")).run()
    at.button(key="de_check").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.button(key="de_publish").disabled
    A.set_role(store, "gus", "planner", user="ada")
    auth._accounts.clear()  # read again on the next run (a server does so every 30 s)
    at.run()
    assert at.button(key="de_publish").disabled
    assert "GIS 数据员" in (at.button(key="de_publish").help or "")  # who may
    assert "企业数据" in (at.button(key="de_publish").help or "")  # what: the enterprise table too, not "survey"
    assert GpkgStore(ws).layers("enterprise").empty
