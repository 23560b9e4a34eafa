"""Switching back to an earlier survey or enterprise table version offers the results built on it.

Every build adds a layer version, so the flags and sites built on survey v1 are still in the workspace after v2's
were built. Switching back to v1 said they were out of date and told the user to rebuild (minutes at 1M parcels,
site edits replayed). Now :func:`planner.workflow.versions.restorable_results` finds them (a sites version only with
its ``site_parcels`` of the same result id), :func:`~planner.workflow.versions.restore_results` (or
``switch_version(..., restore=True)``) makes them current again in one transaction, ``planner workspace use ...
--with-results`` does it on the command line and the data manager offers a button.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from planner.cli import main
from planner.io.store import catalogue_meta, open_store
from planner.workflow.enterprises import enterprise_version
from planner.workflow.operations import current_survey_version, read_sites
from planner.workflow.permissions import PermissionDenied
from planner.workflow.versions import restorable_results, restore_results, switch_version
from tests.test_cli_use_version import _run, two_enterprise_tables
from tests.test_enterprise import parcels


def _current(store, kind: str) -> dict[str, int]:
    cat = store.layers(kind)
    cat = cat[cat["is_current"].astype(bool)]
    return dict(zip(cat["name"].astype(str), cat["version"].astype(int), strict=True))


def _build(store) -> None:
    assert main(["classify", "-w", store.uri, "--lang", "en"]) == 0
    assert main(["sites", "-w", store.uri, "--lang", "en"]) == 0


def built_on_two_surveys(store) -> None:
    """Survey v1 with flags and sites built on it, then v2 (one floor area corrected) with its own; v2 current."""
    store.publish_survey(parcels(), label="2024")
    _build(store)
    p = parcels()
    p.loc[0, "floor_area_m2"] = 2500.0
    store.publish_survey(p, label="2025")
    _build(store)
    assert current_survey_version(store) == 2
    assert _current(store, "flags") == _current(store, "sites") == _current(store, "site_parcels") == {"default": 2}


def _what(found) -> list[tuple[str, int, int]]:
    return [(r.what, r.version, r.replaces) for r in found]


# -- the workflow ----------------------------------------------------------------------------------------------------
def test_switching_back_offers_the_flags_and_sites_built_on_that_version_and_restores_them(store):
    """Both backends: back on v1, the flags and sites v1 are offered (the sites with their parcel table), with
    when and by whom; restored in one transaction, an audit row per layer; the sites read back whole and are up
    to date; nothing is offered any more. Back on v2 with ``restore=True``: v2's come back in the switch."""
    built_on_two_surveys(store)
    sw = switch_version(store, "survey", 1)
    assert sw.changed and [r.what for r in sw.stale] == ["flags/default", "sites/default"]
    assert _what(sw.restorable) == [("flags/default", 1, 2), ("sites/default", 1, 2)]
    flags, sites = sw.restorable
    assert flags.layers == (("flags", "default", 1),) and flags.on == 1
    assert sites.layers == (("sites", "default", 1), ("site_parcels", "default", 1))
    cat = store.layers("sites")
    row = cat[cat["version"] == 1].iloc[0]
    assert sites.result_id == catalogue_meta(row["meta"])["result_id"]
    assert sites.created_at == str(row["created_at"]) and sites.user == str(row["user"]) and sites.user
    assert restorable_results(store, "survey") == sw.restorable
    n_audit = len(store.audit_log())
    done = restore_results(store, "survey", only=sw.restorable)
    assert done.restored == sw.restorable and not done.changed and done.version == 1
    assert not done.stale and not done.restorable and done.fresh == ("flags/default", "sites/default")
    assert _current(store, "flags") == _current(store, "sites") == _current(store, "site_parcels") == {"default": 1}
    log = store.audit_log().iloc[n_audit:]
    assert sorted(zip(log["action"], log["kind"], log["version"].astype(int), strict=True)) == [
        ("set_current", "flags", 1), ("set_current", "site_parcels", 1), ("set_current", "sites", 1)]
    got = read_sites(store)  # the pieces belong together (a mismatch raises) and rest on the survey now current
    assert got.provenance.survey_version == 1 and len(got.parcel_sites)
    assert not got.warnings and got.flags is not None
    assert restore_results(store, "survey").restored == ()  # nothing left: nothing written
    assert len(store.audit_log()) == n_audit + 3
    back = switch_version(store, "survey", 2, restore=True)
    assert back.changed and _what(back.restored) == [("flags/default", 2, 1), ("sites/default", 2, 1)]
    assert not back.stale and not back.restorable
    assert _current(store, "flags") == _current(store, "sites") == _current(store, "site_parcels") == {"default": 2}


def test_a_sites_version_without_its_parcel_table_is_not_offered(tmp_path):
    """The sites v1 whose ``site_parcels`` of the same result id is missing (here: its meta says another build) are
    never made current (read_sites would refuse the pair); the flags v1 still are."""
    import sqlite3

    store = open_store(tmp_path / "ws.gpkg", create=True, crs="EPSG:4549")
    built_on_two_surveys(store)
    con = sqlite3.connect(store.path)
    with con:
        meta = json.loads(con.execute("SELECT meta FROM planner_layers WHERE kind='site_parcels' AND version=1")
                          .fetchone()[0])
        meta["result_id"] = "another_run"
        con.execute("UPDATE planner_layers SET meta=? WHERE kind='site_parcels' AND version=1", (json.dumps(meta),))
    con.close()
    sw = switch_version(store, "survey", 1, restore=True)
    assert _what(sw.restored) == [("flags/default", 1, 2)] and not sw.restorable
    assert [r.what for r in sw.stale] == ["sites/default"]
    assert _current(store, "sites") == _current(store, "site_parcels") == {"default": 2}


def test_nothing_is_offered_when_no_earlier_version_was_built_on_it(store):
    """Results built on v2 only: back on v1 they are out of date and nothing is offered; ``restore=True`` switches
    the survey and restores nothing; results up to date are never replaced."""
    from tests.test_cli_use_version import _two_surveys

    _two_surveys(store)
    sw = switch_version(store, "survey", 1, restore=True)
    assert sw.changed and len(sw.stale) == 2 and sw.restorable == sw.restored == ()
    assert _current(store, "flags") == {"default": 1}  # the only version, built on v2
    fresh = switch_version(store, "survey", 2, restore=True)
    assert not fresh.stale and fresh.restored == ()


def test_an_enterprise_switch_offers_the_flags_and_sites_classified_with_that_table(tmp_path, store):
    """Flags and sites built with enterprise table v1, then v2's: back on table v1, v1's are offered (the sites
    through their flags), and restored; their survey is the current one."""
    two_enterprise_tables(tmp_path, store)
    assert main(["workspace", "use", "enterprise", "1", "-w", store.uri]) == 0
    _build(store)
    assert main(["workspace", "use", "enterprise", "2", "-w", store.uri]) == 0
    _build(store)
    sw = switch_version(store, "enterprise", 1)
    assert enterprise_version(store) == 1
    assert _what(sw.restorable) == [("flags/default", 1, 2), ("sites/default", 1, 2)], sw
    done = restore_results(store, "enterprise")
    assert done.restored == sw.restorable and not done.stale
    assert _current(store, "flags") == _current(store, "sites") == _current(store, "site_parcels") == {"default": 1}


def test_a_restore_re_checks_under_the_lock_and_needs_the_right(store, monkeypatch):
    """What was offered is restored only if it still is: after a colleague switched back to v2 meanwhile, the
    offer of v1's results restores nothing. A role without ``set_current`` is refused before anything is read."""
    built_on_two_surveys(store)
    offer = switch_version(store, "survey", 1).restorable
    switch_version(store, "survey", 2)  # a colleague, before the click
    n_audit = len(store.audit_log())
    done = restore_results(store, "survey", only=offer)
    assert done.restored == () and len(store.audit_log()) == n_audit
    assert _current(store, "flags") == {"default": 2}
    switch_version(store, "survey", 1)
    monkeypatch.setenv("PLANNER_ROLE", "planner")
    with pytest.raises(PermissionDenied):
        restore_results(store, "survey")
    with pytest.raises(PermissionDenied):
        switch_version(store, "survey", 1, restore=True)
    assert _current(store, "flags") == {"default": 2}


# -- the command line ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_use_lists_what_it_could_restore_and_with_results_restores_it(tmp_path, capsys, lang):
    """Without the option: the results built on v1 are listed (version, when, by whom) with the exact command;
    nothing restored. The command given: they are current again (exit 0), the version already current."""
    store = open_store(tmp_path / "ws.gpkg", create=True, crs="EPSG:4549")
    built_on_two_surveys(store)
    capsys.readouterr()
    rc, out, err = _run(capsys, "workspace", "use", "survey", "1", "-w", store.uri, "--lang", lang)
    assert rc == 0, err
    how = f"`planner workspace use survey 1 --with-results -w {store.uri}`"
    if lang == "zh":
        assert "之前基于调查版本 v1 生成的结果仍在工作空间中，可直接恢复为当前结果（无需重新计算）：" in out, out
        assert "  flags/default v1（" in out and "  sites/default v1（" in out and f"恢复它们：{how}" in out, out
        assert "`planner classify -w" not in out  # every stale result can be restored: no rebuild proposed
    else:
        assert "Built on survey version v1 earlier and still in the workspace (no need to rebuild):" in out, out
        assert "  flags/default v1 (built " in out and "  sites/default v1 (built " in out, out
        assert f"to make them current again: {how}" in out, out
    assert _current(store, "flags") == {"default": 2}
    rc, out, err = _run(capsys, "workspace", "use", "survey", "1", "--with-results", "-w", store.uri, "--lang", lang)
    assert rc == 0, err
    assert ("v1 已是当前调查版本" if lang == "zh" else "v1 is already the current survey version") in out, out
    assert ("已恢复为当前结果（基于调查版本 v1，已记入操作日志）：" if lang == "zh"
            else "Made current again (built on survey version v1; recorded in the audit log):") in out, out
    assert "nothing was changed" not in out and "未作任何更改" not in out
    assert _current(store, "flags") == _current(store, "sites") == _current(store, "site_parcels") == {"default": 1}
    read_sites(store)
    rc, out, _ = _run(capsys, "workspace", "use", "survey", "2", "--with-results", "-w", store.uri, "--lang", "en")
    assert rc == 0 and "the current survey version is now v2 (was v1)" in out and "Made current again" in out, out
    assert _current(store, "sites") == {"default": 2}


def test_with_results_is_refused_to_a_role_without_the_right(tmp_path, capsys, monkeypatch):
    """PLANNER_ROLE=planner: exit 2 and nothing written, as the switch without the option."""
    store = open_store(tmp_path / "ws.gpkg", create=True, crs="EPSG:4549")
    built_on_two_surveys(store)
    switch_version(store, "survey", 1)
    capsys.readouterr()
    audit = store.audit_log()
    monkeypatch.setenv("PLANNER_ROLE", "planner")
    rc, out, err = _run(capsys, "workspace", "use", "survey", "1", "--with-results", "-w", store.uri, "--lang", "en")
    assert rc == 2 and not out and "Planner" in err, err
    pd.testing.assert_frame_equal(store.audit_log(), audit)
    assert _current(store, "flags") == {"default": 2}


def _has_button(at, key: str) -> bool:
    return any(b.key == key for b in at.button)


# -- the data manager ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_data_manager_offers_the_results_built_on_the_version_switched_to(tmp_path, monkeypatch, lang):
    """After the switch to v1 the versions tab lists the flags and sites built on v1 with a button; the button
    makes them current again and says so; the offer is gone. A role without the right sees it disabled."""
    from tests.test_roles import _app, _texts
    from tests.test_version_switch_probes import data_manager

    store = open_store(tmp_path / "ws.gpkg", create=True, crs="EPSG:4549")
    built_on_two_surveys(store)
    at = data_manager(_app(store.path, monkeypatch), lang)
    assert not _has_button(at, "dm_restore")  # nothing to restore while the results are up to date
    at.selectbox(key="dm_ver").set_value(1).run()
    at.button(key="dm_set").click().run()
    at.button(key="dm_set_yes").click().run()
    assert not at.exception, [e.message for e in at.exception]
    said = _texts(at)
    if lang == "zh":
        assert "之前基于调查版本 v1 生成的结果仍在工作空间中，可恢复为当前结果而无需重新计算：三低识别结果 default v1（" in said, said
    else:
        assert "Results built on survey version v1 earlier are still in the workspace and can be made current " \
               "again instead of rebuilt: Three-low flags default v1 (built " in said, said
    button = at.button(key="dm_restore")
    assert not button.disabled
    button.click().run()
    assert not at.exception, [e.message for e in at.exception]
    said = _texts(at)
    assert ("已恢复为当前结果（已记入操作日志）：三低识别结果 default v1" if lang == "zh"
            else "Made current again (recorded in the audit log): Three-low flags default v1") in said, said
    assert not _has_button(at, "dm_restore")
    assert _current(store, "flags") == _current(store, "sites") == _current(store, "site_parcels") == {"default": 1}


def test_the_enterprise_tab_offers_them_disabled_without_the_right_and_restores_them(tmp_path, monkeypatch):
    """The enterprise tab: flags and sites classified with table v1 are offered after a switch back to v1 (made
    by a colleague on the command line); a planner's button is disabled saying who may; GIS staff's restores."""
    from tests.test_roles import _app, _texts

    store = open_store(tmp_path / "ws.gpkg", create=True, crs="EPSG:4549")
    two_enterprise_tables(tmp_path, store)
    switch_version(store, "enterprise", 1)
    _build(store)
    switch_version(store, "enterprise", 2)
    _build(store)
    switch_version(store, "enterprise", 1)
    at = _app(store.path, monkeypatch, PLANNER_ROLE="planner")
    at.switch_page("views/data.py").run()
    assert not at.exception, [e.message for e in at.exception]
    assert "之前基于企业数据版本 v1 生成的结果仍在工作空间中" in _texts(at)
    button = at.button(key="de_restore")
    assert button.disabled and button.proto.help == "只有GIS 数据员、管理员可以切换当前调查或企业数据版本。", \
        button.proto.help
    assert not _has_button(at, "dm_restore")  # the survey is current with every result: nothing offered there
    monkeypatch.setenv("PLANNER_ROLE", "gis_staff")
    at = _app(store.path, monkeypatch)
    at.switch_page("views/data.py").run()
    at.button(key="de_restore").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert "已恢复为当前结果（已记入操作日志）：三低识别结果 default v1" in _texts(at)
    assert _current(store, "flags") == _current(store, "sites") == {"default": 1}
