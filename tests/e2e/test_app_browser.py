"""The app in headless Chromium, offline: map, click, site zoom, survey upload, report download.

Run with ``pytest tests/e2e``. Every request to a host other than localhost
is blocked and counted (``external``); each test ends with zero of them.
Screenshots of every page go to tests/artifacts/.
"""

from __future__ import annotations

import re
import time

import pytest

from tests.e2e import _grid
from tests.e2e.conftest import ARTIFACTS

pytestmark = pytest.mark.e2e
MAP_FRAME = "iframe[title='streamlit_folium.st_folium']"


def _open(page, url: str, nav_label: str | None = None):
    page.goto(url)
    page.wait_for_selector("[data-testid='stSidebarNav']")
    _settle(page)
    if nav_label:
        page.locator("[data-testid='stSidebarNav'] a", has_text=nav_label).first.click()
        # every page is titled as its link (a page left blank by a late map report: tests/e2e/test_untiled_map.py)
        page.locator("h1", has_text=nav_label).first.wait_for(timeout=30_000)
    _settle(page)


def _settle(page, timeout: float = 60.0):
    """Wait until the script has finished running (no 'running' status widget)."""
    time.sleep(0.8)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if page.locator("[data-testid='stStatusWidget']").count() == 0:
            break
        time.sleep(0.3)
    time.sleep(0.5)


def _map_paths(page, min_count: int = 1, timeout: float = 30.0) -> int:
    frame = page.frame_locator(MAP_FRAME).first
    deadline = time.time() + timeout
    n = 0
    while time.time() < deadline:
        n = frame.locator("path.leaflet-interactive").count()
        if n >= min_count:
            return n
        time.sleep(0.5)
    return n


def _click_feature(page, nth: int) -> None:
    """A real mouse click in the middle of the nth interactive SVG path of the map."""
    target = page.get_by_text(re.compile(r"地块 r\d+c\d+")).first
    for _ in range(4):  # the first click into the iframe may only focus it
        bb = page.frame_locator(MAP_FRAME).first.locator("path.leaflet-interactive").nth(nth).bounding_box()
        page.mouse.click(bb["x"] + bb["width"] / 2, bb["y"] + bb["height"] / 2)
        try:
            target.wait_for(timeout=6_000)
            return
        except Exception:  # playwright TimeoutError: click again
            continue
    target.wait_for(timeout=10_000)


def _map_frame(page):
    """The map's frame (the first streamlit-folium component)."""
    return next(f for f in page.frames if "st_folium" in (f.url or ""))


def _tiles_idle(page, timeout: float = 30.0) -> None:
    """Wait until no tiled layer of the map is loading (its signature says so) and nothing changed for 0.5 s."""
    deadline, last, since = time.time() + timeout, None, time.time()
    while time.time() < deadline:
        sig = _map_frame(page).evaluate("window.__plannerSig || ''")
        if sig != last:
            last, since = sig, time.time()
        elif sig and ":loading:" not in sig and time.time() - since >= 0.5:
            return
        time.sleep(0.1)


def _leaflet_zoom(page) -> float:
    for f in page.frames:
        if "st_folium" in (f.url or "") or "streamlit_folium" in (f.url or ""):
            try:
                return float(f.evaluate("window.map ? window.map.getZoom() : NaN"))
            except Exception:  # the frame is being replaced
                continue
    return float("nan")


def test_map_shows_parcels_and_click_shows_reasons(app_server, page, external):
    url, _ = app_server
    _open(page, url)
    n = _map_paths(page, min_count=500)  # the tiles arrive one by one: wait for all of the grid's
    assert n >= 500, f"expected the 576 parcels of the test grid as SVG paths, got {n}"
    page.screenshot(path=str(ARTIFACTS / "01_map_explorer.png"))
    # click one parcel in the middle of the map: the detail panel names it and lists the reasons
    time.sleep(2.0)  # the last tiles drawn, the page idle
    _settle(page)
    _click_feature(page, 300)
    heading = page.locator("[data-testid='stHeadingWithActionElements']", has_text=re.compile(r"地块 r\d+c\d+"))
    page.screenshot(path=str(ARTIFACTS / "02_map_parcel_clicked.png"))
    assert heading.count() == 1
    page.screenshot(path=str(ARTIFACTS / "02_map_parcel_clicked.png"))
    assert external == []


def test_a_click_on_a_parcel_is_sent_at_once_and_once(app_server, page, external):
    """streamlit-folium sends a click to the server 250 ms after it (its debounce for pans and zooms); a click on a
    feature of the tiled layers is sent at once, and the component's delayed send then has nothing new (one page
    run per click). Checked without timing: with the map's long timers held back the click still arrives."""
    url, _ = app_server
    _open(page, url)
    _map_paths(page, min_count=500)
    time.sleep(2.0)  # the last tiles drawn, the page idle
    _settle(page)
    page.evaluate("""() => { window.__sent = []; window.addEventListener('message', (e) => {
        if (e.data && e.data.type === 'streamlit:setComponentValue') window.__sent.push(e.data.value);
    }); }""")
    frame = _map_frame(page)
    # the component's delayed send never fires while its timers of 200 ms and more are held back
    frame.evaluate("""() => { window.__realTimeout = window.setTimeout;
        window.setTimeout = function (fn, ms, ...a) { return (ms || 0) >= 200 ? 0 : window.__realTimeout(fn, ms, ...a); }; }""")
    paths = page.frame_locator(MAP_FRAME).first.locator("path.leaflet-interactive")
    bb = paths.nth(300).bounding_box()
    page.mouse.click(bb["x"] + bb["width"] / 2, bb["y"] + bb["height"] / 2)
    deadline = time.time() + 10
    while time.time() < deadline and not page.evaluate("window.__sent.length"):
        time.sleep(0.1)
    sent = page.evaluate("window.__sent")
    assert len(sent) == 1, "the click was not sent without the component's delayed send"
    pid = sent[0]["last_active_drawing"]["properties"]["parcel_id"]
    assert re.fullmatch(r"r\d+c\d+", pid)
    assert set(sent[0]) == {"last_active_drawing", "last_object_clicked"}  # what the tiled map returns, as the component
    page.get_by_text(f"地块 {pid}").first.wait_for(timeout=20_000)
    _settle(page)
    # with its timers back, the component's own send after a click finds nothing new: one value per click
    frame = _map_frame(page)
    frame.evaluate("() => { if (window.__realTimeout) window.setTimeout = window.__realTimeout; }")
    page.evaluate("window.__sent = []")
    bb = page.frame_locator(MAP_FRAME).first.locator("path.leaflet-interactive").nth(120).bounding_box()
    page.mouse.click(bb["x"] + bb["width"] / 2, bb["y"] + bb["height"] / 2)
    time.sleep(2.0)  # well past the component's 250 ms
    assert len(page.evaluate("window.__sent")) == 1
    assert external == []


def test_site_row_zooms_map(app_server, page, external):
    url, _ = app_server
    _open(page, url, "连片地块")
    _map_paths(page, min_count=100)
    time.sleep(1.0)
    _tiles_idle(page)  # the first view's tiles all drawn: what is drawn from here on comes after the click
    z0 = _leaflet_zoom(page)
    _map_frame(page).evaluate("window.__planner_mark = 42")  # gone if the page re-creates the map
    # the zoom at which each tile is drawn from now on: the new highlight re-makes the layers, and they must not
    # draw the old view before the map moves (0.6 s at city scale on a 1M city)
    _map_frame(page).evaluate("""() => { window.__drawn = []; const make = L.geoJSON;
        L.geoJSON = function (d, o) { window.__drawn.push(window.map.getZoom()); return make.call(this, d, o); }; }""")
    grid = page.locator("[data-testid='stDataFrame']").first
    site = _grid.cell(grid, _grid.column(grid, "片区编号"), 0).inner_text()  # the first data row's site
    asked = []
    page.on("request", lambda r: asked.append(r.url) if "/_planner/tiles/" in r.url else None)
    # its row-selection box ticked (checked in the grid, clicked again if missed) and the page saying so
    _grid.select_row(page, grid, 0, page.locator("[data-testid='stCaptionContainer']", has_text=f"当前片区：{site}"))
    _settle(page)
    # the table's ▶ marks the site just ticked in the same run (it followed one run late: ▶ on the old site)
    mark = _grid.cell(grid, _grid.column(grid, "▶"), 0)
    deadline = time.time() + 10
    while mark.inner_text().strip() != "▶" and time.time() < deadline:
        time.sleep(0.25)
    assert mark.inner_text().strip() == "▶", "the ▶ column should mark the row just selected"
    deadline = time.time() + 20
    z1 = z0
    while time.time() < deadline:
        z1 = _leaflet_zoom(page)
        if z1 > z0:
            break
        time.sleep(0.5)
    page.screenshot(path=str(ARTIFACTS / "03_sites_row_selected.png"))
    assert z1 > z0, f"selecting a site row should zoom the map in (zoom {z0} -> {z1})"
    # the same map moved: a re-created map costs seconds and shows a blank frame first
    assert _map_frame(page).evaluate("window.__planner_mark") == 42
    deadline = time.time() + 30  # the new view's tiles come after the move (late on a busy machine)
    while not _map_frame(page).evaluate("window.__drawn.length") and time.time() < deadline:
        time.sleep(0.25)
    drawn = _map_frame(page).evaluate("window.__drawn")
    assert drawn and min(drawn) > z0, f"tiles drawn at zoom {sorted(set(drawn))} after the click (old view: {z0})"
    # the server made this view's tiles while the page ran (tiles.prefetch): the ones it made are the ones the
    # browser asked for, computed from the map as Leaflet has it
    _settle(page)
    lat, lon, z, w, h = _map_frame(page).evaluate(
        "[map.getCenter().lat, map.getCenter().lng, map.getZoom(), map.getSize().x, map.getSize().y]")
    from planner.ui import tiles

    got = {tuple(int(v) for v in re.search(r"/(\d+)/(\d+)/(\d+)\.json\?dz=(\d+)", u).groups()) for u in asked}
    got = {t for t in got if t[3] == int(z)}
    assert got and got <= set(tiles.focus_tiles((lat, lon), int(z), width_px=w, height_px=h))
    assert external == []


def test_rules_and_scenario_pages_render(app_server, page, external):
    url, _ = app_server
    for i, label in enumerate(("三低识别", "情景模拟"), start=4):
        _open(page, url, label)
        assert page.locator("[data-testid='stException']").count() == 0
        page.wait_for_selector("[data-testid='stMetric']")
        page.screenshot(path=str(ARTIFACTS / f"0{i}_{'rules' if i == 4 else 'scenario'}.png"), full_page=True)
    assert external == []


def _download(page, button: str):
    """The file a download button gives. Downloads do not re-run the page (``on_click="ignore"``), so nothing
    replaces the button under the click; a second try is left for a slow first file on a loaded machine, and a
    failure leaves a screenshot and what the page said about its connection."""
    for attempt in range(2):
        try:
            with page.expect_download(timeout=60_000) as dl:
                page.get_by_role("button", name=button).click(timeout=60_000)
            return dl.value
        except Exception as exc:  # playwright TimeoutError: not clickable, or no download started
            if attempt == 1:
                shot = ARTIFACTS / f"failed_download_{button}.png"
                page.screenshot(path=str(shot), full_page=True)
                status = page.locator("[data-testid='stStatusWidget'], [data-testid='stConnectionStatus']")
                said = status.all_inner_texts() if status.count() else []
                raise AssertionError(f"no download from {button!r}; status {said}; screenshot {shot}") from exc
            _settle(page)
    raise AssertionError("unreachable")


def test_compare_report_downloads(app_server, page, external, tmp_path):
    url, _ = app_server
    _open(page, url, "情景对比")
    page.wait_for_selector("[data-testid='stMetric']")
    _settle(page)  # the page has finished its run (maps included) before the first download click
    page.screenshot(path=str(ARTIFACTS / "06_compare.png"), full_page=True)
    out = tmp_path / "report.xlsx"
    _download(page, "下载 Excel 报告").save_as(out)
    assert out.stat().st_size > 1000 and out.read_bytes()[:2] == b"PK"  # an xlsx is a zip
    html = tmp_path / "report.html"
    _download(page, "下载 HTML 报告").save_as(html)
    assert "<html" in html.read_text(encoding="utf-8").lower()
    assert external == []


def test_compare_reports_with_the_sensitivity(app_server, page, external, tmp_path):
    """The "include the sensitivity" box above the downloads: ticked, the scenarios run again per parameter (a
    progress bar), and the HTML report downloaded then has a section per scenario with its tornado chart."""
    url, _ = app_server
    _open(page, url, "情景对比")
    page.wait_for_selector("[data-testid='stMetric']")
    _settle(page)
    box = page.get_by_text("报告包含敏感性分析")
    box.scroll_into_view_if_needed()
    box.click()
    page.get_by_text("下载的报告包含 2 个情景的敏感性分析").wait_for(timeout=120_000)
    _settle(page)
    page.screenshot(path=str(ARTIFACTS / "06b_compare_sensitivity.png"))
    html = tmp_path / "report.html"
    _download(page, "下载 HTML 报告").save_as(html)
    doc = html.read_text(encoding="utf-8")
    section = doc[doc.index("<h2>敏感性分析：各估计参数单独 ±20%</h2>"):doc.index("<h2>模型假设</h2>")]
    assert section.count("<h3>") == 2 and section.count("data:image/png;base64,") == 2
    assert "影响最大的是" in section
    assert external == []


def test_survey_upload_publishes_new_version(app_server, page, external, tmp_path):
    from planner.io.store import GpkgStore
    from tests.e2e._workspace import grid_parcels

    url, ws = app_server
    before = GpkgStore(ws).surveys()["version"].max()
    src = tmp_path / "survey_2025.geojson"
    g = grid_parcels(24, seed=11)
    g.loc[0, "tax_cny"] = 1.0
    g.loc[1, "floor_area_m2"] = -5.0  # one problem row: its message shows in Chinese (screenshot 07)
    g.to_crs(4490).to_file(src, driver="GeoJSON")
    _open(page, url, "数据管理")
    page.locator("input[type='file']").first.set_input_files(str(src))
    _settle(page)
    page.get_by_role("button", name="校验报告").click()
    _settle(page)
    try:
        page.get_by_text("与当前版本的差异").first.wait_for(timeout=60_000)
    finally:
        page.screenshot(path=str(ARTIFACTS / "07_data_manager_validated.png"), full_page=True)
    page.screenshot(path=str(ARTIFACTS / "07_data_manager_validated.png"), full_page=True)
    page.get_by_text("与当前版本的差异").first.scroll_into_view_if_needed()
    _settle(page)
    page.screenshot(path=str(ARTIFACTS / "07b_data_manager_problems.png"))
    page.get_by_role("button", name="发布为新版本").click()
    page.get_by_text("已发布调查版本").first.wait_for(timeout=60_000)
    assert GpkgStore(ws).surveys()["version"].max() == before + 1
    page.screenshot(path=str(ARTIFACTS / "08_data_manager_published.png"), full_page=True)
    assert external == []


def test_refused_upload_is_explained_in_chinese(app_server, page, external, tmp_path):
    """A layer of points is no parcel survey: the error says so in the UI language and nothing is published."""
    import geopandas as gpd
    import shapely

    from planner.io.store import GpkgStore

    url, ws = app_server
    before = GpkgStore(ws).surveys()["version"].max()
    src = tmp_path / "wells.geojson"
    gpd.GeoDataFrame({"ZDDM": ["W1", "W2"]}, geometry=[shapely.Point(118.6, 24.8), shapely.Point(118.61, 24.8)],
                     crs="EPSG:4490").to_file(src, driver="GeoJSON")
    _open(page, url, "数据管理")
    page.locator("input[type='file']").first.set_input_files(str(src))
    _settle(page)
    page.get_by_role("button", name="校验报告").click()
    _settle(page)
    msg = page.get_by_text(re.compile("无法发布：wells.geojson：该图层为 Point 要素，不是宗地面"))
    msg.first.wait_for(timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "07c_data_manager_refused.png"))
    assert GpkgStore(ws).surveys()["version"].max() == before
    assert external == []


def test_english_explorer(app_server, page, external):
    url, _ = app_server
    _open(page, url)
    page.get_by_text("English").first.click()
    _settle(page)
    page.get_by_text("Map explorer").first.wait_for()
    _map_paths(page, min_count=100)
    page.screenshot(path=str(ARTIFACTS / "09_map_explorer_en.png"))
    assert external == []
