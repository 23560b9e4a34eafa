"""The upgrade journey: workspaces written by earlier releases, opened by today's code.

``tests/data/old_workspaces/ws_<date>.gpkg`` were built by the code of branch main at the end of that day (see
the README beside them): a tiny sample city (60 parcels) with a survey update ingested, classified, sites,
two scenario runs and a comparison, a saved policy and site edits (replayed), and from 2026-12-05 on an
enterprise table, a saved comparison and accounts. Today's commands and every page of the app must read,
show and keep what they hold; a saved value today's code refuses is said clearly, with what saves a
corrected version, and the old version stays as it was.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from planner.cli import main
from planner.errors import StoreError
from planner.io.store import open_store
from tests.conftest import pg_uri

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
OLD = ROOT / "tests" / "data" / "old_workspaces"
ERAS = ("2026-11-27", "2026-12-05", "2026-12-06")
#: The accounts the 2026-12-05 and 2026-12-06 workspaces hold (password ``pw-<name>-12345``), one per role.
ACCOUNTS = {"admin": "admin", "planner1": "planner", "viewer1": "decision_maker", "gis1": "gis_staff"}
PAGES = ("explorer", "rules", "sites", "scenarios", "compare", "data")


def _copy(era: str, tmp_path: Path) -> Path:
    ws = tmp_path / f"ws_{era}.gpkg"
    shutil.copyfile(OLD / f"ws_{era}.gpkg", ws)
    return ws


def _kept(store) -> tuple:
    """What an old workspace holds that must never be lost: every layer version, document version, audit row."""
    layers = store.layers()[["kind", "name", "version", "n_rows"]]
    docs = store.docs()[["kind", "name", "version", "sha256"]]
    audit = store.audit_log()[["ts", "user", "action", "kind", "name"]]
    return ({tuple(r) for r in layers.itertuples(index=False)}, {tuple(r) for r in docs.itertuples(index=False)},
            [tuple(r) for r in audit.astype(str).itertuples(index=False)])


def _still_has(store, before: tuple) -> None:
    layers, docs, audit = _kept(store)
    assert before[0] <= layers and before[1] <= docs
    assert audit[:len(before[2])] == before[2]


@pytest.mark.parametrize("era", ERAS)
def test_an_old_workspace_works_with_todays_commands_and_keeps_what_it_holds(era, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("PLANNER_ROLE", raising=False)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    ws = _copy(era, tmp_path)
    before = _kept(open_store(ws))
    saved_cmp = era != "2026-11-27"
    out = tmp_path / "out"
    out.mkdir()
    assert main(["info", "-w", str(ws), "--lang", "en"]) == 0
    shown = capsys.readouterr().out
    assert "conservative_top10" in shown and "site_edit" in shown and ("office_cmp" in shown) == saved_cmp
    for args in (["classify", "-w", ws], ["sites", "-w", ws, "--apply-edits", "default"],
                 ["scenario", "run", "conservative_top10", "-w", ws, "--out", out, "--lang", "en"],
                 ["scenario", "compare", *(["--saved", "office_cmp"] if saved_cmp else
                                          ["conservative_top10", "upstairs_all"]),
                  "-w", ws, "--out", out / "cmp.html"],
                 ["brief", "--top", "1", "-w", ws, "--out", out / "brief.pdf"]):
        assert main([*map(str, args)]) == 0, args
    capsys.readouterr()
    assert (out / "conservative_top10.xlsx").exists() and (out / "cmp.html").exists() and (out / "brief.pdf").exists()
    _still_has(open_store(ws), before)


@pytest.mark.parametrize("era", ERAS)
def test_an_old_workspace_copies_to_postgis_and_back_whole(era, tmp_path, pg_dsn, capsys):
    from planner.io.fingerprint import content_fingerprint
    from planner.io.postgis import drop_workspace

    ws = _copy(era, tmp_path)
    pg = pg_uri(pg_dsn, f"t_{uuid.uuid4().hex[:12]}_old")
    back = tmp_path / "back.gpkg"
    try:
        assert main(["workspace", "copy", str(ws), pg]) == 0
        assert main(["workspace", "copy", pg, str(back)]) == 0
    finally:
        drop_workspace(pg)
    capsys.readouterr()
    assert content_fingerprint(open_store(back)) == content_fingerprint(open_store(ws))
    assert (OLD / f"ws_{era}.gpkg").read_bytes() == ws.read_bytes()  # copying reads; the old file is untouched


def _open_pages(ws: Path, monkeypatch, user: str | None) -> list[str]:
    monkeypatch.setenv("PLANNER_WORKSPACE", str(ws))
    monkeypatch.delenv("PLANNER_DATA_DIR", raising=False)
    monkeypatch.delenv("PLANNER_WORKSPACES", raising=False)
    monkeypatch.delenv("PLANNER_ROLE", raising=False)
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    if user:
        at.text_input(key="auth_user").set_value(user)
        at.text_input(key="auth_password").set_value(f"pw-{user}-12345")
        next(b for b in at.button if b.label in ("登录", "Sign in")).click().run()
    problems = []
    pages = PAGES + (("admin",) if user == "admin" else ())
    for page in pages:
        at.switch_page(f"views/{page}.py").run()
        problems += [f"{page}: {e.value}" for e in [*at.exception, *at.error]]
    return problems


@pytest.mark.parametrize(("era", "user"), [("2026-11-27", None), *((e, u) for e in ERAS[1:] for u in ACCOUNTS)])
def test_every_page_opens_an_old_workspace_as_each_role_and_writes_nothing(era, user, tmp_path, monkeypatch):
    ws = _copy(era, tmp_path)
    assert _open_pages(ws, monkeypatch, user) == []
    assert ws.read_bytes() == (OLD / f"ws_{era}.gpkg").read_bytes()


# --------------------------------------------------------------------------- a value an earlier release allowed
def _old_site_params(ws: Path, gap_m: float = 80.0) -> None:
    """Site settings saved as the 2026-12-05 release saved them (``planner sites --gap 80 --save-params``, then
    allowed; today's limit is 50 m), written as that release wrote the document."""
    store = open_store(ws)
    edits = store.load_doc("site_edit", "default")
    params = {**edits["params"], "gap_m": gap_m, "min_area_m2": 5000.0}
    store.save_doc("site_params", "default", {"schema_version": 2, "name": "default", "params": params,
                                              "use_barriers": True, "use_constraints": True}, user="planner1")


def test_old_site_settings_refused_today_say_what_and_how_to_save_a_corrected_version(tmp_path, capsys):
    ws = _copy("2026-12-05", tmp_path)
    _old_site_params(ws)
    store = open_store(ws)
    before = _kept(store)
    assert main(["sites", "-w", str(ws), "--lang", "en"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "saved site_params 'default' version 1" in err and "gap_m" in err and "80" in err
    assert "earlier release" in err and "kept unchanged" in err and "--save-params default" in err
    assert main(["sites", "-w", str(ws), "--lang", "zh"]) == 2
    err = capsys.readouterr().err
    assert "已保存的连片参数 'default' 第 1 版" in err and "较早版本" in err and "--save-params default" in err
    _still_has(open_store(ws), before)
    # the command the message proposes works: the options given replace the refused value, saved as version 2
    assert main(["sites", "-w", str(ws), "--gap", "50", "--save-params", "default"]) == 0
    capsys.readouterr()
    store = open_store(ws)
    assert store.load_doc("site_params", "default", 1)["params"]["gap_m"] == 80.0  # the old version is kept
    assert store.load_doc("site_params", "default", 2)["params"]["gap_m"] == 50.0
    assert store.load_doc("site_params", "default", 2)["params"]["min_area_m2"] == 5000.0  # the rest as saved
    assert main(["sites", "-w", str(ws)]) == 0


def test_old_site_settings_refused_today_are_said_on_the_pages_which_still_open(tmp_path, monkeypatch):
    ws = _copy("2026-12-05", tmp_path)
    _old_site_params(ws)
    monkeypatch.setenv("PLANNER_WORKSPACE", str(ws))
    monkeypatch.delenv("PLANNER_DATA_DIR", raising=False)
    monkeypatch.delenv("PLANNER_WORKSPACES", raising=False)
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    at.text_input(key="auth_user").set_value("planner1")
    at.text_input(key="auth_password").set_value("pw-planner1-12345")
    next(b for b in at.button if b.label in ("登录", "Sign in")).click().run()
    for page in ("sites", "scenarios", "compare"):
        at.switch_page(f"views/{page}.py").run()
        assert not at.exception and not at.error, page
        warned = " ".join(str(w.value) for w in at.warning)
        assert "gap" in warned and "80" in warned and "save" in warned.replace("保存", "save"), page
    at.switch_page("views/sites.py").run()
    next(b for b in at.button if b.key == "s_save_params").click().run()
    assert not at.exception and not at.error
    store = open_store(ws)
    assert store.load_doc("site_params", "default", 1)["params"]["gap_m"] == 80.0
    assert store.load_doc("site_params", "default", 2)["params"]["gap_m"] <= 50.0


def _sign_in(ws: Path, monkeypatch, user: str) -> AppTest:
    monkeypatch.setenv("PLANNER_WORKSPACE", str(ws))
    monkeypatch.delenv("PLANNER_DATA_DIR", raising=False)
    monkeypatch.delenv("PLANNER_WORKSPACES", raising=False)
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    at.text_input(key="auth_user").set_value(user)
    at.text_input(key="auth_password").set_value(f"pw-{user}-12345")
    next(b for b in at.button if b.label in ("登录", "Sign in")).click().run()
    return at


def test_old_rules_refused_today_are_said_on_the_rules_page_and_an_earlier_version_saved_over_them(
        tmp_path, monkeypatch, capsys):
    """Grade weights written as percent points (350 for 35 %), which releases before 2026-12-07 took: opening them
    on the Rules page crashed the page; now it says which version, why and what to do, and v1 opened from the
    versions kept and saved becomes v3 (v2 kept)."""
    ws = _copy("2026-12-06", tmp_path)
    store = open_store(ws)
    doc = store.load_doc("policy", "office_rules")
    doc["policy"]["grade"]["weights"] = {"tax_per_mu": 450.0, "output_per_mu": 350.0, "tax_per_energy": 200.0}
    store.save_doc("policy", "office_rules", doc, user="planner1")
    assert main(["classify", "-w", str(ws), "-p", "office_rules", "--lang", "en"]) == 2
    err = capsys.readouterr().err
    assert "saved policy 'office_rules' version 2" in err and "350" in err and "earlier release" in err
    at = _sign_in(ws, monkeypatch, "planner1")
    at.switch_page("views/rules.py").run()
    at.selectbox[0].set_value("office_rules").run()
    at.button(key="rules_open").click().run()
    assert not at.exception
    shown = " ".join(str(e.value) for e in at.error).replace("\\", "")
    assert "office_rules' 第 2 版" in shown and "350" in shown and "较早版本" in shown
    at.selectbox(key="rules_hist_name").set_value("office_rules").run()
    at.selectbox(key="rules_hist_v_office_rules").set_value(1).run()
    at.button(key="rules_hist_open").click().run()
    assert not at.exception and not at.error
    at.text_input(key="r_name").set_value("office_rules").run()
    at.button(key="rules_save").click().run()
    if any(b.key == "rules_confirm_yes" for b in at.button):
        at.button(key="rules_confirm_yes").click().run()
    assert not at.exception and not at.error
    store = open_store(ws)
    assert store.load_doc("policy", "office_rules", 2)["policy"]["grade"]["weights"]["output_per_mu"] == 350.0
    assert store.load_doc("policy", "office_rules", 3)["policy"]["grade"] == \
        store.load_doc("policy", "office_rules", 1)["policy"]["grade"]
    assert main(["classify", "-w", str(ws), "-p", "office_rules"]) == 0


def test_old_site_edits_made_on_settings_refused_today_are_kept_and_offered_not_refused(tmp_path, monkeypatch,
                                                                                        capsys):
    """Site edits saved by the 2026-12-05 app on sites built with gap_m 80 (then allowed): their ops are still
    parcels added and removed; only the settings they record are refused. The pages and ``planner sites`` opened
    none of them (the whole document refused); now the edits are said to be made on other settings, not replayed
    unless asked, and kept as saved."""
    ws = _copy("2026-12-05", tmp_path)
    store = open_store(ws)
    doc = store.load_doc("site_edit", "default")
    doc["params"]["gap_m"] = 80.0
    store.save_doc("site_edit", "default", doc, user="planner1")
    assert main(["sites", "-w", str(ws), "--lang", "en"]) == 0
    err = capsys.readouterr().err
    assert "site_edit/default@2" in err and "other site settings" in err and "--apply-edits default@2" in err
    assert main(["sites", "-w", str(ws), "--apply-edits", "default@2"]) == 0
    capsys.readouterr()
    assert _open_pages(ws, monkeypatch, "planner1") == []
    assert open_store(ws).load_doc("site_edit", "default", 2) == doc  # kept as saved


# --------------------------------------------------------------------------- PostGIS: the schema's migrations
def test_a_postgis_workspace_from_before_the_accounts_migration_is_upgraded_once_and_safely(tmp_path, pg_dsn,
                                                                                            monkeypatch, capsys):
    """A schema made before migration 0002 (accounts, 2026-12-05 morning): a migration failing half-way leaves it
    as it was (one transaction); two planners opening it at once upgrade it once; nothing it held is lost."""
    import psycopg

    from planner.io import migrations
    from planner.io.postgis import drop_workspace
    from planner.io.transfer import copy_workspace

    schema = f"t_{uuid.uuid4().hex[:12]}_pre0002"
    uri = pg_uri(pg_dsn, schema)
    old = open_store(_copy("2026-11-27", tmp_path))
    copy_workspace(old, uri)
    before = _kept(old)
    with psycopg.connect(pg_dsn, autocommit=True) as c:  # back to the shape migration 0001 alone made
        c.execute(f'DROP TABLE "{schema}".planner_users')
        c.execute(f'DELETE FROM "{schema}".planner_migrations WHERE version > 1')

    def state():
        with psycopg.connect(pg_dsn, autocommit=True) as c:
            done = [r[0] for r in c.execute(f'SELECT version FROM "{schema}".planner_migrations ORDER BY 1')]
            users, broken = c.execute("SELECT to_regclass(%s) IS NOT NULL, to_regclass(%s) IS NOT NULL",
                                      (f'"{schema}".planner_users', f'"{schema}".planner_x')).fetchone()
        return done, users, broken

    try:
        real = migrations.migrations
        monkeypatch.setattr(migrations, "migrations",
                            lambda: [*real(), (90, "broken", "CREATE TABLE planner_x (id int); SELECT 1/0;")])
        with pytest.raises(StoreError) as err:  # a migration that fails half-way: said in words, not the driver's
            open_store(uri)
        assert isinstance(err.value.__cause__, psycopg.errors.DivisionByZero)
        for said in (str(err.value), err.value.zh):
            assert "0090_broken.sql" in said and "division by zero" in said and uri.rsplit("=", 1)[-1] in said
        assert "Nothing was changed" in str(err.value) and "未做任何修改" in err.value.zh
        assert main(["info", "-w", uri, "--lang", "zh"]) != 0  # the command line says it, without a traceback
        out = capsys.readouterr()
        assert "0090_broken.sql" in out.err and "未做任何修改" in out.err and "Traceback" not in out.err
        assert state() == ([1], False, False)  # 0002 and the half of 90 rolled back with it
        monkeypatch.undo()
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(2) as pool:
            stores = list(pool.map(lambda _: open_store(uri), range(2)))
        assert state() == ([1, 2], True, False)
        _still_has(stores[0], before)
    finally:
        drop_workspace(uri)
