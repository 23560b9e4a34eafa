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

import contextlib
import functools

import numpy as np
import pyproj
import shapely

from planner.errors import DataError, Note

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


def guess_crs(bounds: tuple[float, float, float, float], lang: str = "en") -> list[tuple[str, str]]:
    """Likely CRSs for a layer with no CRS, from its coordinate ranges.

    Returns a list of ``(crs, reason)``, most likely first (may be empty); the reasons in ``lang`` ("en" or "zh").
    """
    zh = lang == "zh"
    minx, miny, maxx, maxy = bounds
    out: list[tuple[str, str]] = []
    if minx >= -180 and maxx <= 180 and miny >= -90 and maxy <= 90:
        cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
        if bool(in_china(cx, cy)):
            out.append(("EPSG:4490", "中国境内的经纬度：CGCS2000 地理坐标（或 WGS84）" if zh
                        else "lon/lat inside China: CGCS2000 geographic (or WGS84)"))
            out.append(("gcj02", "中国境内、来自高德/腾讯等网络地图的经纬度：GCJ-02（火星坐标）" if zh
                        else "lon/lat inside China from a web map (AMap/Tencent): GCJ-02"))
        else:
            out.append(("EPSG:4326", "经纬度：WGS84" if zh else "lon/lat: WGS84"))
        return out
    if miny > 2e6 and maxy < 6.5e6:
        if minx > 25e6 and maxx < 46e6:
            zone = int(minx // 1e6)
            out.append((f"EPSG:{cgcs2000_gk_epsg(zone, with_prefix=True)}",
                        f"横坐标 {minx:.0f}–{maxx:.0f} 带有带号 {zone}：CGCS2000 3 度带第 {zone} 带" if zh else
                        f"eastings {minx:.0f}-{maxx:.0f} carry zone prefix {zone}: CGCS2000 3-degree GK zone {zone}"))
            out.append((f"EPSG:{2349 + zone - 25}", f"或西安 1980 3 度带第 {zone} 带" if zh
                        else f"or Xian 1980 3-degree GK zone {zone}"))
        elif minx > 1e5 and maxx < 9e5:
            out.append(("EPSG:4549", "横坐标约 500,000、不带带号：CGCS2000 3 度带，中央经线未知（120°E 为 EPSG:4549，"
                                     "117°E 为 EPSG:4548）" if zh else
                        "eastings around 500,000 without zone prefix: CGCS2000 3-degree GK, "
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


# -- workspace CRS: metric check, proposal from the data, area of use ------------------------------
#: Below this relative area error, data outside the CRS's area of use get a note, not a warning.
AREA_ERROR_NOTE = 0.001


def metric_problem(crs) -> tuple[str, str] | None:
    """Why ``crs`` cannot be a workspace CRS (English, Chinese), or None when it is projected and in metres.

    Examples
    --------
    >>> metric_problem("EPSG:4549") is None
    True
    >>> metric_problem("EPSG:2263")[0].split(";")[0]
    'EPSG:2263 (NAD83 / New York Long Island (ftUS)) measures in US survey foot, not metres'
    """
    c = pyproj.CRS.from_user_input(crs)
    name = _crs_label(c)
    if not c.is_projected:
        return (f"{name} is not projected (coordinates in degrees); a workspace stores metres so that areas "
                "and distances are right; use a projected metric CRS",
                f"{name} 不是投影坐标系（单位为度）；工作空间须使用以米为单位的投影坐标系，面积和距离才准确")
    units = {(a.unit_name, float(a.unit_conversion_factor)) for a in c.axis_info}
    bad = sorted({u for u, f in units if abs(f - 1.0) > 1e-12})
    if bad:
        return (f"{name} measures in {', '.join(bad)}, not metres; a workspace stores metres "
                "(areas in m², distances in m)",
                f"{name} 的单位为 {'、'.join(bad)}，不是米；工作空间须以米为单位（面积 m²，距离 m）")
    return None


def _crs_label(c: pyproj.CRS) -> str:
    code = c.to_epsg(min_confidence=90)
    return f"EPSG:{code} ({c.name})" if code else c.name


def crs_label(crs) -> str:
    """``EPSG:4549 (CGCS2000 / 3-degree Gauss-Kruger CM 120E)``, or the CRS's name without an EPSG code."""
    return _crs_label(pyproj.CRS.from_user_input(crs))


def propose_workspace_crs(lon: float, lat: float) -> tuple[pyproj.CRS, str]:
    """A projected metric CRS for data centred at ``(lon, lat)``, and why it was chosen (a
    :class:`~planner.errors.Note`: English, its Chinese in ``zh``).

    In China (where a CGCS2000 3-degree Gauss-Krüger zone's area of use holds
    the point): that zone, without zone prefix (EPSG:4534-4554), the usual
    choice of Chinese survey offices. Elsewhere: the WGS 84 UTM zone of the
    point. Both come from the EPSG database that pyproj ships.

    Examples
    --------
    >>> crs, why = propose_workspace_crs(118.55, 24.78)   # Jinjiang
    >>> crs.to_epsg()
    4549
    >>> propose_workspace_crs(-73.95, 40.70)[0].to_epsg()   # New York
    32618
    """
    from pyproj.aoi import AreaOfInterest
    from pyproj.database import query_crs_info, query_utm_crs_info
    from pyproj.enums import PJType

    if not (np.isfinite(lon) and np.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        msg = f"cannot propose a CRS for lon {lon}, lat {lat}: not a place on Earth"
        raise DataError(msg, zh=f"无法为经度 {lon}、纬度 {lat} 推荐坐标系：坐标无效")
    aoi = AreaOfInterest(lon, lat, lon, lat)
    gk = [i for i in query_crs_info(auth_name="EPSG", pj_types=PJType.PROJECTED_CRS, area_of_interest=aoi)
          if i.name.startswith("CGCS2000 / 3-degree Gauss-Kruger CM") and not i.deprecated]
    if gk:
        info = min(gk, key=lambda i: abs(float(i.name.rsplit("CM ", 1)[1].rstrip("E")) - lon))
        return (pyproj.CRS.from_epsg(int(info.code)),
                Note(f"the data lie in China at {lon:.2f}°E: CGCS2000 3-degree Gauss-Krüger zone with the nearest "
                     f"central meridian, EPSG:{info.code} ({info.name})",
                     zh=f"数据位于中国境内（东经 {lon:.2f}°）：中央经线最近的 CGCS2000 3 度带高斯-克吕格投影，"
                        f"EPSG:{info.code}（{info.name}）"))
    utm = query_utm_crs_info(datum_name="WGS 84", area_of_interest=aoi)
    if not utm:
        msg = f"no UTM zone covers lon {lon:.3f}, lat {lat:.3f} (polar data): give the workspace CRS with --crs"
        raise DataError(msg, zh=f"经度 {lon:.3f}、纬度 {lat:.3f} 处没有 UTM 投影带（极地）；请用 --crs 指定坐标系")
    info = utm[0]
    return (pyproj.CRS.from_epsg(int(info.code)),
            Note(f"the data lie outside China at {lon:.2f}°, {lat:.2f}°: their UTM zone, EPSG:{info.code} ({info.name})",
                 zh=f"数据位于中国境外（经度 {lon:.2f}°，纬度 {lat:.2f}°）：其所在的 UTM 投影带，EPSG:{info.code}（{info.name}）"))


@functools.lru_cache(maxsize=32)
def _to_lonlat(wkt: str) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(pyproj.CRS.from_wkt(wkt), "EPSG:4326", always_xy=True)


def lonlat_bounds(bounds, crs) -> tuple[float, float, float, float]:
    """``(west, south, east, north)`` in degrees of ``bounds`` given in ``crs`` (edges densified).

    A projected CRS is inverted to its own geographic CRS (``pyproj.Proj``,
    cheap to make; CGCS2000 and NAD83 are within a metre or two of WGS84,
    plenty for areas of use and zones); other CRSs go through a transformer.
    """
    c = pyproj.CRS.from_user_input(crs)
    if c.is_geographic:
        return tuple(float(b) for b in bounds)
    x0, y0, x1, y1 = (float(v) for v in bounds)
    t = np.linspace(0.0, 1.0, 21)
    xs = np.r_[x0 + (x1 - x0) * t, np.full(21, x1), x1 - (x1 - x0) * t, np.full(21, x0)]
    ys = np.r_[np.full(21, y0), y0 + (y1 - y0) * t, np.full(21, y1), y1 - (y1 - y0) * t]
    if c.is_projected:
        with contextlib.suppress(pyproj.exceptions.ProjError, RuntimeError):
            lon, lat = pyproj.Proj(c)(xs, ys, inverse=True)
            lon, lat = np.asarray(lon), np.asarray(lat)
            if np.isfinite(lon).all() and np.isfinite(lat).all():
                return float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())
    return tuple(float(b) for b in _to_lonlat(c.to_wkt()).transform_bounds(x0, y0, x1, y1, densify_pts=21))


def area_error(lonlat_box, target_crs, *, n: int = 7) -> float:
    """Relative error of areas measured in ``target_crs`` over a lon/lat box: (area in it / true area) - 1.

    The mean of PROJ's areal scale factor (the ratio of a small area on the
    map to the same area on the ellipsoid) over an ``n`` x ``n`` grid of the
    box: what a parcel there measures in ``target_crs`` against its true area.

    Examples
    --------
    >>> round(area_error((118.5, 24.7, 118.6, 24.8), "EPSG:4549"), 5)   # Jinjiang, 1.45 degrees off CM 120E
    0.00053
    """
    w, s, e, nn = lonlat_box
    lon, lat = np.meshgrid(np.linspace(w, e, n), np.linspace(s, nn, n))
    f = pyproj.Proj(pyproj.CRS.from_user_input(target_crs)).get_factors(lon.ravel(), lat.ravel())
    scale = np.asarray(f.areal_scale, dtype=float)
    scale = scale[np.isfinite(scale)]
    return float(scale.mean() - 1.0) if scale.size else float("nan")


def area_of_use_note(geoms, geoms_crs, workspace_crs, *, bounds=None) -> tuple[str, str, float] | None:
    """A warning (English, Chinese, area error) when data fall outside the workspace CRS's area of use.

    None when the data lie inside it (or the CRS declares none). The English
    text starts with ``WARNING`` when the area error (:func:`area_error`)
    reaches :data:`AREA_ERROR_NOTE` (0.1 %), and then proposes a CRS for the
    data. ``bounds``: the data's bounds in ``geoms_crs`` when already known.
    """
    ws = pyproj.CRS.from_user_input(workspace_crs)
    aou = ws.area_of_use
    if aou is None:
        return None
    if bounds is None:
        g = np.asarray(geoms, dtype=object)
        g = g[~shapely.is_missing(g)]
        if not len(g):
            return None
        bounds = shapely.total_bounds(g)
    b = np.asarray(bounds, dtype=float)
    if not np.isfinite(b).all():
        return None
    w, s, e, n = lonlat_bounds(b, geoms_crs)
    if w >= aou.west - 1e-9 and e <= aou.east + 1e-9 and s >= aou.south - 1e-9 and n <= aou.north + 1e-9:
        return None
    err = area_error((w, s, e, n), ws)
    big = bool(np.isfinite(err) and abs(err) >= AREA_ERROR_NOTE)
    hint = hint_zh = ""
    if big:
        try:
            prop, _ = propose_workspace_crs((w + e) / 2, (s + n) / 2)
        except DataError:
            prop = None
        if prop is not None and not prop.equals(ws):
            alt = f"EPSG:{prop.to_epsg()}"
            hint = f"; for these data make a workspace in {alt} ({prop.name}): planner workspace init NEW.gpkg --crs {alt}"
            hint_zh = f"；建议为这些数据新建坐标系为 {alt}（{prop.name}）的工作空间：planner workspace init NEW.gpkg --crs {alt}"
    where = f"lon {w:.2f}..{e:.2f}, lat {s:.2f}..{n:.2f}"
    size = f"{abs(err):.2%} too {'large' if err > 0 else 'small'}" if np.isfinite(err) else "by an unknown amount"
    size_zh = f"偏{'大' if err > 0 else '小'} {abs(err):.2%}" if np.isfinite(err) else "误差未知"
    en = (f"{'WARNING: ' if big else ''}the data ({where}) lie outside the area of use of the workspace CRS "
          f"{_crs_label(ws)} ({aou.name.rstrip('.')}); areas measured in it come out {size}{hint}")
    zh = (f"{'警告：' if big else ''}数据范围（经度 {w:.2f}–{e:.2f}，纬度 {s:.2f}–{n:.2f}）超出工作空间坐标系 "
          f"{_crs_label(ws)} 的适用范围（{aou.name.rstrip('.')}）；面积{size_zh}{hint_zh}")
    return en, zh, err
