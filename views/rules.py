"""Three-low rules (三低识别): edit the policy, live counts, sensitivity curve, save."""

import copy

import altair as alt
import pandas as pd
import streamlit as st

from planner import schema
from planner import workflow as W
from planner.classify import policy as pol_mod
from planner.errors import PlannerError
from planner.i18n import source_text, value_label
from planner.ui import data, drafts, history, keys, page, results
from planner.ui.explore import field_label
from planner.ui.state import error_text, lang, md_text, tr
from planner.workflow.documents import canonical

settings = page.start("nav_rules")
ws = settings.workspace
store = data.store(ws)
st.caption(tr("rules_intro"))

# -- the draft: what the user is editing, kept across pages and reruns until saved or discarded ------------
ss = st.session_state
RULES_NAME = "rules_name"  # the name typed for saving, kept with the draft (the text box's state is not kept)


def _open(name: str | None) -> None:
    """Make a saved policy (None: the shipped default) the draft; the rule widgets are seeded afresh."""
    version = None if name is None else W.latest_version(store, "policy", name)
    if version is None:
        d, base = data.default_policy_dict(), {"name": "default", "version": None}
    else:  # the version and the content opened are one
        try:
            d = pol_mod.policy_to_dict(W.load_document(store, "policy", name, version).policy)
        except PlannerError as exc:  # one this planner refuses (a value an earlier release allowed): said, not opened
            ss["rules_msg"] = ("error", md_text(error_text(exc)))
            return
        base = {"name": name, "version": version}
    ss[keys.POLICY_DRAFT] = d
    ss[keys.POLICY_BASE] = {**base, "json": canonical(d)}
    for k in [k for k in ss if str(k).startswith("r_")]:
        del ss[k]
    ss.pop(RULES_NAME, None)
    ss.pop("rules_confirm", None)


def _open_version(name: str, version: int) -> None:
    """An earlier version of a saved policy as the draft over its latest: saving makes it the latest (checked as
    any save against the latest version)."""
    try:
        d = pol_mod.policy_to_dict(W.load_document(store, "policy", name, version).policy)
    except PlannerError as exc:
        ss["rules_msg"] = ("error", md_text(error_text(exc)))
        return
    latest = W.latest_version(store, "policy", name)
    try:
        now = pol_mod.policy_to_dict(W.load_document(store, "policy", name, latest).policy) if latest else None
    except PlannerError:  # a latest version this planner refuses: an earlier one opened and saved replaces it
        now = None
    ss[keys.POLICY_DRAFT] = d
    ss[keys.POLICY_BASE] = {"name": name, "version": latest, "json": canonical(now) if now else None, "from": version}
    for k in [k for k in ss if str(k).startswith("r_")]:
        del ss[k]
    ss.pop(RULES_NAME, None)
    ss.pop("rules_confirm", None)
    ss["rules_msg"] = ("success", tr("wf_history_opened", name=name, v=version,
                                     next=history.next_version(store, "policy", name)))


if ss.get(keys.POLICY_DRAFT) is None:
    _open(None)
base = ss[keys.POLICY_BASE]
dirty = canonical(ss[keys.POLICY_DRAFT]) != base["json"]
saved_names = W.document_names(store, "policy")
names = ["default", *[n for n in saved_names if n != "default"]]
c1, c2, c3 = st.columns([2, 1, 1], vertical_alignment="bottom")
pick = c1.selectbox(tr("load_policy"), names, key=f"rules_pick_{lang()}",
                    format_func=lambda n: tr("default_policy") if n == "default" and n not in saved_names else n)
open_slot, discard_slot = c2.empty(), c3.empty()  # filled once this run's edits are known
pol = copy.deepcopy(ss[keys.POLICY_DRAFT])
if drafts.form_lost("rules"):  # shown again or after a sign-in: the rule widgets come back from the draft
    drafts.drop_widgets(("r_",))
keys.seed("r_min", int(pol.get("min_criteria", 2)))
keys.seed("r_lu", list(pol.get("land_uses", [])))

# -- widgets -----------------------------------------------------------------
with st.container(border=True):
    a, b = st.columns([1, 2])
    pol["min_criteria"] = a.slider(tr("min_criteria"), 1, 3, key="r_min")
    pol["land_uses"] = b.multiselect(tr("in_scope"), list(schema.LAND_USE_CLASSES), key="r_lu",
                                     placeholder=tr("choose"), format_func=lambda v: value_label("land_use", v, lang()))
    rule_keys = []
    cols = st.columns(3)
    for col, (crit, cdef) in zip(cols, pol["criteria"].items(), strict=False):
        with col:
            st.markdown(f"**{tr('c_low_' + crit)}**")
            for i, r in enumerate(cdef.get("rules", [])):
                lab = f"{field_label(r['indicator'])} {r.get('comparison', '<')}"
                if r.get("percentile") is not None:
                    keys.seed(f"r_{crit}_{i}_p", float(r["percentile"]))
                    r["percentile"] = st.number_input(f"{lab} {tr('percentile')}", 0.0, 100.0, step=1.0,
                                                      key=f"r_{crit}_{i}_p")
                else:
                    v = float(r.get("threshold") or 0.0)
                    step = 0.05 if abs(v) < 10 else 1000.0
                    keys.seed(f"r_{crit}_{i}_t", v)
                    r["threshold"] = st.number_input(lab, step=step, key=f"r_{crit}_{i}_t",
                                                     format="%.0f" if step >= 1 else "%.2f",
                                                     help=source_text(r.get("source", ""), lang()))
                rule_keys.append((crit, i, lab))
            for s in cdef.get("status_rules", []):
                st.caption(f"{field_label('status')} ∈ "
                           f"{'、'.join(value_label('status', x, lang()) for x in s['statuses'])}")

try:
    policy = pol_mod.from_dict(pol, where="rules")
except Exception as exc:
    st.error(tr("error", err=exc))
    st.stop()
pdict = pol_mod.policy_to_dict(policy)
ss[keys.POLICY_DRAFT] = pdict  # the draft is the active policy on every page, kept until saved or discarded
dirty = canonical(pdict) != base["json"]
open_slot.button(tr("wf_open"), key="rules_open", disabled=dirty, on_click=_open, args=(pick,),
                 help=tr("wf_open_dirty") if dirty else None)
discard_slot.button(tr("wf_discard"), key="rules_discard", disabled=not dirty, on_click=_open,
                    args=(base["name"] if base["version"] else None,))
if dirty:
    st.warning("● " + tr("wf_unsaved_rules", name=tr("default_policy") if base["version"] is None
                          else f"{base['name']} v{base['version']}")
               + (f"（{tr('wf_rules_from', v=base['from'])}）" if lang() == "zh" and base.get("from") else
                  f" ({tr('wf_rules_from', v=base['from'])})" if base.get("from") else ""))

with st.status(tr("classifying"), expanded=False) as status:
    gdf = data.flag_table(ws, pdict)  # the counts only (the whole classification: classify_ahead below)
    pname = pdict.get("name", "default")
    status.update(label=tr("policy_in_use", name=tr("default_policy") if pname == "default" else pname),
                  state="complete")

# -- live counts ----------------------------------------------------------------
land = pd.to_numeric(gdf["land_area_m2"], errors="coerce").fillna(0.0)
tl = gdf["three_low"].fillna(False).astype(bool)
m = st.columns(4)
m[0].metric(tr("m_three_low"), f"{int(tl.sum()):,}", border=True)
m[1].metric(tr("m_three_low_land"), f"{land[tl].sum() / 1e4:,.1f}", border=True)
rows = []
for crit in ("utilization", "capacity", "contribution"):
    col = f"low_{crit}"
    if col not in gdf.columns:
        continue
    # compared as they are (categorical codes): as text, each column cost 0.25 s per page run at 1M parcels
    low, ok, unk = (gdf[col].eq(v).fillna(False).to_numpy(dtype=bool) for v in ("low", "ok", "unknown"))
    rows.append({tr("criterion"): tr(f"c_low_{crit}"),
                 tr("n_low"): int(low.sum()), tr("n_ok"): int(ok.sum()), tr("n_unk"): int(unk.sum()),
                 tr("land_ha"): round(land[low].sum() / 1e4, 1)})
m[2].metric(tr("m_unknown"), f"{int(((gdf['n_unknown'] > 0) & ~tl).sum()):,}", border=True)
m[3].metric(tr("m_parcels"), f"{len(gdf):,}", border=True)
data.classify_ahead(ws, pdict)  # the map, usually next, finds the whole classification made
st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", column_config={
    tr(k): st.column_config.NumberColumn(tr(k), format="%,d") for k in ("n_low", "n_ok", "n_unk")} | {
    tr("land_ha"): st.column_config.NumberColumn(tr("land_ha"), format="%,.1f")})

# -- sensitivity ------------------------------------------------------------------
st.subheader(tr("sensitivity"))
if not rule_keys:
    st.info(tr("no_rules"))
else:
    plabels = {f"{tr('c_low_' + c)}: {lab}": j for j, (c, _, lab) in enumerate(rule_keys)}
    pick = plabels[st.selectbox(tr("sens_rule"), list(plabels), key=f"sens_pick_{lang()}")]
    crit, i, _ = rule_keys[pick]
    rdef = pdict["criteria"][crit]["rules"][i]
    use_pct = rdef.get("percentile") is not None
    try:
        curve = data.threshold_curve(ws, pdict, crit, i, steps=60)
    except Exception as exc:
        st.error(tr("error", err=exc))
        curve = None
    if curve is not None and len(curve):
        cur = rdef.get("threshold")
        df = curve[["threshold", "n_three_low", "n_rule_low"]].melt("threshold", var_name="series", value_name="n")
        df["series"] = df["series"].map({"n_three_low": tr("m_three_low"), "n_rule_low": rule_keys[pick][2]})
        ch = alt.Chart(df).mark_line().encode(
            x=alt.X("threshold:Q", title=tr("threshold")), y=alt.Y("n:Q", title=tr("m_parcels")),
            color=alt.Color("series:N", title=None, legend=alt.Legend(orient="bottom")))
        if cur is not None and not use_pct:
            ch = ch + alt.Chart(pd.DataFrame({"t": [cur]})).mark_rule(color="#b2182b", strokeWidth=2).encode(x="t:Q")
        st.altair_chart(results.chart(ch.properties(height=280)), width="stretch")  # CJK-capable font stack
        st.caption(tr("sens_caption"))

# -- save: a named policy version; an existing name is confirmed first ----------------------------------
with st.container(border=True):
    st.markdown(f"**{tr('save_policy')}**")
    keys.seed("r_name", ss.get(RULES_NAME) or (base["name"] if base["version"] else pdict.get("name", "default")))
    n1, n2 = st.columns([2, 1], vertical_alignment="bottom")
    name = n1.text_input(tr("policy_name"), key="r_name").strip() or "default"
    ss[RULES_NAME] = ss["r_name"]  # kept with the draft across pages (the box's own state is dropped)
    drafts.form_drawn("rules")
    exists = W.latest_version(store, "policy", name)
    opened = base["version"] if base["name"] == name else None  # the saved version this draft was opened from

    def _save(name: str, expect) -> None:
        doc = W.PolicyDoc(pol_mod.from_dict({**pdict, "name": name}, where="rules"))
        try:
            v = W.save_document(store, doc, expect_version=expect)
        except W.SaveConflictError as exc:  # a colleague saved since: say so, and offer what to do
            ss["rules_confirm"] = {"action": "conflict", "name": name, "msg": error_text(exc),
                                   "version": W.latest_version(store, "policy", name)}
            return
        except PlannerError as exc:
            ss["rules_msg"] = ("error", md_text(error_text(exc)))  # a name as typed, no markup
            return
        saved = pol_mod.policy_to_dict(doc.policy)
        ss[keys.POLICY_DRAFT] = saved
        ss[keys.POLICY_BASE] = {"name": name, "version": v, "json": canonical(saved)}
        ss.pop("rules_confirm", None)
        ss["rules_msg"] = ("success", tr("saved", name=name, v=v))

    if n2.button(tr("save_policy"), type="primary", key="rules_save",  # this run's name and rules
                 **drafts.write_button("save_policy")):
        if opened is not None:  # the policy opened here: checked against the version opened, never overwritten
            _save(name, opened)
        elif exists is None:
            _save(name, None)
        else:  # a name that exists and was not opened here: asked first
            ss["rules_confirm"] = {"action": "save", "name": name, "version": exists}
        st.rerun()
    conf = ss.get("rules_confirm")
    if conf and conf["name"] == name and conf.get("action") == "conflict":
        st.error(md_text(conf["msg"]))
        latest = conf["version"]
        k1, k2, _ = st.columns(3)
        if latest is not None:
            k1.button(tr("wf_reopen_latest", v=latest), key="rules_conflict_open", on_click=_open, args=(name,))
        k2.button(tr("wf_save_mine", next=(latest or 0) + 1), key="rules_conflict_mine", on_click=_save,
                  args=(name, latest))
        st.caption(tr("wf_or_rename", what=tr("wf_what_policy")))
    elif conf and conf["name"] == name:
        st.warning(tr("wf_confirm_overwrite", name=name, v=conf["version"], next=conf["version"] + 1))
        k1, k2, _ = st.columns([1, 1, 3])
        k1.button(tr("wf_confirm_save", next=conf["version"] + 1), key="rules_confirm_yes", type="primary",
                  on_click=_save, args=(name, conf["version"]))
        k2.button(tr("dm_cancel"), key="rules_confirm_no", on_click=lambda: ss.pop("rules_confirm", None))
    msg = ss.pop("rules_msg", None)
    if msg:
        (st.success if msg[0] == "success" else st.error)(msg[1])

# -- the versions kept: an earlier version of saved rules opened as the draft (saving makes it the latest) ------
history.versions_kept(store, "policy", saved_names, base["name"] if base["version"] else None, _open_version,
                      title=tr("wf_history_policy"), key="rules")

# -- the stored three-low result of this policy: provenance, stale or not, one-click rebuild ------------
stored_name = base["name"] if base["version"] else None
if stored_name and store.has_layer("flags", stored_name):
    prov = W.Provenance.from_meta(store.read_layer("flags", stored_name, columns=["parcel_id"], geometry=False)
                                  .attrs.get("meta"))  # the provenance only: no polygons read
    reasons = W.stale_reasons(prov, survey_version=data.survey_version(ws), policy_hash=W.PolicyDoc(policy).hash)
    with st.container(border=True):
        st.caption(tr("wf_stored_flags", name=stored_name) + " · " + prov.summary(lang()))
        if reasons:
            st.warning(tr("wf_stale") + "；".join(zh if lang() == "zh" else en for en, zh in reasons))
            right = drafts.write_button("classify")
            if st.button(tr("wf_rebuild"), key="rules_rebuild", disabled=dirty or right["disabled"],
                         help=tr("wf_rebuild_dirty") if dirty else right["help"]):
                W.classify_workspace(store, W.load_document(store, "policy", stored_name))
                st.rerun()
