"""Moving a layer between a GeoDataFrame and a PostGIS table in bulk (private helper of :mod:`planner.io.postgis`).

Both directions go through Arrow and PostgreSQL's ``COPY ... (FORMAT csv)``:
the frame is converted to an Arrow table, written as CSV by Arrow's C++
writer in batches (geometry as hex EWKB, which PostGIS reads as it is) and
streamed into ``COPY ... FROM STDIN``; a read streams ``COPY (SELECT ...) TO
STDOUT`` into Arrow's CSV reader with the column types taken from the table,
and geometry from the hex EWKB PostGIS writes. No Python object is made per
row, and the resulting frame goes through the same Arrow-to-pandas conversion
as a GeoPackage read (``pyogrio.read_dataframe(use_arrow=True)``), so both
backends hand back the same dtypes.

CSV keeps NULL and the empty string apart: every non-null value is written
quoted and a NULL as nothing, which is how PostgreSQL's CSV mode reads them
and writes them back.
"""

from __future__ import annotations

import io

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import shapely

from planner.errors import StoreError

#: Column of every layer table that keeps the rows' order (1..n, like a GeoPackage's fid).
FID = "fid"
#: The geometry column of every layer table.
GEOM = "geometry"
#: Rows per COPY batch.
_BATCH = 50_000


def _pg_type(t: pa.DataType, column: str, where: str) -> str:
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_int8(t) or pa.types.is_int16(t) or pa.types.is_uint8(t):
        return "smallint"
    if pa.types.is_int32(t) or pa.types.is_uint16(t):
        return "integer"
    if pa.types.is_integer(t):
        return "bigint"
    if pa.types.is_float16(t) or pa.types.is_float32(t):
        return "real"
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "double precision"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t):
        return "text"
    if pa.types.is_timestamp(t):
        return "timestamptz" if t.tz else "timestamp"
    if pa.types.is_date(t):
        return "date"
    msg = f"{where}: column {column!r} holds {t} values, which a workspace layer cannot store; convert it to text or numbers"
    raise StoreError(msg, zh=f"{where}：列 {column!r} 的类型（{t}）无法存入工作空间图层，请转换为文本或数值")


def _arrow_type(pg: str) -> pa.DataType:
    """Arrow type a column of PostgreSQL type ``pg`` (``format_type`` text) is read as."""
    pg = pg.lower()
    if pg == "boolean":
        return pa.bool_()
    if pg == "smallint":
        return pa.int16()
    if pg == "integer":
        return pa.int32()
    if pg == "bigint":
        return pa.int64()
    if pg == "real":
        return pa.float32()
    if pg in ("double precision", "numeric") or pg.startswith("numeric("):
        return pa.float64()
    if pg == "date":
        return pa.date32()
    if pg.startswith("timestamp with time zone"):
        return pa.timestamp("ms", tz="UTC")
    if pg.startswith("timestamp"):
        return pa.timestamp("ms")
    return pa.string()


def attribute_table(gdf: gpd.GeoDataFrame, where: str) -> tuple[pa.Table, list[tuple[str, str]]]:
    """The frame's attributes as an Arrow table and ``(column, PostgreSQL type)`` pairs."""
    geom_name = gdf.geometry.name if isinstance(gdf, gpd.GeoDataFrame) else None  # a plain DataFrame: no geometry
    attrs = pd.DataFrame({c: gdf[c] for c in gdf.columns if c != geom_name}).reset_index(drop=True)
    for c in attrs.columns:
        if not isinstance(c, str) or not c:
            msg = f"{where}: column names must be non-empty text, got {c!r}"
            raise StoreError(msg, zh=f"{where}：列名必须是非空文本（{c!r}）")
        if c.lower() in (FID, GEOM):
            msg = f"{where}: a column may not be called {c!r} (the workspace uses that name itself); rename it"
            raise StoreError(msg, zh=f"{where}：列名 {c!r} 为工作空间保留名称，请改名")
    if len({c.lower() for c in attrs.columns}) < attrs.shape[1]:
        msg = f"{where}: two columns differ only in upper/lower case; rename one"
        raise StoreError(msg, zh=f"{where}：有两列名称仅大小写不同，请改名")
    try:
        table = pa.Table.from_pandas(attrs, preserve_index=False)
    except (pa.ArrowException, TypeError, ValueError) as exc:
        msg = f"{where}: the attributes cannot be stored ({exc}); convert mixed columns to text"
        raise StoreError(msg, zh=f"{where}：属性无法存储（{exc}），请把混合类型的列转换为文本") from exc
    fields = []
    for i, f in enumerate(table.schema):
        if pa.types.is_dictionary(f.type):
            table = table.set_column(i, f.name, table.column(i).cast(f.type.value_type))
        elif pa.types.is_null(f.type):
            table = table.set_column(i, f.name, table.column(i).cast(pa.string()))
        fields.append((f.name, _pg_type(table.schema.field(i).type, f.name, where)))
    return table, fields


_HEX_DIGITS = np.frombuffer(b"0123456789ABCDEF", dtype=np.uint8)


#: (single, multi) type ids of shapely and the function making the multi type.
_MULTI_OF = ((0, 4, shapely.multipoints), (1, 5, shapely.multilinestrings), (3, 6, shapely.multipolygons))


def promote_mixed(geoms: np.ndarray) -> np.ndarray:
    """The geometries as a GeoPackage layer write stores them: a layer of exactly one type and its multi type
    (polygons and multipolygons) becomes all multi (pyogrio's ``promote_to_multi`` default for GPKG).

    So a layer written to either backend reads back the same, and a copy between them changes nothing.

    Examples
    --------
    >>> import shapely
    >>> g = np.array([shapely.box(0, 0, 1, 1), None, shapely.MultiPolygon([shapely.box(2, 2, 3, 3)])], dtype=object)
    >>> [x.geom_type if x is not None else None for x in promote_mixed(g)]
    ['MultiPolygon', None, 'MultiPolygon']
    >>> promote_mixed(g[:1])[0].geom_type
    'Polygon'
    """
    types = shapely.get_type_id(geoms)
    present = set(np.unique(types[types >= 0]).tolist())
    for single, multi, make in _MULTI_OF:
        if present == {single, multi}:
            idx = np.flatnonzero(types == single)
            out = geoms.copy()
            out[idx] = make(geoms[idx], indices=np.arange(len(idx)))
            return out
    return geoms


def geometry_hex(gdf: gpd.GeoDataFrame, srid: int, *, as_given: bool = False) -> pa.Array:
    """Hex EWKB of the frame's geometries with ``srid`` (null for a missing geometry).

    Binary WKB from GEOS, turned into hex digits in numpy (GEOS's own hex
    writer goes byte by byte). Mixed single and multi geometries are made
    multi (:func:`promote_mixed`) unless ``as_given`` (a copy keeps them as they were).
    """
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    if not as_given:
        geoms = promote_mixed(geoms)
    wkb = pa.array(shapely.to_wkb(shapely.set_srid(geoms, srid), include_srid=True), type=pa.binary())
    validity, offs, data = wkb.buffers()
    offsets = np.frombuffer(offs, dtype=np.int32, count=len(wkb) + 1)
    raw = np.frombuffer(data, dtype=np.uint8)[offsets[0]:offsets[-1]] if data is not None else np.zeros(0, np.uint8)
    digits = np.empty(2 * len(raw), dtype=np.uint8)
    digits[0::2] = _HEX_DIGITS[raw >> 4]
    digits[1::2] = _HEX_DIGITS[raw & 0x0F]
    return pa.Array.from_buffers(pa.string(), len(wkb),
                                 [validity, pa.py_buffer(((offsets - offsets[0]) * 2).astype(np.int32)),
                                  pa.py_buffer(digits)], null_count=wkb.null_count)


def has_z(gdf: gpd.GeoDataFrame) -> bool:
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    return bool(shapely.has_z(geoms[~shapely.is_missing(geoms)]).any()) if len(geoms) else False


def csv_batches(table: pa.Table, fid_start: int = 1, fids: np.ndarray | None = None):
    """CSV bytes of ``table`` with a leading ``fid`` column (``fids``, else numbered), in batches (non-null values quoted)."""
    n = table.num_rows
    fid = np.arange(fid_start, fid_start + n, dtype=np.int64) if fids is None else np.asarray(fids, dtype=np.int64)
    table = table.add_column(0, FID, pa.array(fid))
    opts = pacsv.WriteOptions(include_header=False, quoting_style="all_valid", batch_size=_BATCH)
    for batch in table.to_batches(max_chunksize=_BATCH):
        buf = io.BytesIO()
        pacsv.write_csv(pa.Table.from_batches([batch]), buf, opts)
        yield buf.getvalue()


class _CopyReader(io.RawIOBase):
    """A read-only file over the chunks of a ``COPY ... TO STDOUT``."""

    def __init__(self, chunks) -> None:
        self._it = iter(chunks)
        self._buf = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while not len(self._buf):
            try:
                self._buf = memoryview(bytes(next(self._it)))
            except StopIteration:
                return 0
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def read_csv_copy(chunks, names: list[str], types: list[pa.DataType]) -> pa.Table:
    """Arrow table of a ``COPY ... TO STDOUT (FORMAT csv)`` stream with known column names and types."""
    reader = io.BufferedReader(_CopyReader(chunks), buffer_size=1 << 20)
    return pacsv.read_csv(
        reader,
        read_options=pacsv.ReadOptions(column_names=names, block_size=8 << 20),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types=dict(zip(names, types, strict=True)), strings_can_be_null=True,
            quoted_strings_can_be_null=False, null_values=[""], true_values=["t"], false_values=["f"]),
    )


#: Hex digit -> value (GEOS's hex WKB reader goes byte by byte: decoding in numpy first is ~10x faster).
_HEX = np.zeros(256, dtype=np.uint8)
_HEX[np.frombuffer(b"0123456789", np.uint8)] = np.arange(10)
_HEX[np.frombuffer(b"abcdef", np.uint8)] = np.arange(10, 16)
_HEX[np.frombuffer(b"ABCDEF", np.uint8)] = np.arange(10, 16)


def _unhex(arr: pa.Array) -> pa.Array:
    """A binary array of the bytes a string array of hex digits spells (nulls kept)."""
    if pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.string())
    validity, offs, data = arr.buffers()
    offsets = np.frombuffer(offs, dtype=np.int32, count=len(arr) + 1, offset=arr.offset * 4)
    chars = np.frombuffer(data, dtype=np.uint8)[offsets[0]:offsets[-1]] if data is not None else np.zeros(0, np.uint8)
    nib = _HEX[chars]
    raw = (nib[0::2] << 4) | nib[1::2]
    new_offsets = ((offsets - offsets[0]) // 2).astype(np.int32)
    if validity is not None and arr.offset:
        validity = pa.array(arr.is_valid().to_numpy(zero_copy_only=False)).buffers()[1]
    return pa.Array.from_buffers(pa.binary(), len(arr), [validity, pa.py_buffer(new_offsets), pa.py_buffer(raw)],
                                 null_count=arr.null_count)


def to_frame(table: pa.Table, geom_col: str, crs) -> gpd.GeoDataFrame:
    """GeoDataFrame of an Arrow table whose ``geom_col`` holds hex EWKB (as pyogrio builds one)."""
    col = table.column(geom_col)
    parts = [_unhex(c).to_numpy(zero_copy_only=False) for c in col.chunks]
    wkb = np.concatenate(parts) if parts else np.zeros(0, dtype=object)
    table = table.drop_columns([geom_col])
    df = table.to_pandas(self_destruct=True)
    geoms = shapely.from_wkb(wkb)
    return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geoms, crs=crs).values, crs=crs)
