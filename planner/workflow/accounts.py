"""The office's accounts: users, their roles, passwords, sign-in.

Accounts live in the workspace (``planner_users``, on either backend) and
every change is an audit row. Passwords are stored only as Argon2id hashes
(``argon2-cffi``); a sign-in with a wrong name or a wrong password gets the
same answer and takes the same time. A workspace with no accounts is used as
before, by a single local user with no sign-in; adding the first account
(an administrator: ``planner users add NAME --role admin``) turns sign-in on
in the app.

Who may change accounts: the ``admin`` role in the app; on the command line,
whoever can open the workspace (its file or its database credentials) - the
CLI is the operator's tool, as ``psql`` would be.

Examples
--------
>>> import tempfile
>>> from planner.io.store import GpkgStore
>>> ws = GpkgStore(tempfile.mkdtemp() + "/ws.gpkg", crs="EPSG:4549", create=True)
>>> add_user(ws, "wang", "planner", "a long secret")
>>> authenticate(ws, "wang", "a long secret").role
'planner'
"""

from __future__ import annotations

import dataclasses
import os
import re
import threading
import time

import pandas as pd

from planner.errors import PlannerError
from planner.workflow.permissions import ROLES, acting_user

#: Shortest password accepted.
MIN_PASSWORD = 8
_NAME = re.compile(r"^[\w.@-]{2,64}$")


class AccountError(PlannerError):
    """An account cannot be added or changed as asked (names what to fix)."""


class SignInError(PlannerError):
    """Wrong user name or password, or a disabled account (one message for all, on purpose)."""


@dataclasses.dataclass(frozen=True)
class Account:
    """A signed-in user."""

    username: str
    role: str
    display_name: str = ""


def _hasher():
    from argon2 import PasswordHasher

    return PasswordHasher()


_DUMMY: list[str] = []


def hash_password(password: str) -> str:
    """Argon2id hash of a password (refuses one shorter than :data:`MIN_PASSWORD`)."""
    if len(password or "") < MIN_PASSWORD:
        msg = f"a password needs at least {MIN_PASSWORD} characters"
        raise AccountError(msg, zh=f"密码至少需要 {MIN_PASSWORD} 个字符")
    return _hasher().hash(password)


def _check_role(role: str) -> str:
    if role not in ROLES:
        msg = f"role {role!r}: one of {', '.join(ROLES)}"
        raise AccountError(msg, zh=f"角色 {role!r} 无效，可选：{', '.join(ROLES)}")
    return role


def _check_visible(what: str, text: str) -> str:
    """``text`` unless it holds a control or invisible formatting character (:data:`planner.i18n.HIDDEN`).

    A right-to-left override (U+202E) in a display name reverses the rest of the line it is shown on - the
    sidebar's "(GIS staff)" after it reads as another role - and a zero-width space makes two names look the same.
    """
    from planner.i18n import has_hidden, t

    if has_hidden(text):
        key = f"acc_what_{what}"
        raise AccountError(t("acc_bad_chars", "en", what=t(key, "en"), name=text),
                           zh=t("acc_bad_chars", "zh", what=t(key, "zh"), name=text))
    return text


def _check_display(display_name: str | None) -> str:
    """A display name as stored: trimmed, without control or formatting characters."""
    return _check_visible("display_name", (display_name or "").strip())


def _check_name(username: str) -> str:
    name = _check_visible("username", (username or "").strip())
    if not _NAME.match(name):
        msg = f"user name {username!r}: 2-64 letters, digits, '.', '_', '@' or '-'"
        raise AccountError(msg, zh=f"用户名 {username!r} 无效：需 2-64 个字母、数字或 . _ @ -")
    return name


def accounts_enabled(store) -> bool:
    """Whether the workspace has accounts (then the app asks everyone to sign in)."""
    return bool(len(store.users()))


def list_users(store) -> pd.DataFrame:
    """Accounts: user name, display name, role, disabled, created and updated (no password hashes)."""
    return store.users()


def add_user(store, username: str, role: str, password: str, *, display_name: str = "", user: str | None = None) -> None:
    """Add an account (refused if the name is taken). An administrator's act once accounts exist."""
    name, role, display_name = _check_name(username), _check_role(role), _check_display(display_name)
    if accounts_enabled(store):
        user = acting_user("manage_users", store, user)
    if store.user_record(name) is not None:
        msg = f"user {name!r} exists; change it with `planner users set-role` or `planner users passwd`"
        raise AccountError(msg, zh=f"用户 {name} 已存在")
    store.put_user(name, role=role, password_hash=hash_password(password), display_name=display_name,
                   user=user, action="user_add")


def _existing(store, username: str) -> dict:
    rec = store.user_record(username)
    if rec is None:
        msg = f"no user {username!r} in this workspace (`planner users list`)"
        raise AccountError(msg, zh=f"此工作空间没有用户 {username}")
    return rec


def _last_admin(store, username: str) -> bool:
    u = store.users()
    admins = u[(u["role"] == "admin") & ~u["disabled"]]["username"].tolist()
    return admins == [username]


def set_role(store, username: str, role: str, *, user: str | None = None) -> None:
    """Change an account's role (the last enabled administrator keeps theirs)."""
    role = _check_role(role)
    user = acting_user("manage_users", store, user)
    rec = _existing(store, username)
    if rec["role"] == "admin" and role != "admin" and _last_admin(store, username):
        msg = f"{username} is the last administrator; make another one first"
        raise AccountError(msg, zh=f"{username} 是最后一位管理员，请先指定另一位管理员")
    store.put_user(username, role=role, password_hash=rec["password_hash"], display_name=rec["display_name"],
                   disabled=rec["disabled"], user=user, action="user_set_role")


def set_disabled(store, username: str, disabled: bool = True, *, user: str | None = None) -> None:
    """Disable (or enable again) an account; a disabled account cannot sign in and its sessions end."""
    user = acting_user("manage_users", store, user)
    rec = _existing(store, username)
    if disabled and rec["role"] == "admin" and _last_admin(store, username):
        msg = f"{username} is the last administrator; make another one first"
        raise AccountError(msg, zh=f"{username} 是最后一位管理员，请先指定另一位管理员")
    store.put_user(username, role=rec["role"], password_hash=rec["password_hash"], display_name=rec["display_name"],
                   disabled=disabled, user=user, action="user_disable" if disabled else "user_enable")


def set_password(store, username: str, password: str, *, user: str | None = None) -> None:
    """Give an account a new password."""
    user = acting_user("manage_users", store, user)
    rec = _existing(store, username)
    store.put_user(username, role=rec["role"], password_hash=hash_password(password), display_name=rec["display_name"],
                   disabled=rec["disabled"], user=user, action="user_password")


class SignInThrottle:
    """Failed sign-ins in a row per user name, on one server: after :attr:`FREE` of them the name waits before it
    may try again (:attr:`WAITS`: 1 min, then 5, then 15 for every further failure), whether or not such an account
    exists (the wait tells nothing of it); a sign-in that succeeds clears the count. Attempts made while waiting are
    refused without a password check and do not count.

    Kept in the server's memory (one per app server; a restart forgets it): it slows a guesser down by hundreds of
    times without writing anything to the workspace, and costs a colleague who mistyped five times one minute.
    """

    FREE = 5
    WAITS = (60.0, 300.0, 900.0)
    #: Names remembered at most (the longest-quiet are forgotten first): a guesser trying endless names cannot
    #: fill the server's memory.
    MAX_NAMES = 10_000

    def __init__(self, clock=time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._fails: dict[str, tuple[int, float]] = {}  # name -> (failures in a row, time of the last)

    @staticmethod
    def _key(username: str) -> str:
        # names are at most 64 characters (longer ones never sign in): a typed megabyte is not kept whole
        return (username or "")[:1000].strip().casefold()[:100]

    def wait_left(self, username: str) -> float:
        """Seconds ``username`` must still wait before a sign-in is checked (0: it may try now)."""
        with self._lock:
            n, last = self._fails.get(self._key(username), (0, 0.0))
        if n < self.FREE:
            return 0.0
        return max(0.0, last + self.WAITS[min(n - self.FREE, len(self.WAITS) - 1)] - self._clock())

    def failed(self, username: str) -> None:
        now = self._clock()
        with self._lock:
            key = self._key(username)
            n, last = self._fails.pop(key, (0, 0.0))
            if n and now - last > self.WAITS[-1] * 2:  # quiet for long: a fresh start
                n = 0
            self._fails[key] = (n + 1, now)  # re-inserted last: the dict stays in order of last failure
            while len(self._fails) > self.MAX_NAMES:
                self._fails.pop(next(iter(self._fails)))

    def succeeded(self, username: str) -> None:
        """A sign-in went through (or an administrator let the name try again): the count starts afresh."""
        with self._lock:
            self._fails.pop(self._key(username), None)

    release = succeeded

    def waiting(self) -> list[tuple[str, float]]:
        """``(user name, seconds left)`` of the names waiting now, the longest wait first (the administrator's list)."""
        with self._lock:
            names = list(self._fails)
        left = [(n, self.wait_left(n)) for n in names]
        return sorted(((n, s) for n, s in left if s > 0), key=lambda t: -t[1])


def authenticate(store, username: str, password: str, *, throttle: SignInThrottle | None = None) -> Account:
    """The account for a user name and password; :class:`SignInError` otherwise (same words, same time).

    ``throttle``: the server's :class:`SignInThrottle`; a name that failed too often in a row is refused, saying
    how long to wait, before its password is checked.
    """
    from argon2.exceptions import InvalidHashError, VerificationError

    if throttle is not None and (left := throttle.wait_left(username)) > 0:
        minutes = max(1, -(-int(left) // 60))
        msg = (f"too many failed sign-ins for this user name: try again in {minutes} min "
               "(an administrator can help if the password is lost)")
        raise SignInError(msg, zh=f"此用户名登录失败次数过多：请 {minutes} 分钟后再试（忘记密码可联系管理员）")
    rec = store.user_record((username or "").strip())
    if not _DUMMY:
        _DUMMY.append(_hasher().hash(os.urandom(16).hex()))
    ok = False
    try:
        ok = _hasher().verify(rec["password_hash"] if rec else _DUMMY[0], password or "")
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or rec is None or rec["disabled"]:
        if throttle is not None:
            throttle.failed(username)
        time.sleep(0.2)  # a little friction for guessing
        msg = "wrong user name or password (or the account is disabled)"
        raise SignInError(msg, zh="用户名或密码错误（或账号已停用）")
    if throttle is not None:
        throttle.succeeded(username)
    return Account(rec["username"], rec["role"], rec["display_name"] or "")


def account_now(store, username: str) -> Account | None:
    """The account as it is now (None if it was removed or disabled): a session re-checks it on every page."""
    rec = store.user_record(username)
    if rec is None or rec["disabled"]:
        return None
    return Account(rec["username"], rec["role"], rec["display_name"] or "")


__all__ = ["Account", "AccountError", "SignInError", "accounts_enabled", "account_now", "add_user", "authenticate",
           "list_users", "set_disabled", "set_password", "set_role"]
