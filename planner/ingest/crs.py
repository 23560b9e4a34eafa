"""CRS resolution for ingest: declared CRS, ESRI Gauss-Krüger WKT, zone prefixes, GCJ-02.

Private helper of :mod:`planner.ingest`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pyproj
import shapely

from planner.crs import guess_crs
from planner.errors import IngestError, Note
from planner.ingest.report import NO_FEATURES

_DATUMS = {"cgcs2000": ("2000",), "xian80": ("xian", "xi'an", "1980"), "bj54": ("beijing", "1954")}
# (datum, 3-degree?) -> (first EPSG with zone prefix, first zone, first EPSG without prefix)
_GK = {
    ("cgcs2000", True): (4513, 25, 4534),
    ("cgcs2000", False): (4491, 13, 4502),
    ("xian80", True): (2349, 25, 2370),
    ("xian80", False): (2327, 13, 2338),
    ("bj54", True): (2401, 25, 2422),
    ("bj54", False): (21413, 13, 21453),
}


@dataclass
class CrsResult:
    """The CRS a layer is read in, and what was done to get it."""

    crs: pyproj.CRS | None
    gcj02: bool = False
    label: str = ""
    notes: list[str] = field(default_factory=list)
    problem: str | None = None
    problem_zh: str | None = None


def _datum_key(crs: pyproj.CRS) -> str | None:
    name = (crs.datum.name if crs.datum else "").casefold()
    for key, words in _DATUMS.items():
        if any(w in name for w in words):
            return key
    return None


def gk_params(crs: pyproj.CRS) -> tuple[str, float, float] | None:
    """``(datum key, central meridian, false easting)`` of a Gauss-Krüger/TM CRS, else None."""
    if not crs.is_projected:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = crs.to_dict()
    if d.get("proj") != "tmerc" or float(d.get("k", d.get("k_0", 1.0))) != 1.0 or float(d.get("lat_0", 0)) != 0:
        return None
    key = _datum_key(crs)
    if key is None:
        return None
    return key, float(d.get("lon_0", 0.0)), float(d.get("x_0", 0.0))


def gk_epsg(key: str, cm: float, fe: float) -> int | None:
    """EPSG code of a Chinese GK CRS from its datum, central meridian and false easting."""
    for three in (True, False):
        first, z0, noprefix = _GK[(key, three)]
        zone = cm / 3.0 if three else (cm + 3.0) / 6.0
        if zone != int(zone):
            continue
        zone = int(zone)
        lo, hi = (25, 45) if three else (13, 23)
        if not lo <= zone <= hi:
            continue
        if fe == 500_000.0:
            return noprefix + zone - z0
        if fe == zone * 1e6 + 500_000.0:
            return first + zone - z0
    return None


def _custom_tm(crs: pyproj.CRS, fe: float) -> pyproj.CRS:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = crs.to_dict()
    d["x_0"] = fe
    return pyproj.CRS.from_dict(d)


def _not_degrees(crs: pyproj.CRS, bounds, given: str, geoms: np.ndarray | None = None) -> tuple[str, str] | None:
    """(English, Chinese) refusal when ``crs`` is in degrees but the coordinates cannot be lon/lat, else None.

    ``given``: ``"--crs X"``, or ``""`` for the file's own CRS (its .prj or
    embedded CRS). With ``geoms``, only when most rows lie outside ±180/±90
    (a few stray rows are rejected one by one at reprojection instead); their
    bounds are computed only when the layer's bounds are out of range.
    """
    minx, miny, maxx, maxy = bounds
    if not crs.is_geographic or not np.all(np.isfinite(bounds)):
        return None
    if minx >= -180 and maxx <= 180 and miny >= -90 and maxy <= 90:
        return None
    if geoms is not None and len(geoms):
        b = shapely.bounds(geoms)
        with np.errstate(invalid="ignore"):
            out = (b[:, 0] < -180) | (b[:, 2] > 180) | (b[:, 1] < -90) | (b[:, 3] > 90)
        if out.sum() * 2 <= (~np.isnan(b[:, 0])).sum():
            return None
        b = b[out]
        bounds = minx, miny, maxx, maxy = (np.nanmin(b[:, 0]), np.nanmin(b[:, 1]), np.nanmax(b[:, 2]),
                                           np.nanmax(b[:, 3]))
    guesses = guess_crs(bounds)
    hint = "; ".join(f"{c} ({why})" for c, why in guesses) or "a projected CRS in metres"
    hint_zh = "；".join(f"{c}（{why}）" for c, why in guess_crs(bounds, "zh")) or "以米为单位的投影坐标系"
    ranges = f"x runs {minx:,.0f} to {maxx:,.0f} and y {miny:,.0f} to {maxy:,.0f}"
    ranges_zh = f"横坐标 {minx:,.0f}–{maxx:,.0f}，纵坐标 {miny:,.0f}–{maxy:,.0f}"
    if given:
        return (f"{given} is a CRS in degrees ({crs.name}), but {ranges}: these are not degrees (lon within ±180, "
                f"lat within ±90). Likely: {hint}; give that with --crs",
                f"所选坐标系 {crs.name} 以度为单位，但{ranges_zh}，不是经纬度（经度 ±180、纬度 ±90 以内）。"
                f"可能是：{hint_zh}；请改选坐标系（命令行 --crs）")
    return (f"the file's CRS (its .prj or embedded CRS) says {crs.name}, in degrees, but {ranges}: these are not "
            f"degrees, so the .prj (or CRS) is wrong. Likely: {hint}; give the right one with --crs EPSG:... "
            "(or fix the .prj)",
            f"文件的坐标系（.prj 或内嵌坐标系）为 {crs.name}，以度为单位，但{ranges_zh}，不是经纬度，"
            f"因此 .prj（或坐标系）有误。可能是：{hint_zh}；请选择正确的坐标系（命令行 --crs EPSG:...）或修正 .prj")


def _not_metres(crs: pyproj.CRS, bounds, given: str) -> tuple[str, str] | None:
    """(English, Chinese) refusal when ``crs`` is projected but the coordinates are longitude/latitude, else None.

    The mirror of :func:`_not_degrees`: every coordinate lies within ±180/±90 and, read in ``crs``, the data
    would lie outside its area of use (a GeoJSON whose ``crs`` member names EPSG:4549 over lon/lat: parcels of
    a few square millimetres off the coast of Africa, stored with their surveyed areas).
    """
    minx, miny, maxx, maxy = bounds
    if not crs.is_projected or not np.all(np.isfinite(bounds)):
        return None
    if not (minx >= -180 and maxx <= 180 and miny >= -90 and maxy <= 90):
        return None
    aou = crs.area_of_use
    if aou is None:
        return None
    from planner.crs import lonlat_bounds

    try:
        w, s, e, n = lonlat_bounds(bounds, crs)
    except (pyproj.exceptions.ProjError, pyproj.exceptions.CRSError, ValueError):
        return None
    tol = 0.5  # degrees: data just beside an area of use are not lon/lat read as metres
    if aou.west - tol <= w and e <= aou.east + tol and aou.south - tol <= s and n <= aou.north + tol:
        return None
    guesses = guess_crs(bounds)
    hint = "; ".join(f"{c} ({why})" for c, why in guesses)
    hint_zh = "；".join(f"{c}（{why}）" for c, why in guess_crs(bounds, "zh"))
    ranges = f"x runs {minx:.6g} to {maxx:.6g} and y {miny:.6g} to {maxy:.6g}"
    ranges_zh = f"横坐标 {minx:.6g}–{maxx:.6g}，纵坐标 {miny:.6g}–{maxy:.6g}"
    span, where = max(maxx - minx, maxy - miny), aou.name.rstrip(".")
    why = (f"these look like longitude/latitude: read in metres the whole layer would be {span:.3g} m across, "
           f"outside the CRS's area of use ({where})")
    why_zh = f"看起来是经纬度：按米解读，整个图层只有 {span:.3g} 米宽，且位于该坐标系的适用范围（{where}）之外"
    if given:
        return (f"{given} is a projected CRS in metres ({crs.name}), but {ranges}: {why}. Likely: {hint}; give that "
                "with --crs",
                f"所选坐标系 {crs.name} 是以米为单位的投影坐标系，但{ranges_zh}，{why_zh}。可能是：{hint_zh}；"
                "请改选坐标系（命令行 --crs）")
    return (f"the file's CRS (its .prj or embedded CRS) says {crs.name}, in metres, but {ranges}: {why}, so the .prj "
            f"(or CRS) is wrong. Likely: {hint}; give the right one with --crs (or fix the .prj)",
            f"文件的坐标系（.prj 或内嵌坐标系）为 {crs.name}，以米为单位，但{ranges_zh}，{why_zh}，因此 .prj（或坐标系）"
            f"有误。可能是：{hint_zh}；请选择正确的坐标系（命令行 --crs）或修正 .prj")


def resolve_crs(declared: pyproj.CRS | None, override: str | None, bounds, geoms: np.ndarray | None = None
                ) -> CrsResult:
    """Decide the CRS a layer's coordinates are in.

    Parameters
    ----------
    declared : pyproj.CRS or None
        CRS read from the file (.prj, embedded).
    override : str or None
        ``--crs`` value: any pyproj input, or ``"gcj02"`` for GCJ-02 lon/lat.
    bounds : tuple
        Layer bounds in source coordinates (for guesses and zone checks).
    geoms : numpy.ndarray, optional
        The layer's geometries: a CRS in degrees is then refused only when
        most rows lie outside ±180/±90 (see :func:`_not_degrees`).
    """
    minx, _, maxx, _ = bounds
    if override:
        if override.strip().casefold().replace("-", "") in ("gcj02", "gcj"):
            res = CrsResult(pyproj.CRS.from_epsg(4326), gcj02=True, label="GCJ-02 lon/lat (--crs gcj02), converted to WGS84")
            if not (minx >= -180 and maxx <= 180):
                res.problem = f"--crs gcj02 needs lon/lat coordinates, but eastings run {minx:.0f}-{maxx:.0f}"
                res.problem_zh = f"GCJ-02（火星坐标）须为经纬度，但该图层的横坐标为 {minx:.0f}–{maxx:.0f}"
            return res
        try:
            crs = pyproj.CRS.from_user_input(override)
        except pyproj.exceptions.CRSError as exc:
            msg = f"--crs {override!r} is not a CRS pyproj understands ({exc}); use e.g. EPSG:4549 or gcj02"
            raise IngestError(msg, zh=f"坐标系 {override!r} 无法识别（{exc}），请使用如 EPSG:4549 或 gcj02") from exc
        res = CrsResult(crs, label=f"{override} (given with --crs)")
        if declared is not None and not declared.equals(crs):
            res.notes.append(Note(f"--crs {override} overrides the file's CRS {declared.name}",
                                  zh=f"所选坐标系 {override} 取代文件声明的坐标系 {declared.name}"))
        res.problem, res.problem_zh = (_not_degrees(crs, bounds, f"--crs {override}", geoms)
                                       or _not_metres(crs, bounds, f"--crs {override}") or (None, None))
        return res
    if declared is None:
        guesses = guess_crs(bounds) if np.all(np.isfinite(bounds)) else []
        hint = "; ".join(f"{c} ({why})" for c, why in guesses) or "no guess from the coordinate ranges"
        hint_zh = "；".join(f"{c}（{why}）" for c, why in guess_crs(bounds, "zh")) or "无法从坐标范围推断"
        return CrsResult(None, problem=(f"the layer has no CRS (no .prj or embedded CRS); coordinates x {minx:.6g}-{maxx:.6g}. "
                                        f"Likely: {hint}. Give it with --crs"),
                         problem_zh=(f"该图层没有坐标系（无 .prj 或内嵌坐标系），横坐标 {minx:.6g}–{maxx:.6g}。"
                                     f"可能是：{hint_zh}。请选择坐标系（命令行 --crs）"))
    res = CrsResult(declared, label=declared.name)
    wrong = _not_degrees(declared, bounds, "", geoms) or _not_metres(declared, bounds, "")
    if wrong is not None:
        res.problem, res.problem_zh = wrong
        return res
    params = gk_params(declared)
    epsg = declared.to_epsg(min_confidence=70)
    if epsg is None and params is not None:
        epsg = gk_epsg(*params)
        if epsg is not None:
            res.notes.append(Note(f"ESRI/custom WKT {declared.name!r} matched to EPSG:{epsg} by its parameters",
                                  zh=f"ESRI/自定义坐标系 {declared.name!r} 按参数匹配为 EPSG:{epsg}"))
            res.crs = pyproj.CRS.from_epsg(epsg)
    if epsg is not None:
        res.label = f"EPSG:{epsg} {res.crs.name}"
    if params is None or not np.isfinite(minx):
        return res
    key, cm, fe = params
    if fe == 500_000.0 and minx > 1e7:
        zone = int(minx // 1e6)
        if zone * 3.0 == cm or zone * 6.0 - 3.0 == cm:
            new_fe = zone * 1e6 + 500_000.0
            code = gk_epsg(key, cm, new_fe)
            res.crs = pyproj.CRS.from_epsg(code) if code else _custom_tm(declared, new_fe)
            res.label = f"EPSG:{code} {res.crs.name}" if code else f"{declared.name} with zone prefix {zone}"
            res.notes.append(Note(f"the CRS is declared without zone prefix ({declared.name}) but eastings "
                                  f"{minx:.0f}-{maxx:.0f} carry zone prefix {zone}: read as {res.label}",
                                  zh=f"文件声明的坐标系不带带号（{declared.name}），但横坐标 {minx:.0f}–{maxx:.0f} "
                                     f"带有带号 {zone}：按 {res.label} 读取"))
        else:
            res.problem = (f"eastings {minx:.0f}-{maxx:.0f} carry zone prefix {zone}, which does not match the "
                           f"declared central meridian {cm:g}E ({declared.name}); fix the .prj or give --crs")
            res.problem_zh = (f"横坐标 {minx:.0f}–{maxx:.0f} 带有带号 {zone}，与 .prj 声明的中央经线 {cm:g}°E"
                              f"（{declared.name}）不符；请修正 .prj 或选择坐标系（命令行 --crs）")
    elif fe > 1e6 and maxx < 1e6:
        code = gk_epsg(key, cm, 500_000.0)
        res.crs = pyproj.CRS.from_epsg(code) if code else _custom_tm(declared, 500_000.0)
        res.label = f"EPSG:{code} {res.crs.name}" if code else f"{declared.name} without zone prefix"
        res.notes.append(Note(f"the CRS is declared with a zone prefix ({declared.name}) but eastings "
                              f"{minx:.0f}-{maxx:.0f} have none: read as {res.label}",
                              zh=f"文件声明的坐标系带有带号（{declared.name}），但横坐标 {minx:.0f}–{maxx:.0f} "
                                 f"不带带号：按 {res.label} 读取"))
    return res


@dataclass
class ProposedCrs:
    """A workspace CRS proposed for a data file, with why (a :class:`~planner.errors.Note`: its Chinese in ``zh``),
    and the data's lon/lat bounds."""

    crs: pyproj.CRS
    why: str
    lonlat_bounds: tuple[float, float, float, float]
    notes: list[str] = field(default_factory=list)


def propose_for_layer(raw, override: str | None = None) -> ProposedCrs:
    """The workspace CRS for a raw layer (:func:`planner.io.readers.read_source`): its centre's zone.

    The layer's CRS is resolved as ingest would (declared, ``override``,
    Gauss-Krüger zone prefixes, GCJ-02); a layer without one is refused with
    the guesses. A layer already in a projected metric CRS whose area of use
    holds the data is proposed as it is (the office's own CRS); otherwise the
    CGCS2000 3-degree Gauss-Krüger zone (China) or the UTM zone
    (:func:`planner.crs.propose_workspace_crs`) of the data's centre.
    """
    from planner.crs import crs_label, lonlat_bounds, metric_problem, propose_workspace_crs
    from planner.ingest.geometry import absurd_rows, sane_bounds

    if len(raw) == 0:
        raise IngestError(f"{raw.dataset}: {NO_FEATURES[0]}", zh=f"{raw.dataset}：{NO_FEATURES[1]}")
    geoms = raw.geoms
    bounds = sane_bounds(geoms, absurd_rows(geoms, raw.bounds), raw.bounds)
    cr = resolve_crs(raw.crs, override, bounds, geoms)
    if cr.problem:
        raise IngestError(f"{raw.dataset}: {cr.problem}", zh=f"{raw.dataset}：{cr.problem_zh or cr.problem}")
    if not np.all(np.isfinite(bounds)):
        msg = f"{raw.dataset}: no usable coordinates to propose a CRS from; give it with --crs"
        raise IngestError(msg, zh=f"{raw.dataset}：没有可用坐标，无法推荐坐标系；请用 --crs 指定")
    ll = lonlat_bounds(bounds, cr.crs)
    if cr.gcj02:
        ll = tuple(float(v) for v in ll)  # GCJ-02 is within a few hundred metres of WGS84: enough for a zone
    lon, lat = (ll[0] + ll[2]) / 2, (ll[1] + ll[3]) / 2
    own = cr.crs
    aou = own.area_of_use if own is not None else None
    if (own is not None and not cr.gcj02 and metric_problem(own) is None and aou is not None
            and aou.west <= ll[0] and ll[2] <= aou.east and aou.south <= ll[1] and ll[3] <= aou.north):
        return ProposedCrs(own, Note(f"the data's own CRS {crs_label(own)}: projected, in metres, and its area of "
                                     f"use holds the data",
                                     zh=f"数据自身的坐标系 {crs_label(own)}：以米为单位的投影坐标系，且其适用范围包含这些数据"),
                           ll, cr.notes)
    prop, why = propose_workspace_crs(lon, lat)
    notes = list(cr.notes)
    if own is not None and metric_problem(own) is not None:
        en, zh = metric_problem(own)
        notes.append(Note(f"{en.split(';')[0]}: ingest reprojects the data into the workspace CRS",
                          zh=f"{zh.split('；')[0]}：导入时将数据投影到工作空间坐标系"))
    return ProposedCrs(prop, why, ll, notes)
