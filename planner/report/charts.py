"""Static charts and maps for reports (matplotlib, rendered to base64 PNG).

Uses :class:`matplotlib.figure.Figure` directly (no pyplot global state), so
it is safe in a multi-user Streamlit server. Chinese labels need a font with
CJK glyphs (Debian ``fonts-noto-cjk``: Noto Sans CJK SC); when none is found,
:func:`chart_lang` falls back to English labels.
"""

from __future__ import annotations

import base64
import functools
import io

import geopandas as gpd
import matplotlib
import numpy as np
import pandas as pd
from matplotlib import colors as mcolors
from matplotlib import font_manager, patheffects
from matplotlib import patches as mpatches
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from planner.report.text import fmt, label, tr

#: Font families tried for CJK text, best first.
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei",
             "SimHei", "Microsoft YaHei", "PingFang SC", "Noto Serif CJK SC")

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")


@functools.cache
def cjk_font() -> str | None:
    """Name of an installed font with CJK glyphs, or None."""
    names = {f.name for f in font_manager.fontManager.ttflist}
    return next((n for n in CJK_FONTS if n in names), None)


def chart_lang(lang: str) -> str:
    """The language charts can be labelled in: ``"zh"`` needs a CJK font, else English."""
    return "zh" if lang == "zh" and cjk_font() else "en"


def _rc(lang: str) -> dict:
    fam = [cjk_font()] if lang == "zh" and cjk_font() else []
    return {"font.family": "sans-serif", "font.sans-serif": [*fam, "DejaVu Sans"], "axes.unicode_minus": False,
            "font.size": 9}


def _png(fig: Figure, dpi: int = 110) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _yearly(fig: Figure, ax, key: str, chart_lang: str, lang: str) -> tuple[str, str]:
    """Finish a chart over calendar years (axis label ``key``, title ``key_title``): (title, PNG base64)."""
    ax.set_ylabel(tr(key, chart_lang))
    ax.set_title(tr(f"{key}_title", chart_lang))
    ax.legend(loc="upper left", frameon=False)
    ax.grid(axis="y", alpha=0.3)
    ax.xaxis.get_major_locator().set_params(integer=True)
    return tr(f"{key}_title", lang), _png(fig)


def _figure(lang: str, size=(7.5, 3.4)) -> Figure:
    with matplotlib.rc_context(_rc(lang)):
        fig = Figure(figsize=size)
    return fig


def timeline_charts(tl: pd.DataFrame, lang: str) -> list[tuple[str, str]]:
    """(title, base64 PNG) for the floor-area and money charts of one scenario."""
    cl = chart_lang(lang)
    out = []
    with matplotlib.rc_context(_rc(cl)):
        fig = Figure(figsize=(7.5, 3.4))
        ax = fig.subplots()
        yrs = tl.index.to_numpy()
        ax.bar(yrs, tl["under_construction_m2"] / 1e4, color="#fdae6b", label=tr("legend_under", cl))
        ax.plot(yrs, tl["delivered_m2"] / 1e4, color="#1f77b4", marker="o", ms=3, label=tr("legend_delivered", cl))
        ax.plot(yrs, tl["occupied_m2"] / 1e4, color="#2ca02c", marker="s", ms=3, label=tr("legend_occupied", cl))
        out.append(_yearly(fig, ax, "chart_floor", cl, lang))

        fig = Figure(figsize=(7.5, 3.4))
        ax = fig.subplots()
        w = 0.4
        ax.bar(yrs - w / 2, tl["investment_cny"] / 1e8, width=w, color="#9e9ac8", label=tr("legend_invest", cl))
        ax.bar(yrs + w / 2, (tl["rent_cny"]) / 1e8, width=w, color="#74c476", label=tr("legend_rent", cl))
        ax.plot(yrs, tl["tax_new_cny"] / 1e8, color="#d62728", marker="o", ms=3, label=tr("legend_tax", cl))
        out.append(_yearly(fig, ax, "chart_money", cl, lang))
    return out


def site_map(sites: gpd.GeoDataFrame, lang: str, *, column: str = "start_year", legend_key: str = "start_year_legend",
             background: gpd.GeoDataFrame | None = None) -> str | None:
    """Static map of the sites coloured by ``column`` (categorical); None without geometry."""
    if not isinstance(sites, gpd.GeoDataFrame) or getattr(sites, "_geometry_column_name", None) not in sites.columns \
            or len(sites) == 0 or sites.geometry.isna().all():
        return None
    cl = chart_lang(lang)
    with matplotlib.rc_context(_rc(cl)):
        fig = Figure(figsize=(7.5, 6.0))
        ax = fig.subplots()
        if background is not None and len(background):
            background.plot(ax=ax, facecolor="#f0f0f0", edgecolor="#d0d0d0", linewidth=0.2)
        vals = sites[column].astype(str).to_numpy()
        cats = sorted(set(vals))
        cmap = matplotlib.colormaps["viridis"].resampled(max(len(cats), 2))
        colors = {c: mcolors.to_hex(cmap(i / max(len(cats) - 1, 1))) for i, c in enumerate(cats)}
        fc = np.array([colors[v] for v in cats])[np.searchsorted(cats, vals)]
        sites.plot(ax=ax, color=fc, edgecolor="#333333", linewidth=0.3)
        if len(sites) <= 40:
            pts = sites.geometry.representative_point()
            halo = [patheffects.withStroke(linewidth=2, foreground="white")]
            for x, y, s in zip(pts.x, pts.y, sites["site_id"].astype(str), strict=True):
                ax.annotate(s, (x, y), fontsize=6, ha="center", va="center", color="#111111", path_effects=halo)
        handles = [mpatches.Patch(facecolor=colors[c], edgecolor="#333333", label=c)
                   for c in cats[:12]]
        ax.legend(handles=handles, title=tr(legend_key, cl), loc="best", fontsize=7, title_fontsize=8)
        ax.set_aspect("equal")
        ax.set_axis_off()
        x0, y0, x1, y1 = sites.total_bounds
        _scale_bar(ax, x0, y0, x1 - x0)
        return _png(fig)


def _scale_bar(ax, x0: float, y0: float, width: float) -> None:
    if not np.isfinite(width) or width <= 0:
        return
    target = width / 5
    mag = 10 ** np.floor(np.log10(target))
    length = max(v * mag for v in (1, 2, 5) if v * mag <= target)
    ax.plot([x0, x0 + length], [y0, y0], color="black", linewidth=2)
    ax.annotate(f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m", (x0 + length / 2, y0),
                xytext=(0, 3), textcoords="offset points", ha="center", fontsize=7)


def compare_charts(curves: pd.DataFrame, table: pd.DataFrame, names: list[str], lang: str) -> list[tuple[str, str]]:
    """Charts of a comparison: cumulative delivered floor area and investment, key-figure bars."""
    cl = chart_lang(lang)
    out = []
    with matplotlib.rc_context(_rc(cl)):
        for metric, key, scale, ylab in (("delivered_m2", "chart_cmp_floor", 1e4, "chart_floor"),
                                         ("cum_investment_cny", "chart_cmp_money", 1e8, "chart_money")):
            fig = Figure(figsize=(7.5, 3.4))
            ax = fig.subplots()
            sub = curves[curves["metric"] == metric]
            for i, n in enumerate(names):
                s = sub[sub["scenario"] == n]
                ax.plot(s["year"], s["value"] / scale, marker="o", ms=3, color=PALETTE[i % len(PALETTE)], label=n)
            ax.set_ylabel(tr(ylab, cl))
            ax.set_title(tr(key, cl))
            ax.legend(frameon=False)
            ax.grid(alpha=0.3)
            ax.xaxis.get_major_locator().set_params(integer=True)
            out.append((tr(key, lang), _png(fig)))

        figs = ["new_floor_m2", "enterprises_housed", "jobs_after", "tax_after_cny", "investment_cny"]
        fig = Figure(figsize=(7.5, 3.6))
        axes = fig.subplots(1, len(figs))
        for ax, f in zip(axes, figs, strict=True):
            vals = table.loc[f, names].to_numpy(float)
            ax.bar(range(len(names)), vals, color=[PALETTE[i % len(PALETTE)] for i in range(len(names))])
            ax.set_title(label(f, cl, unit=True), fontsize=7, wrap=True)
            ax.set_xticks(range(len(names)), [str(i + 1) for i in range(len(names))], fontsize=7)
            ax.tick_params(axis="y", labelsize=6)
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos, f=f: fmt(v, f, cl)))
        fig.legend(handles=[mpatches.Patch(color=PALETTE[i % len(PALETTE)], label=f"{i + 1} {n}")
                            for i, n in enumerate(names)], loc="lower center", ncol=min(len(names), 4),
                   frameon=False, fontsize=7)
        fig.subplots_adjust(bottom=0.22, wspace=0.6)
        out.append((tr("chart_cmp_bars", lang), _png(fig)))
    return out
