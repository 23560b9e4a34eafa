"""Standardized-park templates: the physical and economic assumptions of a park type.

A :class:`ParkTemplate` says how a redeveloped site is built (target plot
ratio, coverage, floors, land shares), what it costs, how it is let (rent,
space per enterprise, absorption curve) and what it yields (jobs, output,
tax). Four templates ship with the package (``planner/defaults/template_*.toml``,
copied in ``templates/`` at the repository root); each file cites the source
of every default in comments and in its ``[sources]`` table.

Defaults come from DOMAIN.md ("Standardized park templates"). Status letters:
S sourced, P partly sourced or adapted, G educated guess.

Examples
--------
>>> t = builtin_templates()["standard_factory"]
>>> t.target_plot_ratio, t.floors_max
(2.5, 6)
>>> round(t.tax_m2, 1)  # 200,000 yuan/mu over 666.67 m² x 2.5 x 85% leasable x 95% let
148.6
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from planner.config import from_dict, load_file, to_dict
from planner.errors import ConfigError
from planner.schema import MU_M2

#: Template parameters that a scenario may override per site (numbers only).
NUMERIC_PARAMS = (
    "target_plot_ratio", "coverage", "floors_min", "floors_max", "road_yard_share", "green_share",
    "facility_share", "support_floor_share", "hard_cost_per_m2", "all_in_cost_per_m2",
    "demolition_cost_per_m2", "rent_per_m2_month", "m2_per_enterprise", "jobs_per_1000m2",
    "output_per_m2", "tax_per_m2", "output_per_mu", "tax_per_mu", "planning_months",
    "construction_months",
)


@dataclass(frozen=True)
class ParkTemplate:
    """Assumptions of one park type.

    Parameters
    ----------
    name : str
        Identifier used by scenarios (``standard_factory``, ``multi_storey``...).
    label_zh, label_en : str
        Display names.
    target_plot_ratio : float
        Floor area / site land area after redevelopment (容积率).
    coverage : float
        Building footprint / land area (建筑密度), 0-1.
    floors_min, floors_max : int
        Storeys of the factory buildings.
    road_yard_share, green_share, facility_share : float
        Shares of the site's land for roads and yards, green space, and office
        and living facilities (行政办公及生活服务设施用地, at most 7%).
    support_floor_share : float
        Share of the new floor area used by support functions (offices,
        canteens, dormitories); the rest is leasable industrial space.
    hard_cost_per_m2 : float
        Construction (hard) cost, yuan per m² of new floor area.
    all_in_cost_per_m2 : float
        Total investment per m² of new floor area, including land, demolition
        and infrastructure; this is what the investment figure uses.
    demolition_cost_per_m2 : float
        Demolition cost per m² of demolished floor area (shown as a part of
        the all-in investment).
    rent_per_m2_month : float
        Rent, yuan per m² of leasable space per month.
    m2_per_enterprise : float
        Leasable floor area taken by one enterprise.
    jobs_per_1000m2 : float
        Jobs per 1,000 m² of occupied space.
    output_per_m2, tax_per_m2 : float or None
        Annual output and tax per m² of occupied space; give these or the
        per-mu figures.
    output_per_mu, tax_per_mu : float or None
        Annual output and tax per mu of site land once the park is let as
        its absorption curve ends (the "about 200,000 yuan/mu" of running
        parks is what they yield at the occupancy they reach); converted to
        per m² of occupied floor through the occupied floor of a mu: target
        plot ratio x (1 - support floor share) x the last absorption value.
    planning_months, construction_months : int
        Planning and approval before works; works to delivery.
    absorption : tuple of float
        Occupied share of the leasable space in the calendar year of delivery,
        the year after, ...; the last value holds afterwards.
    sources : dict
        Parameter name -> where the default comes from.
    sources_zh : dict
        The same in Simplified Chinese (reports and the app use it in a
        Chinese UI; a parameter missing here falls back to ``sources``).
    """

    name: str
    label_zh: str = ""
    label_en: str = ""
    target_plot_ratio: float = 2.5
    coverage: float = 0.40
    floors_min: int = 4
    floors_max: int = 6
    road_yard_share: float = 0.175
    green_share: float = 0.10
    facility_share: float = 0.07
    support_floor_share: float = 0.15
    hard_cost_per_m2: float = 2000.0
    all_in_cost_per_m2: float = 3400.0
    demolition_cost_per_m2: float = 150.0
    rent_per_m2_month: float = 12.0
    m2_per_enterprise: float = 2800.0
    jobs_per_1000m2: float = 12.0
    output_per_m2: float | None = None
    tax_per_m2: float | None = None
    output_per_mu: float | None = None
    tax_per_mu: float | None = None
    planning_months: int = 9
    construction_months: int = 20
    absorption: tuple[float, ...] = (0.60, 0.775, 0.95)
    sources: dict[str, str] = field(default_factory=dict)
    sources_zh: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problems = template_problems(self)
        if problems:
            msg = f"park template {self.name!r}: " + "; ".join(problems)
            raise ConfigError(msg)

    # Rates per m² of occupied floor area, whichever way they were given.
    @property
    def occupied_m2_per_mu(self) -> float:
        """Occupied floor on a mu of site land once let: what the per-mu figures are spread over.

        Dividing by the gross floor of a mu instead (plot ratio only) while the model applies the rate to the
        occupied floor (85% leasable x 95% let) gave 161,500 of the template's 200,000 yuan/mu.
        """
        return MU_M2 * self.target_plot_ratio * (1.0 - self.support_floor_share) * self.absorption[-1]

    @property
    def output_m2(self) -> float:
        """Annual output per m² of occupied space (yuan)."""
        if self.output_per_m2 is not None:
            return self.output_per_m2
        return self.output_per_mu / self.occupied_m2_per_mu

    @property
    def tax_m2(self) -> float:
        """Annual tax per m² of occupied space (yuan)."""
        if self.tax_per_m2 is not None:
            return self.tax_per_m2
        return self.tax_per_mu / self.occupied_m2_per_mu

    def replace(self, **changes: Any) -> ParkTemplate:
        """A copy with some parameters changed (validated again)."""
        return from_dict(ParkTemplate, {**to_dict(self), **changes}, where=f"template {self.name}")


def _not_finite(v: Any) -> bool:
    """A number (or a sequence of them) that is nan or inf; None (a rate not given) is fine."""
    if v is None or isinstance(v, str):
        return False
    vals = v if isinstance(v, tuple | list) else (v,)
    return any(isinstance(x, int | float) and not math.isfinite(x) for x in vals)


def template_problems(t: ParkTemplate) -> list[str]:
    """Every consistency problem of a template, each saying what to change."""
    out: list[str] = []
    bad = [n for n in (*NUMERIC_PARAMS, "absorption") if _not_finite(getattr(t, n, None))]
    if bad:  # inf rent made "Rent income ∞" in every report; nan passed every comparison below
        return [f"{', '.join(bad)}: not a finite number (nan or inf); give a number"]
    for name in ("coverage", "road_yard_share", "green_share", "facility_share", "support_floor_share"):
        v = getattr(t, name)
        if not 0.0 <= v <= 1.0:
            out.append(f"{name} = {v} must be a share between 0 and 1")
    if t.coverage <= 0:
        out.append("coverage must be above 0")
    if t.floors_min < 1 or t.floors_max < t.floors_min:
        out.append(f"floors_min = {t.floors_min}, floors_max = {t.floors_max}: need 1 <= floors_min <= floors_max")
    if t.target_plot_ratio <= 0:
        out.append(f"target_plot_ratio = {t.target_plot_ratio} must be above 0")
    elif t.target_plot_ratio > t.coverage * t.floors_max + 1e-9:
        out.append(
            f"target_plot_ratio {t.target_plot_ratio} is not achievable with coverage {t.coverage} x "
            f"floors_max {t.floors_max} = {t.coverage * t.floors_max:.2f}; raise coverage or floors_max, "
            "or lower the plot ratio")
    land = t.road_yard_share + t.green_share + t.facility_share
    if land > 1.0 + 1e-9:
        out.append(f"road_yard_share + green_share + facility_share = {land:.3f} exceeds 1")
    open_land = t.coverage + t.road_yard_share + t.green_share
    if open_land > 1.0 + 1e-9:
        out.append(f"coverage + road_yard_share + green_share = {open_land:.3f} exceeds 1: the buildings, "
                   "roads and green space do not fit on the site")
    if t.support_floor_share >= 1.0:
        out.append("support_floor_share must be below 1 (nothing would be leasable)")
    for name in ("hard_cost_per_m2", "all_in_cost_per_m2", "demolition_cost_per_m2", "rent_per_m2_month",
                 "jobs_per_1000m2"):
        if getattr(t, name) < 0:
            out.append(f"{name} must not be negative")
    if t.all_in_cost_per_m2 < t.hard_cost_per_m2:
        out.append(f"all_in_cost_per_m2 {t.all_in_cost_per_m2} is below hard_cost_per_m2 {t.hard_cost_per_m2}; "
                   "the all-in cost includes construction")
    if t.m2_per_enterprise <= 0:
        out.append("m2_per_enterprise must be above 0")
    for what in ("output", "tax"):
        per_m2, per_mu = getattr(t, f"{what}_per_m2"), getattr(t, f"{what}_per_mu")
        if (per_m2 is None) == (per_mu is None):
            out.append(f"give exactly one of {what}_per_m2 and {what}_per_mu")
        elif (per_m2 if per_m2 is not None else per_mu) < 0:
            out.append(f"{what} rate must not be negative")
    if t.planning_months < 0 or t.construction_months <= 0:
        out.append("planning_months must be >= 0 and construction_months > 0")
    a = t.absorption
    if not a:
        out.append("absorption needs at least one value (share occupied in the delivery year)")
    else:
        if any(not 0.0 <= v <= 1.0 for v in a):
            out.append(f"absorption {list(a)}: every value must be between 0 and 1")
        if any(b < x for x, b in zip(a, a[1:], strict=False)):
            out.append(f"absorption {list(a)} must not decrease from year to year")
    return out


def parse_template(data: dict, *, where: str = "template", base: dict[str, ParkTemplate] | None = None
                   ) -> ParkTemplate:
    """Build a template from a dict; ``base = "<name>"`` starts from another template."""
    data = dict(data)
    parent = data.pop("base", None)
    if parent is not None:
        if not base or parent not in base:
            msg = f"{where}.base: unknown template {parent!r}; known: {sorted(base or {})}"
            raise ConfigError(msg)
        merged = to_dict(base[parent])
        merged["sources"] = dict(merged.get("sources") or {})
        merged["sources_zh"] = dict(merged.get("sources_zh") or {})
        for k in ("output", "tax"):  # a per-m2 rate given in the child replaces the parent's per-mu one
            if f"{k}_per_m2" in data:
                merged[f"{k}_per_mu"] = None
            if f"{k}_per_mu" in data:
                merged[f"{k}_per_m2"] = None
        # a value set here is sourced here: the parent's source (its own value's) no longer applies
        own = [k for k in data if k in merged and k not in ("name", "label_zh", "label_en", "sources", "sources_zh")]
        for k in own:
            was = merged.get(k)
            was = (", ".join(f"{x:g}" for x in was) if isinstance(was, tuple | list)
                   else f"{was:g}" if isinstance(was, int | float) else was)
            merged["sources"][k] = f"set in {where}" + ("" if was is None else f" ({parent}: {was})")
            merged["sources_zh"][k] = f"在 {where} 中设定" + ("" if was is None else f"（{parent}：{was}）")
        merged["sources"].update(data.pop("sources", None) or {})
        merged["sources_zh"].update(data.pop("sources_zh", None) or {})
        merged.update(data)
        data = {k: v for k, v in merged.items() if v is not None}
    return from_dict(ParkTemplate, data, where=where)


def load_template(path: str | Path, *, base: dict[str, ParkTemplate] | None = None) -> ParkTemplate:
    """Load one template TOML/JSON file (errors name the file and key)."""
    return parse_template(load_file(path), where=str(path), base=base)


def builtin_templates() -> dict[str, ParkTemplate]:
    """The templates shipped with the package, by name (a fresh dict; the files are read once)."""
    return dict(_builtin())


@functools.cache
def _builtin() -> tuple[tuple[str, ParkTemplate], ...]:
    out: dict[str, ParkTemplate] = {}
    root = resources.files("planner") / "defaults"
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name.startswith("template_") and entry.name.endswith(".toml"):
            with resources.as_file(entry) as p:
                t = load_template(p)
            out[t.name] = t
    return tuple(out.items())


def load_templates(*paths: str | Path) -> dict[str, ParkTemplate]:
    """Built-in templates plus those in the given files or folders (``*.toml``)."""
    out = builtin_templates()
    for p in map(Path, paths):
        files = sorted(p.glob("*.toml")) if p.is_dir() else [p]
        for f in files:
            t = load_template(f, base=out)
            out[t.name] = t
    return out


def template_table(templates: dict[str, ParkTemplate]) -> list[dict[str, Any]]:
    """Rows (parameter, value per template, ``source``, ``source_zh``) for reports."""
    names = list(templates)
    rows = []
    for f in dataclasses.fields(ParkTemplate):
        if f.name in ("name", "sources", "sources_zh"):
            continue
        row = {"parameter": f.name}
        derived = f.name in ("output_per_m2", "tax_per_m2")  # the rate the model applies, given or from per mu
        for n in names:
            v = getattr(templates[n], f.name[:-7] + "_m2" if derived else f.name)
            row[n] = ", ".join(f"{x:g}" for x in v) if isinstance(v, tuple) else round(v, 2) if derived else v
        en, zh = [], []
        for n in names:
            t = templates[n]
            if derived and getattr(t, f.name) is None:
                per_mu = f.name.replace("_m2", "_mu").replace("_", " ")  # "tax per mu", as the assumptions say it
                en.append(f"{per_mu} ÷ occupied floor of a mu ({t.occupied_m2_per_mu:,.0f} m²: 666.67 × plot ratio "
                          "× (1 − support share) × last absorption)")
                zh.append(f"每亩指标 ÷ 每亩出租面积（{t.occupied_m2_per_mu:,.0f} ㎡：666.67 × 容积率 × （1 − 配套比例）× 最终出租率）")
            else:
                en.append(t.sources.get(f.name) or "")
                zh.append(t.sources_zh.get(f.name) or t.sources.get(f.name) or "")
        row["source"] = " | ".join(dict.fromkeys(s for s in en if s))
        row["source_zh"] = " | ".join(dict.fromkeys(s for s in zh if s))
        rows.append(row)
    return rows
