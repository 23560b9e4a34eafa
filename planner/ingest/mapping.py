"""Mapping files: how a source layout maps to the canonical schema (fields, units, codes, checks)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

from planner import schema
from planner.codes import SCHEMES
from planner.config import from_dict, load_file
from planner.errors import ConfigError
from planner.ingest.aliases import DEFAULT_UNITS, DERIVED
from planner.ingest.formats import FieldFormat, parse_field
from planner.ingest.geometry import MAX_PARCEL_AREA_M2

Policy = Literal["reject", "null", "flag", "refuse"]
#: Checks about a whole row (its id or geometry): "null" does not apply to them.
ROW_CHECKS = ("duplicate_id", "missing_id", "hidden_id", "bad_geometry")

#: Area units -> m².
AREA_UNITS = {"m2": 1.0, "m²": 1.0, "sqm": 1.0, "ft2": 0.09290304, "sqft": 0.09290304, "ft²": 0.09290304,
              "mu": schema.MU_M2, "亩": schema.MU_M2, "ha": 10_000.0, "公顷": 10_000.0, "km2": 1e6}
#: Money units -> CNY (other currency codes need a rate in ``[currency]``).
MONEY_UNITS = {"yuan": 1.0, "cny": 1.0, "元": 1.0, "10k_yuan": 1e4, "万元": 1e4, "wan": 1e4, "100m_yuan": 1e8, "亿元": 1e8}
_NA_STRING = pd.array([pd.NA], dtype="string")
_AREA_FIELDS = ("land_area_m2", "floor_area_m2", "footprint_m2")
_MONEY_FIELDS = ("output_cny", "tax_cny")
#: Largest plausible value of a field for one parcel (or one enterprise), in canonical units: above it a
#: value is ``impossible`` (nulled by default), a wrong unit or an overflow, never a measurement. Generous on
#: purpose (DOMAIN.md scale: Jinjiang is 649 km²; Quanzhou's best parks pay 200,000 yuan of tax per mu):
MAX_VALUES: dict[str, float] = {
    # the geometry's own limit: 1,000 km², more than the whole of Jinjiang
    "land_area_m2": MAX_PARCEL_AREA_M2,
    "footprint_m2": MAX_PARCEL_AREA_M2,
    # that land at a plot ratio of 20 (Checks.max_plot_ratio), beyond any tower block
    "floor_area_m2": 20 * MAX_PARCEL_AREA_M2,
    # 1 万亿 yuan a year: about ten times what China's largest single taxpayers pay, and more than Quanzhou's
    # whole tax revenue; 1e308 万元 or a figure in 元 read as 亿元 lands far above it
    "tax_cny": 1e12,
    # 10 万亿 yuan: about three times the revenue of China's largest company
    "output_cny": 1e13,
    # a million people: more than the largest factory campus ever employed (about 400,000)
    "employees": 1e6,
    # a billion tonnes of standard coal: a sixth of China's yearly energy use, ten times its largest user's
    "energy_tce": 1e9,
}
_VALUE_FIELDS = ("land_area_m2", "floor_area_m2", "footprint_m2", "output_cny", "tax_cny", "employees",
                 "year_built", "zone_far_max", "plot_ratio", "coverage")


@dataclass(frozen=True)
class Checks:
    """Record checks and what to do about each problem (``[checks]`` of a mapping file).

    Each check's policy: ``"reject"`` the row, ``"null"`` the field (the
    parcel stays, the value becomes missing, a problem row says so),
    ``"flag"`` the row (kept, value kept, listed in ``ingest_flags``) or
    ``"refuse"`` the whole load. Field-level problems null the field by
    default, so one bad value never punches a hole in the parcel fabric;
    row-level ones (:data:`ROW_CHECKS`: ids, geometry) cannot be nulled.
    ``fields`` sets the policy of every value check on one field
    (``[checks.fields] year_built = "flag"``), winning over the check's own.
    """

    duplicate_id: Policy = "reject"
    missing_id: Policy = "reject"
    #: A parcel id holding control or invisible characters (a zero-width space, a right-to-left mark): it looks
    #: like another id and is not ("Z1" and "Z1" + U+200B are two parcels). Kept as delivered and listed.
    hidden_id: Policy = "flag"
    negative: Policy = "null"
    #: A value no parcel can have: over :data:`MAX_VALUES`, a plot ratio over ``max_plot_ratio``, a year
    #: outside ``year_min``-``year_max``... (``flag`` keeps the value).
    impossible: Policy = "null"
    bad_geometry: Policy = "reject"
    area_mismatch: Policy = "flag"
    unknown_code: Policy = "flag"
    #: A value that is not a whole number in a field formatted ``as = "integer"`` (a parcel id: row rejected).
    not_integer: Policy = "null"
    #: Text, or an infinite value (``inf``, ``1e309``, an overflow of the unit), in a numeric field: read as missing.
    not_a_number: Policy = "null"
    #: Per field: the policy of every value check on it.
    fields: dict[str, Policy] = field(default_factory=dict)
    #: Years built outside this range are impossible (sentinels such as 0, 1800, 1899, 9999).
    year_min: float = 1900.0
    year_max: float = 2100.0
    #: Relative difference |surveyed - geometry| / geometry area above which areas mismatch.
    area_tolerance: float = 0.2
    max_plot_ratio: float = 20.0
    #: Refuse the load when more than this share of rows is rejected.
    max_rejected_share: float = 0.5
    #: Update mode: current parcels covered at least this much by new parcels are removed.
    update_cover_share: float = 0.5
    #: A parcel with more polygon parts or vertices than this is rejected as a bad geometry
    #: (no real parcel comes close; one with 10^6 parts made an update merge take minutes).
    max_parts: int = 10_000
    max_vertices: int = 1_000_000

    def __post_init__(self) -> None:
        for name in ROW_CHECKS:
            if getattr(self, name) == "null":
                msg = f"{name} = 'null': a row's id or geometry cannot be nulled (a row cannot be kept without it); use reject, flag or refuse"
                raise ValueError(msg)
        canon = set(schema.column_names()) | set(DERIVED)
        bad = sorted(set(self.fields) - canon - {"geometry"})
        if bad or "geometry" in self.fields:
            msg = f"fields: {bad or ['geometry']} are not canonical fields with value checks"
            raise ValueError(msg)

    def policy(self, check: str, fld: str | None = None) -> str:
        """The policy of ``check`` on field ``fld`` (a ``fields`` entry wins for value checks)."""
        if fld is not None and fld in self.fields and check not in ROW_CHECKS:
            return self.fields[fld]
        return getattr(self, check)


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
    #: Text formats of fields given as tables (:mod:`planner.ingest.formats`), by canonical or extra name.
    formats: dict[str, FieldFormat] = field(default_factory=dict)
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
        fields: dict[str, str] = {}
        formats: dict[str, FieldFormat] = {}
        for k, v in table("fields").items():
            fields[str(k)], fmt = parse_field(str(k), v, f"{where}: [fields]")
            if not fmt.is_default:
                formats[str(k)] = fmt
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
        classes = _code_classes(dict(lu.get("classes", {})), where)
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
            elif isinstance(v, dict) and "source" in v and "unit" not in v:
                src_name, fmt = parse_field(str(k), v, f"{where}: [extra]")
                extra[str(k)] = (src_name, None)
                formats[str(k)] = fmt
            else:
                msg = (f"{where}: [extra] {k} must be a source field name, {{source = ..., unit = ...}} or "
                       "{source = ..., as = ..., pad = ...}")
                raise ConfigError(msg)
            if k in canon:
                msg = f"{where}: [extra] {k!r} is a canonical column; map it in [fields]"
                raise ConfigError(msg)
        return cls(fields=fields, formats=formats, units=units, currency=currency, land_use_scheme=scheme,
                   land_use_classes=classes, land_use_pad=int(lu.get("pad", 0)), crs=src.get("crs"),
                   encoding=src.get("encoding"), layer=src.get("layer"),
                   keep_extra=bool(opts.get("keep_extra", False)), zero_as_missing=zam, extra=extra,
                   checks=checks, where=where)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Mapping:
        """Read a TOML (or JSON) mapping file."""
        return cls.from_dict(load_file(path), where=str(path))


def _code_classes(table: dict, where: str) -> dict[str, str]:
    """``[land_use.classes]``: ``code = "class"`` entries and ``class = ["code", ...]`` lists, as code -> class."""
    out: dict[str, str] = {}
    for k, v in table.items():
        if isinstance(v, list | tuple):
            if str(k) not in schema.LAND_USE_CLASSES:
                msg = (f"{where}: [land_use.classes] {k} = [...] lists codes of a class, but {k!r} is not a class; "
                       f"use one of {list(schema.LAND_USE_CLASSES)}")
                raise ConfigError(msg)
            for code in v:
                if not isinstance(code, str | int) or isinstance(code, bool):
                    msg = f"{where}: [land_use.classes] {k}: codes are text, e.g. \"06\", got {code!r}"
                    raise ConfigError(msg)
                if str(code) in out and out[str(code)] != str(k):
                    msg = f"{where}: [land_use.classes] code {code!r} is listed under {out[str(code)]!r} and {k!r}"
                    raise ConfigError(msg)
                out[str(code)] = str(k)
        elif isinstance(v, str) and v in schema.LAND_USE_CLASSES:
            out[str(k)] = v
        else:
            msg = (f"{where}: [land_use.classes] {k} = {v!r}: give code = \"class\" or class = [codes]; classes are "
                   f"{list(schema.LAND_USE_CLASSES)}")
            raise ConfigError(msg)
    return out


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


def as_mapping(mapping) -> Mapping:
    """A :class:`Mapping` from None, a Mapping, a dict of tables or a file path."""
    if mapping is None:
        return Mapping()
    if isinstance(mapping, Mapping):
        return mapping
    if isinstance(mapping, dict):
        return Mapping.from_dict(mapping)
    return Mapping.load(mapping)


