"""Version switches (``planner workspace use``, the data manager) under colleagues, kills, attackers and roles.

Probes of what :mod:`tests.test_cli_use_version` leaves out: a switch racing a ``classify`` of the same
workspace, a process killed in the middle of an enterprise switch (the table and its parcel links), hostile text
in what ``planner info`` prints after a switch, and a switch through a crafted session state of the app.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from planner.cli import main
from planner.io.store import open_store
from planner.workflow.enterprises import analysis_parcels, enterprise_version
from planner.workflow.versions import stale_results, switch_version
from tests.test_cli_use_version import two_enterprise_tables
from tests.test_enterprise import parcels

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


def _current(store, kind: str) -> list[int]:
    cat = store.layers(kind)
    return sorted(int(v) for v in cat.loc[cat["is_current"].astype(bool), "version"])


def data_manager(at, lang: str = "zh"):
    """The app ``at`` (run once, signed in if need be) switched to ``lang`` and opened on the data manager."""
    if lang == "en":
        at.radio(key="w_lang").set_value("en").run()
    return at.switch_page("views/data.py").run()


#: Run in a child process: switch the enterprise table of argv[1] to v1, SIGKILLed as its second audit row is
#: written (the table's switch written, its links' not yet).
_KILLED_SWITCH = """
import inspect, os, signal, sys
from planner.cli import main
from planner.io.store import open_store
from planner.workflow.versions import stale_results, switch_version

store = open_store(sys.argv[1])
cls = type(store)
static = isinstance(inspect.getattr_static(cls, "_audit"), staticmethod)
orig = cls._audit
seen = []

def audit(*a, **kw):
    seen.append(a)
    if len(seen) == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    return orig(*a, **kw)

cls._audit = staticmethod(audit) if static else audit
switch_version(store, "enterprise", 1)
"""


def test_a_kill_in_the_middle_of_an_enterprise_switch_never_splits_the_table_from_its_links(tmp_path, store):
    """Both backends: the table and its parcel links switch together or not at all. Killed between the two, the
    workspace had table v1 current with the links of v2 (every analysis then joined v1's enterprises through v2's
    links) and one audit row; the next switch to v1 then said "already current" and left the links as they were."""
    two_enterprise_tables(tmp_path, store)
    audit = store.audit_log()
    proc = subprocess.run([sys.executable, "-c", _KILLED_SWITCH, store.uri], env=ENV, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    store = open_store(store.uri)
    table, links = _current(store, "enterprise"), _current(store, "enterprise_link")
    assert table == links, f"enterprise table v{table} current with the links of v{links}"
    new = store.audit_log().iloc[len(audit):]
    assert len(new) in (0, 2), new  # nothing recorded, or both switches
    assert len(new) == 2 * (table == [1])
    # and the next switch does the whole of it
    sw = switch_version(store, "enterprise", 1)
    assert _current(store, "enterprise") == _current(store, "enterprise_link") == [1]
    assert sw.changed and sw.previous == 2


def test_a_table_left_current_without_its_links_is_switched_whole_next_time(tmp_path, store):
    """A workspace split by such a kill before (table v1, links v2): ``use enterprise 1`` switched nothing ("v1 is
    already current") and left it split. Now the links follow, with their audit row."""
    two_enterprise_tables(tmp_path, store)
    store.set_current("enterprise", "enterprises", 1)  # what the killed switch left
    n = len(store.audit_log())
    sw = switch_version(store, "enterprise", 1)
    assert _current(store, "enterprise") == _current(store, "enterprise_link") == [1]
    assert sw.changed
    log = store.audit_log().iloc[n:]
    assert list(zip(log["kind"], log["version"].astype(int), strict=True)) == [("enterprise_link", 1)]


# -- a colleague switches while classify or sites runs -------------------------------------------------------------
def _switch_during(monkeypatch, target: str, store, kind: str, version: int) -> list[str]:
    """Make ``planner workspace use KIND VERSION`` run (as a colleague's process would) while ``target`` (a function
    of :mod:`planner.workflow.operations`) computes; returns what it printed."""
    import contextlib
    import io

    from planner.workflow import operations as O

    real, said = getattr(O, target), []

    def racing(*a, **kw):
        if not said:
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                assert main(["workspace", "use", kind, str(version), "-w", store.uri, "--lang", "en"]) == 0
            said.append(out.getvalue())
        return real(*a, **kw)

    monkeypatch.setattr(O, target, racing)
    return said


@pytest.mark.parametrize("command", ["classify", "sites"])
def test_results_computed_while_a_colleague_switched_the_survey_say_which_version_they_are_on(
        store, monkeypatch, capsys, command):
    """Both backends: ``planner classify`` (or ``sites``) reads survey v2; a colleague makes v1 current before it
    stores its result. The result is stored as built on v2 (the rows it read), and every face then says it is
    out of date: the workflow's stale list, ``planner workspace use survey 1`` run again, and its way back."""
    from tests.test_cli_use_version import _two_surveys

    _two_surveys(store)
    target = "classify_parcels" if command == "classify" else "assemble_sites"
    said = _switch_during(monkeypatch, target, store, "survey", 1)
    assert main([command, "-w", store.uri, "--lang", "en"]) == 0
    assert said and "now v1 (was v2)" in said[0]
    kind = "flags" if command == "classify" else "sites"
    cat = store.layers(kind)
    meta = cat.loc[cat["is_current"].astype(bool), "meta"].iloc[0]
    from planner.io.store import catalogue_meta

    assert catalogue_meta(meta)["survey_version"] == 2  # the version read, not the one current when stored
    stale, fresh, _ = stale_results(store, "survey")
    assert f"{kind}/default" in {s.what for s in stale} and f"{kind}/default" not in fresh
    if command == "classify":  # the flags rows are v2's: P1's corrected floor area
        flags = store.read_layer("flags", "default")
        assert float(flags.loc[flags["parcel_id"] == "P1", "floor_area_m2"].iloc[0]) == 2500.0
    capsys.readouterr()
    monkeypatch.undo()
    assert main(["workspace", "use", "survey", "1", "-w", store.uri, "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "already the current survey version" in out and f"{kind}/default: built on survey v2" in out, out
    assert main(["workspace", "use", "survey", "2", "-w", store.uri, "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "Up to date with v2: flags/default, sites/default" in out and "Out of date" not in out, out


def test_flags_classified_while_a_colleague_switched_the_enterprise_table_name_the_table_they_joined(
        tmp_path, store, monkeypatch):
    """The enterprise table is switched from v2 to v1 after classify noted v2 as current and before it read the
    table: the flags held v1's figures but recorded v2, so they looked out of date on v1 and up to date once v2
    was made current again, the other way round from the truth. The figures must be those of the version recorded."""
    two_enterprise_tables(tmp_path, store)
    real, done = type(store).read_layer, []

    def read_layer(self, kind, *a, **kw):
        if kind == "enterprise" and not done:
            done.append(switch_version(self, "enterprise", 1))
        return real(self, kind, *a, **kw)

    monkeypatch.setattr(type(store), "read_layer", read_layer)
    assert main(["classify", "-w", store.uri, "--lang", "en"]) == 0
    monkeypatch.undo()
    assert done and enterprise_version(store) == 1
    flags = store.read_layer("flags", "default", geometry=False)
    recorded = int(flags.attrs["meta"]["enterprise_version"])
    switch_version(store, "enterprise", recorded)  # the figures of the table the flags say they joined
    joined = analysis_parcels(store, geometry=False)
    tax = {str(p): float(v) for p, v in zip(joined["parcel_id"], joined["tax_cny"], strict=True)}
    assert float(flags.loc[flags["parcel_id"] == "P1", "tax_cny"].iloc[0]) == tax["P1"], \
        f"the flags record enterprise table v{recorded} but hold the other version's tax"
    stale, fresh, _ = stale_results(store, "enterprise")
    assert "flags/default" in fresh, [s.reasons for s in stale]


_CLI = "import sys; from planner.cli import main; sys.exit(main(sys.argv[1:]))"


def test_two_switches_and_a_classify_at_once_in_three_processes(store):
    """Both backends, real processes: ``use survey 1``, ``use survey 2`` and ``classify`` started together. Each
    ends well (exit 0, no traceback); every switch that said it switched has its audit row and nothing else has;
    the last switch recorded is the version current; the flags say the version they were built on, and are
    called out of date exactly when that is not the current one."""
    from planner.io.store import catalogue_meta
    from tests.test_cli_use_version import _two_surveys

    _two_surveys(store)
    n = len(store.audit_log())
    argv = [["workspace", "use", "survey", "1", "-w", store.uri, "--lang", "en"],
            ["workspace", "use", "survey", "2", "-w", store.uri, "--lang", "en"],
            ["classify", "-w", store.uri, "--lang", "en"]]
    procs = [subprocess.Popen([sys.executable, "-c", _CLI, *a], env=ENV, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for a in argv]
    done = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    for (rc, out, err), a in zip(done, argv, strict=True):
        assert rc == 0 and "Traceback" not in err, (a, out, err)
    log = store.audit_log().iloc[n:]
    switches = log[log["action"] == "set_current"]
    said = sum("the current survey version is now" in out for _, out, _ in done[:2])
    assert len(switches) == said, (switches, [o for _, o, _ in done])
    now = int(switches["version"].iloc[-1]) if len(switches) else 2
    from planner.workflow.operations import current_survey_version

    assert current_survey_version(store) == now
    flags = store.layers("flags")
    built_on = int(catalogue_meta(flags.loc[flags["is_current"].astype(bool), "meta"].iloc[0])["survey_version"])
    stale, _, _ = stale_results(store, "survey")
    assert ("flags/default" in {s.what for s in stale}) == (built_on != now)


# -- hostile text where a switch is shown ---------------------------------------------------------------------------
HOSTILE = ('=HYPERLINK("http://x","y")\n<img src=x onerror=alert(1)>\x1b[2J\rOK\u202egnp.exe\u200b' + "L" * 400)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_planner_info_after_a_switch_shows_hostile_names_as_inert_text_on_one_line(tmp_path, capsys, monkeypatch,
                                                                                  lang):
    """Versions published from a file, by a user and with a label holding a line break, a terminal escape, a
    carriage return, a right-to-left override, a zero-width space, a formula, HTML and 400 more characters; then
    ``use survey 1`` and ``planner info``. Before: the line break started a fake row of the audit table ("FAKE
    ROW"), ESC[2J cleared the terminal, CR overwrote the start of the line, U+202E turned the rest around, and
    every line of the table was 500 columns wide. Now each shows as escapes on its own row, long text shortened
    in the middle (its end, the file's name, kept), the formula and HTML as the characters they are."""
    ws = open_store(tmp_path / "ws.gpkg", create=True, crs="EPSG:4549")
    ws.publish_survey(parcels(), label=HOSTILE, source_file="/srv/in/" + HOSTILE + ".gpkg", user="bob\nFAKE ROW\u202e")
    p = parcels()
    p.loc[0, "floor_area_m2"] = 2500.0
    ws.publish_survey(p, label="+cmd|' /C calc'!A0", source_file="@SUM(A1).gpkg", user="@SUM(1+1)")
    capsys.readouterr()
    assert main(["workspace", "use", "survey", "1", "-w", str(ws.path), "--lang", lang]) == 0
    assert main(["info", "-w", str(ws.path), "--lang", lang]) == 0
    out = capsys.readouterr().out
    for bad in ("\x1b", "\r", "\u202e", "\u200b"):
        assert bad not in out, repr(bad)
    lines = out.splitlines()
    assert not [x for x in lines if x.startswith("FAKE ROW")], out
    assert max(len(x) for x in lines) < 200, max(lines, key=len)
    audit = lines[next(i for i, x in enumerate(lines) if x.startswith(("audit", "操作记录"))) + 2:]
    assert len(audit) == 3 and audit[0].split()[1].startswith("bob\\x0aFAKE"), audit  # a row each, nothing more
    assert ".gpkg" in audit[0] and "@SUM(A1).gpkg" in audit[1] and "@SUM(1+1)" in audit[1]


def test_planner_user_names_the_command_lines_switch_in_the_audit_log(store, capsys, monkeypatch):
    """README: the command line acts as the operating-system user "(or PLANNER_USER)". Without PLANNER_ROLE the
    switch was recorded under the operating-system user, PLANNER_USER ignored: the audit log named the wrong
    colleague."""
    from tests.test_cli_use_version import _two_surveys

    _two_surveys(store)
    monkeypatch.delenv("PLANNER_ROLE", raising=False)
    monkeypatch.setenv("PLANNER_USER", "clerk")
    assert main(["workspace", "use", "survey", "1", "-w", store.uri, "--lang", "en"]) == 0
    assert store.audit_log()["user"].iloc[-1] == "clerk"


# -- roles: the app's switch, even through a forged click ----------------------------------------------------------
@pytest.mark.parametrize(("lang", "role"), [("zh", "planner"), ("en", "decision_maker")])
def test_a_switch_confirmed_after_the_role_was_taken_away_is_refused_in_words(tmp_path, monkeypatch, lang, role):
    """GIS staff (gus) asks to make v1 current; before he confirms, the administrator makes him a planner (or a
    decision-maker). His page still shows the confirm button enabled; his click switches nothing and records
    nothing, and the page, drawn for his new role, says who he is and (the disabled button) who may, in the
    session's language, no traceback. A forged click on a disabled button is dropped by Streamlit before the page
    runs, and the workflow layer refuses the role anyway (tests/test_roles.py). Regression cover: this passed."""
    import shutil

    from planner.workflow import accounts as A
    from planner.workflow.operations import current_survey_version
    from tests.test_roles import _app, _sign_in, _texts, build_office

    ws = build_office(tmp_path / "office" / "ws.gpkg")
    shutil.copyfile(ws, tmp_path / "ws.gpkg")
    store = open_store(tmp_path / "ws.gpkg")
    store.publish_survey(store.read_parcels(), label="again")
    at = data_manager(_sign_in(_app(store.path, monkeypatch), "gus"), lang)
    at.selectbox(key="dm_ver").set_value(1).run()
    at.button(key="dm_set").click().run()
    confirm = at.button(key="dm_set_yes")
    assert not confirm.disabled
    A.set_role(store, "gus", role, user="ada")
    before = (current_survey_version(store), len(store.audit_log()))
    confirm.click().run()
    assert (current_survey_version(store), len(store.audit_log())) == before
    assert not at.exception, [e.message for e in at.exception]
    said = _texts(at)
    assert ("已登录：Gus（规划人员）" if lang == "zh" else "Signed in: Gus (Decision-maker)") in said, said
    confirm = at.button(key="dm_set_yes")  # drawn for the new role: disabled, saying who may
    assert confirm.disabled and confirm.proto.help == (
        "只有GIS 数据员、管理员可以切换当前调查或企业数据版本。" if lang == "zh"
        else "Only GIS staff or Administrator may switch the current survey or enterprise table version."), \
        confirm.proto.help


# -- the data manager is told what a switch left out of date -------------------------------------------------------
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_data_manager_is_told_which_results_a_switch_left_out_of_date(tmp_path, monkeypatch, lang):
    """The command line says which flags, sites and saved scenarios a switch left out of date; the data manager
    only read "Current version is now v1", and learnt it page by page (or never, for a scenario). Now the page
    says it after the switch in its own words (the pages to rebuild on, no command), and what is up to date
    again after switching back."""
    from tests.test_cli_use_version import _two_surveys
    from tests.test_roles import _app, _texts

    store = open_store(tmp_path / "ws.gpkg", create=True, crs="EPSG:4549")
    _two_surveys(store)
    at = data_manager(_app(store.path, monkeypatch), lang)
    for v in (1, 2):
        at.selectbox(key="dm_ver").set_value(v).run()
        at.button(key="dm_set").click().run()
        at.button(key="dm_set_yes").click().run()
        assert not at.exception, [e.message for e in at.exception]
        said = _texts(at)
        if v == 1 and lang == "zh":
            assert "当前调查版本已由 v2 切换为 v1" in said, said
            assert "已过期（基于其他版本）：三低识别结果 default（基于调查版本 v2，当前为 v1）" in said, said
            assert "连片片区 default（基于调查版本 v2，当前为 v1）" in said and "plan_a" in said, said
            assert "请在“三低识别”页重新识别，再在“连片地块”页重新生成片区" in said, said
        elif v == 1:
            assert "The current survey version is now v1 (was v2)" in said, said
            assert "Out of date now (built on another version): Three-low flags default (built on survey v2; " \
                   "the current survey is v1)" in said, said
            assert "plan_a" in said and "Contiguous sites page" in said, said
        else:
            assert ("与 v2 一致，无需重新计算：三低识别结果 default、连片片区 default" if lang == "zh"
                    else "Up to date with v2: Three-low flags default, Sites default") in said, said
            assert ("已过期" if lang == "zh" else "Out of date") not in said


def test_the_enterprise_switch_on_the_data_page_says_what_it_left_out_of_date(tmp_path, monkeypatch):
    """The enterprise tab's switch says the same: the flags classified with table v2 are out of date on v1."""
    from tests.test_roles import _app, _texts

    store = open_store(tmp_path / "ws.gpkg", create=True, crs="EPSG:4549")
    two_enterprise_tables(tmp_path, store)
    assert main(["classify", "-w", store.uri, "--lang", "en"]) == 0
    at = _app(store.path, monkeypatch)
    at.switch_page("views/data.py").run()
    at.selectbox(key="de_ver").set_value(1).run()
    at.button(key="de_set").click().run()
    assert not at.exception, [e.message for e in at.exception]
    said = _texts(at)
    assert "当前企业数据版本已由 v2 切换为 v1（已记入操作日志）" in said, said
    assert "已过期（基于其他版本）：三低识别结果 default（识别时企业表为 v2，当前企业表为 v1）" in said, said
    assert _current(store, "enterprise") == _current(store, "enterprise_link") == [1]


def test_the_app_s_versions_and_audit_tables_show_no_hidden_characters(tmp_path):
    """A version published by ``bob<LF>FAKE<RLO>ROW`` from ``invoice<RLO>gpj.exe``: the data manager's versions list
    and audit view showed "bob FAKEWOR" and "invoiceexe.jpg" (the override turned the rest of the cell around, a
    file posing as another). They show the names as pages show names stored before the rule on hidden characters
    (:func:`planner.i18n.without_hidden`); HTML and formulas stay text in the grid (no export: config.toml)."""
    from planner.i18n import has_hidden
    from planner.ui import survey

    ws = open_store(tmp_path / "ws.gpkg", create=True, crs="EPSG:4549")
    ws.publish_survey(parcels(), label="2025\u200b<img src=x onerror=alert(1)>\u202e", user="bob\nFAKE\u202eROW",
                      source_file="invoice\u202egpj.exe")
    switch_version(ws, "survey", 1)
    frames = [survey.versions_frame(ws.surveys(), "zh"), survey.audit_frame(ws.audit_log(), "zh")]
    for df in frames:
        for col in df.columns:
            shown = [v for v in df[col] if isinstance(v, str) and has_hidden(v)]
            assert not shown, (col, shown)
    assert frames[0]["user"].iloc[0] == "bobFAKEROW" and frames[0]["source_file"].iloc[0] == "invoicegpj.exe"
    assert frames[0]["label"].iloc[0] == "2025<img src=x onerror=alert(1)>"
