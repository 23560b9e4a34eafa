"""How much a scenario's headline figures move when one uncertain template parameter is off (a tornado).

Several park-template parameters are sourced (S), several are partly sourced or
educated guesses (P, G: rent, cost, space per enterprise; see each template's
``[sources]``). :func:`sensitivity` runs the scenario again with one parameter
at a time lower and higher by ``swing`` (default 20%) in every template the
scenario uses, everything else as it is, and returns the figures of each run:
which guess the decision rests on shows as the longest bar.

Examples
--------
>>> import pandas as pd
>>> from planner.scenarios.model import Scenario, SiteSelection
>>> sites = pd.DataFrame({"site_id": ["S1"], "land_area_m2": [20_000.0], "floor_area_m2": [8_000.0]})
>>> t = sensitivity(sites, Scenario(name="s", sites=SiteSelection(top=1)), params=("all_in_cost_per_m2",))
>>> row = t.iloc[0]
>>> float(round(row["payback_years_high"] / row["payback_years_base"], 2))  # all-in cost +20%: payback +20%
1.2
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from planner.errors import ConfigError
from planner.scenarios import model as M
from planner.scenarios.templates import ParkTemplate

#: The template parameters varied by default: those a decision rests on that are least certain (DOMAIN.md: cost and
#: rent P/G, space per enterprise P, jobs G, tax per mu S but city-wide, construction time S with a range). The plot
#: ratio is a planning decision, not a guess (and 20% more is often beyond the template's coverage and floors).
PARAMS = ("all_in_cost_per_m2", "rent_per_m2_month", "tax_per_mu", "m2_per_enterprise", "construction_months",
          "jobs_per_1000m2")
#: Scenario totals reported for each run.
OUTPUTS = ("payback_years", "fiscal_payback_years", "new_floor_m2", "investment_cny", "tax_after_cny",
           "enterprises_housed")
#: Parameters that are whole numbers in a template.
_WHOLE = {"construction_months", "planning_months", "floors_min", "floors_max"}


def _scaled(t: ParkTemplate, param: str, factor: float) -> ParkTemplate | None:
    v = getattr(t, param, None)
    if v is None or not np.isfinite(v):
        return None
    new = v * factor
    if param in _WHOLE:
        new = max(1, int(round(new)))
    if param == "coverage":
        new = min(new, 1.0)
    try:
        return dataclasses.replace(t, **{param: new})
    except ConfigError:  # beyond what the template allows (a plot ratio its coverage and floors cannot reach)
        return None


def sensitivity(sites: pd.DataFrame, scenario: M.Scenario, *, templates: dict[str, ParkTemplate] | None = None,
                rollup: pd.DataFrame | None = None, swing: float = 0.2, params: Sequence[str] = PARAMS,
                outputs: Sequence[str] = OUTPUTS, progress: Callable[[float], None] | None = None) -> pd.DataFrame:
    """One row per parameter: its value in each template used (base, low, high: ``1 -+ swing`` times) and each
    output's total at base, low and high (``{output}_base``, ``_low``, ``_high``).

    A parameter no template used by the scenario sets (``tax_per_mu`` left out) is skipped. The scenario's own
    template changes are part of the base: the swing applies on top of them. ``progress(share done)`` is called
    after each run (1 + 2 per parameter; a scenario of 48,000 sites of a 1M-parcel city: 0.9 s a run).
    """
    if not 0 < swing < 1:
        raise ValueError(f"swing must be between 0 and 1 (a share), got {swing!r}")
    resolved = scenario.resolved_templates(templates)
    plain = M.replace(scenario, templates={})  # its templates are in ``resolved`` already
    base = M.run(sites, plain, templates=resolved, rollup=rollup).totals
    used = sorted({scenario.template, *scenario.site_templates.values()})
    rows = []
    for param in params:
        values = [getattr(resolved[n], param, None) for n in used]
        if all(v is None for v in values):
            continue
        row = {"parameter": param, "value_base": values[0] if len(used) == 1 else None}
        for side, factor in (("low", 1 - swing), ("high", 1 + swing)):
            changed = dict(resolved)
            for n in used:
                if getattr(resolved[n], param, None) is not None:
                    changed[n] = _scaled(resolved[n], param, factor)
            if any(t is None for t in changed.values()):  # not a template any more: no figures for this side
                totals = pd.Series(dtype=float)
            else:
                totals = M.run(sites, plain, templates=changed, rollup=rollup).totals
            if progress is not None:
                progress((len(rows) * 2 + (side == "high") + 2) / (2 * len(params) + 1))
            if len(used) == 1:
                row[f"value_{side}"] = getattr(changed[used[0]], param, None) if changed[used[0]] else None
            for o in outputs:
                row[f"{o}_{side}"] = float(totals.get(o, np.nan))
        for o in outputs:
            row[f"{o}_base"] = float(base.get(o, np.nan))
        rows.append(row)
    return pd.DataFrame(rows)


__all__ = ["OUTPUTS", "PARAMS", "sensitivity"]
