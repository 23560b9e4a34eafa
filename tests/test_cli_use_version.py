"""``planner workspace use survey|enterprise VERSION``: the command line makes an earlier version current again.

The app's data manager switched the current survey and enterprise table versions; the command line had no way,
yet its refusals of a file published before told the user to switch "in the app". A clerk at a terminal (or a
script on a server without the app) was stuck. Now the command switches through the workflow (the ``set_current``
right, an audit row, the versions checked), says which version was current, which is now and what is out of date
now, in ``--lang``; the refusals of ``planner ingest`` and ``planner enterprise ingest`` name the command, while
the library's words name no face's way (the app adds its own page).
"""

from __future__ import annotations

import pandas as pd
import pytest

from planner.cli import main
from planner.errors import IngestError, message_in
from planner.i18n import names_in
from planner.io.store import open_store
from planner.workflow.enterprises import enterprise_version, ingest_enterprises
from planner.workflow.operations import current_survey_version
from tests.test_enterprise import ROWS, parcels, write_links, write_table


def two_enterprise_tables(tmp_path, store) -> None:
    """A survey (label "base") and enterprise tables v1 and v2 (one enterprise's figure changed), with their links."""
    store.publish_survey(parcels(), label="base")
    lk = write_links(tmp_path / "l.csv")
    ingest_enterprises(write_table(tmp_path / "t.xlsx"), store, link=lk)
    rows = [list(r) for r in ROWS]
    rows[0][3] = "11"
    ingest_enterprises(write_table(tmp_path / "t2.csv", rows, title=False), store, link=lk)
    assert enterprise_version(store) == 2


def two_survey_files(tmp_path, store) -> tuple:
    """a.gpkg and b.gpkg (one parcel's floor area changed) published as survey versions 1 and 2 by the command."""
    a, b = tmp_path / "a.gpkg", tmp_path / "b.gpkg"
    parcels().to_file(a)
    p = parcels()
    p.loc[0, "floor_area_m2"] = 2500.0
    p.to_file(b)
    for f in (a, b):
        assert main(["ingest", str(f), "-w", store.uri, "--lang", "en"]) == 0
    return a, b


def _two_surveys(store):
    """v1 the survey, v2 one parcel's floor area corrected; flags and sites built on v2, a scenario saved on them."""
    from planner.scenarios import Scenario
    from planner.workflow import ScenarioDoc, save_document

    store.publish_survey(parcels(), label="2024")
    p = parcels()
    p.loc[0, "floor_area_m2"] = 2500.0
    store.publish_survey(p, label="2025")
    assert main(["classify", "-w", store.uri, "--lang", "en"]) == 0
    assert main(["sites", "-w", store.uri, "--lang", "en"]) == 0
    save_document(store, ScenarioDoc(Scenario(name="plan_a")))
    assert current_survey_version(store) == 2


def _run(capsys, *argv) -> tuple[int, str, str]:
    rc = main(list(map(str, argv)))
    out, err = capsys.readouterr()
    assert "Traceback" not in err, err
    return rc, out, err


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_use_makes_an_earlier_survey_current_and_says_what_is_out_of_date(store, capsys, lang):
    """Both backends, both languages: v1 current again; the audit log has the switch (as ``planner info`` shows);
    the flags and sites built on v2 are said out of date with why, and the scenario run on those sites."""
    _two_surveys(store)
    capsys.readouterr()
    n_audit = len(store.audit_log())
    rc, out, err = _run(capsys, "workspace", "use", "survey", "1", "-w", store.uri, "--lang", lang)
    assert rc == 0, err
    assert current_survey_version(store) == 1
    log = store.audit_log()
    assert len(log) == n_audit + 1
    row = log.iloc[-1]
    assert (row["action"], row["kind"], row["name"], int(row["version"])) == ("set_current", "survey", "parcels", 1)
    if lang == "zh":
        assert "当前调查版本已由 v2 切换为 v1（已记入操作日志）" in out, out
        assert "已过期（基于其他版本）：" in out
        assert "flags/default：基于调查版本 v2，当前为 v1" in out and "sites/default：基于调查版本 v2，当前为 v1" in out
        assert "基于上述片区的已保存情景：plan_a" in out and "`planner classify -w" in out
    else:
        assert "the current survey version is now v1 (was v2); recorded in the audit log" in out, out
        assert "Out of date now (built on another version):" in out
        assert "flags/default: built on survey v2; the current survey is v1" in out
        assert "sites/default: built on survey v2; the current survey is v1" in out
        assert "saved scenarios run on these sites: plan_a" in out and "`planner sites -w" in out
    password = store.uri.split("://", 1)[1].split("@", 1)[0].partition(":")[2] if "://" in store.uri else ""
    if password:
        assert f":{password}@" not in out + err  # a PostGIS workspace is named without its password
    rc, info, _ = _run(capsys, "info", "-w", store.uri, "--lang", "en", "--audit", "1")
    assert rc == 0 and "set_current" in info.splitlines()[-1] and "survey" in info.splitlines()[-1]
    # and back: the results built on v2 are up to date again ("v2" given as messages name it)
    rc, out, _ = _run(capsys, "workspace", "use", "survey", "v2", "-w", store.uri, "--lang", lang)
    assert rc == 0 and current_survey_version(store) == 2
    assert ("与 v2 一致（无需重新计算）：flags/default、sites/default" if lang == "zh"
            else "Up to date with v2: flags/default, sites/default") in out, out
    assert ("已过期" if lang == "zh" else "Out of date") not in out


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_use_makes_an_earlier_enterprise_table_current_with_its_links(tmp_path, store, capsys, lang):
    """Both backends: enterprise table v1 (and its parcel links) current again; the flags classified with v2 are
    out of date; two audit rows (the table and its links), as the app's switch writes."""
    two_enterprise_tables(tmp_path, store)
    assert main(["classify", "-w", store.uri, "--lang", "en"]) == 0
    capsys.readouterr()
    n_audit = len(store.audit_log())
    rc, out, err = _run(capsys, "workspace", "use", "enterprise", "1", "-w", store.uri, "--lang", lang)
    assert rc == 0, err
    assert enterprise_version(store) == 1
    links = store.layers("enterprise_link")
    assert links.loc[links["is_current"].astype(bool), "version"].tolist() == [1]
    log = store.audit_log().iloc[n_audit:]
    assert sorted(zip(log["action"], log["kind"], log["version"].astype(int), strict=True)) == [
        ("set_current", "enterprise", 1), ("set_current", "enterprise_link", 1)]
    if lang == "zh":
        assert "当前企业数据版本已由 v2 切换为 v1" in out and "flags/default：识别时企业表为 v2，当前企业表为 v1" in out, out
    else:
        assert "the current enterprise table version is now v1 (was v2)" in out, out
        assert "flags/default: classified with enterprise table v2; the current enterprise table is v1" in out


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_version_the_workspace_does_not_have_is_refused_naming_those_it_has(store, capsys, lang):
    """``use survey 7`` of a workspace of v1 and v2: exit 2, the workspace, the version asked, the versions there
    (and which is current), what to do; nothing written. An enterprise table of a workspace with none: said so."""
    _two_surveys(store)
    capsys.readouterr()
    cat, audit = store.layers(), store.audit_log()
    rc, out, err = _run(capsys, "workspace", "use", "survey", "7", "-w", store.uri, "--lang", lang)
    assert rc == 2 and not out
    ws = names_in(store.label, lang)
    if lang == "zh":
        assert f"错误：{ws}" in err and "中没有调查版本 v7；现有调查版本：v1、v2（当前为 v2）。请给出其中之一。" in err, err
    else:
        assert f"error: {ws} has no survey version v7; its survey versions are v1 and v2 (v2 current). " \
               "Give one of them." in err, err
    rc, _, err = _run(capsys, "workspace", "use", "enterprise", "1", "-w", store.uri, "--lang", lang)
    assert rc == 2
    assert ("中没有企业数据版本 v1：尚无任何企业数据版本" if lang == "zh" else
            "has no enterprise table version v1: it has none yet") in err, err
    pd.testing.assert_frame_equal(store.layers(), cat)
    pd.testing.assert_frame_equal(store.audit_log(), audit)
    with pytest.raises(SystemExit) as done:  # argparse's refusal, before the workspace is opened
        main(["workspace", "use", "survey", "two", "-w", store.uri])
    assert done.value.code == 2 and "not a version: 'two'" in capsys.readouterr().err


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_version_already_current_is_said_and_changes_nothing(tmp_path, capsys, monkeypatch, lang):
    """A script that makes sure v2 is current runs it again: exit 0, "already current", no audit row. The
    workspace may come from PLANNER_WORKSPACE, as for every other command."""
    ws = open_store(tmp_path / "ws.gpkg", create=True, crs="EPSG:4549")
    ws.publish_survey(parcels(), label="2024")
    audit = ws.audit_log()
    monkeypatch.setenv("PLANNER_WORKSPACE", str(ws.path))
    rc, out, err = _run(capsys, "workspace", "use", "survey", "1", "--lang", lang)
    assert rc == 0, err
    assert ("ws.gpkg：v1 已是当前调查版本，未作任何更改" if lang == "zh"
            else "ws.gpkg: v1 is already the current survey version; nothing was changed") in out, out
    assert ("工作空间中没有已保存的识别或片区结果" if lang == "zh" else "holds no stored flags or sites") in out
    pd.testing.assert_frame_equal(ws.audit_log(), audit)


def test_a_role_without_the_right_is_refused_and_gis_staff_may(store, capsys, monkeypatch):
    """PLANNER_ROLE=planner may not switch (as ``planner ingest`` refuses a role without ``publish``): exit 2, the
    role and who may, in the language asked; nothing written. gis_staff switches."""
    _two_surveys(store)
    capsys.readouterr()
    audit = store.audit_log()
    monkeypatch.setenv("PLANNER_ROLE", "planner")
    for lang, said in (("en", "Planner"), ("zh", "规划人员")):
        rc, out, err = _run(capsys, "workspace", "use", "survey", "1", "-w", store.uri, "--lang", lang)
        assert rc == 2 and not out and said in err, err
        assert ("GIS" in err) and ("error:" in err) == (lang == "en")
    rc, _, err = _run(capsys, "workspace", "use", "survey", "99", "-w", store.uri, "--lang", "en")
    assert rc == 2 and "Planner" in err and "no survey version" not in err  # the right first
    assert current_survey_version(store) == 2
    pd.testing.assert_frame_equal(store.audit_log(), audit)
    monkeypatch.setenv("PLANNER_ROLE", "gis_staff")
    monkeypatch.setenv("PLANNER_USER", "clerk")
    rc, _, err = _run(capsys, "workspace", "use", "survey", "1", "-w", store.uri, "--lang", "en")
    assert rc == 0, err
    assert current_survey_version(store) == 1 and store.audit_log()["user"].iloc[-1] == "clerk"


# -- the refusals of a load equal to an earlier version name the command (the library's words name no face) ----
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_earlier_survey_file_again_names_the_command_on_the_command_line_only(tmp_path, store, capsys, lang):
    """v1 from a.gpkg, v2 from b.gpkg; a.gpkg again: the command line names ``planner workspace use survey 1`` (and
    --publish-again), its dry run too; the library says v2 is current and names no way of any face."""
    from planner.ingest import ingest

    a, b = two_survey_files(tmp_path, store)
    capsys.readouterr()
    rc, _, err = _run(capsys, "ingest", a, "-w", store.uri, "--lang", lang)
    assert rc == 2
    if lang == "zh":
        assert "未发布。当前调查版本为 v2。如需让 v1 重新成为当前版本，请运行 `planner workspace use survey 1 -w" in err, err
        assert "请加 --publish-again" in err and "数据管理" not in err
    else:
        assert "Nothing was published. The current survey is v2. To make v1 current again, run `planner workspace " \
               "use survey 1 -w" in err, err
        assert "add --publish-again" in err and "Data manager" not in err
    rc, out, _ = _run(capsys, "ingest", a, "-w", store.uri, "--lang", lang, "--dry-run")
    assert rc == 0 and "planner workspace use survey 1 -w" in out, out
    with pytest.raises(IngestError) as exc:
        ingest(a, store)
    said = str(exc.value) + message_in(exc.value, "zh")
    assert exc.value.earlier == 1 and "The current survey is v2." in said and "当前调查版本为 v2" in said
    for face in ("planner workspace use", "--publish-again", "Data manager", "数据管理"):
        assert face not in said
    rep = ingest(a, store, dry_run=True)
    assert rep.would_switch[0] == 1 and "planner workspace use" not in " ".join(rep.warnings + rep.warnings_zh)
    # the current version's file again: nothing to switch to, so no command named
    rc, _, err = _run(capsys, "ingest", b, "-w", store.uri, "--lang", "en")
    assert rc == 2 and "add --publish-again" in err and "planner workspace use" not in err and "current again" not in err


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_earlier_surveys_parcels_in_other_bytes_name_the_command_on_the_command_line_only(tmp_path, store, capsys,
                                                                                             lang):
    """v1 from a.gpkg, v2 from b.gpkg; v1's parcels re-exported as a.geojson (other bytes): refused (exit 2, as
    every refusal of ``planner ingest``) naming ``planner workspace use survey 1`` and --publish-again, its dry run
    too (exit 0); the command then makes v1 current, and the same file changes nothing against it (exit 2, no
    command to switch)."""
    again = tmp_path / "a.geojson"
    parcels().to_file(again, driver="GeoJSON")
    a, b = two_survey_files(tmp_path, store)
    capsys.readouterr()
    rc, _, err = _run(capsys, "ingest", again, "-w", store.uri, "--lang", lang)
    assert rc == 2
    if lang == "zh":
        assert "调查版本 v1（「a」）完全相同" not in err  # no label given: none said
        assert "发布的调查版本 v1 完全相同（没有任何新增、删除或变更）：发布将产生与 v1 相同的版本。未发布。当前调查版本为 v2。如需让 v1 " \
               "重新成为当前版本，请运行 `planner workspace use survey 1 " in err, err
        assert "请加 --publish-again" in err and "数据管理" not in err
    else:
        assert "would be those of survey version v1, published by " in err, err
        assert "Nothing was published. The current survey is v2. To make v1 current again, run `planner workspace " \
               "use survey 1 " in err, err
        assert "add --publish-again" in err and "Data manager" not in err
    rc, out, _ = _run(capsys, "ingest", again, "-w", store.uri, "--lang", lang, "--dry-run")
    assert rc == 0 and "planner workspace use survey 1 " in out, out
    assert current_survey_version(store) == 2
    rc, _, err = _run(capsys, "workspace", "use", "survey", "1", "-w", store.uri, "--lang", lang)
    assert rc == 0 and current_survey_version(store) == 1, err
    rc, _, err = _run(capsys, "ingest", again, "-w", store.uri, "--lang", "en")
    assert rc == 2 and "changes nothing against the current survey v1" in err and "current again" not in err, err
    assert store.surveys()["version"].tolist() == [1, 2]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_earlier_enterprise_table_again_names_the_command_on_the_command_line_only(tmp_path, store, capsys, lang):
    """The tax bureau's v1 files again after a corrected v2: ``planner enterprise ingest`` names ``planner workspace
    use enterprise 1`` (and --publish-again), its dry run too; the library's words name neither it nor the app."""
    store.publish_survey(parcels(), label="base")
    t, lk = write_table(tmp_path / "t.xlsx"), write_links(tmp_path / "l.csv")
    rows = [list(r) for r in ROWS]
    rows[0][3] = "11"
    for f in (t, write_table(tmp_path / "t2.csv", rows, title=False)):
        assert main(["enterprise", "ingest", str(f), "--link", str(lk), "-w", store.uri]) == 0
    capsys.readouterr()
    rc, _, err = _run(capsys, "enterprise", "ingest", t, "--link", lk, "-w", store.uri, "--lang", lang)
    assert rc == 2
    if lang == "zh":
        assert "当前企业数据为 v2。如需让 v1 重新成为当前版本，请运行 `planner workspace use enterprise 1 -w" in err, err
        assert "请加 --publish-again" in err and "数据管理" not in err
    else:
        assert "The current enterprise table is v2. To make v1 current again, run `planner workspace use " \
               "enterprise 1 -w" in err, err
        assert "add --publish-again" in err and "Data manager" not in err
    rc, out, _ = _run(capsys, "enterprise", "ingest", t, "--link", lk, "-w", store.uri, "--lang", lang, "--dry-run")
    assert rc == 0 and "planner workspace use enterprise 1 -w" in out, out
    with pytest.raises(IngestError) as exc:
        ingest_enterprises(t, store, link=lk)
    said = str(exc.value) + message_in(exc.value, "zh")
    assert exc.value.refusal.switch_to == 1 and "The current enterprise table is v2." in said
    for face in ("planner workspace use", "--publish-again", "Data manager", "数据管理"):
        assert face not in said
    assert enterprise_version(store) == 2
