"""Exports of scenario results: Excel workbook, GeoPackage/GeoJSON, standalone HTML.

The HTML report is one self-contained file a decision-maker can open offline:
no script, style or image is fetched from anywhere (charts and the map are
inline PNG images rendered with matplotlib). Text is in Simplified Chinese
(``lang="zh"``, default) or English (``lang="en"``); when no CJK font is
installed, charts fall back to English labels.

This module writes files (it is the report edge of the library); the model
itself stays in :mod:`planner.scenarios` and :mod:`planner.compare`.
"""

from __future__ import annotations

import datetime as _dt
import html
import math
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import xlsxwriter

from planner._report_text import kind, label, tr
from planner.compare import KEY_FIGURES, Comparison, compare
from planner.crs import to_lonlat_valid
from planner.errors import DataError
from planner.scenarios import ScenarioResult, assumptions_in

#: Site columns written to the sites sheet / layer, in order.
SITE_COLUMNS = (
    "site_id", "rank", "template", "existing_rule", "start_year", "works_start", "delivery", "land_area_m2",
    "land_area_mu", "existing_floor_m2", "retained_floor_m2", "demolished_floor_m2", "new_floor_m2",
    "floor_after_m2", "net_change_m2", "plot_ratio_before", "plot_ratio_after", "leasable_m2", "occupied_m2",
    "enterprises_before", "enterprises_housed", "jobs_before", "jobs_after", "output_before_cny",
    "output_after_cny", "tax_before_cny", "tax_after_cny", "tax_per_mu_after", "investment_cny",
    "construction_cost_cny", "demolition_cost_cny", "other_cost_cny", "rent_cny_yr", "payback_years",
    "fiscal_payback_years",
)

#: Key figures shown as cards at the top of the HTML report.
CARDS = ("n_sites", "new_floor_m2", "net_change_m2", "plot_ratio_after", "enterprises_housed", "jobs_after",
         "tax_after_cny", "investment_cny", "payback_years", "last_delivery")

_EXCEL_FORMATS = {"area": "#,##0", "money": "#,##0", "count": "#,##0", "int": "#,##0", "ratio": "0.00",
                  "years": "0.0", "year": "0", "share": "0.0%", "text": "@"}


def has_geometry(g) -> bool:
    """True for a GeoDataFrame with an active geometry column and a CRS."""
    return (isinstance(g, gpd.GeoDataFrame) and getattr(g, "_geometry_column_name", None) in g.columns
            and g.crs is not None)


# --------------------------------------------------------------------------- formatting
def fmt(value, key: str, lang: str = "zh") -> str:
    """Human-readable number for a figure (万/亿 in Chinese, k/M/bn in English)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, str):
        return value
    k = kind(key)
    v = float(value)
    if math.isinf(v):
        return "∞"
    if k == "year":
        return f"{v:.0f}"
    if k == "years":
        return f"{v:.1f}"
    if k == "ratio":
        return f"{v:.2f}"
    if k == "share":
        return f"{v:.0%}"
    if k == "money":
        if lang == "zh":
            return f"{v / 1e8:,.2f} 亿元" if abs(v) >= 1e8 else f"{v / 1e4:,.1f} 万元"
        return f"{v / 1e9:,.2f} bn" if abs(v) >= 1e9 else f"{v / 1e6:,.1f} M"
    if k == "area":
        if lang == "zh" and abs(v) >= 1e4:
            return f"{v / 1e4:,.1f} 万"
        return f"{v:,.0f}"
    return f"{v:,.0f}"


def _site_table(result: ScenarioResult) -> pd.DataFrame:
    cols = [c for c in SITE_COLUMNS if c in result.sites.columns]
    return pd.DataFrame(result.sites[cols])


# --------------------------------------------------------------------------- geodata
def write_sites(result: ScenarioResult, path: str | Path) -> Path:
    """Write the sites with their results as GeoPackage (``.gpkg``) or GeoJSON (``.geojson``/``.json``)."""
    p = Path(path)
    g = result.sites
    if not has_geometry(g):
        msg = f"{p}: the scenario's sites have no geometry/CRS; run it on the workspace sites layer"
        raise DataError(msg)
    out = gpd.GeoDataFrame(_site_table(result).replace([np.inf, -np.inf], np.nan), geometry=g.geometry.to_numpy(),
                           crs=g.crs)
    out.insert(0, "scenario", result.name)
    p.parent.mkdir(parents=True, exist_ok=True)
    suffix = p.suffix.lower()
    if suffix == ".gpkg":
        out.to_file(p, layer=result.name, driver="GPKG", engine="pyogrio")
    elif suffix in (".geojson", ".json"):
        to_lonlat_valid(out).to_file(p, driver="GeoJSON", engine="pyogrio")
    else:
        msg = f"{p}: unknown geodata format; use .gpkg or .geojson"
        raise DataError(msg)
    return p


# --------------------------------------------------------------------------- excel
def _frame_for_excel(df: pd.DataFrame, lang: str) -> tuple[pd.DataFrame, list[str]]:
    kinds = [kind(c) for c in df.columns]
    out = df.replace([np.inf, -np.inf], np.nan).copy()
    out.columns = [label(c, lang, both=lang == "zh") for c in df.columns]
    return out, kinds


def _formats(wb) -> dict:
    fm = getattr(wb, "_planner_formats", None)
    if fm is None:
        fm = {k: wb.add_format({"num_format": v}) for k, v in _EXCEL_FORMATS.items() if k != "text"}
        fm["pct"] = wb.add_format({"num_format": '+0.0"%";-0.0"%";0.0"%"'})
        fm["header"] = wb.add_format({"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#DDEBF7",
                                      "border": 1})
        fm["wrap"] = wb.add_format({"text_wrap": True, "valign": "top"})
        wb._planner_formats = fm
    return fm


def _sheet(wb, name: str, df: pd.DataFrame, *, col_kinds: list[str] | None = None,
           row_kinds: list[str] | None = None, pct_cols: tuple[str, ...] = (), widths: dict[int, float] | None = None
           ) -> None:
    """Write ``df`` with bold wrapped headers, number formats per column (or per row) and column widths.

    Columns are written whole (``write_column``); missing values stay empty cells.
    """
    df = df.replace([np.inf, -np.inf], np.nan)
    ws = wb.add_worksheet(name)
    fm = _formats(wb)
    for j, c in enumerate(df.columns):
        header = str(c)
        ws.write_string(0, j, header, fm["header"])
        cjk = any(ord(ch) > 0x2E80 for ch in header)
        width = min(28.0, max(10.0, len(header) * (1.1 if cjk else 0.6)))
        if widths and j in widths:
            width = widths[j]
        k = "pct" if c in pct_cols else (col_kinds[j] if col_kinds else None)
        ws.set_column(j, j, width, fm.get(k) if k and k != "text" else None)
        col = df.iloc[:, j]
        if pd.api.types.is_bool_dtype(col.dtype):
            values = col.tolist()
        elif pd.api.types.is_numeric_dtype(col.dtype):
            values = [None if v != v else v for v in col.to_numpy(float).tolist()]
        else:
            values = [None if v is None or (isinstance(v, float) and v != v) or v is pd.NA else
                      (v if isinstance(v, int | float | bool) else str(v)) for v in col.tolist()]
        ws.write_column(1, j, values)
    if row_kinds is not None:  # small sheets whose rows are figures of different kinds
        for i, k in enumerate(row_kinds):
            if k == "text":
                continue
            for j in range(1, df.shape[1]):
                if df.columns[j] in pct_cols:
                    continue
                v = df.iat[i, j]
                if isinstance(v, int | float | np.number) and not isinstance(v, bool) and not pd.isna(v):
                    ws.write_number(i + 1, j, float(v), fm[k])
    ws.freeze_panes(1, 1)
    ws.set_row(0, 45)


def _summary_frame(result: ScenarioResult, lang: str) -> tuple[pd.DataFrame, list[str]]:
    keys = [k for k in (*KEY_FIGURES, "new_floor_per_site_m2", "m2_per_enterprise") if k in result.totals.index]
    vals = result.totals.reindex(keys).astype(float).replace([np.inf, -np.inf], np.nan)
    return pd.DataFrame({label("figure", lang, both=lang == "zh"): [label(k, lang, both=lang == "zh") for k in keys],
                         result.name: vals.to_numpy()}), [kind(k) for k in keys]


def to_excel(result: ScenarioResult | Sequence[ScenarioResult], path: str | Path, *, lang: str = "zh") -> Path:
    """Excel workbook of one scenario (summary, sites, timeline, assumptions) or of a comparison.

    Headers carry units, e.g. "新增建筑面积 New floor area (m²)"; numbers are
    formatted (thousands separators, 2-decimal ratios) and columns sized.
    """
    if not isinstance(result, ScenarioResult):
        return compare_to_excel(compare(list(result)), path, lang=lang)
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)

    def both(k: str) -> str:
        return f"{tr(k, 'zh')} {tr(k, 'en')}" if lang == "zh" else tr(k, lang)

    with xlsxwriter.Workbook(p, {"nan_inf_to_errors": True}) as xw:
        summ, rk = _summary_frame(result, lang)
        meta = pd.DataFrame({summ.columns[0]: [both("scenario"), both("policy"), both("label")],
                             result.name: [result.name, _policy_text(result),
                                           result.scenario.description or result.scenario.label]})
        _sheet(xw, "Summary 汇总", pd.concat([summ.astype(object), meta], ignore_index=True),
               row_kinds=[*rk, "text", "text", "text"], widths={0: 46, 1: 22})
        df, kinds = _frame_for_excel(_site_table(result), lang)
        _sheet(xw, "Sites 地块", df, col_kinds=kinds)
        df, kinds = _frame_for_excel(result.timeline.reset_index(), lang)
        _sheet(xw, "Timeline 年度", df, col_kinds=kinds)
        a = _as_text(assumptions_in(result.assumptions, lang), "")
        a.columns = [label(c, lang, both=lang == "zh") if c in ("parameter", "source") else c for c in a.columns]
        _sheet(xw, "Assumptions 假设", a, widths={0: 30, a.shape[1] - 1: 70})
    return p


def compare_to_excel(cmp: Comparison, path: str | Path, *, lang: str = "zh") -> Path:
    """Excel workbook of a comparison: figures with differences, site membership, curves."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with xlsxwriter.Workbook(p, {"nan_inf_to_errors": True}) as xw:
        t = cmp.table
        df = t.copy()
        df.insert(0, label("figure", lang, both=lang == "zh"), [label(k, lang, both=lang == "zh") for k in t.index])
        _sheet(xw, "Comparison 对比", df, row_kinds=[kind(k) for k in t.index],
               pct_cols=tuple(c for c in t.columns if c.endswith(" %")), widths={0: 46})
        m = cmp.membership.reset_index()
        _sheet(xw, "Sites 地块", m, col_kinds=["text"] * m.shape[1])
        wide = cmp.curves.pivot_table(index="year", columns=["metric", "scenario"], values="value")
        wide.columns = [f"{label(mm, lang, both=lang == 'zh')} · {s}" for mm, s in wide.columns]
        _sheet(xw, "Curves 年度曲线", wide.reset_index(), col_kinds=["year"] + ["int"] * wide.shape[1])
    return p


# --------------------------------------------------------------------------- html
_CSS = """
body{font-family:"Noto Sans CJK SC","Source Han Sans SC","Microsoft YaHei","PingFang SC",system-ui,sans-serif;
margin:0;background:#f6f7f9;color:#1d2733}
main{max-width:1100px;margin:0 auto;padding:24px 28px 60px;background:#fff}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 10px;border-bottom:2px solid #1f77b4;padding-bottom:4px}
.meta{color:#5b6b7b;font-size:13px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:10px}
.card{border:1px solid #dde3ea;border-radius:6px;padding:10px 12px;background:#fbfcfe}
.card .v{font-size:20px;font-weight:600;color:#0b4f8a}.card .k{font-size:12px;color:#5b6b7b}
table{border-collapse:collapse;width:100%;font-size:12px;margin:6px 0}
th,td{border:1px solid #dde3ea;padding:3px 6px;text-align:right;white-space:nowrap}
th{background:#eef3f8;text-align:center}td.t,th.t{text-align:left;white-space:normal}
.pos{color:#1a7f37}.neg{color:#b42318}
figure{margin:10px 0}figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:12px;color:#5b6b7b}
.scroll{overflow-x:auto}
.note{font-size:12px;color:#5b6b7b}
@media print{body{background:#fff}main{padding:0}}
"""


def _as_text(df: pd.DataFrame, blank: str = "–") -> pd.DataFrame:
    """Every cell as text; missing values (None, NaN, empty) shown as ``blank``."""
    out = df.astype(object).where(df.notna(), None)
    out = out.map(lambda v: blank if v is None or v == "" else str(v))  # a few dozen cells
    return out


def _policy_text(result: ScenarioResult) -> str:
    sc = result.scenario
    if not sc.policy_name and not sc.policy_hash:
        return "–"
    return f"{sc.policy_name} (sha256 {sc.policy_hash[:12]})" if sc.policy_hash else sc.policy_name


def _img(title: str, b64: str | None, alt_missing: str) -> str:
    if not b64:
        return f'<p class="note">{html.escape(alt_missing)}</p>'
    t = html.escape(title)
    return f'<figure><img alt="{t}" src="data:image/png;base64,{b64}"><figcaption>{t}</figcaption></figure>'


def _table_html(df: pd.DataFrame, lang: str, *, text_cols=(), row_keys=None) -> str:
    cols = list(df.columns)
    head = "".join(f'<th class="{"t" if c in text_cols else ""}">{html.escape(label(c, lang) if c in _LABELLED else str(c))}</th>'
                   for c in cols)
    rows = []
    for i, (_, r) in enumerate(df.iterrows()):
        cells = []
        for c in cols:
            v = r[c]
            key = row_keys[i] if row_keys is not None and c not in text_cols else c
            if c in text_cols:
                cells.append(f'<td class="t">{html.escape(str(v))}</td>')
            elif str(c).endswith(" %"):
                cls = "pos" if isinstance(v, float) and v > 0 else "neg" if isinstance(v, float) and v < 0 else ""
                txt = "–" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:+.1f}%"
                cells.append(f'<td class="{cls}">{txt}</td>')
            else:
                cells.append(f"<td>{html.escape(fmt(v, key, lang))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'


from planner._report_text import LABELS as _LABELLED  # noqa: E402


def _page(title: str, body: str, lang: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>"
            f"<body><main>{body}</main></body></html>\n")


def _now() -> str:
    return _dt.datetime.now().strftime("%Y-%m-%d %H:%M")


def html_report(result: ScenarioResult, *, lang: str = "zh", max_sites: int = 50,
                background: gpd.GeoDataFrame | None = None) -> str:
    """Standalone HTML report of one scenario (no external resources)."""
    from planner._report_charts import site_map, timeline_charts

    sc = result.scenario
    t = result.totals
    parts = [f"<h1>{html.escape(tr('title', lang))}</h1>",
             f'<p class="meta">{html.escape(tr("scenario", lang))}: <b>{html.escape(sc.label or sc.name)}</b> '
             f"({html.escape(sc.name)}) · {html.escape(tr('generated', lang))}: {_now()} · "
             f"{html.escape(tr('policy', lang))}: {html.escape(_policy_text(result))}</p>"]
    if sc.description:
        parts.append(f"<p>{html.escape(sc.description)}</p>")
    cards = "".join(f'<div class="card"><div class="v">{html.escape(fmt(t.get(k), k, lang))}</div>'
                    f'<div class="k">{html.escape(label(k, lang, unit=False))}</div></div>' for k in CARDS if k in t)
    parts.append(f"<h2>{html.escape(tr('key_figures', lang))}</h2><div class=\"cards\">{cards}</div>")
    ledger_keys = ["existing_floor_m2", "demolished_floor_m2", "retained_floor_m2", "new_floor_m2", "floor_after_m2",
                   "net_change_m2", "leasable_m2", "occupied_m2", "investment_cny", "construction_cost_cny",
                   "demolition_cost_cny", "other_cost_cny", "rent_cny_yr", "tax_before_cny", "tax_after_cny",
                   "fiscal_payback_years"]
    ledger = pd.DataFrame({"figure": [label(k, lang) for k in ledger_keys],
                           "value": [t.get(k) for k in ledger_keys]})
    parts.append(f"<h2>{html.escape(tr('ledger', lang))}</h2>"
                 + _table_html(ledger, lang, text_cols=("figure",), row_keys=ledger_keys))
    parts.append(f"<h2>{html.escape(tr('timeline', lang))}</h2>")
    if len(result.sites):
        for title, b64 in timeline_charts(result.timeline, lang):
            parts.append(_img(title, b64, ""))
    tl = result.timeline.reset_index()
    tl = tl[["year", "sites_started", "investment_cny", "under_construction_m2", "delivered_m2", "occupied_m2",
             "enterprises", "jobs_new", "rent_cny", "tax_new_cny"]]
    tl = tl[(tl.drop(columns="year").abs().sum(axis=1) > 0) | (tl["year"] == tl["year"].min())]
    parts.append(_table_html(tl, lang))
    parts.append(f"<h2>{html.escape(tr('map', lang))}</h2>")
    parts.append(_img(tr("map", lang), site_map(result.sites, lang, background=background), tr("no_geometry", lang)))
    parts.append(f"<h2>{html.escape(tr('sites', lang))}</h2>")
    if not len(result.sites):
        parts.append(f'<p class="note">{html.escape(tr("no_sites", lang))}</p>')
    else:
        cols = ["site_id", "rank", "template", "start_year", "land_area_m2", "existing_floor_m2", "new_floor_m2",
                "plot_ratio_after", "enterprises_housed", "jobs_after", "tax_after_cny", "investment_cny",
                "payback_years"]
        st = pd.DataFrame(result.sites[cols]).head(max_sites)
        if len(result.sites) > max_sites:
            parts.append(f'<p class="note">{html.escape(tr("sites_shown", lang, n=max_sites, total=len(result.sites)))}</p>')
        parts.append(_table_html(st, lang, text_cols=("site_id", "template")))
    parts.append(f"<h2>{html.escape(tr('assumptions', lang))}</h2>")
    parts.append(f'<p class="note">{html.escape(tr("method_text", lang))}</p>')
    a = _as_text(assumptions_in(result.assumptions, lang))
    parts.append(_table_html(a, lang, text_cols=tuple(a.columns)))
    return _page(f"{tr('title', lang)} – {sc.name}", "".join(parts), lang)


def compare_html(cmp: Comparison, *, lang: str = "zh", background: gpd.GeoDataFrame | None = None) -> str:
    """Standalone HTML comparison report (key figures side by side, site differences, curves)."""
    from planner._report_charts import compare_charts, site_map

    base = cmp.names[0]
    parts = [f"<h1>{html.escape(tr('compare_title', lang))}</h1>",
             f'<p class="meta">{html.escape(", ".join(cmp.names))} · {html.escape(tr("baseline", lang))}: '
             f"{html.escape(base)} · {html.escape(tr('generated', lang))}: {_now()}</p>"]
    pol = sorted({_policy_text(r) for r in cmp.results})
    parts.append(f'<p class="meta">{html.escape(tr("policy", lang))}: {html.escape("; ".join(pol))}</p>')
    t = cmp.table.reset_index()
    t["figure_label"] = [label(k, lang) for k in t["figure"]]
    keys = t["figure"].tolist()
    show = t[["figure_label", *[c for c in cmp.table.columns]]]
    show = show.rename(columns={"figure_label": "figure"})
    parts.append(f"<h2>{html.escape(tr('key_figures', lang))}</h2>"
                 + _table_html(show, lang, text_cols=("figure",), row_keys=keys))
    for title, b64 in compare_charts(cmp.curves, cmp.table, cmp.names, lang):
        parts.append(_img(title, b64, ""))
    parts.append(f"<h2>{html.escape(tr('site_membership', lang))}</h2>")
    d = cmp.differences()
    if len(d):
        rows = "".join(
            f"<tr><td class='t'>{html.escape(r.scenario)}</td><td>{r.only_in_baseline}</td><td>{r.only_in_scenario}"
            f"</td><td>{r.in_both}</td><td class='t'>{html.escape(', '.join(cmp.only_in(r.scenario)[:30]) or tr('none', lang))}</td></tr>"
            for r in d.itertuples())
        parts.append(f"<table><thead><tr><th class='t'>{html.escape(tr('scenario', lang))}</th>"
                     f"<th>{html.escape(tr('only_in_baseline', lang))}</th><th>{html.escape(tr('only_in_scenario', lang))}"
                     f"</th><th>{html.escape(tr('in_both', lang))}</th><th class='t'>{html.escape(tr('only_in_scenario', lang))}"
                     f" (site_id)</th></tr></thead><tbody>{rows}</tbody></table>")
    geo = [r.sites for r in cmp.results if has_geometry(r.sites) and len(r.sites)]
    if geo:
        allg = pd.concat([g[["site_id", "geometry"]] for g in geo], ignore_index=True).drop_duplicates("site_id")
        allg = gpd.GeoDataFrame(allg, geometry="geometry", crs=geo[0].crs)
        m = cmp.membership[cmp.names].sum(axis=1)
        allg["n_in"] = allg["site_id"].astype(str).map(m).astype(int)
        parts.append(f"<h2>{html.escape(tr('map', lang))}</h2>")
        parts.append(_img(tr("in_scenarios", lang),
                          site_map(allg, lang, column="n_in", legend_key="in_scenarios", background=background), ""))
    parts.append(f"<h2>{html.escape(tr('assumptions', lang))}</h2>")
    for r in cmp.results:
        a = _as_text(assumptions_in(r.assumptions, lang))
        parts.append(f"<h3>{html.escape(r.name)}</h3>" + _table_html(a, lang, text_cols=tuple(a.columns)))
    return _page(tr("compare_title", lang), "".join(parts), lang)


def write_html(obj: ScenarioResult | Comparison, path: str | Path, *, lang: str = "zh", **kw) -> Path:
    """Write :func:`html_report` or :func:`compare_html` to ``path`` (UTF-8)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    text = html_report(obj, lang=lang, **kw) if isinstance(obj, ScenarioResult) else compare_html(obj, lang=lang, **kw)
    p.write_text(text, encoding="utf-8")
    return p


def export_all(result: ScenarioResult, out_dir: str | Path, *, lang: str = "zh") -> dict[str, Path]:
    """Write ``<name>.xlsx``, ``<name>.html`` and (with geometry) ``<name>.gpkg`` into ``out_dir``."""
    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in result.name)
    out = {"xlsx": to_excel(result, d / f"{safe}.xlsx", lang=lang),
           "html": write_html(result, d / f"{safe}.html", lang=lang)}
    g = result.sites
    if has_geometry(g):
        out["gpkg"] = write_sites(result, d / f"{safe}.gpkg")
    return out
