"""Scenario comparison (情景对比): saved scenarios side by side, charts, maps, Excel/HTML reports."""

import tempfile
from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from planner import maps
from planner import report as rep
from planner import workflow as W
from planner.errors import PlannerError, message_in
from planner.i18n import column_label
from planner.ui import data, keys, page, results, tables
from planner.ui.assets import ASSET_URL
from planner.ui.state import lang, tr

settings = page.start("nav_compare")
ws = settings.workspace
store = data.store(ws)
page.policy_marker()
ss = st.session_state
names = W.document_names(store, "scenario")
if not names:
    st.info(tr("cmp_no_saved"))
    st.stop()
saved_cmps = W.document_names(store, "comparison")


def _open_comparison(name: str) -> None:
    doc = W.load_document(store, "comparison", name)
    ss[keys.COMPARE_PICK] = [n for n, _ in doc.scenarios if n in names]
    ss["cmp_name"] = name


keys.seed(keys.COMPARE_PICK, names[:2])
ss[keys.COMPARE_PICK] = [n for n in ss[keys.COMPARE_PICK] if n in names]
if saved_cmps:
    q1, q2 = st.columns([2, 1], vertical_alignment="bottom")
    cpick = q1.selectbox(tr("wf_saved_comparisons"), saved_cmps, key="cmp_open_pick")
    q2.button(tr("wf_open"), key="cmp_open_btn", on_click=_open_comparison, args=(cpick,))
picked = st.multiselect(tr("cmp_pick"), names, key=keys.COMPARE_PICK, placeholder=tr("choose"))
if len(picked) < 2:
    st.info(tr("cmp_need_two"))
    st.stop()

policy = page.active_policy()
site_result = results.current_sites(ws, policy)
runs = []
with st.status(tr("sc_run"), expanded=False) as status:
    for n in picked:
        doc = W.load_document(store, "scenario", n)
        wf = results.run_scenario(ws, policy, site_result, doc)
        results.show_warnings(wf.warnings)
        runs.append(wf.result)
    cmp = W.compare_runs(runs)
    status.update(state="complete")
with st.expander(tr("wf_save_comparison")):
    keys.seed("cmp_name", "comparison")
    s1, s2 = st.columns([2, 1], vertical_alignment="bottom")
    cname = s1.text_input(tr("wf_new_name"), key="cmp_name").strip()
    if s2.button(tr("wf_save"), key="cmp_save", disabled=not cname):
        try:
            v = W.save_document(store, W.ComparisonDoc(cname, tuple((n, None) for n in picked), lang()))
            st.success(tr("saved", name=cname, v=v))
        except PlannerError as exc:
            st.error(message_in(exc, lang()))

# -- key figures ---------------------------------------------------------------------
st.subheader(tr("cmp_key"))
base = runs[0].totals
for r in runs:
    st.markdown(f"**{r.name}**" + ("" if r is runs[0] else f" · {tr('cmp_diff', base=runs[0].name)}"))
    results.key_figures(r.totals, None if r is runs[0] else base)
with st.expander(tr("cmp_key"), expanded=False):
    st.dataframe(results.comparison_table(cmp, [r.name for r in runs]), hide_index=True, width="stretch")

# -- charts --------------------------------------------------------------------------
fig = pd.DataFrame([{"scenario": r.name, "figure": tr(lbl), "value": r.totals.get(k, float("nan")) / div}
                    for r in runs for k, lbl, div, _ in results.KEY_FIGURES[:5]])
st.altair_chart(alt.Chart(fig).mark_bar().encode(
    x=alt.X("scenario:N", title=None, axis=alt.Axis(labels=False, ticks=False)), y=alt.Y("value:Q", title=None),
    color=alt.Color("scenario:N", title=None), column=alt.Column("figure:N", title=None))
    .properties(width=150, height=200).resolve_scale(y="independent"))
c2 = st.container()
curves = cmp.curves
if len(curves):
    metric = c2.selectbox(tr("metric_pick"), sorted(curves["metric"].unique()), key="cmp_metric",
                          format_func=results.figure_label)
    cv = curves[curves["metric"] == metric]
    c2.altair_chart(alt.Chart(cv).mark_line(point=True).encode(
        x=alt.X("year:O", title=None), y=alt.Y("value:Q", title=results.figure_label(metric)),
        color=alt.Color("scenario:N", title=tr("cmp_series"))).properties(height=260), width="stretch")

# -- maps ------------------------------------------------------------------------------
st.subheader(tr("cmp_maps"))
mcols = st.columns(min(len(runs), 3))
for i, r in enumerate(runs):
    g = r.sites
    with mcols[i % len(mcols)]:
        st.caption(r.name)
        if g is None or not len(g) or g.crs is None:
            continue
        idx = maps.LayerIndex.build(g[["site_id", "rank", "geometry"]].reset_index(drop=True), id_col="site_id",
                                    area_col=None)
        b = idx.lonlat_bounds()
        m, gcj = maps.make_map(b, basemap=settings.basemap, tianditu_key=settings.tianditu_key,
                               custom_url=settings.custom_url, asset_base=ASSET_URL)
        v = maps.viewport_features(idx, b, maps.zoom_for_bounds(b, 400, 320), columns=("rank",), gcj02=gcj)
        gdf = v.gdf.copy()
        gdf["_c"] = "#d94801"
        gdf["rank"] = tables.format_series("rank", gdf["rank"])
        maps.geojson_layer(gdf, r.name, tooltip={c: column_label(c, lang()) for c in ("site_id", "rank")}).add_to(m)
        m.fit_bounds([[b[1], b[0]], [b[3], b[2]]])
        st_folium(m, key=f"cmp_map_{i}", height=320, use_container_width=True, returned_objects=[])

# -- reports ---------------------------------------------------------------------------
d1, d2 = st.columns(2)
with tempfile.TemporaryDirectory() as tmp:
    xlsx = Path(tmp) / "comparison.xlsx"
    rep.compare_to_excel(cmp, xlsx, lang=lang())
    d1.download_button(tr("dl_excel"), xlsx.read_bytes(), file_name=f"comparison_{'_'.join(picked)}.xlsx",
                       mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                       key="dl_xlsx", type="primary")
html = rep.compare_html(cmp, lang=lang())
d2.download_button(tr("dl_html"), html.encode("utf-8"), file_name=f"comparison_{'_'.join(picked)}.html",
                   mime="text/html", key="dl_html")
