"""Signing out ends the user's work in the tab (QA finding 5): the next user signed in after pam worked under pam's
unsaved rules. A sign-out forgets the session's drafts; a session that expired keeps them for the same user only."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.test_roles import _app, _copy, _sign_in, _texts, build_office


@pytest.fixture(scope="module")
def office(tmp_path_factory) -> Path:
    """A small classified workspace with sites, a saved scenario, and one account per role (tests/test_roles.py)."""
    return build_office(tmp_path_factory.mktemp("office") / "ws.gpkg")


def _rules_draft(at: AppTest) -> AppTest:
    """pam edits a rule threshold and does not save it (a draft of this session)."""
    at.switch_page("views/rules.py").run()
    at.number_input(key="r_utilization_0_t").set_value(1.9).run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.session_state["policy_draft"] is not None
    return at


def test_signing_out_forgets_the_users_work_and_the_next_user_starts_afresh(office, tmp_path, monkeypatch):
    """QA #5: after pam signed out, dee in the same tab worked under pam's unsaved rules (and scenario draft)."""
    from planner.ui import auth, keys

    store = _copy(office, tmp_path)
    at = _rules_draft(_sign_in(_app(store.path, monkeypatch), "pam"))
    at.switch_page("views/scenarios.py").run()
    assert not at.exception, [e.message for e in at.exception]
    work = {keys.POLICY_DRAFT, keys.SCENARIO_DRAFT}
    assert work <= set(at.session_state)
    at.switch_page("views/explorer.py").run()
    at.sidebar.radio(key="w_lang").set_value("en").run()  # the sidebar's choices are the tab's, not the user's
    next(b for b in at.sidebar.button if b.key == "auth_sign_out").click().run()
    assert at.title[0].value == "Sign in"
    left = set(at.session_state)
    form = {k for k in left if k.startswith(("auth_", "_auth", "FormSubmitter:auth_form"))}  # the sign-in page
    assert left - form <= auth.KEEP, left - form - auth.KEEP
    _sign_in(at, "dee")
    assert not at.exception, [e.message for e in at.exception]
    at.switch_page("views/rules.py").run()
    assert at.number_input(key="r_utilization_0_t").value != 1.9
    assert "unsaved" not in _texts(at).lower() and "未保存" not in _texts(at)
    assert at.session_state["_lang"] == "en"


def _expire(at, monkeypatch) -> None:
    """Let the session's sign-in expire for idleness: a 1.2 s idle limit only for the wait (set before a sign-in, a
    page run slower than it on a busy machine expired the session early), then the sign-in form."""
    monkeypatch.setenv("PLANNER_IDLE_MINUTES", "0.02")
    time.sleep(1.5)
    at.run()
    assert at.title[0].value == "登录"
    monkeypatch.setenv("PLANNER_IDLE_MINUTES", "60")


def test_a_session_that_expires_keeps_its_drafts_for_the_same_user_only(office, tmp_path, monkeypatch):
    """After an idle expiry the same user gets their draft back; someone else signing in here does not."""
    store = _copy(office, tmp_path)
    at = _rules_draft(_sign_in(_app(store.path, monkeypatch), "pam"))
    _expire(at, monkeypatch)
    _sign_in(at, "pam")
    at.switch_page("views/rules.py").run()
    assert at.number_input(key="r_utilization_0_t").value == 1.9  # theirs, kept
    _expire(at, monkeypatch)
    _sign_in(at, "gus")
    at.switch_page("views/rules.py").run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.number_input(key="r_utilization_0_t").value != 1.9 and "未保存" not in _texts(at)


def _page_title(at: AppTest) -> str:
    return at.title[0].value if at.title else ""


def test_the_next_user_lands_on_their_roles_start_page_not_on_the_last_users_page(office, tmp_path, monkeypatch):
    """After pam signed out on the scenarios page, dee (a decision-maker) signed in on pam's page (the URL only):
    a sign-in that starts afresh opens the role's start page; the same user back after an expiry keeps theirs."""
    from planner.i18n import t as text
    from planner.ui import auth

    store = _copy(office, tmp_path)
    at = _sign_in(_app(store.path, monkeypatch), "pam")
    at.switch_page("views/scenarios.py").run()
    assert _page_title(at) == text("nav_scenarios", "zh")
    next(b for b in at.sidebar.button if b.key == "auth_sign_out").click().run()
    _sign_in(at, "dee")
    assert not at.exception, [e.message for e in at.exception]
    assert _page_title(at) == text("nav_compare", "zh"), "dee landed on pam's page"
    assert auth.LAND not in at.session_state
    at.switch_page("views/rules.py").run()  # then wherever they go, as usual
    assert _page_title(at) == text("nav_rules", "zh")
    next(b for b in at.sidebar.button if b.key == "auth_sign_out").click().run()
    _sign_in(at, "gus")
    assert _page_title(at) == text("nav_data", "zh")


def test_the_same_user_back_after_an_expiry_stays_on_their_page(office, tmp_path, monkeypatch):
    store = _copy(office, tmp_path)
    at = _sign_in(_app(store.path, monkeypatch), "pam")
    at.switch_page("views/rules.py").run()
    _expire(at, monkeypatch)
    _sign_in(at, "pam")
    assert not at.exception, [e.message for e in at.exception]
    from planner.i18n import t as text

    assert _page_title(at) == text("nav_rules", "zh")
