"""Printable PDFs: one-page site briefs (一地一策) and A4 scenario / comparison reports, from the CLI.

Pages are rendered to PNG (pypdfium2) into tests/artifacts/ to be looked at; the tests check what a reader
relies on: the site id and a Chinese title are in the text, the CJK font is embedded (the PDF reads the same
on a machine without Chinese fonts), one page per site, A4 pages.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from planner.cli import main
from planner.report.text import tr

pdfium = pytest.importorskip("pypdfium2", reason="pypdfium2 renders the PDF pages (test extra)")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
A4 = (595.3, 841.9)  # points


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    from tests.e2e._workspace import build_workspace

    ws = build_workspace(tmp_path_factory.mktemp("pdf") / "ws.gpkg")
    assert main(["classify", "-w", str(ws)]) == 0
    assert main(["sites", "-w", str(ws)]) == 0
    return ws


def _pages(path: Path, stem: str) -> list[str]:
    """Text of every page; each page rendered to tests/artifacts/<stem>_<i>.png."""
    doc = pdfium.PdfDocument(str(path))
    ARTIFACTS.mkdir(exist_ok=True)
    out = []
    for i in range(len(doc)):
        page = doc[i]
        w, h = page.get_size()
        assert (round(w, 1), round(h, 1)) == A4
        img = page.render(scale=1.4).to_pil()
        img.save(ARTIFACTS / f"{stem}_{i + 1}.png")
        assert img.convert("L").getextrema()[0] < 100  # something is drawn on every page
        out.append(page.get_textpage().get_text_range())
    return out


def _embedded_fonts(path: Path) -> list[bytes]:
    data = path.read_bytes()
    assert b"/FontFile3" in data or b"/FontFile2" in data  # the font program itself is in the file
    return re.findall(rb"/BaseFont\s*/([A-Z]{6}\+[\w-]+)", data)  # subset-tagged, i.e. embedded


def test_site_briefs_pdf_from_the_cli(workspace, tmp_path, capsys):
    from planner.io.store import open_store

    sites = open_store(str(workspace)).read_layer("sites", "default")
    ok = sites[sites["status"] == "ok"].sort_values("rank")
    first, second = ok["site_id"].iloc[0], ok["site_id"].iloc[1]
    out = tmp_path / "briefs.pdf"
    assert main(["brief", second, "--top", "1", "-w", str(workspace), "--out", str(out), "--lang", "zh"]) == 0
    assert f"{second}:" in capsys.readouterr().out
    texts = _pages(out, "brief_zh")
    assert len(texts) == 2  # one page per site: the named one, then the best-ranked
    assert f"一地一策 · 片区 {second}" in texts[0] and f"一地一策 · 片区 {first}" in texts[1]
    for t in texts:
        for words in ("片区位置与地块", "基本情况", "现状与规划建筑面积", "认定理由", "管控约束与保留地块", "地块清单",
                      "新增产业空间", "仅计租金回收期", "租金+税收回收期", "权利人", "第 "):
            assert words in t, words
        assert "调查版本 v1" in t and "识别规则 default" in t  # what the figures rest on, on every page
    fonts = _embedded_fonts(out)
    assert fonts and all(b"NotoSansCJK" in f for f in fonts)
    # English
    en = tmp_path / "briefs_en.pdf"
    assert main(["brief", first, "-w", str(workspace), "--out", str(en), "--lang", "en"]) == 0
    t = _pages(en, "brief_en")[0]
    assert f"Site brief · {first}" in t and "Net new floor area" in t and "Payback, rent + tax" in t


def test_brief_refusals_exit_2(workspace, tmp_path, capsys):
    assert main(["brief", "S9999", "-w", str(workspace), "--out", str(tmp_path / "x.pdf")]) == 2
    assert "no site S9999" in capsys.readouterr().err
    assert main(["brief", "-w", str(workspace), "--out", str(tmp_path / "x.pdf")]) == 2
    assert main(["brief", "S0001", "-w", str(workspace), "--out", str(tmp_path / "x.html")]) == 2
    assert not (tmp_path / "x.pdf").exists() and not (tmp_path / "x.html").exists()
    # --out as every command checks it, before any work: a missing folder is not made, a folder is not a file
    assert main(["brief", "S0001", "-w", str(workspace), "--out", str(tmp_path / "no" / "x.pdf")]) == 2
    assert "does not exist" in capsys.readouterr().err and not (tmp_path / "no").exists()
    (tmp_path / "d.pdf").mkdir()
    assert main(["brief", "S0001", "-w", str(workspace), "--out", str(tmp_path / "d.pdf")]) == 2
    assert "is a folder" in capsys.readouterr().err


def test_a_brief_that_fails_leaves_the_previous_file_whole(workspace, tmp_path, monkeypatch, capsys):
    out = tmp_path / "b.pdf"
    assert main(["brief", "S0001", "-w", str(workspace), "--out", str(out)]) == 0
    before = out.read_bytes()
    real = Path.write_bytes

    def disk_full_half_way(self, data):
        real(self, data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", disk_full_half_way)
    assert main(["brief", "S0001", "-w", str(workspace), "--out", str(out)]) != 0
    monkeypatch.undo()
    assert out.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["b.pdf"]


def test_scenario_and_comparison_reports_print_on_a4(workspace, tmp_path):
    out = tmp_path / "run"
    assert main(["scenario", "run", "scenarios/conservative_top10.toml", "-w", str(workspace), "--out", str(out),
                 "--no-save", "--lang", "zh"]) == 0
    texts = _pages(out / "conservative_top10.pdf", "scenario_zh")
    assert "园区标准化改造情景报告" in texts[0] and "新增产业空间" in texts[0] and "主要指标" in texts[0]
    assert any("模型假设" in t and "目标容积率" in t for t in texts)  # labels, not keys
    assert not any("target_plot_ratio" in t or "label_zh" in t for t in texts)
    assert all(re.search(r"第 \d+ 页 / 共 \d+ 页", t) for t in texts)
    cmp = tmp_path / "cmp.pdf"
    assert main(["scenario", "compare", "scenarios/conservative_top10.toml", "scenarios/upstairs_all.toml", "-w",
                 str(workspace), "--out", str(cmp), "--lang", "zh"]) == 0
    texts = _pages(cmp, "comparison_zh")
    assert "情景对比报告" in texts[0] and "各情景的地块分布" in "".join(texts[:2])  # three scenarios, not "两个情景"
    assert "指标对照表" in "".join(texts)
    assert all(b"NotoSansCJK" in f for f in _embedded_fonts(cmp))


def test_brief_of_an_edited_rule_set_says_so(workspace):
    """A brief made from the app while the rules have unsaved changes names the saved version they start from."""
    from planner.io.store import open_store
    from planner.report.pdf import site_briefs_pdf
    from planner.workflow.briefs import stored_site_briefs

    briefs = stored_site_briefs(open_store(str(workspace)), top=1)
    for b in briefs:
        b.provenance = {**b.provenance, "policy_edited": True, "policy_base": "default v1"}
    doc = pdfium.PdfDocument(site_briefs_pdf(briefs, lang="zh"))
    assert "含未保存的修改，基于 default v1" in doc[0].get_textpage().get_text_range()


def _cells_over(monkeypatch) -> list:
    """The text drawn wider than its cell from now on: ``(text, its width, the cell's)`` (fpdf2 lets it run over)."""
    from planner.report import pdf as P

    over = []
    real = P._Doc.cell

    def cell(self, w=None, h=None, text="", *a, **k):
        if w and text and "{nb}" not in text and self.get_string_width(text) > w + 0.01:
            over.append((text, round(self.get_string_width(text), 1), round(w, 1)))
        return real(self, w, h, text, *a, **k)

    monkeypatch.setattr(P._Doc, "cell", cell)
    return over


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_report_text_stays_in_its_boxes_and_english_words_stay_whole(workspace, tmp_path, monkeypatch, lang):
    """No text drawn wider than its cell (the footer ran over the page number and off the page, English key
    figures out of their boxes), and English wraps between words ("Delivery yea / r" before)."""

    over = _cells_over(monkeypatch)
    out = tmp_path / "run"
    assert main(["scenario", "run", "scenarios/upstairs_all.toml", "-w", str(workspace), "--out", str(out),
                 "--no-save", "--lang", lang]) == 0
    cmp = tmp_path / "cmp.pdf"
    assert main(["scenario", "compare", "scenarios/conservative_top10.toml", "scenarios/phased_budget.toml",
                 "scenarios/upstairs_all.toml", "-w", str(workspace), "--out", str(cmp), "--lang", lang]) == 0
    assert main(["brief", "S0001", "-w", str(workspace), "--out", str(tmp_path / "b.pdf"), "--lang", lang]) == 0
    assert over == []
    if lang == "en":
        text = "".join(_pages(out / "upstairs_all.pdf", "scenario_en") + _pages(cmp, "comparison_en"))
        lines = re.split(r"\s*[\r\n]+\s*", text)
        for heading in ("Delivery year", "Existing floor area", "Net new floor area", "Tax after (million yuan/yr)",
                        "Investment (million yuan)", "Multi-storey factory (industry upstairs)"):
            for word in re.findall(r"[A-Za-z]{3,}", heading):  # no line ends inside a word of it
                cut = [(word[:i], word[i:]) for i in range(1, len(word))]
                broken = [a + "|" + b for a, b in cut
                          if any(x.endswith(a) and y.startswith(b) for x, y in itertools.pairwise(lines))]
                assert not broken, (heading, broken)
    # a scenario name wider than its column breaks after an underscore, not inside a part ("phased_budg / et"),
    # in both languages
    lines = re.split(r"\s*[\r\n]+\s*", "".join(_pages(cmp, f"comparison_{lang}")))
    for name in ("conservative_top10", "phased_budget", "upstairs_all"):
        cut = [(name[:i], name[i:]) for i in range(2, len(name) - 1) if name[i - 1] != "_"]
        broken = [a + "|" + b for a, b in cut
                  if any(x.endswith(a) and y.startswith(b) for x, y in itertools.pairwise(lines))]
        assert not broken, (name, broken)


def _stranded_headings(data: bytes, headings) -> list[tuple[int, str]]:
    """Headings with nothing under them on their page (their chart or table moved to the next page, e.g. a page
    holding only "Site map"): (page number, heading)."""
    doc = pdfium.PdfDocument(data)
    out = []
    for i in range(len(doc)):
        page, text = doc[i], doc[i].get_textpage()
        boxes = [o.get_bounds() for o in page.get_objects()]  # (left, bottom, right, top) in points
        for h in dict.fromkeys(headings):
            found = text.search(h)
            while (hit := found.get_next()) is not None:
                bottom = min(text.get_charbox(k)[1] for k in range(hit[0], hit[0] + hit[1]))
                # anything reaching 4 mm below the heading (past its rule), above the footer (16 mm from the foot)
                if not any(45 < b[1] < bottom - 11.3 for b in boxes):
                    out.append((i + 1, h))
    return out


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_heading_has_its_content_under_it(lang, monkeypatch):
    """A map taller than the room left moved on alone and left its heading behind: a page holding only "Site map",
    or the comparison's map title at the foot of page 1 with its map on page 2. A heading now stays with what
    follows it, and a chart is never taller than a page under its heading."""
    import geopandas as gpd
    import numpy as np
    import shapely

    from planner.report import pdf as P
    from planner.scenarios import run, scenario_from_dict
    from planner.scenarios.comparison import compare

    headings = []
    real = P._heading
    monkeypatch.setattr(P, "_heading", lambda pdf, text, **k: headings.append(text) or real(pdf, text, **k))
    n = 12  # a column of sites 40 km tall and 100 m wide: the map is far taller than wide
    g = gpd.GeoDataFrame({"site_id": [f"S{i:02d}" for i in range(n)], "status": "ok", "rank": np.arange(1, n + 1),
                          "land_area_m2": 10_000.0, "floor_area_m2": 2_000.0},
                         geometry=shapely.box(0, np.arange(n) * 3600.0, 100, np.arange(n) * 3600.0 + 100),
                         crs="EPSG:4549")
    results = [run(g, scenario_from_dict({"name": f"s{j}", "sites": {"top": 4 * (j + 1)}, "sites_per_year": 3}))
               for j in range(3)]
    docs = [P.scenario_pdf(r, lang=lang) for r in results]
    docs += [P.comparison_pdf(compare(results[:k]), lang=lang) for k in (2, 3)]
    assert {tr("map", lang), tr("cmp_map_title", lang), tr("yearly", lang)} <= set(headings)
    assert [(d, s) for d, doc in enumerate(docs) for s in _stranded_headings(doc, headings)] == []


LONG = "a_very_long_scenario_name_for_the_eastern_riverside_industrial_belt_phase_two_with_multi_storey_factories_v3"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_long_scenario_names_are_wrapped_not_cut(lang):
    """The title block cut a long scenario name ("(a_very_long_scenario_…") and the comparison's baseline to "基…":
    names wrap onto more lines and are whole in the text."""
    import geopandas as gpd
    import shapely

    from planner.report.pdf import comparison_pdf, scenario_pdf
    from planner.scenarios import run, scenario_from_dict
    from planner.scenarios.comparison import compare

    g = gpd.GeoDataFrame({"site_id": ["S1", "S2"], "status": "ok", "rank": [1, 2], "land_area_m2": 10_000.0,
                          "floor_area_m2": 2_000.0}, geometry=[shapely.box(0, 0, 100, 100), shapely.box(150, 0, 250, 100)],
                         crs="EPSG:4549")
    zh = "晋江东部沿江工业带二期工业上楼与标准厂房混合改造方案第三版含保留提升类地块"
    label = "这是一个非常非常长的情景名称：晋江东部沿江工业带二期工业上楼与标准厂房混合改造方案（第三版）"
    long = run(g, scenario_from_dict({"name": LONG, "label": label}))
    base = run(g, scenario_from_dict({"name": zh, "sites": {"top": 1}}))

    def first_page(data: bytes) -> str:
        raw = pdfium.PdfDocument(data)[0].get_textpage().get_text_range()
        stray = [x for x in re.split(r"[\r\n]+", raw) if re.fullmatch(r"\s*[A-Za-z_]{1,3}\s*", x)]
        assert stray == []  # a name broken a little wider than its line left "e" on a line of its own
        return re.sub(r"\s*[\r\n]+\s*", "", raw)

    text = first_page(scenario_pdf(long, lang=lang))
    assert LONG in text and label in text and "…" not in text
    text = first_page(comparison_pdf(compare([base, long]), lang=lang))
    assert text.count(LONG) >= 2 and text.count(zh) >= 3 and "…" not in text  # title block, and over the cards


def sites_of_many_sizes(n: int = 8):
    """``n`` ok sites of 1 to 60 ha in a row: tax and investment from below 0.1 to several 亿元 (precisions differ)."""
    import geopandas as gpd
    import numpy as np
    import shapely

    side = np.sqrt(np.geomspace(10_000, 600_000, n))
    x = np.r_[0, np.cumsum(side[:-1] + 50)]
    return gpd.GeoDataFrame({"site_id": [f"S{i:04d}" for i in range(n)], "status": "ok", "rank": np.arange(1, n + 1),
                             "land_area_m2": side**2, "floor_area_m2": side**2 * 0.5},
                            geometry=shapely.box(x, 0, x + side, side), crs="EPSG:4549")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_site_table_keeps_brackets_and_one_precision_per_column(lang, monkeypatch):
    """The scenario PDF's site table wrapped "标准厂房（低租金" with ")" alone on the next line, headers as "用地面积（" /
    "亩）", and mixed precisions in a column (0.93 above 0.835)."""
    from planner.report import pdf as P
    from planner.scenarios import run, scenario_from_dict

    g = sites_of_many_sizes()
    r = run(g, scenario_from_dict({"name": "low", "template": "low", "templates": {"low": {
        "base": "standard_factory", "label_zh": "标准厂房（低租金）", "label_en": "Standard factory park (low rent)",
        "rent_per_m2_month": 10.0}}}))
    tables, cells = [], {}
    real_table, real_multi = P._table, P._Doc.multi_cell
    monkeypatch.setattr(P, "_table", lambda pdf, rows, widths, **k: tables.append(rows) or real_table(pdf, rows, widths,
                                                                                                       **k))

    measuring = []

    def multi_cell(self, w, h=None, text="", *a, **k):  # the lines a table cell is drawn in
        if "padding" in k and text and not measuring:
            measuring.append(1)  # a dry run calls multi_cell again
            kw = {x: k[x] for x in ("wrapmode", "padding") if x in k}
            cells[text.replace("\n", "")] = real_multi(self, w, h, text, dry_run=True, output="LINES", **kw)
            measuring.pop()
        return real_multi(self, w, h, text, *a, **k)

    monkeypatch.setattr(P._Doc, "multi_cell", multi_cell)
    P.scenario_pdf(r, lang=lang)
    sites = next(t for t in tables if len(t) == len(g) + 1)
    opened = {t: lines for t, lines in cells.items() if any(x.strip()[:1] in "）)" for x in lines[1:])}
    assert opened == {}  # no line of any table opens on a closing bracket
    if lang == "zh":
        assert len(cells["标准厂房（低租金）"]) == 1 and cells["用地面积（亩）"] in (["用地面积（亩）"], ["用地面积", "（亩）"])
        assert cells["改造后年税收（亿元/年）"] == ["改造后年税收", "（亿元/年）"]
    for col in zip(*sites[1:], strict=True):
        decimals = {len(c.split(".")[1]) if "." in c else 0 for c in col if re.fullmatch(r"-?[\d,]+(\.\d+)?", c)}
        assert len(decimals) <= 1, col
    assert lang == "en" or any(float(r[-3]) < 1 for r in sites[1:])  # the tax column has amounts below 1 亿元


@pytest.mark.parametrize("aspect", [0.9, 1.1, 1.3])
def test_the_floor_area_ledger_is_never_split(aspect):
    """Under a map that filled most of its page the ledger ran three rows on to the next page: the map is drawn
    up to a fifth smaller to keep it whole, or the ledger starts the next page."""
    import geopandas as gpd
    import numpy as np
    import shapely

    from planner.report.pdf import scenario_pdf
    from planner.scenarios import run, scenario_from_dict

    n = 12  # a 3 x 4 grid of sites, its height ``aspect`` times its width: maps of 0.9 to 1.3 times their width
    x, y = (np.arange(n) % 3) * 1000.0, (np.arange(n) // 3) * 750.0 * aspect
    g = gpd.GeoDataFrame({"site_id": [f"S{i:02d}" for i in range(n)], "status": "ok", "rank": np.arange(1, n + 1),
                          "land_area_m2": 10_000.0, "floor_area_m2": 2_000.0},
                         geometry=shapely.box(x, y, x + 100, y + 100), crs="EPSG:4549")
    doc = pdfium.PdfDocument(scenario_pdf(run(g, scenario_from_dict({"name": "s", "sites_per_year": 2})), lang="zh"))
    texts = [doc[i].get_textpage().get_text_range() for i in range(len(doc))]
    page = next(t for t in texts if "建筑面积账" in t)
    assert "现状建筑面积" in page and "租金+税收回收期（年）" in page  # the first and the last row


# -- site briefs: a page agrees with itself and says what each figure is ------------------------------------------
CONSERVATIVE = "scenarios/conservative_top10.toml"  # keeps upgrade classes "retain" and "upgrade"; 10 best ok sites


def _ids(workspace) -> tuple[str, str]:
    """The best-ranked ok site and a site below the minimum area."""
    from planner.io.store import open_store

    sites = open_store(str(workspace)).read_layer("sites", "default")
    best = sites[sites["status"] == "ok"].sort_values("rank")["site_id"].iloc[0]
    return str(best), str(sites[sites["status"] == "too_small"]["site_id"].iloc[0])


def _brief(workspace, tmp_path, ids, lang, *more) -> list[str]:
    out = tmp_path / f"brief_{lang}_{'_'.join(ids)}.pdf"
    assert main(["brief", *ids, "-w", str(workspace), "--out", str(out), "--lang", lang, *more]) == 0
    return _pages(out, out.stem)


def test_brief_states_the_sites_status(workspace, tmp_path):
    """A site below the minimum area (status too_small) showed rank "–" but never said it was too small."""
    best, small = _ids(workspace)
    ok, too_small = _brief(workspace, tmp_path, [best, small], "en")
    assert "Site status OK" in ok and "Site status Too small (< 10,000 m²)" in too_small
    ok, too_small = _brief(workspace, tmp_path, [best, small], "zh")
    assert "片区状态 符合" in ok and "片区状态 面积过小（<10,000㎡）" in too_small


def test_brief_plot_ratios_say_what_they_divide_by(workspace, tmp_path):
    """A site with protected land cut out had two different "plot ratio" figures on one page (floor ÷ the parcels'
    land in Facts, floor ÷ the site's land in the planned figures), both labelled "Plot ratio"."""
    import geopandas as gpd
    import shapely

    from planner.io.store import open_store
    from planner.workflow.operations import read_sites
    from tests.e2e._workspace import build_workspace

    best, _ = _ids(workspace)
    ps = read_sites(open_store(str(workspace)), None).parcel_sites
    pid = str(ps[ps["site_id"].astype(str) == best]["parcel_id"].iloc[0])
    ws = build_workspace(tmp_path / "cut.gpkg")  # the same grid, with a red line over a third of that parcel
    store = open_store(str(ws))
    x0, y0, x1, y1 = store.read_layer("survey")[lambda g: g["parcel_id"] == pid].total_bounds
    red = gpd.GeoDataFrame({"category": ["ecological_red_line"]},
                           geometry=[shapely.box(x0 - 5, y0 - 5, x0 + (x1 - x0) / 3, y1 + 5)], crs="EPSG:4549")
    store.write_layer("constraint", "red_line", red, user="test")
    assert main(["classify", "-w", str(ws)]) == 0 and main(["sites", "-w", str(ws)]) == 0
    stored = read_sites(open_store(str(ws)), None)
    sid = str(stored.parcel_sites[stored.parcel_sites["parcel_id"].astype(str) == pid]["site_id"].iloc[0])
    site = stored.sites[stored.sites["site_id"].astype(str) == sid].iloc[0]
    net, cut = float(site["land_area_m2"]), float(site["constraint_overlap_m2"])
    assert cut > 0
    on_parcels, on_site = site["floor_area_m2"] / (net + cut), site["floor_area_m2"] / net
    assert f"{on_parcels:.2f}" != f"{on_site:.2f}"
    en = _brief(ws, tmp_path, [sid], "en")[0]
    assert f"Plot ratio (÷ parcel land) {on_parcels:.2f}" in en and f"Plot ratio before (÷ site land) {on_site:.2f}" in en
    assert f"Parcel land {net + cut:,.0f} m², site land after the cut-out {net:,.0f} m²." in en.replace("\r\n", " ")
    assert not re.search(r"^Plot ratio [\d.]+", en, flags=re.MULTILINE)  # no plot ratio without its divisor
    zh = _brief(ws, tmp_path, [sid], "zh")[0]
    assert f"容积率（按宗地面积） {on_parcels:.2f}" in zh and f"现状容积率（按片区用地） {on_site:.2f}" in zh
    assert f"宗地面积 {net + cut:,.0f} ㎡，扣除后片区用地 {net:,.0f} ㎡。" in zh.replace("\r\n", "")


def test_brief_reasons_print_thresholds_with_separators_and_units():
    """Reasons read "tax per mu < 50000" / "亩均税收 < 50000", lower-case next to capitalised labels."""
    from planner.report.brief import reason_rule

    assert reason_rule("tax per mu < 50000", "en") == "Tax per mu < 50,000 yuan/mu"
    assert reason_rule("亩均税收 < 50000", "zh") == "亩均税收 < 50,000 元/亩"
    assert reason_rule("output per mu < 231986", "en") == "Output per mu < 231,986 yuan/mu"
    assert reason_rule("building coverage < 0.3", "en") == "Building coverage < 30%"
    assert reason_rule("建筑密度 < 0.35", "zh") == "建筑密度 < 35%"
    assert reason_rule("plot ratio < 1.0", "en") == "Plot ratio < 1.0"
    assert reason_rule("plot ratio <= 0.8", "en") == "Plot ratio ≤ 0.8"
    assert reason_rule("production stopped", "en") == "Production stopped"
    assert reason_rule("停产", "zh") == "停产"


def test_brief_pdf_shows_reasons_with_units(workspace, tmp_path):
    best, _ = _ids(workspace)
    en = _brief(workspace, tmp_path, [best], "en")[0]
    assert "Tax per mu < 50,000 yuan/mu" in en and "Production stopped" in en
    assert not re.search(r"per mu < \d{5}", en) and "tax per mu" not in en and "production stopped" not in en
    zh = _brief(workspace, tmp_path, [best], "zh")[0]
    assert "亩均税收 < 50,000 元/亩" in zh and not re.search(r"亩均税收 < \d{5}", zh)


def test_brief_under_a_scenario_names_the_parcels_it_keeps(workspace, tmp_path):
    """The figures keep the buildings of upgrade-class parcels: the page said "No retained parcels inside" next to
    "Retained floor area 2,657 m²", and listed only demolished parcels (the kept one was cut off the list)."""
    from planner.cli.scenario import resolve_scenario
    from planner.io.store import open_store
    from planner.workflow.briefs import stored_site_briefs

    best, _ = _ids(workspace)
    store = open_store(str(workspace))
    (b,) = stored_site_briefs(store, [best], scenario=resolve_scenario(CONSERVATIVE, store))
    kept = b.parcels[b.parcels["kept"]]
    assert len(kept) and set(kept["upgrade_class"]) <= {"retain", "upgrade"}
    assert kept["floor_area_m2"].sum() == pytest.approx(float(b.figures["retained_floor_m2"]))
    en = _brief(workspace, tmp_path, [best], "en", "--scenario", CONSERVATIVE)[0]
    n = len(kept)
    assert f"The figures keep {n} parcels, {float(b.figures['retained_floor_m2']):,.0f} m² of floor area" in en
    assert f"Parcels kept in figures {n}" in en and "No retained parcels" not in en
    assert all(pid in en for pid in kept["parcel_id"])
    marks = re.findall(r"\b(Kept|Demolished)\r?$", en, flags=re.MULTILINE)  # the table's last column, row by row
    assert marks[:n] == ["Kept"] * n and "Kept" not in marks[n:]  # kept parcels first
    zh = _brief(workspace, tmp_path, [best], "zh", "--scenario", CONSERVATIVE)[0].replace("\r\n", "")  # unwrapped
    assert f"测算保留 {n} 宗地块" in zh and "「保留提升」「原址提升」" in zh and "片区内无保留地块" not in zh


def test_the_parcels_a_brief_keeps_add_up_to_the_scenarios_retained_floor(workspace):
    """Whatever the existing-buildings rule, the parcels marked kept hold the retained floor area of the ledger."""
    from planner import scenarios as sc_mod
    from planner.cli.scenario import resolve_scenario
    from planner.io.store import open_store
    from planner.workflow import documents as D
    from planner.workflow.briefs import stored_site_briefs

    store = open_store(str(workspace))
    doc = resolve_scenario(CONSERVATIVE, store)
    for rule in ("retain_class", "retain", "demolish"):
        rdoc = D.ScenarioDoc(sc_mod.replace(doc.scenario, existing=rule))
        for b in stored_site_briefs(store, top=5, scenario=rdoc):
            kept = b.parcels[b.parcels["kept"]]
            assert kept["floor_area_m2"].sum() == pytest.approx(float(b.figures["retained_floor_m2"])), (rule, b.site_id)
            assert len(kept) == {"retain": len(b.parcels), "demolish": 0}.get(rule, len(kept))


def test_brief_of_a_site_the_scenario_does_not_select_says_so(workspace, tmp_path, capsys):
    """A site outside the scenario's selection read "Under scenario 'conservative_top10'" with planned figures."""
    best, small = _ids(workspace)
    en = _brief(workspace, tmp_path, [best, small], "en", "--scenario", CONSERVATIVE)
    said = capsys.readouterr().out.splitlines()
    assert "not selected" not in said[0] and f"{small}: " in said[1]
    assert "(not selected by scenario 'conservative_top10': what its template would give)" in said[1]
    assert "Under scenario 'conservative_top10'" in en[0] and "Not selected" not in en[0]
    assert "Not selected by scenario 'conservative_top10': figures show what its template" in en[1]
    assert "Floor area now and planned (not in scenario)" in en[1] and "Under scenario" not in en[1]
    zh = _brief(workspace, tmp_path, [best, small], "zh", "--scenario", CONSERVATIVE)
    assert "情景「conservative_top10」未选入本片区" in zh[1] and "（情景未选入）" in zh[1] and "未选入" not in zh[0]


def test_brief_says_where_the_parcels_it_leaves_out_are_listed(workspace, tmp_path):
    """"55 more parcels: see the Excel export": `planner brief` writes no Excel. The note now names the app's export
    of the site's parcels; the list is cut where the page ends (one page per site) and kept parcels come first."""
    import pandas as pd

    from planner.cli.scenario import resolve_scenario
    from planner.io.store import open_store
    from planner.report.pdf import site_briefs_pdf
    from planner.workflow.briefs import stored_site_briefs

    best, _ = _ids(workspace)
    store = open_store(str(workspace))
    (b,) = stored_site_briefs(store, [best], scenario=resolve_scenario(CONSERVATIVE, store))
    # the site's parcels 8 times over; the last copy keeps the parcels the scenario keeps (the retained floor)
    many = pd.concat([b.parcels.assign(parcel_id=b.parcels["parcel_id"] + f"x{i}", kept=b.parcels["kept"] & (i == 7))
                      for i in range(8)])
    b.parcels = many
    kept = many[many["kept"]]["parcel_id"].tolist()
    for lang, words in (("en", ("more parcels not listed", "Contiguous sites", "Export what you see",
                                f"Parcels of site {best}")),
                        ("zh", ("宗地块未列出", "「连片地块」", "「导出当前内容」", f"「片区 {best} 的地块」"))):
        out = tmp_path / f"many_{lang}.pdf"
        out.write_bytes(site_briefs_pdf([b], lang=lang))
        (text,) = _pages(out, f"brief_many_{lang}")  # one page
        flat = text.replace("\r\n", "")
        assert "Excel" not in flat and all(w in flat for w in words), lang
        listed = re.findall(r"^(r\d+c\d+x\d+) ", text, flags=re.MULTILINE)  # parcel ids, in page order
        assert 8 < len(listed) < len(many)
        n = int(re.search(r"(\d+) (?:more parcels|宗地块未列出)", flat).group(1))
        assert n == len(many) - len(listed)
        assert sorted(listed[: len(kept)]) == sorted(kept)  # the kept parcels are on the page, first


# -- a brief of out-of-date stored sites says so on its page ------------------------------------------------------
#: Three long reasons the stored sites are out of date, as :func:`planner.workflow.operations.stale_sites_warnings`
#: words them (survey, rules, flags), each with the commands that rebuild them.
STALE = (
    ("the stored sites 'default' are out of date: built from survey v1; the current survey is v3 (published since by "
     "alice on 2024-05-02 with 1,204 parcels changed); to rebuild them, run `planner classify -w /srv/planner/"
     "workspaces/eastern_riverside_industrial_belt.gpkg`, then `planner sites -w /srv/planner/workspaces/"
     "eastern_riverside_industrial_belt.gpkg`",
     "已存储的片区结果 default 已过期：基于调查版本 v1，当前调查版本为 v3（由 alice 于 2024-05-02 发布，1,204 宗地块有变化）；"
     "重新生成：先运行 `planner classify -w /srv/planner/workspaces/eastern_riverside_industrial_belt.gpkg`，再运行 "
     "`planner sites -w /srv/planner/workspaces/eastern_riverside_industrial_belt.gpkg`"),
    ("the stored sites 'default' are out of date: built under policy 'default' (sha256 3f2a9c0d1e4b), the rules "
     "saved since are 9d8e7f6a5b4c (saved as policy/default version 4); to rebuild them, run `planner classify -w "
     "ws.gpkg`, then `planner sites -w ws.gpkg`",
     "已存储的片区结果 default 已过期：基于识别规则 default（sha256 3f2a9c0d1e4b），此后保存的规则为 9d8e7f6a5b4c"
     "（已保存为 policy/default 第 4 版）；重新生成：先运行 `planner classify -w ws.gpkg`，再运行 `planner sites -w ws.gpkg`"),
    ("the stored sites 'default' are out of date: built from flags/default v1; policy 'default' was classified again "
     "since (flags/default v3 now: enterprise table v2, was v1; survey v3, was v1); to rebuild them, run "
     "`planner sites -w ws.gpkg`",
     "已存储的片区结果 default 已过期：基于三低识别结果 flags/default 第 1 版，此后规则 default 已重新识别（当前为第 3 版："
     "企业表 v2，原为 v1；调查版本 v3，原为 v1）；重新生成：运行 `planner sites -w ws.gpkg`"),
)
SETTINGS = (("the stored sites 'default' were built with other site settings than those saved for policy "
             "'default': gap_m 5 (saved: 7.5); to build them with the saved settings, run `planner sites -w ws.gpkg`",
             "已存储的片区结果 default 所用片区设置与规则 default 已保存的设置不同：gap_m 为 5（已保存：7.5）；"
             "如需按已保存的设置重新生成，请运行 `planner sites -w ws.gpkg`"),)


def _flat(text: str) -> str:
    """A page's text without its line breaks (a wrapped reason reads as one)."""
    return re.sub(r"\s*[\r\n]+\s*", "", text).replace(" ", "")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_brief_of_out_of_date_sites_says_so_on_its_page(workspace, tmp_path, monkeypatch, lang):
    """`planner brief` printed the stored sites' warnings on stderr only: the PDF, the document forwarded to
    decision-makers, looked current. Its page now says "Out of date: ..." with every reason, in a tinted box under
    the title, wrapped inside the page (three long reasons keep the brief on one page, no text wider than its
    cell); sites only built with other settings get a neutral note; an up-to-date brief has no box."""
    import dataclasses

    from planner.io.store import open_store
    from planner.report import pdf as P
    from planner.workflow.briefs import stored_site_briefs

    over = _cells_over(monkeypatch)
    best, _ = _ids(workspace)
    (b,) = stored_site_briefs(open_store(str(workspace)), [best])
    assert b.warnings == () and not b.out_of_date  # just built: up to date
    head, note = tr("brief_out_of_date", lang), tr("brief_settings_note", lang)
    out = tmp_path / "current.pdf"
    out.write_bytes(P.site_briefs_pdf([b], lang=lang))
    (text,) = _pages(out, f"brief_current_{lang}")
    flat = _flat(text)
    assert _flat(head) not in flat and _flat(note) not in flat
    assert ("已过期" if lang == "zh" else "Outofdate") not in flat and "storedsites" not in flat

    stale = dataclasses.replace(b, warnings=STALE, out_of_date=True)
    out = tmp_path / "stale.pdf"
    out.write_bytes(P.site_briefs_pdf([stale, stale], lang=lang))
    pages = _pages(out, f"brief_out_of_date_{lang}")
    assert len(pages) == 2  # one page per brief, the box and all
    for page in pages:
        flat = _flat(page)
        assert _flat(head) in flat
        i = 1 if lang == "zh" else 0
        for w in STALE:  # every reason, whole (the first letter capitalised in English)
            text = w[i][:1].upper() + w[i][1:] if lang == "en" else w[i]
            assert _flat(text) in flat, text
        # the rest of the page as before: the figures and the parcels under the box
        assert tr("brief_parcels", lang).replace(" ", "") in flat and tr("brief_why", lang).replace(" ", "") in flat
        assert flat.index(_flat(head)) < flat.index(tr("brief_map", lang).replace(" ", ""))  # under the title
    assert over == []

    out = tmp_path / "settings.pdf"
    out.write_bytes(P.site_briefs_pdf([dataclasses.replace(b, warnings=SETTINGS, out_of_date=False)], lang=lang))
    (text,) = _pages(out, f"brief_settings_{lang}")
    flat = _flat(text)
    assert _flat(note) in flat and _flat(head) not in flat and ("gap_m为5（已保存：7.5）" if lang == "zh" else "gap_m5(saved:7.5)") in flat

    # more reasons than the box holds: cut with "…", the page still one
    out = tmp_path / "many.pdf"
    out.write_bytes(P.site_briefs_pdf([dataclasses.replace(b, warnings=STALE * 4, out_of_date=True)], lang=lang))
    (text,) = _pages(out, f"brief_many_reasons_{lang}")
    assert "…" in text and _flat(head) in _flat(text)
    assert over == []
