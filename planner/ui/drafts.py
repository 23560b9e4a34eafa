"""Forms that come back from their drafts, and write buttons only for the roles that may use them.

A page's form widgets are seeded from the page's draft (:mod:`planner.ui.keys`)
when the page is shown again. Streamlit drops a widget's state when a page run
draws another page, but not when a run stops before any page (the sign-in
form): the server then still holds the widgets' values while the browser,
which drew no form meanwhile, shows their defaults (an empty name, the
minimum of every number) and sends those back with the next click. So a page
seeds its widgets again whenever it is entered, after every sign-in, and when
its previous run stopped before the form (:func:`form_lost`).
"""

from __future__ import annotations

import streamlit as st

from planner.ui import auth
from planner.ui.state import lang, tr_plain
from planner.workflow import permissions as P


def form_lost(page: str) -> bool:
    """Whether ``page``'s form widgets must be seeded again from its draft (and note that they now are drawn).

    True when the page was just entered, when someone signed in since the
    page's form was last drawn, and when the page's last run did not reach
    its form (call :func:`form_drawn` after drawing it).
    """
    ss = st.session_state
    signed_in = (ss.get(auth.AUTH) or {}).get("since")
    mark = ss.get(f"_form_{page}")
    ss[f"_form_{page}"] = {"since": signed_in, "drawn": False}
    return bool(ss.get("_page_entered", True)) or mark is None or mark["since"] != signed_in or not mark["drawn"]


def form_drawn(page: str) -> None:
    """Note that ``page``'s form was drawn in this run (see :func:`form_lost`)."""
    mark = st.session_state.get(f"_form_{page}")
    if mark is not None:
        mark["drawn"] = True


def drop_widgets(prefixes: tuple[str, ...]) -> None:
    """Forget the state of the widgets whose keys start with one of ``prefixes`` (they are seeded afresh)."""
    ss = st.session_state
    for k in [k for k in ss if str(k).startswith(prefixes)]:
        del ss[k]


def write_button(action: str, help: str | None = None) -> dict:
    """``disabled`` and ``help`` for a button that writes with ``action``: disabled, saying who may, for a role
    that may not (no click that the workflow layer would then refuse, no confirmation asked first)."""
    if auth.may(action):
        return {"disabled": False, "help": help}
    acc = auth.current()
    role = P.role_text(acc.role, lang()) if acc is not None and acc.role in P.ROLES else "—"
    return {"disabled": True, "help": tr_plain("wf_may_not", role=role, roles=P.who_may_text(action, lang()))}
