"""An office's day in the browser, on both kinds of workspace (a GeoPackage file and a PostGIS schema).

The app is started as ``make run`` starts it (``streamlit run serve.py``) on
the e2e workspace with accounts, once per backend; a journey that works on one
backend must work on the other.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.e2e.conftest import ARTIFACTS, block_external, need_browser, running_app

pytestmark = pytest.mark.e2e

PASSWORD = "office-test-pass-1"
ROOT = Path(__file__).resolve().parents[2]

#: Holds one document's writer lock as an analyst's command would, for ``seconds`` (says "holding" first).
_HOLD = ("import sys, time; from planner.io.store import open_store; "
         "s = open_store(sys.argv[1]); "
         "cm = s.document_lock('scenario', sys.argv[2]); cm.__enter__(); print('holding', flush=True); "
         "time.sleep(float(sys.argv[3])); cm.__exit__(None, None, None)")


@pytest.fixture(scope="module", params=["gpkg", pytest.param("postgis", marks=pytest.mark.postgis)])
def office(request, tmp_path_factory):
    """The app on the e2e workspace with an administrator and a planner; yields ``(url, workspace)``."""
    need_browser()
    from planner.io.store import open_store
    from planner.workflow import accounts as A
    from tests.e2e._workspace import build_workspace

    d = tmp_path_factory.mktemp("office")
    ws = str(build_workspace(d / "ws.gpkg"))
    if request.param == "postgis":
        from planner.io.transfer import copy_workspace
        from tests.conftest import pg_uri

        uri = pg_uri(request.getfixturevalue("pg_dsn"), f"t_{uuid.uuid4().hex[:12]}_office")
        copy_workspace(ws, uri)
        ws = uri
    store = open_store(ws)
    A.add_user(store, "ada", "admin", PASSWORD)
    A.add_user(store, "pam", "planner", PASSWORD, user="ada", display_name="潘工")
    env = {**os.environ, "PLANNER_WORKSPACE": ws, "PLANNER_LOCK_TIMEOUT": "60"}
    env.pop("PLANNER_DATA_DIR", None)
    env.pop("PLANNER_WORKSPACES", None)
    try:
        with running_app(env, d / "streamlit.log", cmd=[sys.executable, "-m", "streamlit", "run", "serve.py"]) \
                as (url, _proc):
            yield url, ws
    finally:
        if request.param == "postgis":
            from planner.io.postgis import drop_workspace

            drop_workspace(ws)


def _settle(page) -> None:
    time.sleep(0.5)
    page.wait_for_function("() => !document.querySelector(\"[data-testid='stStatusWidget']\")", timeout=60_000)


def _signed_in(browser, url: str, user: str):
    ctx = browser.new_context(viewport={"width": 1400, "height": 950}, locale="zh-CN")
    block_external(ctx, [])
    page = ctx.new_page()
    page.set_default_timeout(60_000)
    page.goto(url)
    page.get_by_label("用户名").fill(user)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_selector("[data-testid='stSidebarNav']")
    _settle(page)
    return ctx, page


def test_a_save_waiting_for_a_colleague_says_who_it_waits_for(office, browser):
    """A planner saves a scenario while an analyst's command holds it: the page says at once whom the save waits
    for (it used to show nothing until the save went through or gave up, up to PLANNER_LOCK_TIMEOUT, 300 s by
    default), and the save goes through once the analyst is done."""
    url, ws = office
    name = f"plan_{uuid.uuid4().hex[:6]}"
    ctx, page = _signed_in(browser, url, "pam")
    try:
        page.locator("[data-testid='stSidebarNav'] a", has_text="情景模拟").first.click()
        page.locator("[data-testid='stMetric']").first.wait_for()
        field = page.get_by_label("情景名称", exact=True).first
        field.fill(name)
        field.press("Tab")
        page.get_by_role("button", name="计算").first.click()
        _settle(page)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "USER": "analyst_wang", "LOGNAME": "analyst_wang"}
        holder = subprocess.Popen([sys.executable, "-c", _HOLD, ws, name, "8"], cwd=ROOT, env=env,
                                  stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout.readline().strip() == "holding"
            page.get_by_role("button", name="保存情景").click()
            toast = page.locator("[data-testid='stToast']", has_text="analyst_wang")
            toast.first.wait_for(timeout=6_000)  # while the analyst still holds it
            said = toast.first.inner_text()
            page.screenshot(path=str(ARTIFACTS / f"office_save_waits_{'pg' if '://' in ws else 'gpkg'}.png"))
            assert re.search(r"工作空间正在被 analyst_wang（保存情景）\s*写入", said), said
            assert holder.poll() is None  # told while waiting, not afterwards
        finally:
            holder.wait(timeout=60)
        page.get_by_text(re.compile(rf"已保存：{name} v1")).first.wait_for(timeout=60_000)
    finally:
        ctx.close()


def test_a_planner_demoted_then_disabled_exports_nothing_more_from_the_page_she_had_open(office, browser):
    """The administrator makes a planner a decision-maker (no enterprise figures) and then disables her while her
    scenario page, with its report buttons, is open: a click on "download" gives no report (it used to give the
    Excel with every site's tax and output, made after the click from the page drawn before), and her next click
    says the account was disabled."""
    from planner.io.store import open_store
    from planner.workflow import accounts as A

    url, ws = office
    ctx, page = _signed_in(browser, url, "pam")
    store = open_store(ws)
    try:
        page.locator("[data-testid='stSidebarNav'] a", has_text="情景模拟").first.click()
        page.locator("[data-testid='stMetric']").first.wait_for()
        _settle(page)
        with page.expect_download(timeout=60_000):  # her own role: the report comes
            page.get_by_role("button", name="下载 Excel 报告").first.click()
        A.set_role(store, "pam", "decision_maker", user="ada")
        with pytest.raises(Exception, match="Timeout"), page.expect_download(timeout=8_000):
            page.get_by_role("button", name="下载 Excel 报告").first.click()
        A.set_disabled(store, "pam", True, user="ada")
        with pytest.raises(Exception, match="Timeout"), page.expect_download(timeout=8_000):
            page.get_by_role("button", name="下载 HTML 报告").first.click()
        page.locator("[data-testid='stSidebarNav'] a", has_text="地图浏览").first.click()
        page.get_by_text("此账号已被停用或删除").first.wait_for(timeout=30_000)
    finally:
        A.set_disabled(store, "pam", False, user="ada")
        A.set_role(store, "pam", "planner", user="ada")
        ctx.close()
