"""Contiguous sites (连片地块): settings, ranked table linked to the map, click edits, drawn boundaries."""

import numpy as np
import pandas as pd
import pyproj
import shapely
import streamlit as st

from planner import maps
from planner import sites as sites_mod
from planner.i18n import column_label
from planner.ui import data, mapview, page, tables
from planner.ui.state import lang, tr

settings = page.start("nav_sites")
ws = settings.workspace
policy = page.active_policy()
gdf = data.classified(ws, policy)
index = data.parcel_index(ws, policy)
store = data.store(ws)

with st.expander(tr("site_params"), expanded=False), st.form("site_params_form"):
    c = st.columns(5)
    gap = c[0].number_input(tr("gap_m"), 0.0, 50.0, 2.0, 1.0, key="s_gap")
    min_area = c[1].number_input(tr("min_area"), 0.0, 200_000.0, 10_000.0, 1_000.0, key="s_min")
    use_bar = c[2].toggle(tr("use_barriers"), True, key="s_bar")
    absorb = c[3].toggle(tr("absorb_enclaves"), True, key="s_abs")
    enc = c[4].number_input(tr("max_enclave"), 0.0, 50_000.0, 3_333.0, 100.0, key="s_enc")
    st.form_submit_button(tr("sc_run"))
params = {"gap_m": gap, "min_area_m2": min_area, "absorb_enclaves": absorb, "enclave_max_area_m2": enc}

with st.spinner(tr("building_sites")):
    base = data.site_result(ws, policy, params, use_bar)
edits = st.session_state.setdefault("site_edits", [])
sig = (data.policy_json(policy), repr(sorted(params.items())), use_bar)
if st.session_state.get("_site_sig") != sig:  # settings changed: manual edits no longer apply
    st.session_state["_site_sig"] = sig
    edits.clear()

# -- the latest saved edits of this policy: replayed on opening when made with the same settings -------
pname = policy.get("name", "default")
saved_doc = None
cat = store.docs("site_edit")
cat = cat[cat["name"] == pname] if len(cat) else cat
if len(cat):
    saved_v = int(cat["version"].max())
    saved_doc = store.load_doc("site_edit", pname, saved_v)
    tag = (pname, saved_v, sig)
    if not edits and st.session_state.get("_site_edits_loaded") != tag and saved_doc.get("edits"):
        same = saved_doc.get("params") == params and saved_doc.get("use_barriers", True) == use_bar
        if same or st.session_state.pop("_site_edits_apply", False):
            edits.extend(saved_doc["edits"])
            st.session_state["_site_edits_loaded"] = tag
            st.session_state["_site_edits_msg"] = tr("edits_applied", v=saved_v, n=len(saved_doc["edits"]))
        else:
            with st.container(border=True):
                st.caption(tr("edits_saved_found", name=pname, v=saved_v, n=len(saved_doc["edits"])) + " · "
                           + tr("edits_stale"))
                if st.button(tr("edits_apply"), key="s_load_edits"):
                    st.session_state["_site_edits_apply"] = True
                    st.rerun()
try:
    result = sites_mod.apply_edits(base, edits, gdf) if edits else base
except Exception as exc:
    st.error(tr("error", err=exc))
    if st.session_state.pop("_site_edits_msg", None):  # saved edits that no longer apply: drop them all
        edits.clear()
    else:
        edits.pop()
    result = sites_mod.apply_edits(base, edits, gdf) if edits else base
if st.session_state.get("_site_edits_msg"):
    st.success(st.session_state.pop("_site_edits_msg"))
st.session_state["site_result"] = result
sites = result.sites
ok = sites[sites["status"] == "ok"].sort_values("rank") if len(sites) else sites

m = st.columns(4)
m[0].metric(tr("m_sites"), f"{len(ok):,}", border=True)
m[1].metric(tr("m_land"), f"{ok['land_area_m2'].sum() / 1e4:,.1f}" if len(ok) else "0", border=True)
m[2].metric(tr("m_parcels"), f"{int(ok['n_parcels'].sum()) if len(ok) else 0:,}", border=True)
m[3].metric(tr("new_floor"), f"{ok['potential_floor_area_m2'].sum() / 1e4:,.1f}" if len(ok) else "0", border=True)

if not len(ok):
    st.info(tr("no_sites"))

sites_idx = data.sites_index(sites)
ps = result.parcel_sites
site_of = dict(zip(ps["parcel_id"].astype(str), ps["site_id"].astype(str), strict=False))
home = index.lonlat_bounds()

left, right = st.columns([1.25, 1], gap="medium")
with right:
    st.subheader(tr("site_table"))
    st.caption(tr("select_site_hint"))
    show_cols = [c for c in ("rank", "site_id", "n_parcels", "land_area_mu", "plot_ratio", "flagged_share",
                             "potential_floor_area_m2", "n_owners", "score") if c in ok.columns]
    table = pd.DataFrame(ok[show_cols]).reset_index(drop=True)
    hl = st.session_state.get("site_clicked")

    def _hl(row):
        return ["background-color: #fde0c5" if row["site_id"] == hl else "" for _ in row]

    ev = tables.show(table, style=lambda d: d.style.apply(_hl, axis=1), height=360, on_select="rerun",
                     selection_mode="single-row", key="site_tbl")
    rows = ev.selection.rows if ev is not None else []
    sel_site = table.iloc[rows[0]]["site_id"] if rows else st.session_state.get("site_clicked")
    if rows and st.session_state.get("_site_row") != sel_site:
        st.session_state["_site_row"] = sel_site
        b = data.find_bounds(index, sites_idx, sel_site, pad_m=80)
        if b is not None:
            mapview.focus("site_map", b)
    st.session_state["site_selected"] = sel_site

    st.subheader(tr("edit_site"))
    mlabels = {tr(f"edit_{k}"): k for k in ("none", "add", "remove")}
    mode = mlabels[st.radio(tr("edit_mode"), list(mlabels), horizontal=True, key=f"s_mode_{lang()}")]
    st.caption(tr("edits", n=len(edits)) + (f" · {sel_site}" if sel_site else ""))
    cc = st.columns(2)
    if cc[0].button(tr("save_edits"), disabled=not edits, key="s_save"):
        v = store.save_doc("site_edit", pname, {"edits": edits, "params": params, "use_barriers": use_bar,
                                                "policy_name": pname})
        st.session_state["_site_edits_loaded"] = (pname, v, sig)  # what the session holds is this version
        st.success(tr("saved", name=pname, v=v))
    if cc[1].button("↺ " + tr("undo"), disabled=not edits, key="s_undo"):
        edits.pop()
        st.rerun()
    st.caption(tr("draw_hint"))


def parcel_colors(g):
    sid = g["parcel_id"].astype(str).map(site_of)
    cls = maps.three_low_class(g).map(maps.CLASS_COLORS).to_numpy()
    out = np.where(sid.notna().to_numpy(), "#9e9ac8", cls)
    sel = st.session_state.get("site_selected")
    if sel:
        out = np.where((sid == sel).to_numpy(), "#f16913", out)
    return out


layers = [mapview.MapLayer("parcels", tr("lyr_parcels"), index, columns=("parcel_id", "land_use", "three_low",
                                                                          "n_low", "n_unknown"),
                           tooltip={c: column_label(c, lang()) for c in ("parcel_id", "land_use")},
                           color=parcel_colors,
                           lod=True, fill_opacity=0.55)]
if sites_idx is not None:
    layers.append(mapview.MapLayer("sites", tr("lyr_sites"), sites_idx, columns=("site_id", "rank"),
                                   tooltip={c: column_label(c, lang()) for c in ("site_id", "rank")},
                                   color="#54278f",
                                   fill_opacity=0.0, weight=3))


@st.fragment
def sites_map():
    out = mapview.render_map("site_map", layers, settings, home_bounds=home, draw=True, height=560)
    st.caption(mapview.lod_caption(out["_views"]["parcels"]))
    mapview.legend([("#9e9ac8", tr("lyr_sites")), ("#f16913", tr("selected_site")), (maps.CLASS_COLORS["three_low"],
                    tr("cls_three_low")), (maps.CLASS_COLORS["ok"], tr("cls_ok"))])
    sid = mapview.new_click(out, "site_map", "site_id")
    pid = mapview.clicked_id(out, "parcel_id") if sid is None else None
    if sid is None and pid is not None and st.session_state.get("_site_pclick") != repr(out.get("last_object_clicked")):
        st.session_state["_site_pclick"] = repr(out.get("last_object_clicked"))
        cur = st.session_state.get("site_selected")
        if mode in ("add", "remove") and cur:
            st.session_state["site_edits"].append({"op": mode, "site_id": cur, "parcel_ids": [pid]})
            st.rerun()
        elif pid in site_of:
            st.session_state["site_clicked"] = site_of[pid]
            st.rerun()
    if sid is not None and st.session_state.get("site_clicked") != sid:
        st.session_state["site_clicked"] = sid
        st.rerun()
    drawings = out.get("all_drawings") or []
    if drawings:
        geom = drawings[-1].get("geometry")
        poly = shapely.geometry.shape(geom) if geom else None
        if poly is not None and poly.geom_type in ("Polygon", "MultiPolygon"):
            tf = pyproj.Transformer.from_crs("EPSG:4326", gdf.crs, always_xy=True)
            poly_ws = shapely.transform(poly, lambda c: np.column_stack(tf.transform(c[:, 0], c[:, 1])))
            st.subheader(tr("drawn_metrics"))
            try:
                r = sites_mod.site_from_boundary(poly_ws, gdf, params=result.params)
                cols = [c for c in ("n_parcels", "n_owners", "land_area_m2", "land_area_mu", "floor_area_m2",
                                    "plot_ratio", "flagged_share", "compactness", "potential_floor_area_m2")
                        if c in r.sites.columns]
                tables.show(pd.DataFrame(r.sites[cols]))
                if st.button(tr("edit_add") + " ✚", key="s_add_drawn"):
                    st.session_state["site_edits"].append({"op": "boundary", "wkt": poly_ws.wkt})
                    st.rerun(scope="app")
            except Exception as exc:
                st.warning(tr("error", err=exc))


with left:
    sites_map()
