"""Copying a whole workspace between backends (``planner workspace copy``).

A copy holds every layer version (current or not), every document version
and the whole audit log of the source, with their versions, times and users
as they were; a GeoPackage copied into PostGIS and back has the same content
fingerprint (:func:`planner.io.fingerprint.content_fingerprint`). The
destination must be new or empty; it is written in one commit, so a copy that
fails or is killed leaves it as it was (a new PostGIS workspace is created in
that same transaction).

Examples
--------
>>> import tempfile, shapely, geopandas as gpd
>>> from planner.io.store import GpkgStore
>>> from planner.io.fingerprint import content_fingerprint
>>> d = tempfile.mkdtemp()
>>> ws = GpkgStore(d + "/a.gpkg", crs="EPSG:4549", create=True)
>>> g = gpd.GeoDataFrame({"parcel_id": ["a"]}, geometry=[shapely.box(0, 0, 1, 1)], crs="EPSG:4549")
>>> _ = ws.publish_survey(g)
>>> copy_workspace(d + "/a.gpkg", d + "/b.gpkg").n_layers
1
>>> content_fingerprint(d + "/a.gpkg") == content_fingerprint(d + "/b.gpkg")
True
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import os
import uuid
from collections.abc import Callable
from pathlib import Path

from planner.errors import StoreError
from planner.i18n import note
from planner.io.store import Store, open_store


@dataclasses.dataclass(frozen=True)
class CopyReport:
    """What :func:`copy_workspace` copied."""

    source: str
    destination: str
    n_layers: int
    n_rows: int
    n_docs: int
    n_audit: int


def _exists(uri: str) -> bool:
    """Whether anything is at ``uri`` (a file; a database schema), so a failed copy must not remove it."""
    if uri.startswith(("postgresql://", "postgres://")):
        from planner.io.postgis import schema_exists

        return schema_exists(uri)
    return os.path.lexists(uri)


def copy_workspace(src: str | os.PathLike | Store, dst: str | os.PathLike, *,
                   progress: Callable[[str], None] | None = None) -> CopyReport:
    """Copy workspace ``src`` (all versions, documents and audit) into ``dst``, a new or empty workspace.

    Parameters
    ----------
    src : path, URI or Store
        The workspace to copy (GeoPackage or PostGIS).
    dst : path or URI
        Where to copy it: a ``.gpkg`` path or a ``postgresql://`` URI. Created
        with the source's CRS when it does not exist; refused when it holds
        anything.
    progress : callable, optional
        Called with a line of text per layer version copied (a :class:`~planner.errors.Note`: English, with
        its Chinese in ``zh``).
    """
    source = src if isinstance(src, Store) else open_store(src)
    dst_s = str(dst)
    if str(src) == dst_s or (not isinstance(src, Store) and os.path.abspath(str(src)) == os.path.abspath(dst_s)) \
            or _same_database_workspace(getattr(source, "uri", str(src)), dst_s):
        msg = f"source and destination are the same workspace ({source.label})"
        raise StoreError(msg, zh=f"源与目标是同一个工作空间（{source.label}）")
    if dst_s.startswith(("postgresql://", "postgres://")):
        from planner.io.postgis import PostgisStore, workspace_exists

        if not workspace_exists(dst_s):  # created and filled in one transaction: a kill leaves no schema behind
            with PostgisStore.creating(dst_s, source.crs) as target:
                return _copy_into(source, target, progress)
    elif not os.path.lexists(dst_s) and dst_s.lower().endswith(".gpkg"):
        return _copy_to_new_file(source, dst_s, progress)
    created = not _exists(dst_s)
    target = open_store(dst_s, create=True, crs=source.crs)
    try:
        return _copy_into(source, target, progress)
    except BaseException:
        if created:  # a copy that failed leaves no half-made workspace behind
            _remove(dst_s)
        raise


def _same_database_workspace(a: str, b: str) -> bool:
    """Whether two ``postgresql://`` URIs name one workspace (server, database, schema), however spelled.

    ``postgresql://gis@db/planner?schema=a`` and ``postgresql://gis:pw@db:5432/planner?schema=a&sslmode=require``
    are the same workspace: a copy of it into itself was refused as "not empty", as if it were another one.
    """
    if not all(str(u).startswith(("postgresql://", "postgres://")) for u in (a, b)):
        return False
    from planner.io._pgconn import parse_uri

    la, lb = parse_uri(a), parse_uri(b)
    return (la.server or "localhost:5432", la.display) == (lb.server or "localhost:5432", lb.display)


def _copy_to_new_file(source: Store, dst: str, progress) -> CopyReport:
    """Copy into a new GeoPackage made under a hidden name beside ``dst`` and named ``dst`` only when whole.

    A copy killed midway leaves no ``dst`` (it left a workspace that looked empty); the hidden files it
    leaves (``.NAME.copy-PID-*``, never offered by the app) go when a copy to ``dst`` next starts.
    """
    from planner.io.store import GpkgStore

    path = Path(dst)
    _remove_dead_copies(path)
    tmp = path.with_name(f".{path.name}.copy-{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp.gpkg")
    try:
        target = GpkgStore(tmp, crs=source.crs, create=True)
        rep = _copy_into(source, target, progress)
        try:
            os.link(tmp, path)  # never over a workspace made meanwhile
        except FileExistsError:
            msg = f"workspace {path.name} was created by someone else during the copy; nothing was copied into it"
            raise StoreError(msg, zh=f"复制期间他人创建了工作空间 {path.name}，未向其复制任何内容") from None
        except OSError:  # a file system without hard links
            if os.path.lexists(path):
                raise
            os.replace(tmp, path)
    finally:
        for p in [*path.parent.glob(f"{glob.escape(tmp.name)}*"), *path.parent.glob(f".{glob.escape(tmp.name)}*")]:
            with contextlib.suppress(OSError):
                p.unlink()
    return dataclasses.replace(rep, destination=path.name)


def _remove_dead_copies(path: Path) -> None:
    """Remove what earlier copies to ``path`` that were killed left beside it (a copy still running is kept)."""
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.copy-*.tmp.gpkg"):
        pid = tmp.name[len(path.name) + 7:].split("-", 1)[0]
        try:
            os.kill(int(pid), 0)
            continue  # its process runs
        except (ValueError, ProcessLookupError):
            pass
        except OSError:  # another user's process
            continue
        for p in [*path.parent.glob(f"{glob.escape(tmp.name)}*"), *path.parent.glob(f".{glob.escape(tmp.name)}*")]:
            with contextlib.suppress(OSError):
                p.unlink()


def _remove(uri: str) -> None:
    if uri.startswith(("postgresql://", "postgres://")):
        from planner.io.postgis import drop_workspace

        drop_workspace(uri)
    else:
        with contextlib.suppress(OSError):
            os.unlink(uri)


def _copy_into(source: Store, target: Store, progress) -> CopyReport:
    if not target.crs.equals(source.crs):
        msg = (f"destination {target.label} has CRS {target.crs.name}, the source {source.crs.name}; "
               "copy into a new workspace")
        raise StoreError(msg, zh=f"目标工作空间 {target.label} 的坐标系与源不同，请复制到新的工作空间")
    rows = source.export_rows()
    cat = rows["planner_layers"]

    def layers():
        for i, row in enumerate(cat, 1):
            if progress is not None:
                said = {"i": i, "n": len(cat), "kind": row["kind"], "name": row["name"], "v": row["version"],
                        "rows": row["n_rows"]}
                progress(note("cli_copy_layer", **said))
            yield row, source.read_layer(row["kind"], row["name"], int(row["version"]))

    target.import_rows(rows, layers())
    return CopyReport(source=source.label, destination=target.label, n_layers=len(cat),
                      n_rows=int(sum(int(r["n_rows"]) for r in cat)), n_docs=len(rows["planner_docs"]),
                      n_audit=len(rows["planner_audit"]))


__all__ = ["CopyReport", "copy_workspace"]
