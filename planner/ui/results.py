"""Sites and scenario results for the scenario and comparison pages (cached where heavy)."""

from __future__ import annotations

import hashlib
import json
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable

import numpy as np
import pandas as pd
import streamlit as st

from planner import config
from planner import workflow as W
from planner.classify import policy as policy_mod
from planner.errors import ConfigError, PlannerError, message_in
from planner.i18n import column_label, display_unit
from planner.report import text as report_text
from planner.scenarios.comparison import BETTER, FLOOR_PARTS, HEADLINE_FIGURES
from planner.sites import SiteParams
from planner.ui import data, keys
from planner.ui.state import lang, tr, tr_plain

#: Key figures on the scenario page: the headline row, then the floor-area ledger and jobs.
KEY_FIGURES = HEADLINE_FIGURES
MORE_FIGURES = ("existing_floor_m2", "demolished_floor_m2", "new_floor_m2", "floor_after_m2", "jobs_after")

#: Fonts of chart text in the browser, CJK first (Vega draws chart text with the viewer's fonts, as the
#: browser does the rest of the page).
CHART_FONT = ('"Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", '
              '"WenQuanYi Micro Hei", "Noto Sans", sans-serif')


def site_params_draft(path: str, policy: dict | None) -> dict:
    """The site settings being worked on: ``{"params": dict, "use_barriers": bool}``.

    Started, once per session and policy, from the saved ``site_params``
    document of the policy, else the policy's ``[sites]`` table, else the defaults.
    """
    ss = st.session_state
    name = (policy or {}).get("name", "default")
    draft = ss.get(keys.SITE_PARAMS)
    if draft is None or draft.get("policy") != name:
        draft = ss[keys.SITE_PARAMS] = saved_site_params(path, policy)
    if draft.get("refused"):  # every page working on these settings says they are not the saved ones
        st.warning(tr("wf_site_params_refused", msg=draft["refused"].get(lang(), draft["refused"]["en"]).rstrip(".。")))
    return draft


def saved_site_params(path: str, policy: dict | None) -> dict:
    """The site settings a session starts from (see :func:`site_params_draft`), read from the workspace.

    ``version``: the saved ``site_params`` version they are (None: none saved), which a save expects.
    """
    name = (policy or {}).get("name", "default")
    store = data.store(path)
    version = W.latest_version(store, "site_params", name)
    refused = None
    doc = None
    if version is not None:
        try:
            doc = W.load_document(store, "site_params", name, version)
        except ConfigError as exc:  # a value an earlier release allowed: said on the pages, the saved one is kept
            if W.documents.is_newer(store.load_doc("site_params", name, version)):
                raise
            refused = {"en": message_in(exc, "en"), "zh": message_in(exc, "zh")}
    if doc is None:
        pol = W.PolicyDoc(policy_mod.from_dict(policy)) if policy else W.PolicyDoc.from_file(None)
        doc = W.SiteParamsDoc(name=name, params=pol.site_params())
    return {"policy": name, "params": config._drop_none(doc.params.to_dict()), "use_barriers": doc.use_barriers,
            "version": version, **({"refused": refused} if refused else {})}


def site_edits_base(name: str) -> int | None:
    """The version of the saved site edits ``name`` this session's edits start from (None: none was saved)."""
    base = (st.session_state.get(keys.SITE_EDITS_LOADED) or {}).get("base")
    return base[1] if base and base[0] == name else None


def site_edits_name(policy_name: str) -> str:
    """The saved site edits this session works on under ``policy_name``: the policy's own, or a variant saved
    under another name (opened, or saved as, on the Sites page; see :func:`session_sites`)."""
    loaded = st.session_state.get(keys.SITE_EDITS_LOADED) or {}
    base = loaded.get("base")
    return str(base[0]) if base and loaded.get("policy") == policy_name else policy_name


def edits_in_use(path: str, policy_name: str) -> str:
    """The saved site edits a session starts on: those the policy's stored sites were built with when they are a
    variant of the policy saved under another name, else the policy's own."""
    stored, _ = data.stored_sites(path, policy_name)
    return W.operations.edits_in_use(data.store(path), policy_name,
                                     stored.provenance.edits if stored is not None else None)


def _edits_signature(policy: dict | None, draft: dict) -> str:
    return data.policy_json(policy or {}) + json.dumps(draft["params"], sort_keys=True) + str(draft["use_barriers"])


def session_sites(path: str, policy: dict | None):
    """The sites of this session: the stored sites when they match the settings, else built; edits replayed.

    The latest saved site edits of the policy are replayed once per session
    when they were made with the same settings. The workspace's stored sites
    are used as they are (no build) when they were built from the current
    survey, rules and settings and hold the edits of this session so far;
    otherwise the sites are built (:func:`build_sites`, with progress and a
    cancel button) unless already built in this server. Sets
    :data:`keys.SITE_RESULT` and returns ``(result, id table, offered)`` where
    ``offered`` is the saved edits document when it was made with other
    settings (the page offers it), else None.
    """
    ss = st.session_state
    draft = site_params_draft(path, policy)
    edits = ss.setdefault(keys.SITE_EDITS, [])
    sig = _edits_signature(policy, draft)
    loaded = ss.get(keys.SITE_EDITS_LOADED) or {}
    if loaded.get("sig") is not None and loaded["sig"] != sig:
        edits.clear()  # the settings changed: the session's edits were made on other sites
        ss.setdefault(keys.SITE_REDO, []).clear()
        # which saved edits (and version) the session knows stays
        loaded = {k: loaded[k] for k in ("base", "policy") if k in loaded}
    name = (policy or {}).get("name", "default")
    offered = None
    store = data.store(path)
    if loaded.get("policy") != name or not loaded.get("base"):  # the policy's edits, as the session first saw them:
        first = edits_in_use(path, name)  # a save checks nobody saved since
        loaded["base"], loaded["policy"] = (first, W.latest_version(store, "site_edit", first)), name
    ename = loaded["base"][0]  # the policy's own edits, or a variant saved under another name
    v = W.latest_version(store, "site_edit", ename)
    if loaded.get("name") is None and v is not None:
        doc = W.load_document(store, "site_edit", ename, v)
        same = doc.made_with(W.SiteParamsDoc(params=SiteParams.from_dict(dict(draft["params"])),
                                             use_barriers=draft["use_barriers"]))
        if same and not edits:
            edits.extend(dict(o) for o in doc.ops)
            ss[keys.SITE_MSG] = ("edits_applied", {"name": ename, "v": v, "n": len(doc.ops)})
            loaded = {"name": ename, "version": v, "base": (ename, v), "policy": name}
        elif not same:
            offered = (v, doc)
    ss[keys.SITE_EDITS_LOADED] = {**loaded, "sig": sig}
    stored = None if ss.get(keys.SITE_FORCE_BUILD) else matching_stored(path, policy, draft)
    baked = _stored_ops(store, stored.provenance) if stored is not None else None
    if baked is not None and [dict(o) for o in edits[:len(baked)]] == baked:
        base = data.stored_site_result(path, name, draft["params"], True)
        table, todo = None, edits[len(baked):]
    else:
        base, table = build_sites(path, policy, draft)
        todo, baked = list(edits), []
    ss[keys.SITE_FROM_STORE] = stored is not None and baked is not None and table is None
    result, done = _replay(base, todo, lambda: data.classified(path, policy))
    before = [dict(o) for o in edits[:len(baked)]]
    kept = before + done
    edits[:] = kept
    ss[keys.SITE_RESULT] = result
    ss[keys.SITE_BASE_SIG] = result_sig(base, before)
    ss[keys.SITE_RESULT_SIG] = ss[keys.SITE_BASE_SIG] if result is base else result_sig(base, kept)
    return result, table, offered


def result_sig(base, ops: list[dict]) -> str:
    return hashlib.sha1(f"{id(base)}:{len(base.sites)}:{json.dumps(ops, sort_keys=True, default=str)}"
                        .encode()).hexdigest()[:16]


def site_base():
    """The site result this session's unsaved edits were applied to (None before the sites page ran)."""
    memo = st.session_state.get(keys.SITE_REPLAY)
    return None if memo is None else memo["base"]


#: Site results a session keeps by the edits replayed onto its base: the latest and the step before it (undo; an
#: older step is replayed from the nearest kept one). Each edited result of a 1M city is about 0.1 GB.
MAX_REPLAYS = 2


def _op_key(op: dict) -> str:
    return json.dumps(op, sort_keys=True, default=str)


def _replay(base, todo: list[dict], parcels: Callable[[], object]) -> tuple[object, list[dict]]:
    """``base`` with the edits ``todo`` applied; returns ``(result, the edits kept)``.

    An edit that no longer applies is dropped, and said so. Each page run used
    to replay every edit of the session from the base (at 1M parcels each
    replay copies the 85k sites and 360k members); now the session keeps its
    last few results by the edits they hold, and a run applies only the edits
    made since (none on a plain rerun, one after an edit; undo finds the step
    before).
    """
    ss = st.session_state
    memo = ss.get(keys.SITE_REPLAY)
    steps: OrderedDict = memo["steps"] if memo is not None and memo["base"] is base else OrderedDict()
    want = [_op_key(o) for o in todo]
    result, done, start = base, [], 0
    for n in range(len(want), 0, -1):  # the longest prefix of the edits already replayed
        hit = steps.get(tuple(want[:n]))
        if hit is not None:
            result, done, start = hit[0], list(hit[1]), n
            break
    if start < len(todo):
        layer = parcels()
        for op in todo[start:]:  # one by one: an edit that no longer applies is dropped, and said so
            try:
                result = W.operations.apply_site_edits(result, [op], layer)
                done.append(dict(op))
            except PlannerError as exc:
                st.error(tr("error", err=message_in(exc, lang())))
    if todo:
        for k in {tuple(want), tuple(_op_key(o) for o in done)}:
            steps[k] = (result, [dict(o) for o in done])
            steps.move_to_end(k)
        while len(steps) > MAX_REPLAYS:
            steps.popitem(last=False)
    ss[keys.SITE_REPLAY] = {"base": base, "steps": steps}
    return result, done


def matching_stored(path: str, policy: dict | None, draft: dict):
    """The workspace's stored sites of the policy when they were built from the current inputs, else None.

    Current inputs: the survey version, the rules (policy hash), the site
    settings of the session, the barrier switch and the protected-land
    (constraint) layers, which the app always applies.
    """
    name = (policy or {}).get("name", "default")
    stored, _ = data.stored_sites(path, name)
    if stored is None or stored.provenance.site_params is None:
        return None
    params = W.SiteParamsDoc(params=SiteParams.from_dict(dict(draft["params"]))).to_dict()["params"]
    reasons = W.stale_reasons(stored.provenance, survey_version=data.survey_version(path),
                              policy_hash=policy_hash(policy), site_params=params)
    if reasons or bool(stored.meta.get("use_barriers", True)) != bool(draft["use_barriers"]):
        return None
    if not bool(stored.meta.get("use_constraints", True)) and data.layer_index(path, "constraint") is not None:
        return None  # built without the protected-land layers (`planner sites --no-constraints`); the app uses them
    return stored


def _stored_ops(store, prov) -> list[dict] | None:
    """The edit operations a stored result includes ([] without edits; None when its edits cannot be read)."""
    ref = prov.edits
    if not ref:
        return []
    name, _, v = str(ref).rpartition("@")
    try:
        return [dict(o) for o in W.load_document(store, "site_edit", name, int(v)).ops]
    except (PlannerError, ValueError):
        return None


def build_sites(path: str, policy: dict | None, draft: dict):
    """The sites built for the session's settings, with a progress bar and a cancel button while building.

    A build already made in this server is reused at once. A cancelled build
    is not started again until the user asks (the page stops with a button).
    """
    key = data.site_build_key(path, policy, draft["params"], draft["use_barriers"])
    hit = data.built_sites(key)
    if hit is not None:
        return hit
    ss = st.session_state
    slot = st.empty()
    box = slot.container(border=True)
    if ss.get(keys.SITE_BUILD_CANCELLED) == key:
        box.info(tr("wf_build_cancelled"))
        if box.button(tr("wf_build_sites_now"), key="s_build_now", type="primary"):
            ss.pop(keys.SITE_BUILD_CANCELLED, None)
            st.rerun()
        st.stop()
    box.caption(tr("wf_sites_not_built"))
    if box.button(tr("wf_cancel_build"), key="s_build_cancel"):
        ss[keys.SITE_BUILD_CANCELLED] = key  # the click stopped the build (a rerun interrupts it at its next stage)
        st.rerun()
    bar = box.progress(0.0, text=tr("building_sites"))
    done = [0]

    def step(msg: str) -> None:
        done[0] += 1
        bar.progress(min(done[0] / 8.0, 1.0), text=f"{tr('building_sites')} ({done[0]}/8) {message_in(msg, lang())}")

    out = data.site_result(path, policy, draft["params"], draft["use_barriers"], progress=step)
    slot.empty()
    return out


def policy_hash(policy: dict | None) -> str:
    """Hash of a policy dict (the shipped default when None)."""
    doc = W.PolicyDoc(policy_mod.from_dict(policy)) if policy else W.PolicyDoc.from_file(None)
    return doc.hash


def current_sites(path: str, policy: dict | None):
    """The sites of this session (Sites page settings and edits)."""
    return session_sites(path, policy)[0]


def policy_provenance(path: str, policy: dict | None) -> dict:
    """What the session's results rest on: survey version, the policy in use (name, hash, edited or not), site settings.

    ``policy_edited`` is True while the rules in use have unsaved changes (reports say so, naming the
    saved version they started from in ``policy_base``).
    """
    from planner.ui import page

    base = st.session_state.get(keys.POLICY_BASE) or {}
    edited = page.rules_unsaved()
    return provenance_of(path, policy, site_params_draft(path, policy)["params"], edited=bool(edited),
                         base=(f"{base['name']} v{base['version']}" if base.get("version") else base.get("name"))
                         if edited else None)


def provenance_of(path: str, policy: dict | None, site_params: dict, *, edited: bool = False,
                  base: str | None = None) -> dict:
    """The provenance of :func:`policy_provenance` for given site settings and rules state (no session needed)."""
    return {"survey_version": data.survey_version(path), "policy_name": (policy or {}).get("name", "default"),
            "policy_hash": policy_hash(policy), "site_params": site_params, "policy_edited": edited,
            "policy_base": base}


#: Scenario runs kept by what they rest on: the very site result and classified parcels (held weakly: a result
#: let go is not kept alive here), the document and the provenance. The comparison page runs its saved scenarios
#: on every page run and each run costs 0.3-0.5 s at 1M parcels (the rollup's look-up of the sites' parcels among
#: 1M ids); sessions share them, so a new tab on the stored sites reuses what another made.
#: Runs of saved scenarios (the comparison's) and of the scenario page's drafts are kept apart: trying five
#: variants of a draft pushed the comparison's runs out, and a new tab's first comparison made both again (1M: a
#: 2.1 s page switch instead of 0.65 s).
MAX_RUNS = 4
_RUNS: dict[str, OrderedDict[tuple, tuple]] = {"saved": OrderedDict(), "draft": OrderedDict()}
_RUNS_LOCK = threading.Lock()


def clear_runs() -> None:
    """Forget every kept scenario run."""
    with _RUNS_LOCK:
        for runs in _RUNS.values():
            runs.clear()


def _run(site_result, parcels, doc, prov: dict, kind: str = "saved") -> W.ScenarioRun:
    """:func:`planner.workflow.run_scenario` of ``doc``, made once per inputs (:data:`MAX_RUNS` kept per ``kind``:
    ``"saved"`` scenarios, ``"draft"`` ones)."""
    key = (id(site_result), id(parcels), json.dumps(doc.to_dict(), sort_keys=True, default=str),
           json.dumps(prov, sort_keys=True, default=str))
    with _RUNS_LOCK:
        for runs in _RUNS.values():
            hit = runs.get(key)
            if hit is not None and hit[0]() is site_result and hit[1]() is parcels:  # ids are reused once freed
                runs.move_to_end(key)
                return hit[2]
    run = W.run_scenario(doc, site_result.sites, site_result.parcel_sites, parcels, provenance=prov)
    with _RUNS_LOCK:
        runs = _RUNS[kind]
        runs[key] = (weakref.ref(site_result), weakref.ref(parcels), run)
        while len(runs) > MAX_RUNS:
            runs.popitem(last=False)
    return run


def ranked_sites(sites: pd.DataFrame) -> pd.DataFrame:
    """The ``ok`` sites by rank (then id): the table and the map's numbering, in the order a scenario selects them
    (:func:`planner.scenarios.model.rank_order`: distinct ranks, as ``rescore`` makes them, need no sort by id, which
    cost a 1M city's 85k sites 30-60 ms of every page run of the sites page)."""
    from planner.scenarios.model import rank_order

    if not len(sites):
        return sites
    ok = sites[sites["status"] == "ok"]
    return ok.take(rank_order(ok))


def new_session_sites(path: str, policy: dict | None):
    """``(site settings, stored site result)`` a new session's pages open (saved settings, no edits; the same cached
    result :func:`session_sites` gives them), or None when the stored sites do not match and would be built."""
    draft = saved_site_params(path, policy)
    if matching_stored(path, policy, draft) is None:
        return None
    return draft, data.stored_site_result(path, draft["policy"], draft["params"], True)


def prepare_comparison(path: str, policy: dict | None) -> int:
    """Run what a new session's comparison page shows first (its first two saved scenarios on the stored sites, as
    the session starts: saved rules and site settings, no edits); kept for every session. Returns the runs made.

    For the server's warm-up: the page's first open after a restart ran them (1.3 s at 1M parcels).
    """
    names = W.document_names(data.store(path), "scenario")[:2]  # the page's first pick
    opened = new_session_sites(path, policy) if len(names) == 2 else None
    if opened is None:
        return 0
    draft, sites = opened
    prov = provenance_of(path, policy, draft["params"])
    for n in names:
        _run(sites, data.classified_full(path, policy), W.load_document(data.store(path), "scenario", n), prov)
    return len(names)


def run_scenario(path: str, policy: dict | None, site_result, doc, *, draft: bool = False) -> W.ScenarioRun:
    """Run a scenario document on the session's sites, as the CLI does (retained classes, site checks).

    ``draft``: the scenario page's form, not a saved scenario (its runs are kept apart from the saved ones').
    """
    prov = policy_provenance(path, policy)
    run = _run(site_result, data.classified_full(path, policy), doc, prov, "draft" if draft else "saved")
    if not data.figures_visible(path):  # figures that start from enterprise tax and output: blanked (issue 14)
        import dataclasses

        from planner.ui import auth
        from planner.workflow.visibility import blank_result

        acc = auth.current()
        note = tr("auth_figures_hidden", role=tr(f"role_{acc.role}") if acc else "—")  # the reports say so too
        run = dataclasses.replace(run, result=blank_result(run.result, note))
    return run


def show_warnings(warnings) -> None:
    """Workflow warnings ``[(en, zh)]`` in the UI language."""
    for en, zh in warnings:
        st.warning(zh if lang() == "zh" else en)


def _is_zero(text: str) -> bool:
    try:
        return float(text.replace(",", "")) == 0
    except ValueError:
        return False


def key_figures(totals: pd.Series, base: pd.Series | None = None, figures=KEY_FIGURES, per_row: int = 3, *,
                rows: dict | None = None, column: int = 0) -> None:
    """st.metric cards, ``per_row`` to a row (label with unit, value in display units; the difference from ``base``).

    In a comparison, ``rows`` (:func:`planner.report.text.comparison_rows`) and the scenario's ``column`` in them
    give the value as the comparison table shows it and the difference from the baseline computed from the values
    shown (the reports' cards do the same). Three to a row keeps every label whole in a 1280 px window with the
    sidebar open.
    """
    cols = [c for i in range(0, len(figures), per_row) for c in st.columns(per_row)][: len(figures)]
    for col, k in zip(cols, figures, strict=True):
        row = (rows or {}).get(k)
        if row is None and base is not None:
            row, column = report_text.figure_row([base.get(k, np.nan), totals.get(k, np.nan)], k, lang()), 1
        value = report_text.fmt(float(totals.get(k, np.nan)), k, lang()) if row is None else row.values[column]
        delta = None
        if row is not None and column > 0 and np.isfinite(report_text.shown_number(row.diffs[column - 1])):
            d = row.diffs[column - 1]
            delta = "0" if _is_zero(d.lstrip("+-")) else d  # Streamlit reads the arrow from a leading "-"
        way = BETTER.get(k, 0)  # green when better, red when worse, grey when neither (more sites, more land)
        col.metric(report_text.label(k, lang()), value, delta,
                   delta_color="off" if delta == "0" or not way else "inverse" if way < 0 else "normal", border=True)


def chart(c):
    """An Altair chart with its text in a CJK-capable font stack (titles, axes, legends in the UI language)."""
    return c.configure(font=CHART_FONT).configure_axis(labelFont=CHART_FONT, titleFont=CHART_FONT) \
        .configure_legend(labelFont=CHART_FONT, titleFont=CHART_FONT)


def floor_frame(results_) -> pd.DataFrame:
    """Tidy floor-area parts per scenario for the comparison chart: demolished negative, retained and new positive."""
    rows = []
    for order, r in enumerate(results_):
        for i, k in enumerate(FLOOR_PARTS):
            v = float(r.totals.get(k, 0.0) or 0.0)
            rows.append({"scenario": r.name, "part": tr(f"part_{k}"), "order": i,
                         "value": report_text.scaled(-v if k == "demolished_floor_m2" else v, k, lang()),
                         "s_order": order})
    return pd.DataFrame(rows)


def floor_chart(results_):
    """The one floor-area chart: per scenario, existing floor area retained, demolished (left of 0) and new."""
    import altair as alt

    df = floor_frame(results_)
    names = [r.name for r in results_]
    colors = ["#9e9e9e", "#d6604d", "#4393c3"]
    parts = [tr(f"part_{k}") for k in FLOOR_PARTS]
    unit = display_unit("new_floor_m2", lang())[1]
    c = alt.Chart(df).mark_bar().encode(
        y=alt.Y("scenario:N", sort=names, title=None),
        x=alt.X("sum(value):Q", title=tr_plain("cmp_floor_axis", unit=unit)),
        color=alt.Color("part:N", sort=parts, scale=alt.Scale(domain=parts, range=colors),
                        legend=alt.Legend(orient="bottom", title=None)),
        order=alt.Order("order:Q"),
        tooltip=[alt.Tooltip("scenario:N", title=tr("cmp_series")), alt.Tooltip("part:N", title=tr("cmp_figure")),
                 alt.Tooltip("value:Q", title=unit, format=",.2f")],
    ).properties(height=56 * len(names) + 130)  # Streamlit fits axes and legend inside this height
    return chart(c)


def figure_text(value, key: str) -> str:
    """A figure's value as cards show it (display units of the session language, whole years)."""
    return report_text.fmt(value, key, lang())


def figure_label(key: str) -> str:
    """Label (with unit) of a scenario figure or timeline metric, from the report's table."""
    return report_text.label(key, lang())


def comparison_table(cmp, names: list[str]) -> pd.DataFrame:
    """The comparison table as text: figure labels with units, values in display units (万㎡/亿元 in Chinese,
    m²/million yuan in English), signed differences and differences in %: the numbers of the reports' tables
    (:func:`planner.report.text.comparison_rows`: one precision per figure, differences from the values shown,
    percentages of the values themselves)."""
    rows = report_text.comparison_rows(cmp, lang())
    names = list(cmp.names)
    out = pd.DataFrame({tr("cmp_figure"): [figure_label(k) for k in rows]})
    for i, n in enumerate(names):
        out[n] = [r.values[i] for r in rows.values()]
    for j, n in enumerate(names[1:]):
        out[tr_plain("cmp_diff_col", n=n, base=names[0])] = [r.diffs[j] for r in rows.values()]
        out[tr_plain("cmp_pct_col", n=n, base=names[0])] = [r.pcts[j] for r in rows.values()]
    return out.replace("–", "—")


def report_buttons(obj, name: str, *, key: str, sensitivity=None) -> None:
    """Excel, HTML and PDF (A4) downloads of a scenario result or a comparison, made when clicked (in another
    thread; a click does not re-run the page, which at 1M would run its scenarios again); ``sensitivity``
    (:func:`runs_sensitivity`): a section in each."""
    import tempfile
    from pathlib import Path

    from planner import report as rep
    from planner.report.pdf import report_pdf
    from planner.scenarios.model import ScenarioResult
    from planner.ui import auth

    L = lang()
    ws = st.session_state.get("_settings")
    bg = data.all_layers(ws.workspace, "boundary") if ws is not None else None
    bg = bg if bg is not None and len(bg) else None
    safe = rep.file_stem(name, ascii_only=True)  # Latin only (zip tools on Chinese Windows), at most 120 bytes
    allowed = auth.download_guard(ws.workspace if ws is not None else "")

    def xlsx() -> bytes:
        allowed()
        with tempfile.TemporaryDirectory() as tmp:
            p = Path(tmp) / "report.xlsx"
            (rep.to_excel if isinstance(obj, ScenarioResult) else rep.compare_to_excel)(obj, p, lang=L,
                                                                                       sensitivity=sensitivity)
            return p.read_bytes()

    def html() -> bytes:
        allowed()
        f = rep.html_report if isinstance(obj, ScenarioResult) else rep.compare_html
        return f(obj, lang=L, background=bg, sensitivity=sensitivity).encode("utf-8")

    def pdf() -> bytes:
        allowed()
        return report_pdf(obj, lang=L, background=bg, sensitivity=sensitivity)

    c1, c2, c3 = st.columns(3)
    c1.download_button(tr("dl_excel"), xlsx, file_name=f"{safe}.xlsx", key=f"{key}_xlsx", type="primary",
                       mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", width="stretch",
                       on_click="ignore")
    c2.download_button(tr("dl_html"), html, file_name=f"{safe}.html", mime="text/html", key=f"{key}_html",
                       width="stretch", on_click="ignore")
    c3.download_button(tr("dl_pdf"), pdf, file_name=f"{safe}.pdf", mime="application/pdf", key=f"{key}_pdf",
                       width="stretch", on_click="ignore")


#: Sensitivity outputs shown (in this order): the reports' (:data:`planner.report.text.SENSITIVITY_SHOWN`).
SENSITIVITY_SHOWN = report_text.SENSITIVITY_SHOWN


def sensitivity(path: str, policy: dict | None, site_result, doc) -> pd.DataFrame:
    """:func:`planner.workflow.scenario_sensitivity` of the scenario on the session's sites (the page's
    classification), without what starts from enterprise tax for roles that may not see it."""
    from planner.workflow.visibility import hide_sensitivity_figures

    bar = st.progress(0.0, text=tr_plain("sc_sens_running"))
    table = W.scenario_sensitivity(doc, site_result.sites, site_result.parcel_sites, data.classified_full(path, policy),
                                   progress=lambda share: bar.progress(min(1.0, share), text=tr_plain("sc_sens_running")))
    bar.empty()
    if not data.figures_visible(path):
        table = hide_sensitivity_figures(table)
    return table.reset_index(drop=True)


def runs_sensitivity(path: str, policy: dict | None, site_result, runs: list) -> list:
    """:func:`planner.workflow.runs_sensitivity` of the page's scenario runs on the session's sites, with a progress
    bar, without what starts from enterprise tax for roles that may not see it (the comparison's reports)."""
    bar = st.progress(0.0, text=tr_plain("sc_sens_running"))

    def step(done: int, total: int) -> None:
        bar.progress(min(1.0, done / max(total, 1)), text=f"{tr_plain('sc_sens_running')} {done}/{total}")

    out = W.runs_sensitivity(runs, sites=site_result.sites, parcel_sites=site_result.parcel_sites,
                             parcels=data.classified_full(path, policy), hide_figures=not data.figures_visible(path),
                             progress=step)
    bar.empty()
    return out


def tornado_chart(table: pd.DataFrame, output: str, swing: float = 0.2):
    """Bars from the scenario's figure to its figure with each parameter ``-swing`` and ``+swing``, the parameter
    that moves it most on top (payback years: longer is worse)."""
    import altair as alt

    from planner.i18n import param_label

    rows = []
    for _, r in table.iterrows():
        base = r[f"{output}_base"]
        for side, sign in (("low", "-"), ("high", "+")):
            v = r[f"{output}_{side}"]
            if pd.notna(v) and pd.notna(base) and np.isfinite(v) and np.isfinite(base):
                rows.append({"param": param_label(r["parameter"], lang()), "side": f"{sign}{swing:.0%}",
                             "from": float(base), "to": float(v), "span": abs(float(v) - float(base))})
    df = pd.DataFrame(rows)
    if not len(df):
        return None
    order = df.groupby("param")["span"].sum().sort_values(ascending=False).index.tolist()
    sides = [f"-{swing:.0%}", f"+{swing:.0%}"]
    height = 34 * len(order) + 130  # the whole chart (Streamlit fits axes and legend in it): rows of 34 px
    bars = alt.Chart(df).mark_bar(height=16).encode(
        y=alt.Y("param:N", sort=order, title=None, axis=alt.Axis(labelLimit=260, labelOverlap=False)),
        x=alt.X("from:Q", title=column_label(output, lang()), scale=alt.Scale(zero=False)), x2="to:Q",
        color=alt.Color("side:N", sort=sides, scale=alt.Scale(domain=sides, range=["#4393c3", "#d6604d"]),
                        title=tr_plain("sc_sens_side"), legend=alt.Legend(orient="bottom")),
        tooltip=[alt.Tooltip("param:N", title=tr_plain("sc_sens_param")), alt.Tooltip("side:N", title=""),
                 alt.Tooltip("to:Q", title=column_label(output, lang()), format=",.1f")])
    return chart(bars.properties(height=height))  # the bars of a parameter meet at the scenario's figure


def sensitivity_table(table: pd.DataFrame, swing: float = 0.2) -> pd.DataFrame:
    """The sensitivity as the page lists it: per parameter, its value (one template) and each output shown at
    -swing, as it is and +swing, labelled in the UI language."""
    from planner.i18n import param_label

    out = pd.DataFrame({tr_plain("sc_sens_param"): [param_label(p, lang()) for p in table["parameter"]]})
    if "value_base" in table.columns and table["value_base"].notna().all():
        def shown(v) -> str:
            return "—" if v is None or pd.isna(v) else f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.3g}"

        out[tr_plain("sc_sens_value")] = [" / ".join(map(shown, t)) for t in
                                          zip(table["value_low"], table["value_base"], table["value_high"], strict=True)]
    for o in SENSITIVITY_SHOWN:
        if f"{o}_base" in table.columns:
            for side, head in (("low", f"-{swing:.0%}"), ("base", "±0"), ("high", f"+{swing:.0%}")):
                out[f"{column_label(o, lang())} {head}"] = table[f"{o}_{side}"].round(1).to_numpy()
    return out
