"""Scenario builder (情景模拟): sites + template + parameters in a form; ledger, capacity, fiscal, timeline."""

import json
import re

import altair as alt
import pandas as pd
import streamlit as st

from planner import scenarios as sc_mod
from planner import workflow as W
from planner.errors import PlannerError
from planner.i18n import column_label, value_label
from planner.report import text as report_text
from planner.scenarios import templates as tpl_mod
from planner.ui import data, drafts, history, keys, page, results, tables
from planner.ui.state import error_text, lang, md_text, tr
from planner.workflow.documents import canonical

settings = page.start("nav_scenarios")
page.policy_marker()
ws = settings.workspace
store = data.store(ws)
ss = st.session_state
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
    "tax_per_mu": ("亩均税收（元/亩）", "Tax per mu (yuan/mu)", 10_000.0),
    "all_in_cost_per_m2": ("综合造价（元/㎡）", "All-in cost (yuan/m²)", 100.0),
    "rent_per_m2_month": ("租金（元/㎡·月）", "Rent (yuan/m²/month)", 1.0),
    "construction_months": ("建设工期（月）", "Construction (months)", 1.0),
}
ok_ids = ok["site_id"].astype(str).tolist()
START_YEARS = (2020, 2040)  # the start-year box's range
EXISTING = ("demolish", "retain", "retain_class")


def _seed_widgets(sc: sc_mod.Scenario) -> None:
    """Put a scenario into the form's widgets (on open, new, and when the page is shown again)."""
    form = ("sc_name", "sc_top", "sc_ids", "sc_tpl", "sc_exist", "sc_retain", "sc_start", "sc_per_year", "sc_p_")
    for k in [k for k in ss if str(k).startswith(form)]:
        del ss[k]
    tname, changes = sc.template, {}
    if tname in sc.templates:
        changes = {k: v for k, v in sc.templates[tname].items() if k != "base"}
        tname = sc.templates[tname].get("base", "standard_factory")
    ss["sc_name"] = sc.name
    ss["sc_top"] = int(min(max(1, sc.sites.top or 5), max(1, len(ok))))
    ss["sc_ids"] = [i for i in sc.sites.ids if i in ok_ids]
    ss["sc_tpl"] = tname if tname in builtin else "standard_factory"
    ss["sc_exist"] = sc.existing
    ss["sc_retain"] = [c for c in sc.retain_classes if c in ("retain", "upgrade")] or ["retain"]
    ss["sc_start"] = int(min(max(int(sc.start_year), START_YEARS[0]), START_YEARS[1]))  # the box's range
    ss["sc_per_year"] = int(min(max(int(sc.sites_per_year or 0), 0), 100))
    base_t = builtin[ss["sc_tpl"]]
    for k in P:
        v = changes.get(k, getattr(base_t, k, None))
        if v is not None:
            ss[f"sc_p_{ss['sc_tpl']}_{k}"] = float(v)


def _form_valid() -> bool:
    """Whether every form widget holds a value the form can show (sites, templates and ranges of this run)."""
    try:
        return (isinstance(ss["sc_name"], str) and 1 <= int(ss["sc_top"]) <= max(1, len(ok))
                and set(ss["sc_ids"]) <= set(ok_ids) and ss["sc_tpl"] in builtin and ss["sc_exist"] in EXISTING
                and set(ss["sc_retain"]) <= {"retain", "upgrade"}
                and START_YEARS[0] <= int(ss["sc_start"]) <= START_YEARS[1] and 0 <= int(ss["sc_per_year"]) <= 100)
    except (KeyError, TypeError, ValueError):
        return False


def _open(name: str | None) -> None:
    if name is None:
        sc, refs, base = sc_mod.Scenario(name="scenario_a", sites=sc_mod.SiteSelection(top=5)), {}, {}
    else:
        version = W.latest_version(store, "scenario", name)  # the version and the content opened are one
        doc = W.load_document(store, "scenario", name, version)
        sc, refs = doc.scenario, doc.site_refs
        base = {"name": name, "version": version, "json": canonical(sc.to_dict())}
    ss[keys.SCENARIO_DRAFT] = sc.to_dict()
    ss[keys.SCENARIO_BASE] = {**base, "site_refs": refs}
    ss.pop(keys.SCENARIO_CONFIRM, None)
    _seed_widgets(sc)
    ss["sc_open_pick"] = name  # the picker shows what is open (called from buttons, before the picker is drawn)


def _open_version(name: str, version: int) -> None:
    """An earlier version of a scenario (or of a deleted one) as a draft over its latest: saving makes it the latest
    (a restore); nothing in between is lost."""
    doc = W.load_document(store, "scenario", name, version)
    latest = W.latest_version(store, "scenario", name)  # None: deleted
    latest_json = canonical(W.load_document(store, "scenario", name, latest).scenario.to_dict()) if latest else None
    ss[keys.SCENARIO_DRAFT] = doc.scenario.to_dict()
    ss[keys.SCENARIO_BASE] = {"name": name, "version": latest, "json": latest_json, "site_refs": doc.site_refs,
                              "from": version}
    ss.pop(keys.SCENARIO_CONFIRM, None)
    _seed_widgets(doc.scenario)
    ss["sc_open_pick"] = name if latest is not None else None
    ss[keys.SCENARIO_MSG] = ("success", tr("wf_history_opened", name=name, v=version,
                                           next=history.next_version(store, "scenario", name)))


if ss.get(keys.SCENARIO_DRAFT) is None:
    _open(None)
draft_sc = sc_mod.scenario_from_dict(ss[keys.SCENARIO_DRAFT], where="scenario draft")
# the form comes back from the draft when the page is shown again, after a sign-in (the browser then shows the
# widgets' defaults: an empty name, every number at its minimum), and when a value no longer fits the form
if drafts.form_lost("scenarios") or not _form_valid():
    _seed_widgets(draft_sc)
base = ss[keys.SCENARIO_BASE]

# -- open a saved scenario, or start a new one ---------------------------------------------------------------------
names = W.document_names(store, "scenario")
o1, o2, o3 = st.columns([2, 1, 1], vertical_alignment="bottom")
pick = o1.selectbox(tr("wf_saved_scenarios"), names, key="sc_open_pick", placeholder=tr("choose"),
                    index=names.index(base["name"]) if base.get("name") in names else None)
o2.button(tr("wf_open"), key="sc_open_btn", disabled=pick is None, on_click=_open, args=(pick,))
o3.button(tr("wf_new_scenario"), key="sc_new_btn", on_click=_open, args=(None,))
dirty = base.get("name") is None or canonical(ss[keys.SCENARIO_DRAFT]) != base.get("json")
where = (tr("wf_editing_from", name=base["name"], v=base["from"]) if base.get("from") is not None
         else tr("wf_editing", name=base["name"], v=base["version"]) if base.get("name") else tr("wf_editing_new"))
st.caption(where + (" · ● " + tr("wf_unsaved") if dirty else ""))

with st.form("scenario_form"):
    a, b, c = st.columns([1.2, 1, 1])
    a.text_input(tr("sc_name"), key="sc_name")
    b.number_input(tr("sc_top_n"), 1, max(1, len(ok)), key="sc_top")
    a.multiselect(tr("sc_sites"), ok_ids, key="sc_ids", placeholder=tr("sc_sites_all"))
    tlabels = {k: (v.label_en if lang() == "en" else v.label_zh) for k, v in builtin.items()}
    tname = c.selectbox(tr("sc_template"), list(tlabels), format_func=tlabels.get, key="sc_tpl")
    existing = b.selectbox(tr("sc_existing"), list(EXISTING), key="sc_exist",
                           format_func=lambda k: tr(f"sc_ex_{k}"))
    b.multiselect(tr("wf_retain_classes"), ["retain", "upgrade"], key="sc_retain",
                  format_func=lambda v: value_label("upgrade", v, lang()), help=tr("wf_retain_classes_help"))
    c.number_input(tr("sc_start"), *START_YEARS, key="sc_start")
    c.number_input(tr("sc_per_year"), 0, 100, key="sc_per_year", help=tr("sc_per_year_help"))
    st.markdown(f"**{tr('sc_params')}**")
    tbase = builtin[tname]
    cols = st.columns(4)
    edits = {}
    for i, (k, (zh, en, step)) in enumerate(P.items()):
        v = getattr(tbase, k, None)
        if v is None:
            continue
        keys.seed(f"sc_p_{tname}_{k}", float(v))
        edits[k] = cols[i % 4].number_input(en if lang() == "en" else zh, step=float(step),
                                            key=f"sc_p_{tname}_{k}", format="%.0f" if step >= 1 else "%.2f")
    st.form_submit_button(tr("sc_run"), type="primary")
drafts.form_drawn("scenarios")

changed = {k: (int(v) if k.endswith("months") else v) for k, v in edits.items() if v != getattr(tbase, k)}
tpl_name = tname if not changed else f"{tname}_custom"
picked = tuple(ss["sc_ids"])
sc = sc_mod.replace(
    draft_sc, name=(ss["sc_name"] or "scenario").strip() or "scenario",
    sites=sc_mod.SiteSelection(ids=picked, top=None if picked else int(ss["sc_top"]),
                               status=draft_sc.sites.status, where=draft_sc.sites.where),
    template=tpl_name, templates={**{k: v for k, v in draft_sc.templates.items() if not k.endswith("_custom")},
                                  **({tpl_name: {"base": tname, **changed}} if changed else {})},
    existing=existing, retain_classes=tuple(ss["sc_retain"]) or ("retain",), start_year=int(ss["sc_start"]),
    sites_per_year=int(ss["sc_per_year"]) or None, policy_name=(policy or {}).get("name", ""))
ss[keys.SCENARIO_DRAFT] = sc.to_dict()  # the draft follows the form (kept across pages until saved)
vanished = [i for i in draft_sc.sites.ids if i not in ok_ids]
refs = {k: v for k, v in (base.get("site_refs") or {}).items() if k in picked}
doc = W.ScenarioDoc(sc, refs)
try:
    with st.spinner():
        run = results.run_scenario(ws, policy, result, doc, draft=True)
except Exception as exc:
    st.error(tr("error", err=error_text(exc)))
    st.stop()
res = run.result
prov = res.provenance
st.caption(tr("wf_inputs", survey=prov.get("survey_version") or "—", policy=(policy or {}).get("name", "default"),
              hash=results.policy_hash(policy)[:12], gap=float((prov.get("site_params") or {}).get("gap_m", 2.0)),
              area=float((prov.get("site_params") or {}).get("min_area_m2", 10_000.0))))
results.show_warnings(run.warnings)
if vanished and not any(v in en for en, _ in run.warnings for v in vanished):
    st.warning(tr("wf_sites_vanished", ids="、".join(vanished)))
results.key_figures(res.totals)
results.key_figures(res.totals, figures=results.MORE_FIGURES)
t1, t2, t3, t4 = st.tabs([tr("sc_ledger"), tr("sc_timeline"), tr("sc_assumptions"), tr("sc_sensitivity")],
                         key=f"sc_tabs_{lang()}")  # the tab open stays open when a button in it reruns the page
with t1:
    st.altair_chart(results.floor_chart([res]), width="stretch")
    cols = [c for c in ("site_id", "rank", "template", "land_area_mu", "existing_floor_m2", "demolished_floor_m2",
                        "retained_floor_m2", "new_floor_m2", "floor_after_m2", "net_change_m2", "plot_ratio_before",
                        "plot_ratio_after", "enterprises_housed", "jobs_after", "tax_after_cny", "investment_cny",
                        "payback_years", "fiscal_payback_years", "delivery") if c in res.sites.columns]
    tables.show(pd.DataFrame(res.sites[cols]))
with t2:
    tl = res.timeline.reset_index()
    ycol = tl.columns[0]
    area = tl[[ycol, "delivered_m2", "occupied_m2"]].melt(ycol, var_name="series", value_name="m2")
    area["m2"] = [report_text.scaled(v, "new_floor_m2", lang()) for v in area["m2"]]
    area["series"] = area["series"].map(lambda c: column_label(c, lang()))
    st.altair_chart(results.chart(alt.Chart(area).mark_line(point=True).encode(
        x=alt.X(f"{ycol}:O", title=None), y=alt.Y("m2:Q", title=report_text.unit_of("new_floor_m2", lang())),
        color=alt.Color("series:N", title=None, legend=alt.Legend(orient="bottom")))
        .properties(height=260)), width="stretch")
    money = tl[[ycol, "investment_cny", "tax_new_cny", "rent_cny"]].melt(ycol, var_name="series", value_name="cny")
    money["cny"] = [report_text.scaled(v, "investment_cny", lang()) for v in money["cny"]]
    money["series"] = money["series"].map(lambda c: re.split(r"（| \(", column_label(c, lang()))[0])
    st.altair_chart(results.chart(alt.Chart(money).mark_bar().encode(
        x=alt.X(f"{ycol}:O", title=None), y=alt.Y("cny:Q", title=report_text.unit_of("investment_cny", lang())),
        color=alt.Color("series:N", title=None, legend=alt.Legend(orient="bottom")),
        xOffset="series:N").properties(height=260)), width="stretch")
with t3:
    st.dataframe(report_text.assumptions_table(res, lang()), hide_index=True, width="stretch")
with t4:  # which guess the payback rests on: each uncertain parameter -20% and +20%, on demand (a dozen more runs)
    st.caption(tr("sc_sens_help"))
    sens_key = (canonical(sc.to_dict()), json.dumps(prov, sort_keys=True, default=str))
    held = ss.get(keys.SCENARIO_SENSITIVITY)
    if st.button(tr("sc_sens_run"), key="sc_sens_btn"):
        ss[keys.SCENARIO_SENSITIVITY] = held = {"key": sens_key, "table": results.sensitivity(ws, policy, result, doc)}
    if held and held["key"] == sens_key:
        for output in results.SENSITIVITY_SHOWN:
            if f"{output}_base" in held["table"].columns:
                c = results.tornado_chart(held["table"], output)
                if c is not None:
                    st.altair_chart(c, width="stretch")
        tables.show(results.sensitivity_table(held["table"]))
    elif held:
        st.info(tr("sc_sens_stale"))
results.report_buttons(res, f"scenario_{sc.name}", key="sc_dl")


# -- save (an existing name is confirmed first, saying which version it creates), duplicate, rename, delete ---------


def _save(expect) -> None:
    fresh = W.scenario_doc(sc, sites=result.sites, parcel_sites=result.parcel_sites)
    try:
        v = W.save_document(store, fresh, expect_version=expect)
    except W.SaveConflictError as exc:  # a colleague saved since: say so, and offer what to do (below the button)
        ss[keys.SCENARIO_CONFIRM] = {"action": "conflict", "name": sc.name, "msg": error_text(exc),
                                     "version": W.latest_version(store, "scenario", sc.name)}
        return
    except PlannerError as exc:
        ss[keys.SCENARIO_MSG] = ("error", md_text(error_text(exc)))  # a name as typed, no markup
        return
    ss[keys.SCENARIO_BASE] = {"name": sc.name, "version": v, "json": canonical(sc.to_dict()),
                              "site_refs": fresh.site_refs}
    ss["sc_open_pick"] = sc.name  # the picker shows the scenario just saved as the one open
    ss.pop(keys.SCENARIO_CONFIRM, None)
    ss[keys.SCENARIO_MSG] = ("success", tr("saved", name=sc.name, v=v))


def _manage(action: str, new: str | None = None) -> None:
    old = base["name"]
    try:
        opened = base.get("version")  # a colleague's version saved since is never renamed or deleted unseen
        if action == "duplicate":
            W.duplicate_scenario(store, old, new, version=base.get("from") or opened)  # the version shown
            _open(new)
        elif action == "rename":
            W.rename_scenario(store, old, new, expect_version=opened if opened is not None else False)
            _open(new)
        elif action == "delete":
            W.delete_document(store, "scenario", old, expect_version=opened if opened is not None else False)
            ss[keys.SCENARIO_BASE] = {"site_refs": base.get("site_refs") or {}}  # the content stays as a new draft
            ss["sc_open_pick"] = None
            ss.pop(keys.SCENARIO_CONFIRM, None)
        ss[keys.SCENARIO_MSG] = ("success", tr(f"wf_done_{action}", name=old, new=new or ""))
    except PlannerError as exc:
        ss[keys.SCENARIO_MSG] = ("error", md_text(error_text(exc)))  # a name as typed, no markup


def _ask_or_save() -> None:
    """Save the scenario the user opened against the version opened (a colleague's newer save is a conflict, never
    overwritten); a name that exists and was not opened here is confirmed first."""
    right = drafts.write_button("save_scenario")
    if right["disabled"]:  # the role changed since the page was drawn: refused at once, nothing asked first
        ss[keys.SCENARIO_MSG] = ("error", right["help"])
        return
    opened = ss[keys.SCENARIO_BASE]
    if opened.get("name") == sc.name and opened.get("version") is not None:
        _save(opened["version"])
        return
    exists = W.latest_version(store, "scenario", sc.name)
    if exists is None:
        _save(None)
    else:
        ss[keys.SCENARIO_CONFIRM] = {"action": "save", "name": sc.name, "version": exists}


st.button(tr("sc_save"), type="primary", key="sc_save_btn", on_click=_ask_or_save,
          **drafts.write_button("save_scenario"))
conf = ss.get(keys.SCENARIO_CONFIRM)
if conf and conf["action"] == "save" and conf["name"] == sc.name:
    st.warning(tr("wf_confirm_overwrite", name=sc.name, v=conf["version"], next=conf["version"] + 1))
    k1, k2, _ = st.columns([1, 1, 3])
    k1.button(tr("wf_confirm_save", next=conf["version"] + 1), key="sc_confirm_yes", type="primary",
              on_click=_save, args=(conf["version"],))
    k2.button(tr("dm_cancel"), key="sc_confirm_no", on_click=lambda: ss.pop(keys.SCENARIO_CONFIRM, None))
if conf and conf["action"] == "conflict" and conf["name"] == sc.name:
    st.error(md_text(conf["msg"]))
    latest = conf["version"]
    k1, k2, _ = st.columns(3)
    if latest is not None:
        k1.button(tr("wf_reopen_latest", v=latest), key="sc_conflict_open", on_click=_open, args=(sc.name,))
    k2.button(tr("wf_save_mine", next=(latest or 0) + 1), key="sc_conflict_mine", on_click=_save, args=(latest,))
    st.caption(tr("wf_or_rename", what=tr("wf_what_scenario")))
msg = ss.pop(keys.SCENARIO_MSG, None)
if msg:
    (st.success if msg[0] == "success" else st.error)(msg[1])
if base.get("name") and base.get("version") is not None:  # saved and not deleted
    with st.expander(tr("wf_manage", name=base["name"])):
        new = st.text_input(tr("wf_new_name"), key="sc_mg_name").strip()
        m1, m2, m3 = st.columns(3)
        dup, ren, dele = (drafts.write_button(a) for a in ("save_scenario", "delete_scenario", "delete_scenario"))
        m1.button(tr("wf_duplicate"), key="sc_dup", disabled=not new or dup["disabled"], help=dup["help"],
                  on_click=_manage, args=("duplicate", new))
        m2.button(tr("wf_rename"), key="sc_ren", disabled=not new or ren["disabled"] or dup["disabled"],
                  help=ren["help"] or dup["help"], on_click=_manage, args=("rename", new))
        m3.button(tr("wf_delete"), key="sc_del", **dele,
                  on_click=lambda: ss.__setitem__(keys.SCENARIO_CONFIRM, {"action": "delete", "name": base["name"]}))
        if conf and conf["action"] == "delete" and conf["name"] == base["name"]:
            st.warning(tr("wf_confirm_delete", name=base["name"]))
            st.button(tr("wf_delete_yes", name=base["name"]), key="sc_del_yes", type="primary", on_click=_manage,
                      args=("delete",))

# -- the versions kept (deleted scenarios too): open an earlier one as a draft; saving it makes it the latest ------
history.versions_kept(store, "scenario", names, base.get("name"), _open_version, title=tr("wf_history"), key="sc")
