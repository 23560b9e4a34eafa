"""Fingerprint of a workspace's content: what "the workspace is unchanged" means, checkable.

A refused or failed command must leave the workspace as it was; byte equality
of the file is too strict for that promise (SQLite may rewrite a page header
without changing any row) and too weak to explain a difference. The
fingerprint is a SHA-256 per part of the content: the catalogue of layer
versions, the documents, the audit rows, the GeoPackage's own tables, the
list of tables, and every stored layer's rows (geometry bytes included).

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
_TABLES = ("planner_meta", "planner_layers", "planner_docs", "planner_audit", "gpkg_contents",
           "gpkg_geometry_columns", "gpkg_spatial_ref_sys")


def _hash_rows(con: sqlite3.Connection, table: str) -> str:
    h = hashlib.sha256()
    cur = con.execute(f'SELECT * FROM "{table}" ORDER BY rowid')
    h.update(repr([d[0] for d in cur.description]).encode())
    for row in cur:
        h.update(repr(row).encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def workspace_fingerprint(path: str | os.PathLike) -> dict[str, str]:
    """SHA-256 of each part of a workspace's content, read without writing anything.

    Keys: the workspace tables (``planner_layers``, ``planner_docs``,
    ``planner_audit``, ...), ``tables`` (the names of all tables) and
    ``layer:<table>`` for each stored layer version.
    """
    uri = f"file:{quote(str(Path(path).resolve()))}?mode=ro"
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


def fingerprint(path: str | os.PathLike) -> str:
    """One SHA-256 over :func:`workspace_fingerprint`."""
    parts = workspace_fingerprint(path)
    return hashlib.sha256(repr(sorted(parts.items())).encode()).hexdigest()


def changed_parts(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Names of the parts that differ between two fingerprints (added and removed ones included)."""
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


__all__ = ["changed_parts", "fingerprint", "workspace_fingerprint"]
