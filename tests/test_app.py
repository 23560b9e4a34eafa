"""The Streamlit app through streamlit.testing (AppTest): every page, both languages, main flows."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from planner.i18n import STRINGS, t
from planner.io.store import GpkgStore
from tests._text import detail_cells, rendered, table_cells
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


def _button(at: AppTest, label: str):
    """The (form submit) button with this label."""
    return next(b for b in at.button if b.label == label)


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


#: Raw field names and coded values that must never be shown in the Chinese UI.
RAW = {"site_id", "land_area_mu", "land_area_m2", "n_parcels", "plot_ratio", "flagged_share", "score", "rank",
       "potential_floor_area_m2", "n_owners", "upgrade_class", "three_low", "low_utilization", "existing_floor_m2",
       "new_floor_m2", "investment_cny", "payback_years", "delivery", "template", "version", "created_at", "n_rows",
       "is_current", "kind", "action", "low", "ok", "unknown", "n/a", "True", "False", "industrial", "warehouse",
       "residential", "in_use", "retain", "upgrade", "redevelop", "demolish", "standard_factory", "multi_storey",
       "publish_survey", "write_barrier", "survey", "barrier", "constraint", "parameter", "target_plot_ratio",
       "status", "metric"}
CJK = re.compile(r"[\u4e00-\u9fff]")


def _shown(at: AppTest) -> tuple[list[str], list[str]]:
    """(labels, cells): every label, heading, text and table header on the page; the text cells of its tables."""
    labels, cells = [], []
    for kind in ("markdown", "caption", "subheader", "title", "info", "warning", "success", "error", "tabs"):
        labels += [getattr(e, "value", None) or e.label for e in getattr(at, kind)]
    labels += [m.label for m in at.metric]
    for m in at.markdown:  # the parcel detail tables: items are labels, values are cells
        if str(m.value).startswith("| "):
            rows = table_cells(m.value)
            labels += [r[0] for r in rows]
            cells += [r[-1] for r in rows]
    for group in (at.selectbox, at.multiselect, at.radio, at.number_input, at.text_input, at.slider, at.toggle,
                  at.button):
        for w in group:
            labels.append(w.label)
            cells += [str(o) for o in (getattr(w, "options", None) or [])]
    for d in at.dataframe:
        cfg = json.loads(d.proto.columns or "{}")
        df = d.value
        for c in df.columns:
            labels.append((cfg.get(str(c)) or {}).get("label") or str(c))
            if not pd.api.types.is_numeric_dtype(df[c]):
                cells += [str(v) for v in df[c].dropna().unique()]
    return labels, cells


def _check_language(at: AppTest, lang: str) -> None:
    labels, cells = _shown(at)
    if lang == "zh":
        raw = sorted({x for x in labels + cells if x.strip() in RAW})
        assert raw == [], f"raw names or codes in the Chinese UI: {raw}"
    else:  # English UI: no Chinese except the workspace's own data (owner names) and the language picker
        zh = sorted({x for x in labels if CJK.search(x) and "简体中文" not in x and "语言" not in x})
        zh += sorted({x for x in cells if CJK.search(x) and not x.startswith("企业") and x != "简体中文"})
        assert zh == [], f"Chinese text in the English UI: {zh}"


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
    _check_language(at, lang)


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
    from planner import classify
    from planner.classify import policy

    at = _app(workspace, monkeypatch)
    c = classify.classify(GpkgStore(workspace).read_parcels(), policy.default_policy())
    assert _metric(at, "地块数") == "576"
    assert _metric(at, "三低地块") == f"{int(c['three_low'].sum()):,}"
    assert any("576" in c.value for c in at.caption)  # LOD caption: all 576 parcels in view at start
    # land in hectares as a fifth of a 1280 px page can show it: a decimal only below 1,000 ha ("18,06…" before)
    from planner.ui.explore import hectares

    land = GpkgStore(workspace).read_parcels()["land_area_m2"].sum()
    assert _metric(at, "用地面积（公顷）") == hectares(land)
    assert (hectares(180_686_000.0), hectares(5_000.0), hectares(9_990_000.0)) == ("18,069", "0.5", "999.0")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_rule_sources_read_in_the_pages_language(workspace, monkeypatch, lang):
    """The rules' source notes were English (or half English) on the Chinese page ("S/P: 2008 control indicators
    building coverage >= 30% ..."): they come from the policy file, which keeps one text."""
    at = _app(workspace, monkeypatch, "rules", lang=lang)
    helps = {n.key: n.help for n in at.number_input if n.key.startswith("r_")}
    if lang == "zh":
        assert helps["r_utilization_0_t"] == "S：《工业项目建设用地控制指标》（2008），容积率 ≥ 1.0"
        assert "建筑系数 ≥ 30%" in helps["r_utilization_1_t"]
    else:
        assert helps["r_utilization_0_t"] == "S: 工业项目建设用地控制指标 (2008) plot ratio >= 1.0"


def test_every_shipped_rule_source_has_its_chinese():
    import tomllib

    from planner.i18n import POLICY_SOURCES_ZH

    def sources(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "source" and isinstance(v, str):
                    yield v
                else:
                    yield from sources(v)
        elif isinstance(node, list):
            for v in node:
                yield from sources(v)

    root = Path(__file__).resolve().parents[1]
    files = [*root.glob("policies/*.toml"), *root.glob("planner/defaults/policy_*.toml")]
    found = {s for f in files for s in sources(tomllib.loads(f.read_text(encoding="utf-8")))}
    assert len(files) >= 4 and found and not found - set(POLICY_SOURCES_ZH), found - set(POLICY_SOURCES_ZH)


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


def test_the_rules_page_counts_each_criterion_as_the_classification_says(workspace, monkeypatch):
    """The per-criterion table (low / ok / unknown parcels and low land) compares the flags as stored (categorical),
    not as text made for 1M rows on every page run: the same counts."""
    from planner.ui import data

    at = _app(workspace, monkeypatch, "rules")
    assert not at.exception
    table = at.dataframe[0].value
    g = data.classified(str(workspace), data.default_policy_dict())
    land = pd.to_numeric(g["land_area_m2"], errors="coerce").fillna(0.0)
    for crit, row in zip(("utilization", "capacity", "contribution"), table.itertuples(index=False), strict=True):
        flag = g[f"low_{crit}"].astype(str)
        assert list(row)[1:] == [int((flag == "low").sum()), int((flag == "ok").sum()), int((flag == "unknown").sum()),
                                 round(land[flag == "low"].sum() / 1e4, 1)], crit
    assert table.iloc[:, 1:4].to_numpy().sum() > 0


def test_save_policy(workspace, monkeypatch):
    at = _app(workspace, monkeypatch, "rules")
    at.text_input(key="r_name").set_value("strict")
    at.number_input(key="r_utilization_0_t").set_value(1.2)
    at.button(key="rules_save").click().run()
    assert not at.exception
    doc = GpkgStore(workspace).load_doc("policy", "strict")
    assert doc["name"] == "strict" and doc["schema_version"] == 2
    assert doc["policy"]["criteria"]["utilization"]["rules"][0]["threshold"] == 1.2


def test_build_and_save_scenario(workspace, monkeypatch):
    at = _app(workspace, monkeypatch, "scenarios")
    at.text_input(key="sc_name").set_value("flow_test")
    at.number_input(key="sc_top").set_value(3)
    _button(at, "计算").click().run()  # form submit: compute
    assert not at.exception
    new_floor = _metric(at, "新增产业空间（万㎡）")
    assert new_floor not in ("", "—")
    at.button(key="sc_save_btn").click().run()
    assert not at.exception
    assert "flow_test" in set(GpkgStore(workspace).docs("scenario")["name"])
    assert any("flow_test" in rendered(s.value) for s in at.success)
    assert at.selectbox(key="sc_open_pick").value == "flow_test"  # the saved scenario is the one shown as open
    at.button(key="sc_new_btn").click().run()
    assert at.selectbox(key="sc_open_pick").value is None


def test_compare_two_scenarios(workspace, monkeypatch):
    at = _app(workspace, monkeypatch, "compare")
    assert not at.exception
    # two scenarios x 6 headline figures (issue 13: read in a minute)
    assert len(at.metric) == 12
    labels = [m.label for m in at.metric]
    assert labels.count("新增产业空间（万㎡）") == 2
    assert labels[:6] == ["新增产业空间（万㎡）", "可容纳企业数", "改造后年税收（亿元/年）", "总投资（亿元）",
                          "仅计租金回收期（年）", "租金+税收回收期（年）"]
    # the second scenario shows its difference from the first
    assert at.metric[6].delta and not at.metric[0].delta
    # the side-by-side table is open (not in an expander) and labelled
    assert any("新增产业空间（万㎡）" in d.value.iloc[:, 0].tolist() for d in at.dataframe)
    assert not any(e.label == "关键指标" for e in at.expander)


def test_missing_workspace_is_explained(tmp_path, monkeypatch):
    monkeypatch.setenv("PLANNER_WORKSPACE", str(tmp_path / "nope.gpkg"))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception
    assert any("nope.gpkg" in rendered(w.value) for w in at.warning)


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
    # the detail tables speak Chinese: translated flags and classes, formatted numbers
    detail = detail_cells(at)
    assert detail & {"偏低", "正常", "未知", "不适用"} and detail & {"是", "否"}
    assert "3,600" in detail  # land area of a 60 m grid parcel, with a thousands separator
    _check_language(at, "zh")
    assert at.session_state["ex_map__focus"] is not None  # the map is asked to move there
    at.text_input(key="ex_goto").set_value("nope").run()
    assert any("nope" in w.value for w in at.warning)


def test_a_map_sent_to_a_place_tells_its_layers_where_so_they_wait_for_the_move(workspace, monkeypatch):
    """A search moves the map (streamlit-folium, after it re-made the layers): the layers get the place and draw once
    the map is there, not the view it leaves (the browser side is tested in Chromium: the site-row test)."""
    import json

    from planner.ui import mapview, tiles

    monkeypatch.setattr(tiles, "ENABLED", True)  # as under serve.py (the tile route mounted)
    seen, real = [], mapview._tiled
    monkeypatch.setattr(mapview, "_tiled", lambda layer, gcj, lang_, goto=None: (seen.append(goto),
                                                                                  real(layer, gcj, lang_, goto))[1])
    at = _app(workspace, monkeypatch)
    assert seen and set(seen) == {None}  # nowhere to go yet
    seen.clear()
    at.text_input(key="ex_goto").set_value("r3c4").run()
    gotos = set(seen)
    assert len(gotos) == 1 and None not in gotos
    goto = gotos.pop()
    assert goto[2] >= 15 and goto[3].startswith("ex_map:")
    seen.clear()
    at.run()  # a later run: the same request, so the layers are not re-made for it
    assert set(seen) == {goto}
    fg = tiles.feature_group("地块", "tok", id_col="parcel_id", tooltip={}, goto=goto)
    assert json.loads(next(iter(fg._children.values())).cfg_json)["goto"] == list(goto)
    assert "atView(map, g)" in tiles._JS and "self.gone = true" in tiles._JS


def test_a_sessions_first_map_makes_its_home_view_tiles_ahead_once(workspace, monkeypatch):
    """A new tab's first map starts at the home view: its tiles are made while the browser starts Leaflet (1M: the
    first view's tiles 1.1 s -> 0.5 s after the page run). Later runs and maps of the session start elsewhere (the
    tab keeps its last view): nothing is made ahead for them."""
    from planner import maps
    from planner.ui import tiles

    monkeypatch.setattr(tiles, "ENABLED", True)  # as under serve.py (the tile route mounted)
    asked = []
    monkeypatch.setattr(tiles, "prefetch", lambda token, center, zoom, **view: asked.append((token, center, zoom, view)))
    at = _app(workspace, monkeypatch)
    assert not at.exception and asked
    home = GpkgStore(workspace).read_parcels().to_crs("EPSG:4326").total_bounds
    (_, center, zoom, view), n = asked[0], len(asked)
    assert abs(center[0] - (home[1] + home[3]) / 2) < 1e-3 and abs(center[1] - (home[0] + home[2]) / 2) < 1e-3
    assert zoom == maps.zoom_for_bounds(tuple(home), 900, view["height_px"]) and len({a[0] for a in asked}) == n
    at.run()
    at.switch_page("views/sites.py").run()
    assert not at.exception and len(asked) == n  # once per session


def test_a_parcels_details_list_the_reasons_the_cli_writes(workspace, monkeypatch):
    """The app's classification holds no reasons (81 MB at 1M parcels): the shown parcel's are made for it."""
    from planner import workflow as W

    cli = W.operations.classify_parcels(GpkgStore(workspace).read_parcels(), W.PolicyDoc.from_file(None))
    flagged = cli[cli["three_low"] & cli["reason_zh"].str.contains("; ")]
    pid, want = str(flagged["parcel_id"].iloc[0]), str(flagged["reason_zh"].iloc[0])
    at = _app(workspace, monkeypatch)
    at.text_input(key="ex_goto").set_value(pid).run()
    assert not at.exception
    bullets = next(m.value for m in at.markdown if m.value.startswith("- ")).split("\n")
    assert [b[2:].split(" ")[0] for b in bullets] == [r.split(" ")[0] for r in want.split("; ")]


def test_filters_limit_the_map(workspace, monkeypatch):
    at = _app(workspace, monkeypatch)
    at.multiselect(key="ex_f_lu").set_value(["warehouse"]).run()
    assert not at.exception
    cap = next(c.value for c in at.caption if "宗地块" in c.value)
    n_wh = int((GpkgStore(workspace).read_parcels()["land_use"] == "warehouse").sum())
    assert f"/ {n_wh:,} 宗地块" in cap


def test_saved_site_edits_reload(tmp_path, monkeypatch):
    from planner import classify, sites
    from planner.classify import policy

    ws = build_workspace(tmp_path / "edits.gpkg")
    store = GpkgStore(ws)
    params = {"gap_m": 2.0, "min_area_m2": 10_000.0, "absorb_enclaves": True, "enclave_max_area_m2": 3_333.0}
    flagged = classify.classify(store.read_parcels(), policy.default_policy())
    base = sites.build_sites(flagged, sites.SiteParams(**params), barriers=store.read_all_layers("barrier"),
                             constraints=store.read_all_layers("constraint"))
    top = base.sites[base.sites["rank"] == 1].iloc[0]
    members = base.parcel_sites[base.parcel_sites["site_id"] == top["site_id"]]
    pid = str(members.loc[members["role"] == "flagged", "parcel_id"].iloc[0])
    edit = {"op": "remove", "site_id": top["site_id"], "parcel_ids": [pid]}
    # the shape the app saved before the workflow layer ("edits"; the CLI replays "ops"): still opens
    store.save_doc("site_edit", "default", {"edits": [edit], "params": params, "use_barriers": True})
    at = _app(ws, monkeypatch, "sites")
    assert not at.exception and not at.error
    assert at.session_state["site_edits"] == [edit]
    assert any("v1" in s.value for s in at.success)  # "loaded saved site edits v1 (1)"
    res = at.session_state["site_result"]
    after = res.sites.set_index("site_id").loc[top["site_id"], "n_parcels"]
    assert after == top["n_parcels"] - 1
    # other settings: the edits are offered, not replayed
    at.number_input(key="s_gap").set_value(5.0)
    _button(at, "计算").click().run()  # the settings form's submit button
    assert at.session_state["site_edits"] == []
    at.button(key="s_load_edits").click().run()
    assert at.session_state["site_edits"] == [edit]


def test_ingest_problems_read_in_the_ui_language(tmp_path):
    from planner.ingest import read_survey
    from planner.ui.tables import localize, problems_frame
    from tests.e2e._workspace import grid_parcels

    g = grid_parcels(6, seed=3)
    g.loc[1, "floor_area_m2"] = -5.0
    g.loc[2, "parcel_id"] = g.loc[3, "parcel_id"]
    src = tmp_path / "s.gpkg"
    g.to_file(src, driver="GPKG")
    _, rep = read_survey(src, mapping={"checks": {"max_rejected_share": 1.0}})
    zh = localize(problems_frame(rep.problems, "zh"), "zh")
    en = localize(problems_frame(rep.problems, "en"), "en")
    assert "message_zh" not in zh.columns and len(zh) == len(en) == len(rep.problems) >= 3
    assert set(zh["code"]) >= {"负值", "编号重复"} and set(en["code"]) >= {"Negative value", "Duplicate id"}
    assert "建筑面积（㎡）为负值" in set(zh["message"]) and "negative floor_area_m2" in set(en["message"])
    assert set(zh["action"]) <= {"已拒绝", "存疑", "已修复", "已置空"} and "建筑面积（㎡）" in set(zh["field"])
    assert "已置空" in set(zh["action"])  # the negative floor area: the field nulled, the parcel kept
    assert problems_frame([], "zh").empty


@pytest.mark.parametrize("page", ["rules", "scenarios", "compare"])
def test_every_chart_uses_the_cjk_font_stack(workspace, monkeypatch, page):
    """Chart text is Chinese in the Chinese UI: every chart names a CJK-capable font for axes and legends."""
    from planner.ui.results import CHART_FONT

    at = _app(workspace, monkeypatch, page)
    if page == "scenarios":
        _button(at, "计算").click().run()
    charts = [json.loads(e.proto.spec) for e in at.get("vega_lite_chart")]
    assert charts, f"the {page} page draws a chart"
    for spec in charts:
        cfg = spec.get("config", {})
        assert cfg.get("font") == CHART_FONT and cfg["axis"]["titleFont"] == CHART_FONT, (page, cfg)
        assert "Noto Sans CJK SC" in CHART_FONT


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_yearly_curves_name_their_figure_across_the_top(workspace, monkeypatch, lang):
    """The comparison's yearly curves had the figure and its unit up the y axis, where Vega cuts a title to the
    plot's height: "Cumulative investment (million y" (a phone, and a desktop too). It now reads across the top."""
    at = _app(workspace, monkeypatch, "compare", lang)
    assert not at.exception, [e.message for e in at.exception]
    picked = at.selectbox(key="cmp_metric")
    lines = [c for c in (json.loads(e.proto.spec) for e in at.get("vega_lite_chart"))
             if "line" in json.dumps(c.get("mark", ""))]
    assert len(lines) == 1, lines
    spec = lines[0]
    assert spec["encoding"]["y"].get("title") is None, spec["encoding"]["y"]
    title = spec["title"]["text"] if isinstance(spec["title"], dict) else spec["title"]
    assert title in picked.options, (title, picked.options)  # a figure of the list above it, by its label
    assert ("（" if lang == "zh" else "(") in title, title  # with its unit


def test_server_does_not_collect_garbage_after_every_run():
    """``make run`` starts Streamlit with ./.streamlit/config.toml: no full GC walk of the shared caches per click."""
    import tomllib

    from streamlit import config

    root = Path(__file__).resolve().parents[1]
    cfg = tomllib.loads((root / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert cfg["runner"]["postScriptGC"] is False
    assert "runner.postScriptGC" in config._config_options_template  # still an option of this Streamlit


@pytest.mark.parametrize("tiled", [False, True])
def test_map_parts_are_fragments_only_when_the_map_is_tiled(workspace, monkeypatch, tiled):
    """The untiled map (``streamlit run app.py``) reports its first view by itself, often after a page link was
    clicked: in a fragment, Streamlit then reruns a fragment the new page lacks, and the new page now and then stayed
    blank (seen in Chromium: 1 of 10 opens of the data page with the map's first report held back until the link was
    clicked). Outside a fragment such a report reruns the page shown. The tiled map (``make run``) reports clicks
    only, and its part of the page stays a fragment: a click reruns that part alone."""
    import streamlit as st

    from planner.ui import tiles

    made = []
    real = st.fragment

    def fragment(fn=None, **kw):
        made.append(getattr(fn, "__name__", None))
        return real(fn, **kw)

    monkeypatch.setattr(st, "fragment", fragment)
    monkeypatch.setattr(tiles, "ENABLED", tiled)
    for page, part in (("explorer", "explorer"), ("sites", "site_workspace")):
        made.clear()
        at = _app(workspace, monkeypatch, page)
        assert not at.exception
        assert (part in made) if tiled else made == []


def test_a_column_of_missing_numbers_shows_dashes_without_a_pandas_warning():
    """An all-missing number column (a field no parcel filled) shows "—", and pandas is not asked to put text into
    a float column (a FutureWarning now, an error in pandas 4)."""
    import warnings

    from planner.ui.tables import format_series

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = format_series("floor_area_m2", pd.Series([None, None], dtype="float64"), "zh")
    assert list(out) == ["—", "—"] and out.dtype == object


def test_fractional_difficulty_points_read_the_same_in_the_app_the_reports_and_the_workbook(tmp_path):
    """Difficulty weighted 1.5 per owner gives 2.5 points: the app's table showed "2" (a count's "%,d"), the reports
    and the workbook rounded; all three now show one decimal where points have a fraction, whole points stay whole.
    Estimates counted in whole things keep whole numbers wherever shown: enterprises housed read "3,002.8" on the
    comparison's cards once the decimal reached every count."""
    import json

    from openpyxl import load_workbook
    from streamlit.testing.v1 import AppTest

    from planner.report.excel import table_to_excel
    from planner.report.text import fmt

    def page():
        import pandas as pd

        from planner.ui import tables
        tables.show(pd.DataFrame({"site_id": ["S1", "S2"], "difficulty": [2.5, 3.0], "n_owners": [1.0, 2.0],
                                  "enterprises_housed": [12.4, 3.0], "jobs_new": [1234.6, 8.2]}))

    at = AppTest.from_function(page).run(timeout=60)
    assert not at.exception
    cols = json.loads(at.dataframe[0].proto.columns)
    assert at.dataframe[0].proto.placeholder == "—"  # a missing number: a dash, not "None"
    assert cols["difficulty"]["type_config"]["format"] == "%,.1f"
    assert cols["n_owners"]["type_config"]["format"] == "%,d"
    assert cols["enterprises_housed"]["type_config"]["format"] == "%,d" == cols["jobs_new"]["type_config"]["format"]
    assert [fmt(v, "difficulty", "en") for v in (2.5, 3.0, 1234.0)] == ["2.5", "3", "1,234"]
    assert [fmt(3002.8, "enterprises_housed", lg) for lg in ("zh", "en")] == ["3,003", "3,003"]
    assert fmt(1234.4, "jobs_new", "en") == "1,234"
    df = pd.DataFrame({"difficulty": [2.5, 3.0], "n_owners": [1.0, 2.0], "enterprises_housed": [12.4, 3.0]})
    ws = load_workbook(table_to_excel(df, tmp_path / "t.xlsx", lang="en")).active
    assert ws.cell(2, 1).number_format == "#,##0.0" and ws.cell(2, 2).number_format == "#,##0"
    assert ws.cell(2, 3).number_format == "#,##0"
