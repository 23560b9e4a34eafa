"""Sites and scenario results for the scenario and comparison pages (cached where heavy)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from planner import scenarios
from planner.report import text as report_text
from planner.ui import data
from planner.ui.state import lang, tr

#: Key figures: (totals name, i18n key, divisor, format).
KEY_FIGURES = (
    ("existing_floor_m2", "floor_before", 1e4, "{:,.1f}"),
    ("floor_after_m2", "floor_after", 1e4, "{:,.1f}"),
    ("new_floor_m2", "new_floor", 1e4, "{:,.1f}"),
    ("enterprises_housed", "enterprises", 1, "{:,.0f}"),
    ("jobs_after", "jobs", 1, "{:,.0f}"),
    ("tax_after_cny", "tax", 1e8, "{:,.2f}"),
    ("investment_cny", "investment", 1e8, "{:,.2f}"),
    ("payback_years", "payback", 1, "{:,.1f}"),
)


def current_sites(path: str, policy: dict | None):
    """The sites of this session (Sites page, with edits), else built with default settings."""
    res = st.session_state.get("site_result")
    if res is not None:
        return res
    return data.site_result(path, policy, {}, True)


def run_scenario(path: str, policy: dict | None, site_result, scenario):
    """Run a scenario on the current sites, with the parcel rollup (retention, baselines)."""
    parcels = data.classified(path, policy)
    rollup = scenarios.parcel_rollup(site_result.parcel_sites, parcels)
    return scenarios.run(site_result.sites, scenario, rollup=rollup)


def key_figures(totals: pd.Series, base: pd.Series | None = None) -> None:
    """A row of st.metric for the key figures (with the difference from ``base``)."""
    cols = st.columns(4) + st.columns(4)
    for col, (k, label, div, fmt) in zip(cols, KEY_FIGURES, strict=True):
        v = totals.get(k, np.nan)
        text = fmt.format(v / div) if pd.notna(v) and np.isfinite(v) else "—"
        delta = None
        if base is not None and pd.notna(base.get(k)) and pd.notna(v):
            delta = fmt.format((v - base[k]) / div)
        col.metric(tr(label), text, delta, delta_color="off" if k == "payback_years" else "normal", border=True)


def figure_label(key: str) -> str:
    """Label (with unit) of a scenario figure or timeline metric, from the report's table."""
    return report_text.label(key, lang())


def comparison_table(cmp, names: list[str]) -> pd.DataFrame:
    """The comparison table as text: figure labels, values in 万/亿 (zh) or k/M/bn (en), differences in %."""
    tab = cmp.table
    out = pd.DataFrame({tr("cmp_figure"): [figure_label(k) for k in tab.index]})
    for c in tab.columns:
        v = pd.to_numeric(tab[c], errors="coerce")
        if str(c).endswith("%"):
            text = [("—" if not np.isfinite(x) else f"{x:+.1f}%") for x in v.astype(float)]
            n, _, b = str(c)[:-1].strip().partition(" vs ")
            head = tr("cmp_pct_col", n=n, base=b)
        else:
            text = [report_text.fmt(x, k, lang()) if np.isfinite(x) else "—" for x, k in zip(v.astype(float), tab.index,
                                                                                  strict=True)]
            n, sep, b = str(c).partition(" - ")
            head = str(c) if str(c) in names or not sep else tr("cmp_diff_col", n=n, base=b)
        out[head] = text
    return out
