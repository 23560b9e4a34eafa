"""Accounts (账号管理): the administrator adds users, changes roles, disables accounts, sets passwords."""

import streamlit as st

from planner.errors import PlannerError
from planner.ui import auth, data, page
from planner.ui.state import tr
from planner.workflow import accounts as A
from planner.workflow.permissions import ROLES

settings = page.start("nav_admin", need_survey=False)
if not auth.may("manage_users"):  # also refused in the workflow layer; this only says so
    st.error(tr("auth_admin_only"))
    st.stop()
store = data.store(settings.workspace)
users = A.list_users(store)
shown = users.assign(role=users["role"].map(lambda r: tr(f"role_{r}")))
st.dataframe(shown.rename(columns={c: tr(f"auth_col_{c}") for c in shown.columns}), hide_index=True,
             use_container_width=True)
roles = list(ROLES)
with st.form("admin_add", clear_on_submit=True):
    st.subheader(tr("auth_add"))
    c1, c2, c3 = st.columns(3)
    name = c1.text_input(tr("auth_user"), key="admin_add_user")
    display = c2.text_input(tr("auth_display"), key="admin_add_display")
    role = c3.selectbox(tr("auth_role"), roles, format_func=lambda r: tr(f"role_{r}"), key="admin_add_role")
    pw = st.text_input(tr("auth_password"), type="password", key="admin_add_pw")
    if st.form_submit_button(tr("auth_add"), type="primary"):
        try:
            A.add_user(store, name, role, pw, display_name=display)
            st.success(tr("auth_added", user=name))
        except PlannerError as exc:
            st.error(tr("error", err=exc))
names = users["username"].tolist()
if names:
    st.subheader(tr("auth_change"))
    who = st.selectbox(tr("auth_user"), names, key="admin_who")
    c1, c2, c3 = st.columns(3)
    new_role = c1.selectbox(tr("auth_role"), roles, format_func=lambda r: tr(f"role_{r}"), key="admin_role")
    try:
        if c1.button(tr("auth_set_role"), key="admin_set_role"):
            A.set_role(store, who, new_role)
            st.success(tr("auth_done"))
        disabled = bool(users.set_index("username").loc[who, "disabled"])
        if c2.button(tr("auth_enable") if disabled else tr("auth_disable"), key="admin_disable"):
            A.set_disabled(store, who, not disabled)
            st.success(tr("auth_done"))
        with c3.form("admin_pw", clear_on_submit=True):
            npw = st.text_input(tr("auth_new_password"), type="password", key="admin_new_pw")
            if st.form_submit_button(tr("auth_set_password")):
                A.set_password(store, who, npw)
                st.success(tr("auth_done"))
    except PlannerError as exc:
        st.error(tr("error", err=exc))
