"""Three-low rules (三低识别): edit the policy, live counts, sensitivity curve, save."""

import copy

import altair as alt
import pandas as pd
import streamlit as st

from planner import schema
from planner.classify import policy as pol_mod
from planner.classify import sensitivity as sens
from planner.i18n import value_label
from planner.ui import data, page
from planner.ui.explore import field_label
from planner.ui.state import lang, tr

settings = page.start("nav_rules")
ws = settings.workspace
store = data.store(ws)
st.caption(tr("rules_intro"))

# -- which policy to start from ------------------------------------------------
saved = store.docs("policy")
names = [tr("default_policy")] + sorted(saved["name"].unique().tolist()) if len(saved) else [tr("default_policy")]
c1, c2 = st.columns([2, 1])
base = c1.selectbox(tr("load_policy"), names, key=f"rules_base_{lang()}")
base_id = "default" if base == tr("default_policy") else base
if st.session_state.get("_rules_base_loaded") != base_id:
    st.session_state["_rules_base_loaded"] = base_id
    d = data.default_policy_dict() if base == tr("default_policy") else store.load_doc("policy", base)
    st.session_state["rules_edit"] = d
    for k in [k for k in st.session_state if str(k).startswith("r_")]:
        del st.session_state[k]
pol = copy.deepcopy(st.session_state["rules_edit"])

# -- widgets -----------------------------------------------------------------
with st.container(border=True):
    a, b = st.columns([1, 2])
    pol["min_criteria"] = a.slider(tr("min_criteria"), 1, 3, int(pol.get("min_criteria", 2)), key="r_min")
    pol["land_uses"] = b.multiselect(tr("in_scope"), list(schema.LAND_USE_CLASSES),
                                     default=list(pol.get("land_uses", [])), key="r_lu", placeholder=tr("choose"),
                                     format_func=lambda v: value_label("land_use", v, lang()))
    rule_keys = []
    cols = st.columns(3)
    for col, (crit, cdef) in zip(cols, pol["criteria"].items(), strict=False):
        with col:
            st.markdown(f"**{tr('c_low_' + crit)}**")
            for i, r in enumerate(cdef.get("rules", [])):
                lab = f"{field_label(r['indicator'])} {r.get('comparison', '<')}"
                if r.get("percentile") is not None:
                    r["percentile"] = st.number_input(f"{lab} {tr('percentile')}", 0.0, 100.0, float(r["percentile"]), 1.0,
                                                      key=f"r_{crit}_{i}_p")
                else:
                    v = float(r.get("threshold") or 0.0)
                    step = 0.05 if abs(v) < 10 else 1000.0
                    r["threshold"] = st.number_input(lab, value=v, step=step, key=f"r_{crit}_{i}_t",
                                                     format="%.0f" if step >= 1 else "%.2f",
                                                     help=r.get("source", ""))
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
st.session_state["policy"] = pdict  # the edited policy is the active one on every page

with st.status(tr("classifying"), expanded=False) as status:
    gdf = data.classified(ws, pdict)
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
    flag = gdf[col].astype(str)
    rows.append({tr("criterion"): tr(f"c_low_{crit}"),
                 tr("n_low"): int((flag == "low").sum()), tr("n_ok"): int((flag == "ok").sum()),
                 tr("n_unk"): int((flag == "unknown").sum()),
                 tr("land_ha"): round(land[flag == "low"].sum() / 1e4, 1)})
m[2].metric(tr("m_unknown"), f"{int(((gdf['n_unknown'] > 0) & ~tl).sum()):,}", border=True)
m[3].metric(tr("m_parcels"), f"{len(gdf):,}", border=True)
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
        curve = sens.threshold_curve(data.parcels(ws), policy, crit, i, steps=60)
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
        st.altair_chart(ch.properties(height=280), width="stretch")
        st.caption(tr("sens_caption"))

# -- save -----------------------------------------------------------------------
with st.form("save_policy"):
    name = st.text_input(tr("policy_name"), value=pdict.get("name", "default"), key="r_name")
    if st.form_submit_button(tr("save_policy"), type="primary"):
        pdict = {**pdict, "name": name}
        v = store.save_doc("policy", name, pdict)
        st.session_state["policy"] = pdict
        st.session_state["rules_edit"] = pdict
        st.success(tr("saved", name=name, v=v))
