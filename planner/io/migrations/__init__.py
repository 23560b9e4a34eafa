"""Versioned schema migrations of a PostGIS workspace (plain SQL files beside this module).

Each file ``NNNN_name.sql`` is one migration; :func:`apply_migrations` runs
the ones a workspace schema has not had yet, in order, each recorded in the
schema's ``planner_migrations`` table, inside the caller's transaction (so a
workspace is created or upgraded whole or not at all) and with
``search_path`` set to the workspace schema, so the files use plain table
names and one database can hold several workspaces.

A runner of our own rather than a migration library: the workspace's
migrations must run inside the same transaction and under the same advisory
lock as the rest of the store's writes, in a schema named at run time, and
they are a handful of forward-only SQL files. yoyo-migrations (the lightest
well-kept candidate) opens its own connections, keeps four tables of its own
in every schema and locks by polling a table.
"""

from __future__ import annotations

import re
from importlib import resources

from planner.errors import StoreError

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


def migrations() -> list[tuple[int, str, str]]:
    """``(version, name, sql)`` of every migration shipped with the package, in order."""
    out = []
    for entry in resources.files(__name__).iterdir():
        m = _NAME.match(entry.name)
        if m:
            out.append((int(m.group(1)), m.group(2), entry.read_text(encoding="utf-8")))
    return sorted(out)


def latest_version() -> int:
    """The schema version this planner writes."""
    return migrations()[-1][0]


def applied_versions(con, schema: str) -> list[int]:
    """Versions recorded in ``schema.planner_migrations`` (empty when the table is absent)."""
    from psycopg import sql

    (exists,) = con.execute("SELECT to_regclass(%s) IS NOT NULL",
                            (f'"{schema}".planner_migrations',)).fetchone()
    if not exists:
        return []
    q = sql.SQL("SELECT version FROM {}.planner_migrations ORDER BY version").format(sql.Identifier(schema))
    return [int(r[0]) for r in con.execute(q).fetchall()]


def apply_migrations(con, schema: str, where: str) -> list[int]:
    """Run the migrations ``schema`` lacks, inside ``con``'s open transaction; return the versions run.

    The caller holds the workspace's writer lock. A schema written by a newer
    planner (a version this one does not know) is refused, naming ``where``.
    """
    from psycopg import sql

    done = applied_versions(con, schema)
    known = {v for v, _, _ in migrations()}
    newer = [v for v in done if v not in known]
    if newer:
        msg = (f"workspace {where} has schema version {max(newer)}, newer than this planner knows "
               f"({latest_version()}); upgrade planner to open it")
        raise StoreError(msg, zh=f"工作空间 {where} 的数据库结构版本 {max(newer)} 高于本程序支持的版本 "
                                 f"{latest_version()}，请升级 planner")
    con.execute("SELECT set_config('search_path', %s, true)",
                (f'"{schema}", ' + con.execute("SELECT current_setting('search_path')").fetchone()[0],))
    con.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {}.planner_migrations (version integer PRIMARY KEY, "
                        "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())")
                .format(sql.Identifier(schema)))
    ran = []
    for version, name, text in migrations():
        if version in done:
            continue
        try:
            con.execute(text)
        except Exception as exc:
            raise _failed(exc, where, version, name) from exc
        con.execute(sql.SQL("INSERT INTO {}.planner_migrations (version, name) VALUES (%s, %s)")
                    .format(sql.Identifier(schema)), (version, name))
        ran.append(version)
    return ran


def _failed(exc: Exception, where: str, version: int, name: str) -> Exception:
    """The error a migration that failed on the server raises: which one, the server's words, what to do.

    Errors a user acts on the same way whatever runs (a missing privilege, a full disk, a read-only or lost
    server) pass on to the caller's :func:`planner.io._pgconn.pg_errors`, which says them in words.
    """
    import psycopg
    from psycopg import errors as E

    if not isinstance(exc, psycopg.Error) or isinstance(
            exc, E.InsufficientPrivilege | E.DiskFull | E.ReadOnlySqlTransaction | psycopg.OperationalError):
        return exc
    from planner.io._pgconn import _first

    file = f"{version:04d}_{name}.sql"
    said = _first(exc)
    msg = (f"workspace {where}: upgrading its tables to this planner's (migration {file}) failed; the server says: "
           f"{said}. Nothing was changed: the upgrade is one transaction, and the workspace still opens with the "
           f"planner that last wrote it. Its tables may have been changed outside planner: ask the database "
           f"administrator to compare its schema with planner/io/migrations/{file}, or to restore it from a backup, "
           "then open it again")
    zh = (f"工作空间 {where}：升级数据表结构（迁移 {file}）失败，服务器提示：“{said}”。未做任何修改：升级在一个事务中完成，"
          f"上次写入它的 planner 版本仍可打开该工作空间。其数据表可能在 planner 之外被改动过：请数据库管理员将其 schema 与 "
          f"planner/io/migrations/{file} 对照，或从备份恢复，然后再打开")
    return StoreError(msg, zh=zh)
