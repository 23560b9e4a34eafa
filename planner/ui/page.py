"""Common start of every page: settings, workspace checks, the active policy."""

from __future__ import annotations

import streamlit as st

from planner.ui import data, keys
from planner.ui.state import Settings, sidebar, tr, workspace_error


def start(title_key: str, *, need_survey: bool = True) -> Settings:
    """Title the page, check the workspace; stop the page with a clear message if unusable."""
    settings = st.session_state.get("_settings") or sidebar()
    ss = st.session_state
    ss["_page_entered"] = ss.get("_page_now") != title_key  # a page switch, not a rerun of the same page
    ss["_page_now"] = title_key
    st.title(tr(title_key))
    ok, err = data.workspace_ok(settings.workspace)
    if not ok:
        if err:
            st.error(workspace_error(err))
        else:
            st.warning(tr("workspace_missing", path=settings.workspace))
        if need_survey:
            st.stop()
        return settings
    if not data.figures_visible(settings.workspace):  # the pages and their downloads say so (issue 14)
        from planner.ui import auth

        acc = auth.current()
        st.caption("🔒 " + tr("auth_figures_hidden", role=tr(f"role_{acc.role}") if acc else "—"))
    if need_survey and not data.has_survey(settings.workspace):
        st.info(tr("no_survey"))
        st.stop()
    return settings


def active_policy() -> dict | None:
    """The policy being worked on (the Rules page's draft, saved or not), else the shipped default."""
    pol = st.session_state.get(keys.POLICY_DRAFT)
    if pol is not None:
        return pol
    return data.default_policy_dict()


def rules_unsaved() -> bool:
    """Whether the rules in use differ from the saved version they were opened from."""
    from planner.workflow.documents import canonical

    draft = st.session_state.get(keys.POLICY_DRAFT)
    base = st.session_state.get(keys.POLICY_BASE) or {}
    return draft is not None and canonical(draft) != base.get("json")


def policy_marker() -> None:
    """A visible note on every page while the rules in use have unsaved changes."""
    base = st.session_state.get(keys.POLICY_BASE) or {}
    if rules_unsaved():
        name = f"{base['name']} v{base['version']}" if base.get("version") else tr("default_policy")
        st.warning("● " + tr("wf_unsaved_rules", name=name))


def policy_name() -> str:
    pol = active_policy()
    return (pol or {}).get("name", "default")
