"""Attacks through a real browser (issue 11): crafted upload names, stored XSS on the map, paths in errors.

The app runs as an office would run it: a data directory (``PLANNER_DATA_DIR``)
with a workspace whose survey holds hostile attribute values, and its own
temp folder (``TMPDIR``), so that every file the server writes can be
accounted for. Uploads go through the real Streamlit upload endpoint:
Playwright hands the page a file with a crafted name (a buffer payload), the
page posts it as a browser would. Every request to a host other than
localhost is blocked and counted (``external``); each test ends with none.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import (
    ARTIFACTS,
    need_browser,
    running_app,
)
from tests.e2e.test_app_browser import MAP_FRAME, _map_paths, _open, _settle

pytestmark = pytest.mark.e2e
XSS = "<img src=x onerror=alert(1)>"
#: An absolute server path shown in the page (a folder led by "/" and followed by another "/").
ABS_PATH = re.compile(r"(?<![\w:/.\\<])/[^\s/'\"<>]+/")


@pytest.fixture(scope="module")
def office(tmp_path_factory):
    """The app on a data directory; yields ``(url, base)`` where base holds data/, tmp/ and a victim file."""
    need_browser()
    from planner.io.store import GpkgStore
    from tests.e2e._workspace import build_workspace
    from tests.test_security import _gpkg

    base = tmp_path_factory.mktemp("office")
    data = base / "data"
    ws = build_workspace(data / "hostile.gpkg")
    store = GpkgStore(ws)
    g = store.read_parcels()
    g["owner"] = g["owner"].astype(object)
    g.loc[g["parcel_id"] == "r3c4", "owner"] = XSS
    store.publish_survey(g, label="hostile", user="test")
    _gpkg(data / "plain.gpkg")  # a GeoPackage that is no planner workspace: opening it fails
    (base / "tmp").mkdir()
    (base / "victim.gpkg").write_bytes(b"the workspace")
    env = {k: v for k, v in os.environ.items() if k not in ("PLANNER_WORKSPACES", "PLANNER_UPLOAD_DIR")}
    # PLANNER_WORKSPACE names the default pick (it is in the data directory anyway)
    env.update(PLANNER_DATA_DIR=str(data), PLANNER_WORKSPACE=str(ws), TMPDIR=str(base / "tmp"))
    # a closed tab's session expires after 2 s
    with running_app(env, base / "streamlit.log", extra_args=["--server.disconnectedSessionTTL", "2"]) as (url, _):
        yield url, base


def _files(base: Path) -> dict[str, bytes | None]:
    """Every file under ``base`` with its bytes, leaving out the upload root and lock/journal files."""
    out = {}
    for p in sorted(base.rglob("*")):
        rel = str(p.relative_to(base))
        if rel.startswith(("tmp/planner-uploads", "streamlit.log")) or rel.endswith((".lock", "-journal")):
            continue
        out[rel] = p.read_bytes() if p.is_file() else None
    return out


def _paths_in_page(page) -> list[str]:
    """Server paths in what the page shows (the uploader's own chip, which echoes the browser's name, left out)."""
    text = page.evaluate("""() => { const b = document.body.cloneNode(true);
        b.querySelectorAll('[data-testid="stFileChips"]').forEach(e => e.remove()); return b.textContent; }""")
    return [m.group(0) for m in ABS_PATH.finditer(text)] + (["/tmp"] if "/tmp" in text else [])


def _upload(page, name: str, payload: bytes) -> None:
    """Hand the page's file uploader a file named ``name`` (any name: the browser posts it as it is)."""
    page.locator("[data-testid='stFileUploaderDropzoneInput']").first.wait_for(state="attached", timeout=60_000)
    page.locator("input[type='file']").first.set_input_files(
        files=[{"name": name, "mimeType": "application/octet-stream", "buffer": payload}])
    page.locator("[data-testid='stFileChipName']").first.wait_for(timeout=30_000)
    _settle(page)


def test_crafted_upload_names_write_nothing_outside_the_upload_folder(office, page, external):
    url, base = office
    before = _files(base)
    payload = b"17 bytes of junk!"  # any bytes: the name is the attack
    names = [str(base / "victim.gpkg"),  # absolute: the old code wrote exactly there
             "../../victim.gpkg",  # from <base>/tmp/<upload folder>/: <base>/victim.gpkg
             "../" * 12 + str(base / "victim.gpkg").lstrip("/")]
    _open(page, url, "数据管理")
    for i, name in enumerate(names):
        _upload(page, name, payload)
        page.get_by_text("victim.gpkg").locator("visible=true").first.wait_for(timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / f"20_security_upload_{i}.png"), full_page=True)
        assert (base / "victim.gpkg").read_bytes() == b"the workspace"
        assert _files(base) == before, f"upload named {name!r} changed files outside the upload folder"
        folders = sorted((base / "tmp" / "planner-uploads").iterdir())
        assert len(folders) == 1 and [p.name for p in folders[0].iterdir()] == ["upload.gpkg"]
        assert _paths_in_page(page) == []
    assert external == []


def test_upload_folder_goes_when_the_tab_is_closed(office, browser, page, external):
    from tests.e2e.conftest import block_external

    url, base = office
    root = base / "tmp" / "planner-uploads"
    ctx = browser.new_context(viewport={"width": 1500, "height": 1000}, locale="zh-CN")
    block_external(ctx, external)
    other = ctx.new_page()
    _open(other, url, "数据管理")
    _upload(other, "closed_tab.geojson", b'{"type": "FeatureCollection", "features": []}')
    deadline = time.time() + 60
    while time.time() < deadline and not list(root.glob("u-*/upload.geojson")):
        time.sleep(0.3)
    other.screenshot(path=str(ARTIFACTS / "24_security_closed_tab.png"), full_page=True)
    [folder] = [p.parent for p in root.glob("u-*/upload.geojson")]
    ctx.close()  # the user closes the tab
    time.sleep(4)  # the server lets the session go (disconnectedSessionTTL 2 s)
    _open(page, url, "数据管理")  # anyone's data manager notices
    deadline = time.time() + 20
    while time.time() < deadline and folder.exists():
        time.sleep(0.5)
    assert not folder.exists()
    assert external == []


def test_xss_owner_shows_as_text_and_runs_nothing(office, page, external):
    url, _ = office
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    _open(page, url)
    box = page.get_by_placeholder("r3c4 / S0001")
    box.fill("r3c4")
    box.press("Enter")
    _settle(page, 120)
    page.get_by_text("地块 r3c4").first.wait_for()
    _map_paths(page, 5)
    time.sleep(2)
    _settle(page)
    frame = page.frame_locator(MAP_FRAME).first
    tip = _hover_tooltip(page, "r3c4")  # the map is centred on r3c4
    time.sleep(1.0)  # an injected onerror would have fired by now
    page.screenshot(path=str(ARTIFACTS / "21_security_xss_tooltip.png"))
    assert dialogs == [], f"script from the data ran: {dialogs}"
    text = tip.first.inner_text()
    assert "r3c4" in text and XSS in text, text  # the markup shows as text
    assert frame.locator(".leaflet-tooltip img").count() == 0
    # the details panel (a Markdown table) shows the owner as the characters it is: no image element
    panel = page.locator("[data-testid='stMarkdown']", has_text="onerror").first
    panel.wait_for(timeout=10_000)
    assert XSS in panel.inner_text()
    assert page.locator("[data-testid='stMain'] [data-testid='stMarkdown'] img").count() == 0
    # tables offer no CSV export (Streamlit's writes "=..." cells verbatim): client.disableDataExport
    _open(page, url, "连片地块")  # the ranked sites
    grid = page.locator("[data-testid='stDataFrame'] >> visible=true").first
    grid.wait_for(timeout=60_000)
    grid.hover()
    toolbar = page.locator("[data-testid='stElementToolbar']").first
    toolbar.wait_for(timeout=10_000)
    labels = [b.get_attribute("aria-label") for b in toolbar.locator("button").all()]
    assert labels and "Download as CSV" not in labels, labels
    assert external == []


def test_errors_shown_in_the_browser_carry_no_server_paths(office, page, external):
    url, _ = office
    _open(page, url, "数据管理")
    _upload(page, "平面图.gpkg", b"SQLite format 3\x00 but not really")  # refused as soon as it is read
    page.get_by_text(re.compile("无法发布：平面图.gpkg")).first.wait_for(timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "22_security_upload_error.png"), full_page=True)
    assert _paths_in_page(page) == []
    # a workspace that fails to open: picked from the list, explained by name
    page.locator("[data-testid='stSidebar'] [data-testid='stSelectbox']").first.click()
    page.get_by_role("option", name="plain.gpkg").click()
    _settle(page)
    page.get_by_text(re.compile("工作空间 plain.gpkg：是 GeoPackage")).first.wait_for(timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "23_security_workspace_error.png"), full_page=True)
    assert _paths_in_page(page) == []
    assert page.locator("[data-testid='stSidebar'] [data-testid='stTextInput']").count() == 0  # no path box
    assert external == []


# --------------------------------------------------------------------------- invisible characters in delivered ids
SPOOF = "r12c12\u202e4c3r"  # reads "r12c12r3c4" where the override is honoured


@pytest.fixture(scope="module", params=["serve.py", "app.py"])
def rtl_office(request, tmp_path_factory):
    """The app as ``make run`` starts it (``serve.py``: the map's features come from its tile route and the
    tooltip is built in the page) and untiled (``app.py``: folium's tooltip), on a survey whose parcel id holds a
    right-to-left override."""
    need_browser()
    from planner.io.store import GpkgStore
    from tests.e2e._workspace import build_workspace

    base = tmp_path_factory.mktemp("rtl")
    ws = build_workspace(base / "rtl.gpkg")
    store = GpkgStore(ws)
    g = store.read_parcels()
    g.loc[g["parcel_id"] == "r12c12", "parcel_id"] = SPOOF
    store.publish_survey(g, label="rtl", user="test")
    env = {k: v for k, v in os.environ.items() if k not in ("PLANNER_WORKSPACES", "PLANNER_DATA_DIR")}
    env.update(PLANNER_WORKSPACE=str(ws))
    with running_app(env, base / "streamlit.log", cmd=[sys.executable, "-m", "streamlit", "run", request.param]) \
            as (url, _):
        yield url, request.param


def _hover_tooltip(page, text: str):
    """Hover the middle of the map (a few pixels around it) until a tooltip holding ``text`` shows; returns the
    map's tooltip locator."""
    frame_box = page.locator(MAP_FRAME).first.bounding_box()
    tip = page.frame_locator(MAP_FRAME).first.locator(".leaflet-tooltip")
    for dx in (0, 4, -4, 8):
        page.mouse.move(frame_box["x"] + frame_box["width"] / 2 + dx, frame_box["y"] + frame_box["height"] / 2 + dx)
        try:
            tip.filter(has_text=text).first.wait_for(timeout=5_000)
            break
        except Exception:  # playwright TimeoutError: move again
            continue
    return tip


def test_a_right_to_left_override_in_an_id_turns_no_tooltip_around(rtl_office, page, external):
    """The map tooltip of a parcel whose id holds U+202E shows the id without it ("r12c124c3r", as the detail
    table does), tiled or not: it read "r12c12r3c4" in the tiled map's tooltip (the default ``make run``)."""
    url, how = rtl_office
    _open(page, url)
    box = page.get_by_placeholder("r3c4 / S0001")
    box.fill(SPOOF)
    box.press("Enter")
    _settle(page, 120)
    _map_paths(page, 5)
    time.sleep(2)
    _settle(page)
    tip = _hover_tooltip(page, "r12c12")  # the map is centred on the parcel
    text = tip.first.inner_text()
    page.screenshot(path=str(ARTIFACTS / f"24_security_rtl_tooltip_{how.split('.')[0]}.png"))
    assert "r12c124c3r" in text and "\u202e" not in text, repr(text)
    assert external == []


# --------------------------------------------------------------------------- a workspace with accounts (QA findings)
@pytest.fixture(scope="module")
def accounts_office(tmp_path_factory):
    """The app on a workspace with accounts (an administrator and a planner); yields ``(url, workspace)``."""
    need_browser()
    from planner.io.store import GpkgStore
    from planner.workflow import accounts as A
    from tests.e2e._workspace import build_workspace

    base = tmp_path_factory.mktemp("accounts")
    ws = build_workspace(base / "ws.gpkg")
    store = GpkgStore(ws)
    A.add_user(store, "ada", "admin", "admin-pass-1", display_name="Ada")
    A.add_user(store, "pam", "planner", "planner-pass-3", display_name="Pam", user="ada")
    env = {k: v for k, v in os.environ.items() if k not in ("PLANNER_WORKSPACES", "PLANNER_DATA_DIR")}
    env.update(PLANNER_WORKSPACE=str(ws))
    with running_app(env, base / "streamlit.log") as (url, _):
        yield url, ws


def _sign_in_form(page, url: str):
    page.goto(url)
    page.wait_for_selector("[data-testid='stForm']")
    _settle(page)
    time.sleep(1.0)  # the sidebar's slide, if any, is over
    return page.locator("[data-testid='stForm']").first


def _covered(page, locator) -> bool:
    """Whether something else (the sidebar) is drawn over the middle of ``locator``."""
    return not locator.evaluate("""e => { const r = e.getBoundingClientRect();
        const top = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
        return top !== null && (e === top || e.contains(top)); }""")


def test_the_sign_in_form_is_in_view_on_a_phone(accounts_office, browser, external):
    """QA #14: at 390 x 844 the sign-in page opened with the sidebar drawn over the form."""
    from tests.e2e.conftest import block_external

    url, _ = accounts_office
    for (w, h), name in (((390, 844), "phone"), ((1500, 1000), "desktop")):
        ctx = browser.new_context(viewport={"width": w, "height": h}, locale="zh-CN")
        block_external(ctx, external)
        page = ctx.new_page()
        form = _sign_in_form(page, url)
        page.screenshot(path=str(ARTIFACTS / f"25_security_sign_in_{name}.png"))
        user = form.locator("input[type='text']").first
        assert user.is_visible() and not _covered(page, user), f"{name}: the sign-in form is covered"
        side = page.locator("[data-testid='stSidebar']").first.bounding_box()
        if name == "phone":
            assert side is None or side["x"] + side["width"] <= 1, side  # closed, one tap away
        else:  # on a wide screen the sidebar (language, workspace) stays open beside the form
            assert side is not None and side["x"] >= 0 and side["width"] > 100, side
            assert page.locator("[data-testid='stSidebar']").get_by_text("English").is_visible()
        user.fill("pam")
        form.locator("input[type='password']").first.fill("planner-pass-3")
        form.get_by_role("button").last.click()
        page.wait_for_selector("[data-testid='stSidebarNav']", state="attached", timeout=60_000)
        _settle(page)
        if name == "phone":  # sign out from the sidebar (opened for it): the next sign-in form is in view again
            page.locator("[data-testid='stExpandSidebarButton']").first.click()
            page.get_by_role("button", name="退出登录").click()
            form = page.locator("[data-testid='stForm']").first
            form.wait_for(timeout=30_000)
            _settle(page)
            time.sleep(1.0)
            page.screenshot(path=str(ARTIFACTS / "25_security_sign_in_phone_again.png"))
            assert not _covered(page, form.locator("input[type='text']").first), "phone: covered after a sign-out"
        ctx.close()
    assert external == []


def test_disable_on_the_accounts_page_disables_and_never_enables(accounts_office, page, external):
    """QA #1: after 停用账号 the button kept its label, and a second click enabled the account again."""
    from planner.io.store import GpkgStore

    url, ws = accounts_office
    store = GpkgStore(ws)
    form = _sign_in_form(page, url)
    form.locator("input[type='text']").first.fill("ada")
    form.locator("input[type='password']").first.fill("admin-pass-1")
    form.get_by_role("button").last.click()
    page.wait_for_selector("[data-testid='stSidebarNav']", timeout=60_000)
    _settle(page)
    page.locator("[data-testid='stSidebarNav'] a", has_text="账号管理").first.click()
    page.locator("h1", has_text="账号管理").first.wait_for(timeout=30_000)
    _settle(page)
    box = page.locator("[data-testid='stMain'] [data-testid='stSelectbox']").filter(
        has=page.locator("label", has_text=re.compile("^用户名$"))).first
    box.locator("button").first.click()
    page.get_by_role("option", name=re.compile(r"^pam · ")).first.click()
    _settle(page)
    page.get_by_role("button", name="停用账号").click()
    page.get_by_role("button", name="启用账号").wait_for(timeout=30_000)
    _settle(page)
    page.screenshot(path=str(ARTIFACTS / "26_security_account_disabled.png"), full_page=True)
    assert bool(store.user_record("pam")["disabled"])
    assert page.get_by_role("button", name="停用账号").count() == 0  # no button left that would enable it
    assert page.get_by_text("已停用账号 pam").first.is_visible()
    page.get_by_role("button", name="启用账号").hover()  # what was "Disable" a moment ago: nothing clicked twice
    assert bool(store.user_record("pam")["disabled"])
    assert store.audit_log()["action"].tolist().count("user_enable") == 0
    assert external == []
