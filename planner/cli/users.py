"""``planner users add|list|set-role|disable|enable|passwd``: the office's accounts in a workspace.

Adding the first account (make it an administrator) turns sign-in on in the
app. Passwords are asked for without echo, or read from standard input with
``--password-stdin`` (one line), never taken from the command line.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from planner.cli import WORKSPACE_HELP, add_lang_option
from planner.errors import PlannerError
from planner.i18n import names_in, t
from planner.io.store import Store, open_store
from planner.workflow import accounts as A
from planner.workflow.permissions import ROLES, role_text


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("users", help="office accounts: add, list, set a role, disable, enable, new password (账号管理)")
    us = p.add_subparsers(dest="users_command", metavar="ACTION", required=True)

    def ws(q):
        q.add_argument("--workspace", "-w", required=True, help=WORKSPACE_HELP)
        add_lang_option(q)

    a = us.add_parser("add", help="add an account (the first one should be --role admin)")
    a.add_argument("username")
    a.add_argument("--role", required=True, choices=list(ROLES))
    a.add_argument("--name", default="", help="display name, e.g. 王工")
    a.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    ws(a)
    a.set_defaults(func=run_add)
    ls = us.add_parser("list", help="list the accounts")
    ws(ls)
    ls.set_defaults(func=run_list)
    r = us.add_parser("set-role", help="change an account's role")
    r.add_argument("username")
    r.add_argument("role", choices=list(ROLES))
    ws(r)
    r.set_defaults(func=run_set_role)
    for cmd, flag, what in (("disable", True, "stop an account from signing in"), ("enable", False, "let it in again")):
        d = us.add_parser(cmd, help=what)
        d.add_argument("username")
        ws(d)
        d.set_defaults(func=run_disable, disabled=flag)
    pw = us.add_parser("passwd", help="give an account a new password")
    pw.add_argument("username")
    pw.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    ws(pw)
    pw.set_defaults(func=run_passwd)


def role_word(role: str, lang: str = "zh") -> str:
    """A role as people read it in ``lang``: Chinese its name (:func:`~planner.workflow.permissions.role_text`, as
    the app's accounts page), English the code ``--role`` takes, as the commands printed it before (an unknown role
    as it is).

    >>> role_word("decision_maker"), role_word("decision_maker", "en")
    ('决策人员', 'decision_maker')
    """
    return str(role) if lang == "en" else role_text(role, lang)


def user_lines(users, lang: str = "zh") -> list[str]:
    """The accounts table of ``planner users list`` in ``lang``: heads in words, a Chinese role by its name with
    the code ``--role`` takes (``规划人员（planner）``), 是/否 for disabled."""
    from planner.cli._table import frame_lines

    if lang != "en":
        users = users.assign(role=[f"{role_word(r, lang)}（{r}）" if r in ROLES else r for r in users["role"]])
    return frame_lines(users, [c for c in Store.USER_COLUMNS if c in users.columns], lang)


def _password(args) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass(t("cli_password_prompt", args.lang, user=args.username))
    if getpass.getpass(t("cli_password_again", args.lang)) != first:
        msg = "the two passwords differ; nothing was changed"
        raise PlannerError(msg, zh="两次输入的密码不一致，未做任何修改")
    return first


def run_add(args) -> int:
    store = open_store(args.workspace)
    first = not A.accounts_enabled(store)
    A.add_user(store, args.username, args.role, _password(args), display_name=args.name)
    lang = args.lang
    print(t("cli_user_added", lang, user=args.username, role=role_word(args.role, lang), ws=names_in(store.label, lang)))
    if first:
        print(t("cli_users_first", lang))
        if args.role != "admin":
            print(t("cli_users_no_admin", lang))
    return 0


def run_list(args) -> int:
    store = open_store(args.workspace)
    users = A.list_users(store)
    if not len(users):
        print(t("cli_users_none", args.lang, ws=names_in(store.label, args.lang)))
        return 0
    print("\n".join(user_lines(users, args.lang)))
    return 0


def run_set_role(args) -> int:
    store = open_store(args.workspace)
    A.set_role(store, args.username, args.role)
    print(t("cli_user_role_set", args.lang, user=args.username, role=role_word(args.role, args.lang)))
    return 0


def run_disable(args) -> int:
    store = open_store(args.workspace)
    A.set_disabled(store, args.username, args.disabled)
    print(t("cli_user_disabled" if args.disabled else "cli_user_enabled", args.lang, user=args.username))
    return 0


def run_passwd(args) -> int:
    store = open_store(args.workspace)
    A.set_password(store, args.username, _password(args))
    print(t("cli_user_password_set", args.lang, user=args.username))
    return 0
