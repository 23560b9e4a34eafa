"""Three-low policy: the rules, thresholds and classes as a frozen, validated dataclass.

A policy file (TOML or JSON) says which land uses are in scope, which rules
make each of the three criteria (utilization 利用率, capacity 产能,
contribution 贡献) low, how many low criteria make a parcel "three-low", the
Quanzhou upgrade classes by tax per mu and the composite per-mu grade A-D.
Files are validated on load (:func:`load_policy`); every error names the file
and the key, e.g. ``policies/x.toml: criteria.utilization.rules[0].comparison:
'<<' is not one of ['<', '<=', '>', '>=']``.

A policy round-trips through plain dicts and TOML text (:func:`policy_to_dict`,
:func:`dumps`) and has a stable hash (:func:`policy_hash`, the SHA-256 of its
canonical JSON) that classification results carry.

Examples
--------
>>> p = default_policy()
>>> p.min_criteria, p.land_uses
(2, ('industrial', 'warehouse'))
>>> p.criteria.utilization.rules[0].indicator
'plot_ratio'
>>> from_toml(dumps(p)) == p
True
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from planner import config
from planner.config import SettingError, check_number
from planner.errors import ConfigError
from planner.io.store import sha256_text
from planner.schema import LAND_USE_CLASSES, STATUSES

#: Indicators a rule may test (computed by :mod:`planner.classify.indicators`).
INDICATOR_NAMES = (
    "land_area_m2",
    "land_area_mu",
    "plot_ratio",
    "coverage",
    "output_per_mu",
    "tax_per_mu",
    "employees_per_ha",
    "far_gap",
    "floor_potential_m2",
    "years_since_built",
    "tax_per_energy",
)
Comparison = Literal["<", "<=", ">", ">="]
#: Grade weights are shares (the defaults 45/35/20 are percent): above 100 is a typing mistake, and very large
#: weights overflow when renormalized per parcel (infinity gave NaN scores).
MAX_GRADE_WEIGHT = 100.0
#: ``reference_year`` (for ``years_since_built``): the surveys' buildings are of the 20th and 21st centuries; a
#: year outside 1900-2200 is a typing mistake that would make every building centuries old.
YEAR_RANGE = (1900, 2200)
CRITERIA = ("utilization", "capacity", "contribution")

#: Policies shipped with the planner: ``policies/`` in a checkout; an installed
#: package carries identical copies as ``planner/defaults/policy_<name>.toml``.
_REPO_POLICY_DIR = Path(__file__).resolve().parents[2] / "policies"
_PACKAGED = Path(__file__).resolve().parents[1] / "defaults"
POLICY_DIR = _REPO_POLICY_DIR if _REPO_POLICY_DIR.is_dir() else _PACKAGED


class _Invalid(ValueError):
    """Raised by ``__post_init__``; :func:`planner.config.from_dict` prefixes the key path."""


def _where_fail(msg: str) -> None:
    raise _Invalid(msg)


#: Placeholder location, replaced by ``"<file>: "`` so keys read ``x.toml: criteria.utilization...``.
_HERE = "\x00here"


def _check_codes(codes: tuple[str, ...], what: str) -> None:
    bad = [c for c in codes if not isinstance(c, str) or not c.strip()]
    if bad:
        _where_fail(f"{what}: codes are non-empty text (e.g. \"06\", \"1001\"), got {bad}")


def matches_codes(codes, prefixes: tuple[str, ...]):
    """Mask of source codes that start with one of ``prefixes`` (a pandas Series of text in, numpy bool out).

    Examples
    --------
    >>> import pandas as pd
    >>> matches_codes(pd.Series(["100101", "1101", None, "06"]), ("1001", "06")).tolist()
    [True, False, False, True]
    """
    import numpy as np
    import pandas as pd

    s = pd.Series(codes).astype("string").str.strip()
    if not prefixes:
        return np.zeros(len(s), dtype=bool)
    hit = s.str.startswith(tuple(p.strip() for p in prefixes))
    return hit.fillna(False).to_numpy(dtype=bool)


def _check_threshold(threshold: float | None, percentile: float | None, what: str) -> None:
    if (threshold is None) == (percentile is None):
        _where_fail(f"{what}give exactly one of 'threshold' (absolute value) or 'percentile' (0-100 of in-scope parcels)")
    if threshold is not None and not math.isfinite(threshold):
        _where_fail(f"{what}threshold: must be a finite number, got {threshold!r}")
    if percentile is not None and not 0.0 <= percentile <= 100.0:
        _where_fail(f"{what}percentile: must be between 0 and 100, got {percentile!r}")


@dataclass(frozen=True)
class Override:
    """A threshold that replaces the rule's own for some industries or land uses.

    Industry overrides win over land-use overrides; among overrides of the same
    kind, the first listed that matches wins. A ``percentile`` override is
    taken over the in-scope parcels that the override matches.

    Parameters
    ----------
    industry : tuple of str
        GB/T 4754 division codes (``"17"`` textiles, ...).
    land_use : tuple of str
        Normalized land-use classes (``"warehouse"``, ...).
    land_use_code : tuple of str
        Source land-use codes (``land_use_code`` as delivered), matched by
        prefix: ``"1001"`` matches ``100101``-``100103``.
    threshold, percentile : float, optional
        Exactly one of them.
    source : str
        Where the value comes from.
    """

    industry: tuple[str, ...] = ()
    land_use: tuple[str, ...] = ()
    land_use_code: tuple[str, ...] = ()
    threshold: float | None = None
    percentile: float | None = None
    source: str = ""

    def __post_init__(self) -> None:
        if sum(map(bool, (self.industry, self.land_use, self.land_use_code))) != 1:
            _where_fail("give exactly one of 'industry', 'land_use' or 'land_use_code' (a list of codes/classes)")
        _check_codes(self.land_use_code, "land_use_code")
        bad = [u for u in self.land_use if u not in LAND_USE_CLASSES]
        if bad:
            _where_fail(f"land_use: {bad} not in {list(LAND_USE_CLASSES)}")
        _check_threshold(self.threshold, self.percentile, "")


@dataclass(frozen=True)
class Rule:
    """One indicator test: ``indicator comparison threshold`` makes the rule low.

    Parameters
    ----------
    indicator : str
        One of :data:`INDICATOR_NAMES`.
    comparison : {"<", "<=", ">", ">="}
        The parcel is low when ``value comparison threshold`` holds.
    threshold : float, optional
        Absolute threshold in the indicator's unit.
    percentile : float, optional
        Threshold at this percentile (0-100) of the in-scope parcels with a value.
    overrides : tuple of Override
        Per-industry or per-land-use thresholds.
    source : str
        Where the default comes from (shown by ``planner policy show``).
    """

    indicator: str
    comparison: Comparison = "<"
    threshold: float | None = None
    percentile: float | None = None
    overrides: tuple[Override, ...] = ()
    source: str = ""

    def __post_init__(self) -> None:
        if self.indicator not in INDICATOR_NAMES:
            _where_fail(f"indicator: {self.indicator!r} is not one of {list(INDICATOR_NAMES)}")
        _check_threshold(self.threshold, self.percentile, "")


@dataclass(frozen=True)
class StatusRule:
    """Parcels whose ``status`` is in ``statuses`` are low, with the status as the reason.

    A status rule only ever makes a criterion low: a parcel "in use" is not
    thereby known to be well used, so a non-matching status does not count as
    an evaluated rule (the criterion stays unknown if nothing else is known).
    """

    statuses: tuple[str, ...]
    source: str = ""

    def __post_init__(self) -> None:
        bad = [s for s in self.statuses if s not in STATUSES]
        if bad or not self.statuses:
            _where_fail(f"statuses: {bad or '[]'} must be a non-empty list of {list(STATUSES)}")


@dataclass(frozen=True)
class Criterion:
    """The rules of one criterion and how they combine.

    ``combine = "any"``: low if any rule (or status rule) is low, ok if none is
    low and at least one rule was evaluated, otherwise unknown.
    ``combine = "all"``: low if a status rule is low or every rule is low; ok
    if some rule is ok; otherwise unknown.
    """

    rules: tuple[Rule, ...] = ()
    status_rules: tuple[StatusRule, ...] = ()
    combine: Literal["any", "all"] = "any"


@dataclass(frozen=True)
class Criteria:
    """The three criteria of "three-low" land (三低: 低利用率, 低产能, 低贡献)."""

    utilization: Criterion = field(default_factory=Criterion)
    capacity: Criterion = field(default_factory=Criterion)
    contribution: Criterion = field(default_factory=Criterion)

    def items(self) -> list[tuple[str, Criterion]]:
        return [(n, getattr(self, n)) for n in CRITERIA]


@dataclass(frozen=True)
class UpgradeClasses:
    """Quanzhou upgrade classes by an indicator (default tax per mu, CNY/mu).

    ``value < redevelop_below``: "redevelop"; up to ``retain_from``: "upgrade"
    (in place); ``value >= retain_from``: "retain"; missing: "unknown".
    """

    indicator: str = "tax_per_mu"
    redevelop_below: float = 50_000.0
    retain_from: float = 200_000.0
    source: str = ""

    def __post_init__(self) -> None:
        if self.indicator not in INDICATOR_NAMES:
            _where_fail(f"indicator: {self.indicator!r} is not one of {list(INDICATOR_NAMES)}")
        check_number("redevelop_below", self.redevelop_below)  # NaN would make every parcel "unknown" or "retain"
        check_number("retain_from", self.retain_from)
        if not self.redevelop_below <= self.retain_from:
            _where_fail(f"redevelop_below ({self.redevelop_below}) must not exceed retain_from ({self.retain_from})")


@dataclass(frozen=True)
class Grade:
    """Composite per-mu grade A-D.

    Each indicator's percentile rank among in-scope parcels (higher is better)
    is weighted; weights are renormalized per parcel over the indicators it
    has. Parcels are ranked by the score: the top ``shares[0]`` get A, down to
    ``shares[1]`` B, down to ``shares[2]`` C, the rest D. No indicator: no grade.
    ``substitutes`` (indicator -> indicator): when no in-scope parcel has the
    first (e.g. ``tax_per_energy`` without an enterprise table's energy use),
    its weight goes to the second (``plot_ratio``).
    """

    enabled: bool = True
    weights: dict[str, float] = field(default_factory=lambda: {"tax_per_mu": 45.0, "output_per_mu": 35.0, "plot_ratio": 20.0})
    shares: tuple[float, ...] = (0.20, 0.60, 0.95)
    substitutes: dict[str, str] = field(default_factory=dict)
    source: str = ""

    def __post_init__(self) -> None:
        bad = [k for k in self.weights if k not in INDICATOR_NAMES]
        if bad:
            _where_fail(f"weights: {bad} not in {list(INDICATOR_NAMES)}")
        bad = [f"{k} -> {v}" for k, v in self.substitutes.items() if k not in INDICATOR_NAMES or v not in INDICATOR_NAMES]
        if bad:
            _where_fail(f"substitutes: {bad}: both sides must be in {list(INDICATOR_NAMES)}")
        for k, w in self.weights.items():  # a NaN weight left 14,593 of 20,000 parcels with no grade
            check_number(f"weights.{k}", w, low=0, high=MAX_GRADE_WEIGHT, zh_unit="（评级权重）")
        if self.enabled and not any(w > 0 for w in self.weights.values()):
            _where_fail("weights: must be >= 0 with at least one > 0")
        s = tuple(self.shares)
        if len(s) != 3 or not 0 <= s[0] <= s[1] <= s[2] <= 1:
            _where_fail(f"shares: three increasing cumulative shares in [0, 1] for A, B, C expected, got {list(s)}")


@dataclass(frozen=True)
class Policy:
    """A complete three-low policy.

    Parameters
    ----------
    name, description : str
        Identification (the name keys the workspace flags layer).
    land_uses : tuple of str
        Normalized land-use classes in scope; other parcels are "n/a".
    land_use_codes : tuple of str
        Source land-use codes in scope as well (prefixes of ``land_use_code``
        as delivered, e.g. ``["06"]`` for MapPLUTO's industrial lots or
        ``["1001"]`` for 国土空间 industrial land): a parcel is in scope when
        its class is in ``land_uses`` or its code matches one of these.
    min_criteria : int
        Number of low criteria (1-3) that make a parcel three-low.
    reference_year : int, optional
        Year for ``years_since_built`` (default: the current year).
    criteria, upgrade, grade
        See :class:`Criteria`, :class:`UpgradeClasses`, :class:`Grade`.
    sites : dict, optional
        The policy file's ``[sites]`` table: site-assembly parameters
        (:class:`planner.sites.SiteParams`), checked on load. Classification
        does not use it; :func:`site_params` reads it.
    """

    name: str = "default"
    description: str = ""
    land_uses: tuple[str, ...] = ("industrial", "warehouse")
    land_use_codes: tuple[str, ...] = ()
    min_criteria: int = 2
    reference_year: int | None = None
    criteria: Criteria = field(default_factory=Criteria)
    upgrade: UpgradeClasses = field(default_factory=UpgradeClasses)
    grade: Grade = field(default_factory=Grade)
    sites: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():  # the name keys flags/<name> and policy/<name>
            msg = f"name: a policy needs a name (it names its flags layer and saved policy), got {self.name!r}"
            raise SettingError(msg, zh=f"name：识别规则须有名称（用于命名识别结果和保存的规则），现为 {self.name!r}")
        if self.reference_year is not None and not YEAR_RANGE[0] <= self.reference_year <= YEAR_RANGE[1]:
            msg = f"reference_year: must be a year from {YEAR_RANGE[0]} to {YEAR_RANGE[1]}, got {self.reference_year}"
            raise SettingError(msg, zh=f"reference_year：须为 {YEAR_RANGE[0]} 至 {YEAR_RANGE[1]} 之间的年份，现为 {self.reference_year}")
        if not 1 <= self.min_criteria <= 3:
            _where_fail(f"min_criteria: must be 1, 2 or 3, got {self.min_criteria}")
        bad = [u for u in self.land_uses if u not in LAND_USE_CLASSES]
        if bad:
            _where_fail(f"land_uses: {bad} not in {list(LAND_USE_CLASSES)}")
        _check_codes(self.land_use_codes, "land_use_codes")
        if self.sites is not None:
            site_params(self, where=_HERE)  # a bad [sites] key fails on load, naming the key


def site_params(policy: Policy, *, where: str = "policy"):
    """The site parameters of the policy's ``[sites]`` table (defaults where it has none).

    Examples
    --------
    >>> p = from_dict({"sites": {"gap_m": 5}})
    >>> site_params(p).gap_m
    5.0
    """
    # sites sit after classify; only their parameter record is used here
    from planner.sites.params import SiteParams

    return SiteParams.from_dict(config.to_dict(policy.sites or {}), where=f"{where}.sites")


def from_dict(data: dict, *, where: str = "policy") -> Policy:
    """Build and validate a :class:`Policy` from a dict (as read from TOML/JSON).

    Raises
    ------
    ConfigError
        Naming ``where`` and the key path, e.g. ``x.toml: criteria.utilization.rules[0].comparison: ...``.
    """
    try:
        return config.from_dict(Policy, data, where=_HERE)
    except ConfigError as exc:
        def here(text: str) -> str:
            return text.replace(_HERE + ".", f"{where}: ").replace(_HERE + "：", f"{where}：").replace(_HERE, where)

        raise ConfigError(here(str(exc)), zh=here(exc.zh) if exc.zh else None) from None


def from_toml(text: str, *, where: str = "policy") -> Policy:
    """Build a policy from TOML text."""
    import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = f"{where}: not valid TOML: {exc}"
        raise ConfigError(msg) from exc
    return from_dict(data, where=where)


def load_policy(path: str | Path | None = None) -> Policy:
    """Load a policy file; ``None`` or a bare name (``"default"``) looks in ``policies/``.

    Keys are reported relative to the file: ``policies/x.toml: criteria.utilization...``.
    """
    p = policy_path(path)
    data = config.load_file(p)
    return from_dict(data, where=str(p))


def _shipped(name: str) -> Path:
    if POLICY_DIR == _PACKAGED:
        return _PACKAGED / f"policy_{name}.toml"
    return POLICY_DIR / f"{name}.toml"


def shipped_policy_names() -> list[str]:
    """Names of the policies shipped with the planner (``policies/NAME.toml``): what a NAME means when the
    workspace has saved none of that name."""
    if POLICY_DIR == _PACKAGED:
        return sorted(p.stem.removeprefix("policy_") for p in _PACKAGED.glob("policy_*.toml"))
    return sorted(p.stem for p in POLICY_DIR.glob("*.toml"))


def policy_path(path: str | Path | None) -> Path:
    """The file a policy argument names.

    ``None`` names the shipped default; a bare name with no such file here
    (``"strict"``) names that shipped policy; anything else is that path.
    """
    if path is None:
        return _shipped("default")
    p = Path(path)
    if not p.exists() and p.suffix == "" and _shipped(p.name).exists():
        return _shipped(p.name)
    return p


def default_policy() -> Policy:
    """The shipped default policy (``policies/default.toml``), or the dataclass defaults' twin."""
    return load_policy(None)


#: Keys added after policies were first stored: left out while empty, so the hash of an older policy holds.
_NEW_EMPTY = ("land_use_codes", "land_use_code", "substitutes")


def _drop_new_empty(obj):
    if isinstance(obj, dict):
        return {k: _drop_new_empty(v) for k, v in obj.items() if not (k in _NEW_EMPTY and not v)}
    if isinstance(obj, list):
        return [_drop_new_empty(v) for v in obj]
    return obj


def policy_to_dict(policy: Policy) -> dict:
    """Plain dict of a policy (inverse of :func:`from_dict`); ``None`` values dropped."""
    return _drop_new_empty(config._drop_none(config.to_dict(policy)))


def dumps(policy: Policy) -> str:
    """TOML text of a policy (without comments; see ``policies/default.toml`` for sources)."""
    return config.dumps_toml(policy_to_dict(policy))


def canonical_json(policy: Policy) -> str:
    """Canonical JSON (sorted keys, no spaces) of a policy."""
    return json.dumps(policy_to_dict(policy), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def policy_hash(policy: Policy) -> str:
    """Stable SHA-256 of the policy's canonical JSON (independent of comments and key order)."""
    return sha256_text(canonical_json(policy))


def describe(policy: Policy, lang: str = "en") -> str:
    """Readable listing of the effective rules with their sources (``planner policy show``)."""
    from planner.classify.indicators import INDICATORS

    zh = lang == "zh"
    lines = [f"policy {policy.name!r}  hash {policy_hash(policy)[:12]}"]
    if policy.description:
        lines.append(f"  {policy.description}")
    lines.append(f"  land uses in scope: {', '.join(policy.land_uses) or '(no class)'}"
                 + (f"; source codes {', '.join(policy.land_use_codes)}*" if policy.land_use_codes else ""))
    lines.append(f"  three-low when at least {policy.min_criteria} of 3 criteria are low")
    for cname, crit in policy.criteria.items():
        lines.append(f"  [{cname}] combine={crit.combine}")
        for i, r in enumerate(crit.rules):
            ind = INDICATORS[r.indicator]
            lab = ind.zh if zh else ind.en
            thr = f"{r.threshold:g}" if r.threshold is not None else f"P{r.percentile:g} of in-scope parcels"
            lines.append(f"    rules[{i}]: {lab} {r.comparison} {thr}" + (f"   -- {r.source}" if r.source else ""))
            for o in r.overrides:
                who = (f"industry {list(o.industry)}" if o.industry else f"land use {list(o.land_use)}" if o.land_use
                       else f"land-use code {list(o.land_use_code)}")
                othr = f"{o.threshold:g}" if o.threshold is not None else f"P{o.percentile:g}"
                lines.append(f"      override {who}: {othr}" + (f"   -- {o.source}" if o.source else ""))
        for i, s in enumerate(crit.status_rules):
            lines.append(f"    status_rules[{i}]: status in {list(s.statuses)}" + (f"   -- {s.source}" if s.source else ""))
    u = policy.upgrade
    lines.append(f"  upgrade classes by {u.indicator}: < {u.redevelop_below:g} redevelop, "
                 f"< {u.retain_from:g} upgrade in place, >= {u.retain_from:g} retain" + (f"   -- {u.source}" if u.source else ""))
    g = policy.grade
    if g.enabled:
        w = ", ".join(f"{k} {v:g}" for k, v in g.weights.items())
        sub = "; " + ", ".join(f"{v} stands in for {k} when no parcel has it" for k, v in g.substitutes.items()) \
            if g.substitutes else ""
        lines.append(f"  grade A-D: weights {w}{sub}; cumulative shares {list(g.shares)}"
                     + (f"   -- {g.source}" if g.source else ""))
    return "\n".join(lines)


__all__ = [
    "CRITERIA",
    "INDICATOR_NAMES",
    "Criteria",
    "Criterion",
    "Grade",
    "Override",
    "Policy",
    "Rule",
    "StatusRule",
    "UpgradeClasses",
    "canonical_json",
    "default_policy",
    "describe",
    "dumps",
    "from_dict",
    "from_toml",
    "load_policy",
    "matches_codes",
    "policy_hash",
    "policy_to_dict",
    "site_params",
]
