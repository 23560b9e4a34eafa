"""Small hostile input files made by the tests: hand-written shapefile records, GeoPackage blobs, zips.

Shapefile geometry records (2-point rings, MultiPatch) are written byte by
byte (ESRI Shapefile Technical Description, 1998); GeoPackage geometry blobs
follow the GeoPackage encoding (``GP`` header + WKB). Nothing here uses the
code under test.
"""

from __future__ import annotations

import sqlite3
import struct
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

X0, Y0 = 500_000.0, 2_740_000.0


def squares(n: int, size: float = 50.0, x0: float = X0, y0: float = Y0) -> np.ndarray:
    i = np.arange(n)
    return shapely.box(x0 + i * size, y0, x0 + (i + 1) * size, y0 + size)


def parcels(n: int, *, x0: float = X0, prefix: str = "Z", **cols) -> gpd.GeoDataFrame:
    """``n`` 50 m squares with Chinese cadastral fields (ids Z1..Zn)."""
    data = {"ZDDM": [f"{prefix}{i + 1}" for i in range(n)], "ZDMJ": [2500.0] * n}
    data.update(cols)
    return gpd.GeoDataFrame(data, geometry=squares(n, x0=x0), crs="EPSG:4549")


def ring(x: float, y: float = Y0, size: float = 50.0) -> list[tuple[float, float]]:
    """A closed clockwise square ring (the shapefile's outer-ring order)."""
    return [(x, y), (x, y + size), (x + size, y + size), (x + size, y), (x, y)]


# -- shapefile records -------------------------------------------------------------
def _bbox(pts) -> tuple[float, float, float, float]:
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    return min(xs), min(ys), max(xs), max(ys)


def _parts_header(shape_type: int, parts: list[list[tuple]]) -> tuple[bytes, list[tuple]]:
    pts = [p for part in parts for p in part]
    starts = np.cumsum([0] + [len(part) for part in parts[:-1]]).tolist()
    b = struct.pack("<i4d2i", shape_type, *_bbox(pts), len(parts), len(pts))
    return b + struct.pack(f"<{len(parts)}i", *starts), pts


def polygon_record(parts: list[list[tuple]]) -> tuple[int, bytes]:
    """A shapefile Polygon record (type 5) with the rings as given (none are fixed)."""
    b, pts = _parts_header(5, parts)
    return 5, b + b"".join(struct.pack("<2d", *p[:2]) for p in pts)


def multipatch_record(parts: list[list[tuple]]) -> tuple[int, bytes]:
    """A shapefile MultiPatch record (type 31) of triangle strips, with Z."""
    b, pts = _parts_header(31, parts)
    b += struct.pack(f"<{len(parts)}i", *([0] * len(parts)))  # part type 0: triangle strip
    b += b"".join(struct.pack("<2d", *p[:2]) for p in pts)
    zs = [p[2] if len(p) > 2 else 0.0 for p in pts]
    return 31, b + struct.pack("<2d", min(zs), max(zs)) + struct.pack(f"<{len(zs)}d", *zs)


def rewrite_shp(shp: Path, records: list[tuple[int, bytes]]) -> Path:
    """Replace the geometry records of ``shp`` and its ``.shx`` (keep the ``.dbf`` row count equal)."""
    head = bytes(Path(shp).read_bytes()[:100])
    body, index, offset, corners = b"", b"", 50, []
    for i, (_t, content) in enumerate(records, 1):
        body += struct.pack(">2i", i, len(content) // 2) + content
        index += struct.pack(">2i", offset, len(content) // 2)
        offset += 4 + len(content) // 2
        x0, y0, x1, y1 = struct.unpack("<4d", content[4:36])
        corners += [(x0, y0), (x1, y1)]

    def header(n_words: int) -> bytes:
        h = bytearray(head)
        h[24:28] = struct.pack(">i", n_words)
        h[32:36] = struct.pack("<i", records[0][0])
        h[36:68] = struct.pack("<4d", *_bbox(corners))
        return bytes(h)

    Path(shp).write_bytes(header(50 + len(body) // 2) + body)
    Path(shp).with_suffix(".shx").write_bytes(header(50 + len(index) // 2) + index)
    return Path(shp)


def write_shp(gdf: gpd.GeoDataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    gdf.to_file(path, engine="pyogrio", encoding="UTF-8")
    return path


def lie_in_dbf_header(shp: Path, n_records: int) -> None:
    """Make the ``.dbf`` header claim ``n_records`` records (the rows stay as they are)."""
    dbf = Path(shp).with_suffix(".dbf")
    b = bytearray(dbf.read_bytes())
    b[4:8] = int(n_records).to_bytes(4, "little")
    dbf.write_bytes(bytes(b))


# -- WKB and GeoPackage blobs --------------------------------------------------------
def wkb_polygon(rings: list[list[tuple]]) -> bytes:
    """ISO WKB of a polygon with the rings exactly as given (unclosed, 2-point: anything goes)."""
    b = struct.pack("<BII", 1, 3, len(rings))
    for r in rings:
        b += struct.pack("<I", len(r)) + b"".join(struct.pack("<2d", *p) for p in r)
    return b


def wkb_tin(triangles: list[list[tuple]]) -> bytes:
    """ISO WKB of a TIN Z (type 1016) of closed triangles."""
    b = struct.pack("<BII", 1, 1016, len(triangles))
    for t in triangles:
        b += struct.pack("<BII", 1, 1017, 1) + struct.pack("<I", len(t))
        b += b"".join(struct.pack("<3d", *p) for p in t)
    return b


def set_gpkg_geometry(gpkg: Path, layer: str, fid: int, wkb: bytes, srs_id: int = 4549) -> None:
    """Overwrite one feature's geometry blob in a GeoPackage (GP header, no envelope, little endian)."""
    blob = b"GP" + bytes([0, 0b0000_0001]) + struct.pack("<i", srs_id) + wkb
    con = sqlite3.connect(gpkg)
    try:
        (col,) = con.execute("SELECT column_name FROM gpkg_geometry_columns WHERE table_name=?", (layer,)).fetchone()
        # the R-tree triggers of GDAL call ST_ functions sqlite3 lacks: drop them first
        for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type='trigger'").fetchall():
            con.execute(f'DROP TRIGGER "{name}"')
        con.execute(f'UPDATE "{layer}" SET "{col}"=? WHERE fid=?', (blob, fid))
        con.commit()
    finally:
        con.close()


# -- zips -------------------------------------------------------------------------------
def zip_entries(zpath: Path, entries: dict[str, bytes], *, level: int = 9) -> Path:
    """A deflated zip with these entry names (taken literally, a NUL character included: zipfile would cut the
    name there, so the bytes of the name are patched in after writing) and contents."""
    nul = {}
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as zf:
        for name, data in entries.items():
            if "\x00" in name:
                nul[name.replace("\x00", "_").encode()] = name.encode()
                name = name.replace("\x00", "_")
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    if nul:
        raw = zpath.read_bytes()
        for placeholder, real in nul.items():
            raw = raw.replace(placeholder, real)  # same length: the headers' name lengths stay right
        zpath.write_bytes(raw)
    return zpath


def set_encrypted_flag(zpath: Path) -> Path:
    """Set the "encrypted" bit (general-purpose flag bit 0) of every local and central header, as a
    password-protected zip has (the data stay readable: only the flag says otherwise)."""
    raw = bytearray(zpath.read_bytes())
    for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        i = 0
        while (j := raw.find(sig, i)) >= 0:
            raw[j + off] |= 1
            i = j + 4
    zpath.write_bytes(bytes(raw))
    return zpath
