"""The deliveries as the people who receive them open them: the comparison report (PDF, Excel), the scenario outputs
(``scenario run --out``), the flags and sites layers (GeoJSON, CSV), made from the sample city in both languages.

What a receiver saw, and checks here:

- the Chinese comparison report said rent income rose "+260.7%", the English one "+259.0%" (each percentage was
  computed from its own rounded values, 11.2 亿元 for 11.244): now both print the change of the values themselves;
- retained floor area "0.678  0.000" (万㎡): a true zero read as "less than 5 m²"; now "0", as in English;
- Excel flagged the comparison's start years and 23 template assumptions "number stored as text";
- ``sites --out sites.csv`` had no byte-order mark (Excel on Chinese Windows reads such a file as GBK);
- ``classify``/``sites --out x.geojson`` named the layer after the temporary file (".x.tmp-1234" in QGIS);
- the year-by-year charts of the PDF printed their 9 pt text at 4.2 pt (a 7.5-inch chart in a 91 mm column).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pyogrio
import pytest
from openpyxl import load_workbook

from planner.cli import main

pdfium = pytest.importorskip("pypdfium2", reason="pypdfium2 reads the PDF pages (test extra)")

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = [str(ROOT / "scenarios" / "conservative_top10.toml"), str(ROOT / "scenarios" / "phased_budget.toml")]
NUMBER_TEXT = re.compile(r"[+-]?\d{1,3}(,\d{3})*(\.\d+)?%?|[+-]?\d+(\.\d+)?%?")


@pytest.fixture(scope="module")
def delivered(tmp_path_factory) -> Path:
    """The sample city (a copy) classified, assembled, run and compared from the command line, in both languages."""
    d = tmp_path_factory.mktemp("deliveries")
    ws = d / "ws.gpkg"
    shutil.copyfile(ROOT / "gis_data" / "sample_city.gpkg", ws)
    w = ["-w", str(ws)]
    assert main(["classify", *w, "--out", str(d / "flags.geojson")]) == 0
    assert main(["sites", *w, "--out", str(d / "sites.csv")]) == 0
    assert main(["sites", *w, "--out", str(d / "sites.geojson")]) == 0
    for lang in ("zh", "en"):
        assert main(["scenario", "run", *SCENARIOS, *w, "--out", str(d / f"run_{lang}"), "--lang", lang]) == 0
        for ext in ("pdf", "xlsx"):
            assert main(["scenario", "compare", "conservative_top10", "phased_budget", *w, "--lang", lang,
                         "--out", str(d / f"compare_{lang}.{ext}")]) == 0
    return d


def pdf_text(path: Path) -> list[str]:
    doc = pdfium.PdfDocument(str(path))
    return [doc[i].get_textpage().get_text_range() for i in range(len(doc))]


def table_lines(path: Path) -> list[str]:
    """The lines of a comparison PDF's side-by-side table (label, A, B, B−A, B vs A %)."""
    text = next(t for t in pdf_text(path) if "指标对照表" in t or "Side-by-side figures" in t)
    return [line.strip() for line in text.splitlines() if re.search(r"[+-]?\d[\d,.]*%\s*$", line.strip())]


def test_chinese_and_english_reports_print_the_same_percentages(delivered):
    zh, en = table_lines(delivered / "compare_zh.pdf"), table_lines(delivered / "compare_en.pdf")
    assert len(zh) == len(en) > 15
    pct = [[line.split()[-1] for line in lines] for lines in (zh, en)]
    assert pct[0] == pct[1], [(a, b, x) for a, b, x in zip(*pct, zh, strict=True) if a != b]
    rent = next(line for line in en if line.startswith("Rent income"))
    assert rent.endswith("+259.0%"), rent  # 4,035.7 / 1,124.2 million yuan, not 40.4 / 11.2 亿元 (+260.7%)
    workbooks = [load_workbook(delivered / f"compare_{lang}.xlsx")[name]
                 for lang, name in (("zh", "Comparison 对比"), ("en", "Comparison"))]
    cols = [[r[-1].value for r in ws.iter_rows(min_row=2)] for ws in workbooks]
    assert cols[0] == cols[1]


def test_a_true_zero_reads_0_in_both_languages(delivered):
    """phased_budget retains nothing: "0" in either language, beside conservative_top10's 0.678 万㎡ / 6,778 m²."""
    zh = next(x for x in table_lines(delivered / "compare_zh.pdf") if x.startswith("保留建筑面积"))
    en = next(x for x in table_lines(delivered / "compare_en.pdf") if x.startswith("Retained floor area"))
    assert zh.split()[1:] == ["0.678", "0", "-0.678", "-100.0%"], zh
    assert en.split()[-4:] == ["6,778", "0", "-6,778", "-100.0%"], en
    ws = load_workbook(delivered / "compare_zh.xlsx")["Comparison 对比"]
    row = next(r for r in ws.iter_rows(min_row=2) if r[0].value.startswith("保留建筑面积"))
    assert row[2].value == 0 and row[2].number_format == "#,##0.000;-#,##0.000;0"  # Excel shows 0, not 0.000


def test_excel_numbers_are_numbers_in_the_format_shown(delivered):
    for path in [delivered / f"compare_{lang}.xlsx" for lang in ("zh", "en")] + sorted(delivered.glob("run_*/*.xlsx")):
        wb = load_workbook(path)
        for ws in wb.worksheets:
            as_text = [(ws.title, c.coordinate, c.value) for row in ws.iter_rows(min_row=2) for c in row
                       if isinstance(c.value, str) and NUMBER_TEXT.fullmatch(c.value.strip())]
            assert as_text == [], (path.name, as_text[:5])
    sites = load_workbook(delivered / "compare_zh.xlsx")["Sites 地块"]
    head = [c.value for c in sites[1]]
    j = head.index("phased_budget · 启动年份")
    years = [r[j].value for r in sites.iter_rows(min_row=2) if r[j].value is not None]
    assert years and all(isinstance(y, int | float) and 2026 <= y <= 2060 for y in years)
    assert sites.cell(2, j + 1).number_format == "0"  # 2026, not 2,026
    a = {r[0].value: r[1] for r in load_workbook(delivered / "run_zh" / "phased_budget.xlsx")["Assumptions 假设"]
         .iter_rows(min_row=2)}
    assert (a["建筑密度"].value, a["建筑密度"].number_format) == (pytest.approx(0.45), "0%")
    assert (a["道路及堆场用地比例"].value, a["道路及堆场用地比例"].number_format) == (pytest.approx(0.175), "0.0%")
    assert (a["亩均税收（元/亩）"].value, a["亩均税收（元/亩）"].number_format) == (200_000, "#,##0")
    assert (a["情景：起始年份"].value, a["情景：起始年份"].number_format) == (2026, "0")
    assert a["出租率爬升"].value == "60%, 77.5%, 95%" and a["情景：每年启动片区数"].value == "不限"


def test_csv_deliveries_open_in_excel(delivered):
    for name in ("sites.csv", "sites_parcels.csv"):
        raw = (delivered / name).read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf"), name  # UTF-8 with a BOM: Excel does not read it as GBK
        assert raw.count(b"\r\n") == raw.count(b"\n") > 10, name


def test_geojson_layers_are_named_after_their_file(delivered):
    for name in ("flags", "sites"):
        layers = pyogrio.list_layers(delivered / f"{name}.geojson")
        assert [str(x[0]) for x in layers] == [name]  # was ".flags.tmp-<pid>", the temporary file's name


def test_yearly_charts_print_their_text_at_a_readable_size(delivered):
    """The two year-by-year charts stand side by side, 91 mm wide each: their 9 pt text must print at 6 pt or more
    (in the scenario report and in the comparison report)."""
    from planner.report.pdf import WIDTH

    for name, page in (("run_zh/phased_budget.pdf", 0), ("compare_zh.pdf", 2), ("compare_en.pdf", 2)):
        doc = pdfium.PdfDocument(str(delivered / name))
        placed = []
        for obj in doc[page].get_objects(filter=[pdfium.raw.FPDF_PAGEOBJ_IMAGE]):
            left, _b, right, _t = obj.get_bounds()
            placed.append(((right - left) / 72 * 25.4, obj.get_px_size()[0]))
        halves = [(mm, px) for mm, px in placed if abs(mm - (WIDTH / 2 - 2)) < 1]
        assert len(halves) == 2, (name, placed)
        for mm, px in halves:  # drawn at 150 dpi: 9 pt text is 9 / 72 x 150 px tall
            printed = 9 * (mm / 25.4) / (px / 150)
            assert printed >= 6, (name, mm, px, printed)


def test_excel_sheet_names_are_in_the_workbooks_language(delivered):
    """An English workbook's tabs said "Comparison 对比", "Sites 地块" to a reader of English only; a Chinese
    workbook keeps both languages, as its headers do."""
    assert load_workbook(delivered / "compare_en.xlsx").sheetnames == ["Comparison", "Floor area", "Sites", "Curves"]
    assert load_workbook(delivered / "run_en" / "phased_budget.xlsx").sheetnames == [
        "Summary", "Sites", "Timeline", "Floor area", "Assumptions"]
    zh = load_workbook(delivered / "compare_zh.xlsx")
    assert zh.sheetnames == ["Comparison 对比", "Floor area 建筑面积", "Sites 地块", "Curves 年度曲线"]
    assert zh["Floor area 建筑面积"]["A1"].value == "情景 Scenario"  # both languages, as the other headers (was 情景)


def test_excel_columns_fit_their_names_and_numbers(delivered):
    """A scenario name wrapped "conservativ" / "e_top10" in its header, and 126,515,191 m² filled its column to the
    edge (a larger city's figures showed "#####"); template names ran under the next column."""
    from openpyxl.utils import get_column_letter

    wb = load_workbook(delivered / "compare_en.xlsx")
    for ws in wb.worksheets:
        widths = {i: d.width for d in ws.column_dimensions.values() for i in range(d.min, d.max + 1)}  # ranges
        for j, head in enumerate(ws[1], start=1):
            width = widths[j]
            words = [w for w in str(head.value).split() if w.isascii()]
            assert width >= max(map(len, words), default=0), (ws.title, head.value, width)
            numbers = [c.value for c in ws[get_column_letter(j)][1:] if isinstance(c.value, int | float)]
            if numbers:
                assert width >= len(f"{max(map(abs, numbers)):,.1f}") + 1, (ws.title, head.value, width)
            texts = [c.value for c in ws[get_column_letter(j)][1:] if isinstance(c.value, str)]
            if texts and ws.title.startswith("Sites"):
                assert width >= max(map(len, texts)), (ws.title, head.value, width)


def test_a_table_continued_on_the_next_page_names_its_scenario(delivered):
    """The assumptions of two scenarios run over a page: the header repeated at the top of the next page said
    "参数  标准厂房（低租金）  来源", not whose they are (both scenarios may use one template)."""
    for lang, head in (("zh", "参数 · "), ("en", "Parameter · ")):
        pages = pdf_text(delivered / f"compare_{lang}.pdf")
        first = next(i for i, t in enumerate(pages) if ("模型假设" in t or "Assumptions" in t))
        assert len(pages) > first + 1  # the tables run over a page
        for t in pages[first + 1:]:
            assert t.lstrip().startswith(head), t[:80]
            assert t.lstrip()[len(head):].startswith(("conservative_top10", "phased_budget")), t[:80]


def test_the_scenario_pdf_says_how_many_sites_it_leaves_out(delivered):
    """phased_budget takes 100 sites and its PDF lists 40 under "Sites (first 40)": a reader with the PDF alone did
    not learn there were 100, or where the rest are (the HTML report said so)."""
    zh = "".join(pdf_text(delivered / "run_zh" / "phased_budget.pdf"))
    en = "".join(pdf_text(delivered / "run_en" / "phased_budget.pdf"))
    assert "仅列出排名前 40 个地块（共 100 个），完整明细见 Excel。" in zh
    assert "Only the 40 best-ranked of 100 sites are listed; the Excel workbook has them all." in re.sub(r"\s+", " ", en)
