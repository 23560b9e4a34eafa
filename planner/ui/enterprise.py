"""The data manager's enterprise tab: upload a tax bureau's table (and a link table), check, publish; versions.

Everything it does goes through :mod:`planner.workflow.enterprises`, as
``planner enterprise ingest`` does; uploads are stored under server-made
names in their own slots (:mod:`planner.ui.uploads`).
"""

from __future__ import annotations

import streamlit as st

from planner.errors import PlannerError, message_in
from planner.ui import auth, survey, tables, uploads
from planner.ui.state import lang, md_text, tr, tr_plain
from planner.workflow import enterprises as WE
from planner.workflow.permissions import only_text

_SLOT, _LINK = "enterprise", "enterprise_link"


def _result_key() -> str:
    return "de_result"


def render(store, ws: str) -> None:
    """The tab: uploaders, the check's report, publish/cancel, the versions with a switch."""
    ss = st.session_state
    gen = ss.get("de_gen", 0)
    may_ingest = auth.may("ingest")  # a role that may never load a table sees the controls greyed, and who may
    locked = None if may_ingest else only_text("ingest", lang())
    keys = {_SLOT: f"de_file_{gen}", _LINK: f"de_link_{gen}"}
    for slot, key in keys.items():
        if key not in ss and uploads.current(slot) is not None:
            # The page was left with a table on the way and is back: Streamlit draws the uploader anew, empty,
            # which would end the upload without a word. The stored file is kept (as the survey upload is,
            # views/data.py); a check made before is not published blind: it is made again.
            ss[_kept_key(slot)] = True
            ss.pop(_result_key(), None)
    c1, c2 = st.columns(2)
    kinds = [k[1:] for k in (*uploads.TABLE_KINDS, *uploads.OLD_WORKBOOKS)]  # .xls: answered with "save as .xlsx"
    up = uploads.uploader(c1, tr("de_upload"), type=kinds, help=locked or tr("de_upload_help") + " " + uploads.size_limit_text(),
                          key=keys[_SLOT], disabled=not may_ingest)
    lk = uploads.uploader(c2, tr("de_link"), type=kinds, help=locked or tr("de_link_help"),
                          key=keys[_LINK], disabled=not may_ingest)
    if locked:
        st.caption("🔒 " + locked)
    kept = {slot: _kept(slot, widget) for slot, widget in ((_SLOT, up), (_LINK, lk))}
    try:
        upl, fresh = ((uploads.current(_SLOT), False) if kept[_SLOT]
                      else uploads.receive(up, slot=_SLOT, kinds=uploads.TABLE_KINDS))
        lupl, lfresh = ((uploads.current(_LINK), False) if kept[_LINK]
                        else uploads.receive(lk, slot=_LINK, kinds=uploads.TABLE_KINDS))
    except PlannerError as exc:
        st.error(tr("dm_refused", err=message_in(exc, lang())))
        upl = lupl = None
        fresh = lfresh = False
    if fresh or lfresh or upl is None:
        ss.pop(_result_key(), None)
    if upl is not None:
        shares = {v: tr_plain(f"de_share_{v}") for v in ("land", "floor")}  # labels of this run's language
        share = st.radio(tr("de_share"), list(shares), horizontal=True, key="de_share", format_func=shares.get)
        label = st.text_input(tr("dm_label"), value=upl.name.rsplit(".", 1)[0], key="de_label")
        mapping = {"link": {"share": share}}
        if st.button(tr("de_check"), key="de_check"):
            try:
                load = WE.ingest_enterprises(upl.path, store, mapping=mapping,
                                             link=lupl.path if lupl is not None else None, dry_run=True,
                                             source_name=upl.name, link_name=lupl.name if lupl is not None else None)
                uploads.relabel(load.report, slot=_SLOT)
                ss[_result_key()] = (load, share)
            except PlannerError as exc:
                ss.pop(_result_key(), None)
                st.error(tr("dm_refused", err=message_in(exc, lang())))
        res = ss.get(_result_key())
        if res is not None:
            load, share_used = res
            rep = load.report
            m = st.columns(4)
            for col, k in zip(m, ("read", "accepted", "rejected", "flagged"), strict=True):
                col.metric(tr(f"dm_n_{k}"), f"{getattr(rep, 'n_' + k):,}", border=True)
            if load.join:
                st.caption(tr("de_linked", e=load.join.get("enterprises_linked", 0),
                              p=load.join.get("parcels_linked", 0), m=load.join.get("parcels_several", 0)))
            if rep.notes:  # how the table was linked, shared, folded over years: as the CLI says, in the page's language
                with st.expander(tr("dm_notes", n=len(rep.notes)), expanded=True):
                    for n in rep.notes:
                        st.markdown(tr("dm_note", msg=message_in(n, lang())))
            probs = tables.problems_frame(rep.problems)
            if len(probs):
                tables.show(probs, height=240)
            else:
                st.success(tr("dm_no_problems"))
            # a version again (its files, or its enterprises and links): publishing would change nothing, or copy an
            # earlier version the versions list below switches to, so it is not offered, as for a survey that
            # changes nothing (the command line's --publish-again only)
            refused = md_text(_refusal_text(load.refusal)) if load.refusal is not None else None
            if refused:
                st.warning(refused, icon="⚠️")
            b1, b2, _ = st.columns([1, 1, 3])
            # greyed too for a role that may not load tables (its uploads came before an administrator changed it)
            if b1.button(tr("dm_publish"), type="primary", key="de_publish", disabled=bool(refused) or not may_ingest,
                         help=refused or locked):
                try:
                    out = WE.ingest_enterprises(upl.path, store, mapping={"link": {"share": share_used}},
                                                link=lupl.path if lupl is not None else None, label=label,
                                                source_name=upl.name, link_name=lupl.name if lupl is not None else None)
                    ss["de_msg"] = tr("de_published", v=out.version, n=len(out.table))
                except PlannerError as exc:  # e.g. another user published the same table meanwhile: nothing written
                    why = getattr(exc, "refusal", None)
                    st.error(tr("dm_refused", err=_refusal_text(why) if why is not None else message_in(exc, lang())))
                    return
                _done()
            if b2.button(tr("dm_cancel"), key="de_cancel"):
                ss["de_msg"] = tr("dm_cancelled")
                _done()
    if ss.get("de_msg"):
        st.success(ss.pop("de_msg"))
    _versions(store)


def _refusal_text(refusal) -> str:
    """A refused enterprise load in the page's language, with the app's own how-to: an earlier version is made
    current again in the versions list below (the library's words name no face's way to switch)."""
    said = refusal.text(lang(), survey.local_time)
    if refusal.switch_to is None:
        return said
    return said + ("" if lang() == "zh" else " ") + tr_plain("de_switch_instead", v=refusal.switch_to)


def _kept_key(slot: str) -> str:
    return f"de_kept_{slot}"


def _kept(slot: str, widget) -> bool:
    """Whether the slot carries on with a file stored before the page was left (said so, with a discard button)."""
    ss = st.session_state
    if widget is not None:  # a file in the uploader again: it is the upload now
        ss.pop(_kept_key(slot), None)
        return False
    up = uploads.current(slot)
    if not ss.get(_kept_key(slot)) or up is None:
        ss.pop(_kept_key(slot), None)
        return False
    k1, k2 = st.columns([5, 1], vertical_alignment="center")
    k1.info(tr("de_kept" if slot == _SLOT else "de_link_kept", name=up.name))
    if k2.button(tr("dm_discard"), key=f"de_discard_{slot}"):
        ss.pop(_kept_key(slot), None)
        ss.pop(_result_key(), None)
        uploads.end(slot)
        st.rerun()
    return True


def _done() -> None:
    ss = st.session_state
    ss.pop(_result_key(), None)
    ss.pop(_kept_key(_SLOT), None)
    ss.pop(_kept_key(_LINK), None)
    uploads.end(_SLOT)
    uploads.end(_LINK)
    ss["de_gen"] = ss.get("de_gen", 0) + 1
    st.rerun()


def _versions(store) -> None:
    st.markdown(f"**{tr('de_versions')}**")
    cat = store.layers("enterprise")
    if not len(cat):
        st.info(tr("de_none"))
        return
    tables.show(survey.versions_frame(cat, lang()), labels={"label": tr("dm_label")}, key="de_versions_table")
    cur = WE.enterprise_version(store)
    others = [int(v) for v in cat["version"] if int(v) != cur]
    if others:
        c1, c2 = st.columns([1, 2], vertical_alignment="bottom")
        v = c1.selectbox(tr("wf_switch_to"), others, index=None, key="de_ver", placeholder=tr("choose"),
                         format_func=lambda x: f"v{x}")
        may_switch = auth.may("set_current")
        if c2.button(tr("dm_set_current"), key="de_set", disabled=v is None or not may_switch,
                     help=None if may_switch else only_text("set_current", lang())):
            try:
                sw = WE.set_current_enterprises(store, int(v))
            except PlannerError as exc:  # a role taken away meanwhile, a colleague's write holding the lock...
                st.session_state["de_ver_msg"] = [("error", tr("dm_switch_refused", err=exc))]
            else:
                st.session_state["de_ver_msg"] = survey.switch_said(sw, lang())  # and what it left out of date
            st.rerun()
    if st.session_state.get("de_ver_msg"):
        survey.show_said(st.session_state.pop("de_ver_msg"))
    # flags and sites classified with the current table earlier: made current again, not rebuilt
    survey.restore_offer(store, "enterprise", key="de_restore", said_key="de_ver_msg")
