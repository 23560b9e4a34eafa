"""A GIS officer's own survey in headless Chromium (1280 x 800 and 390 x 844, Chinese and English), offline.

The mistakes: the .shp picked alone (the browser used to refuse it with an English tooltip only), a layer with no
.prj (the app used to assume CGCS2000 for GCJ-02 data without a word), the page left mid-upload and come back to
(the upload used to vanish). The layer is the real Quanzhou county layer of ``../shared/data`` with a parcel id
(tests/test_app_upload_officer.py). Screenshots: tests/artifacts/upload_*.png.
"""

from __future__ import annotations

import re
import time

import pytest

from planner.io.store import GpkgStore
from tests.e2e import _grid
from tests.e2e.conftest import ARTIFACTS, block_external
from tests.e2e.test_app_browser import _settle
from tests.test_app_upload_officer import QUANZHOU, need_quanzhou, quanzhou_zip

pytestmark = pytest.mark.e2e


def _page(browser, external, width: int, height: int):
    ctx = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    block_external(ctx, external)
    pg = ctx.new_page()
    pg.set_default_timeout(60_000)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ctx, pg


def _open_data(page, url: str, lang: str) -> None:
    page.goto(f"{url}/data")
    page.wait_for_selector("input[type='file']", state="attached", timeout=120_000)
    _settle(page)
    sidebar_open = page.locator("[data-testid='stSidebarCollapseButton'] button[aria-expanded='true']")
    if lang == "en":
        english = page.locator("[data-testid='stSidebar']").get_by_text("English").first
        if not english.is_visible() or page.viewport_size["width"] < 600:  # a phone starts with the sidebar closed
            page.locator("[data-testid='stExpandSidebarButton']").first.click()
            english.wait_for(state="visible")
        english.click()
        page.locator("h1", has_text="Data manager").first.wait_for()
        _settle(page)
    if page.viewport_size["width"] < 600 and sidebar_open.count():  # a phone: the sidebar covers the page
        page.locator("[data-testid='stSidebarCollapseButton'] button").first.click(force=True)
        _settle(page)


def _pick(page, label: str, option: str) -> None:
    """Choose ``option`` in the select box ``label`` (opened again if a rerun closed it)."""
    for _ in range(3):
        _settle(page)
        page.get_by_label(label, exact=True).first.click()
        try:
            page.get_by_role("option", name=option).click(timeout=10_000)
            break
        except Exception:  # a rerun closed the list: open it again
            page.keyboard.press("Escape")
    _settle(page)


def _upload(page, path) -> None:
    page.locator("input[type='file']").first.set_input_files(str(path))
    _settle(page)


@pytest.mark.parametrize(("lang", "size"), [("zh", (1280, 800)), ("en", (390, 844))])
def test_the_officers_mistakes_are_answered_in_the_page_language(app_server, browser, tmp_path, lang, size):
    need_quanzhou()
    url, ws = app_server
    before = GpkgStore(ws).surveys()["version"].tolist()
    external: list[str] = []
    ctx, page = _page(browser, external, *size)
    try:
        _open_data(page, url, lang)
        # 1. the .shp alone: taken by the uploader, answered with the files to zip
        shp = tmp_path / "泉州市.shp"
        shp.write_bytes(QUANZHOU.read_bytes())
        _upload(page, shp)
        words = "只是 Shapefile 的一个文件" if lang == "zh" else "is only one file of a shapefile"
        alert = page.locator("[data-testid='stAlert']", has_text=words).first
        alert.wait_for()
        assert "泉州市.dbf" in alert.inner_text() and ".zip" in alert.inner_text()
        assert "泉州市.shp" in page.locator("[data-testid='stFileUploader']").first.inner_text()
        alert.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / f"upload_{lang}_{size[0]}_shp_alone.png"))
        # 2. the set zipped in a folder, no .prj: no CRS assumed, the page says what to choose
        z = tmp_path / "泉州调查2025.zip"
        z.write_bytes(quanzhou_zip(tmp_path))
        _upload(page, z)
        no_crs = "没有坐标系" if lang == "zh" else "has no CRS"
        warn = page.locator("[data-testid='stAlert']", has_text=no_crs).first
        warn.wait_for()
        assert "泉州调查2025.zip" in warn.inner_text() and "gcj02" in warn.inner_text()
        assert page.locator("[data-testid='stAlert']", has_text=words).count() == 0  # the old message went
        warn.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / f"upload_{lang}_{size[0]}_no_crs.png"))
        validate = "校验报告" if lang == "zh" else "Validation report"
        page.get_by_role("button", name=validate).click()
        _settle(page)
        refused = page.locator("[data-testid='stAlert']", has_text=re.compile("无法发布|Cannot publish")).first
        refused.wait_for()
        assert no_crs in refused.inner_text()
        # 3. the CRS chosen: validated; the page left and come back to: the file is still there
        crs_label = "坐标系（无法自动识别时选择）" if lang == "zh" else "CRS (when it cannot be detected)"
        _pick(page, crs_label, "gcj02")
        assert page.locator("[data-testid='stAlert']", has_text=no_crs).count() == 0
        page.get_by_role("button", name=validate).click()
        _settle(page)
        # read in GCJ-02 now; the counties lie far from this workspace's survey, which the check says instead
        page.locator("[data-testid='stAlert']", has_text=re.compile("8 个宗地均不在|none of the 8 parcels")).first.wait_for(
            timeout=120_000)
        assert page.locator("[data-testid='stAlert']", has_text=no_crs).count() == 0
        if size[0] < 600:
            page.locator("[data-testid='stExpandSidebarButton'], [data-testid='stSidebarCollapsedControl'] button"
                         ).first.click()
            _settle(page)
        page.locator("[data-testid='stSidebarNav'] a", has_text="地图浏览" if lang == "zh" else "Map").first.click()
        _settle(page)
        time.sleep(1)
        page.locator("[data-testid='stSidebarNav'] a", has_text="数据管理" if lang == "zh" else "Data manager"
                     ).first.click()
        page.locator("h1", has_text="数据管理" if lang == "zh" else "Data manager").first.wait_for()
        _settle(page)
        if size[0] < 600 and page.locator("[data-testid='stSidebarCollapseButton'] button[aria-expanded='true']"
                                          ).count():
            page.locator("[data-testid='stSidebarCollapseButton'] button").first.click(force=True)
            _settle(page)
        kept = page.locator("[data-testid='stAlert']",
                            has_text="继续处理" if lang == "zh" else "Carrying on with").first
        kept.wait_for()
        assert "泉州调查2025.zip" in kept.inner_text()
        kept.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / f"upload_{lang}_{size[0]}_kept.png"))
        page.get_by_role("button", name="放弃此文件" if lang == "zh" else "Discard this file").click()
        _settle(page)
        assert page.locator("[data-testid='stAlert']", has_text="继续处理|Carrying on").count() == 0
        assert GpkgStore(ws).surveys()["version"].tolist() == before  # nothing stored changed
        assert external == []
    finally:
        ctx.close()


def test_a_unit_set_in_the_field_mapping_is_the_one_read(app_server, browser, tmp_path):
    """The officer's CZ (output) is in 元, not the 万元 its name implies: they set it in the Unit column and the
    validation report says CZ was read in 元 (before: no unit anywhere in the app, every output x 10,000)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    from tests.e2e.conftest import ROOT

    url, ws = app_server
    before = GpkgStore(ws).surveys()["version"].tolist()
    external: list[str] = []
    ctx, page = _page(browser, external, 1280, 1400)
    try:
        _open_data(page, url, "zh")
        _upload(page, ROOT / "gis_data" / "survey_update.zip")
        units = page.locator("[data-testid='stCaptionContainer']", has_text="读取单位").first
        grid = page.locator("[data-testid='stDataFrame']").first
        for _attempt in range(5):  # the grid is a canvas; its accessible table says which row is which, which cell
            grid.wait_for()  # is selected and what it reads: each step is checked, tried again if a rerun got in
            _settle(page)
            _grid.to_top(page, grid)  # a click may have scrolled it
            row = _grid.row_with(grid, 0, "output_cny")
            unit_cell = _grid.cell(grid, 3, row)
            box = grid.bounding_box()
            page.mouse.click(box["x"] + box["width"] - 60, box["y"] + 35 * 1.5)  # the first row's Unit cell
            page.wait_for_timeout(300)
            for _ in range(row):  # then down to output_cny by keyboard, as glide scrolls (no pixel arithmetic)
                page.keyboard.press("ArrowDown")
            page.wait_for_timeout(300)
            if unit_cell.get_attribute("aria-selected") != "true":
                page.keyboard.press("Escape")
                continue
            page.keyboard.press("Enter")  # open its editor (a double click alone was lost under load)
            try:
                page.get_by_role("option", name="元", exact=True).wait_for(timeout=20_000)
            except PlaywrightTimeout:  # a rerun swallowed the key: the editor never opened
                page.keyboard.press("Escape")
                continue
            page.keyboard.type("元")  # filter the list to 元 万元 亿元 and take the first (a click on a moving menu
            page.wait_for_timeout(300)  # was lost)
            page.keyboard.press("Enter")
            _settle(page)
            if unit_cell.inner_text() == "元":
                break
            page.keyboard.press("Escape")
        else:
            pytest.fail("the Unit cell of output_cny could not be set to 元 in five tries")
        page.get_by_text("整体替换").first.click()  # this workspace is elsewhere: check it as a replacement
        _settle(page)
        page.get_by_role("button", name="校验报告").click()
        _settle(page)
        units.wait_for(timeout=120_000)
        assert unit_cell.inner_text() == "元"  # the edit outlived the reruns of the radio and the button
        assert "← CZ: 元" in units.inner_text() and "← NSE: 万元" in units.inner_text(), units.inner_text()
        units.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "upload_zh_1280_units.png"))
        page.get_by_role("button", name="取消").click()
        _settle(page)
        assert GpkgStore(ws).surveys()["version"].tolist() == before
        assert external == []
    finally:
        ctx.close()


@pytest.mark.parametrize(("lang", "size"), [("zh", (1280, 900)), ("en", (390, 844))])
def test_a_zip_of_several_layers_is_picked_from_and_its_notes_read(app_server, browser, tmp_path, lang, size):
    """A zip of wells, roads and parcels: the page lists its layers (geometry, rows; the polygon layer first and
    picked) where it used to refuse the zip; the validation report says what the reading did, in the page's
    language (the notes were English and CLI-only). Then an enterprise table left on the way is kept."""
    from tests.e2e.conftest import ROOT
    from tests.test_app_upload_officer import several_layers_zip

    url, ws = app_server
    before = GpkgStore(ws).surveys()["version"].tolist()
    ent_before = len(GpkgStore(ws).layers("enterprise"))
    external: list[str] = []
    ctx, page = _page(browser, external, *size)
    zh = lang == "zh"
    try:
        _open_data(page, url, lang)
        z = tmp_path / "三层图层.zip"
        z.write_bytes(several_layers_zip(tmp_path))
        _upload(page, z)
        label = "选择宗地图层（文件中有 3 个图层）" if zh else "Parcel layer (the file holds 3 layers)"
        picker = page.get_by_label(label, exact=True).first
        picker.wait_for()
        assert page.locator("[data-testid='stAlert']", has_text=re.compile("多个数据集|several datasets")).count() == 0
        shown = "宗地 — 面 · 495 条" if zh else "宗地 — Polygon · 495 rows"
        box = page.locator("[data-testid='stSelectbox']", has_text=label).first
        page.screenshot(path=str(ARTIFACTS / f"upload_{lang}_{size[0]}_layer_picked.png"))
        assert shown in box.inner_text() + picker.evaluate("e => e.value || e.getAttribute('aria-label') || ''") \
            + box.evaluate("e => e.textContent"), box.evaluate("e => e.innerHTML")
        picker.click()
        options = page.get_by_role("option")
        options.first.wait_for()
        texts = [options.nth(i).inner_text() for i in range(options.count())]
        assert texts[0] == shown and len(texts) == 3, texts
        page.screenshot(path=str(ARTIFACTS / f"upload_{lang}_{size[0]}_layers.png"))
        page.keyboard.press("Escape")
        _settle(page)
        page.get_by_text("整体替换" if zh else "Replace", exact=True).first.click()  # this workspace is elsewhere
        _settle(page)
        page.get_by_role("button", name="校验报告" if zh else "Validation report").click()
        _settle(page)
        notes = page.locator("[data-testid='stExpander']", has_text="读取说明" if zh else "Notes on the reading").first
        notes.wait_for(timeout=120_000)
        text = notes.inner_text()
        if zh:
            assert "在宗地数据旁找到更新范围" in text and "按百分比读取" in text and "read as" not in text, text
        else:
            assert "found beside the parcels" in text and "read as percent" in text, text
        notes.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / f"upload_{lang}_{size[0]}_notes.png"))
        page.get_by_role("button", name="取消" if zh else "Cancel").first.click()
        _settle(page)
        # the enterprise table on the way, the page left and come back to
        page.get_by_role("tab", name="企业数据" if zh else "Enterprises").click()
        _settle(page)
        page.locator("input[type='file']").nth(1).set_input_files(str(ROOT / "gis_data" / "enterprises_2024.xlsx"))
        _settle(page)
        page.get_by_role("button", name="校验" if zh else "Check", exact=True).wait_for()
        if size[0] < 600:
            page.locator("[data-testid='stExpandSidebarButton'], [data-testid='stSidebarCollapsedControl'] button"
                         ).first.click()
            _settle(page)
        page.locator("[data-testid='stSidebarNav'] a", has_text="地图浏览" if zh else "Map").first.click()
        _settle(page)
        time.sleep(1)
        page.locator("[data-testid='stSidebarNav'] a", has_text="数据管理" if zh else "Data manager").first.click()
        page.locator("h1", has_text="数据管理" if zh else "Data manager").first.wait_for()
        _settle(page)
        if size[0] < 600 and page.locator("[data-testid='stSidebarCollapseButton'] button[aria-expanded='true']"
                                          ).count():
            page.locator("[data-testid='stSidebarCollapseButton'] button").first.click(force=True)
            _settle(page)
        page.get_by_role("tab", name="企业数据" if zh else "Enterprises").click()
        _settle(page)
        kept = page.locator("[data-testid='stAlert']", has_text="企业表" if zh else "the enterprise table").first
        kept.wait_for()
        assert "enterprises_2024.xlsx" in kept.inner_text()
        kept.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / f"upload_{lang}_{size[0]}_enterprise_kept.png"))
        page.get_by_role("button", name="放弃此文件" if zh else "Discard this file").click()
        _settle(page)
        assert page.locator("[data-testid='stAlert']", has_text="enterprises_2024.xlsx").count() == 0
        assert GpkgStore(ws).surveys()["version"].tolist() == before  # nothing stored changed
        assert len(GpkgStore(ws).layers("enterprise")) == ent_before
        assert external == []
    finally:
        ctx.close()


def test_a_zip_of_two_geopackages_lists_each_layer_and_keeps_the_pick(app_server, browser, tmp_path):
    """A zip of two districts' GeoPackages (parcels, wells, roads each): the picker listed the two files only, with
    "?" rows; now each layer with its file, geometry and rows, the parcel layers first. The layer picked is still
    picked after a look at the map. Screenshots: upload_zh_1280_two_gpkg_layers.png, ..._two_gpkg_kept.png."""
    from tests.e2e.conftest import ROOT
    from tests.test_app_upload_officer import two_geopackages_zip

    url, ws = app_server
    before = GpkgStore(ws).surveys()["version"].tolist()
    external: list[str] = []
    ctx, page = _page(browser, external, 1280, 900)
    try:
        _open_data(page, url, "zh")
        _upload(page, two_geopackages_zip(tmp_path, ROOT / "gis_data" / "sample_city.gpkg"))
        label = "选择宗地图层（文件中有 6 个图层）"
        picker = page.get_by_label(label, exact=True).first
        picker.wait_for()
        picker.click()
        options = page.get_by_role("option")
        options.first.wait_for()
        texts = [options.nth(i).inner_text() for i in range(options.count())]
        assert texts[:2] == ["宗地（2025/晋江.gpkg）— 面（多部件） · 30 条", "宗地（2025/石狮.gpkg）— 面（多部件） · 30 条"], texts
        assert len(texts) == 6 and "井点（2025/晋江.gpkg）— 点 · 5 条" in texts, texts
        page.screenshot(path=str(ARTIFACTS / "upload_zh_1280_two_gpkg_layers.png"))
        page.keyboard.press("Escape")
        _settle(page)
        _pick(page, label, "宗地（2025/石狮.gpkg）— 面（多部件） · 30 条")
        page.locator("[data-testid='stSidebarNav'] a", has_text="地图浏览").first.click()
        _settle(page)
        time.sleep(1)
        page.locator("[data-testid='stSidebarNav'] a", has_text="数据管理").first.click()
        page.locator("h1", has_text="数据管理").first.wait_for()
        _settle(page)
        box = page.locator("[data-testid='stSelectbox']", has_text=label).first
        box.wait_for()
        box.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "upload_zh_1280_two_gpkg_kept.png"))
        assert page.get_by_label(label, exact=True).first.input_value() == "宗地（2025/石狮.gpkg）— 面（多部件） · 30 条"
        assert not external, external
    finally:
        ctx.close()
    assert GpkgStore(ws).surveys()["version"].tolist() == before
