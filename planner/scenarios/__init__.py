"""Redevelopment scenarios (情景模拟与对比): park templates, the scenario model, comparison.

- :mod:`~planner.scenarios.templates`: standardized-park templates (plot ratio, cost, rent, ...);
- :mod:`~planner.scenarios.model`: a :class:`Scenario` picks sites and a template; :func:`run` yields the
  floor-area ledger, enterprises, jobs, tax, investment, payback and a timeline;
- :mod:`~planner.scenarios.comparison`: scenario results side by side.
"""

from planner.scenarios.comparison import Comparison, compare
from planner.scenarios.model import (
    Scenario,
    ScenarioResult,
    SiteSelection,
    assumptions_in,
    load_scenario,
    parcel_rollup,
    phasing_warnings,
    replace,
    run,
    scenario_from_dict,
    scenario_hash,
    select_sites,
)

__all__ = ["Comparison", "Scenario", "ScenarioResult", "SiteSelection", "assumptions_in", "compare",
           "load_scenario", "parcel_rollup", "phasing_warnings", "replace", "run", "scenario_from_dict", "scenario_hash",
           "select_sites"]
