"""Re-take the decision-output screenshots in docs/screenshots at 1280 x 800 on the sample city.

Run from the repository root: ``python docs/screenshots/take_decision_screenshots.py``. It saves two
scenarios that differ in their sites (the 10 best-ranked as standard factories; the 15 best-ranked upstairs)
in a copy of the sample city, then shoots the comparison page (Chinese and English), the HTML comparison
report (Chinese and English) and the first page of a PDF site brief, offline in headless Chromium.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, _free_port, block_external  # noqa: E402
from tests.e2e.test_app_browser import _settle  # noqa: E402

OUT = Path(__file__).resolve().parent
SIZE = {"width": 1280, "height": 800}
NAMES = ("标准厂房前10", "工业上楼前15")


def prepare(tmp: Path) -> Path:
    import shutil

    from planner import scenarios
    from planner.cli import main as cli
    from planner.io.store import GpkgStore

    ws = tmp / "sample_city.gpkg"
    shutil.copy(ROOT / "gis_data" / "sample_city.gpkg", ws)
    assert cli(["classify", "-w", str(ws)]) == 0 and cli(["sites", "-w", str(ws)]) == 0
    store = GpkgStore(ws)
    store.save_doc("scenario", NAMES[0], scenarios.Scenario(name=NAMES[0], sites=scenarios.SiteSelection(top=10)).to_dict())
    store.save_doc("scenario", NAMES[1], scenarios.Scenario(name=NAMES[1], template="multi_storey",
                                                            sites=scenarios.SiteSelection(top=15)).to_dict())
    return ws


def reports(ws: Path, tmp: Path) -> list[Path]:
    from planner.cli import main as cli
    from planner.io.store import open_store
    from planner.report.pdf import site_briefs_pdf
    from planner.workflow.briefs import stored_site_briefs

    out = []
    for lang in ("zh", "en"):
        p = tmp / f"report_{lang}.html"
        assert cli(["scenario", "compare", *NAMES, "-w", str(ws), "--out", str(p), "--lang", lang]) == 0
        out.append(p)
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(site_briefs_pdf(stored_site_briefs(open_store(str(ws)), top=1), lang="zh"))
    pdf[0].render(scale=1.4).to_pil().save(OUT / "brief_zh.png")
    return out


def main() -> None:
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="planner_shots_"))
    ws = prepare(tmp)
    html = reports(ws, tmp)
    port = _free_port()
    log = open(tmp / "streamlit.log", "w")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                             "--server.port", str(port), "--server.address", "127.0.0.1"], cwd=ROOT,
                            env={**os.environ, "PLANNER_WORKSPACE": str(ws)}, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    blocked: list[str] = []
    try:
        time.sleep(4)
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            ctx = b.new_context(viewport=SIZE, locale="zh-CN")
            block_external(ctx, blocked)
            pg = ctx.new_page()
            pg.set_default_timeout(180_000)
            rctx = b.new_context(viewport=SIZE)  # the reports are local files: anything on a network is refused
            rctx.route("http*://**/*", lambda r: (blocked.append(r.request.url), r.abort()))
            rp = rctx.new_page()
            for path, name in zip(html, ("report_zh.png", "report_en.png"), strict=True):
                rp.goto(path.as_uri())
                rp.wait_for_load_state("load")
                rp.screenshot(path=str(OUT / name))
            rctx.close()
            pg.goto(url)
            pg.wait_for_selector("[data-testid='stSidebarNav']")
            _settle(pg, 180)
            pg.locator("[data-testid='stSidebarNav'] a", has_text="情景对比").first.click()
            _settle(pg, 300)
            pg.wait_for_function("document.querySelectorAll('.vega-embed canvas, .vega-embed svg').length >= 2")
            time.sleep(3)
            pg.screenshot(path=str(OUT / "compare.png"))
            pg.set_viewport_size({"width": 1280, "height": 2700})
            time.sleep(3)
            pg.screenshot(path=str(OUT / "compare_full.png"))
            pg.set_viewport_size(SIZE)
            pg.get_by_text("English", exact=True).first.click()
            _settle(pg, 300)
            time.sleep(3)
            pg.screenshot(path=str(OUT / "compare_en.png"))
            b.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()
    assert blocked == [], blocked


if __name__ == "__main__":
    main()
