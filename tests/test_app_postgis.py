"""The app on a PostGIS workspace (``PLANNER_WORKSPACE=postgresql://...``): every page, a save, a rollback."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from planner.io.store import open_store
from planner.io.transfer import copy_workspace
from tests.e2e._workspace import build_workspace

pytestmark = pytest.mark.postgis

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGES = ("explorer", "rules", "sites", "scenarios", "compare", "data")


@pytest.fixture(scope="module")
def pg_workspace(tmp_path_factory, pg_dsn) -> str:
    import uuid

    from planner.io.postgis import drop_workspace
    from tests.conftest import pg_uri

    ws = build_workspace(tmp_path_factory.mktemp("app") / "ws.gpkg")
    uri = pg_uri(pg_dsn, f"t_{uuid.uuid4().hex[:12]}_app")
    copy_workspace(ws, uri)
    yield uri
    drop_workspace(uri)


def _app(uri: str, monkeypatch, page: str | None = None) -> AppTest:
    monkeypatch.setenv("PLANNER_WORKSPACE", uri)
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    if page:
        at.switch_page(f"views/{page}.py").run()
    return at


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_on_postgis(pg_workspace, monkeypatch, page):
    at = _app(pg_workspace, monkeypatch, page)
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    shown = " ".join(str(getattr(e, "value", "")) for e in [*at.markdown, *at.caption, *at.info, *at.sidebar])
    assert "postgres:postgres" not in shown and "localhost" not in shown  # no host or password on the page
    if page == "explorer":
        assert next(m.value for m in at.metric if m.label == "地块数") == "576"


def test_the_workspace_is_offered_by_database_and_schema(pg_workspace, monkeypatch):
    at = _app(pg_workspace, monkeypatch)
    ws = open_store(pg_workspace)
    sb = at.selectbox(key="w_workspace")
    assert sb.value == ws.label and sb.options == [ws.label]


def test_a_failed_revision_read_keeps_the_last_revision_for_a_while(monkeypatch):
    """A blip on the revision read: the pages go on with the data they had, not a stale 'unreachable' cache entry."""
    import time

    from planner.io import postgis
    from planner.ui import data

    uri = "postgresql://planner@db.example/planner?schema=blip"
    answers = iter(["audit:5", OSError("server closed the connection"), OSError("no route"), "audit:7"])

    def revision(u):
        a = next(answers)
        if isinstance(a, Exception):
            raise a
        return a

    monkeypatch.setattr(postgis, "workspace_revision", revision)
    monkeypatch.setattr(data, "_LAST_REVISION", {})
    assert data.stamp(uri) == "audit:5"
    assert data.stamp(uri) == "audit:5"  # a blip right after a good read
    monkeypatch.setattr(data, "REVISION_GRACE_S", 0.0)  # long after the last good read: unreachable, said so
    time.sleep(0.01)
    assert data.stamp(uri) == "unreachable"
    assert data.stamp(uri) == "audit:7"


def test_a_database_account_that_may_not_read_the_accounts_lets_nobody_in(pg_dsn, tmp_path, monkeypatch):
    """The app's database role lacks SELECT on the accounts table: no page, no sign-in form, and the page says why."""
    import uuid

    import psycopg

    from planner.io.postgis import drop_workspace
    from planner.workflow import accounts as A
    from tests.conftest import pg_uri

    schema, role = f"t_{uuid.uuid4().hex[:12]}_closed", f"planner_t_{uuid.uuid4().hex[:8]}"
    uri = pg_uri(pg_dsn, schema)
    copy_workspace(build_workspace(tmp_path / "ws.gpkg"), uri)
    A.add_user(open_store(uri), "pam", "planner", "planner-pass-3")
    with psycopg.connect(pg_dsn, autocommit=True) as con:
        con.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'app-pass-1'")
        con.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO {role}')
        con.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO {role}')
        con.execute(f'REVOKE SELECT ON "{schema}".planner_users FROM {role}')
    try:
        info = psycopg.conninfo.conninfo_to_dict(pg_dsn)
        app_uri = (f"postgresql://{role}:app-pass-1@{info.get('host', 'localhost')}:{info.get('port', 5432)}/"
                   f"{info['dbname']}?schema={schema}")
        at = _app(app_uri, monkeypatch)
        assert not at.exception, [e.message for e in at.exception]
        assert any("无法读取工作空间的账号" in e.value and "permission denied" in e.value
                   for e in at.error), [e.value for e in at.error]
        assert not at.metric and not at.text_input  # neither the pages (as a local user) nor a sign-in form
    finally:
        drop_workspace(uri)
        with psycopg.connect(pg_dsn, autocommit=True) as con:
            con.execute(f"DROP ROLE IF EXISTS {role}")


def test_a_save_refused_by_a_read_only_database_account_names_the_workspace_only(pg_dsn, tmp_path, monkeypatch):
    """The app's database account may only read: a save is refused in words naming ``database/schema``.

    The pages showed the store's message as it was: ``工作空间 postgresql://ro_x@db-host:5432/db?schema=...``,
    the database host and account the README says the app never shows (a GeoPackage's server path likewise).
    """
    import re
    import uuid

    import psycopg

    from planner.io.fingerprint import changed_parts, workspace_fingerprint
    from planner.io.postgis import drop_workspace
    from tests.conftest import pg_uri

    schema, role = f"t_{uuid.uuid4().hex[:12]}_ro", f"planner_ro_{uuid.uuid4().hex[:8]}"
    uri = pg_uri(pg_dsn, schema)
    copy_workspace(build_workspace(tmp_path / "ws.gpkg"), uri)
    with psycopg.connect(pg_dsn, autocommit=True) as con:
        con.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'ro-pass-1'")
        con.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO {role}')
        con.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO {role}')
    try:
        info = psycopg.conninfo.conninfo_to_dict(pg_dsn)
        host = info.get("host", "localhost")
        app_uri = f"postgresql://{role}:ro-pass-1@{host}:{info.get('port', 5432)}/{info['dbname']}?schema={schema}"
        before = workspace_fingerprint(uri)
        at = _app(app_uri, monkeypatch, "scenarios")
        at.text_input(key="sc_name").set_value("ro_plan")
        next(b for b in at.button if b.label == "计算").click().run()
        at.button(key="sc_save_btn").click().run()
        assert not at.exception, [e.message for e in at.exception]
        errors = [e.value for e in at.error]
        shown = re.sub(r"\\(.)", r"\1", " ".join(errors))  # as read on the page (Markdown escapes undone)
        assert "权限不足" in shown and f"{info['dbname']}/{schema}" in shown, errors
        assert host not in shown and role not in shown and "ro-pass-1" not in shown, errors
        # the Chinese page says what was refused in Chinese; the server's words only as a quoted detail
        assert re.search(r"无法(保存情景|获取写入锁)", shown) and "服务器提示：“permission denied" in shown, errors
        assert not re.search(r"saving|taking the|while", shown), errors
        assert changed_parts(before, workspace_fingerprint(uri)) == []
    finally:
        from planner.io._pgconn import close_pools

        close_pools()
        drop_workspace(uri)
        with psycopg.connect(pg_dsn, autocommit=True) as con:
            con.execute(f"DROP ROLE IF EXISTS {role}")


def test_a_database_that_refuses_the_login_is_told_in_the_page_language(pg_dsn, monkeypatch):
    """A wrong password (or a server that does not answer) in PLANNER_WORKSPACE: the Chinese page read
    "无法打开工作空间：workspace postgresql://...: cannot reach the database (connection failed: ...)", the whole
    cause in English (and the host). Now each language says why and what to do; only a server that does not
    answer is named by its host and port (README, "The URI")."""
    import re

    import psycopg

    info = psycopg.conninfo.conninfo_to_dict(pg_dsn)
    host, port, db = info.get("host", "localhost"), info.get("port", 5432), info["dbname"]
    wrong = f"postgresql://{info.get('user', 'postgres')}:Wr0ngSecret@{host}:{port}/{db}?schema=t_refused"
    at = _app(wrong, monkeypatch)
    assert not at.exception, [e.message for e in at.exception]
    zh = re.sub(r"\\(.)", r"\1", " ".join(e.value for e in at.error))
    assert f"工作空间 {db}/t_refused：打开工作空间时无法连接数据库：服务器拒绝了用户名或密码" in zh, zh
    assert "cannot" not in zh and "opening" not in zh and host not in zh and "Wr0ngSecret" not in zh, zh
    at.radio(key="w_lang").set_value("en").run()
    en = re.sub(r"\\(.)", r"\1", " ".join(e.value for e in at.error))
    assert f"workspace {db}/t_refused: cannot connect to the database" in en and "user and password" in en, en
    assert host not in en and "Wr0ngSecret" not in en, en
    at = _app(wrong.replace(f"Wr0ngSecret@{host}:{port}/", f"Wr0ngSecret@{host}:1/"), monkeypatch)
    zh = re.sub(r"\\(.)", r"\1", " ".join(e.value for e in at.error))
    assert f"{host}:1 上没有数据库服务器应答" in zh and "Wr0ngSecret" not in zh, zh


def test_a_database_listed_beside_geopackages_is_offered_whole(pg_workspace, tmp_path, monkeypatch):
    """``PLANNER_WORKSPACES=a.gpkg:postgresql://user:password@host:port/db?schema=s`` (README: URIs beside files).

    The list was split at every ``:``: the sidebar offered "postgresql", the user, "password@host" and
    "db?schema=s" as workspaces of their own (the password among the names every user sees).
    """
    gp = build_workspace(tmp_path / "files.gpkg")
    ws = open_store(pg_workspace)
    password = pg_workspace.split("://", 1)[1].rsplit("@", 1)[0].partition(":")[2]
    monkeypatch.setenv("PLANNER_WORKSPACES", f"{gp}:{pg_workspace}")
    at = _app(str(gp), monkeypatch)
    sb = at.selectbox(key="w_workspace")
    assert sb.options == ["files.gpkg", ws.label], sb.options
    assert not password or not any(password in o for o in sb.options if o != ws.label)
    sb.set_value(ws.label).run()
    assert not at.exception and not at.error, [e.value for e in at.error]


def test_one_database_and_schema_through_two_uris_are_both_offered(pg_workspace, monkeypatch):
    """Workspaces are named ``database/schema`` only (README): two URIs of one schema (another account, another
    server with the same names) were offered under one name, and the second one could not be picked at all."""
    ws = open_store(pg_workspace)
    other = pg_workspace + "&application_name=second"
    monkeypatch.setenv("PLANNER_WORKSPACES", f"{pg_workspace}:{other}")
    at = _app(pg_workspace, monkeypatch)
    sb = at.selectbox(key="w_workspace")
    assert sb.options == [ws.label, f"{ws.label} [2]"], sb.options
    sb.set_value(f"{ws.label} [2]").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert next(m.value for m in at.metric if m.label == "地块数") == "576"
