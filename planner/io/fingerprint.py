"""Fingerprint of a workspace's content: what "the workspace is unchanged" means, checkable.

A refused or failed command must leave the workspace as it was; byte equality
of the file is too strict for that promise (SQLite may rewrite a page header
without changing any row) and too weak to explain a difference. The
fingerprint is a SHA-256 per part of the content: the catalogue of layer
versions, the documents, the audit rows, the GeoPackage's own tables, the
list of tables, and every stored layer's rows (geometry bytes included).
:func:`workspace_fingerprint` takes a GeoPackage path or a ``postgresql://``
URI (the schema's tables, hashed the same way).

:func:`content_fingerprint` compares workspaces across backends: it hashes
what the :class:`~planner.io.store.Store` interface hands back (catalogue,
documents, audit, metadata, and each layer version's columns, dtypes, values
and geometry), leaving out what only says where a backend keeps things
(table names, a PostGIS SRID). A workspace copied GeoPackage -> PostGIS ->
GeoPackage has the same content fingerprint as the original.

Examples
--------
>>> import tempfile
>>> from planner.io.store import GpkgStore
>>> ws = GpkgStore(tempfile.mkdtemp() + "/ws.gpkg", crs="EPSG:4549", create=True)
>>> before = workspace_fingerprint(ws.path)
>>> _ = ws.save_doc("policy", "p", {"a": 1})
>>> changed_parts(before, workspace_fingerprint(ws.path))
['planner_audit', 'planner_docs']
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path
from urllib.parse import quote

#: Tables of a workspace hashed by name (besides every layer table in ``planner_layers``).
_TABLES = ("planner_meta", "planner_layers", "planner_docs", "planner_audit", "planner_users", "gpkg_contents",
           "gpkg_geometry_columns", "gpkg_spatial_ref_sys")


def _hash_rows(con: sqlite3.Connection, table: str) -> str:
    h = hashlib.sha256()
    cur = con.execute(f'SELECT * FROM "{table}" ORDER BY rowid')
    h.update(repr([d[0] for d in cur.description]).encode())
    for row in cur:
        h.update(repr(row).encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def workspace_fingerprint(path) -> dict[str, str]:
    """SHA-256 of each part of a workspace's content, read without writing anything.

    Keys: the workspace tables (``planner_layers``, ``planner_docs``,
    ``planner_audit``, ...), ``tables`` (the names of all tables) and
    ``layer:<table>`` for each stored layer version.

    Parameters
    ----------
    path : path, ``postgresql://`` URI or Store
        The workspace.
    """
    uri_or_path = getattr(path, "uri", None) or getattr(path, "path", None) or path
    if str(uri_or_path).startswith(("postgresql://", "postgres://")):
        return _pg_fingerprint(str(uri_or_path))
    uri = f"file:{quote(str(Path(uri_or_path).resolve()))}?mode=ro"
    con = sqlite3.connect(uri, uri=True)
    try:
        names = sorted(r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'"))
        out = {"tables": hashlib.sha256(repr(names).encode()).hexdigest()}
        for t in _TABLES:
            if t in names:
                out[t] = _hash_rows(con, t)
        if "planner_layers" in names:
            for (t,) in con.execute("SELECT table_name FROM planner_layers ORDER BY table_name"):
                out[f"layer:{t}"] = _hash_rows(con, t) if t in names else "missing"
        return out
    finally:
        con.close()


#: Tables of a PostGIS workspace hashed by name (``planner_writer`` only says who writes now).
_PG_TABLES = {"planner_meta": "key", "planner_layers": "kind, name, version", "planner_docs": "kind, name, version",
              "planner_audit": "id", "planner_migrations": "version", "planner_users": "username"}


def _pg_fingerprint(uri: str) -> dict[str, str]:
    from psycopg import sql

    from planner.io import _pgconn as C

    loc = C.parse_uri(uri)

    def copy_hash(con, query) -> str:
        h = hashlib.sha256()
        with con.cursor() as cur, cur.copy(sql.SQL("COPY ({}) TO STDOUT").format(query)) as cp:
            for chunk in cp:
                h.update(bytes(chunk))
        return h.hexdigest()

    with C.connection(loc, "reading the workspace") as con:
        names = sorted(r[0] for r in con.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'p')", (loc.schema,)).fetchall())
        out = {"tables": hashlib.sha256(repr(names).encode()).hexdigest()}
        for t, order in _PG_TABLES.items():
            if t in names:
                out[t] = copy_hash(con, sql.SQL("SELECT * FROM {} ORDER BY " + order).format(sql.Identifier(loc.schema, t)))
        if "planner_layers" in names:
            tables = [r[0] for r in con.execute(sql.SQL("SELECT table_name FROM {} ORDER BY table_name")
                                                .format(sql.Identifier(loc.schema, "planner_layers"))).fetchall()]
            for t in tables:
                out[f"layer:{t}"] = (copy_hash(con, sql.SQL("SELECT * FROM {} ORDER BY fid").format(
                    sql.Identifier(loc.schema, t))) if t in names else "missing")
    return out


def _hash_frame(gdf) -> str:
    """SHA-256 of a layer as read: column names and dtypes, values, geometry WKB (CRS left out)."""
    import geopandas as gpd
    import pandas as pd
    import shapely

    h = hashlib.sha256()
    h.update(repr([(str(c), str(t)) for c, t in gdf.dtypes.items()]).encode())
    spatial = isinstance(gdf, gpd.GeoDataFrame)  # an enterprise table (TABLE_KINDS) has no geometry
    attrs = gdf.drop(columns=gdf.geometry.name) if spatial else gdf
    if attrs.shape[1]:
        h.update(pd.util.hash_pandas_object(attrs, index=False).to_numpy().tobytes())
    for w in shapely.to_wkb(gdf.geometry.values, include_srid=False) if spatial else ():
        h.update(b"\x00" if w is None else w)
    return h.hexdigest()


def content_fingerprint(workspace) -> dict[str, str]:
    """SHA-256 of each part of a workspace as the store interface reads it, comparable across backends.

    Keys: ``meta``, ``catalogue`` (layer versions without table names),
    ``docs``, ``audit`` and ``layer:<kind>/<name>/v<version>``.

    Parameters
    ----------
    workspace : path, ``postgresql://`` URI or Store
    """
    from planner.io.store import Store, open_store

    store = workspace if isinstance(workspace, Store) else open_store(workspace)
    rows = store.export_rows()

    def h(values) -> str:
        return hashlib.sha256(repr(values).encode("utf-8", "surrogatepass")).hexdigest()

    out = {"meta": h(sorted((r["key"], r["value"]) for r in rows["planner_meta"]))}
    out["catalogue"] = h([tuple((k, bool(v) if k == "is_current" else v) for k, v in sorted(r.items())
                                if k != "table_name") for r in rows["planner_layers"]])
    out["docs"] = h([tuple(sorted(r.items())) for r in rows["planner_docs"]])
    out["audit"] = h([tuple(sorted(r.items())) for r in rows["planner_audit"]])
    out["users"] = h([tuple((k, bool(v) if k == "disabled" else v) for k, v in sorted(r.items()))
                      for r in rows.get("planner_users", [])])
    for r in rows["planner_layers"]:
        out[f"layer:{r['kind']}/{r['name']}/v{r['version']}"] = _hash_frame(
            store.read_layer(r["kind"], r["name"], int(r["version"])))
    return out


def fingerprint(path: str | os.PathLike) -> str:
    """One SHA-256 over :func:`workspace_fingerprint`."""
    parts = workspace_fingerprint(path)
    return hashlib.sha256(repr(sorted(parts.items())).encode()).hexdigest()


def changed_parts(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Names of the parts that differ between two fingerprints (added and removed ones included)."""
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


__all__ = ["changed_parts", "content_fingerprint", "fingerprint", "workspace_fingerprint"]
