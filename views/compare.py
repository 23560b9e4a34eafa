"""Scenario comparison (情景对比), read in a minute: key figures with differences, one floor-area chart, one map of
the sites in A only / B only / both, the side-by-side table, yearly curves, and the reports (Excel, HTML, PDF)."""

import json

import altair as alt
import streamlit as st
from streamlit_folium import st_folium

from planner import maps
from planner import workflow as W
from planner.errors import PlannerError
from planner.i18n import column_label
from planner.report import charts as rep_charts
from planner.report import text as rep_text
from planner.scenarios import sensitivity as sens_params
from planner.ui import data, drafts, history, keys, mapview, page, results
from planner.ui.assets import ASSET_URL
from planner.ui.state import error_text, lang, md_text, tr

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
CMP_BASE = "cmp_base"  # the saved comparison opened here: {"name", "version"}
CMP_CONFIRM = "cmp_confirm"  # a save waiting for confirmation: {"name", "version", "msg" (a refused save's reason)}
CMP_MSG = "cmp_msg"


def _open_comparison(name: str) -> None:
    version = W.latest_version(store, "comparison", name)  # the version and the content opened are one
    doc = W.load_document(store, "comparison", name, version)
    ss[keys.COMPARE_PICK] = [n for n, _ in doc.scenarios if n in names]
    ss["cmp_name"] = name
    ss[CMP_BASE] = {"name": name, "version": version}
    ss.pop(CMP_CONFIRM, None)


def _open_comparison_version(name: str, version: int) -> None:
    """An earlier version of a saved comparison: its scenarios picked; saving it again makes it the latest."""
    doc = W.load_document(store, "comparison", name, version)
    ss[keys.COMPARE_PICK] = [n for n, _ in doc.scenarios if n in W.document_names(store, "scenario")]
    ss["cmp_name"] = name
    ss[CMP_BASE] = {"name": name, "version": W.latest_version(store, "comparison", name)}
    ss.pop(CMP_CONFIRM, None)
    ss[CMP_MSG] = ("success", tr("wf_history_opened", name=name, v=version,
                                 next=history.next_version(store, "comparison", name)))


def _save_comparison(name: str, scenarios: list[str], lang_: str, expect: int | None) -> None:
    """Save the comparison as the next version of ``name``, refused if someone saved it since ``expect``."""
    try:
        v = W.save_document(store, W.ComparisonDoc(name, tuple((n, None) for n in scenarios), lang_),
                            expect_version=expect)
    except W.SaveConflictError as exc:  # asked again, saying who saved what since
        ss[CMP_CONFIRM] = {"name": name, "version": W.latest_version(store, "comparison", name),
                           "msg": error_text(exc, lang_)}
        return
    except PlannerError as exc:
        ss[CMP_MSG] = ("error", md_text(error_text(exc, lang_)))  # a name as typed, no markup
        return
    ss[CMP_BASE] = {"name": name, "version": v}
    ss.pop(CMP_CONFIRM, None)
    ss[CMP_MSG] = ("success", tr("saved", name=name, v=v))


keys.seed(keys.COMPARE_PICK, names[:2])
ss[keys.COMPARE_PICK] = [n for n in ss[keys.COMPARE_PICK] if n in names]
q0, q1, q2 = st.columns([3, 2, 1], vertical_alignment="bottom")
picked = q0.multiselect(tr("cmp_pick"), names, key=keys.COMPARE_PICK, placeholder=tr("choose"))
if saved_cmps:
    cpick = q1.selectbox(tr("wf_saved_comparisons"), saved_cmps, key="cmp_open_pick")
    q2.button(tr("wf_open"), key="cmp_open_btn", on_click=_open_comparison, args=(cpick,))
history.versions_kept(store, "comparison", saved_cmps, (ss.get(CMP_BASE) or {}).get("name"), _open_comparison_version,
                      title=tr("wf_history_policy"), key="cmp")
if len(picked) < 2:
    st.info(tr("cmp_need_two"))
    st.stop()

policy = page.active_policy()
site_result = results.current_sites(ws, policy)
runs, wfs = [], []
with st.spinner(tr("sc_run")):
    for n in picked:
        doc = W.load_document(store, "scenario", n)
        wf = results.run_scenario(ws, policy, site_result, doc)
        results.show_warnings(wf.warnings)
        wfs.append(wf)
        runs.append(wf.result)
    cmp = W.compare_runs(runs)
L = lang()
st.caption(tr("cmp_inputs") + md_text(rep_text.policy_text(runs[0], L)))

# -- key figures: one row per scenario, the difference from the first -------------------------------------------------
base = runs[0]
figure_rows = rep_text.comparison_rows(cmp, L, results.KEY_FIGURES)  # the table's numbers, differences from them
for i, r in enumerate(runs):
    head = f"**{md_text(r.name)}**" + (f" · {tr('baseline_mark')}" if r is base else f" · {tr('cmp_diff', base=base.name)}")
    st.markdown(head)
    results.key_figures(r.totals, rows=figure_rows, column=i)

# -- one floor-area chart and one map of the sites in A only, B only, both ---------------------------------------------
c_chart, c_map = st.columns([1, 1], gap="medium")
with c_chart:
    st.subheader(tr("cmp_floor_title"))
    st.altair_chart(results.floor_chart(runs), width="stretch")
    st.caption(tr("cmp_floor_caption"))
with c_map:
    st.subheader(tr("cmp_map_title"))
    g = cmp.site_geometries()
    if g is None:
        st.caption(tr("no_geometry"))
    else:
        groups = list(dict.fromkeys(["both", "all", *cmp.names, *sorted(set(g["group"]))]))
        groups = [x for x in groups if (g["group"] == x).any()]
        colors = rep_charts.membership_colors(groups, cmp.names)
        glabels = {x: rep_text.group_label(x, cmp.names, L) for x in groups}
        idx = maps.LayerIndex.build(g[["site_id", "group", "geometry"]], id_col="site_id", area_col=None)
        b = idx.lonlat_bounds()  # one extent: every site of every scenario
        m, gcj = maps.make_map(b, basemap=settings.basemap, tianditu_key=settings.tianditu_key,
                               custom_url=settings.custom_url, asset_base=ASSET_URL,
                               wheel_hint=tr("map_wheel_hint"))  # a page read by scrolling
        v = maps.viewport_features(idx, b, maps.zoom_for_bounds(b, 540, 380), columns=("group",), gcj02=gcj)
        gdf = v.gdf.copy()
        gdf["_c"] = gdf["group"].map(colors).fillna("#888888")
        gdf["group"] = gdf["group"].map(glabels)
        maps.geojson_layer(gdf, tr("cmp_map_title"), tooltip={"site_id": column_label("site_id", L),
                                                              "group": tr("cmp_group")}).add_to(m)
        m.fit_bounds([[b[1], b[0]], [b[3], b[2]]])
        st_folium(m, key="cmp_map", height=380, use_container_width=True, returned_objects=[])
        counts = g["group"].value_counts()
        mapview.legend([(colors[x], rep_text.counted(glabels[x], counts[x], L)) for x in groups])

# -- the side-by-side table (open) ------------------------------------------------------------------------------------
st.subheader(tr("cmp_table"))
tab = results.comparison_table(cmp, [r.name for r in runs])
st.dataframe(tab, hide_index=True, width="stretch", height=35 * (len(tab) + 1) + 3)  # open: every row shown

# -- year by year -----------------------------------------------------------------------------------------------------
curves = cmp.curves
if len(curves):
    st.subheader(tr("cmp_yearly"))
    metric = st.selectbox(tr("metric_pick"), sorted(curves["metric"].unique()), key="cmp_metric",
                          format_func=results.figure_label)
    cv = curves[curves["metric"] == metric].copy()
    cv["value"] = [rep_text.scaled(x, metric, L) for x in cv["value"]]
    st.altair_chart(results.chart(alt.Chart(cv).mark_line(point=True).encode(
        x=alt.X("year:O", title=None), y=alt.Y("value:Q", title=None),
        color=alt.Color("scenario:N", title=tr("cmp_series"), sort=cmp.names, legend=alt.Legend(orient="bottom")))
        # the figure and its unit read across above the curves: up the y axis they were cut to the plot's height
        # ("Cumulative investment (million y")
        .properties(height=260, title=alt.TitleParams(results.figure_label(metric), anchor="start", fontSize=12,
                                                      fontWeight="normal"))), width="stretch")

# -- reports ------------------------------------------------------------------------------------------------------------
st.subheader(tr("cmp_reports"))
# the sensitivity of each scenario in the reports, on demand (13 more runs a scenario), kept while nothing changes
sensitivity = None
if st.checkbox(tr("cmp_sens_include", n=len(picked) * (1 + 2 * len(sens_params.PARAMS))), key="cmp_sens",
               help=tr("cmp_sens_help")):
    # the scenarios, what their sites rest on (survey, rules, settings) and this session's site edits: not the
    # sites' id() (a new result can take the address of one gone)
    sens_key = json.dumps([[wf.doc.to_dict() for wf in wfs], runs[0].provenance, ss.get(keys.SITE_EDITS, []),
                           data.figures_visible(ws)], sort_keys=True, default=str)
    held = ss.get(keys.COMPARE_SENSITIVITY)
    if not held or held["key"] != sens_key:
        held = ss[keys.COMPARE_SENSITIVITY] = {"key": sens_key,
                                               "sections": results.runs_sensitivity(ws, policy, site_result, wfs)}
    sensitivity = held["sections"]
    st.caption(tr("cmp_sens_done", n=len(sensitivity)))
results.report_buttons(cmp, f"comparison_{'_'.join(picked)}", key="cmp", sensitivity=sensitivity)
with st.expander(tr("wf_save_comparison")):
    keys.seed("cmp_name", "comparison")
    s1, s2 = st.columns([2, 1], vertical_alignment="bottom")
    cname = s1.text_input(tr("wf_new_name"), key="cmp_name").strip()
    right = drafts.write_button("save_comparison")
    if s2.button(tr("wf_save"), key="cmp_save", disabled=not cname or right["disabled"], help=right["help"]):
        opened = ss.get(CMP_BASE) or {}
        expect = opened.get("version") if opened.get("name") == cname else None
        exists = W.latest_version(store, "comparison", cname)
        if expect is None and exists is not None:  # a name that exists and was not opened here: asked first
            ss[CMP_CONFIRM] = {"name": cname, "version": exists}
        else:  # new, or the comparison opened here (refused if someone saved it since)
            _save_comparison(cname, list(picked), L, expect)
    conf = ss.get(CMP_CONFIRM)
    if conf and conf["name"] == cname and conf.get("msg"):
        st.error(md_text(conf["msg"]))
    if conf and conf["name"] == cname and conf["version"] is not None:
        st.warning(tr("wf_save_comparison_confirm", name=cname, v=conf["version"], next=conf["version"] + 1))
        k1, k2, _ = st.columns([1, 1, 3])
        k1.button(tr("wf_confirm_save", next=conf["version"] + 1), key="cmp_confirm_yes", type="primary",
                  on_click=_save_comparison, args=(cname, list(picked), L, conf["version"]))
        k2.button(tr("dm_cancel"), key="cmp_confirm_no", on_click=lambda: ss.pop(CMP_CONFIRM, None))
    msg = ss.pop(CMP_MSG, None)
    if msg:
        (st.success if msg[0] == "success" else st.error)(msg[1])
