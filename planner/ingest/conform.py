"""One raw source layer -> canonical parcels, in named steps (pure; writes nothing).

:func:`conform_layer` runs, in order:

1. :func:`_check_layer` - refusals that need no record: no features, no
   polygons, mapped fields that are absent, no parcel id, an unusable CRS;
2. :func:`_to_target_crs` - GCJ-02 shift and reprojection;
3. :func:`_read_values` - mapped attributes, numbers in canonical units
   (overlapping the background validity check of the geometries);
4. :func:`planner.ingest.geometry.clean_geometry` - repair or reject geometry;
5. :func:`_derive_areas` - land area from geometry, floor area and footprint
   from their ratios where only those are given;
6. :func:`_value_checks`, :func:`_id_checks`, :func:`_code_checks` - the
   record checks, each a list of :class:`_Check`;
7. :func:`_apply_checks` - each check's policy: reject the rows, flag them
   or refuse the load;
8. :func:`_assemble` - the canonical frame.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyproj
import shapely

from planner import schema
from planner.codes import normalize_land_use
from planner.crs import (
    DEFAULT_WORKSPACE_CRS,
    area_of_use_note,
    gcj02_geoms_to_wgs84,
    metric_problem,
)
from planner.errors import Note
from planner.i18n import column_label
from planner.ingest.aliases import ALIASES, STATUS_VALUES, close_names, match_fields
from planner.ingest.crs import CrsResult, resolve_crs
from planner.ingest.formats import EXACT_MAX, FieldFormat, format_text
from planner.ingest.geometry import (
    absurd_rows,
    action_of,
    clean_geometry,
    ids_at,
    is_valid,
    sane_bounds,
    text_or_none,
    type_names,
)
from planner.ingest.mapping import (
    _VALUE_FIELDS,
    MAX_VALUES,
    Mapping,
    _auto_unit,
    _extra_factor,
    _unit_factor,
)
from planner.ingest.report import NO_FEATURES, IngestReport, Problem, _joined, _refuse
from planner.io.readers import RawLayer

_NA_STRING = pd.array([pd.NA], dtype="string")

#: Land-use code schemes in Chinese problem messages.
_SCHEME_ZH = {"gtkj": "国土空间用地用海", "sandiao": "三调工作", "none": "（无）"}


@dataclass
class _Check:
    """One record check: the rows it hits and what to do with them."""

    mask: np.ndarray
    code: str
    policy: str
    #: (English, Chinese)
    message: tuple[str, str]
    field: str
    values: object = None
    #: Whether a value it nulls counts as wrong towards ``max_rejected_share`` (placeholders do not: text such as
    #: "无" or "/" read as missing, a land area of 0; they fill whole columns of real deliveries).
    wrong: bool = True


def _land_use(codes: pd.Series, scheme: str, table: dict[str, str]) -> pd.Series:
    """Normalized class of each code; computed on the distinct codes only."""
    inv, uniq = pd.factorize(codes)
    cls = _land_use_unique(pd.Series(uniq, dtype="string"), scheme, table)
    return pd.Series(pd.array(cls, dtype="string").take(inv, allow_fill=True), index=codes.index)


def _land_use_unique(codes: pd.Series, scheme: str, table: dict[str, str]) -> pd.Series:
    if scheme == "none":
        out = pd.Series(pd.NA, index=codes.index, dtype="string")
    else:
        out = normalize_land_use(codes, scheme=scheme)
    if table:
        s = codes.astype("string").str.strip()
        for n in sorted({len(k) for k in table}):
            sub = {k: v for k, v in table.items() if len(k) == n}
            hit = s.str.slice(0, n).map(sub)
            ok = (hit.notna() & (s.str.len() >= n)).fillna(False).to_numpy(dtype=bool)
            out = out.mask(ok, hit)
    return out


def _str_field(raw: RawLayer, name: str, fmt: FieldFormat | None = None) -> tuple[pd.Series, np.ndarray | None]:
    """A source field as text (dtype ``string``) in the mapping's format; empty strings as missing.

    Arrow columns are formatted in Arrow (no Python objects); floating-point
    numbers print in their shortest exact form (3029130038.0 as
    ``3029130038``). Also returns the mask of values that are not whole
    numbers where the format says ``as = "integer"`` (None: none).
    """
    col = raw.table[name] if raw.table is not None else raw.column(name)
    return format_text(col, fmt)


def _problems_for(mask, code, policy, message, rows, ids, fld, values, problems):
    """One :class:`Problem` per row of ``mask`` (at most 100,000); ``message`` is ``(english, chinese)``."""
    message, message_zh = message
    idx = np.flatnonzero(mask)
    act = action_of(policy)
    if values is None:
        vals = [None] * len(idx)
    elif isinstance(values, pd.Series):
        vals = values.iloc[idx[:100_000]].to_numpy(dtype=object)
    else:
        vals = np.asarray(values)[idx[:100_000]]
    for i, pid, v in zip(idx[:100_000], ids_at(ids, idx[:100_000]), vals[:100_000], strict=False):
        problems.append(Problem(code, act, message, int(rows[i]), text_or_none(pid), fld, text_or_none(v), message_zh))



def conform_layer(raw: RawLayer, *, mapping: Mapping | None = None, crs: str | None = None,
                  target_crs=None) -> tuple[gpd.GeoDataFrame, IngestReport]:
    """Map a raw source layer to canonical parcels in ``target_crs`` (pure; see :func:`planner.ingest.read_survey`)."""
    mp = mapping or Mapping()
    ck = mp.checks
    n = len(raw)
    target = pyproj.CRS.from_user_input(target_crs or DEFAULT_WORKSPACE_CRS)
    not_metric = metric_problem(target)
    rep = IngestReport(source=raw.source, dataset=raw.dataset, format=raw.format, layer=raw.layer,
                       encoding=raw.encoding, encoding_note=raw.encoding_note,
                       crs_source=raw.crs.name if raw.crs is not None else "none", target_crs=target.name,
                       n_read=n, row_note=raw.row_note, notes=list(raw.notes))
    if n == 0:  # before any bounds: a CSV of a header alone has none
        raise _refuse(rep, *NO_FEATURES)
    tid = shapely.get_type_id(raw.geoms)
    absurd = absurd_rows(raw.geoms, raw.bounds)
    if not_metric is not None:
        raise _refuse(rep, f"the workspace CRS: {not_metric[0]}; areas would be wrong. Create a metric workspace "
                           "(planner workspace init WS --from THIS_FILE) and load the data there",
                      f"工作空间坐标系：{not_metric[1]}；面积将不正确。请新建以米为单位的工作空间后再导入")
    bounds = sane_bounds(raw.geoms, absurd, raw.bounds)
    matched, cr = _check_layer(raw, mp, crs, rep, tid, bounds)
    _area_of_use(raw.geoms, bounds, cr, target, rep)
    rows = np.arange(1, n + 1)
    problems: list[Problem] = []
    ids, id_bad = _str_field(raw, matched["parcel_id"], mp.formats.get("parcel_id"))
    id_checks = _format_checks("parcel_id", matched["parcel_id"], id_bad, raw, mp)
    geoms, geoms_same = _to_target_crs(raw.geoms, cr, target)
    # the duplicate-id hash pass (Arrow, GIL released) overlaps the work below until the record checks
    dup_bg = ThreadPoolExecutor(max_workers=1)
    pending_dup = dup_bg.submit(schema.duplicated_ids, ids)
    dup_bg.shutdown(wait=False)
    # validity (the costly GEOS check) runs in the background while the attributes are read
    precomputed = raw.geom_valid if geoms_same else None
    with ThreadPoolExecutor(max_workers=1) as bg:
        pending = bg.submit(is_valid, geoms) if precomputed is None else None
        data, num, checks = _read_values(raw, matched, ids, mp, rep)
        valid_all = pending.result() if pending is not None else precomputed
    geoms, bad_geom, rep.n_repaired, geom_area = clean_geometry(
        geoms, rows, problems, ids, ck.bad_geometry, valid_all, tid if geoms_same else None,
        unreadable=raw.geom_errors, absurd=absurd, max_parts=ck.max_parts, max_vertices=ck.max_vertices,
        n_coords=raw.n_coords)
    surveyed, land, derived = _derive_areas(num, geom_area, bad_geom, rep)
    checks += _value_checks(num, surveyed, land, geom_area, mp)
    checks += id_checks + _id_checks(ids, pending_dup, mp)
    checks += _code_checks(data, matched, mp, rep)

    refusals: list[tuple[str, str]] = []  # (English, Chinese)
    if ck.bad_geometry == "refuse" and bad_geom.any():
        refusals.append((f"{int(bad_geom.sum())} unusable geometries (policy bad_geometry = refuse)",
                         f"{int(bad_geom.sum())} 个几何无法使用（规则 bad_geometry = refuse）"))
    reject, flags, nulls = _apply_checks(checks, bad_geom & (ck.bad_geometry == "reject"), rows, ids, problems,
                                         refusals)
    _null_fields(nulls, num, data, geom_area, derived)
    problems.sort(key=lambda p: (p.row or 0, p.code))
    rep.problems = problems
    rep.n_rejected = int(reject.sum())
    rep.n_accepted = n - rep.n_rejected
    rep.n_flagged = int(((flags != "") & ~reject).sum())
    rep.unmapped = [str(c) for c in raw.columns if c not in set(matched.values())]
    if refusals:
        raise _refuse(rep, *_joined(refusals))
    for fld, share in _nulled_shares(nulls, n).items():
        if share > ck.max_rejected_share:
            refusals.append((f"{share:.0%} of the rows had their {fld} nulled (more than {ck.max_rejected_share:.0%}): "
                             "the field mapping or units are probably wrong; see the problems listed",
                             f"{share:.0%} 的记录的{column_label(fld, 'zh')}被置空（超过 {ck.max_rejected_share:.0%}）："
                             "字段对应或单位可能有误，请查看问题列表"))
    if refusals:
        raise _refuse(rep, *_joined(refusals))
    if rep.n_rejected > ck.max_rejected_share * n:
        raise _refuse(rep, f"{rep.n_rejected} of {n} rows rejected (more than {ck.max_rejected_share:.0%}): "
                           "the field mapping or units are probably wrong; see the problems listed",
                      f"{n} 行中有 {rep.n_rejected} 行被拒绝（超过 {ck.max_rejected_share:.0%}）："
                      "字段对应或单位可能有误，请查看问题列表")
    out = _assemble(raw, geoms, ~reject, data, num, flags, mp, target, rep)
    # schema.validate is not repeated here: the checks above cover it (tests assert it passes)
    return out, rep


def _check_layer(raw: RawLayer, mp: Mapping, crs: str | None, rep: IngestReport,
                 tid: np.ndarray, bounds: tuple) -> tuple[dict[str, str], CrsResult]:
    """Field matching and CRS; refuse the layer for what no record can fix (all reasons at once)."""
    if not np.isin(tid, (3, 6, 7)).any():
        if raw.geom_errors:
            first = min(raw.geom_errors)
            raise _refuse(rep, f"no feature has a readable geometry; {len(raw.geom_errors)} row(s) could not be read, "
                               f"e.g. row {first + 1}: {raw.geom_errors[first]}",
                          f"没有可读取的几何；{len(raw.geom_errors)} 行的几何无法读取，例如第 {first + 1} 行："
                          f"{raw.geom_errors[first]}")
        kinds = sorted(set(type_names(np.unique(tid[tid >= 0])))) or ["no geometry"]
        raise _refuse(rep, f"the layer holds {', '.join(kinds)} features, not parcel polygons; "
                           "export the parcel (宗地/地块) polygon layer instead",
                      f"该图层为 {'、'.join(kinds)} 要素，不是宗地面；请导出宗地（地块）面图层")
    refusals: list[tuple[str, str]] = []  # (English, Chinese)
    cols = raw.columns
    absent = {k: v for k, v in mp.fields.items() if v not in cols}
    absent.update({f"[extra] {k}": v for k, (v, _) in mp.extra.items() if v not in cols})
    if absent:
        named = ", ".join(f"{k} = {v!r}" for k, v in absent.items())
        refusals.append((f"mapping {mp.where} names field(s) the layer does not have: {named}"
                         f"; the layer's fields are: {', '.join(map(str, cols))}",
                         f"字段对应 {mp.where} 指定了图层中没有的字段：{named}；图层的字段为：{', '.join(map(str, cols))}"))
    matched = match_fields(cols, {k: v for k, v in mp.fields.items() if v in cols})
    rep.mapping = dict(matched)
    if "parcel_id" not in matched and not absent:
        cands = close_names("parcel_id", cols)
        refusals.append(("no parcel id field (宗地代码): none of " + ", ".join(ALIASES["parcel_id"][:8])
                         + " ... was found; candidate fields: " + (", ".join(cands) or "(none)")
                         + f" (all fields: {', '.join(map(str, cols))}). If this is a parcel layer, "
                         "map the id in a mapping file: [fields] parcel_id = \"FIELD\" (--mapping)",
                         "找不到宗地代码字段：" + "、".join(ALIASES["parcel_id"][:8]) + " 等均不存在；可能的字段："
                         + ("、".join(cands) or "（无）") + f"（全部字段：{', '.join(map(str, cols))}）。"
                         "若这是宗地图层，请在「字段对应」中为宗地代码选择字段（命令行用 --mapping 文件）"))
    cr = resolve_crs(raw.crs, crs, bounds, raw.geoms)
    rep.crs_used = cr.label
    rep.notes += cr.notes
    if cr.problem:
        refusals.append((cr.problem, cr.problem_zh or cr.problem))
    if refusals:
        raise _refuse(rep, *_joined(refusals))
    return matched, cr


def _to_target_crs(geoms: np.ndarray, cr: CrsResult, target: pyproj.CRS) -> tuple[np.ndarray, bool]:
    """Geometries in the target CRS (a private copy), and whether they are the read ones unchanged."""
    same = not cr.gcj02 and cr.crs.equals(target)
    if cr.gcj02:
        geoms = gcj02_geoms_to_wgs84(geoms)
    if not cr.crs.equals(target):
        if shapely.has_z(geoms).any():
            geoms = shapely.force_2d(geoms)
        return np.asarray(gpd.GeoSeries(geoms, crs=cr.crs).to_crs(target).values, dtype=object), same
    return geoms.copy(), same


def _read_values(raw: RawLayer, matched: dict[str, str], ids: pd.Series, mp: Mapping, rep: IngestReport
                 ) -> tuple[dict[str, object], dict[str, np.ndarray], list[_Check]]:
    """Mapped text fields (``data``) and numbers in canonical units (``num``), with the not-a-number checks."""
    data: dict[str, object] = {"parcel_id": ids.array}
    num: dict[str, np.ndarray] = {}
    checks: list[_Check] = []
    for canon, src in matched.items():
        if canon == "parcel_id":
            continue
        if canon not in _VALUE_FIELDS:
            text, bad = _str_field(raw, src, mp.formats.get(canon))
            data[canon] = text.array
            checks += _format_checks(canon, src, bad, raw, mp)
            continue
        s = raw.column(src)
        if pd.api.types.is_numeric_dtype(s.dtype):
            v = s.to_numpy(dtype=float, na_value=np.nan)
        else:
            v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            st = s.astype("string").str.strip()
            nan_bad = np.isnan(v) & (st.notna() & (st != "")).fillna(False).to_numpy(dtype=bool)
            if nan_bad.any():
                checks.append(_Check(nan_bad, "not_a_number", mp.checks.policy("not_a_number", canon),
                                     (f"{src}: not a number, read as missing", f"{src}：不是数字，按缺失处理"),
                                     canon, st))
        unit = mp.units.get(canon) or _auto_unit(canon, str(src))
        if canon == "coverage" and unit is None:
            finite = v[np.isfinite(v)]
            unit = "percent" if finite.size and finite.max() > 1.0 else "fraction"
            top = finite.max() if finite.size else 0
            unit_zh = "百分比" if unit == "percent" else "小数"
            rep.notes.append(Note(f"coverage {src!r} read as {unit} (values up to {top:g}); "
                                  "set [units] coverage to override",
                                  zh=f"建筑密度 {src!r} 按{unit_zh}读取（最大值 {top:g}）；如不符，请在「字段对应」的单位列中"
                                     "改正（命令行：映射文件 [units] coverage）"))
        if canon in mp.zero_as_missing:
            v = np.where(v == 0, np.nan, v)
        if unit is not None:
            with np.errstate(over="ignore"):  # 1e308 万元 overflows: caught below as not finite
                v = v * _unit_factor(canon, unit, mp.currency, mp.where)
            rep.units[canon] = unit
        v, bad = _bound_checks(canon, src, v, s, mp)
        checks += bad
        num[canon] = v
    return data, num, checks


def _bound_checks(canon: str, src: str, v: np.ndarray, source: pd.Series, mp: Mapping
                  ) -> tuple[np.ndarray, list[_Check]]:
    """Infinite values (``inf``, ``1e309``, an overflow of the unit) as not a number, and values over
    :data:`~planner.ingest.mapping.MAX_VALUES` as impossible; both made missing before anything is derived
    from them (an impossible value only kept where its policy is ``flag``). Two vectorized passes."""
    out: list[_Check] = []
    v = v + 0.0  # -0.0 (a negative zero in the source) is 0: never shown as "-0"
    inf = np.isinf(v)
    if inf.any():
        out.append(_Check(inf, "not_a_number", mp.checks.policy("not_a_number", canon),
                          (f"{src}: not a finite number (infinite, or too large to compute in {canon}), read as missing",
                           f"{src}：不是有限数值（无穷大，或换算为{column_label(canon, 'zh')}后超出计算范围），按缺失处理"),
                          canon, source))
        v = np.where(inf, np.nan, v)
    top = MAX_VALUES.get(canon)
    if top is not None:
        with np.errstate(invalid="ignore"):
            big = v > top
        if big.any():
            policy = mp.checks.policy("impossible", canon)
            out.append(_Check(big, "impossible", policy,
                              (f"{src}: {canon} over {top:,.0f}, not plausible for one parcel: a wrong unit or a "
                               "typing error; fix the value, or the unit ([units] in the mapping)",
                               f"{src}：{column_label(canon, 'zh')}超过 {top:,.0f}，对一宗地而言不可能：单位或录入有误；"
                               "请修正数值或单位（字段对应的 [units]）"), canon, v))
            if policy != "flag":
                v = np.where(big, np.nan, v)
    if canon == "land_area_m2" and (zero := v == 0).any():  # a polygon has land: 0 is a placeholder, not a measure
        policy = mp.checks.policy("impossible", canon)
        out.append(_Check(zero, "impossible", policy,
                          (f"{src}: land area 0, impossible for a parcel polygon; read as missing (the geometry's "
                           "area is used); fix the value, or list the field in [options] zero_as_missing",
                           f"{src}：土地面积为 0，宗地面不可能如此；按缺失处理（采用几何面积）；请修正数值，"
                           "或在字段对应的 [options] zero_as_missing 中列出该字段"), canon, v, wrong=False))
        if policy != "flag":
            v = np.where(zero, np.nan, v)
    return v, out


def _derive_areas(num: dict[str, np.ndarray], geom_area: np.ndarray, bad_geom: np.ndarray,
                  rep: IngestReport) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Land area (surveyed, else geometry), and floor area / footprint from their ratios.

    Returns (surveyed, land, derived): ``derived`` maps ``plot_ratio`` /
    ``coverage`` to the rows whose floor area / footprint came from it.
    """
    n = len(geom_area)
    derived: dict[str, int] = {}
    masks: dict[str, np.ndarray] = {}  # ratio field -> rows whose area was derived from it
    surveyed = num.get("land_area_m2", np.full(n, np.nan))
    land = np.where(np.isnan(surveyed), geom_area, surveyed)
    if np.isnan(surveyed).any():
        derived["land_area_m2 from geometry"] = int((np.isnan(surveyed) & ~bad_geom).sum())
    num["land_area_m2"] = land
    # a missing area from its ratio to the land area, where the ratio is given
    for area_field, rate, what in (("floor_area_m2", "plot_ratio", "plot ratio"),
                                   ("footprint_m2", "coverage", "coverage")):
        if rate in num:
            have = num.get(area_field, np.full(n, np.nan))
            use = np.isnan(have) & np.isfinite(num[rate])
            if use.any():
                with np.errstate(over="ignore"):  # an absurd ratio is nulled with what it derived
                    num[area_field] = np.where(use, num[rate] * land, have)
                masks[rate] = use
                derived[f"{area_field} = {what} x land area"] = int(use.sum())
    rep.n_derived = {k: v for k, v in derived.items() if v}
    return surveyed, land, masks


def _value_checks(num: dict[str, np.ndarray], surveyed: np.ndarray, land: np.ndarray, geom_area: np.ndarray,
                  mp: Mapping) -> list[_Check]:
    """Negative and impossible values, and surveyed areas far from the geometry's."""
    ck = mp.checks
    top = ck.max_plot_ratio
    out: list[_Check] = []
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.abs(surveyed - geom_area) / geom_area
        # ratios are checked against the land area the parcel will be stored with: a negative surveyed area (or
        # one far from the geometry's, where that check nulls) gives way to the geometry's (a floor area of
        # 104,605,287 m² on -3e-177 m² of land passed, and was stored on 2,500 m²)
        gives_way = land < 0
        if ck.policy("area_mismatch", "land_area_m2") == "null":
            gives_way |= rel > ck.area_tolerance
        land = np.where(gives_way, geom_area, land)
        for canon, v in num.items():
            neg = v < 0
            if neg.any():
                out.append(_Check(neg, "negative", ck.policy("negative", canon), (f"negative {canon}", f"{column_label(canon, 'zh')}为负值"),
                                  canon, v))
        if "plot_ratio" in num:
            out.append(_Check(num["plot_ratio"] > top, "impossible", ck.policy("impossible", "plot_ratio"),
                              (f"plot ratio over {top:g}", f"容积率超过 {top:g}"), "plot_ratio", num["plot_ratio"]))
        if "coverage" in num:
            out.append(_Check(num["coverage"] > 1.0, "impossible", ck.policy("impossible", "coverage"),
                              ("building coverage over 100 %", "建筑密度超过 100%"), "coverage", num["coverage"] * 100))
        if "floor_area_m2" in num:
            out.append(_Check(num["floor_area_m2"] / land > top, "impossible", ck.policy("impossible", "floor_area_m2"),
                              (f"floor area / land area over {top:g}", f"建筑面积/用地面积超过 {top:g}"),
                              "floor_area_m2", num["floor_area_m2"]))
        if "footprint_m2" in num and "coverage" not in num:
            out.append(_Check(num["footprint_m2"] > land * 1.0001, "impossible", ck.policy("impossible", "footprint_m2"),
                              ("footprint larger than the land area", "建筑基底面积大于用地面积"),
                              "footprint_m2", num["footprint_m2"]))
        if "zone_far_max" in num:
            out.append(_Check(num["zone_far_max"] > top, "impossible", ck.policy("impossible", "zone_far_max"),
                              (f"zoned plot ratio over {top:g}", f"规划容积率上限超过 {top:g}"),
                              "zone_far_max", num["zone_far_max"]))
        if "year_built" in num:
            y = num["year_built"]
            lo, hi = ck.year_min, ck.year_max
            out.append(_Check((y < lo) | (y > hi), "impossible", ck.policy("impossible", "year_built"),
                              (f"year outside {lo:g}-{hi:g}", f"建成年份不在 {lo:g}–{hi:g} 之间"), "year_built", y))
        out.append(_Check(rel > ck.area_tolerance, "area_mismatch", ck.policy("area_mismatch", "land_area_m2"),
                          (f"surveyed area differs from the geometry area by more than {ck.area_tolerance:.0%}",
                           f"调查面积与几何面积相差超过 {ck.area_tolerance:.0%}"),
                          "land_area_m2", surveyed))
    return out


def _id_checks(ids: pd.Series, pending_dup: Future, mp: Mapping) -> list[_Check]:
    """Missing, duplicate and hidden-character parcel ids (the duplicate pass ran in the background)."""
    ck = mp.checks
    return [_Check(ids.isna().to_numpy(), "missing_id", ck.missing_id, ("parcel id missing", "缺少宗地代码"),
                   "parcel_id"),
            _Check(pending_dup.result(), "duplicate_id", ck.duplicate_id,
                   ("parcel id appears more than once (all copies)", "宗地代码重复（列出全部重复记录）"), "parcel_id"),
            _Check(schema.hidden_characters(ids), "hidden_id", ck.hidden_id,
                   ("parcel id holds control or invisible characters (a zero-width space, a right-to-left mark...): "
                    "it looks like another id and is not; clean it in the source",
                    "宗地代码含控制字符或不可见字符（零宽空格、从右到左标记等）：看似与其他代码相同实则不同，请在源数据中清理"),
                   "parcel_id", values=ids)]


def _code_checks(data: dict[str, object], matched: dict[str, str], mp: Mapping, rep: IngestReport) -> list[_Check]:
    """Status and land-use codes normalised in ``data``; unknown codes as checks."""
    ck = mp.checks
    out: list[_Check] = []
    if "status" in data:
        st = pd.Series(data["status"], dtype="string")
        inv, uniq = pd.factorize(st)
        uniq = pd.Series(uniq, dtype="string").str.casefold()
        mapped = pd.Series(pd.array(pd.Series(uniq, dtype="string").map(STATUS_VALUES), dtype="string")
                           .take(inv, allow_fill=True), index=st.index)
        unk = (st.notna() & mapped.isna()).to_numpy()
        out.append(_Check(unk, "unknown_code", ck.policy("unknown_code", "status"),
                          (f"status not one of {', '.join(STATUS_VALUES)}",
                           f"使用状态不是以下之一：{'、'.join(STATUS_VALUES)}"), "status", st))
        data["status"] = mapped.array
    if "land_use_code" in data:
        codes = pd.Series(data["land_use_code"], dtype="string")
        if mp.land_use_pad:
            dig = codes.str.fullmatch(r"\d+").fillna(False).to_numpy(dtype=bool)
            codes = codes.mask(dig, codes.str.zfill(mp.land_use_pad))
        scheme = mp.land_use_scheme or ("sandiao" if str(matched["land_use_code"]).upper() in ("DLBM", "地类编码") else "gtkj")
        rep.land_use_scheme = scheme + ("" if mp.land_use_scheme else " (assumed; set [land_use] scheme)")
        cls = _land_use(codes, scheme, mp.land_use_classes)
        unk = (codes.notna() & cls.isna()).to_numpy()
        out.append(_Check(unk, "unknown_code", ck.policy("unknown_code", "land_use_code"),
                          (f"land-use code not in the {scheme} scheme or the mapping table",
                           f"用地代码不在{_SCHEME_ZH.get(scheme, scheme)}分类或映射表中"),
                          "land_use_code", codes))
        data["land_use_code"] = codes.array
        data["land_use"] = cls.array
    return out


def _apply_checks(checks: list[_Check], reject: np.ndarray, rows: np.ndarray, ids: pd.Series,
                  problems: list[Problem], refusals: list[tuple[str, str]]
                  ) -> tuple[np.ndarray, np.ndarray, list[tuple[str, np.ndarray, bool]]]:
    """Each check's policy: rows to reject, fields to null, ``ingest_flags`` text per row, or a refusal.

    One problem per row hit. Returns ``(reject, flags, nulls)``; ``nulls``
    lists ``(field, rows, counts as wrong)`` whose values become missing (the rows stay and
    their flags name the nulled field, e.g. ``impossible:year_built``).
    """
    reject = reject.copy()
    flags = np.full(len(rows), "", dtype=object)
    nulls: list[tuple[str, np.ndarray, str]] = []
    for c in checks:
        mask = np.asarray(c.mask, dtype=bool)
        if not mask.any():
            continue
        _problems_for(mask, c.code, c.policy, c.message, rows, ids, c.field, c.values, problems)
        if c.policy == "reject":
            reject |= mask
        elif c.policy == "null":
            nulls.append((c.field, mask, c.wrong and c.code != "not_a_number"))
            flags[mask] = flags[mask] + f"{c.code}:{c.field};"
        elif c.policy == "flag":
            flags[mask] = flags[mask] + c.code + ";"
        else:
            first = np.flatnonzero(mask)[:5] + 1
            refusals.append((f"{int(mask.sum())} row(s) with {c.code} ({c.message[0]}; policy refuse), rows {first.tolist()}",
                             f"{int(mask.sum())} 行{c.message[1]}（规则为拒绝），行号 {first.tolist()}"))
    return reject, flags, nulls


def _nulled_shares(nulls: list[tuple[str, np.ndarray, bool]], n: int) -> dict[str, float]:
    """Share of the rows whose value of each field was nulled as wrong (placeholders are not counted: text read
    as missing such as "无" or "/", a land area of 0, fill whole columns of real deliveries)."""
    rows: dict[str, np.ndarray] = {}
    for fld, mask, wrong in nulls:
        if not wrong:
            continue
        rows[fld] = rows.get(fld, np.zeros(n, dtype=bool)) | mask
    return {f: float(m.sum()) / max(n, 1) for f, m in rows.items()}


def _null_fields(nulls: list[tuple[str, np.ndarray, bool]], num: dict[str, np.ndarray], data: dict[str, object],
                 geom_area: np.ndarray, derived: dict[str, np.ndarray]) -> None:
    """Make the nulled values missing: a surveyed land area falls back to the geometry's, areas derived
    from a nulled ratio go with it."""
    for fld, mask, _wrong in nulls:
        if fld == "land_area_m2":
            num[fld] = np.where(mask, geom_area, num[fld])
        elif fld in num:
            num[fld] = np.where(mask, np.nan, num[fld])
            if fld in derived:
                area = "floor_area_m2" if fld == "plot_ratio" else "footprint_m2"
                num[area] = np.where(mask & derived[fld], np.nan, num[area])
        elif fld in data:
            data[fld] = pd.array(data[fld], dtype="string").copy()
            data[fld][mask] = pd.NA


def _format_checks(canon: str, src: str, bad: np.ndarray | None, raw: RawLayer, mp: Mapping) -> list[_Check]:
    """Values that are not whole numbers where the format says ``as = "integer"``; for the parcel id also
    floating-point ids too large to be exact (over 2^53). A parcel id cannot be nulled: its row is rejected."""
    policy = mp.checks.policy("not_integer", canon)
    if canon == "parcel_id" and policy == "null":
        policy = "reject"
    out = []
    col = raw.table[src] if raw.table is not None else raw.column(src)
    if bad is not None:
        out.append(_Check(bad, "not_integer", policy, (f"{src}: not a whole number (mapping: as = \"integer\")",
                                                       f"{src}：不是整数（字段对应规定为整数）"), canon, _values(col)))
    elif canon == "parcel_id":
        v = _floats(col)
        if v is not None:
            big = np.abs(np.nan_to_num(v)) > EXACT_MAX
            if big.any():
                out.append(_Check(big, "not_integer", policy,
                                  (f"{src}: a floating-point id over 2^53 cannot be exact; export the field as text",
                                   f"{src}：浮点型代码超过 2^53，无法保证精确；请将该字段导出为文本"), canon, v))
    return out


def _floats(col) -> np.ndarray | None:
    """The values of a floating-point column as float64 (None for other types)."""
    if isinstance(col, pa.ChunkedArray | pa.Array):
        return pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False) if pa.types.is_floating(col.type) else None
    return col.to_numpy(dtype=float, na_value=np.nan) if pd.api.types.is_float_dtype(col.dtype) else None


def _values(col) -> pd.Series:
    """A column's values as a pandas Series (for problem rows)."""
    return col.to_pandas() if isinstance(col, pa.ChunkedArray | pa.Array) else col


def _area_of_use(geoms: np.ndarray, bounds: tuple, cr: CrsResult, target: pyproj.CRS, rep: IngestReport) -> None:
    """A warning in the report when the data fall outside the workspace CRS's area of use (with the area error)."""
    if cr.crs is None or not np.all(np.isfinite(bounds)):
        return
    try:
        note = area_of_use_note(geoms, cr.crs, target, bounds=bounds)
    except (pyproj.exceptions.ProjError, pyproj.exceptions.CRSError, ValueError):
        return
    if note is None:
        return
    if note[0].startswith("WARNING"):
        rep.warnings.append(note[0])
        rep.warnings_zh.append(note[1])
    else:
        rep.notes.append(Note(note[0], zh=note[1]))


def _assemble(raw: RawLayer, geoms: np.ndarray, keep: np.ndarray, data: dict[str, object],
              num: dict[str, np.ndarray], flags: np.ndarray, mp: Mapping, target: pyproj.CRS,
              rep: IngestReport) -> gpd.GeoDataFrame:
    """The kept rows in the canonical order and dtypes (what ``schema.conform`` would return, one copy less)."""
    n = len(keep)
    n_out = int(keep.sum())
    all_kept = n_out == n
    cols_out: dict[str, object] = {}
    for f in schema.FIELDS:
        if f.name == "geometry":
            continue
        if f.name in num:
            # owned and writeable: the frame below holds the arrays themselves (no views of the source)
            cols_out[f.name] = np.require(num[f.name], requirements=["W", "O"]) if all_kept else num[f.name][keep]
        elif f.name in data:
            arr = pd.array(data[f.name], dtype="string")
            cols_out[f.name] = arr if all_kept else arr[keep]
        elif f.kind == "str":
            cols_out[f.name] = _NA_STRING.take(np.full(n_out, -1), allow_fill=True)
        else:
            cols_out[f.name] = np.full(n_out, np.nan)
    for name, (src, unit) in mp.extra.items():
        if unit is None:
            cols_out[name] = raw.column(src).to_numpy()[keep]
        else:
            fac = _extra_factor(unit, mp.currency, mp.where)
            cols_out[name] = pd.to_numeric(raw.column(src), errors="coerce").to_numpy(dtype=float)[keep] * fac
            rep.units[name] = unit
        rep.mapping[name] = src
    rep.unmapped = [c for c in rep.unmapped if c not in {v for v, _ in mp.extra.values()}]
    if mp.keep_extra:
        for c in rep.unmapped:
            if c not in cols_out:
                cols_out[c] = raw.column(c).to_numpy()[keep]
        rep.unmapped = []
    if raw.extent is not None and len(raw.extent):
        ext = raw.extent.to_crs(target) if raw.extent.crs is not None else raw.extent.set_crs(target)
        rep.update_extent_wkt = shapely.to_wkt(shapely.union_all(np.asarray(ext.geometry.values)), rounding_precision=3)
    if (flags[keep] != "").any():
        fl = pd.Series(flags[keep], dtype="string").str.rstrip(";")
        cols_out["ingest_flags"] = fl.mask(fl == "").array
    # copy=False: the columns are fresh arrays; it also skips stacking the float columns into one block
    out = gpd.GeoDataFrame(cols_out, geometry=gpd.array.from_shapely(geoms if all_kept else geoms[keep], crs=target),
                           index=pd.RangeIndex(n_out), copy=False)
    return out[schema.column_names() + [c for c in out.columns if c not in schema.column_names()]]
