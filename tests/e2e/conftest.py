"""Browser-test fixtures: the app server on a free port and an offline headless Chromium page.

The server is started like the README's ``make run`` (``streamlit run serve.py``
with ``PLANNER_WORKSPACE`` set; ``untiled_server``: ``streamlit run app.py``), on
a small hand-made workspace. Every request
to a host other than localhost is blocked and counted; tests assert the count
is zero. Skips with a reason when Chromium or Playwright is missing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.e2e._workspace import build_workspace

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = os.environ.get("PLANNER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_server(tmp_path_factory):
    """Start the app as ``make run`` does (the map tiled) on a fresh workspace; yield ``(base_url, workspace_path)``."""
    yield from _serve(tmp_path_factory, tiled=True)


@pytest.fixture(scope="module")
def untiled_server(tmp_path_factory):
    """``streamlit run app.py``: the app without its tile route (the map sends each view's features with the page)."""
    yield from _serve(tmp_path_factory, tiled=False)


def need_browser() -> None:
    """Skip, saying what to install, when Playwright or Chromium is missing."""
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium, or set PLANNER_CHROMIUM)")


@contextlib.contextmanager
def running_app(env: dict, log_path: Path, *, cmd: list[str] | None = None, extra_args=()):
    """The app on a free port of localhost, once its health check answers: yields ``(base_url, process)`` and
    stops it (and its children) afterwards.

    ``cmd`` is what starts it before the server arguments (default ``streamlit run app.py``); ``extra_args``
    follow them. Its output goes to ``log_path``, named when it does not start within 60 s.
    """
    port = _free_port()
    args = ["--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1", *extra_args]
    head = cmd or [sys.executable, "-m", "streamlit", "run", "app.py"]
    with open(log_path, "w") as log:
        proc = subprocess.Popen([*head, *args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.time() + 60
            while time.time() < deadline:
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    time.sleep(0.5)
            else:
                pytest.fail(f"the app did not start within 60 s; log: {log_path}")
            yield url, proc
        finally:
            _stop(proc)


def _serve(tmp_path_factory, *, tiled: bool):
    need_browser()
    ws = build_workspace(tmp_path_factory.mktemp("ws") / "e2e.gpkg")
    from planner import scenarios
    from planner.io.store import GpkgStore

    store = GpkgStore(ws)  # two saved scenarios for the comparison page
    store.save_doc("scenario", "top5", scenarios.Scenario(name="top5", sites=scenarios.SiteSelection(top=5)).to_dict())
    store.save_doc("scenario", "upstairs", scenarios.Scenario(
        name="upstairs", template="multi_storey", sites=scenarios.SiteSelection(top=8)).to_dict())
    env = {**os.environ, "PLANNER_WORKSPACE": str(ws)}
    cmd = None  # untiled: streamlit run app.py
    repo = Path(__file__).resolve().parents[2]
    if tiled and (Path(sys.prefix) / ".planner-installed-test").exists() \
            and Path(sys.prefix).resolve() == (repo / ".venv").resolve():
        # This checkout's own virtual environment, made by the README's commands: start the app exactly as
        # `make run` does (tasks.py run), in this environment. (Not a venv of another checkout: tasks.py
        # would re-install this checkout into it when the two pyproject.toml differ.)
        cmd = [sys.executable, "tasks.py", "run"]
        env["PLANNER_VENV"] = sys.prefix
    elif tiled:
        cmd = [sys.executable, "-m", "streamlit", "run", "serve.py"]
    with running_app(env, tmp_path_factory.mktemp("log") / "streamlit.log", cmd=cmd) as (url, _proc):
        yield url, ws


def _stop(proc: subprocess.Popen) -> None:
    """Stop the server and its children (tasks.py starts streamlit as a child)."""
    import signal

    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def external():
    """List of blocked non-localhost request URLs (shared by the page fixture)."""
    return []


def block_external(ctx, blocked: list) -> None:
    """Let a browser context load only localhost, data:, blob: and about: URLs; record and abort the rest."""

    def guard(route):
        host = urlparse(route.request.url).hostname or ""
        if route.request.url.startswith(("data:", "blob:", "about:")) or host in ("127.0.0.1", "localhost"):
            return route.continue_()
        blocked.append(route.request.url)
        return route.abort()

    ctx.route("**/*", guard)


@pytest.fixture
def page(browser, external):
    """A fresh page whose non-localhost requests are blocked and recorded in ``external``."""
    ctx = browser.new_context(viewport={"width": 1500, "height": 1000}, accept_downloads=True,
                              locale="zh-CN")

    block_external(ctx, external)
    pg = ctx.new_page()
    pg.set_default_timeout(30_000)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield pg
    ctx.close()
