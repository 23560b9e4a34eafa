"""Connections to a PostGIS workspace: the URI, a pool per server, errors in words, the writer lock.

Private helper of :mod:`planner.io.postgis`.

- :func:`parse_uri`: ``postgresql://user:password@host:port/db?schema=name``
  into what psycopg connects with, the workspace schema and the name every
  message shows, ``db/schema`` (README: never the host or the password; only a
  server that cannot be reached is named by its host and port).
- :func:`connection`: a pooled connection (one ``psycopg_pool`` pool per
  server and process, shared by every store opened on it, so the app's
  many short reads do not each pay for a new login).
- :func:`pg_errors`: a server that cannot be reached, an account without the
  right, a full disk and a lock waited for too long become a
  :class:`~planner.errors.StoreError` saying what to do.
- :class:`AdvisoryLock`: the workspace's writer lock, a PostgreSQL advisory
  lock. Holding it (:meth:`PostgisStore.write_lock
  <planner.io.postgis.PostgisStore.write_lock>`) excludes every other writer;
  each single write takes it shared and locks only the layer or document it
  writes, so two colleagues saving different scenarios do not wait for each
  other while a survey being published excludes both. The lock belongs to a
  server session: a writer that dies releases it with its connection.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import re
import socket
import threading
from collections.abc import Iterator
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from planner.errors import StoreError
from planner.i18n import DEFAULT_DB
from planner.io.lock import describe_holder, holder_record, seconds_text, tell_waiting, user_name

_log = logging.getLogger("planner.store")

#: Workspace schema when the URI names none.
DEFAULT_SCHEMA = "planner"
_SCHEMA_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
#: First key of every advisory lock the planner takes (the second one names the workspace, layer or document).
LOCK_CLASS = 0x504C4E52 & 0x7FFFFFFF  # "PLNR"
_NAME_CLASS = LOCK_CLASS - 1


def is_postgres_uri(uri) -> bool:
    return str(uri).startswith(("postgresql://", "postgres://"))


@dataclasses.dataclass(frozen=True)
class PgLocation:
    """Where a PostGIS workspace lives."""

    conninfo: str = dataclasses.field(repr=False)  # holds the password
    schema: str
    #: The workspace as every message, log line and page names it: ``database/schema`` (no host, no password).
    display: str
    dbname: str
    #: ``host:port`` as the URI gives them (no user, no password): named only when the server cannot be reached.
    server: str = ""


#: Passwords met in workspace URIs by this process: taken out of any driver message shown (:func:`redact`).
_SECRETS: set[str] = set()


def redact(text: str) -> str:
    """``text`` with every password of a workspace URI this process opened replaced by ``***``."""
    for secret in sorted(_SECRETS, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


_SCHEME = re.compile(r"^(\s*[A-Za-z][A-Za-z0-9+.-]*:/*)(.*)$", re.DOTALL)


def without_credentials(text: str) -> str:
    """An address as a message may show it, whatever its scheme: its user, password, host and port become ``…``.

    For addresses that are not a workspace URI (a mistyped scheme, ``postgresql+psycopg://``, one slash): the
    scheme (what is wrong) and the database stay, as README promises for a workspace (``database/schema``).

    Examples
    --------
    >>> without_credentials("PostgreSQL://ann:s3:c/r@t@db/office?schema=a")
    'PostgreSQL://…/office?schema=a'
    >>> without_credentials("pg://db.office:5432/x"), without_credentials("ws.gpkg"), without_credentials("C:/d/ws.shp")
    ('pg://…/x', 'ws.gpkg', 'C:/d/ws.shp')
    """
    m = _SCHEME.match(text)
    if m is None or len(m.group(1).strip().split(":", 1)[0]) < 2 or not m.group(1).endswith("/"):
        return text  # no scheme (a file, a Windows drive letter)
    rest = m.group(2).rpartition("@")[2]  # a password may hold "/": the host part starts after the last "@"
    path = rest[rest.find("/"):] if "/" in rest else ""
    return m.group(1) + "…" + path


def _credentials(s: str) -> tuple[str, str, str | None, str]:
    """``(scheme, user, password or None, rest)`` of a URI, split at the *last* ``@``.

    A password copied into a URI as it is may hold ``/``, ``?``, ``#``, ``[``
    or ``@``, which a URL parser takes for the path, query, fragment or an
    IPv6 host: the password would then be shown as the host or the database.
    Everything before the last ``@`` is the user and password, so whatever
    the password holds it never reaches ``rest``.
    """
    scheme, _, rest = s.partition("://")
    userinfo, at, hostpart = rest.rpartition("@")
    if not at:
        return scheme, "", None, rest
    user, colon, password = userinfo.partition(":")
    return scheme, unquote(user), unquote(password) if colon else None, hostpart


def parse_uri(uri) -> PgLocation:
    """Split a workspace URI into the connection string, the schema and a password-free form.

    The password may be percent-encoded or written as it is (``/``, ``?``,
    ``#`` and ``@`` in it are understood, and never shown).

    Examples
    --------
    >>> loc = parse_uri("postgresql://ann:secret@db.local:5432/office?schema=jinjiang&sslmode=require")
    >>> loc.schema, loc.display, loc.server
    ('jinjiang', 'office/jinjiang', 'db.local:5432')
    >>> loc.conninfo
    'postgresql://ann:secret@db.local:5432/office?sslmode=require'
    >>> parse_uri("postgresql://ann:se/cr?e#t@db.local/office?schema=a").display
    'office/a'
    """
    scheme, user, password, hostpart = _credentials(str(uri))
    try:
        parts = urlsplit("postgresql://" + hostpart)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        address, _, q = hostpart.partition("?")
        host, _, db = address.partition("/")
        named = [v for k, v in parse_qsl(q, keep_blank_values=True) if k == "schema"]
        shown = f"{unquote(db) or _DEFAULT_DB}/{named[-1] if named else DEFAULT_SCHEMA}"
        detail = redact(str(exc))
        msg = (f"workspace {shown}: not a valid database address: its host and port {host!r} cannot be read "
               f"({detail}); write it as postgresql://USER@HOST:PORT/DATABASE?schema=NAME, the port a number "
               "(a password with special characters may be percent-encoded, or kept out of the URI in "
               "~/.pgpass or PGPASSWORD)")
        raise StoreError(msg, zh=f"工作空间 {shown}：数据库地址格式无效：无法识别其中的主机和端口 {host!r}"
                                 f"（解析器提示：“{detail}”）；请写成 postgresql://用户@主机:端口/数据库?schema=名称，"
                                 "端口须为数字（密码含特殊字符时可做百分号编码，或放在 ~/.pgpass 或 PGPASSWORD 中，"
                                 "不写进地址）") from None
    query = parse_qsl(parts.query, keep_blank_values=True)
    shown_anyway = {user, parts.hostname, unquote(parts.path.lstrip("/"))}  # a password equal to these is shown anyway
    _SECRETS.update(v for v in (password, *(v for k, v in query if k == "password")) if v and v not in shown_anyway)
    schemas = [v for k, v in query if k == "schema"]
    rest = [(k, v) for k, v in query if k != "schema"]
    schema = schemas[-1] if schemas else DEFAULT_SCHEMA
    dbname = unquote(parts.path.lstrip("/")) or _DEFAULT_DB
    display = f"{dbname}/{schema}"
    if not _SCHEMA_RE.match(schema):
        msg = (f"workspace {display}: schema name {schema!r} must be lower-case letters, digits and _ "
               "(starting with a letter or _), at most 63 characters; name another one with ?schema=...")
        raise StoreError(msg, zh=f"工作空间 {display}：schema 名称 {schema!r} 无效：只能由小写字母、数字和下划线组成"
                                 "（以字母或下划线开头，最多 63 个字符）；请用 ?schema=... 另取一个名称")
    if schema.startswith("pg_") or schema == "information_schema":
        msg = (f"workspace {display}: schema {schema!r} is one of PostgreSQL's own (pg_..., information_schema); "
               "name another one with ?schema=...")
        raise StoreError(msg, zh=f"工作空间 {display}：schema {schema!r} 是 PostgreSQL 的系统 schema（pg_...、"
                                 "information_schema）；请用 ?schema=... 另取一个名称")
    secret = "" if password is None else ":" + quote(password, safe="")
    netloc = (quote(user, safe="") + secret + "@" if user or password is not None else "") + parts.netloc
    conninfo = urlunsplit((scheme, netloc, parts.path, urlencode(rest), ""))
    server = f"{parts.hostname or 'localhost'}:{parts.port or 5432}" if parts.hostname or parts.port else ""
    return PgLocation(conninfo=conninfo, schema=schema, display=display, dbname=dbname, server=server)


#: The database of a URI that names none (the server then takes the user's name); Chinese messages say
#: ``DEFAULT_DB["zh"]`` (:class:`planner.errors.PlannerError` puts it there).
_DEFAULT_DB = DEFAULT_DB["en"]


def shown_name(uri) -> str:
    """A PostGIS workspace as the app and the CLI name it: ``database/schema`` (README, "The URI").

    Examples
    --------
    >>> shown_name("postgresql://gis:s3cret@db.office:5432/planner?schema=jinjiang")
    'planner/jinjiang'
    """
    return parse_uri(uri).display


def key_of(*names: str) -> int:
    """A stable non-negative 31-bit key for an advisory lock."""
    digest = hashlib.sha256("\x00".join(names).encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def application_name() -> str:
    """What the server shows for our connections (``pg_stat_activity``): user, host, process."""
    return f"planner {user_name()}@{socket.gethostname()} pid {os.getpid()}"[:63]


# --------------------------------------------------------------------------- errors
@contextlib.contextmanager
def pg_errors(loc: PgLocation | str, what: str) -> Iterator[None]:
    """Turn the database errors a user can act on into a :class:`StoreError` naming the workspace, in both languages.

    ``loc``: the workspace (a :class:`PgLocation`; a plain name is taken as its display). The message says in
    words what went wrong and what to do; the server's own text follows as a quoted detail.
    """
    import psycopg
    from psycopg import errors as E

    from planner.i18n import db_action_zh

    display = loc.display if isinstance(loc, PgLocation) else str(loc)
    server = loc.server if isinstance(loc, PgLocation) else ""
    wzh = db_action_zh(what)
    try:
        yield
    except StoreError:
        raise
    except E.InsufficientPrivilege as exc:
        d = _first(exc)
        need, need_zh = _privilege_needed(what, loc.schema if isinstance(loc, PgLocation) else "SCHEMA")
        msg = (f"workspace {display}: the database account lacks a privilege for {what} (the server says: {d}). "
               f"Nothing was changed. Ask the database administrator to grant it: {need} (README, 'Office set-up')")
        raise StoreError(msg, zh=f"工作空间 {display}：数据库账号权限不足，无法{wzh}（服务器提示：“{d}”），未做任何修改。"
                                 f"请联系数据库管理员授予权限：{need_zh}（见 README“Office set-up”）") from exc
    except E.DiskFull as exc:
        msg = f"workspace {display}: the database server's disk is full while {what}; nothing was changed. Free space on the server and run it again"
        raise StoreError(msg, zh=f"工作空间 {display}：{wzh}时数据库服务器磁盘已满，未做任何修改。请清理服务器磁盘空间后重试") from exc
    except E.ReadOnlySqlTransaction as exc:
        msg = f"workspace {display}: the database is read-only (a standby server?) while {what}; nothing was changed"
        raise StoreError(msg, zh=f"工作空间 {display}：{wzh}时数据库为只读（备用服务器？），未做任何修改。"
                                 "请改连主服务器") from exc
    except psycopg.OperationalError as exc:
        en, zh = _unreachable(display, server, what, wzh, _first(exc))
        raise StoreError(en, zh=zh) from exc


def _privilege_needed(what: str, schema: str) -> tuple[str, str]:
    """What the account needs for ``what`` (README, "What the account needs"), in English and Chinese.

    Examples
    --------
    >>> _privilege_needed("reading the workspace", "jinjiang")[0]
    'the account needs USAGE on schema jinjiang and SELECT on its tables to read it'
    """
    if what == "creating the workspace":
        return (f"the account needs CREATE on the database, or a schema made for it "
                f"(CREATE SCHEMA {schema} AUTHORIZATION the_account)",
                f"该账号需要数据库的 CREATE 权限，或为它建好的 schema（CREATE SCHEMA {schema} AUTHORIZATION 该账号）")
    if what in ("opening the workspace", "reading the workspace", "looking up the writer"):
        return (f"the account needs USAGE on schema {schema} and SELECT on its tables to read it",
                f"读取需要 schema {schema} 的 USAGE 权限及其中数据表的 SELECT 权限")
    return (f"to write, the account needs to own schema {schema}'s tables or have INSERT, UPDATE, DELETE on them "
            "and CREATE on the schema",
            f"写入需要拥有 schema {schema} 中的数据表，或对其有 INSERT、UPDATE、DELETE 权限及该 schema 的 CREATE 权限")


#: Why a connection failed, from the driver's text: (pattern, English, Chinese); ``{server}`` is host:port.
_CONNECT_CAUSES = (
    (r"Peer authentication failed",
     "the server takes this user over its local socket only for the same system user: give the host in the URI "
     "(postgresql://USER@localhost/...) or ask the database administrator",
     "服务器只允许同名的系统用户经本机套接字以该用户登录：请在地址中写明主机（postgresql://用户@localhost/...），"
     "或联系数据库管理员"),
    (r"password authentication failed|authentication failed for user|no password supplied",
     "the server refused the user name or password: check the URI's user and password (or ~/.pgpass, PGPASSWORD)",
     "服务器拒绝了用户名或密码：请检查地址中的用户名和密码（或 ~/.pgpass、PGPASSWORD）"),
    (r'role ".*" does not exist',
     "the server has no such user: check the URI's user name, or ask the database administrator to create it",
     "服务器上没有这个用户：请检查地址中的用户名，或请数据库管理员创建该账号"),
    (r'database ".*" does not exist',
     "the server has no such database: check the URI's database name, or ask the database administrator to create it",
     "服务器上没有这个数据库：请检查地址中的数据库名，或请数据库管理员创建它"),
    (r"no pg_hba\.conf entry|not permitted to log in|too many connections",
     "the server does not let this account in from here now: ask the database administrator",
     "服务器目前不允许该账号从此处登录：请联系数据库管理员"),
    (r"Connection refused|No such file or directory",
     "no database server answers at {server}: check that it runs and the URI's host and port",
     "{server} 上没有数据库服务器应答：请检查服务器是否在运行，以及地址中的主机和端口"),
    (r"resolve host|translate host name|Name or service not known",
     "the host name {host} is not known: check the URI's host",
     "无法识别主机名 {host}：请检查地址中的主机名"),
    (r"timeout expired|timed out",
     "the server at {server} did not answer within 10 s: check the host and port, and that no firewall is in the way",
     "{server} 上的服务器 10 秒内没有应答：请检查主机和端口，以及防火墙设置"),
    (r"SSL|sslmode|invalid connection option|invalid .* value",
     "the URI's connection parameters (sslmode ...) do not suit this server: check them (README, 'Office set-up')",
     "地址中的连接参数（sslmode 等）与该服务器不符：请检查这些参数（见 README“Office set-up”）"),
)
_SERVER_AT = re.compile(r'^(connection failed: )?connection to server (at "[^"]*", port \d+|on socket "[^"]*") failed: '
                        r"(FATAL: +)?")


def _unreachable(display: str, server: str, what: str, wzh: str, detail: str) -> tuple[str, str]:
    """The English and Chinese message for a database that cannot be reached or refuses the login.

    Only here is the server named (``host:port``, never the user or password): which server was tried is what
    the GIS officer needs to check (README, "The URI").

    Examples
    --------
    >>> en, zh = _unreachable("office/a", "db:5499", "opening the workspace", "打开工作空间",
    ...                       'connection failed: connection to server at "10.0.0.9", port 5499 failed: Connection refused')
    >>> en.split(";")[0]
    "workspace office/a: cannot connect to the database while opening the workspace: no database server answers at db:5499: check that it runs and the URI's host and port"
    >>> zh.split("。")[0]
    '工作空间 office/a：打开工作空间时无法连接数据库：db:5499 上没有数据库服务器应答：请检查服务器是否在运行，以及地址中的主机和端口'
    """
    detail = _SERVER_AT.sub("", detail)
    where = server or "the local server"
    where_zh = server or "本机"
    for pattern, en, zh in _CONNECT_CAUSES:
        if re.search(pattern, detail):
            host = where.rpartition(":")[0] or where
            en, zh = en.format(server=where, host=host), zh.format(server=where_zh, host=host)
            break
    else:
        en = (f"check that the server at {where} runs and the URI's host, port, database, user and password "
              "(PLANNER_WORKSPACE or --workspace; a password can also come from ~/.pgpass or PGPASSWORD)")
        zh = f"请检查 {where_zh} 上的服务器是否在运行，以及地址中的主机、端口、数据库名、用户名和密码"
    return (f"workspace {display}: cannot connect to the database while {what}: {en}; nothing was changed "
            f"(details: {detail})",
            f"工作空间 {display}：{wzh}时无法连接数据库：{zh}。未做任何修改（详细信息：“{detail}”）")


def _first(exc: BaseException) -> str:
    lines = redact(str(exc)).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _connect(loc: PgLocation, **kw):
    """A new connection; parameters of the URI the driver does not take are refused in words."""
    import psycopg

    try:
        return psycopg.connect(loc.conninfo, connect_timeout=10, application_name=application_name(), **kw)
    except psycopg.OperationalError:
        raise
    except psycopg.ProgrammingError as exc:  # libpq could not parse the connection string
        d = _first(exc)
        msg = (f"workspace {loc.display}: the URI's connection parameters are not valid (the driver says: {d}); see "
               "README 'Office set-up' for the form postgresql://USER@HOST:PORT/DATABASE?schema=NAME&sslmode=...")
        raise StoreError(msg, zh=f"工作空间 {loc.display}：地址中的连接参数无效（驱动提示：“{d}”）；请按 README“Office set-up”"
                                 "的写法 postgresql://用户@主机:端口/数据库?schema=名称&sslmode=... 修改") from None


# --------------------------------------------------------------------------- pools
_POOLS: dict[str, object] = {}
_POOLS_LOCK = threading.Lock()


def _pool(loc: PgLocation):
    pool = _POOLS.get(loc.conninfo)
    if pool is not None:
        return pool
    with _POOLS_LOCK:
        pool = _POOLS.get(loc.conninfo)
        if pool is None:
            from psycopg_pool import ConnectionPool

            with pg_errors(loc, "opening the workspace"):  # a clear error now, not a pool timeout later
                _connect(loc).close()
            pool = ConnectionPool(
                loc.conninfo, min_size=1, max_size=int(os.environ.get("PLANNER_PG_POOL_SIZE", "8")),
                kwargs={"application_name": application_name(), "connect_timeout": 10},
                check=ConnectionPool.check_connection, max_idle=120, timeout=60, name="planner", open=True,
            )
            _POOLS[loc.conninfo] = pool
    return pool


@atexit.register
def close_pools() -> None:
    """Close every pool of this process (at exit, and in tests)."""
    with _POOLS_LOCK:
        pools = list(_POOLS.values())
        _POOLS.clear()
    for p in pools:
        with contextlib.suppress(Exception):
            p.close(timeout=2)


@contextlib.contextmanager
def connection(loc: PgLocation, what: str) -> Iterator:
    """A pooled connection; its transaction commits when the block ends without an error."""
    from psycopg_pool import PoolTimeout

    from planner.i18n import db_action_zh

    with pg_errors(loc, what):
        try:
            with _pool(loc).connection() as con:
                yield con
        except PoolTimeout as exc:
            msg = (f"workspace {loc.display}: no free database connection after 60 s while {what} (the server is "
                   "busy or PLANNER_PG_POOL_SIZE is too small); nothing was changed")
            raise StoreError(msg, zh=f"工作空间 {loc.display}：{db_action_zh(what)}时 60 秒内没有可用的数据库连接（服务器"
                                     "繁忙，或 PLANNER_PG_POOL_SIZE 太小），未做任何修改") from exc


# --------------------------------------------------------------------------- the writer lock
#: Workspaces whose writer lock this thread holds: key -> [connection, depth].
_held = threading.local()


def held_connection(loc: PgLocation):
    """The connection holding this workspace's writer lock in this thread, or None."""
    return getattr(_held, "map", {}).get((loc.conninfo, loc.schema), [None])[0]


def holder(con, loc: PgLocation, lock: tuple[int, int] | None = None) -> dict | None:
    """Who holds (or shares) the workspace's writer lock: user, host, pid, command, action, since.

    ``lock``: another advisory lock's two keys (one document's, :func:`write_lock` with a ``name``).
    """
    from psycopg import sql

    q = sql.SQL(
        "SELECT l.pid, l.mode, w.info, a.usename, a.client_addr::text, a.application_name, a.xact_start "
        "FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid "
        "LEFT JOIN {}.planner_writer w ON w.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.classid::bigint = %s AND l.objid::bigint = %s "
        "AND l.objsubid = 2 ORDER BY l.mode LIMIT 1").format(sql.Identifier(loc.schema))
    row = con.execute(q, lock or (LOCK_CLASS, key_of(loc.schema))).fetchone()
    if row is None:
        return None
    pid, _mode, info, usename, addr, app, since = row
    if info:
        with contextlib.suppress(ValueError):
            return json.loads(info)
    return {"user": usename, "host": addr or "the database server", "pid": pid, "command": app,
            "action": None, "since": since.isoformat(timespec="seconds") if since else None}


#: Who holds the lock when the holder recorded nothing: (English, Chinese).
_NOBODY = ("another writer (it recorded no details)", "另一个写入者（未记录详情）")
_SAME_DOC = ("another writer of the same layer or document", "同一图层或文档的另一个写入者")


def holder_text(h: dict | None, lang: str = "en", nobody: tuple[str, str] = _NOBODY) -> str:
    return describe_holder(h, nobody[0], lang=lang, nobody_zh=nobody[1])


def timeout_error(loc: PgLocation, timeout: float, h: dict | None, nobody: tuple[str, str] = _NOBODY) -> StoreError:
    """The refusal of a write that waited ``timeout`` s for the holder ``h`` (a holder record, or None)."""
    waited = seconds_text(timeout)
    msg = (f"workspace {loc.display} is being written by {holder_text(h, 'en', nobody)}; gave up after waiting "
           f"{waited} s. Nothing was written: try again when it is done, or wait longer (PLANNER_LOCK_TIMEOUT=SECONDS)")
    return StoreError(msg, zh=f"工作空间 {loc.display} 正在被 {holder_text(h, 'zh', nobody)} 写入；已等待 {waited} 秒"
                              "后放弃，未写入任何内容。请稍后重试，或延长等待时间（PLANNER_LOCK_TIMEOUT=秒数）")


def _holder_now(loc: PgLocation, lock: tuple[int, int] | None = None) -> dict | None:
    try:
        with direct_connection(loc, "looking up the writer", autocommit=True) as c2:
            return holder(c2, loc, lock)
    except Exception:  # the message matters more than the details
        return None


def _wait_lock(con, loc: PgLocation, timeout: float, try_sql: str, wait_sql: str, args: tuple) -> None:
    """Take an advisory lock: at once if free, else say who holds it and wait up to ``timeout`` seconds."""
    from psycopg import errors as E

    if con.execute(try_sql, args).fetchone()[0]:
        return
    h = _holder_now(loc, args)  # the holder of this lock: the whole workspace's, or one document's
    _log.warning("workspace %s is being written by %s; waiting up to %s s for it",
                 loc.display, holder_text(h), seconds_text(timeout))
    over = tell_waiting(h, timeout)  # the app shows it to the person whose write waits
    con.execute(f"SET{' LOCAL' if not con.autocommit else ''} lock_timeout = {max(1, int(timeout * 1000))}")
    try:
        con.execute(wait_sql, args)
    except E.LockNotAvailable as exc:
        over(False)
        raise timeout_error(loc, timeout, _holder_now(loc, args)) from exc
    except BaseException:
        over(False)
        raise
    over(True)
    if con.autocommit:
        con.execute("SET lock_timeout = 0")


@contextlib.contextmanager
def direct_connection(loc: PgLocation, what: str, *, autocommit: bool = False) -> Iterator:
    """A connection of its own (not from the pool), closed afterwards: for writes, which may wait for a lock.

    A write waiting for the writer lock must not hold one of the pool's
    connections: the holder may need the pool to finish (readers and the
    holder would starve each other).
    """

    with pg_errors(loc, what):
        con = _connect(loc, autocommit=autocommit)
    try:
        with pg_errors(loc, what):
            yield con
    finally:
        con.close()


@contextlib.contextmanager
def write_lock(loc: PgLocation, timeout: float, action: str | None, name: tuple[str, ...] | None = None,
               account: str | None = None) -> Iterator:
    """Hold the workspace's writer lock, re-entrant in one thread; yield its connection.

    ``name`` None: the whole workspace, exclusively (a read-modify-write such
    as a publish). ``name`` given (``("doc", kind, name)``): that one layer or
    document only, so a check-then-save of one document waits only for writers
    of the same document (a publish of the survey does not hold it up, nor it
    the publish). Writes made in the block use the lock's connection. A
    block nested in another one of the same thread joins it, taking on its
    connection the lock of a ``name`` it does not hold yet (released when the
    nested block ends): a document checked inside another one's block is
    locked as it would be alone. Several names held together are taken in
    one order (:meth:`planner.io.postgis.PostgisStore.document_locks`). The
    locks belong to the connection: closing it (or the process dying)
    releases them.
    """
    import psycopg
    from psycopg import sql

    held = getattr(_held, "map", None)
    if held is None:
        held = _held.map = {}
    key = (loc.conninfo, loc.schema)
    if key in held:
        entry = held[key]
        con, names = entry[0], entry[2]
        extra = None if name is None else (_NAME_CLASS, key_of(loc.schema, *name))
        if extra is not None and extra not in names:
            with pg_errors(loc, "taking the writer lock"):
                _wait_lock(con, loc, timeout, "SELECT pg_try_advisory_lock(%s, %s)",
                           "SELECT pg_advisory_lock(%s, %s)", extra)
            names.add(extra)
        else:
            extra = None
        entry[1] += 1
        try:
            yield con
        finally:
            entry[1] -= 1
            if extra is not None:
                names.discard(extra)
                with contextlib.suppress(psycopg.Error):
                    con.execute("SELECT pg_advisory_unlock(%s, %s)", extra)
        return
    with direct_connection(loc, "taking the writer lock", autocommit=True) as con:
        with pg_errors(loc, "taking the writer lock"):
            if name is None:
                _wait_lock(con, loc, timeout, "SELECT pg_try_advisory_lock(%s, %s)", "SELECT pg_advisory_lock(%s, %s)",
                           (LOCK_CLASS, key_of(loc.schema)))
            else:
                _wait_lock(con, loc, timeout, "SELECT pg_try_advisory_lock(%s, %s)", "SELECT pg_advisory_lock(%s, %s)",
                           (_NAME_CLASS, key_of(loc.schema, *name)))
            info = holder_record(action, account)
            # rows of writers that died holding the lock (their server session is gone): a reused backend pid
            # must not inherit a dead writer's name
            con.execute(sql.SQL("DELETE FROM {}.planner_writer WHERE pid <> pg_backend_pid() AND pid NOT IN "
                                "(SELECT pid FROM pg_stat_activity)").format(sql.Identifier(loc.schema)))
            con.execute(sql.SQL("INSERT INTO {}.planner_writer (pid, info) VALUES (pg_backend_pid(), %s) "
                                "ON CONFLICT (pid) DO UPDATE SET info = EXCLUDED.info")
                        .format(sql.Identifier(loc.schema)), (json.dumps(info, ensure_ascii=False),))
        held[key] = [con, 1, set() if name is None else {(_NAME_CLASS, key_of(loc.schema, *name))}]
        try:
            yield con
        finally:
            del held[key]
            with contextlib.suppress(psycopg.Error):
                if con.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                    con.rollback()
                con.execute(sql.SQL("DELETE FROM {}.planner_writer WHERE pid = pg_backend_pid()")
                            .format(sql.Identifier(loc.schema)))
                con.execute("SELECT pg_advisory_unlock_all()")


@contextlib.contextmanager
def holding(loc: PgLocation, con) -> Iterator:
    """Make ``con`` (in a transaction holding the workspace's lock) this thread's writer-lock connection."""
    held = getattr(_held, "map", None)
    if held is None:
        held = _held.map = {}
    key = (loc.conninfo, loc.schema)
    if key in held:
        msg = f"workspace {loc.display}: its writer lock is held already in this thread"
        raise StoreError(msg, zh=f"工作空间 {loc.display}：本线程已持有它的写入锁")
    held[key] = [con, 1, set()]
    try:
        yield con
    finally:
        del held[key]


def lock_for_write(con, loc: PgLocation, timeout: float, names: list[tuple[str, ...]]) -> None:
    """Inside ``con``'s transaction: share the writer lock and lock each ``(kind, name)`` written."""
    if held_connection(loc) is not con:
        _wait_lock(con, loc, timeout, "SELECT pg_try_advisory_xact_lock_shared(%s, %s)",
                   "SELECT pg_advisory_xact_lock_shared(%s, %s)", (LOCK_CLASS, key_of(loc.schema)))
    con.execute(f"SET LOCAL lock_timeout = {max(1, int(timeout * 1000))}")
    for keyv in sorted({key_of(loc.schema, *n) for n in names}):  # one order everywhere: no deadlock
        try:
            con.execute("SELECT pg_advisory_xact_lock(%s, %s)", (_NAME_CLASS, keyv))
        except Exception as exc:
            from psycopg import errors as E

            if isinstance(exc, E.LockNotAvailable):
                raise timeout_error(loc, timeout, None, _SAME_DOC) from exc
            raise

