"""The administrator's accounts page does what its buttons say, at once (QA findings 1, 12, 13): "Disable" stayed
"Disable" after a disable and its second click enabled the account, the table and the picker were a change behind,
the role picker ignored the user's role (设置角色 demoted them), and the table read true/false and ISO times."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from planner.io.store import GpkgStore
from tests.test_roles import ROLE_OF, _app, _copy, _sign_in, build_office


@pytest.fixture(scope="module")
def office(tmp_path_factory) -> Path:
    """A small classified workspace with sites, a saved scenario, and one account per role (tests/test_roles.py)."""
    return build_office(tmp_path_factory.mktemp("office") / "ws.gpkg")


def _admin_page(office, tmp_path, monkeypatch) -> tuple[GpkgStore, AppTest]:
    store = _copy(office, tmp_path)
    at = _sign_in(_app(store.path, monkeypatch), "ada")
    at.switch_page("views/admin.py").run()
    assert not at.exception, [e.message for e in at.exception]
    return store, at


def _pick(at: AppTest, user: str) -> AppTest:
    at.selectbox(key="admin_who").set_value(user).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_disable_never_enables_and_the_table_and_picker_show_each_change_at_once(office, tmp_path, monkeypatch):
    """QA #1: the button kept saying 停用账号 after a disable, and its second click enabled the account again."""
    store, at = _admin_page(office, tmp_path, monkeypatch)
    _pick(at, "pam")
    assert [b.label for b in at.button if b.key in ("admin_disable", "admin_enable")] == ["停用账号"]
    at.button(key="admin_disable").click().run()
    assert bool(store.user_record("pam")["disabled"])
    assert store.audit_log().iloc[-1]["action"] == "user_disable"
    # drawn again from the accounts as they are now: the button offers what a click would do
    assert [b.label for b in at.button if b.key in ("admin_disable", "admin_enable")] == ["启用账号"]
    assert any("已停用账号 pam" in s.value for s in at.success)
    shown = at.dataframe[0].value.set_index("用户名")
    assert shown.loc["pam", "已停用"] == "是" and shown.loc["dee", "已停用"] == "否"
    assert at.selectbox(key="admin_who").value == "pam"
    n = len(store.audit_log())
    at.run()  # a second look (the reload that made the old button enable): nothing changes by itself
    assert bool(store.user_record("pam")["disabled"]) and len(store.audit_log()) == n
    at.button(key="admin_enable").click().run()
    assert not bool(store.user_record("pam")["disabled"])
    assert store.audit_log().iloc[-1]["action"] == "user_enable"
    assert [b.label for b in at.button if b.key in ("admin_disable", "admin_enable")] == ["停用账号"]
    # a user just added is in the table and the picker, and picked
    at.text_input(key="admin_add_user").set_value("neo")
    at.text_input(key="admin_add_pw").set_value("neo-pass-123")
    at.selectbox(key="admin_add_role").set_value("gis_staff")
    next(b for b in at.button if b.label == "添加账号").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert "neo" in at.dataframe[0].value["用户名"].tolist()
    assert any(o.startswith("neo") for o in at.selectbox(key="admin_who").options)
    assert at.selectbox(key="admin_who").value == "neo"
    assert at.selectbox(key="admin_role_neo_gis_staff").value == "gis_staff"


def test_the_role_picker_shows_the_users_role_and_a_change_is_confirmed(office, tmp_path, monkeypatch):
    """QA #13: the picker always showed GIS 数据员, so 设置角色 (to reset a password, say) demoted the user."""
    store, at = _admin_page(office, tmp_path, monkeypatch)
    for user, role in ROLE_OF.items():
        _pick(at, user)
        assert at.selectbox(key=f"admin_role_{user}_{role}").value == role
        assert at.button(key="admin_set_role").disabled  # nothing to set: it is their role
    _pick(at, "pam")
    at.selectbox(key="admin_role_pam_planner").set_value("gis_staff").run()
    assert not at.button(key="admin_set_role").disabled
    at.button(key="admin_set_role").click().run()
    assert store.user_record("pam")["role"] == "planner"  # asked first, not changed
    assert any("将 pam 的角色从「规划人员」改为「GIS 数据员」" in w.value for w in at.warning), [w.value for w in at.warning]
    at.button(key="admin_role_no").click().run()
    assert store.user_record("pam")["role"] == "planner" and not at.warning
    at.selectbox(key="admin_role_pam_planner").set_value("gis_staff").run()
    at.button(key="admin_set_role").click().run()
    at.button(key="admin_role_yes").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert store.user_record("pam")["role"] == "gis_staff"
    assert store.audit_log().iloc[-1][["user", "action"]].tolist() == ["ada", "user_set_role"]
    assert at.selectbox(key="admin_role_pam_gis_staff").value == "gis_staff"
    assert at.dataframe[0].value.set_index("用户名").loc["pam", "角色"] == "GIS 数据员"
    assert any("pam 的角色已改为「GIS 数据员」" in s.value for s in at.success)


def test_the_accounts_and_audit_tables_read_as_chinese(office, tmp_path, monkeypatch):
    """QA #12: 已停用 showed true/false, times raw ISO strings, and the audit log's 行数 None."""
    store, at = _admin_page(office, tmp_path, monkeypatch)
    shown = at.dataframe[0].value
    assert set(shown["已停用"]) <= {"是", "否"}
    for col in ("创建时间", "修改时间"):
        assert shown[col].str.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}").all(), shown[col].tolist()
    at.switch_page("views/data.py").run()
    assert not at.exception, [e.message for e in at.exception]
    log = next(d.value for d in at.dataframe if "user_add" in d.value.astype(str).to_string())
    text = log.astype(str).to_string()
    assert "None" not in text and "nan" not in text.lower().split()


def test_the_administrator_sees_the_names_waiting_and_lets_one_try_now(office, tmp_path, monkeypatch):
    """A colleague who mistyped five times (or a guessed name) waits; only a restart could clear it. The admin page
    lists the names waiting and lets one try at once; setting a new password lets that name try too."""
    from planner.ui import auth
    from planner.workflow import accounts as A

    monkeypatch.setattr(auth, "THROTTLE", A.SignInThrottle())
    store, at = _admin_page(office, tmp_path, monkeypatch)
    assert not any(b.key == "admin_release" for b in at.button)  # nobody waits: no such section
    for name in ("pam", "dee"):
        for _ in range(A.SignInThrottle.FREE):
            auth.THROTTLE.failed(name)
    at.run()
    assert any(s.value == "登录等待" for s in at.subheader)
    assert sorted(at.selectbox(key="admin_wait_pick").options) == ["dee · 还需等待 1 分钟", "pam · 还需等待 1 分钟"]
    at.selectbox(key="admin_wait_pick").set_value("pam").run()
    at.button(key="admin_release").click().run()
    assert not at.exception and auth.THROTTLE.wait_left("pam") == 0 and auth.THROTTLE.wait_left("dee") > 0
    assert any("pam" in s.value for s in at.success)
    _pick(at, "dee")
    at.text_input(key="admin_new_pw").set_value("a-new-pass-88")
    next(b for b in at.button if b.label == "设置新密码").click().run()
    assert not at.exception and auth.THROTTLE.waiting() == []
    assert not any(b.key == "admin_release" for b in at.button)
