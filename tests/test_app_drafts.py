"""Colleagues saving at once, and drafts that survive a sign-in (AppTest; two AppTests on one workspace are two
planners). Each test reproduces one way work was lost: a save that replaced a colleague's newer version without a
word, a form that came back empty after a sign-in, a name reset by a page switch, a button a role could not use."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from planner import workflow as W
from planner.io.store import GpkgStore
from planner.scenarios import Scenario, SiteSelection
from planner.ui import keys
from planner.ui.state import md_text
from planner.workflow import accounts as A
from tests import test_app_workflow
from tests._text import rendered
from tests.e2e._workspace import build_workspace


@pytest.fixture
def ws(tmp_path) -> Path:
    return build_workspace(tmp_path / "ws.gpkg")


def _app(ws, monkeypatch, page: str | None = None) -> AppTest:
    at = test_app_workflow._app(ws, monkeypatch, page)
    assert not at.exception, [e.message for e in at.exception]
    return at


def _sign_in(at: AppTest, user: str, password: str) -> AppTest:
    at.text_input(key="auth_user").set_value(user)
    at.text_input(key="auth_password").set_value(password)
    next(b for b in at.button if b.label in ("登录", "Sign in")).click().run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _texts(at: AppTest, kind: str) -> list[str]:
    return [rendered(e.value) for e in getattr(at, kind)]


def _panel_texts(at: AppTest, kind: str) -> list[str]:
    """The messages of ``kind`` in the sites page's edit panel (the column holding the save button)."""
    col = next(c for c in at.columns if any(b.key == "s_save" for b in c.button))
    return [rendered(e.value) for e in getattr(col, kind)]


def _submit(at: AppTest) -> None:
    next(b for b in at.button if b.label == "计算").click().run()
    assert not at.exception, [e.message for e in at.exception]


def _one_parcel_of(at: AppTest, rank: int) -> dict:
    """A "remove one flagged parcel" edit of the site at ``rank`` (0: the first)."""
    res = at.session_state[keys.SITE_RESULT]
    sid = str(res.sites[res.sites["status"] == "ok"].sort_values("rank")["site_id"].iloc[rank])
    ps = res.parcel_sites
    pid = str(ps.loc[(ps["site_id"] == sid) & (ps["role"] == "flagged"), "parcel_id"].iloc[0])
    return {"op": "remove", "site_id": sid, "parcel_ids": [pid]}


# --------------------------------------------------------------------------- sites
def test_two_planners_saving_site_edits_never_drop_each_others(ws, monkeypatch):
    """plan1 and plan2 edit different sites and both save: the second save is refused and says who saved, and
    loading with "my edits on top" stores both (the second save used to replace the first's edits)."""
    store = GpkgStore(ws)
    p1, p2 = _app(ws, monkeypatch, "sites"), _app(ws, monkeypatch, "sites")
    mine, theirs = _one_parcel_of(p1, 0), _one_parcel_of(p2, 1)
    p1.session_state[keys.SITE_EDITS] = [mine]
    p1.run()
    p2.session_state[keys.SITE_EDITS] = [theirs]
    p2.run()
    p1.button(key="s_save").click().run()
    assert W.latest_version(store, "site_edit", "default") == 1
    p2.button(key="s_save").click().run()
    assert not p2.exception, [e.message for e in p2.exception]
    assert W.latest_version(store, "site_edit", "default") == 1  # refused: plan1's edits stand
    assert W.load_document(store, "site_edit", "default").ops == (mine,)
    assert any("v1" in e and "开始编辑之后已被保存" in e for e in _texts(p2, "error")), _texts(p2, "error")
    p2.button(key="s_conflict_merge").click().run()  # load v1 and keep my edit on top
    assert not p2.exception, [e.message for e in p2.exception]
    assert p2.session_state[keys.SITE_EDITS] == [mine, theirs]
    # said where the user clicked (next to the save button, and as a toast), not at the top of a long page
    assert any("已载入 v1" in t for t in _panel_texts(p2, "success")), _panel_texts(p2, "success")
    assert any("已载入 v1" in rendered(t.value) for t in p2.toast), [t.value for t in p2.toast]
    p2.button(key="s_save").click().run()
    assert not p2.exception and not _texts(p2, "error"), _texts(p2, "error")
    assert any("v2" in t for t in _panel_texts(p2, "success")), _panel_texts(p2, "success")
    assert W.latest_version(store, "site_edit", "default") == 2
    assert W.load_document(store, "site_edit", "default").ops == (mine, theirs)
    stored = store.read_layer("sites", "default").set_index("site_id")["n_parcels"]
    assert stored[mine["site_id"]] == p2.session_state[keys.SITE_RESULT].sites.set_index("site_id").loc[
        mine["site_id"], "n_parcels"]  # the stored sites hold both edits
    # plan1, still on v1, saves again: refused too (plan2 saved v2 since), and nothing is lost
    p1.session_state[keys.SITE_EDITS] = [mine, _one_parcel_of(p1, 2)]
    p1.run()
    p1.button(key="s_save").click().run()
    assert W.latest_version(store, "site_edit", "default") == 2
    assert any("在您打开 v1 之后已被保存为 v2" in e for e in _texts(p1, "error")), _texts(p1, "error")


def test_site_edits_saved_under_another_name_keep_two_variants_for_the_same_rules(ws, monkeypatch, capsys):
    """A planner keeps two variants of edits for the same rules: "save as" stores the edits (and the sites) under a
    new name, later saves go to it, the policy's own edits stay as they were, either opens again, a taken name is
    refused, and the CLI replays the variant by its name (the edits were always named after the policy)."""
    from planner.cli import main

    store = GpkgStore(ws)
    at = _app(ws, monkeypatch, "sites")
    first, second, third = _one_parcel_of(at, 0), _one_parcel_of(at, 1), _one_parcel_of(at, 2)
    at.session_state[keys.SITE_EDITS] = [first]
    at.run()
    at.button(key="s_save").click().run()
    assert W.latest_version(store, "site_edit", "default") == 1
    at.session_state[keys.SITE_EDITS] = [first, second]
    at.run()
    assert at.button(key="s_edits_open").disabled  # unsaved edits: save them (or as) before opening others
    at.text_input(key="s_edits_as_name").input("方案 B").run()
    assert "--apply-edits" in at.button(key="s_edits_save_as").help  # says what it does, not what the save does
    at.button(key="s_edits_save_as").click().run()
    assert not at.exception and not _texts(at, "error"), _texts(at, "error")
    assert any("方案 B v1" in t for t in _panel_texts(at, "success")), _panel_texts(at, "success")
    b = W.load_document(store, "site_edit", "方案 B")
    assert b.ops == (first, second) and b.policy_name == "default"
    assert W.load_document(store, "site_edit", "default").ops == (first,)  # the policy's own edits: unchanged
    assert W.site_edit_names(store, "default") == ["default", "方案 B"]
    assert store.read_layer("sites", "default", columns=["site_id"]).attrs["meta"]["edits"] == "方案 B@1"
    # a later save goes to the variant (checked against its version), not to the policy's edits
    at.session_state[keys.SITE_EDITS] = [first, second, third]
    at.run()
    at.button(key="s_save").click().run()
    assert not _texts(at, "error"), _texts(at, "error")
    assert W.latest_version(store, "site_edit", "方案 B") == 2 and W.latest_version(store, "site_edit", "default") == 1
    # the policy's own edits open again (and a save goes back to them)
    at.selectbox(key="s_edits_pick_default").set_value("default").run()
    at.button(key="s_edits_open").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.session_state[keys.SITE_EDITS] == [first]
    assert any("default v1" in t for t in _panel_texts(at, "success")), _panel_texts(at, "success")
    # a name that is taken is refused, naming it, and nothing is written
    at.text_input(key="s_edits_as_name").input("方案 B").run()
    at.button(key="s_edits_save_as").click().run()
    assert any("方案 B" in t and "v2" in t for t in _panel_texts(at, "error")), _panel_texts(at, "error")
    assert W.latest_version(store, "site_edit", "方案 B") == 2 and W.latest_version(store, "site_edit", "default") == 1
    # a new session starts on the edits the stored sites were built with (the variant, saved last)
    again = _app(ws, monkeypatch, "sites")
    assert again.session_state[keys.SITE_EDITS] == [first, second, third]
    # the CLI by default replays what the app starts on: the variant's latest edits
    capsys.readouterr()
    assert main(["sites", "-w", str(ws)]) == 0
    assert "replaying the 3 site edits saved as site_edit/方案 B@2" in capsys.readouterr().out
    assert store.read_layer("sites", "default", columns=["site_id"]).attrs["meta"]["edits"] == "方案 B@2"
    # the CLI replays the variant by its name
    assert main(["sites", "-w", str(ws), "--apply-edits", "方案 B@1"]) == 0
    assert store.read_layer("sites", "default", columns=["site_id"]).attrs["meta"]["edits"] == "方案 B@1"


def test_store_sites_refuses_a_taken_name_for_edits_saved_as_and_a_role_that_may_not_save_edits(tmp_path):
    from tests.e2e._workspace import grid_parcels
    from tests.test_roles import acting

    store = GpkgStore(tmp_path / "ws.gpkg", crs="EPSG:4549", create=True)
    store.publish_survey(grid_parcels(12), label="grid", user="test")
    W.classify_workspace(store, W.PolicyDoc.from_file(None))
    built = W.build_workspace_sites(store, save=False)
    prov = W.Provenance.from_meta(built.flagged.attrs.get("meta"))

    def save(name, expect):
        return W.store_sites(store, "default", built.result, built.flagged, flags_prov=prov, flags_version=None,
                             params=built.params, edits=W.SiteEditsDoc(name, (), policy_name="default"),
                             expect_edits_version=expect)

    save("variant", None)
    with pytest.raises(W.SaveConflictError, match=r"exists: version 1.*saving would create version 2"):
        save("variant", None)  # a typed name that is taken: not "saved since you began"
    with acting("dee", "decision_maker"), pytest.raises(W.permissions.PermissionDenied):
        save("other", None)
    assert W.site_edit_names(store, "default") == ["variant"]


def test_site_settings_saved_by_a_colleague_meanwhile_are_not_replaced(ws, monkeypatch):
    store = GpkgStore(ws)
    p1, p2 = _app(ws, monkeypatch, "sites"), _app(ws, monkeypatch, "sites")
    p1.number_input(key="s_gap").set_value(5.0)
    next(b for b in p1.button if b.label == "计算").click().run()
    p1.button(key="s_save_params").click().run()
    assert W.latest_version(store, "site_params", "default") == 1
    p2.number_input(key="s_gap").set_value(8.0)
    next(b for b in p2.button if b.label == "计算").click().run()
    p2.button(key="s_save_params").click().run()
    assert not p2.exception, [e.message for e in p2.exception]
    assert W.latest_version(store, "site_params", "default") == 1  # plan1's settings stand
    assert any("v1" in e for e in _texts(p2, "error")), _texts(p2, "error")
    p2.button(key="s_conflict_mine_site_params").click().run()  # a deliberate choice, after being told
    assert W.latest_version(store, "site_params", "default") == 2
    assert W.load_document(store, "site_params", "default").params.gap_m == 8.0
    p1.button(key="s_save_params").click().run()  # plan1 still holds v1: refused now
    assert W.latest_version(store, "site_params", "default") == 2
    p1.button(key="s_conflict_load_site_params").click().run()
    assert not p1.exception and p1.number_input(key="s_gap").value == 8.0


# --------------------------------------------------------------------------- scenarios, rules, comparisons
def test_a_colleagues_newer_scenario_is_a_conflict_not_an_overwrite_prompt(ws, monkeypatch):
    store = GpkgStore(ws)
    W.save_document(store, W.ScenarioDoc(Scenario(name="shared_sc", sites=SiteSelection(top=5))))
    p1, p2 = _app(ws, monkeypatch, "scenarios"), _app(ws, monkeypatch, "scenarios")
    for at in (p1, p2):
        at.selectbox(key="sc_open_pick").set_value("shared_sc").run()
        at.button(key="sc_open_btn").click().run()
    p2.number_input(key="sc_top").set_value(7)
    _submit(p2)
    p2.button(key="sc_save_btn").click().run()  # opened by plan2, nobody saved since: saved
    assert W.latest_version(store, "scenario", "shared_sc") == 2
    p1.number_input(key="sc_top").set_value(4)
    _submit(p1)
    p1.button(key="sc_save_btn").click().run()
    assert not p1.exception, [e.message for e in p1.exception]
    assert W.latest_version(store, "scenario", "shared_sc") == 2  # plan2's v2 stands
    assert not any("保存将生成" in w for w in _texts(p1, "warning"))  # not the ordinary overwrite prompt
    assert any("在您打开 v1 之后已被保存为 v2" in e for e in _texts(p1, "error")), _texts(p1, "error")
    p1.button(key="sc_conflict_mine").click().run()  # deliberate, after being told
    assert W.latest_version(store, "scenario", "shared_sc") == 3
    assert W.load_document(store, "scenario", "shared_sc").scenario.sites.top == 4
    p2.button(key="sc_save_btn").click().run()  # now plan2 is behind: refused, and may open the latest
    assert W.latest_version(store, "scenario", "shared_sc") == 3
    p2.button(key="sc_conflict_open").click().run()
    assert p2.number_input(key="sc_top").value == 4


def test_a_colleagues_newer_policy_is_a_conflict_not_an_overwrite_prompt(ws, monkeypatch):
    store = GpkgStore(ws)
    p1 = _app(ws, monkeypatch, "rules")
    p1.text_input(key="r_name").set_value("宽松").run()
    p1.button(key="rules_save").click().run()
    assert W.latest_version(store, "policy", "宽松") == 1
    p2 = _app(ws, monkeypatch, "rules")
    p2.selectbox(key="rules_pick_zh").set_value("宽松").run()
    p2.button(key="rules_open").click().run()
    p2.number_input(key="r_utilization_0_t").set_value(1.4).run()
    p2.button(key="rules_save").click().run()
    assert W.latest_version(store, "policy", "宽松") == 2
    p1.number_input(key="r_utilization_0_t").set_value(1.7).run()
    p1.button(key="rules_save").click().run()
    assert not p1.exception, [e.message for e in p1.exception]
    assert W.latest_version(store, "policy", "宽松") == 2
    assert not any("保存将生成" in w for w in _texts(p1, "warning"))
    assert any("在您打开 v1 之后已被保存为 v2" in e for e in _texts(p1, "error")), _texts(p1, "error")
    assert W.load_document(store, "policy", "宽松").policy.criteria.utilization.rules[0].threshold == 1.4


def test_a_policy_save_landing_while_the_rules_open_is_not_overwritten(ws, monkeypatch):
    """Opening read the rules, then the latest version number: a colleague's save between the two reads was taken
    as the version opened, and the next save overwrote it unasked."""
    store = GpkgStore(ws)
    p1 = _app(ws, monkeypatch, "rules")
    p1.text_input(key="r_name").set_value("宽松").run()
    p1.button(key="rules_save").click().run()
    p2 = _app(ws, monkeypatch, "rules")
    real, landed = W.load_document, []

    def load_then_colleague_saves(*args, **kw):
        doc = real(*args, **kw)
        if args[1] == "policy" and not landed:
            theirs = real(store, "policy", "宽松").policy
            landed.append(W.save_document(store, W.PolicyDoc(theirs), user="bob"))
        return doc

    monkeypatch.setattr(W, "load_document", load_then_colleague_saves)
    p2.selectbox(key="rules_pick_zh").set_value("宽松").run()
    p2.button(key="rules_open").click().run()
    assert landed == [2]
    p2.number_input(key="r_utilization_0_t").set_value(1.4).run()
    p2.button(key="rules_save").click().run()
    assert not p2.exception and W.latest_version(store, "policy", "宽松") == 2
    assert any("在您打开 v1 之后已被保存为 v2" in e for e in _texts(p2, "error")), _texts(p2, "error")


def test_an_earlier_version_of_the_rules_opens_from_the_history_and_saves_as_the_latest(ws, monkeypatch):
    store = GpkgStore(ws)
    p1 = _app(ws, monkeypatch, "rules")
    p1.text_input(key="r_name").set_value("宽松").run()
    p1.button(key="rules_save").click().run()  # v1: the default thresholds
    p1.number_input(key="r_utilization_0_t").set_value(1.4).run()
    p1.button(key="rules_save").click().run()
    assert W.latest_version(store, "policy", "宽松") == 2
    p1.selectbox(key="rules_hist_name").set_value("宽松").run()
    p1.selectbox(key="rules_hist_v_宽松").set_value(1).run()
    p1.button(key="rules_hist_open").click().run()
    assert not p1.exception and p1.number_input(key="r_utilization_0_t").value == 1.0
    assert any("v1" in w and "v2" in w for w in _texts(p1, "warning")), _texts(p1, "warning")  # unsaved over v2
    assert any("保存后成为 v3" in s for s in _texts(p1, "success")), _texts(p1, "success")
    p1.button(key="rules_save").click().run()
    assert W.latest_version(store, "policy", "宽松") == 3
    assert W.load_document(store, "policy", "宽松").policy.criteria.utilization.rules[0].threshold == 1.0


def test_saving_a_comparison_under_a_taken_name_asks_first(ws, monkeypatch):
    store = GpkgStore(ws)
    for n, top in (("a", 3), ("b", 5)):
        W.save_document(store, W.ScenarioDoc(Scenario(name=n, sites=SiteSelection(top=top))))
    p1, p2 = _app(ws, monkeypatch, "compare"), _app(ws, monkeypatch, "compare")
    for at in (p1, p2):
        at.text_input(key="cmp_name").set_value("ab").run()
    p1.button(key="cmp_save").click().run()
    assert W.latest_version(store, "comparison", "ab") == 1
    p2.button(key="cmp_save").click().run()  # the same name, not opened here: asked first, nothing saved
    assert not p2.exception, [e.message for e in p2.exception]
    assert W.latest_version(store, "comparison", "ab") == 1
    assert any("保存将生成 v2" in w for w in _texts(p2, "warning")), _texts(p2, "warning")
    p2.button(key="cmp_confirm_yes").click().run()
    assert W.latest_version(store, "comparison", "ab") == 2


def test_an_earlier_comparison_opens_from_the_history_and_saves_as_the_latest(ws, monkeypatch):
    store = GpkgStore(ws)
    for n, top in (("a", 3), ("b", 5), ("c", 7)):
        W.save_document(store, W.ScenarioDoc(Scenario(name=n, sites=SiteSelection(top=top))))
    W.save_document(store, W.ComparisonDoc("ab", (("a", None), ("b", None)), "zh"))
    W.save_document(store, W.ComparisonDoc("ab", (("a", None), ("b", None), ("c", None)), "zh"), user="bob")
    at = _app(ws, monkeypatch, "compare")
    at.selectbox(key="cmp_hist_name").set_value("ab").run()
    at.selectbox(key="cmp_hist_v_ab").set_value(1).run()
    at.button(key="cmp_hist_open").click().run()
    assert not at.exception and at.multiselect(key="compare_pick").value == ["a", "b"]
    assert any("保存后成为 v3" in s for s in _texts(at, "success")), _texts(at, "success")
    at.button(key="cmp_save").click().run()
    assert W.latest_version(store, "comparison", "ab") == 3
    assert [n for n, _ in W.load_document(store, "comparison", "ab").scenarios] == ["a", "b"]


def test_the_policy_name_typed_is_kept_across_pages(ws, monkeypatch):
    at = _app(ws, monkeypatch, "rules")
    at.number_input(key="r_utilization_0_t").set_value(1.8).run()
    at.text_input(key="r_name").set_value("宽松方案").run()
    at.switch_page("views/compare.py").run()
    at.switch_page("views/rules.py").run()
    assert at.number_input(key="r_utilization_0_t").value == pytest.approx(1.8)
    assert at.text_input(key="r_name").value == "宽松方案"  # it read "default": save stored the rules under it
    at.button(key="rules_save").click().run()
    assert W.latest_version(GpkgStore(ws), "policy", "宽松方案") == 1
    assert W.latest_version(GpkgStore(ws), "policy", "default") is None


# --------------------------------------------------------------------------- sign-in, roles
@pytest.fixture
def office(ws) -> Path:
    store = GpkgStore(ws)
    A.add_user(store, "pam", "planner", "planner-pass-3")
    A.add_user(store, "dee", "decision_maker", "decider-pass-4")
    W.save_document(store, W.ScenarioDoc(Scenario(name="top5", sites=SiteSelection(top=5))))
    W.save_document(store, W.ScenarioDoc(Scenario(name="top8", sites=SiteSelection(top=8))))
    return ws


FORM = ("sc_name", "sc_top", "sc_start", "sc_tpl")


def test_the_scenario_form_is_sent_again_after_a_sign_in(office, monkeypatch):
    """After an idle expiry (or a sign-out) the browser drew no form; the widgets' values must be sent to it again
    with the next page, from the draft (after a sign-out: a fresh scenario, the drafts go with the session). They
    were not (the server kept them): the browser showed an empty name, top N = 1, the first template, 2020 and
    every parameter 0, and 计算 computed that."""
    import time

    at = _sign_in(_app(office, monkeypatch), "pam", "planner-pass-3")  # the idle limit is short only below:
    at.switch_page("views/scenarios.py").run()  # a page run slower than it (a busy machine) would expire here
    at.text_input(key="sc_name").set_value("my_draft")
    at.number_input(key="sc_top").set_value(6)
    at.selectbox(key="sc_tpl").set_value("multi_storey")
    _submit(at)
    monkeypatch.setenv("PLANNER_IDLE_MINUTES", "0.02")
    time.sleep(1.5)
    at.run()
    assert at.title[0].value == "登录"  # expired
    monkeypatch.setenv("PLANNER_IDLE_MINUTES", "60")
    _sign_in(at, "pam", "planner-pass-3")
    assert at.title[0].value == "情景模拟"
    name, top = at.text_input(key="sc_name"), at.number_input(key="sc_top")
    assert (name.value, top.value, at.selectbox(key="sc_tpl").value) == ("my_draft", 6, "multi_storey")
    # what the browser is told: every form widget's value, and each parameter of the template
    assert name.proto.set_value and top.proto.set_value and at.number_input(key="sc_start").proto.set_value
    params = [n for n in at.number_input if str(n.key).startswith("sc_p_multi_storey_")]
    assert params and all(n.proto.set_value and n.value > 0 for n in params)
    at.run()  # a rerun of the same page (a click elsewhere): nothing is forced on the browser again
    assert not at.text_input(key="sc_name").proto.set_value
    # after a sign-out the draft is gone with the session, and the form is a fresh scenario, never zeros
    next(b for b in at.sidebar.button if b.key == "auth_sign_out").click().run()
    _sign_in(at, "pam", "planner-pass-3")
    at.switch_page("views/scenarios.py").run()
    name, top = at.text_input(key="sc_name"), at.number_input(key="sc_top")
    assert name.value == "scenario_a" and top.value >= 1  # the browser shows it (tests/e2e/test_drafts_browser.py)
    fresh = [n for n in at.number_input if str(n.key).startswith(f"sc_p_{at.selectbox(key='sc_tpl').value}_")]
    assert fresh and all(n.value > 0 for n in fresh)


def test_a_decision_maker_sees_no_usable_write_button_and_is_told_who_may(office, monkeypatch):
    store = GpkgStore(office)
    before = len(store.docs())
    at = _sign_in(_app(office, monkeypatch), "dee", "decider-pass-4")
    pages = {"rules": ("rules_save",), "sites": ("s_save", "s_save_params"), "scenarios": ("sc_save_btn",),
             "compare": ("cmp_save",)}
    for page_, buttons in pages.items():
        at.switch_page(f"views/{page_}.py").run()
        assert not at.exception, [e.message for e in at.exception]
        for key in buttons:
            b = at.button(key=key)
            assert b.disabled, (page_, key)
            assert "决策人员" in b.help and "规划人员" in b.help, (page_, key, b.help)
            assert not any("保存将生成" in w for w in _texts(at, "warning")), (page_, key)
    at.switch_page("views/scenarios.py").run()
    at.selectbox(key="sc_open_pick").set_value("top5").run()
    at.button(key="sc_open_btn").click().run()
    assert at.button(key="sc_del").disabled and at.button(key="sc_ren").disabled
    assert len(store.docs()) == before
    # a planner's buttons work
    pam = _sign_in(_app(office, monkeypatch), "pam", "planner-pass-3")
    pam.switch_page("views/scenarios.py").run()
    assert not pam.button(key="sc_save_btn").disabled


# --------------------------------------------------------------------------- text as typed
@pytest.mark.parametrize("name", ["<img src=x onerror=alert(1)><script>alert(2)</script>", "<b>x</b> =1+1", "a/b"])
def test_names_shown_through_markdown_keep_every_slash(name):
    """A name filled into a message (:func:`planner.ui.state.tr`: server paths taken out, then Markdown-escaped)
    reads as typed: the slash of a closing tag was taken for a server path ("</script>" read "<script>")."""
    from planner.ui.workspaces import redact

    assert rendered(md_text(redact(name))) == name
    assert "/" not in md_text(name).replace("\\/", "")  # every slash escaped for Markdown
    assert redact("see /srv/gis/inbox/x.zip, <b>/srv/a/b.gpkg</b>") == "see x.zip, <b>b.gpkg</b>"  # paths still go


def test_a_role_taken_away_while_the_page_is_open_is_refused_at_once_without_a_prompt(office, monkeypatch):
    """The scenario save button was drawn for a planner; the role is changed to decision-maker before the click:
    refused at once, saying who may, never first asked to confirm "saving creates v2"."""
    store = GpkgStore(office)
    at = _sign_in(_app(office, monkeypatch), "pam", "planner-pass-3")
    at.switch_page("views/scenarios.py").run()
    at.selectbox(key="sc_open_pick").set_value("top5").run()
    at.button(key="sc_open_btn").click().run()
    A.add_user(store, "ada", "admin", "admin-pass-1")
    A.set_role(store, "pam", "decision_maker", user="ada")
    from planner.ui import auth

    auth._accounts.clear()  # the accounts are read again on the next page run (a server does so every 30 s)
    at.button(key="sc_save_btn").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert not any("保存将生成" in w for w in _texts(at, "warning"))
    assert any("决策人员" in e and "规划人员" in e for e in _texts(at, "error")), _texts(at, "error")
    assert at.button(key="sc_save_btn").disabled
    assert W.latest_version(store, "scenario", "top5") == 1


def test_a_conflict_names_the_colleague_as_the_app_shows_them(office, monkeypatch):
    """Two planners save the same scenario: the refusal says who saved by the name the app shows for them (the
    sidebar's "已登录：皮工"), with the user name; it gave only the user name, which colleagues do not go by."""
    store = GpkgStore(office)
    A.add_user(store, "pia", "planner", "planner-pass-5", display_name="皮工")
    p1 = _sign_in(_app(office, monkeypatch), "pam", "planner-pass-3")
    p2 = _sign_in(_app(office, monkeypatch), "pia", "planner-pass-5")
    for at in (p1, p2):
        at.switch_page("views/scenarios.py").run()
        at.selectbox(key="sc_open_pick").set_value("top5").run()
        at.button(key="sc_open_btn").click().run()
    p2.number_input(key="sc_top").set_value(7)
    _submit(p2)
    p2.button(key="sc_save_btn").click().run()
    assert W.latest_version(store, "scenario", "top5") == 2
    p1.number_input(key="sc_top").set_value(4)
    _submit(p1)
    p1.button(key="sc_save_btn").click().run()
    assert not p1.exception, [e.message for e in p1.exception]
    assert any("之后已被保存为 v2（皮工 pia，" in e for e in _texts(p1, "error")), _texts(p1, "error")
    assert W.latest_version(store, "scenario", "top5") == 2


def test_store_sites_refuses_edits_a_colleague_saved_since_on_both_backends(store):
    """The workflow check behind the sites page: under the document lock, nothing is written on a conflict."""
    from tests.e2e._workspace import grid_parcels

    store.publish_survey(grid_parcels(12), label="grid", user="test")
    W.classify_workspace(store, W.PolicyDoc.from_file(None))
    built = W.build_workspace_sites(store, save=False)
    prov = W.Provenance.from_meta(built.flagged.attrs.get("meta"))
    ps = built.result.parcel_sites
    sid = str(ps["site_id"].iloc[0])
    op = {"op": "remove", "site_id": sid, "parcel_ids": [str(ps.loc[ps["site_id"] == sid, "parcel_id"].iloc[0])]}

    def save(expect):
        return W.store_sites(store, "default", built.result, built.flagged, flags_prov=prov, flags_version=None,
                             params=built.params, edits=W.SiteEditsDoc("default", (op,), policy_name="default"),
                             expect_edits_version=expect)

    save(None)
    n_sites = len(store.layers("sites"))
    with pytest.raises(W.SaveConflictError, match="since you began"):
        save(None)  # a colleague who started before the first save
    with pytest.raises(W.SaveConflictError, match="saved as version 1 since you opened version 0"):
        save(0)
    assert W.latest_version(store, "site_edit", "default") == 1 and len(store.layers("sites")) == n_sites
    save(1)
    assert W.latest_version(store, "site_edit", "default") == 2
