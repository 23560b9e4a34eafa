"""The app as users feel it: wall clock in headless Chromium from an action until the page has settled.

    python benchmarks/bench_app_browser.py                      # the 20k sample city and the naive peer
    python benchmarks/bench_app_browser.py --workspace WS.gpkg [--prepare SRC.gpkg] [--reps 10] [--actions a,b]

Starts the app the README way (``streamlit run serve.py`` with ``PLANNER_WORKSPACE``,
as ``make run`` does), on a workspace that holds flags, sites and two saved
scenarios (``planner classify``, ``planner sites``, ``planner scenario run``;
``--prepare`` runs them on a copy of SRC),
drives it in headless Debian Chromium with every non-localhost request blocked,
and prints p50 and p95 per action beside the target of issues 16 and 19.

**Settled** means, concretely: the action's own end state is visible (the
detail heading of the clicked parcel, the new metric value, the map of the
page, ...), Streamlit shows no "running" status widget and no spinner, and the
signature of every Leaflet map on the page (number of drawn features, first
and last feature outline, zoom; ``window.__plannerSig`` where the map sets it)
has not changed for ``--quiet`` seconds (0.5). The time reported is from the
action to the last change seen, the quiet window is not counted.

The naive peer (``--peer``) is what one writes first: a folium map of the
whole parcel layer through streamlit-folium (``benchmarks/naive_map_app.py``),
timed for its first load, a pan and a click in the same run.

``--app-root DIR`` runs the app of another checkout (e.g. ``/work/main``: the
app before this work) on the same workspace, for a before/after table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CHROMIUM = os.environ.get("PLANNER_CHROMIUM", "/usr/bin/chromium")
#: no host name resolves but localhost: nothing outside this machine can load (``block_external`` records any try)
OFFLINE_ARGS = ["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"]
CHROMIUM_ARGS = [*OFFLINE_ARGS, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
MAP_FRAME = "streamlit_folium"

#: Targets (p95 seconds, 2-core machine) at 20k and at 1M parcels (issue 16; issue 19 rows: "every page within
#: the app-speed targets"). None: no target set by the issues (measured and shown). A page opened in a new tab is
#: the first load of a new session (Streamlit boots its front end first: the warm reload row), so it has the
#: first-load target; switching pages within a session has the page-switch target.
TARGETS = {
    "cold_load": (5.0, None), "cold_first_load": (None, None), "warm_reload": (None, None),
    "zoom_grid_to_parcels": (1.0, 2.0), "pan_street": (1.0, 2.0), "zoom_street": (1.0, 2.0),
    "click_details": (1.0, 2.0), "colour_by": (1.0, 2.0), "search_parcel": (1.0, 2.0),
    "threshold_counts": (1.0, 2.0), "threshold_map": (1.5, None),
    "switch_to_sites": (1.5, None), "switch_to_map": (1.5, None), "sites_first_open": (5.0, None),
    "site_row_click": (1.0, 2.0), "site_edit": (1.0, None),
    "scenario_calculate": (1.5, None), "scenario_save": (1.5, None), "compare_new_session": (5.0, None),
    "switch_to_compare": (1.5, None),
    "map_after_save": (1.5, None), "return_street_zoom": (1.5, None),
}
LABELS = {
    "cold_load": "cold first load of the map page (new server; restart)",
    "cold_first_load": "... the first server on a new survey version (nothing kept on disk yet)",
    "warm_reload": "warm reload (new tab: a new session, browser cache warm)",
    "zoom_grid_to_parcels": "zoom across the grid -> parcels (13 -> 14)",
    "pan_street": "pan at street level",
    "zoom_street": "zoom at street level (17 -> 18)",
    "click_details": "click a parcel -> details",
    "colour_by": "change colour-by -> map updated",
    "search_parcel": "search a parcel id -> highlighted",
    "threshold_counts": "plot-ratio threshold -> counts",
    "threshold_map": "... -> map page reflects it",
    "switch_to_sites": "page switch map -> sites (map shown)",
    "switch_to_map": "page switch sites -> map (map shown)",
    "sites_first_open": "sites page, first open (new tab: a new session)",
    "site_row_click": "click a site row -> map zoomed, parcels filled",
    "site_edit": "remove a parcel from a site -> metrics, outline",
    "scenario_calculate": "scenario calculate",
    "scenario_save": "scenario save",
    "compare_new_session": "comparison page, new tab (a new session) after saving",
    "switch_to_compare": "page switch map -> comparison (metrics, maps shown)",
    "map_after_save": "map page after saving a scenario",
    "return_street_zoom": "back to the map at zoom 18 (grid frames seen)",
}

SIG_JS = """() => {
  if (window.__plannerSig !== undefined) return String(window.__plannerSig);
  const ps = document.querySelectorAll('path.leaflet-interactive');
  const n = ps.length;
  const z = window.map ? window.map.getZoom() : '';
  if (!n) return '0:' + z;
  return n + ':' + (ps[0].getAttribute('d') || '').slice(0, 30) + ':' + (ps[n - 1].getAttribute('d') || '').slice(-30) + ':' + z;
}"""
#: Installed in every frame: the time (epoch ms) of the last change of the document.
OBSERVE_JS = """(() => {
  window.__lastMut = Date.now();
  const start = () => new MutationObserver(() => { window.__lastMut = Date.now(); })
    .observe(document, {subtree: true, childList: true, characterData: true, attributes: true});
  start();
})();"""
#: The same, installed on demand on the frame's current document (an iframe's first document may be replaced).
LASTMUT_JS = """() => {
  if (!document.__plannerObs) {
    document.__plannerObs = new MutationObserver(() => { window.__lastMut = Date.now(); });
    document.__plannerObs.observe(document, {subtree: true, childList: true, characterData: true, attributes: true});
    window.__lastMut = window.__lastMut || Date.now();
  }
  return window.__lastMut || 0;
}"""
RUNNING_JS = """() => !!(document.querySelector('[data-testid="stStatusWidget"]') ||
  document.querySelector('[data-testid="stSpinner"]') || document.querySelector('[data-testid="stSkeleton"]'))"""


# ---------------------------------------------------------------------------------------------------- server
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_env(app_root: Path) -> dict:
    """The environment ``make run`` gives the server (``tasks.SERVER_ENV``), if the app tree has one."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_planner_tasks", app_root / "tasks.py")
    if spec is None or not (app_root / "tasks.py").is_file():
        return {}
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return dict(getattr(mod, "SERVER_ENV", {}))


@dataclass
class AppServer:
    """``streamlit run <script>`` on a free port (the README's ``make run``), with its log and memory."""

    workspace: Path
    app_root: Path = ROOT
    script: str = ""
    python: str = sys.executable
    env: dict = field(default_factory=dict)
    proc: subprocess.Popen | None = None
    url: str = ""
    log_path: Path | None = None

    def start(self, timeout: float = 120.0) -> AppServer:
        port = _free_port()
        if not self.script:  # the README way: `make run` starts serve.py (app.py where there is none)
            self.script = "serve.py" if (self.app_root / "serve.py").is_file() else "app.py"
        env = {**os.environ, **_run_env(self.app_root), "PLANNER_WORKSPACE": str(self.workspace), **self.env}
        env.pop("PLANNER_DATA_DIR", None)
        self.log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench_app_{port}.log"
        log = open(self.log_path, "w")  # noqa: SIM115
        cmd = [self.python, "-m", "streamlit", "run", self.script, "--server.headless", "true",
               "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]
        self.proc = subprocess.Popen(cmd, cwd=self.app_root, env=env, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.3)
        self.stop()
        msg = f"the app did not start within {timeout:.0f} s; log: {self.log_path}"
        raise RuntimeError(msg)

    def rss_gb(self) -> float:
        """Resident memory of the server process and its children (GB)."""
        if self.proc is None:
            return float("nan")
        pids, total = _tree(self.proc.pid), 0
        for pid in pids:
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        return total / 1e9

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc = None

    def __enter__(self) -> AppServer:
        return self if self.proc is not None else self.start()  # `with AppServer(...).start()`: one server

    def __exit__(self, *exc) -> None:
        self.stop()


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        with contextlib.suppress(OSError):
            for t in Path(f"/proc/{p}/task").iterdir():
                with contextlib.suppress(OSError):
                    todo.extend(int(c) for c in (t / "children").read_text().split())
    return sorted(set(out))


# ---------------------------------------------------------------------------------------------------- browser
def block_external(ctx, blocked: list) -> None:
    """Record every request for a URL that is not localhost, data:, blob: or about: (none may load).

    The browser cannot load them: it runs with ``OFFLINE_ARGS`` (no host but this machine resolves). The requests
    are watched, not routed: Playwright turns the browser's HTTP cache off in a context whose requests it routes,
    so every new tab fetched Streamlit's scripts again, which no planner's browser does (they are immutable).
    """

    def seen(request):
        url = request.url
        host = urlparse(url).hostname or ""
        if not (url.startswith(("data:", "blob:", "about:")) or host in ("127.0.0.1", "localhost")):
            blocked.append(url)

    ctx.on("request", seen)


def map_frames(page) -> list:
    return [f for f in page.frames if MAP_FRAME in (f.url or "")]


def signature(page) -> str:
    """Signature of the Leaflet maps on the page (changes when what they draw changes)."""
    parts = []
    for f in page.frames:  # make sure every frame's document is observed before an action
        with contextlib.suppress(Exception):
            f.evaluate(LASTMUT_JS)
    for f in map_frames(page):
        try:
            parts.append(f.evaluate(SIG_JS))
        except Exception:  # a frame being replaced
            parts.append("?")
    return "|".join(parts)


def running(page) -> bool:
    try:
        return bool(page.evaluate(RUNNING_JS))
    except Exception:  # navigation in progress
        return True


class Timeout(Exception):
    pass


def now_ms(page=None) -> float:
    """Epoch milliseconds (the browser and this process share the machine's clock)."""
    return time.time() * 1000.0


def last_change(page) -> float:
    """Epoch ms of the last change of the page or any of its frames (maps drawing, text appearing)."""
    out = 0.0
    for f in page.frames:
        try:
            out = max(out, float(f.evaluate(LASTMUT_JS)))
        except Exception:  # a frame being replaced: it changes now
            out = max(out, now_ms())
    return out


def wait_settled(page, t0: float, *, done: Callable[[], bool] | None = None, before: str | None = None,
                 quiet: float = 0.5, timeout: float = 120.0, watch: Callable[[], None] | None = None) -> float:
    """Seconds from ``t0`` (epoch ms) to the last change of the page once it has settled.

    Settled: ``done()`` is true, no Streamlit run or spinner is shown, no map is
    loading tiles, the map signature differs from ``before`` (when given), and
    nothing in any frame changed for ``quiet`` seconds. The end time is the
    last change seen by the browser itself (a MutationObserver in every frame),
    so the polling of this script does not add to the time.
    """
    while True:
        now = now_ms()
        if now - t0 > timeout * 1000:
            raise Timeout(f"not settled after {timeout:.0f} s")
        if watch is not None:
            watch()
        s = signature(page)
        ok = not running(page) and ":loading:" not in s and (before is None or s != before)
        if ok:
            lm = last_change(page)
            if now_ms() - lm >= quiet * 1000 and (done is None or done()):
                return max(0.0, (lm - t0) / 1000.0)
        time.sleep(0.05)


def map_eval(page, js: str, arg=None):
    """Evaluate ``js`` in the (first) map frame."""
    deadline = time.time() + 60
    while time.time() < deadline:
        for f in map_frames(page):
            try:
                if f.evaluate("() => !!window.map"):
                    return f.evaluate(js, arg)
            except Exception:  # frame replaced; look again
                continue
        time.sleep(0.1)
    raise Timeout("no Leaflet map on the page")


def map_point(page, lon: float, lat: float) -> tuple[float, float]:
    """Page coordinates of a lon/lat on the first map."""
    frame_el = page.locator(f"iframe[title*='{MAP_FRAME}']").first
    box = frame_el.bounding_box()
    p = map_eval(page, "([lat, lon]) => { const p = window.map.latLngToContainerPoint([lat, lon]); return [p.x, p.y]; }",
                 [lat, lon])
    return box["x"] + p[0], box["y"] + p[1]


def set_view(page, lon: float, lat: float, zoom: int) -> None:
    map_eval(page, "([lat, lon, z]) => window.map.setView([lat, lon], z, {animate: false})", [lat, lon, zoom])


def text_present(page, pattern: str) -> bool:
    try:
        return page.get_by_text(re.compile(pattern)).count() > 0
    except Exception:  # page replaced
        return False


def caption_text(page) -> str:
    try:
        return " ".join(page.locator("[data-testid='stCaptionContainer']").all_inner_texts())
    except Exception:  # page replaced
        return ""


def nav(page, label: str) -> None:
    page.locator("[data-testid='stSidebarNav'] a", has_text=label).first.click()


def goto(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("[data-testid='stSidebarNav']", timeout=600_000)


# ---------------------------------------------------------------------------------------------------- the city
def prepare_workspace(src: Path, dest: Path, *, min_area: float | None = None, log=print) -> Path:
    """A copy of ``src`` at ``dest`` with what the bench needs, made as an analyst would with the CLI.

    ``planner classify``, ``planner sites`` (``--min-area`` if given) and two
    ``planner scenario run`` are run where the workspace lacks flags, sites
    or scenarios; an existing ``dest`` that has them all is used as it is.
    """
    from planner.io.store import GpkgStore

    dest = Path(dest)
    if not dest.exists():
        import shutil

        shutil.copyfile(src, dest)
    store = GpkgStore(dest)
    cli = [sys.executable, "-m", "planner"]

    def run(*args):
        log("  $ planner " + " ".join(map(str, args)))
        subprocess.run([*cli, *map(str, args)], cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    if not store.has_layer("flags", "default"):
        run("classify", "-w", dest)
    if not store.has_layer("sites", "default"):
        # other settings are saved as the policy's site parameters: the app opens the sites with them
        run("sites", "-w", dest, *(["--min-area", min_area, "--save-params", "default"] if min_area is not None
                                   else []))
    docs = store.docs("scenario")
    have = set(docs["name"]) if len(docs) else set()
    for name in ("conservative_top10", "upstairs_all"):
        if name not in have:
            run("scenario", "run", ROOT / "scenarios" / f"{name}.toml", "-w", dest, "--out",
                dest.parent / f"{dest.stem}_scenarios")
    return dest


@dataclass
class City:
    """What the bench needs to know of the workspace: places with parcels, a site and its parcels."""

    spots: list  # [(parcel_id, lon, lat)] of flagged parcels spread over the city
    site_id: str | None
    site_parcels: list  # [(parcel_id, lon, lat)]
    n_parcels: int


def read_city(ws: Path, n_spots: int = 24) -> City:
    import numpy as np
    import pyproj

    from planner.io.store import GpkgStore

    store = GpkgStore(ws)
    cat = store.layers("flags")
    name = str(cat[cat["is_current"]]["name"].iloc[0])
    flags = store.read_layer("flags", name, columns=["parcel_id", "three_low"])
    tf = pyproj.Transformer.from_crs(flags.crs, 4326, always_xy=True)
    pts = flags.geometry.representative_point()
    rng = np.random.default_rng(7)
    flagged = np.flatnonzero(flags["three_low"].fillna(False).to_numpy(dtype=bool))
    pick = rng.choice(flagged, size=min(n_spots, len(flagged)), replace=False)
    lon, lat = tf.transform(pts.x.to_numpy()[pick], pts.y.to_numpy()[pick])
    spots = [(str(flags["parcel_id"].iloc[i]), float(a), float(b)) for i, a, b in zip(pick, lon, lat, strict=True)]
    site_id, sp = None, []
    sites = store.read_layer("sites", name, columns=["site_id", "rank", "status", "n_parcels"])
    ok = sites[(sites["status"] == "ok") & (sites["n_parcels"] >= 3)].sort_values("rank")
    if len(ok):
        site_id = str(ok["site_id"].iloc[0])
        ps = store.read_layer("site_parcels", name)
        ps = ps[ps["site_id"].astype(str) == site_id]
        x, y = tf.transform(ps.geometry.x.to_numpy(), ps.geometry.y.to_numpy())
        sp = [(str(p), float(a), float(b)) for p, a, b in zip(ps["parcel_id"], x, y, strict=True)]
    return City(spots, site_id, sp, len(flags))


# ---------------------------------------------------------------------------------------------------- actions
@dataclass
class Bench:
    server: AppServer
    browser: object
    city: City
    quiet: float = 0.5
    timeout: float = 120.0
    blocked: list = field(default_factory=list)
    notes: dict = field(default_factory=dict)
    _page: object = None
    _ctx: object = None

    # -- sessions
    def new_page(self):
        """A new browser (context: empty cache) with one page: a new Streamlit session."""
        if self._ctx is not None:
            self._ctx.close()
        self._ctx = self.browser.new_context(viewport={"width": 1500, "height": 1000}, locale="zh-CN")
        block_external(self._ctx, self.blocked)
        self._ctx.add_init_script(OBSERVE_JS)
        return self._tab()

    def new_tab(self):
        """A new tab in the same browser (its cache holds the app's scripts): a new Streamlit session.

        What a planner does who opens the app again, or a colleague's link, in
        the browser they use every day.
        """
        if self._ctx is None:
            return self.new_page()
        if self._page is not None:
            self._page.close()
        return self._tab()

    def _tab(self):
        self._page = self._ctx.new_page()
        self._page.set_default_timeout(int(self.timeout * 1000))
        return self._page

    @property
    def page(self):
        return self._page or self.new_page()

    def settle(self, t0, **kw) -> float:
        kw.setdefault("quiet", self.quiet)
        kw.setdefault("timeout", self.timeout)
        return wait_settled(self.page, t0, **kw)

    def open_map(self, fresh: bool = False, tab: bool = False) -> float:
        page = self.new_page() if fresh else self.new_tab() if tab else self.page
        t0 = now_ms()
        goto(page, self.server.url + "/")
        page.wait_for_selector(f"iframe[title*='{MAP_FRAME}']", timeout=int(self.timeout * 1000))
        return self.settle(t0, done=lambda: signature(page).split(":")[0] not in ("", "0", "?"))

    def spot(self, i: int):
        return self.city.spots[i % len(self.city.spots)]

    def at(self, i: int, zoom: int) -> None:
        _, lon, lat = self.spot(i)
        before = signature(self.page)
        set_view(self.page, lon, lat, zoom)
        self.settle(now_ms(), before=before)

    # -- map page
    def warm_reload(self, i: int) -> float:
        return self.open_map(tab=True)

    def zoom_grid_to_parcels(self, i: int) -> float:
        self.at(i, 13)
        before = signature(self.page)
        t0 = map_eval(self.page, "() => { const t = Date.now(); window.map.setZoom(14, {animate: false}); return t; }")
        # settled at 14: parcels where a tile holds few enough, finer grid cells in the densest tiles
        return self.settle(t0, before=before)

    def _grid_shown(self) -> bool:
        """Whether the parcel layer shows grid cells (tiled map: its signature; else the caption under the map)."""
        sig = signature(self.page)
        if ":grid:" in sig or ":features:" in sig:
            return ":grid:" in sig.split("|")[0]
        return "网格" in caption_text(self.page)

    def _map_ready(self) -> bool:
        sig = signature(self.page)
        return bool(map_frames(self.page)) and (":features:" in sig or "宗地块" in caption_text(self.page))

    def pan_street(self, i: int) -> float:
        if i == 0:
            self.at(i, 17)
        before = signature(self.page)
        t0 = map_eval(self.page, "() => { const t = Date.now(); window.map.panBy([350, 120], {animate: false}); return t; }")
        return self.settle(t0, before=before)

    def zoom_street(self, i: int) -> float:
        self.at(i, 17)
        before = signature(self.page)
        t0 = map_eval(self.page, "() => { const t = Date.now(); window.map.setZoom(18, {animate: false}); return t; }")
        return self.settle(t0, before=before)

    def click_details(self, i: int) -> float:
        pid, lon, lat = self.spot(i)
        self.at(i, 18)
        x, y = map_point(self.page, lon, lat)
        old = self._detail_heading()
        t0 = now_ms()
        self.page.mouse.click(x, y)
        # the parcel drawn under the point (a neighbour's outline may cover the spot's own parcel)
        try:
            return self.settle(t0, done=lambda: self._detail_heading() not in ("", old), timeout=8)
        except Timeout:  # the first click after a page load can go unanswered: the user clicks again
            self.notes["click_again"] = self.notes.get("click_again", 0) + 1
            self.page.mouse.click(x, y)
            return self.settle(t0, done=lambda: self._detail_heading() not in ("", old))

    def _detail_heading(self) -> str:
        try:
            hs = self.page.get_by_text(re.compile(r"^地块 \S+$")).all_inner_texts()
        except Exception:  # page replaced
            return ""
        return hs[0] if hs else ""

    def _pick(self, label: str, option: str) -> None:
        box = self.page.locator("[data-testid='stSelectbox']", has_text=label).first
        box.click()
        self.page.locator("[role='option']", has_text=option).first.click()

    def colour_by(self, i: int) -> float:
        if i == 0:
            self.at(i, 16)
        option = ["容积率", "三低分类"][i % 2]
        before = signature(self.page)
        box = self.page.locator("[data-testid='stSelectbox']", has_text="着色依据").first
        box.click()
        opt = self.page.locator("[role='option']", has_text=option).first
        opt.wait_for()
        t0 = now_ms()
        opt.click()
        return self.settle(t0, before=before)

    def search_parcel(self, i: int) -> float:
        pid, _, _ = self.spot(i + 5)
        box = self.page.get_by_placeholder("r3c4 / S0001").first
        box.fill(pid)
        t0 = now_ms()
        box.press("Enter")
        return self.settle(t0, done=lambda: text_present(self.page, rf"地块 {re.escape(pid)}$"))

    def return_street_zoom(self, i: int) -> float:
        self.at(i, 18)
        nav(self.page, "连片地块")
        self.settle(now_ms(), done=lambda: self._on("sites") and self._has_sites_map())
        seen = []

        def watch():
            if self._grid_shown():
                seen.append(1)

        t0 = now_ms()
        nav(self.page, "地图浏览")
        out = self.settle(t0, done=self._map_ready, watch=watch)
        self.notes["return_street_zoom"] = self.notes.get("return_street_zoom", 0) + (1 if seen else 0)
        return out

    # -- rules page
    def threshold_counts(self, i: int) -> float:
        if i == 0:
            nav(self.page, "三低识别")
            self.settle(now_ms(), done=lambda: self.page.locator("[data-testid='stMetric']").count() > 0)
        inp = self.page.locator("[data-testid='stNumberInput'] input").nth(0)
        old = self._metric(0)
        inp.fill(f"{0.9 + 0.05 * (i % 5):.2f}")
        t0 = now_ms()
        inp.press("Enter")
        return self.settle(t0, done=lambda: self._metric(0) != old or i == 0)

    def _metric(self, n: int) -> str:
        try:
            return self.page.locator("[data-testid='stMetricValue']").nth(n).inner_text(timeout=2000)
        except Exception:  # not there yet
            return ""

    def threshold_map(self, i: int) -> float:
        nav(self.page, "三低识别")
        self.settle(now_ms(), done=lambda: self.page.locator("[data-testid='stNumberInput']").count() > 0)
        inp = self.page.locator("[data-testid='stNumberInput'] input").nth(0)
        inp.fill(f"{0.8 + 0.05 * (i % 6):.2f}")
        inp.press("Enter")
        self.settle(now_ms())
        t0 = now_ms()
        nav(self.page, "地图浏览")
        return self.settle(t0, done=self._map_ready)

    # -- page switches and the sites page
    def _on(self, *paths: str) -> bool:
        """Whether the tab shows one of the pages at ``paths`` ("" is the default page, the map)."""
        from urllib.parse import urlparse

        return urlparse(self.page.url or "").path.strip("/") in paths

    def switch_to_sites(self, i: int) -> float:
        # each switch starts once the page before it is shown (its address too): the first switch of a tab once
        # timed a click on the page already shown, 0.00 s
        nav(self.page, "地图浏览")
        self.settle(now_ms(), done=lambda: self._on("", "map") and bool(map_frames(self.page)))
        t0 = now_ms()
        nav(self.page, "连片地块")
        return self.settle(t0, done=lambda: self._on("sites") and self._has_sites_map())

    def _has_sites_map(self) -> bool:
        return bool(map_frames(self.page)) and self.page.locator("[data-testid='stDataFrame']").count() > 0

    def switch_to_map(self, i: int) -> float:
        nav(self.page, "连片地块")
        self.settle(now_ms(), done=lambda: self._on("sites") and self._has_sites_map())
        t0 = now_ms()
        nav(self.page, "地图浏览")
        return self.settle(t0, done=lambda: self._on("", "map") and self._map_ready())

    def sites_first_open(self, i: int) -> float:
        page = self.new_tab()
        t0 = now_ms()
        goto(page, self.server.url + "/sites")
        return self.settle(t0, done=lambda: self._has_sites_map())

    def _open_sites(self) -> None:
        if not (self.page.url or "").endswith("/sites"):
            nav(self.page, "连片地块")
        self.settle(now_ms(), done=lambda: self._has_sites_map())

    def site_row_click(self, i: int) -> float:
        self._open_sites()
        grid = self.page.locator("[data-testid='stDataFrame']").first
        box = grid.bounding_box()
        before = signature(self.page)
        t0 = now_ms()
        page = self.page
        old = self._selected_caption()
        page.mouse.click(box["x"] + 12, box["y"] + 35 + 17 + 35 * (i % 4))
        return self.settle(t0, before=before, done=lambda: self._selected_caption() not in ("", old))

    def _selected_caption(self) -> str:
        m = re.search(r"当前片区：(S\d+)", caption_text(self.page))
        return m.group(1) if m else ""

    def site_edit(self, i: int) -> float:
        """Select the first site (row 1), remove one of its parcels by clicking it, undo it after."""
        self._open_sites()
        page = self.page
        if i == 0:
            grid = page.locator("[data-testid='stDataFrame']").first
            box = grid.bounding_box()
            page.mouse.click(box["x"] + 12, box["y"] + 35 + 17)
            self.settle(now_ms())
            page.get_by_text("从所选片区移除").first.click()
            self.settle(now_ms())
        pid, lon, lat = self.city.site_parcels[i % len(self.city.site_parcels)]
        _, clon, clat = self.city.site_parcels[0]
        set_view(page, lon, lat, 18)
        self.settle(now_ms())
        x, y = map_point(page, lon, lat)
        before_caption = caption_text(page)
        t0 = now_ms()
        page.mouse.click(x, y)
        out = self.settle(t0, done=lambda: caption_text(page) != before_caption)
        page.get_by_role("button", name=re.compile("撤销")).first.click()
        self.settle(now_ms())
        return out

    # -- scenarios and comparison
    def _open_scenarios(self) -> None:
        if not (self.page.url or "").endswith("/scenarios"):
            nav(self.page, "情景模拟")
        self.settle(now_ms(), done=lambda: self.page.locator("[data-testid='stMetric']").count() > 0)

    def scenario_calculate(self, i: int) -> float:
        self._open_scenarios()
        page = self.page
        inp = page.locator("[data-testid='stNumberInput']", has_text="前").locator("input").first
        inp.fill(str(5 + i % 7))
        old = self._metric(0)
        t0 = now_ms()
        page.locator("[data-testid='stFormSubmitButton'] button").first.click()
        return self.settle(t0, done=lambda: self._metric(0) != old or i % 7 == 0)

    def scenario_save(self, i: int) -> float:
        self._open_scenarios()
        page = self.page
        name = f"bench{os.getpid()}_{i}"  # a new name: no overwrite confirmation, also when run again
        page.locator("[data-testid='stTextInput']", has_text="情景名称").locator("input").first.fill(name)
        page.locator("[data-testid='stFormSubmitButton'] button").first.click()
        self.settle(now_ms())
        t0 = now_ms()
        page.get_by_role("button", name=re.compile("保存情景")).first.click()
        return self.settle(t0, done=lambda: text_present(page, rf"已保存：{name} "))

    def map_after_save(self, i: int) -> float:
        self.scenario_save(i + 100)
        t0 = now_ms()
        nav(self.page, "地图浏览")
        return self.settle(t0, done=self._map_ready)

    def compare_new_session(self, i: int) -> float:
        page = self.new_tab()
        t0 = now_ms()
        goto(page, self.server.url + "/compare")
        return self.settle(t0, done=self._compare_shown)

    def _compare_shown(self) -> bool:
        return self.page.locator("[data-testid='stMetric']").count() > 0 and bool(map_frames(self.page))

    def switch_to_compare(self, i: int) -> float:
        nav(self.page, "地图浏览")
        self.settle(now_ms(), done=lambda: self._on("", "map") and self._map_ready())
        t0 = now_ms()
        nav(self.page, "情景对比")
        return self.settle(t0, done=lambda: self._on("compare") and self._compare_shown())


def cold_load(ws: Path, browser, *, app_root: Path = ROOT, timeout: float = 300.0, cache: Path | None = None,
              wait_kept: bool = False) -> tuple[float, float]:
    """A new server and a new browser session: seconds until the map is settled; also the server RSS (GB).

    ``cache``: the server's disk cache folder (``PLANNER_CACHE_DIR``; empty: the first server on this survey
    version). ``wait_kept``: keep the server up until its warm-up has kept the parcels, flags and sites there (what a
    server started later reads).
    """
    env = {"PLANNER_CACHE_DIR": str(cache)} if cache is not None else {}
    with AppServer(ws, app_root=app_root, env=env).start() as srv:
        b = Bench(srv, browser, City([], None, [], 0), timeout=timeout)
        try:
            t = b.open_map(fresh=True)
            rss = srv.rss_gb()
        finally:
            if b._ctx is not None:
                b._ctx.close()
        if wait_kept and cache is not None:
            _wait_kept(cache, timeout)
        return t, rss


def _wait_kept(cache: Path, timeout: float) -> None:
    """Wait until the warm-up has kept the parcels and the shipped rules' flags in ``cache`` (and a moment more)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        names = {p.name.split("-")[0] for p in cache.glob("*-*") if (p / "meta.json").is_file()}
        if {"parcels", "indicators", "flags"} <= names:
            time.sleep(5)  # the sites, written right after
            return
        time.sleep(0.5)
    print(f"  (the warm-up kept nothing in {cache} within {timeout:.0f} s)", flush=True)


ORDER = ["warm_reload", "zoom_grid_to_parcels", "pan_street", "zoom_street", "click_details", "colour_by",
         "search_parcel", "return_street_zoom", "switch_to_sites", "switch_to_map", "site_row_click", "site_edit",
         "threshold_counts", "threshold_map", "scenario_calculate", "scenario_save", "map_after_save",
         "switch_to_compare", "compare_new_session", "sites_first_open"]
QUICK = ["pan_street", "click_details", "colour_by", "switch_to_sites", "site_row_click"]


def pct(xs: list[float], q: float) -> float:
    xs = sorted(x for x in xs if math.isfinite(x))
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def run_actions(ws: Path, actions: list[str], reps: int, *, browser, app_root: Path = ROOT, quiet: float = 0.5,
                timeout: float = 120.0, sessions: int = 0, log=print, cache: Path | None = None) -> dict:
    """Run ``actions`` ``reps`` times each on one warm server; returns {action: [seconds]} plus memory notes."""
    city = read_city(ws)
    out: dict = {"_notes": {}}
    env = {"PLANNER_CACHE_DIR": str(cache)} if cache is not None else {}
    with AppServer(ws, app_root=app_root, env=env).start() as srv:
        b = Bench(srv, browser, city, quiet=quiet, timeout=timeout)
        t = b.open_map(fresh=True)  # warm the server caches (the first open is the cold_load row)
        log(f"  first open on a fresh server: {t:.2f} s")
        out["_notes"]["rss_one_user_gb"] = srv.rss_gb()
        for a in actions:
            times = []
            b.new_tab()  # a new session in the same browser (one planner's browser through the day)
            b.open_map()
            for i in range(reps):
                try:
                    times.append(getattr(b, a)(i))
                except Exception as exc:  # a timeout or a missing element: recorded, the run goes on
                    log(f"  {a} #{i}: {type(exc).__name__}: {str(exc)[:160]}")
                    times.append(float("nan"))
                    with contextlib.suppress(Exception):
                        b.new_page()
                        b.open_map()
            out[a] = times
            out["_notes"].setdefault("rss_gb_after", {})[a] = round(srv.rss_gb(), 2)
            log(f"  {a:<24} p50 {pct(times, .5):6.2f} s  p95 {pct(times, .95):6.2f} s  "
                f"({', '.join(f'{x:.2f}' for x in times)})  server {srv.rss_gb():.2f} GB")
        out["_notes"].update(b.notes)
        out["_notes"]["rss_after_actions_gb"] = srv.rss_gb()
        if sessions:
            ctxs = []
            for _ in range(sessions):  # extra users: each opens the map and the sites page
                ctx = browser.new_context(viewport={"width": 1500, "height": 1000}, locale="zh-CN")
                ctx.add_init_script(OBSERVE_JS)
                block_external(ctx, b.blocked)
                pg = ctx.new_page()
                goto(pg, srv.url + "/")
                wait_settled(pg, now_ms(), done=lambda pg=pg: bool(map_frames(pg)), timeout=timeout)
                nav(pg, "连片地块")
                wait_settled(pg, now_ms(), timeout=timeout)
                ctxs.append(ctx)
            out["_notes"][f"rss_plus_{sessions}_sessions_gb"] = srv.rss_gb()
            for c in ctxs:
                c.close()
        out["_notes"]["external_requests"] = len(b.blocked)
        if b._ctx is not None:
            b._ctx.close()
    return out


def run_peer(ws: Path, reps: int, *, browser, quiet: float = 0.5, timeout: float = 300.0, log=print) -> dict:
    """The naive peer: the whole parcel layer as one folium GeoJson through streamlit-folium."""
    city = read_city(ws)
    out = {}
    with AppServer(ws, script=str(ROOT / "benchmarks" / "naive_map_app.py")).start() as srv:
        b = Bench(srv, browser, city, quiet=quiet, timeout=timeout)

        def open_peer(fresh=True):
            page = b.new_page() if fresh else b.page
            t0 = now_ms()
            page.goto(srv.url)
            page.wait_for_selector(f"iframe[title*='{MAP_FRAME}']", timeout=int(timeout * 1000))
            return b.settle(t0, done=lambda: signature(page).split(":")[0] not in ("", "0", "?"))

        log(f"  peer first open: {open_peer():.2f} s")
        rows = {"warm_reload": [], "pan_street": [], "zoom_street": [], "click_details": []}
        for i in range(reps):
            for a in rows:
                try:
                    if a == "warm_reload":
                        rows[a].append(open_peer())
                        continue
                    rows[a].append(getattr(b, a)(i) if a != "click_details" else _peer_click(b, i))
                except Exception as exc:
                    log(f"  peer {a} #{i}: {type(exc).__name__}: {str(exc)[:160]}")
                    rows[a].append(float("nan"))
        for a, v in rows.items():
            log(f"  peer {a:<20} p50 {pct(v, .5):6.2f} s  p95 {pct(v, .95):6.2f} s")
        out.update(rows)
        out["_rss_gb"] = srv.rss_gb()
    return out


def _peer_click(b: Bench, i: int) -> float:
    pid, lon, lat = b.spot(i)
    b.at(i, 18)
    x, y = map_point(b.page, lon, lat)
    t0 = now_ms()
    b.page.mouse.click(x, y)
    return b.settle(t0, done=lambda: text_present(b.page, re.escape(pid)))


def table(results: dict, label: str, col: int, peer: dict | None = None) -> str:
    lines = [f"| action | {label} p50 | {label} p95 | target p95 | peer p50 |", "|---|---|---|---|---|"]
    for a in [*ORDER, "cold_load", "cold_first_load"]:
        if a not in results:
            continue
        v = results[a]
        tgt = TARGETS.get(a, (None, None))[col]
        p = peer.get(a) if peer else None
        mark = "" if tgt is None or not math.isfinite(pct(v, .95)) else (" ✓" if pct(v, .95) <= tgt else " ✗")
        lines.append(f"| {LABELS[a]} | {_s(pct(v, .5))} | {_s(pct(v, .95))}{mark} | "
                     f"{'< ' + format(tgt, '.1f') + ' s' if tgt else '—'} | {_s(pct(p, .5)) if p else '—'} |")
    return "\n".join(lines)


def _s(x: float) -> str:
    return "timeout" if not math.isfinite(x) else f"{x:.2f} s"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workspace", type=Path, default=None,
                    help="a workspace with flags, sites and two scenarios (see --prepare); default: the sample "
                         "city, prepared in benchmarks/out/ (and the naive peer is timed too)")
    ap.add_argument("--prepare", type=Path, default=None, metavar="SRC",
                    help="first make --workspace from the workspace SRC with the CLI (classify, sites, scenarios)")
    ap.add_argument("--label", default=None, help="column label, e.g. 20k or 1M")
    ap.add_argument("--size", choices=("20k", "1M"), default=None, help="which targets apply (default: by size)")
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--cold-reps", type=int, default=3)
    ap.add_argument("--actions", default=",".join(ORDER), help="comma-separated; 'quick' for the CI set")
    ap.add_argument("--sessions", type=int, default=2, help="extra browser sessions for the memory row")
    ap.add_argument("--peer", action="store_true", help="also time the naive folium peer")
    ap.add_argument("--peer-reps", type=int, default=1,
                    help="repetitions of the peer's actions (its pan and zoom do not settle: each waits --peer-timeout)")
    ap.add_argument("--peer-timeout", type=float, default=60.0)
    ap.add_argument("--app-root", type=Path, default=ROOT)
    ap.add_argument("--quiet", type=float, default=0.5)
    ap.add_argument("--timeout", type=float, default=180.0)
    ap.add_argument("--json", type=Path, default=None, help="write the raw times here")
    a = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    if a.workspace is None:  # `make bench`: the 20k sample city beside the naive peer
        (ROOT / "benchmarks" / "out").mkdir(exist_ok=True)
        a.workspace, a.prepare, a.peer = ROOT / "benchmarks" / "out" / "bench_city20k.gpkg", a.prepare or (
            ROOT / "gis_data" / "sample_city.gpkg"), True
    if a.prepare is not None:
        prepare_workspace(a.prepare, a.workspace)
    actions = QUICK if a.actions == "quick" else [x for x in a.actions.split(",") if x]
    bad = [x for x in actions if x not in ORDER]
    if bad:
        ap.error(f"unknown actions {bad}; choose from {ORDER}")
    print(f"machine: {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f} "
          f"{os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} at start", flush=True)
    results: dict = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        colds, rss = [], []
        cache = Path(tempfile.mkdtemp(prefix="bench-app-cache-"))  # the servers' disk cache, empty at first
        if a.cold_reps:
            t, r = cold_load(a.workspace, browser, app_root=a.app_root, timeout=max(a.timeout, 300), cache=cache,
                             wait_kept=True)
            results["cold_first_load"] = [t]
            print(f"  cold first load, nothing kept on disk: {t:.2f} s (server {r:.2f} GB)", flush=True)
        for _ in range(a.cold_reps):
            t, r = cold_load(a.workspace, browser, app_root=a.app_root, timeout=max(a.timeout, 300), cache=cache)
            colds.append(t)
            rss.append(r)
            print(f"  cold first load (restart): {t:.2f} s (server {r:.2f} GB)", flush=True)
        if colds:
            results["cold_load"] = colds
        results.update(run_actions(a.workspace, actions, a.reps, browser=browser, app_root=a.app_root,
                                   quiet=a.quiet, timeout=a.timeout, sessions=a.sessions,
                                   log=lambda s: print(s, flush=True), cache=cache))
        shutil.rmtree(cache, ignore_errors=True)
        peer = run_peer(a.workspace, a.peer_reps, browser=browser, quiet=a.quiet, timeout=a.peer_timeout,
                        log=lambda s: print(s, flush=True)) if a.peer else None
        browser.close()
    notes = results.pop("_notes", {})
    n = read_city(a.workspace, 1).n_parcels
    size = a.size or ("1M" if n > 200_000 else "20k")
    label = a.label or f"{n:,}"
    print()
    print(table(results, label, 0 if size == "20k" else 1, peer))
    print()
    for k, v in notes.items():
        print(f"{k}: {v:.2f}" if isinstance(v, float) else f"{k}: {v}")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if a.json:
        a.json.write_text(json.dumps({"results": results, "notes": notes, "peer": peer}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
