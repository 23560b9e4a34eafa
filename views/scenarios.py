"""Scenario builder (情景模拟): sites + template + parameters in a form; ledger, capacity, fiscal, timeline."""

import re

import altair as alt
import pandas as pd
import streamlit as st

from planner import scenarios as sc_mod
from planner.i18n import column_label, param_label, value_label
from planner.scenarios import assumptions_in
from planner.scenarios import templates as tpl_mod
from planner.ui import data, page, results, tables
from planner.ui.state import lang, tr

settings = page.start("nav_scenarios")
ws = settings.workspace
store = data.store(ws)
policy = page.active_policy()
result = results.current_sites(ws, policy)
sites = result.sites
ok = sites[sites["status"] == "ok"].sort_values("rank") if len(sites) else sites
if not len(ok):
    st.info(tr("sc_need_sites"))
    st.stop()
builtin = tpl_mod.builtin_templates()
P = {  # editable template parameters: (label zh, label en, step)
    "target_plot_ratio": ("目标容积率", "Target plot ratio", 0.1),
    "coverage": ("建筑密度", "Building coverage", 0.05),
    "m2_per_enterprise": ("每家企业面积（㎡）", "Space per enterprise (m²)", 100.0),
    "jobs_per_1000m2": ("每千㎡就业", "Jobs per 1,000 m²", 1.0),
    "tax_per_mu": ("亩均税收（元/亩）", "Tax per mu (CNY/mu)", 10_000.0),
    "all_in_cost_per_m2": ("综合造价（元/㎡）", "All-in cost (CNY/m²)", 100.0),
    "rent_per_m2_month": ("租金（元/㎡·月）", "Rent (CNY/m²/month)", 1.0),
    "construction_months": ("建设工期（月）", "Construction (months)", 1.0),
}

with st.form("scenario_form"):
    a, b, c = st.columns([1.2, 1, 1])
    name = a.text_input(tr("sc_name"), value=st.session_state.get("sc_last_name", "scenario_a"), key="sc_name")
    top = b.number_input(tr("sc_top_n"), 1, max(1, len(ok)), min(5, len(ok)), key="sc_top")
    picked = a.multiselect(tr("sc_sites"), ok["site_id"].tolist(), key="sc_ids", placeholder=tr("sc_sites_all"))
    tlabels = {(v.label_en if lang() == "en" else v.label_zh): k for k, v in builtin.items()}
    tdefault = next((i for i, k in enumerate(tlabels.values()) if k == "standard_factory"), 0)
    tname = tlabels[c.selectbox(tr("sc_template"), list(tlabels), index=tdefault, key=f"sc_tpl_{lang()}")]
    elabels = {tr(f"sc_ex_{k}"): k for k in ("demolish", "retain", "retain_class")}
    existing = elabels[b.selectbox(tr("sc_existing"), list(elabels), key=f"sc_exist_{lang()}")]
    start_year = c.number_input(tr("sc_start"), 2020, 2040, 2026, key="sc_start")
    per_year = c.number_input(tr("sc_per_year"), 0, 100, 0, key="sc_per_year", help=tr("sc_per_year_help"))
    st.markdown(f"**{tr('sc_params')}**")
    base = builtin[tname]
    cols = st.columns(4)
    edits = {}
    for i, (k, (zh, en, step)) in enumerate(P.items()):
        v = getattr(base, k, None)
        if v is None:
            continue
        edits[k] = cols[i % 4].number_input(en if lang() == "en" else zh, value=float(v), step=float(step),
                                            key=f"sc_p_{tname}_{k}", format="%.0f" if step >= 1 else "%.2f")
    st.form_submit_button(tr("sc_run"), type="primary")

changed = {k: (int(v) if k.endswith("months") else v) for k, v in edits.items() if v != getattr(base, k)}
tpl_name = tname if not changed else f"{tname}_custom"
sc = sc_mod.Scenario(
    name=name or "scenario", sites=sc_mod.SiteSelection(ids=tuple(picked), top=None if picked else int(top)),
    template=tpl_name, templates={tpl_name: {"base": tname, **changed}} if changed else {},
    existing=existing, start_year=int(start_year), sites_per_year=int(per_year) or None,
    policy_name=(policy or {}).get("name", ""))
try:
    with st.spinner():
        res = results.run_scenario(ws, policy, result, sc)
except Exception as exc:
    st.error(tr("error", err=exc))
    st.stop()

results.key_figures(res.totals)
t1, t2, t3 = st.tabs([tr("sc_ledger"), tr("sc_timeline"), tr("sc_assumptions")])
with t1:
    cols = [c for c in ("site_id", "rank", "template", "land_area_mu", "existing_floor_m2", "demolished_floor_m2",
                        "retained_floor_m2", "new_floor_m2", "floor_after_m2", "plot_ratio_before",
                        "plot_ratio_after", "enterprises_housed", "jobs_after", "tax_after_cny", "investment_cny",
                        "payback_years", "delivery") if c in res.sites.columns]
    tables.show(pd.DataFrame(res.sites[cols]))
with t2:
    tl = res.timeline.reset_index()
    ycol = tl.columns[0]
    area = tl[[ycol, "delivered_m2", "occupied_m2"]].melt(ycol, var_name="series", value_name="m2")
    area["m2"] = area["m2"] / 1e4
    area["series"] = area["series"].map(lambda c: column_label(c, lang()))
    st.altair_chart(alt.Chart(area).mark_line(point=True).encode(
        x=alt.X(f"{ycol}:O", title=None), y=alt.Y("m2:Q", title=tr("unit_10k_m2")),
        color=alt.Color("series:N", title=None, legend=alt.Legend(orient="bottom")))
        .properties(height=260), width="stretch")
    money = tl[[ycol, "investment_cny", "tax_new_cny", "rent_cny"]].melt(ycol, var_name="series", value_name="cny")
    money["cny"] = money["cny"] / 1e4
    money["series"] = money["series"].map(lambda c: re.split(r"（| \(", column_label(c, lang()))[0])
    st.altair_chart(alt.Chart(money).mark_bar().encode(
        x=alt.X(f"{ycol}:O", title=None), y=alt.Y("cny:Q", title=tr("unit_10k_cny")),
        color=alt.Color("series:N", title=None, legend=alt.Legend(orient="bottom")),
        xOffset="series:N").properties(height=260), width="stretch")
with t3:
    a = assumptions_in(res.assumptions, lang())
    a = a[~a["parameter"].isin(["label_zh", "label_en"])].astype("string").copy()
    tpl_cols = [c for c in a.columns if c not in ("parameter", "source")]
    ex = a["parameter"] == "scenario.existing"
    for c in tpl_cols:
        a.loc[ex, c] = a.loc[ex, c].map(lambda v: value_label("existing", v, lang()))
    a["parameter"] = a["parameter"].map(lambda p: param_label(p, lang()))
    tables.show(a, labels={c: tables.template_label(c) for c in tpl_cols})

if st.button(tr("sc_save"), type="primary", key="sc_save_btn"):
    v = store.save_doc("scenario", sc.name, sc.to_dict())
    st.session_state["sc_last_name"] = sc.name
    st.success(tr("saved", name=sc.name, v=v))
