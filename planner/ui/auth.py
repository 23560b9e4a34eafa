"""Sign-in for a workspace with accounts: the login form, session expiry, who is acting.

A workspace with no accounts is used as before, with no sign-in (a single
local user). Once it has accounts (:mod:`planner.workflow.accounts`) every
page waits behind :func:`gate`: a sign-in form, then the pages the role may
use. A session ends after ``PLANNER_SESSION_MINUTES`` (default 480) or
``PLANNER_IDLE_MINUTES`` without a page run (default 60), when the browser
tab is closed or reloaded, on "sign out", and at once when an administrator
disables the account; a role change takes effect on the next page run.

:func:`install` tells the workflow layer who is signed in
(:func:`planner.workflow.permissions.set_actor_provider`): every write the
workflow takes from this app is checked against the signed-in role and
recorded under the signed-in user, whatever page or button asked.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable

import streamlit as st

from planner.errors import PlannerError, StoreError, message_in
from planner.i18n import without_hidden
from planner.workflow import accounts as A
from planner.workflow import permissions as P

log = logging.getLogger(__name__)

#: Session-state key of the signed-in account: {"uri", "username", "since", "last"}.
AUTH = "_auth"
_MSG = "_auth_msg"
#: Whose work the session holds (the user name of the last sign-in): a sign-in as someone else starts afresh.
OWNER = "_auth_owner"
#: Set by a sign-out: the page in the address bar is the previous user's, the next sign-in lands on its role's start.
_LEFT = "_auth_left"
#: Set by a sign-in that starts afresh (after a sign-out, or another user than the session's): the app shows the
#: role's start page (:data:`START_PAGE`) instead of the page in the address bar.
LAND = "_auth_land"
#: The page (its url path) each role starts on: its own work first.
START_PAGE = {"admin": "admin", "gis_staff": "data", "planner": "map", "decision_maker": "compare"}
#: Failed sign-ins in a row per user name on this server (every session of it): a guesser waits, a colleague who
#: mistyped five times waits a minute.
THROTTLE = A.SignInThrottle()
#: What a session keeps across a sign-out or a change of user: the sidebar's choices (language, workspace,
#: basemap) and the sign-in itself. Everything else - drafts of rules, sites and scenarios, selections, results,
#: uploads, page widgets - is the signed-in user's work and goes with them.
KEEP = frozenset({AUTH, _MSG, OWNER, _LEFT, LAND, "_lang", "w_lang", "_workspace", "w_workspace", "_ws_catalog", "_settings",
                  "_basemap", "w_basemap_zh", "w_basemap_en", "_custom_url", "w_custom_url"})


def _minutes(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


@st.cache_resource(max_entries=16, show_spinner=False, ttl=30)
def _accounts(uri: str, stamp) -> dict[str, tuple[str, bool, str]]:
    """``{username: (role, disabled, display name)}`` of a workspace (cached per revision, 30 s at most)."""
    from planner.ui import data

    u = data.store(uri).users()
    return {r.username: (r.role, bool(r.disabled), r.display_name or "") for r in u.itertuples()}


class AccountsUnavailable(StoreError):
    """The workspace opens but its accounts could not be read: nobody is let in, nothing is allowed (fail closed)."""


def accounts(uri: str) -> dict[str, tuple[str, bool, str]]:
    """``{username: (role, disabled, display name)}``; ``{}`` for a workspace without accounts.

    Raises :class:`AccountsUnavailable` when the workspace opens but the
    accounts cannot be read (a database hiccup): treating that as "no
    accounts" would let anyone in as the single local user, and treating it
    as "account removed" would sign a colleague out. A workspace that does
    not open at all gives ``{}``: the page says why and stops (workspace_ok),
    and nothing in it can be read or written.
    """
    from planner.ui import data

    if not uri:
        return {}
    for attempt in (1, 2):
        try:
            return _accounts(uri, data.stamp(uri))
        except Exception as exc:
            if not data.workspace_ok(uri)[0]:
                return {}
            if attempt == 2:
                raise _unreadable(uri, exc) from exc
            log.info("reading the accounts of %s failed (%s); asking once more", _shown(uri), exc)
            time.sleep(0.5)  # a blip (a connection the server dropped, a busy pool) passes unnoticed
    return {}  # not reached


def _unreadable(uri: str, exc: Exception) -> AccountsUnavailable:
    """The error to raise for accounts that could not be read (the failure goes to the server log)."""
    log.warning("reading the accounts of %s failed", _shown(uri), exc_info=exc)
    # the cause as the store worded it (no password, no server path), else only its kind
    en, zh = (str(exc), message_in(exc, "zh")) if isinstance(exc, PlannerError) else (type(exc).__name__,) * 2
    msg = (f"could not read the workspace's accounts to check who is signed in ({en}); nothing was shown or "
           "changed. Try again in a moment; if it persists, ask the database administrator")
    return AccountsUnavailable(msg, zh=f"无法读取工作空间的账号以核实登录身份（{zh}），未显示或修改任何内容。"
                                       "请稍后重试；如持续出现，请联系数据库管理员")


def _shown(uri: str) -> str:
    """The workspace as a log line may name it: a database without its password, a file by its name."""
    from planner.ui.workspaces import shown_name

    return shown_name(uri)


def _session(uri: str, table: dict) -> dict | None:
    """The session's sign-in on ``uri`` if still valid (expiry, disabled account), else None (and it is ended).

    ``table``: the accounts (:func:`accounts`), read once by the caller for the whole question.
    """
    ss = st.session_state
    a = ss.get(AUTH)
    if not a or a.get("uri") != uri:
        return None
    now = time.time()
    known = table.get(a["username"])
    why = None
    if known is None or known[1]:
        why = "auth_disabled"
    elif now - a["since"] > _minutes("PLANNER_SESSION_MINUTES", 480) * 60 or now - a["last"] > _minutes("PLANNER_IDLE_MINUTES", 60) * 60:
        why = "auth_expired"
    if why:
        ss.pop(AUTH, None)
        ss[_MSG] = why
        return None
    return a


def clear_work() -> int:
    """Forget the session's work (every key but :data:`KEEP`): the next user in this tab starts afresh.

    Uploads the session holds are deleted from the server. Returns the number of keys removed.
    """
    from planner.ui import uploads

    ss = st.session_state
    gone = [k for k in list(ss.keys()) if k not in KEEP]
    for k in gone:
        v = ss.get(k)
        if isinstance(v, uploads._Lease):
            v.end()
        del ss[k]
    return len(gone)


def sign_out() -> None:
    """End the session's sign-in and forget its work (drafts, selections, results, uploads)."""
    ss = st.session_state
    ss.pop(AUTH, None)
    ss.pop(OWNER, None)
    clear_work()
    ss[_LEFT] = True  # the address bar still shows the page the previous user was on


def shown_name(text: str) -> str:
    """A name as a page shows it: without control or invisible formatting characters (:data:`planner.i18n.HIDDEN`).

    New names with them are refused (:mod:`planner.workflow.accounts`); this keeps one stored before from
    turning the line it is shown on around (a right-to-left override before "(GIS staff)").
    """
    return without_hidden(text)


def session_actor(store) -> P.Actor | None:
    """Who acts on ``store`` in this browser session (the workflow layer's actor provider)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    if get_script_run_ctx(suppress_warning=True) is None:  # not in a page run (CLI, tests, threads): not ours
        return None
    uri = getattr(store, "uri", None) or (st.session_state.get("_settings").workspace
                                          if st.session_state.get("_settings") else "")
    table = accounts(uri)
    if not table:
        return None  # no accounts: a single local user, as before
    a = _session(uri, table)
    if a is None:
        return P.Actor("(not signed in)", None)
    return P.Actor(a["username"], table[a["username"]][0])


def install() -> None:
    """Make the workflow layer ask this app who is signed in, and tell a person whose save waits for whom."""
    from planner.io import lock

    P.set_actor_provider(session_actor)
    lock.set_wait_listener(tell_lock_wait)


def tell_lock_wait(holder: dict | None, timeout: float):
    """A save of this page run waits for another writer: a notice naming who (until the wait is over), at the top
    right of the page whatever the user scrolled to. Outside a page run (the warm-up, the CLI): nothing."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    from planner.i18n import value_label
    from planner.io.lock import seconds_text
    from planner.ui.state import lang, tr

    if get_script_run_ctx(suppress_warning=True) is None:
        return None
    L = lang()
    # who and what, as a colleague reads it (the log and a refusal give the command, process and host too)
    who = str((holder or {}).get("user") or ("另一个写入者" if L == "zh" else "another writer"))
    if (holder or {}).get("action"):
        what = value_label("action", holder["action"], L)
        who += f"（{what}）" if L == "zh" else f" ({what})"
    said = tr("lock_waiting", who=who, s=seconds_text(timeout))  # Markdown-escaped: names as they are
    wait, free = ":material/hourglass_top:", ":material/lock_open:"  # icons of the app's font (no emoji font offline)
    note = st.toast(said, icon=wait, duration="infinite")

    def over(taken: bool) -> None:  # the notice goes: a short word when the save goes ahead, else the page's error
        note.toast(tr("lock_taken") if taken else said, icon=free if taken else wait, duration="short")

    return over


def download_guard(uri: str) -> Callable[[], None]:
    """A check for a download made after its click, in another thread, without a page run: raises
    :class:`PermissionError` when the account signed in when the button was drawn has been disabled (or removed)
    since, or its role no longer sees the enterprise figures the file was made with. "Disabled at once" and "a new
    role from the next click" hold for the download buttons too (a page drawn before kept exporting them)."""
    from planner.ui import data

    signed = current()
    if signed is None:  # a workspace without accounts: a single local user
        return lambda: None
    with_figures = data.figures_visible(uri)

    def check() -> None:
        rec = data.store(uri).user_record(signed.username)
        if rec is None or rec.get("disabled"):
            why = "the account was disabled"
        elif with_figures and rec.get("role") not in P.roles_that_may("see_enterprise_figures"):
            why = "the account's new role may not see enterprise figures"
        else:
            return
        log.warning("download refused for %r: %s since the page was drawn", signed.username, why)
        raise PermissionError(f"download refused: {why}")

    return check


def current() -> A.Account | None:
    """The signed-in account on the session's workspace, None when nobody is (or the workspace has no accounts)."""
    settings = st.session_state.get("_settings")
    uri = settings.workspace if settings else ""
    table = accounts(uri)  # read once: the check and the answer from the same table
    a = _session(uri, table)
    if a is None:
        return None
    role, _, display = table[a["username"]]
    return A.Account(a["username"], role, display)


def may(action: str) -> bool:
    """Whether the session may take ``action`` on its workspace (to hide or disable what it may not)."""
    settings = st.session_state.get("_settings")
    return P.may(action, _Where(settings.workspace if settings else ""))


class _Where:
    def __init__(self, uri: str) -> None:
        self.uri = uri


#: Closes the sidebar once per visit of the sign-in page on a narrow screen (a phone), where it opens drawn over the
#: form; a wide screen keeps it open beside the form. The language and workspace stay one tap away (the » button). The app's own
#: constant text, no user data. (A second ``st.set_page_config(initial_sidebar_state=...)`` in the same run is
#: applied only on a cold first load: the browser compares it with a state it has not updated yet.)
_NARROW_SIDEBAR_JS = """<script>
(() => {
  const KEY = "planner-sign-in-sidebar-closed-VISIT";
  if (window.innerWidth > 768 || sessionStorage.getItem(KEY)) return;
  let tries = 0;
  const close = () => {
    const bar = document.querySelector('[data-testid="stSidebar"]');
    const button = document.querySelector('[data-testid="stSidebarCollapseButton"] button');
    const open = bar && bar.getBoundingClientRect().right > 1;
    if (open && button) { button.click(); sessionStorage.setItem(KEY, "1"); return; }
    if (!bar || open) { if (++tries < 50) setTimeout(close, 100); }
  };
  close();
})();
</script>"""


_VISIT = "_auth_sign_in_visit"


def _sidebar_out_of_the_way() -> None:
    """On a phone the sidebar opens over the page: on the sign-in page, close it so the form shows.

    Once per visit: opened again to change the language, it stays open; after a sign-out it is closed again.
    """
    visit = st.session_state.setdefault(_VISIT, time.time_ns())
    js = _NARROW_SIDEBAR_JS.replace("VISIT", str(int(visit)))
    st.sidebar.html(js, unsafe_allow_javascript=True)  # in the sidebar: no gap above the page's title


def gate(settings) -> A.Account | None:
    """Stop the page run behind a sign-in form when the workspace has accounts and nobody is signed in.

    Returns the signed-in account (None for a workspace without accounts).
    """
    from planner.ui import data
    from planner.ui.state import tr

    install()
    uri = settings.workspace
    try:
        table = accounts(uri) if uri else {}
        if not table:
            return None
        a = _session(uri, table)
    except AccountsUnavailable as exc:  # closed, not open: no page and no sign-in form until they can be read
        st.error(tr("error", err=exc))
        st.stop()
    ss = st.session_state
    if a is not None:
        a["last"] = time.time()
        role, _, display = table[a["username"]]  # read once: a second read may differ (or fail) meanwhile
        acc = A.Account(a["username"], role, display)
        with st.sidebar:
            st.caption(tr("auth_signed_in", user=shown_name(acc.display_name or acc.username),
                          role=tr(f"role_{acc.role}")))
            if st.button(tr("auth_sign_out"), key="auth_sign_out"):
                sign_out()
                st.rerun()
        return acc
    _sidebar_out_of_the_way()
    st.title(tr("auth_title"))
    if ss.get(_MSG):
        st.warning(tr(ss.pop(_MSG)))
    with st.form("auth_form", clear_on_submit=True):
        name = st.text_input(tr("auth_user"), key="auth_user")
        pw = st.text_input(tr("auth_password"), type="password", key="auth_password")
        go = st.form_submit_button(tr("auth_sign_in"), type="primary")
    if go:
        try:
            acc = A.authenticate(data.store(uri), name, pw, throttle=THROTTLE)
        except A.SignInError as exc:
            if THROTTLE.wait_left(name) > 0:  # for the administrator: who is being guessed (never the password)
                log.warning("sign-in: user name %r failed too often in a row; it waits before its next try",
                            without_hidden(name)[:64])
            st.error(tr("error", err=exc))
        else:
            left = ss.pop(_LEFT, False)
            if left or ss.get(OWNER) not in (None, acc.username):  # not where this user was: their role's start
                ss[LAND] = True
            if ss.get(OWNER) != acc.username:  # someone else's work (an expired session's drafts) is not theirs
                clear_work()
            now = time.time()
            ss[AUTH] = {"uri": uri, "username": acc.username, "since": now, "last": now}
            ss[OWNER] = acc.username
            ss.pop(_VISIT, None)
            st.rerun()
    st.stop()
    return None
