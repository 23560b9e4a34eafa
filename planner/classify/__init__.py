"""Three-low classification (三低识别): indicators, the policy, flags with reasons, sensitivity.

- :mod:`~planner.classify.indicators`: plot ratio, coverage, output and tax per mu, ...
- :mod:`~planner.classify.policy`: the rules and thresholds (a validated policy file);
- :mod:`~planner.classify.flags`: flags, reasons, upgrade classes and grades under a policy;
- :mod:`~planner.classify.sensitivity`: how the flagged count moves with a threshold.
"""

from planner.classify.flags import (
    FLAG_STATES,
    GRADES,
    UPGRADE_CLASSES,
    Evaluation,
    classify,
    evaluate,
    grade,
    reason_columns,
    reasons,
    resolve_percentiles,
    rule_thresholds,
    summary,
    upgrade_class,
)

__all__ = ["FLAG_STATES", "GRADES", "UPGRADE_CLASSES", "Evaluation", "classify", "evaluate", "grade", "reason_columns",
           "reasons", "resolve_percentiles", "rule_thresholds", "summary", "upgrade_class"]
