"""Enterprise figures only for the roles allowed them (``see_enterprise_figures``).

Tax and output come from the tax bureau per enterprise; a role without the
permission (by default the decision-maker, :data:`~planner.workflow.permissions.ENTERPRISE_FIGURES_ROLES`)
sees neither them nor what is computed from them per parcel, enterprise or
site: the columns are left out of parcel tables, map tooltips and colourings,
the numbers are taken out of the three-low reasons ("亩均税收 41378 < 50000"
becomes "亩均税收低于标准（数值不可见）"), and every tax or output figure of a
scenario is blanked - per site, per year and in the totals, before and after,
per mu, cumulative, and the payback that counts the tax gain - and so in the
comparison, the charts and every export made from them. The tax and output
of the new space (occupied floor x the template's rate) are blanked with the
rest: in a scenario that demolishes everything they are the "tax after" the
summary hides, and with the retained enterprises' tax in it they would give
it away (tax per mu after x land area = tax after). The flags themselves (low
contribution yes / no) stay: they are the policy's verdict, not a figure. The
app and the reports say when figures are hidden.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from planner.workflow.permissions import may

#: Per-parcel columns that are enterprise figures or derived from them.
PARCEL_FIGURES = ("output_cny", "tax_cny", "output_per_mu", "tax_per_mu", "tax_per_energy", "energy_tce", "grade")
#: Scenario and site figures (per site, per year, totals) computed from tax or output.
RESULT_FIGURES = ("output_before_cny", "output_after_cny", "tax_before_cny", "tax_after_cny", "tax_gain_cny",
                  "tax_per_mu_after", "output_per_mu_after", "tax_new_cny", "output_new_cny", "cum_tax_new_cny",
                  "cum_output_new_cny", "fiscal_payback_years", "output_cny", "tax_cny", "output_per_mu",
                  "tax_per_mu")
#: A result column with one of these words in its name (``tax_..._cny``) is a figure of the same kind, whether
#: or not it is listed above: a new column computed from tax or output is hidden from its first day.
_FIGURE_WORDS = frozenset({"tax", "output", "fiscal"})
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


def is_result_figure(name) -> bool:
    """Whether a result column (or totals entry) is tax or output, or is computed from them.

    Examples
    --------
    >>> [is_result_figure(c) for c in ("tax_per_mu_after", "cum_tax_new_cny", "fiscal_payback_years", "rent_cny")]
    [True, True, True, False]
    """
    return name in RESULT_FIGURES or bool(_FIGURE_WORDS.intersection(str(name).split("_")))


def blank_result_figures(df):
    """A copy of a result table (sites, timeline) or totals with every tax and output figure set to NaN."""
    if isinstance(df, pd.Series):
        out = df.copy()
        hit = [k for k in out.index if is_result_figure(k)]
        out.loc[hit] = np.nan
        return out
    out = df.copy()
    for c in [c for c in out.columns if is_result_figure(c)]:
        out[c] = np.nan
    return out


def hide_sensitivity_figures(table: pd.DataFrame) -> pd.DataFrame:
    """A sensitivity table (:func:`planner.scenarios.sensitivity.sensitivity`) without what starts from enterprise
    tax or output: the rows of parameters that are such figures (``tax_per_mu``) and every output column of one
    (``fiscal_payback_years_low``, ``tax_after_cny_high``...).

    Examples
    --------
    >>> t = pd.DataFrame({"parameter": ["rent_per_m2_month", "tax_per_mu"], "payback_years_high": [1.0, 2.0],
    ...                   "fiscal_payback_years_high": [3.0, 4.0]})
    >>> hide_sensitivity_figures(t).to_dict("list")
    {'parameter': ['rent_per_m2_month'], 'payback_years_high': [1.0]}
    """
    out = table[[not is_result_figure(p) for p in table["parameter"]]] if "parameter" in table.columns else table
    out = out[[c for c in out.columns if c == "parameter" or not is_result_figure(c)]]
    return out.reset_index(drop=True)


def blank_result(result, note: str | None = None):
    """A scenario result (:class:`planner.scenarios.ScenarioResult`) with its tax and output figures blanked in
    the sites, the timeline and the totals: what a role without ``see_enterprise_figures`` is given. ``note``
    (that figures are hidden, and for which role) is added to the scenario's description, which the reports print."""
    import dataclasses

    from planner.scenarios.model import replace

    sc, prov = result.scenario, dict(result.provenance or {})
    if note:
        sc = replace(sc, description=" ".join(x for x in (sc.description, note) if x))
        prov["figures_hidden"] = note  # what a comparison report of it says (:func:`hidden_note`)
    return dataclasses.replace(result, scenario=sc, provenance=prov, sites=blank_result_figures(result.sites),
                               timeline=blank_result_figures(result.timeline),
                               totals=blank_result_figures(result.totals))


def hidden_note(results) -> str:
    """Why figures are blank in these results ("hidden for your role"), as :func:`blank_result` noted it; "" when
    none is blanked. A comparison report prints it (its scenarios' descriptions are not in it)."""
    return next((r.provenance["figures_hidden"] for r in results if (r.provenance or {}).get("figures_hidden")), "")


__all__ = ["PARCEL_FIGURES", "RESULT_FIGURES", "blank_result", "blank_result_figures", "figures_visible",
           "hidden_note", "hide_parcel_figures", "hide_sensitivity_figures", "is_result_figure"]
