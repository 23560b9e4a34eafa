"""A PostGIS workspace whose address names no database (``postgresql://user@host?schema=x``: the server takes
the user's name) is shown as "(default database)/x": the Chinese CLI messages and the Chinese app said so in
English. They say "（默认数据库）/x"; English stays as it was."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from streamlit.testing.v1 import AppTest

pytestmark = pytest.mark.postgis
ROOT = Path(__file__).resolve().parents[1]


def _no_database(dsn: str, schema: str) -> str:
    """``dsn`` without its database, with ``?schema=`` (the server then takes the user's database)."""
    p = urlsplit(dsn)
    if p.path.strip("/") not in ("", p.username or "postgres"):
        pytest.skip(f"the test server's database {p.path!r} is not the user's default one")
    return urlunsplit((p.scheme, p.netloc, "", f"schema={schema}", ""))


def _cli(*args: str, lang: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PLANNER_LANG": lang, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "planner", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=120)


def test_cli_refusals_name_the_default_database_in_the_messages_language(pg_dsn):
    uri = _no_database(pg_dsn, f"t_{uuid.uuid4().hex[:10]}_none")
    schema = uri.rpartition("=")[2]
    zh = _cli("info", "-w", uri, lang="zh")
    assert zh.returncode == 2 and f"工作空间 （默认数据库）/{schema} 不存在" in zh.stderr, zh.stderr
    assert "default database" not in zh.stderr
    en = _cli("info", "-w", uri, lang="en")
    assert en.returncode == 2 and f"workspace (default database)/{schema} does not exist" in en.stderr, en.stderr
    bad = _cli("info", "-w", uri.replace(schema, "Bad"), lang="zh")
    assert bad.returncode == 2 and "工作空间 （默认数据库）/Bad：schema 名称 'Bad' 无效" in bad.stderr, bad.stderr


@pytest.fixture(scope="module")
def no_db_workspace(tmp_path_factory, pg_dsn):
    from planner.io.postgis import drop_workspace
    from planner.io.transfer import copy_workspace
    from tests.e2e._workspace import build_workspace

    uri = _no_database(pg_dsn, f"t_{uuid.uuid4().hex[:10]}_nodb")
    copy_workspace(build_workspace(tmp_path_factory.mktemp("nodb") / "ws.gpkg"), uri)
    yield uri
    drop_workspace(uri)


@pytest.mark.parametrize(("lang", "shown"), [("zh", "（默认数据库）/{s}"), ("en", "(default database)/{s}")])
def test_the_app_offers_the_workspace_in_the_pages_language(no_db_workspace, monkeypatch, lang, shown):
    schema = no_db_workspace.rpartition("=")[2]
    monkeypatch.setenv("PLANNER_WORKSPACE", no_db_workspace)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    if lang == "en":
        at.sidebar.radio(key="w_lang").set_value("en").run()
    assert not at.exception, [e.message for e in at.exception]
    sb = at.selectbox(key="w_workspace")
    assert sb.options == [shown.format(s=schema)]
    assert sb.value == f"(default database)/{schema}"  # the key of the workspace is the same in both languages
    assert next(m.value for m in at.metric if m.label in ("地块数", "Parcels")) == "576"
