"""Contiguous sites (连片地块): settings, ranked table linked to the map, click edits, drawn boundaries.

Everything the user works on is a draft in the session (:mod:`planner.ui.keys`):
site settings, the list of edits (with undo and redo) and the selected site id.
The selection follows the id, never a table row. Saving stores the sites,
their parcel table and the edits in one commit through the workflow layer.
"""

import hashlib

import numpy as np
import pandas as pd
import pyproj
import shapely
import streamlit as st

from planner import maps
from planner import workflow as W
from planner.errors import PlannerError
from planner.i18n import column_label
from planner.sites import SiteParams
from planner.ui import data, drafts, exports, keys, mapview, page, results, tables
from planner.ui.state import error_text, lang, md_text, tr

settings = page.start("nav_sites")
page.policy_marker()
ws = settings.workspace
ss = st.session_state
policy = page.active_policy()
pname = (policy or {}).get("name", "default")
gdf = data.classified(ws, policy)
index = data.parcel_index(ws, policy)
store = data.store(ws)
draft = results.site_params_draft(ws, policy)
P = draft["params"]



def _save_params(expect: int | None) -> None:
    """Save the site settings as the next version of the policy's; refused if a colleague saved since ``expect``."""
    try:
        doc = W.SiteParamsDoc(name=pname, params=SiteParams.from_dict(dict(P)), use_barriers=draft["use_barriers"])
        v = W.save_document(store, doc, expect_version=expect)
    except W.SaveConflictError as exc:
        ss[SITE_CONFLICT] = {"kind": "site_params", "msg": error_text(exc),
                             "version": W.latest_version(store, "site_params", pname)}
        return
    except PlannerError as exc:
        ss[keys.SITE_MSG] = ("error", {"err": error_text(exc)})
        return
    ss[keys.SITE_PARAMS] = {**ss.get(keys.SITE_PARAMS, draft), "version": v}
    ss.pop(SITE_CONFLICT, None)
    ss[keys.SITE_MSG] = ("saved", {"name": pname, "v": v})


def _load_saved_params() -> None:
    """Drop the session's site settings for the saved ones (the form is seeded from them)."""
    ss[keys.SITE_PARAMS] = results.saved_site_params(ws, policy)
    drafts.drop_widgets(("s_gap", "s_min", "s_bar", "s_abs", "s_enc", "s_max_area", "s_max_owners", "s_streets",
                         "s_diff_w"))
    ss.pop(SITE_CONFLICT, None)


def _conflict_box(conflict: dict, *, load: str, on_load, on_mine) -> None:
    """A refused save: who saved what since, a button that loads theirs and one that saves mine after all."""
    st.error(md_text(conflict["msg"]))
    latest = conflict["version"]
    b1 = b2 = st.container()  # one under another: the labels are long
    if latest is not None:
        b1.button(load, key=f"s_conflict_load_{conflict['kind']}", on_click=on_load)
    b2.button(tr("wf_save_mine", next=(latest or 0) + 1), key=f"s_conflict_mine_{conflict['kind']}",
              on_click=on_mine, args=(latest,))


# -- settings: a draft seeded into the form, kept across pages ---------------------------------------------------
SITE_CONFLICT = "site_conflict"  # a save refused because a colleague saved since: {"kind", "version", "msg"}
if drafts.form_lost("sites"):  # shown again or after a sign-in: the settings and the edit mode come from the draft
    drafts.drop_widgets(("s_gap", "s_min", "s_bar", "s_abs", "s_enc", "s_max_area", "s_max_owners", "s_streets",
                         "s_diff_w", "s_mode_"))
for k, v in (("s_gap", float(P.get("gap_m", 2.0))), ("s_min", float(P.get("min_area_m2", 10_000.0))),
             ("s_bar", bool(draft["use_barriers"])), ("s_abs", bool(P.get("absorb_enclaves", True))),
             ("s_enc", float(P.get("enclave_max_area_m2", 3_333.0))),
             ("s_max_area", float(P.get("max_area_m2") or 0.0)), ("s_max_owners", int(P.get("max_owners") or 0)),
             ("s_streets", bool(P.get("split_streets", True))),
             ("s_diff_w", float((P.get("weights") or {}).get("difficulty", 0.15)))):
    keys.seed(k, v)
with st.expander(tr("site_params"), expanded=False):
    with st.form("site_params_form"):
        c = st.columns(5)
        c[0].number_input(tr("gap_m"), 0.0, 50.0, step=1.0, key="s_gap")
        c[1].number_input(tr("min_area"), 0.0, 200_000.0, step=1_000.0, key="s_min")
        c[2].toggle(tr("use_barriers"), key="s_bar")
        c[3].toggle(tr("absorb_enclaves"), key="s_abs")
        c[4].number_input(tr("max_enclave"), 0.0, 50_000.0, step=100.0, key="s_enc")
        c = st.columns(5)  # realistic sites: size and owner limits, streets, assembly difficulty
        c[0].number_input(tr("rs_max_area"), 0.0, 1e9, step=5_000.0, key="s_max_area", help=tr("rs_max_area_help"))
        c[1].number_input(tr("rs_max_owners"), 0, 1_000_000, step=1, key="s_max_owners", help=tr("rs_max_owners_help"))
        c[2].toggle(tr("rs_split_streets"), key="s_streets", help=tr("rs_split_streets_help"))
        c[3].number_input(tr("rs_difficulty_weight"), 0.0, 100.0, step=0.05, key="s_diff_w",
                          help=tr("rs_difficulty_weight_help"))
        if st.form_submit_button(tr("sc_run")):
            base = {**P, "gap_m": float(ss["s_gap"]), "min_area_m2": float(ss["s_min"]),
                    "absorb_enclaves": bool(ss["s_abs"]), "enclave_max_area_m2": float(ss["s_enc"])}
            try:
                new = W.operations.apply_site_options(
                    base, max_area_m2=float(ss["s_max_area"]), max_owners=int(ss["s_max_owners"]),
                    split_streets=bool(ss["s_streets"]), difficulty_weight=float(ss["s_diff_w"]))
                ss[keys.SITE_PARAMS] = {**draft, "use_barriers": bool(ss["s_bar"]), "params": new}
                st.rerun()
            except PlannerError as exc:
                st.error(error_text(exc))
    drafts.form_drawn("sites")
    if st.button(tr("wf_save_params"), key="s_save_params", **drafts.write_button("save_site_params")):
        _save_params(draft.get("version"))
    conflict = ss.get(SITE_CONFLICT)
    if conflict and conflict["kind"] == "site_params":
        _conflict_box(conflict, load=tr("wf_params_load", v=conflict["version"]), on_load=_load_saved_params,
                      on_mine=_save_params)

# Messages, the build's progress and the stored result's box live in one container made on every run: the
# elements below (the map above all) keep their place in the page whether a message shows or not, so the
# browser never re-creates the map because a note came or went.
with st.container():
    with st.spinner(tr("building_sites")):
        result, id_table, offered = results.session_sites(ws, policy)
    edits = ss[keys.SITE_EDITS]
    redo = ss.setdefault(keys.SITE_REDO, [])
    if offered is not None:
        v, doc = offered
        with st.container(border=True):
            st.caption(tr("edits_saved_found", name=doc.name, v=v, n=len(doc.ops)) + " · " + tr("edits_stale"))
            if st.button(tr("edits_apply"), key="s_load_edits"):
                edits[:] = [dict(o) for o in doc.ops]
                redo.clear()
                ss[keys.SITE_EDITS_LOADED] = {**ss[keys.SITE_EDITS_LOADED], "name": doc.name, "version": v,
                                              "base": (doc.name, v)}
                st.rerun()
    msg = ss.pop(keys.SITE_MSG, None)
    if msg:
        (st.error if msg[0] == "error" else st.success)(tr(msg[0], **msg[1]))

    # -- the stored result: provenance, stale or not, one-click rebuild --------------------------------------------
    stored, err = data.stored_sites(ws, pname)
    if err is not None and store.has_layer("sites", pname):
        st.error(error_text(err))
    if stored is not None:
        reasons = W.stale_reasons(stored.provenance, survey_version=data.survey_version(ws),
                                  policy_hash=results.policy_hash(policy),
                                  site_params=W.SiteParamsDoc(params=SiteParams.from_dict(dict(P))).to_dict()["params"])
        with st.container(border=True):
            st.caption(tr("wf_stored_sites", name=pname) + " · " + stored.provenance.summary(lang()))
            if reasons:
                st.warning(tr("wf_stale") + "；".join(zh if lang() == "zh" else en for en, zh in reasons))
                st.button(tr("wf_rebuild_sites"), key="s_rebuild", on_click=lambda: _store_result(),
                          **drafts.write_button("build_sites"))
            elif ss.get(keys.SITE_FROM_STORE):
                c1, c2 = st.columns([3, 1])
                c1.caption(tr("wf_using_stored_sites"))
                c2.button(tr("wf_build_sites_now"), key="s_force_build",
                          on_click=lambda: ss.__setitem__(keys.SITE_FORCE_BUILD, True))
sites = result.sites
ok = results.ranked_sites(sites)

m = st.columns(4)
m[0].metric(tr("m_sites"), f"{len(ok):,}", border=True)
m[1].metric(tr("m_land"), f"{ok['land_area_m2'].sum() / 1e4:,.1f}" if len(ok) else "0", border=True)
m[2].metric(tr("m_parcels"), f"{int(ok['n_parcels'].sum()) if len(ok) else 0:,}", border=True)
m[3].metric(column_label("potential_floor_area_m2", lang()), results.figure_text(ok["potential_floor_area_m2"].sum(), "potential_floor_area_m2"), border=True)  # gross planned, not net new

with st.container():  # made on every run (the map below keeps its place)
    if not len(ok):
        st.info(tr("no_sites"))

sites_idx = data.sites_index(sites)
ps = result.parcel_sites
site_of = data.site_of_parcel(ss.get(keys.SITE_RESULT_SIG), ps)  # parcel -> site, once per result, shared
home = index.lonlat_bounds()
sel = ss.get(keys.SITE_SELECTED)
if sel is not None and not (sites["site_id"].astype(str) == str(sel)).any():
    sel = ss[keys.SITE_SELECTED] = None  # the selected site is gone (e.g. its last parcel was removed)


def _select(site_id: str | None, *, zoom: bool = True) -> None:
    ss[keys.SITE_SELECTED] = site_id
    if zoom and site_id:
        b = data.find_bounds(index, sites_idx, site_id, pad_m=80)
        if b is not None:
            mapview.focus("site_map", b)


def _push(op: dict) -> None:
    """A new edit: onto the list, and the redo stack is cleared."""
    ss[keys.SITE_EDITS].append(op)
    ss[keys.SITE_REDO] = []


def _load_saved_edits(keep_mine: bool, version: int | None = None) -> None:
    """Take the latest saved edits of the policy, with this session's own edits on top (``keep_mine``) or not.

    The session's own edits are those not in the saved version it started
    from; an edit that no longer applies on the colleague's edits is dropped
    (and said so) when the sites are built again.
    """
    loaded = ss.get(keys.SITE_EDITS_LOADED) or {}
    ename = results.site_edits_name(pname)
    base_v = results.site_edits_base(ename)
    before = [dict(o) for o in W.load_document(store, "site_edit", ename, base_v).ops] if base_v else []
    latest = W.latest_version(store, "site_edit", ename)
    theirs = [dict(o) for o in W.load_document(store, "site_edit", ename, latest).ops] if latest else []
    mine = [dict(o) for o in ss[keys.SITE_EDITS] if dict(o) not in before] if keep_mine else []
    ss[keys.SITE_EDITS] = theirs + [o for o in mine if o not in theirs]
    ss[keys.SITE_REDO] = []
    ss[keys.SITE_EDITS_LOADED] = {**loaded, "name": ename, "version": latest, "base": (ename, latest)}
    ss.pop(SITE_CONFLICT, None)
    if keep_mine:  # said next to the buttons clicked (the top of the page may be out of view)
        ss[keys.SITE_NOTE] = ("wf_edits_merged", {"v": latest or 0, "n": len(mine)})


def _edits_conflict(conflict: dict) -> None:
    """A refused save of the edits, where it was clicked: who saved since, and what the user may do."""
    with st.container(border=True):
        st.error(md_text(conflict["msg"]))
        latest = conflict["version"]
        b1 = b2 = b3 = st.container()  # one under another: the panel is narrow
        clicked = False
        if latest is not None:
            clicked |= b1.button(tr("wf_edits_merge", v=latest), key="s_conflict_merge", type="primary",
                                 on_click=lambda: _load_saved_edits(True))
            clicked |= b2.button(tr("wf_edits_theirs", v=latest), key="s_conflict_theirs",
                                 on_click=lambda: _load_saved_edits(False))
        clicked |= b3.button(tr("wf_save_mine", next=(latest or 0) + 1), key="s_conflict_mine",
                             on_click=lambda v=latest: _store_result(v, note=True))
        if clicked:
            st.rerun()  # the whole page: the edits, the sites and the stored result's box change


def _store_result(expect: int | None | str = "opened", *, note: bool = False, as_name: str | None = None) -> None:
    """Store sites, parcel table and edits in one commit (the stored result is then up to date).

    ``expect``: the saved edits version this save may follow; by default the one the session's edits start from.
    ``note``: say how it went next to the edit panel's buttons (:data:`keys.SITE_NOTE`), not at the top of the page.
    ``as_name``: save the edits under this new name (refused if taken); the session then works on them.
    """
    said = keys.SITE_NOTE if note else keys.SITE_MSG
    ename = as_name or results.site_edits_name(pname)
    try:
        doc = W.SiteEditsDoc(ename, tuple(dict(o) for o in edits), policy_name=pname,
                             params=SiteParams.from_dict(dict(P)),
                             use_barriers=draft["use_barriers"])
        prov = W.Provenance.new("flags", survey_version=data.survey_version(ws), policy_name=pname,
                                policy_hash=results.policy_hash(policy))
        _, hw = data.previous_sites(ws, pname)
        # the classification the sites rest on goes in the same commit when the rules are a saved version
        saved_rules = not page.rules_unsaved()
        # checked against the saved edits this session's edits start from: a colleague's newer edits are never replaced
        W.store_sites(store, pname, result, gdf, flags_prov=prov, flags_version=None,
                      params=W.SiteParamsDoc(pname, doc.params, draft["use_barriers"]), edits=doc,
                      id_table=id_table, high_water_mark=hw,
                      flags=data.reasons_for(ws, policy)(gdf) if saved_rules else None,  # with the reasons the CLI writes
                      expect_edits_version=None if as_name else results.site_edits_base(ename) if expect == "opened"
                      else expect)
        v = W.latest_version(store, "site_edit", ename)
        ss[keys.SITE_EDITS_LOADED] = {**ss.get(keys.SITE_EDITS_LOADED, {}), "name": ename, "version": v,
                                      "base": (ename, v), "policy": pname}
        ss.pop(SITE_CONFLICT, None)
        ss[said] = ("wf_edits_saved_as", {"name": ename, "v": v or 0}) if as_name else \
            ("wf_sites_stored", {"name": ename, "v": v or 0})
    except W.SaveConflictError as exc:
        if as_name:  # a name taken: said next to the box it was typed in (nothing was written)
            ss[said] = ("error", {"err": error_text(exc)})
            return
        ss[SITE_CONFLICT] = {"kind": "site_edit", "msg": error_text(exc),
                             "version": W.latest_version(store, "site_edit", ename)}
    except PlannerError as exc:
        ss[said] = ("error", {"err": error_text(exc)})


def _edits_unsaved(ename: str) -> bool:
    """Whether the session's edits differ from the saved version of ``ename`` they started from."""
    base_v = results.site_edits_base(ename)
    saved = [dict(o) for o in W.load_document(store, "site_edit", ename, base_v).ops] if base_v else []
    return [dict(o) for o in edits] != saved


def _open_edits(name: str) -> None:
    """Make the latest saved edits ``name`` (the policy's own or a variant) the session's edits."""
    try:
        v = W.latest_version(store, "site_edit", name)
        doc = W.load_document(store, "site_edit", name, v)
    except PlannerError as exc:
        ss[keys.SITE_NOTE] = ("error", {"err": error_text(exc)})
        return
    ss[keys.SITE_EDITS] = [dict(o) for o in doc.ops]
    ss[keys.SITE_REDO] = []
    ss[keys.SITE_EDITS_LOADED] = {**ss.get(keys.SITE_EDITS_LOADED, {}), "name": name, "version": v,
                                  "base": (name, v), "policy": pname}
    ss.pop(SITE_CONFLICT, None)
    ss.pop(keys.SITE_PENDING, None)
    ss[keys.SITE_NOTE] = ("wf_edits_opened", {"name": name, "v": v, "n": len(doc.ops)})


def _edits_variants(right: dict) -> None:
    """The edits in use; save them under another name, or open other saved edits of the policy."""
    ename = results.site_edits_name(pname)
    v = W.latest_version(store, "site_edit", ename)
    with st.expander(tr("wf_edits_variants")):
        st.caption(tr("wf_edits_in_use", name=ename, v=v) if v else tr("wf_edits_in_use_new", name=ename))
        new = st.text_input(tr("wf_new_name"), key="s_edits_as_name").strip()
        # the whole page afterwards (the edits, the stored result's box): these buttons sit in the map's fragment
        if st.button(tr("wf_edits_save_as"), key="s_edits_save_as", disabled=not new or right["disabled"],
                     help=right["help"] if right["disabled"] else tr("wf_edits_save_as_help"), on_click=_save_as):
            st.rerun()
        names = W.site_edit_names(store, pname)
        if names:
            dirty = _edits_unsaved(ename)
            c1, c2 = st.columns([2, 1], vertical_alignment="bottom")
            pick = c1.selectbox(tr("wf_edits_pick"), names, index=names.index(ename) if ename in names else 0,
                                key=f"s_edits_pick_{pname}")
            if c2.button(tr("wf_open"), key="s_edits_open", disabled=dirty,
                         help=tr("wf_open_dirty") if dirty else None, on_click=_open_edits, args=(pick,)):
                st.rerun()


def _save_as() -> None:
    """Save the session's edits under the name typed (as the box holds it when the button is clicked)."""
    name = str(ss.get("s_edits_as_name") or "").strip()
    if name:
        _store_result(note=True, as_name=name)
        if ss.get(keys.SITE_NOTE, ("",))[0] != "error":
            ss["s_edits_as_name"] = ""  # saved: the box is free for the next name


show_cols = [c for c in ("rank", "site_id", "n_parcels", "land_area_mu", "plot_ratio", "flagged_share",
                         "potential_floor_area_m2", "n_owners", "n_enterprises", "n_retained_inside", "difficulty",
                         "score") if c in ok.columns]
table = pd.DataFrame(ok[show_cols]).reset_index(drop=True)
# the table widget is keyed by the table's order: when ranks move, an old row selection cannot point at another site
tkey = "site_tbl_" + hashlib.sha1(table["site_id"].astype(str).to_numpy().astype("U").tobytes()).hexdigest()[:10]


def _rerun_part() -> None:
    """Show a new selection: rerun the site workspace (table, panel, map) only, the page above stays as it is."""
    mapview.rerun_part()


def _scope_warning(pids: list[str]) -> str | None:
    """Which of ``pids`` are not three-low, and which are outside the policy's land uses (None: all flagged)."""
    part = gdf.iloc[data.positions_of(index, pids)]  # the rows of pids by the index's id lookup (no scan)
    g = part.set_index(part["parcel_id"].astype(str)).loc[pids]
    # out of the policy's scope (its land-use classes or source codes): the classification says "n/a"
    na = g["low_utilization"].astype("string").eq("n/a").fillna(False) if "low_utilization" in g else g["land_use"].isna()
    out_scope = [p for p, o in zip(pids, na.to_numpy(dtype=bool), strict=True) if o]
    not_flagged = [p for p, f in zip(pids, g["three_low"].fillna(False).astype(bool), strict=True)
                   if not f and p not in out_scope]
    if not out_scope and not not_flagged:
        return None
    parts = []
    if out_scope:
        uses = sorted({tables.format_value("land_use", u) for u in g.loc[out_scope, "land_use"]})
        parts.append(tr("wf_out_of_scope", n=len(out_scope), ids="、".join(out_scope[:5]), uses="、".join(uses)))
    if not_flagged:
        parts.append(tr("wf_not_flagged", n=len(not_flagged), ids="、".join(not_flagged[:5])))
    return " ".join(parts)


def _propose(op: dict, pids: list[str]) -> None:
    """Apply an edit, or hold it for confirmation when it brings in non-flagged or out-of-scope parcels."""
    warn = _scope_warning(pids) if op["op"] in ("add", "boundary") else None
    if warn:
        ss[keys.SITE_PENDING] = {"op": op, "warning": warn}
    else:
        _push(op)


def _mode_labels() -> dict[str, str]:
    return {tr(f"edit_{k}"): k for k in ("none", "add", "remove")}


def _edit_mode() -> str:
    """The edit mode chosen with the radio of :func:`site_panel` (before it is drawn in this run)."""
    return _mode_labels().get(ss.get(f"s_mode_{lang()}"), "none")


def site_panel(sel: str | None) -> tuple[str | None, str]:
    """The ranked table, the edit panel and the exports; returns the selected site and the edit mode."""
    st.subheader(tr("site_table"))
    st.caption(tr("select_site_hint"))

    def _mark(d, rows):  # the selected site's row marked in a first column (a Styler highlight cost 0.1 s per run)
        out = d.copy()
        ids = out["site_id"].astype(str).to_numpy()
        now = sel
        if rows and rows[0] < len(ids) and ss.get("_site_tbl_pick") != (tkey, ids[rows[0]]):
            now = ids[rows[0]]  # a row just ticked: the site it selects below (the mark followed a run late)
        out.insert(0, "▶", np.where(ids == str(now), "▶", ""))
        return out

    # a page at a time, sorted and found on the server (100k sites open)
    ev, shown = tables.paged(table, style=_mark, style_selection=True, height=360, on_select="rerun",
                             selection_mode="single-row", key=tkey, find_col="site_id")
    rows = ev.selection.rows if ev is not None else []
    picked = str(shown.iloc[rows[0]]["site_id"]) if rows and rows[0] < len(shown) else None
    if picked is not None and ss.get("_site_tbl_pick") != (tkey, picked):
        ss["_site_tbl_pick"] = (tkey, picked)
        _select(picked)
        sel = picked

    st.subheader(tr("edit_site"))
    mlabels = _mode_labels()
    mode = mlabels[st.radio(tr("edit_mode"), list(mlabels), horizontal=True, key=f"s_mode_{lang()}")]
    st.caption(tr("edits", n=len(edits)) + " · " + (tr("wf_selected", id=sel) if sel else tr("wf_no_selection")))
    pend = ss.get(keys.SITE_PENDING)
    if pend:
        st.warning(pend["warning"])
        p1, p2, _ = st.columns([1, 1, 2])
        if p1.button(tr("wf_add_anyway"), key="s_pending_yes", type="primary"):
            _push(ss.pop(keys.SITE_PENDING)["op"])
            st.rerun()
        if p2.button(tr("dm_cancel"), key="s_pending_no"):
            ss.pop(keys.SITE_PENDING)
            st.rerun()
    cc = st.columns(2)  # undo and redo side by side, the save under them: three in a row cut their labels short
    if cc[0].button("↺ " + tr("undo"), disabled=not edits, key="s_undo", width="stretch"):
        redo.append(edits.pop())
        st.rerun()
    if cc[1].button("↻ " + tr("wf_redo"), disabled=not redo, key="s_redo", width="stretch"):
        edits.append(redo.pop())
        st.rerun()
    right = drafts.write_button("build_sites", tr("wf_save_edits_help"))
    if not right["disabled"]:
        right = drafts.write_button("save_site_edits", tr("wf_save_edits_help"))
    if st.button(tr("save_edits"), key="s_save", type="primary", on_click=lambda: _store_result(note=True),
                 width="stretch", **right):
        st.rerun()  # the whole page: the stored result's box changes
    note_slot = st.container()  # filled once every button of the panel had its say (some rerun the page)
    conflict = ss.get(SITE_CONFLICT)
    if conflict and conflict["kind"] == "site_edit":  # the save was refused: a colleague saved edits since
        _edits_conflict(conflict)
    _edits_variants(right)
    note = ss.pop(keys.SITE_NOTE, None)
    if note:  # what the save (or a conflict's choice) did, where the user clicked, and as a toast
        text = tr(note[0], **note[1])
        (note_slot.error if note[0] == "error" else note_slot.success)(text)
        st.toast(text, icon=":material/error:" if note[0] == "error" else ":material/check_circle:")
    st.caption(tr("draw_hint"))
    exports.sites_page(ws, policy, result, gdf, sel, ok)  # export what you see; site briefs (PDF)
    return sel, mode


SITE_FILL = "#9e9ac8"  # parcels in a site


def map_layers(sel: str | None) -> list:
    """The parcels (sites in purple, the selected site in orange) and the site outlines."""

    sig = tile_sig = ss.get(keys.SITE_RESULT_SIG)
    lookup = data.site_of_parcel(sig, ps)  # parcel -> site, shared by the tiles
    members, fills = lookup, {}  # (its hashed index made when a tile first needs it)
    base, base_sig = results.site_base(), ss.get(keys.SITE_BASE_SIG)
    if base is not None and base_sig is not None and base_sig != sig:
        # unsaved edits: the tiles keep the colours of the result before them, the browser recolours the parcels
        # the edits moved in or out of a site (one edit no longer re-makes every tile of the view)
        changed = data.membership_changes(base_sig, base.parcel_sites, sig, ps,
                                          candidates=data.edit_candidates(edits, lookup))
        if changed is not None:
            added, removed = changed
            tile_sig, members = base_sig, data.site_of_parcel(base_sig, base.parcel_sites)
            fills = dict.fromkeys(map(str, added), SITE_FILL)
            if len(removed):
                g = gdf.iloc[data.positions_of(index, list(removed))]
                fills.update(zip(g["parcel_id"].astype(str), maps.three_low_class(g).map(maps.CLASS_COLORS), strict=True))

    def parcel_colors(g):  # a tile's parcels: in a site (purple) or by class (hash look-ups, no scan)
        in_site = members.index.get_indexer(g["parcel_id"].astype(str)) >= 0
        cls = maps.three_low_class(g).map(maps.CLASS_COLORS).to_numpy()
        return np.where(in_site, SITE_FILL, cls)

    # the selected site's parcels are filled in the browser: picking another site reuses every tile
    mine = lookup.members_of(sel) if sel else ()
    out = [mapview.MapLayer("parcels", tr("lyr_parcels"), index, columns=("parcel_id", "land_use", "three_low",
                                                                          "n_low", "n_unknown"),
                            tooltip={c: column_label(c, lang()) for c in ("parcel_id", "land_use")},
                            color=parcel_colors, lod=True, fill_opacity=0.55,
                            style_key=f"sites:{tile_sig}", highlight=mine, highlight_fill="#f16913",
                            fills=fills)]
    if sites_idx is not None:
        out.append(mapview.MapLayer("sites", tr("lyr_sites"), sites_idx, columns=("site_id", "rank"),
                                    tooltip={c: column_label(c, lang()) for c in ("site_id", "rank")},
                                    color="#54278f", fill_opacity=0.0, weight=3, coarse_cap=mapview.SITE_OUTLINES_PER_TILE))
    return out


def _drawn_polygon(out: dict):
    drawings = out.get("all_drawings") or []
    geom = drawings[-1].get("geometry") if drawings else None
    poly = shapely.geometry.shape(geom) if geom else None
    if poly is None or poly.geom_type not in ("Polygon", "MultiPolygon"):
        return None
    tf = pyproj.Transformer.from_crs("EPSG:4326", gdf.crs, always_xy=True)
    return shapely.transform(poly, lambda c: np.column_stack(tf.transform(c[:, 0], c[:, 1])))


def sites_map(sel: str | None, mode: str) -> None:
    """The map: click a site to select it, click parcels to edit it, draw a boundary."""
    out = mapview.render_map("site_map", map_layers(sel), settings, home_bounds=home, draw=True, height=560,
                             in_scrolling_page=True)
    if "parcels" in out["_views"]:
        st.caption(mapview.lod_caption(out["_views"]["parcels"]))
    mapview.legend([(SITE_FILL, tr("lyr_sites")), ("#f16913", tr("selected_site")), (maps.CLASS_COLORS["three_low"],
                    tr("cls_three_low")), (maps.CLASS_COLORS["ok"], tr("cls_ok"))])
    _on_map_click(out, mode)
    poly_ws = _drawn_polygon(out)
    if poly_ws is None:
        return
    _drawn_panel(poly_ws)


def _on_map_click(out: dict, mode: str) -> None:
    """Act on a click on the map not acted on yet: select the site, or add or remove the parcel (then rerun)."""
    sid = mapview.new_click(out, "site_map", "site_id")
    pid = mapview.clicked_id(out, "parcel_id") if sid is None else None
    if sid is None and pid is not None and ss.get("_site_pclick") != repr(out.get("last_object_clicked")):
        ss["_site_pclick"] = repr(out.get("last_object_clicked"))
        cur = ss.get(keys.SITE_SELECTED)
        if mode == "add" and cur:
            _propose({"op": "add", "site_id": cur, "parcel_ids": [pid]}, [pid])
            st.rerun(scope="app")
        elif mode == "remove" and cur:
            if site_of.get(pid) == cur:
                _push({"op": "remove", "site_id": cur, "parcel_ids": [pid]})
            else:
                ss[keys.SITE_MSG] = ("wf_not_in_site", {"pid": pid, "id": cur})
            st.rerun(scope="app")
        elif pid in site_of:
            _select(site_of[pid], zoom=False)
            _rerun_part()
    if sid is not None and ss.get(keys.SITE_SELECTED) != sid:
        _select(sid, zoom=False)
        _rerun_part()


def _drawn_panel(poly_ws) -> None:
    """Metrics of a drawn boundary and the buttons that make it a site or add it to the selected one."""
    st.subheader(tr("drawn_metrics"))
    digest = hashlib.sha1(shapely.to_wkb(shapely.normalize(poly_ws)).hex().encode()).hexdigest()[:16]
    used = ss.setdefault(keys.SITE_DRAWINGS_USED, [])
    try:
        r = W.operations.preview_boundary(poly_ws, gdf, result.params)
    except PlannerError as exc:
        st.warning(error_text(exc))
        return
    cols = [c for c in ("n_parcels", "n_owners", "land_area_m2", "land_area_mu", "floor_area_m2", "plot_ratio",
                        "flagged_share", "compactness", "potential_floor_area_m2") if c in r.sites.columns]
    tables.show(pd.DataFrame(r.sites[cols]))
    pids = r.parcel_sites["parcel_id"].astype(str).tolist()
    warn = _scope_warning(pids)
    if warn:
        st.warning(warn)
    if digest in used:
        st.info(tr("wf_drawing_used"))
        return
    cur = ss.get(keys.SITE_SELECTED)
    b1, b2 = st.columns(2)
    if b1.button(tr("wf_draw_add", id=cur or "—") + " ✚", key="s_add_drawn", disabled=not cur):
        used.append(digest)
        _push({"op": "add", "site_id": cur, "parcel_ids": pids})
        st.rerun(scope="app")
    _, hw = data.previous_sites(ws, pname)
    new_id = W.operations.next_site_id(result, hw)
    if b2.button(tr("wf_draw_new", id=new_id) + " ✚", key="s_new_drawn"):
        used.append(digest)
        _push({"op": "boundary", "wkt": poly_ws.wkt, "site_id": new_id})
        _select(new_id, zoom=False)
        st.rerun(scope="app")


@mapview.map_part
def site_workspace() -> None:
    """Table, edit panel and map: picking a site, paging the table or changing the edit mode reruns only this part.

    Edits, undo, redo and saving rerun the whole page (its counts and the
    stored result's box change).
    """
    clicked = ss.get("site_map")  # the map's value: a click it reports is acted on before anything is drawn
    if isinstance(clicked, dict):
        _on_map_click(clicked, _edit_mode())  # (an edit reruns the page at once, a selection this part)
    sel = ss.get(keys.SITE_SELECTED)
    left, right = st.columns([1.25, 1], gap="medium")
    with right:
        sel, mode = site_panel(sel)
    with left:
        sites_map(sel, mode)


site_workspace()
