"""Workspace store: the interface and its embedded GeoPackage backend.

A workspace holds versioned geometry layers (survey versions of the parcel
layer, constraint and barrier layers, analysis results such as flags and
sites), versioned documents (policies, scenarios, site edits) and an audit
table. The analysis code talks to :class:`Store` only; :func:`open_store`
opens a GeoPackage file (:class:`GpkgStore`, the embedded default) or a
``postgresql://`` URI (:class:`~planner.io.postgis.PostgisStore`, the shared
office backend).

Atomicity
---------
A layer write adds the new version as a fresh table under a new, unique
name in the workspace file itself (GDAL writes it in its own SQLite
transactions), then checks its row count and makes it known, with the
catalogue rows, audit rows and any documents of the same commit, in one
SQLite transaction (rollback journal). Readers find layers only through the
catalogue, so until that transaction commits nobody sees the new table; a
process killed or failing midway leaves the previous state (SQLite rolls a
hot journal back when the file is next opened) plus at most an
unreferenced table, which the next write drops under the lock
(:meth:`GpkgStore._drop_orphans`). Nothing is copied: a write costs the
size of what is written, not of the workspace. Document and audit writes
are single SQLite transactions. A lock file serializes writers. (Filling an
empty workspace from another one, ``planner workspace copy``, still works
on a private copy renamed over the original.)

Written in place, the file keeps its mode, group and owner. A workspace
whose file has no write permission (e.g. 444), or whose folder or file
system is read-only, is refused with a clear message before anything is
written; so is a write that fails for lack of disk space, after the
partial table is dropped.

Waiting
-------
The lock file records who holds it (user, host, process id, command, since
when). A writer that finds the workspace locked says so (a ``planner.store``
log warning naming the holder) and gives up after ``lock_timeout`` seconds
(default :data:`~planner.io.lock.DEFAULT_LOCK_TIMEOUT`, or the ``PLANNER_LOCK_TIMEOUT``
environment variable; :mod:`planner.io.lock`) with a :class:`~planner.errors.StoreError` naming the
holder. :meth:`GpkgStore.write_lock` holds the lock across a
read-modify-write (publishing a survey update merges it into the version
that is current under the lock, so two updates published at once both land).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import getpass
import hashlib
import json
import os
import re
import shutil
import sqlite3
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj

from planner import schema
from planner.errors import StoreError
from planner.io import _linked
from planner.io.lock import WriterLock, account_for, copy_ownership, write_errors
from planner.io.lock import lock_timeout as lock_timeout_of

#: Kinds of versioned non-spatial tables (plain DataFrames; versioned, current and audited like layers).
TABLE_KINDS = ("enterprise", "enterprise_link")
#: Kinds of versioned layers (geometry layers, then the non-spatial tables).
LAYER_KINDS = ("survey", "constraint", "barrier", "flags", "sites", "site_parcels", "boundary", "result", *TABLE_KINDS)
#: Layer kinds stored without a GeoPackage R-tree: per-parcel results derived again on every run and read
#: whole (classified parcels; each site's member parcels as points). Building the index was half of their
#: write; survey, constraint, barrier, boundary and sites layers keep theirs (for GIS tools and bbox reads).
UNINDEXED_KINDS = ("flags", "site_parcels")
#: Kinds of versioned documents.
DOC_KINDS = ("policy", "scenario", "site_edit", "template", "settings", "site_params", "comparison")

SCHEMA_VERSION = "1"


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


@contextlib.contextmanager
def _transaction(con: sqlite3.Connection):
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` on ``con``; an exception rolls back and propagates."""
    con.execute("BEGIN IMMEDIATE")
    try:
        yield con
        con.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            con.execute("ROLLBACK")
        raise


def _user(user: str | None) -> str:
    if user:
        return user
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


def sha256_file(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes (for the audit table)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


#: The files of a shapefile that hold its data (the .shp holds only the shapes: attributes are in the .dbf).
SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")


def catalogue_meta(value) -> dict:
    """A catalogue row's ``meta`` (:meth:`Store.layers`) as a dict: JSON text in a GeoPackage, a dict from PostGIS;
    missing or unreadable: empty.

    >>> catalogue_meta('{"label": "2025"}'), catalogue_meta(None), catalogue_meta("not json")
    ({'label': '2025'}, {}, {})
    """
    try:
        return json.loads(value) if isinstance(value, str) else dict(value or {})
    except (TypeError, ValueError):
        return {}


def source_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a survey or table file as loaded: a file's bytes (:func:`sha256_file`), or for a shapefile its
    .shp, .shx, .dbf, .prj and .cpg together (the .shp alone does not change when only attributes do: a
    re-surveyed floor area was refused as "the same file as" the previous survey)."""
    p = Path(path)
    if p.suffix.lower() != ".shp":
        return sha256_file(p)
    parts = {f.suffix.lower(): f for f in p.parent.glob("*") if f.is_file() and f.stem == p.stem
             and f.suffix.lower() in SHAPEFILE_PARTS}
    parts[".shp"] = p
    h = hashlib.sha256()
    for ext in SHAPEFILE_PARTS:
        if ext in parts:
            h.update(f"{ext}:{sha256_file(parts[ext])}\n".encode())
    return h.hexdigest()


def sha256_text(text: str) -> str:
    """SHA-256 of a UTF-8 text (policy and scenario hashes)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclasses.dataclass(frozen=True)
class LayerWrite:
    """One layer of a :meth:`Store.write_layers` commit."""

    kind: str
    name: str
    gdf: gpd.GeoDataFrame
    meta: dict | None = None
    source_file: str | None = None
    sha256: str | None = None
    make_current: bool = True
    #: ``(kind, name, version)`` of a layer whose geometry the rows share by ``parcel_id``: the rows are then
    #: stored without geometry (``gdf`` may be a plain DataFrame) and read back with that layer's polygons
    #: (:mod:`planner.io._linked`; the flags of a survey version).
    geometry_from: tuple[str, str, int] | None = None
    #: With ``geometry_from``: columns whose values equal the source's for the same parcel (the survey's own
    #: fields in a classification); they are read from the source too, not stored again.
    shared_columns: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class DocWrite:
    """One document of a :meth:`Store.write_layers` commit."""

    kind: str
    name: str
    payload: dict


def _check_doc(kind: str) -> None:
    if kind not in DOC_KINDS:
        msg = f"unknown document kind {kind!r}; one of {DOC_KINDS}"
        raise StoreError(msg)


def _doc_text(payload: dict) -> tuple[str, str]:
    """Canonical JSON of a document and its SHA-256."""
    text = json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str)
    return text, sha256_text(text)


def _check_write(w: LayerWrite) -> None:
    if w.kind not in LAYER_KINDS:
        msg = f"unknown layer kind {w.kind!r}; one of {LAYER_KINDS}"
        raise StoreError(msg)
    if w.geometry_from is not None:
        if w.kind in TABLE_KINDS or not isinstance(w.gdf, pd.DataFrame):
            msg = f"layer {w.kind}/{w.name}: only a geometry layer's rows (a DataFrame) can share another's geometry"
            raise StoreError(msg)
        _linked.check_linkable(w.gdf, w.shared_columns, f"layer {w.kind}/{w.name}")
        return
    if w.kind in TABLE_KINDS:
        if not isinstance(w.gdf, pd.DataFrame) or isinstance(w.gdf, gpd.GeoDataFrame):
            msg = f"table {w.kind}/{w.name}: a plain DataFrame (no geometry) is required"
            raise StoreError(msg)
        return
    if not isinstance(w.gdf, gpd.GeoDataFrame) or w.gdf.crs is None:
        msg = f"layer {w.kind}/{w.name}: a GeoDataFrame with a CRS is required"
        raise StoreError(msg)


class Store(ABC):
    """What the planner needs from a workspace, whatever the backend."""

    #: The workspace's projected metric CRS.
    crs: pyproj.CRS
    #: The workspace as :func:`open_store` takes it (a ``.gpkg`` path or a ``postgresql://`` URI).
    uri: str

    # -- geometry layers -------------------------------------------------
    @abstractmethod
    def write_layer(
        self,
        kind: str,
        name: str,
        gdf: gpd.GeoDataFrame,
        *,
        user: str | None = None,
        source_file: str | None = None,
        sha256: str | None = None,
        meta: dict | None = None,
        make_current: bool = True,
        action: str | None = None,
    ) -> int:
        """Store ``gdf`` as a new version of layer ``(kind, name)``; return the version."""

    @abstractmethod
    def write_layers(self, writes: list[LayerWrite], *, docs: list[DocWrite] = (), user: str | None = None,
                     action: str | None = None) -> dict[tuple[str, str], int]:
        """Store several layers (and documents) as new versions in one commit: all of them or none.

        A result made of several pieces (sites and their parcel table; flags
        and the policy they came from) is written with one call, so a reader
        never pairs a new piece with an old one. Returns ``{(kind, name):
        version}`` for the layers and documents written.
        """

    @abstractmethod
    def read_layer(
        self,
        kind: str,
        name: str | None = None,
        version: int | None = None,
        *,
        bbox: tuple[float, float, float, float] | None = None,
        columns: list[str] | None = None,
        geometry: bool = True,
    ) -> gpd.GeoDataFrame:
        """Read a version (default: the current one) of a layer (a plain DataFrame for :data:`TABLE_KINDS`).

        ``columns`` reads only those attribute columns; ``geometry=False``
        leaves the geometry out and returns a plain DataFrame (a scenario's
        parcel rollup needs six attribute columns of a 1M-row layer, not its
        polygons). A layer written with ``LayerWrite.geometry_from`` reads the
        same way: its geometry (and shared columns) come from the source
        layer through a view (:mod:`planner.io._linked`).
        """

    @abstractmethod
    def layers(self, kind: str | None = None) -> pd.DataFrame:
        """Catalogue of layer versions: kind, name, version, created_at, user, n_rows, is_current, meta."""

    def set_current(self, kind: str, name: str, version: int, *, user: str | None = None) -> None:
        """Make an existing version the current one (switch or roll back)."""
        self.set_currents([(kind, name, version)], user=user)

    @abstractmethod
    def set_currents(self, targets: Sequence[tuple[str, str, int]], *, user: str | None = None) -> None:
        """Make existing versions ``(kind, name, version)`` current in one transaction, an audit row each: an
        enterprise table and its parcel links switch together or not at all (a process killed between two
        switches left the table of one version current with the links of another). Nothing is switched when
        one of them does not exist."""

    # -- documents -------------------------------------------------------
    @abstractmethod
    def save_doc(self, kind: str, name: str, payload: dict, *, user: str | None = None) -> int:
        """Save a new version of a document (policy, scenario, ...); return the version."""

    @abstractmethod
    def load_doc(self, kind: str, name: str, version: int | None = None) -> dict:
        """Load a document version (default: latest)."""

    @abstractmethod
    def latest_docs(self, kind: str) -> dict[str, dict]:
        """The latest version of every document of a kind, by name (deletion marks included), in one read."""

    @abstractmethod
    def docs(self, kind: str | None = None) -> pd.DataFrame:
        """Catalogue of document versions."""

    # -- audit -----------------------------------------------------------
    @abstractmethod
    def record(self, action: str, *, user: str | None = None, **kw) -> None:
        """Add an audit row for an action that wrote nothing else (e.g. a rejected load)."""

    @abstractmethod
    def audit_log(self) -> pd.DataFrame:
        """All audit rows, oldest first."""

    # -- accounts (the office's users; planner.workflow.accounts) --------------
    #: Columns of :meth:`users` (the password hash is only in :meth:`user_record`).
    USER_COLUMNS = ("username", "display_name", "role", "disabled", "created_at", "updated_at")

    @abstractmethod
    def users(self) -> pd.DataFrame:
        """The workspace's accounts (no password hashes), by user name; empty when it has none."""

    @abstractmethod
    def user_record(self, username: str) -> dict | None:
        """One account with its password hash, or None."""

    @abstractmethod
    def put_user(self, username: str, *, role: str, password_hash: str, display_name: str = "",
                 disabled: bool = False, user: str | None = None, action: str = "user_add") -> None:
        """Add or update an account (one transaction with its audit row, ``action`` by ``user``)."""

    # -- identity and change detection ---------------------------------------
    @property
    @abstractmethod
    def label(self) -> str:
        """A short name of the workspace to show users (never a server path or a password)."""

    @abstractmethod
    def revision(self) -> str:
        """A token that changes whenever the workspace is written (cache key of the app)."""

    def lock_holder(self) -> dict | None:
        """Who holds the writer lock (user, host, pid, command, action, since); None when nobody does."""
        return None

    # -- whole-workspace transfer (``planner workspace copy``) ---------------
    @abstractmethod
    def export_rows(self) -> dict[str, list[dict]]:
        """The workspace's own tables as stored: ``planner_meta``, ``planner_layers``, ``planner_docs``, ``planner_audit``, ``planner_users``.

        Rows are dicts, in key / (kind, name, version) / id order;
        ``is_current`` is a bool. Backend-only keys (a PostGIS SRID) are left out.
        """

    @abstractmethod
    def import_rows(self, rows: dict[str, list[dict]], layers) -> None:
        """Fill this empty workspace with ``rows`` (from :meth:`export_rows`) and ``layers``, in one commit.

        ``layers`` yields ``(catalogue row, GeoDataFrame)`` for every row of
        ``rows["planner_layers"]``. Versions, times, users and audit ids are
        kept as they are.
        """

    def _refuse_if_not_empty(self) -> None:
        """Refuse a copy into this workspace unless it is empty, saying what it holds (accounts included)."""
        held = {"layer versions": len(self.layers()), "documents": len(self.docs()), "accounts": len(self.users()),
                "audit rows": len(self.audit_log())}
        if any(held.values()):
            zh_units = {"layer versions": "个图层版本", "documents": "个文档", "accounts": "个账号", "audit rows": "条审计记录"}
            there = ", ".join(f"{n} {what if n != 1 else what.replace('versions', 'version').rstrip('s')}"
                              for what, n in held.items() if n)
            there_zh = "、".join(f"{n} {zh_units[what]}" for what, n in held.items() if n)
            msg = (f"workspace {self.label} is not empty (it holds {there}); nothing was copied. Copy into a new "
                   "workspace (another file or ?schema=), or an empty one")
            raise StoreError(msg, zh=f"工作空间 {self.label} 不是空的（其中有 {there_zh}），未复制任何内容。"
                                     "请复制到新的工作空间（另一个文件或另一个 ?schema=），或一个空的工作空间")

    # -- conveniences shared by all backends --------------------------------
    def read_parcels(self, version: int | None = None, **kw) -> gpd.GeoDataFrame:
        """The current (or given) survey version of the parcel layer."""
        return self.read_layer("survey", "parcels", version, **kw)

    #: The keywords :meth:`publish_survey` takes besides ``label``: :meth:`write_layer`'s, its kind and name aside.
    PUBLISH_SURVEY_KEYWORDS = ("user", "source_file", "sha256", "meta", "make_current", "action")

    def publish_survey(self, parcels: gpd.GeoDataFrame, *, label: str | None = None, **kw) -> int:
        """Publish a parcel table as a new, current survey version.

        ``label`` (e.g. "2025 annual survey") is kept in the version's meta;
        the other keywords are :data:`PUBLISH_SURVEY_KEYWORDS`, passed on to
        :meth:`write_layer`. Any other keyword is a :class:`TypeError` naming
        those it takes (``name=`` was "got multiple values for argument 'name'" from :meth:`write_layer`).
        """
        unknown = [k for k in kw if k not in self.PUBLISH_SURVEY_KEYWORDS]
        if unknown:
            said = ", ".join(repr(k) for k in unknown)
            why = (" (the survey layer is always 'parcels'; a version's name is its label=)"
                   if {"name", "kind"} & set(unknown) else "")
            msg = (f"publish_survey() got an unexpected keyword argument{'s' if len(unknown) > 1 else ''} {said}{why}; "
                   f"it takes {', '.join(('label', *self.PUBLISH_SURVEY_KEYWORDS))}")
            raise TypeError(msg)
        kw.setdefault("action", "publish_survey")
        meta = dict(kw.pop("meta", None) or {})
        if label:
            meta["label"] = label
        meta.setdefault(schema.FIGURE_SUMS, schema.figure_sums(parcels))  # an earlier version's copy told cheaply
        return self.write_layer("survey", "parcels", parcels, meta=meta, **kw)

    def surveys(self) -> pd.DataFrame:
        """Survey versions, newest last."""
        return self.layers("survey")

    def read_all_layers(self, kind: str) -> gpd.GeoDataFrame:
        """Current versions of every layer of a kind, stacked with a ``layer`` column."""
        cat = self.layers(kind)
        cat = cat[cat["is_current"]]
        if not len(cat):
            return gpd.GeoDataFrame({"layer": pd.Series([], dtype="string")}, geometry=[], crs=self.crs)
        parts = []
        for name in cat["name"]:
            g = self.read_layer(kind, name)
            g.insert(0, "layer", name)
            parts.append(g)
        return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=self.crs)

    def has_layer(self, kind: str, name: str | None = None) -> bool:
        cat = self.layers(kind)
        return bool(len(cat) if name is None else (cat["name"] == name).any())

    def write_lock(self, action: str | None = None) -> contextlib.AbstractContextManager:
        """Hold the writer lock across a read-modify-write (re-entrant in one thread).

        Writes inside the block take the same lock without waiting, so what
        was read inside is still current when the write commits.
        """
        return contextlib.nullcontext()

    def document_lock(self, kind: str, name: str) -> contextlib.AbstractContextManager:
        """Hold what a check-then-save of one document needs (default: the whole writer lock)."""
        return self.write_lock(f"save_{kind}")

    def document_locks(self, kind: str, names) -> contextlib.AbstractContextManager:
        """Hold several documents of ``kind`` across a check-then-save of them all (a rename: the old name and
        the new; default: the whole writer lock, which holds every document)."""
        return self.write_lock(f"save_{kind}")


_DDL = """
CREATE TABLE IF NOT EXISTS planner_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS planner_layers (
    kind TEXT NOT NULL, name TEXT NOT NULL, version INTEGER NOT NULL,
    table_name TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL, user TEXT NOT NULL,
    n_rows INTEGER NOT NULL, is_current INTEGER NOT NULL DEFAULT 0,
    source_file TEXT, sha256 TEXT, meta TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (kind, name, version));
CREATE TABLE IF NOT EXISTS planner_docs (
    kind TEXT NOT NULL, name TEXT NOT NULL, version INTEGER NOT NULL,
    created_at TEXT NOT NULL, user TEXT NOT NULL, sha256 TEXT NOT NULL, payload TEXT NOT NULL,
    PRIMARY KEY (kind, name, version));
CREATE TABLE IF NOT EXISTS planner_audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, ts TEXT NOT NULL, user TEXT NOT NULL,
    action TEXT NOT NULL, kind TEXT, name TEXT, version INTEGER,
    source_file TEXT, sha256 TEXT, n_rows INTEGER, detail TEXT);
"""

_ATTR_TABLES = ("planner_meta", "planner_layers", "planner_docs", "planner_audit")


class GpkgStore(Store):
    """A workspace in one GeoPackage file (the embedded default backend).

    Parameters
    ----------
    path : path-like
        The ``.gpkg`` file. It must exist unless ``create=True``.
    crs : str or pyproj.CRS, optional
        Projected metric CRS for a new workspace.
    create : bool
        Create the workspace if the file does not exist.
    lock_timeout : float, optional
        Seconds a write waits for another writer before giving up (default:
        ``PLANNER_LOCK_TIMEOUT`` or 300).

    Examples
    --------
    >>> import tempfile, shapely, geopandas as gpd
    >>> ws = GpkgStore(tempfile.mkdtemp() + "/ws.gpkg", crs="EPSG:4549", create=True)
    >>> g = gpd.GeoDataFrame({"parcel_id": ["a"]}, geometry=[shapely.box(0, 0, 1, 1)], crs="EPSG:4549")
    >>> ws.publish_survey(g, label="first")
    1
    """

    def __init__(self, path: str | os.PathLike, *, crs=None, create: bool = False,
                 lock_timeout: float | None = None) -> None:
        self.path = Path(path)
        self._writer = WriterLock(self.path, lock_timeout_of(lock_timeout))
        if not self.path.exists():
            if not create:
                msg = f"workspace {self.path.name} does not exist; create it with `planner workspace init {self.path} --crs EPSG:...` (or --from DATA)"
                raise StoreError(msg, zh=f"工作空间 {self.path.name} 不存在；请先新建：`planner workspace init {self.path} "
                                         "--crs EPSG:...`（或 --from 数据文件）")
            if crs is None:
                msg = f"a new workspace ({self.path.name}) needs a projected metric CRS, e.g. crs='EPSG:4549'"
                raise StoreError(msg, zh=f"新工作空间 {self.path.name} 需要以米为单位的投影坐标系，如 EPSG:4549")
            self._create(pyproj.CRS.from_user_input(crs))
        self._check()
        self.crs = pyproj.CRS.from_user_input(self._meta("crs"))

    # -- low level -------------------------------------------------------
    @property
    def uri(self) -> str:
        """The workspace as ``open_store`` takes it (the file's path)."""
        return str(self.path)

    @property
    def lock_timeout(self) -> float:
        """Seconds a write waits for another writer."""
        return self._writer.timeout

    def _connect(self, path: Path | None = None) -> sqlite3.Connection:
        con = sqlite3.connect(path or self.path, timeout=30, isolation_level=None)
        con.execute("PRAGMA journal_mode=DELETE")
        return con

    def _create(self, crs: pyproj.CRS) -> None:
        refuse_non_metric(crs, self.path.name)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex}.tmp.gpkg")
        try:
            with self._write_errors("creating the workspace", "新建工作空间"):
                self._create_in(tmp, crs)
        finally:
            for p in (tmp, tmp.with_name(tmp.name + "-journal")):
                p.unlink(missing_ok=True)

    def _create_in(self, tmp: Path, crs: pyproj.CRS) -> None:
        """An empty GeoPackage with its gpkg_* tables (made by GDAL) and the planner tables, committed."""
        empty = gpd.GeoDataFrame({"name": pd.Series([], dtype="string")}, geometry=[], crs=crs)
        pyogrio.write_dataframe(empty, tmp, layer="_planner_init", driver="GPKG")
        con = self._connect(tmp)
        try:
            con.execute("BEGIN")
            self._init_tables(con)
            con.executemany(
                "INSERT INTO planner_meta VALUES (?, ?)",
                [("crs", crs.to_wkt()), ("schema_version", SCHEMA_VERSION), ("created_at", _now())],
            )
            con.execute("COMMIT")
        finally:
            con.close()
        self._commit_file(tmp)

    @staticmethod
    def _init_tables(con: sqlite3.Connection) -> None:
        for stmt in filter(None, (s.strip() for s in _DDL.split(";"))):
            con.execute(stmt)
        for t in _ATTR_TABLES:
            con.execute(
                "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description) "
                "VALUES (?, 'attributes', ?, 'planner workspace table')",
                (t, t),
            )

    def _check(self) -> None:
        try:
            con = self._connect()
            try:
                names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            finally:
                con.close()
        except sqlite3.DatabaseError as exc:
            msg = (f"workspace {self.label}: not a readable GeoPackage workspace ({exc}); the file is damaged or not "
                   "a GeoPackage: restore it from a backup, or pick another workspace")
            raise StoreError(msg, zh=f"工作空间 {self.label}：无法作为 GeoPackage 工作空间读取（文件已损坏或不是 GeoPackage）；"
                                     "请从备份恢复，或选择其他工作空间") from exc
        missing = [t for t in _ATTR_TABLES if t not in names]
        if missing:
            msg = (f"workspace {self.label}: a GeoPackage but not a planner workspace (missing tables {missing}); "
                   "create one with `planner workspace init` (its layers can be imported into it)")
            raise StoreError(msg, zh=f"工作空间 {self.label}：是 GeoPackage，但不是 planner 工作空间（缺少数据表 "
                                     f"{', '.join(missing)}）；请用 planner workspace init 新建工作空间（可把其中的图层导入新工作空间）")

    def _meta(self, key: str) -> str:
        con = self._connect()
        try:
            row = con.execute("SELECT value FROM planner_meta WHERE key=?", (key,)).fetchone()
        finally:
            con.close()
        if row is None:
            msg = f"workspace {self.label} has no {key!r} in planner_meta"
            raise StoreError(msg, zh=f"工作空间 {self.label}：planner_meta 中缺少 {key!r}（工作空间不完整）")
        return row[0]

    # -- writing: lock, permissions, copy-on-write ---------------------------
    def write_lock(self, action: str | None = None) -> contextlib.AbstractContextManager:
        return self._writer.held(action, account_for(self))

    def _lock(self, action: str | None = None) -> contextlib.AbstractContextManager:
        return self._writer.held(action, account_for(self))

    def lock_holder(self) -> dict | None:
        """Who holds the writer lock (user, host, pid, command, action, since); None when nobody does."""
        return self._writer.holder()

    def _write_errors(self, what: str, what_zh: str) -> contextlib.AbstractContextManager:
        return write_errors(self.path, what, what_zh)

    def _commit_file(self, tmp: Path, like: os.stat_result | None = None) -> None:
        if like is not None:
            copy_ownership(like, tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        with contextlib.suppress(OSError):  # directories cannot be fsynced on some systems
            dfd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)

    def _cleanup_stale(self) -> None:
        """Remove copies (and their SQLite journals) left by writes that were killed (called under the lock)."""
        for p in self.path.parent.glob(f".{self.path.name}.*.tmp.gpkg*"):
            with contextlib.suppress(OSError):
                p.unlink()

    @contextlib.contextmanager
    def _copy_on_write(self, action: str | None = None) -> Iterator[Path]:
        """Yield a private copy of the workspace; it replaces the original only on success."""
        with self._lock(action):
            self._cleanup_stale()
            tmp = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex}.tmp.gpkg")
            try:
                with self._write_errors("writing the workspace", "写入工作空间"):
                    like = self.path.stat()
                    shutil.copyfile(self.path, tmp)
                    yield tmp
                    self._commit_file(tmp, like)
            finally:
                for p in (tmp, *(tmp.with_name(tmp.name + s) for s in ("-journal", "-wal", "-shm"))):
                    with contextlib.suppress(OSError):
                        p.unlink(missing_ok=True)

    @staticmethod
    def _audit(con: sqlite3.Connection, user: str, action: str, **kw) -> None:
        cols = ["ts", "user", "action", *kw]
        con.execute(
            f"INSERT INTO planner_audit ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
            [_now(), user, action, *kw.values()],
        )

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
        user = _user(user)
        out: dict[tuple[str, str], int] = {}
        with self._lock(action), self._write_errors("writing the workspace", "写入工作空间"):
            self._cleanup_stale()
            self._drop_orphans()
            con = self._connect()
            try:
                planned = []
                for w in writes:
                    (v,) = con.execute("SELECT COALESCE(MAX(version), 0) FROM planner_layers WHERE kind=? AND name=?",
                                       (w.kind, w.name)).fetchone()
                    version = int(v) + 1
                    safe = "".join(ch if ch.isalnum() else "_" for ch in w.name.encode("ascii", "replace").decode())
                    planned.append((w, version, f"{w.kind}_{safe}_v{version:04d}_{uuid.uuid4().hex[:6]}"))
                    out[(w.kind, w.name)] = version
            finally:
                con.close()
            written: list[str] = []
            try:
                links = {}
                for w, _version, table in planned:
                    written.append(table)  # before the write: a failure may leave part of it
                    if w.geometry_from is not None:
                        links[table] = self._write_linked(w, table)
                        continue
                    opts = {} if w.kind in TABLE_KINDS else {"SPATIAL_INDEX": "NO" if w.kind in UNINDEXED_KINDS else "YES"}
                    pyogrio.write_dataframe(w.gdf.reset_index(drop=True), self.path, layer=table, driver="GPKG",
                                            use_arrow=True, layer_options=opts)
                self._register(planned, docs, user, action, out, links)
            except BaseException:
                with contextlib.suppress(Exception):  # best effort; else the next write drops them
                    self._drop_tables(written)
                raise
        return out

    def _source_table(self, source: tuple[str, str, int] | dict) -> str:
        """The table of the layer version ``(kind, name, version)`` a linked layer takes its geometry from."""
        kind, name, version = (source["kind"], source["name"], source["version"]) if isinstance(source, dict) else source
        return self._table_for(kind, name, int(version))[0]

    def _write_linked(self, w: LayerWrite, table: str, path: Path | None = None,
                      source_table: str | None = None) -> tuple[str, dict]:
        """Write ``w``'s rows without geometry (and its shared columns), each under its parcel's feature id in the
        source layer; return the source table and the link to record (for the view and the catalogue).
        """
        path = path or self.path
        src = source_table or self._source_table(w.geometry_from)
        _, ids = pyogrio.read_arrow(path, layer=src, columns=[_linked.KEY], read_geometry=False, return_fids=True)
        fids = _linked.link_fids(ids.column(_linked.KEY), ids.column(0).to_numpy(), w.gdf[_linked.KEY],
                                 f"layer {w.kind}/{w.name}")
        attrs = _linked.attributes(w.gdf, drop=w.shared_columns)
        attrs.insert(0, "fid", fids)
        pyogrio.write_dataframe(attrs, path, layer=table, driver="GPKG", use_arrow=True, layer_options={"FID": "fid"})
        columns = list(_linked.attributes(w.gdf.iloc[:0]).columns)
        return src, _linked.link_meta({}, w.geometry_from, columns, w.shared_columns)[_linked.GEOMETRY_FROM]

    @staticmethod
    def _create_view(con: sqlite3.Connection, table: str, source_table: str, link: dict) -> None:
        """The GeoPackage view ``<table>_geom``: the rows of ``table`` with the geometry of ``source_table``.

        Registered in ``gpkg_contents`` and ``gpkg_geometry_columns`` (inside the caller's transaction), so
        GDAL and QGIS list it as a layer with the source's geometry type, CRS and extent.
        """
        view = _linked.view_name(table)
        own = [r[1] for r in con.execute(f'PRAGMA table_info("{table}")') if r[1] != "fid"]
        geom, gtype, srs, z, m = con.execute(
            "SELECT column_name, geometry_type_name, srs_id, z, m FROM gpkg_geometry_columns WHERE table_name=?",
            (source_table,)).fetchone()
        pk = next((r[1] for r in con.execute(f'PRAGMA table_info("{source_table}")') if r[5] == 1), "fid")
        sel = ", ".join(f'{"s" if from_source else "a"}."{c}"' for c, from_source in _linked.view_columns(link, own))
        con.execute(f'CREATE VIEW "{view}" AS SELECT a.fid AS fid, {sel}, s."{geom}" AS "{geom}" '
                    f'FROM "{table}" a JOIN "{source_table}" s ON s."{pk}" = a.fid')
        con.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, description, last_change, min_x, "
                    "min_y, max_x, max_y, srs_id) SELECT ?, 'features', ?, ?, strftime('%Y-%m-%dT%H:%M:%fZ','now'), "
                    "min_x, min_y, max_x, max_y, srs_id FROM gpkg_contents WHERE table_name=?",
                    (view, view, f"{table} with the geometry of {source_table}", source_table))
        con.execute("INSERT INTO gpkg_geometry_columns VALUES (?, ?, ?, ?, ?, ?)", (view, geom, gtype, srs, z, m))

    def _register(self, planned, docs, user: str, action: str | None, out: dict, links: dict | None = None) -> None:
        """Check the written tables and make them (and ``docs``) known in one SQLite transaction."""
        links = links or {}
        con = self._connect()
        try:
            for w, _version, table in planned:  # a write that lost rows (a full disk GDAL shrugged off) goes no further
                (got,) = con.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()
                if got != len(w.gdf):
                    msg = (f"workspace {self.label}: layer {w.kind}/{w.name} was written with {got} of "
                           f"{len(w.gdf)} rows; nothing was changed")
                    raise StoreError(msg, zh=f"工作空间 {self.path.name}：图层 {w.kind}/{w.name} 只写入了 {got}/"
                                             f"{len(w.gdf)} 行，未做任何修改")
            with _transaction(con):
                for w, version, table in planned:
                    meta = w.meta or {}
                    if table in links:
                        self._create_view(con, table, *links[table])
                        meta = {**meta, _linked.GEOMETRY_FROM: links[table][1]}
                    meta_text = json.dumps(meta, ensure_ascii=False, default=str)
                    if w.make_current:
                        con.execute("UPDATE planner_layers SET is_current=0 WHERE kind=? AND name=?", (w.kind, w.name))
                    con.execute(
                        "INSERT INTO planner_layers (kind, name, version, table_name, created_at, user, n_rows, "
                        "is_current, source_file, sha256, meta) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                        (w.kind, w.name, version, table, _now(), user, len(w.gdf), int(w.make_current),
                         w.source_file, w.sha256, meta_text),
                    )
                    self._audit(con, user, action or f"write_{w.kind}", kind=w.kind, name=w.name, version=version,
                                source_file=w.source_file, sha256=w.sha256, n_rows=len(w.gdf), detail=meta_text[:4000])
                for d in docs:
                    out[(d.kind, d.name)] = self._insert_doc(con, d.kind, d.name, d.payload, user)
        finally:
            con.close()

    #: Names the store gives layer tables (``<kind>_<name>_v0001_<6 hex>``); only such tables are ever dropped.
    _TABLE_NAME = re.compile(rf"^({'|'.join(LAYER_KINDS)})_.*_v\d{{4,}}_[0-9a-f]{{6}}$")

    def _drop_orphans(self) -> list[str]:
        """Drop layer tables no catalogue row names: left by writes killed or failed before their commit.

        Called under the writer lock, so no write is under way; only tables
        named as the store names layer tables are considered. Returns the
        tables dropped.
        """
        con = self._connect()
        try:
            known = {r[0].lower() for r in con.execute("SELECT table_name FROM planner_layers")}
            tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            listed = [r[0] for r in con.execute("SELECT table_name FROM gpkg_contents")]
        finally:
            con.close()
        orphans = sorted({t for t in [*tables, *listed]
                          if self._TABLE_NAME.match(t) and t.lower() not in known and not t.startswith("rtree_")})
        if orphans:
            self._drop_tables(orphans)
        return orphans

    def _drop_tables(self, tables: list[str]) -> None:
        """Drop layer tables with their spatial index and GeoPackage entries, in one transaction."""
        if not tables:
            return
        con = self._connect()
        try:
            names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            meta = [t for t in ("gpkg_contents", "gpkg_geometry_columns", "gpkg_extensions", "gpkg_ogr_contents",
                                "gpkg_metadata_reference", "gpkg_data_columns") if t in names]
            with _transaction(con):
                for t in tables:
                    view = _linked.view_name(t)
                    con.execute(f'DROP VIEW IF EXISTS "{view}"')
                    for m in meta:
                        con.execute(f"DELETE FROM {m} WHERE lower(table_name)=lower(?)", (view,))
                    for idx in [n for n in names if n.lower().startswith(f"rtree_{t.lower()}_")
                                and not n.lower().endswith(("_node", "_parent", "_rowid"))]:
                        con.execute(f'DROP TABLE IF EXISTS "{idx}"')
                    con.execute(f'DROP TABLE IF EXISTS "{t}"')
                    for m in meta:
                        con.execute(f"DELETE FROM {m} WHERE lower(table_name)=lower(?)", (t,))
        finally:
            con.close()

    def _table_for(self, kind: str, name: str | None, version: int | None) -> tuple[str, dict]:
        con = self._connect()
        try:
            q = "SELECT table_name, meta, name FROM planner_layers WHERE kind=?"
            args: list = [kind]
            if name is not None:
                q += " AND name=?"
                args.append(name)
            if version is None:
                q += " AND is_current=1"
            else:
                q += " AND version=?"
                args.append(int(version))
            rows = con.execute(q + " ORDER BY name", args).fetchall()
        finally:
            con.close()
        if not rows:
            what = f"{kind}/{name or '*'}" + (f" version {version}" if version else " (current)")
            msg = f"workspace {self.label} has no layer {what}"
            raise StoreError(msg, zh=f"工作空间 {self.label} 中没有图层 {what}")
        if len(rows) > 1:
            msg = f"several {kind} layers ({', '.join(r[2] for r in rows)}); name one"
            raise StoreError(msg)
        return rows[0][0], json.loads(rows[0][1])

    def read_layer(self, kind, name=None, version=None, *, bbox=None, columns=None,
                   geometry=True) -> gpd.GeoDataFrame:
        table, meta = self._table_for(kind, name, version)
        link = _linked.link_of(meta)
        layer, meta = _linked.source_for(table, meta, geometry=geometry, bbox=bbox, columns=columns)
        gdf = None
        if link is not None and layer != table and bbox is None:
            gdf = self._read_linked(table, link, columns, geometry)
        if gdf is None:
            gdf = pyogrio.read_dataframe(self.path, layer=layer, use_arrow=True,
                                         bbox=None if kind in TABLE_KINDS else bbox, columns=columns,
                                         read_geometry=geometry and kind not in TABLE_KINDS)
        for c in gdf.columns:
            if c != "geometry" and (gdf[c].dtype == object or str(gdf[c].dtype).startswith(("large_string", "string"))):
                gdf[c] = gdf[c].astype("string")
        gdf.attrs["meta"] = meta
        gdf.attrs["table"] = table
        return gdf

    def _read_linked(self, table: str, link: dict, columns, geometry: bool) -> pd.DataFrame | None:
        """A linked layer read as its view reads it, from its own table and its source's, joined on the feature id.

        Through the view (SQLite joining the two per row) a 1M-row flags read
        with the survey's polygons took 2.5 s (``planner sites``' columns; 4.8 s
        with every column); two plain reads and a sorted-id look-up give the
        same frame (same columns, order, dtypes, rows in feature-id order) in
        2.0 s (2.8 s). None when a row has no source row (the view's inner join
        would drop it): the caller reads the view.
        """
        shared = _linked.shared_of(link)
        own = [str(c) for c in pyogrio.read_info(self.path, layer=table)["fields"]]
        order = [c for c, _ in _linked.view_columns(link, own)]
        want = order if columns is None else [c for c in order if c in set(columns)]
        a = pyogrio.read_dataframe(self.path, layer=table, use_arrow=True, read_geometry=False, fid_as_index=True,
                                   columns=[c for c in want if c not in shared])
        b = pyogrio.read_dataframe(self.path, layer=self._source_table(link), use_arrow=True, fid_as_index=True,
                                   read_geometry=geometry, columns=[c for c in want if c in shared])
        fa, fb = a.index.to_numpy(dtype=np.int64), b.index.to_numpy(dtype=np.int64)
        if len(fb) and not (fb[1:] > fb[:-1]).all():
            return None
        pos = np.searchsorted(fb, fa)
        if len(fa) and (pos.max() >= len(fb) or not (fb[pos] == fa).all()):
            return None
        same = len(fa) == len(fb) and bool((pos == np.arange(len(fb))).all())  # every source row, in its order
        out = (b if same else b.iloc[pos]).reset_index(drop=True)
        for c in a.columns:
            out[c] = a[c].to_numpy() if a[c].dtype.kind in "biufM" else a[c].array
        keep = [c for c in want if c in out.columns] + ([out.geometry.name] if isinstance(out, gpd.GeoDataFrame)
                                                       else [])
        return out[keep]

    def layers(self, kind=None) -> pd.DataFrame:
        con = self._connect()
        try:
            q = ("SELECT kind, name, version, created_at, user, n_rows, is_current, source_file, sha256, meta, "
                 "table_name FROM planner_layers")
            args: tuple = ()
            if kind is not None:
                q += " WHERE kind=?"
                args = (kind,)
            df = pd.read_sql_query(q + " ORDER BY kind, name, version", con, params=args)
        finally:
            con.close()
        df["is_current"] = df["is_current"].astype(bool)
        return df

    def set_currents(self, targets, *, user=None) -> None:
        user = _user(user)
        targets = [(str(k), str(n), int(v)) for k, n, v in targets]
        with self._lock("set_current"), self._write_errors("switching the current version", "切换当前版本"):
            con = self._connect()
            try:
                with _transaction(con):
                    for kind, name, version in targets:
                        hit = con.execute("SELECT 1 FROM planner_layers WHERE kind=? AND name=? AND version=?",
                                          (kind, name, version)).fetchone()
                        if hit is None:
                            msg = f"workspace {self.label} has no version {version} of {kind}/{name}"
                            raise StoreError(msg, zh=f"工作空间 {self.label} 中没有 {kind}/{name} 的版本 {version}")
                        con.execute("UPDATE planner_layers SET is_current=(version=?) WHERE kind=? AND name=?",
                                    (version, kind, name))
                        self._audit(con, user, "set_current", kind=kind, name=name, version=version)
            finally:
                con.close()

    # -- documents -------------------------------------------------------
    @classmethod
    def _insert_doc(cls, con: sqlite3.Connection, kind: str, name: str, payload: dict, user: str) -> int:
        """Insert the next version of a document (inside the caller's transaction); return it."""
        text, digest = _doc_text(payload)
        (v,) = con.execute("SELECT COALESCE(MAX(version), 0) FROM planner_docs WHERE kind=? AND name=?",
                           (kind, name)).fetchone()
        version = int(v) + 1
        con.execute("INSERT INTO planner_docs VALUES (?,?,?,?,?,?,?)", (kind, name, version, _now(), user, digest, text))
        cls._audit(con, user, f"save_{kind}", kind=kind, name=name, version=version, sha256=digest)
        return version

    def save_doc(self, kind, name, payload, *, user=None) -> int:
        _check_doc(kind)
        user = _user(user)
        with self._lock(f"save_{kind}"), self._write_errors(f"saving {kind} {name!r}", f"保存 {kind} {name!r}"):
            con = self._connect()
            try:
                with _transaction(con):
                    version = self._insert_doc(con, kind, name, payload, user)
            finally:
                con.close()
        return version

    def load_doc(self, kind, name, version=None) -> dict:
        con = self._connect()
        try:
            if version is None:
                row = con.execute("SELECT payload FROM planner_docs WHERE kind=? AND name=? ORDER BY version DESC LIMIT 1",
                                  (kind, name)).fetchone()
            else:
                row = con.execute("SELECT payload FROM planner_docs WHERE kind=? AND name=? AND version=?",
                                  (kind, name, int(version))).fetchone()
        finally:
            con.close()
        if row is None:
            msg = f"workspace {self.label} has no {kind} {name!r}" + (f" version {version}" if version else "")
            raise StoreError(msg, zh=f"工作空间 {self.label} 中没有 {kind} {name!r}" + (f" 的版本 {version}" if version else ""))
        return json.loads(row[0])

    def latest_docs(self, kind) -> dict[str, dict]:
        con = self._connect()
        try:
            rows = con.execute("SELECT name, payload FROM planner_docs AS d WHERE kind = ? AND version = "
                               "(SELECT max(version) FROM planner_docs WHERE kind = d.kind AND name = d.name)",
                               (kind,)).fetchall()
        finally:
            con.close()
        return {name: json.loads(payload) for name, payload in rows}

    def docs(self, kind=None) -> pd.DataFrame:
        con = self._connect()
        try:
            q = "SELECT kind, name, version, created_at, user, sha256 FROM planner_docs"
            args: tuple = ()
            if kind is not None:
                q += " WHERE kind=?"
                args = (kind,)
            return pd.read_sql_query(q + " ORDER BY kind, name, version", con, params=args)
        finally:
            con.close()

    # -- audit -----------------------------------------------------------
    def record(self, action: str, *, user: str | None = None, **kw) -> None:
        """Add an audit row for an action that wrote nothing else (e.g. a rejected load)."""
        with self._lock(action), self._write_errors("recording an audit row", "写入操作记录"):
            con = self._connect()
            try:
                with _transaction(con):
                    self._audit(con, _user(user), action, **kw)
            finally:
                con.close()

    def audit_log(self) -> pd.DataFrame:
        con = self._connect()
        try:
            return pd.read_sql_query("SELECT * FROM planner_audit ORDER BY id", con)
        finally:
            con.close()

    # -- accounts ------------------------------------------------------------
    _USERS_DDL = ("CREATE TABLE IF NOT EXISTS planner_users (username TEXT PRIMARY KEY, display_name TEXT NOT NULL "
                  "DEFAULT '', role TEXT NOT NULL, password_hash TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0, "
                  "created_at TEXT NOT NULL, updated_at TEXT NOT NULL)")

    def _has_users_table(self, con: sqlite3.Connection) -> bool:
        return con.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='planner_users'").fetchone() is not None

    def users(self) -> pd.DataFrame:
        con = self._connect()
        try:
            if not self._has_users_table(con):
                return pd.DataFrame({c: pd.Series([], dtype=object) for c in self.USER_COLUMNS})
            df = pd.read_sql_query(f"SELECT {', '.join(self.USER_COLUMNS)} FROM planner_users ORDER BY username", con)
        finally:
            con.close()
        df["disabled"] = df["disabled"].astype(bool)
        return df

    def user_record(self, username: str) -> dict | None:
        con = self._connect()
        con.row_factory = sqlite3.Row
        try:
            if not self._has_users_table(con):
                return None
            row = con.execute("SELECT * FROM planner_users WHERE username=?", (username,)).fetchone()
        finally:
            con.close()
        if row is None:
            return None
        out = dict(row)
        out["disabled"] = bool(out["disabled"])
        return out

    def put_user(self, username, *, role, password_hash, display_name="", disabled=False, user=None,
                 action="user_add") -> None:
        with self._lock(action), self._write_errors("saving an account", "保存账户"):
            con = self._connect()
            try:
                with _transaction(con):
                    if not self._has_users_table(con):
                        con.execute(self._USERS_DDL)
                        con.execute("INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description) "
                                    "VALUES ('planner_users', 'attributes', 'planner_users', 'planner workspace table')")
                    now = _now()
                    con.execute("INSERT INTO planner_users (username, display_name, role, password_hash, disabled, "
                                "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (username) DO UPDATE SET "
                                "display_name=excluded.display_name, role=excluded.role, password_hash=excluded.password_hash, "
                                "disabled=excluded.disabled, updated_at=excluded.updated_at",
                                (username, display_name, role, password_hash, int(disabled), now, now))
                    self._audit(con, _user(user), action, kind="user", name=username, detail=f"role={role} disabled={disabled}")
            finally:
                con.close()

    # -- identity and change detection ---------------------------------------
    @property
    def label(self) -> str:
        return self.path.name

    def revision(self) -> str:
        try:
            st = self.path.stat()
        except OSError:
            return "missing"
        return f"{st.st_mtime_ns}:{st.st_size}"

    # -- whole-workspace transfer --------------------------------------------
    _EXPORT = (("planner_meta", "key"), ("planner_layers", "kind, name, version"),
               ("planner_docs", "kind, name, version"), ("planner_audit", "id"))

    def export_rows(self) -> dict[str, list[dict]]:
        con = self._connect()
        con.row_factory = sqlite3.Row
        try:
            out = {t: [dict(r) for r in con.execute(f"SELECT * FROM {t} ORDER BY {order}")]
                   for t, order in self._EXPORT}
        finally:
            con.close()
        for r in out["planner_layers"]:
            r["is_current"] = bool(r["is_current"])
        out["planner_users"] = [self.user_record(u) for u in self.users()["username"]]
        return out

    def import_rows(self, rows: dict[str, list[dict]], layers) -> None:
        self._refuse_if_not_empty()
        with self._copy_on_write("copy_workspace") as tmp:
            cat = []
            used: set[str] = set()
            tables: dict[tuple, str] = {}
            linked = []  # written after the layers they take their geometry from
            for row, gdf in layers:
                table = row["table_name"]
                if not table.replace("_", "").isalnum() or not table.isascii() or table.lower() in used:
                    table = f"{row['kind']}_v{int(row['version']):04d}_{uuid.uuid4().hex[:6]}"
                used.add(table.lower())
                tables[(row["kind"], row["name"], int(row["version"]))] = table
                link = _linked.link_of(json.loads(row.get("meta") or "{}"))
                if link is not None:
                    linked.append((row, table, _linked.attributes(gdf), link))
                    cat.append({**row, "table_name": table, "is_current": int(bool(row["is_current"]))})
                    continue
                spatial = isinstance(gdf, gpd.GeoDataFrame)  # an enterprise table (TABLE_KINDS) has no geometry
                if spatial and not pyproj.CRS.from_user_input(gdf.crs).equals(self.crs):
                    gdf = gdf.to_crs(self.crs)
                pyogrio.write_dataframe(gdf.reset_index(drop=True), tmp, layer=table, driver="GPKG", use_arrow=True,
                                        layer_options={"SPATIAL_INDEX": "YES"} if spatial else {},
                                        promote_to_multi=False)  # a copy keeps the geometries as they were
                cat.append({**row, "table_name": table, "is_current": int(bool(row["is_current"]))})
            views = []
            for row, table, attrs, link in linked:
                source = tables.get((link["kind"], link["name"], int(link["version"])))
                if source is None:
                    msg = f"layer {row['kind']}/{row['name']} v{row['version']}: the layer it takes its geometry from is missing"
                    raise StoreError(msg)
                w = LayerWrite(row["kind"], row["name"], attrs, geometry_from=(link["kind"], link["name"], link["version"]),
                               shared_columns=tuple(_linked.shared_of(link)))
                self._write_linked(w, table, path=tmp, source_table=source)
                views.append((table, source, link))
            con = self._connect(tmp)
            try:
                con.execute("BEGIN")
                for table, source, link in views:
                    self._create_view(con, table, source, link)
                for r in rows.get("planner_meta", []):
                    con.execute("INSERT OR REPLACE INTO planner_meta (key, value) VALUES (?, ?)", (r["key"], r["value"]))
                if rows.get("planner_users"):
                    con.execute(self._USERS_DDL)
                    con.execute("INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description) "
                                "VALUES ('planner_users', 'attributes', 'planner_users', 'planner workspace table')")
                users = [{**r, "disabled": int(bool(r["disabled"]))} for r in rows.get("planner_users", [])]
                for table, data in (("planner_layers", cat), ("planner_docs", rows.get("planner_docs", [])),
                                    ("planner_audit", rows.get("planner_audit", [])), ("planner_users", users)):
                    for r in data:
                        cols = list(r)
                        con.execute(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                                    [r[c] for c in cols])
                con.execute("COMMIT")
            finally:
                con.close()


def refuse_non_metric(crs, where: str) -> None:
    """Raise :class:`StoreError` unless ``crs`` is projected and in metres (feet and degrees are refused).

    The message proposes a metric CRS for the same area (the CRS's area of use).
    """
    from planner.crs import crs_label, metric_problem, propose_workspace_crs

    try:
        c = pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError as exc:  # a typo, or "gcj02" (a datum of web-map lon/lat, not a workspace CRS)
        gcj = str(crs).strip().casefold().replace("-", "") in ("gcj02", "gcj")
        en = ("gcj02 is the offset lon/lat of Chinese web maps, a CRS of data, not of a workspace: give it as the "
              "data's CRS (workspace init --from DATA --source-crs gcj02; ingest --crs gcj02)" if gcj else
              "not a CRS pyproj understands")
        zh = ("gcj02 是国内网络地图的偏移经纬度，是数据的坐标系，不能作为工作空间坐标系：请作为数据坐标系指定"
              "（workspace init --from 数据 --source-crs gcj02；ingest --crs gcj02）" if gcj else "无法识别的坐标系")
        msg = (f"workspace {where}: CRS {str(crs)!r}: {en}; use a projected CRS in metres such as EPSG:4549 "
               "(CGCS2000 / 3-degree Gauss-Kruger CM 120E), or let `planner workspace init WS --from DATA` propose one")
        raise StoreError(msg, zh=f"工作空间 {where}：坐标系 {str(crs)!r}：{zh}；请使用以米为单位的投影坐标系，如 "
                                 "EPSG:4549（CGCS2000 3 度带 120°E），或用 planner workspace init WS --from 数据文件 "
                                 "按数据推荐") from exc
    problem = metric_problem(c)
    if problem is None:
        return
    en, zh = problem
    hint = hint_zh = ""
    aou = c.area_of_use
    if aou is not None and aou.east - aou.west <= 12:  # a region, not the world: its zone
        with contextlib.suppress(Exception):
            prop, _ = propose_workspace_crs((aou.west + aou.east) / 2, (aou.south + aou.north) / 2)
            hint = f"; for the same area use {crs_label(prop)}: --crs EPSG:{prop.to_epsg()}"
            hint_zh = f"；同一地区可用 {crs_label(prop)}：--crs EPSG:{prop.to_epsg()}"
    if not hint:
        hint = "; or let `planner workspace init WS --from DATA` propose one for your data"
        hint_zh = "；或用 planner workspace init WS --from 数据文件 按数据推荐坐标系"
    msg = f"workspace {where}: {en}{hint}. Data in any CRS can still be loaded: ingest reprojects them"
    raise StoreError(msg, zh=f"工作空间 {where}：{zh}{hint_zh}。任何坐标系的数据仍可导入：导入时会自动转换")


def create_workspace(uri: str | os.PathLike, crs, **kw) -> Store:
    """Create an empty workspace at ``uri`` in a projected metric ``crs`` and open it.

    The one way every face makes a workspace (``planner workspace init``, the
    app): a backend is chosen by the URI (``*.gpkg``: :class:`GpkgStore`;
    ``postgresql://``: :class:`~planner.io.postgis.PostgisStore`). An
    existing workspace is refused, never overwritten; a CRS not in metres is
    refused with a metric proposal for the same area.

    Examples
    --------
    >>> import tempfile
    >>> create_workspace(tempfile.mkdtemp() + "/ws.gpkg", "EPSG:32618").crs.to_epsg()
    32618
    """
    s = str(uri)
    is_db = s.startswith(("postgresql://", "postgres://"))
    if is_db:
        from planner.io._pgconn import parse_uri

        shown = parse_uri(s).display
    else:
        shown = Path(s).name
    refuse_non_metric(crs, shown)
    if _is_gpkg(s) and Path(s).exists():
        msg = f"workspace {s} already exists; choose another name (nothing was changed)"
        raise StoreError(msg, zh=f"工作空间 {Path(s).name} 已存在；请换一个名称（未做任何修改）")
    if is_db:
        from planner.io.postgis import workspace_exists

        if workspace_exists(s):
            msg = f"workspace {shown} already exists; choose another schema (nothing was changed)"
            raise StoreError(msg, zh=f"工作空间 {shown} 已存在；请换一个 schema（未做任何修改）")
    return open_store(s, create=True, crs=crs, **kw)


def _is_gpkg(s: str) -> bool:
    return s.lower().endswith(".gpkg") and not s.startswith(("postgresql://", "postgres://"))


def open_store(uri: str | os.PathLike, *, create: bool = False, crs=None, **kw) -> Store:
    """Open a workspace by path or URI: ``*.gpkg`` (:class:`GpkgStore`) or ``postgresql://...``.

    Parameters
    ----------
    uri : str or path-like
        A GeoPackage file, or ``postgresql://user@host:port/db?schema=name``
        (:class:`~planner.io.postgis.PostgisStore`).
    create : bool
        Create the workspace if it does not exist (``crs`` is then required).
    crs : str or pyproj.CRS, optional
        Projected metric CRS of a new workspace (see :func:`create_workspace`).
    **kw
        Passed to the backend (``lock_timeout``).
    """
    s = str(uri)
    if s.startswith(("postgresql://", "postgres://")):
        from planner.io.postgis import PostgisStore

        return PostgisStore(s, create=create, crs=crs, **kw)
    if not s.lower().endswith(".gpkg"):
        from planner.io._pgconn import without_credentials

        shown = without_credentials(s)  # a mistyped database address: its password is not shown
        msg = (f"workspace {shown!r}: expected a .gpkg file or a postgresql:// URI "
               "(postgresql://USER@HOST:PORT/DATABASE?schema=NAME, the scheme in lower case)")
        raise StoreError(msg, zh=f"工作空间 {shown!r}：应为 .gpkg 文件或 postgresql:// 地址（协议名小写）")
    return GpkgStore(s, create=create, crs=crs, **kw)
