"""Accounts (账号管理): the administrator adds users, changes roles, disables accounts, sets passwords.

Every change is read back before the page is drawn again (the table, the picker and the buttons show the
accounts as they are now), each button does what its label says (Disable never enables), and a role change
is confirmed first.
"""

import pandas as pd
import streamlit as st

from planner.errors import PlannerError
from planner.ui import auth, data, page
from planner.ui.state import tr, tr_plain
from planner.ui.survey import local_time
from planner.workflow import accounts as A
from planner.workflow.permissions import ROLES

settings = page.start("nav_admin", need_survey=False)
if not auth.may("manage_users"):  # also refused in the workflow layer; this only says so
    st.error(tr("auth_admin_only"))
    st.stop()
store = data.store(settings.workspace)
ss = st.session_state
MSG, PICK, CONFIRM = "_admin_msg", "_admin_pick", "_admin_role_confirm"


def done(message: str, pick: str | None = None) -> None:
    """A change went through: say so on the next run, which reads the accounts again (and picks ``pick``)."""
    ss[MSG] = message
    if pick is not None:
        ss[PICK] = pick
    st.rerun()


def accounts_table(users: pd.DataFrame) -> pd.DataFrame:
    """The accounts as the page shows them: role names, 是/否, local times, names without invisible characters."""
    out = users.copy()
    out["role"] = out["role"].map(lambda r: tr_plain(f"role_{r}"))
    out["disabled"] = out["disabled"].map(lambda d: tr_plain("auth_yes" if d else "auth_no"))
    for c in ("username", "display_name"):
        out[c] = out[c].map(lambda v: auth.shown_name(v) if isinstance(v, str) and v else "—")
    for c in ("created_at", "updated_at"):
        if c in out.columns:
            out[c] = out[c].map(local_time)
    return out.rename(columns={c: tr_plain(f"auth_col_{c}") for c in out.columns})


users = A.list_users(store)  # read on every run: after a change the page is drawn again from here
if ss.get(MSG):
    st.success(ss.pop(MSG))
st.dataframe(accounts_table(users), hide_index=True, width="stretch")
roles = list(ROLES)
with st.form("admin_add", clear_on_submit=True):
    st.subheader(tr("auth_add"))
    c1, c2, c3 = st.columns(3)
    name = c1.text_input(tr("auth_user"), key="admin_add_user")
    display = c2.text_input(tr("auth_display"), key="admin_add_display")
    role = c3.selectbox(tr("auth_role"), roles, format_func=lambda r: tr_plain(f"role_{r}"), key="admin_add_role")
    pw = st.text_input(tr("auth_password"), type="password", key="admin_add_pw")
    if st.form_submit_button(tr("auth_add"), type="primary"):
        try:
            A.add_user(store, name, role, pw, display_name=display)
        except PlannerError as exc:
            st.error(tr("error", err=exc))
        else:
            done(tr("auth_added", user=name.strip()), pick=name.strip())

names = users["username"].tolist()
if names:
    st.subheader(tr("auth_change"))
    if ss.get(PICK) in names:  # the account just added or changed
        ss["admin_who"] = ss.pop(PICK)
    rec = users.set_index("username")
    who = st.selectbox(tr("auth_user"), names, key="admin_who", format_func=lambda u: "{} · {}{}".format(
        auth.shown_name(u), tr_plain(f"role_{rec.loc[u, 'role']}"),
        " · " + tr_plain("auth_col_disabled") if rec.loc[u, "disabled"] else ""))
    cur_role, disabled = str(rec.loc[who, "role"]), bool(rec.loc[who, "disabled"])
    st.caption(tr("auth_role_now", role=tr_plain(f"role_{cur_role}"))
               + ("　" + tr("auth_is_disabled") if disabled else ""))
    c1, c2, c3 = st.columns(3)
    # keyed by the user and their role: it shows the role they have, whoever was picked before
    new_role = c1.selectbox(tr("auth_role"), roles, index=roles.index(cur_role) if cur_role in roles else 0,
                            format_func=lambda r: tr_plain(f"role_{r}"), key=f"admin_role_{who}_{cur_role}")
    try:
        if c1.button(tr("auth_set_role"), key="admin_set_role", disabled=new_role == cur_role):
            ss[CONFIRM] = {"user": who, "old": cur_role, "new": new_role}
            st.rerun()
        # two actions, each offered only when it changes something: a click on "Disable" never enables
        if disabled:
            if c2.button(tr("auth_enable"), key="admin_enable"):
                A.set_disabled(store, who, False)
                done(tr("auth_enabled_now", user=who), pick=who)
        elif c2.button(tr("auth_disable"), key="admin_disable"):
            A.set_disabled(store, who, True)
            done(tr("auth_disabled_now", user=who), pick=who)
        with c3.form("admin_pw", clear_on_submit=True):
            npw = st.text_input(tr("auth_new_password"), type="password", key="admin_new_pw")
            if st.form_submit_button(tr("auth_set_password")):
                A.set_password(store, who, npw)
                auth.THROTTLE.release(who)  # a colleague who forgot theirs need not also wait out their guesses
                done(tr("auth_password_set", user=who), pick=who)
        ask = ss.get(CONFIRM)
        if ask and ask["user"] == who and ask["old"] == cur_role:
            st.warning(tr("auth_role_confirm", user=ask["user"], old=tr_plain(f"role_{ask['old']}"),
                          new=tr_plain(f"role_{ask['new']}")))
            k1, k2, _ = st.columns([1, 1, 3])
            if k1.button(tr("auth_role_confirm_yes"), key="admin_role_yes", type="primary"):
                ss.pop(CONFIRM, None)
                A.set_role(store, ask["user"], ask["new"])
                done(tr("auth_role_set", user=ask["user"], role=tr_plain(f"role_{ask['new']}")), pick=ask["user"])
            if k2.button(tr("auth_cancel"), key="admin_role_no"):
                ss.pop(CONFIRM, None)
                st.rerun()
        elif ask:  # another user picked, or the role changed meanwhile: the question no longer applies
            ss.pop(CONFIRM, None)
    except PlannerError as exc:
        st.error(tr("error", err=exc))

# -- user names waiting after failed sign-ins (this server's count: planner.ui.auth.THROTTLE) --------------------
waits = auth.THROTTLE.waiting()
if waits:
    st.subheader(tr("auth_waits"))
    st.caption(tr("auth_waits_help"))
    left = dict(waits)
    w1, w2 = st.columns([3, 1], vertical_alignment="bottom")
    held = w1.selectbox(tr("auth_user"), list(left), key="admin_wait_pick", format_func=lambda n: tr_plain(
        "auth_wait_left", name=auth.shown_name(n), min=max(1, -(-int(left[n]) // 60))))
    if w2.button(tr("auth_release"), key="admin_release"):
        auth.THROTTLE.release(held)
        done(tr("auth_released", user=auth.shown_name(held)))
