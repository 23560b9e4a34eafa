"""Each headline figure means one thing everywhere: the app's cards and tables, Excel, HTML and the CLI.

Hand-checked case: two 1 ha sites, S1 with 4,000 m² of buildings, S2 empty; the standard factory template
(plot ratio 2.5, all demolished):

- gross planned floor area = 2 x 10,000 x 2.5 = 50,000 m² (all newly built: nothing retained);
- net new floor area (新增产业空间) = planned - demolished = 50,000 - 4,000 = 46,000 m² (4.60 万㎡);
- investment = 50,000 m² x 3,400 yuan = 170 million yuan (1.70 亿元);
- occupied = 50,000 x (1 - 0.15 support) x 0.95 absorption = 40,375 m²; rent = 40,375 x 12 x 12 = 5.814 M/yr;
- payback, rent only = 170 / 5.814 = 29.24 -> "29.2" years (one decimal: 17.33 and 17.02 both read "17" beside -1.8%);
- tax after = 30 mu x 200,000 yuan/mu = 6.0 M/yr once let (the template's figure per mu of a running park; the
  model spreads it over the 40,375 m² occupied: 148.6 yuan/m²; no tax before);
  payback, rent + tax = 170 / (5.814 + 6.0) = 14.39 -> "14.4" years;
- works start 2026 + 9 months, delivery 20 months later: October 2028 -> "2028", never "2028.4".
"""

from __future__ import annotations

import re

import geopandas as gpd
import pytest
import shapely
from openpyxl import load_workbook
from streamlit.testing.v1 import AppTest

from planner.report import html_report, to_excel
from planner.report.text import fmt, label
from planner.scenarios import run, scenario_from_dict
from planner.scenarios.comparison import compare


def sites() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"site_id": ["S1", "S2"], "status": "ok", "rank": [1, 2],
                             "land_area_m2": [10_000.0, 10_000.0], "floor_area_m2": [4_000.0, 0.0]},
                            geometry=[shapely.box(0, 0, 100, 100), shapely.box(150, 0, 250, 100)], crs="EPSG:4549")


def result(name: str = "std", **kw):
    return run(sites(), scenario_from_dict({"name": name, **kw}))


def test_model_definitions_by_hand():
    t = result().totals
    assert t["floor_after_m2"] == 50_000  # gross planned
    assert t["net_change_m2"] == 46_000 == t["floor_after_m2"] - t["existing_floor_m2"]
    assert t["net_change_m2"] == t["new_floor_m2"] - t["demolished_floor_m2"]  # planned - demolished
    assert t["payback_years"] == pytest.approx(170e6 / 5.814e6)
    assert t["tax_after_cny"] == pytest.approx(6.0e6)  # 30 mu x 200,000 (was 4.845 M: 161,500 a mu)
    assert t["fiscal_payback_years"] == pytest.approx(170e6 / (5.814e6 + 6.0e6))
    assert t["first_delivery"] == t["last_delivery"] == 2028  # a whole calendar year


def test_labels_and_units_one_system_per_language():
    assert label("net_change_m2", "zh") == "新增产业空间（万㎡）"
    assert label("net_change_m2", "en") == "Net new floor area (m²)"
    assert label("floor_after_m2", "zh") == "规划总建筑面积（万㎡）"
    assert label("floor_after_m2", "en") == "Gross planned floor area (m²)"
    assert label("payback_years", "zh") == "仅计租金回收期（年）"
    assert label("fiscal_payback_years", "en") == "Payback, rent + tax (yr)"
    assert label("investment_cny", "zh") == "总投资（亿元）" and label("investment_cny", "en") == "Investment (million yuan)"
    assert label("tax_after_cny", "zh") == "改造后年税收（亿元/年）"
    assert fmt(46_000.0, "net_change_m2", "zh", unit=True) == "4.60 万㎡"
    assert fmt(46_000.0, "net_change_m2", "en", unit=True) == "46,000 m²"
    assert fmt(170e6, "investment_cny", "zh", unit=True) == "1.70 亿元"
    assert fmt(170e6, "investment_cny", "en", unit=True) == "170.0 million yuan"
    assert fmt(2028.42, "last_delivery") == "2028" and fmt(29.24, "payback_years", "zh", unit=True) == "29.2 年"
    assert fmt(float("inf"), "payback_years") == "∞" and fmt(float("nan"), "net_change_m2") == "–"


def test_html_cards_carry_each_definition():
    zh = html_report(result(), lang="zh")
    en = html_report(result(), lang="en")

    def card(doc: str, lbl: str) -> str:
        m = re.search(r'<div class="v">([^<]*)</div><div class="k">' + re.escape(lbl) + "</div>", doc)
        assert m, lbl
        return m.group(1)

    assert card(zh, "新增产业空间") == "4.60 万㎡" and card(en, "Net new floor area") == "46,000 m²"
    assert card(zh, "规划总建筑面积") == "5.00 万㎡" and card(en, "Gross planned floor area") == "50,000 m²"
    assert card(zh, "仅计租金回收期") == "29.2 年" and card(zh, "租金+税收回收期") == "14.4 年"
    assert card(en, "Payback, rent only") == "29.2 years" and card(en, "Payback, rent + tax") == "14.4 years"
    assert card(zh, "总投资") == "1.70 亿元" and card(en, "Investment") == "170.0 million yuan"
    assert card(zh, "末批交付年份") == "2028"
    assert "2028.4" not in zh and "2028.4" not in en
    # no second unit system in the figures (the assumptions' sources quote rates such as 20 万元/亩)
    assert "万元" not in zh.split("模型假设")[0]
    words = re.sub(r'src="data:[^"]*"', "", en.split(">Assumptions<")[0])  # the text, not the charts' base64 PNG
    assert " bn" not in words and "10k" not in words


def test_excel_carries_each_definition(tmp_path):
    zh = load_workbook(to_excel(result(), tmp_path / "zh.xlsx", lang="zh"))
    en = load_workbook(to_excel(result(), tmp_path / "en.xlsx", lang="en"))
    s_zh = {r[0].value: r[1] for r in zh["Summary 汇总"].iter_rows(min_row=2)}
    s_en = {r[0].value: r[1] for r in en["Summary"].iter_rows(min_row=2)}
    assert s_zh["新增产业空间 Net new floor area（万㎡）"].value == pytest.approx(4.6)
    assert s_en["Net new floor area (m²)"].value == pytest.approx(46_000)
    assert s_zh["规划总建筑面积 Gross planned floor area（万㎡）"].value == pytest.approx(5.0)
    pay = s_zh["仅计租金回收期 Payback, rent only（年）"]
    assert pay.value == pytest.approx(29.24, abs=0.01) and pay.number_format == "0.0"  # shown as 29.2
    assert s_zh["租金+税收回收期 Payback, rent + tax（年）"].value == pytest.approx(14.39, abs=0.01)
    assert s_en["Investment (million yuan)"].value == pytest.approx(170.0)
    assert s_zh["末批交付年份 Last delivery year"].value == 2028
    sites_ws = en["Sites"]
    head = [c.value for c in sites_ws[1]]
    assert sites_ws.cell(2, head.index("Delivery year") + 1).value == 2028  # not 2028.42
    # a comparison workbook uses the same units and definitions
    cmp = load_workbook(to_excel([result("a", sites={"top": 1}), result("b")], tmp_path / "c.xlsx", lang="zh"))
    rows = {r[0].value: [c.value for c in r] for r in cmp["Comparison 对比"].iter_rows(min_row=2)}
    hdr = [c.value for c in cmp["Comparison 对比"][1]]
    net = rows["新增产业空间 Net new floor area（万㎡）"]
    assert net[hdr.index("a")] == pytest.approx(2.1) and net[hdr.index("b")] == pytest.approx(4.6)
    assert net[hdr.index("b - a")] == pytest.approx(2.5)


def _cards_app():
    import geopandas as gpd
    import shapely
    import streamlit as st

    from planner.scenarios import run, scenario_from_dict
    from planner.scenarios.comparison import compare
    from planner.ui import results

    st.session_state["_lang"] = st.session_state.get("lang_for_test", "zh")
    g = gpd.GeoDataFrame({"site_id": ["S1", "S2"], "status": "ok", "rank": [1, 2],
                          "land_area_m2": [10_000.0, 10_000.0], "floor_area_m2": [4_000.0, 0.0]},
                         geometry=[shapely.box(0, 0, 100, 100), shapely.box(150, 0, 250, 100)], crs="EPSG:4549")
    a = run(g, scenario_from_dict({"name": "a", "sites": {"top": 1}}))
    b = run(g, scenario_from_dict({"name": "b"}))
    results.key_figures(a.totals)
    results.key_figures(b.totals, a.totals)
    results.key_figures(b.totals, figures=results.MORE_FIGURES)
    st.dataframe(results.comparison_table(compare([a, b]), ["a", "b"]))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_app_cards_and_table_carry_each_definition(lang):
    at = AppTest.from_function(_cards_app, default_timeout=60)
    at.session_state["lang_for_test"] = lang
    at.run()
    assert not at.exception
    m = {}
    for x in at.metric:
        m.setdefault(x.label, []).append(x)
    if lang == "zh":
        net = m["新增产业空间（万㎡）"]
        assert [x.value for x in net] == ["2.10", "4.60"] and net[1].delta == "+2.50"
        assert [x.value for x in m["仅计租金回收期（年）"]] == ["29.2", "29.2"]
        same = m["租金+税收回收期（年）"][1]  # the same payback: no arrow, grey
        assert same.delta == "0" and str(same.proto).count("direction: NONE") == 1
        assert m["租金+税收回收期（年）"][1].value == "14.4"
        assert m["规划总建筑面积（万㎡）"][0].value == "5.00"
        assert m["总投资（亿元）"][1].value == "1.70"
    else:
        assert [x.value for x in m["Net new floor area (m²)"]] == ["21,000", "46,000"]
        assert m["Net new floor area (m²)"][1].delta == "+25,000"
        assert m["Payback, rent + tax (yr)"][1].value == "14.4"
        assert m["Investment (million yuan)"][1].value == "170.0"
    table = at.dataframe[0].value
    first = table.columns[0]
    row = table[table[first] == label("net_change_m2", lang)].iloc[0]
    assert row["a"] == ("2.10" if lang == "zh" else "21,000") and row["b"] == ("4.60" if lang == "zh" else "46,000")


def test_cli_prints_each_definition(tmp_path, capsys):
    from planner.cli import main
    from planner.io.store import open_store
    from tests.e2e._workspace import build_workspace

    ws = build_workspace(tmp_path / "ws.gpkg")
    assert main(["classify", "-w", str(ws)]) == 0
    assert main(["sites", "-w", str(ws)]) == 0
    capsys.readouterr()
    assert main(["scenario", "run", "scenarios/conservative_top10.toml", "-w", str(ws), "--no-save", "--lang", "en"]) == 0
    out = capsys.readouterr().out
    from planner import workflow as W

    t = W.run_stored_scenario(open_store(str(ws)), W.ScenarioDoc(
        __import__("planner").scenarios.load_scenario("scenarios/conservative_top10.toml"))).result.totals

    def printed(lbl: str) -> str:
        m = re.search(r"^\s+" + re.escape(lbl) + r"\s+(\S+)$", out, re.M)
        assert m, (lbl, out)
        return m.group(1)

    assert printed("Net new floor area (m²)") == f"{t['new_floor_m2'] - t['demolished_floor_m2']:,.0f}"
    assert printed("Gross planned floor area (m²)") == f"{t['floor_after_m2']:,.0f}"
    assert printed("Payback, rent only (yr)") == f"{t['investment_cny'] / t['rent_cny_yr']:.1f}"
    gain = t["tax_after_cny"] - t["tax_before_cny"]
    assert printed("Payback, rent + tax (yr)") == f"{t['investment_cny'] / (t['rent_cny_yr'] + gain):.1f}"
    assert re.fullmatch(r"\d{4}", printed("Last delivery year"))
    # --lang zh: the reports' Chinese labels and units (万㎡, 亿元), the numbers in one column
    from planner.report.text import display_width, fmt, label

    assert main(["scenario", "run", "scenarios/conservative_top10.toml", "-w", str(ws), "--no-save", "--lang", "zh"]) == 0
    zh = capsys.readouterr().out
    assert f"情景 conservative_top10：{int(t['n_sites'])} 个片区" in zh and "sites" not in zh, zh
    rows = [line for line in zh.splitlines() if line.startswith("  ")]
    assert len(rows) == 18 and all(re.search(r"[\u4e00-\u9fff]", r) for r in rows), zh
    assert label("net_change_m2", "zh") == "新增产业空间（万㎡）"
    for k, unit_check in (("net_change_m2", t["net_change_m2"] / 1e4), ("investment_cny", t["investment_cny"] / 1e8)):
        m = re.search(r"^\s+" + re.escape(label(k, "zh")) + r"\s+(\S+)$", zh, re.M)
        assert m and m.group(1) == fmt(t[k], k, "zh"), (k, zh)
        assert abs(float(m.group(1).replace(",", "")) - unit_check) <= 0.05 * max(1.0, abs(unit_check))
    assert len({display_width(r) for r in rows}) == 1, rows  # right edges line up in a terminal
    # the comparison prints the same figures with differences
    assert main(["scenario", "compare", "scenarios/conservative_top10.toml", "scenarios/upstairs_all.toml", "-w",
                 str(ws), "--out", str(tmp_path / "c.pdf"), "--lang", "en"]) == 0  # printed in the report's language
    out = capsys.readouterr().out
    assert re.search(r"^\s+Net new floor area \(m²\)\s+" + re.escape(f"{t['net_change_m2']:,.0f}"), out, re.M)
    assert (tmp_path / "c.pdf").read_bytes()[:5] == b"%PDF-"


def test_comparison_groups_and_floor_parts():
    a, b = result("a", sites={"top": 1}), result("b", sites={"ids": ["S2"]})
    c = compare([a, b])
    assert c.site_groups().to_dict() == {"S1": "a", "S2": "b"}
    g = c.site_geometries()
    assert g["group"].tolist() == ["a", "b"] and g.crs.to_epsg() == 4549
    c3 = compare([a, b, result("c")])
    assert c3.site_groups().to_dict() == {"S1": "a + c", "S2": "b + c"}
