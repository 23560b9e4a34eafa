"""Map explorer (地图浏览): parcels coloured by class or indicator, filters, click for details."""

import numpy as np
import streamlit as st

from planner import maps
from planner.i18n import column_label, value_label
from planner.ui import data, exports, mapview, page
from planner.ui.explore import (
    CLASS_KEYS,
    INDICATORS,
    UPGRADE_KEYS,
    field_label,
    filter_positions,
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
if "three_low" not in gdf.columns:
    st.info(tr("unclassified"))
summary_metrics(gdf)

sites_gdf = data.saved_sites(ws)
sites_idx = data.sites_index(sites_gdf)
c_idx = data.layer_index(ws, "constraint")
b_idx = data.layer_index(ws, "barrier")

with st.container(border=True):
    ca, cb, cc = st.columns([1.2, 1.8, 1.1])
    opts = ["class"] + (["upgrade"] if "upgrade_class" in gdf.columns else []) + [
        c for c in INDICATORS if c in gdf.columns]
    labels = {(tr("color_class") if c == "class" else tr("color_upgrade") if c == "upgrade" else field_label(c)): c
              for c in opts}
    color_by = labels[ca.selectbox(tr("color_by"), list(labels), key=f"ex_color_{lang()}")]
    method = "quantile"
    if color_by not in ("class", "upgrade"):
        mlabels = {tr("quantile"): "quantile", tr("equal"): "equal"}
        method = mlabels[ca.radio(tr("breaks_method"), list(mlabels), horizontal=True,
                          key=f"ex_breaks_{lang()}")]
    with cb.expander(tr("filters"), expanded=False):
        lu_opts = sorted(gdf["land_use"].dropna().astype(str).unique()) if "land_use" in gdf else []
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
        amax = float(np.ceil(np.nanmax(index.area))) if len(index) else 1.0
        f_area = st.slider(tr("f_area"), 0.0, amax, (0.0, amax), key="ex_f_area")
        f_owner = st.text_input(tr("f_owner"), key="ex_f_owner")
    tg = cb.columns(3)
    show_sites = tg[0].toggle(tr("lyr_sites"), value=True, key="ex_t_sites", disabled=sites_idx is None)
    show_con = tg[1].toggle(tr("lyr_constraints"), value=False, key="ex_t_con", disabled=c_idx is None)
    show_bar = tg[2].toggle(tr("lyr_barriers"), value=False, key="ex_t_bar", disabled=b_idx is None)
    goto = cc.text_input(tr("zoom_to"), key="ex_goto", placeholder="r3c4 / S0001")

pos = filter_positions(index.gdf, land_use=f_lu, classes=f_cls, upgrade=f_up, area=f_area,
                       owner=f_owner, area_arr=index.area)
if goto and st.session_state.get("_ex_goto_done") != goto:
    st.session_state["_ex_goto_done"] = goto
    b = data.find_bounds(index, sites_idx, goto.strip())
    if b is None:
        st.warning(tr("not_found", id=goto))
    else:
        mapview.focus("ex_map", b)
        if index.gdf["parcel_id"].astype(str).eq(goto.strip()).any():
            st.session_state["ex_clicked"] = goto.strip()

if color_by == "class":
    color_fn, leg = data.class_colors, [(maps.CLASS_COLORS[k], tr(f"cls_{k}")) for k in CLASS_KEYS]
    color_cols = ("three_low", "n_low", "n_unknown")
elif color_by == "upgrade":
    color_fn = data.upgrade_colors
    leg = [(maps.CLASS_COLORS.get(k, "#bdbdbd"), tr(f"cls_{k}")) for k in UPGRADE_KEYS]
    color_cols = ("upgrade_class",)
else:
    col = index.gdf[color_by] if pos is None else index.gdf[color_by].iloc[pos]
    breaks = maps.class_breaks(col, 5, method)

    def color_fn(g, _b=breaks, _c=color_by):
        return maps.colors_for(g[_c], _b)

    leg = maps.legend_for_breaks(breaks) + [("#bdbdbd", tr("cls_unknown"))]
    color_cols = (color_by,)

tooltip = {c: field_label(c) for c in ("parcel_id", "land_use", "land_area_m2", "owner")}
if color_by not in ("class", "upgrade"):
    tooltip[color_by] = field_label(color_by)
layers = [mapview.MapLayer("parcels", tr("lyr_parcels"), index, columns=tuple(tooltip) + color_cols,
                           tooltip=tooltip, color=color_fn, lod=True, pos=pos)]
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
                                   tooltip={c: column_label(c, lang()) for c in ("site_id", "rank")}, color="#762a83",
                                   fill_opacity=0.08, line_color="#762a83", weight=2.5))
home = index.lonlat_bounds()


@st.fragment
def explorer_map():
    c_map, c_det = st.columns([3, 1.25], gap="medium")
    with c_map:
        out = mapview.render_map("ex_map", layers, settings, home_bounds=home)
        v = out["_views"]["parcels"]
        st.caption(mapview.lod_caption(v))
        if v.mode == "grid":
            mapview.legend(maps.legend_for_breaks(mapview.GRID_BREAKS, fmt="{:.0%}"), tr("grid_share"))
        else:
            mapview.legend(leg, tr("legend"))
    pid = mapview.new_click(out, "ex_map", "parcel_id")
    if pid:
        st.session_state["ex_clicked"] = pid
    with c_det:
        sel = st.session_state.get("ex_clicked")
        if sel:
            parcel_detail(gdf, sel)
        else:
            st.caption(tr("click_hint"))


explorer_map()
exports.map_page(gdf, index, pos)  # export what you see: the filtered parcels
