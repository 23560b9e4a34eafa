"""Side-by-side comparison of scenario results.

:func:`compare` takes any number of :class:`~planner.scenarios.ScenarioResult`
and returns a :class:`Comparison`: the key figures in one table with absolute
and relative differences against the first (baseline) scenario, which sites
each scenario takes, and tidy year-by-year curves for plotting.

Examples
--------
>>> import pandas as pd
>>> from planner.scenarios import run, scenario_from_dict
>>> sites = pd.DataFrame({"site_id": ["S1", "S2"], "land_area_m2": [10000.0, 20000.0],
...                       "floor_area_m2": [5000.0, 5000.0], "rank": [1, 2]})
>>> a = run(sites, scenario_from_dict({"name": "a", "sites": {"top": 1}}))
>>> b = run(sites, scenario_from_dict({"name": "b"}))
>>> c = compare([a, b])
>>> c.table.loc["net_change_m2", ["a", "b", "b - a"]].tolist()
[20000.0, 65000.0, 45000.0]
>>> c.only_in("b")
['S2']
>>> c.site_groups().tolist()
['both', 'b']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from planner.errors import DataError
from planner.scenarios.model import ScenarioResult

#: The headline figures of a scenario (cards on the scenario and comparison pages, the reports and briefs):
#: net new floor area (planned - demolished), enterprises housed, annual tax after, investment, and the
#: payback both ways (rent only; rent + tax gain).
HEADLINE_FIGURES = ("net_change_m2", "enterprises_housed", "tax_after_cny", "investment_cny", "payback_years",
                    "fiscal_payback_years")

#: Key figures compared, in display order (the headline figures first).
KEY_FIGURES = (
    "n_sites", "net_change_m2", "enterprises_housed", "tax_after_cny", "investment_cny", "payback_years",
    "fiscal_payback_years", "land_area_m2", "land_area_mu", "existing_floor_m2", "retained_floor_m2",
    "demolished_floor_m2", "new_floor_m2", "floor_after_m2", "plot_ratio_before", "plot_ratio_after",
    "leasable_m2", "occupied_m2", "jobs_after", "output_after_cny", "tax_before_cny", "rent_cny_yr",
    "first_delivery", "last_delivery", "peak_investment_cny_yr",
)

#: Which way a key figure is better: +1 more, -1 less (a shorter payback, less investment); figures not listed
#: are neither (more land, demolished floor area or sites is not good or bad in itself): reports colour only these.
BETTER = {"net_change_m2": 1, "enterprises_housed": 1, "tax_after_cny": 1, "jobs_after": 1, "output_after_cny": 1,
          "rent_cny_yr": 1, "new_floor_m2": 1, "floor_after_m2": 1, "leasable_m2": 1, "occupied_m2": 1,
          "plot_ratio_after": 1, "payback_years": -1, "fiscal_payback_years": -1, "investment_cny": -1,
          "peak_investment_cny_yr": -1}

#: Key figures that are calendar years: their difference is a number of years, a percentage of one means nothing.
CALENDAR_YEARS = ("first_delivery", "last_delivery")

#: The floor-area ledger drawn per scenario: existing floor area retained, demolished, newly built.
FLOOR_PARTS = ("retained_floor_m2", "demolished_floor_m2", "new_floor_m2")

#: Timeline columns turned into curves.
CURVES = ("investment_cny", "under_construction_m2", "delivered_m2", "occupied_m2", "enterprises", "jobs_new",
          "rent_cny", "tax_new_cny", "cum_investment_cny", "cum_rent_cny", "cum_tax_new_cny")


@dataclass
class Comparison:
    """What :func:`compare` returns.

    Attributes
    ----------
    names : list of str
        Scenario names, baseline first.
    table : DataFrame
        Index = key figure; columns = one per scenario, then ``"<s> - <base>"``
        (absolute) and ``"<s> vs <base> %"`` (relative) for every other scenario.
    membership : DataFrame
        Index = site_id (union); one boolean column per scenario, plus
        ``start_year_<s>`` and ``template_<s>``.
    curves : DataFrame
        Tidy: year, scenario, metric, value.
    results : list of ScenarioResult
    """

    names: list[str]
    table: pd.DataFrame
    membership: pd.DataFrame
    curves: pd.DataFrame
    results: list[ScenarioResult]

    def only_in(self, name: str, other: str | None = None) -> list[str]:
        """Sites in scenario ``name`` and not in ``other`` (default: the baseline)."""
        other = other or self.names[0]
        m = self.membership
        return sorted(m.index[m[name] & ~m[other]].astype(str))

    def site_groups(self) -> pd.Series:
        """Which scenarios take each site (index site_id): ``"both"``/``"all"`` or the names joined by ``" + "``.

        With two scenarios A and B the groups are "A" (A only), "B" (B only) and "both".
        """
        m = self.membership[self.names].astype(bool)
        every = "both" if len(self.names) == 2 else "all"
        cols = np.array(self.names, dtype=object)
        # one name per distinct row of memberships (a handful), not per site: 86k sites took 0.2 s row by row
        b = m.to_numpy().reshape(len(m), len(cols))
        if len(cols) <= 62:  # each row as the bits of one integer: sorting integers, not rows
            _, first, which = np.unique(b @ (np.int64(1) << np.arange(len(cols), dtype=np.int64)),
                                        return_index=True, return_inverse=True)
            rows = b[first]
        else:
            rows, which = np.unique(b, axis=0, return_inverse=True)
        names = np.array([every if row.all() else " + ".join(cols[row]) for row in rows] or [""], dtype=object)
        return pd.Series(names[which.reshape(-1)], index=m.index, name="group", dtype=object)

    def site_geometries(self) -> gpd.GeoDataFrame | None:
        """The sites of every scenario in one layer (site_id, group, geometry); None without geometry."""
        geo = [r.sites for r in self.results if isinstance(r.sites, gpd.GeoDataFrame)
               and r.sites.geometry.name in r.sites.columns and r.sites.crs is not None and len(r.sites)]
        if not geo:
            return None
        parts = [gpd.GeoDataFrame({"site_id": x["site_id"].to_numpy()}, geometry=x.geometry.to_numpy(), crs=x.crs)
                 for x in geo]
        g = pd.concat(parts, ignore_index=True).drop_duplicates("site_id")
        g = gpd.GeoDataFrame(g, geometry="geometry", crs=geo[0].crs)
        g["site_id"] = g["site_id"].astype(str)
        g["group"] = g["site_id"].map(self.site_groups()).to_numpy()
        return g.sort_values("site_id").reset_index(drop=True)

    def differences(self) -> pd.DataFrame:
        """Per pair (baseline, other): counts of sites only in one, only in the other, in both."""
        base = self.names[0]
        m = self.membership
        rows = [{"scenario": n, "only_in_baseline": int((m[base] & ~m[n]).sum()),
                 "only_in_scenario": int((m[n] & ~m[base]).sum()), "in_both": int((m[n] & m[base]).sum())}
                for n in self.names[1:]]
        return pd.DataFrame(rows, columns=["scenario", "only_in_baseline", "only_in_scenario", "in_both"])


def compare(results: Sequence[ScenarioResult]) -> Comparison:
    """Compare scenario results; the first one is the baseline.

    Parameters
    ----------
    results : sequence of ScenarioResult
        At least one; names must be distinct.

    Returns
    -------
    Comparison
    """
    results = list(results)
    if not results:
        msg = "compare: give at least one scenario result"
        raise DataError(msg)
    names = [r.name for r in results]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        msg = f"compare: scenario names must be distinct; repeated: {dup} (rename one in its file)"
        raise DataError(msg)
    base = names[0]
    tot = pd.DataFrame({r.name: r.totals.reindex(list(KEY_FIGURES)).astype(float) for r in results})
    table = tot.copy()
    b = tot[base].to_numpy(float)
    calendar = tot.index.isin(CALENDAR_YEARS)  # 2031 -> 2050 is 19 years later, not "+0.9%"
    for n in names[1:]:
        v = tot[n].to_numpy(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            table[f"{n} - {base}"] = v - b
            table[f"{n} vs {base} %"] = np.where(np.isfinite(b) & (b != 0) & ~calendar, (v - b) / np.abs(b) * 100.0,
                                                 np.nan)
    table.index.name = "figure"

    parts = []
    for r in results:
        s = pd.DataFrame({"site_id": r.sites["site_id"].astype(str).to_numpy(),
                          f"start_year_{r.name}": r.sites["start_year"].to_numpy(),
                          f"template_{r.name}": r.sites["template"].astype(str).to_numpy()}).set_index("site_id")
        parts.append(s)
    mem = pd.concat(parts, axis=1, join="outer").sort_index()
    for r in results:
        mem.insert(names.index(r.name), r.name, mem[f"template_{r.name}"].notna().to_numpy())
    mem.index.name = "site_id"

    curves = []
    for r in results:
        tl = r.timeline[[c for c in CURVES if c in r.timeline.columns]]
        long = tl.reset_index().melt(id_vars="year", var_name="metric", value_name="value")
        long.insert(1, "scenario", r.name)
        curves.append(long)
    curves_df = pd.concat(curves, ignore_index=True)
    return Comparison(names, table, mem, curves_df, results)
