"""The data manager's "new workspace" form: a name inside the operator's data directory and a metric CRS.

The workspace is made by the workflow layer (:func:`planner.workflow.create_workspace`,
the same call as ``planner workspace init``); the file goes only into the
first data directory of the catalogue (:meth:`planner.ui.workspaces.Catalog.new_path`).
The CRS is typed (an EPSG code) or proposed from the survey uploaded in this
session, as ``planner workspace init --from FILE`` proposes it.
"""

from __future__ import annotations

import streamlit as st

from planner import workflow as W
from planner.errors import PlannerError, message_in
from planner.ui import auth, keys
from planner.ui.state import catalog, error_text, lang, tr
from planner.workflow.permissions import only_text


def _proposed_from_upload():
    """``(crs, why)`` proposed from this session's uploaded survey, or None without one."""
    path = st.session_state.get("dm_path")
    if not path:
        return None
    from planner.ingest.crs import propose_for_layer
    from planner.io.readers import read_source

    crs = st.session_state.get("dm_crs")
    prop = propose_for_layer(read_source(path), None if crs in (None, "auto") else crs)
    return prop.crs, message_in(prop.why, lang())  # why, in the page's language (a Note carries its Chinese)


def render() -> None:
    """Draw the form (expanded when the server offers no workspace yet)."""
    ss = st.session_state
    cat = catalog()
    with st.expander(tr("nw_title"), expanded=not cat.names()):
        if not cat.roots:
            st.caption(tr("nw_no_dir"))
            return
        name = st.text_input(tr("nw_name"), key="nw_name", placeholder="jinjiang_2025")
        options = (["upload"] if ss.get("dm_path") else []) + ["epsg"]
        how = st.radio(tr("nw_crs_from"), options, horizontal=True, key="nw_crs_how",
                       format_func=lambda o: tr("nw_crs_upload", name=ss.get("dm_name", "")) if o == "upload"
                       else tr("nw_crs_epsg"))
        crs, why = None, ""
        if how == "upload":
            try:
                crs, why = _proposed_from_upload()
            except PlannerError as exc:
                st.warning(error_text(exc))
            else:
                st.caption(tr("nw_crs_proposed", crs=crs.to_string(), why=why))
        else:
            crs = st.text_input(tr("nw_crs_code"), value="EPSG:4549", key="nw_epsg",
                                help=tr("nw_crs_code_help")).strip()
        may_init = auth.may("init_workspace")  # greyed, saying who may, for a role that never may
        if st.button(tr("nw_create"), key="nw_create", disabled=not name.strip() or not crs or not may_init,
                     help=None if may_init else only_text("init_workspace", lang())):
            try:
                path = cat.new_path(name)
                W.create_workspace(path, crs)
            except PlannerError as exc:
                st.error(tr("nw_refused", err=error_text(exc)))
            else:
                ss[keys.WORKSPACE_PENDING] = path.name  # the sidebar picks it on the next run
                ss["nw_msg"] = tr("nw_created", name=path.name)
                st.rerun()
        if ss.get("nw_msg"):
            st.success(ss.pop("nw_msg"))
