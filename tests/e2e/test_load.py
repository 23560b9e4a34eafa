"""Many users at once: 8 signed-in browser sessions on one PostGIS workspace.

One app server started as ``make run`` starts it (``streamlit run serve.py``:
the app with its map-tile route; ``PLANNER_WORKSPACE`` a ``postgresql://``
URI), one headless Chromium, eight browser contexts driven
at the same time (async Playwright): a GIS officer who publishes one survey
update, four planners who edit rules, save site settings and save a shared
scenario (so two of them meet a conflict now and then), three
decision-makers who browse the map and the comparison. Afterwards:

* nothing is lost: every save a session was told about is a version in the
  workspace, under that session's user in the audit log, and every version
  in the workspace is one a session was told about; a save that lost a race
  was told so in words (the conflict message), never silently;
* no session ever saw an error page (Streamlit's exception box or the app's
  "unexpected error");
* the latencies (p50 / p95 per action) are printed and written to
  ``tests/artifacts/load_latency.md``.

A step whose page stays stuck for two minutes is a *stall*: what the page
showed is recorded (address, headings, messages, screenshot), the server
dumps its threads' stacks into its log, and the step is tried once more from
its page link, as a person would click again, unless it had already clicked
a save or publish button (then it is an error: a second click could save
twice). A save click that brings no word for a minute, on an idle page, is
checked against the workspace's audit log: nothing saved means the click was
lost on a page being redrawn (a stall; clicked once more), a save made
without a word is an error. The stalls are printed with the latencies; a
step stuck twice fails the test, with the stalls and the server's stacks in
the failure.

The default run is short (one round per session); ``-m slow`` runs the
sessions for ``PLANNER_LOAD_SECONDS`` (default 180).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import random
import re
import signal
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.e2e.conftest import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    running_app,
)

pytestmark = [pytest.mark.e2e, pytest.mark.postgis]

PASSWORD = "load-test-pass-1"
SESSIONS = [("gus", "gis_staff"), ("pam", "planner"), ("pia", "planner"), ("pat", "planner"), ("pax", "planner"),
            ("dee", "decision_maker"), ("dan", "decision_maker"), ("dot", "decision_maker")]
SHARED_SCENARIO = "shared_plan"


@pytest.fixture(scope="module")
def office_server(tmp_path_factory, pg_dsn):
    """The app on a PostGIS copy of the e2e workspace with eight accounts; yields ``(url, uri, update file)``."""
    pytest.importorskip("playwright.async_api", reason="playwright is not installed")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    from planner import scenarios
    from planner.io.postgis import drop_workspace
    from planner.io.store import open_store
    from planner.io.transfer import copy_workspace
    from planner.workflow import accounts as A
    from tests.conftest import pg_uri
    from tests.e2e._workspace import build_workspace, grid_parcels

    d = tmp_path_factory.mktemp("load")
    gp = build_workspace(d / "ws.gpkg")
    uri = pg_uri(pg_dsn, f"t_{uuid.uuid4().hex[:12]}_load")
    copy_workspace(gp, uri)
    store = open_store(uri)
    store.save_doc("scenario", "top5", scenarios.Scenario(name="top5", sites=scenarios.SiteSelection(top=5)).to_dict())
    store.save_doc("scenario", "upstairs", scenarios.Scenario(
        name="upstairs", template="multi_storey", sites=scenarios.SiteSelection(top=8)).to_dict())
    A.add_user(store, "ada", "admin", PASSWORD)
    for name, role in SESSIONS:
        A.add_user(store, name, role, PASSWORD, user="ada")
    upd = grid_parcels(6, seed=11)  # a partial update: the south-west 6 x 6 parcels, new attributes
    upd["floor_area_m2"] = upd["floor_area_m2"] * 1.1
    upd_path = d / "update.geojson"
    upd.to_crs(4490).to_file(upd_path, driver="GeoJSON")
    env = {**os.environ, "PLANNER_WORKSPACE": uri, "PLANNER_LOCK_TIMEOUT": "120"}
    env.pop("PLANNER_DATA_DIR", None)
    env.pop("PLANNER_WORKSPACES", None)
    # as an office runs it (`make run`: `streamlit run serve.py`, the app with its map-tile route), with every
    # thread's stack written to the log on SIGUSR1 (a stall's diagnosis)
    boot = ("import faulthandler, runpy, signal, sys; faulthandler.register(signal.SIGUSR1, all_threads=True); "
            "sys.argv = ['streamlit', *sys.argv[1:]]; runpy.run_module('streamlit', run_name='__main__')")
    log = d / "streamlit.log"
    with running_app(env, log, cmd=[sys.executable, "-c", boot, "run", "serve.py"]) as (url, proc):
        yield Office(url, uri, upd_path, proc.pid, log)
    drop_workspace(uri)


class Office(NamedTuple):
    url: str
    uri: str
    update: Path
    server_pid: int
    server_log: Path


# --------------------------------------------------------------------------- one session
class Session:
    """One signed-in browser session and what it saw."""

    dumped = False  # the server's stacks are dumped once per run (the first stall)

    def __init__(self, page, user: str, role: str, office: Office) -> None:
        self.page, self.user, self.role = page, user, role
        self.server_pid, self.uri = office.server_pid, office.uri
        self.timings: list[tuple[str, float]] = []
        self.saves: list[tuple[str, str, int]] = []  # (kind, name, version) the page said were saved
        self.conflicts: list[str] = []
        self.errors: list[str] = []
        self.stalls: list[str] = []  # what the page showed when a step stayed stuck
        self.committed = False  # the running step has clicked a save or publish button
        self.browses = 0  # map drags made (their direction alternates)

    async def settle(self, timeout: float = 120.0) -> None:
        """Wait until the page run is over: no "running" widget for a whole second (it shows late under load)."""
        await asyncio.sleep(0.5)
        deadline = time.monotonic() + timeout
        quiet_since = None
        while time.monotonic() < deadline:
            if await self.page.locator("[data-testid='stStatusWidget']").count() == 0:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= 1.0:
                    break
            else:
                quiet_since = None
            await asyncio.sleep(0.15)
        await self.check_no_error_page()

    async def check_no_error_page(self) -> None:
        n_exc = await self.page.locator("[data-testid='stException']").count()
        unexpected = self.page.get_by_text(re.compile("出错（[A-Za-z]+Error）"))
        if n_exc or await unexpected.count():
            box = self.page.locator("[data-testid='stException']") if n_exc else unexpected
            text = (await box.first.inner_text())[:1500]
            self.errors.append(f"{self.user}: error on the page: {text}")
            await self.page.screenshot(path=str(ARTIFACTS / f"load_{self.user}_error_page.png"))

    async def timed(self, action: str, step) -> None:
        """Run ``step()`` (a coroutine function); a stall is recorded and the step tried once more (module doc)."""
        from playwright.async_api import TimeoutError as PlaywrightTimeout

        t = time.monotonic()
        for attempt in (1, 2):
            self.committed = False
            try:
                await step()
                break
            except PlaywrightTimeout as exc:
                await self.note_stall(action, exc)
                if self.committed or attempt == 2:
                    raise
        self.timings.append((action, time.monotonic() - t))  # a stall's two minutes included
        await asyncio.sleep(random.uniform(1.0, 3.0))  # a person reads the page before the next click

    async def note_stall(self, action: str, exc: Exception) -> None:
        """Record what the stuck page showed; have the server write its threads' stacks to its log (once)."""
        page = self.page
        try:
            heads = await page.locator("h1").all_inner_texts()
            alerts = [t[:300] for t in await page.locator("[data-testid='stAlert']").all_inner_texts()][:4]
            running = await page.locator("[data-testid='stStatusWidget']").count() > 0
            sign_in = await page.get_by_label("密码").count() > 0
            n = len(self.stalls) + 1
            await page.screenshot(path=str(ARTIFACTS / f"load_{self.user}_stall{n}.png"), full_page=True)
            seen = (f"at {page.url}, headings {heads}, messages {alerts}, page {'running' if running else 'idle'}"
                    f"{', the sign-in form shown' if sign_in else ''}")
        except Exception as why:  # the page itself may be gone
            seen = f"(the page could not be read: {type(why).__name__})"
        if self.server_pid and not Session.dumped:
            Session.dumped = True
            with contextlib.suppress(OSError):
                os.kill(self.server_pid, signal.SIGUSR1)
        first = str(exc).splitlines()[0][:200]
        self.stalls.append(f"{self.user} {action}{' (after its save click)' if self.committed else ''}: {first}; "
                           f"{seen}")

    async def nav(self, label: str) -> None:
        await self.page.locator("[data-testid='stSidebarNav'] a", has_text=label).first.click()
        await self.page.locator("h1", has_text=label).first.wait_for(timeout=120_000)
        await self.settle()

    async def sign_in(self, url: str) -> None:
        await self.page.goto(url)
        await self.page.get_by_label("用户名").fill(self.user)
        await self.page.get_by_label("密码").fill(PASSWORD)
        await self.page.get_by_role("button", name="登录").click()
        await self.page.wait_for_selector("[data-testid='stSidebarNav']", timeout=120_000)
        await self.settle()

    def _my_saves(self, kind: str) -> int:
        """How many saves of ``kind`` the workspace's audit log holds under this session's user."""
        from planner.io.store import open_store

        log = open_store(self.uri).audit_log()
        return int(((log["user"] == self.user) & (log["kind"] == kind)).sum())

    async def save(self, button: str, pattern: str, kind: str, name: str | None = None) -> None:
        """Click ``button`` and hear back (:meth:`_message`).

        No word after a minute and the page idle: the workspace says whether
        the click saved. If not, the click was lost on a page being redrawn
        (recorded as a stall) and is made once more; if it did, the page
        saved without saying so, an error.
        """
        before = await asyncio.to_thread(self._my_saves, kind)
        for attempt in (1, 2):
            self.committed = True
            await self.page.get_by_role("button", name=button).click()
            await self.settle()
            if await self._message(pattern, kind, name, wait=60.0 if attempt == 1 else 240.0):
                return
            running = await self.page.locator("[data-testid='stStatusWidget']").count()
            if attempt == 1 and not running and await asyncio.to_thread(self._my_saves, kind) == before:
                lost = RuntimeError("no word for 60 s and nothing saved: the click was lost, clicked again")
                await self.note_stall(f"{kind} save", lost)
                continue
            made = await asyncio.to_thread(self._my_saves, kind) - before
            self.errors.append(f"{self.user}: no saved or conflict message for {kind}/{name} "
                               f"({'the page is still running' if running else 'the page is idle'}; "
                               f"{made} save(s) of it in the workspace)")
            await self.page.screenshot(path=str(ARTIFACTS / f"load_{self.user}_{kind}_no_message.png"),
                                       full_page=True)
            return

    async def _message(self, pattern: str, kind: str, name: str | None = None, wait: float = 240.0) -> bool:
        """Wait for the saved message "已保存：NAME vN" (record it) or the conflict message; False: no word."""
        saved = self.page.get_by_text(re.compile(pattern))
        conflict = self.page.get_by_text(re.compile("之后已被保存为|已有同名"))  # a colleague saved first
        refused = self.page.locator("[data-testid='stAlertContentError']")  # any other refusal, in words
        confirm = self.page.get_by_role("button", name=re.compile("确认保存为"))  # "save as vN?" asked first
        deadline = time.monotonic() + wait  # a busy 2-core machine: page runs queue behind seven others
        clicked = False
        while time.monotonic() < deadline:
            if await saved.count():
                m = re.search(r"已保存：(.+) v(\d+)", await saved.first.inner_text())
                self.saves.append((kind, name or m.group(1), int(m.group(2))))
                return True
            if await conflict.count():
                self.conflicts.append(await conflict.first.inner_text())
                return True
            if await self.page.locator("[data-testid='stException']").count():
                await self.check_no_error_page()
                return True
            if await refused.count():
                self.conflicts.append("refused: " + await refused.first.inner_text())
                return True
            if not clicked and await confirm.count():
                clicked = True
                await confirm.first.click()
                await self.settle()
                continue
            await asyncio.sleep(0.2)
        return False

    # -- actions -------------------------------------------------------------------------------
    async def browse(self) -> None:
        await self.nav("地图浏览")
        frame = self.page.frame_locator("iframe[title='streamlit_folium.st_folium']").first
        await frame.locator("path.leaflet-interactive >> visible=true").first.wait_for(timeout=240_000)
        box = await self.page.locator("iframe[title='streamlit_folium.st_folium']").first.bounding_box()
        if box:  # pan the map: a drag in the middle of it
            x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            await self.page.mouse.move(x, y)
            await self.page.mouse.down()
            # back and forth, counted per browse: the tiled map keeps a tab's view from one visit to the next, so
            # drags one way only would take it off the parcels after a few rounds
            self.browses += 1
            dx = 120 if self.browses % 2 else -120
            await self.page.mouse.move(x + dx, y + dx / 2, steps=5)
            await self.page.mouse.up()
            await self.settle()

    async def compare(self) -> None:
        await self.nav("情景对比")
        await self.page.locator("[data-testid='stMetric']").first.wait_for(timeout=120_000)

    async def rule_edit(self, n: int) -> None:
        await self.nav("三低识别")
        box = self.page.get_by_label("容积率 <", exact=True).first
        await box.fill(f"{1.0 + 0.05 * (n % 8):.2f}")
        await box.press("Enter")
        await self.settle()
        name = f"rules_{self.user}"
        field = self.page.get_by_label("规则名称", exact=True).first
        await field.fill(name)
        await field.press("Enter")
        await self.settle()
        await self.save("保存规则", rf"已保存：{name} v\d+", "policy", name)

    async def site_edit(self, n: int) -> None:
        await self.nav("连片地块")
        await self.page.get_by_text("连片参数").first.click()
        gap = self.page.get_by_label("间隙容差（米）", exact=True).first
        await gap.fill(f"{2 + n % 3}")
        await self.page.get_by_role("button", name="计算").first.click()
        await self.settle()
        await self.save("保存连片参数", r"已保存：\S+ v\d+", "site_params")

    async def scenario_save(self, n: int) -> None:
        await self.nav("情景模拟")
        await self.page.locator("[data-testid='stMetric']").first.wait_for(timeout=120_000)
        name = self.page.get_by_label("情景名称", exact=True).first
        await name.click()
        await name.fill("")
        await name.press_sequentially(SHARED_SCENARIO, delay=30)  # typed, as a user would
        await name.press("Tab")
        top = self.page.get_by_label("按排名取前 N 个片区", exact=True).first
        await top.fill(str(3 + n % 5))
        await top.press("Tab")
        await asyncio.sleep(0.5)
        await self.page.get_by_role("button", name="计算").first.click()
        await self.settle()
        await self.save("保存情景", r"已保存：\S+ v\d+", "scenario")  # what the page says was saved is what counts

    async def publish(self, path: Path) -> None:
        await self.nav("数据管理")
        await self.page.locator("input[type='file']").first.set_input_files(str(path))
        await self.settle()
        await self.page.get_by_role("button", name="校验报告").click()
        await self.settle()
        self.committed = True
        await self.page.get_by_role("button", name="发布为新版本").click()
        await self.settle()
        done = self.page.get_by_text(re.compile(r"已发布调查版本 v(\d+)"))
        await done.first.wait_for(timeout=120_000)
        v = int(re.search(r"v(\d+)", await done.first.inner_text()).group(1))
        self.saves.append(("survey", "parcels", v))


async def _run_session(browser, office: Office, user: str, role: str, until: float, rounds: int) -> Session:
    url, update = office.url, office.update
    ctx = await browser.new_context(viewport={"width": 1400, "height": 950}, locale="zh-CN")

    async def guard(route):  # offline: only the app itself
        host = re.sub(r"^https?://([^/:]+).*", r"\1", route.request.url)
        if route.request.url.startswith(("data:", "blob:", "about:")) or host in ("127.0.0.1", "localhost"):
            await route.continue_()
        else:
            await route.abort()

    await ctx.route("**/*", guard)
    page = await ctx.new_page()
    page.set_default_timeout(120_000)
    s = Session(page, user, role, office)
    try:
        await s.timed("sign in", functools.partial(s.sign_in, url))
        n = 0
        while n < rounds or time.monotonic() < until:
            if role == "gis_staff":
                await s.timed("map browse", s.browse)
                if n == 0:
                    await s.timed("survey publish", functools.partial(s.publish, update))
            elif role == "planner":
                await s.timed("rule edit + save", functools.partial(s.rule_edit, n))
                await s.timed("site settings save", functools.partial(s.site_edit, n))
                await s.timed("scenario save", functools.partial(s.scenario_save, n))
            else:
                await s.timed("map browse", s.browse)
                await s.timed("comparison", s.compare)
            n += 1
            if n >= rounds and time.monotonic() >= until:
                break
    except Exception as exc:  # a step that never finished: recorded, and the test fails on it
        s.errors.append(f"{user}: {type(exc).__name__}: {str(exc)[:300]}")
        await page.screenshot(path=str(ARTIFACTS / f"load_{user}_failed.png"), full_page=True)
    await ctx.close()
    return s


async def _drive(office: Office, seconds: float, rounds: int) -> list[Session]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        until = time.monotonic() + seconds
        sessions = await asyncio.gather(*(_run_session(browser, office, u, r, until, rounds)
                                          for u, r in SESSIONS))
        await browser.close()
    return list(sessions)


def _latency_table(sessions: list[Session], wall: float) -> str:
    by: dict[str, list[float]] = {}
    for s in sessions:
        for a, t in s.timings:
            by.setdefault(a, []).append(t)
    load = os.getloadavg()
    lines = [f"8 sessions, {wall:.0f} s, machine load average {load[0]:.1f} (2 cores, shared; noisy)", "",
             "| action | n | p50 | p95 |", "|---|---|---|---|"]
    for a, ts in sorted(by.items()):
        ts = sorted(ts)
        p95 = ts[min(len(ts) - 1, round(0.95 * (len(ts) - 1)))]
        lines.append(f"| {a} | {len(ts)} | {statistics.median(ts):.1f} s | {p95:.1f} s |")
    return "\n".join(lines)


def _doc_versions(store) -> set[tuple[str, str, int]]:
    d = store.docs()
    return set(zip(d["kind"], d["name"], d["version"].astype(int), strict=True))


def _check(sessions: list[Session], uri: str, before: set, n_surveys: int) -> None:
    from planner.io.store import open_store

    errors = [e for s in sessions for e in s.errors]
    assert errors == [], errors + [st for s in sessions for st in s.stalls]
    store = open_store(uri)
    told = {(k, n, v): s.user for s in sessions for k, n, v in s.saves}
    # every save a session was told about is in the workspace, under that session's user
    log = store.audit_log()
    for (kind, name, v), user in told.items():
        if kind == "survey":
            row = log[(log["action"] == "publish_survey") & (log["version"] == v)]
        else:
            row = log[(log["kind"] == kind) & (log["name"] == name) & (log["version"] == v)]
        assert len(row) == 1 and row["user"].iloc[0] == user, (kind, name, v, user, row)
    # and every document version written during the run is one a session was told about
    new = _doc_versions(store) - before
    assert new == {k for k in told if k[0] != "survey"}, sorted(new ^ {k for k in told if k[0] != "survey"})
    assert len(store.surveys()) == n_surveys + 1 and ("survey", "parcels", n_surveys + 1) in told


def _load(office_server, seconds: float, rounds: int) -> None:
    from planner.io.store import open_store

    uri = office_server.uri
    Session.dumped = False
    store = open_store(uri)
    before, n_surveys = _doc_versions(store), len(store.surveys())
    t = time.monotonic()
    sessions = asyncio.run(_drive(office_server, seconds, rounds))
    wall = time.monotonic() - t
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    table = _latency_table(sessions, wall)
    errors = [e for s in sessions for e in s.errors]
    (ARTIFACTS / f"load_errors_{int(seconds)}s.txt").write_text("\n\n".join(errors), encoding="utf-8")
    (ARTIFACTS / f"load_latency_{int(seconds)}s.md").write_text(table + "\n", encoding="utf-8")
    print("\n" + table)
    n_conf = sum(len(s.conflicts) for s in sessions)
    told = "\n".join(f"{s.user}: {c}" for s in sessions for c in s.conflicts)
    (ARTIFACTS / f"load_conflicts_{int(seconds)}s.txt").write_text(told, encoding="utf-8")
    print(f"saves: {sum(len(s.saves) for s in sessions)}, conflicts told: {n_conf}")
    stalls = [st for s in sessions for st in s.stalls]
    (ARTIFACTS / f"load_stalls_{int(seconds)}s.txt").write_text("\n\n".join(stalls), encoding="utf-8")
    if stalls:  # told every time, with the server's stacks, whether or not the second try went through
        print(f"stalls ({len(stalls)}, each tried once more):\n" + "\n".join(stalls))
        print(_server_stacks(office_server.server_log))
    _check(sessions, uri, before, n_surveys)


def _server_stacks(log: Path, limit: int = 12_000) -> str:
    """The thread stacks the server wrote to its log at the first stall (faulthandler), and the lines before them."""
    time.sleep(1.0)  # the dump is written by the server's signal handler
    text = log.read_text(encoding="utf-8", errors="replace")
    at = text.find("Thread 0x")
    start = max(0, (at if at >= 0 else len(text)) - 2_000)
    return "server log at the first stall:\n" + text[start:start + limit]


def test_eight_sessions_at_once_lose_nothing(office_server):
    """Short variant: one round per session (sign in, the role's actions), all at once."""
    _load(office_server, seconds=0, rounds=1)


@pytest.mark.slow
def test_eight_sessions_for_minutes_lose_nothing(office_server):
    _load(office_server, seconds=float(os.environ.get("PLANNER_LOAD_SECONDS", "180")), rounds=1)
