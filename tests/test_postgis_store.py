"""What only a PostGIS workspace has: its URI, schemas, migrations, index reads, server-side locks, copies.

The behaviour it shares with a GeoPackage workspace is tested on both
backends by the store, ingest, classify, sites, scenario and concurrency
tests (the ``store`` fixture in conftest.py).
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from planner.cli import main
from planner.errors import StoreError
from planner.io import migrations
from planner.io.fingerprint import changed_parts, content_fingerprint, workspace_fingerprint
from planner.io.postgis import PostgisStore, drop_workspace
from planner.io.store import DocWrite, GpkgStore, LayerWrite, open_store
from planner.io.transfer import copy_workspace
from tests.conftest import box_grid, pg_uri

pytestmark = pytest.mark.postgis

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


@pytest.fixture
def uris(pg_dsn):
    """``new()``: a fresh PostGIS workspace URI (schema dropped afterwards)."""
    made = []

    def new(tag: str = "w") -> str:
        u = pg_uri(pg_dsn, f"t_{uuid.uuid4().hex[:12]}_{tag}")
        made.append(u)
        return u

    yield new
    for u in made:
        drop_workspace(u)


def _con(dsn: str):
    import psycopg

    return psycopg.connect(dsn, autocommit=True)


def _drop_role(pg_dsn: str, schema: str, role: str) -> None:
    """Close the pooled connections (they may be the role's) and drop a test's database role and its grants."""
    from planner.io._pgconn import close_pools

    close_pools()
    with _con(pg_dsn) as c:
        c.execute(f'REVOKE ALL ON ALL TABLES IN SCHEMA "{schema}" FROM {role}')
        c.execute(f'REVOKE ALL ON SCHEMA "{schema}" FROM {role}')
        c.execute(f"DROP ROLE {role}")


@contextlib.contextmanager
def _reader_role(pg_dsn: str, schema: str, password: str = "readonly"):
    """A new database role that may log in and read the tables of ``schema`` (nothing more); yields its name and
    drops it after."""
    role = f"ro_{uuid.uuid4().hex[:8]}"
    with _con(pg_dsn) as c:
        c.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        c.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO {role}')
        c.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO {role}')
    try:
        yield role
    finally:
        _drop_role(pg_dsn, schema, role)


def _uri(dsn: str, schema: str, *, user: str | None = None, password: str | None = None) -> str:
    """A workspace URI on the test server with another user or password."""
    from psycopg.conninfo import conninfo_to_dict

    info = conninfo_to_dict(dsn)
    return "postgresql://{u}:{pw}@{h}:{p}/{d}?schema={s}".format(
        u=user or info.get("user", "postgres"), pw=password or info.get("password", ""),
        h=info.get("host", "localhost"), p=info.get("port", 5432), d=info.get("dbname", "postgres"), s=schema)


def _tables(dsn: str, schema: str) -> set[str]:
    with _con(dsn) as c:
        return {r[0] for r in c.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,))}


# --------------------------------------------------------------------------- opening
def test_uri_schema_and_messages_hide_the_password(pg_dsn, uris, capsys):
    u = uris("a")
    ws = open_store(u, create=True, crs="EPSG:4549")
    assert isinstance(ws, PostgisStore) and ws.schema == u.rsplit("schema=", 1)[1]
    assert ws.crs.to_epsg() == 4549 and ws.srid == 4549
    # a wrong password: a clear message, exit 2, and the password never printed
    bad = _uri(pg_dsn, ws.schema, password="Wr0ngSecret")
    assert main(["info", "-w", bad]) == 2
    err = capsys.readouterr().err
    assert "cannot connect to the database" in err and "password" in err and "Wr0ngSecret" not in err
    # a schema that is not a workspace yet, and a schema holding other tables
    assert main(["info", "-w", uris("none")]) == 2
    assert "planner workspace init" in capsys.readouterr().err
    other = uris("foreign")
    schema = other.rsplit("schema=", 1)[1]
    with _con(pg_dsn) as c:
        c.execute(f'CREATE SCHEMA "{schema}"')
        c.execute(f'CREATE TABLE "{schema}".roads (id int)')
    with pytest.raises(StoreError, match="not a planner workspace"):
        open_store(other, create=True, crs="EPSG:4549")
    assert _tables(pg_dsn, schema) == {"roads"}  # untouched
    with pytest.raises(StoreError, match="schema name"):
        open_store(pg_dsn + ("&" if "?" in pg_dsn else "?") + "schema=Robert'); DROP TABLE x;--")
    with pytest.raises(StoreError, match="projected"):
        open_store(uris("geo"), create=True, crs="EPSG:4490")


def test_the_cli_names_a_postgis_workspace_by_database_and_schema_only(pg_dsn, uris, tmp_path, capsys, monkeypatch):
    """README ("The URI"): the CLI shows a PostGIS workspace as ``database/schema``, never with its host.

    Every CLI message showed ``postgresql://postgres@localhost:5432/postgres?schema=...`` (creating, the next
    step, a refusal, a missing schema, a wrong password, a copy). Only a server that cannot be reached is named,
    by the host and port the URI gives: that is what to check then.
    """
    from psycopg.conninfo import conninfo_to_dict

    info = conninfo_to_dict(pg_dsn)
    host, db = info.get("host", "localhost"), info.get("dbname", "postgres")
    u = uris("named")
    schema = u.rsplit("schema=", 1)[1]
    name = f"{db}/{schema}"

    def said(argv, rc):
        assert main(argv) == rc
        out = capsys.readouterr()
        text = out.out + out.err
        assert not re.search(r"postgres(ql)?://\w", text) and host not in text and "127.0.0.1" not in text, text
        assert "Traceback" not in text, text
        return text

    text = said(["workspace", "init", u, "--crs", "EPSG:4549"], 0)
    assert f"created workspace {name} in" in text and "next: planner ingest SURVEY -w URI" in text, text
    assert f"workspace {name}  CRS" in said(["info", "-w", u], 0)
    assert f"workspace {name} already exists" in said(["workspace", "init", u, "--crs", "EPSG:4549"], 2)
    missing = uris("missing")
    text = said(["info", "-w", missing], 2)
    assert f"workspace {db}/{missing.rsplit('schema=', 1)[1]} does not exist" in text
    assert "`planner workspace init URI --crs EPSG:4549`" in text, text
    text = said(["info", "-w", _uri(pg_dsn, schema, password="Wr0ngSecret")], 2)
    assert f"workspace {name}: cannot connect to the database" in text and "user and password" in text, text
    assert "Wr0ngSecret" not in text
    src = str(tmp_path / "src.gpkg")
    open_store(src, create=True, crs="EPSG:4549").publish_survey(box_grid(2, 2))
    to = uris("copied")
    assert f"-> {db}/{to.rsplit('schema=', 1)[1]}: 1 layer versions" in said(["workspace", "copy", src, to], 0)
    env = uris("env")  # README's set-up: the URI in PLANNER_WORKSPACE, and the next step says so
    monkeypatch.setenv("PLANNER_WORKSPACE", env)
    assert 'next: planner ingest SURVEY -w "$PLANNER_WORKSPACE"' in said(["workspace", "init", env, "--crs", "EPSG:4549"], 0)
    monkeypatch.delenv("PLANNER_WORKSPACE")
    # PostgreSQL's own schemas: refused by name ("permission denied for schema pg_toast", "holds tables")
    for system in ("pg_toast", "information_schema"):
        assert "is one of PostgreSQL's own" in said(["info", "-w", u.replace(schema, system)], 2)
    # the one exception: a server that does not answer is named by the URI's host and port
    assert main(["info", "-w", u.replace(f":{info.get('port', 5432)}/", ":1/")]) == 2
    err = capsys.readouterr().err
    assert f"workspace {name}: cannot connect" in err and f"no database server answers at {host}:1" in err, err
    assert "Traceback" not in err and not re.search(r"postgres(ql)?://\w", err), err


def test_a_refusal_by_the_database_reads_wholly_in_chinese(pg_dsn, uris):
    """The Chinese message of a database error kept its English part: "数据库账号权限不足（saving policy 'p'：
    permission denied for table planner_docs）" and "无法连接数据库（connection failed: ... password
    authentication failed ...）". The server's own words stay, quoted, after a complete Chinese sentence."""
    from planner.errors import message_in

    u = uris("zh")
    ws = open_store(u, create=True, crs="EPSG:4549")
    ws.publish_survey(box_grid(2, 2))
    with _reader_role(pg_dsn, ws.schema) as role:
        ro = open_store(_uri(pg_dsn, ws.schema, user=role, password="readonly"))
        with pytest.raises(StoreError) as caught:
            ro.save_doc("policy", "p", {"a": 1})
        zh = message_in(caught.value, "zh")
        words, _, detail = zh.partition("（服务器提示：")
        assert "无法保存识别规则 'p'" in words and "请联系数据库管理员" in zh and "permission denied" in detail, zh
        assert "saving" not in zh and "policy" not in words, zh
        with pytest.raises(StoreError) as caught:
            open_store(_uri(pg_dsn, ws.schema, password="Wr0ngSecret"))
        zh = message_in(caught.value, "zh")
        words, _, detail = zh.partition("（详细信息：")
        assert "打开工作空间时无法连接数据库：服务器拒绝了用户名或密码" in words and "password authentication" in detail, zh
        assert "opening" not in zh and "Wr0ngSecret" not in zh, zh
        with pytest.raises(StoreError) as caught:  # a layer the workspace lacks: "(current)" stayed English
            ws.read_layer("constraint", "farmland")
        assert message_in(caught.value, "zh").endswith("中没有图层 constraint/farmland（当前版本）")


def test_a_password_with_url_characters_is_understood_and_never_shown(pg_dsn, uris, capsys):
    """A password pasted into the URI as it is (``/ ? # [ @ %``) connects, and no message shows any of it.

    The URI was split by a URL parser: ``/`` in a password made it the database and ``#`` the end of the URI,
    so the refusal showed the password as the host or the database; ``?`` and ``[`` ended in a traceback
    holding it (``invalid URI query parameter: "Sec9@localhost..."``, ``Invalid IPv6 URL``).
    """
    u = uris("pw")
    ws = open_store(u, create=True, crs="EPSG:4549")
    ws.publish_survey(box_grid(2, 2))
    password = "Zq/x?y#w@v[u]t%s"
    with _reader_role(pg_dsn, ws.schema, password) as role:
        good = _uri(pg_dsn, ws.schema, user=role, password=password)
        assert main(["info", "-w", good]) == 0
        out = capsys.readouterr().out
        assert "survey" in out and "Zq" not in out
        for wrong in ("Zq/Sec9", "Zq#Sec9", "Zq?Sec9", "Zq[Sec9", "Zq@Sec9"):
            assert main(["info", "-w", _uri(pg_dsn, ws.schema, user=role, password=wrong)]) == 2
            err = capsys.readouterr().err
            assert "password authentication failed" in err and "Sec9" not in err and "Traceback" not in err, err
        # an address that is not one, and a parameter the driver does not take: refused in words
        host = _uri(pg_dsn, ws.schema, password="Sec9").replace("@", "@[::1", 1)
        for bad, words in ((host, "not a valid database address"),
                           (good.replace(":5432", ":port5432"), "not a valid database address"),
                           (good + "&nonsense=Sec9", "connection parameters are not valid")):
            assert main(["info", "-w", bad]) == 2
            err = capsys.readouterr().err
            assert words in err and "Sec9" not in err and "Zq" not in err and "Traceback" not in err, err


def test_two_workspaces_share_a_database_in_their_schemas(uris):
    a, b = open_store(uris("a"), create=True, crs="EPSG:4549"), open_store(uris("b"), create=True, crs="EPSG:4549")
    a.publish_survey(box_grid(3, 3), user="ann")
    b.publish_survey(box_grid(2, 2), user="bo")
    b.save_doc("policy", "p", {"x": 1})
    assert len(a.read_parcels()) == 9 and len(b.read_parcels()) == 4
    assert len(a.docs()) == 0 and a.audit_log()["user"].tolist() == ["ann"]
    with a.write_lock("long job"):  # a's writer lock does not hold up b
        b2 = open_store(b.uri, lock_timeout=0.5)
        assert b2.save_doc("policy", "p", {"x": 2}) == 2


def test_a_save_waiting_for_one_document_names_who_holds_it(uris):
    """Two saves of the same document: the second one waits for the first one's document lock, and its wait (the
    log, the app's notice, the refusal after PLANNER_LOCK_TIMEOUT) names the colleague holding it, as on a
    GeoPackage; it used to look only at the whole workspace's lock and said "another writer (it recorded no
    details)"."""
    import threading

    from planner.io import lock

    ws = open_store(uris("doclock"), create=True, crs="EPSG:4549")
    held, release = threading.Event(), threading.Event()

    def colleague():
        with ws.document_lock("scenario", "shared"):
            held.set()
            release.wait(30)

    told = []
    lock.set_wait_listener(lambda h, timeout: told.append(h))
    t = threading.Thread(target=colleague)
    t.start()
    try:
        assert held.wait(30)
        with pytest.raises(StoreError) as caught, open_store(ws.uri, lock_timeout=0.5).document_lock("scenario", "shared"):
            pass
    finally:
        lock.set_wait_listener(None)
        release.set()
        t.join()
    assert "recorded no details" not in str(caught.value)
    assert f"pid {os.getpid()}" in str(caught.value) and "save_scenario" in str(caught.value)
    assert [h["pid"] for h in told] == [os.getpid()]


def test_a_crs_without_an_epsg_code_is_registered(uris):
    crs = "+proj=tmerc +lat_0=0 +lon_0=118.5 +k=1 +x_0=500000 +y_0=0 +ellps=GRS80 +units=m +no_defs"
    ws = open_store(uris("custom"), create=True, crs=crs)
    assert ws.srid >= 940000
    g = box_grid(2, 2).set_crs(crs, allow_override=True)
    ws.publish_survey(g)
    assert shapely.equals(ws.read_parcels().geometry.values, g.geometry.values).all()
    assert open_store(uris("custom2"), create=True, crs=crs).srid == ws.srid  # registered once


# --------------------------------------------------------------------------- migrations
def test_migrations_create_upgrade_and_refuse_a_newer_schema(pg_dsn, uris, monkeypatch, tmp_path):
    u = uris("m")
    ws = open_store(u, create=True, crs="EPSG:4549")
    with _con(pg_dsn) as c:
        rows = c.execute(f'SELECT version, name FROM "{ws.schema}".planner_migrations ORDER BY version').fetchall()
    assert rows == [(v, n) for v, n, _ in migrations.migrations()]
    ws.publish_survey(box_grid(2, 2))
    before = content_fingerprint(ws)
    # a planner with one more migration upgrades the workspace when it opens it, keeping its content
    extra = (99, "add_notes", "CREATE TABLE planner_notes (id int PRIMARY KEY, note text);")
    real = migrations.migrations
    monkeypatch.setattr(migrations, "migrations", lambda: [*real(), extra])
    again = open_store(u)
    assert "planner_notes" in _tables(pg_dsn, ws.schema)
    assert content_fingerprint(again) == before
    monkeypatch.undo()
    # this planner does not know version 99: it refuses to open the workspace rather than misread it
    with pytest.raises(StoreError, match="schema version 99, newer than this planner"):
        open_store(u)


# --------------------------------------------------------------------------- reads
def test_bbox_read_uses_the_spatial_index_and_matches_the_geopackage(pg_dsn, uris, tmp_path):
    g = box_grid(60, 60, size=20.0, gap=1.0)  # 3,600 parcels
    # an L-shaped parcel whose bounding box meets the query box but whose area does not
    ell = shapely.Polygon([(499_000, 2_739_000), (499_900, 2_739_000), (499_900, 2_739_100), (499_100, 2_739_100),
                           (499_100, 2_739_990), (499_000, 2_739_990)])
    g = gpd.GeoDataFrame(g.drop(columns="geometry").assign(geometry=list(g.geometry)), geometry="geometry", crs=g.crs)
    g.loc[len(g), ["parcel_id", "geometry"]] = ["L", ell]
    pg = open_store(uris("bbox"), create=True, crs="EPSG:4549")
    gp = GpkgStore(tmp_path / "ws.gpkg", crs="EPSG:4549", create=True)
    pg.publish_survey(g)
    gp.publish_survey(g)
    box = (499_500.0, 2_739_500.0, 500_100.0, 2_740_100.0)
    a, b = pg.read_parcels(bbox=box), gp.read_parcels(bbox=box)
    assert "L" not in set(a["parcel_id"]) and 0 < len(a) < 100
    a = a.sort_values("parcel_id", ignore_index=True)  # a GeoPackage returns a box in its R-tree's order
    b = b.sort_values("parcel_id", ignore_index=True)
    assert a["parcel_id"].tolist() == b["parcel_id"].tolist()
    assert (a.dtypes.astype(str) == b.dtypes.astype(str)).all()
    assert shapely.equals(a.geometry.values, b.geometry.values).all()
    # only some columns
    c = pg.read_parcels(bbox=box, columns=["parcel_id"])
    assert list(c.columns) == ["parcel_id", "geometry"]
    table = pg.read_parcels(bbox=box).attrs["table"]
    with _con(pg_dsn) as con:
        plan = "\n".join(r[0] for r in con.execute(
            f'EXPLAIN SELECT * FROM "{pg.schema}"."{table}" WHERE ST_Intersects(geometry, '
            f"ST_MakeEnvelope({', '.join(map(str, box))}, 4549)) ORDER BY fid"))
    assert "Index Scan" in plan, plan


# --------------------------------------------------------------------------- copies
def _busy_workspace(ws) -> None:
    """Several versions (one not current), documents with versions, a rollback, odd values."""
    g = box_grid(4, 4)
    g["owner"] = ["陈氏鞋业", None, "", 'x,"y"\nz', *["a"] * 12]
    g["tax_cny"] = [1.5e5, np.nan, 0.0, 1 / 3, *range(12)]
    g["count"] = np.arange(16, dtype="int32")
    g["ok"] = [True, False] * 8
    ws.publish_survey(g, label="2023", user="alice", source_file="a.zip", sha256="ab" * 32)
    ws.publish_survey(box_grid(2, 2), label="2024", user="bob")
    ws.set_current("survey", "parcels", 1, user="carol")
    ws.write_layer("barrier", "rivers", gpd.GeoDataFrame(
        {"category": ["river"]}, geometry=[shapely.LineString([(0, 0), (10, 10)])], crs="EPSG:4549"))
    ws.write_layers([LayerWrite("sites", "default", box_grid(1, 1)),
                     LayerWrite("site_parcels", "default", box_grid(1, 2))],
                    docs=[DocWrite("policy", "default", {"min": 2, "名称": "默认"})], user="dee")
    ws.save_doc("policy", "default", {"min": 3})
    ws.save_doc("scenario", "top10", {"sites": {"top": 10}})
    ws.record("rejected_load", user="eve", source_file="bad.zip", detail="3 rows rejected")


@pytest.mark.parametrize("start", ["gpkg", "postgis"])
def test_copy_round_trip_is_loss_free(start, uris, tmp_path):
    gp_a, gp_b, pg_a, pg_b = str(tmp_path / "a.gpkg"), str(tmp_path / "b.gpkg"), uris("a"), uris("b")
    first, middle, last = (gp_a, pg_a, gp_b) if start == "gpkg" else (pg_a, gp_a, pg_b)
    _busy_workspace(open_store(first, create=True, crs="EPSG:4549"))
    original = content_fingerprint(first)
    rep = copy_workspace(first, middle)
    assert (rep.n_layers, rep.n_docs, rep.n_audit) == (5, 3, 10)
    assert content_fingerprint(middle) == original
    assert main(["workspace", "copy", middle, last]) == 0
    back = content_fingerprint(last)
    assert changed_parts(original, back) == []
    ws = open_store(last)
    assert ws.surveys()["is_current"].tolist() == [True, False]
    owner = ws.read_parcels()["owner"]
    assert owner.iloc[0] == "陈氏鞋业" and pd.isna(owner.iloc[1]) and owner.iloc[2] == "" and owner.iloc[3] == 'x,"y"\nz'
    assert ws.load_doc("policy", "default", 1) == {"min": 2, "名称": "默认"}
    # the copy carries on: a write after it gets the next audit id and version
    ws.save_doc("policy", "default", {"min": 4})
    log = ws.audit_log()
    assert log["id"].tolist() == list(range(1, 12)) and ws.docs("policy")["version"].tolist() == [1, 2, 3]


def test_copy_refuses_a_non_empty_destination_and_cleans_up_a_failed_one(uris, tmp_path, monkeypatch, capsys):
    src = str(tmp_path / "src.gpkg")
    _busy_workspace(open_store(src, create=True, crs="EPSG:4549"))
    dst = uris("full")
    open_store(dst, create=True, crs="EPSG:4549").save_doc("policy", "mine", {"a": 1})
    before = workspace_fingerprint(dst)
    assert main(["workspace", "copy", src, dst]) == 2
    assert "not empty (it holds 1 document, 1 audit row); nothing was copied" in capsys.readouterr().err
    assert changed_parts(before, workspace_fingerprint(dst)) == []
    # a copy that fails half-way leaves no half-made workspace behind
    from planner.io import _pgcopy

    real, calls = _pgcopy.csv_batches, []

    def fail_third(*a, **k):
        calls.append(1)
        if len(calls) == 3:
            raise OSError("connection lost")
        return real(*a, **k)

    monkeypatch.setattr(_pgcopy, "csv_batches", fail_third)
    fresh = uris("fresh")
    with pytest.raises(OSError):
        copy_workspace(src, fresh)
    monkeypatch.undo()
    with pytest.raises(StoreError, match="does not exist"):
        open_store(fresh)


def test_copy_into_a_workspace_holding_only_accounts_says_so(uris, tmp_path, capsys):
    """An administrator made the office's accounts first, then copied the survey in: the refusal counted layers,
    documents and audit rows ("0 layer versions, 0 documents, 1 audit rows") and its Chinese text only the first
    two ("0 个图层版本、0 个文档"), so it read as if the workspace were empty."""
    from planner.errors import message_in
    from planner.workflow import accounts as A

    src = str(tmp_path / "src.gpkg")
    open_store(src, create=True, crs="EPSG:4549").publish_survey(box_grid(2, 2))
    for dst in (str(tmp_path / "dst.gpkg"), uris("accounts")):
        assert main(["workspace", "init", dst, "--crs", "EPSG:4549"]) == 0
        A.add_user(open_store(dst), "admin", "admin", "admin-pass-1")
        A.add_user(open_store(dst), "pam", "planner", "planner-pass-1")
        capsys.readouterr()
        before = workspace_fingerprint(dst)
        assert main(["workspace", "copy", src, dst]) == 2
        err = capsys.readouterr().err
        assert "is not empty (it holds 2 accounts, 2 audit rows); nothing was copied" in err, err
        assert "layer version" not in err and "document" not in err, err
        with pytest.raises(StoreError) as caught:
            copy_workspace(src, dst)
        assert "（其中有 2 个账号、2 条审计记录），未复制任何内容" in message_in(caught.value, "zh")
        assert changed_parts(before, workspace_fingerprint(dst)) == []


def test_a_copy_of_a_database_workspace_into_itself_spelled_otherwise_is_named_the_same(pg_dsn, uris, capsys):
    """The same server, database and schema written with other URI parameters was taken for another workspace
    and refused as "not empty (7 layer versions ...)"."""
    u = uris("self")
    open_store(u, create=True, crs="EPSG:4549").publish_survey(box_grid(2, 2))
    before = workspace_fingerprint(u)
    assert main(["workspace", "copy", u, u + "&sslmode=prefer"]) == 2
    err = capsys.readouterr().err
    assert "source and destination are the same workspace" in err and "not empty" not in err, err
    assert changed_parts(before, workspace_fingerprint(u)) == []


def test_workspace_init_makes_either_kind(uris, tmp_path, capsys):
    for dst in (str(tmp_path / "new.gpkg"), uris("init")):
        assert main(["workspace", "init", dst, "--crs", "EPSG:4549"]) == 0
        assert "created workspace" in capsys.readouterr().out
        ws = open_store(dst)
        assert ws.crs.to_epsg() == 4549 and len(ws.layers()) == 0
        assert main(["workspace", "init", dst, "--crs", "EPSG:4549"]) == 2
        assert "already exists" in capsys.readouterr().err
    assert main(["workspace", "init", uris("geo"), "--crs", "EPSG:4326"]) == 2
    assert "projected" in capsys.readouterr().err


# --------------------------------------------------------------------------- the database account
def test_an_account_that_may_only_read_gets_a_clear_refusal(pg_dsn, uris):
    u = uris("ro")
    ws = open_store(u, create=True, crs="EPSG:4549")
    ws.publish_survey(box_grid(2, 2))
    with _reader_role(pg_dsn, ws.schema) as role:
        ro = open_store(_uri(pg_dsn, ws.schema, user=role, password="readonly"))
        assert len(ro.read_parcels()) == 4  # reading is allowed
        before = workspace_fingerprint(u)
        with pytest.raises(StoreError, match="lacks a privilege") as caught:
            ro.save_doc("policy", "p", {"a": 1})
        assert "readonly" not in str(caught.value)
        assert changed_parts(before, workspace_fingerprint(u)) == []


def test_a_survey_published_by_one_database_account_is_read_by_the_others(pg_dsn, uris, capsys):
    """README "Office set-up": the app runs as an account that may only read and write the schema's tables (and
    create new ones), the analyst's CLI as the schema owner, a read-only account reads. Each new survey version is
    a new table belonging to whoever published it; every other account still reads it (it used to be refused with
    "permission denied for table survey_parcels_v0002_..." on every page of the app after the analyst's publish)."""
    u = uris("acct")
    owner = open_store(u, create=True, crs="EPSG:4549")
    owner.publish_survey(box_grid(2, 2))
    schema, app = owner.schema, f"app_{uuid.uuid4().hex[:8]}"
    with _con(pg_dsn) as c:
        c.execute(f"CREATE ROLE {app} LOGIN PASSWORD 'app-pass'")
        c.execute(f'GRANT USAGE, CREATE ON SCHEMA "{schema}" TO {app}')
        c.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{schema}" TO {app}')
        c.execute(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "{schema}" TO {app}')
    app_uri = _uri(pg_dsn, schema, user=app, password="app-pass")
    try:
        with _reader_role(pg_dsn, schema) as reader:
            reader_uri = _uri(pg_dsn, schema, user=reader, password="readonly")
            owner.publish_survey(box_grid(3, 3))  # the analyst publishes v2 with the owner's account
            capsys.readouterr()
            assert main(["classify", "-w", app_uri]) == 0, capsys.readouterr().err  # the app's account reads it
            assert len(open_store(reader_uri).read_parcels()) == 9
            open_store(app_uri).publish_survey(box_grid(4, 4))  # the GIS officer publishes v3 in the app
            for who in (reader_uri, u):
                assert len(open_store(who).read_parcels()) == 16
            with _con(pg_dsn) as c:  # nothing more than the catalogue's own grants: the reader may still only read
                privs = {r[0] for r in c.execute(
                    "SELECT privilege_type FROM information_schema.role_table_grants WHERE grantee = %s "
                    "AND table_schema = %s AND table_name LIKE 'survey_parcels_v0003%%'", (reader, schema))}
            assert privs == {"SELECT"}
    finally:
        from planner.io._pgconn import close_pools

        close_pools()
        with _con(pg_dsn) as c:
            c.execute(f"DROP OWNED BY {app}")
            c.execute(f"DROP ROLE {app}")


def test_the_revision_changes_when_a_write_that_began_first_commits_last(pg_dsn, uris):
    """Saves of different documents do not wait for each other, and a write's audit row takes its number when the
    row is made, not when it commits: a store_sites commit (sites, parcel table and edits, each layer with its audit
    row) that began first can commit after a colleague's quick save with a higher number. The app keys its caches
    (documents, layers, accounts) on the revision: it must change when the slow write commits, else every page
    goes on without it (a publish, stored sites, a disabled account) until someone writes again."""
    u = uris("rev")
    ws = open_store(u, create=True, crs="EPSG:4549")
    ws.save_doc("policy", "first", {"a": 1}, user="pam")
    with _con(pg_dsn) as slow, slow.transaction():  # the slow writer: its audit row made, not committed yet
        slow.execute(f'INSERT INTO "{ws.schema}".planner_audit (ts, "user", action) VALUES (%s, %s, %s)',
                     ("2026-12-07T05:00:00+00:00", "gus", "write_survey"))
        ws.save_doc("policy", "quick", {"a": 2}, user="pia")  # a colleague's save commits meanwhile
        seen = ws.revision()  # a page run reads the workspace now and caches what it read under this
    assert ws.revision() != seen  # the slow write committed: the pages read again


# --------------------------------------------------------------------------- killed writers
_CLI = "import sys; from planner.cli import main; sys.exit(main(sys.argv[1:]))"


@pytest.fixture(scope="module")
def pg_city(tmp_path_factory, pg_dsn):
    """A 2,000-parcel sample city with flags and sites, copied into PostGIS once; and its survey update."""
    d = tmp_path_factory.mktemp("pgcity")
    base, upd = d / "base.gpkg", d / "update.zip"
    assert main(["sample-data", "--parcels", "2000", "--out", str(base), "--survey-update", str(upd)]) == 0
    assert main(["classify", "-w", str(base)]) == 0
    assert main(["sites", "-w", str(base)]) == 0
    return base, upd


def _wholly_old_or_new(ws: PostgisStore, before: dict) -> None:
    """Every layer version the catalogue lists is complete; nothing listed before changed; no stray table."""
    after = workspace_fingerprint(ws.uri)
    for k, v in before.items():
        if k.startswith("layer:"):
            assert after.get(k) == v, f"{k} changed"
    cat = ws.layers()
    for r in cat.itertuples():
        assert len(ws.read_layer(r.kind, r.name, r.version)) == r.n_rows
    tables = _tables(ws.location.conninfo, ws.schema)
    own = {"planner_meta", "planner_layers", "planner_docs", "planner_audit", "planner_migrations", "planner_writer",
           "planner_users"}
    assert tables - own == set(cat["table_name"]), "a killed write left a table behind"
    log = ws.audit_log()
    assert len(log[log["action"].isin(["publish_survey", "classify", "build_sites", "save_scenario"])]) >= 1


def _writing(dsn: str) -> bool:
    """Whether some session holds one of the planner's advisory locks (a write is under way)."""
    from planner.io._pgconn import LOCK_CLASS

    with _con(dsn) as c:
        return c.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                         "AND classid::bigint IN (%s, %s)", (LOCK_CLASS, LOCK_CLASS - 1)).fetchone()[0] > 0


def _kill_trials(pg_city, uris, command: str, trials: int, seed: int) -> None:
    """Kill the command while it writes (two trials in three) or anywhere in its run; check the workspace."""
    base, upd = pg_city
    u = uris(command)
    copy_workspace(base, u)
    ws = open_store(u)
    dsn = ws.location.conninfo
    argv = {"ingest": ["ingest", str(upd), "-w", u, "--publish-again"], "classify": ["classify", "-w", u], "sites": ["sites", "-w", u],
            "scenario": ["scenario", "run", str(ROOT / "scenarios" / "conservative_top10.toml"), "-w", u]}[command]
    t = time.monotonic()
    assert subprocess.run([sys.executable, "-c", _CLI, *argv], env=ENV, capture_output=True).returncode == 0
    total = time.monotonic() - t
    rng = random.Random(seed)
    killed = mid_write = 0
    need_mid = command != "scenario"  # a scenario saves one small document: a few ms to hit
    trial = 0
    # a short write can end before the kill: up to 4 more mid-write attempts until one lands inside a write
    while trial < trials or (need_mid and not mid_write and trial < trials + 4):
        mid_attempt = trial % 3 != 2 or trial >= trials
        trial += 1
        before = workspace_fingerprint(u)
        proc = subprocess.Popen([sys.executable, "-c", _CLI, *argv], env=ENV, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        if mid_attempt:  # wait for the write to start, then kill within its first moments
            deadline = time.monotonic() + 60
            while proc.poll() is None and not _writing(dsn) and time.monotonic() < deadline:
                time.sleep(0.002)
            time.sleep(rng.uniform(0, 0.005))  # the write may be short: kill within its first milliseconds
            mid_write += _writing(dsn)
        else:
            time.sleep(rng.uniform(0.2, 1.0) * total)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            killed += 1
        proc.wait()
        _wholly_old_or_new(ws, before)
        assert ws.lock_holder() is None  # the server let go of the dead writer's lock
        assert main(argv) == 0
    assert killed >= 1, killed
    if need_mid:
        assert mid_write >= 1, "no kill landed in the middle of a write; the trials prove nothing"


@pytest.mark.parametrize("command", ["ingest", "sites"])
def test_a_killed_writer_leaves_the_workspace_whole(pg_city, uris, command):
    _kill_trials(pg_city, uris, command, trials=2, seed=len(command))


@pytest.mark.slow
@pytest.mark.parametrize("command", ["ingest", "classify", "sites", "scenario"])
def test_a_killed_writer_leaves_the_workspace_whole_many(pg_city, uris, command):
    _kill_trials(pg_city, uris, command, trials=6, seed=100 + len(command))


def test_a_copy_killed_midway_leaves_no_workspace_behind(pg_city, pg_dsn, uris, tmp_path):
    """``planner workspace copy`` killed (SIGKILL) while it fills a new workspace: no schema or file stays.

    The new workspace's schema and tables were committed before the copy began, so a killed copy left an
    empty workspace (seven tables) where the README promises nothing; now they commit with what is copied.
    A schema made empty for the account beforehand stays, empty, as it was.
    """
    base, _ = pg_city
    for premade in (False, True):
        u = uris("killedcopy")
        schema = u.rsplit("schema=", 1)[1]
        if premade:
            with _con(pg_dsn) as c:
                c.execute(f'CREATE SCHEMA "{schema}"')
        proc = subprocess.Popen([sys.executable, "-u", "-c", _CLI, "workspace", "copy", str(base), u], env=ENV,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        for line in proc.stdout:  # layers are being copied: the transaction is open
            if line.startswith("[2/"):
                break
        assert _writing(pg_dsn), "the copy was not writing when it was killed; the trial proves nothing"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        with _con(pg_dsn) as c:
            deadline = time.monotonic() + 10  # the server notices the dead connection and rolls back
            while _writing(pg_dsn) and time.monotonic() < deadline:
                time.sleep(0.05)
            n = c.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()[0]
        assert n == int(premade)
        assert _tables(pg_dsn, schema) == set()
        # and the copy runs again from the start, whole
        assert main(["workspace", "copy", str(base), u]) == 0
        assert changed_parts(content_fingerprint(str(base)), content_fingerprint(u)) == []
    # the other way: a copy into a new GeoPackage killed midway leaves no file that looks like an empty workspace
    dst = tmp_path / "back" / "copy.gpkg"
    dst.parent.mkdir()
    proc = subprocess.Popen([sys.executable, "-u", "-c", _CLI, "workspace", "copy", u, str(dst)], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in proc.stdout:
        if line.startswith("[3/"):
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not dst.exists()
    assert main(["workspace", "copy", u, str(dst)]) == 0
    assert changed_parts(content_fingerprint(str(base)), content_fingerprint(str(dst))) == []
    assert sorted(p.name for p in dst.parent.iterdir()) == ["copy.gpkg"]  # what the killed copy left is gone


def test_an_account_without_create_on_the_database_fills_a_schema_made_for_it(pg_dsn, uris, capsys):
    """An office DBA often makes the schema for the planner's account rather than grant CREATE on the database.

    ``workspace init`` ran ``CREATE SCHEMA IF NOT EXISTS``, which PostgreSQL refuses without CREATE on the
    database even when the schema exists; the schema is now created only when it is missing.
    """
    role = f"nc_{uuid.uuid4().hex[:8]}"
    mine, other = uris("made"), uris("notmade")
    schema = mine.rsplit("schema=", 1)[1]
    with _con(pg_dsn) as c:
        c.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'nocreate'")
        c.execute(f'CREATE SCHEMA "{schema}" AUTHORIZATION {role}')
    try:
        as_role = _uri(pg_dsn, schema, user=role, password="nocreate")
        assert main(["workspace", "init", as_role, "--crs", "EPSG:4549"]) == 0, capsys.readouterr().err
        assert "created workspace" in capsys.readouterr().out
        assert open_store(as_role).save_doc("policy", "p", {"a": 1}) == 1
        # a schema nobody made for it: a clear refusal naming the privilege, and nothing made
        other_as_role = _uri(pg_dsn, other.rsplit("schema=", 1)[1], user=role, password="nocreate")
        assert main(["workspace", "init", other_as_role, "--crs", "EPSG:4549"]) == 2
        err = capsys.readouterr().err
        assert "lacks a privilege" in err and "nocreate" not in err.replace(role, "")
        # and what to grant: an administrator read only "permission denied for database postgres"
        assert f"CREATE SCHEMA {other.rsplit('schema=', 1)[1]} AUTHORIZATION" in err, err
    finally:
        from planner.io._pgconn import close_pools

        close_pools()
        drop_workspace(mine)
        with _con(pg_dsn) as c:
            c.execute(f"DROP ROLE {role}")


def test_a_writer_killed_holding_the_lock_leaves_no_name_behind(pg_dsn, uris):
    """``planner ingest`` SIGKILLed while publishing: the server releases its lock, and its holder record goes.

    The record (``planner_writer``, keyed by the server's backend pid) stayed for good; a later writer given the
    same backend pid that only shared the lock would have been named after the dead one.
    """
    u = uris("stale")
    ws = open_store(u, create=True, crs="EPSG:4549")
    hold = ("import sys, time; from planner.io.store import open_store\n"
            "with open_store(sys.argv[1]).write_lock('publish_survey'):\n"
            "    print('holding', flush=True); time.sleep(60)\n")
    p = subprocess.Popen([sys.executable, "-c", hold, u], stdout=subprocess.PIPE, text=True, env=ENV)
    assert p.stdout.readline().strip() == "holding"
    assert ws.lock_holder()["pid"] == p.pid
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    deadline = time.monotonic() + 10
    while ws.lock_holder() is not None and time.monotonic() < deadline:  # the server notices the dead session
        time.sleep(0.05)
    assert ws.lock_holder() is None
    with ws.write_lock("next"):
        with _con(pg_dsn) as c:
            rows = c.execute(f'SELECT info FROM "{ws.schema}".planner_writer').fetchall()
        assert len(rows) == 1 and '"next"' in rows[0][0]
    with _con(pg_dsn) as c:
        assert c.execute(f'SELECT count(*) FROM "{ws.schema}".planner_writer').fetchone()[0] == 0


def test_mixed_polygons_and_multipolygons_read_back_alike_and_copy_unchanged(uris, tmp_path, monkeypatch):
    """A survey whose parcels are polygons and a few multipolygons, published on each backend and copied between.

    A GeoPackage stores such a layer as multipolygons; PostGIS kept them mixed, so the same publish read back
    differently on the two backends, and a PostGIS workspace copied to a GeoPackage and back was not the same
    (``content_fingerprint`` differed on every layer ``planner ingest`` / ``classify`` / ``sites`` had written).
    """
    g = box_grid(3, 3)
    g.loc[4, "geometry"] = shapely.MultiPolygon([g.geometry.iloc[4], shapely.box(0, 0, 1, 1)])
    pg, gp = open_store(uris("mixed"), create=True, crs="EPSG:4549"), GpkgStore(tmp_path / "ws.gpkg", crs="EPSG:4549",
                                                                                 create=True)
    for ws in (pg, gp):
        ws.publish_survey(g)
    a, b = pg.read_parcels(), gp.read_parcels()
    assert a.geometry.geom_type.tolist() == b.geometry.geom_type.tolist() == ["MultiPolygon"] * 9
    assert shapely.equals(a.geometry.values, b.geometry.values).all()
    # a workspace written before, holding the mixed layer: copied there and back exactly as it is
    from planner.io import _pgcopy

    monkeypatch.setattr(_pgcopy, "promote_mixed", lambda geoms: geoms)
    legacy = open_store(uris("legacy"), create=True, crs="EPSG:4549")
    legacy.publish_survey(g)
    monkeypatch.undo()
    assert sorted(set(legacy.read_parcels().geometry.geom_type)) == ["MultiPolygon", "Polygon"]
    for start in (pg.uri, legacy.uri):
        original = content_fingerprint(start)
        middle, back = str(tmp_path / f"{uuid.uuid4().hex[:6]}.gpkg"), uris("back")
        copy_workspace(start, middle)
        copy_workspace(middle, back)
        assert changed_parts(original, content_fingerprint(middle)) == []
        assert changed_parts(original, content_fingerprint(back)) == []


def test_two_copies_into_the_same_new_schema_at_once_one_copies_the_other_is_refused(pg_city, uris):
    """Two administrators copy into the same new schema at the same moment: one copy, one refusal in words.

    The second one's ``CREATE SCHEMA IF NOT EXISTS`` failed with a traceback (``duplicate key value violates unique
    constraint "pg_namespace_nspname_index"``) when the first committed.
    """
    base, _ = pg_city
    u = uris("twice")
    procs = [subprocess.Popen([sys.executable, "-c", _CLI, "workspace", "copy", str(base), u], env=ENV,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = sorted((p.wait(timeout=300), *p.communicate()) for p in procs)
    (rc0, out0, _), (rc1, _, err1) = results
    assert (rc0, rc1) == (0, 2), results
    assert "copied" in out0 and "Traceback" not in err1
    assert "created meanwhile by someone else" in err1 or "not empty" in err1, err1
    assert changed_parts(content_fingerprint(str(base)), content_fingerprint(u)) == []


def test_a_copy_into_a_schema_of_other_tables_is_refused_naming_why(pg_dsn, uris, tmp_path, capsys):
    """``workspace copy`` into a schema holding someone else's tables said "already exists; copy into a new or
    empty one" (the store says why: not a planner workspace, name another schema); the tables stay as they were."""
    src = str(tmp_path / "src.gpkg")
    open_store(src, create=True, crs="EPSG:4549").publish_survey(box_grid(2, 2))
    u = uris("foreign")
    schema = u.rsplit("schema=", 1)[1]
    with _con(pg_dsn) as c:
        c.execute(f'CREATE SCHEMA "{schema}"')
        c.execute(f'CREATE TABLE "{schema}".roads (id int)')
    assert main(["workspace", "copy", src, u]) == 2
    assert "not a planner workspace" in capsys.readouterr().err
    assert _tables(pg_dsn, schema) == {"roads"}
