"""Map explorer (地图浏览): parcels coloured by class or indicator, filters, click for details."""

import numpy as np
import streamlit as st

from planner import maps
from planner.i18n import column_label, value_label
from planner.ui import data, exports, keys, mapview, page
from planner.ui.explore import (
    CLASS_KEYS,
    INDICATORS,
    UPGRADE_KEYS,
    field_label,
    parcel_detail,
    summary_metrics,
)
from planner.ui.state import lang, tr

settings = page.start("nav_map")
page.policy_marker()
ws = settings.workspace
policy = page.active_policy()
with st.spinner(tr("classifying")):
    gdf = data.classified(ws, policy)
    index = data.parcel_index(ws, policy)
with st.container():  # made on every run (the map below keeps its place)
    if "three_low" not in gdf.columns:
        st.info(tr("unclassified"))
summary_metrics(gdf)

sites_gdf = data.saved_sites(ws)
sites_idx = data.sites_index(sites_gdf)
c_idx = data.layer_index(ws, "constraint")
b_idx = data.layer_index(ws, "barrier")
home = index.lonlat_bounds()
lu_opts = data.land_use_options(ws, policy)
amax = data.max_area(ws, policy)
ss = st.session_state
# the choices survive page switches (widget state does not): seeded from plain session keys
for k, v in (("ex_t_sites", True), ("ex_t_con", False), ("ex_t_bar", False)):
    keys.seed(k, ss.get("_" + k, v))


def _keep(k: str) -> None:
    ss["_" + k] = ss[k]


@mapview.map_part
def explorer():
    """Controls, map, parcel details and exports: changing any of them reruns only this part of the page."""
    with st.container(border=True):
        ca, cb, cc = st.columns([1.2, 1.8, 1.1])
        opts = ["class"] + (["upgrade"] if "upgrade_class" in gdf.columns else []) + [
            c for c in INDICATORS if c in gdf.columns]
        labels = {(tr("color_class") if c == "class" else tr("color_upgrade") if c == "upgrade" else field_label(c)): c
                  for c in opts}
        ck = f"ex_color_{lang()}"
        keys.seed(ck, next((lbl for lbl, c in labels.items() if c == ss.get("_ex_color")), next(iter(labels))))
        color_by = labels[ca.selectbox(tr("color_by"), list(labels), key=ck,
                                       on_change=lambda: ss.__setitem__("_ex_color", labels[ss[ck]]))]
        method = "quantile"
        if color_by not in ("class", "upgrade"):
            mlabels = {tr("quantile"): "quantile", tr("equal"): "equal"}
            method = mlabels[ca.radio(tr("breaks_method"), list(mlabels), horizontal=True,
                                      key=f"ex_breaks_{lang()}")]
        with cb.expander(tr("filters"), expanded=False):
            f_lu = st.multiselect(tr("f_land_use"), lu_opts, key="ex_f_lu", placeholder=tr("choose"),
                                  format_func=lambda v: value_label("land_use", v, lang()))
            clabels = {tr(f"cls_{k}"): k for k in CLASS_KEYS}
            f_cls = [clabels[x] for x in st.multiselect(tr("f_class"), list(clabels), key=f"ex_f_cls_{lang()}",
                                                        placeholder=tr("choose"))]
            f_up = []
            if "upgrade_class" in gdf.columns:
                ulabels = {tr(f"cls_{k}"): k for k in UPGRADE_KEYS}
                f_up = [ulabels[x] for x in st.multiselect(tr("f_upgrade"), list(ulabels), key=f"ex_f_up_{lang()}",
                                                           placeholder=tr("choose"))]
            f_area = st.slider(tr("f_area"), 0.0, amax, (0.0, amax), key="ex_f_area")
            f_owner = st.text_input(tr("f_owner"), key="ex_f_owner")
        tg = cb.columns(3)
        show_sites = tg[0].toggle(tr("lyr_sites"), key="ex_t_sites", disabled=sites_idx is None,
                                  on_change=_keep, args=("ex_t_sites",))
        show_con = tg[1].toggle(tr("lyr_constraints"), key="ex_t_con", disabled=c_idx is None,
                                on_change=_keep, args=("ex_t_con",))
        show_bar = tg[2].toggle(tr("lyr_barriers"), key="ex_t_bar", disabled=b_idx is None,
                                on_change=_keep, args=("ex_t_bar",))
        goto = cc.text_input(tr("zoom_to"), key="ex_goto", placeholder="r3c4 / S0001")

    pos = data.filter_positions_cached(ws, policy, index, land_use=tuple(f_lu), classes=tuple(f_cls),
                                       upgrade=tuple(f_up), area=tuple(f_area), owner=f_owner)
    note = st.container()  # made on every run: a message coming or going never moves (re-creates) the map below
    if goto and ss.get("_ex_goto_done") != goto:
        ss["_ex_goto_done"] = goto
        b = data.find_bounds(index, sites_idx, goto.strip())
        if b is None:
            note.warning(tr("not_found", id=goto))
        else:
            mapview.focus("ex_map", b)
            if data.has_id(index, goto.strip()):
                ss["ex_clicked"] = goto.strip()

    if color_by == "class":
        color_fn, leg = data.class_colors, [(maps.CLASS_COLORS[k], tr(f"cls_{k}")) for k in CLASS_KEYS]
        color_cols, style = ("three_low", "n_low", "n_unknown"), "class"
    elif color_by == "upgrade":
        color_fn = data.upgrade_colors
        leg = [(maps.CLASS_COLORS.get(k, "#bdbdbd"), tr(f"cls_{k}")) for k in UPGRADE_KEYS]
        color_cols, style = ("upgrade_class",), "upgrade"
    else:
        breaks = data.breaks_for(ws, policy, index, color_by, method, pos)

        def color_fn(g, _b=breaks, _c=color_by):
            return maps.colors_for(g[_c], _b)

        leg = maps.legend_for_breaks(breaks) + [("#bdbdbd", tr("cls_unknown"))]
        color_cols, style = (color_by,), f"{color_by}:{method}:{np.asarray(breaks).round(6).tolist()}"

    tooltip = {c: field_label(c) for c in ("parcel_id", "land_use", "land_area_m2", "owner")}
    if color_by not in ("class", "upgrade"):
        tooltip[color_by] = field_label(color_by)
    sel = ss.get("ex_clicked")
    layers = [mapview.MapLayer("parcels", tr("lyr_parcels"), index, columns=tuple(tooltip) + color_cols,
                               tooltip=tooltip, color=color_fn, lod=True, pos=pos, style_key=style,
                               highlight=(sel,) if sel else ())]
    if show_con and c_idx is not None:
        layers.append(mapview.MapLayer("constraints", tr("lyr_constraints"), c_idx, columns=("category",),
                                       tooltip={"category": tr("lyr_constraints")}, color="#41ab5d",
                                       fill_opacity=0.25, line_color="#238b45"))
    if show_bar and b_idx is not None:
        layers.append(mapview.MapLayer("barriers", tr("lyr_barriers"), b_idx, columns=("category",),
                                       tooltip={"category": tr("lyr_barriers")}, color="#2b8cbe",
                                       fill_opacity=0.35, line_color="#2b8cbe"))
    if show_sites and sites_idx is not None:
        layers.append(mapview.MapLayer("sites", tr("lyr_sites"), sites_idx, columns=("site_id", "rank"),
                                       tooltip={c: column_label(c, lang()) for c in ("site_id", "rank")},
                                       color="#762a83", fill_opacity=0.0, line_color="#762a83", weight=2.5,
                                       coarse_cap=mapview.SITE_OUTLINES_PER_TILE))

    c_map, c_det = st.columns([3, 1.25], gap="medium")
    with c_map:
        out = mapview.render_map("ex_map", layers, settings, home_bounds=home)
        v = out["_views"].get("parcels")
        if v is not None:  # features sent with the page: the caption says what the view holds
            st.caption(mapview.lod_caption(v))
        if v is not None and v.mode == "grid":
            mapview.legend(maps.legend_for_breaks(mapview.GRID_BREAKS, fmt="{:.0%}"), tr("grid_share"))
        else:
            mapview.legend(leg, tr("legend"))
            if v is None:  # tiled map: the grid shows at city scale, its caption is in the map
                mapview.legend(maps.legend_for_breaks(mapview.GRID_BREAKS, fmt="{:.0%}"), tr("grid_share"))
    pid = mapview.new_click(out, "ex_map", "parcel_id")
    if pid and pid != ss.get("ex_clicked"):
        ss["ex_clicked"] = pid
        mapview.rerun_part()  # the clicked parcel is outlined on the map too
    with c_det:
        sel = ss.get("ex_clicked")
        if sel:
            parcel_detail(gdf, sel, index=index, complete=data.reasons_for(ws, policy))
        else:
            st.caption(tr("click_hint"))
    exports.map_page(gdf, index, pos, complete=data.reasons_for(ws, policy))  # export what you see: the filtered parcels


explorer()
