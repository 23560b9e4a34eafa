"""Widgets of the map explorer: summary metrics, attribute filters, the parcel detail panel."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import streamlit as st

from planner import schema
from planner.i18n import STRINGS, column_label
from planner.ui.state import lang, md_text, tr
from planner.ui.tables import format_value

CLASS_KEYS = ("three_low", "partial", "ok", "unknown")
UPGRADE_KEYS = ("retain", "upgrade", "redevelop", "unknown")
INDICATORS = ("plot_ratio", "coverage", "output_per_mu", "tax_per_mu", "employees_per_ha", "far_gap",
              "floor_potential_m2", "years_since_built", "land_area_m2", "floor_area_m2")
FLAG_COLS = ("low_utilization", "low_capacity", "low_contribution", "n_low", "n_unknown", "three_low",
             "upgrade_class", "grade")


def field_label(c: str) -> str:
    """Label of a schema column or an indicator in the session language."""
    if f"ind_{c}" in STRINGS:
        return tr(f"ind_{c}")
    return column_label(c, lang())


def filter_positions(gdf: pd.DataFrame, *, land_use=(), classes=(), upgrade=(), area=None, owner="",
                     area_arr: np.ndarray | None = None) -> np.ndarray | None:
    """Positions of the rows passing the filters (None when no filter is active)."""
    from planner.maps import three_low_class

    mask = np.ones(len(gdf), dtype=bool)
    active = False
    if land_use:
        mask &= gdf["land_use"].astype(str).isin(land_use).to_numpy()
        active = True
    if classes:
        mask &= three_low_class(gdf).isin(classes).to_numpy()
        active = True
    if upgrade and "upgrade_class" in gdf.columns:
        mask &= gdf["upgrade_class"].astype(str).isin(upgrade).to_numpy()
        active = True
    if area is not None and area_arr is not None:
        lo, hi = area
        if lo > 0 or hi < np.nanmax(area_arr, initial=0):
            mask &= (area_arr >= lo) & (area_arr <= hi)
            active = True
    if owner and owner.strip():
        q = owner.strip()
        hit = np.zeros(len(gdf), dtype=bool)
        for c in ("owner", "enterprise"):
            if c in gdf.columns:
                hit |= gdf[c].astype("string").str.contains(q, case=False, regex=False).fillna(False).to_numpy()
        mask &= hit
        active = True
    return np.flatnonzero(mask) if active else None


def hectares(m2: float) -> str:
    """Land in hectares as a metric card shows it: a decimal only below 1,000 ha (a 1280 px page cut
    "18,068.5" to "18,06…" in a fifth of its width)."""
    ha = float(m2) / 1e4
    return f"{ha:,.0f}" if abs(ha) >= 1000 else f"{ha:,.1f}"


def summary_metrics(gdf: pd.DataFrame) -> None:
    """Row of st.metric: parcels, land, three-low parcels and land, unknown."""
    cols = st.columns(5)
    land = pd.to_numeric(gdf.get("land_area_m2"), errors="coerce")
    cols[0].metric(tr("m_parcels"), f"{len(gdf):,}", border=True)
    cols[1].metric(tr("m_land"), hectares(np.nansum(land)), border=True)
    if "three_low" in gdf.columns:
        tl = gdf["three_low"].fillna(False).astype(bool)
        cols[2].metric(tr("m_three_low"), f"{int(tl.sum()):,}", f"{tl.mean():.1%}", delta_color="off",
                       delta_arrow="off", border=True)
        cols[3].metric(tr("m_three_low_land"), hectares(np.nansum(land[tl])),
                       f"{np.nansum(land[tl]) / max(np.nansum(land), 1):.1%}", delta_color="off",
                       delta_arrow="off", border=True)
    if "n_unknown" in gdf.columns:
        unk = (pd.to_numeric(gdf["n_unknown"], errors="coerce").fillna(0) > 0) & ~gdf["three_low"].fillna(False).astype(bool)
        cols[4].metric(tr("m_unknown"), f"{int(unk.sum()):,}", border=True)


def _thousands(text: str) -> str:
    """Thousands separators in the numbers of a reason text (``111492 < 231986`` -> ``111,492 < 231,986``)."""
    return re.sub(r"(?<![\d.,])\d{5,}(?:\.\d+)?", lambda m: f"{float(m.group()):,.{len(m.group().partition('.')[2])}f}",
                  text)


def detail_table(rows: list[tuple[str, str]]) -> str:
    """A two-column Markdown table (item, value) whose cells show survey text literally.

    The parcel details are Markdown, not ``st.dataframe``: the data grid's
    browser code (1.3 MB of scripts) would load in each new tab on the first
    click or search, and the map waited for it (1M city: a tab's first search
    2.4-3.1 s, then 0.5-0.9 s; with Markdown 1.9 s, then 0.4-0.6 s). Every
    cell is escaped (:func:`planner.ui.state.md_text`: no links, images,
    HTML or table breaks) and kept on one line.
    """
    def cell(v) -> str:
        return md_text(re.sub(r"[\r\n]+", " ", str(v)))

    lines = [f"| {cell(tr('item'))} | {cell(tr('value'))} |", "|---|---|"]
    lines += [f"| {cell(a)} | {cell(b)} |" for a, b in rows]
    return "\n".join(lines)


def parcel_detail(gdf: pd.DataFrame, pid: str, index=None, complete=None) -> None:
    """All attributes, indicators and the reasons for the flags of one parcel.

    ``index``: the layer index of ``gdf`` (same rows, same order); its id lookup finds the row without a scan.
    ``complete``: gives the row its reasons when ``gdf`` has none (:func:`planner.ui.data.reasons_for`).
    """
    if index is not None and len(index) == len(gdf):
        from planner.ui.data import positions_of

        hit = gdf.iloc[positions_of(index, pid)[:1]]
    else:
        hit = gdf[gdf["parcel_id"].astype(str) == str(pid)]
    if not len(hit):
        st.warning(tr("not_found", id=pid))
        return
    row = (complete(hit) if complete is not None else hit).iloc[0]
    st.subheader(tr("parcel_detail", id=pid))  # survey data: tr shows it as text, never as Markdown
    rc = "reason_en" if lang() == "en" else "reason_zh"
    if rc in row.index:
        st.markdown(f"**{tr('reasons')}**")
        text = row[rc]
        items = [_thousands(r) for r in str(text).split("; ") if r] if isinstance(text, str) and text else []
        if items:
            st.markdown("\n".join(f"- {r}" for r in items))
        else:
            st.caption(tr("no_reasons"))
    flags = [c for c in FLAG_COLS if c in row.index]
    if flags:
        st.markdown(f"**{tr('indicators')}**")
        ind = [c for c in ("land_area_mu", *INDICATORS) if c in row.index and c not in ("land_area_m2", "floor_area_m2")]
        st.markdown(detail_table([(field_label(c), format_value(c, row[c])) for c in flags + ind]))
    st.markdown(f"**{tr('attributes')}**")
    attrs = [c for c in schema.column_names() if c in row.index and c != "geometry"]
    extra = [c for c in row.index if c not in attrs and c not in flags and c != "geometry"
             and not c.startswith("reason") and c not in INDICATORS and c != "land_area_mu"]
    st.markdown(detail_table([(field_label(c), format_value(c, row[c])) for c in attrs + extra]))
