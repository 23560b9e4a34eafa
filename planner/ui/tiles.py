"""Map tiles served by the app's own server, and the Leaflet code that draws them in the map.

``serve.py`` (what ``make run`` starts) mounts :func:`routes` beside Streamlit
(``st.App``) and sets :data:`ENABLED`. A page that shows a map registers each
layer here (:func:`register`): the cached :class:`planner.maps.LayerIndex`, the
columns it shows, its colours, the attribute filter. That gives an
unguessable token; the map gets a small script (:class:`TileLayer`) that asks
``/_planner/tiles/<token>/<z>/<x>/<y>.json`` for the tiles covering its view
and draws them with Leaflet. A pan or zoom therefore costs the browser one
small request per new tile (cached by the browser and by the server) and the
server no page rerun; the data for a tile are computed by
:func:`planner.maptiles.tile_features`.

Security: a token is an HMAC of what the layer shows under a per-process
secret, is only handed to a session that rendered the map, and serves only
the columns that page chose to show (roles that hide fields hide them before
registering). Tokens and tiles live in bounded LRU tables shared by every
session (one copy of the parcel layer per server, not per session).

Memory: an index that knows how to get itself again (``index._reload``, set
by :mod:`planner.ui.data` on the parcel index of each rule variant) is held
here only weakly: the data caches decide how many variants stay in memory,
and a map still showing a variant they let go gets it back (recomputed once)
on its next tile. Other indexes are held as registered.

Without the route (``streamlit run app.py``, AppTest) :data:`ENABLED` is False
and :mod:`planner.ui.mapview` sends the features of the view with each render,
as before.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import hashlib
import hmac
import json
import math
import os
import secrets
import sys
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import folium
import numpy as np
from branca.element import MacroElement
from jinja2 import Template

from planner import maps, maptiles

#: True when the tile route is mounted in this server process (set by serve.py).
ENABLED = False
#: URL prefix of the route.
PREFIX = "/_planner/tiles"
_SECRET = secrets.token_bytes(32)
_LOCK = threading.Lock()
_SPECS: OrderedDict[str, _Held] = OrderedDict()
_TILES: OrderedDict[tuple, bytes] = OrderedDict()
MAX_SPECS = 512
#: Server-side tile cache budget (gzip-compressed tiles, 5-8x smaller than their JSON), shared by every session
#: (browsers cache theirs).
MAX_TILE_BYTES = 48 * 1024 * 1024
#: zlib level of the kept tiles: made once per tile (Starlette's middleware compressed every response at level 9).
GZIP_LEVEL = 6
_tile_bytes = 0
#: Tiles being made now, by address: a second request for one waits for it.
_INFLIGHT: dict[tuple, threading.Event] = {}
_PREFETCH: ThreadPoolExecutor | None = None
#: Zoom levels of the tile data; a map zoomed further shows the tiles of ``MAX_ZOOM`` (see the browser side).
MIN_ZOOM, MAX_ZOOM = 6, 16
#: Fixed breaks (share of three-low land) of grid cells, as on the map's legend.
GRID_BREAKS = np.array([0.05, 0.15, 0.3, 0.5, 1.0])


@dataclass(frozen=True, eq=False)
class TileSpec:
    """What a registered layer shows: the index, the shown columns, colours, filter, level of detail."""

    index: maps.LayerIndex
    columns: tuple = ()
    send: tuple | None = None
    color: Callable | str | None = None
    keep: np.ndarray | None = None
    lod: bool = False
    gcj02: bool = False
    lang: str = "zh"
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class _Held:
    """A registered spec: as given, or (an index with ``_reload``) its index weakly, with the way to get it again."""

    spec: TileSpec
    ref: weakref.ref | None = None
    reload: Callable[[], maps.LayerIndex] | None = None

    @classmethod
    def of(cls, spec: TileSpec) -> _Held:
        reload = getattr(spec.index, "__dict__", {}).get("_reload")
        if reload is None:
            return cls(spec)
        return cls(dataclasses.replace(spec, index=None), weakref.ref(spec.index), reload)

    def index(self) -> maps.LayerIndex | None:
        """The index while it is alive (None once the caches let it go)."""
        return self.spec.index if self.ref is None else self.ref()

    def resolve(self) -> TileSpec | None:
        """The spec with its index (got again if it was let go; None if that fails)."""
        if self.ref is None:
            return self.spec
        idx = self.ref()
        if idx is None:
            try:
                idx = self.reload()
            except Exception:  # the layer cannot be rebuilt (data gone): the map is told to reload
                return None
        return dataclasses.replace(self.spec, index=idx)


def register(key: str, spec: TileSpec) -> str:
    """Token of a layer spec (the same ``key`` gives the same token and shares the tile cache)."""
    token = hmac.new(_SECRET, key.encode("utf-8"), hashlib.sha256).hexdigest()[:32]
    with _LOCK:
        held = _SPECS.get(token)
        if held is not None and held.index() is spec.index:
            _SPECS.move_to_end(token)
        else:
            if held is not None:  # a weakly held index let go and another one at its address: its tiles are stale
                _SPECS.pop(token)
                _drop_tiles(token)
            _SPECS[token] = _Held.of(spec)
            while len(_SPECS) > MAX_SPECS:
                old, _ = _SPECS.popitem(last=False)
                _drop_tiles(old)
    return token


def _drop_tiles(token: str) -> None:
    global _tile_bytes
    for k in [k for k in _TILES if k[0] == token]:
        _tile_bytes -= len(_TILES.pop(k))


def spec_key(*parts) -> str:
    """A stable key from the parts that decide what a layer's tiles hold."""
    h = hashlib.sha256()
    for p in parts:
        if isinstance(p, np.ndarray):
            h.update(np.ascontiguousarray(p).tobytes())
        else:
            h.update(repr(p).encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()


def _format(lang: str):
    from planner.ui.tables import format_series

    def fmt(col, values):
        return format_series(col, values, lang)

    return fmt


def tile_gzip(token: str, z: int, x: int, y: int, dz: int) -> bytes | None:
    """The encoded tile, gzip-compressed (None for an unknown token); made once and kept in the shared LRU cache.

    A tile being made by another thread (a :func:`prefetch`, or the same
    request from another tab) is waited for, not made twice.
    """
    key = (token, z, x, y, dz)
    mine = other = None
    with _LOCK:
        held = _SPECS.get(token)
        hit = _TILES.get(key)
        if hit is not None:
            _TILES.move_to_end(key)
        elif held is not None:
            other = _INFLIGHT.get(key)
            if other is None:
                _INFLIGHT[key] = mine = threading.Event()
    if held is None:
        return None
    if hit is not None:
        return hit
    if other is not None:
        other.wait(timeout=60)
        with _LOCK:
            hit = _TILES.get(key)
        if hit is not None:
            return hit
        return _make(token, held, key)  # it failed or was pushed out meanwhile: made here
    try:
        return _make(token, held, key)
    finally:
        with _LOCK:
            _INFLIGHT.pop(key, None)
        mine.set()


def tile_bytes(token: str, z: int, x: int, y: int, dz: int) -> bytes | None:
    """The encoded tile as JSON bytes (None for an unknown token): :func:`tile_gzip` decompressed."""
    data = tile_gzip(token, z, x, y, dz)
    return None if data is None else gzip.decompress(data)


def _make(token: str, held: _Held, key: tuple) -> bytes | None:
    global _tile_bytes
    _, z, x, y, dz = key
    spec = held.resolve()
    if spec is None:
        return None
    from planner.ui.tables import format_value

    t = maptiles.tile_features(spec.index, z, x, y, display_zoom=dz, columns=spec.columns, send=spec.send, color=spec.color,
                               fmt=_format(spec.lang), keep=spec.keep, lod=spec.lod, gcj02=spec.gcj02,
                               grid_color=lambda s: maps.colors_for(s, GRID_BREAKS), raw=True, **spec.extra)
    if os.environ.get("PLANNER_DEBUG_MAP"):
        print(f"tile {z}/{x}/{y} dz={dz}: {t['mode']} n={t['n']} features={len(t['features'])} "
              f"keep={None if spec.keep is None else int(spec.keep.sum())} layer={len(spec.index)}",
              file=sys.stderr, flush=True)
    if t["mode"] == "grid":
        for f in t["features"]:
            p = f["properties"]
            for c in ("n", "land_ha", "flagged_ha", "share"):
                p[c] = format_value(c, p[c], spec.lang)
    data = gzip.compress(maptiles.encode(t), compresslevel=GZIP_LEVEL, mtime=0)
    with _LOCK:
        if token not in _SPECS:  # the layer was let go meanwhile: its tiles are not kept
            return data
        prev = _TILES.pop(key, None)  # another request computed it meanwhile: counted once
        if prev is not None:
            _tile_bytes -= len(prev)
        _TILES[key] = data
        _tile_bytes += len(data)
        while _tile_bytes > MAX_TILE_BYTES and _TILES:
            _, old = _TILES.popitem(last=False)
            _tile_bytes -= len(old)
    return data


def focus_tiles(center: tuple[float, float], zoom: int, *, width_px: int = 800, height_px: int = 620,
                min_zoom: int = MIN_ZOOM, max_zoom: int = MAX_ZOOM) -> list[tuple[int, int, int, int]]:
    """``(z, x, y, dz)`` of the tiles a map moved to ``center`` (lat, lon) at ``zoom`` asks for, middle first.

    What the browser side computes from the map's bounds (padded by 15% in
    degrees, one more ring past the data zoom), for a map of about
    ``width_px`` x ``height_px`` (its real width is the browser's).
    """
    zoom = int(zoom)
    dz = min(max(zoom, min_zoom), max_zoom)
    n = 256 * 2.0 ** zoom  # the world in pixels at the map's zoom (Web Mercator)

    def lon_of(px: float) -> float:
        return px / n * 360.0 - 180.0

    def lat_of(py: float) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * py / n))))

    lat, lon = center
    r = math.radians(max(min(lat, 85.0), -85.0))
    cx = (lon + 180.0) / 360.0 * n
    cy = (1 - math.log(math.tan(r) + 1 / math.cos(r)) / math.pi) / 2 * n
    w, e = lon_of(cx - width_px / 2), lon_of(cx + width_px / 2)
    nth, sth = lat_of(cy - height_px / 2), lat_of(cy + height_px / 2)
    pw, ph = (e - w) * 0.15, (nth - sth) * 0.15
    (x0, y0), (x1, y1) = _tile_xy(w - pw, nth + ph, dz), _tile_xy(e + pw, sth - ph, dz)
    ring, last = (1 if zoom > dz else 0), 2 ** dz - 1
    mx, my = _tile_xy(lon, lat, dz)
    out = [(dz, x, y, zoom) for x in range(max(x0 - ring, 0), min(x1 + ring, last) + 1)
           for y in range(max(y0 - ring, 0), min(y1 + ring, last) + 1)]
    return sorted(out, key=lambda t: (t[1] - mx) ** 2 + (t[2] - my) ** 2)[:400]


def _tile_xy(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The tile of a point at zoom ``z``, as the browser side computes it (``tileXY``)."""
    n = 2 ** z
    r = math.radians(lat)
    x = math.floor((lon + 180) / 360 * n)
    y = math.floor((1 - math.log(math.tan(r) + 1 / math.cos(r)) / math.pi) / 2 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def prefetch(token: str, center: tuple[float, float], zoom: int, **view) -> int:
    """Start making, in the background, the tiles of ``token`` that a map moved to ``center``/``zoom`` will ask for.

    Called when the page moves the map (a search, a site picked in the
    table): the tiles are made while the page run ends and the browser moves
    the map, and its requests wait for them instead of starting them.
    Returns how many tiles were queued (those not cached or being made).
    """
    global _PREFETCH
    todo = []
    with _LOCK:
        if token not in _SPECS:
            return 0
        for z, x, y, dz in focus_tiles(center, zoom, **view):
            if (token, z, x, y, dz) not in _TILES and (token, z, x, y, dz) not in _INFLIGHT:
                todo.append((z, x, y, dz))
        if todo and _PREFETCH is None:
            _PREFETCH = ThreadPoolExecutor(max_workers=2, thread_name_prefix="planner-prefetch")
    for z, x, y, dz in todo:
        _PREFETCH.submit(_quiet_tile, token, z, x, y, dz)
    return len(todo)


#: Tiles of the zoom a map showing grid cells zooms into, made while the user looks at the cells (newest first).
_AHEAD: list[tuple] = []
_AHEAD_WAKE = threading.Event()
_AHEAD_THREAD: threading.Thread | None = None
#: At most this many waiting (the oldest go: the user has panned on).
MAX_AHEAD = 256


def ahead(token: str, z: int, x: int, y: int) -> int:
    """Queue the four tiles of zoom ``z + 1`` under tile ``z/x/y`` (asked for by a map at zoom ``z``).

    Called for a parcel layer's tiles at the last zoom of grid cells: zooming
    in once switches the map to parcels, whose tiles cost the server 5-20 ms
    each and arrived over 0.5-1 s (50 per view, one core); made while the
    user looks at the cells, they are then only sent. One background thread,
    newest first; returns how many were queued.
    """
    global _AHEAD_THREAD
    n = 0
    with _LOCK:
        if token not in _SPECS:
            return 0
        for cx in (2 * x, 2 * x + 1):
            for cy in (2 * y, 2 * y + 1):
                key = (token, z + 1, cx, cy, z + 1)
                if key not in _TILES and key not in _INFLIGHT and key not in _AHEAD:
                    _AHEAD.append(key)
                    n += 1
        del _AHEAD[:-MAX_AHEAD]
        if _AHEAD_THREAD is None:
            _AHEAD_THREAD = threading.Thread(target=_ahead_loop, name="planner-tiles-ahead", daemon=True)
            _AHEAD_THREAD.start()
    _AHEAD_WAKE.set()
    return n


#: When the browser last asked for a tile (monotonic s): tiles ahead wait until it has had its view.
_LAST_ASKED = [0.0]


def busy() -> bool:
    """Whether the server is serving someone now: a map fetching tiles, or a page run."""
    if time.monotonic() - _LAST_ASKED[0] < 0.3:
        return True
    return any(t.name == "ScriptRunner.scriptThread" for t in threading.enumerate())


def _ahead_loop() -> None:
    # work nobody waits for: one tile at a time, only while no map is loading and no page runs (on two cores a
    # site edit measured 0.1-0.2 s slower while the tiles of a sites map at zoom 13 were being made ahead)
    while True:
        _AHEAD_WAKE.wait()
        while busy():
            time.sleep(0.05)
        with _LOCK:
            if not _AHEAD:
                _AHEAD_WAKE.clear()
                continue
            key = _AHEAD.pop()
            if key in _TILES or key in _INFLIGHT:
                continue
        _quiet_tile(*key)


def _quiet_tile(token: str, z: int, x: int, y: int, dz: int) -> None:
    with contextlib.suppress(Exception):  # a guess: the browser's own request makes the tile (and reports an error)
        tile_gzip(token, z, x, y, dz)


async def _endpoint(request):
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import Response

    p = request.path_params
    _LAST_ASKED[0] = time.monotonic()
    try:
        z, x, y = int(p["z"]), int(p["x"]), int(p["y"])
        dz = int(request.query_params.get("dz", z))
    except (KeyError, ValueError):
        return Response("bad tile address", status_code=400)
    # dz (the map's zoom) may be below z: a map zoomed out past the lowest data zoom still asks for those tiles
    if not (0 <= z <= 22 and 0 <= x < 2**z and 0 <= y < 2**z and 0 <= dz <= 22):
        return Response("bad tile address", status_code=400)
    data = await run_in_threadpool(tile_gzip, str(p["token"]), z, x, y, dz)
    if data is None:
        return Response("unknown layer (reload the page)", status_code=404)
    held = _SPECS.get(str(p["token"]))
    if held is not None and held.spec.lod and z == dz == int(held.spec.extra.get("detail_zoom", 14)) - 1:
        ahead(str(p["token"]), z, x, y)  # the parcels of the next zoom in
    headers = {"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff", "Vary": "Accept-Encoding"}
    if _accepts_gzip(request.headers.get("accept-encoding", "")):
        # sent as kept: the compression middleware passes a response that already has an encoding
        headers["Content-Encoding"] = "gzip"
    else:
        data = gzip.decompress(data)
    return Response(data, media_type="application/json", headers=headers)


def _accepts_gzip(accept: str) -> bool:
    """Whether an Accept-Encoding header allows gzip (``gzip;q=0`` refuses it)."""
    for part in accept.lower().split(","):
        name, _, params = part.strip().partition(";")
        if name.strip() in ("gzip", "*"):
            q = params.strip()
            return not (q.startswith("q=") and _q_zero(q[2:]))
    return False


def _q_zero(q: str) -> bool:
    try:
        return float(q) == 0
    except ValueError:
        return False


def routes() -> list:
    """The Starlette routes to mount beside Streamlit (``st.App(..., routes=tiles.routes())``)."""
    from starlette.routing import Route

    global ENABLED
    ENABLED = True
    return [Route(PREFIX + "/{token:str}/{z:int}/{x:int}/{y:int}.json", _endpoint, methods=["GET"])]


# ---------------------------------------------------------------------------------------------------- browser side
_JS = r"""
(function () {
  var fg = {{ this._parent.get_name() }};
  var cfg = {{ this.cfg_json }};
  var W = window;
  W.__plannerCache = W.__plannerCache || new Map();
  W.__plannerCtl = W.__plannerCtl || [];
  function sig() {
    var parts = [];
    W.__plannerCtl.forEach(function (c) { parts.push(c.state()); });
    W.__plannerSig = parts.join('|');
  }
  function cacheGet(url) {
    var C = W.__plannerCache;
    if (!C.has(url)) return null;
    var v = C.get(url); C.delete(url); C.set(url, v); return v;
  }
  function cachePut(url, v) {
    var C = W.__plannerCache; C.set(url, v);
    while (C.size > 600) C.delete(C.keys().next().value);
  }
  function tileXY(lon, lat, z) {
    var n = Math.pow(2, z), r = lat * Math.PI / 180;
    var x = Math.floor((lon + 180) / 360 * n);
    var y = Math.floor((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2 * n);
    return [Math.min(Math.max(x, 0), n - 1), Math.min(Math.max(y, 0), n - 1)];
  }
  var hl = new Set(cfg.hl || []), fills = cfg.fills || {};
  function style(f) {
    var p = f.properties || {}, c = p._c || '#888888';
    if (cfg.grid_ids && String(f.id).charAt(0) === 'g' && p.share !== undefined)
      return {fillColor: c, color: '#ffffff', weight: 0.3, fillOpacity: 0.7};
    var s;
    if (f.geometry && /LineString/.test(f.geometry.type)) s = {color: c, weight: 3, opacity: 0.9};
    else if (cfg.fo <= 0) s = {fill: false, color: c, weight: cfg.weight, opacity: 0.95};
    else s = {fillColor: c, color: cfg.line, weight: cfg.weight, fillOpacity: cfg.fo};
    var fc = fills[String(p[cfg.id])];
    if (fc && s.fillColor) s.fillColor = fc;  // a few features recoloured by the page (an edit's parcels)
    if (hl.has(String(p[cfg.id]))) {
      if (cfg.hl_fill) s.fillColor = cfg.hl_fill;  // a set of features filled (the selected site's parcels)
      else { s.color = cfg.hl_color; s.weight = Math.max(cfg.weight, 0) + 3; s.opacity = 1; }
    }
    return s;
  }
  // A value as the tooltip shows it: without invisible characters (a right-to-left override in a delivered id
  // turned the rest of it around), line breaks kept, other white space a space (planner.i18n.visible_text).
  function visible(v) {
    return String(v).replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, function (c) { return c === '\n' ? c : (/\s/.test(c) ? ' ' : ''); });
  }
  function tip(layer) {
    var p = (layer.feature || {}).properties || {};
    var rows = (String(layer.feature.id).charAt(0) === 'g' && p.share !== undefined) ? cfg.grid_tip : cfg.tip;
    var t = document.createElement('table');
    rows.forEach(function (r) {
      if (p[r[0]] === undefined || p[r[0]] === null) return;
      var tr = t.insertRow(), a = tr.insertCell(), b = tr.insertCell();
      a.style.fontWeight = 'bold'; a.style.paddingRight = '8px';
      a.textContent = r[1]; b.textContent = visible(p[r[0]]);
    });
    return t;
  }
  function saveView(map) {
    try {
      var c = map.getCenter();
      W.sessionStorage.setItem('planner_view', JSON.stringify({lat: c.lat, lng: c.lng, z: map.getZoom()}));
    } catch (e) { /* storage refused: the view is not kept */ }
  }
  function restoreView(map) {
    if (map.__plannerRestored) return;
    map.__plannerRestored = true;
    try {
      var v = JSON.parse(W.sessionStorage.getItem('planner_view') || 'null');
      if (v && isFinite(v.lat) && isFinite(v.lng) && isFinite(v.z)) map.setView([v.lat, v.lng], v.z, {animate: false});
    } catch (e) { /* no saved view */ }
  }
  function caption(map) {
    if (!cfg.caption) return null;
    if (!map.__plannerCaption) {
      var C = L.Control.extend({onAdd: function () {
        var d = L.DomUtil.create('div', 'planner-caption');
        d.style.cssText = 'background:rgba(255,255,255,.85);padding:2px 6px;font:12px sans-serif;color:#333';
        return d;
      }});
      map.__plannerCaption = new C({position: 'bottomleft'}).addTo(map);
    }
    return map.__plannerCaption.getContainer();
  }
  function quietFocus(map) {
    // Leaflet focuses the map on the first mousedown (keyboard navigation); focusing an element in this frame
    // scrolls the page around the frame into view when the map is partly below the window, the page moves
    // under the pointer between mousedown and mouseup, and the first click on a parcel was lost
    var kb = map.keyboard;
    if (!kb || kb.__plannerQuiet) return;
    var on = kb.enabled();
    if (on) kb.disable();
    kb._onMouseDown = function () { if (!this._focused) this._map._container.focus({preventScroll: true}); };
    kb.__plannerQuiet = true;
    if (on) kb.enable();
  }
  function sendNow(map) {
    // streamlit-folium sends what a click changed 250 ms after it (a debounce meant for pans and zooms): a click on
    // a feature of these layers is sent at once, the value made as the component makes it (its updateComponentValue,
    // streamlit-folium 0.27), and its own delayed send then finds nothing new to send
    var g = W.__GLOBAL_DATA__;
    if (!g || !W.parent || W.parent === W) return;
    var wrap = g.wrap_longitude, a = function (x) { return x && wrap ? map.wrapLatLng(x) : x; };
    var b = map.getBounds();
    var all = {last_clicked: a(g.lat_lng_clicked), last_object_clicked: a(g.last_object_clicked),
      last_object_clicked_count: g.last_object_clicked_count, last_object_clicked_tooltip: g.last_object_clicked_tooltip,
      last_object_clicked_popup: g.last_object_clicked_popup, all_drawings: g.all_drawings,
      last_active_drawing: g.last_active_drawing, last_geocoder_result: g.last_geocoder_result,
      bounds: b && wrap ? map.wrapLatLngBounds(b) : b, zoom: map.getZoom(), last_circle_radius: g.last_circle_radius,
      last_circle_polygon: g.last_circle_polygon, center: a(map.getCenter()),
      selected_layers: Object.values(g.selected_layers || {}), selected_tags: g.selected_tags};
    var v = all;
    if (g.returned_objects) {
      v = {};
      for (var k in all) if (g.returned_objects.indexOf(k) >= 0) v[k] = all[k];
    }
    if (JSON.stringify(g.previous_data) === JSON.stringify(v)) return;
    g.previous_data = v;
    W.parent.postMessage({isStreamlitMessage: true, type: 'streamlit:setComponentValue', value: v, dataType: 'json'}, '*');
  }
  var GOTO_WAIT_MS = 1500;
  function Ctl(map) {
    this.map = map; this.tiles = {}; this.pending = 0; this.want = {}; this.gen = 0; this.z = null;
    var self = this;
    quietFocus(map);
    restoreView(map);
    // after the component's own click handlers (same event, so on the next tick)
    fg.on('click', function () { setTimeout(function () { sendNow(map); }, 0); });
    var g = cfg.goto, reg = W.__plannerGoto = W.__plannerGoto || {};
    var go = g ? (reg[g[3]] = reg[g[3]] || {done: false, until: Date.now() + GOTO_WAIT_MS}) : null;
    this.onMove = function () {
      if (go && !go.done && atView(map, g)) go.done = true;
      saveView(map); self.update();
    };
    map.on('moveend', this.onMove);
    W.__plannerCtl.push(this);
    fg.on('remove', function () {
      self.gone = true; self.gen++;  // tiles still on their way are not drawn into a layer that is gone
      map.off('moveend', self.onMove);
      var i = W.__plannerCtl.indexOf(self); if (i >= 0) W.__plannerCtl.splice(i, 1);
      sig();
    });
    // streamlit-folium evaluates a changed layer (a new highlight) and then moves the map to a searched or picked
    // place (cfg.goto: [lat, lng, zoom, request id]); drawing the old view first cost 0.6 s at city scale on a
    // 1M city. Until the map has been there once, a layer waits for that move (its moveend draws it), at most
    // GOTO_WAIT_MS from the request's first layer; once it has (a layer re-made later, the map panned since), or
    // without a request, a layer is drawn on the next tick.
    // (looked at every 25 ms as well: the map can be there before its moveend, e.g. mid-animation)
    var first = function () {
      if (self.gone || self.z !== null) return;
      if (go && !go.done && !atView(map, g) && Date.now() < go.until) { setTimeout(first, 25); return; }
      if (go) go.done = true;  // reached, or given up on: later layers do not wait for it
      self.update();
    };
    setTimeout(first, 0);
  }
  function atView(map, g) {
    var c = map.getCenter();
    var z = Math.min(Math.max(g[2], map.getMinZoom()), map.getMaxZoom());  // as Leaflet clamps it
    return Math.floor(map.getZoom()) === z && Math.abs(c.lat - g[0]) < 1e-5 && Math.abs(c.lng - g[1]) < 1e-5;
  }
  Ctl.prototype.mode = function () {
    for (var key in this.tiles) if (this.tiles[key].grid) return 'grid';
    return 'features';
  };
  Ctl.prototype.state = function () {
    var n = 0, k = 0;
    for (var key in this.tiles) { k++; n += this.tiles[key].n; }
    return cfg.name + ':' + (this.pending ? 'loading' : 'ready') + ':' + this.mode() + ':' + this.z + ':' + k + ':' +
      n + ':' + this.gen + ':' + cfg.url.slice(-6) + ':' + Array.from(hl).join(',').slice(0, 40);
  };
  Ctl.prototype.showCaption = function () {
    var el = caption(this.map);
    if (!el) return;
    if (this.pending) { el.textContent = cfg.caption.loading; return; }
    var b = this.map.getBounds(), n = 0;
    for (var key in this.tiles) this.tiles[key].layer.eachLayer(function (l) {
      if (l.getBounds && b.intersects(l.getBounds())) n += (l.feature.properties.n === undefined ? 1 : 0);
    });
    el.textContent = this.mode() === 'grid' ? cfg.caption.grid : cfg.caption.features.replace('{n}', n.toLocaleString());
  };
  Ctl.prototype.update = function () {
    if (this.gone) return;
    var map = this.map, zoom = Math.floor(map.getZoom());
    var dz = Math.min(Math.max(zoom, cfg.minz), cfg.maxz);
    var b = map.getBounds().pad(0.15);
    var a = tileXY(b.getWest(), b.getNorth(), dz), c = tileXY(b.getEast(), b.getSouth(), dz);
    // a parcel comes with the tile of its inner point: zoomed in past the data zoom, one more ring of tiles
    // brings the big parcels that reach into the view from a tile beside it
    var ring = zoom > dz ? 1 : 0, last = Math.pow(2, dz) - 1;
    var want = {}, self = this, count = 0;
    for (var x = Math.max(a[0] - ring, 0); x <= Math.min(c[0] + ring, last); x++)
      for (var y = Math.max(a[1] - ring, 0); y <= Math.min(c[1] + ring, last); y++) {
      if (++count > 400) break;
      want[dz + '/' + x + '/' + y + '?dz=' + zoom] = true;
    }
    this.want = want; this.z = zoom;
    var gen = ++this.gen;
    var todo = Object.keys(want).filter(function (k) { return !self.tiles[k]; });
    if (!todo.length) { this.prune(); sig(); this.showCaption(); return; }
    this.pending = todo.length; sig(); this.showCaption();
    todo.forEach(function (k) {
      var url = cfg.url + '/' + k.replace('?', '.json?');
      var hit = cacheGet(url);
      var done = function (data) {
        if (gen !== self.gen) return;
        if (data && !self.tiles[k]) self.add(k, data);
        if (--self.pending <= 0) { self.pending = 0; self.prune(); self.showCaption(); }
        sig();
      };
      if (hit) { done(hit); return; }
      fetch(url, {credentials: 'same-origin'}).then(function (r) { return r.ok ? r.json() : null; })
        .then(function (d) { if (d) cachePut(url, d); done(d); }, function () { done(null); });
    });
  };
  Ctl.prototype.add = function (k, data) {
    var lyr = L.geoJSON(data, {style: style, interactive: cfg.interactive});
    if (cfg.tip.length || cfg.grid_tip.length) lyr.bindTooltip(tip, {sticky: true});
    if (cfg.hover) {
      lyr.on('mouseover', function (e) { if (e.layer.setStyle) e.layer.setStyle({weight: 2.5, color: '#000000'}); });
      lyr.on('mouseout', function (e) { lyr.resetStyle(e.layer); });
    }
    fg.addLayer(lyr);
    if (hl.size) lyr.eachLayer(function (l) { if (hl.has(String(l.feature.properties[cfg.id])) && l.bringToFront) l.bringToFront(); });
    this.tiles[k] = {layer: lyr, n: (data.features || []).length, grid: data.mode === 'grid'};
  };
  Ctl.prototype.prune = function () {
    for (var k in this.tiles) if (!this.want[k]) { fg.removeLayer(this.tiles[k].layer); delete this.tiles[k]; }
  };
  var map = {{ this._parent._parent.get_name() }};
  new Ctl(map);
})();
"""


class TileLayer(MacroElement):
    """A tiled layer inside a folium FeatureGroup: fetches ``cfg['url']/z/x/y.json`` for the view and draws it.

    Clicks on its features reach the FeatureGroup (streamlit-folium returns the
    clicked feature with its properties); tooltips are built as text, never as
    HTML from the data.
    """

    _template = Template("{% macro script(this, kwargs) %}" + _JS + "{% endmacro %}")

    def __init__(self, cfg: dict):
        super().__init__()
        self._name = "PlannerTiles"
        self.cfg_json = json.dumps(cfg, ensure_ascii=False).replace("</", "<\\/")


def feature_group(label: str, token: str, *, id_col: str, tooltip: dict, grid_tooltip: dict | None = None,
                  fill_opacity: float = 0.65, line_color: str = "#555555", weight: float = 0.6,
                  highlight: list[str] | tuple = (), min_zoom: int = MIN_ZOOM, max_zoom: int = MAX_ZOOM,
                  hl_color: str = "#00b7ff", hl_fill: str | None = None, interactive: bool = True,
                  caption: dict | None = None, fills: dict | None = None,
                  goto: tuple[float, float, int, str] | None = None) -> folium.FeatureGroup:
    """A FeatureGroup holding one tiled layer (what streamlit-folium sends as ``feature_group_to_add``).

    ``highlight`` ids are outlined in ``hl_color``, or filled with ``hl_fill``
    when given; either way in the browser, so a new highlight reuses the tiles.
    ``fills`` (``{id: colour}``) recolours a few features the same way, under
    the highlight. ``goto`` (``(lat, lon, zoom, request id)``) is where the
    page moves the map: until the map has been there, a new layer waits for
    that move (at most 1.5 s) rather than draw the view the map leaves.
    """
    fg = folium.FeatureGroup(name=label)
    cfg = {"name": label, "url": f"{PREFIX}/{token}", "id": id_col, "tip": [[k, str(v)] for k, v in tooltip.items()],
           "grid_tip": [[k, str(v)] for k, v in (grid_tooltip or {}).items()], "grid_ids": grid_tooltip is not None,
           "fo": fill_opacity, "line": line_color, "weight": weight, "hl": [str(h) for h in highlight],
           "hl_color": hl_color, "hl_fill": hl_fill, "minz": min_zoom, "maxz": max_zoom, "interactive": interactive,
           "hover": True, "fills": {str(k): str(v) for k, v in (fills or {}).items()},
           "caption": caption,
           "goto": None if goto is None else [float(goto[0]), float(goto[1]), int(goto[2]), str(goto[3])]}
    TileLayer(cfg).add_to(fg)
    return fg
