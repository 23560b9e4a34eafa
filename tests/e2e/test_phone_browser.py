"""The app on a phone (390 x 844) in headless Chromium, offline: every page as a decision maker and as a planner,
in both languages.

A phone opened with the sidebar drawn over the page (``initial_sidebar_state="expanded"``, for desktops); now
it opens on the page with the sidebar one tap away, and a desktop keeps it open beside the page. No page
scrolls sideways, runs wider than the screen or hides its title under the sidebar; rows of headline figures
keep two cards to a line. Screenshots go to tests/artifacts/ (phone_*.png).
"""

from __future__ import annotations

import os
import time

import pytest

from tests.e2e.conftest import ARTIFACTS, block_external, need_browser, running_app
from tests.e2e.test_app_browser import MAP_FRAME, _map_paths, _settle

pytestmark = pytest.mark.e2e

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
         "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
                       "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"}
PAGES = ("map", "rules", "sites", "scenarios", "compare", "data")
#: Pages whose map a phone draws (parcels, sites): their screenshots wait for it, and it must come.
MAP_PAGES = ("map", "sites")
USERS = {"dee": ("decision_maker", "decision-pass-4"), "pam": ("planner", "planner-pass-3")}

#: What of the page lies outside the screen: the document's width, and elements (not inside a box that scrolls
#: or clips them, such as a table's grid) reaching past its edges.
_FIT_JS = """() => {
  const W = window.innerWidth, out = [];
  const held = e => { for (let a = e.parentElement; a; a = a.parentElement) {
      if (getComputedStyle(a).overflowX !== 'visible' && a.getBoundingClientRect().right <= W + 1) return true; }
    return false; };
  for (const e of document.querySelectorAll('[data-testid="stMain"] *')) {
    const r = e.getBoundingClientRect();
    if (r.width && e.offsetParent && (r.right > W + 1 || r.left < -1) && !held(e))
      out.push((e.getAttribute('data-testid') || e.tagName) + ' ' + Math.round(r.left) + '..' + Math.round(r.right));
  }
  return {docW: document.documentElement.scrollWidth, mainW: document.querySelector('[data-testid="stMain"]').scrollWidth,
          W, out: out.slice(0, 10)};
}"""


@pytest.fixture(scope="module")
def phone_office(tmp_path_factory):
    """The app (``streamlit run app.py``) on a workspace with two saved scenarios and a decision maker, a planner."""
    need_browser()
    from planner import scenarios
    from planner.io.store import GpkgStore
    from planner.workflow import accounts as A
    from tests.e2e._workspace import build_workspace

    base = tmp_path_factory.mktemp("phone")
    ws = build_workspace(base / "ws.gpkg")
    store = GpkgStore(ws)
    store.save_doc("scenario", "top5", scenarios.Scenario(name="top5", sites=scenarios.SiteSelection(top=5)).to_dict())
    store.save_doc("scenario", "upstairs", scenarios.Scenario(
        name="upstairs", template="multi_storey", sites=scenarios.SiteSelection(top=8)).to_dict())
    A.add_user(store, "ada", "admin", "admin-pass-1", display_name="Ada")
    for name, (role, pw) in USERS.items():
        A.add_user(store, name, role, pw, display_name=name.title(), user="ada")
    env = {k: v for k, v in os.environ.items() if k not in ("PLANNER_WORKSPACES", "PLANNER_DATA_DIR")}
    env.update(PLANNER_WORKSPACE=str(ws))
    with running_app(env, base / "streamlit.log") as (url, _):
        yield url


def _sidebar_right(page) -> float:
    box = page.locator("[data-testid='stSidebar']").first.bounding_box()
    return 0.0 if box is None else box["x"] + box["width"]


def _covered(page, locator) -> bool:
    """Whether something else (the sidebar) is drawn over the middle of ``locator``."""
    return not locator.evaluate("""e => { const r = e.getBoundingClientRect();
        const top = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
        return top !== null && (e === top || e.contains(top)); }""")


def _go(page, name: str) -> None:
    """Tap » and a page's link, as a phone's user does; the sidebar closes over the new page."""
    page.locator("[data-testid='stExpandSidebarButton']").first.click()
    links = page.locator("[data-testid='stSidebarNav'] a")
    (links.first if name == "map" else page.locator(f"[data-testid='stSidebarNav'] a[href$='/{name}']").first).click()
    _settle(page)
    time.sleep(1.5)  # the sidebar's slide, the charts' first drawing


def test_a_phone_opens_on_the_page_and_a_desktop_beside_the_sidebar(app_server, browser, external):
    url, _ = app_server
    for name, opts in (("phone", PHONE), ("desktop", {"viewport": {"width": 1280, "height": 800}})):
        ctx = browser.new_context(**opts, locale="zh-CN")
        block_external(ctx, external)
        page = ctx.new_page()
        page.set_default_timeout(60_000)
        page.goto(url)
        page.wait_for_selector("[data-testid='stSidebarNav']", state="attached")
        page.locator("h1").first.wait_for()
        _settle(page)
        time.sleep(1.0)
        page.screenshot(path=str(ARTIFACTS / f"phone_start_{name}.png"))
        title = page.locator("h1").first
        assert title.is_visible() and not _covered(page, title), f"{name}: the page's title is under the sidebar"
        if name == "desktop":  # the sidebar (pages, language, workspace) stays open beside the page
            assert _sidebar_right(page) >= 200, _sidebar_right(page)
            assert page.locator("[data-testid='stSidebar']").get_by_text("English").is_visible()
        else:  # closed, one tap away; a page picked there shows, the sidebar closed again
            assert _sidebar_right(page) <= 1, _sidebar_right(page)
            _go(page, "compare")
            page.locator("h1", has_text="情景对比").first.wait_for()
            assert _sidebar_right(page) <= 1, _sidebar_right(page)
        ctx.close()
    assert external == []


# each role and each language once by default; the other two pairs with `-m slow` (35 s each)
@pytest.mark.parametrize(("user", "lang"), [
    pytest.param(user, lang, marks=[pytest.mark.slow] if (user, lang) in (("pam", "zh"), ("dee", "en")) else [],
                 id=f"{user}-{lang}")
    for user in USERS for lang in ("zh", "en")])
def test_every_page_fits_a_phone(phone_office, browser, external, user, lang):
    url = phone_office
    ctx = browser.new_context(**PHONE, locale="zh-CN")
    block_external(ctx, external)
    page = ctx.new_page()
    page.set_default_timeout(60_000)
    page.goto(url)
    form = page.locator("[data-testid='stForm']").first
    form.wait_for()
    _settle(page)
    if lang == "en":
        page.locator("[data-testid='stExpandSidebarButton']").first.click()
        page.locator("[data-testid='stSidebar']").get_by_text("English").click()
        _settle(page)
        page.locator("[data-testid='stSidebarCollapseButton'] button").first.click()
        time.sleep(1.0)
    form.locator("input[type='text']").first.fill(user)
    form.locator("input[type='password']").first.fill(USERS[user][1])
    form.get_by_role("button").last.click()
    page.wait_for_selector("[data-testid='stSidebarNav']", state="attached")
    _settle(page)
    problems = {}
    for name in PAGES:
        _go(page, name)
        title = page.locator("h1").first
        title.wait_for()
        if name in MAP_PAGES:  # the screenshot shows the drawn map, not its empty frame
            page.locator(MAP_FRAME).first.wait_for()
            if _map_paths(page, timeout=60.0) == 0:
                problems[name] = ["the map drew no parcels or sites"]
            time.sleep(0.5)
        page.screenshot(path=str(ARTIFACTS / f"phone_{user}_{lang}_{name}.png"))
        m = page.evaluate(_FIT_JS)
        bad = []
        if m["docW"] > m["W"] or m["mainW"] > m["W"]:
            bad.append(f"scrolls sideways: {m['docW']}/{m['mainW']} > {m['W']}")
        if m["out"]:
            bad.append(f"wider than the screen: {m['out']}")
        if not title.is_visible() or _covered(page, title) or _sidebar_right(page) > 1:
            bad.append("the title is under the sidebar")
        rows = page.evaluate("""() => [...document.querySelectorAll('[data-testid="stHorizontalBlock"]')]
            .map(r => [...r.children].filter(c => c.getAttribute('data-testid') === 'stColumn'))
            .filter(cs => cs.length >= 2 && cs.every(c => c.querySelector(':scope > div > div > [data-testid="stMetric"]')))
            .map(cs => cs.map(c => Math.round(c.getBoundingClientRect().top)))""")
        if any(len(set(r)) == len(r) for r in rows):  # a row of figures one card per line: a screen for two figures
            bad.append(f"rows of figures one per line: {rows}")
        if bad:
            problems[name] = problems.get(name, []) + bad
    ctx.close()
    assert problems == {}, problems
    assert external == []
