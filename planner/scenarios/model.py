"""Redevelopment scenarios: which sites, which park template, when, and what it yields.

A :class:`Scenario` (a TOML/JSON file, or a document saved in the workspace)
picks sites from the sites table, applies a park template to each (with
per-site overrides), says whether existing buildings are retained or
demolished, and phases the works with an annual capacity. :func:`run`
evaluates it, vectorized over the site table:

Floor-area ledger per site (all in m²)::

    target        = land_area_m2 x target_plot_ratio
    retained      = existing floor area kept (rule "demolish": 0, "retain": all,
                    "retain_class": parcels of upgrade class "retain" / role "retained_inside")
    demolished    = existing - retained
    new_built     = max(target - retained, 0)   # retained floor counts toward the site's plot ratio
    floor_after   = retained + new_built          # gross planned floor area (规划总建筑面积)
    net_change    = floor_after - existing        # = new_built - demolished: net new floor area (新增产业空间)
    leasable      = new_built x (1 - support_floor_share)
    occupied      = leasable x final absorption
    enterprises   = occupied / m2_per_enterprise
    jobs_new      = occupied x jobs_per_1000m2 / 1000
    investment    = new_built x all_in_cost_per_m2   (construction, demolition, land and infrastructure)
    rent_yr       = occupied x rent_per_m2_month x 12
    payback_years = investment / rent_yr                         # rent only
    fiscal_payback_years = investment / (rent_yr + tax gain)     # rent + tax (tax after - tax before)
    after (jobs, output, tax) = before x retained / existing + occupied x rate

Timeline: works start ``planning_months`` after the site's start year begins,
delivery ``construction_months`` later; investment is spent evenly over the
works; the leasable space is occupied at ``absorption[k]`` in the k-th
calendar year counted from the delivery year (0), and rent and tax of the
delivery year count only the part of the year after delivery.

Phasing: sites start in rank order; ``sites_per_year`` lets at most that
many start a year; ``budget_per_year`` lets the cumulative investment of the
sites started by the end of year ``y`` reach at most ``budget x (y - start + 1)``
(a site bigger than a year's budget waits until enough budget has accrued).
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd

from planner.config import from_dict, load_file, to_dict
from planner.errors import ConfigError, DataError
from planner.scenarios.templates import NUMERIC_PARAMS, ParkTemplate, load_templates, parse_template
from planner.schema import MU_M2, id_positions

ExistingRule = Literal["demolish", "retain", "retain_class"]

#: Smallest ``budget_per_year`` (yuan): below it the budget was written in another unit (亿, 万).
MIN_BUDGET = 1e6
#: Years a scenario may start in.
YEARS = (1900, 2200)
#: The latest a site may start, in years from the start: a bound on the timeline (an array over the years), not a
#: judgement of the plan. A budget in the wrong unit asked for millions of years (a 50 GiB array); a city of 1M
#: parcels taking all its 47,904 sites at 40 a year takes 1,198 years, is computed, and the run says so
#: (:func:`phasing_warnings`).
MAX_START_OFFSET = 10_000

#: Column aliases accepted in site filters (``min_area_m2`` = ``min_land_area_m2``).
FILTER_ALIASES = {"area_m2": "land_area_m2", "area_mu": "land_area_mu"}


@dataclass(frozen=True)
class SiteSelection:
    """Which sites a scenario takes.

    Parameters
    ----------
    ids : tuple of str
        Explicit site ids; when given, ``top`` and ``where`` still filter them.
    top : int, optional
        Keep the best ``top`` sites by rank (after the filters).
    status : tuple of str
        Site statuses allowed (default only "ok"; empty = any).
    where : dict
        Filters on site columns: ``min_<col>``, ``max_<col>`` (numbers) or
        ``<col>`` (a value or a list of values). ``area_m2`` means ``land_area_m2``.
    """

    ids: tuple[str, ...] = ()
    top: int | None = None
    status: tuple[str, ...] = ("ok",)
    where: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    """A redevelopment scenario (see the module docstring for the model).

    Parameters
    ----------
    name : str
        Identifier (also the name of the saved workspace document).
    label, description : str
        Free text for reports.
    sites : SiteSelection
        Which sites.
    template : str
        Park template for every site not listed in ``site_templates``.
    site_templates : dict
        Site id -> template name.
    templates : dict
        Extra or modified templates defined inline (``base = "<name>"`` to
        start from a built-in one).
    overrides : dict
        Site id -> {template parameter: value}.
    existing : {"demolish", "retain", "retain_class"}
        What happens to existing buildings: all demolished, all retained
        (infill to the target plot ratio), or parcels of upgrade class
        "retain" kept (needs the parcel rollup, see :func:`parcel_rollup`).
    site_existing : dict
        Site id -> rule, overriding ``existing``.
    retain_classes : tuple of str
        Upgrade classes kept by the "retain_class" rule (default "retain").
    start_year : int
        Year the first sites start planning.
    sites_per_year, budget_per_year : optional
        Annual capacity: at most this many site starts, or this much
        investment (yuan) committed, per year. Both may be given.
    horizon_years : int
        Length of the timeline.
    policy_name, policy_hash : str
        The three-low policy the sites were built on.
    sites_layer : str, optional
        Name of the workspace sites layer (default: the only one).
    """

    name: str
    label: str = ""
    description: str = ""
    sites: SiteSelection = field(default_factory=SiteSelection)
    template: str = "standard_factory"
    site_templates: dict[str, str] = field(default_factory=dict)
    templates: dict[str, dict[str, Any]] = field(default_factory=dict)
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    existing: ExistingRule = "demolish"
    site_existing: dict[str, ExistingRule] = field(default_factory=dict)
    retain_classes: tuple[str, ...] = ("retain",)
    start_year: int = 2026
    sites_per_year: int | None = None
    budget_per_year: float | None = None
    horizon_years: int = 15
    policy_name: str = ""
    policy_hash: str = ""
    sites_layer: str | None = None

    def __post_init__(self) -> None:
        if not self.name.strip():
            msg = "scenario: name must not be empty"
            raise ConfigError(msg)
        if self.sites_per_year is not None and self.sites_per_year < 1:
            msg = f"scenario {self.name!r}: sites_per_year must be at least 1 (or left out for no cap)"
            raise ConfigError(msg)
        if self.budget_per_year is not None and not (
                math.isfinite(self.budget_per_year) and self.budget_per_year >= MIN_BUDGET):
            # a budget written in 亿 (6 for 6.0e9) asked for a timeline of millions of years (a 50 GiB array)
            msg = (f"scenario {self.name!r}: budget_per_year = {self.budget_per_year!r} yuan; give yuan of at least "
                   f"{MIN_BUDGET:,.0f} (60 亿元 is 6.0e9), or leave it out for no cap")
            raise ConfigError(msg, zh=f"情景「{self.name}」：budget_per_year = {self.budget_per_year!r} 元；请以元为单位"
                                      f"填写不少于 {MIN_BUDGET:,.0f} 的数（60 亿元写作 6.0e9），或不填（不设上限）")
        if not (isinstance(self.start_year, int) and YEARS[0] <= self.start_year <= YEARS[1]):
            msg = f"scenario {self.name!r}: start_year = {self.start_year!r} must be a year between {YEARS[0]} and {YEARS[1]}"
            raise ConfigError(msg, zh=f"情景「{self.name}」：start_year = {self.start_year!r} 应为 {YEARS[0]}–{YEARS[1]} 之间的年份")
        if not 1 <= self.horizon_years <= 100:
            msg = f"scenario {self.name!r}: horizon_years must be between 1 and 100"
            raise ConfigError(msg)
        if self.sites.top is not None and self.sites.top < 1:
            msg = f"scenario {self.name!r}: sites.top = {self.sites.top} picks no site; give 1 or more, or leave it out"
            raise ConfigError(msg, zh=f"情景「{self.name}」：sites.top = {self.sites.top} 选不到任何片区；请填 1 以上，或不填")
        for key, value in self.sites.where.items():
            vals = value if isinstance(value, list | tuple) else [value]
            if any(isinstance(v, float) and not math.isfinite(v) for v in vals):
                msg = f"scenario {self.name!r}: sites.where.{key} = {value!r} is not a finite number"
                raise ConfigError(msg, zh=f"情景「{self.name}」：sites.where.{key} = {value!r} 不是有限的数")
        for sid, params in self.overrides.items():
            bad = sorted(set(params) - set(NUMERIC_PARAMS) - {"absorption"})
            if bad:
                msg = (f"scenario {self.name!r}: overrides.{sid}: unknown template parameter(s) {bad}; "
                       f"known: {sorted((*NUMERIC_PARAMS, 'absorption'))}")
                raise ConfigError(msg)

    def to_dict(self) -> dict:
        """Plain dict (for ``store.save_doc("scenario", name, ...)`` and TOML)."""
        return to_dict(self)

    def resolved_templates(self, base: dict[str, ParkTemplate] | None = None) -> dict[str, ParkTemplate]:
        """Built-in templates plus the scenario's inline ones; checks every name used."""
        out = dict(base if base is not None else load_templates())
        for tname, data in self.templates.items():
            where = f"scenario {self.name}.templates.{tname}"
            try:
                out[tname] = parse_template({"name": tname, **dict(data)}, where=where, base=out)
            except ConfigError as exc:  # name the scenario, not only the template
                if where in str(exc):
                    raise
                raise ConfigError(f"{where}: {exc}", zh=f"{where}：{exc.zh or exc}") from exc
        for where, tname in [("template", self.template), *((f"site_templates.{k}", v)
                                                             for k, v in self.site_templates.items())]:
            if tname not in out:
                msg = f"scenario {self.name!r}: {where} = {tname!r} is not a known park template; known: {sorted(out)}"
                raise ConfigError(msg)
        return out


def scenario_from_dict(data: dict, *, where: str = "scenario") -> Scenario:
    """Validate a dict (TOML/JSON content or a saved document) into a :class:`Scenario`."""
    return from_dict(Scenario, data, where=where)


def load_scenario(path) -> Scenario:
    """Load a scenario TOML/JSON file (errors name the file and key)."""
    return scenario_from_dict(load_file(path), where=str(path))


def scenario_hash(scenario: Scenario) -> str:
    """SHA-256 of the scenario's canonical JSON (same as the workspace document hash)."""
    from planner.io.store import sha256_text

    return sha256_text(json.dumps(scenario.to_dict(), ensure_ascii=False, sort_keys=True, default=str))


@dataclass
class ScenarioResult:
    """What :func:`run` returns.

    Attributes
    ----------
    scenario : Scenario
    sites : GeoDataFrame
        One row per selected site: inputs, template, start year and the ledger.
    timeline : DataFrame
        One row per calendar year (index ``year``) for the whole scenario.
    totals : Series
        Scenario totals (same names as the site columns where summed).
    assumptions : DataFrame
        Template parameters used (parameter, one column per template, ``source``
        and ``source_zh``; :func:`assumptions_in` picks one language).
    provenance : dict
        What the sites came from (survey version, policy, site parameters,
        result id; :class:`planner.workflow.Provenance` meta), for reports.
    """

    scenario: Scenario
    sites: gpd.GeoDataFrame
    timeline: pd.DataFrame
    totals: pd.Series
    assumptions: pd.DataFrame
    templates: dict[str, ParkTemplate] = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.scenario.name


# --------------------------------------------------------------------------- selection
def select_sites(sites: pd.DataFrame, sel: SiteSelection, *, scenario: str = "scenario") -> pd.DataFrame:
    """Apply a :class:`SiteSelection` to a sites table; result ordered by rank."""
    _require(sites, ["site_id", "land_area_m2"], "sites")
    mask = np.ones(len(sites), dtype=bool)
    if sel.status and "status" in sites.columns:
        mask &= sites["status"].isin(sel.status).to_numpy()
    if sel.ids:
        ids = pd.Index(sel.ids)
        missing = ids.difference(sites["site_id"].astype(str))
        if len(missing):
            msg = (f"scenario {scenario!r}: sites.ids not in the sites table: {list(missing[:10])}"
                   f"{' ...' if len(missing) > 10 else ''}; check the ids or rebuild the sites")
            raise DataError(msg)
        mask &= sites["site_id"].astype(str).isin(ids).to_numpy()
    for key, value in sel.where.items():
        op, col = "eq", key
        if key.startswith(("min_", "max_")):
            op, col = key[:3], key[4:]
        col = FILTER_ALIASES.get(col, col)
        if col not in sites.columns:
            msg = (f"scenario {scenario!r}: sites.where.{key}: the sites table has no column {col!r}; "
                   f"columns: {sorted(map(str, sites.columns))}")
            raise DataError(msg)
        s = sites[col]
        if op == "min":
            mask &= (pd.to_numeric(s, errors="coerce") >= value).fillna(False).to_numpy(dtype=bool)
        elif op == "max":
            mask &= (pd.to_numeric(s, errors="coerce") <= value).fillna(False).to_numpy(dtype=bool)
        else:
            vals = list(value) if isinstance(value, list | tuple) else [value]
            mask &= s.isin(vals).to_numpy()
    pos = np.flatnonzero(mask)
    order = pos[rank_order(sites, pos)]
    if sel.top is not None:
        order = order[: sel.top]
    return sites.iloc[order]  # one take of the rows chosen (not a copy of the whole table, then another)


def rank_order(sites: pd.DataFrame, pos: np.ndarray | None = None) -> np.ndarray:
    """Order of the rows ``pos`` (default: all) by rank, then site id; unranked last (scenario selection, the sites
    page's ranked table).

    Distinct finite ranks (what ``rescore`` makes) need no second key: the ids
    are not made text (a 1M city's 85k sites: 20 ms of every scenario run).
    """
    pos = np.arange(len(sites)) if pos is None else pos
    rank = pd.to_numeric(sites["rank"], errors="coerce").to_numpy(float)[pos] if "rank" in sites.columns \
        else np.full(len(pos), np.nan)
    if np.isfinite(rank).all() and len(np.unique(rank)) == len(rank):
        return np.argsort(rank, kind="stable")
    rank = np.where(np.isnan(rank), np.inf, rank)
    return np.lexsort((sites["site_id"].astype(str).to_numpy()[pos], rank))


def _require(df: pd.DataFrame, cols: list[str], what: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        msg = f"{what} table lacks column(s) {missing}; see docs/CONTRACTS.md"
        raise DataError(msg)


# --------------------------------------------------------------------------- parcel rollup
def kept_by_class(parcels: pd.DataFrame, retain_classes=("retain",)) -> np.ndarray:
    """Parcels whose buildings the "retain_class" rule keeps: an ``upgrade_class`` in ``retain_classes``, or the
    role "retained_inside" (high performers inside a site). One rule for the model and the site briefs."""
    keep = np.zeros(len(parcels), dtype=bool)
    if "upgrade_class" in parcels.columns:
        keep |= parcels["upgrade_class"].astype("string").isin(list(retain_classes)).fillna(False).to_numpy(bool)
    if "role" in parcels.columns:
        keep |= (parcels["role"].astype("string") == "retained_inside").fillna(False).to_numpy(bool)
    return keep


def parcel_rollup(site_parcels: pd.DataFrame, parcels: pd.DataFrame, *,
                  retain_classes: tuple[str, ...] = ("retain",)) -> pd.DataFrame:
    """Per-site sums from parcel-level data, for baselines and retention.

    Parameters
    ----------
    site_parcels : DataFrame
        parcel_id, site_id, role (sites stage output).
    parcels : DataFrame
        Flagged parcels: parcel_id, floor_area_m2 and optionally output_cny,
        tax_cny, employees, upgrade_class.
    retain_classes : tuple of str
        Upgrade classes whose buildings the "retain_class" rule keeps
        (default only "retain"; add "upgrade" to keep upgrade-in-place parcels).

    Returns
    -------
    DataFrame indexed by site_id with output_cny, tax_cny, employees (sums;
    NaN when no parcel of the site has a value) and retain_class_floor_m2 (floor
    area of parcels with an upgrade class in ``retain_classes`` or role "retained_inside").
    """
    _require(site_parcels, ["parcel_id", "site_id"], "site_parcels")
    _require(parcels, ["parcel_id"], "parcels")
    cols = [c for c in ("floor_area_m2", "output_cny", "tax_cny", "employees", "upgrade_class")
            if c in parcels.columns]
    p = pd.DataFrame(parcels[["parcel_id", *cols]])
    sp = pd.DataFrame(site_parcels).reset_index(drop=True)
    row = id_positions(sp["parcel_id"], p["parcel_id"])  # a left join on parcel_id (a repeated id: its first row)
    for c in cols:
        sp[c] = pd.api.extensions.take(p[c].array, row, allow_fill=True)
    keep = kept_by_class(sp, retain_classes)
    floor = pd.to_numeric(sp["floor_area_m2"], errors="coerce") if "floor_area_m2" in sp.columns \
        else pd.Series(np.nan, index=sp.index)
    sp["retain_class_floor_m2"] = np.where(keep, floor.fillna(0.0), 0.0)
    sums = [c for c in ("output_cny", "tax_cny", "employees") if c in sp.columns]
    for c in sums:
        sp[c] = pd.to_numeric(sp[c], errors="coerce")
    g = sp.groupby("site_id")
    out = g[["retain_class_floor_m2"]].sum()
    if sums:  # min_count=1: NaN where no parcel of the site has a value (one vectorized pass, no lambda)
        out[sums] = g[sums].sum(min_count=1)
    return out


# --------------------------------------------------------------------------- the model
def _param_frame(sel: pd.DataFrame, sc: Scenario, templates: dict[str, ParkTemplate]
                 ) -> tuple[pd.Series, pd.DataFrame, np.ndarray]:
    """Template name, numeric parameters and the absorption matrix per site."""
    ids = sel["site_id"].astype(str)
    tname = _lookup(ids, sc.site_templates, sc.template)
    tname.index = sel.index
    names = sorted(set(tname))
    # per-template table, then mapped to sites: one row per template, not per site
    tab = pd.DataFrame({p: [_num(getattr(templates[n], p)) for n in names] for p in NUMERIC_PARAMS}, index=names)
    tab["output_m2"] = [templates[n].output_m2 for n in names]
    tab["tax_m2"] = [templates[n].tax_m2 for n in names]
    par = tab.loc[tname.to_numpy()].reset_index(drop=True)
    par.index = sel.index
    curves = {n: templates[n].absorption for n in names}
    ov_curves = {}
    for sid, changes in sc.overrides.items():  # a handful of user edits, not a loop over sites
        hit = (ids == sid).to_numpy()
        if not hit.any():
            continue
        t0 = templates[tname[hit].iloc[0]]
        try:
            t1 = t0.replace(**dict(changes))
        except ConfigError as exc:  # name the scenario and the site, not only the template
            msg = f"scenario {sc.name!r}: overrides.{sid} (template {t0.name!r}): {exc}"
            raise ConfigError(msg, zh=f"情景「{sc.name}」：overrides.{sid}（模板 {t0.name}）：{exc.zh or exc}") from exc
        for p, v in changes.items():
            if p in par.columns:
                par.loc[hit, p] = float(v)
        par.loc[hit, "output_m2"] = t1.output_m2
        par.loc[hit, "tax_m2"] = t1.tax_m2
        if "absorption" in changes:
            ov_curves[sid] = t1.absorption
    width = max([len(c) for c in (*curves.values(), *ov_curves.values())], default=1)
    pad = {n: np.pad(np.asarray(c, float), (0, width - len(c)), mode="edge") for n, c in curves.items()}
    absorb = np.stack([pad[n] for n in names])[pd.Index(names).get_indexer(tname)] if len(sel) else \
        np.zeros((0, width))
    for sid, c in ov_curves.items():
        absorb[(ids == sid).to_numpy()] = np.pad(np.asarray(c, float), (0, width - len(c)), mode="edge")
    return tname, par, absorb


def _lookup(ids: pd.Series, mapping, default: str) -> pd.Series:
    """Per-site value from a site-id mapping, ``default`` elsewhere (vectorized)."""
    m = pd.Series(dict(mapping), dtype=object)
    hit = ids.map(m)
    return pd.Series(np.where(hit.notna().to_numpy(), hit.to_numpy(dtype=object), default), index=ids.index,
                     dtype=object).astype(str)


def _num(v: Any) -> float:
    return np.nan if v is None else float(v)


def _retained(sel: pd.DataFrame, sc: Scenario, rollup: pd.DataFrame | None) -> tuple[np.ndarray, pd.Series]:
    ids = sel["site_id"].astype(str)
    rule = _lookup(ids, sc.site_existing, sc.existing)
    existing = pd.to_numeric(sel["floor_area_m2"], errors="coerce").fillna(0.0).to_numpy(float)
    if "retain_class_floor_m2" in sel.columns:
        cls = pd.to_numeric(sel["retain_class_floor_m2"], errors="coerce").fillna(0.0).to_numpy(float)
    elif rollup is not None and "retain_class_floor_m2" in rollup.columns:
        cls = ids.map(rollup["retain_class_floor_m2"]).fillna(0.0).to_numpy(float)
    else:
        if (rule == "retain_class").any():
            msg = (f"scenario {sc.name!r}: existing = 'retain_class' needs parcel-level data (site_parcels and "
                   "flags with upgrade_class); run `planner classify` and `planner sites` first, or use "
                   "'demolish' / 'retain'")
            raise DataError(msg)
        cls = np.zeros(len(sel))
    r = rule.to_numpy()
    retained = np.select([r == "retain", r == "retain_class"], [existing, np.minimum(cls, existing)], 0.0)
    return retained, rule


def _phase(order_inv: np.ndarray, investment: np.ndarray, sc: Scenario) -> np.ndarray:
    """Start-year offset per site (sites in rank order: ``order_inv`` is the position).

    Refused when the pace would start the last site more than :data:`MAX_START_OFFSET` years on (a budget
    written in 亿 instead of yuan asked for a timeline of millions of years, a 50 GiB array).
    """
    pos = order_inv
    off = np.zeros(len(pos))
    if sc.sites_per_year is not None:
        off = np.maximum(off, pos // sc.sites_per_year)
    if sc.budget_per_year is not None and len(pos):
        by_pos = np.empty_like(investment)
        by_pos[pos] = investment
        cum = np.cumsum(by_pos)[pos]
        off = np.maximum(off, np.ceil(cum / sc.budget_per_year - 1e-9) - 1)  # float: a tiny budget overflowed int64
    last = float(off.max()) if len(off) else 0.0
    if last > MAX_START_OFFSET:
        total = float(np.sum(investment))
        pace = [f"sites_per_year = {sc.sites_per_year}"] if sc.sites_per_year is not None else []
        pace_zh = [f"每年启动 {sc.sites_per_year} 个片区"] if sc.sites_per_year is not None else []
        if sc.budget_per_year is not None:
            pace.append(f"budget_per_year = {sc.budget_per_year:,.0f} yuan")
            pace_zh.append(f"每年新开工投资 {sc.budget_per_year / 1e8:,.2f} 亿元")
        msg = (f"scenario {sc.name!r}: at its pace ({', '.join(pace)}) its {len(pos):,} sites ({total / 1e6:,.0f} "
               f"million yuan in all) would start over {int(last) + 1:,} years, beyond {MAX_START_OFFSET:,}: raise the "
               "pace (the budget is in yuan: 60 亿元 is 6.0e9) or pick fewer sites")
        zh = (f"情景「{sc.name}」：按其节奏（{'、'.join(pace_zh)}），{len(pos):,} 个片区（共 {total / 1e8:,.1f} 亿元）须 "
              f"{int(last) + 1:,} 年才能全部开工，超过 {MAX_START_OFFSET:,} 年：请加快节奏（投资额以元为单位，60 亿元写作"
              " 6.0e9）或减少片区")
        raise ConfigError(msg, zh=zh)
    return np.maximum(off, 0).astype(np.int64)


def run(sites: pd.DataFrame, scenario: Scenario, *, templates: dict[str, ParkTemplate] | None = None,
        rollup: pd.DataFrame | None = None) -> ScenarioResult:
    """Evaluate a scenario on a sites table.

    Parameters
    ----------
    sites : GeoDataFrame or DataFrame
        Sites table (docs/CONTRACTS.md "Sites output"): at least site_id,
        land_area_m2, floor_area_m2; rank and status are used when present;
        optional baseline columns output_cny, tax_cny, employees,
        n_enterprises, retain_class_floor_m2.
    scenario : Scenario
    templates : dict, optional
        Available templates (default: the built-in ones plus the scenario's).
    rollup : DataFrame, optional
        :func:`parcel_rollup` output; fills baselines and the "retain_class" rule.

    Returns
    -------
    ScenarioResult
    """
    sc = scenario
    templates = sc.resolved_templates(templates)
    _require(sites, ["site_id", "land_area_m2", "floor_area_m2"], "sites")
    sel = select_sites(sites, sc.sites, scenario=sc.name).copy()
    if rollup is not None:
        ids = sel["site_id"].astype(str)
        for c in ("output_cny", "tax_cny", "employees"):
            if c in rollup.columns and c not in sel.columns:
                sel[c] = ids.map(rollup[c]).to_numpy()
    named = set(sc.site_templates) | set(sc.overrides) | set(sc.site_existing)
    unknown_ids: list[str] = []
    if named:  # only the named ids are looked for (not a set of every site id per run)
        all_ids = sites["site_id"].astype("string")
        unknown_ids = sorted(named - set(all_ids[all_ids.isin(list(named))]))
    if unknown_ids:
        msg = (f"scenario {sc.name!r}: site_templates/overrides/site_existing name sites that are not in the sites "
               f"table: {unknown_ids[:10]}")
        raise DataError(msg)

    tname, par, absorb = _param_frame(sel, sc, templates)
    n = len(sel)
    land = pd.to_numeric(sel["land_area_m2"], errors="coerce").to_numpy(float)
    if np.isnan(land).any() or (land < 0).any():
        bad = sel["site_id"].astype(str).to_numpy()[np.isnan(land) | (land < 0)][:5]
        msg = f"sites {list(bad)}: land_area_m2 missing or negative; fix the sites table"
        raise DataError(msg)
    existing = pd.to_numeric(sel["floor_area_m2"], errors="coerce").fillna(0.0).to_numpy(float)
    retained, rule = _retained(sel, sc, rollup)
    p = {c: par[c].to_numpy(float) for c in par.columns}

    target = land * p["target_plot_ratio"]
    demolished = existing - retained
    new = np.maximum(target - retained, 0.0)
    after = retained + new
    leasable = new * (1.0 - p["support_floor_share"])
    final_abs = absorb[:, -1] if n else np.zeros(0)
    occupied = leasable * final_abs
    investment = new * p["all_in_cost_per_m2"]
    construction = new * p["hard_cost_per_m2"]
    demolition = demolished * p["demolition_cost_per_m2"]
    rent = occupied * p["rent_per_m2_month"] * 12.0
    keep_share = np.divide(retained, existing, out=np.zeros(n), where=existing > 0)

    def before(col: str) -> np.ndarray:
        return pd.to_numeric(sel[col], errors="coerce").to_numpy(float) if col in sel.columns else np.full(n, np.nan)

    out_b, tax_b, jobs_b, ent_b = before("output_cny"), before("tax_cny"), before("employees"), before("n_enterprises")
    output_new = occupied * p["output_m2"]
    tax_new = occupied * p["tax_m2"]
    jobs_new = occupied * p["jobs_per_1000m2"] / 1000.0
    ent_new = occupied / p["m2_per_enterprise"]
    with np.errstate(divide="ignore", invalid="ignore"):
        payback = np.where(rent > 0, investment / rent, np.inf)
        tax_gain = tax_new + np.nan_to_num(tax_b) * keep_share - np.nan_to_num(tax_b)
        fiscal = np.where(rent + tax_gain > 0, investment / (rent + tax_gain), np.inf)

    # phasing (rank order of the selection = row order)
    order_inv = np.arange(n)
    offset = _phase(order_inv, investment, sc)
    start = sc.start_year + offset
    works_start = start + p["planning_months"] / 12.0
    delivery = works_start + p["construction_months"] / 12.0

    res = pd.DataFrame({
        "site_id": sel["site_id"].astype(str).to_numpy(),
        "rank": sel["rank"].to_numpy() if "rank" in sel.columns else np.arange(1, n + 1),
        "template": tname.to_numpy(),
        "existing_rule": rule.to_numpy(),
        "land_area_m2": land,
        "land_area_mu": land / MU_M2,
        "target_plot_ratio": p["target_plot_ratio"],
        "existing_floor_m2": existing,
        "retained_floor_m2": retained,
        "demolished_floor_m2": demolished,
        "new_floor_m2": new,
        "floor_after_m2": after,
        "net_change_m2": after - existing,
        "plot_ratio_before": np.divide(existing, land, out=np.full(n, np.nan), where=land > 0),
        "plot_ratio_after": np.divide(after, land, out=np.full(n, np.nan), where=land > 0),
        "leasable_m2": leasable,
        "occupied_m2": occupied,
        "enterprises_before": ent_b,
        "enterprises_housed": ent_new,
        "jobs_before": jobs_b,
        "jobs_after": np.nan_to_num(jobs_b) * keep_share + jobs_new,
        "output_before_cny": out_b,
        "output_after_cny": np.nan_to_num(out_b) * keep_share + output_new,
        "tax_before_cny": tax_b,
        "tax_after_cny": np.nan_to_num(tax_b) * keep_share + tax_new,
        "investment_cny": investment,
        "construction_cost_cny": construction,
        "demolition_cost_cny": demolition,
        "other_cost_cny": np.maximum(investment - construction - demolition, 0.0),
        "rent_cny_yr": rent,
        "payback_years": payback,
        "fiscal_payback_years": fiscal,
        "start_year": start,
        "works_start": works_start,
        "delivery": delivery,
    }, index=sel.index)
    res["tax_per_mu_after"] = np.divide(res["tax_after_cny"].to_numpy(), land / MU_M2, out=np.full(n, np.nan),
                                        where=land > 0)
    geom = sel.geometry if isinstance(sel, gpd.GeoDataFrame) else None
    res_g = gpd.GeoDataFrame(res.reset_index(drop=True),
                             geometry=None if geom is None else geom.reset_index(drop=True),
                             crs=None if geom is None else sel.crs)

    timeline = _timeline(res, leasable, absorb, p, sc)
    totals = _totals(res, timeline)
    assumptions = pd.DataFrame(_assumption_rows(templates, sorted(set(tname)), sc))
    return ScenarioResult(sc, res_g, timeline, totals, assumptions, {k: templates[k] for k in sorted(set(tname))})


def _timeline(res: pd.DataFrame, leasable: np.ndarray, absorb: np.ndarray, p: dict, sc: Scenario) -> pd.DataFrame:
    """Year-by-year figures for the whole scenario.

    Event accumulation: every site adds its start, its investment (spread
    over the works), the changes of its floor-area stocks and of its
    occupancy to the years where they happen (``np.bincount``), and running
    sums turn changes into stocks. Cost is O(sites + years), not O(sites x years).
    """
    n = len(res)
    ws = res["works_start"].to_numpy(float)
    dl = res["delivery"].to_numpy(float)
    # to the year the last site is let as its absorption curve ends (the curves stopped a year or two short of
    # the headline figures: 1,521,543 jobs against 1,522,667)
    last = max(int(np.ceil(dl.max())) + 1, int(np.floor(dl.max())) + absorb.shape[1]) if n else sc.start_year
    years = np.arange(sc.start_year, max(sc.start_year + sc.horizon_years, last))
    ny = len(years)
    y0 = sc.start_year

    def acc(year: np.ndarray, w: np.ndarray) -> np.ndarray:
        i = np.asarray(year, dtype=np.int64) - y0
        ok = (i >= 0) & (i < ny)
        return np.bincount(i[ok], weights=np.asarray(w, float)[ok], minlength=ny)[:ny]

    new = res["new_floor_m2"].to_numpy(float)
    inv = res["investment_cny"].to_numpy(float)
    one = np.ones(n)
    # investment: spread evenly over the works (a few calendar years per site)
    dur = np.maximum(dl - ws, 1e-9)
    invest = np.zeros(ny)
    span = int(np.ceil(dur.max())) + 1 if n else 0
    for d in range(span):  # loop over years of a site's works, not over sites
        y = np.floor(ws) + d
        frac = np.clip(np.minimum(y + 1, dl) - np.maximum(y, ws), 0.0, None) / dur
        invest += acc(y, inv * frac)
    # stocks at year end: under construction in [floor(ws), ceil(dl - 1)), delivered from ceil(dl - 1)
    y_start_works = np.floor(ws)
    y_delivered = np.ceil(dl - 1.0)
    under = np.cumsum(acc(y_start_works, new * (y_start_works < y_delivered))
                      - acc(y_delivered, new * (y_start_works < y_delivered)))
    delivered = np.cumsum(acc(y_delivered, new))
    # occupancy: absorption[k] in the k-th calendar year from the delivery year
    y_dl = np.floor(dl)
    rent_rate = p["rent_per_m2_month"] * 12.0
    rates = {"occupied": one, "enterprises": 1.0 / p["m2_per_enterprise"], "jobs": p["jobs_per_1000m2"] / 1000.0,
             "rent": rent_rate, "tax": p["tax_m2"], "output": p["output_m2"]}
    stock = {k: np.zeros(ny) for k in rates}
    prev = np.zeros(n)
    for k in range(absorb.shape[1] if n else 0):
        step = absorb[:, k] - prev
        prev = absorb[:, k]
        for name, r in rates.items():
            stock[name] += acc(y_dl + k, leasable * step * r)
    stock = {k: np.cumsum(v) for k, v in stock.items()}
    # flows (rent, tax, output) count only the part of the delivery year after delivery
    first = leasable * (absorb[:, 0] if n else one) * (dl - y_dl)
    flows = {name: stock[name] - acc(y_dl, first * rates[name]) for name in ("rent", "tax", "output")}
    tl = pd.DataFrame({
        "year": years,
        "sites_started": acc(res["start_year"].to_numpy(), one).round().astype(np.int64),
        "sites_delivered": acc(y_delivered, one).round().astype(np.int64),
        "investment_cny": invest,
        "under_construction_m2": under,
        "delivered_m2": delivered,
        "occupied_m2": stock["occupied"],
        "enterprises": stock["enterprises"],
        "jobs_new": stock["jobs"],
        "rent_cny": flows["rent"],
        "tax_new_cny": flows["tax"],
        "output_new_cny": flows["output"],
    })
    num = tl.columns.drop(["year", "sites_started", "sites_delivered"])
    tl[num] = tl[num].where(tl[num].abs() > 1e-6, 0.0)  # running sums leave float dust where a stock returns to 0
    tl["cum_investment_cny"] = tl["investment_cny"].cumsum()
    tl["cum_rent_cny"] = tl["rent_cny"].cumsum()
    tl["cum_tax_new_cny"] = tl["tax_new_cny"].cumsum()
    return tl.set_index("year")


#: Site columns summed into the totals.
SUM_COLUMNS = (
    "land_area_m2", "land_area_mu", "existing_floor_m2", "retained_floor_m2", "demolished_floor_m2", "new_floor_m2",
    "floor_after_m2", "net_change_m2", "leasable_m2", "occupied_m2", "enterprises_before", "enterprises_housed",
    "jobs_before", "jobs_after", "output_before_cny", "output_after_cny", "tax_before_cny", "tax_after_cny",
    "investment_cny", "construction_cost_cny", "demolition_cost_cny", "other_cost_cny", "rent_cny_yr",
)


def _totals(res: pd.DataFrame, tl: pd.DataFrame) -> pd.Series:
    t = {"n_sites": len(res)}
    for c in SUM_COLUMNS:
        t[c] = float(res[c].sum(min_count=1)) if c.endswith("_before") or "_before_" in c else float(res[c].sum())
    land = t["land_area_m2"]
    t["plot_ratio_before"] = t["existing_floor_m2"] / land if land else np.nan
    t["plot_ratio_after"] = t["floor_after_m2"] / land if land else np.nan
    t["new_floor_per_site_m2"] = t["new_floor_m2"] / len(res) if len(res) else np.nan
    t["m2_per_enterprise"] = t["occupied_m2"] / t["enterprises_housed"] if t["enterprises_housed"] else np.nan
    t["payback_years"] = t["investment_cny"] / t["rent_cny_yr"] if t["rent_cny_yr"] else np.inf
    tax_gain = t["tax_after_cny"] - (0.0 if np.isnan(t["tax_before_cny"]) else t["tax_before_cny"])
    t["fiscal_payback_years"] = (t["investment_cny"] / (t["rent_cny_yr"] + tax_gain)
                                 if t["rent_cny_yr"] + tax_gain > 0 else np.inf)
    # calendar years in which the first and the last sites are delivered (a delivery in October 2028 is 2028)
    t["first_delivery"] = float(np.floor(res["delivery"].min() + 1e-9)) if len(res) else np.nan
    t["last_delivery"] = float(np.floor(res["delivery"].max() + 1e-9)) if len(res) else np.nan
    t["peak_investment_cny_yr"] = float(tl["investment_cny"].max()) if len(tl) else 0.0
    return pd.Series(t, name="total")


def _assumption_rows(templates: dict[str, ParkTemplate], used: list[str], sc: Scenario) -> list[dict]:
    from planner.i18n import t
    from planner.scenarios.templates import template_table

    rows = template_table({n: templates[n] for n in used})
    own = {"source": t("src_scenario", "en"), "source_zh": t("src_scenario", "zh")}
    rows += [
        {"parameter": "scenario.existing", **dict.fromkeys(used, sc.existing), **own},
        {"parameter": "scenario.start_year", **dict.fromkeys(used, sc.start_year), **own},
        {"parameter": "scenario.sites_per_year", **dict.fromkeys(used, sc.sites_per_year), **own},
        {"parameter": "scenario.budget_per_year", **dict.fromkeys(used, sc.budget_per_year), **own},
        {"parameter": "scenario.horizon_years", **dict.fromkeys(used, sc.horizon_years), **own},
        {"parameter": "policy", **dict.fromkeys(used, f"{sc.policy_name} {sc.policy_hash[:12]}".strip()),
         "source": t("src_policy", "en"), "source_zh": t("src_policy", "zh")},
    ]
    if sc.overrides:
        rows.append({"parameter": "scenario.overrides", **dict.fromkeys(used, json.dumps(to_dict(sc.overrides))),
                     **own})
    return rows


def phasing_warnings(result: ScenarioResult) -> list[tuple[str, str]]:
    """What a reader of the scenario's figures should be told about its selection and phasing, (English, Chinese).

    * no site selected: every figure is zero because the filter or the picks match nothing;
    * sites that start after the horizon: the pace (``sites_per_year``, ``budget_per_year``) pushed them there,
      and the year-by-year figures run past the horizon the scenario names;
    * sites that each cost more than a year's budget: each waits until unused budget adds up to it (a 1 亿元 a
      year budget with 27 亿元 sites started them decades later, without a word).
    """
    sc, res = result.scenario, result.sites
    name = sc.name
    if not len(res):
        return [(f"scenario {name!r} selects no site (its site filter or picks match none): every figure is zero",
                 f"情景「{name}」未选中任何片区（筛选条件或指定片区均不匹配）：各项指标均为 0")]
    out = []
    end = sc.start_year + sc.horizon_years - 1
    late = res["start_year"].to_numpy() > end
    if late.any():
        out.append((f"scenario {name!r}: {int(late.sum()):,} of {len(res):,} site(s) start after its horizon "
                     f"({sc.start_year}-{end}, horizon_years = {sc.horizon_years}); the pace set by sites_per_year or "
                     f"budget_per_year starts the last in {int(res['start_year'].max())}",
                     f"情景「{name}」：{len(res):,} 个片区中有 {int(late.sum()):,} 个在测算年限（{sc.start_year}–{end}）之后才"
                     f"开工；按每年启动片区数或每年投资额，最后一个片区 {int(res['start_year'].max())} 年开工"))
    if sc.budget_per_year is not None:
        big = res["investment_cny"].to_numpy(float) > sc.budget_per_year
        if big.any():
            top = float(res["investment_cny"].max())
            out.append((f"scenario {name!r}: {int(big.sum()):,} site(s) each cost more than a year's budget "
                        f"({sc.budget_per_year / 1e6:,.0f} million yuan; the largest {top / 1e6:,.0f} million): each "
                        "waits until the unused budget adds up to its cost",
                        f"情景「{name}」：{int(big.sum()):,} 个片区的投资超过一年的额度（{sc.budget_per_year / 1e8:,.2f} 亿元；"
                        f"最大 {top / 1e8:,.2f} 亿元），每个片区须等未用额度累计到其投资额才开工"))
    return out


def assumptions_in(assumptions: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """The assumptions table with one ``source`` column in ``lang`` (Chinese falls back to English)."""
    a = assumptions.copy()
    if "source_zh" in a.columns:
        if lang == "zh":
            a["source"] = a["source_zh"].where(a["source_zh"].notna() & (a["source_zh"] != ""), a["source"])
        a = a.drop(columns="source_zh")
    return a


def replace(sc: Scenario, **changes: Any) -> Scenario:
    """A copy of a scenario with some fields changed (validated again)."""
    return dataclasses.replace(sc, **changes)
