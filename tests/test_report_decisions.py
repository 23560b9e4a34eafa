"""Decision-grade comparison reports: the numbers a reader sees agree with each other in every output.

Hand-checked case: two 1 ha sites, the standard factory template (3,400 yuan/m², plot ratio 2.5, 85% leasable, 95%
let) with the rent raised so the rent-only payback is 29.24 x 12 / rent years: 20.25 yuan/m²/month gives 17.33
years, 20.62 gives 17.02. Shown as whole years both read "17" beside "-1.8%"; now "17.3" and "17.0", a difference
of -0.3 (from the numbers shown) and -1.8% (0.31 / 17.33: the percentage is of the values themselves, so a Chinese
and an English report print the same one; -0.3 / 17.3 = -1.7% is within the rounding of the numbers shown).
"""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pytest
import shapely
from openpyxl import load_workbook
from streamlit.testing.v1 import AppTest

from planner.report import compare_html, compare_to_excel, html_report
from planner.report.text import label, pct_change
from planner.scenarios import run, scenario_from_dict
from planner.scenarios.comparison import compare

pdfium = pytest.importorskip("pypdfium2", reason="pypdfium2 reads the PDF pages (test extra)")


def sites() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"site_id": ["S1", "S2"], "status": "ok", "rank": [1, 2],
                             "land_area_m2": [10_000.0, 10_000.0], "floor_area_m2": [4_000.0, 0.0]},
                            geometry=[shapely.box(0, 0, 100, 100), shapely.box(150, 0, 250, 100)], crs="EPSG:4549")


def at_rent(name: str, rent: float):
    return run(sites(), scenario_from_dict({"name": name, "template": "t", "templates": {
        "t": {"base": "standard_factory", "rent_per_m2_month": rent}}}))


def paybacks():
    """A baseline at 17.33 years and one at 17.02 (rent only); everything else alike."""
    a, b = at_rent("rent_20_25", 20.25), at_rent("rent_20_62", 20.62)
    assert a.totals["payback_years"] == pytest.approx(17.33, abs=0.01)
    assert b.totals["payback_years"] == pytest.approx(17.02, abs=0.01)
    return compare([a, b])


def shown_number(text: str) -> float:
    """The number a cell shows ("1,780.0" -> 1780.0; "–", "∞" -> nan), as a reader reads it."""
    try:
        return float(str(text).split(" ")[0].replace(",", ""))
    except ValueError:
        return float("nan")


def agree(values: list[str], diff: str, pct: str) -> None:
    """A row as a reader checks it: the difference is the second value less the first as shown, and the
    percentage that difference over the first; a zero difference never beside a non-zero percentage."""
    v0, v1, d = shown_number(values[0]), shown_number(values[1]), shown_number(diff)
    if not (np.isfinite(v0) and np.isfinite(v1) and np.isfinite(d)):
        return
    dec = max(len(x.split(".")[1]) if "." in x else 0 for x in values)
    assert d == pytest.approx(round(v1 - v0, dec)), (values, diff)
    if d == 0:
        assert pct in ("0.0%", "–", "—"), (values, diff, pct)
    if pct not in ("–", "—") and v0 != 0:  # within what the values shown allow, each rounded by half its last digit
        h = 0.5 * 10.0 ** -dec
        ends = [(b - a) / abs(a) * 100 for a in (v0 - h, v0 + h) for b in (v1 - h, v1 + h) if a]
        p = float(pct.rstrip("%"))
        assert min(ends) - 0.05 <= p <= max(ends) + 0.05, (values, diff, pct)


def _html_rows(doc: str) -> dict[str, list[str]]:
    """The side-by-side table of an HTML comparison report: figure label -> the other cells' text."""
    start = doc.index(">Side-by-side figures<") if ">Side-by-side figures<" in doc else doc.index(">指标对照表<")
    table = doc[doc.index("<table>", start):]
    table = table[: table.index("</table>")]
    rows = {}
    for tr in re.findall(r"<tr>(.*?)</tr>", table, re.S):
        cells = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)]
        if cells:
            rows[cells[0]] = cells[1:]
    return rows


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_html_comparison_differences_come_from_the_numbers_shown(lang):
    cmp = paybacks()
    doc = compare_html(cmp, lang=lang)
    rows = _html_rows(doc)
    pay = rows[label("payback_years", lang)]
    assert pay == ["17.3", "17.0", "-0.3", "-1.8%"]  # was 17, 17, 0, -1.8%; -1.8% is -0.31 / 17.33
    for cells in rows.values():
        agree(cells[:2], cells[2], cells[3])
    # the cards show the table's numbers and difference
    unit = "年" if lang == "zh" else "years"
    assert f'<div class="v">17.0 {unit}</div>' in doc and f"−0.3 {unit}</div>" in doc


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_pdf_comparison_differences_come_from_the_numbers_shown(lang, monkeypatch):
    from planner.report import pdf as P

    tables = []
    real = P._table
    monkeypatch.setattr(P, "_table", lambda pdf, rows, widths, **k: tables.append(rows) or real(pdf, rows, widths, **k))
    data = P.comparison_pdf(paybacks(), lang=lang)
    table = next(t for t in tables if t[0][0] == label("figure", lang))
    rows = {r[0]: r[1:] for r in table[1:]}
    assert rows[label("payback_years", lang)] == ["17.3", "17.0", "-0.3", "-1.8%"]
    for cells in rows.values():
        agree(cells[:2], cells[2], cells[3])
    first = pdfium.PdfDocument(data)[0].get_textpage().get_text_range()
    assert ("差值 −0.3 年" if lang == "zh" else "Difference −0.3 years") in first  # the card


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_excel_comparison_differences_come_from_the_numbers_shown(lang, tmp_path):
    wb = load_workbook(compare_to_excel(paybacks(), tmp_path / "c.xlsx", lang=lang))
    ws = wb["Comparison 对比" if lang == "zh" else "Comparison"]
    for r in ws.iter_rows(min_row=2):
        fmt_ = r[1].number_format
        dec = len(fmt_.split(";")[0].split(".")[1]) if "." in fmt_ else 0  # "#,##0.000;-#,##0.000;0": 3
        values = [f"{c.value:.{dec}f}" if c.value is not None else "–" for c in r[1:3]]
        diff = f"{r[3].value:.{dec}f}" if r[3].value is not None else "–"
        assert r[3].number_format == fmt_  # the difference in the values' precision
        pct = pct_change(r[4].value) if r[4].value is not None else "–"
        agree(values, diff, pct)
    pay = next(r for r in ws.iter_rows(min_row=2) if "Payback, rent only" in r[0].value)
    assert pay[1].number_format == "#,##0.0" and pay[3].value == pytest.approx(-0.3) and pay[4].value == -1.8


def _compare_app():
    import streamlit as st

    from planner.report.text import comparison_rows
    from planner.ui import results
    from tests.test_report_decisions import paybacks

    st.session_state["_lang"] = st.session_state.get("lang_for_test", "zh")
    cmp = paybacks()
    rows = comparison_rows(cmp, st.session_state["_lang"], results.KEY_FIGURES)
    for i, r in enumerate(cmp.results):
        results.key_figures(r.totals, rows=rows, column=i)
    st.dataframe(results.comparison_table(cmp, cmp.names))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_app_comparison_cards_and_table_show_the_reports_numbers(lang):
    at = AppTest.from_function(_compare_app, default_timeout=60)
    at.session_state["lang_for_test"] = lang
    at.run()
    assert not at.exception
    pay = [m for m in at.metric if m.label == label("payback_years", lang)]
    assert [m.value for m in pay] == ["17.3", "17.0"] and pay[1].delta == "-0.3"
    table = at.dataframe[0].value
    for _, r in table.iterrows():
        agree([r.iloc[1], r.iloc[2]], r.iloc[3], r.iloc[4])
    row = table[table.iloc[:, 0] == label("payback_years", lang)].iloc[0].tolist()
    assert row[1:] == ["17.3", "17.0", "-0.3", "-1.8%"]


def test_cli_comparison_prints_the_reports_numbers(tmp_path):
    """The CLI prints the comparison with the numbers of the report it writes (a subprocess, as users run it)."""
    import subprocess
    import sys

    from tests.e2e._workspace import build_workspace

    ws = build_workspace(tmp_path / "ws.gpkg")
    env = {**__import__("os").environ, "MPLBACKEND": "Agg"}

    def cli(*args):
        p = subprocess.run([sys.executable, "-m", "planner", *args], capture_output=True, text=True, env=env,
                           timeout=600)
        assert p.returncode == 0, p.stderr
        return p.stdout

    cli("classify", "-w", str(ws))
    cli("sites", "-w", str(ws))
    out = cli("scenario", "compare", "scenarios/conservative_top10.toml", "scenarios/phased_budget.toml", "-w", str(ws),
              "--out", str(tmp_path / "c.html"), "--lang", "en")
    rows = _html_rows((tmp_path / "c.html").read_text(encoding="utf-8"))
    for lbl in ("Payback, rent only (yr)", "Payback, rent + tax (yr)", "Net new floor area (m²)"):
        m = re.search(r"^\s+" + re.escape(lbl) + r"\s+(.+)$", out, re.M)
        assert m, out
        printed = m.group(1).split()
        assert printed == rows[lbl], (printed, rows[lbl])  # the same four numbers
        agree(printed[:2], printed[2], printed[3])
    # whole names in a legend (they were cut at 18 characters), and in Chinese the columns line up as in English
    assert "  A: conservative_top10 (baseline)\n  B: phased_budget\n" in out
    zh = cli("scenario", "compare", "scenarios/conservative_top10.toml", "scenarios/phased_budget.toml", "-w", str(ws),
             "--lang", "zh")
    assert "  A：conservative_top10（基准）\n  B：phased_budget\n" in zh
    from planner.report.text import display_width

    table = [line for line in zh.splitlines() if line.startswith("  ") and "：" not in line]
    assert len(table) > 10 and len({display_width(line) for line in table}) == 1, table


def test_english_reports_name_one_currency(tmp_path):
    """English labels said "CNY" in some places ("Construction cost (CNY/m²)", "Tax per mu (CNY/mu)") and "yuan" in
    others ("Investment (million yuan)"): English says yuan everywhere (Chinese keeps 元, 万元, 亿元)."""
    from planner import i18n
    from planner.report import text
    from planner.report.pdf import comparison_pdf

    a, b = at_rent("a", 12.0), at_rent("b", 20.0)
    cmp = compare([a, b])
    doc = compare_html(cmp, lang="en")
    words = re.sub(r'src="data:[^"]*"', "", doc)
    assert "CNY" not in words and "Construction cost (yuan/m²)" in words and "Tax per mu (yuan/mu)" in words
    wb = load_workbook(compare_to_excel(cmp, tmp_path / "c.xlsx", lang="en"))
    cells = [str(c.value) for ws in wb for row in ws.iter_rows() for c in row if c.value is not None]
    assert not [c for c in cells if "CNY" in c] and any("million yuan" in c for c in cells)
    pages = pdfium.PdfDocument(comparison_pdf(cmp, lang="en"))
    pdf_text = "".join(pages[i].get_textpage().get_text_range() for i in range(len(pages)))
    assert "CNY" not in pdf_text and "yuan/m" in pdf_text
    # every English label of the one label table, parameter and indicator names
    english = ([v[1] + " " + v[2] for v in i18n.LABELS.values()] + [v[1] for v in i18n.PARAMS.values()]
               + [v[1] for v in i18n.STRINGS.values()] + [v[1] for v in text.TEXT.values()])
    assert [e for e in english if "CNY" in e] == []
    assert [i18n.column_label(c, "en") for c in ("tax_cny", "output_per_mu")] == ["Annual tax (yuan/yr)",
                                                                                "Output per mu (yuan/mu)"]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_html_site_table_has_one_precision_per_column(lang):
    """The HTML scenario report's site table read 0.93 above 0.835 in one column (the PDF already had one precision
    per column): both use one rule (planner.report.text.same_precision)."""
    from tests.test_report_pdf import sites_of_many_sizes

    r = run(sites_of_many_sizes(), scenario_from_dict({"name": "s"}))
    doc = html_report(r, lang=lang)
    start = doc.index("<h2>地块明细</h2>" if lang == "zh" else "<h2>Sites</h2>")
    table = doc[doc.index("<table>", start):]
    table = table[: table.index("</table>")]
    body = [[re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", t, re.S)]
            for t in re.findall(r"<tr>(.*?)</tr>", table, re.S)]
    body = [b for b in body if b]
    assert len(body) == len(r.sites)
    mixed = []
    for col in zip(*body, strict=True):
        decimals = {len(c.split(".")[1]) if "." in c else 0 for c in col if re.fullmatch(r"-?[\d,]+(\.\d+)?", c)}
        if len(decimals) > 1:
            mixed.append(col)
    assert mixed == []
    if lang == "zh":  # the tax column has amounts below 1 亿元 and above: one precision, three decimals
        assert any(re.fullmatch(r"0\.\d{3}", c) for c in body[0])


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_pdf_comparison_table_reads_well_with_three_long_names(lang, monkeypatch):
    """Three scenario names of 40+ characters made the PDF comparison table's header rows eight lines tall, the names
    broken mid-word ("upstairs_all - c" / "onservative_"): the columns are A, B, C and a legend names them whole."""
    from planner.report import pdf as P

    names = ["东部沿江工业带二期工业上楼与标准厂房混合改造方案第三版含保留提升类", "eastern_riverside_industrial_belt_phase_two_v3",
             "western_logistics_corridor_standard_factory_low_rent_v2"]
    rents = (12.0, 14.0, 16.0)
    cmp = compare([at_rent(n, r) for n, r in zip(names, rents, strict=True)])
    assert all(len(n) >= 40 for n in names[1:]) and len(names[0]) >= 30
    tables, measured = [], []
    real = P._table
    monkeypatch.setattr(P, "_table", lambda pdf, rows, widths, **k: tables.append((rows, widths)) or real(
        pdf, rows, widths, **k))
    data = P.comparison_pdf(cmp, lang=lang)
    rows, widths = next((r, w) for r, w in tables if r[0][0] == label("figure", lang))
    doc = P._Doc(lang, "", "")
    doc.add_page()
    doc.set_font("cjk", size=6.8)
    for head, w in zip(rows[0], widths, strict=True):
        lines = doc.multi_cell(w - 2.01, 3.4, doc.breaks(head, w - 2.01), wrapmode=doc.wrap, dry_run=True,
                               output="LINES")
        measured.append(len(lines))
    assert max(measured) <= 2, list(zip(rows[0], measured, strict=True))  # the header row: two lines at most
    assert rows[0][1:4] == ["A", "B", "C"]
    pages = [data_page.get_textpage().get_text_range() for data_page in pdfium.PdfDocument(data)]
    flat = re.sub(r"\s*[\r\n]+\s*", "", "".join(pages))
    for n in names:  # each name whole in the legend (and the title block), never cut with "…"
        assert flat.count(n) >= 2, n
    table_page = next(p for p in pages if label("figure", lang) in p)
    assert "…" not in table_page and label("last_delivery", lang) in table_page  # the table on one page


def test_floor_chart_notes_end_inside_the_frame(monkeypatch):
    """The English comparison's floor-area chart wrote "Net new floor area 126,515,191 m²" over the right edge of
    its frame (the room left for the note was a fixed 35% of the axis)."""
    from planner.report import charts as C

    figs = []
    real = C._render
    monkeypatch.setattr(C, "_render", lambda fig, title, **k: figs.append(fig) or real(fig, title, **k))
    big = at_rent("big", 12.0)
    big.totals["net_change_m2"], big.totals["new_floor_m2"] = 126_515_191.0, 160_270_414.0
    small = at_rent("small", 12.0)
    small.totals["net_change_m2"], small.totals["new_floor_m2"] = 6_862_812.0, 9_668_339.0
    for lang in ("en", "zh"):
        C.floor_chart([small, big], lang)
        fig = figs[-1]
        import matplotlib
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        with matplotlib.rc_context(C._rc(lang)):  # the chart's fonts: text is measured as drawn
            r = FigureCanvasAgg(fig).get_renderer()
            ax = fig.axes[0]
            notes = [t for t in ax.texts if "126,515,191" in t.get_text() or "12,651.5" in t.get_text()]
            assert notes and notes[0].get_window_extent(r).x1 <= ax.get_window_extent(r).x1, lang


def test_report_legends_and_assumptions_read_as_written(tmp_path):
    """Chinese legends counted with ASCII brackets ("仅 A (785)", the app has "（785）"); the assumptions showed
    shares as 0.45 and "0.6, 0.775, 0.95" beside sources in %; English sources said "yuan/m2", "<= 7%" and
    "S: 工业上楼 3.0-4.0" untranslated; the HTML's membership header read "仅在本情景 (片区编号)"."""
    from planner.report.charts import membership_map
    from planner.report.text import assumptions_table

    a = run(sites(), scenario_from_dict({"name": "a", "sites": {"top": 1}}))
    b = run(sites(), scenario_from_dict({"name": "b", "template": "multi_storey"}))
    cmp = compare([a, b])
    m = membership_map(cmp, "zh")
    assert "两个情景都有（1）" in m.alt and "仅 b（1）" in m.alt and " (1)" not in m.alt
    assert "In both (1)" in membership_map(cmp, "en").alt
    zh = assumptions_table(b, "zh").set_index("参数")
    assert zh.loc["建筑密度"].iloc[0] == "40%" and zh.loc["出租率爬升"].iloc[0] == "60%, 77.5%, 95%"
    en = assumptions_table(b, "en").set_index("Parameter")
    assert en.loc["Roads and yards (share of site)"].iloc[0] == "17.5%"
    sources = " ".join(en["Source"])
    assert "yuan/m2" not in sources and "<=" not in sources and "yuan/m²" in sources
    assert "S: multi-storey factories (工业上楼), 3.0-4.0" in sources
    doc = compare_html(cmp, lang="zh")
    assert "仅在本情景的片区编号" in doc and "(片区编号)" not in doc
