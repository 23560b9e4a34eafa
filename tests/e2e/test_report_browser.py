"""The standalone HTML reports open in headless Chromium offline and show charts and the map."""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from planner.report import write_html
from planner.scenarios import run, scenario_from_dict
from planner.scenarios.comparison import compare

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def sites() -> gpd.GeoDataFrame:
    # 4 x 3 grid of 150 m x 100 m sites (1.5 ha), 60 m apart
    ix, iy = np.meshgrid(np.arange(4), np.arange(3))
    ix, iy = ix.ravel(), iy.ravel()
    n = len(ix)
    x0, y0 = 500_000.0, 2_740_000.0
    geoms = shapely.box(x0 + ix * 210, y0 + iy * 160, x0 + ix * 210 + 150, y0 + iy * 160 + 100)
    return gpd.GeoDataFrame({"site_id": [f"S{i + 1:04d}" for i in range(n)], "status": "ok",
                             "rank": np.arange(1, n + 1), "land_area_m2": np.full(n, 15_000.0),
                             "floor_area_m2": np.linspace(3_000, 12_000, n), "tax_cny": np.full(n, 300_000.0)},
                            geometry=geoms, crs="EPSG:4549")


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"headless browser test needs Chromium at {CHROMIUM} (Debian package 'chromium')")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright python package not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


def _open(browser, path: Path, shot: str, width: int = 1280):
    page = browser.new_page(viewport={"width": width, "height": 800})
    blocked: list[str] = []

    def route(r):
        url = r.request.url
        if url.startswith(("file:", "data:")) or "//localhost" in url or "//127.0.0.1" in url:
            r.continue_()
        else:
            blocked.append(url)
            r.abort()

    page.route("**/*", route)
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / shot))  # what a window of `width` x 800 shows first
    page.screenshot(path=str(ARTIFACTS / shot.replace(".png", "_full.png")), full_page=True)
    return page, blocked


def _fits(page) -> None:
    """Nothing is wider than the page's main column, no chart than its figure (its border made it 2 px wider), and
    the page does not scroll sideways."""
    m = page.evaluate("""() => { const main = document.querySelector('main').getBoundingClientRect();
        return {doc: document.documentElement.scrollWidth, win: window.innerWidth,
                wide: Array.from(document.querySelectorAll('main img, main .cards'))
                    .map(e => e.getBoundingClientRect()).filter(r => r.right > main.right + 1).length,
                spill: Array.from(document.querySelectorAll('figure img'))
                    .filter(e => e.getBoundingClientRect().right > e.parentElement.getBoundingClientRect().right + 0.5)
                    .length}; }""")
    assert m["doc"] <= m["win"] and m["wide"] == 0 and m["spill"] == 0, m


def _loaded_images(page) -> list[dict]:
    return page.eval_on_selector_all(
        "figure img", "els => els.map(e => ({alt: e.alt, w: e.naturalWidth, h: e.naturalHeight, ok: e.complete}))")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_scenario_report_offline(browser, tmp_path, lang):
    sc = scenario_from_dict({"name": "phased", "label": "分期标准厂房", "sites_per_year": 4,
                             "policy_name": "default", "policy_hash": "0123456789abcdef"})
    r = run(sites(), sc)
    path = write_html(r, tmp_path / f"report_{lang}.html", lang=lang)
    page, blocked = _open(browser, path, f"report_{lang}.png")
    assert blocked == []
    imgs = _loaded_images(page)
    # the floor-area chart, two timeline charts and the map, all decoded
    assert len(imgs) == 4 and all(i["ok"] and i["w"] > 300 and i["h"] > 150 for i in imgs)
    _fits(page)
    body = page.inner_text("body")
    assert ("新增产业空间" if lang == "zh" else "Net new floor area") in body
    assert "S0012" in body and "0123456789ab" in body
    assert page.locator("script").count() == 0 and page.locator("link[rel=stylesheet]").count() == 0
    page.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_comparison_report_offline(browser, tmp_path, lang):
    s = sites()
    a = run(s, scenario_from_dict({"name": "top6", "sites": {"top": 6}, "policy_name": "default",
                                   "policy_hash": "0123456789abcdef"}))
    b = run(s, scenario_from_dict({"name": "upstairs", "template": "multi_storey", "sites_per_year": 3,
                                   "existing": "retain"}))
    path = write_html(compare([a, b]), tmp_path / f"compare_{lang}.html", lang=lang)
    page, blocked = _open(browser, path, f"compare_report_{lang}.png")
    assert blocked == []
    imgs = _loaded_images(page)
    # the floor-area chart, the one map of A only / B only / both, two yearly curves
    assert len(imgs) == 4 and all(i["ok"] and i["w"] > 300 for i in imgs)
    _fits(page)
    body = page.inner_text("body")
    assert "upstairs" in body
    cjk = re.compile(r"[\u4e00-\u9fff]")
    for i in imgs:  # every chart's own words (its alt text) are in the report's language
        words = [w for w in i["alt"].split(" · ") if re.search(r"[A-Za-z\u4e00-\u9fff]", w)
                 and not re.fullmatch(r"(top6|upstairs|S\d+|N|\d+ k?m)( \(\d+\))?", w)]
        if lang == "zh":
            assert words and all(cjk.search(w) for w in words), i["alt"]
        else:
            assert not any(cjk.search(w) for w in words), i["alt"]
    if lang == "zh":
        assert "两个情景都有" in imgs[1]["alt"] and "仅 upstairs" in imgs[1]["alt"]
        assert "新增产业空间" in body and "仅计租金回收期" in body and "租金+税收回收期" in body
        _prints_on_a4(page, tmp_path, "compare_report_zh_print")
    page.close()


def _prints_on_a4(page, tmp_path: Path, stem: str) -> None:
    """Print the page as the browser does (A4, the report's print styles) and render the pages to PNG."""
    pdfium = pytest.importorskip("pypdfium2", reason="pypdfium2 renders the printed pages (test extra)")
    pdf = tmp_path / f"{stem}.pdf"
    page.emulate_media(media="print")
    page.pdf(path=str(pdf), prefer_css_page_size=True, print_background=True)
    doc = pdfium.PdfDocument(str(pdf))
    assert 2 <= len(doc) <= 8
    for i in range(len(doc)):
        w, h = doc[i].get_size()
        assert (round(w), round(h)) == (595, 842)  # A4 in points
        img = doc[i].render(scale=1.2).to_pil()
        img.save(ARTIFACTS / f"{stem}_{i + 1}.png")
        box = img.convert("L").point(lambda v: 255 if v < 250 else 0).getbbox()
        assert box is not None and box[2] <= img.width - 20  # nothing runs into the right margin


LONG = "a_very_long_scenario_name_for_the_eastern_riverside_industrial_belt_phase_two_with_multi_storey_factories_v3"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_reports_read_on_a_phone(browser, tmp_path, lang):
    """At 390 px the two-column grid kept two columns (charts 160 px wide, text 3 px high), the list of site ids
    shrank to a character a line, and a long scenario name made the page scroll sideways by 502 px."""
    s = sites()
    long = run(s, scenario_from_dict({"name": LONG, "label": "晋江东部沿江工业带二期工业上楼与标准厂房混合改造方案（第三版）",
                                      "sites_per_year": 4}))
    zh = run(s, scenario_from_dict({"name": "东部片区方案标准厂房与工业上楼混合改造第三版", "sites": {"top": 5}}))
    paths = [write_html(long, tmp_path / f"long_{lang}.html", lang=lang),
             write_html(compare([zh, long]), tmp_path / f"compare_long_{lang}.html", lang=lang)]
    for path in paths:
        page, blocked = _open(browser, path, f"phone_{path.stem}.png", width=390)
        assert blocked == []
        imgs = page.eval_on_selector_all("figure img", "els => els.map(e => e.getBoundingClientRect().width)")
        assert len(imgs) == 4 and min(imgs) >= 300, imgs  # one chart a row, readable
        _fits(page)
        lists = page.eval_on_selector_all("td.list", "els => els.map(e => e.getBoundingClientRect().width)")
        lines = page.eval_on_selector_all("td.id", """els => els.map(e => {
            const r = document.createRange(); r.selectNodeContents(e);
            return new Set(Array.from(r.getClientRects()).map(b => Math.round(b.top))).size; })""")
        assert min(lists, default=999) >= 150 and set(lines) <= {1}, (lists, lines)  # a site id on one line
        page.close()
