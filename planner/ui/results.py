"""Sites and scenario results for the scenario and comparison pages (cached where heavy)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import streamlit as st

from planner import config
from planner import workflow as W
from planner.classify import policy as policy_mod
from planner.errors import PlannerError, message_in
from planner.report import text as report_text
from planner.sites import SiteParams
from planner.ui import data, keys
from planner.ui.state import lang, tr

#: Key figures: (totals name, i18n key, divisor, format).
KEY_FIGURES = (
    ("existing_floor_m2", "floor_before", 1e4, "{:,.1f}"),
    ("floor_after_m2", "floor_after", 1e4, "{:,.1f}"),
    ("new_floor_m2", "new_floor", 1e4, "{:,.1f}"),
    ("enterprises_housed", "enterprises", 1, "{:,.0f}"),
    ("jobs_after", "jobs", 1, "{:,.0f}"),
    ("tax_after_cny", "tax", 1e8, "{:,.2f}"),
    ("investment_cny", "investment", 1e8, "{:,.2f}"),
    ("payback_years", "payback", 1, "{:,.1f}"),
)


def site_params_draft(path: str, policy: dict | None) -> dict:
    """The site settings being worked on: ``{"params": dict, "use_barriers": bool}``.

    Started, once per session and policy, from the saved ``site_params``
    document of the policy, else the policy's ``[sites]`` table, else the defaults.
    """
    ss = st.session_state
    name = (policy or {}).get("name", "default")
    draft = ss.get(keys.SITE_PARAMS)
    if draft is None or draft.get("policy") != name:
        store = data.store(path)
        if W.latest_version(store, "site_params", name) is not None:
            doc = W.load_document(store, "site_params", name)
        else:
            pol = W.PolicyDoc(policy_mod.from_dict(policy)) if policy else W.PolicyDoc.from_file(None)
            doc = W.SiteParamsDoc(name=name, params=pol.site_params())
        draft = {"policy": name, "params": config._drop_none(doc.params.to_dict()), "use_barriers": doc.use_barriers}
        ss[keys.SITE_PARAMS] = draft
    return draft


def _edits_signature(policy: dict | None, draft: dict) -> str:
    return data.policy_json(policy or {}) + json.dumps(draft["params"], sort_keys=True) + str(draft["use_barriers"])


def session_sites(path: str, policy: dict | None):
    """The sites of this session: built with the draft settings, ids kept, edits replayed.

    The latest saved site edits of the policy are replayed once per session
    when they were made with the same settings. Sets :data:`keys.SITE_RESULT`
    and returns ``(result, id table, offered)`` where ``offered`` is the
    saved edits document when it was made with other settings (the page
    offers it), else None.
    """
    ss = st.session_state
    draft = site_params_draft(path, policy)
    base, table = data.site_result(path, policy, draft["params"], draft["use_barriers"])
    edits = ss.setdefault(keys.SITE_EDITS, [])
    sig = _edits_signature(policy, draft)
    loaded = ss.get(keys.SITE_EDITS_LOADED) or {}
    if loaded.get("sig") is not None and loaded["sig"] != sig:
        edits.clear()  # the settings changed: the session's edits were made on other sites
        ss.setdefault(keys.SITE_REDO, []).clear()
        loaded = {}
    name = (policy or {}).get("name", "default")
    offered = None
    store = data.store(path)
    v = W.latest_version(store, "site_edit", name)
    if loaded.get("name") is None and v is not None:
        doc = W.load_document(store, "site_edit", name)
        same = (doc.params is None or config._drop_none(doc.params.to_dict()) == _normal(draft["params"])) \
            and doc.use_barriers == draft["use_barriers"]
        if same and not edits:
            edits.extend(dict(o) for o in doc.ops)
            ss[keys.SITE_MSG] = ("edits_applied", {"v": v, "n": len(doc.ops)})
            loaded = {"name": name, "version": v}
        elif not same:
            offered = (v, doc)
    ss[keys.SITE_EDITS_LOADED] = {**loaded, "sig": sig}
    result, kept = base, []
    parcels = data.classified(path, policy) if edits else None
    for op in edits:  # one by one: an edit that no longer applies is dropped, and said so
        try:
            result = W.operations.apply_site_edits(result, [op], parcels)
            kept.append(op)
        except PlannerError as exc:
            st.error(tr("error", err=message_in(exc, lang())))
    edits[:] = kept
    ss[keys.SITE_RESULT] = result
    return result, table, offered


def policy_hash(policy: dict | None) -> str:
    """Hash of a policy dict (the shipped default when None)."""
    doc = W.PolicyDoc(policy_mod.from_dict(policy)) if policy else W.PolicyDoc.from_file(None)
    return doc.hash


def _normal(params: dict) -> dict:
    return config._drop_none(SiteParams.from_dict(dict(params)).to_dict())


def current_sites(path: str, policy: dict | None):
    """The sites of this session (Sites page settings and edits)."""
    return session_sites(path, policy)[0]


def run_scenario(path: str, policy: dict | None, site_result, doc) -> W.ScenarioRun:
    """Run a scenario document on the session's sites, as the CLI does (retained classes, site checks)."""
    prov = {"survey_version": data.survey_version(path), "policy_name": (policy or {}).get("name"),
            "policy_hash": policy_hash(policy), "site_params": site_params_draft(path, policy)["params"]}
    run = W.run_scenario(doc, site_result.sites, site_result.parcel_sites, data.classified_full(path, policy),
                         provenance=prov)
    if not data.figures_visible(path):  # figures that start from enterprise tax and output: blanked (issue 14)
        import dataclasses

        from planner import scenarios as sc_mod
        from planner.ui import auth
        from planner.workflow.visibility import blank_result_figures

        res = run.result
        acc = auth.current()
        note = tr("auth_figures_hidden", role=tr(f"role_{acc.role}") if acc else "—")  # the reports say so too
        desc = " ".join(x for x in (res.scenario.description, note) if x)
        run = dataclasses.replace(run, result=dataclasses.replace(
            res, scenario=sc_mod.replace(res.scenario, description=desc),
            sites=blank_result_figures(res.sites), totals=blank_result_figures(res.totals)))
    return run


def show_warnings(warnings) -> None:
    """Workflow warnings ``[(en, zh)]`` in the UI language."""
    for en, zh in warnings:
        st.warning(zh if lang() == "zh" else en)


def key_figures(totals: pd.Series, base: pd.Series | None = None) -> None:
    """A row of st.metric for the key figures (with the difference from ``base``)."""
    cols = st.columns(4) + st.columns(4)
    for col, (k, label, div, fmt) in zip(cols, KEY_FIGURES, strict=True):
        v = totals.get(k, np.nan)
        text = fmt.format(v / div) if pd.notna(v) and np.isfinite(v) else "—"
        delta = None
        if base is not None and pd.notna(base.get(k)) and pd.notna(v):
            delta = fmt.format((v - base[k]) / div)
        col.metric(tr(label), text, delta, delta_color="off" if k == "payback_years" else "normal", border=True)


def figure_label(key: str) -> str:
    """Label (with unit) of a scenario figure or timeline metric, from the report's table."""
    return report_text.label(key, lang())


def comparison_table(cmp, names: list[str]) -> pd.DataFrame:
    """The comparison table as text: figure labels, values in 万/亿 (zh) or k/M/bn (en), differences in %."""
    tab = cmp.table
    out = pd.DataFrame({tr("cmp_figure"): [figure_label(k) for k in tab.index]})
    for c in tab.columns:
        v = pd.to_numeric(tab[c], errors="coerce")
        if str(c).endswith("%"):
            text = [("—" if not np.isfinite(x) else f"{x:+.1f}%") for x in v.astype(float)]
            n, _, b = str(c)[:-1].strip().partition(" vs ")
            head = tr("cmp_pct_col", n=n, base=b)
        else:
            text = [report_text.fmt(x, k, lang()) if np.isfinite(x) else "—" for x, k in zip(v.astype(float), tab.index,
                                                                                  strict=True)]
            n, sep, b = str(c).partition(" - ")
            head = str(c) if str(c) in names or not sep else tr("cmp_diff_col", n=n, base=b)
        out[head] = text
    return out
