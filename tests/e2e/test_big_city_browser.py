"""Issue 19: the app on a city with many sites (the ranked table once hit the Pandas Styler cell limit).

A generated grid city whose three-low parcels stand alone (every second
parcel of every second row), so each becomes a site of its own with a small
minimum area: 640 x 640 parcels give 102,400 sites (slow), 60 x 60 give 900
(always runs). Made as an analyst would (``planner classify``, ``planner
sites --min-area``, ``planner scenario run``), then in headless Chromium:
open the sites page (the stored sites, no build), select a site, calculate
and save a scenario, open the comparison in a new session, with no error on
any page and no request leaving the machine.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from planner.io.store import GpkgStore
from tests.e2e._workspace import SIZE, grid_parcels
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.e2e.test_app_speed import bench


def checker_city(path, n: int):
    """``n`` x ``n`` parcels of 60 m; the ones in even rows and even columns are three-low, the rest thrive."""
    g = grid_parcels(n)
    rc = g["parcel_id"].str.extract(r"r(\d+)c(\d+)").astype(int).to_numpy()
    low = (rc[:, 0] % 2 == 0) & (rc[:, 1] % 2 == 0)
    land = SIZE * SIZE
    g["land_use"], g["land_use_code"] = "industrial", "1001"
    g["floor_area_m2"] = np.where(low, 0.2, 2.4) * land
    g["footprint_m2"] = np.where(low, 0.1, 0.6) * land
    g["output_cny"] = np.where(low, 1e3, 5e7)
    g["tax_cny"] = np.where(low, 1e2, 5e6)
    g["employees"] = np.where(low, 0.0, 200.0)
    g["status"] = np.where(low, "idle", "in_use")
    GpkgStore(path, crs="EPSG:4549", create=True).publish_survey(g, label="checker city", user="test")
    return path, int(low.sum())


def _journey(tmp_path, n: int):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    B = bench()
    ws, n_low = checker_city(tmp_path / "checker.gpkg", n)
    B.prepare_workspace(ws, ws, min_area=100, log=lambda _m: None)
    sites = GpkgStore(ws).read_layer("sites", "default", columns=["site_id", "status"])
    assert len(sites) == n_low and (sites["status"] == "ok").all()  # one site per three-low parcel
    with sync_api.sync_playwright() as p, B.AppServer(ws).start() as srv:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        b = B.Bench(srv, browser, B.read_city(ws), timeout=600)
        page = b.new_page()
        B.goto(page, srv.url + "/sites")
        b.settle(B.now_ms(), done=b._has_sites_map)
        page.screenshot(path=str(tmp_path / "sites.png"))
        assert page.get_by_text(re.compile("共 " + f"{n_low:,}" + " 行")).count() == 1  # the pager counts them all
        assert page.get_by_text("使用工作空间中已保存的片区结果").count() == 1  # opened, not rebuilt
        b.site_row_click(1)
        assert page.get_by_text(re.compile(r"当前片区：S\d+")).count() == 1
        b.scenario_save(0)
        assert page.get_by_text(re.compile(r"已保存")).count() >= 1
        assert page.locator("[data-testid='stException']").count() == 0
        b.compare_new_session(0)  # a new browser session
        assert b.page.locator("[data-testid='stException']").count() == 0
        assert b.page.locator("[data-testid='stMetric']").count() > 0
        assert b.blocked == []
        b.page.screenshot(path=str(tmp_path / "compare.png"))
        b._ctx.close()
        browser.close()


def test_sites_scenario_and_comparison_on_a_city_of_900_sites(tmp_path):
    _journey(tmp_path, 60)


@pytest.mark.slow
def test_sites_scenario_and_comparison_on_a_city_of_102_400_sites(tmp_path):
    _journey(tmp_path, 640)
