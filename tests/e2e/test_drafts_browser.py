"""What only a browser shows of drafts (headless Chromium, offline): the scenario form after signing in again, and a
name with "</…>" in a message. Screenshots go to tests/artifacts/ (drafts_*.png)."""

from __future__ import annotations

import os
import re

import pytest

from tests.e2e.conftest import (
    ARTIFACTS,
    need_browser,
    running_app,
)
from tests.e2e.test_app_browser import _settle

pytestmark = pytest.mark.e2e
PASSWORD = "planner-pass-3"
DISPLAY = "Pam <b>x</b>"  # shown through a message (tr): the slash was taken for a server path and dropped


@pytest.fixture(scope="module")
def office_server(tmp_path_factory):
    """The app (``streamlit run app.py``) on a small workspace with a planner's account; yields the base URL."""
    need_browser()
    from planner.io.store import GpkgStore
    from planner.workflow import accounts as A
    from tests.e2e._workspace import build_workspace

    ws = build_workspace(tmp_path_factory.mktemp("office") / "office.gpkg")
    A.add_user(GpkgStore(ws), "pam", "planner", PASSWORD, display_name=DISPLAY)
    env = {**os.environ, "PLANNER_WORKSPACE": str(ws)}
    with running_app(env, tmp_path_factory.mktemp("log") / "streamlit.log") as (url, _):
        yield url


def _sign_in(page) -> None:
    form = page.locator("[data-testid='stForm']").first
    form.wait_for()
    form.locator("input[type='text']").first.fill("pam")
    form.locator("input[type='password']").first.fill(PASSWORD)
    form.get_by_role("button", name="登录").click()
    page.wait_for_selector("[data-testid='stSidebarNav']", timeout=60_000)
    _settle(page)


def _value(page, label: str) -> str:
    return page.get_by_label(label, exact=True).first.input_value()


def _set(page, label: str, value: str) -> None:
    box = page.get_by_label(label, exact=True).first
    box.fill(value)
    box.press("Enter")
    _settle(page)


def test_the_scenario_draft_comes_back_after_signing_in_again(office_server, page, external):
    page.goto(office_server)
    _sign_in(page)
    page.locator("[data-testid='stSidebarNav'] a", has_text="情景模拟").first.click()
    page.locator("h1", has_text="情景模拟").first.wait_for(timeout=60_000)
    _settle(page)
    _set(page, "情景名称", "my_draft")
    _set(page, "按排名取前 N 个片区", "6")
    page.get_by_role("button", name="计算").click()
    _settle(page)
    ratio = _value(page, "目标容积率")
    assert float(ratio) > 0
    page.locator("[data-testid='stSidebar']").get_by_role("button", name="退出登录").click()
    _settle(page)
    _sign_in(page)  # the same tab: a sign-in after a sign-out starts on the role's start page (the map)
    page.locator("h1", has_text="地图浏览").first.wait_for(timeout=60_000)
    assert "/scenarios" not in page.url, page.url  # the address bar too
    page.locator("[data-testid='stSidebarNav'] a", has_text="情景模拟").first.click()
    page.locator("h1", has_text="情景模拟").first.wait_for(timeout=60_000)
    _settle(page)
    page.screenshot(path=str(ARTIFACTS / "drafts_01_signed_in_again.png"), full_page=False)
    # it was: an empty name, top N 1, the first template, 2020 and every parameter 0.00. A sign-out takes the
    # session's drafts with it (the next person at this browser starts fresh: tests/test_sign_out.py), so the
    # form is a fresh scenario; after an idle expiry the same user gets the draft back (tests/test_app_drafts.py)
    assert (_value(page, "情景名称"), _value(page, "按排名取前 N 个片区")) == ("scenario_a", "5")
    assert float(_value(page, "目标容积率")) > 0 and float(_value(page, "综合造价（元/㎡）")) > 0
    assert _value(page, "起始年份") != "2020"
    page.get_by_role("button", name="计算").click()  # computes what the form shows
    _settle(page)
    assert _value(page, "情景名称") == "scenario_a" and _value(page, "按排名取前 N 个片区") == "5"
    # a name with a closing tag, in the message that refuses it: shown exactly as typed (the "/" was dropped)
    _set(page, "情景名称", "<b>x</b> =1+1")
    page.get_by_role("button", name="计算").click()
    _settle(page)
    page.get_by_role("button", name="保存情景").click()
    _settle(page)
    alert = page.locator("[data-testid='stAlert']", has_text=re.compile("斜杠")).first
    alert.wait_for(timeout=30_000)
    alert.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "drafts_02_name_with_slash.png"), full_page=False)
    assert "<b>x</b> =1+1" in alert.inner_text()
    signed_in = page.locator("[data-testid='stSidebar'] [data-testid='stCaptionContainer']", has_text="已登录").first
    assert DISPLAY in signed_in.inner_text(), signed_in.inner_text()
    assert external == []
