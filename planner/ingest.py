"""Survey ingest: any source layer -> the canonical parcel schema -> a survey version.

Three steps, usable separately (the app's data manager previews with
:func:`read_survey` before it calls :func:`publish`):

1. :func:`read_survey` reads a file (:mod:`planner.io.readers`), resolves its
   CRS, repairs geometry, maps fields and units to the canonical schema
   (:mod:`planner.aliases`, a :class:`Mapping` file) and checks the records.
   Pure: it writes nothing.
2. :func:`publish` stores the accepted parcels as a new survey version, in
   ``replace`` or ``update`` mode, with the diff against the current version
   in the version's meta.
3. :func:`ingest` does both (or only step 1 with ``dry_run=True``).

Decisions
---------
- Problems and their default policy (:class:`Checks`): duplicate parcel ids
  -> every row sharing the id is rejected (none of them can be trusted to be
  the real one, and an update would be ambiguous); missing id, negative
  values, impossible values (plot ratio over 20, coverage over 100 %, year
  outside 1900-2100) and unusable geometry -> row rejected; surveyed area
  more than 20 % from the geometry area and unknown status or land-use codes
  -> kept and flagged in an ``ingest_flags`` column. Each can be set to
  ``"reject"``, ``"flag"`` or ``"refuse"`` (refuse the whole load) in the
  ``[checks]`` table of the mapping file. A load rejecting more than
  ``max_rejected_share`` of its rows is refused (a wrong mapping, not bad rows).
- Row numbers in reports are 1-based feature positions in the source (CSV:
  data rows, header not counted).
- A refused or failed load writes nothing to the workspace, not even an audit
  row, so the workspace stays identical in content; the refusal is in the
  report (``--report``) and the exit code.
- Mode ``auto`` (default) picks ``update`` when the file's parcels cover less
  than half of the current version's extent, else ``replace``. ``update``:
  parcels in the file replace the same ids, new ids are added, current
  parcels whose area is at least ``update_cover_share`` (50 %) covered by
  parcels of the file are removed (they were merged or re-parcelled), all
  others are kept.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyproj
import shapely

from planner import schema
from planner._ingest_crs import resolve_crs
from planner.aliases import (
    ALIASES,
    DEFAULT_UNITS,
    DERIVED,
    STATUS_VALUES,
    close_names,
    match_fields,
)
from planner.codes import SCHEMES, normalize_land_use
from planner.config import from_dict, load_file
from planner.crs import DEFAULT_WORKSPACE_CRS, gcj02_geoms_to_wgs84
from planner.errors import ConfigError, IngestError
from planner.i18n import column_label
from planner.io.readers import RawLayer, ReadLimits, read_source

Policy = Literal["reject", "flag", "refuse"]

#: Area units -> m².
AREA_UNITS = {"m2": 1.0, "m²": 1.0, "sqm": 1.0, "ft2": 0.09290304, "sqft": 0.09290304, "ft²": 0.09290304,
              "mu": schema.MU_M2, "亩": schema.MU_M2, "ha": 10_000.0, "公顷": 10_000.0, "km2": 1e6}
#: Money units -> CNY (other currency codes need a rate in ``[currency]``).
MONEY_UNITS = {"yuan": 1.0, "cny": 1.0, "元": 1.0, "10k_yuan": 1e4, "万元": 1e4, "wan": 1e4, "100m_yuan": 1e8, "亿元": 1e8}
_NA_STRING = pd.array([pd.NA], dtype="string")
_AREA_FIELDS = ("land_area_m2", "floor_area_m2", "footprint_m2")
_MONEY_FIELDS = ("output_cny", "tax_cny")
_VALUE_FIELDS = ("land_area_m2", "floor_area_m2", "footprint_m2", "output_cny", "tax_cny", "employees",
                 "year_built", "zone_far_max", "plot_ratio", "coverage")


@dataclass(frozen=True)
class Checks:
    """Record checks and what to do about each problem (``[checks]`` of a mapping file)."""

    duplicate_id: Policy = "reject"
    missing_id: Policy = "reject"
    negative: Policy = "reject"
    impossible: Policy = "reject"
    bad_geometry: Policy = "reject"
    area_mismatch: Policy = "flag"
    unknown_code: Policy = "flag"
    #: Relative difference |surveyed - geometry| / geometry area above which areas mismatch.
    area_tolerance: float = 0.2
    max_plot_ratio: float = 20.0
    #: Refuse the load when more than this share of rows is rejected.
    max_rejected_share: float = 0.5
    #: Update mode: current parcels covered at least this much by new parcels are removed.
    update_cover_share: float = 0.5


@dataclass(frozen=True)
class Mapping:
    """How a source layout maps to the canonical schema (a TOML mapping file).

    Tables: ``[source]`` (crs, encoding, layer), ``[fields]`` (canonical name
    = source field; also ``plot_ratio`` and ``coverage``), ``[units]``
    (area fields: m2, ft2, mu, ha, km2; money: yuan, 10k_yuan/万元, 100m_yuan
    or a currency code; coverage: percent or fraction), ``[currency]`` (code
    = CNY per unit), ``[land_use]`` (scheme gtkj/sandiao/none, pad, and a
    ``[land_use.classes]`` code -> class table), ``[checks]``
    (:class:`Checks`), ``[options]`` (keep_extra: keep unmapped source
    fields; zero_as_missing: canonical fields where 0 means unknown, e.g.
    MapPLUTO's YearBuilt) and ``[extra]`` (extra stored columns: ``name =
    "Source"`` or ``name = {source = "Source", unit = "USD"}``, unit an area
    or money unit).
    """

    fields: dict[str, str] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    currency: dict[str, float] = field(default_factory=dict)
    land_use_scheme: str | None = None
    land_use_classes: dict[str, str] = field(default_factory=dict)
    land_use_pad: int = 0
    crs: str | None = None
    encoding: str | None = None
    layer: str | None = None
    keep_extra: bool = False
    zero_as_missing: tuple[str, ...] = ()
    extra: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    checks: Checks = Checks()
    where: str = "mapping"

    @classmethod
    def from_dict(cls, data: dict, *, where: str = "mapping") -> Mapping:
        """Build from the tables of a mapping file; errors name the file and key."""
        known = {"source", "fields", "units", "currency", "land_use", "checks", "options", "extra"}
        unknown = sorted(set(data) - known)
        if unknown:
            msg = f"{where}: unknown table(s) {unknown}; known: {sorted(known)}"
            raise ConfigError(msg)

        def table(name: str) -> dict:
            t = data.get(name, {})
            if not isinstance(t, dict):
                msg = f"{where}: [{name}] must be a table"
                raise ConfigError(msg)
            return t

        src, lu, opts = table("source"), dict(table("land_use")), table("options")
        for key, allowed in (("source", {"crs", "encoding", "layer"}), ("options", {"keep_extra", "zero_as_missing"}),
                             ("land_use", {"scheme", "pad", "classes"})):
            bad = sorted(set(table(key)) - allowed)
            if bad:
                msg = f"{where}: unknown key(s) {bad} in [{key}]; known: {sorted(allowed)}"
                raise ConfigError(msg)
        canon = set(schema.column_names()) | set(DERIVED)
        fields = {str(k): str(v) for k, v in table("fields").items()}
        for k in fields:
            if k not in canon or k == "geometry":
                msg = f"{where}: [fields] {k!r} is not a canonical column; use one of {sorted(canon - {'geometry'})}"
                raise ConfigError(msg)
        currency = {}
        for k, v in table("currency").items():
            if isinstance(v, bool) or not isinstance(v, int | float) or v <= 0:
                msg = f"{where}: [currency] {k} must be a positive number (CNY per 1 {k}), got {v!r}"
                raise ConfigError(msg)
            currency[str(k).casefold()] = float(v)
        units = {str(k): str(v) for k, v in table("units").items()}
        for k, u in units.items():
            _unit_factor(k, u, currency, where)
        scheme = lu.get("scheme")
        if scheme is not None and scheme not in (*SCHEMES, "none"):
            msg = f"{where}: [land_use] scheme {scheme!r}; use 'gtkj' (国土空间), 'sandiao' (三调) or 'none'"
            raise ConfigError(msg)
        classes = {str(k): str(v) for k, v in dict(lu.get("classes", {})).items()}
        for k, v in classes.items():
            if v not in schema.LAND_USE_CLASSES:
                msg = f"{where}: [land_use.classes] {k} = {v!r} is not a class; use one of {list(schema.LAND_USE_CLASSES)}"
                raise ConfigError(msg)
        checks = from_dict(Checks, table("checks"), where=f"{where} [checks]")
        zam = tuple(str(x) for x in opts.get("zero_as_missing", ()))
        for z in zam:
            if z not in _VALUE_FIELDS:
                msg = f"{where}: [options] zero_as_missing names {z!r}; numeric fields are {list(_VALUE_FIELDS)}"
                raise ConfigError(msg)
        extra: dict[str, tuple[str, str | None]] = {}
        for k, v in table("extra").items():
            if isinstance(v, str):
                extra[str(k)] = (v, None)
            elif isinstance(v, dict) and "source" in v and set(v) <= {"source", "unit"}:
                unit = v.get("unit")
                if unit is not None:
                    _extra_factor(str(unit), currency, f"{where}: [extra] {k}")
                extra[str(k)] = (str(v["source"]), unit)
            else:
                msg = f"{where}: [extra] {k} must be a source field name or {{source = ..., unit = ...}}"
                raise ConfigError(msg)
            if k in canon:
                msg = f"{where}: [extra] {k!r} is a canonical column; map it in [fields]"
                raise ConfigError(msg)
        return cls(fields=fields, units=units, currency=currency, land_use_scheme=scheme,
                   land_use_classes=classes, land_use_pad=int(lu.get("pad", 0)), crs=src.get("crs"),
                   encoding=src.get("encoding"), layer=src.get("layer"),
                   keep_extra=bool(opts.get("keep_extra", False)), zero_as_missing=zam, extra=extra,
                   checks=checks, where=where)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Mapping:
        """Read a TOML (or JSON) mapping file."""
        return cls.from_dict(load_file(path), where=str(path))


def _unit_factor(name: str, unit: str, currency: dict[str, float], where: str) -> float:
    u = unit.strip()
    if name in _AREA_FIELDS:
        if u.casefold() in AREA_UNITS or u in AREA_UNITS:
            return AREA_UNITS.get(u.casefold(), AREA_UNITS.get(u, 1.0))
        msg = f"{where}: [units] {name} = {unit!r}; area units are {sorted(set(AREA_UNITS))}"
        raise ConfigError(msg)
    if name in _MONEY_FIELDS:
        if u.casefold() in MONEY_UNITS or u in MONEY_UNITS:
            return MONEY_UNITS.get(u.casefold(), MONEY_UNITS.get(u, 1.0))
        if u.casefold() in currency:
            return currency[u.casefold()]
        msg = (f"{where}: [units] {name} = {unit!r} is neither yuan, 10k_yuan (万元), 100m_yuan nor a currency "
               f"with a rate in [currency] (e.g. {u} = 7.1 CNY per {u}); no rates are fetched from the network")
        raise ConfigError(msg)
    if name == "coverage":
        if u in ("percent", "%", "fraction"):
            return 0.01 if u in ("percent", "%") else 1.0
        msg = f"{where}: [units] coverage = {unit!r}; use 'percent' or 'fraction'"
        raise ConfigError(msg)
    msg = f"{where}: [units] {name!r} takes no unit; units apply to {', '.join(_AREA_FIELDS + _MONEY_FIELDS)}, coverage"
    raise ConfigError(msg)


def _extra_factor(unit: str, currency: dict[str, float], where: str) -> float:
    for name in ("land_area_m2", "output_cny"):
        try:
            return _unit_factor(name, unit, currency, where)
        except ConfigError:
            continue
    msg = f"{where}: unit {unit!r} is neither an area unit nor a money unit (or currency with a rate in [currency])"
    raise ConfigError(msg)


@dataclass
class Problem:
    """One problem found in a source record or layer."""

    code: str
    action: str
    message: str
    row: int | None = None
    parcel_id: str | None = None
    field: str | None = None
    value: str | None = None
    #: The message in Simplified Chinese (the app shows it when the UI speaks Chinese).
    message_zh: str | None = None


@dataclass
class IngestReport:
    """What an ingest read, did and found (printable, and written as CSV or JSON)."""

    source: str
    dataset: str = ""
    format: str = ""
    layer: str | None = None
    encoding: str | None = None
    encoding_note: str = ""
    crs_source: str = ""
    crs_used: str = ""
    target_crs: str = ""
    mapping: dict[str, str] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    land_use_scheme: str | None = None
    unmapped: list[str] = field(default_factory=list)
    n_read: int = 0
    n_accepted: int = 0
    n_repaired: int = 0
    n_rejected: int = 0
    n_flagged: int = 0
    n_derived: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    row_note: str = ""
    refused: bool = False
    refusal: str = ""
    dry_run: bool = False
    sha256: str | None = None
    mode: str | None = None
    #: Update extent (WKT, target CRS) shipped with the file: update mode replaces what lies inside.
    update_extent_wkt: str | None = None
    version: int | None = None
    diff: dict | None = None

    def summary(self) -> dict:
        """Counts and settings without the problem list (for layer meta and audit)."""
        d = asdict(self)
        d.pop("problems")
        d["problem_counts"] = self.problem_counts()
        if d.get("diff"):
            d["diff"] = {k: v for k, v in d["diff"].items() if not k.endswith("_ids") and k != "changed_fields_by_id"}
        return d

    def problem_counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for p in self.problems:
            key = f"{p.code} ({p.action})"
            out[key] = out.get(key, 0) + 1
        return out

    def to_dict(self) -> dict:
        return asdict(self)

    def to_text(self, max_problems: int = 30) -> str:
        """A readable, fixed-width report."""
        lines = [f"ingest report: {self.dataset or self.source}" + (" (dry run)" if self.dry_run else "")]
        rows = [("format", f"{self.format}" + (f", layer {self.layer}" if self.layer else "")),
                ("encoding", f"{self.encoding or '-'}" + (f" ({self.encoding_note})" if self.encoding_note else "")),
                ("CRS of the file", self.crs_source or "-"), ("CRS used", self.crs_used or "-"),
                ("stored in", self.target_crs or "-"),
                ("land-use scheme", self.land_use_scheme or "-"),
                ("read", self.n_read), ("accepted", self.n_accepted), ("repaired geometry", self.n_repaired),
                ("rejected", self.n_rejected), ("flagged", self.n_flagged)]
        w = max(len(k) for k, _ in rows)
        lines += [f"  {k:<{w}}  {v}" for k, v in rows]
        if self.mapping:
            lines.append("field mapping (canonical <- source [unit]):")
            for k, v in self.mapping.items():
                unit = self.units.get(k)
                lines.append(f"  {k:<15} <- {v}" + (f" [{unit}]" if unit else ""))
        if self.n_derived:
            lines.append("derived: " + ", ".join(f"{k} for {v} row(s)" for k, v in self.n_derived.items()))
        if self.unmapped:
            lines.append("source fields not stored: " + ", ".join(self.unmapped))
        for n in self.notes:
            lines.append(f"note: {n}")
        if self.problems:
            lines.append(f"problems ({len(self.problems)}; {self.row_note}):")
            for k, v in self.problem_counts().items():
                lines.append(f"  {v:>7}  {k}")
            lines.append(f"  {'row':>7}  {'parcel_id':<20} {'field':<14} {'action':<8} message")
            for p in self.problems[:max_problems]:
                lines.append(f"  {p.row if p.row is not None else '-':>7}  {str(p.parcel_id or '-'):<20} "
                             f"{str(p.field or '-'):<14} {p.action:<8} {p.message}")
            if len(self.problems) > max_problems:
                lines.append(f"  ... {len(self.problems) - max_problems} more (write them all with --report FILE.csv)")
        if self.diff:
            d = self.diff
            lines.append(f"diff against survey version {d.get('base_version') or '(none)'} ({self.mode} mode): "
                         f"{d['n_added']} added, {d['n_removed']} removed, {d['n_changed']} changed, "
                         f"{d['n_unchanged']} unchanged")
            if d.get("n_removed_merged"):
                lines.append(f"  {d['n_removed_merged']} removed because new parcels or the update extent cover them "
                             "(merged/re-parcelled)")
            for k, v in d.get("changed_fields", {}).items():
                lines.append(f"  changed {k:<15} {v}")
        if self.refused:
            lines.append(f"REFUSED: {self.refusal}")
        elif self.version is not None:
            lines.append(f"published as survey version {self.version}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()


def _joined(refusals: list[tuple[str, str]]) -> tuple[str, str]:
    """One reason (English, Chinese) from several refusals: the one itself, or a bulleted list."""
    if len(refusals) == 1:
        return refusals[0]
    return tuple("\n  - " + "\n  - ".join(r[k] for r in refusals) for k in (0, 1))


def _refuse(report: IngestReport, reason: str, reason_zh: str | None = None) -> IngestError:
    report.refused = True
    report.refusal = reason
    where = report.dataset or report.source
    err = IngestError(f"{where}: {reason}", zh=f"{where}：{reason_zh}" if reason_zh else None)
    err.report = report  # type: ignore[attr-defined]
    return err


# -- geometry ----------------------------------------------------------------
_POLY = (3, 6)  # Polygon, MultiPolygon type ids

#: Land-use code schemes in Chinese problem messages.
_SCHEME_ZH = {"gtkj": "国土空间用地用海", "sandiao": "三调工作", "none": "（无）"}


def _polygonal_parts(geoms: np.ndarray) -> np.ndarray:
    """Keep only the polygonal parts of each geometry (Polygon, MultiPolygon or None)."""
    parts, idx = shapely.get_parts(geoms, return_index=True)
    # collections may hold multi-geometries: flatten once more
    parts2, idx2 = shapely.get_parts(parts, return_index=True)
    idx2 = idx[idx2]
    keep = (shapely.get_type_id(parts2) == 3) & (shapely.area(parts2) > 0)
    parts2, idx2 = parts2[keep], idx2[keep]
    out = np.full(len(geoms), None, dtype=object)
    if len(parts2):
        counts = np.bincount(idx2, minlength=len(geoms))
        multi = shapely.multipolygons(parts2, indices=idx2)
        rows = np.unique(idx2)
        out[rows] = multi
        single = np.flatnonzero(counts == 1)
        out[single] = shapely.get_geometry(out[single], 0)
    return out


def _clean_geometry(geoms: np.ndarray, rows: np.ndarray, problems: list[Problem], ids, policy: str,
                    valid_all: np.ndarray | None = None, tid: np.ndarray | None = None
                    ) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
    """Repair geometries in place; return (geoms, bad mask, n repaired, area (NaN where bad)).

    ``valid_all``: ``shapely.is_valid(geoms)`` when already computed (in the background);
    ``tid``: ``shapely.get_type_id(geoms)`` when already computed.
    """
    n = len(geoms)
    bad = np.zeros(n, dtype=bool)
    reason = np.full(n, "", dtype=object)
    reason_zh = np.full(n, "", dtype=object)
    missing = shapely.is_missing(geoms)
    empty = ~missing & shapely.is_empty(geoms)
    bad |= missing | empty
    reason[missing | empty] = "empty geometry"
    reason_zh[missing | empty] = "几何为空"
    tid = shapely.get_type_id(geoms) if tid is None else tid
    coll = tid == 7
    nonpoly = ~bad & ~np.isin(tid, _POLY) & ~coll
    bad |= nonpoly
    names = shapely.get_type_id(geoms[nonpoly])
    reason[nonpoly] = [f"not a polygon ({t})" for t in _type_names(names)]
    reason_zh[nonpoly] = [f"不是面要素（{t}）" for t in _type_names(names)]
    if shapely.has_z(geoms[~bad] if bad.any() else geoms).any():
        geoms = shapely.force_2d(geoms)
    ok = ~bad
    valid = np.ones(n, dtype=bool)
    valid[ok] = valid_all[ok] if valid_all is not None else _is_valid(geoms[ok])
    fix = ok & (~valid | coll)
    n_rep = 0
    if fix.any():
        idx = np.flatnonzero(fix)
        fixed = _polygonal_parts(shapely.make_valid(geoms[idx]))
        lost = shapely.is_missing(fixed)
        geoms[idx[~lost]] = fixed[~lost]
        bad[idx[lost]] = True
        reason[idx[lost]] = "no polygonal part left after repairing the geometry"
        reason_zh[idx[lost]] = "修复几何后没有剩下面要素"
        rep = idx[~lost & ~valid[idx]]
        n_rep = len(rep)
        for i, pid in zip(rep[:10_000], _ids_at(ids, rep[:10_000]), strict=True):
            problems.append(Problem("repaired_geometry", "repaired", "invalid polygon repaired (make_valid)",
                                    int(rows[i]), _s(pid), "geometry",
                                    message_zh="无效多边形已自动修复（make_valid）"))
    ok = ~bad
    area = np.full(n, np.nan)
    if ok.all():
        area = shapely.area(geoms)
    else:
        area[ok] = shapely.area(geoms[ok])
    zero = ok & (area <= 0)
    bad |= zero
    area[bad] = np.nan
    reason[zero] = "zero-area polygon"
    reason_zh[zero] = "面积为零的多边形"
    bad_rows = np.flatnonzero(bad)
    for i, pid in zip(bad_rows, _ids_at(ids, bad_rows), strict=True):
        problems.append(Problem("bad_geometry", _act(policy), reason[i], int(rows[i]), _s(pid), "geometry",
                                message_zh=reason_zh[i]))
    return geoms, bad, n_rep, area


def _is_valid(geoms: np.ndarray, chunk: int = 100_000) -> np.ndarray:
    """``shapely.is_valid`` in chunks on two threads (GEOS releases the GIL)."""
    if len(geoms) <= chunk:
        return shapely.is_valid(geoms)
    parts = [geoms[i:i + chunk] for i in range(0, len(geoms), chunk)]
    with ThreadPoolExecutor(max_workers=min(2, os.cpu_count() or 1)) as ex:
        return np.concatenate(list(ex.map(shapely.is_valid, parts)))


def _type_names(ids) -> list[str]:
    names = {0: "Point", 1: "LineString", 2: "LinearRing", 4: "MultiPoint", 5: "MultiLineString", 7: "GeometryCollection"}
    return [names.get(int(t), str(t)) for t in ids]


def _act(policy: str) -> str:
    return {"reject": "rejected", "flag": "flagged", "refuse": "refused"}[policy]


def _s(v) -> str | None:
    return None if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA else str(v)


# -- fields ------------------------------------------------------------------
def _auto_unit(canon: str, src: str) -> str | None:
    if canon in _MONEY_FIELDS and src.upper() in DEFAULT_UNITS:
        return DEFAULT_UNITS[src.upper()]
    if canon in _MONEY_FIELDS:
        for key in ("亿元", "万元"):
            if key in src:
                return key
    if canon in _AREA_FIELDS:
        for key in ("公顷", "亩"):
            if key in src:
                return key
    return None


def _as_mapping(mapping) -> Mapping:
    if mapping is None:
        return Mapping()
    if isinstance(mapping, Mapping):
        return mapping
    if isinstance(mapping, dict):
        return Mapping.from_dict(mapping)
    return Mapping.load(mapping)


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


def _str_field(raw: RawLayer, name: str) -> pd.Series:
    """A source field as trimmed strings (dtype ``string``), empty strings as missing.

    Arrow string columns are trimmed in Arrow (no Python objects); others go
    through pandas (``astype("string")``, so numbers print as pandas prints them).
    """
    col = raw.table[name] if raw.table is not None else None
    if col is not None and (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        col = pc.utf8_trim_whitespace(col)
        col = pc.if_else(pc.equal(col, ""), pa.scalar(None, col.type), col)
        return pd.Series(pd.array(col, dtype="string"), copy=False)
    st = raw.column(name).astype("string").str.strip()
    return st.mask(st == "")


def _ids_at(ids: pd.Series, idx: np.ndarray) -> np.ndarray:
    """Parcel ids of rows ``idx`` as Python objects (None when missing), without converting all ids."""
    return ids.iloc[idx].to_numpy(dtype=object, na_value=None)


def _problems_for(mask, code, policy, message, rows, ids, fld, values, problems):
    """One :class:`Problem` per row of ``mask`` (at most 100,000); ``message`` is ``(english, chinese)``."""
    message, message_zh = message
    idx = np.flatnonzero(mask)
    act = _act(policy)
    if values is None:
        vals = [None] * len(idx)
    elif isinstance(values, pd.Series):
        vals = values.iloc[idx[:100_000]].to_numpy(dtype=object)
    else:
        vals = np.asarray(values)[idx[:100_000]]
    for i, pid, v in zip(idx[:100_000], _ids_at(ids, idx[:100_000]), vals[:100_000], strict=False):
        problems.append(Problem(code, act, message, int(rows[i]), _s(pid), fld, _s(v), message_zh))


def conform_layer(raw: RawLayer, *, mapping: Mapping | None = None, crs: str | None = None,
                  target_crs=None) -> tuple[gpd.GeoDataFrame, IngestReport]:
    """Map a raw source layer to canonical parcels in ``target_crs`` (pure; see :func:`read_survey`)."""
    mp = mapping or Mapping()
    ck = mp.checks
    n = len(raw)
    target = pyproj.CRS.from_user_input(target_crs or DEFAULT_WORKSPACE_CRS)
    rep = IngestReport(source=raw.source, dataset=raw.dataset, format=raw.format, layer=raw.layer,
                       encoding=raw.encoding, encoding_note=raw.encoding_note,
                       crs_source=raw.crs.name if raw.crs is not None else "none", target_crs=target.name,
                       n_read=n, row_note=raw.row_note, notes=list(raw.notes))
    if n == 0:
        raise _refuse(rep, "the layer has no features", "图层中没有要素")
    geoms = raw.geoms
    tid = shapely.get_type_id(geoms)
    if not np.isin(tid, (3, 6, 7)).any():
        kinds = sorted(set(_type_names(np.unique(tid[tid >= 0])))) or ["no geometry"]
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
    bounds = raw.bounds if raw.bounds is not None else tuple(shapely.total_bounds(geoms).tolist())
    cr = resolve_crs(raw.crs, crs, bounds)
    rep.crs_used = cr.label
    rep.notes += cr.notes
    if cr.problem:
        refusals.append((cr.problem, cr.problem_zh or cr.problem))
    if refusals:
        raise _refuse(rep, *_joined(refusals))
    rows = np.arange(1, n + 1)
    problems: list[Problem] = []
    ids = _str_field(raw, matched["parcel_id"])

    # geometry: GCJ-02, reproject, repair
    geoms_same = not cr.gcj02 and cr.crs.equals(target)  # the read geometries are the target's
    precomputed = raw.geom_valid if geoms_same else None
    if cr.gcj02:
        geoms = gcj02_geoms_to_wgs84(geoms)
    if not cr.crs.equals(target):
        if shapely.has_z(geoms).any():
            geoms = shapely.force_2d(geoms)
        geoms = np.asarray(gpd.GeoSeries(geoms, crs=cr.crs).to_crs(target).values, dtype=object)
    else:
        geoms = geoms.copy()
    # the duplicate-id hash pass (Arrow, GIL released) overlaps the work below until the record checks
    dup_bg = ThreadPoolExecutor(max_workers=1)
    pending_dup = dup_bg.submit(schema.duplicated_ids, ids)
    dup_bg.shutdown(wait=False)
    # validity (the costly GEOS check) runs in the background while the attributes are read
    with ThreadPoolExecutor(max_workers=1) as bg:
        pending = bg.submit(_is_valid, geoms) if precomputed is None else None
        # attributes and units
        data: dict[str, object] = {"parcel_id": ids.array}
        masks: list[tuple[np.ndarray, str, str, str, str, np.ndarray | None]] = []
        num: dict[str, np.ndarray] = {}
        for canon, src in matched.items():
            if canon == "parcel_id":
                continue
            kind = "float" if canon in _VALUE_FIELDS else "str"
            if kind == "str":
                data[canon] = _str_field(raw, src).array
                continue
            s = raw.column(src)
            if pd.api.types.is_numeric_dtype(s.dtype):
                v = s.to_numpy(dtype=float, na_value=np.nan)
            else:
                v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
                st = s.astype("string").str.strip()
                nan_bad = np.isnan(v) & (st.notna() & (st != "")).fillna(False).to_numpy(dtype=bool)
                if nan_bad.any():
                    masks.append((nan_bad, "not_a_number", "flag", f"{src}: not a number, read as missing", canon, st))
            unit = mp.units.get(canon) or _auto_unit(canon, str(src))
            if canon == "coverage" and unit is None:
                finite = v[np.isfinite(v)]
                unit = "percent" if finite.size and finite.max() > 1.0 else "fraction"
                rep.notes.append(f"coverage {src!r} read as {unit} (values up to {finite.max() if finite.size else 0:g}); "
                                 "set [units] coverage to override")
            if canon in mp.zero_as_missing:
                v = np.where(v == 0, np.nan, v)
            if unit is not None:
                v = v * _unit_factor(canon, unit, mp.currency, mp.where)
                rep.units[canon] = unit
            num[canon] = v
        valid_all = pending.result() if pending is not None else precomputed
    geoms, bad_geom, n_rep, geom_area = _clean_geometry(geoms, rows, problems, ids, ck.bad_geometry, valid_all,
                                                        tid if geoms_same else None)
    rep.n_repaired = n_rep

    derived: dict[str, int] = {}
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
                num[area_field] = np.where(use, num[rate] * land, have)
                derived[f"{area_field} = {what} x land area"] = int(use.sum())
    rep.n_derived = {k: v for k, v in derived.items() if v}

    # record checks
    with np.errstate(invalid="ignore", divide="ignore"):
        for canon, v in num.items():
            neg = v < 0
            if neg.any():
                msg = (f"negative {canon}", f"{column_label(canon, 'zh')}为负值")
                masks.append((neg, "negative", ck.negative, msg, canon, v))
        top = ck.max_plot_ratio
        if "plot_ratio" in num:
            msg = (f"plot ratio over {top:g}", f"容积率超过 {top:g}")
            masks.append((num["plot_ratio"] > top, "impossible", ck.impossible, msg, "plot_ratio", num["plot_ratio"]))
        if "coverage" in num:
            msg = ("building coverage over 100 %", "建筑密度超过 100%")
            masks.append((num["coverage"] > 1.0, "impossible", ck.impossible, msg, "coverage", num["coverage"] * 100))
        if "floor_area_m2" in num:
            msg = (f"floor area / land area over {top:g}", f"建筑面积/用地面积超过 {top:g}")
            masks.append((num["floor_area_m2"] / land > top, "impossible", ck.impossible, msg, "floor_area_m2",
                          num["floor_area_m2"]))
        if "footprint_m2" in num and "coverage" not in num:
            msg = ("footprint larger than the land area", "建筑基底面积大于用地面积")
            masks.append((num["footprint_m2"] > land * 1.0001, "impossible", ck.impossible, msg, "footprint_m2",
                          num["footprint_m2"]))
        if "zone_far_max" in num:
            msg = (f"zoned plot ratio over {top:g}", f"规划容积率上限超过 {top:g}")
            masks.append((num["zone_far_max"] > top, "impossible", ck.impossible, msg, "zone_far_max",
                          num["zone_far_max"]))
        if "year_built" in num:
            y = num["year_built"]
            msg = ("year outside 1900-2100", "建成年份不在 1900–2100 之间")
            masks.append(((y < 1900) | (y > 2100), "impossible", ck.impossible, msg, "year_built", y))
        rel = np.abs(surveyed - geom_area) / geom_area
        masks.append((rel > ck.area_tolerance, "area_mismatch", ck.area_mismatch,
                      (f"surveyed area differs from the geometry area by more than {ck.area_tolerance:.0%}",
                       f"调查面积与几何面积相差超过 {ck.area_tolerance:.0%}"),
                      "land_area_m2", surveyed))
    idn = ids.isna().to_numpy()
    dup = pending_dup.result()
    masks.append((idn, "missing_id", ck.missing_id, ("parcel id missing", "缺少宗地代码"), "parcel_id", None))
    masks.append((dup, "duplicate_id", ck.duplicate_id,
                  ("parcel id appears more than once (all copies)", "宗地代码重复（列出全部重复记录）"),
                  "parcel_id", None))
    if "status" in data:
        st = pd.Series(data["status"], dtype="string")
        inv, uniq = pd.factorize(st)
        uniq = pd.Series(uniq, dtype="string").str.casefold()
        mapped = pd.Series(pd.array(pd.Series(uniq, dtype="string").map(STATUS_VALUES), dtype="string")
                           .take(inv, allow_fill=True), index=st.index)
        unk = (st.notna() & mapped.isna()).to_numpy()
        msg = (f"status not one of {', '.join(STATUS_VALUES)}", f"使用状态不是以下之一：{'、'.join(STATUS_VALUES)}")
        masks.append((unk, "unknown_code", ck.unknown_code, msg, "status", st))
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
        masks.append((unk, "unknown_code", ck.unknown_code,
                      (f"land-use code not in the {scheme} scheme or the mapping table",
                       f"用地代码不在{_SCHEME_ZH.get(scheme, scheme)}分类或映射表中"),
                      "land_use_code", codes))
        data["land_use_code"] = codes.array
        data["land_use"] = cls.array

    reject = bad_geom & (ck.bad_geometry == "reject")
    flags = np.full(n, "", dtype=object)
    if ck.bad_geometry == "refuse" and bad_geom.any():
        refusals.append((f"{int(bad_geom.sum())} unusable geometries (policy bad_geometry = refuse)",
                         f"{int(bad_geom.sum())} 个几何无法使用（规则 bad_geometry = refuse）"))
    for mask, code, policy, message, fld, values in masks:
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            continue
        _problems_for(mask, code, policy, message, rows, ids, fld, values, problems)
        if policy == "reject":
            reject |= mask
        elif policy == "flag":
            flags[mask] = flags[mask] + code + ";"
        else:
            first = np.flatnonzero(mask)[:5] + 1
            refusals.append((f"{int(mask.sum())} row(s) with {code} ({message[0]}; policy refuse), rows {first.tolist()}",
                             f"{int(mask.sum())} 行{message[1]}（规则为拒绝），行号 {first.tolist()}"))
    problems.sort(key=lambda p: (p.row or 0, p.code))
    rep.problems = problems
    rep.n_rejected = int(reject.sum())
    rep.n_accepted = n - rep.n_rejected
    rep.n_flagged = int(((flags != "") & ~reject).sum())
    rep.unmapped = [str(c) for c in cols if c not in set(matched.values())]
    if refusals:
        raise _refuse(rep, *_joined(refusals))
    if rep.n_rejected > ck.max_rejected_share * n:
        raise _refuse(rep, f"{rep.n_rejected} of {n} rows rejected (more than {ck.max_rejected_share:.0%}): "
                           "the field mapping or units are probably wrong; see the problems listed",
                      f"{n} 行中有 {rep.n_rejected} 行被拒绝（超过 {ck.max_rejected_share:.0%}）："
                      "字段对应或单位可能有误，请查看问题列表")

    keep = ~reject
    n_out = int(keep.sum())
    all_kept = n_out == n
    cols_out: dict[str, object] = {}
    # built directly in the canonical order and dtypes (what schema.conform would return, one copy less)
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
    out = out[schema.column_names() + [c for c in out.columns if c not in schema.column_names()]]
    # schema.validate is not repeated here: the checks above cover it (tests assert it passes)
    return out, rep


def read_survey(source: str | os.PathLike, *, mapping=None, layer: str | None = None, crs: str | None = None,
                encoding: str | None = None, target_crs=None, limits: ReadLimits = ReadLimits()
                ) -> tuple[gpd.GeoDataFrame, IngestReport]:
    """Read and check a survey file without writing anything.

    Parameters
    ----------
    source : path-like
        Survey file (see :func:`planner.io.readers.read_source` for formats).
    mapping : Mapping, dict or path, optional
        Field mapping, units, land-use scheme and check policies.
    layer, crs, encoding : str, optional
        Override the layer, the CRS (``"gcj02"`` for GCJ-02 lon/lat) and the
        text encoding (they win over the mapping file's ``[source]``).
    target_crs : CRS-like, optional
        Projected metric CRS of the result (a workspace's ``store.crs``;
        default EPSG:4549).

    Returns
    -------
    (GeoDataFrame, IngestReport)
        The accepted parcels in the canonical schema and the report.

    Raises
    ------
    IngestError
        When the load is refused; ``exc.report`` holds the report when one exists.
    """
    mp = _as_mapping(mapping)
    raw = read_source(source, layer=layer or mp.layer, encoding=encoding or mp.encoding, limits=limits)
    return conform_layer(raw, mapping=mp, crs=crs or mp.crs, target_crs=target_crs)


# -- diff, merge, publish ----------------------------------------------------
def diff_parcels(old: pd.DataFrame, new: pd.DataFrame, *, max_ids: int = 1000) -> dict:
    """Added, removed and changed parcels (by ``parcel_id``) and which fields changed.

    Geometry counts as changed when it is not equal within 1 cm, vertex order aside.
    """
    o = old.drop_duplicates("parcel_id").set_index("parcel_id")
    nw = new.set_index("parcel_id")
    added = nw.index.difference(o.index)
    removed = o.index.difference(nw.index)
    common = nw.index.intersection(o.index)
    a, b = o.loc[common], nw.loc[common]
    cols = [c for c in schema.column_names() if c not in ("parcel_id", "geometry") and c in a.columns and c in b.columns]
    changed = np.zeros(len(common), dtype=bool)
    per_field: dict[str, int] = {}
    field_masks: dict[str, np.ndarray] = {}
    for c in cols:
        x, y = a[c], b[c]
        if schema.field(c).kind == "float":
            xv = x.to_numpy(dtype=float, na_value=np.nan)
            yv = y.to_numpy(dtype=float, na_value=np.nan)
            same = np.isclose(xv, yv, rtol=1e-9, atol=1e-6) | (np.isnan(xv) & np.isnan(yv))
        else:
            xs, ys = x.astype("string"), y.astype("string")
            same = ((xs == ys).fillna(False) | (xs.isna() & ys.isna())).to_numpy(dtype=bool)
        m = ~same
        if m.any():
            per_field[c] = int(m.sum())
            field_masks[c] = m
        changed |= m
    ga = np.asarray(a.geometry.values if isinstance(a, gpd.GeoDataFrame) else a["geometry"].values, dtype=object)
    gb = np.asarray(b.geometry.values if isinstance(b, gpd.GeoDataFrame) else b["geometry"].values, dtype=object)
    gm = ~shapely.equals_exact(ga, gb, tolerance=0.01)
    if gm.any():
        sub = np.flatnonzero(gm)
        gm[sub] = ~shapely.equals(ga[sub], gb[sub])
    if gm.any():
        per_field["geometry"] = int(gm.sum())
        field_masks["geometry"] = gm
    changed |= gm
    ch_ids = common[changed]
    by_id: dict[str, list[str]] = {}
    for i in np.flatnonzero(changed)[:max_ids]:
        by_id[str(common[i])] = [c for c, m in field_masks.items() if m[i]]
    return {"n_added": len(added), "n_removed": len(removed), "n_changed": int(changed.sum()),
            "n_unchanged": int(len(common) - changed.sum()), "changed_fields": per_field,
            "added_ids": [str(x) for x in added[:max_ids]], "removed_ids": [str(x) for x in removed[:max_ids]],
            "changed_ids": [str(x) for x in ch_ids[:max_ids]], "changed_fields_by_id": by_id}


def _inherit(cur: gpd.GeoDataFrame, new: gpd.GeoDataFrame, columns: list[str]) -> gpd.GeoDataFrame:
    """Fill ``columns`` of ``new`` from each parcel's predecessor: same id, else largest overlap."""
    if not columns or not len(cur) or not len(new):
        return new
    cg = np.asarray(cur.geometry.values, dtype=object)
    ng = np.asarray(new.geometry.values, dtype=object)
    ni, ci = shapely.STRtree(cg).query(ng, predicate="intersects")
    pred = np.full(len(new), -1)
    if len(ni):
        area = shapely.area(shapely.intersection(ng[ni], cg[ci]))
        order = np.lexsort((area, ni))
        last = np.r_[ni[order][1:] != ni[order][:-1], True]
        pred[ni[order][last]] = ci[order][last]
    pos = pd.Series(np.arange(len(cur)), index=cur["parcel_id"].astype(str)).drop_duplicates()
    same = new["parcel_id"].astype(str).map(pos).to_numpy(dtype=float, na_value=np.nan)
    pred = np.where(np.isnan(same), pred, np.nan_to_num(same, nan=-1).astype(int))
    has = pred >= 0
    out = new.copy()
    for c in columns:
        vals = cur[c].to_numpy()[np.where(has, pred, 0)]
        if c in out.columns:
            fill = has & out[c].isna().to_numpy()
            col = out[c].to_numpy(copy=True)
            col[fill] = vals[fill]
            out[c] = pd.array(col, dtype=cur[c].dtype)
        else:
            out[c] = pd.array(np.where(has, vals, None), dtype=cur[c].dtype) if cur[c].dtype != float else \
                np.where(has, vals, np.nan)
    return out


def merge_update(current: gpd.GeoDataFrame, new: gpd.GeoDataFrame, *, cover_share: float = 0.5,
                 extent=None, inherit: list[str] | None = None) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Merge a partial survey into the current parcels.

    Parcels of ``new`` replace the same ids and new ids are added; current
    parcels at least ``cover_share`` covered by parcels of ``new`` are removed
    (merged or re-parcelled); every other current parcel is kept. With an
    ``extent`` (a polygon shipped with the update, e.g. 更新范围.shp), every
    current parcel whose centroid lies in it is replaced instead of the cover rule.
    Columns in ``inherit`` (those the update file does not carry) are filled
    from each new parcel's predecessor: the current parcel with the same id,
    else the one it overlaps most.

    Returns
    -------
    (GeoDataFrame, list of str)
        The merged parcels (canonical schema) and the ids removed by cover.
    """
    cur = current.to_crs(new.crs) if current.crs is not None and not current.crs.equals(new.crs) else current
    rest = cur[~cur["parcel_id"].isin(new["parcel_id"])].reset_index(drop=True)
    rg = np.asarray(rest.geometry.values, dtype=object)
    ng = np.asarray(new.geometry.values, dtype=object)
    tree = shapely.STRtree(ng)
    ri, ni = tree.query(rg, predicate="intersects")
    inter = shapely.area(shapely.intersection(rg[ri], ng[ni])) if len(ri) else np.zeros(0)
    cov = np.bincount(ri, weights=inter, minlength=len(rest)) / np.maximum(shapely.area(rg), 1e-12)
    covered = cov >= cover_share
    if extent is not None:
        covered = shapely.contains_xy(extent, *shapely.get_coordinates(shapely.centroid(rg)).T) | covered
    removed = rest.loc[covered, "parcel_id"].astype(str).tolist()
    new = _inherit(cur, new, [c for c in (inherit or []) if c in cur.columns])
    kept = schema.conform(rest[~covered].reset_index(drop=True), crs=new.crs)
    both = pd.concat([kept, new], ignore_index=True)
    return schema.conform(gpd.GeoDataFrame(both, geometry="geometry", crs=new.crs), crs=new.crs), removed


def plan_publish(parcels: gpd.GeoDataFrame, current: gpd.GeoDataFrame | None, *,
                 report: IngestReport | None = None, mode: str = "auto",
                 cover_share: float = 0.5) -> tuple[gpd.GeoDataFrame, dict, str]:
    """What publishing ``parcels`` over ``current`` would store, without writing.

    Pure: resolves ``mode`` (see :func:`publish`), merges a partial update into
    the current version and diffs the result against it. The app's data manager
    shows this diff before the user publishes; :func:`publish` stores exactly it.

    Returns
    -------
    (layer, diff, mode)
        The parcel layer that would become current, the diff against
        ``current`` and the resolved mode. Notes go to ``report.notes``.
    """
    if mode not in ("auto", "replace", "update"):
        msg = f"mode {mode!r}: use 'replace', 'update' or 'auto'"
        raise IngestError(msg, zh=f"发布方式 {mode!r} 无效，请使用 replace（整体替换）、update（局部更新）或 auto")
    notes = report.notes if report is not None else []
    extent = shapely.from_wkt(report.update_extent_wkt) if report is not None and report.update_extent_wkt else None
    if mode == "auto":
        if current is None or not len(current):
            mode = "replace"
        elif extent is not None:
            mode = "update"
            notes.append("mode auto -> update: the file ships an update extent")
        else:
            share = float(shapely.area(np.asarray(parcels.geometry.values)).sum()
                          / max(shapely.area(np.asarray(current.geometry.values)).sum(), 1e-9))
            mode = "update" if share < 0.5 else "replace"
            notes.append(f"mode auto -> {mode}: the file's parcels cover {share:.0%} of the current version's land")
    removed_merged: list[str] = []
    out = parcels
    if mode == "update" and current is not None:
        provided = set(report.mapping if report is not None else ()) | {"parcel_id", "land_area_m2", "geometry"}
        provided |= {"floor_area_m2"} if "plot_ratio" in provided else set()
        provided |= {"footprint_m2"} if "coverage" in provided else set()
        provided |= {"land_use"} if "land_use_code" in provided else set()
        inherit = [c for c in current.columns if c not in provided] if report is not None else []
        out, removed_merged = merge_update(current, parcels, cover_share=cover_share, extent=extent, inherit=inherit)
        if inherit:
            notes.append("update: fields the file does not carry are kept from each parcel's predecessor "
                         f"(same id, else largest overlap): {', '.join(inherit)}")
    if current is not None:
        diff = diff_parcels(current, out)
    else:
        diff = {"n_added": len(out), "n_removed": 0, "n_changed": 0, "n_unchanged": 0, "changed_fields": {},
                "added_ids": out["parcel_id"].astype(str).head(1000).tolist(), "removed_ids": [], "changed_ids": [],
                "changed_fields_by_id": {}}
    diff["n_removed_merged"] = len(removed_merged)
    diff["removed_merged_ids"] = removed_merged[:1000]
    return out, diff, mode


def publish(parcels: gpd.GeoDataFrame, store, *, report: IngestReport | None = None, mode: str = "auto",
            source_file: str | None = None, sha256: str | None = None, label: str | None = None,
            user: str | None = None, cover_share: float = 0.5) -> IngestReport:
    """Store accepted parcels as a new current survey version, with the diff in its meta.

    Parameters
    ----------
    parcels : GeoDataFrame
        Canonical parcels (from :func:`read_survey`).
    store : planner.io.store.Store
        The workspace.
    report : IngestReport, optional
        The read report; it is completed (mode, diff, version) and returned.
    mode : {"auto", "replace", "update"}
        See the module notes. ``auto`` picks ``update`` when the file ships an
        update extent or the parcels' total area is under half of the current
        version's. :func:`plan_publish` computes the same without writing.
    cover_share : float
        Update mode: current parcels covered at least this much are removed.
    """
    if mode not in ("auto", "replace", "update"):
        msg = f"mode {mode!r}: use 'replace', 'update' or 'auto'"
        raise IngestError(msg, zh=f"发布方式 {mode!r} 无效，请使用 replace（整体替换）、update（局部更新）或 auto")
    rep = report or IngestReport(source=str(source_file or "(data frame)"), n_read=len(parcels),
                                 n_accepted=len(parcels))
    parcels = parcels.to_crs(store.crs) if not pyproj.CRS.from_user_input(parcels.crs).equals(store.crs) else parcels
    has = store.has_layer("survey", "parcels")
    current = store.read_parcels() if has else None
    base = None
    if current is not None:
        cat = store.surveys()
        base = int(cat.loc[cat["is_current"], "version"].max()) if cat["is_current"].any() else None
    out, diff, mode = plan_publish(parcels, current, report=rep if report is not None else None,
                                   mode=mode, cover_share=cover_share)
    diff["base_version"] = base
    rep.mode = mode
    rep.diff = diff
    meta_diff = {k: (v[:200] if isinstance(v, list) else v) for k, v in diff.items() if k != "changed_fields_by_id"}
    meta_diff["changed_fields_by_id"] = dict(list(diff["changed_fields_by_id"].items())[:200])
    rep.version = store.publish_survey(out, label=label, user=user, source_file=source_file, sha256=sha256,
                                       meta={"diff": meta_diff, "ingest": rep.summary()})
    return rep


def ingest(source: str | os.PathLike, store, *, mapping=None, layer: str | None = None, crs: str | None = None,
           encoding: str | None = None, survey_name: str | None = None, dry_run: bool = False,
           mode: str = "auto", user: str | None = None, limits: ReadLimits = ReadLimits()) -> IngestReport:
    """Read, check and (unless ``dry_run``) publish a survey file into a workspace.

    A refused load raises :class:`IngestError` (``exc.report`` has the report)
    and leaves the workspace unchanged: nothing, not even an audit row, is written.

    Examples
    --------
    >>> # ingest("survey.zip", GpkgStore("ws.gpkg"), survey_name="2025 survey")  # doctest: +SKIP
    """
    from planner.io.store import sha256_file

    mp = _as_mapping(mapping)
    gdf, rep = read_survey(source, mapping=mp, layer=layer, crs=crs, encoding=encoding,
                           target_crs=store.crs, limits=limits)
    rep.dry_run = dry_run
    src = Path(source)
    rep.sha256 = sha256_file(src) if src.is_file() else None
    if dry_run:
        rep.mode = mode
        return rep
    return publish(gdf, store, report=rep, mode=mode, source_file=src.name, sha256=rep.sha256,
                   label=survey_name, user=user, cover_share=mp.checks.update_cover_share)


__all__ = ["Checks", "IngestReport", "Mapping", "Problem", "conform_layer", "diff_parcels", "ingest",
           "merge_update", "publish", "read_survey"]
