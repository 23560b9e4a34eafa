"""Journeys of issue 12 in headless Chromium, offline: edit on one page, switch away and back, save, reopen.

Screenshots go to tests/artifacts/ (journey_*.png).
"""

from __future__ import annotations

import re
import time

import pytest

from tests.e2e import _grid
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.test_app_browser import MAP_FRAME, _map_paths, _open, _settle

pytestmark = pytest.mark.e2e


def _nav(page, label: str) -> None:
    page.locator("[data-testid='stSidebarNav'] a", has_text=label).first.click()
    _settle(page)


def _number(page, label: str):
    return page.get_by_label(label, exact=True).first


def _set_number(page, label: str, value: str) -> None:
    box = _number(page, label)
    box.fill(value)
    box.press("Enter")
    _settle(page)


def _click_visible(page, paths) -> bool:
    """Click the middle of the first of ``paths`` (map features) whose middle is inside the map; False if none is.

    The map draws whole tiles, so some features lie outside the visible map.
    """
    fb = page.locator(MAP_FRAME).first.bounding_box()
    if fb is None:
        return False
    for i in range(min(paths.count(), 200)):
        bb = paths.nth(i).bounding_box()
        if not bb:
            continue
        x, y = bb["x"] + bb["width"] / 2, bb["y"] + bb["height"] / 2
        if fb["x"] + 40 < x < fb["x"] + fb["width"] - 40 and fb["y"] + 40 < y < fb["y"] + fb["height"] - 40:
            page.mouse.click(x, y)
            return True
    return False


def _caption_with(page, pattern: str):
    return page.locator("[data-testid='stCaptionContainer']", has_text=re.compile(pattern))


def test_rule_edit_survives_switching_pages_and_saves(app_server, page, external):
    from planner import workflow as W
    from planner.io.store import GpkgStore

    url, ws = app_server
    _open(page, url, "三低识别")
    page.wait_for_selector("[data-testid='stMetric']")
    _set_number(page, "容积率 <", "1.60")
    marker = page.get_by_text(re.compile("识别规则有未保存的修改"))
    marker.first.wait_for(timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "journey_01_rules_edited.png"), full_page=True)
    _nav(page, "连片地块")
    page.get_by_text(re.compile("识别规则有未保存的修改")).first.wait_for(timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "journey_02_sites_marker.png"))
    _nav(page, "三低识别")
    assert _number(page, "容积率 <").input_value() == "1.60"
    name = page.get_by_label("规则名称", exact=True).first
    name.fill("宽松")
    name.press("Enter")
    _settle(page)
    page.get_by_role("button", name="保存规则").click()
    _settle(page)
    page.get_by_text(re.compile("已保存")).first.wait_for(timeout=30_000)
    assert page.get_by_text(re.compile("识别规则有未保存的修改")).count() == 0
    page.screenshot(path=str(ARTIFACTS / "journey_03_rules_saved.png"), full_page=True)
    doc = W.load_document(GpkgStore(ws), "policy", "宽松")
    assert doc.policy.criteria.utilization.rules[0].threshold == pytest.approx(1.6)
    # reopen the app in a fresh session: the saved version opens
    _open(page, url, "三低识别")
    page.get_by_label("载入已保存的规则", exact=True).first.click()
    page.get_by_role("option", name="宽松").click()
    _settle(page)
    page.get_by_role("button", name="打开").first.click()
    _settle(page)
    assert _number(page, "容积率 <").input_value() == "1.60"
    assert external == []


def test_scenario_draft_kept_and_save_over_asks(app_server, page, external):
    from planner import workflow as W
    from planner.io.store import GpkgStore

    url, ws = app_server
    _open(page, url, "情景模拟")
    page.wait_for_selector("[data-testid='stMetric']")
    name = page.get_by_label("情景名称", exact=True).first
    name.fill("前10片区_工业上楼")
    _number(page, "按排名取前 N 个片区").fill("10")
    page.get_by_role("button", name="计算").click()
    _settle(page)
    page.get_by_role("button", name="保存情景").click()
    _settle(page)
    page.get_by_text(re.compile("已保存")).first.wait_for(timeout=30_000)
    _nav(page, "情景对比")
    _nav(page, "情景模拟")
    page.wait_for_selector("[data-testid='stMetric']")
    assert page.get_by_label("情景名称", exact=True).first.input_value() == "前10片区_工业上楼"
    assert _number(page, "按排名取前 N 个片区").input_value() == "10"
    page.get_by_role("button", name="保存情景").click()  # the user's own scenario, nobody saved since: v2
    _settle(page)
    page.get_by_text(re.compile("已保存：.* v2")).first.wait_for(timeout=30_000)
    assert W.latest_version(GpkgStore(ws), "scenario", "前10片区_工业上楼") == 2
    # a new scenario under that name (not the one opened): asked first, saying which version it makes
    page.get_by_role("button", name="新建情景").click()
    _settle(page)
    name = page.get_by_label("情景名称", exact=True).first
    name.fill("前10片区_工业上楼")
    page.get_by_role("button", name="计算").click()
    _settle(page)
    page.get_by_role("button", name="保存情景").click()
    _settle(page)
    page.get_by_text(re.compile("保存将生成 v3")).first.wait_for(timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "journey_04_scenario_save_asks.png"), full_page=True)
    assert W.latest_version(GpkgStore(ws), "scenario", "前10片区_工业上楼") == 2
    page.get_by_role("button", name="确认保存为 v3").click()
    _settle(page)
    assert W.latest_version(GpkgStore(ws), "scenario", "前10片区_工业上楼") == 3
    assert external == []


def _fills(page) -> dict:
    """How many parcels the sites map fills in orange (the selected site) and purple (other sites), by feature."""
    frame = next(f for f in page.frames if "st_folium" in (f.url or "") or "streamlit_folium" in (f.url or ""))
    return frame.evaluate("""() => {
      const n = {'#f16913': new Set(), '#9e9ac8': new Set()};
      window.map.eachLayer(l => {
        const p = l.feature && l.feature.properties, c = l.options && l.options.fillColor;
        if (p && p.parcel_id !== undefined && c in n) n[c].add(String(p.parcel_id));
      });
      return {'#f16913': n['#f16913'].size, '#9e9ac8': n['#9e9ac8'].size};
    }""")


def _cut_labels(page) -> list[str]:
    """Labels of the page's buttons shown cut short (an ellipsis: the text is wider than its box)."""
    return page.evaluate("""() => [...document.querySelectorAll('[data-testid="stMain"] button')]
        .filter(b => b.offsetParent && b.innerText.trim())
        .filter(b => [b, ...b.querySelectorAll('*')].some(e => e.scrollWidth > e.clientWidth + 1
                                                          && getComputedStyle(e).overflow !== 'visible'))
        .map(b => b.innerText.trim())""")


def test_site_selection_follows_the_id_through_an_edit(app_server, page, external):
    url, _ = app_server
    _open(page, url, "连片地块")
    _map_paths(page, min_count=100)
    page.set_viewport_size({"width": 1280, "height": 800})  # a laptop: the edit panel's buttons read in full
    time.sleep(1.0)
    assert not [t for t in _cut_labels(page) if "撤销" in t or "重做" in t or "保存" in t], _cut_labels(page)
    page.set_viewport_size({"width": 1500, "height": 1000})
    time.sleep(1.0)
    grid = page.locator("[data-testid='stDataFrame']").first
    _grid.to_top(page, grid)
    row = _grid.row_with(grid, _grid.column(grid, "排名"), "3")  # the third ranked site
    sel = _grid.cell(grid, _grid.column(grid, "片区编号"), row).inner_text()
    _grid.select_row(page, grid, row, _caption_with(page, f"当前片区：{sel}"))  # checked, clicked again if missed
    _settle(page)
    cap = _caption_with(page, r"当前片区：S\d+")
    cap.first.wait_for(timeout=30_000)
    assert re.search(r"S\d+", cap.first.inner_text()).group(0) == sel
    page.get_by_text("从所选片区移除").first.click()
    _settle(page)
    frame = page.frame_locator(MAP_FRAME).first
    member = frame.locator("path.leaflet-interactive[fill='#f16913']")  # the selected site's parcels
    layers = set()  # the tiled layers whose tiles the map asks for after the edit
    page.on("request", lambda r: layers.add(r.url.split("/_planner/tiles/")[1].split("/")[0])
            if "/_planner/tiles/" in r.url else None)
    seen = []
    deadline = time.time() + 60
    while time.time() < deadline and not page.get_by_text(re.compile("手动调整：1 处")).count():
        layers.clear()
        seen = [_fills(page)]
        if _click_visible(page, member):
            _settle(page)
            continue
        time.sleep(1.0)
    page.get_by_text(re.compile("手动调整：1 处")).first.wait_for(timeout=30_000)
    assert _map_paths(page, min_count=10) >= 10  # the map is back, on the same site
    _settle(page)
    time.sleep(1.0)
    # the parcels' tiles stay (only the site outlines are new): the removed parcel is recoloured in the browser
    assert len(layers) <= 1, layers
    after = _fills(page)
    assert after["#f16913"] == seen[0]["#f16913"] - 1 and after["#9e9ac8"] == seen[0]["#9e9ac8"], (seen, after)
    page.screenshot(path=str(ARTIFACTS / "journey_05_sites_after_remove.png"), full_page=True)
    assert re.search(r"S\d+", _caption_with(page, r"当前片区：S\d+").first.inner_text()).group(0) == sel
    page.get_by_role("button", name="↺ 撤销上一步", exact=True).click()
    _settle(page)
    page.get_by_text(re.compile("手动调整：0 处")).first.wait_for(timeout=30_000)
    page.get_by_role("button", name="↻ 重做", exact=True).click()
    _settle(page)
    page.get_by_text(re.compile("手动调整：1 处")).first.wait_for(timeout=30_000)
    # add mode: a parcel that is not three-low is not added without a word; cancel leaves the site as it was
    page.get_by_text("加入所选片区").first.click()
    _settle(page)
    plain = page.frame_locator(MAP_FRAME).first.locator("path.leaflet-interactive[fill='#91bfdb']")
    deadline = time.time() + 60
    while time.time() < deadline and not page.get_by_role("button", name="仍然加入").count():
        if _click_visible(page, plain):
            _settle(page)
            continue
        time.sleep(1.0)
    page.get_by_text(re.compile("宗地块不是三低地块|宗地块不在识别范围内")).first.wait_for(timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "journey_05b_add_asks.png"))
    page.get_by_role("button", name="取消").first.click()
    _settle(page)
    page.get_by_text(re.compile("手动调整：1 处")).first.wait_for(timeout=30_000)
    assert external == []


def test_drawn_site_made_once(app_server, page, external):
    url, _ = app_server
    _open(page, url, "连片地块")
    _map_paths(page, min_count=100)
    time.sleep(1.5)
    frame = page.frame_locator(MAP_FRAME).first
    frame.locator(".leaflet-draw-draw-rectangle").click()
    fb = page.locator(MAP_FRAME).first.bounding_box()
    x0, y0 = fb["x"] + fb["width"] * 0.35, fb["y"] + fb["height"] * 0.35
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x0 + 60, y0 + 40, steps=5)
    page.mouse.move(x0 + 120, y0 + 80, steps=5)
    page.mouse.up()
    _settle(page)
    new_btn = page.get_by_role("button", name=re.compile(r"新建片区 S\d+"))
    new_btn.first.wait_for(timeout=60_000)
    new_btn.first.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "journey_06_drawn.png"))
    # the drawing takes in parcels that are not three-low or outside the rules' land uses: the page says so
    assert page.get_by_text(re.compile("宗地块不是三低地块|宗地块不在识别范围内")).count() >= 1
    add_btn = page.get_by_role("button", name=re.compile("加入所选片区"))
    assert add_btn.first.is_disabled()  # no site selected: "add to the selected site" cannot make a new one
    new_btn.first.click()
    _settle(page)
    page.get_by_text(re.compile("这个图形已经使用过")).first.wait_for(timeout=60_000)
    assert page.get_by_role("button", name=re.compile(r"新建片区 S\d+")).count() == 0
    page.get_by_text(re.compile("这个图形已经使用过")).first.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "journey_07_drawn_used.png"))
    assert external == []


def test_data_manager_diff_table_map_and_confirmed_switch(app_server, page, external, tmp_path):
    from planner.io.store import GpkgStore
    from tests.e2e._workspace import grid_parcels

    url, ws = app_server
    src = tmp_path / "survey_2026.geojson"
    g = grid_parcels(24, seed=7)
    g.loc[5, "tax_cny"] = 123.0  # one changed field
    g = g.drop(index=[6])  # one parcel gone
    g.to_crs(4490).to_file(src, driver="GeoJSON")
    _open(page, url, "数据管理")
    page.locator("input[type='file']").first.set_input_files(str(src))
    _settle(page)
    page.get_by_role("button", name="校验报告").click()
    _settle(page)
    page.get_by_text("变化列表").first.wait_for(timeout=60_000)
    page.get_by_text("变化列表").first.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "journey_08_diff_table.png"))
    page.get_by_text("变化地图").first.click()
    _settle(page)
    n = _map_paths(page, min_count=2)
    assert n >= 2  # the removed and the changed parcel, drawn on the map
    page.get_by_text("变化地图").first.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "journey_09_diff_map.png"))
    page.get_by_role("button", name="发布为新版本").click()
    page.get_by_text("已发布调查版本").first.wait_for(timeout=60_000)
    store = GpkgStore(ws)
    new = int(store.surveys()["version"].max())
    page.get_by_role("tab", name="调查版本").click()
    _settle(page)
    page.get_by_label("切换到版本", exact=True).first.click()
    options = [o.inner_text() for o in page.get_by_role("option").all()]
    assert f"v{new}" not in options and "v1" in options  # the current version is not offered
    page.get_by_role("option", name="v1").click()
    _settle(page)
    page.get_by_role("button", name=re.compile("设为当前版本")).click()
    _settle(page)
    page.get_by_text(re.compile(f"由 v{new} 切换为 v1")).first.wait_for(timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "journey_10_switch_asks.png"))
    assert int(GpkgStore(ws).surveys().query("is_current")["version"].iloc[0]) == new  # nothing switched yet
    page.get_by_role("button", name="取消").click()
    _settle(page)
    assert int(GpkgStore(ws).surveys().query("is_current")["version"].iloc[0]) == new
    assert external == []
