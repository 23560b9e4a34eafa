"""The interactive map widget: viewport-driven layers through streamlit-folium.

The base map (basemap tiles, start view, draw tool) stays the same between
runs, so streamlit-folium keeps the same Leaflet map in the browser; the data
travel as ``feature_group_to_add`` groups, which the component swaps in place.
When the user pans or zooms, the component returns the new ``bounds`` and
``zoom`` (``returned_objects`` is limited to those, the last clicked feature
and drawings), the fragment that holds the map reruns, and
:func:`planner.maps.view_layer` computes what the new view needs from the
cached spatial index. The pipeline (classification, sites) is not rerun.
"""

from __future__ import annotations

import html
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

import folium
import geopandas as gpd
import numpy as np
import streamlit as st
from branca.element import MacroElement
from jinja2 import Template
from streamlit_folium import st_folium

from planner import maps
from planner.ui.assets import ASSET_URL
from planner.ui.state import Settings, tr, tr_plain
from planner.ui.tables import format_series

#: Fixed breaks (share of three-low land) for grid cells.
GRID_BREAKS = np.array([0.05, 0.15, 0.3, 0.5, 1.0])


#: Width (px) of the map whose first view's tiles are made ahead (a desktop browser's; a narrower one asks a part).
HOME_WIDTH_PX = 1400

#: Site outlines per map tile below the parcels' detail zoom, the largest (every one from zoom 14): a 1M city's 85,631
#: outlines at city scale were 5 MB of tiles and a second of drawing each time the sites page opened
SITE_OUTLINES_PER_TILE = 600


@dataclass
class MapLayer:
    """One data layer of the map.

    Parameters
    ----------
    key : str
        Short name ("parcels", "sites", ...).
    label : str
        Shown in the toggle.
    index : LayerIndex
        The cached, indexed layer.
    columns : tuple of str
        Properties sent with each feature (keep it short: bytes).
    tooltip : dict
        Property -> label for the hover tooltip.
    color : callable or str
        ``f(view_gdf) -> array of colours``, or one colour for all.
    lod : bool
        Grid aggregation when too many features are in view (parcel layers).
    pos : ndarray, optional
        Positions kept by attribute filters.
    """

    key: str
    label: str
    index: maps.LayerIndex
    columns: tuple = ()
    tooltip: dict = field(default_factory=dict)
    color: Callable[[gpd.GeoDataFrame], np.ndarray] | str = "#3182bd"
    lod: bool = False
    #: Below the parcels' detail zoom, at most this many features per tile, the largest (a layer sent as features)
    coarse_cap: int | None = None
    pos: np.ndarray | None = None
    max_features: int = 4000
    fill_opacity: float = 0.65
    line_color: str = "#555555"
    weight: float = 0.6
    #: What decides the colours (e.g. "class", an indicator and its breaks): the same key reuses cached tiles.
    style_key: str | None = None
    #: Ids drawn with a highlight outline (the clicked or searched parcel), or filled with ``highlight_fill``.
    highlight: tuple = ()
    #: A fill colour for the ``highlight`` ids instead of the outline (the selected site's parcels).
    highlight_fill: str | None = None
    #: ``{id: fill colour}`` drawn by the browser over the colours of ``style_key`` (a few parcels an edit moved in
    #: or out of a site: the tiles stay as they are); the highlight goes over these.
    fills: dict = field(default_factory=dict)


def _fg(layer: MapLayer, view: maps.View) -> folium.FeatureGroup:
    gdf = view.gdf
    if view.mode == "grid":
        gdf = gdf.copy()
        gdf["_c"] = maps.colors_for(gdf["share"], GRID_BREAKS)
        tip = {"n": tr("m_parcels"), "land_ha": tr("m_land"), "flagged_ha": tr("m_three_low_land"),
               "share": tr("grid_share")}
        for c in tip:  # readable text in the tooltip; the colour was computed from the numbers
            gdf[c] = format_series(c, gdf[c])
        return maps.geojson_layer(gdf, layer.label, tooltip=tip, weight=0.3, line_color="#ffffff",
                                  fill_opacity=0.7)
    gdf = gdf.copy()
    gdf["_c"] = layer.color(gdf) if callable(layer.color) else layer.color
    if layer.fills:  # the tiled map draws these in the browser
        over = gdf[layer.index.id_col].astype(str).map(layer.fills)
        gdf["_c"] = np.where(over.notna().to_numpy(), over.to_numpy(dtype=object), np.asarray(gdf["_c"], dtype=object))
    if layer.highlight_fill and layer.highlight:  # the tiled map fills these in the browser
        hit = gdf[layer.index.id_col].astype(str).isin(set(map(str, layer.highlight))).to_numpy()
        gdf["_c"] = np.where(hit, layer.highlight_fill, np.asarray(gdf["_c"], dtype=object))
    tip = {k: v for k, v in layer.tooltip.items() if k in gdf.columns}
    keep = list(dict.fromkeys([layer.index.id_col, *tip, "_c"]))  # only what the browser uses: bytes
    gdf = gdf[[*keep, gdf.geometry.name]].copy()
    for c in tip:  # translated codes and formatted numbers; the id stays raw (clicks return it)
        if c != layer.index.id_col:
            gdf[c] = format_series(c, gdf[c])
    return maps.geojson_layer(gdf, layer.label, tooltip=tip or None, fill_opacity=layer.fill_opacity,
                              line_color=layer.line_color, weight=layer.weight)


def map_part(fn: Callable[[], None]) -> Callable[[], None]:
    """``fn`` (a page's part holding a map) as an ``st.fragment`` when the map is tiled, else as it is.

    The tiled map reports clicks and drawings only, which a person makes on
    the map's own page. The untiled map (``streamlit run app.py``, AppTest)
    also reports its view after each move, 250 ms later (streamlit-folium's
    debounce; its first report, at its start, is no more: see
    :class:`_ViewFromFirstMove`): a page link clicked in between carries the
    report to the new page, where in a fragment Streamlit is asked to rerun a
    fragment the page does not have (logged as "Couldn't find fragment"; now
    and then the new page stayed blank). Outside a fragment such a report
    reruns the page shown; a pan of the untiled map reruns its whole page.
    """
    from planner.ui import tiles

    return st.fragment(fn) if tiles.ENABLED else fn


def rerun_part() -> None:
    """Rerun the map's part of the page (:func:`map_part`): its fragment in a fragment's run, else the page.

    (Streamlit allows a fragment-scoped rerun only in a fragment's own run.)
    """
    st.rerun(scope="fragment" if fragment_rerun() else "app")


def _map_is_new() -> bool:
    """Whether the map of this run is new in the browser: its page was just opened (not a rerun of it or of a part)."""
    return not fragment_rerun() and st.session_state.get("_page_entered", True)


def fragment_rerun() -> bool:
    """Whether this run only reruns a fragment (the page around the map is not rebuilt)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return bool(ctx is not None and getattr(ctx, "fragment_ids_this_run", None))


def _tiled(layer: MapLayer, gcj: bool, lang_: str, goto=None) -> tuple[folium.FeatureGroup, str]:
    """The layer as a tiled FeatureGroup (registered with the tile route, drawn by the browser) and its token."""
    from planner.ui import tiles

    keep = None
    if layer.pos is not None:
        keep = np.zeros(len(layer.index), dtype=bool)
        keep[layer.pos] = True
    style = layer.style_key if layer.style_key is not None else (
        layer.color if isinstance(layer.color, str) else f"fn{id(layer.color)}")
    send = tuple(c for c in layer.tooltip if c in layer.index.gdf.columns)
    cols = tuple(c for c in dict.fromkeys([*layer.columns, *send]) if c in layer.index.gdf.columns)
    extra = {} if layer.coarse_cap is None else {"coarse_cap": int(layer.coarse_cap)}
    key = tiles.spec_key("layer", id(layer.index), len(layer.index), layer.key, style, cols, send, layer.lod, gcj,
                         lang_, keep if keep is not None else "all", layer.coarse_cap)
    token = tiles.register(key, tiles.TileSpec(layer.index, cols, send, layer.color, keep, layer.lod, gcj, lang_,
                                               extra))
    grid_tip = caption = None
    if layer.lod:
        grid_tip = {"n": tr("m_parcels"), "land_ha": tr("m_land"), "flagged_ha": tr("m_three_low_land"),
                    "share": tr("grid_share")}
        # drawn as text by the browser, which fills in {n}: no Markdown escaping here
        caption = {"features": tr_plain("tiles_features", n="{n}"), "grid": tr_plain("tiles_grid"),
                   "loading": tr_plain("tiles_loading")}
    return tiles.feature_group(layer.label, token, id_col=layer.index.id_col, tooltip=layer.tooltip,
                               grid_tooltip=grid_tip, fill_opacity=layer.fill_opacity, line_color=layer.line_color,
                               weight=layer.weight, highlight=tuple(str(h) for h in layer.highlight),
                               hl_fill=layer.highlight_fill, fills=layer.fills,
                               caption=caption, goto=goto), token


def focus(key: str, bounds_ll: tuple[float, float, float, float]) -> None:
    """Ask the map ``key`` to move to a lon/lat box on its next render."""
    st.session_state[f"{key}__focus"] = tuple(float(v) for v in bounds_ll)
    st.session_state[f"{key}__focus_n"] = st.session_state.get(f"{key}__focus_n", 0) + 1


def _take_focus(key: str, height: int, gcj: bool):
    """A new focus request of map ``key``, taken once: ``(its lon/lat box or None, center, zoom)``.

    ``center``/``zoom`` are what streamlit-folium gets to move the map (the
    last request, kept until the map is new in the browser; None when there
    is none); the center is in GCJ-02 on a GCJ-02 basemap.
    """
    ss = st.session_state
    foc = ss.get(f"{key}__focus")
    new = None
    if foc is not None and ss.get(f"{key}__focus_done") != ss.get(f"{key}__focus_n"):
        ss[f"{key}__focus_done"] = ss.get(f"{key}__focus_n")
        new = foc
        eps = 1e-9 * (ss.get(f"{key}__focus_n") or 0)  # a repeated request still differs: the map moves again
        ss[f"{key}__goto"] = (((foc[1] + foc[3]) / 2 + eps, (foc[0] + foc[2]) / 2),
                              maps.zoom_for_bounds(foc, 900, height))
    if not ss.get(f"{key}__goto"):
        return new, None, None
    center, zoom = ss[f"{key}__goto"]
    if gcj:
        import planner.crs as pc

        lon, lat = pc.wgs84_to_gcj02(center[1], center[0])
        center = (float(lat), float(lon))
    return new, center, zoom


def render_map(key: str, layers: list[MapLayer], settings: Settings, *,
               home_bounds: tuple[float, float, float, float], draw: bool = False,
               height: int = 620, in_scrolling_page: bool = False) -> dict:
    """Draw the map ``key`` with ``layers`` for the current viewport; return the component value.

    Call inside :func:`map_part` (an ``st.fragment`` when tiled) so that a click reruns only the map's part.
    The returned dict has ``bounds``, ``zoom``, ``last_active_drawing``
    (the clicked feature, with its id in ``properties``),
    ``last_object_clicked`` and ``all_drawings``. Also returns ``_views``:
    the :class:`planner.maps.View` of each layer. ``in_scrolling_page``: the map is part of a page read by
    scrolling (the sites page): the wheel zooms it once it is clicked (:func:`planner.maps.wheel_after_click`).
    """
    ss = st.session_state
    from planner.ui import tiles
    from planner.ui.state import lang, tr

    hint = tr("map_wheel_hint") if in_scrolling_page else None
    if tiles.ENABLED:
        return _render_tiled(key, layers, settings, home_bounds=home_bounds, draw=draw, height=height,
                             lang_=lang(), wheel_hint=hint)
    if _map_is_new():
        # it starts at the home view: the view it reported on an earlier visit (kept under its key) and an old
        # focus request are not its own
        ss.pop(key, None)
        ss.pop(f"{key}__goto", None)
    prev = ss.get(key) or {}
    base_sig = (settings.basemap, settings.custom_url, tuple(np.round(home_bounds, 5)), draw)
    if ss.get(f"{key}__base") != base_sig:
        ss[f"{key}__base"] = base_sig
        prev = {}
    m, gcj = maps.make_map(home_bounds, basemap=settings.basemap, tianditu_key=settings.tianditu_key,
                           custom_url=settings.custom_url, asset_base=ASSET_URL, draw=draw, wheel_hint=hint)
    bounds = maps.bounds_from_leaflet(prev.get("bounds"))
    zoom = prev.get("zoom")
    foc, center, z_arg = _take_focus(key, height, gcj)
    if foc is not None:
        bounds, zoom = foc, z_arg
    if bounds is None or zoom is None:
        bounds, zoom = home_bounds, maps.zoom_for_bounds(home_bounds, 900, height)
    elif gcj:
        bounds = maps.gcj02_bounds_to_wgs84(bounds)
    fgs, views = [], {}
    for layer in layers:
        if layer.lod:
            v = maps.view_layer(layer.index, bounds, zoom, columns=layer.columns,
                                max_features=layer.max_features, gcj02=gcj, pos=layer.pos)
        else:
            v = maps.viewport_features(layer.index, bounds, max(zoom, 12), columns=layer.columns,
                                       max_features=layer.max_features, gcj02=gcj, pos=layer.pos)
        views[layer.key] = v
        fgs.append(_fg(layer, v))
    # the view (bounds, zoom) is reported from the map's first move on (see _ViewFromFirstMove): until then the
    # value is streamlit-folium's default and the view is the home view computed above
    returned = ["last_active_drawing", "last_object_clicked"]
    if draw:
        returned.append("all_drawings")
    m.add_child(_ViewFromFirstMove())
    out = st_folium(m, key=key, feature_group_to_add=fgs or None, returned_objects=returned,
                    center=center, zoom=z_arg, height=height, use_container_width=True)
    out = dict(out or {})
    if os.environ.get("PLANNER_DEBUG_MAP"):
        print(f"render_map {key}: zoom={zoom} bounds={bounds} -> {out.get('zoom')} {out.get('bounds')} click={out.get('last_object_clicked')} "
              f"{(out.get('last_active_drawing') or {}).get('properties')}",
              file=sys.stderr, flush=True)
    out["_views"] = views
    return out


class _ViewFromFirstMove(MacroElement):
    """The untiled map reports its view (``bounds``, ``zoom``) from its first move on, not as soon as it starts.

    streamlit-folium reports the returned objects once when its map has
    started; with the view among them that first report always differs from
    the default and reran the page by itself, often after a page link had
    been clicked: the report then reran the map's page (the user was taken
    back to the map) or, in a fragment, a fragment the new page lacks (the new
    page stayed blank). The map asks for the clicks only; this script, run with
    the map's own, adds the view to what it reports on the next tick, after
    that first (now unchanged, so unsent) report. Every move after it (a pan,
    a zoom, a requested focus) is reported with the view, as before.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        setTimeout(function () {
          var g = window.__GLOBAL_DATA__;
          if (!g || !g.returned_objects) return;
          ["bounds", "zoom"].forEach(function (k) { if (g.returned_objects.indexOf(k) < 0) g.returned_objects.push(k); });
        }, 0);
        {% endmacro %}
    """)


def _render_tiled(key: str, layers: list[MapLayer], settings: Settings, *, home_bounds, draw: bool, height: int,
                  lang_: str, wheel_hint: str | None = None) -> dict:
    """The map with tiled layers: pans and zooms fetch tiles in the browser and rerun nothing on the server.

    The component reports clicks and drawings only (not the view), so moving
    the map costs no script run. The map keeps the last view of the browser
    tab (on every page, in ``sessionStorage``) and starts there, so returning
    to a street view never shows the city grid first. Focus requests (search,
    a site picked in the table) move the map through streamlit-folium's
    ``center``/``zoom``; a request made before the page was left is not
    replayed when it is shown again.
    """
    ss = st.session_state
    if _map_is_new():
        ss.pop(f"{key}__goto", None)  # old focus requests are not replayed
    m, gcj = maps.make_map(home_bounds, basemap=settings.basemap, tianditu_key=settings.tianditu_key,
                           custom_url=settings.custom_url, asset_base=ASSET_URL, draw=draw,
                           zoom=maps.zoom_for_bounds(home_bounds, 900, height), wheel_hint=wheel_hint)
    moved, center, z_arg = _take_focus(key, height, gcj)
    # where the map is sent (the same until the next request: the layers are not re-made for it on later runs)
    goto = None if center is None else (center[0], center[1], int(z_arg), f"{key}:{ss.get(f'{key}__focus_n') or 0}")
    made = [_tiled(layer, gcj, lang_, goto) for layer in layers]
    fgs = [fg for fg, _ in made]
    if moved is not None and center is not None:  # the tiles of the new view are made while the page run ends
        from planner.ui import tiles

        for _, token in made:
            tiles.prefetch(token, center, z_arg, height_px=height)
    elif center is None and not ss.get("_map_home_asked"):
        # a session's first map starts at the home view (a new tab has no view kept; later maps of the tab start
        # where the last one was): its tiles are made while the browser starts Leaflet, and its requests find
        # them made or being made (1M parcels, a restarted server: the first view's 80 tiles cost about 1 s of
        # work); tiles already kept are not made again
        from planner.ui import tiles

        ss["_map_home_asked"] = True
        w, s_, e, n = home_bounds
        for _, token in made:
            tiles.prefetch(token, ((s_ + n) / 2, (w + e) / 2), maps.zoom_for_bounds(home_bounds, 900, height),
                           height_px=height, width_px=HOME_WIDTH_PX)
    returned = ["last_active_drawing", "last_object_clicked"]
    if draw:
        returned.append("all_drawings")
    out = st_folium(m, key=key, feature_group_to_add=fgs or None, returned_objects=returned,
                    center=center, zoom=z_arg, height=height, use_container_width=True)
    out = dict(out or {})
    out["_views"] = {}
    out["_tiled"] = True
    return out


def clicked_id(out: dict, id_col: str) -> str | None:
    """The id of the last clicked feature (from GeoJSON properties, not popup text)."""
    f = (out or {}).get("last_active_drawing") or {}
    props = f.get("properties") or {}
    v = props.get(id_col)
    return None if v is None else str(v)


def new_click(out: dict, key: str, id_col: str) -> str | None:
    """Like :func:`clicked_id`, but only for a click not seen before (pans keep the old value)."""
    sig = repr(((out or {}).get("last_object_clicked"), clicked_id(out, id_col)))
    if st.session_state.get(f"{key}__click") == sig:
        return None
    st.session_state[f"{key}__click"] = sig
    return clicked_id(out, id_col)


def legend(items: list[tuple[str, str]], title: str | None = None) -> None:
    """A compact colour legend under the map (labels escaped: they may come from the data)."""
    sw = "".join(
        f'<span style="display:inline-flex;align-items:center;margin-right:14px;font-size:0.85rem">'
        f'<span style="width:14px;height:14px;background:{_css_color(c)};border:1px solid #777;margin-right:5px;'
        f'display:inline-block"></span>{html.escape(str(lbl))}</span>' for c, lbl in items)
    head = f"<b style='margin-right:10px;font-size:0.85rem'>{html.escape(str(title))}</b>" if title else ""
    st.markdown(f"<div>{head}{sw}</div>", unsafe_allow_html=True)


def _css_color(c) -> str:
    """``c`` if it is a plain CSS colour (``#rgb``, ``#rrggbb``, a name), else grey."""
    c = str(c)
    return c if re.fullmatch(r"#[0-9a-fA-F]{3,8}|[a-zA-Z]{3,20}", c) else "#bdbdbd"


def lod_caption(view: maps.View) -> str:
    if view.mode == "grid":
        return tr("lod_grid", n=view.n_in_view, cell=view.cell_m or 0)
    s = tr("lod_features", shown=len(view.gdf), n=view.n_in_view)
    if view.truncated:
        s += tr("lod_truncated", shown=len(view.gdf))
    return s
