"""The workflow layer: documents and their older shapes, one commit per result, provenance, stable site ids."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest
import shapely

from planner import workflow as W
from planner.classify import policy as pol
from planner.cli import main
from planner.errors import ConfigError
from planner.io.store import GpkgStore, LayerWrite
from planner.scenarios import Scenario, SiteSelection
from planner.sites import SiteParams
from tests.e2e._workspace import SIZE, X0, Y0, build_workspace, grid_parcels

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def ws(tmp_path) -> GpkgStore:
    return GpkgStore(build_workspace(tmp_path / "ws.gpkg"))


def _classified_and_built(store: GpkgStore) -> W.BuiltSites:
    W.classify_workspace(store, W.PolicyDoc.from_file(None))
    return W.build_workspace_sites(store)


# --------------------------------------------------------------------------- documents
def test_policy_doc_reads_the_cli_and_the_rules_page_shapes():
    p = pol.default_policy()
    cli_v1 = {"name": "default", "hash": pol.policy_hash(p), "policy": pol.policy_to_dict(p), "toml": "x = 1",
              "source_file": "policies/default.toml"}
    app_v0 = pol.policy_to_dict(p)  # the rules page saved the bare dict: pol["criteria"] at the top
    a, b = W.PolicyDoc.from_dict(cli_v1), W.PolicyDoc.from_dict(app_v0)
    assert a.policy == b.policy == p and a.toml == "x = 1"
    d = b.to_dict()
    assert d["schema_version"] == 2 and d["hash"] == pol.policy_hash(p) and d["policy"]["criteria"]
    assert W.PolicyDoc.from_dict(d) == W.PolicyDoc(p, d["toml"], None)
    with pytest.raises(ConfigError, match="newer"):
        W.PolicyDoc.from_dict({**d, "schema_version": 99})


def test_policy_sites_table_works_and_bad_keys_are_named(tmp_path):
    f = tmp_path / "p.toml"
    f.write_text((ROOT / "policies" / "default.toml").read_text(encoding="utf-8")
                 + '\n[sites]\ngap_m = 6.0\nmin_area_m2 = 5000\n[sites.weights]\narea = 0.5\n', encoding="utf-8")
    doc = W.PolicyDoc.from_file(f)
    assert doc.site_params().gap_m == 6.0 and doc.site_params().weights.area == 0.5
    assert pol.from_toml(pol.dumps(doc.policy)) == doc.policy
    # a policy without [sites] keeps the hash it always had (stored results stay fresh)
    assert "sites" not in pol.policy_to_dict(pol.default_policy())
    f.write_text('name = "x"\n[sites]\ngap = 3\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"p\.toml: sites: unknown key\(s\) \['gap'\]"):
        pol.load_policy(f)


def test_site_edits_doc_reads_the_app_edits_key():
    op = {"op": "remove", "site_id": "S0001", "parcel_ids": ["r0c0"]}
    old_app = {"edits": [op], "params": {"gap_m": 2.0, "min_area_m2": 10_000.0}, "use_barriers": True,
               "policy_name": "default"}
    doc = W.SiteEditsDoc.from_dict(old_app, name="default")
    assert doc.ops == (op,) and doc.params.gap_m == 2.0
    assert doc.to_dict()["ops"] == [op] and "edits" not in doc.to_dict()
    with pytest.raises(ConfigError, match=r"ops\[0\]"):
        W.SiteEditsDoc.from_dict({"ops": [{"op": "explode"}]})


def test_scenario_and_comparison_docs_round_trip():
    sc = Scenario(name="s", sites=SiteSelection(ids=("S0001",)), retain_classes=("retain", "upgrade"))
    doc = W.ScenarioDoc(sc, {"S0001": {"members": "ab", "n_parcels": 3}})
    assert W.ScenarioDoc.from_dict(doc.to_dict()) == doc
    assert W.ScenarioDoc.from_dict(sc.to_dict()).scenario == sc  # the bare scenario dict saved before
    c = W.ComparisonDoc("c", (("a", 1), ("b", None)))
    assert W.ComparisonDoc.from_dict(c.to_dict()) == c
    assert W.ComparisonDoc.from_dict({"name": "c", "scenarios": ["a@1", "b"]}) == c


# --------------------------------------------------------------------------- one result, one commit
def test_sites_and_parcel_table_share_a_result_id(ws):
    built = _classified_and_built(ws)
    s = ws.read_layer("sites", "default").attrs["meta"]
    p = ws.read_layer("site_parcels", "default").attrs["meta"]
    assert s["result_id"] == p["result_id"] == built.provenance.result_id
    assert s["survey_version"] == 1 and s["policy_hash"] == pol.policy_hash(pol.default_policy())
    assert s["site_params"]["gap_m"] == 2.0 and s["flags_version"] == 1
    stored = W.read_sites(ws)
    assert len(stored.sites) == len(built.result.sites) and stored.flags is not None


def test_mismatched_pieces_are_refused_with_a_clear_message(ws, capsys):
    _classified_and_built(ws)
    ps = ws.read_layer("site_parcels", "default")
    # a piece of another run written on its own (what a crash between two commits used to leave)
    ws.write_layers([LayerWrite("site_parcels", "default", ps, meta={**ps.attrs["meta"], "result_id": "other"})])
    with pytest.raises(W.ResultMismatchError, match="do not belong together") as exc:
        W.read_sites(ws)
    assert "site_parcels/default (result other)" in str(exc.value) and "rebuild" in str(exc.value)
    assert "不属于同一次计算" in exc.value.zh
    f = ws.path.parent / "s.toml"
    f.write_text('name = "x"\n', encoding="utf-8")
    assert main(["scenario", "run", str(f), "-w", str(ws.path)]) == 2
    assert "do not belong together" in capsys.readouterr().err


def test_stale_sites_say_why(ws):
    """Against what the workspace holds now: the survey, the saved rules and site settings of the policy."""
    _classified_and_built(ws)
    stored = W.read_sites(ws)
    assert W.operations.sites_staleness(ws, stored) == []
    ws.publish_survey(grid_parcels(24, seed=8))
    W.save_document(ws, W.PolicyDoc(pol.from_dict({**pol.policy_to_dict(pol.default_policy()), "min_criteria": 1})))
    W.save_document(ws, W.SiteParamsDoc(name="default", params=SiteParams(gap_m=9.0)))
    reasons = W.operations.sites_staleness(ws, W.read_sites(ws))
    assert [en.split(";")[0].split(" (")[0].split(":")[0] for en, _ in reasons] == [
        "built on survey v1", "built under policy 'default'",
        "built with other site settings than those saved for policy 'default'"]
    assert "gap_m 2 (saved: 9)" in reasons[2][0] and "gap_m 为 2（已保存：9）" in reasons[2][1]
    assert all("`planner classify -w " in en for en, _ in reasons[:2])


# --------------------------------------------------------------------------- stable site ids
def test_site_ids_survive_a_rebuild_and_a_new_survey(ws):
    first = _classified_and_built(ws).result
    members = first.parcel_sites.groupby("site_id")["parcel_id"].apply(frozenset)
    # a new survey: one parcel's land use changes so a site disappears and others stay
    g = ws.read_parcels()
    top = first.sites.sort_values("rank").iloc[0]
    drop = sorted(members[top["site_id"]])
    g.loc[g["parcel_id"].isin(drop), "land_use"] = "residential"  # out of scope: no longer flagged
    ws.publish_survey(g)
    W.classify_workspace(ws, W.PolicyDoc.from_file(None))
    second = W.build_workspace_sites(ws).result
    after = second.parcel_sites.groupby("site_id")["parcel_id"].apply(frozenset)
    same = [s for s in members.index if s in after.index and members[s] == after[s]]
    assert len(same) == len(members) - 1  # every site on the same land kept its id
    assert top["site_id"] not in set(second.sites["site_id"])  # the vanished site's id is not reused


def test_new_land_gets_a_new_id_above_all_issued():
    import geopandas as gpd
    import pandas as pd

    from planner.sites.ids import match_site_ids
    from planner.sites.params import SiteResult

    prev = gpd.GeoDataFrame({"site_id": ["S0001", "S0007"]},
                            geometry=[shapely.box(0, 0, 10, 10), shapely.box(50, 0, 60, 10)], crs="EPSG:4549")
    new = gpd.GeoDataFrame({"site_id": ["S0001", "S0002"]},
                           geometry=[shapely.box(100, 0, 110, 10), shapely.box(0, 0, 10, 9)], crs="EPSG:4549")
    res = SiteResult(new, pd.DataFrame({"parcel_id": ["a", "b"], "site_id": ["S0001", "S0002"], "role": "flagged"}),
                     pd.DataFrame(), SiteParams())
    out, table = match_site_ids(res, prev, high_water_mark=9)
    assert dict(zip(table["built_id"], table["site_id"], strict=True)) == {"S0001": "S0010", "S0002": "S0001"}
    assert out.parcel_sites.set_index("parcel_id")["site_id"].to_dict() == {"a": "S0010", "b": "S0001"}


def test_scenario_says_when_a_picked_site_changed_or_vanished(ws):
    built = _classified_and_built(ws)
    ok = built.result.sites.sort_values("rank")
    a, b = ok["site_id"].iloc[0], ok["site_id"].iloc[1]
    doc = W.scenario_doc(Scenario(name="two", sites=SiteSelection(ids=(a, b))), sites=built.result.sites,
                         parcel_sites=built.result.parcel_sites)
    W.save_document(ws, doc)
    assert W.run_stored_scenario(ws, W.load_document(ws, "scenario", "two")).warnings == []
    ps = built.result.parcel_sites
    pid = str(ps.loc[(ps["site_id"] == a) & (ps["role"] == "flagged"), "parcel_id"].iloc[0])
    gone = ps.loc[ps["site_id"] == b, "parcel_id"].astype(str).tolist()
    edits = W.SiteEditsDoc("default", ({"op": "remove", "site_id": a, "parcel_ids": [pid]},
                                       {"op": "remove", "site_id": b, "parcel_ids": gone}))
    W.build_workspace_sites(ws, edits=edits)
    run = W.run_stored_scenario(ws, W.load_document(ws, "scenario", "two"))
    text = " ".join(en for en, _ in run.warnings)
    assert f"site {a} changed" in text and f"site {b} picked by scenario 'two' no longer exists" in text
    assert run.result.sites["site_id"].tolist() == [a]


def test_saving_over_a_colleagues_version_is_refused(ws):
    doc = W.ScenarioDoc(Scenario(name="s"))
    assert W.save_document(ws, doc, expect_version=None) == 1
    with pytest.raises(W.SaveConflictError, match="would create version 2"):
        W.save_document(ws, doc, expect_version=None)
    assert W.save_document(ws, doc, expect_version=1) == 2
    with pytest.raises(W.SaveConflictError, match="saved as version 2 since you opened version 1"):
        W.save_document(ws, doc, expect_version=1)
    assert W.duplicate_scenario(ws, "s", "s2") == 1 and W.rename_scenario(ws, "s2", "s3") == 1
    assert W.document_names(ws, "scenario") == ["s", "s3"]
    W.delete_document(ws, "scenario", "s")
    assert W.document_names(ws, "scenario") == ["s3"]
    assert W.load_document(ws, "scenario", "s", 2).name == "s"  # history kept


def test_delete_and_rename_check_the_version_opened(store):
    """A colleague's version saved since the one opened is neither deleted nor renamed away unseen (both backends);
    a duplicate copies the version opened."""
    W.save_document(store, W.ScenarioDoc(Scenario(name="a", sites=SiteSelection(top=7))))
    W.save_document(store, W.ScenarioDoc(Scenario(name="a", sites=SiteSelection(top=9))), user="bob")
    with pytest.raises(W.SaveConflictError, match="since you opened version 1 .by bob"):
        W.delete_document(store, "scenario", "a", expect_version=1)
    with pytest.raises(W.SaveConflictError, match="since you opened version 1"):
        W.rename_scenario(store, "a", "c", expect_version=1)
    assert W.document_names(store, "scenario") == ["a"] and W.latest_version(store, "scenario", "a") == 2
    assert W.duplicate_scenario(store, "a", "old", version=1) == 1
    assert W.load_document(store, "scenario", "old").scenario.sites.top == 7
    assert W.rename_scenario(store, "a", "c", expect_version=2) == 1
    assert W.load_document(store, "scenario", "c").scenario.sites.top == 9
    W.delete_document(store, "scenario", "c", expect_version=1)
    assert W.document_names(store, "scenario") == ["old"]


def test_the_sensitivity_base_is_the_scenario_run_and_each_parameter_moves_alone(ws):
    built = _classified_and_built(ws)
    sites, ps = built.result.sites, built.result.parcel_sites
    doc = W.ScenarioDoc(Scenario(name="s", sites=SiteSelection(top=5)))
    run = W.run_scenario(doc, sites, ps, None)
    seen = []
    table = W.scenario_sensitivity(doc, sites, ps, None, progress=seen.append).set_index("parameter")
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) == 2 * len(table)  # progress after each run
    assert table["payback_years_base"].eq(run.result.totals["payback_years"]).all()
    jobs = table.loc["jobs_per_1000m2"]
    assert jobs["payback_years_high"] == jobs["payback_years_base"]  # jobs do not pay rent
    assert table.loc["rent_per_m2_month", "new_floor_m2_high"] == table.loc["rent_per_m2_month", "new_floor_m2_base"]
    plot = W.scenario_sensitivity(doc, sites, ps, None, params=("target_plot_ratio",)).iloc[0]
    assert np.isnan(plot["new_floor_m2_high"]) and plot["new_floor_m2_low"] < plot["new_floor_m2_base"]  # 3.0 > 2.7
    with pytest.raises(ValueError, match="swing"):
        W.scenario_sensitivity(doc, sites, ps, None, swing=1.5)


def test_role_without_the_right_cannot_write(ws, monkeypatch):
    monkeypatch.setenv("PLANNER_ROLE", "decision_maker")
    with pytest.raises(W.permissions.PermissionDenied, match="may not save a scenario; only Planner or Administrator may"):
        W.save_document(ws, W.ScenarioDoc(Scenario(name="s")))
    assert W.document_names(ws, "scenario") == []


# --------------------------------------------------------------------------- the faces hold no pipeline
#: Stage functions that compute or store results: only the workflow layer calls them.
PIPELINE = {"classify", "build_sites", "apply_edits", "add_parcels", "remove_parcels", "site_from_boundary",
            "parcel_rollup", "run", "compare", "publish", "ingest", "set_current", "save_doc", "write_layer",
            "write_layers", "publish_survey", "match_site_ids"}
STAGES = ("planner.classify", "planner.sites", "planner.scenarios", "planner.ingest")


def _pipeline_calls(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    stage_aliases, bad = {}, []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(STAGES):
            for a in node.names:
                if a.name in PIPELINE:
                    bad.append(f"from {node.module} import {a.name}")
                stage_aliases[a.asname or a.name] = node.module
        elif isinstance(node, ast.ImportFrom) and node.module == "planner":
            for a in node.names:
                if f"planner.{a.name}" in STAGES:
                    stage_aliases[a.asname or a.name] = f"planner.{a.name}"
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith(STAGES):
                    stage_aliases[a.asname or a.name] = a.name
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in PIPELINE:
            base = node.value
            if isinstance(base, ast.Name) and (base.id in stage_aliases or base.id in ("store", "st_", "ws")):
                bad.append(f"{base.id}.{node.attr}")
            elif isinstance(base, ast.Call) and node.attr in ("save_doc", "write_layer", "write_layers", "set_current"):
                bad.append(f"....{node.attr}")
    return bad


def test_cli_and_views_leave_the_pipeline_to_the_workflow_layer(tmp_path):
    files = sorted([*(ROOT / "planner" / "cli").glob("*.py"), *(ROOT / "views").glob("*.py"),
                    *(ROOT / "planner" / "ui").glob("*.py")])
    found = {str(p.relative_to(ROOT)): _pipeline_calls(p) for p in files}
    assert {k: v for k, v in found.items() if v} == {}
    # the faces that write do it through the workflow layer
    writers = ["planner/cli/classify.py", "planner/cli/sites.py", "planner/cli/scenario.py", "planner/cli/ingest.py",
               "views/rules.py", "views/sites.py", "views/scenarios.py", "views/compare.py", "views/data.py"]
    assert [w for w in writers if "planner.workflow" not in (ROOT / w).read_text(encoding="utf-8")
            and "planner import workflow" not in (ROOT / w).read_text(encoding="utf-8")] == []
    # and the check itself sees a stage call when there is one
    probe = tmp_path / "probe_pipeline.py"
    probe.write_text("from planner import sites as S\nS.build_sites(1)\nstore.save_doc('a', 'b', {})\n")
    assert _pipeline_calls(probe) == ["S.build_sites", "store.save_doc"]


def test_workflow_documents_json_is_plain(ws):
    doc = W.SiteParamsDoc("p", SiteParams(gap_m=4.0), use_barriers=False)
    assert json.loads(json.dumps(doc.to_dict())) == doc.to_dict()
    assert W.SiteParamsDoc.from_dict(doc.to_dict()) == doc
    assert X0 and Y0 and SIZE and np  # shared grid constants stay importable for the journeys


def test_scenario_rollup_uses_the_flags_the_sites_came_from(ws, tmp_path):
    built = _classified_and_built(ws)
    first_flags = built.provenance.flags_result_id
    # classify again under the same name with other rules: the sites still pair with the flags they came from
    f = tmp_path / "p.toml"
    f.write_text((ROOT / "policies" / "default.toml").read_text(encoding="utf-8").replace("threshold = 1.0",
                                                                                          "threshold = 1.7", 1),
                 encoding="utf-8")
    W.classify_workspace(ws, W.PolicyDoc.from_file(f))
    stored = W.read_sites(ws)
    assert W.Provenance.from_meta(stored.flags.attrs["meta"]).result_id == first_flags and stored.warnings == []
    # sites whose flags are gone from the workspace history: the rollup is left out, and said so
    meta = {k: v for k, v in ws.read_layer("sites", "default").attrs["meta"].items()
            if k not in ("flags_result_id", "flags_version")}
    s, p = ws.read_layer("sites", "default"), ws.read_layer("site_parcels", "default")
    ws.write_layers([LayerWrite("sites", "default", s, meta=meta), LayerWrite("site_parcels", "default", p, meta=meta)])
    stored = W.read_sites(ws)
    assert stored.flags is None and "do not belong to these sites" in stored.warnings[0][0]


def test_one_label_table_for_app_and_reports():
    import planner.i18n as i18n
    from planner.report import text

    assert text.LABELS is i18n.LABELS and not hasattr(i18n, "COLUMNS")
    for key in ("site_id", "new_floor_m2", "payback_years", "investment_cny"):
        assert text.label(key, "zh") == i18n.label(key, "zh")
    assert i18n.column_label("new_floor_m2", "zh") == text.label("new_floor_m2", "zh") == "新建建筑面积（万㎡）"
    assert i18n.column_label("investment_cny", "en") == "Investment (million yuan)"  # one unit system (issue 13)


def test_a_scenario_run_before_any_sites_says_what_to_run_in_plain_words(tmp_path, capsys):
    """`planner scenario run` on a workspace without stored sites said "workspace has no any sites layer"."""
    store = GpkgStore(tmp_path / "ws.gpkg", crs="EPSG:4549", create=True)
    store.publish_survey(grid_parcels(4), label="grid", user="test")
    assert main(["scenario", "run", str(Path(__file__).resolve().parents[1] / "scenarios" / "conservative_top10.toml"),
                 "-w", str(store.path)]) == 2
    err = capsys.readouterr().err
    assert "has no sites layer yet" in err and "no any" not in err, err
