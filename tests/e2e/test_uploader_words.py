"""Streamlit's uploader in the page's language, in headless Chromium, offline.

Streamlit writes its uploader's own words in English whatever the page's language: the button ("Upload"), the
line beside it ("1GB per file • ZIP, GPKG, …"), the words over it while a file is dragged, and a file it refuses in the browser (too big, a kind not listed)
became a red chip whose reason ("File must be 1.0MB or smaller.") only a screen reader heard. On a Chinese page the
words are drawn in Chinese (CSS over the one uploader), and a refused file says why under its name, in both
languages. The server's upload limit is 1 MB here, so a 2 MB file is refused. Screenshots: tests/artifacts/uploader_*.png.
"""

from __future__ import annotations

import os

import pytest

from tests.e2e.conftest import ARTIFACTS, block_external, need_browser, running_app
from tests.e2e.test_app_browser import _settle

pytestmark = pytest.mark.e2e

_AFTER = "(e) => getComputedStyle(e, '::after').content"


@pytest.fixture(scope="module")
def small_limit_app(tmp_path_factory):
    """The app on the sample-like workspace (no accounts: the local user may upload), uploads limited to 1 MB."""
    need_browser()
    from tests.e2e._workspace import build_workspace

    base = tmp_path_factory.mktemp("uploader")
    ws = build_workspace(base / "ws.gpkg")
    env = {k: v for k, v in os.environ.items() if k not in ("PLANNER_WORKSPACES", "PLANNER_DATA_DIR")}
    env.update(PLANNER_WORKSPACE=str(ws))
    with running_app(env, base / "streamlit.log", extra_args=("--server.maxUploadSize", "1")) as (url, _):
        yield url, base


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_uploaders_words_and_a_refused_file_read_in_the_pages_language(small_limit_app, browser, external, lang):
    url, base = small_limit_app
    big = base / "survey_2mb.zip"
    big.write_bytes(os.urandom(2 * 1024 * 1024))
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    block_external(ctx, external)
    page = ctx.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{url}/data")
    page.locator("h1").first.wait_for()
    _settle(page)
    if lang == "en":
        page.locator("[data-testid='stSidebar']").get_by_text("English").click()
        _settle(page)
    zones = page.locator("[data-testid='stFileUploaderDropzone']")
    assert zones.count() == 3, "the survey, the enterprise table and the link table uploaders"
    for i in range(zones.count()):
        label = zones.nth(i).locator("button [data-testid='stMarkdownContainer'] p").first
        line = zones.nth(i).locator("[data-testid='stFileUploaderDropzoneInstructions'] span").first
        if lang == "zh":  # Streamlit's English is not shown (size 0); the Chinese is drawn after it
            assert label.evaluate("e => getComputedStyle(e).fontSize") == "0px"
            assert label.evaluate(_AFTER) == '"上传"'
            assert line.evaluate("e => getComputedStyle(e).fontSize") == "0px"
            assert line.evaluate(_AFTER).startswith('"每个文件不超过 1 MB · '), line.evaluate(_AFTER)
        else:
            assert label.inner_text() == "Upload" and label.evaluate(_AFTER) == "none"
            assert line.inner_text().startswith("1MB per file") and line.evaluate(_AFTER) == "none"
    dragged = page.evaluate_handle("() => { const d = new DataTransfer(); "
                                   "d.items.add(new File(['x'], 'a.zip', {type: 'application/zip'})); return d; }")
    zones.first.dispatch_event("dragenter", {"dataTransfer": dragged})  # "Drag and drop a file here" over it
    over = zones.first.locator("> div:not([data-testid]) > span").first
    assert over.evaluate(_AFTER) == ('"将文件拖放到此处"' if lang == "zh" else "none")
    assert over.inner_text() == "Drag and drop a file here"  # (what Streamlit writes; size 0 on a Chinese page)
    zones.first.dispatch_event("dragleave", {"dataTransfer": dragged})
    assert "XLSX" in zones.nth(1).locator("[data-testid='stFileUploaderDropzoneInstructions'] span").first.evaluate(
        _AFTER if lang == "zh" else "e => e.innerText")
    page.locator("[data-testid='stFileUploaderDropzoneInput']").first.set_input_files(str(big))
    chip = page.locator("[data-testid='stFileChip']").first
    chip.locator("[data-testid='stFileChipIconError']").wait_for()
    reason = chip.locator("[data-testid='stFileChipName'] + div").first
    want = "未上传：超过 1 MB 或不是可上传的类型" if lang == "zh" else "Not uploaded: over 1 MB or not a kind listed"
    assert reason.evaluate(_AFTER) == f'"{want}"'
    assert reason.evaluate("e => getComputedStyle(e).fontSize") == "0px"  # instead of the file's size
    page.locator("[data-testid='stFileUploader']").first.screenshot(path=str(ARTIFACTS / f"uploader_refused_{lang}.png"))
    ctx.close()
    assert external == []
