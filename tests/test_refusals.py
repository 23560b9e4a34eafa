"""Refusals say what was refused and who may, in words, in both languages; controls a role can never use are
disabled and say who may (QA finding 7: 'boss（决策人员）无权执行此操作（save_scenario）', 'boss (decision_maker) may not
save scenario', and a data manager full of buttons that could only be refused)."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner import workflow as W
from planner.classify import policy as pol
from planner.workflow import permissions as P
from tests.e2e._workspace import grid_parcels
from tests.test_roles import ALLOWED, ROLE_OF, _actions, _app, _copy, _sign_in, acting, build_office


@pytest.fixture(scope="module")
def office(tmp_path_factory) -> Path:
    """A small classified workspace with sites, a saved scenario, and one account per role (tests/test_roles.py)."""
    return build_office(tmp_path_factory.mktemp("office") / "ws.gpkg")


@pytest.mark.parametrize("role", list(ALLOWED))
def test_a_refusal_names_the_action_and_who_may_in_words_in_both_languages(office, tmp_path, role):
    """QA #7: 'boss（决策人员）无权执行此操作（save_scenario）' and 'boss (decision_maker) may not save scenario'."""
    from planner.errors import message_in

    store = _copy(office, tmp_path)
    user = next(u for u, r in ROLE_OF.items() if r == role)
    codes = {c for c in (*P.ROLES, *(a for acts in P.ROLES.values() for a in acts), "manage_users") if "_" in c}
    for action, run in _actions(store).items():
        if action in ALLOWED[role]:
            continue
        with acting(user, role), pytest.raises(P.PermissionDenied) as caught:
            run()
        en, zh = message_in(caught.value, "en"), message_in(caught.value, "zh")
        for text in (en, zh):
            assert not [c for c in codes if c in text], (action, text)  # no internal codes
        assert user in en and user in zh
        allowed = [r for r in P.ROLES if r == "admin" or action in ALLOWED[r]]
        names_en = {"admin": "Administrator", "gis_staff": "GIS staff", "planner": "Planner"}
        names_zh = {"admin": "管理员", "gis_staff": "GIS 数据员", "planner": "规划人员"}
        assert f"only {' or '.join(names_en[r] for r in allowed)} may" in en, en
        assert f"只有{'、'.join(names_zh[r] for r in allowed)}可以" in zh, zh
        assert "ask an administrator" in en.lower() and "联系管理员" in zh
        assert not any("\u4e00" <= ch <= "\u9fff" for ch in en), en  # English only
    with acting("(not signed in)", None), pytest.raises(P.PermissionDenied) as caught:
        W.save_document(store, W.PolicyDoc(pol.default_policy()))
    assert message_in(caught.value, "zh") == "请先登录再保存识别规则：此工作空间已启用账号。"
    assert str(caught.value).lower().startswith("sign in to save rules")


def test_the_data_manager_disables_what_the_role_may_never_do_and_says_who_may(office, tmp_path, monkeypatch):
    """QA #7: the decision-maker saw upload, publish and switch buttons that could only be refused."""
    store = _copy(office, tmp_path)
    W.publish_survey(grid_parcels(4).to_crs(store.crs), store, mode="update", user="gus")  # a version to switch to
    at = _sign_in(_app(store.path, monkeypatch), "dee")
    at.switch_page("views/data.py").run()
    assert not at.exception, [e.message for e in at.exception]
    up = at.get("file_uploader")[0]
    assert up.proto.disabled and "只有GIS 数据员、管理员可以发布调查数据" in up.proto.help
    assert any("只有GIS 数据员、管理员可以发布调查数据" in c.value for c in at.caption)
    switch = at.button(key="dm_set")
    assert switch.disabled and "只有GIS 数据员、管理员可以切换当前调查或企业数据版本" in switch.help
    # the enterprise tab's uploaders too (a table the role could only be refused after a check)
    ent = [u for u in at.get("file_uploader") if "de_" in str(u.proto.id)]
    assert len(ent) == 2 and all(u.proto.disabled and "只有" in u.proto.help for u in ent)
    # the gis staff has them
    at2 = _sign_in(_app(store.path, monkeypatch), "gus")
    at2.switch_page("views/data.py").run()
    assert not any(u.proto.disabled for u in at2.get("file_uploader"))
    assert not any("只有" in c.value for c in at2.caption)
