"""Layers stored without a geometry copy: attribute rows that share the geometry of another layer version.

A classification (``flags``) has one row per parcel of a survey version and
the parcels' own polygons. Writing those polygons again cost most of
``planner classify`` at a million parcels, and reading them back most of the
rest. A :class:`~planner.io.store.LayerWrite` with ``geometry_from=(kind,
name, version)`` is therefore stored as an attribute table whose feature id
(``fid``) is the feature id of the row with the same ``parcel_id`` in that
layer version, plus a view ``<table>_geom`` joining the two on the id (a
GeoPackage view registered in ``gpkg_contents`` and
``gpkg_geometry_columns``, so GDAL and QGIS list it as a polygon layer; a
SQL view in PostGIS). Reading the layer with geometry reads the view;
without geometry, the attribute table. The catalogue row's meta records the
link under :data:`GEOMETRY_FROM` (the store hides it from ``attrs["meta"]``).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from planner.errors import StoreError

#: Meta key of a catalogue row whose layer is stored without geometry: ``{"kind", "name", "version"}``.
GEOMETRY_FROM = "geometry_from"
#: Suffix of the view that gives a linked layer its geometry.
VIEW_SUFFIX = "_geom"
#: The column rows are linked by.
KEY = "parcel_id"


def view_name(table: str) -> str:
    """The geometry view of a linked layer table."""
    return f"{table}{VIEW_SUFFIX}"


def link_of(meta: dict | None) -> dict | None:
    """The ``{"kind", "name", "version"}`` a stored layer takes its geometry from, or None (a layer of its own)."""
    link = (meta or {}).get(GEOMETRY_FROM)
    return dict(link) if isinstance(link, dict) else None


def link_meta(meta: dict | None, source: tuple[str, str, int], columns=None, shared=()) -> dict:
    """``meta`` with the link to ``source`` (kind, name, version) recorded.

    With ``shared`` columns (taken from the source, not stored) the link also
    keeps the layer's whole column order ``columns``.
    """
    kind, name, version = source
    link = {"kind": str(kind), "name": str(name), "version": int(version)}
    if shared:
        link["columns"] = [str(c) for c in columns]
        link["shared"] = [str(c) for c in shared]
    return {**(meta or {}), GEOMETRY_FROM: link}


def shared_of(link: dict | None) -> list[str]:
    """The columns a linked layer takes from its source (not stored in its own table)."""
    return list((link or {}).get("shared") or [])


def view_columns(link: dict, own: list[str]) -> list[tuple[str, bool]]:
    """``(column, from the source)`` in the layer's order; ``own`` are the columns of its table."""
    shared = shared_of(link)
    order = link.get("columns") or own
    return [(c, c in shared) for c in order]


def needs_view(link: dict, *, geometry: bool, bbox, columns) -> bool:
    """Whether a read of a linked layer must go through its view (geometry, a box, or a shared column)."""
    shared = shared_of(link)
    return bool(geometry or bbox is not None or (shared and (columns is None or any(c in shared for c in columns))))


def public_meta(meta: dict) -> dict:
    """``meta`` as callers see it (without the store's link)."""
    return {k: v for k, v in meta.items() if k != GEOMETRY_FROM}


def attributes(df: pd.DataFrame, drop=()) -> pd.DataFrame:
    """The attribute columns of ``df`` as a plain DataFrame (geometry and ``drop`` left out, index reset)."""
    geom = df.geometry.name if isinstance(df, gpd.GeoDataFrame) and df._geometry_column_name in df.columns else None
    cols = [c for c in df.columns if c != geom and c not in drop]
    return pd.DataFrame(df[cols]).reset_index(drop=True)


def check_linkable(df: pd.DataFrame, shared, where: str) -> None:
    """Refuse a frame that cannot be linked by :data:`KEY`, or shares a column it lacks (or the key)."""
    if KEY not in df.columns:
        msg = f"{where}: a layer stored with the geometry of another needs a {KEY!r} column"
        raise StoreError(msg)
    bad = [c for c in shared if c == KEY or c not in df.columns]
    if bad:
        msg = f"{where}: shared columns {bad} are not columns of the layer (or are its key)"
        raise StoreError(msg)


def link_fids(source_ids: pa.Array, source_fids: np.ndarray, ids: pd.Series, where: str) -> np.ndarray:
    """The source feature id of each of ``ids`` (matched as text); :class:`StoreError` if one is missing or repeated.

    The usual case, the rows in the source's order, is one Arrow comparison.
    """
    key = pa.array(pd.Series(ids, dtype="string").array)
    if isinstance(key, pa.ChunkedArray):
        key = key.combine_chunks()
    src = source_ids.combine_chunks() if isinstance(source_ids, pa.ChunkedArray) else source_ids
    src = src.cast(pa.string()) if src.type != pa.string() else src
    key = key.cast(pa.string()) if key.type != pa.string() else key
    if len(key) == len(src) and key.null_count == 0 and key.equals(src):
        return np.asarray(source_fids, dtype=np.int64)
    pos = pc.index_in(key, value_set=src).fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    if (pos < 0).any():
        bad = pd.Series(ids).astype("string").to_numpy()[pos < 0][:5].tolist()
        msg = f"{where}: {int((pos < 0).sum())} row(s) have no {KEY} in the layer they take their geometry from, e.g. {bad}"
        raise StoreError(msg, zh=f"{where}：{int((pos < 0).sum())} 行的地块编号不在其几何所依据的图层中，例如 {bad}")
    if len(np.unique(pos)) < len(pos):
        msg = f"{where}: {KEY} repeats; each row must take the geometry of its own parcel"
        raise StoreError(msg, zh=f"{where}：地块编号重复，无法对应各自的几何")
    return np.asarray(source_fids, dtype=np.int64)[pos]


def source_for(table: str, meta: dict, *, geometry: bool, bbox, columns) -> tuple[str, dict]:
    """Where a read of ``table`` goes, and the meta callers see.

    A linked table (rows stored without geometry) is read through its view
    when the read needs the source's geometry or shared columns, else as it
    is; the link itself is not shown in the meta. Any other table is read as
    it is, its meta unchanged.
    """
    link = link_of(meta)
    if link is None:
        return table, meta
    layer = view_name(table) if needs_view(link, geometry=geometry, bbox=bbox, columns=columns) else table
    return layer, public_meta(meta)
