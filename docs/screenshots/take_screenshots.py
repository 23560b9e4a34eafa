"""Re-take the app screenshots in docs/screenshots on the 20k-parcel sample city.

Run from the repository root: ``python docs/screenshots/take_screenshots.py``.
Copies ``gis_data/sample_city.gpkg`` to a temporary folder (the app writes to
its workspace), saves two scenarios there, starts ``streamlit run app.py`` and
drives headless Chromium (``/usr/bin/chromium`` or env ``PLANNER_CHROMIUM``)
offline at 1600 x 1000: every page in Chinese, the map explorer in English.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, _free_port, block_external  # noqa: E402
from tests.e2e.test_app_browser import MAP_FRAME, _map_paths, _settle  # noqa: E402

OUT = Path(__file__).resolve().parent
SIZE = {"width": 1600, "height": 1000}


def zoom_to(pg, box_label: str, pid: str, heading: str, png: str) -> None:
    """Type a parcel id into the map's zoom box, wait for its detail panel and map, save ``png``."""
    box = pg.get_by_label(box_label)
    box.fill(pid)
    box.press("Enter")
    _settle(pg, 120)
    pg.get_by_text(heading).first.wait_for()
    _map_paths(pg, 5)
    time.sleep(3)
    _settle(pg)
    pg.screenshot(path=str(OUT / png))


def prepare(tmp: Path) -> tuple[Path, str]:
    """Copy the sample city, save two scenarios; return the workspace and a three-low parcel id."""
    from planner import classify, scenarios
    from planner.classify import policy
    from planner.io.store import GpkgStore

    ws = tmp / "sample_city.gpkg"
    shutil.copy(ROOT / "gis_data" / "sample_city.gpkg", ws)
    store = GpkgStore(ws)
    store.save_doc("scenario", "标准厂房前10", scenarios.Scenario(
        name="标准厂房前10", sites=scenarios.SiteSelection(top=10)).to_dict())
    store.save_doc("scenario", "工业上楼前10", scenarios.Scenario(
        name="工业上楼前10", template="multi_storey", sites=scenarios.SiteSelection(top=10)).to_dict())
    g = classify.classify(store.read_parcels(), policy.default_policy())
    tl = g[g["three_low"].fillna(False).astype(bool)].sort_values("land_area_m2", ascending=False)
    return ws, str(tl["parcel_id"].iloc[len(tl) // 3])


def main() -> None:
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="planner_shots_"))
    ws, pid = prepare(tmp)
    port = _free_port()
    log = open(tmp / "streamlit.log", "w")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                             "--server.port", str(port), "--server.address", "127.0.0.1"], cwd=ROOT,
                            env={**__import__("os").environ, "PLANNER_WORKSPACE": str(ws)},
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    blocked: list[str] = []
    try:
        time.sleep(4)
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            ctx = b.new_context(viewport=SIZE, locale="zh-CN", accept_downloads=True)
            block_external(ctx, blocked)
            pg = ctx.new_page()
            pg.set_default_timeout(120_000)

            def goto(nav: str | None = None):
                pg.goto(url)
                pg.wait_for_selector("[data-testid='stSidebarNav']")
                _settle(pg, 180)
                if nav:
                    pg.locator("[data-testid='stSidebarNav'] a", has_text=nav).first.click()
                    _settle(pg, 180)

            # map explorer: city scale (grid), then a parcel with its detail panel
            goto()
            pg.frame_locator(MAP_FRAME).first.locator("path.leaflet-interactive").first.wait_for()
            time.sleep(2)
            _settle(pg)
            pg.screenshot(path=str(OUT / "map_city_grid.png"))
            zoom_to(pg, "定位到地块编号或片区编号", pid, f"地块 {pid}", "map_parcel_detail.png")

            # sites: select the best-ranked site (the map zooms to it)
            goto("连片地块")
            _map_paths(pg, 5)
            grid = pg.locator("[data-testid='stDataFrame']").first
            bb = grid.bounding_box()
            pg.mouse.click(bb["x"] + 12, bb["y"] + 35 + 17)
            _settle(pg, 120)
            time.sleep(3)
            _settle(pg)
            pg.screenshot(path=str(OUT / "sites.png"))

            for nav, name in (("三低识别", "rules"), ("情景模拟", "scenario"), ("情景对比", "compare")):
                goto(nav)
                pg.wait_for_selector("[data-testid='stMetric']")
                time.sleep(3)
                _settle(pg)
                pg.screenshot(path=str(OUT / f"{name}.png"))
                if name == "scenario":  # the results below the form: key figures and the ledger
                    pg.locator("[data-testid='stMetric']").first.evaluate("e => e.scrollIntoView({block: 'start'})")
                    time.sleep(1)
                    pg.screenshot(path=str(OUT / "scenario_results.png"))

            # data manager: validate the shipped survey update against the current version
            goto("数据管理")
            pg.locator("input[type='file']").first.set_input_files(str(ROOT / "gis_data" / "survey_update.zip"))
            _settle(pg, 120)
            pg.get_by_role("button", name="校验报告").click()
            _settle(pg, 300)
            pg.get_by_text("与当前版本的差异").first.wait_for()
            pg.get_by_role("heading", name="校验报告").first.evaluate("e => e.scrollIntoView({block: 'start'})")
            time.sleep(1)
            pg.screenshot(path=str(OUT / "data_manager.png"))

            # English: map explorer zoomed to the same parcel
            goto()
            pg.get_by_text("English").first.click()
            _settle(pg, 120)
            zoom_to(pg, "Zoom to a parcel id or site id", pid, f"Parcel {pid}", "map_en.png")
            b.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()
    print(f"screenshots in {OUT}; parcel {pid}; blocked external requests: {len(blocked)}")


if __name__ == "__main__":
    main()
