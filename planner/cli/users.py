"""``planner users add|list|set-role|disable|enable|passwd``: the office's accounts in a workspace.

Adding the first account (make it an administrator) turns sign-in on in the
app. Passwords are asked for without echo, or read from standard input with
``--password-stdin`` (one line), never taken from the command line.
"""

from __future__ import annotations

import argparse
import getpass
import sys

import pandas as pd

from planner.cli import WORKSPACE_HELP
from planner.errors import PlannerError
from planner.io.store import open_store
from planner.workflow import accounts as A
from planner.workflow.permissions import ROLES


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("users", help="office accounts: add, list, set a role, disable, enable, new password (账号管理)")
    us = p.add_subparsers(dest="users_command", metavar="ACTION", required=True)

    def ws(q):
        q.add_argument("--workspace", "-w", required=True, help=WORKSPACE_HELP)

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


def _password(args) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass(f"password for {args.username}: ")
    if getpass.getpass("again: ") != first:
        msg = "the two passwords differ; nothing was changed"
        raise PlannerError(msg, zh="两次输入的密码不一致，未做任何修改")
    return first


def run_add(args) -> int:
    store = open_store(args.workspace)
    first = not A.accounts_enabled(store)
    A.add_user(store, args.username, args.role, _password(args), display_name=args.name)
    print(f"added {args.username} ({args.role}) to {store.label}")
    if first:
        print("this workspace now has accounts: the app asks everyone to sign in")
        if args.role != "admin":
            print("note: no administrator yet; add one (--role admin) to manage accounts in the app")
    return 0


def run_list(args) -> int:
    store = open_store(args.workspace)
    users = A.list_users(store)
    if not len(users):
        print(f"{store.label} has no accounts (the app runs for a single local user, with no sign-in)")
        return 0
    with pd.option_context("display.width", 160, "display.max_columns", 10):
        print(users.to_string(index=False))
    return 0


def run_set_role(args) -> int:
    store = open_store(args.workspace)
    A.set_role(store, args.username, args.role)
    print(f"{args.username} is now {args.role}")
    return 0


def run_disable(args) -> int:
    store = open_store(args.workspace)
    A.set_disabled(store, args.username, args.disabled)
    print(f"{args.username} {'disabled' if args.disabled else 'enabled'}")
    return 0


def run_passwd(args) -> int:
    store = open_store(args.workspace)
    A.set_password(store, args.username, _password(args))
    print(f"new password set for {args.username}")
    return 0
