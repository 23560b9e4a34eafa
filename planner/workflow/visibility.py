"""Enterprise figures only for the roles allowed them (``see_enterprise_figures``).

Tax and output come from the tax bureau per enterprise; a role without the
permission (by default the decision-maker, :data:`~planner.workflow.permissions.ENTERPRISE_FIGURES_ROLES`)
sees neither them nor what is computed from them per parcel, enterprise or
site: the columns are left out of parcel tables, map tooltips and colourings,
the numbers are taken out of the three-low reasons ("亩均税收 41378 < 50000"
becomes "亩均税收低于标准（数值不可见）"), and per-site and scenario figures that
start from them (tax and output before and after) are blanked; figures that
come from the park templates alone (new tax per m² of new floor) stay. The
flags themselves (low contribution yes / no) stay: they are the policy's
verdict, not a figure. The app and the reports say when figures are hidden.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from planner.workflow.permissions import may

#: Per-parcel columns that are enterprise figures or derived from them.
PARCEL_FIGURES = ("output_cny", "tax_cny", "output_per_mu", "tax_per_mu", "tax_per_energy", "energy_tce", "grade")
#: Scenario and site figures that start from the enterprises' tax and output.
RESULT_FIGURES = ("output_before_cny", "output_after_cny", "tax_before_cny", "tax_after_cny", "tax_gain_cny",
                  "fiscal_payback_years", "output_cny", "tax_cny")
_REASON = {
    "reason_zh": (re.compile(r"(亩均税收|亩均产值)\s*[-\d.,eE+]+\s*[<>≤≥]=?\s*[-\d.,eE+]+"), r"\1低于标准（数值不可见）"),
    "reason_en": (re.compile(r"(tax per mu|output per mu)\s*[-\d.,eE+]+\s*[<>≤≥]=?\s*[-\d.,eE+]+"),
                  r"\1 below the standard (figure hidden)"),
}


def figures_visible(store=None) -> bool:
    """Whether whoever acts on ``store`` may see enterprise tax and output."""
    return may("see_enterprise_figures", store)


def hide_parcel_figures(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` without the enterprise figures: their columns dropped, the numbers taken out of the reasons."""
    out = df.drop(columns=[c for c in PARCEL_FIGURES if c in df.columns])
    for col, (pat, repl) in _REASON.items():
        if col in out.columns:
            out[col] = out[col].astype("string").str.replace(pat, repl, regex=True)
    return out


def blank_result_figures(df):
    """A copy of a result table or totals with the figures that start from enterprise data set to NaN."""
    if isinstance(df, pd.Series):
        out = df.copy()
        for k in RESULT_FIGURES:
            if k in out.index:
                out[k] = np.nan
        return out
    out = df.copy()
    for c in RESULT_FIGURES:
        if c in out.columns:
            out[c] = np.nan
    return out


__all__ = ["PARCEL_FIGURES", "RESULT_FIGURES", "blank_result_figures", "figures_visible", "hide_parcel_figures"]
