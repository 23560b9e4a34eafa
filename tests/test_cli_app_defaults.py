"""The command line and the app start from the same saved documents.

A planner edits the rules and the site settings in the app; a colleague then
runs ``planner classify`` and ``planner sites`` with their defaults (a
nightly job, say). Both commands must use what the office saved, as the app
does, and never put the shipped defaults back on top of the planner's edits.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from planner import workflow as W
from planner.classify import policy as pol
from planner.cli import main
from planner.io.store import GpkgStore
from planner.sites import SiteParams
from tests.e2e._workspace import build_workspace

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def store(tmp_path) -> GpkgStore:
    return GpkgStore(build_workspace(tmp_path / "ws.gpkg"))


def _planner_edits_the_rules(store: GpkgStore) -> W.PolicyDoc:
    """What the rules page's save does: the edited policy as the next version of policy/default."""
    edited = dataclasses.replace(pol.default_policy(), min_criteria=1, description="edited on the rules page")
    doc = W.PolicyDoc(edited)
    assert doc.hash != W.PolicyDoc.from_file(None).hash
    W.save_document(store, doc, expect_version=None, user="alice")
    return doc


def _flags_policy_hash(store: GpkgStore) -> str:
    meta = store.read_layer("flags", "default", columns=["parcel_id"], geometry=False).attrs["meta"]
    return W.Provenance.from_meta(meta).policy_hash


def test_classify_by_default_uses_the_rules_saved_in_the_app_and_keeps_them(store, capsys):
    edited = _planner_edits_the_rules(store)
    assert main(["classify", "-w", str(store.path)]) == 0
    assert _flags_policy_hash(store) == edited.hash  # the planner's rules, not policies/default.toml
    assert W.latest_version(store, "policy", "default") == 1  # and no shipped copy saved on top of them
    assert W.load_document(store, "policy", "default").hash == edited.hash
    err = capsys.readouterr().err
    assert "saved in the workspace as policy/default version 1 by alice" in err
    assert "the same rules, not saved again" in err


def test_a_named_file_is_that_file_and_saving_it_says_so(store, capsys):
    edited = _planner_edits_the_rules(store)
    shipped = W.PolicyDoc.from_file(None)
    assert main(["classify", "-w", str(store.path), "-p", str(ROOT / "policies" / "default.toml")]) == 0
    assert _flags_policy_hash(store) == shipped.hash != edited.hash
    assert W.latest_version(store, "policy", "default") == 2
    assert "and policy/default version 2 in one commit" in capsys.readouterr().err
    # NAME@VERSION opens an earlier saved version by name
    assert main(["classify", "-w", str(store.path), "-p", "default@1"]) == 0
    assert _flags_policy_hash(store) == edited.hash
    capsys.readouterr()
    assert main(["classify", "-w", str(store.path), "-p", "mine"]) == 2  # neither saved nor a file: says both
    assert "no policy of that name is saved in the workspace (saved: default)" in capsys.readouterr().err


def test_classify_twice_saves_the_rules_once(store):
    for _ in range(2):
        assert main(["classify", "-w", str(store.path)]) == 0
    assert W.latest_version(store, "policy", "default") == 1
    assert store.docs("policy")["version"].tolist() == [1]


def test_sites_by_default_use_the_site_settings_saved_in_the_app(store):
    assert main(["classify", "-w", str(store.path)]) == 0
    saved = W.SiteParamsDoc(name="default", params=SiteParams(gap_m=7.5, min_area_m2=1234.0))
    W.save_document(store, saved, expect_version=None, user="alice")  # what the sites page's save does
    assert main(["sites", "-w", str(store.path)]) == 0
    prov = W.Provenance.from_meta(store.read_layer("sites", "default", geometry=False).attrs["meta"])
    assert prov.site_params["gap_m"] == 7.5 and prov.site_params["min_area_m2"] == 1234.0
    # an explicit flag still wins over the saved settings
    assert main(["sites", "-w", str(store.path), "--gap", "3"]) == 0
    prov = W.Provenance.from_meta(store.read_layer("sites", "default", geometry=False).attrs["meta"])
    assert prov.site_params["gap_m"] == 3.0 and prov.site_params["min_area_m2"] == 1234.0


def test_policy_show_shows_the_saved_rules_of_a_workspace(store, capsys, monkeypatch):
    _planner_edits_the_rules(store)
    assert main(["policy", "show", "-w", str(store.path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# saved in the workspace as policy/default version 1 by alice")
    assert "edited on the rules page" in out and "at least 1 of 3" in out
    monkeypatch.delenv("PLANNER_WORKSPACE", raising=False)
    assert main(["policy", "show"]) == 0  # no workspace: the shipped policy
    out = capsys.readouterr().out
    assert "policies/default.toml" in out.splitlines()[0] and "at least 2 of 3" in out


def test_running_a_scenario_file_again_saves_nothing_new_and_replacing_an_app_edit_says_so(store, capsys):
    from planner.scenarios import load_scenario, replace

    assert main(["classify", "-w", str(store.path)]) == 0
    assert main(["sites", "-w", str(store.path)]) == 0
    f = str(ROOT / "scenarios" / "conservative_top10.toml")
    for _ in range(2):
        assert main(["scenario", "run", f, "-w", str(store.path)]) == 0
    assert store.docs("scenario")["version"].tolist() == [1]
    assert "version 1 in ws.gpkg is this scenario: not saved again" in capsys.readouterr().out
    # a planner changes the scenario in the app; the file run again puts the file's back, and says what it replaced
    sc = replace(load_scenario(Path(f)), start_year=2030)
    W.save_document(store, W.ScenarioDoc(sc), expect_version=1, user="alice")
    assert main(["scenario", "run", f, "-w", str(store.path)]) == 0
    out = capsys.readouterr().out
    assert "saved as scenario/conservative_top10 version 3" in out
    assert "version 2 (by alice on " in out and "open it as conservative_top10@2" in out
    assert W.load_document(store, "scenario", "conservative_top10", 2).scenario.start_year == 2030


def test_sites_replay_the_edits_saved_in_the_app_when_made_with_the_same_settings(store, capsys):
    assert main(["classify", "-w", str(store.path)]) == 0
    assert main(["sites", "-w", str(store.path)]) == 0
    members = store.read_layer("site_parcels", "default", geometry=False)
    flagged = members[members["role"] == "flagged"]
    site = flagged["site_id"].value_counts().idxmax()  # a site of several parcels
    gone = str(flagged.loc[flagged["site_id"] == site, "parcel_id"].iloc[0])
    params = W.operations.resolve_site_params(store, "default")
    edits = W.SiteEditsDoc("default", ({"op": "remove", "site_id": site, "parcel_ids": [gone]},),
                           policy_name="default", params=params.params, use_barriers=params.use_barriers)
    W.save_document(store, edits, expect_version=None, user="alice")  # what the sites page's save keeps
    capsys.readouterr()

    def stored():
        meta = store.read_layer("sites", "default", geometry=False).attrs["meta"]
        m = store.read_layer("site_parcels", "default", geometry=False)
        return W.Provenance.from_meta(meta).edits, set(m.loc[m["site_id"] == site, "parcel_id"].astype(str))

    assert main(["sites", "-w", str(store.path)]) == 0
    assert "replaying the 1 site edits saved as site_edit/default@1 (by alice on " in capsys.readouterr().out
    ref, parcels = stored()
    assert ref == "default@1" and gone not in parcels  # the planner's edit is in the stored sites
    assert main(["sites", "-w", str(store.path), "--no-edits"]) == 0
    ref, parcels = stored()
    assert not ref and gone in parcels
    # edits made on other settings are not replayed on a different build, and the command says so
    assert main(["sites", "-w", str(store.path), "--gap", "1"]) == 0
    assert "were made on sites built with other site settings" in capsys.readouterr().err
    assert not stored()[0]


def test_compare_prints_without_out_and_a_failed_report_leaves_the_previous_one_whole(store, tmp_path, capsys,
                                                                                     monkeypatch):
    import planner.report as report

    assert main(["classify", "-w", str(store.path)]) == 0
    assert main(["sites", "-w", str(store.path)]) == 0
    a, b = (str(ROOT / "scenarios" / f) for f in ("conservative_top10.toml", "upstairs_all.toml"))
    capsys.readouterr()
    assert main(["scenario", "compare", a, b, "-w", str(store.path)]) == 0  # a look at the terminal, no file
    assert "upstairs_all" in capsys.readouterr().out and not list(tmp_path.glob("*.xlsx"))
    out = tmp_path / "c.xlsx"
    assert main(["scenario", "compare", a, b, "-w", str(store.path), "--out", str(out)]) == 0
    before = out.read_bytes()

    def dies_half_way(cmp, path, **kw):
        Path(path).write_bytes(b"PK\x03\x04 half a workbook")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report, "compare_to_excel", dies_half_way)
    assert main(["scenario", "compare", a, b, "-w", str(store.path), "--out", str(out)]) != 0
    assert "No space left on device" in capsys.readouterr().err
    assert out.read_bytes() == before and [p.name for p in tmp_path.glob("c*")] == ["c.xlsx"]


@pytest.mark.parametrize("command", [["ingest", str(ROOT / "gis_data" / "survey_update.zip")],
                                     ["enterprise", "ingest", str(ROOT / "gis_data" / "enterprises_2024.xlsx"),
                                      "--link", str(ROOT / "gis_data" / "enterprise_parcels_2024.csv")]])
def test_a_report_it_could_not_write_is_refused_before_anything_is_published(command, tmp_path, capsys):
    ws = tmp_path / "ws.gpkg"
    ws.write_bytes((ROOT / "gis_data" / "sample_city.gpkg").read_bytes())
    store = GpkgStore(ws)
    before = len(store.audit_log())
    (tmp_path / "d.csv").mkdir()
    for bad, says in ((tmp_path / "missing" / "r.csv", "does not exist"), (tmp_path / "d.csv", "is a folder"),
                      (ws, "unknown extension")):
        assert main([*command, "-w", str(ws), "--report", str(bad)]) == 2
        assert says in capsys.readouterr().err
    assert len(store.audit_log()) == before and not (tmp_path / "missing").exists()  # nothing published
    assert main([*command, "-w", str(ws), "--report", str(tmp_path / "r.csv")]) == 0
    assert (tmp_path / "r.csv").exists() and len(store.audit_log()) > before


def test_a_scenario_run_that_fails_writing_its_reports_leaves_the_previous_ones_whole(store, tmp_path, monkeypatch):
    assert main(["classify", "-w", str(store.path)]) == 0
    assert main(["sites", "-w", str(store.path)]) == 0
    f, out = str(ROOT / "scenarios" / "conservative_top10.toml"), tmp_path / "out"
    assert main(["scenario", "run", f, "-w", str(store.path), "--out", str(out), "--no-save"]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert set(before) == {f"conservative_top10.{x}" for x in ("xlsx", "html", "pdf", "gpkg")}
    real = Path.write_bytes

    def disk_full_half_way(self, data):
        real(self, data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", disk_full_half_way)  # the PDF's write
    assert main(["scenario", "run", f, "-w", str(store.path), "--out", str(out), "--no-save"]) != 0
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in out.iterdir()}["conservative_top10.pdf"] == before["conservative_top10.pdf"]
    assert set(p.name for p in out.iterdir()) == set(before)  # no half-written file beside them


def test_the_cli_copies_renames_deletes_and_brings_back_scenarios_as_the_app_does(store, capsys):
    """The scenarios page could copy, rename and delete a scenario; the CLI could not (a scripted clean-up had to
    edit the workspace by hand). NAME@VERSION stands for the version seen: a colleague's newer one is refused."""
    from planner.scenarios import Scenario, SiteSelection

    ws = str(store.path)
    W.save_document(store, W.ScenarioDoc(Scenario(name="a", sites=SiteSelection(top=7))))
    W.save_document(store, W.ScenarioDoc(Scenario(name="a", sites=SiteSelection(top=9))), user="bob")
    assert main(["scenario", "rename", "a@1", "b", "-w", ws]) == 2
    assert "saved as version 2 since you opened version 1 (by bob" in capsys.readouterr().err
    assert main(["scenario", "delete", "a@9", "-w", ws]) == 2
    assert "no saved scenario 'a' version 9" in capsys.readouterr().err
    assert main(["scenario", "copy", "a@1", "old", "-w", ws]) == 0
    assert W.load_document(store, "scenario", "old").scenario.sites.top == 7
    assert main(["scenario", "rename", "old", "a", "-w", ws]) == 2  # taken
    assert main(["scenario", "delete", "a@2", "-w", ws]) == 0
    assert "`planner scenario copy a@2 a -w WS` brings it back" in capsys.readouterr().out
    assert W.document_names(store, "scenario") == ["old"]
    assert main(["scenario", "list", "-w", ws]) == 0
    assert "deleted (versions kept; `planner scenario copy" in capsys.readouterr().out
    assert main(["scenario", "copy", "a@2", "a", "-w", ws]) == 0
    assert W.latest_version(store, "scenario", "a") == 4 and W.load_document(store, "scenario", "a").scenario.sites.top == 9
    assert main(["scenario", "rename", "old", "older", "-w", ws]) == 0
    assert W.document_names(store, "scenario") == ["a", "older"]
    assert main(["scenario", "rename", "older", "x@y", "-w", ws]) == 2
    assert "contains '@'" in capsys.readouterr().err


def test_cli_refusals_speak_chinese_with_planner_lang(store, capsys, monkeypatch):
    """Every refusal carries its Chinese, but the command line printed only the English."""
    ws = str(store.path)
    monkeypatch.setenv("PLANNER_LANG", "zh")
    assert main(["scenario", "delete", "ghost", "-w", ws]) == 2
    assert capsys.readouterr().err.strip() == "错误：没有可删除的情景「ghost」"
    monkeypatch.setenv("PLANNER_LANG", "en")
    assert main(["scenario", "delete", "ghost", "-w", ws]) == 2
    assert capsys.readouterr().err.strip() == "error: no saved scenario 'ghost' to delete"


def test_a_refusal_speaks_the_language_the_command_prints_in(store, capsys, monkeypatch):
    """One rule for everything a command prints: `planner classify --lang zh` printed its summary in Chinese and its
    refusal in English (refusals followed PLANNER_LANG alone, default English; ingest's followed --lang)."""
    missing = str(store.path.parent / "missing.gpkg")
    monkeypatch.setenv("PLANNER_LANG", "en")
    assert main(["classify", "-w", missing, "--lang", "zh"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("错误：工作空间 missing.gpkg 不存在") and f"`planner workspace init {missing} --crs" in err, err
    monkeypatch.delenv("PLANNER_LANG")
    for argv in (["classify", "-w", missing], ["workspace", "info", missing]):  # nothing said: Chinese, as summaries
        assert main(argv) == 2
        assert capsys.readouterr().err.startswith("错误：工作空间 missing.gpkg 不存在"), argv
    assert main(["classify", "-w", missing, "--lang", "en"]) == 2
    assert capsys.readouterr().err.startswith("error: workspace missing.gpkg does not exist")


def test_policy_list_shows_the_saved_rules_their_versions_and_the_shipped_ones(store, capsys):
    """`planner policy show` printed one policy; nothing told an analyst which rules the office saved, by whom."""
    _planner_edits_the_rules(store)
    assert main(["policy", "list", "-w", str(store.path)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"default\s+1\s+\S+\s+alice", out), out
    assert "shipped: default, strict" in out
