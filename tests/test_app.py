"""The Streamlit app through streamlit.testing (AppTest): every page, both languages, main flows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from planner.i18n import STRINGS, t
from planner.io.store import GpkgStore
from tests.e2e._workspace import build_workspace

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGES = ("explorer", "rules", "sites", "scenarios", "compare", "data")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    ws = build_workspace(tmp_path_factory.mktemp("app") / "ws.gpkg")
    from planner import scenarios

    store = GpkgStore(ws)
    store.save_doc("scenario", "top5", scenarios.Scenario(name="top5", sites=scenarios.SiteSelection(top=5)).to_dict())
    store.save_doc("scenario", "upstairs", scenarios.Scenario(
        name="upstairs", template="multi_storey", sites=scenarios.SiteSelection(top=8)).to_dict())
    return ws


def _app(workspace, monkeypatch, page: str | None = None, lang: str = "zh") -> AppTest:
    monkeypatch.setenv("PLANNER_WORKSPACE", str(workspace))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    if lang != "zh":
        at.radio(key="w_lang").set_value(lang).run()
    if page:
        at.switch_page(f"views/{page}.py").run()
    return at


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders(workspace, monkeypatch, page, lang):
    at = _app(workspace, monkeypatch, page, lang)
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    title = {"explorer": "nav_map", "rules": "nav_rules", "sites": "nav_sites", "scenarios": "nav_scenarios",
             "compare": "nav_compare", "data": "nav_data"}[page]
    assert at.title[0].value == t(title, lang)
    if page != "data":
        assert len(at.metric) >= 4


def test_language_switch_changes_every_label(workspace, monkeypatch):
    at = _app(workspace, monkeypatch)
    zh = [m.label for m in at.metric]
    at.radio(key="w_lang").set_value("en").run()
    en = [m.label for m in at.metric]
    assert zh[0] == "地块数" and en[0] == "Parcels"
    assert all(a != b for a, b in zip(zh, en, strict=True))


def test_i18n_table_complete():
    assert all(zh and en for zh, en in STRINGS.values())
    with pytest.raises(KeyError):
        t("no_such_key")


def test_explorer_counts_match_classification(workspace, monkeypatch):
    from planner import classify, policy

    at = _app(workspace, monkeypatch)
    c = classify.classify(GpkgStore(workspace).read_parcels(), policy.default_policy())
    assert _metric(at, "地块数") == "576"
    assert _metric(at, "三低地块") == f"{int(c['three_low'].sum()):,}"
    assert any("576" in c.value for c in at.caption)  # LOD caption: all 576 parcels in view at start


def test_threshold_change_changes_counts(workspace, monkeypatch):
    at = _app(workspace, monkeypatch, "rules")
    before = int(_metric(at, "三低地块").replace(",", ""))
    at.number_input(key="r_utilization_0_t").set_value(2.5).run()  # plot ratio < 2.5: most parcels low
    after = int(_metric(at, "三低地块").replace(",", ""))
    assert not at.exception
    assert after > before
    # the edited policy is the active one on the map page too
    at.switch_page("views/explorer.py").run()
    assert int(_metric(at, "三低地块").replace(",", "")) == after


def test_save_policy(workspace, monkeypatch):
    at = _app(workspace, monkeypatch, "rules")
    at.text_input(key="r_name").set_value("strict")
    at.number_input(key="r_utilization_0_t").set_value(1.2)
    at.button[-1].click().run()  # the form's submit button
    assert not at.exception
    doc = GpkgStore(workspace).load_doc("policy", "strict")
    assert doc["name"] == "strict"
    assert doc["criteria"]["utilization"]["rules"][0]["threshold"] == 1.2


def test_build_and_save_scenario(workspace, monkeypatch):
    at = _app(workspace, monkeypatch, "scenarios")
    at.text_input(key="sc_name").set_value("flow_test")
    at.number_input(key="sc_top").set_value(3)
    at.button[0].click().run()  # form submit: compute
    assert not at.exception
    new_floor = _metric(at, "新增产业空间（万㎡）")
    assert new_floor not in ("", "—")
    at.button(key="sc_save_btn").click().run()
    assert not at.exception
    assert "flow_test" in set(GpkgStore(workspace).docs("scenario")["name"])
    assert any("flow_test" in s.value for s in at.success)


def test_compare_two_scenarios(workspace, monkeypatch):
    at = _app(workspace, monkeypatch, "compare")
    assert not at.exception
    # two scenarios x 8 key figures
    assert len(at.metric) == 16
    labels = [m.label for m in at.metric]
    assert labels.count("新增产业空间（万㎡）") == 2
    # the second scenario shows its difference from the first
    assert at.metric[10].delta is not None


def test_missing_workspace_is_explained(tmp_path, monkeypatch):
    monkeypatch.setenv("PLANNER_WORKSPACE", str(tmp_path / "nope.gpkg"))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception
    assert any("nope.gpkg" in w.value for w in at.warning)


def test_planner_does_not_import_streamlit_outside_ui():
    root = Path(__file__).resolve().parents[1] / "planner"
    pat = re.compile(r"^\s*(import streamlit|from streamlit)", re.M)
    bad = [str(p) for p in root.rglob("*.py") if "ui" not in p.relative_to(root).parts[:1]
           and pat.search(p.read_text(encoding="utf-8"))]
    assert bad == []


def test_zoom_to_parcel_shows_its_details(workspace, monkeypatch):
    at = _app(workspace, monkeypatch)
    at.text_input(key="ex_goto").set_value("r3c4").run()
    assert not at.exception
    assert any(h.value == "地块 r3c4" for h in at.subheader)
    assert at.session_state["ex_map__focus"] is not None  # the map is asked to move there
    at.text_input(key="ex_goto").set_value("nope").run()
    assert any("nope" in w.value for w in at.warning)


def test_filters_limit_the_map(workspace, monkeypatch):
    at = _app(workspace, monkeypatch)
    at.multiselect(key="ex_f_lu").set_value(["warehouse"]).run()
    assert not at.exception
    cap = next(c.value for c in at.caption if "宗地块" in c.value)
    n_wh = int((GpkgStore(workspace).read_parcels()["land_use"] == "warehouse").sum())
    assert f"/ {n_wh:,} 宗地块" in cap
