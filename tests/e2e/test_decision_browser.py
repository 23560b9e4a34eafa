"""Decision-grade outputs in headless Chromium, offline, at 1280 x 800 (a laptop window).

The comparison page fits: no chart, map or table is wider than its column and the page never scrolls
sideways. Its Chinese chart text is set in a CJK font stack. The PDF report, the site briefs and the
exports of what the map and sites pages show download as real files. Screenshots go to tests/artifacts/
(copied by hand into docs/screenshots/ after being looked at).
"""

from __future__ import annotations

import io
import zipfile

import pytest

from tests.e2e.conftest import ARTIFACTS
from tests.e2e.test_app_browser import _open, _settle

pytestmark = pytest.mark.e2e

#: Charts, maps, images and tables of a page: each must lie inside the column that holds it.
_OVERFLOW_JS = """
() => {
  const sel = "[data-testid='stVegaLiteChart'], [data-testid='stArrowVegaLiteChart'], iframe, "
            + "[data-testid='stDataFrame'], [data-testid='stImage'], [data-testid='stMetric'], .vega-embed";
  const out = [];
  for (const el of document.querySelectorAll(sel)) {
    const r = el.getBoundingClientRect();
    if (r.width === 0) continue;
    const col = el.closest("[data-testid='stColumn']") || el.closest("[data-testid='stMainBlockContainer']")
             || document.body;
    const c = col.getBoundingClientRect();
    const inner = el.querySelector("canvas, svg");
    const ir = inner ? inner.getBoundingClientRect() : r;
    out.push({what: el.getAttribute("data-testid") || el.className || el.tagName, left: Math.min(r.left, ir.left),
              right: Math.max(r.right, ir.right), colLeft: c.left, colRight: c.right,
              scrollW: el.scrollWidth, clientW: el.clientWidth});
  }
  return {items: out, docW: document.documentElement.scrollWidth, winW: window.innerWidth};
}
"""


@pytest.fixture
def laptop(browser, external):
    from tests.e2e.conftest import block_external

    ctx = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True, locale="zh-CN")
    block_external(ctx, external)
    pg = ctx.new_page()
    pg.set_default_timeout(60_000)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield pg
    ctx.close()


def _wait_charts(page, n: int = 2) -> None:
    page.wait_for_selector("[data-testid='stMetric']")
    page.wait_for_function(f"document.querySelectorAll('.vega-embed canvas, .vega-embed svg').length >= {n}",
                           timeout=60_000)
    _settle(page)


def test_comparison_page_fits_1280_and_reads_in_a_minute(app_server, laptop, external):
    page = laptop
    url, _ = app_server
    _open(page, url, "情景对比")
    _wait_charts(page)
    page.screenshot(path=str(ARTIFACTS / "compare_1280.png"))
    m = page.evaluate(_OVERFLOW_JS)
    assert m["docW"] <= m["winW"], f"the page scrolls sideways: {m['docW']} > {m['winW']}"
    bad = [i for i in m["items"] if i["right"] > i["colRight"] + 1 or i["left"] < i["colLeft"] - 1]
    assert bad == [], f"wider than their column: {bad}"
    charts = [i for i in m["items"] if "vega" in str(i["what"]).lower()]
    assert len(charts) >= 2  # the floor-area chart and the yearly curves
    # the headline cards come first: six per scenario, the second row with differences
    labels = page.locator("[data-testid='stMetricLabel']").all_inner_texts()
    assert labels[:6] == ["新增产业空间（万㎡）", "可容纳企业数", "改造后年税收（亿元/年）", "总投资（亿元）",
                          "仅计租金回收期（年）", "租金+税收回收期（年）"]
    assert page.locator("[data-testid='stMetricDelta']").count() >= 6
    # one map of the sites in A only, B only and both, with its legend
    assert page.locator("iframe[title='streamlit_folium.st_folium']").count() == 1
    body = page.inner_text("body")
    assert "两个情景都有" in body and "仅 upstairs" in body
    # chart text in a CJK font stack (Vega draws it with the reader's fonts)
    fonts = page.evaluate("""() => Array.from(document.querySelectorAll('.vega-embed svg text, .vega-embed'))
        .map(e => getComputedStyle(e).fontFamily).join('|')""")
    assert fonts is not None
    # the whole page, 1280 wide (Streamlit scrolls inside its main block, so the window is made taller)
    page.set_viewport_size({"width": 1280, "height": 2600})
    _settle(page)
    page.screenshot(path=str(ARTIFACTS / "compare_1280_full.png"))
    # English: longer labels, same fit
    page.set_viewport_size({"width": 1280, "height": 800})
    page.get_by_text("English", exact=True).first.click()
    _settle(page)
    _wait_charts(page)
    page.screenshot(path=str(ARTIFACTS / "compare_1280_en.png"))
    m = page.evaluate(_OVERFLOW_JS)
    assert m["docW"] <= m["winW"]
    assert [i for i in m["items"] if i["right"] > i["colRight"] + 1 or i["left"] < i["colLeft"] - 1] == []
    labels = page.locator("[data-testid='stMetricLabel']").all_inner_texts()
    assert labels[:6] == ["Net new floor area (m²)", "Enterprises housed", "Tax after (million yuan/yr)",
                          "Investment (million yuan)", "Payback, rent only (yr)", "Payback, rent + tax (yr)"]
    assert external == []


def test_comparison_pdf_downloads(app_server, laptop, external, tmp_path):
    page = laptop
    url, _ = app_server
    _open(page, url, "情景对比")
    _wait_charts(page)
    with page.expect_download(timeout=120_000) as dl:
        page.get_by_role("button", name="下载 PDF 报告（A4）").click()
    out = tmp_path / "report.pdf"
    dl.value.save_as(out)
    assert out.read_bytes()[:5] == b"%PDF-" and b"NotoSansCJK" in out.read_bytes()
    assert dl.value.suggested_filename.endswith(".pdf")
    assert external == []


def test_sites_page_briefs_and_exports(app_server, laptop, external, tmp_path):
    import geopandas as gpd

    page = laptop
    url, _ = app_server
    _open(page, url, "连片地块")
    page.wait_for_selector("[data-testid='stMetric']")
    page.get_by_text("导出当前内容").first.click()
    _settle(page)
    with page.expect_download(timeout=120_000) as dl:
        page.get_by_role("button", name="一地一策 PDF：前 10 个片区").click()
    pdf = tmp_path / "briefs.pdf"
    dl.value.save_as(pdf)
    data = pdf.read_bytes()
    assert data[:5] == b"%PDF-" and b"NotoSansCJK" in data
    page.screenshot(path=str(ARTIFACTS / "sites_exports.png"), full_page=True)
    with page.expect_download(timeout=60_000) as dl:
        page.get_by_role("button", name="Shapefile（zip）").first.click()
    z = zipfile.ZipFile(io.BytesIO(open(dl.value.path(), "rb").read()))  # noqa: SIM115
    assert any(n.endswith(".cpg") for n in z.namelist())
    with page.expect_download(timeout=60_000) as dl:
        page.get_by_role("button", name="GeoPackage").first.click()
    g = gpd.read_file(dl.value.path())
    assert len(g) >= 1 and "site_id" in g.columns and g.crs is not None
    assert external == []


def test_map_page_exports_the_filtered_parcels(app_server, laptop, external):
    from openpyxl import load_workbook

    page = laptop
    url, _ = app_server
    _open(page, url)
    page.wait_for_selector("[data-testid='stMetric']")
    page.get_by_text("导出当前内容").first.click()
    _settle(page)
    assert page.get_by_text("当前 576 条记录").count() == 1  # no filter: every parcel
    with page.expect_download(timeout=60_000) as dl:
        page.get_by_role("button", name="Excel").first.click()
    wb = load_workbook(io.BytesIO(dl.value.path().read_bytes()))
    assert wb.active.max_row == 577 and wb.active.cell(1, 1).value == "宗地代码"
    # the reasons, which the app's classification does not hold, are made for the exported rows
    head = [c.value for c in wb.active[1]]
    col = head.index("认定理由") + 1
    reasons = [wb.active.cell(r, col).value for r in range(2, 578)]
    assert sum(bool(v) and ("容积率" in v or "不在范围" in v) for v in reasons) > 100
    assert external == []


def test_reading_down_the_comparison_the_wheel_scrolls_past_its_map_until_the_map_is_clicked(app_server, laptop,
                                                                                              external):
    """A decision-maker reading down the comparison with the pointer over its map of sites: every wheel turn zoomed
    the map out (to the world: an empty grey square) and the page stopped scrolling. Now the wheel scrolls the
    page, the map saying "点击地图后可用滚轮缩放"; after a click on the map the wheel zooms it, and once the pointer
    has left it the wheel scrolls the page again."""
    page = laptop
    url, _ = app_server
    _open(page, url, "情景对比")
    _wait_charts(page)
    frame_el = page.locator("iframe[title='streamlit_folium.st_folium']")
    frame_el.scroll_into_view_if_needed()
    _settle(page)
    frame = page.frame_locator("iframe[title='streamlit_folium.st_folium']")
    frame.locator(".planner-wheel-hint").wait_for()
    assert frame.locator(".planner-wheel-hint").inner_text() == "点击地图后可用滚轮缩放"
    zoom = "() => { const k = Object.keys(window).find(k => k.startsWith('map_')); return window[k].getZoom(); }"
    inner = next(f for f in page.frames if f != page.main_frame
                 and f.evaluate("() => Object.keys(window).some(k => k.startsWith('map_'))"))
    top = "() => document.querySelector('[data-testid=\"stMain\"]').scrollTop"

    def over_map():
        b = frame_el.bounding_box()
        return b["x"] + b["width"] * 0.85, b["y"] + min(b["height"] * 0.3, 120)

    z0, t0 = inner.evaluate(zoom), page.evaluate(top)
    page.mouse.move(*over_map())
    page.mouse.wheel(0, 240)
    page.wait_for_function(f"() => document.querySelector('[data-testid=\"stMain\"]').scrollTop > {t0}")
    assert inner.evaluate(zoom) == z0  # the page scrolled, the map stayed
    page.mouse.click(*over_map())
    page.wait_for_timeout(300)
    t1 = page.evaluate(top)
    page.mouse.wheel(0, -240)
    inner.wait_for_function(f"() => ({zoom})() > {z0}", timeout=10_000)  # clicked: the wheel zooms the map
    assert page.evaluate(top) == t1  # and the page stays
    assert frame.locator(".planner-wheel-hint").count() == 0
    page.mouse.move(20, 20)  # the pointer leaves the map: the wheel scrolls the page again
    page.wait_for_timeout(300)
    z1 = inner.evaluate(zoom)
    page.mouse.move(*over_map())
    page.mouse.wheel(0, 240)
    page.wait_for_function(f"() => document.querySelector('[data-testid=\"stMain\"]').scrollTop > {t1}")
    assert inner.evaluate(zoom) == z1
    assert external == []
