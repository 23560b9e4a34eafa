"""The decision outputs in the app (AppTest): the policy actually used is named, edited rules are marked, and the
pages offer their reports, briefs and exports."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from planner.io.store import GpkgStore
from tests._text import rendered
from tests.e2e._workspace import build_workspace

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    from planner import scenarios

    ws = build_workspace(tmp_path_factory.mktemp("app") / "ws.gpkg")
    store = GpkgStore(ws)
    store.save_doc("scenario", "top5", scenarios.Scenario(name="top5", sites=scenarios.SiteSelection(top=5)).to_dict())
    store.save_doc("scenario", "upstairs", scenarios.Scenario(
        name="upstairs", template="multi_storey", sites=scenarios.SiteSelection(top=8)).to_dict())
    return ws


def _app(workspace, monkeypatch, page: str) -> AppTest:
    monkeypatch.setenv("PLANNER_WORKSPACE", str(workspace))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page(f"views/{page}.py").run()
    return at


def _downloads(at: AppTest) -> list[str]:
    """The page's download buttons; each makes its file when clicked and does not re-run the page (a re-run at
    1M runs the comparison's scenarios again, and replaced the buttons under a browser's next click)."""
    buttons = at.get("download_button")
    assert all(b.proto.deferred_file_id and b.proto.ignore_rerun for b in buttons), [b.proto for b in buttons]
    return [b.proto.label for b in buttons]


def test_comparison_names_the_rules_in_use_and_marks_unsaved_edits(workspace, monkeypatch):
    at = _app(workspace, monkeypatch, "compare")
    assert not at.exception
    cap = next(rendered(c.value) for c in at.caption if c.value.startswith("计算依据"))
    assert "识别规则 default (sha256 " in cap and "未保存" not in cap
    assert _downloads(at) == ["下载 Excel 报告", "下载 HTML 报告", "下载 PDF 报告（A4）"]
    # edit a threshold without saving: every result now rests on edited rules, and says so
    at.switch_page("views/rules.py").run()
    at.number_input(key="r_utilization_0_t").set_value(1.3).run()
    at.switch_page("views/compare.py").run()
    assert not at.exception
    cap = next(rendered(c.value) for c in at.caption if c.value.startswith("计算依据"))
    assert "（含未保存的修改，基于 " in cap


def test_reports_of_edited_rules_say_so():
    import geopandas as gpd
    import shapely

    from planner.report import html_report
    from planner.report.text import policy_text
    from planner.scenarios import run, scenario_from_dict

    g = gpd.GeoDataFrame({"site_id": ["S1"], "land_area_m2": [10_000.0], "floor_area_m2": [0.0]},
                         geometry=[shapely.box(0, 0, 100, 100)], crs="EPSG:4549")
    r = run(g, scenario_from_dict({"name": "a", "policy_name": "default", "policy_hash": "ab" * 32}))
    assert policy_text(r, "zh").startswith("识别规则 default (sha256 abababababab)")
    # the sites actually rest on edited rules: the provenance wins over the scenario's saved policy name
    r.provenance = {"policy_name": "strict", "policy_hash": "cd" * 32, "policy_edited": True,
                    "policy_base": "strict v3", "survey_version": 2}
    zh, en = policy_text(r, "zh"), policy_text(r, "en")
    assert zh.startswith("识别规则 strict (sha256 cdcdcdcdcdcd)（含未保存的修改，基于 strict v3）")
    assert "调查版本 v2" in zh and "with unsaved changes, based on strict v3" in en
    doc = html_report(r, lang="zh")
    assert "含未保存的修改，基于 strict v3" in doc and "abababababab" not in doc


def test_scenario_map_and_sites_pages_offer_reports_briefs_and_exports(workspace, monkeypatch):
    at = _app(workspace, monkeypatch, "scenarios")
    assert not at.exception
    assert _downloads(at) == ["下载 Excel 报告", "下载 HTML 报告", "下载 PDF 报告（A4）"]
    labels = [m.label for m in at.metric]
    assert labels[:6] == ["新增产业空间（万㎡）", "可容纳企业数", "改造后年税收（亿元/年）", "总投资（亿元）",
                          "仅计租金回收期（年）", "租金+税收回收期（年）"]
    assert "规划总建筑面积（万㎡）" in labels
    at.switch_page("views/explorer.py").run()
    assert not at.exception
    assert _downloads(at) == ["GeoPackage", "Shapefile（zip）", "Excel"]
    assert any(c.value == "当前 576 条记录" for c in at.caption)
    at.switch_page("views/sites.py").run()
    assert not at.exception
    got = _downloads(at)
    # no site selected yet: the briefs of the best-ranked sites, and the sites of the table
    assert got == ["一地一策 PDF：前 10 个片区", "GeoPackage", "Shapefile（zip）", "Excel"]
    # the sites page's floor card is the gross planned potential, under its own name
    assert any(m.label == "规划建筑面积潜力（万㎡）" for m in at.metric)
    assert not any(m.label == "新增产业空间（万㎡）" for m in at.metric)
