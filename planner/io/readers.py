"""Readers of untrusted survey files: every format reduced to one raw layer.

Formats: shapefile (with sidecars), zipped shapefile / GeoPackage / GeoJSON /
FlatGeobuf / FileGDB folder / CSV (zips with folders, ``__MACOSX`` entries and
GBK-encoded CJK names), GeoPackage (choose a layer), GeoJSON, FlatGeobuf,
FileGDB (GDAL OpenFileGDB driver), CSV with a WKT column.

Uploads are untrusted: zips are unpacked by :func:`planner.io.archive.safe_extract`
(paths out of the folder, links, odd entry names and zip bombs refused);
files over a size limit are refused; nothing in them is executed or
followed. A ``.dbf`` header claiming more records than the file holds is
refused before any reader allocates for them; 3D surfaces (shapefile
MultiPatch, TIN) and attribute-only tables are refused with the file named;
a geometry shapely cannot parse (a 2-point ring is closed and left to the
repair of ingest; anything else unreadable) costs only its row
(:attr:`RawLayer.geom_errors`), on the Arrow fast path as on the others.

Shapefile text encoding: the ``.cpg`` file first, then strict UTF-8, then
GB18030, tested on the raw bytes of the ``.dbf`` text fields; ``encoding=``
overrides. The chosen encoding and why are reported.
"""

from __future__ import annotations

import codecs
import contextlib
import dataclasses
import os
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyogrio
import pyogrio.raw
import pyproj
import shapely

from planner.errors import IngestError, Note
from planner.io.archive import ReadLimits, safe_extract

#: Extensions of the dataset files ingest can open, by format name.
FORMATS = {
    ".shp": "ESRI Shapefile",
    ".gpkg": "GeoPackage",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".fgb": "FlatGeobuf",
    ".csv": "CSV (WKT)",
    ".gdb": "FileGDB",
}
#: File stems of an update-extent layer shipped beside the parcels in a zip.
EXTENT_STEMS = ("更新范围", "范围", "extent", "update_extent", "update_area", "updatearea")
#: Candidate names of the WKT column of a CSV, compared case-insensitively.
WKT_COLUMNS = ("wkt", "geometry", "geom", "the_geom", "shape", "wkt_geom", "geom_wkt")

_CPG = {"936": "GBK", "cp936": "GBK", "gbk": "GBK", "gb2312": "GBK", "gb18030": "GB18030", "54936": "GB18030",
        "65001": "UTF-8", "utf8": "UTF-8", "utf-8": "UTF-8", "1252": "CP1252", "ansi 1252": "CP1252",
        "iso-8859-1": "ISO-8859-1", "latin1": "ISO-8859-1", "88591": "ISO-8859-1", "big5": "BIG5", "950": "BIG5"}


class RawLayer:
    """A source layer as read, before CRS handling and field mapping.

    Held either as a GeoDataFrame (``gdf``) or, on the fast path of the
    Arrow-capable formats, as an Arrow table of the attributes (``table``)
    plus a shapely geometry array (``geoms``); ``gdf`` is then built only
    when asked for. :meth:`column` and :attr:`columns` work in both cases.
    """

    def __init__(self, gdf: gpd.GeoDataFrame | None = None, *, source: str, dataset: str, format: str,
                 layer: str | None = None, encoding: str | None = None, encoding_note: str = "",
                 crs: pyproj.CRS | None = None, notes: list[str] | None = None,
                 extent: gpd.GeoDataFrame | None = None,
                 row_note: str = Note("row numbers are 1-based feature positions in the source layer",
                                      zh="行号为源图层中要素的序号（从 1 开始）"),
                 table: pa.Table | None = None, geoms: np.ndarray | None = None,
                 geom_valid: np.ndarray | None = None, bounds: tuple | None = None,
                 geom_errors: dict[int, str] | None = None, n_coords: np.ndarray | None = None) -> None:
        if (gdf is None) == (table is None):
            msg = "RawLayer needs exactly one of gdf or table (with geoms)"
            raise ValueError(msg)
        self._gdf = gdf
        self.table = table
        self._geoms = geoms
        self.source, self.dataset, self.format, self.layer = source, dataset, format, layer
        self.encoding, self.encoding_note, self.crs = encoding, encoding_note, crs
        self.notes = list(notes or [])
        #: Update-extent polygons shipped beside the parcels (e.g. 更新范围.shp), if any.
        self.extent = extent
        self.row_note = row_note
        #: ``shapely.is_valid(geoms)`` and their total bounds, when computed while reading.
        self.geom_valid = geom_valid
        self.bounds = bounds
        #: Why a row's geometry could not be read (0-based position -> reason); those rows hold no geometry.
        self.geom_errors = dict(geom_errors or {})
        #: ``shapely.get_num_coordinates(geoms)``, when computed while reading.
        self.n_coords = n_coords

    @property
    def gdf(self) -> gpd.GeoDataFrame:
        """The layer as a GeoDataFrame (built from the Arrow table on first use)."""
        if self._gdf is None:
            df = self.table.to_pandas()
            df["geometry"] = self._geoms
            self._gdf = gpd.GeoDataFrame(df, geometry="geometry", crs=self.crs)
        return self._gdf

    @property
    def geoms(self) -> np.ndarray:
        """Geometries as a shapely object array (not a copy: do not modify)."""
        if self._geoms is None:
            return np.asarray(self._gdf.geometry.values, dtype=object)
        return self._geoms

    @property
    def columns(self) -> list[str]:
        """Attribute field names, in source order (geometry excluded)."""
        if self.table is not None:
            return list(self.table.column_names)
        return [c for c in self._gdf.columns if c != self._gdf.geometry.name]

    def __len__(self) -> int:
        return self.table.num_rows if self.table is not None else len(self._gdf)

    def column(self, name: str) -> pd.Series:
        """One attribute field as a pandas Series (what ``gdf[name]`` holds)."""
        if self._gdf is not None:
            return self._gdf[name]
        return self.table[name].to_pandas()


# -- what a file really is ----------------------------------------------------
#: First bytes -> (what the file is, English; Chinese; the extension it should have, if ingest reads it).
_MAGIC: tuple[tuple[bytes, str, str, str | None], ...] = (
    (b"PK\x03\x04", "a zip archive (or an .xlsx workbook)", "zip 压缩包（或 .xlsx 工作簿）", ".zip"),
    (b"PK\x05\x06", "an empty zip archive", "空的 zip 压缩包", None),
    (b"SQLite format 3\x00", "a SQLite database (a GeoPackage)", "SQLite 数据库（GeoPackage）", ".gpkg"),
    (bytes.fromhex("d0cf11e0a1b11ae1"), "an OLE file (an old .xls, or a password-protected workbook)",
     "OLE 文件（旧版 .xls 或有密码的工作簿）", None),
    (b"%PDF", "a PDF document", "PDF 文档", None),
    (b"\x89PNG", "a PNG image", "PNG 图片", None),
    (b"\xff\xd8\xff", "a JPEG image", "JPEG 图片", None),
    (b"Rar!", "a RAR archive", "RAR 压缩包", None),
    (b"7z\xbc\xaf", "a 7-Zip archive", "7-Zip 压缩包", None),
    (b"\x1f\x8b", "a gzip file", "gzip 压缩文件", None),
    (b"fgb\x03", "a FlatGeobuf file", "FlatGeobuf 文件", ".fgb"),
    (b"\x00\x00\x27\x0a", "a shapefile geometry file (.shp)", "shapefile 几何文件（.shp）", ".shp"),
)
#: Extension -> (the first bytes a file of that kind starts with, what it should be (English, Chinese)).
_EXPECTED: dict[str, tuple[tuple[bytes, ...], str, str]] = {
    ".zip": ((b"PK\x03\x04", b"PK\x05\x06"), "a zip archive", "zip 压缩包"),
    ".xlsx": ((b"PK\x03\x04",), "an Excel workbook (.xlsx)", "Excel 工作簿（.xlsx）"),
    ".xlsm": ((b"PK\x03\x04",), "an Excel workbook (.xlsm)", "Excel 工作簿（.xlsm）"),
    ".gpkg": ((b"SQLite format 3\x00",), "a GeoPackage", "GeoPackage"),
    ".shp": ((b"\x00\x00\x27\x0a",), "a shapefile (.shp)", "shapefile（.shp）"),
    ".fgb": ((b"fgb\x03",), "a FlatGeobuf file", "FlatGeobuf 文件"),
}
#: Text formats: (what the file should be, English, Chinese).
_TEXT_KINDS = {".geojson": ("a GeoJSON text file", "GeoJSON 文本文件"), ".json": ("a GeoJSON text file", "GeoJSON 文本文件"),
               ".csv": ("a CSV text file", "CSV 文本文件")}
#: Version bytes of dBASE tables (III to 7, FoxPro, with or without memo): what a .dbf starts with.
_DBF_VERSIONS = frozenset({0x02, 0x03, 0x04, 0x05, 0x07, 0x30, 0x31, 0x32, 0x43, 0x63, 0x7B, 0x83, 0x87, 0x8B,
                           0x8E, 0xCB, 0xE5, 0xF5, 0xFB})


def _what_is(head: bytes) -> tuple[str, str, str | None]:
    """What a file's first bytes say it is: (English, Chinese, the extension ingest would read it by)."""
    for magic, en, zh, ext in _MAGIC:
        if head.startswith(magic):
            return en, zh, ext
    if b"\x00" not in head and (_strict_ok(head, "utf-8") or _strict_ok(head, "gb18030")):
        if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith((b"{", b"[")):
            return "a JSON text file", "JSON 文本文件", ".geojson"
        first = head.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0]
        if any(sep in first for sep in (b",", b"\t", b";")):
            return "a text file (a CSV?)", "文本文件（CSV？）", ".csv"
        return "a text file", "文本文件", None
    return "a file of another kind", "其他类型的文件", None


def check_file_kind(path: str | os.PathLike, shown: str | None = None) -> None:
    """Refuse a file whose content is not what its extension says (a .gpkg that is a zip, an .xlsx that is a
    CSV, a .dbf that is an image), saying what it is and what to do; other files pass.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "survey.gpkg"; _ = p.write_bytes(b"PK\x03\x04 rest of a zip")
    >>> check_file_kind(p)
    Traceback (most recent call last):
    planner.errors.IngestError: survey.gpkg: the file is a zip archive (or an .xlsx workbook), not a GeoPackage; rename it to end in .zip
    """
    p = Path(path)
    name = shown or p.name
    suf = p.suffix.lower()
    if not p.is_file() or (suf not in _EXPECTED and suf not in _TEXT_KINDS and suf != ".dbf"):
        return
    with open(p, "rb") as fh:
        head = fh.read(4096)
    if suf in _TEXT_KINDS:  # any text passes (its reader says what is wrong with it); a known binary kind does not
        if not any(head.startswith(m) for m, *_ in _MAGIC):
            return
        expected, expected_zh = _TEXT_KINDS[suf]
    elif suf == ".dbf":
        if head and head[0] in _DBF_VERSIONS:
            return
        expected, expected_zh = "a dBASE table (.dbf)", "dBASE 表（.dbf）"
    else:
        magics, expected, expected_zh = _EXPECTED[suf]
        if head.startswith(magics):
            return
    what, what_zh, ext = _what_is(head)
    if not head:
        what, what_zh, ext = "empty (0 bytes)", "空文件（0 字节）", None
    if ext is not None and ext != suf and suf != ".dbf":
        todo = f"rename it to end in {ext}"
        todo_zh = f"请将扩展名改为 {ext}"
        if ext == ".csv" and suf in (".xlsx", ".xlsm"):
            todo += " (or open it in Excel and save it as an Excel workbook)"
            todo_zh += "（或用 Excel 打开后另存为 Excel 工作簿）"
    else:
        todo = "export it again from the source system" + (" with the .shp, .shx and .prj" if suf == ".dbf" else "")
        todo_zh = "请从原系统重新导出" + ("（与 .shp、.shx、.prj 一起）" if suf == ".dbf" else "")
    msg = f"{name}: the file is {what}, not {expected}; {todo}"
    raise IngestError(msg, zh=f"{name}：该文件是{what_zh}，不是{expected_zh}；{todo_zh}")


# -- encoding --------------------------------------------------------------
def _dbf_header(dbf: Path, head: bytes) -> tuple[int, int, int]:
    """Record count, header length and record length of a .dbf, checked against the file's size.

    A header that claims more records than the file holds (a truncated copy,
    or a crafted file) is refused before any reader allocates room for them.
    """
    n_rec = int.from_bytes(head[4:8], "little")
    hlen = int.from_bytes(head[8:10], "little")
    rlen = int.from_bytes(head[10:12], "little")
    size = dbf.stat().st_size
    if hlen < 32 or size < hlen + n_rec * rlen:
        held = max(size - hlen, 0) // rlen if rlen > 0 else 0
        msg = (f"{dbf.name}: the header claims {n_rec:,} records of {rlen} bytes, but the file ({size:,} bytes) "
               f"holds at most {held:,}; the .dbf is truncated or damaged: export the layer again")
        raise IngestError(msg, zh=f"{dbf.name}：文件头声称有 {n_rec:,} 条记录（每条 {rlen} 字节），但文件"
                                  f"（{size:,} 字节）最多只有 {held:,} 条；.dbf 文件不完整或已损坏，请重新导出")
    return n_rec, hlen, rlen


def _dbf_text_bytes(dbf: Path, limit_rows: int | None = None) -> bytes:
    """Concatenated raw bytes of the character fields of a .dbf (newline-separated)."""
    with open(dbf, "rb") as fh:
        head = fh.read(32)
        if len(head) < 32:
            return b""
        n_rec, hlen, rlen = _dbf_header(dbf, head)
        desc = fh.read(max(hlen - 32, 0))
        fields = []
        off = 1  # deletion flag
        for i in range(0, len(desc) - 31, 32):
            d = desc[i:i + 32]
            if d[0] == 0x0D:
                break
            ftype = chr(d[11])
            flen = d[16]
            if ftype in "CM":
                fields.append((off, flen))
            off += flen
        if not fields or rlen <= 0:
            return b""
        n = n_rec if limit_rows is None else min(n_rec, limit_rows)
        fh.seek(hlen)
        buf = fh.read(n * rlen)
    n = len(buf) // rlen
    rec = np.frombuffer(buf[: n * rlen], dtype=np.uint8).reshape(n, rlen)
    cols = [rec[:, o:o + w] for o, w in fields]
    block = np.concatenate([*cols, np.full((n, 1), 0x0A, dtype=np.uint8)], axis=1)
    # drop padding so truncated values are not glued to spaces
    return block.tobytes()


def _strict_ok(data: bytes, enc: str) -> bool:
    try:
        data.decode(enc)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def _utf8_ok(data: bytes) -> bool:
    """Strict UTF-8, tolerating a multi-byte character cut by the .dbf field width."""
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        pass
    # retry line by line only over the bad lines: a value cut mid-character fails at its end
    for line in data.split(b"\n"):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.reason != "unexpected end of data" and line[exc.start:].strip(b" \x00"):
                return False
    return True


def detect_dbf_encoding(shp: str | os.PathLike, encoding: str | None = None) -> tuple[str, str]:
    """Pick the text encoding of a shapefile; return ``(encoding, how it was chosen)``.

    Order: ``encoding`` given, the ``.cpg`` file (checked against the bytes),
    strict UTF-8, GB18030. Raises :class:`IngestError` when no candidate
    decodes the text, rather than storing garbled strings.
    """
    shp = Path(shp)
    dbf = next((p for p in (shp.with_suffix(".dbf"), shp.with_suffix(".DBF")) if p.exists()), None)
    if dbf is None:
        msg = f"{shp.name}: the .dbf file is missing beside the .shp; add it (attributes live there)"
        raise IngestError(msg, zh=f"{shp.name}：缺少同名 .dbf 文件（属性保存在其中），请一并打包上传")
    data = _dbf_text_bytes(dbf)
    if encoding:
        if not _strict_ok(data, encoding):
            msg = f"{shp.name}: text fields do not decode as {encoding!r} (given with --encoding); try GB18030 or UTF-8"
            raise IngestError(msg, zh=f"{shp.name}：文本字段无法按所选编码 {encoding!r} 解码，请改选 GB18030 或 UTF-8")
        return encoding, Note("given", zh="已指定")
    cpg = next((p for p in (shp.with_suffix(".cpg"), shp.with_suffix(".CPG")) if p.exists()), None)
    note = note_zh = ""
    if cpg is not None:
        raw = cpg.read_text(encoding="ascii", errors="replace").strip()[:60]
        enc = _CPG.get(raw.casefold(), raw)
        try:
            codecs.lookup(enc)
        except (LookupError, ValueError):
            note = f".cpg says {raw!r}, which is not an encoding name this reader knows; "
            note_zh = f".cpg 文件写的 {raw!r} 不是可识别的编码名；"
        else:
            ok = _utf8_ok(data) if enc.upper() in ("UTF-8", "UTF8") else _strict_ok(data, enc)
            if ok:
                return enc, Note(f".cpg file says {raw}", zh=f".cpg 文件指明为 {raw}")
            note = f".cpg says {raw!r} but the text is not valid {enc}; "
            note_zh = f".cpg 文件写的是 {raw!r}，但文本不是有效的 {enc}；"
    if _utf8_ok(data):
        ascii_ = data.isascii()
        return "UTF-8", Note(note + ("text is plain ASCII" if ascii_ else "detected: text decodes as strict UTF-8"),
                             zh=note_zh + ("文本全为 ASCII 字符" if ascii_ else "自动识别：文本可按 UTF-8 严格解码"))
    if _strict_ok(data, "gb18030"):
        return "GB18030", Note(note + "detected: text is not UTF-8 and decodes as GB18030 (GBK)",
                               zh=note_zh + "自动识别：文本不是 UTF-8，可按 GB18030（GBK）解码")
    msg = (f"{shp.name}: {note}text fields decode neither as UTF-8 nor as GB18030; "
           "give the encoding with --encoding (e.g. BIG5, CP1252) so that names are not stored garbled")
    raise IngestError(msg, zh=f"{shp.name}：文本字段既不是 UTF-8 也不是 GB18030 编码；请指定字符编码"
                              "（命令行 --encoding，如 BIG5、CP1252），以免名称存为乱码")


def _csv_encoding(path: Path, encoding: str | None) -> tuple[str, str]:
    data = path.read_bytes()
    if encoding:
        if not _strict_ok(data, encoding):
            msg = f"{path.name}: does not decode as {encoding!r} (given with --encoding)"
            raise IngestError(msg, zh=f"{path.name}：无法按所选编码 {encoding!r} 解码")
        return encoding, Note("given", zh="已指定")
    if _strict_ok(data, "utf-8"):
        return "utf-8-sig", Note("detected: strict UTF-8", zh="自动识别：UTF-8")
    if _strict_ok(data, "gb18030"):
        return "gb18030", Note("detected: not UTF-8, decodes as GB18030 (GBK)",
                               zh="自动识别：不是 UTF-8，可按 GB18030（GBK）解码")
    msg = f"{path.name}: text decodes neither as UTF-8 nor as GB18030; give the encoding with --encoding"
    raise IngestError(msg, zh=f"{path.name}：文本既不是 UTF-8 也不是 GB18030 编码，请指定字符编码（命令行 --encoding）")


# -- finding the dataset ---------------------------------------------------
def _datasets(folder: Path) -> list[Path]:
    found: list[Path] = []
    for p in sorted(folder.rglob("*")):
        if any(part.lower().endswith(".gdb") for part in p.relative_to(folder).parts[:-1]):
            continue
        suf = p.suffix.lower()
        if p.is_dir() and suf == ".gdb" or p.is_file() and suf in FORMATS and suf != ".gdb":
            found.append(p)
    return found


def list_layers(path: str | os.PathLike) -> list[tuple[str, str]]:
    """``(layer name, geometry type)`` of a multi-layer dataset (GeoPackage, FileGDB)."""
    try:
        return [(str(a), str(b)) for a, b in pyogrio.list_layers(path)]
    except Exception as exc:  # pyogrio raises DataSourceError and friends
        msg = f"{Path(path).name}: cannot be opened as a GIS dataset ({exc})"
        raise IngestError(msg, zh=f"{Path(path).name}：无法作为 GIS 数据打开（{exc}）") from exc


def _check_has_geometry(path: Path, layer: str, layers: list[tuple[str, str]]) -> None:
    """Refuse an attribute-only table (no geometry column) chosen as the parcel layer."""
    if dict(layers).get(layer) not in (None, "None", ""):
        return
    spatial = ", ".join(n for n, t in layers if t not in (None, "None", "")) or "(none)"
    msg = (f"{path.name}: layer {layer!r} has no geometry (an attribute table); choose the parcel polygon layer "
           f"with --layer: {spatial}")
    raise IngestError(msg, zh=f"{path.name}：图层 {layer!r} 没有几何（属性表）；请选择宗地面图层（命令行 --layer）：{spatial}")


def _pick_layer(path: Path, layer: str | None) -> str | None:
    layers = list_layers(path)
    names = [n for n, _ in layers]
    if layer is not None:
        if layer not in names:
            listed = ", ".join(f"{n} ({t})" for n, t in layers)
            msg = f"{path.name}: no layer {layer!r}; layers: {listed}"
            raise IngestError(msg, zh=f"{path.name}：没有图层 {layer!r}；现有图层：{listed}")
        _check_has_geometry(path, layer, layers)
        return layer
    if len(layers) == 1:
        _check_has_geometry(path, names[0], layers)
        return names[0]
    if not layers:
        msg = f"{path.name}: holds no layer"
        raise IngestError(msg, zh=f"{path.name}：不含任何图层")
    listed = ", ".join(f"{n} ({t})" for n, t in layers)
    msg = f"{path.name}: holds {len(layers)} layers; choose one with --layer NAME: {listed}"
    raise IngestError(msg, zh=f"{path.name}：含 {len(layers)} 个图层，请只导出宗地图层后上传"
                              f"（命令行可用 --layer 指定）：{listed}")


@dataclasses.dataclass(frozen=True)
class SourceLayer:
    """One layer a survey file offers (:func:`source_layers`).

    Attributes
    ----------
    name : str
        What ``read_source(layer=...)`` and ``planner ingest --layer`` take: the layer's name in a
        GeoPackage/FileGDB, a dataset's file stem in a zip.
    geometry_type : str
        GDAL's geometry type (``"MultiPolygon"``, ``"Point"``...); ``"None"`` for an attribute table.
    n : int or None
        Features (None when GDAL cannot tell without reading them all).
    where : str
        The dataset it lives in (its path inside the zip, else the file's name).
    member : str or None
        Its dataset's path inside a zip (what ``read_source(member=...)`` and ``planner ingest --file`` take),
        None when the file itself is the dataset.
    """

    name: str
    geometry_type: str
    n: int | None
    where: str
    member: str | None = None

    @property
    def key(self) -> tuple[str | None, str]:
        """``(member, name)``: the layer, one of a kind in its file (two GeoPackages of a zip may each hold
        a layer ``parcels``)."""
        return (self.member, self.name)

    @property
    def is_polygon(self) -> bool:
        return "polygon" in self.geometry_type.lower()


def _layer_info(path: Path, layer: str | None) -> tuple[str, int | None]:
    try:
        info = pyogrio.read_info(path, **({"layer": layer} if layer else {}))
    except Exception:  # a layer GDAL cannot describe: listed, read (and refused with a reason) when picked
        return "?", None
    n = info.get("features")
    return str(info.get("geometry_type")), (int(n) if n is not None and int(n) >= 0 else None)


def source_layers(source: str | os.PathLike, *, limits: ReadLimits = ReadLimits()) -> list[SourceLayer]:
    """The layers of a zip or multi-layer dataset a survey could be read from, polygon layers first.

    More than one means :func:`read_source` needs ``layer`` (it refuses to guess); an update extent
    shipped beside the parcels of a zip is not one of them (it goes with the parcels picked). Other
    files hold one layer: ``[]``.

    Raises
    ------
    IngestError
        The file is not what its extension says, or an unsafe or oversized zip.
    """
    src = Path(source)
    suf = src.suffix.lower()
    if suf != ".zip" and suf not in _MULTI_LAYER:
        return []
    if src.is_file() and src.stat().st_size > limits.max_file_bytes:
        return []  # read_source says so, in both languages
    check_file_kind(src)
    out: list[SourceLayer] = []
    with _unpacked(src, limits) as folder:
        cands = _datasets(folder) if suf == ".zip" else [src]
        parcels = [c for c in cands if c.stem.casefold() not in EXTENT_STEMS] or cands
        out = _layers_of(parcels, folder if suf == ".zip" else None)
    return sorted(out, key=lambda s: (not s.is_polygon, s.geometry_type in ("None", "?", "")))


def _layers_of(datasets: list[Path], folder: Path | None) -> list[SourceLayer]:
    """Every layer of ``datasets`` (the files of a zip unpacked in ``folder``, or one file: ``folder`` None), each
    with its geometry type, row count and file: a zip of several GeoPackages lists each one's layers."""
    out: list[SourceLayer] = []
    for c in datasets:
        member = str(c.relative_to(folder)) if folder is not None else None
        where = member or c.name
        if c.suffix.lower() in _MULTI_LAYER:
            for name, _ in list_layers(c):
                gtype, n = _layer_info(c, name)
                out.append(SourceLayer(name, gtype, n, where, member))
        else:
            gtype, n = _layer_info(c, None)
            if FORMATS.get(c.suffix.lower()) == "CSV (WKT)":
                gtype = "WKT" if gtype in ("None", "?") else gtype
            out.append(SourceLayer(c.stem, gtype, n, where, member))
    return out


def layers_text(layers: list[SourceLayer], lang: str = "en") -> str:
    """The layers as a refusal lists them: ``file: layer (Polygon, 120 rows)``, one a line (``--file``/``--layer``)."""
    from planner.i18n import geometry_label

    def one(s: SourceLayer) -> str:
        n = "?" if s.n is None else f"{s.n:,}"
        gtype = geometry_label(s.geometry_type, lang)
        what = f"{gtype}，{n} 条" if lang == "zh" else f"{gtype}, {n} rows"
        return (f"{s.where}：{s.name}（{what}）" if lang == "zh" else f"{s.where}: {s.name} ({what})")
    return "".join(f"\n  - {one(s)}" for s in layers)


#: Dataset extensions that hold several layers (``--layer`` then names one inside).
_MULTI_LAYER = (".gpkg", ".gdb")


def _refuse_layer(shown: str, layer: str, names: list[str], what: str) -> None:
    """Refuse a ``--layer`` that names nothing in the source (it used to be ignored silently)."""
    listed = ", ".join(names) or "(none)"
    msg = f"{shown}: no layer {layer!r}; --layer takes {what}: {listed}"
    raise IngestError(msg, zh=f"{shown}：没有图层 {layer!r}；现有图层（命令行 --layer）：{'、'.join(names) or '（无）'}")


@contextlib.contextmanager
def _unpacked(source: Path, limits: ReadLimits) -> Iterator[Path]:
    if source.suffix.lower() != ".zip":
        yield source.parent
        return
    with tempfile.TemporaryDirectory(prefix="planner-ingest-") as tmp:
        safe_extract(source, tmp, limits)
        yield Path(tmp)


#: WKB geometry types shapely cannot parse: curves (the non-Arrow reader linearizes them) and surfaces.
_CURVE_TYPES = {8: "CircularString", 9: "CompoundCurve", 10: "CurvePolygon", 11: "MultiCurve", 12: "MultiSurface",
                13: "Curve", 14: "Surface"}
_SURFACE_TYPES = {15: "PolyhedralSurface", 16: "TIN", 17: "Triangle"}


def _wkb_type(wkb: bytes) -> int | None:
    """Base geometry type of a WKB value (ISO Z/M and EWKB flags stripped), None when unreadable."""
    if not isinstance(wkb, bytes | bytearray | memoryview) or len(wkb) < 5:
        return None
    order = "little" if bytes(wkb[:1]) == b"\x01" else "big"
    t = int.from_bytes(bytes(wkb[1:5]), order) & 0x0FFFFFFF
    return t % 1000


def _parse_wkb(wkb: np.ndarray) -> tuple[np.ndarray, dict[int, str]]:
    """Geometries of a WKB array and, for the rows shapely cannot parse, why (by position).

    Rings that are not closed or have too few points (2-point rings are real
    in old shapefiles) are closed by shapely (``on_invalid="fix"``) and left
    for the geometry repair of ingest; other unreadable values become missing
    geometries with their reason, so one bad row never sinks the file.
    """
    try:
        return shapely.from_wkb(wkb), {}
    except shapely.errors.GEOSException:
        pass
    geoms = shapely.from_wkb(wkb, on_invalid="fix")
    errors: dict[int, str] = {}
    for i in np.flatnonzero(shapely.is_missing(geoms) & pd.notna(wkb)):
        t = _wkb_type(wkb[i])
        if t in _SURFACE_TYPES or t in _CURVE_TYPES:
            errors[int(i)] = (_SURFACE_TYPES | _CURVE_TYPES)[t]
            continue
        try:
            shapely.from_wkb(wkb[i])
            why = "unreadable geometry"
        except shapely.errors.GEOSException as exc:
            why = f"unreadable geometry ({exc})"
        errors[int(i)] = why
    return geoms, errors


def _read_rowwise(path: Path, kw: dict) -> gpd.GeoDataFrame:
    """A layer whose geometries shapely cannot all parse: attributes, then geometries row by row."""
    df = pyogrio.read_dataframe(path, read_geometry=False, **kw)
    meta, _fids, wkb, _fields = pyogrio.raw.read(path, columns=[], **kw)  # non-Arrow: curves come linearized
    geoms, errors = _parse_wkb(np.asarray(wkb, dtype=object))
    gdf = gpd.GeoDataFrame(pd.DataFrame(df), geometry=geoms, crs=meta.get("crs"))
    gdf.attrs["geom_errors"] = errors
    return gdf


def _read_vector(path: Path, *, layer: str | None, encoding: str | None) -> gpd.GeoDataFrame:
    """A layer as a GeoDataFrame; rows shapely cannot parse are listed in ``attrs["geom_errors"]``."""
    kw = {"layer": layer} if layer else {}
    if encoding:
        kw["encoding"] = encoding
    first: Exception | None = None
    for use_arrow in (True, False):  # the non-Arrow reader linearizes curved geometries
        try:
            return pyogrio.read_dataframe(path, use_arrow=use_arrow, **kw)
        except shapely.errors.GEOSException:
            continue
        except Exception as exc:  # pyogrio raises DataSourceError and friends
            first = first or exc
            if use_arrow:
                continue
            msg = f"{path.name}: cannot be read as a GIS layer ({first})"
            raise IngestError(msg, zh=f"{path.name}：无法作为 GIS 图层读取（{first}）") from exc
    try:
        return _read_rowwise(path, kw)
    except Exception as exc:
        msg = f"{path.name}: cannot be read as a GIS layer ({exc})"
        raise IngestError(msg, zh=f"{path.name}：无法作为 GIS 图层读取（{exc}）") from exc


#: Formats read on the Arrow fast path (shapefiles only once their encoding is settled).
_ARROW_FORMATS = ("GeoPackage", "FlatGeobuf", "GeoJSON", "ESRI Shapefile", "FileGDB")


def _geoms_valid(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``shapely.is_valid``, ``(xmin, ymin, xmax, ymax)`` and vertex counts of one chunk (GEOS, the GIL released)."""
    return shapely.is_valid(geoms), np.asarray(shapely.total_bounds(geoms)), shapely.get_num_coordinates(geoms)


def _from_wkb(wkb: pa.ChunkedArray, chunk: int = 100_000
              ) -> tuple[np.ndarray, np.ndarray, tuple, dict[int, str], np.ndarray]:
    """Geometries, validity, total bounds, unreadable rows (:func:`_parse_wkb`) and vertex counts of a WKB column.

    ``shapely.from_wkb`` holds the GIL (it creates Python objects) while the
    validity check releases it, so each parsed chunk is checked on a second
    thread while the next one is parsed.
    """
    arr = wkb.combine_chunks() if isinstance(wkb, pa.ChunkedArray) else wkb
    if isinstance(arr.type, pa.ExtensionType):
        arr = arr.storage
    n = len(arr)
    parts: list[np.ndarray] = []
    errors: dict[int, str] = {}
    with ThreadPoolExecutor(max_workers=min(2, os.cpu_count() or 1)) as ex:
        futs = []
        for i in range(0, n, chunk):
            g, err = _parse_wkb(arr.slice(i, chunk).to_numpy(zero_copy_only=False))
            errors.update({i + k: v for k, v in err.items()})
            parts.append(g)
            futs.append(ex.submit(_geoms_valid, g))
        checked = [f.result() for f in futs]
    geoms = np.concatenate(parts) if parts else np.empty(0, dtype=object)
    valid = np.concatenate([v for v, _, _ in checked]) if checked else np.zeros(0, dtype=bool)
    n_coords = np.concatenate([c for _, _, c in checked]) if checked else np.zeros(0, dtype=np.int64)
    b = np.array([bb for _, bb, _ in checked]).reshape(-1, 4)
    bounds = (tuple(np.r_[np.nanmin(b[:, :2], axis=0), np.nanmax(b[:, 2:], axis=0)].tolist())
              if len(b) and not np.isnan(b).all() else (np.nan,) * 4)
    return geoms, valid, bounds, errors, n_coords


def _read_arrow(path: Path, *, layer: str | None, encoding: str | None
                ) -> tuple[pa.Table, np.ndarray, object, np.ndarray, tuple, dict[int, str], np.ndarray] | None:
    """Attributes (Arrow), geometries, CRS, validity, bounds, unreadable rows, vertex counts; None off the fast path.

    It does not apply to datetime or JSON fields (the pandas reader converts
    those) or to curved geometries (the non-Arrow reader linearizes them);
    any failure falls back to :func:`_read_vector`, which reports errors.
    """
    kw: dict[str, object] = {"layer": layer} if layer else {}
    if encoding:
        kw["encoding"] = encoding
    try:
        meta, table = pyogrio.read_arrow(path, datetime_as_string=True, **kw)
        if any(str(d).startswith("datetime") for d in meta["dtypes"]) or "OFSTJSON" in list(meta["ogr_subtypes"]):
            return None
        name = meta["geometry_name"] or "wkb_geometry"
        if name not in table.column_names:
            return None
        geoms, valid, bounds, errors, n_coords = _from_wkb(table[name])
        if any(e in _CURVE_TYPES.values() for e in errors.values()):
            return None
        table = table.drop_columns([name])
    except Exception:  # the pandas reader retries and reports
        return None
    return table, geoms, meta["crs"], valid, bounds, errors, n_coords


def _refuse_surfaces(shown: str, errors: dict[int, str]) -> None:
    """Refuse a layer holding surfaces (shapefile MultiPatch, TIN) that no parcel polygon can hold."""
    rows = sorted(i for i, e in errors.items() if e in _SURFACE_TYPES.values())
    if not rows:
        return
    kinds = sorted({errors[i] for i in rows})
    first = [i + 1 for i in rows[:5]]
    msg = (f"{shown}: {len(rows)} feature(s) are 3D surfaces ({', '.join(kinds)}; e.g. a shapefile MultiPatch), "
           f"which a parcel polygon cannot hold (rows {first}); export the parcels as a polygon layer")
    raise IngestError(msg, zh=f"{shown}：{len(rows)} 个要素是三维面片（{'、'.join(kinds)}，如 shapefile 的 MultiPatch），"
                              f"不能作为宗地面（行号 {first}）；请导出为面（Polygon）图层")


def _read_csv(path: Path, encoding: str | None, row_note: list[str]) -> tuple[gpd.GeoDataFrame, str, str]:
    enc, how = _csv_encoding(path, encoding)
    try:
        df = pd.read_csv(path, encoding=enc, dtype=str, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, ValueError) as exc:
        msg = f"{path.name}: not a readable CSV ({exc})"
        raise IngestError(msg, zh=f"{path.name}：不是可读取的 CSV 文件（{exc}）") from exc
    lower = {str(c).strip().casefold(): c for c in df.columns}
    col = next((lower[w] for w in WKT_COLUMNS if w in lower), None)
    if col is None:
        msg = (f"{path.name}: no WKT geometry column; name one of {', '.join(WKT_COLUMNS)} "
               f"(columns found: {', '.join(map(str, df.columns))})")
        raise IngestError(msg, zh=f"{path.name}：没有 WKT 几何列，请将其命名为 {'、'.join(WKT_COLUMNS)} 之一"
                                  f"（现有列：{', '.join(map(str, df.columns))}）")
    text = df[col].fillna("").to_numpy(dtype=object)
    geoms = shapely.from_wkt(text, on_invalid="fix")
    errors: dict[int, str] = {}
    for i in np.flatnonzero(shapely.is_missing(geoms) & (df[col].fillna("").str.strip() != "").to_numpy()):
        try:
            shapely.from_wkt(text[i])
            errors[int(i)] = "unreadable WKT"
        except shapely.errors.GEOSException as exc:
            errors[int(i)] = f"unreadable WKT ({exc})"
    df = df.drop(columns=[col])
    for c in df.columns:
        num = pd.to_numeric(df[c], errors="coerce")
        if num.notna().sum() == df[c].notna().sum() and df[c].notna().any() and not df[c].str.match(r"^0\d").any():
            df[c] = num
    row_note.append(Note(f"row numbers are 1-based data rows of the CSV (header not counted); WKT column {col!r}",
                         zh=f"行号为 CSV 的数据行序号（从 1 开始，不含表头）；WKT 几何列 {col!r}"))
    gdf = gpd.GeoDataFrame(df, geometry=geoms)
    gdf.attrs["geom_errors"] = errors
    return gdf, enc, how


def _member(zip_name: str, cands: list[Path], folder: Path, member: str) -> Path:
    """The dataset of a zip that ``member`` names (its path in the zip, its file name or its stem), or a refusal
    listing what the zip holds."""
    want = member.replace("\\", "/").strip("/")
    for how in (lambda c: str(c.relative_to(folder)).replace("\\", "/"), lambda c: c.name, lambda c: c.stem):
        hits = [c for c in cands if how(c) == want]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            break
    found = _layers_of(cands, folder)
    what = "several files of the zip match" if hits else "no file of the zip matches"
    msg = f"{zip_name}: {what} --file {member!r}; give its path in the zip:{layers_text(found)}"
    zh = "多个文件" if hits else "没有文件"
    raise IngestError(msg, zh=f"{zip_name}：压缩包中{zh}与 --file {member!r} 相符，请给出其在压缩包中的路径："
                              f"{layers_text(found, 'zh')}")


def _holder(zip_name: str, cands: list[Path], folder: Path, layer: str) -> Path | None:
    """The one multi-layer dataset of a zip holding a layer named ``layer`` (None: none does); a refusal naming the
    files when several do (``--file`` then picks one)."""
    multi = [c for c in cands if c.suffix.lower() in _MULTI_LAYER]
    hits = [c for c in multi if layer in [n for n, _ in list_layers(c)]]
    if len(hits) == 1:
        return hits[0]
    if not hits and not multi:
        return None  # a zip of shapefiles and the like: --layer is a file stem (refused below, naming them)
    found = _layers_of(cands, folder)
    if hits:
        files = [str(c.relative_to(folder)) for c in hits]
        msg = (f"{zip_name}: layer {layer!r} is in several files of the zip ({', '.join(files)}); add --file FILE to choose "
               f"one:{layers_text(found)}")
        raise IngestError(msg, zh=f"{zip_name}：压缩包中有多个文件含图层 {layer!r}（{'、'.join(files)}），请加 --file 文件名 "
                                  f"选择其一：{layers_text(found, 'zh')}")
    msg = f"{zip_name}: no layer {layer!r} in the zip; --layer takes a layer (with --file, a file's):{layers_text(found)}"
    raise IngestError(msg, zh=f"{zip_name}：压缩包中没有图层 {layer!r}；现有图层（命令行 --layer，必要时加 --file）："
                              f"{layers_text(found, 'zh')}")


def read_source(source: str | os.PathLike, *, layer: str | None = None, encoding: str | None = None,
                limits: ReadLimits = ReadLimits(), member: str | None = None) -> RawLayer:
    """Read one layer of a survey file of any supported format.

    Parameters
    ----------
    source : path-like
        A ``.shp``, ``.zip``, ``.gpkg``, ``.geojson``/``.json``, ``.fgb``,
        ``.gdb`` folder or ``.csv``.
    layer : str, optional
        Layer of a multi-layer dataset, or the file stem of a dataset inside a
        zip that holds several; in a zip of several GeoPackages, the layer of
        the one GeoPackage that holds a layer of that name.
    member : str, optional
        A zip's dataset (its path inside the zip, its file name or its stem):
        ``layer`` then names a layer inside it (``planner ingest --file``).
    encoding : str, optional
        Text encoding override (shapefile and CSV).
    limits : ReadLimits
        Size limits for untrusted uploads.

    Raises
    ------
    IngestError
        Unknown format, unsafe archive, ambiguous layer, unreadable file.
    """
    src = Path(source)
    if not src.exists():
        msg = f"{src}: file not found"
        raise IngestError(msg, zh=f"{src}：文件不存在")
    if src.is_file() and src.stat().st_size > limits.max_file_bytes:
        msg = f"{src.name}: {src.stat().st_size:,} bytes, over the upload limit {limits.max_file_bytes:,}"
        raise IngestError(msg, zh=f"{src.name}：{src.stat().st_size:,} 字节，超过上传上限 {limits.max_file_bytes:,}")
    suf = src.suffix.lower()
    if suf != ".zip" and suf not in FORMATS:
        msg = f"{src.name}: unsupported file type {suf or '(none)'}; use one of .zip, {', '.join(FORMATS)}"
        raise IngestError(msg, zh=f"{src.name}：不支持的文件类型 {suf or '（无扩展名）'}，请使用 .zip、{'、'.join(FORMATS)}")
    check_file_kind(src)
    if member is not None and suf != ".zip":
        msg = f"{src.name}: --file {member!r} names a dataset inside a zip; {src.name} is not a zip (use --layer)"
        raise IngestError(msg, zh=f"{src.name}：--file {member!r} 用于指定压缩包内的数据文件，{src.name} 不是压缩包（请用 --layer）")
    with _unpacked(src, limits) as folder:
        if suf == ".zip":
            cands = _datasets(folder)
            extent_path = None
            chosen = None  # the dataset picked by member or by the layer it holds: layer names a layer inside it
            if member is not None:
                chosen = _member(src.name, cands, folder, member)
            elif layer is not None and not any(c.stem == layer for c in cands):
                chosen = _holder(src.name, cands, folder, layer)
            if chosen is not None or layer is not None:
                sel = [chosen] if chosen is not None else [c for c in cands if c.stem == layer]
                if sel:  # an update extent beside the chosen parcels stays with them
                    ext = [c for c in cands if c not in sel and c.stem.casefold() in EXTENT_STEMS]
                    cands = sel + ext if len(sel) == 1 and len(ext) == 1 else sel
                elif cands and not any(c.suffix.lower() in _MULTI_LAYER for c in cands):
                    _refuse_layer(src.name, layer, [f"{c.stem} ({c.relative_to(folder)})" for c in cands],
                                  "a dataset's file stem")
            if len(cands) > 1:
                ext = [c for c in cands if c.stem.casefold() in EXTENT_STEMS]
                if len(ext) == 1 and len(cands) == 2:
                    extent_path = ext[0]
                    cands = [c for c in cands if c != extent_path]
            if not cands:
                msg = (f"{src.name}: the zip holds no dataset ({', '.join(FORMATS)}); "
                       "zip the .shp with its .dbf/.shx/.prj/.cpg, or a .gpkg/.geojson/.fgb/.csv/.gdb")
                raise IngestError(msg, zh=f"{src.name}：压缩包中没有可读取的数据；请将 .shp 与同名 .dbf/.shx/.prj/.cpg "
                                          "一起打包，或打包 .gpkg/.geojson/.fgb/.csv/.gdb")
            if len(cands) > 1:
                found = _layers_of(cands, folder)
                msg = (f"{src.name}: the zip holds several datasets; choose the parcel layer with --layer NAME "
                       f"(and --file FILE when two files hold a layer of that name):{layers_text(found)}")
                raise IngestError(msg, zh=f"{src.name}：压缩包中有多个数据集，请选择宗地图层（命令行 --layer 图层名；"
                                          f"两个文件中有同名图层时再加 --file 文件名）：{layers_text(found, 'zh')}")
            path = cands[0]
            if path.suffix.lower() in _MULTI_LAYER and layer is not None and path.stem == layer:
                # --layer STEM picked the GeoPackage by its name: its layer of that name, else its only one
                inner_layer = layer if layer in [n for n, _ in list_layers(path)] else None
            else:
                inner_layer = layer if layer is not None and (chosen is not None or path.stem != layer) else None
            shown = f"{src.name}!{path.relative_to(folder)}"
        else:
            path, inner_layer, shown, extent_path = src, layer, src.name, None
        fmt = FORMATS[path.suffix.lower()]
        if path is not src:
            check_file_kind(path, shown)
        if fmt == "ESRI Shapefile":  # the .dbf beside it: another kind of file there is named as such
            dbf = next((p for p in (path.with_suffix(".dbf"), path.with_suffix(".DBF")) if p.exists()), None)
            if dbf is not None:
                check_file_kind(dbf, f"{src.name}!{dbf.relative_to(folder)}" if path is not src else dbf.name)
        if inner_layer is not None and path.suffix.lower() not in _MULTI_LAYER and inner_layer != path.stem:
            names = [n for n, _ in list_layers(path)] if fmt != "CSV (WKT)" else [path.stem]
            if inner_layer not in names:
                _refuse_layer(shown, inner_layer, names, f"the one layer of this {fmt} file")
        notes: list[str] = []
        row_notes: list[str] = []
        enc, how, lyr = None, "", None
        gdf, fast = None, None
        if fmt == "CSV (WKT)":
            gdf, enc, how = _read_csv(path, encoding, row_notes)
        else:
            if fmt in ("GeoPackage", "FileGDB"):
                lyr = _pick_layer(path, inner_layer)
            elif fmt == "ESRI Shapefile":
                if not path.with_suffix(".shx").exists() and not path.with_suffix(".SHX").exists():
                    notes.append(Note(".shx index missing: rebuilt by GDAL", zh="缺少 .shx 索引文件：已由 GDAL 重建"))
                    os.environ.setdefault("SHAPE_RESTORE_SHX", "YES")
                enc, how = detect_dbf_encoding(path, encoding)
            vec_enc = enc if fmt == "ESRI Shapefile" else None
            if fmt in _ARROW_FORMATS:
                fast = _read_arrow(path, layer=lyr, encoding=vec_enc)
            if fast is None:
                gdf = _read_vector(path, layer=lyr, encoding=vec_enc)
                if not isinstance(gdf, gpd.GeoDataFrame):
                    what = f"layer {lyr!r}" if lyr else "it"
                    msg = f"{shown}: {what} has no geometry (an attribute table); choose the parcel polygon layer"
                    raise IngestError(msg, zh=f"{shown}：{'图层 ' + repr(lyr) if lyr else '该数据'}没有几何（属性表）；"
                                              "请选择宗地面图层")
        geom_errors = fast[5] if fast is not None else gdf.attrs.pop("geom_errors", {})
        _refuse_surfaces(shown, geom_errors)
        src_crs = fast[2] if fast is not None else gdf.crs
        crs = pyproj.CRS.from_user_input(src_crs) if src_crs is not None else None
        extent = None
        if extent_path is not None:
            extent = _read_vector(extent_path, layer=None, encoding=None)
            if extent.crs is None:
                extent = extent.set_crs(crs)
            notes.append(Note(f"update extent {extent_path.name} ({len(extent)} polygon(s)) found beside the parcels",
                              zh=f"在宗地数据旁找到更新范围 {extent_path.name}（{len(extent)} 个面）"))
    raw = RawLayer(gdf, source=str(src), dataset=shown, format=fmt, layer=lyr, encoding=enc,
                   encoding_note=how, crs=crs, notes=notes, extent=extent,
                   table=fast[0] if fast is not None else None, geoms=fast[1] if fast is not None else None,
                   geom_valid=fast[3] if fast is not None else None, bounds=fast[4] if fast is not None else None,
                   geom_errors=geom_errors, n_coords=fast[6] if fast is not None else None)
    if row_notes:
        raw.row_note = row_notes[0]
    return raw


#: First bytes of an OLE compound file (an encrypted .xlsx, an .xls).
_OLE_MAGIC = bytes.fromhex("d0cf11e0a1b11ae1")
#: Extensions of the (non-spatial) tables :func:`read_table` opens.
TABLE_FORMATS = {".csv": "CSV", ".xlsx": "Excel", ".xlsm": "Excel"}


def read_table(source: str | os.PathLike, *, encoding: str | None = None, sheet: str | int | None = None,
               limits: ReadLimits = ReadLimits()) -> tuple[pd.DataFrame, str, str]:
    """Read a non-spatial table (an enterprise or link table): CSV or Excel, every cell as delivered.

    CSV cells are text (codes keep their leading zeros); its encoding is
    detected as for survey files (strict UTF-8, else GB18030/GBK, as tax
    bureaus send), or ``encoding``. An Excel workbook (a zip) is checked like
    a zipped upload (entry count, sizes, compression ratios) before it is
    opened; its cells keep their types (numbers, text), the first sheet by
    default. Empty rows and columns are dropped.

    Returns
    -------
    (DataFrame, str, str)
        The cells (no header detection; the index is the 0-based row of the
        sheet or file, so ``index + 1`` is the row a spreadsheet shows), the encoding
        (``"xlsx"`` for a workbook) and how it was chosen.
    """
    src = Path(source)
    if not src.is_file():
        msg = f"{src}: file not found"
        raise IngestError(msg, zh=f"{src}：文件不存在")
    if src.stat().st_size > limits.max_file_bytes:
        msg = f"{src.name}: {src.stat().st_size:,} bytes, over the upload limit {limits.max_file_bytes:,}"
        raise IngestError(msg, zh=f"{src.name}：{src.stat().st_size:,} 字节，超过上传上限 {limits.max_file_bytes:,}")
    suf = src.suffix.lower()
    if suf not in TABLE_FORMATS:
        msg = f"{src.name}: unsupported table type {suf or '(none)'}; use .xlsx or .csv"
        raise IngestError(msg, zh=f"{src.name}：不支持的表格类型 {suf or '（无扩展名）'}，请使用 .xlsx 或 .csv")
    if suf == ".csv":
        check_file_kind(src)  # a workbook, or a zip, saved under the name of a CSV
        enc, how = _csv_encoding(src, encoding)
        try:
            df = pd.read_csv(src, encoding=enc, dtype=str, header=None, keep_default_na=False, na_values=[""],
                             skip_blank_lines=True)
        except (pd.errors.ParserError, ValueError) as exc:
            msg = f"{src.name}: not a readable CSV ({exc})"
            raise IngestError(msg, zh=f"{src.name}：不是可读取的 CSV 文件（{exc}）") from exc
    else:
        with open(src, "rb") as fh:
            magic = fh.read(8)
        if magic == _OLE_MAGIC:  # Excel saves a password-protected .xlsx (and an old .xls) as an OLE file
            msg = (f"{src.name}: a password-protected workbook or an old .xls (an OLE file, not an .xlsx); "
                   "remove the password and save it as .xlsx (Excel workbook)")
            raise IngestError(msg, zh=f"{src.name}：工作簿有密码保护，或为旧版 .xls（不是 .xlsx）；"
                                      "请取消密码并另存为 .xlsx（Excel 工作簿）")
        check_file_kind(src)  # a CSV, or a PDF, saved under the name of a workbook
        with tempfile.TemporaryDirectory(prefix="planner-table-") as tmp:
            safe_extract(src, tmp, limits)  # an .xlsx is a zip: the same zip-bomb guards as uploads
        try:
            # calamine: the same cells as openpyxl (cached values of formulas, dates), 10x faster
            df = pd.read_excel(src, sheet_name=sheet if sheet is not None else 0, header=None, engine="calamine")
        except Exception as exc:  # damaged workbooks raise many kinds
            msg = f"{src.name}: not a readable Excel workbook ({exc}); save it again as .xlsx"
            raise IngestError(msg, zh=f"{src.name}：不是可读取的 Excel 工作簿（{exc}），请另存为 .xlsx") from exc
        shown = sheet if sheet is not None else 1
        enc, how = "xlsx", Note(f"sheet {shown}", zh=f"工作表 {shown}")
    df = df.dropna(how="all").dropna(axis=1, how="all")  # the index stays the sheet's 0-based row
    return df, enc, how


__all__ = ["FORMATS", "TABLE_FORMATS", "RawLayer", "ReadLimits", "SourceLayer", "source_layers", "check_file_kind", "detect_dbf_encoding", "list_layers",
           "read_source", "read_table", "safe_extract"]
