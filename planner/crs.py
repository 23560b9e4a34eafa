"""Coordinate reference systems used in Chinese survey data.

- CGCS2000 3-degree Gauss-Krüger zones (EPSG:4513-4533 with the zone number
  in the easting, EPSG:4534-4554 without it).
- GCJ-02, the offset datum of Chinese web maps. It is not a CRS that PROJ
  knows: it is a published obfuscation formula applied to WGS84 lon/lat. The
  forward formula below is the public one (as in the eviltransform and
  coordTransform projects); the inverse is solved by fixed-point iteration to
  better than 1e-9 degrees (about 0.1 mm), vectorized with NumPy so whole
  layers convert at array speed (the scalar libraries are 100x slower).

CGCS2000 and WGS84 differ by centimetres; both are treated as EPSG:4490/4326
lon/lat here.
"""

from __future__ import annotations

import numpy as np
import pyproj
import shapely

from planner.errors import DataError

#: The workspace CRS of the sample city: CGCS2000 / 3-degree GK CM 120E.
DEFAULT_WORKSPACE_CRS = "EPSG:4549"

_A = 6378245.0
_EE = 0.00669342162296594323


def _delta(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = lon - 105.0
    y = lat - 35.0
    pi = np.pi
    sx = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sx + common
    dlat += (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sx + common
    dlon += (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0
    radlat = lat / 180.0 * pi
    magic = 1.0 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrtmagic) * pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * pi)
    return dlon, dlat


def wgs84_to_gcj02(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 (or CGCS2000) lon/lat to GCJ-02 lon/lat, vectorized."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    dlon, dlat = _delta(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon, lat, *, tol: float = 1e-10, max_iter: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 lon/lat to WGS84 lon/lat (exact inverse by iteration), vectorized.

    Examples
    --------
    >>> lon, lat = wgs84_to_gcj02(118.55, 24.78)
    >>> x, y = gcj02_to_wgs84(lon, lat)
    >>> bool(abs(x - 118.55) < 1e-9 and abs(y - 24.78) < 1e-9)
    True
    """
    glon = np.asarray(lon, dtype=float)
    glat = np.asarray(lat, dtype=float)
    wlon, wlat = glon.copy(), glat.copy()
    for _ in range(max_iter):
        clon, clat = wgs84_to_gcj02(wlon, wlat)
        elon, elat = clon - glon, clat - glat
        wlon = wlon - elon
        wlat = wlat - elat
        if np.all(np.abs(elon) < tol) and np.all(np.abs(elat) < tol):
            break
    return wlon, wlat


def _transform_geoms(geoms, fn):
    def xy(coords: np.ndarray) -> np.ndarray:
        x, y = fn(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(np.asarray(geoms), xy)


def gcj02_geoms_to_wgs84(geoms):
    """Convert an array of GCJ-02 lon/lat geometries to WGS84 lon/lat."""
    return _transform_geoms(geoms, gcj02_to_wgs84)


def wgs84_geoms_to_gcj02(geoms):
    """Convert an array of WGS84 lon/lat geometries to GCJ-02 (to match Chinese web basemaps)."""
    return _transform_geoms(geoms, wgs84_to_gcj02)


def in_china(lon, lat) -> np.ndarray:
    """Rough box test: outside China GCJ-02 equals WGS84."""
    lon = np.asarray(lon)
    lat = np.asarray(lat)
    return (lon > 72.004) & (lon < 137.8347) & (lat > 0.8293) & (lat < 55.8271)


def gk_zone_3deg(lon: float) -> int:
    """3-degree Gauss-Krüger zone number of a longitude (zone 39 is CM 117E, 40 is CM 120E)."""
    return int(np.floor(lon / 3.0 + 0.5))


def cgcs2000_gk_epsg(zone: int, *, with_prefix: bool) -> int:
    """EPSG code of CGCS2000 3-degree GK zone ``zone`` (25-45), with or without the zone prefix."""
    if not 25 <= zone <= 45:
        msg = f"3-degree GK zone {zone} is outside China (25-45)"
        raise DataError(msg)
    return (4513 if with_prefix else 4534) + zone - 25


def guess_crs(bounds: tuple[float, float, float, float]) -> list[tuple[str, str]]:
    """Likely CRSs for a layer with no CRS, from its coordinate ranges.

    Returns a list of ``(crs, reason)``, most likely first (may be empty).
    """
    minx, miny, maxx, maxy = bounds
    out: list[tuple[str, str]] = []
    if minx >= -180 and maxx <= 180 and miny >= -90 and maxy <= 90:
        cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
        if bool(in_china(cx, cy)):
            out.append(("EPSG:4490", "lon/lat inside China: CGCS2000 geographic (or WGS84)"))
            out.append(("gcj02", "lon/lat inside China from a web map (AMap/Tencent): GCJ-02"))
        else:
            out.append(("EPSG:4326", "lon/lat: WGS84"))
        return out
    if miny > 2e6 and maxy < 6.5e6:
        if minx > 25e6 and maxx < 46e6:
            zone = int(minx // 1e6)
            out.append((f"EPSG:{cgcs2000_gk_epsg(zone, with_prefix=True)}",
                        f"eastings {minx:.0f}-{maxx:.0f} carry zone prefix {zone}: CGCS2000 3-degree GK zone {zone}"))
            out.append((f"EPSG:{2349 + zone - 25}", f"or Xian 1980 3-degree GK zone {zone}"))
        elif minx > 1e5 and maxx < 9e5:
            out.append(("EPSG:4549", "eastings around 500,000 without zone prefix: CGCS2000 3-degree GK, "
                                     "central meridian unknown (CM 120E is EPSG:4549, 117E is EPSG:4548)"))
    return out


def to_lonlat_transformer(crs) -> pyproj.Transformer:
    """Transformer from ``crs`` to EPSG:4326 lon/lat (``always_xy``)."""
    return pyproj.Transformer.from_crs(pyproj.CRS.from_user_input(crs), "EPSG:4326", always_xy=True)


def to_lonlat_valid(gdf):
    """``gdf`` in EPSG:4326 for exchange files (GeoJSON), with the geometries reprojection made invalid repaired.

    Bending a projected polygon into lon/lat can make a hole that touches its
    shell at a point, or two nearly touching parts, cross by a hair (seen on
    7 of 1,578 sample-city sites). Those are repaired with
    ``make_valid(method="structure")``, which keeps them polygons; valid ones
    are left as they are.
    """
    out = gdf.to_crs("EPSG:4326")
    geoms = np.asarray(out.geometry.values, dtype=object)
    bad = ~(shapely.is_missing(geoms) | shapely.is_valid(geoms))
    if bad.any():
        geoms = geoms.copy()
        geoms[bad] = shapely.make_valid(geoms[bad], method="structure", keep_collapsed=False)
        out = out.set_geometry(geoms, crs=out.crs)
    return out
