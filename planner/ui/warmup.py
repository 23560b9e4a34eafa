"""Warm the server's shared caches for the default workspace when the server starts.

``serve.py`` (what ``make run`` starts) calls :func:`start`: a background
thread imports the heavy libraries and fills the caches every session shares
(the parcels, their classification under the shipped rules, the map's spatial
index, the stored sites and the barrier/constraint layers) for the workspace
offered by default, so the first person to open the app after a restart does
not wait for them. Streamlit's resource caches compute a value once even
when a session asks for it while the warm-up is still computing it, so a
session that arrives early simply waits for the same result.

Nothing here reaches a browser: the caches are the ones the pages fill
themselves, roles and accounts still apply on every page. A failure is
logged and ignored (the page then reports it the usual way).
"""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger(__name__)


def warm(path: str | None = None) -> dict[str, float]:
    """Fill the shared caches for ``path`` (default: the workspace the server offers first).

    Returns the seconds spent per step (empty when there is nothing to warm).
    """
    from planner.ui import data, state

    path = path or state.default_workspace()
    if not path:
        return {}
    ok, _ = data.workspace_ok(path)
    if not ok or not data.has_survey(path):
        return {}
    steps: dict[str, float] = {}

    def step(name: str, fn) -> object:
        t = time.perf_counter()
        out = fn()
        steps[name] = round(time.perf_counter() - t, 3)
        return out

    policy = data.default_policy_dict()
    # what the map page's first run needs: the sites and the other layers read in a second thread meanwhile (GDAL's
    # reading and GEOS's parsing let the other thread run; 1M parcels: a cold start's first map 0.3-0.5 s sooner)
    layers: dict = {}

    def other_layers() -> None:
        try:
            sites = step("sites", lambda: data._saved_sites(path, data.data_stamp(path, data.SITE_KINDS)))
            layers["sites_index"] = step("sites_index", lambda: data.sites_index(sites))
            for kind in ("constraint", "barrier"):
                step(f"{kind}_index", lambda k=kind: data.layer_index(path, k))
        except Exception:  # the page reads them again and says what is wrong
            log.exception("warming the sites and map layers failed")

    second = threading.Thread(target=other_layers, name="planner-warmup-layers", daemon=True)
    second.start()
    step("classified", lambda: data.classified(path, policy))
    index = step("parcel_index", lambda: data.parcel_index(path, policy))
    step("land_uses", lambda: data.land_use_options(path, policy))
    step("max_area", lambda: data.max_area(path, policy))
    second.join()
    sites_idx = layers.get("sites_index")
    # then, while nobody waits for the server (the first visitor's map is not slowed by them), what later pages and
    # clicks need: a search's or a click's first look-up, the sites page's protected land and stored sites, the
    # comparison page's first runs and the libraries of the other pages; last, the parcels kept on disk for the next
    # server start (planner.io.framecache)
    later = [("parcel_ids", lambda: data.id_lookup(index)),
             ("site_ids", lambda: sites_idx is not None and data.id_lookup(sites_idx)),
             ("constraint_parts", lambda: data.constraint_parts(path)),
             ("stored_site_result", lambda: _stored_site_result(path, policy)),
             ("comparison", lambda: _comparison(path, policy)),
             ("imports", _import_pages),
             ("keep_on_disk", lambda: data.keep_on_disk(path))]
    for name, fn in later:
        _wait_quiet()
        step(name, fn)
    return steps


#: Longest wait (s) for a quiet moment before a later warm-up step runs anyway.
QUIET_WAIT_S = 30.0
#: How long (s) the server must have served nobody before a later warm-up step runs: longer than the pause between
#: a first visitor's page run and its map's tile requests (about 0.7 s), so the first map is not slowed by them
#: (20k parcels, 3 cold starts each: 2.66-2.98 s without the later steps, 3.27-4.00 s with a bare quiet check).
QUIET_S = 2.0


def _wait_quiet(limit: float | None = None, quiet: float | None = None) -> None:
    """Wait until no page has run and no map has fetched tiles for ``quiet`` seconds (at most ``limit`` seconds)."""
    from planner.ui import tiles

    limit = QUIET_WAIT_S if limit is None else limit
    quiet = QUIET_S if quiet is None else quiet
    now = time.monotonic()
    end, since = now + limit, None
    while now < end:
        if tiles.busy():
            since = None
        elif since is None:
            since = now
        elif now - since >= quiet:
            return
        time.sleep(0.05)
        now = time.monotonic()


def _comparison(path: str, policy: dict | None) -> None:
    from planner.ui import results

    results.prepare_comparison(path, policy)


def _stored_site_result(path: str, policy: dict | None) -> None:
    """What the sites page of a new session opens: the stored sites matching the saved settings, and their look-up."""
    from planner.ui import data, results

    opened = results.new_session_sites(path, policy)
    if opened is None:
        return  # the page builds the sites (on request); nothing stored to open
    base = opened[1]
    _ = data.site_of_parcel(results.result_sig(base, []), base.parcel_sites).index  # the tiles look parcels up in it


def _import_pages() -> None:
    """Import the heavy libraries the pages use (the first page run then pays no import).

    Not Streamlit components (``streamlit_folium``): a component imported
    outside a page run is registered with no server and its frontend is then
    not found (the map would not load).
    """
    import altair  # noqa: F401  (the charts of the scenario and comparison pages: 0.4 s)
    import folium  # noqa: F401
    import pyogrio  # noqa: F401

    from planner import maptiles  # noqa: F401
    from planner.report import charts, pdf  # noqa: F401  (matplotlib, the PDF fonts: the comparison page's first run)


def _run(path: str | None) -> None:
    t = time.perf_counter()
    try:
        steps = warm(path)
    except Exception:  # never fatal: the page that needs the value computes it and reports a problem itself
        log.exception("warming the caches failed")
        return
    if steps:
        log.info("caches warmed in %.1f s: %s", time.perf_counter() - t, steps)


def start(path: str | None = None) -> threading.Thread:
    """Warm the caches in a daemon thread (the server starts answering at once)."""
    th = threading.Thread(target=_run, args=(path,), name="planner-warmup", daemon=True)
    th.start()
    return th
