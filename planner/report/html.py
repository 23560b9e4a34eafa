"""The standalone HTML report of a scenario or a comparison (one offline file; charts as inline PNG)."""

from __future__ import annotations

import datetime as _dt
import html
import math
from pathlib import Path

import geopandas as gpd
import pandas as pd

from planner.report.geodata import has_geometry
from planner.report.text import LABELS as _LABELLED
from planner.report.text import as_text, fmt, label, policy_text, tr
from planner.scenarios.comparison import Comparison
from planner.scenarios.model import ScenarioResult, assumptions_in

#: Key figures shown as cards at the top of the HTML report.
CARDS = ("n_sites", "new_floor_m2", "net_change_m2", "plot_ratio_after", "enterprises_housed", "jobs_after",
         "tax_after_cny", "investment_cny", "payback_years", "last_delivery")

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
    from planner.report.charts import site_map, timeline_charts

    sc = result.scenario
    t = result.totals
    parts = [f"<h1>{html.escape(tr('title', lang))}</h1>",
             f'<p class="meta">{html.escape(tr("scenario", lang))}: <b>{html.escape(sc.label or sc.name)}</b> '
             f"({html.escape(sc.name)}) · {html.escape(tr('generated', lang))}: {_now()} · "
             f"{html.escape(tr('policy', lang))}: {html.escape(policy_text(result, lang))}</p>"]
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
    a = as_text(assumptions_in(result.assumptions, lang))
    parts.append(_table_html(a, lang, text_cols=tuple(a.columns)))
    return _page(f"{tr('title', lang)} – {sc.name}", "".join(parts), lang)


def compare_html(cmp: Comparison, *, lang: str = "zh", background: gpd.GeoDataFrame | None = None) -> str:
    """Standalone HTML comparison report (key figures side by side, site differences, curves)."""
    from planner.report.charts import compare_charts, site_map

    base = cmp.names[0]
    parts = [f"<h1>{html.escape(tr('compare_title', lang))}</h1>",
             f'<p class="meta">{html.escape(", ".join(cmp.names))} · {html.escape(tr("baseline", lang))}: '
             f"{html.escape(base)} · {html.escape(tr('generated', lang))}: {_now()}</p>"]
    pol = sorted({policy_text(r, lang) for r in cmp.results})
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
        a = as_text(assumptions_in(r.assumptions, lang))
        parts.append(f"<h3>{html.escape(r.name)}</h3>" + _table_html(a, lang, text_cols=tuple(a.columns)))
    return _page(tr("compare_title", lang), "".join(parts), lang)


def write_html(obj: ScenarioResult | Comparison, path: str | Path, *, lang: str = "zh", **kw) -> Path:
    """Write :func:`html_report` or :func:`compare_html` to ``path`` (UTF-8)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    text = html_report(obj, lang=lang, **kw) if isinstance(obj, ScenarioResult) else compare_html(obj, lang=lang, **kw)
    p.write_text(text, encoding="utf-8")
    return p
