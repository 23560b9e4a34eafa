"""Exports: Excel workbook, GeoPackage/GeoJSON, standalone HTML (content checks; browser test in e2e/)."""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from openpyxl import load_workbook

from planner.errors import DataError
from planner.report import charts as _report_charts
from planner.report import export_all, fmt, html_report, to_excel, write_html, write_sites
from planner.scenarios import run, scenario_from_dict
from planner.scenarios.comparison import compare


def sites() -> gpd.GeoDataFrame:
    # two 1 ha sites side by side; S1 has 4,000 m2 of buildings
    return gpd.GeoDataFrame({"site_id": ["S1", "S2"], "status": "ok", "rank": [1, 2],
                             "land_area_m2": [10_000.0, 10_000.0], "floor_area_m2": [4_000.0, 0.0]},
                            geometry=[shapely.box(0, 0, 100, 100), shapely.box(150, 0, 250, 100)], crs="EPSG:4549")


def result(name="std", **kw):
    return run(sites(), scenario_from_dict({"name": name, "policy_name": "default", "policy_hash": "feedbeef" * 8,
                                            **kw}))


def test_excel_sheets_headers_units_and_formats(tmp_path):
    p = to_excel(result(), tmp_path / "r.xlsx", lang="zh")
    wb = load_workbook(p)
    assert wb.sheetnames == ["Summary 汇总", "Sites 地块", "Timeline 年度", "Assumptions 假设"]
    ws = wb["Sites 地块"]
    headers = [c.value for c in ws[1]]
    assert "新增建筑面积 New floor area (m²)" in headers
    j = headers.index("新增建筑面积 New floor area (m²)") + 1
    assert ws[1][j - 1].font.b
    # 10,000 m2 x 2.5 = 25,000 m2 on the first site, thousands format
    assert ws.cell(2, j).value == 25_000 and ws.cell(2, j).number_format == "#,##0"
    k = headers.index("改造后容积率 Plot ratio after") + 1
    assert ws.cell(2, k).number_format == "0.00"
    assert ws.column_dimensions["B"].width >= 10
    summ = {r[0].value: r[1].value for r in wb["Summary 汇总"].iter_rows(min_row=2)}
    assert summ["新增建筑面积 New floor area (m²)"] == 50_000
    assert "default" in str(summ["数据来源（识别规则、调查版本、片区参数） Inputs (three-low policy, survey version, site parameters)"])
    en = load_workbook(to_excel(result(), tmp_path / "en.xlsx", lang="en"))
    assert "New floor area (m²)" in [c.value for c in en["Sites 地块"][1]]
    # assumption sources in the report's language
    src = {r[0].value: r[-1].value for r in wb["Assumptions 假设"].iter_rows(min_row=2)}
    src_en = {r[0].value: r[-1].value for r in en["Assumptions 假设"].iter_rows(min_row=2)}
    assert src["tax_per_mu"] == "S：泉州标准化园区约 20 万元/亩" and src["scenario.start_year"] == "情景设置"
    assert src_en["tax_per_mu"] == "S: Quanzhou standardized parks, about 200,000 yuan/mu"
    assert src["jobs_per_1000m2"] == src_en["jobs_per_1000m2"] == "G"


def test_excel_comparison(tmp_path):
    p = to_excel([result("a", sites={"top": 1}), result("b")], tmp_path / "c.xlsx", lang="en")
    wb = load_workbook(p)
    assert wb.sheetnames == ["Comparison 对比", "Sites 地块", "Curves 年度曲线"]
    rows = {r[0].value: [c.value for c in r] for r in wb["Comparison 对比"].iter_rows(min_row=2)}
    hdr = [c.value for c in wb["Comparison 对比"][1]]
    new = rows["New floor area (m²)"]
    assert new[hdr.index("a")] == 25_000 and new[hdr.index("b")] == 50_000
    assert new[hdr.index("b - a")] == 25_000 and new[hdr.index("b vs a %")] == pytest.approx(100.0)
    ws = wb["Comparison 对比"]
    assert ws.cell(2, hdr.index("b vs a %") + 1).number_format.startswith('+0.0"%"')


def test_geodata_exports(tmp_path):
    r = result()
    g = write_sites(r, tmp_path / "s.gpkg")
    back = gpd.read_file(g)
    assert back["new_floor_m2"].tolist() == [25_000, 25_000] and back.crs.to_epsg() == 4549
    assert pyogrio.list_layers(g)[0][0] == "std"
    j = write_sites(r, tmp_path / "s.geojson")
    back = gpd.read_file(j)
    assert back.crs.to_epsg() == 4326 and back["scenario"].iloc[0] == "std"
    with pytest.raises(DataError, match="gpkg or .geojson"):
        write_sites(r, tmp_path / "s.shp")
    plain = run(pd.DataFrame(sites().drop(columns="geometry")), scenario_from_dict({"name": "nogeo"}))
    with pytest.raises(DataError, match="no geometry"):
        write_sites(plain, tmp_path / "x.gpkg")
    files = export_all(plain, tmp_path / "out")
    assert set(files) == {"xlsx", "html"}  # no geometry: no gpkg, and no map in the html


def test_html_is_self_contained_and_bilingual(tmp_path):
    r = result(sites_per_year=1)
    zh = html_report(r, lang="zh")
    en = html_report(r, lang="en")
    for doc in (zh, en):
        assert "<script" not in doc and "http://" not in doc and "https://" not in doc
        assert len(re.findall(r'src="data:image/png;base64,', doc)) == 3  # two charts + map
    assert 'lang="zh-CN"' in zh and "新增建筑面积" in zh and "主要指标" in zh
    assert 'lang="en"' in en and "New floor area" in en and "Key figures" in en
    assert "feedbeeffeed" in zh  # the policy hash the sites rest on
    assert ">nan<" not in zh and ">None<" not in en  # missing template values shown as a dash
    # key figure card: 50,000 m2 new floor area -> "5.0 万" in Chinese, "50,000" in English
    assert "5.0 万" in zh and "50,000" in en
    p = write_html(compare([result("a", sites={"top": 1}), result("b")]), tmp_path / "c.html", lang="en")
    text = p.read_text(encoding="utf-8")
    assert "Scenario comparison report" in text and "+100.0%" in text and "<script" not in text


def test_html_sites_table_is_capped():
    n = 60
    g = gpd.GeoDataFrame({"site_id": [f"S{i:03d}" for i in range(n)], "rank": np.arange(1, n + 1),
                          "land_area_m2": 10_000.0, "floor_area_m2": 0.0},
                         geometry=shapely.box(np.arange(n) * 200.0, 0, np.arange(n) * 200.0 + 100, 100),
                         crs="EPSG:4549")
    doc = html_report(run(g, scenario_from_dict({"name": "many"})), lang="en", max_sites=50)
    assert "S049" in doc and "S050" not in doc and "50 best-ranked of 60" in doc


def test_chinese_charts_fall_back_to_english_without_cjk_font(monkeypatch):
    monkeypatch.setattr(_report_charts, "cjk_font", lambda: None)
    assert _report_charts.chart_lang("zh") == "en"
    assert _report_charts.chart_lang("en") == "en"
    charts = _report_charts.timeline_charts(result().timeline, "zh")
    assert len(charts) == 2 and all(len(b64) > 1000 for _, b64 in charts)


def test_fmt():
    assert fmt(123_456_789.0, "investment_cny", "zh") == "1.23 亿元"
    assert fmt(1_234_567_890.0, "investment_cny", "en") == "1.23 bn"
    assert fmt(25_000.0, "new_floor_m2", "zh") == "2.5 万"
    assert fmt(float("nan"), "new_floor_m2") == "–" and fmt(float("inf"), "payback_years") == "∞"
    assert fmt(2.5, "plot_ratio_after") == "2.50"
