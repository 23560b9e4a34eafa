"""Threshold sensitivity: how many parcels and how much land a rule flags as its threshold moves.

The curve is computed once from sorted indicator values and cumulative sums of
land area (``np.searchsorted`` per threshold), not by re-running the
classifier per step, so a whole curve costs about one sort. Besides the
parcels the rule itself flags, it gives the resulting criterion-low and
three-low counts with every other rule and criterion held fixed; these equal a
full re-classification with the rule's threshold replaced (tests check this
against brute force).

Parcels whose threshold comes from an override (e.g. textiles 0.8) keep it:
only the rule's own threshold moves.

Examples
--------
>>> import geopandas as gpd, numpy as np, shapely
>>> from planner.classify.policy import default_policy
>>> g = gpd.GeoDataFrame({"parcel_id": list("abc"), "land_use": ["industrial"] * 3,
...                       "floor_area_m2": [500.0, 1500.0, 2500.0]},
...                      geometry=shapely.box(np.arange(3) * 50, 0, np.arange(3) * 50 + 50, 50), crs="EPSG:4549")
>>> curve = threshold_curve(g, default_policy(), "utilization", 0, thresholds=[0.5, 1.0, 2.0])
>>> curve["n_rule_low"].tolist()
[1, 2, 3]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from planner.classify.flags import LOW, Evaluation, evaluate
from planner.classify.policy import CRITERIA, Policy
from planner.errors import DataError
from planner.schema import MU_M2


class _Sorted:
    """Sorted values and cumulative areas of a subset, for counting ``value cmp t``."""

    def __init__(self, values: np.ndarray, area: np.ndarray) -> None:
        order = np.argsort(values, kind="stable")
        self.v = values[order]
        self.cum = np.concatenate([[0.0], np.cumsum(area[order])])
        self.n = len(values)

    def count(self, t: np.ndarray, comparison: str) -> tuple[np.ndarray, np.ndarray]:
        side = "left" if comparison in ("<", ">=") else "right"
        idx = np.searchsorted(self.v, t, side=side)
        if comparison in ("<", "<="):
            return idx, self.cum[idx]
        return self.n - idx, self.cum[-1] - self.cum[idx]


def threshold_curve(
    parcels: pd.DataFrame | None,
    policy: Policy,
    criterion: str,
    rule: int = 0,
    thresholds: Sequence[float] | np.ndarray | None = None,
    *,
    percentiles: Sequence[float] | np.ndarray | None = None,
    steps: int = 100,
    evaluation: Evaluation | None = None,
) -> pd.DataFrame:
    """Flagged parcels and land for a range of thresholds of one rule.

    Parameters
    ----------
    parcels : DataFrame or None
        Parcels in the canonical schema (may be None when ``evaluation`` is given).
    policy : Policy
        The policy; the rule ``policy.criteria.<criterion>.rules[rule]`` moves.
    criterion : {"utilization", "capacity", "contribution"}
    rule : int
        Index of the rule within the criterion.
    thresholds : array-like, optional
        Absolute thresholds in the indicator's unit.
    percentiles : array-like, optional
        Alternatively, percentiles (0-100) of the in-scope values (as a
        ``percentile`` rule would use them).
    steps : int
        Without either, ``steps`` evenly spaced thresholds from the smallest
        to the largest in-scope value.
    evaluation : Evaluation, optional
        A cached :func:`planner.classify.evaluate` result (the interactive case).

    Returns
    -------
    DataFrame
        ``threshold`` and, for each of ``rule_low``, ``criterion_low``,
        ``three_low``: ``n_*`` (parcels) and ``land_*_m2``, ``land_*_mu``.
        ``percentile`` too when ``percentiles`` was given.
    """
    if criterion not in CRITERIA:
        msg = f"criterion {criterion!r} is not one of {list(CRITERIA)}"
        raise DataError(msg)
    crit = getattr(policy.criteria, criterion)
    if not 0 <= rule < len(crit.rules):
        msg = f"criteria.{criterion} has {len(crit.rules)} rule(s); rule index {rule} does not exist"
        raise DataError(msg)
    ev = evaluation if evaluation is not None else evaluate(parcels, policy)
    ci = CRITERIA.index(criterion)
    cev = ev.criteria[ci]
    r = cev.rules[rule]
    cmp = r.rule.comparison
    area = np.nan_to_num(ev.indicators["land_area_m2"].to_numpy(dtype=float), nan=0.0)
    has = ev.in_scope & ~np.isnan(r.value)
    free = has & ~r.overridden
    fixed_low = r.low & r.overridden

    if percentiles is not None:
        pct = np.asarray(percentiles, dtype=float)
        vals = r.value[has]
        t = np.percentile(vals, pct) if len(vals) else np.full(len(pct), np.nan)
    elif thresholds is not None:
        pct = None
        t = np.asarray(thresholds, dtype=float)
    else:
        pct = None
        vals = r.value[free]
        t = np.linspace(vals.min(), vals.max(), steps) if len(vals) else np.zeros(0)

    others = [o for j, o in enumerate(cev.rules) if j != rule]
    status = np.logical_or.reduce(cev.status_low) if cev.status_low else np.zeros(len(area), dtype=bool)
    if crit.combine == "any":
        a = status | (np.logical_or.reduce([o.low for o in others]) if others else False)
        b = np.ones(len(area), dtype=bool)
    else:
        a = status
        b = np.logical_and.reduce([o.low for o in others]) if others else np.ones(len(area), dtype=bool)
    crit_fixed = a | (b & fixed_low)
    n_other = ev.n_low - (cev.state == LOW)
    k = policy.min_criteria
    three_fixed = ev.in_scope & (n_other + crit_fixed >= k)
    crit_swing = free & ~crit_fixed & b
    three_swing = crit_swing & (n_other + 1 >= k) & ~three_fixed

    out: dict[str, np.ndarray] = {"threshold": t}
    if pct is not None:
        out["percentile"] = pct
    for key, base, swing in (("rule_low", fixed_low, free), ("criterion_low", crit_fixed, crit_swing),
                             ("three_low", three_fixed, three_swing)):
        cnt, land = _Sorted(r.value[swing], area[swing]).count(t, cmp)
        out[f"n_{key}"] = cnt + int(base.sum())
        out[f"land_{key}_m2"] = land + float(area[base].sum())
        out[f"land_{key}_mu"] = out[f"land_{key}_m2"] / MU_M2
    return pd.DataFrame(out)


__all__ = ["threshold_curve"]
