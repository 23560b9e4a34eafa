"""The canonical parcel schema (DESIGN.md, "Canonical parcel schema") as code.

Every source layer is reduced to this one schema by ingest: SI units (m², m),
money in CNY, geometry in the workspace's projected metric CRS. Analysis code
relies on these names, dtypes and units and on nothing else.

Examples
--------
>>> import geopandas as gpd, shapely
>>> gdf = gpd.GeoDataFrame({"parcel_id": ["a"], "land_area_m2": [1000.0]},
...                        geometry=[shapely.box(0, 0, 40, 25)], crs="EPSG:4549")
>>> out = conform(gdf)
>>> list(out.columns) == column_names()
True
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from planner.errors import SchemaError

#: 1 mu (亩) in square metres (10,000 / 15).
MU_M2 = 10_000.0 / 15.0

#: Allowed values of ``status``.
STATUSES = ("in_use", "idle", "vacant", "under_construction", "stopped", "half_stopped")

#: Normalized land-use classes (``land_use``); the source code is kept in ``land_use_code``.
LAND_USE_CLASSES = (
    "industrial",
    "warehouse",
    "commercial",
    "residential",
    "public",
    "transport",
    "green",
    "agricultural",
    "water",
    "other",
)


@dataclass(frozen=True)
class Field:
    """One column of the canonical schema.

    Parameters
    ----------
    name : str
        Column name.
    kind : str
        ``"str"``, ``"float"``, ``"int"`` or ``"geometry"``.
    unit : str
        Unit of the stored value (``""`` for none).
    required : bool
        Whether ingest refuses a layer without it.
    zh, en : str
        Labels for the UI and reports.
    minimum, maximum : float or None
        Plausible range; values outside it are reported by :func:`check_values`.
    """

    name: str
    kind: str
    unit: str = ""
    required: bool = False
    zh: str = ""
    en: str = ""
    minimum: float | None = None
    maximum: float | None = None


FIELDS: tuple[Field, ...] = (
    Field("parcel_id", "str", required=True, zh="宗地代码", en="Parcel id"),
    Field("land_area_m2", "float", "m²", zh="土地面积", en="Land area", minimum=0.0),
    Field("floor_area_m2", "float", "m²", zh="建筑面积", en="Floor area", minimum=0.0),
    Field("footprint_m2", "float", "m²", zh="基底面积", en="Building footprint", minimum=0.0),
    Field("land_use_code", "str", zh="用地用途代码", en="Land-use code"),
    Field("land_use", "str", zh="用地分类", en="Land-use class"),
    Field("owner", "str", zh="权利人", en="Land-right holder"),
    Field("enterprise", "str", zh="使用企业", en="Occupying enterprise"),
    Field("industry", "str", zh="行业", en="Industry"),
    Field("output_cny", "float", "CNY/yr", zh="年产值", en="Annual output", minimum=0.0),
    Field("tax_cny", "float", "CNY/yr", zh="年税收", en="Annual tax", minimum=0.0),
    Field("employees", "float", "persons", zh="从业人数", en="Employees", minimum=0.0),
    Field("status", "str", zh="使用状态", en="Status"),
    Field("year_built", "float", "year", zh="建成年份", en="Year built", minimum=1900, maximum=2100),
    Field("zone_far_max", "float", "", zh="规划容积率上限", en="Zoned max plot ratio", minimum=0.0, maximum=20.0),
    Field("zone_use", "str", zh="规划用途", en="Zoned use"),
    Field("geometry", "geometry", required=True, zh="几何", en="Geometry"),
)

_BY_NAME = {f.name: f for f in FIELDS}

#: Columns ingest cannot do without.
REQUIRED = tuple(f.name for f in FIELDS if f.required)


#: The catalogue meta key of a survey version's figure sums (:func:`figure_sums`).
FIGURE_SUMS = "figure_sums"


def figure_sums(parcels: pd.DataFrame) -> dict[str, list[float]]:
    """``{column: [finite values, their sum, sum of magnitudes]}`` of the schema's float columns of ``parcels``.

    :meth:`planner.io.store.Store.publish_survey` keeps them in each survey version's meta (0.2 s at
    1M parcels, 8 columns), so that :func:`planner.ingest.publish.equal_earlier_version` rules out an earlier version of
    other figures without reading it: two versions :func:`~planner.ingest.publish.diff_parcels` calls equal have
    as many values present in each column and sums within its tolerance.

    >>> figure_sums(pd.DataFrame({"parcel_id": ["a", "b"], "land_area_m2": [100.0, None]}))
    {'land_area_m2': [1, 100.0, 100.0]}
    """
    out = {}
    for c in parcels.columns:
        if c in _BY_NAME and _BY_NAME[c].kind == "float":
            v = pd.to_numeric(parcels[c], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            ok = np.isfinite(v)  # an infinite figure as a missing one: JSON (PostGIS's jsonb) has no Infinity
            out[c] = [int(ok.sum()), float(v[ok].sum()), float(np.abs(v[ok]).sum())]
    return out


def column_names() -> list[str]:
    """Canonical column names in their canonical order."""
    return [f.name for f in FIELDS]


def field(name: str) -> Field:
    """Look up a schema field by name."""
    try:
        return _BY_NAME[name]
    except KeyError:
        msg = f"{name!r} is not a column of the canonical parcel schema; known: {', '.join(_BY_NAME)}"
        raise SchemaError(msg) from None


def label(name: str, lang: str = "zh") -> str:
    """UI label of a column, with its unit, in ``"zh"`` or ``"en"`` (:func:`planner.i18n.column_label`: money in
    元 and yuan, as every other label; it said "CNY/yr")."""
    from planner.i18n import column_label

    return column_label(name, lang) if name in _BY_NAME else name


def _as_str(s: pd.Series) -> pd.Series:
    out = s.astype("string")
    return out.str.strip().replace("", pd.NA)


def conform(df: pd.DataFrame, *, crs=None) -> gpd.GeoDataFrame:
    """Return ``df`` with every canonical column, canonical dtypes and order.

    Missing optional columns are added as all-missing; extra columns are kept
    after the canonical ones. Values are cast, not checked: see
    :func:`validate` and :func:`check_values`.

    Raises
    ------
    SchemaError
        If a required column is missing or a column cannot be cast.
    """
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        msg = f"missing required column(s) {missing}; map them from the source fields at ingest"
        raise SchemaError(msg)
    n = len(df)
    cols: dict[str, object] = {}
    for f in FIELDS:
        if f.kind == "geometry":
            continue
        if f.name not in df.columns:
            if f.kind == "str":
                cols[f.name] = pd.array([pd.NA] * n, dtype="string")
            else:
                cols[f.name] = np.full(n, np.nan)
            continue
        s = df[f.name]
        try:
            if f.kind == "str":
                cols[f.name] = _as_str(s).array
            else:
                cols[f.name] = pd.to_numeric(s, errors="raise").astype("float64").to_numpy()
        except (ValueError, TypeError) as exc:
            msg = f"column {f.name!r} cannot be read as {f.kind}: {exc}"
            raise SchemaError(msg) from exc
    extra = [c for c in df.columns if c not in _BY_NAME]
    for c in extra:
        cols[c] = df[c].to_numpy()
    out = gpd.GeoDataFrame(
        cols,
        geometry=gpd.GeoSeries(df.geometry.values, index=range(n)).values,
        crs=crs if crs is not None else getattr(df, "crs", None),
        index=pd.RangeIndex(n),
    )
    return out[column_names() + extra]


def validate(gdf: gpd.GeoDataFrame) -> None:
    """Check a conformed parcel table; raise one :class:`SchemaError` listing every problem.

    Checks the columns and their dtypes, a projected metric CRS, unique
    non-missing ``parcel_id``, polygonal geometry, allowed ``status`` and
    ``land_use`` values and plausible ranges (units).
    """
    problems: list[str] = []
    for f in FIELDS:
        if f.name not in gdf.columns:
            problems.append(f"missing column {f.name!r}")
            continue
        if f.kind == "float" and not pd.api.types.is_float_dtype(gdf[f.name]):
            problems.append(f"column {f.name!r} has dtype {gdf[f.name].dtype}, expected float64 ({f.unit or 'no unit'})")
        if f.kind == "str" and not (pd.api.types.is_string_dtype(gdf[f.name]) or gdf[f.name].isna().all()):
            problems.append(f"column {f.name!r} has dtype {gdf[f.name].dtype}, expected string")
    if gdf.crs is None:
        problems.append("no CRS: parcels must be stored in a projected metric CRS")
    elif not gdf.crs.is_projected or gdf.crs.axis_info[0].unit_name not in ("metre", "meter"):
        problems.append(f"CRS {gdf.crs.to_string()} is not a projected metric CRS")
    if "parcel_id" in gdf.columns:
        ids = gdf["parcel_id"]
        if ids.isna().any():
            rows = np.flatnonzero(ids.isna().to_numpy())[:5].tolist()
            problems.append(f"parcel_id missing in {int(ids.isna().sum())} row(s), first rows {rows}")
        dup = ids[ids.duplicated(keep=False) & ids.notna()]
        if len(dup):
            problems.append(f"parcel_id not unique: {sorted(set(dup.astype(str)))[:5]}")
    if "geometry" in gdf.columns and len(gdf):
        gt = gdf.geometry.geom_type
        bad = ~gt.isin(["Polygon", "MultiPolygon"])
        if bad.any():
            problems.append(f"{int(bad.sum())} non-polygonal geometries, first rows {np.flatnonzero(bad.to_numpy())[:5].tolist()}")
    problems += [p.message for p in check_values(gdf)]
    if problems:
        msg = "parcel table does not follow the canonical schema:\n  - " + "\n  - ".join(problems)
        raise SchemaError(msg)


@dataclass(frozen=True)
class ValueProblem:
    """A value outside its field's domain (for reports)."""

    field: str
    rows: tuple[int, ...]
    message: str


def check_values(gdf: pd.DataFrame) -> list[ValueProblem]:
    """Range and domain checks of the canonical columns (units sanity)."""
    out: list[ValueProblem] = []
    for f in FIELDS:
        if f.name not in gdf.columns or f.kind != "float":
            continue
        v = pd.to_numeric(gdf[f.name], errors="coerce").to_numpy(dtype=float)
        bad = np.zeros(len(v), dtype=bool)
        if f.minimum is not None:
            bad |= v < f.minimum
        if f.maximum is not None:
            bad |= v > f.maximum
        if bad.any():
            rows = tuple(np.flatnonzero(bad)[:10].tolist())
            rng = f"[{f.minimum}, {f.maximum}]"
            out.append(ValueProblem(f.name, rows, f"{f.name}: {int(bad.sum())} value(s) outside {rng} {f.unit}, first rows {list(rows)}"))
    for name, allowed in (("status", STATUSES), ("land_use", LAND_USE_CLASSES)):
        if name in gdf.columns:
            s = gdf[name]
            bad = s.notna() & ~s.isin(allowed)
            if bad.any():
                rows = tuple(np.flatnonzero(bad.to_numpy())[:10].tolist())
                vals = sorted(set(s[bad].astype(str)))[:5]
                out.append(ValueProblem(name, rows, f"{name}: unknown value(s) {vals}; allowed {list(allowed)}"))
    return out


def id_positions(keys: pd.Series, values: pd.Series) -> np.ndarray:
    """Row of each of ``keys`` in ``values`` (ids compared as text; the first row of a repeated one), -1 if absent.

    One Arrow hash look-up: what ``merge`` or ``Index.get_indexer`` on
    Arrow-backed strings did at several times the cost (seconds at 1M parcels).
    A few keys in many values (a scenario's sites' parcels among a city's):
    the values are scanned against the keys' hash and only the rows found are
    hashed (a hash of 1M ids per scenario run was 0.23 s of it).
    """
    k = pa.array(pd.Series(keys, dtype="string").array)
    v = pa.array(pd.Series(values, dtype="string").array)
    if 16 * len(k) < len(v):
        found = np.flatnonzero(pc.is_in(v, value_set=k).to_numpy(zero_copy_only=False))
        at = pc.index_in(k, value_set=v.take(pa.array(found))).fill_null(-1).to_numpy(zero_copy_only=False)
        return np.where(at >= 0, found[np.maximum(at, 0)] if len(found) else -1, -1).astype(np.int64)
    return pc.index_in(k, value_set=v).fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def ids_in(values: pd.Series, keys) -> np.ndarray:
    """Whether each of ``values`` is one of ``keys`` (ids compared as text; a missing value is not), as a bool array.

    One Arrow hash look-up: pandas' ``isin`` on Arrow-backed strings makes
    Python objects of the keys first (0.42 s for all 86k sites of a 1M city
    among their 360k members; this: 15 ms).
    """
    v = pa.array(pd.Series(values, dtype="string").array)
    k = pa.array(pd.Series(list(keys) if isinstance(keys, set | frozenset) else keys, dtype="string").array)
    return pc.is_in(v, value_set=k, skip_nulls=True).to_numpy(zero_copy_only=False).astype(bool)


def hidden_characters(values: pd.Series) -> np.ndarray:
    """Whether each text holds a character of :data:`planner.i18n.HIDDEN` (control, invisible format, line or
    paragraph separators), as a bool array (missing: False). One Arrow (RE2) pass: 60 ms for 1M ids.

    >>> hidden_characters(pd.Series(["Z1", "Z1\u200b", "a\u202eb", None, "宗地 1"], dtype="string")).tolist()
    [False, True, True, False, False]
    """
    from planner.i18n import HIDDEN

    pattern = "[" + "".join(rf"\p{{{c}}}" for c in HIDDEN) + "]"
    hit = pc.match_substring_regex(pa.array(pd.Series(values, dtype="string").array), pattern)
    return pc.fill_null(hit, False).to_numpy(zero_copy_only=False).astype(bool)


def duplicated_ids(ids: pd.Series) -> np.ndarray:
    """Rows whose non-missing id occurs more than once (every copy), as a bool array.

    One Arrow hash pass (``unique``) settles the usual case, all ids distinct,
    at half the cost of pandas' ``duplicated`` on Arrow strings.
    """
    valid = pa.array(pd.Series(ids, dtype="string").array).drop_null()
    if len(pc.unique(valid)) == len(valid):
        return np.zeros(len(ids), dtype=bool)
    s = pd.Series(ids, dtype="string")
    return (s.duplicated(keep=False) & s.notna()).to_numpy()
