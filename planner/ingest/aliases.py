"""Source field names that ingest maps to the canonical parcel schema.

Built-in aliases cover Chinese cadastral (宗地: ZDDM, ZDMJ, JZMJ, JZZDMJ, RJL,
JZMD, QLR, TDYT, YDXZ) and land-survey (三调: DLBM, DLMC, TBMJ, QSDWMC) field
codes, their Chinese labels, and common English names (DOMAIN.md, "Common
field names"). A mapping file overrides them (see :mod:`planner.ingest`).

Besides the schema columns, two *derived* inputs are recognised:
``plot_ratio`` (容积率, floor area = plot ratio x land area when the floor area
is missing) and ``coverage`` (建筑密度, footprint = coverage x land area).

Examples
--------
>>> match_fields(["ZDDM", "zdmj", "建筑面积", "Name"])["parcel_id"]
'ZDDM'
>>> close_names("parcel_id", ["adcode", "name", "pid_x"])[:1]
['pid_x']
"""

from __future__ import annotations

import difflib
import re

#: Pseudo-fields that are not stored but derive stored ones.
DERIVED = ("plot_ratio", "coverage")

#: canonical (or derived) name -> source names, most specific first (compared case-insensitively).
ALIASES: dict[str, tuple[str, ...]] = {
    "parcel_id": ("ZDDM", "宗地代码", "宗地编码", "ZDBM", "宗地号", "ZDH", "DKBM", "地块编码", "DKDM", "地块代码",
                  "TBBH", "图斑编号", "parcel_id", "parcelid", "parcel", "pid", "lot_id", "id", "code"),
    "land_area_m2": ("ZDMJ", "宗地面积", "TBMJ", "图斑面积", "土地面积", "用地面积", "YDMJ", "TDMJ",
                     "land_area_m2", "land_area", "area_m2", "area", "site_area"),
    "floor_area_m2": ("JZMJ", "建筑面积", "ZJZMJ", "总建筑面积", "floor_area_m2", "floor_area", "gfa",
                      "building_area", "bldg_area"),
    "footprint_m2": ("JZZDMJ", "基底面积", "建筑基底面积", "建筑占地面积", "JDMJ", "footprint_m2", "footprint"),
    "plot_ratio": ("RJL", "容积率", "plot_ratio", "far"),
    "coverage": ("JZMD", "建筑密度", "JZXS", "建筑系数", "coverage", "building_coverage"),
    "land_use_code": ("TDYT", "土地用途", "YDXZ", "用地性质", "DLBM", "地类编码", "YTDM", "用途代码",
                      "land_use_code", "land_use", "landuse", "use_code"),
    "owner": ("QLR", "权利人", "TDSYQR", "土地使用权人", "QSDWMC", "权属单位名称", "owner", "owner_name"),
    "enterprise": ("QYMC", "企业名称", "SYQY", "使用企业", "SYDW", "使用单位", "enterprise", "company", "tenant"),
    "industry": ("HYDM", "行业代码", "CYDM", "产业代码", "HYLB", "行业类别", "行业", "industry", "industry_code"),
    "output_cny": ("NCZ", "年产值", "GYCZ", "工业产值", "CZ", "产值", "output_cny", "output"),
    "tax_cny": ("NSS", "年税收", "NSE", "纳税额", "SS", "税收", "tax_cny", "tax"),
    "employees": ("CYRS", "从业人数", "ZGRS", "职工人数", "employees", "jobs", "staff"),
    "status": ("SYZT", "使用状态", "状态", "ZT", "status"),
    "year_built": ("JCNF", "建成年份", "建成年代", "JZNF", "year_built", "built_year", "yearbuilt"),
    "zone_far_max": ("GHRJL", "规划容积率", "容积率上限", "RJLSX", "zone_far_max", "far_max", "max_far"),
    "zone_use": ("GHYT", "规划用途", "GHYDXZ", "规划用地性质", "zone_use", "zoning"),
}

#: Default units of Chinese survey field codes: output and tax are recorded in 万元 (10k yuan)
#: in cadastral/enterprise surveys; a mapping file's ``[units]`` overrides.
DEFAULT_UNITS: dict[str, str] = {code: "万元" for code in ("NCZ", "GYCZ", "CZ", "NSS", "NSE", "SS")}

#: Source status values -> canonical ``status`` (schema.STATUSES).
STATUS_VALUES: dict[str, str] = {
    "在用": "in_use", "正常": "in_use", "使用": "in_use", "正常生产": "in_use", "in use": "in_use",
    "闲置": "idle", "idle": "idle",
    "空地": "vacant", "空置": "vacant", "未利用": "vacant", "vacant": "vacant",
    "在建": "under_construction", "under construction": "under_construction",
    "停产": "stopped", "stopped": "stopped",
    "半停产": "half_stopped", "half stopped": "half_stopped",
}
STATUS_VALUES.update({v: v for v in set(STATUS_VALUES.values())})

_NORM = re.compile(r"[\s_\-.（）()]+")
_UNIT_SUFFIX = re.compile(r"[（(][^）)]*[）)]\s*$")


def normalize_name(name: str) -> str:
    """Case-, space- and punctuation-insensitive form of a field name."""
    return _NORM.sub("", str(name)).casefold()


def match_fields(columns, overrides: dict[str, str] | None = None) -> dict[str, str]:
    """Map canonical (and derived) names to source columns.

    Parameters
    ----------
    columns : iterable of str
        Source field names.
    overrides : dict, optional
        ``canonical -> source`` from a mapping file; they win over aliases, and
        a source field used by an override is not matched again by an alias.

    Returns
    -------
    dict
        ``canonical -> source column`` for every name that was found.
    """
    cols = [str(c) for c in columns if str(c) != "geometry"]
    by_norm: dict[str, str] = {}
    for c in cols:
        by_norm.setdefault(normalize_name(c), c)
    for c in cols:  # "年产值（万元）" also answers to "年产值"
        by_norm.setdefault(normalize_name(_UNIT_SUFFIX.sub("", c)), c)
    out: dict[str, str] = dict(overrides or {})
    used = set(out.values())
    for canon, names in ALIASES.items():
        if canon in out:
            continue
        for n in names:
            hit = by_norm.get(normalize_name(n))
            if hit is not None and hit not in used:
                out[canon] = hit
                used.add(hit)
                break
    return out


def close_names(canonical: str, columns, n: int = 5) -> list[str]:
    """Source columns that look like ``canonical`` or one of its aliases (for error messages)."""
    cols = [str(c) for c in columns if str(c) != "geometry"]
    norm = {normalize_name(c): c for c in cols}
    targets = [normalize_name(a) for a in (canonical, *ALIASES.get(canonical, ()))]
    scores: dict[str, float] = {}
    for key, col in norm.items():
        best = max(difflib.SequenceMatcher(None, key, t).ratio() for t in targets)
        if any(t and (t in key or key in t) for t in targets if len(t) >= 2):
            best = max(best, 0.8)
        scores[col] = best
    ranked = sorted((c for c, s in scores.items() if s >= 0.4), key=lambda c: -scores[c])
    return ranked[:n]


__all__ = ["ALIASES", "DEFAULT_UNITS", "DERIVED", "STATUS_VALUES", "close_names", "match_fields", "normalize_name"]
