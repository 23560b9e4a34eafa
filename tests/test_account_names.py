"""Account names cannot hide or turn text around (QA finding 9): a display name with U+202E reversed the sidebar's
"（GIS 数据员）" after it, and a zero-width space made two user names look the same."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from planner.cli import main
from planner.workflow import accounts as A
from tests.test_roles import _app, _copy, _sign_in, acting, build_office


@pytest.fixture(scope="module")
def office(tmp_path_factory) -> Path:
    """A small classified workspace with sites, a saved scenario, and one account per role (tests/test_roles.py)."""
    return build_office(tmp_path_factory.mktemp("office") / "ws.gpkg")


@pytest.mark.parametrize("bad", ["\u202eevil", "a\u200bb", "tab\there", "x\u2066y"])
def test_names_with_invisible_or_control_characters_are_refused(office, tmp_path, monkeypatch, capsys, bad):
    """QA #9: a display name with U+202E turned the sidebar's role label around; a zero-width space hid a twin."""
    from planner.errors import message_in

    store = _copy(office, tmp_path)
    with acting("ada", "admin"):
        for kw in ({"username": f"u{bad}x"}, {"username": "newbie", "display_name": f"Dis{bad}play"}):
            with pytest.raises(A.AccountError) as caught:
                A.add_user(store, kw["username"], "planner", "long-enough-1", display_name=kw.get("display_name", ""))
            en, zh = message_in(caught.value, "en"), message_in(caught.value, "zh")
            assert "invisible formatting character" in en and "不可见的格式字符" in zh, (en, zh)
            assert ("display name" in en) == ("display_name" in kw) and ("显示名称" in zh) == ("display_name" in kw)
    assert store.user_record("newbie") is None
    # the CLI refuses it with the same words
    monkeypatch.setattr("sys.stdin", io.StringIO("long-enough-1\n"))
    capsys.readouterr()
    code = main(["users", "add", "newbie", "--role", "planner", "--name", f"Dis{bad}play", "--password-stdin",
                 "-w", str(store.path)])
    out = capsys.readouterr()
    assert code != 0 and "invisible formatting character" in out.out + out.err, out
    assert store.user_record("newbie") is None
    # the app's accounts page says why
    at = _sign_in(_app(store.path, monkeypatch), "ada")
    at.switch_page("views/admin.py").run()
    at.text_input(key="admin_add_user").set_value("newbie")
    at.text_input(key="admin_add_display").set_value(f"Dis{bad}play")
    at.text_input(key="admin_add_pw").set_value("long-enough-1")
    next(b for b in at.button if b.label == "添加账号").click().run()
    assert any("不可见的格式字符" in e.value for e in at.error), [e.value for e in at.error]
    assert store.user_record("newbie") is None


def test_a_name_stored_before_the_rule_cannot_turn_the_sidebar_around(office, tmp_path, monkeypatch):
    store = _copy(office, tmp_path)
    rec = store.user_record("gus")
    store.put_user("gus", role=rec["role"], password_hash=rec["password_hash"], display_name="\u202eevil",
                   disabled=False, user="test", action="user_add")
    at = _sign_in(_app(store.path, monkeypatch), "gus")
    cap = next(c.value for c in at.sidebar.caption if "已登录" in c.value)
    assert "\u202e" not in cap and "evil" in cap and "GIS 数据员" in cap
