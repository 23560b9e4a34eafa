"""PostGIS test helper: a connection to a local PostgreSQL with PostGIS, or a clean skip.

The server is found through ``PLANNER_PG_DSN`` (default
``postgresql://postgres@localhost/planner_test``). When the database in the
DSN does not exist it is created (through the server's ``postgres``
database), and the ``postgis`` extension is created if needed. When no server
answers, or PostGIS is not installed, the test is skipped with the reason.

Use it as a fixture: ``from postgis import pg  # noqa: F401`` in a test
module, then ``def test_x(pg): pg.execute(...)``.
"""

from __future__ import annotations

import os

import pytest

DEFAULT_DSN = "postgresql://postgres@localhost/planner_test"


def dsn() -> str:
    return os.environ.get("PLANNER_PG_DSN", DEFAULT_DSN)


def _connect_or_create(url: str):
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        info = conninfo_to_dict(url)
        db = info.get("dbname")
        if not db or "does not exist" not in str(exc):
            raise
        with psycopg.connect(make_conninfo(url, dbname="postgres"), autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'CREATE DATABASE "{db}"')
        return psycopg.connect(url, autocommit=True, connect_timeout=5)


def connect():
    """An autocommit psycopg connection with PostGIS, or ``pytest.skip`` with the reason."""
    try:
        import psycopg
    except ImportError:
        pytest.skip("psycopg is not installed (pip install 'psycopg[binary]')")
    url = dsn()
    try:
        con = _connect_or_create(url)
    except psycopg.Error as exc:
        pytest.skip(f"no PostgreSQL server reachable at PLANNER_PG_DSN={url!r}: {str(exc).strip().splitlines()[0]} "
                    "(start one, e.g. `pg_ctlcluster 15 main start`, and set PLANNER_PG_DSN)")
    try:
        # parallel test workers on a fresh cluster: one creates the extension, the others wait for it
        # (CREATE EXTENSION IF NOT EXISTS alone races: "duplicate key value violates unique constraint")
        with con.transaction():
            con.execute("SELECT pg_advisory_xact_lock(hashtext('planner-tests-create-postgis'))")
            con.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    except psycopg.Error as exc:
        con.close()
        pytest.skip(f"PostgreSQL at {url!r} has no PostGIS: {str(exc).strip().splitlines()[0]} "
                    "(install postgresql-15-postgis-3)")
    return con


@pytest.fixture
def pg():
    """Fixture: a psycopg connection (autocommit) to a PostGIS database; skips when absent."""
    con = connect()
    try:
        yield con
    finally:
        con.close()
