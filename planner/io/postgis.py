"""Workspace store in PostgreSQL + PostGIS: the shared office backend.

``PLANNER_WORKSPACE=postgresql://user:password@host:5432/db?schema=jinjiang``
(or ``--workspace`` with that URI) opens a workspace kept in one schema of a
PostGIS database; several workspaces can share a database in different
schemas (default schema: ``planner``). It behaves as a GeoPackage workspace
(:class:`~planner.io.store.GpkgStore`) does, through the same
:class:`~planner.io.store.Store` interface, and holds the same things: layer
versions with a catalogue and a current version, versioned documents and the
audit table, plus the accounts of the office (phase 2 of issue 14).

Tables
------
``planner_meta``, ``planner_layers``, ``planner_docs``, ``planner_audit`` as
in a GeoPackage, created and upgraded by the SQL migrations in
:mod:`planner.io.migrations`; each layer version is a table of its own
(``fid``, the attributes, ``geometry`` with a GiST index), so QGIS opens any
version directly. ``planner_layers`` allows one current version per layer.

Writes
------
Every write is one transaction: a layer version (its table, loaded with
``COPY``), its catalogue row, the documents written with it and the audit
rows commit together or not at all; a writer that is killed leaves nothing
behind (its transaction is rolled back by the server). Writers are
serialised by PostgreSQL advisory locks (:mod:`planner.io._pgconn`):
:meth:`PostgisStore.write_lock` excludes every other writer across a
read-modify-write (publishing a survey merges it into the version current
under the lock, so two publishes at once both land); single writes share the
workspace and lock only the layer or document they write. A writer that
waits logs who holds the lock and gives up after ``lock_timeout`` seconds
(``PLANNER_LOCK_TIMEOUT``, default 300), naming the holder.

Reads
-----
:meth:`PostgisStore.read_layer` with ``bbox=`` reads only the rows whose
geometry meets the box, through the table's spatial index.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import uuid
from collections.abc import Iterable, Iterator

import geopandas as gpd
import pandas as pd
import pyproj

from planner.errors import StoreError
from planner.io import _linked
from planner.io import _pgconn as C
from planner.io import _pgcopy as P
from planner.io.lock import account_for
from planner.io.lock import lock_timeout as lock_timeout_of
from planner.io.store import (
    SCHEMA_VERSION,
    TABLE_KINDS,
    LayerWrite,
    Store,
    _check_doc,
    _check_write,
    _doc_text,
    _now,
    _user,
)

_LAYER_COLS = ("kind", "name", "version", "created_at", "user", "n_rows", "is_current", "source_file", "sha256",
               "meta", "table_name")
_DOC_COLS = ("kind", "name", "version", "created_at", "user", "sha256")
_AUDIT_COLS = ("id", "ts", "user", "action", "kind", "name", "version", "source_file", "sha256", "n_rows", "detail")


def _ident(*names: str):
    from psycopg import sql

    return sql.Identifier(*names)


def _q(text: str, *idents):
    """An SQL statement with ``{}`` filled by quoted identifiers."""
    from psycopg import sql

    return sql.SQL(text).format(*idents)


def _frame(rows: list, cols: Iterable[str]) -> pd.DataFrame:
    """A frame of query rows built as ``pandas.read_sql_query`` builds one (same dtypes as the GeoPackage side)."""
    return pd.DataFrame.from_records(rows, columns=list(cols), coerce_float=True)


class PostgisStore(Store):
    """A workspace in a schema of a PostGIS database.

    Parameters
    ----------
    uri : str
        ``postgresql://[user[:password]@]host[:port]/database[?schema=name&...]``;
        other query parameters (``sslmode`` ...) go to the driver. A password
        can also come from ``~/.pgpass`` or ``PGPASSWORD``.
    crs : str or pyproj.CRS, optional
        Projected metric CRS of a new workspace.
    create : bool
        Create the workspace (schema, tables) if it does not exist.
    lock_timeout : float, optional
        Seconds a write waits for another writer (default ``PLANNER_LOCK_TIMEOUT`` or 300).
    """

    def __init__(self, uri: str, *, crs=None, create: bool = False, lock_timeout: float | None = None) -> None:
        self.uri = str(uri)
        self.location = C.parse_uri(self.uri)
        self.schema = self.location.schema
        self._timeout = lock_timeout_of(lock_timeout)
        state = self._state()
        if state == "absent":
            if not create:
                msg = (f"workspace {self.location.display} does not exist; create it with "
                       "`planner workspace init URI --crs EPSG:4549` (URI: this same postgresql:// address; your CRS), "
                       "or check the URI's ?schema=")
                raise StoreError(msg, zh=f"工作空间 {self.location.display} 不存在；请用 `planner workspace init 地址 "
                                         "--crs EPSG:4549` 创建（地址即这个 postgresql:// 地址，坐标系按实际填写），"
                                         "或检查地址中的 ?schema=")
            if crs is None:
                msg = f"a new workspace ({self.location.display}) needs a projected metric CRS, e.g. crs='EPSG:4549'"
                raise StoreError(msg, zh=f"新建工作空间（{self.location.display}）需要指定投影坐标系，例如 EPSG:4549")
            self._create(pyproj.CRS.from_user_input(crs))
        elif state == "foreign":
            raise self._foreign_error()
        else:
            self._upgrade()
        meta = dict(self._rows("SELECT key, value FROM {}", "planner_meta"))
        self.crs = pyproj.CRS.from_user_input(meta["crs"])
        self.srid = int(meta["srid"])

    # -- low level -------------------------------------------------------
    @property
    def label(self) -> str:
        return self.location.display

    @property
    def lock_timeout(self) -> float:
        """Seconds a write waits for another writer."""
        return self._timeout

    def _conn(self, what: str = "reading the workspace") -> contextlib.AbstractContextManager:
        if self._creating is not None:  # a workspace made by creating(): only its transaction sees it yet
            return contextlib.nullcontext(self._creating)
        return C.connection(self.location, what)

    _creating = None

    @classmethod
    @contextlib.contextmanager
    def creating(cls, uri: str, crs, *, lock_timeout: float | None = None) -> Iterator[PostgisStore]:
        """A new workspace, created and filled in one transaction that commits when the block ends.

        For a whole-workspace copy: the schema and its tables appear with
        everything copied into them, or not at all, even when the process is
        killed midway (the server rolls the transaction back; a schema that
        existed empty stays as it was). The writer lock is held meanwhile.
        """
        store = cls.__new__(cls)
        store.uri = str(uri)
        store.location = C.parse_uri(store.uri)
        store.schema = store.location.schema
        store._timeout = lock_timeout_of(lock_timeout)
        crs = pyproj.CRS.from_user_input(crs)
        state = store._state()
        if state == "foreign":
            raise store._foreign_error()
        if state != "absent":
            msg = f"workspace {store.location.display} already exists; copy into a new or empty one"
            raise StoreError(msg, zh=f"工作空间 {store.location.display} 已存在；请复制到新的或空的工作空间")
        with C.direct_connection(store.location, "creating the workspace") as con, con.transaction(), \
                C.pg_errors(store.location, "creating the workspace"):
            store.srid = store._create_in(con, crs)
            if store.srid is None:
                msg = f"workspace {store.location.display} was created meanwhile by someone else; nothing was copied"
                raise StoreError(msg, zh=f"工作空间 {store.location.display} 已被他人同时创建，未复制任何内容")
            store.crs = crs
            store._creating = con
            try:
                with C.holding(store.location, con):
                    yield store
            finally:
                store._creating = None

    def _rows(self, text: str, *tables: str, params: tuple = ()) -> list[tuple]:
        with self._conn() as con:
            return con.execute(_q(text, *(_ident(self.schema, t) for t in tables)), params).fetchall()

    def _foreign_error(self) -> StoreError:
        msg = (f"{self.location.display}: schema {self.schema!r} holds tables but is not a planner workspace; "
               "name another schema (?schema=...)")
        return StoreError(msg, zh=f"{self.location.display}：schema {self.schema!r} 中已有其他数据表，不是 planner 工作空间；"
                                  "请用 ?schema=... 另选一个 schema")

    def _state(self) -> str:
        """``"workspace"``, ``"absent"`` (no schema, or an empty one) or ``"foreign"`` (other tables)."""
        with self._conn("opening the workspace") as con:
            (has_meta,) = con.execute("SELECT to_regclass(%s) IS NOT NULL", (f'"{self.schema}".planner_meta',)).fetchone()
            if has_meta:
                return "workspace"
            (n,) = con.execute("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                               "WHERE n.nspname = %s AND c.relkind IN ('r', 'v', 'm', 'p')", (self.schema,)).fetchone()
        return "foreign" if n else "absent"

    def _create(self, crs: pyproj.CRS) -> None:
        with self._conn("creating the workspace") as con, con.transaction():
            self._create_in(con, crs)

    def _create_in(self, con, crs: pyproj.CRS) -> int | None:
        """Create the schema and its tables inside ``con``'s transaction; their SRID (None: made meanwhile)."""
        from planner.io import migrations

        if not crs.is_projected:
            msg = f"workspace CRS must be projected and metric, got {crs.name}"
            raise StoreError(msg, zh=f"工作空间坐标系必须是以米为单位的投影坐标系，而不是 {crs.name}")
        (has_postgis,) = con.execute("SELECT count(*) FROM pg_extension WHERE extname = 'postgis'").fetchone()
        if not has_postgis:  # two workspaces created at once on a new database: one creates the extension
            con.execute("SELECT pg_advisory_xact_lock(%s, %s)", (C.LOCK_CLASS, C.key_of("", "create extension postgis")))
            con.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        # first the workspace's lock: two creating the same schema at once take turns (CREATE SCHEMA IF NOT EXISTS
        # alone lets the second fail on a duplicate key when the first commits)
        con.execute("SELECT pg_advisory_xact_lock(%s, %s)", (C.LOCK_CLASS, C.key_of(self.schema)))
        (has_schema,) = con.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s", (self.schema,)).fetchone()
        if not has_schema:  # CREATE SCHEMA needs CREATE on the database even when the schema exists
            con.execute(_q("CREATE SCHEMA IF NOT EXISTS {}", _ident(self.schema)))
        (has_meta,) = con.execute("SELECT to_regclass(%s) IS NOT NULL", (f'"{self.schema}".planner_meta',)).fetchone()
        if has_meta:  # created by someone else meanwhile
            return None
        migrations.apply_migrations(con, self.schema, self.location.display)
        srid = self._srid_for(con, crs)
        con.cursor().executemany(
            _q("INSERT INTO {} (key, value) VALUES (%s, %s)", _ident(self.schema, "planner_meta")),
            [("crs", crs.to_wkt()), ("schema_version", SCHEMA_VERSION), ("created_at", _now()),
             ("srid", str(srid))])
        return srid

    def _srid_for(self, con, crs: pyproj.CRS) -> int:
        """The PostGIS SRID of ``crs``: its EPSG code, else one registered for it in ``spatial_ref_sys``."""
        epsg = crs.to_epsg()
        if epsg is not None:
            hit = con.execute("SELECT srid FROM spatial_ref_sys WHERE auth_name = 'EPSG' AND auth_srid = %s",
                              (epsg,)).fetchone()
            if hit:
                return int(hit[0])
        wkt = crs.to_wkt("WKT1_GDAL")
        hit = con.execute("SELECT srid FROM spatial_ref_sys WHERE auth_name = 'planner' AND srtext = %s",
                          (wkt,)).fetchone()
        if hit:
            return int(hit[0])
        (srid,) = con.execute("SELECT COALESCE(MAX(srid), 939999) + 1 FROM spatial_ref_sys "
                              "WHERE srid BETWEEN 940000 AND 998999").fetchone()
        con.execute("INSERT INTO spatial_ref_sys (srid, auth_name, auth_srid, srtext, proj4text) "
                    "VALUES (%s, 'planner', %s, %s, %s)", (srid, srid, wkt, crs.to_proj4()))
        return int(srid)

    def _upgrade(self) -> None:
        """Run the migrations this workspace lacks (under the writer lock)."""
        from planner.io import migrations

        with self._conn("opening the workspace") as con:
            done = migrations.applied_versions(con, self.schema)
        if done and max(done) >= migrations.latest_version():
            if max(done) > migrations.latest_version():
                with self._conn("upgrading the workspace") as con:
                    migrations.apply_migrations(con, self.schema, self.location.display)  # refuses, naming versions
            return
        with self.write_lock("upgrade_schema") as con, C.pg_errors(self.location, "upgrading the workspace"), \
                con.transaction():
            migrations.apply_migrations(con, self.schema, self.location.display)

    def revision(self) -> str:
        return workspace_revision(self.uri)

    # -- writing ---------------------------------------------------------
    def write_lock(self, action: str | None = None) -> contextlib.AbstractContextManager:
        return C.write_lock(self.location, self._timeout, action, account=account_for(self))

    def document_lock(self, kind: str, name: str) -> contextlib.AbstractContextManager:
        """Hold one document across a check-then-save: other documents, and a publish, do not wait for it."""
        return C.write_lock(self.location, self._timeout, f"save_{kind}", name=("doc", kind, name),
                            account=account_for(self))

    @contextlib.contextmanager
    def document_locks(self, kind: str, names) -> Iterator:
        """Hold several documents of ``kind`` (a rename: the old name and the new), each by its own lock, taken
        in the order :func:`~planner.io._pgconn.lock_for_write` takes them: two renames cannot wait for each
        other."""
        with contextlib.ExitStack() as stack:
            for n in sorted(set(names), key=lambda n: C.key_of(self.schema, "doc", kind, n)):
                stack.enter_context(self.document_lock(kind, n))
            yield

    def lock_holder(self) -> dict | None:
        """Who holds the writer lock (user, host, pid, command, action, since); None when nobody does."""
        with self._conn() as con:
            return C.holder(con, self.location)

    @contextlib.contextmanager
    def _write(self, what: str, names: list[tuple[str, ...]]) -> Iterator:
        """A write transaction holding the locks it needs; commits when the block ends without an error."""
        con = C.held_connection(self.location)
        if con is not None:
            with C.pg_errors(self.location, what), con.transaction():
                C.lock_for_write(con, self.location, self._timeout, names)
                yield con
            return
        with C.direct_connection(self.location, what) as con, con.transaction():  # not the pool's: it may wait
            C.lock_for_write(con, self.location, self._timeout, names)
            yield con

    def _audit(self, con, user: str, action: str, **kw) -> None:
        cols = ["ts", "user", "action", *kw]
        con.execute(_q(f"INSERT INTO {{}} ({', '.join('{}' for _ in cols)}) VALUES ({', '.join(['%s'] * len(cols))})",
                       _ident(self.schema, "planner_audit"), *(_ident(c) for c in cols)),
                    [_now(), user, action, *kw.values()])

    # -- geometry layers -------------------------------------------------
    def write_layer(self, kind, name, gdf, *, user=None, source_file=None, sha256=None,
                    meta=None, make_current=True, action=None) -> int:
        return self.write_layers([LayerWrite(kind, name, gdf, meta=meta, source_file=source_file, sha256=sha256,
                                             make_current=make_current)], user=user, action=action)[(kind, name)]

    def write_layers(self, writes, *, docs=(), user=None, action=None) -> dict[tuple[str, str], int]:
        for w in writes:
            _check_write(w)
        for d in docs:
            _check_doc(d.kind)
        if len({(w.kind, w.name) for w in writes}) < len(writes):
            msg = "write_layers: each (kind, name) may appear once per commit"
            raise StoreError(msg)
        writes = [w if w.kind in TABLE_KINDS or w.geometry_from is not None
                  or pyproj.CRS.from_user_input(w.gdf.crs).equals(self.crs)
                  else dataclasses.replace(w, gdf=w.gdf.to_crs(self.crs)) for w in writes]
        prepared = [(w, *P.attribute_table(_linked.attributes(w.gdf, drop=w.shared_columns)
                                           if w.geometry_from is not None else w.gdf, f"layer {w.kind}/{w.name}"))
                    for w in writes]
        user = _user(user)
        out: dict[tuple[str, str], int] = {}
        names = [("layer", w.kind, w.name) for w in writes] + [("doc", d.kind, d.name) for d in docs]
        with self._write("writing the workspace", names) as con:
            for w, attrs, fields in prepared:
                (v,) = con.execute(_q("SELECT COALESCE(MAX(version), 0) FROM {} WHERE kind = %s AND name = %s",
                                      _ident(self.schema, "planner_layers")), (w.kind, w.name)).fetchone()
                version = int(v) + 1
                table = self._table_name(w.kind, w.name, version)
                if w.geometry_from is not None:
                    source = self._table_for(*w.geometry_from)[0]
                    meta = _linked.link_meta(w.meta, w.geometry_from, list(_linked.attributes(w.gdf.iloc[:0]).columns),
                                             w.shared_columns)
                    self._load_linked(con, table, attrs, fields, w, source, meta[_linked.GEOMETRY_FROM])
                    w = dataclasses.replace(w, meta=meta)
                else:
                    self._load_table(con, table, attrs, fields, w.gdf, f"layer {w.kind}/{w.name}")
                self._catalogue(con, w, version, table, user)
                meta_text = json.dumps(w.meta or {}, ensure_ascii=False, default=str)
                self._audit(con, user, action or f"write_{w.kind}", kind=w.kind, name=w.name, version=version,
                            source_file=w.source_file, sha256=w.sha256, n_rows=len(w.gdf), detail=meta_text[:4000])
                out[(w.kind, w.name)] = version
            for d in docs:
                out[(d.kind, d.name)] = self._insert_doc(con, d.kind, d.name, d.payload, user)
        return out

    @staticmethod
    def _table_name(kind: str, name: str, version: int) -> str:
        safe = "".join(ch if ch.isalnum() else "_" for ch in name.encode("ascii", "replace").decode()).lower()
        return f"{kind}_{safe[:30]}_v{version:04d}_{uuid.uuid4().hex[:6]}"

    def _catalogue(self, con, w: LayerWrite, version: int, table: str, user: str, created_at: str | None = None) -> None:
        layers = _ident(self.schema, "planner_layers")
        if w.make_current:
            con.execute(_q("UPDATE {} SET is_current = false WHERE kind = %s AND name = %s AND is_current", layers),
                        (w.kind, w.name))
        con.execute(_q("INSERT INTO {} (kind, name, version, table_name, created_at, \"user\", n_rows, is_current, "
                       "source_file, sha256, meta) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", layers),
                    (w.kind, w.name, version, table, created_at or _now(), user, len(w.gdf), bool(w.make_current),
                     w.source_file, w.sha256, json.dumps(w.meta or {}, ensure_ascii=False, default=str)))

    def _load_table(self, con, table: str, attrs, fields, gdf: gpd.GeoDataFrame, where: str, *,
                    as_given: bool = False) -> None:
        """Create a layer table and fill it with COPY (inside the caller's transaction).

        A plain DataFrame (an enterprise table, :data:`~planner.io.store.TABLE_KINDS`) makes a table
        without a geometry column, as a GeoPackage stores it as an attribute table.
        """
        from psycopg import sql

        spatial = isinstance(gdf, gpd.GeoDataFrame)
        cols = [sql.SQL("{} bigint NOT NULL").format(_ident(P.FID))]
        cols += [sql.SQL("{} " + t).format(_ident(c)) for c, t in fields]
        if spatial:
            geom_type = "GeometryZ" if P.has_z(gdf) else "Geometry"
            cols.append(sql.SQL("{} geometry(" + geom_type + ", " + str(int(self.srid)) + ")").format(_ident(P.GEOM)))
        tid = _ident(self.schema, table)
        con.execute(sql.SQL("CREATE TABLE {} ({})").format(tid, sql.SQL(", ").join(cols)))
        self._grant_like_catalogue(con, tid)
        full = attrs.append_column(P.GEOM, P.geometry_hex(gdf, self.srid, as_given=as_given)) if spatial else attrs
        names = sql.SQL(", ").join(_ident(c) for c in [P.FID, *(c for c, _ in fields), *([P.GEOM] if spatial else [])])
        with con.cursor() as cur:
            with cur.copy(sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(tid, names)) as cp:
                for chunk in P.csv_batches(full):
                    cp.write(chunk)
            got = cur.rowcount
        if got != len(gdf):
            msg = f"workspace {self.location.display}: {where} was written with {got} of {len(gdf)} rows; nothing was changed"
            raise StoreError(msg, zh=f"工作空间 {self.location.display}：{where} 只写入了 {got}/{len(gdf)} 行，未做任何修改")
        con.execute(sql.SQL("ALTER TABLE {} ADD PRIMARY KEY ({})").format(tid, _ident(P.FID)))
        if spatial:
            con.execute(sql.SQL("CREATE INDEX ON {} USING gist ({})").format(tid, _ident(P.GEOM)))
        con.execute(sql.SQL("ANALYZE {}").format(tid))

    #: Table privileges a new layer table takes over from the catalogue (:meth:`_grant_like_catalogue`).
    _PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")

    def _grant_like_catalogue(self, con, relation) -> None:
        """Give a new layer table (or view) the grants the workspace's catalogue (``planner_layers``) has.

        A new table belongs to the account that made it, and only that account may read it until someone grants
        more: an office where the app runs as a least-privilege account (README, "Office set-up") and an analyst
        publishes with the schema owner's (or the reverse) would otherwise lock every other account out of each new
        survey version ("permission denied for table survey_parcels_v0002_..." on every page). Whoever may read
        or write the catalogue may read or write the layers it lists, the catalogue's owner included; nothing
        more is granted than the catalogue's own grants. Inside the caller's transaction (the table's creator
        owns it, so may grant).
        """
        from psycopg import sql

        rows = con.execute(
            "SELECT a.grantee, r.rolname, a.privilege_type FROM pg_class c "
            "CROSS JOIN LATERAL aclexplode(c.relacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee "
            "WHERE c.oid = to_regclass(%s) AND a.grantee <> (SELECT oid FROM pg_roles WHERE rolname = current_user)",
            (f'"{self.schema}".planner_layers',)).fetchall()
        grants: dict[str | None, set[str]] = {}  # role name (None: PUBLIC) -> privileges
        for grantee, role, privilege in rows:
            if privilege in self._PRIVILEGES and (grantee == 0 or role):
                grants.setdefault(None if grantee == 0 else role, set()).add(privilege)
        for role, privileges in grants.items():
            con.execute(sql.SQL("GRANT {} ON {} TO {}").format(
                sql.SQL(", ").join(sql.SQL(p) for p in sorted(privileges)), relation,
                sql.SQL("PUBLIC") if role is None else sql.Identifier(role)))

    def _load_linked(self, con, table: str, attrs, fields, w: LayerWrite, source: str, link: dict) -> None:
        """Create a layer table of ``w``'s rows without geometry, each under its parcel's fid in ``source``,
        and the view ``<table>_geom`` adding the source's geometry (inside the caller's transaction)."""
        from psycopg import sql

        where = f"layer {w.kind}/{w.name}"
        src = _ident(self.schema, source)
        with con.cursor() as cur, cur.copy(sql.SQL("COPY (SELECT {}, {} FROM {} ORDER BY {}) TO STDOUT (FORMAT csv)")
                                           .format(_ident(P.FID), _ident(_linked.KEY), src, _ident(P.FID))) as cp:
            ids = P.read_csv_copy(cp, [P.FID, _linked.KEY], [P.pa.int64(), P.pa.string()])
        fids = _linked.link_fids(ids.column(_linked.KEY), ids.column(P.FID).to_numpy(), w.gdf[_linked.KEY], where)
        cols = [sql.SQL("{} bigint NOT NULL").format(_ident(P.FID))]
        cols += [sql.SQL("{} " + t).format(_ident(c)) for c, t in fields]
        tid = _ident(self.schema, table)
        con.execute(sql.SQL("CREATE TABLE {} ({})").format(tid, sql.SQL(", ").join(cols)))
        self._grant_like_catalogue(con, tid)
        names = sql.SQL(", ").join(_ident(c) for c in [P.FID, *(c for c, _ in fields)])
        with con.cursor() as cur:
            with cur.copy(sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(tid, names)) as cp:
                for chunk in P.csv_batches(attrs, fids=fids):
                    cp.write(chunk)
            got = cur.rowcount
        if got != len(w.gdf):
            msg = f"workspace {self.location.display}: {where} was written with {got} of {len(w.gdf)} rows; nothing was changed"
            raise StoreError(msg, zh=f"工作空间 {self.location.display}：{where} 只写入了 {got}/{len(w.gdf)} 行，未做任何修改")
        con.execute(sql.SQL("ALTER TABLE {} ADD PRIMARY KEY ({})").format(tid, _ident(P.FID)))
        sel = sql.SQL(", ").join(sql.SQL("s.{}" if from_source else "a.{}").format(_ident(c))
                                 for c, from_source in _linked.view_columns(link, [c for c, _ in fields]))
        con.execute(sql.SQL("CREATE VIEW {} AS SELECT a.{}, {}, s.{} FROM {} a JOIN {} s ON s.{} = a.{}").format(
            _ident(self.schema, _linked.view_name(table)), _ident(P.FID), sel, _ident(P.GEOM), tid, src,
            _ident(P.FID), _ident(P.FID)))
        self._grant_like_catalogue(con, _ident(self.schema, _linked.view_name(table)))
        con.execute(sql.SQL("ANALYZE {}").format(tid))

    def _table_for(self, kind: str, name: str | None, version: int | None) -> tuple[str, dict]:
        q = "SELECT table_name, meta, name FROM {} WHERE kind = %s"
        args: list = [kind]
        if name is not None:
            q += " AND name = %s"
            args.append(name)
        if version is None:
            q += " AND is_current"
        else:
            q += " AND version = %s"
            args.append(int(version))
        rows = self._rows(q + " ORDER BY name", "planner_layers", params=tuple(args))
        if not rows:
            what = f"{kind}/{name or '*'}" + (f" version {version}" if version else " (current)")
            what_zh = f"{kind}/{name or '*'}" + (f" 版本 {version}" if version else "（当前版本）")
            msg = f"workspace {self.location.display} has no layer {what}"
            raise StoreError(msg, zh=f"工作空间 {self.location.display} 中没有图层 {what_zh}")
        if len(rows) > 1:
            names = ", ".join(r[2] for r in rows)
            msg = f"several {kind} layers ({names}); name one"
            raise StoreError(msg, zh=f"有多个 {kind} 图层（{names}），请指定其中一个")
        return rows[0][0], json.loads(rows[0][1])

    def read_layer(self, kind, name=None, version=None, *, bbox=None, columns=None,
                   geometry=True) -> gpd.GeoDataFrame:
        table, meta = self._table_for(kind, name, version)
        layer, meta = _linked.source_for(table, meta, geometry=geometry, bbox=bbox, columns=columns)
        gdf = self._read_table(layer, bbox=bbox, columns=columns, geometry=geometry)
        gdf.attrs["meta"] = meta
        gdf.attrs["table"] = table
        return gdf

    def _read_table(self, table: str, *, bbox=None, columns=None, geometry: bool = True) -> gpd.GeoDataFrame:
        from psycopg import sql

        with self._conn() as con:
            types = con.execute("SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                                "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
                                (f'"{self.schema}"."{table}"',)).fetchall()
            attrs = [(c, t) for c, t in types if c not in (P.FID, P.GEOM)]
            if columns is not None:
                wanted = set(columns)
                attrs = [(c, t) for c, t in attrs if c in wanted]
            has_geom = geometry and any(c == P.GEOM for c, _ in types)
            cols = [c for c, _ in attrs] + ([P.GEOM] if has_geom or not attrs else [])
            sel = sql.SQL(", ").join(_ident(c) for c in cols)
            where, params = sql.SQL(""), ()
            if bbox is not None:
                x0, y0, x1, y1 = (float(v) for v in bbox)
                where = sql.SQL(" WHERE ST_Intersects({}, ST_MakeEnvelope(%s, %s, %s, %s, %s))").format(_ident(P.GEOM))
                params = (x0, y0, x1, y1, self.srid)
            q = sql.SQL("COPY (SELECT {} FROM {}{} ORDER BY {}) TO STDOUT (FORMAT csv)").format(
                sel, _ident(self.schema, table), where, _ident(P.FID))
            with con.cursor() as cur, cur.copy(q, params) as cp:
                arrow = P.read_csv_copy(cp, cols, [P._arrow_type(t) for _, t in attrs] + [P.pa.string()] * (len(cols) - len(attrs)))
        if has_geom or (not attrs and geometry):
            gdf = P.to_frame(arrow, P.GEOM, self.crs)
        else:
            gdf = arrow.drop_columns([c for c in cols if c == P.GEOM]).to_pandas(self_destruct=True)
        for c in gdf.columns:
            if c != "geometry" and (gdf[c].dtype == object or str(gdf[c].dtype).startswith(("large_string", "string"))):
                gdf[c] = gdf[c].astype("string")
        return gdf

    def layers(self, kind=None) -> pd.DataFrame:
        q = f"SELECT {', '.join(chr(34) + c + chr(34) for c in _LAYER_COLS)} FROM {{}}"
        args: tuple = ()
        if kind is not None:
            q += " WHERE kind = %s"
            args = (kind,)
        df = _frame(self._rows(q + " ORDER BY kind, name, version", "planner_layers", params=args), _LAYER_COLS)
        df["is_current"] = df["is_current"].astype(bool)
        return df

    def set_currents(self, targets, *, user=None) -> None:
        user = _user(user)
        targets = [(str(k), str(n), int(v)) for k, n, v in targets]
        layers = _ident(self.schema, "planner_layers")
        with self._write("switching the current version", [("layer", k, n) for k, n, _ in targets]) as con:
            for kind, name, version in targets:
                hit = con.execute(_q("SELECT 1 FROM {} WHERE kind = %s AND name = %s AND version = %s", layers),
                                  (kind, name, version)).fetchone()
                if hit is None:
                    msg = f"no version {version} of {kind}/{name} in {self.location.display}"
                    raise StoreError(msg, zh=f"{kind}/{name} 没有版本 {version}")
                con.execute(_q("UPDATE {} SET is_current = false WHERE kind = %s AND name = %s AND is_current",
                               layers), (kind, name))
                con.execute(_q("UPDATE {} SET is_current = true WHERE kind = %s AND name = %s AND version = %s",
                               layers), (kind, name, version))
                self._audit(con, user, "set_current", kind=kind, name=name, version=version)

    # -- documents -------------------------------------------------------
    def _insert_doc(self, con, kind: str, name: str, payload: dict, user: str) -> int:
        text, digest = _doc_text(payload)
        docs = _ident(self.schema, "planner_docs")
        (v,) = con.execute(_q("SELECT COALESCE(MAX(version), 0) FROM {} WHERE kind = %s AND name = %s", docs),
                           (kind, name)).fetchone()
        version = int(v) + 1
        con.execute(_q("INSERT INTO {} VALUES (%s, %s, %s, %s, %s, %s, %s)", docs),
                    (kind, name, version, _now(), user, digest, text))
        self._audit(con, user, f"save_{kind}", kind=kind, name=name, version=version, sha256=digest)
        return version

    def save_doc(self, kind, name, payload, *, user=None) -> int:
        _check_doc(kind)
        user = _user(user)
        with self._write(f"saving {kind} {name!r}", [("doc", kind, name)]) as con:
            return self._insert_doc(con, kind, name, payload, user)

    def load_doc(self, kind, name, version=None) -> dict:
        if version is None:
            rows = self._rows("SELECT payload FROM {} WHERE kind = %s AND name = %s ORDER BY version DESC LIMIT 1",
                              "planner_docs", params=(kind, name))
        else:
            rows = self._rows("SELECT payload FROM {} WHERE kind = %s AND name = %s AND version = %s",
                              "planner_docs", params=(kind, name, int(version)))
        if not rows:
            msg = f"workspace {self.location.display} has no {kind} {name!r}" + (f" version {version}" if version else "")
            raise StoreError(msg, zh=f"工作空间 {self.location.display} 中没有 {kind} {name!r}")
        return json.loads(rows[0][0])

    def latest_docs(self, kind) -> dict[str, dict]:
        rows = self._rows("SELECT DISTINCT ON (name) name, payload FROM {} WHERE kind = %s ORDER BY name, version DESC",
                          "planner_docs", params=(kind,))
        return {name: json.loads(payload) for name, payload in rows}

    def docs(self, kind=None) -> pd.DataFrame:
        q = f"SELECT {', '.join(chr(34) + c + chr(34) for c in _DOC_COLS)} FROM {{}}"
        args: tuple = ()
        if kind is not None:
            q += " WHERE kind = %s"
            args = (kind,)
        return _frame(self._rows(q + " ORDER BY kind, name, version", "planner_docs", params=args), _DOC_COLS)

    # -- audit -----------------------------------------------------------
    def record(self, action: str, *, user: str | None = None, **kw) -> None:
        with self._write("recording an audit row", []) as con:
            self._audit(con, _user(user), action, **kw)

    def audit_log(self) -> pd.DataFrame:
        q = f"SELECT {', '.join(chr(34) + c + chr(34) for c in _AUDIT_COLS)} FROM {{}} ORDER BY id"
        return _frame(self._rows(q, "planner_audit"), _AUDIT_COLS)

    # -- accounts ------------------------------------------------------------
    _USER_ALL = ("username", "display_name", "role", "password_hash", "disabled", "created_at", "updated_at")

    def users(self) -> pd.DataFrame:
        cols = self.USER_COLUMNS
        df = _frame(self._rows(f"SELECT {', '.join(cols)} FROM {{}} ORDER BY username", "planner_users"), cols)
        df["disabled"] = df["disabled"].astype(bool)
        return df

    def user_record(self, username: str) -> dict | None:
        rows = self._rows(f"SELECT {', '.join(self._USER_ALL)} FROM {{}} WHERE username = %s", "planner_users",
                          params=(username,))
        return dict(zip(self._USER_ALL, rows[0], strict=True)) if rows else None

    def put_user(self, username, *, role, password_hash, display_name="", disabled=False, user=None,
                 action="user_add") -> None:
        now = _now()
        with self._write("saving an account", [("user", username)]) as con:
            con.execute(_q("INSERT INTO {} (username, display_name, role, password_hash, disabled, created_at, "
                           "updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (username) DO UPDATE SET "
                           "display_name = EXCLUDED.display_name, role = EXCLUDED.role, password_hash = "
                           "EXCLUDED.password_hash, disabled = EXCLUDED.disabled, updated_at = EXCLUDED.updated_at",
                           _ident(self.schema, "planner_users")),
                        (username, display_name, role, password_hash, bool(disabled), now, now))
            self._audit(con, _user(user), action, kind="user", name=username, detail=f"role={role} disabled={disabled}")

    # -- whole-workspace transfer ------------------------------------------
    def export_rows(self) -> dict[str, list[dict]]:
        out = {}
        for table, cols, order in (("planner_meta", ("key", "value"), "key"),
                                   ("planner_layers", _LAYER_COLS, "kind, name, version"),
                                   ("planner_docs", (*_DOC_COLS, "payload"), "kind, name, version"),
                                   ("planner_audit", _AUDIT_COLS, "id")):
            rows = self._rows(f"SELECT {', '.join(chr(34) + c + chr(34) for c in cols)} FROM {{}} ORDER BY {order}", table)
            out[table] = [dict(zip(cols, r, strict=True)) for r in rows]
        out["planner_meta"] = [r for r in out["planner_meta"] if r["key"] != "srid"]
        rows = self._rows(f"SELECT {', '.join(self._USER_ALL)} FROM {{}} ORDER BY username", "planner_users")
        out["planner_users"] = [dict(zip(self._USER_ALL, r, strict=True)) for r in rows]
        return out

    def import_rows(self, rows: dict[str, list[dict]], layers: Iterable[tuple[dict, gpd.GeoDataFrame]]) -> None:
        import re

        from psycopg import sql

        self._refuse_if_not_empty()
        s = self.schema
        with self.write_lock("copy_workspace"), self._write("copying into the workspace", []) as con:
            used: set[str] = set()
            tables: dict[tuple, str] = {}
            linked = []  # loaded after the layers they take their geometry from

            def load(row, gdf, table, link=None):
                where = f"layer {row['kind']}/{row['name']} v{row['version']}"
                if link is not None:
                    attrs, fields = P.attribute_table(_linked.attributes(gdf, drop=_linked.shared_of(link)), where)
                    source = tables.get((link["kind"], link["name"], int(link["version"])))
                    if source is None:
                        msg = f"{where}: the layer it takes its geometry from is missing"
                        raise StoreError(msg)
                    w = LayerWrite(row["kind"], row["name"], gdf,
                                   geometry_from=(link["kind"], link["name"], int(link["version"])))
                    self._load_linked(con, table, attrs, fields, w, source, link)
                else:
                    attrs, fields = P.attribute_table(gdf, where)
                    self._load_table(con, table, attrs, fields, gdf, f"layer {row['kind']}/{row['name']}", as_given=True)
                con.execute(_q("INSERT INTO {} (kind, name, version, table_name, created_at, \"user\", n_rows, "
                               "is_current, source_file, sha256, meta) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                               _ident(s, "planner_layers")),
                            (row["kind"], row["name"], int(row["version"]), table, row["created_at"], row["user"],
                             int(row["n_rows"]), bool(row["is_current"]), row["source_file"], row["sha256"], row["meta"]))

            for row, gdf in layers:
                table = row["table_name"]
                if not re.fullmatch(r"[a-z][a-z0-9_]{0,62}", table) or table in used:
                    table = self._table_name(row["kind"], row["name"], int(row["version"]))
                used.add(table)
                tables[(row["kind"], row["name"], int(row["version"]))] = table
                link = _linked.link_of(json.loads(row.get("meta") or "{}"))
                if link is not None:
                    linked.append((row, _linked.attributes(gdf), table, link))
                    continue
                if isinstance(gdf, gpd.GeoDataFrame) and not pyproj.CRS.from_user_input(gdf.crs).equals(self.crs):
                    gdf = gdf.to_crs(self.crs)
                load(row, gdf, table)
            for row, attrs, table, link in linked:
                load(row, attrs, table, link)
            for r in rows.get("planner_meta", []):
                if r["key"] in ("srid",):
                    continue
                con.execute(_q("INSERT INTO {} (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE "
                               "SET value = EXCLUDED.value", _ident(s, "planner_meta")), (r["key"], r["value"]))
            with con.cursor() as cur:
                for table, cols in (("planner_docs", (*_DOC_COLS, "payload")), ("planner_audit", _AUDIT_COLS),
                                    ("planner_users", self._USER_ALL)):
                    data = [tuple(bool(r[c]) if c == "disabled" else r[c] for c in cols) for r in rows.get(table, [])]
                    if data:
                        cur.executemany(sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                            _ident(s, table), sql.SQL(", ").join(_ident(c) for c in cols),
                            sql.SQL(", ").join(sql.Placeholder() * len(cols))), data)
            con.execute(_q("SELECT setval(pg_get_serial_sequence(%s, 'id'), GREATEST((SELECT MAX(id) FROM {}), 1), "
                           "(SELECT MAX(id) FROM {}) IS NOT NULL)", _ident(s, "planner_audit"), _ident(s, "planner_audit")),
                        (f'"{s}".planner_audit',))

    def drop(self) -> None:
        """Delete the whole workspace: its schema and every table in it (tests, ``planner workspace`` tools)."""
        with self.write_lock("drop_workspace"), self._conn("deleting the workspace") as con:
            con.execute(_q("DROP SCHEMA {} CASCADE", _ident(self.schema)))


#: How many of the latest audit numbers :func:`workspace_revision` counts: a write committing after this many
#: later-numbered ones committed before it would go unseen (far more than the writes of one office in a minute).
REVISION_WINDOW = 10_000


def workspace_revision(uri: str) -> str:
    """What changes whenever the workspace is written (every write adds an audit row): one cheap query.

    The latest audit number alone is not enough: a row takes its number when it is made, not when its
    transaction commits, and writes of different documents do not wait for each other, so a write that began
    first (a stored sites result, a publish) may commit after a colleague's quick save with a higher number,
    leaving the latest number as it was. The count of the rows among the latest numbers changes then (rows are
    never deleted), read on the primary key's index.
    """
    loc = C.parse_uri(uri)
    audit = _ident(loc.schema, "planner_audit")
    with C.connection(loc, "reading the workspace") as con:
        last, n = con.execute(_q("SELECT COALESCE(MAX(id), 0), COUNT(*) FROM {} WHERE id > "
                                 "(SELECT COALESCE(MAX(id), 0) FROM {}) - %s", audit, audit),
                              (REVISION_WINDOW,)).fetchone()
    return f"audit:{last}:{n}"


def workspace_exists(uri: str) -> bool:
    """Whether the URI's schema holds a planner workspace."""
    loc = C.parse_uri(uri)
    with C.connection(loc, "opening the workspace") as con:
        (hit,) = con.execute("SELECT to_regclass(%s) IS NOT NULL", (f'"{loc.schema}".planner_meta',)).fetchone()
    return bool(hit)


def schema_exists(uri: str) -> bool:
    """Whether the URI's schema exists (empty or not)."""
    loc = C.parse_uri(uri)
    with C.connection(loc, "opening the workspace") as con:
        return con.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s", (loc.schema,)).fetchone()[0] > 0


def drop_workspace(uri: str) -> None:
    """Drop a PostGIS workspace's schema if it exists (no error when it does not)."""
    loc = C.parse_uri(uri)
    with C.connection(loc, "deleting the workspace") as con:
        con.execute(_q("DROP SCHEMA IF EXISTS {} CASCADE", _ident(loc.schema)))


__all__ = ["PostgisStore", "drop_workspace", "schema_exists", "workspace_exists"]
