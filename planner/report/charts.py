"""Static charts and maps for the reports and briefs (matplotlib, rendered to PNG).

Chart text is in the report's language. Chinese needs a font with CJK glyphs
on the machine that draws the chart, whatever fonts it has: the package
depends on ``noto-cjk-sans-otc`` (Noto Sans CJK, SIL Open Font License, from
PyPI), registered here with matplotlib; an installed system CJK font is used
only when that package is missing. The same font is embedded in the PDF
briefs (:mod:`planner.report.pdf`).

Uses :class:`matplotlib.figure.Figure` directly (no pyplot global state), so
it is safe in a multi-user Streamlit server. Every chart comes back as a
:class:`Chart`: its title, the PNG and the text drawn in it (the alt text of
the HTML image, and what tests read).
"""

from __future__ import annotations

import base64
import functools
import io
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import geopandas as gpd
import matplotlib
import numpy as np
import pandas as pd
from matplotlib import font_manager, patheffects
from matplotlib import patches as mpatches
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from planner.report.text import counted, display_width, fmt, group_label, label, scaled, tr, unit_of

#: Font families tried for CJK text when the packaged font is missing, best first.
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei",
             "SimHei", "Microsoft YaHei", "PingFang SC")
#: The packaged CJK font: (distribution's import name, file, face of Simplified Chinese in the collection).
PACKAGED_FONT = ("noto_cjk_sans_otc", "NotoSansCJK-Regular.ttc", "Noto Sans CJK SC")

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
#: Colours of the floor-area parts: retained (grey), demolished (red), new (blue).
FLOOR_COLORS = {"retained_floor_m2": "#9e9e9e", "demolished_floor_m2": "#d6604d", "new_floor_m2": "#4393c3"}
#: Colours of the comparison map: in every scenario, only in the first, only in the second, ...
BOTH_COLOR = "#7b3294"
#: Colours of comparison-map groups of several (not all) scenarios: none is a scenario's own colour, so the 14
#: groups a legend names (:func:`category_map`) have 14 colours up to eight scenarios.
COMBO_COLORS = ("#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#dbdb8d", "#9edae5",
                "#bcbd22", "#17becf")
#: Colour of the categories a map's legend names together ("N more groups").
MORE_COLOR = "#bbbbbb"
#: Tallest frame of a map, as a multiple of its width.
TALLEST = 1.5
#: Most classes of start years on a scenario map; more years are grouped into ranges.
MAX_YEAR_CLASSES = 10


@dataclass
class Chart:
    """A rendered chart: title, PNG bytes and every text drawn in it."""

    title: str
    png: bytes
    texts: list[str] = field(default_factory=list)

    @property
    def b64(self) -> str:
        return base64.b64encode(self.png).decode("ascii")

    @property
    def alt(self) -> str:
        """Alt text: the title and the chart's own words (axis titles, legend, labels)."""
        seen = dict.fromkeys(t for t in [self.title, *self.texts] if t and t.strip())
        return " · ".join(seen)


@functools.cache
def packaged_font_file() -> Path | None:
    """The CJK font file shipped as a dependency (None when the package is not installed)."""
    mod, name, _face = PACKAGED_FONT
    try:
        p = Path(str(resources.files(mod) / name))
    except (ModuleNotFoundError, TypeError):
        return None
    return p if p.is_file() else None


@functools.cache
def cjk_font() -> str | None:
    """Family name of the CJK font charts use: the packaged Noto Sans CJK SC, else an installed one, else None."""
    p = packaged_font_file()
    if p is not None:
        font_manager.fontManager.addfont(str(p))  # every face of the collection: JP, KR, SC, TC, HK
        return PACKAGED_FONT[2]
    names = {f.name for f in font_manager.fontManager.ttflist}
    return next((n for n in CJK_FONTS if n in names), None)


def cjk_font_face() -> tuple[Path, int] | None:
    """(file, face index) of the CJK font, for embedding in a PDF; None without one."""
    fam = cjk_font()
    if fam is None:
        return None
    for f in font_manager.fontManager.ttflist:
        if f.name == fam and f.style == "normal" and (packaged_font_file() is None or Path(f.fname) == packaged_font_file()):
            return Path(f.fname), int(getattr(f, "index", 0) or 0)
    return None


def _rc(lang: str) -> dict:
    fam = [cjk_font()] if cjk_font() else []
    return {"font.family": "sans-serif", "font.sans-serif": [*fam, "DejaVu Sans"], "axes.unicode_minus": False,
            "font.size": 9, "svg.fonttype": "path"}


def _texts(fig: Figure) -> list[str]:
    """Every non-empty text artist of a figure (titles, axis labels, tick labels, legends, annotations)."""
    from matplotlib.text import Text

    out = [t.get_text() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    return list(dict.fromkeys(out))


def _render(fig: Figure, title: str, dpi: int = 150) -> Chart:
    buf = io.BytesIO()
    texts = _texts(fig)
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return Chart(title, buf.getvalue(), texts)


def _fit_notes(fig: Figure, ax, notes) -> None:
    """Widen ``ax`` to the right until every note written after a bar ends inside the frame (the English
    "Net new floor area 126,515,191 m²" ran over it)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if not notes:
        return
    r = FigureCanvasAgg(fig).get_renderer()
    for _ in range(3):  # the axis scale changes as it widens: measure again
        frame = ax.get_window_extent(r)
        over = max(n.get_window_extent(r).x1 for n in notes) - frame.x1
        if over <= 0:
            return
        lo, hi = ax.get_xlim()
        ax.set_xlim(lo, hi + (hi - lo) * (over + 6) / frame.width * 1.1)


def _unit_axis(key: str, lang: str) -> str:
    u = unit_of(key, lang)
    return f"{tr('unit', lang)}：{u}" if lang == "zh" else f"{tr('unit', lang)}: {u}"


#: Size (inches) of the year-by-year charts, drawn two side by side in the reports: 91 mm wide each on the A4
#: page. At 7.5 inches their 9 pt text printed at 4.2 pt; at 4.8 (saved tight, 737 px at 150 dpi) at 6.6 pt.
YEARLY_SIZE = (4.8, 2.7)


def timeline_charts(tl: pd.DataFrame, lang: str) -> list[Chart]:
    """The floor-area and money charts of one scenario, year by year, in the report's units."""
    out = []
    with matplotlib.rc_context(_rc(lang)):
        fig = Figure(figsize=YEARLY_SIZE, layout="constrained")
        ax = fig.subplots()
        yrs = tl.index.to_numpy()

        def s(col: str, key: str) -> np.ndarray:
            return np.array([scaled(v, key, lang) for v in tl[col].to_numpy(float)])

        ax.bar(yrs, s("under_construction_m2", "new_floor_m2"), color="#fdae6b", label=tr("legend_under", lang))
        ax.plot(yrs, s("delivered_m2", "new_floor_m2"), color="#1f77b4", marker="o", ms=3,
                label=tr("legend_delivered", lang))
        ax.plot(yrs, s("occupied_m2", "new_floor_m2"), color="#2ca02c", marker="s", ms=3,
                label=tr("legend_occupied", lang))
        _finish_yearly(ax, _unit_axis("new_floor_m2", lang), tr("chart_floor_title", lang))
        out.append(_render(fig, tr("chart_floor_title", lang)))

        fig = Figure(figsize=YEARLY_SIZE, layout="constrained")
        ax = fig.subplots()
        w = 0.4
        ax.bar(yrs - w / 2, s("investment_cny", "investment_cny"), width=w, color="#9e9ac8",
               label=tr("legend_invest", lang))
        ax.bar(yrs + w / 2, s("rent_cny", "investment_cny"), width=w, color="#74c476", label=tr("legend_rent", lang))
        tax = s("tax_new_cny", "investment_cny")
        if np.isfinite(tax).any():  # hidden from a role without enterprise figures: no line, and no legend entry
            ax.plot(yrs, tax, color="#d62728", marker="o", ms=3, label=tr("legend_tax", lang))
        _finish_yearly(ax, _unit_axis("investment_cny", lang), tr("chart_money_title", lang))
        out.append(_render(fig, tr("chart_money_title", lang)))
    return out


def _finish_yearly(ax, ylabel: str, title: str) -> None:
    """Axis title, grid and the legend below the chart: inside it the legend covered the tall early bars of
    investment (any corner can hold data); ``layout="constrained"`` makes room for it under the year labels."""
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    handles, labels = ax.get_legend_handles_labels()
    room = int(96 * ax.figure.get_figwidth() / 7.5)  # characters across the chart at 9 pt
    ax.figure.legend(handles, labels, loc="outside lower center", ncol=_ncol(labels, 4, room), frameon=False)
    ax.grid(axis="y", alpha=0.3)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:,.0f}" if abs(v) >= 10 or v == 0 else f"{v:,.1f}"))


def floor_chart(results, lang: str, *, size=(7.5, None)) -> Chart:
    """The floor-area chart: per scenario, existing floor area retained, demolished (left of 0) and newly built.

    The net new floor area (new - demolished) is written at the end of each bar.
    """
    names = [r.name for r in results]
    h = size[1] or max(1.6, 0.55 * len(names) + 1.1)
    with matplotlib.rc_context(_rc(lang)):
        fig = Figure(figsize=(size[0], h))
        ax = fig.subplots()
        y = np.arange(len(names))[::-1]
        notes = []
        for yi, r in zip(y, results, strict=True):
            t = r.totals
            ret = scaled(t.get("retained_floor_m2", 0.0), "new_floor_m2", lang)
            dem = scaled(t.get("demolished_floor_m2", 0.0), "new_floor_m2", lang)
            new = scaled(t.get("new_floor_m2", 0.0), "new_floor_m2", lang)
            ax.barh(yi, -dem, color=FLOOR_COLORS["demolished_floor_m2"], height=0.55)
            ax.barh(yi, ret, color=FLOOR_COLORS["retained_floor_m2"], height=0.55)
            ax.barh(yi, new, left=ret, color=FLOOR_COLORS["new_floor_m2"], height=0.55)
            net = fmt(t.get("net_change_m2"), "net_change_m2", lang, unit=True)
            notes.append(ax.annotate(f"{label('net_change_m2', lang, unit=False)} {net}", (ret + new, yi),
                                     xytext=(4, 0), textcoords="offset points", va="center", fontsize=8))
        ax.axvline(0, color="#333333", linewidth=0.8)
        ax.set_yticks(y, [short_name(n) for n in names])
        ax.set_xlabel(_unit_axis("new_floor_m2", lang))
        ax.set_title(tr("chart_floor_parts", lang))
        ax.grid(axis="x", alpha=0.3)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:,.0f}" if abs(v) >= 10 or v == 0 else f"{v:,.1f}"))
        lo, hi = ax.get_xlim()
        ax.set_xlim(lo, hi + (hi - lo) * 0.35)  # room for the net figure
        _fit_notes(fig, ax, notes)
        ax.legend(handles=[mpatches.Patch(color=FLOOR_COLORS[k], label=label(k, lang, unit=False))
                           for k in ("retained_floor_m2", "demolished_floor_m2", "new_floor_m2")],
                  loc="upper center", bbox_to_anchor=(0.5, -0.28 if len(names) < 3 else -0.18), ncol=3, frameon=False)
        return _render(fig, tr("chart_floor_parts", lang))


def compare_charts(cmp, lang: str) -> list[Chart]:
    """Curves of a comparison: cumulative delivered floor area and cumulative investment, in the report's units."""
    out = []
    with matplotlib.rc_context(_rc(lang)):
        for metric, key, title in (("delivered_m2", "new_floor_m2", "chart_cmp_floor"),
                                   ("cum_investment_cny", "investment_cny", "chart_cmp_money")):
            fig = Figure(figsize=YEARLY_SIZE, layout="constrained")
            ax = fig.subplots()
            sub = cmp.curves[cmp.curves["metric"] == metric]
            for i, n in enumerate(cmp.names):
                s = sub[sub["scenario"] == n]
                ax.plot(s["year"], [scaled(v, key, lang) for v in s["value"]], marker="o", ms=3,
                        color=PALETTE[i % len(PALETTE)], label=short_name(n))
            _finish_yearly(ax, _unit_axis(key, lang), tr(title, lang))
            out.append(_render(fig, tr(title, lang)))
    return out


#: Colours of a tornado's bars: the parameter lower (blue) and higher (red), as the app's chart.
TORNADO_COLORS = ("#4393c3", "#d6604d")
_GREY_TEXT = "#6b7785"


def tornado_chart(table: pd.DataFrame, lang: str, *, swing: float = 0.2, name: str = "") -> Chart | None:
    """The sensitivity of a scenario's paybacks as a tornado (one panel per payback the table has): per parameter a
    bar from the payback as it is to the payback with the parameter ``-swing`` (blue) and ``+swing`` (red), the value
    written at each end; the parameter that moves the first payback most on top. None without finite figures."""
    from planner.i18n import param_label
    from planner.report.text import sensitivity_order, sensitivity_outputs, swing_text

    outs = sensitivity_outputs(table)
    if not outs or not len(table):
        return None

    def side(o: str, s: str) -> np.ndarray:
        return pd.to_numeric(table[f"{o}_{s}"], errors="coerce").to_numpy(float)

    order = sensitivity_order(table)  # the longest bar on top, as the table lists them
    params = [param_label(table["parameter"].iloc[i], lang) for i in order]
    y = np.arange(len(order))[::-1]
    pct = swing_text(swing)
    title = tr("sens_chart", lang, name=short_name(name)) if name else tr("sens_title", lang, pct=pct)
    with matplotlib.rc_context(_rc(lang)):
        fig = Figure(figsize=(7.5, 0.34 * len(order) + 1.5), layout="constrained")
        axes = fig.subplots(1, len(outs), sharey=True, squeeze=False)[0]
        for ax, o in zip(axes, outs, strict=True):
            base = float(np.nanmax(side(o, "base")))
            notes = []
            for color, s in zip(TORNADO_COLORS, ("low", "high"), strict=True):
                v = side(o, s)[order]
                ok = np.isfinite(v)
                ax.barh(y[ok], v[ok] - base, left=base, color=color, height=0.55)
                for yi, vi in zip(y[ok], v[ok], strict=True):
                    if fmt(vi, o, lang) != fmt(base, o, lang):
                        notes.append(ax.annotate(fmt(vi, o, lang), (vi, yi), xytext=(3 if vi > base else -3, 0),
                                                 textcoords="offset points", va="center", fontsize=7,
                                                 ha="left" if vi > base else "right"))
            for yi, lo_, hi_ in zip(y, side(o, "low")[order], side(o, "high")[order], strict=True):
                if fmt(lo_, o, lang) == fmt(base, o, lang) == fmt(hi_, o, lang):  # a row with no bar says so
                    notes.append(ax.annotate(tr("sens_unchanged", lang), (base, yi), xytext=(4, 0), fontsize=7,
                                             textcoords="offset points", va="center", color=_GREY_TEXT))
            ax.axvline(base, color="#333333", linewidth=0.9)
            lo, hi = ax.get_xlim()
            pad = (hi - lo) * 0.16  # room for the values written at the ends
            ax.set_xlim(lo - pad, hi + pad)
            ax.set_title(f"{label(o, lang, unit=False)}（{fmt(base, o, lang, unit=True)}）" if lang == "zh"
                         else f"{label(o, lang, unit=False)} ({fmt(base, o, lang, unit=True)})", fontsize=9)
            ax.set_xlabel(_unit_axis(o, lang))
            ax.grid(axis="x", alpha=0.3)
        axes[0].set_yticks(y, params)
        fig.legend(handles=[mpatches.Patch(color=TORNADO_COLORS[0], label=tr("sens_low", lang, pct=pct)),
                            mpatches.Patch(color=TORNADO_COLORS[1], label=tr("sens_high", lang, pct=pct))],
                   loc="outside lower center", ncol=2, frameon=False)
        fig.suptitle(title, fontsize=10)
        return _render(fig, title)


def membership_colors(groups, names) -> dict[str, str]:
    """Colours of the comparison map's groups: every scenario purple, scenario i's own sites in palette colour i."""
    out = {}
    for g in groups:
        if g in ("both", "all"):
            out[g] = BOTH_COLOR
        elif g in names:
            out[g] = PALETTE[list(names).index(g) % len(PALETTE)]
        else:  # several but not all scenarios: colours no single scenario has
            out[g] = COMBO_COLORS[sum(x not in ("both", "all", *names) for x in out) % len(COMBO_COLORS)]
    return out


def _ncol(labels, most: int, room: int = 96) -> int:
    """Legend columns that fit ``room`` characters across a chart (a Chinese character counts two): long
    scenario names get one column rather than a legend wider than the chart, which shrank the map in it."""
    width = max((display_width(t) for t in labels), default=1) + 6  # the swatch and the gap
    return max(1, min(most, len(labels), room // width))


def short_name(name: str, width: int = 30) -> str:
    """A scenario name cut in the middle with "…" to ``width`` Latin characters (a Chinese one counts two), for
    chart labels; tables and text keep the whole name. The end stays: versions differ there ("..._v2", "..._v3").

    Examples
    --------
    >>> short_name("upstairs_all")
    'upstairs_all'
    >>> short_name("a_very_long_scenario_name_for_the_eastern_riverside_v3", 24)
    'a_very_long_s…verside_v3'
    """
    if display_width(name) <= width:
        return name
    head, tail = "", ""
    room = width - 1
    for ch in name:  # about 60 % of the room for the start
        if display_width(head + ch) > room * 0.6:
            break
        head += ch
    for ch in reversed(name[len(head):]):
        if display_width(head + ch + tail) > room:
            break
        tail = ch + tail
    return head + "…" + tail


def _north_arrow(ax) -> None:
    ax.annotate("N", xy=(0.95, 0.97), xytext=(0.95, 0.86), xycoords="axes fraction", ha="center", va="center",
                fontsize=9, fontweight="bold", fontfamily="DejaVu Sans",  # a Latin "N" in bold: the CJK font has no
                arrowprops={"facecolor": "black", "width": 3, "headwidth": 9,  # bold face (findfont warned each map)
                            "headlength": 8})


def _scale_bar(ax, x0: float, y0: float, width: float, height: float) -> None:
    if not np.isfinite(width) or width <= 0:
        return
    target = width / 5
    mag = 10 ** np.floor(np.log10(target))
    length = max(v * mag for v in (1, 2, 5) if v * mag <= target)
    y = y0 - height * 0.04
    ax.plot([x0, x0 + length], [y, y], color="black", linewidth=3, solid_capstyle="butt")
    ax.plot([x0, x0 + length / 2], [y, y], color="white", linewidth=1.2, solid_capstyle="butt")
    ax.annotate(f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m", (x0 + length / 2, y),
                xytext=(0, 4), textcoords="offset points", ha="center", fontsize=7)


def _frame(ax, g: gpd.GeoDataFrame, pad: float = 0.06, arrow: float = 0.12) -> tuple[float, float, float, float]:
    """Frame a map on ``g``: ``pad`` of its size around it, more below for the scale bar and ``arrow`` more on the
    right, a strip no site reaches, for the north arrow (it sat on the site of a one-site map). A frame taller
    than :data:`TALLEST` times its width is widened about its centre: a column of sites made a map too thin for
    the arrow's strip and too tall for a page."""
    x0, y0, x1, y1 = g.total_bounds
    w, h = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
    if h > TALLEST * w:
        x0, w = (x0 + x1) / 2 - h / TALLEST / 2, h / TALLEST
    ax.set_xlim(x0 - w * pad, x0 + w * (1 + pad + arrow))
    ax.set_ylim(y0 - h * (pad + 0.08), y1 + h * pad)
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_xlabel("")  # geopandas names the CRS axes (in English): a map shows none
    ax.set_ylabel("")
    return x0, y0, w, h


def _ring_path(geoms):
    """One compound matplotlib ``Path`` of every ring of ``geoms`` (polygons and multipolygons), built at once.

    Rings are oriented (shells counter-clockwise, holes clockwise) so the
    non-zero fill rule leaves holes empty. Drawing thousands of sites as one
    path per colour is what keeps a city-wide map fast (a patch per polygon
    costs seconds at 80,000 sites).
    """
    import shapely
    from matplotlib.path import Path as MplPath

    parts = shapely.get_parts(shapely.orient_polygons(np.asarray(geoms, dtype=object)))
    parts = parts[shapely.get_type_id(parts) == 3]  # polygons (other parts of a collection are not drawn)
    rings = shapely.get_rings(parts[~shapely.is_empty(parts)])
    xy, idx = shapely.get_coordinates(rings, return_index=True)
    codes = np.full(len(xy), MplPath.LINETO, dtype=MplPath.code_type)
    if len(xy):
        start = np.r_[True, idx[1:] != idx[:-1]]
        codes[start] = MplPath.MOVETO
        codes[np.r_[start[1:], True]] = MplPath.CLOSEPOLY
    return MplPath(xy, codes)


def _draw_polygons(ax, geoms, facecolors, *, edgecolor: str, linewidth: float) -> None:
    """Polygons filled by ``facecolors`` (one colour per geometry) with thin outlines: one patch per colour."""
    fc = np.asarray(facecolors, dtype=object)
    geoms = np.asarray(geoms, dtype=object)
    for color in dict.fromkeys(fc.tolist()):  # add_artist: the map's frame is set by _frame, not from the patches
        ax.add_artist(mpatches.PathPatch(_ring_path(geoms[fc == color]), facecolor=color, edgecolor=edgecolor,
                                         linewidth=linewidth))


def category_map(g: gpd.GeoDataFrame, column: str, colors: dict, labels: dict, lang: str, *, title: str,
                 legend_title: str | None = None, background: gpd.GeoDataFrame | None = None,
                 annotate: bool = True, size=(7.5, 5.6), max_entries: int = 15) -> Chart | None:
    """A map of polygons coloured by a category, with legend, scale bar and north arrow; None without geometry.

    Every colour on the map has a legend entry: beyond ``max_entries`` categories (a comparison of five
    scenarios has up to 31 groups) the last ones, in the order of ``colors``, are drawn in one grey and named
    together ("N more groups") rather than coloured with no entry (the legend used to stop at 12).
    """
    from planner.report.geodata import has_geometry

    if not has_geometry(g) or not len(g) or g.geometry.isna().all():
        return None
    with matplotlib.rc_context(_rc(lang)):
        fig = Figure(figsize=size)
        ax = fig.subplots()
        if background is not None and len(background):
            background.to_crs(g.crs).plot(ax=ax, facecolor="#f3f3f3", edgecolor="#d0d0d0", linewidth=0.3)
        vals = g[column].astype(str)
        present = [c for c in colors if (vals == c).any()]
        shown = present[:max_entries - 1] if len(present) > max_entries else None
        fill = vals.map(colors if shown is None else {c: colors[c] for c in shown}).fillna(MORE_COLOR)
        _draw_polygons(ax, g.geometry.to_numpy(), fill.to_numpy(), edgecolor="#333333", linewidth=0.3)
        if annotate and len(g) <= 40 and "site_id" in g.columns:
            pts = g.geometry.representative_point()
            halo = [patheffects.withStroke(linewidth=2, foreground="white")]
            for x, y, s in zip(pts.x, pts.y, g["site_id"].astype(str), strict=True):
                ax.annotate(s, (x, y), fontsize=6, ha="center", va="center", color="#111111", path_effects=halo)
        x0, y0, w, h = _frame(ax, g)
        counts = vals.value_counts()
        handles = [mpatches.Patch(facecolor=colors[c], edgecolor="#333333", label=counted(labels.get(c, c), counts[c], lang))
                   for c in colors if c in counts.index]
        if shown is not None and len(shown) < len(handles):
            handles = [*handles[:len(shown)], mpatches.Patch(
                facecolor=MORE_COLOR, edgecolor="#333333",
                label=counted(tr("legend_more", lang, n=len(handles) - len(shown)), counts.drop(shown).sum(), lang))]
        ax.legend(handles=handles, title=legend_title, loc="upper center", bbox_to_anchor=(0.5, 0.0),
                  ncol=_ncol([hd.get_label() for hd in handles], 3), fontsize=7, title_fontsize=8, frameon=False)
        _scale_bar(ax, x0, y0, w, h)
        _north_arrow(ax)
        ax.set_title(title)
        return _render(fig, title)


def scenario_charts(result, lang: str, *, background: gpd.GeoDataFrame | None = None) -> dict:
    """The charts a scenario's HTML and PDF reports share, made once when both are written (:func:`export_all`;
    at 1M parcels drawing them twice was 2-3 s): ``"timeline"`` (year by year; none without sites) and ``"map"``."""
    return {"timeline": timeline_charts(result.timeline, lang) if len(result.sites) else [],
            "map": site_map(result.sites, lang, background=background)}


def site_map(sites: gpd.GeoDataFrame, lang: str, *, background: gpd.GeoDataFrame | None = None) -> Chart | None:
    """Map of a scenario's sites coloured by start year (None without geometry)."""
    from planner.report.geodata import has_geometry

    if not has_geometry(sites) or not len(sites):
        return None
    start = year_classes(sites["start_year"].to_numpy(int))
    classes = list(dict.fromkeys(np.sort(start)))  # "2026" < "2029–2031": ranges of one width sort as text
    cmap = matplotlib.colormaps["viridis"]
    colors = {c: matplotlib.colors.to_hex(cmap(i / max(len(classes) - 1, 1))) for i, c in enumerate(classes)}
    return category_map(sites.assign(start=start), "start", colors, {c: c for c in classes}, lang, title=tr("map", lang),
                        legend_title=tr("start_year_legend", lang), background=background)


def year_classes(years: np.ndarray, most: int = MAX_YEAR_CLASSES) -> np.ndarray:
    """The legend class of each start year: the year itself while there are at most ``most`` distinct years, else
    ranges of 2, 3, 5, 10... years from the first ("2026–2030"), so every colour on the map has a legend entry.

    Examples
    --------
    >>> year_classes(np.array([2026, 2027, 2040])).tolist()
    ['2026', '2027', '2040']
    >>> year_classes(np.arange(2026, 2049), most=5).tolist()[::5]
    ['2026–2030', '2031–2035', '2036–2040', '2041–2045', '2046–2048']
    """
    years = np.asarray(years, dtype=int)
    if len(np.unique(years)) <= most:
        return years.astype(str).astype(object)
    lo, hi = int(years.min()), int(years.max())
    step = next(s for s in (2, 3, 5, 10, 20, 25, 50, 100, 10**9) if -(-(hi - lo + 1) // s) <= most)
    first = lo + (years - lo) // step * step
    last = np.minimum(first + step - 1, hi)
    return np.char.add(np.char.add(first.astype(str), "–"), last.astype(str)).astype(object)


def _short_names(text: str, names) -> str:
    """``text`` with every scenario name in it shortened (:func:`short_name`), longest name first."""
    for n in sorted(names, key=len, reverse=True):
        if short_name(n) != n:
            text = text.replace(n, short_name(n))
    return text


def membership_map(cmp, lang: str, *, background: gpd.GeoDataFrame | None = None) -> Chart | None:
    """The one comparison map: sites in the first scenario only, the second only, both (or all)."""
    g = cmp.site_geometries()
    if g is None:
        return None
    groups = [x for x in dict.fromkeys(["both", "all", *cmp.names, *sorted(set(g["group"]))]) if (g["group"] == x).any()]
    colors = membership_colors(groups, cmp.names)
    labels = {x: _short_names(group_label(x, cmp.names, lang), cmp.names) for x in groups}
    return category_map(g, "group", colors, labels, lang, title=tr("cmp_map_title", lang),
                        legend_title=tr("in_scenarios", lang), background=background)


#: Colours of a site brief's parcels by role.
ROLE_COLORS = {"flagged": "#f16913", "absorbed": "#fdd0a2", "retained_inside": "#74c476", "added": "#9e9ac8"}


def brief_map(site: gpd.GeoDataFrame, parcels: gpd.GeoDataFrame, lang: str, *,
              constraints: gpd.GeoDataFrame | None = None, context: gpd.GeoDataFrame | None = None,
              size=(7.0, 4.6)) -> Chart | None:
    """Map of one site for its brief: parcels by role (three-low, absorbed, retained), the site outline,
    constraints, neighbouring parcels, legend, scale bar and north arrow."""
    if site is None or not len(site) or site.crs is None:
        return None
    with matplotlib.rc_context(_rc(lang)):
        fig = Figure(figsize=size)
        ax = fig.subplots()
        frame = site.total_bounds
        w, h = frame[2] - frame[0], frame[3] - frame[1]
        pad = max(w, h) * 0.25 + 30
        box = (frame[0] - pad, frame[1] - pad, frame[2] + pad, frame[3] + pad)
        if context is not None and len(context):
            near = context.cx[box[0]:box[2], box[1]:box[3]]
            near.plot(ax=ax, facecolor="#f5f5f5", edgecolor="#cccccc", linewidth=0.3)
        handles = []
        if constraints is not None and len(constraints):
            near = constraints.to_crs(site.crs).cx[box[0]:box[2], box[1]:box[3]]
            if len(near):
                near.plot(ax=ax, facecolor="#a1d99b", edgecolor="#238b45", linewidth=0.6, alpha=0.45, hatch="//")
                handles.append(mpatches.Patch(facecolor="#a1d99b", edgecolor="#238b45", hatch="//",
                                              label=tr("brief_constraints", lang)))
        if len(parcels):
            roles = parcels["role"].astype(str)
            parcels.plot(ax=ax, color=roles.map(ROLE_COLORS).fillna("#bdbdbd").to_numpy(), edgecolor="#555555",
                         linewidth=0.4)
            for r in ROLE_COLORS:
                if (roles == r).any():
                    handles.append(mpatches.Patch(facecolor=ROLE_COLORS[r], edgecolor="#555555",
                                                  label=counted(tr("role_" + r, lang), (roles == r).sum(), lang)))
        site.boundary.plot(ax=ax, color="#54278f", linewidth=1.6)
        handles.insert(0, mpatches.Patch(facecolor="none", edgecolor="#54278f", linewidth=1.6,
                                         label=tr("brief_outline", lang)))
        ax.set_xlim(box[0], box[2])
        ax.set_ylim(box[1] - (box[3] - box[1]) * 0.05, box[3])
        ax.set_aspect("equal")
        ax.set_axis_off()
        ax.set_xlabel("")
        ax.set_ylabel("")
        ax.legend(handles=handles, loc="upper left", fontsize=7, framealpha=0.9)
        _scale_bar(ax, box[0] + (box[2] - box[0]) * 0.04, box[1] + (box[3] - box[1]) * 0.06, box[2] - box[0],
                   box[3] - box[1])
        _north_arrow(ax)
        return _render(fig, tr("brief_map", lang), dpi=170)
