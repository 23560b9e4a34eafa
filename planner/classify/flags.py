"""Explainable three-low classification of parcels under a :class:`~planner.classify.policy.Policy`.

For every in-scope parcel each criterion (utilization, capacity, contribution)
gets a tri-state flag:

- ``"low"``: a rule (or a status rule) of the criterion is low;
- ``"ok"``: no rule is low and at least one rule could be evaluated;
- ``"unknown"``: no rule could be evaluated (missing data). Unknown never
  counts as low.

Parcels whose ``land_use`` is not in ``policy.land_uses`` (or is missing) are
out of scope: their flags are ``"n/a"``, ``n_low`` and ``n_unknown`` are 0,
``three_low`` is False, ``upgrade_class`` is ``"n/a"``, ``grade`` is missing and
the reason says why ("不在范围：住宅用地" / "out of scope: residential").

Every parcel carries a reason in Chinese and English, ``"; "``-separated: the
low rules of its low criteria ("容积率 0.42 < 1.0" / "plot ratio 0.42 < 1.0",
status "闲置" / "idle") and the missing inputs of its unknown criteria
("税收未知：无税收记录" / "tax unknown: no tax record"). Reasons are built with
whole-column Arrow string kernels, never row by row.

Examples
--------
>>> import geopandas as gpd, shapely
>>> from planner.classify.policy import default_policy
>>> g = gpd.GeoDataFrame({"parcel_id": ["a"], "land_use": ["industrial"], "floor_area_m2": [1050.0]},
...                      geometry=[shapely.box(0, 0, 50, 50)], crs="EPSG:4549")
>>> out = classify(g, default_policy())
>>> out.loc[0, "low_utilization"], out.loc[0, "reason_en"].split("; ")[0]
('low', 'plot ratio 0.42 < 1.0')
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from planner.classify.indicators import INDICATORS, MISSING_REASON, compute_indicators
from planner.classify.policy import CRITERIA, Policy, Rule, matches_codes, policy_hash
from planner.schema import MU_M2

#: Categories of the flag columns.
FLAG_STATES = ("low", "ok", "unknown", "n/a")
LOW, OK, UNKNOWN, NA = 0, 1, 2, 3
#: Upgrade classes (Quanzhou 泉政办规〔2025〕13号).
UPGRADE_CLASSES = ("redevelop", "upgrade", "retain", "unknown", "n/a")
GRADES = ("A", "B", "C", "D")

#: Status labels used in reasons (zh, en).
STATUS_LABELS: dict[str, tuple[str, str]] = {
    "in_use": ("在用", "in use"),
    "idle": ("闲置", "idle"),
    "vacant": ("空置", "vacant"),
    "under_construction": ("在建", "under construction"),
    "stopped": ("停产", "production stopped"),
    "half_stopped": ("半停产", "production half-stopped"),
}
#: Land-use class labels used in out-of-scope reasons (zh, en).
LAND_USE_LABELS: dict[str, tuple[str, str]] = {
    "industrial": ("工业用地", "industrial"),
    "warehouse": ("仓储用地", "warehouse"),
    "commercial": ("商业用地", "commercial"),
    "residential": ("住宅用地", "residential"),
    "public": ("公共服务用地", "public"),
    "transport": ("交通用地", "transport"),
    "green": ("绿地", "green"),
    "agricultural": ("农业用地", "agricultural"),
    "water": ("水域", "water"),
    "other": ("其他用地", "other"),
}
CRITERION_LABELS: dict[str, tuple[str, str]] = {
    "utilization": ("低利用率", "low utilization"),
    "capacity": ("低产能", "low capacity"),
    "contribution": ("低贡献", "low contribution"),
}

_CMP = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal}


@dataclass
class RuleEval:
    """One rule evaluated on every parcel (internal; also used by the sensitivity curve)."""

    rule: Rule
    value: np.ndarray  # indicator values (NaN = missing)
    threshold: np.ndarray  # per-parcel threshold (NaN = none)
    overridden: np.ndarray  # bool: the threshold comes from an override
    evaluated: np.ndarray  # bool: in scope, value and threshold known
    low: np.ndarray  # bool


@dataclass
class CriterionEval:
    """One criterion evaluated on every parcel."""

    name: str
    rules: list[RuleEval]
    status_low: list[np.ndarray]  # one bool mask per status rule
    state: np.ndarray  # int8 codes into FLAG_STATES


@dataclass
class Evaluation:
    """Everything :func:`classify` computes before assembling the output table."""

    indicators: pd.DataFrame
    in_scope: np.ndarray
    criteria: list[CriterionEval]
    n_low: np.ndarray
    n_unknown: np.ndarray
    three_low: np.ndarray


def _text(parcels: pd.DataFrame, name: str) -> pd.Series:
    if name not in parcels.columns:
        return pd.Series(pd.NA, index=parcels.index, dtype="string")
    return parcels[name].astype("string")


def in_scope_mask(parcels: pd.DataFrame, policy: Policy) -> np.ndarray:
    """Parcels the policy applies to: class in ``policy.land_uses`` or source code in ``policy.land_use_codes``."""
    mask = _text(parcels, "land_use").isin(policy.land_uses).fillna(False).to_numpy(dtype=bool)
    if policy.land_use_codes:
        mask = mask | matches_codes(_text(parcels, "land_use_code"), policy.land_use_codes)
    return mask


def rule_thresholds(rule: Rule, values: np.ndarray, in_scope: np.ndarray, land_use: pd.Series,
                    industry: pd.Series, land_use_code: pd.Series | None = None, *,
                    percentile_of: Callable[[np.ndarray, float], float] | None = None,
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Per-parcel threshold of ``rule`` and a mask of parcels whose threshold is an override.

    Percentile thresholds are taken over in-scope parcels with a value (the
    override's percentile over the in-scope parcels it matches). Industry
    overrides win over land-use overrides; the first matching override of a
    kind wins. ``percentile_of(values, percentile)`` (optional) replaces
    ``np.percentile``; it is called once per percentile level, rule first, in
    a fixed order (:mod:`planner.scale.classify` collects the values of each
    partition with it).
    """
    n = len(values)
    has = in_scope & ~np.isnan(values)

    def level(threshold, percentile, mask):
        if threshold is not None:
            return float(threshold)
        sel = values[has & mask]
        if percentile_of is not None:
            return percentile_of(sel, percentile)
        return float(np.percentile(sel, percentile)) if len(sel) else np.nan

    thr = np.full(n, level(rule.threshold, rule.percentile, np.ones(n, dtype=bool)))
    over = np.zeros(n, dtype=bool)
    # apply in reverse so that the first listed override of each kind wins; industry last
    land_ov = [o for o in rule.overrides if o.land_use or o.land_use_code]
    ind_ov = [o for o in rule.overrides if o.industry]
    for o in [*reversed(land_ov), *reversed(ind_ov)]:
        if o.land_use_code:
            codes = land_use_code if land_use_code is not None else pd.Series(pd.NA, index=land_use.index, dtype="string")
            mask = matches_codes(codes, o.land_use_code)
        else:
            col = industry if o.industry else land_use
            mask = col.isin(o.industry or o.land_use).fillna(False).to_numpy(dtype=bool)
        thr[mask] = level(o.threshold, o.percentile, mask)
        over |= mask
    return thr, over


def evaluate(parcels: pd.DataFrame, policy: Policy, *, indicators: pd.DataFrame | None = None) -> Evaluation:
    """Evaluate every rule and criterion of ``policy`` (no reasons, no output table)."""
    ind = compute_indicators(parcels, reference_year=policy.reference_year) if indicators is None else indicators
    land_use = _text(parcels, "land_use")
    land_use_code = _text(parcels, "land_use_code")
    industry = _text(parcels, "industry")
    status = _text(parcels, "status")
    in_scope = in_scope_mask(parcels, policy)
    n = len(parcels)
    crits: list[CriterionEval] = []
    for cname, crit in policy.criteria.items():
        revals = []
        for rule in crit.rules:
            v = ind[rule.indicator].to_numpy()
            thr, over = rule_thresholds(rule, v, in_scope, land_use, industry, land_use_code)
            ev = in_scope & ~np.isnan(v) & ~np.isnan(thr)
            with np.errstate(invalid="ignore"):
                low = ev & _CMP[rule.comparison](v, thr)
            revals.append(RuleEval(rule, v, thr, over, ev, low))
        slow = [in_scope & status.isin(s.statuses).fillna(False).to_numpy(dtype=bool) for s in crit.status_rules]
        any_status = np.logical_or.reduce(slow) if slow else np.zeros(n, dtype=bool)
        if crit.combine == "any":
            low = any_status | (np.logical_or.reduce([r.low for r in revals]) if revals else False)
            okm = np.logical_or.reduce([r.evaluated for r in revals]) if revals else np.zeros(n, dtype=bool)
        else:  # all
            all_low = np.logical_and.reduce([r.low for r in revals]) if revals else np.zeros(n, dtype=bool)
            low = any_status | all_low
            okm = np.logical_or.reduce([r.evaluated & ~r.low for r in revals]) if revals else np.zeros(n, dtype=bool)
        state = np.where(low, LOW, np.where(okm, OK, UNKNOWN)).astype(np.int8)
        state[~in_scope] = NA
        crits.append(CriterionEval(cname, revals, slow, state))
    n_low = np.sum([c.state == LOW for c in crits], axis=0).astype(np.int64)
    n_unknown = np.sum([c.state == UNKNOWN for c in crits], axis=0).astype(np.int64)
    three_low = in_scope & (n_low >= policy.min_criteria)
    return Evaluation(ind, in_scope, crits, n_low, n_unknown, three_low)


# -- percentiles over a population, for classifying part of it ---------------

def _levels(rule) -> list:
    """The objects (the rule, or an override) whose percentile :func:`rule_thresholds` takes, in its call order."""
    out = [rule] if rule.threshold is None else []
    land_ov = [o for o in rule.overrides if o.land_use or o.land_use_code]
    ind_ov = [o for o in rule.overrides if o.industry]
    return out + [o for o in [*reversed(land_ov), *reversed(ind_ov)] if o.threshold is None]


def _rules(policy: Policy) -> list:
    return [rule for _cname, crit in policy.criteria.items() for rule in crit.rules]


def resolve_policy(policy: Policy, levels: list[np.ndarray]) -> tuple[Policy, list[dict]]:
    """The policy with each percentile level replaced by its value over all partitions (``levels`` in call order).

    A level with no values stays a percentile (every partition then finds no
    values either, as the in-memory run does). Returns the policy and one
    record per level (criterion, indicator, percentile, value, parcels).
    """
    it = iter(levels)
    crits = {}
    record: list[dict] = []
    for cname, crit in policy.criteria.items():
        rules = []
        for rule in crit.rules:
            values = {}
            for obj in _levels(rule):
                sel = next(it)
                v = float(np.percentile(sel, obj.percentile)) if len(sel) else np.nan
                values.setdefault(id(obj), (v, len(sel)))
            overrides = tuple(_fixed(o, values, cname, rule.indicator, record) for o in rule.overrides)
            new = _fixed(rule, values, cname, rule.indicator, record)
            rules.append(dataclasses.replace(new, overrides=overrides))
        crits[cname] = dataclasses.replace(crit, rules=tuple(rules))
    return dataclasses.replace(policy, criteria=dataclasses.replace(policy.criteria, **crits)), record


def _fixed(obj, values: dict, criterion: str, indicator: str, record: list):
    """``obj`` (a rule or an override) with its percentile replaced by the value found for it."""
    got = values.get(id(obj))
    if got is None or np.isnan(got[0]):
        return obj
    record.append({"criterion": criterion, "indicator": indicator, "percentile": obj.percentile, "value": got[0],
                   "parcels": got[1]})
    return dataclasses.replace(obj, threshold=got[0], percentile=None)


def resolve_percentiles(parcels: pd.DataFrame, policy: Policy, *, indicators: pd.DataFrame | None = None) -> Policy:
    """``policy`` with every percentile level replaced by its value over ``parcels``.

    Rows of ``parcels`` evaluated alone under the result get the thresholds,
    flags and reasons they have when all of ``parcels`` are classified under
    ``policy`` (a percentile is otherwise taken over the rows at hand). A
    level no parcel has a value for stays a percentile, as in the whole.
    """
    ind = compute_indicators(parcels, reference_year=policy.reference_year) if indicators is None else indicators
    return resolve_policy(policy, percentile_levels(parcels, policy, ind, in_scope_mask(parcels, policy)))[0]


def percentile_levels(parcels: pd.DataFrame, policy: Policy, ind: pd.DataFrame, in_scope: np.ndarray,
                      ) -> list[np.ndarray]:
    """The values each percentile level of ``policy`` is taken over, in :func:`resolve_policy`'s order.

    Collected through :func:`rule_thresholds`' ``percentile_of`` hook, so the
    masks are the classifier's own.
    """
    land_use, industry, code = _text(parcels, "land_use"), _text(parcels, "industry"), _text(parcels, "land_use_code")
    levels: list[np.ndarray] = []

    def collect(sel: np.ndarray, _percentile: float) -> float:
        levels.append(np.asarray(sel, dtype=float))
        return np.nan

    for rule in _rules(policy):
        rule_thresholds(rule, ind[rule.indicator].to_numpy(), in_scope, land_use, industry, code, percentile_of=collect)
    return levels


def reason_columns(parcels: pd.DataFrame, policy: Policy, *, indicators: pd.DataFrame | None = None) -> pd.DataFrame:
    """``reason_zh`` and ``reason_en`` of ``parcels`` as :func:`classify` writes them.

    For some rows of a classified layer, pass the policy resolved over the
    whole layer (:func:`resolve_percentiles`): the app keeps its
    classifications without reasons (81 MB per classification at 1M parcels)
    and makes them for the rows a page shows, exports or saves.
    """
    ev = evaluate(parcels, policy, indicators=indicators)
    zh, en = reasons(ev, parcels, policy)
    return pd.DataFrame({"reason_zh": _to_pandas_text(zh, parcels.index), "reason_en": _to_pandas_text(en, parcels.index)},
                        index=parcels.index)


# -- grade and upgrade class -------------------------------------------------

def upgrade_class(values: np.ndarray, in_scope: np.ndarray, policy: Policy) -> pd.Categorical:
    """Quanzhou upgrade class: redevelop / upgrade (in place) / retain / unknown / n/a."""
    u = policy.upgrade
    with np.errstate(invalid="ignore"):
        code = np.select([~in_scope, np.isnan(values), values < u.redevelop_below, values < u.retain_from],
                         [4, 3, 0, 1], default=2).astype(np.int8)
    return pd.Categorical.from_codes(code, categories=list(UPGRADE_CLASSES))


def _avg_rank(v: np.ndarray) -> np.ndarray:
    """1-based ranks with ties given their average rank (as ``scipy.stats.rankdata``), one sort."""
    order = np.argsort(v)
    sv = v[order]
    new = np.empty(len(v), dtype=bool)
    new[:1] = True
    np.not_equal(sv[1:], sv[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:], len(v))
    grp = np.cumsum(new) - 1
    out = np.empty(len(v))
    out[order] = ((starts + ends + 1) / 2.0)[grp]
    return out


def _n_greater(v: np.ndarray) -> np.ndarray:
    """For each value, how many values are strictly greater (one sort)."""
    order = np.argsort(v)
    sv = v[order]
    last = np.empty(len(v), dtype=bool)
    last[-1:] = True
    np.not_equal(sv[1:], sv[:-1], out=last[:-1])
    ends = np.flatnonzero(last) + 1  # one past the last index of each tie group
    grp = np.cumsum(np.concatenate([[0], last[:-1]]))
    out = np.empty(len(v), dtype=np.int64)
    out[order] = len(v) - ends[grp]
    return out


def grade_weights(ind: pd.DataFrame, in_scope: np.ndarray, policy: Policy, ranks: Ranks | None = None,
                  ) -> dict[str, float]:
    """The grade's weights for these parcels: an indicator no in-scope parcel has passes its weight to its substitute.

    Examples
    --------
    >>> import pandas as pd, numpy as np
    >>> from planner.classify.policy import default_policy
    >>> ind = pd.DataFrame({"tax_per_mu": [1.0], "output_per_mu": [2.0], "tax_per_energy": [np.nan], "plot_ratio": [1.0]})
    >>> grade_weights(ind, np.array([True]), default_policy())
    {'tax_per_mu': 45.0, 'output_per_mu': 35.0, 'plot_ratio': 20.0}
    """
    g = policy.grade
    out = dict(g.weights)
    for name, sub in g.substitutes.items():
        if name in out and not (ranks or Ranks()).present(ind, in_scope, name):
            out[sub] = out.get(sub, 0.0) + out.pop(name)
    return out


class Ranks:
    """Ranks of values among the in-scope parcels with a value: the population of :func:`grade`.

    This one ranks the parcels it is given. :mod:`planner.scale.classify`
    passes one that ranks a partition's parcels among all partitions', so
    that grades equal the in-memory run.
    """

    def present(self, ind: pd.DataFrame, in_scope: np.ndarray, name: str) -> bool:
        """Whether any in-scope parcel has indicator ``name``."""
        return bool((in_scope & ~np.isnan(ind[name].to_numpy())).any())

    def share(self, name: str, v: np.ndarray) -> np.ndarray:
        """Average rank (ties share it) of each of ``v`` divided by the number of values."""
        return _avg_rank(v) / len(v)

    def above(self, score: np.ndarray) -> np.ndarray:
        """Share of the scores strictly greater than each of ``score``."""
        return _n_greater(score) / len(score)


def grade_scores(ind: pd.DataFrame, in_scope: np.ndarray, policy: Policy,
                 ranks: Ranks | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The grade's weighted percentile score of the graded parcels: ``(graded mask, score of the graded)``."""
    ranks = ranks or Ranks()
    n = len(ind)
    num = np.zeros(n)
    den = np.zeros(n)
    for name, w in grade_weights(ind, in_scope, policy, ranks).items():
        if w <= 0:
            continue
        v = ind[name].to_numpy()
        has = in_scope & ~np.isnan(v)
        if not has.any():
            continue
        pct = np.zeros(n)
        pct[has] = ranks.share(name, v[has])
        num += np.where(has, w * pct, 0.0)
        den += np.where(has, w, 0.0)
    graded = den > 0
    return graded, num[graded] / den[graded]


def grade(ind: pd.DataFrame, in_scope: np.ndarray, policy: Policy, *, ranks: Ranks | None = None) -> pd.Categorical:
    """Composite per-mu grade A-D (see :class:`~planner.classify.policy.Grade`); missing where no indicator.

    ``ranks`` (optional, :class:`Ranks`): the population the parcels are ranked in (default: themselves).
    """
    g = policy.grade
    n = len(ind)
    if not g.enabled or n == 0:
        return pd.Categorical.from_codes(np.full(n, -1, dtype=np.int8), categories=list(GRADES))
    ranks = ranks or Ranks()
    graded, score = grade_scores(ind, in_scope, policy, ranks)
    code = np.full(n, -1, dtype=np.int8)
    if graded.any():
        above = ranks.above(score)  # share of parcels scoring strictly higher
        a, b, c = g.shares
        code[graded] = np.select([above < a, above < b, above < c], [0, 1, 2], default=3)
    return pd.Categorical.from_codes(code, categories=list(GRADES))


# -- reasons -----------------------------------------------------------------

def _fmt_value(v: np.ndarray, decimals: int) -> pa.Array:
    a = pa.array(v, type=pa.float64(), from_pandas=True)
    if decimals == 0:
        return pc.cast(pc.cast(pc.round(a, 0), pa.int64(), safe=False), pa.string())
    s = pc.cast(pc.round(a, decimals), pa.string())
    plain = pc.match_substring(s, ".")  # "1" -> "1.0"; plot ratios and shares never print as 1e+16
    return pc.if_else(plain, s, pc.binary_join_element_wise(s, pa.scalar(".0"), ""))


def _fmt_number(t: float, decimals: int) -> str:
    if decimals == 0:
        return str(round(t))
    return repr(round(float(t), decimals))


def _fmt_exact(v: np.ndarray) -> pa.Array:
    """Shortest text that reads back as the same float, with a decimal point ("1.0", "0.9999999999960001")."""
    s = pc.cast(pa.array(v, type=pa.float64()), pa.string())
    plain = pc.or_(pc.match_substring(s, "."), pc.match_substring(s, "e"))
    return pc.if_else(plain, s, pc.binary_join_element_wise(s, pa.scalar(".0"), ""))


def _fmt_comparison(value: np.ndarray, thr: np.ndarray, comparison: str, decimals: int,
                    extra: int = 8) -> tuple[pa.Array, pa.Array]:
    """Value and threshold texts whose printed comparison is true ("0.997 < 1.0", never "1.0 < 1.0").

    Each row starts at the indicator's display decimals and gets more, one at
    a time, until the printed numbers (read back) compare as the real ones
    do; a row that still does not is printed exactly (shortest round-trip
    form). Whole columns in Arrow; rows are formatted once per decimals group.
    """
    n = len(value)
    dec = np.full(n, -1, dtype=np.int64)
    todo = np.arange(n)
    for d in range(decimals, decimals + extra + 1):
        if not len(todo):
            break
        v_back = pc.cast(_fmt_value(value[todo], d), pa.float64()).to_numpy(zero_copy_only=False)
        t_back = pc.cast(_fmt_value(thr[todo], d), pa.float64()).to_numpy(zero_copy_only=False)
        with np.errstate(invalid="ignore"):
            ok = _CMP[comparison](v_back, t_back) | np.isnan(t_back)
        dec[todo[ok]] = d
        todo = todo[~ok]
    groups = np.unique(dec)
    if len(groups) == 1 and groups[0] >= 0:
        return _fmt_value(value, int(groups[0])), _fmt_value(thr, int(groups[0]))
    order = np.argsort(dec, kind="stable")
    vals, thrs = [], []
    for d in groups:
        rows = np.flatnonzero(dec == d)
        if d >= 0:
            vals.append(_fmt_value(value[rows], int(d)))
            thrs.append(_fmt_value(thr[rows], int(d)))
        else:  # exact
            vals.append(_fmt_exact(value[rows]))
            thrs.append(_fmt_exact(thr[rows]))
    back = pa.array(np.argsort(order, kind="stable"))
    return pa.concat_arrays(vals).take(back), pa.concat_arrays(thrs).take(back)


def _fmt_thresholds(thr: np.ndarray, decimals: int) -> pa.Array:
    uniq, inv = np.unique(thr, return_inverse=True)
    labels = pa.array([None if np.isnan(t) else _fmt_number(t, decimals) for t in uniq], type=pa.string())
    return labels.take(pa.array(inv.astype(np.int32)))


class _Parts:
    """Reason parts of every parcel, in order, as (row, text) pairs joined at the end.

    Each part is formatted only for the rows it applies to; :meth:`join`
    groups the parts by row (a stable sort keeps their order) into an Arrow
    list array and joins each list with ``"; "``. No per-row Python.
    """

    def __init__(self, n: int) -> None:
        self.n = n
        self.rows: list[np.ndarray] = []
        self.text: dict[int, list[pa.Array]] = {0: [], 1: []}

    def add(self, mask: np.ndarray, zh: str | pa.Array, en: str | pa.Array) -> None:
        rows = np.flatnonzero(mask)
        if not len(rows):
            return
        self.rows.append(rows)
        for lang, t in ((0, zh), (1, en)):
            self.text[lang].append(pa.repeat(pa.scalar(t, pa.string()), len(rows)) if isinstance(t, str) else t)

    def join(self) -> tuple[pa.Array, pa.Array]:
        if not self.rows:
            empty = pa.nulls(self.n, pa.string()).fill_null("")
            return empty, empty
        rows = np.concatenate(self.rows)
        order = pa.array(np.argsort(rows, kind="stable"))
        offsets = np.zeros(self.n + 1, dtype=np.int32)
        np.cumsum(np.bincount(rows, minlength=self.n), out=offsets[1:])
        offsets = pa.array(offsets)
        out = []
        for lang in (0, 1):
            values = pa.concat_arrays([a.cast(pa.string()) for a in self.text[lang]]).take(order)
            out.append(pc.binary_join(pa.ListArray.from_arrays(offsets, values), "; "))
        return out[0], out[1]


def _arrow_text(parcels: pd.DataFrame, name: str) -> pa.Array:
    if name not in parcels.columns:
        return pa.nulls(len(parcels), pa.string())
    s = parcels[name]
    try:
        arr = pa.array(s.array) if hasattr(s.array, "__arrow_array__") else pa.array(s.to_numpy(dtype=object), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        arr = pa.array(s.astype("string").array)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr


def _labels(arr: pa.Array, table: dict[str, tuple[str, str]], lang: int) -> pa.Array:
    """Label of each value by ``table`` (null where the value is not a key)."""
    keys = list(table)
    idx = pc.index_in(arr, value_set=pa.array(keys, type=pa.string()))
    return pa.array([table[k][lang] for k in keys], type=pa.string()).take(idx)


def reasons(ev: Evaluation, parcels: pd.DataFrame, policy: Policy) -> tuple[pa.Array, pa.Array]:
    """Reason strings (zh, en) for every parcel, built column-wise with Arrow kernels.

    Order within a parcel: criteria in policy order; within a low criterion its
    low rules, then its status rules; within an unknown criterion its missing
    inputs. Out-of-scope parcels get "不在范围：<land use>" / "out of scope: <land use>".
    """
    n = len(parcels)
    parts = _Parts(n)
    missing_cache: dict[str, np.ndarray] = {}
    land = ev.indicators["land_area_m2"].to_numpy()

    def missing(col: str) -> np.ndarray:
        if col not in missing_cache:
            if col == "land_area_m2":
                missing_cache[col] = np.isnan(land)
            elif col in parcels.columns:
                missing_cache[col] = pd.to_numeric(parcels[col], errors="coerce").isna().to_numpy()
            else:
                missing_cache[col] = np.ones(n, dtype=bool)
        return missing_cache[col]

    status: pa.Array | None = None
    for cev in ev.criteria:
        clow = cev.state == LOW
        cunk = cev.state == UNKNOWN
        for r in cev.rules:
            show = clow & r.low
            if not show.any():
                continue
            meta = INDICATORS[r.rule.indicator]
            val, thr = _fmt_comparison(r.value[show], r.threshold[show], r.rule.comparison, meta.decimals)
            zh, en = (pc.binary_join_element_wise(pa.scalar(f"{lab} "), val, pa.scalar(f" {r.rule.comparison} "), thr, "")
                      for lab in (meta.zh, meta.en))
            parts.add(show, zh, en)
        for smask in cev.status_low:
            show = clow & smask
            if show.any():
                if status is None:
                    status = _arrow_text(parcels, "status")
                sub = status.filter(pa.array(show)).cast(pa.string())
                parts.add(show, _labels(sub, STATUS_LABELS, 0), _labels(sub, STATUS_LABELS, 1))
        if cunk.any():
            seen: list[str] = []
            for r in cev.rules:
                for col in INDICATORS[r.rule.indicator].inputs:
                    if col not in seen:
                        seen.append(col)
            for col in seen:
                parts.add(cunk & missing(col), *MISSING_REASON[col])
            for r in cev.rules:  # a percentile with no data to take it from
                meta = INDICATORS[r.rule.indicator]
                parts.add(cunk & np.isnan(r.threshold) & ev.in_scope, f"{meta.zh}阈值未知：无可比数据",
                          f"{meta.en} threshold unknown: no data for the percentile")
    oos = ~ev.in_scope
    if oos.any():
        lu = _arrow_text(parcels, "land_use").filter(pa.array(oos)).cast(pa.string())
        # known classes by their label, other values as themselves, missing as "land use unknown"
        zh, en = (pc.binary_join_element_wise(pa.scalar(prefix), pc.coalesce(_labels(lu, LAND_USE_LABELS, lang), lu, pa.scalar(unk)), "")
                  for lang, prefix, unk in ((0, "不在范围：", "用地分类未知"), (1, "out of scope: ", "land use unknown")))
        parts.add(oos, zh, en)
    return parts.join()


def _to_pandas_text(a: pa.Array, index) -> pd.Series:
    return pd.Series(pd.arrays.ArrowStringArray(a.cast(pa.large_string())), index=index)


# -- the public entry points -----------------------------------------------

def classify(parcels: gpd.GeoDataFrame, policy: Policy, *,
             progress: Callable[[str], None] | None = None, ranks: Ranks | None = None,
             indicators: pd.DataFrame | None = None, with_reasons: bool = True) -> gpd.GeoDataFrame:
    """Classify parcels: indicators, tri-state flags, three-low, upgrade class, grade and reasons.

    Parameters
    ----------
    parcels : GeoDataFrame
        Parcels in the canonical schema (docs/CONTRACTS.md).
    policy : Policy
        Rules and thresholds (:func:`planner.classify.policy.load_policy`).
    progress : callable, optional
        Called with a short stage name ("indicators", "flags", "reasons").
    ranks : Ranks, optional
        The population grades are ranked in (default: ``parcels``).
    indicators : DataFrame, optional
        ``compute_indicators(parcels, reference_year=policy.reference_year)``
        computed beforehand (the indicators do not depend on the rules: the
        app shares one table between the classifications of every rule
        variant). Its columns are taken as they are, not copied.
    with_reasons : bool
        False leaves out ``reason_zh`` and ``reason_en`` (made later for the
        rows needed: :func:`resolve_percentiles`, :func:`reason_columns`).

    Returns
    -------
    GeoDataFrame
        ``parcels`` (with ``land_area_m2`` filled from geometry where missing)
        plus the indicator, flag and reason columns of docs/CONTRACTS.md.
        ``attrs["policy_hash"]`` and ``attrs["policy_name"]`` identify the policy.
    """
    say = progress or (lambda _s: None)
    say("indicators")
    ind = compute_indicators(parcels, reference_year=policy.reference_year) if indicators is None else indicators
    say("flags")
    return assemble(parcels, ind, flag_columns(parcels, policy, ind, ranks=ranks, with_reasons=with_reasons,
                                               progress=say), policy)


def flag_columns(parcels: pd.DataFrame, policy: Policy, indicators: pd.DataFrame, *, ranks: Ranks | None = None,
                 with_reasons: bool = True, progress: Callable[[str], None] | None = None) -> pd.DataFrame:
    """The columns :func:`classify` adds after the indicators: flags, counts, three-low, upgrade class, grade, reasons."""
    ind = indicators
    ev = evaluate(parcels, policy, indicators=ind)
    cols: dict[str, object] = {}
    for cev in ev.criteria:
        cols[f"low_{cev.name}"] = pd.Categorical.from_codes(cev.state, categories=list(FLAG_STATES))
    cols["n_low"] = np.where(ev.in_scope, ev.n_low, 0)
    cols["n_unknown"] = np.where(ev.in_scope, ev.n_unknown, 0)
    cols["three_low"] = ev.three_low
    cols["upgrade_class"] = upgrade_class(ind[policy.upgrade.indicator].to_numpy(), ev.in_scope, policy)
    cols["grade"] = grade(ind, ev.in_scope, policy, ranks=ranks)
    if with_reasons:
        if progress is not None:
            progress("reasons")
        zh, en = reasons(ev, parcels, policy)
        cols["reason_zh"] = _to_pandas_text(zh, parcels.index)
        cols["reason_en"] = _to_pandas_text(en, parcels.index)
    return pd.DataFrame(cols, index=parcels.index, copy=False)


def assemble(parcels: pd.DataFrame, indicators: pd.DataFrame, flags: pd.DataFrame, policy: Policy) -> pd.DataFrame:
    """The classified parcels: ``parcels``, the ``indicators`` and the :func:`flag_columns` of ``policy``.

    The indicator and flag columns are shared, not copied; ``land_area_m2``
    is the indicators' (filled from geometry where missing).
    """
    cols: dict[str, object] = {c: indicators[c] for c in indicators.columns if c != "land_area_m2"}
    cols.update({c: flags[c] for c in flags.columns})
    base = parcels.drop(columns=[c for c in cols if c in parcels.columns])
    extra = pd.DataFrame(cols, index=parcels.index, copy=False)  # the indicator columns shared, not copied
    out = pd.concat([base, extra], axis=1)
    out["land_area_m2"] = indicators["land_area_m2"].to_numpy()
    if not isinstance(out, gpd.GeoDataFrame) and isinstance(parcels, gpd.GeoDataFrame):
        out = gpd.GeoDataFrame(out, geometry=parcels.geometry.name, crs=parcels.crs)
    out.attrs["policy_name"] = policy.name
    out.attrs["policy_hash"] = policy_hash(policy)
    return out


def _equal(col: pd.Series, value: str) -> np.ndarray:
    """``col == value`` as text, missing values False; a categorical column compares its codes (no text made)."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        cats = col.cat.categories
        if value not in cats:
            return np.zeros(len(col), dtype=bool)
        return col.cat.codes.to_numpy() == cats.get_loc(value)
    return (col.astype("string") == value).fillna(False).to_numpy(dtype=bool)


def summary(classified: pd.DataFrame, policy: Policy | None = None) -> pd.DataFrame:
    """Tidy summary of a classification: parcels and land (m², mu) per category.

    Rows, by ``table``:

    - ``"class"``: ``three_low`` / ``not_three_low`` / ``out_of_scope``;
    - ``"criterion"`` (with ``criterion``): ``low`` / ``ok`` / ``unknown`` (in-scope parcels);
    - ``"unknown_reason"`` (with ``criterion``): unknown parcels by missing input (one parcel may
      miss several inputs);
    - ``"upgrade_class"``: redevelop / upgrade / retain / unknown (in scope);
    - ``"grade"``: A-D and ``none`` (in scope).

    Parameters
    ----------
    classified : DataFrame
        Output of :func:`classify`.
    policy : Policy, optional
        Needed for the ``unknown_reason`` rows (which inputs each criterion uses).

    Returns
    -------
    DataFrame
        Columns ``table, criterion, category, parcels, land_m2, land_mu``.
    """
    land = classified["land_area_m2"].to_numpy(dtype=float, na_value=np.nan)
    land = np.nan_to_num(land, nan=0.0)
    rows: list[tuple] = []

    def add(table: str, crit: str, cat: str, mask: np.ndarray) -> None:
        a = float(land[mask].sum())
        rows.append((table, crit, cat, int(mask.sum()), a, a / MU_M2))

    scope = (classified["low_utilization"] != "n/a").to_numpy(dtype=bool)
    tl = classified["three_low"].to_numpy(dtype=bool)
    add("class", "", "three_low", tl)
    add("class", "", "not_three_low", scope & ~tl)
    add("class", "", "out_of_scope", ~scope)
    for c in CRITERIA:
        col = classified[f"low_{c}"]
        for state in FLAG_STATES[:3]:
            add("criterion", c, state, _equal(col, state))
        if policy is not None:
            unk = _equal(col, "unknown")
            seen: list[str] = []
            for r in getattr(policy.criteria, c).rules:
                seen += [x for x in INDICATORS[r.indicator].inputs if x not in seen]
            for x in seen:
                if x == "land_area_m2":
                    miss = np.isnan(classified["land_area_m2"].to_numpy(dtype=float, na_value=np.nan))
                elif x in classified.columns:
                    miss = pd.to_numeric(classified[x], errors="coerce").isna().to_numpy()
                else:
                    miss = np.ones(len(classified), dtype=bool)
                if (unk & miss).any():
                    add("unknown_reason", c, MISSING_REASON[x][1], unk & miss)
    uc = classified["upgrade_class"]
    for k in UPGRADE_CLASSES[:4]:
        add("upgrade_class", "", k, _equal(uc, k))
    gr = classified["grade"]
    for k in GRADES:
        add("grade", "", k, _equal(gr, k))
    add("grade", "", "none", scope & gr.isna().to_numpy())
    return pd.DataFrame(rows, columns=["table", "criterion", "category", "parcels", "land_m2", "land_mu"])


__all__ = [
    "FLAG_STATES",
    "GRADES",
    "UPGRADE_CLASSES",
    "Evaluation",
    "Ranks",
    "classify",
    "evaluate",
    "grade",
    "grade_scores",
    "grade_weights",
    "in_scope_mask",
    "reasons",
    "rule_thresholds",
    "summary",
    "upgrade_class",
]
