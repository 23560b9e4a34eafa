"""Exports: Excel workbook, GeoPackage/GeoJSON, standalone HTML (content checks; browser test in e2e/)."""

from __future__ import annotations

import re

import geopandas as gpd
import matplotlib
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
    import zipfile

    p = to_excel(result(), tmp_path / "r.xlsx", lang="zh")
    wb = load_workbook(p)
    assert wb.sheetnames == ["Summary 汇总", "Sites 地块", "Timeline 年度", "Floor area 建筑面积", "Assumptions 假设"]
    ws = wb["Sites 地块"]
    headers = [c.value for c in ws[1]]
    assert "新建建筑面积 Floor area built（万㎡）" in headers
    j = headers.index("新建建筑面积 Floor area built（万㎡）") + 1
    assert ws[1][j - 1].font.b
    # 10,000 m2 x 2.5 = 25,000 m2 = 2.5 万㎡ on the first site
    assert ws.cell(2, j).value == 2.5 and ws.cell(2, j).number_format == "#,##0.00;-#,##0.00;0"  # a true zero reads 0
    k = headers.index("改造后容积率 Plot ratio after") + 1
    assert ws.cell(2, k).number_format == "0.00"
    assert ws.column_dimensions["B"].width >= 10
    summ = {r[0].value: r[1].value for r in wb["Summary 汇总"].iter_rows(min_row=2)}
    assert summ["新建建筑面积 Floor area built（万㎡）"] == 5
    assert "default" in str(summ["数据来源（识别规则、调查版本、片区参数） Inputs (three-low policy, survey version, site parameters)"])
    en = load_workbook(to_excel(result(), tmp_path / "en.xlsx", lang="en"))
    assert en.sheetnames == ["Summary", "Sites", "Timeline", "Floor area", "Assumptions"]  # tabs in English
    assert "Floor area built (m²)" in [c.value for c in en["Sites"][1]]
    # assumptions: labels, not keys; template names; sources in the report's language
    a_zh = [[c.value for c in r] for r in wb["Assumptions 假设"].iter_rows()]
    a_en = [[c.value for c in r] for r in en["Assumptions"].iter_rows()]
    assert a_zh[0] == ["参数", "标准厂房园区", "来源"] and a_en[0][0] == "Parameter"
    src = {r[0]: r[-1] for r in a_zh[1:]}
    src_en = {r[0]: r[-1] for r in a_en[1:]}
    assert src["亩均税收（元/亩）"] == "S：泉州标准化园区约 20 万元/亩" and src["情景：起始年份"] == "情景设置"
    assert src_en["Tax per mu (yuan/mu)"] == "S: Quanzhou standardized parks, about 200,000 yuan/mu"
    keys = {"label_zh", "label_en", "target_plot_ratio", "tax_per_mu", "scenario.existing", "retain_class", "demolish"}
    assert not keys & {str(v) for r in a_zh for v in r}
    # numbers stored as numbers, shown as people write them (not 2600.0 or 200000.0; they were text, which Excel
    # flags "number stored as text"); the start year without a separator
    cells = {r[0].value: r[1] for r in wb["Assumptions 假设"].iter_rows(min_row=2)}
    val = {k: (c.value, c.number_format) for k, c in cells.items()}
    assert val["亩均税收（元/亩）"] == (200_000, "#,##0") and val["建安单价（元/㎡）"] == (2_000, "#,##0")
    assert val["目标容积率"] == (2.5, "0.0")
    assert val["情景：起始年份"][1] == "0" and 2000 < val["情景：起始年份"][0] < 2100
    # native Excel charts whose text is in the workbook's language
    with zipfile.ZipFile(p) as z:
        charts = [z.read(n).decode("utf-8") for n in z.namelist() if n.startswith("xl/charts/chart")]
    assert len(charts) == 2 and any("在建、交付与出租面积" in c for c in charts)
    assert any("建筑面积构成" in c and "单位: 万㎡" in c for c in charts)
    timeline_chart = next(c for c in charts if "在建、交付与出租面积" in c)
    assert all(s in timeline_chart for s in ("在建面积", "累计交付面积", "出租面积"))  # the series the title names
    # codes by name: the template and the rule for existing buildings; a year's investment is not the total
    row = {h: c.value for h, c in zip(headers, ws[2], strict=True)}
    assert row["园区模板 Park template"] == "标准厂房园区" and row["现状建筑 Existing buildings"] == "全部拆除重建"
    tl = [c.value for c in wb["Timeline 年度"][1]]
    assert "当年投资 Investment in the year（亿元/年）" in tl and not any(str(h).startswith("总投资") for h in tl)


def test_excel_comparison(tmp_path):
    p = to_excel([result("a", sites={"top": 1}), result("b")], tmp_path / "c.xlsx", lang="en")
    wb = load_workbook(p)
    assert wb.sheetnames == ["Comparison", "Floor area", "Sites", "Curves"]
    rows = {r[0].value: [c.value for c in r] for r in wb["Comparison"].iter_rows(min_row=2)}
    hdr = [c.value for c in wb["Comparison"][1]]
    new = rows["Floor area built (m²)"]
    assert new[hdr.index("a")] == 25_000 and new[hdr.index("b")] == 50_000
    assert new[hdr.index("b - a")] == 25_000 and new[hdr.index("b vs a %")] == pytest.approx(100.0)
    ws = wb["Comparison"]
    assert ws.cell(2, hdr.index("b vs a %") + 1).number_format.startswith('+0.0"%"')
    floor = [[c.value for c in r] for r in wb["Floor area"].iter_rows()]
    assert floor[0][:4] == ["Scenario", "Retained floor area (m²)", "Demolished floor area (m²)", "Floor area built (m²)"]
    assert floor[2][:5] == ["b", 0, -4_000, 50_000, 46_000]  # demolished drawn left of zero; net = built - demolished
    # which scenario takes each site, under readable headers (start_year_a, template_a, True/False before)
    mem = [[c.value for c in r] for r in wb["Sites"].iter_rows()]
    assert mem[0] == ["Site id", "a · Selected", "a · Start year", "a · Park template", "b · Selected",
                      "b · Start year", "b · Park template"]
    assert mem[1][1:4] == ["Yes", 2026, "Standard factory park"] and mem[2][1] == "No"  # a year, as a number
    curves = [c.value for c in wb["Curves"][1]]
    assert curves[0] == "Year" and "Investment in the year (million yuan/yr) · a" in curves


def test_geodata_exports(tmp_path):
    r = result()
    g = write_sites(r, tmp_path / "s.gpkg")
    back = gpd.read_file(g)
    assert back["new_floor_m2"].tolist() == [25_000, 25_000] and back.crs.to_epsg() == 4549
    assert pyogrio.list_layers(g)[0][0] == "std"
    # calendar years as the reports show them, integer fields (delivery was 2028.41666666667 in QGIS)
    assert back["delivery"].tolist() == [2028, 2028] and back["works_start"].tolist() == [2026, 2026]
    info = pyogrio.read_info(g)
    fields = dict(zip(info["fields"], info["dtypes"], strict=True))
    assert {fields[c] for c in ("rank", "start_year", "works_start", "delivery")} == {"int32"}
    j = write_sites(r, tmp_path / "s.geojson")
    back = gpd.read_file(j)
    assert back.crs.to_epsg() == 4326 and back["scenario"].iloc[0] == "std"
    assert pyogrio.list_layers(j)[0][0] == "std"  # the scenario, not the file written first
    with pytest.raises(DataError, match="gpkg or .geojson"):
        write_sites(r, tmp_path / "s.shp")
    plain = run(pd.DataFrame(sites().drop(columns="geometry")), scenario_from_dict({"name": "nogeo"}))
    with pytest.raises(DataError, match="no geometry"):
        write_sites(plain, tmp_path / "x.gpkg")
    files = export_all(plain, tmp_path / "out")
    assert set(files) == {"xlsx", "html", "pdf"}  # no geometry: no gpkg, and no map in the html or pdf


@pytest.mark.parametrize("name", ["../../evil", '=HYPERLINK("http://x")', "-x", ".hidden", "gpkg_contents",
                                  "sqlite_master", "上楼 方案 A", "a\nb"])
def test_any_scenario_name_exports_its_sites(tmp_path, name):
    """The GeoPackage layer is named after the scenario as GDAL allows (a name it refuses was a traceback and half a
    file); the files are named safely and stay in the folder; the scenario column keeps the name as it is."""
    r = result(name)
    files = export_all(r, tmp_path / "out")
    assert set(files) == {"xlsx", "html", "pdf", "gpkg"} and all(f.parent == tmp_path / "out" for f in files.values())
    (layer, _), = pyogrio.list_layers(files["gpkg"])
    back = gpd.read_file(files["gpkg"], layer=layer)
    assert back["scenario"].iloc[0] == name and len(back) == 2
    if name == "上楼 方案 A":
        assert layer == name


def test_a_long_scenario_name_makes_file_names_a_file_system_takes(tmp_path):
    """A 300-character scenario name made 304-byte report names (file systems take 255); a comparison of three long
    names a 447-character download name. Names are cut with a hash of the whole, so two long names stay apart."""
    from planner.report import MAX_STEM_BYTES, file_stem

    a, b = "方案" * 150 + "_a", "方案" * 150 + "_b"
    files = export_all(result(a), tmp_path / "out")
    assert all(len(f.name.encode()) <= MAX_STEM_BYTES + 5 for f in files.values())
    assert file_stem(a) != file_stem(b) and len(file_stem(a).encode()) <= MAX_STEM_BYTES
    app_name = file_stem("comparison_" + "_".join(["upstairs_" + "x" * 140] * 3), ascii_only=True)
    assert len(app_name) <= MAX_STEM_BYTES and app_name.startswith("comparison_upstairs_x")
    assert file_stem("上楼 方案 A") == "上楼_方案_A" and file_stem("../x<y>", ascii_only=True) == "x_y"


def test_html_is_self_contained_and_bilingual(tmp_path):
    r = result(sites_per_year=1)
    zh = html_report(r, lang="zh")
    en = html_report(r, lang="en")
    for doc in (zh, en):
        assert "<script" not in doc and "http://" not in doc and "https://" not in doc
        assert len(re.findall(r'src="data:image/png;base64,', doc)) == 4  # floor chart, two timeline charts, map
        assert "@page{size:A4" in doc  # prints on A4
    assert 'lang="zh-CN"' in zh and "新建建筑面积" in zh and "主要指标" in zh
    assert 'lang="en"' in en and "Floor area built" in en and "Key figures" in en
    assert "feedbeeffeed" in zh  # the policy hash the sites rest on
    assert ">nan<" not in zh and ">None<" not in en  # missing template values shown as a dash
    assert "5.00 万㎡" in zh and "50,000 m²" in en
    p = write_html(compare([result("a", sites={"top": 1}), result("b")]), tmp_path / "c.html", lang="en")
    text = p.read_text(encoding="utf-8")
    assert "Scenario comparison report" in text and "+100.0%" in text and "<script" not in text


def test_chart_text_is_in_the_report_language():
    r = result(sites_per_year=1)
    zh = html_report(r, lang="zh")
    alts = re.findall(r'<img alt="([^"]*)"', zh)
    assert len(alts) == 4
    for a in alts:  # every chart's words: Chinese, with no English axis or legend text
        words = [w for w in re.split(r" · ", a) if not re.fullmatch(r"[\d.,\s−\-–()（）kmN]*|S\d+|std", w)]
        assert words and all(re.search(r"[\u4e00-\u9fff]", w) for w in words), a
    assert any("单位：万㎡" in a for a in alts) and any("单位：亿元" in a for a in alts)
    en = html_report(r, lang="en")
    assert not any(re.search(r"[\u4e00-\u9fff]", a) for a in re.findall(r'<img alt="([^"]*)"', en))


def test_chinese_charts_need_no_system_font(monkeypatch):
    """With every system CJK font hidden, the packaged Noto Sans CJK draws the Chinese text: no glyph is missing."""
    import warnings

    from matplotlib import font_manager

    pkg = _report_charts.packaged_font_file()
    assert pkg is not None and pkg.name == "NotoSansCJK-Regular.ttc"
    kept = [f for f in font_manager.fontManager.ttflist if "CJK" not in f.name and "Hei" not in f.name
            and "YaHei" not in f.name]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", kept)
    _report_charts.cjk_font.cache_clear()
    font_manager.fontManager._findfont_cached.cache_clear()
    try:
        assert _report_charts.cjk_font() == "Noto Sans CJK SC"
        assert _report_charts.cjk_font_face() == (pkg, 2)  # the Simplified Chinese face of the collection
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # matplotlib warns "Glyph ... missing from font(s)"
            charts = _report_charts.timeline_charts(result().timeline, "zh")
            charts.append(_report_charts.floor_chart([result()], "zh"))
        assert all(len(c.png) > 5000 for c in charts)
        assert "在建、交付与出租面积" in charts[0].texts
    finally:
        _report_charts.cjk_font.cache_clear()
        font_manager.fontManager._findfont_cached.cache_clear()


def test_html_sites_table_is_capped():
    n = 60
    g = gpd.GeoDataFrame({"site_id": [f"S{i:03d}" for i in range(n)], "rank": np.arange(1, n + 1),
                          "land_area_m2": 10_000.0, "floor_area_m2": 0.0},
                         geometry=shapely.box(np.arange(n) * 200.0, 0, np.arange(n) * 200.0 + 100, 100),
                         crs="EPSG:4549")
    doc = html_report(run(g, scenario_from_dict({"name": "many"})), lang="en", max_sites=50)
    assert "S049" in doc and "S050" not in doc and "50 best-ranked of 60" in doc


def test_fmt():
    assert fmt(123_456_789.0, "investment_cny", "zh") == "1.23"
    assert fmt(123_456_789.0, "investment_cny", "zh", unit=True) == "1.23 亿元"
    assert fmt(1_234_567_890.0, "investment_cny", "en", unit=True) == "1,234.6 million yuan"
    assert fmt(25_000.0, "new_floor_m2", "zh", unit=True) == "2.50 万㎡"
    assert fmt(4_500_000.0, "tax_after_cny", "zh", unit=True) == "0.045 亿元/年"  # per-site figures keep the unit
    assert fmt(float("nan"), "new_floor_m2") == "–" and fmt(float("inf"), "payback_years") == "∞"
    assert fmt(float("-inf"), "payback_years") == "-∞"  # a difference to a payback that never comes (was "∞")
    assert fmt(2.5, "plot_ratio_after") == "2.50"
    assert fmt(2031.99, "delivery") == "2031"
    assert [fmt(x, "payback_years", "en", unit=True) for x in (1.2, -1.0, 2.0)] == ["1.2 years", "-1.0 years", "2.0 years"]


def test_a_change_that_rounds_to_zero_shows_as_zero_everywhere(tmp_path):
    """Plot ratio 2.4999 against 2.5 is no change at one decimal: "0.0%", never "-0.0%" (PDF, HTML, Excel, CLI, app)."""
    from planner.report.text import pct_change

    assert [pct_change(x) for x in (-0.0004, 0.04, -0.05, 12.34, -4.0, float("nan"), None)] == \
        ["0.0%", "0.0%", "-0.1%", "+12.3%", "-4.0%", "–", "–"]
    assert pct_change(float("inf"), missing="—") == "—"
    a, b = result("a"), result("b")
    b.totals["plot_ratio_after"] = a.totals["plot_ratio_after"] * (1 - 1e-6)
    cmp = compare([a, b])
    col = next(c for c in cmp.table.columns if c.endswith(" %"))
    assert -0.05 < cmp.table.loc["plot_ratio_after", col] < 0
    from planner.report import compare_to_excel
    from planner.report.html import compare_html

    assert "-0.0%" not in compare_html(cmp, lang="en")
    wb = load_workbook(compare_to_excel(cmp, tmp_path / "c.xlsx", lang="en"))
    ws = wb["Comparison"]
    row = next(r for r in ws.iter_rows() if "Plot ratio after" in str(r[0].value))
    assert row[[c.value for c in ws[1]].index(col)].value == 0.0


def test_html_comparison_colours_a_change_by_whether_it_is_better():
    """The table coloured every rise green: a payback 20% longer and 1,728% more investment were green beside red
    cards; more land is neither good nor bad."""
    from planner.report.html import compare_html
    from planner.report.text import label

    a, b = result("a", sites={"top": 1}), result("b", template="multi_storey")
    page = compare_html(compare([a, b]), lang="en")
    rows = dict(re.findall(r"<tr><td class=\"t\">([^<]+)</td>(.*?)</tr>", page))

    def pct_class(key):
        return re.findall(r'<td class="(\w*)">[+-]?[\d.,]+%</td>', rows[label(key, "en")])[-1]

    for key, better in (("investment_cny", -1), ("net_change_m2", 1)):
        d = b.totals[key] - a.totals[key]
        assert d != 0 and pct_class(key) == ("pos" if d * better > 0 else "neg"), key
    assert b.totals["land_area_m2"] != a.totals["land_area_m2"] and pct_class("land_area_m2") == ""  # neither


def test_every_html_report_table_scrolls_in_its_own_box():
    """A wide table scrolls inside the report, not the whole page (the site-membership table made a phone-width
    comparison scroll sideways)."""
    from planner.report.html import compare_html, html_report

    for page in (html_report(result(), lang="en"), compare_html(compare([result("a"), result("b", sites={"top": 1})]), lang="en")):
        tables = re.findall(r"(.{0,40})<table", page)
        assert tables and all(re.search(r"class=.scroll.>$", t) for t in tables), tables


def test_export_all_draws_the_shared_charts_once(tmp_path, monkeypatch):
    """The HTML and the PDF of one scenario share its year-by-year charts and map (drawn twice: 2-3 s at 1M)."""
    from planner.report import charts

    calls = []
    for name in ("timeline_charts", "site_map"):
        real = getattr(charts, name)
        monkeypatch.setattr(charts, name, lambda *a, _r=real, _n=name, **k: calls.append(_n) or _r(*a, **k))
    files = export_all(result(), tmp_path / "out", lang="en")
    assert sorted(calls) == ["site_map", "timeline_charts"]
    assert files["html"].read_text(encoding="utf-8").count("data:image/png") >= 4 and files["pdf"].stat().st_size


def _drawn(monkeypatch) -> list:
    """Every matplotlib figure the report charts render from now on (for measuring what a PNG shows)."""
    figs = []
    real = _report_charts._render
    monkeypatch.setattr(_report_charts, "_render", lambda fig, *a, **k: figs.append(fig) or real(fig, *a, **k))
    return figs


def _map_colours(fig) -> tuple[set, set]:
    """(fill colours of the map's sites, fill colours of its legend entries) of a category map."""
    from matplotlib.colors import to_hex
    from matplotlib.patches import PathPatch

    ax = fig.axes[0]
    drawn = {to_hex(a.get_facecolor()) for a in ax.patches if isinstance(a, PathPatch)}
    legend = {to_hex(h.get_facecolor()) for h in ax.get_legend().legend_handles}
    return drawn, legend


def test_every_colour_on_a_map_has_a_legend_entry(monkeypatch):
    """Sites starting over 23 years had colours for 2038-2048 and no legend entry (the legend stopped at 12); a
    comparison of five scenarios (up to 31 groups) would lose groups the same way."""
    n = 46
    g = gpd.GeoDataFrame({"site_id": [f"S{i:03d}" for i in range(n)], "rank": np.arange(1, n + 1),
                          "land_area_m2": 10_000.0, "floor_area_m2": 0.0},
                         geometry=shapely.box(np.arange(n) * 200.0, 0, np.arange(n) * 200.0 + 100, 100),
                         crs="EPSG:4549")
    r = run(g, scenario_from_dict({"name": "slow", "sites_per_year": 2}))
    assert r.sites["start_year"].nunique() == 23
    figs = _drawn(monkeypatch)
    m = _report_charts.site_map(r.sites, "en")
    drawn, legend = _map_colours(figs[-1])
    assert drawn and drawn <= legend, (drawn - legend)
    assert "2047–2048 (4)" in m.texts  # years grouped into ranges, each with its count
    assert sum(int(re.search(r"\((\d+)\)$", t).group(1)) for t in m.texts if re.fullmatch(r"20\d\d–20\d\d \(\d+\)", t)) == n
    five = [run(g, scenario_from_dict({"name": f"s{k}", "sites": {"ids": [f"S{i:03d}" for i in range(n) if (i >> k) & 1]}}))
            for k in range(5)]
    c = compare(five)
    assert c.site_groups().nunique() == 31
    m = _report_charts.membership_map(c, "zh")
    drawn, legend = _map_colours(figs[-1])
    assert drawn <= legend and len(legend) == 15, (drawn - legend, legend)  # and no two entries in one colour
    assert any(t.startswith("其余 17 类") for t in m.texts)  # 14 groups named, the other 17 together in grey


def _legends_clear_of_data(fig) -> list:
    """The legends of a figure that overlap an axes' plotting area (its data, ticks and labels)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    with matplotlib.rc_context(_report_charts._rc("zh")):  # the fonts the chart was drawn with
        FigureCanvasAgg(fig).draw()
    r = fig.canvas.get_renderer()
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend() is not None)]
    return [(lg.get_window_extent(r), ax.get_window_extent(r)) for lg in legends for ax in fig.axes
            if lg.get_window_extent(r).overlaps(ax.get_window_extent(r))]


def test_chart_legends_do_not_cover_the_data(monkeypatch):
    """The legend of the year-by-year charts sat inside the axes, upper left, over the tall early investment bars;
    the comparison curves' legend over the lines."""
    figs = _drawn(monkeypatch)
    r = result(sites_per_year=1)
    _report_charts.timeline_charts(r.timeline, "zh")
    _report_charts.compare_charts(compare([r, result("b", sites={"top": 1})]), "en")
    assert len(figs) == 4
    for fig in figs:
        assert _legends_clear_of_data(fig) == []
        assert fig.legends  # still there, below the chart


LONG = "a_very_long_scenario_name_for_the_eastern_riverside_industrial_belt_phase_two_with_multi_storey_factories_v3"


def test_long_scenario_names_leave_charts_readable(monkeypatch):
    """A 110-character scenario name took two thirds of the floor chart's width as a tick label and shrank the
    comparison map to a thumbnail beside its legend: chart labels are cut in the middle with "…" (tables and text
    keep the whole name), so the plot keeps most of the saved image's width."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    assert _report_charts.short_name(LONG) == "a_very_long_scena…factories_v3"
    assert _report_charts.short_name("东部片区方案") == "东部片区方案"
    figs = _drawn(monkeypatch)
    zh = "晋江东部沿江工业带二期工业上楼与标准厂房混合改造方案（第三版，含保留提升类地块）"
    cmp = compare([result(LONG), result(zh, sites={"top": 1}), result("b", sites={"ids": ["S2"]})])
    for lang in ("zh", "en"):
        _report_charts.floor_chart(cmp.results, lang)
        _report_charts.membership_map(cmp, lang)
        _report_charts.compare_charts(cmp, lang)
    assert len(figs) == 8
    for fig in figs:
        with matplotlib.rc_context(_report_charts._rc("zh")):
            FigureCanvasAgg(fig).draw()
        r = fig.canvas.get_renderer()
        saved = fig.get_tightbbox(r).width * fig.dpi  # what bbox_inches="tight" writes, in pixels
        ax = fig.axes[0].get_window_extent(r)
        assert ax.width > 0.55 * saved, (fig.axes[0].get_title(), ax.width, saved)
    assert _legends_clear_of_data(figs[-1]) == []


@pytest.mark.parametrize("n", [1, 2])
def test_the_north_arrow_leaves_the_sites_uncovered(monkeypatch, n):
    """On a one-site map the site filled the frame and the north arrow sat on it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.transforms import Bbox

    figs = _drawn(monkeypatch)
    r = result(sites={"top": n})
    _report_charts.site_map(r.sites, "en")
    fig = figs[-1]
    FigureCanvasAgg(fig).draw()
    rnd = fig.canvas.get_renderer()
    ax = fig.axes[0]
    arrow = next(a for a in ax.texts if a.get_text() == "N")
    box = Bbox.union([arrow.get_window_extent(rnd), arrow.arrow_patch.get_window_extent(rnd)])
    for x0, y0, x1, y1 in r.sites.geometry.bounds.to_numpy():
        site = Bbox(ax.transData.transform([(x0, y0), (x1, y1)]))
        assert not box.overlaps(site), (box, site)


def test_comparison_site_list_says_when_it_is_cut():
    """The comparison listed the first 30 ids of a scenario's own sites with no sign that 849 more were left out."""
    from planner.report.html import compare_html

    n = 40
    g = gpd.GeoDataFrame({"site_id": [f"S{i:03d}" for i in range(n)], "rank": np.arange(1, n + 1),
                          "land_area_m2": 10_000.0, "floor_area_m2": 0.0},
                         geometry=shapely.box(np.arange(n) * 200.0, 0, np.arange(n) * 200.0 + 100, 100),
                         crs="EPSG:4549")
    c = compare([run(g, scenario_from_dict({"name": "one", "sites": {"top": 1}})), run(g, scenario_from_dict({"name": "all"}))])
    en, zh = compare_html(c, lang="en"), compare_html(c, lang="zh")
    cell = re.findall(r"<td class='t list'>([^<]*)</td>", en)
    assert cell == ["S001, S002, " + ", ".join(f"S{i:03d}" for i in range(3, 31)) + " … and 9 more"], cell
    assert re.findall(r"<td class='t list'>([^<]*)</td>", zh)[0].endswith("S030 …等另外 9 个")


def test_a_hidden_tax_curve_leaves_no_legend_entry():
    """For a role without enterprise figures the year-by-year tax is blank: the chart listed "新增税收" in its legend
    with no line drawn."""
    from planner.report.charts import timeline_charts
    from planner.report.text import tr

    tl = result().timeline
    shown = timeline_charts(tl, "zh")[1].alt
    hidden = timeline_charts(tl.assign(tax_new_cny=np.nan), "zh")[1].alt
    assert tr("legend_tax", "zh") in shown and tr("legend_tax", "zh") not in hidden


def test_a_map_draws_its_north_arrow_without_a_font_warning(caplog):
    """Every map's bold "N" asked the CJK font (one regular face) for bold: matplotlib logged "findfont: Failed to
    find font weight bold for Noto Sans CJK SC" into the output of every report command."""
    import logging

    g = gpd.GeoDataFrame({"site_id": ["S1", "S2"], "rank": [1, 2], "land_area_m2": 10_000.0, "floor_area_m2": 0.0},
                         geometry=shapely.box(np.arange(2) * 200.0, 0, np.arange(2) * 200.0 + 100, 100),
                         crs="EPSG:4549")
    r = run(g, scenario_from_dict({"name": "n"}))
    from matplotlib import font_manager

    font_manager.fontManager._findfont_cached.cache_clear()  # said once per process: a map drawn before said it
    with caplog.at_level(logging.INFO, logger="matplotlib.font_manager"):
        m = _report_charts.site_map(r.sites, "zh")
    assert "N" in m.texts
    assert not [x.getMessage() for x in caplog.records if "findfont" in x.getMessage()]
