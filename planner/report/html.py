"""The standalone HTML report of a scenario or a comparison (one offline file; charts as inline PNG).

Charts are drawn on the server with the packaged CJK font (:mod:`planner.report.charts`), so their Chinese
text shows whatever fonts the server or the reader has; each image's ``alt`` carries the chart's words.
The page prints on A4 (``@page``), one figure never split across pages.
"""

from __future__ import annotations

import datetime as _dt
import html
from pathlib import Path

import geopandas as gpd
import pandas as pd

from planner.i18n import t as _t
from planner.i18n import visible_text
from planner.report.text import LABELS as _LABELLED
from planner.report.text import (
    assumptions_table,
    comparison_rows,
    fmt,
    label,
    policy_text,
    same_precision,
    scenario_keys,
    sensitivity_empty,
    sensitivity_has_values,
    sensitivity_outputs,
    sensitivity_range,
    sensitivity_rows,
    sites_notes,
    swing_text,
    tr,
    with_unit,
)
from planner.scenarios.comparison import HEADLINE_FIGURES, Comparison
from planner.scenarios.model import ScenarioResult

#: Key figures shown as cards at the top of the scenario report (the headline figures, then context).
CARDS = (*HEADLINE_FIGURES, "n_sites", "floor_after_m2", "jobs_after", "last_delivery")

#: The floor-area ledger of a scenario report.
LEDGER = ("existing_floor_m2", "retained_floor_m2", "demolished_floor_m2", "new_floor_m2", "floor_after_m2",
          "net_change_m2", "leasable_m2", "occupied_m2", "investment_cny", "construction_cost_cny",
          "demolition_cost_cny", "other_cost_cny", "rent_cny_yr", "tax_before_cny", "tax_after_cny", "payback_years",
          "fiscal_payback_years")

_CSS = """
body{font-family:"Noto Sans CJK SC","Source Han Sans SC","Microsoft YaHei","PingFang SC",system-ui,sans-serif;
margin:0;background:#f6f7f9;color:#1d2733}
main{max-width:1100px;margin:0 auto;padding:24px 28px 60px;background:#fff}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 10px;border-bottom:2px solid #1f77b4;padding-bottom:4px}
h1,h2,h3,.meta,.note,figcaption{overflow-wrap:anywhere}h3{font-size:15px;margin:14px 0 6px}
.meta{color:#5b6b7b;font-size:13px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(165px,1fr));gap:10px;margin-bottom:6px}
.card{border:1px solid #dde3ea;border-radius:6px;padding:8px 12px;background:#fbfcfe}
.card .v{font-size:20px;font-weight:600;color:#0b4f8a}.card .k{font-size:12px;color:#5b6b7b}
.card .d{font-size:12px}.card .d.pos{color:#1a7f37}.card .d.neg{color:#b42318}
table{border-collapse:collapse;width:100%;font-size:12px;margin:6px 0}
th,td{border:1px solid #dde3ea;padding:3px 6px;text-align:right;white-space:nowrap}
th{background:#eef3f8;text-align:center}td.t,th.t{text-align:left;white-space:normal}
td.t{min-width:6em}td.id{white-space:nowrap;min-width:0}td.list{min-width:16em}th.fig{min-width:14em}
.pos{color:#1a7f37}.neg{color:#b42318}
figure{margin:10px 0}figure img{max-width:100%;height:auto;box-sizing:border-box;border:1px solid #eee}
figcaption{font-size:12px;color:#5b6b7b}
.scroll{overflow-x:auto}
.note{font-size:12px;color:#5b6b7b}
.two{display:grid;grid-template-columns:1fr 1fr;gap:14px}.two>*{min-width:0}
@media (max-width:700px){main{padding:16px 12px 40px}.two{grid-template-columns:1fr}}
@page{size:A4;margin:14mm 12mm}
@media print{body{background:#fff;font-size:11px}main{max-width:none;padding:0}.scroll{overflow:visible}
table{font-size:9px}th,td{padding:2px 4px;white-space:normal}figure,.cards,tr{break-inside:avoid}
h2,h3{break-after:avoid}.cards{grid-template-columns:repeat(4,1fr)}.card .v{font-size:15px}
.two{grid-template-columns:1fr}}
"""


def _esc(text) -> str:
    """``text`` for the page: HTML-escaped (a value from a delivered file or a typed name is never markup) and
    without invisible characters (:func:`~planner.i18n.visible_text`: a right-to-left override turned the rest of
    its paragraph around, past the closing tag)."""
    return html.escape(visible_text(text))


def _img(chart, alt_missing: str = "") -> str:
    """A chart (:class:`planner.report.charts.Chart`) as an inline PNG whose alt text is the chart's words."""
    if chart is None:
        return f'<p class="note">{_esc(alt_missing)}</p>' if alt_missing else ""
    t = _esc(chart.title)
    return (f'<figure><img alt="{_esc(chart.alt)}" src="data:image/png;base64,{chart.b64}">'
            f"<figcaption>{t}</figcaption></figure>")


def _template_names(results) -> dict[str, tuple[str, str]]:
    out = {}
    for r in results:
        for k, t in (r.templates or {}).items():
            out[k] = (t.label_zh, t.label_en)
    return out


def _table_html(df: pd.DataFrame, lang: str, *, text_cols=(), row_keys=None, templates=None) -> str:
    """A table of figures: one column per figure, each in one precision (:func:`same_precision`: a column read
    0.93 above 0.835), or (``row_keys``) one row per figure."""
    cols = list(df.columns)
    head = "".join(f'<th class="{"t" if c in text_cols else ""}">{_esc(label(c, lang) if c in _LABELLED else str(c))}</th>'
                   for c in cols)
    shown = {c: same_precision(df[c], c, lang) for c in cols if c not in text_cols and row_keys is None}
    rows = []
    for i, (_, r) in enumerate(df.iterrows()):
        cells = []
        for c in cols:
            v = r[c]
            key = row_keys[i] if row_keys is not None and c not in text_cols else c
            if c == "template" and templates and str(v) in templates:
                v = templates[str(v)][1 if lang == "en" else 0]
            if c in text_cols:
                cells.append(f'<td class="t{" id" if c == "site_id" else ""}">{_esc(str(v))}</td>')
            else:
                cells.append(f"<td>{_esc(shown[c][i] if c in shown else fmt(v, key, lang))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'


def _comparison_table(cmp: Comparison, lang: str) -> str:
    """The side-by-side table: per figure the scenarios' values, then per other scenario the difference from the
    baseline and in %, all from :func:`~planner.report.text.comparison_rows` (the numbers the cards and the PDF
    show); a difference better for the city green, worse red. Long names: the columns are A, B, C under a legend."""
    rows = comparison_rows(cmp, lang)
    n = len(cmp.names)
    short = any(len(x) > 12 for x in cmp.names)  # "upstairs_all − conservative_top10" squeezed the labels
    keys = scenario_keys(cmp.names) if short else list(cmp.names)
    others = range(1, n)
    heads = [*keys, *[x for j in others for x in (_t("cmp_diff_col", lang, n=keys[j], base=keys[0]),
                                                   _t("cmp_pct_col", lang, n=keys[j], base=keys[0]))]]
    head = f'<th class="t fig">{_esc(label("figure", lang))}</th>' + "".join(f"<th>{_esc(h)}</th>"
                                                                             for h in heads)
    body = []
    for k, row in rows.items():
        cells = [f'<td class="t">{_esc(label(k, lang))}</td>'] + [f"<td>{_esc(v)}</td>" for v in row.values]
        for j in others:
            way = row.ways[j - 1]
            cls = "pos" if way > 0 else "neg" if way < 0 else ""  # better green, worse red (a longer payback was green)
            cells += [f'<td class="{cls}">{_esc(row.diffs[j - 1])}</td>',
                      f'<td class="{cls}">{_esc(row.pcts[j - 1])}</td>']
        body.append("<tr>" + "".join(cells) + "</tr>")
    legend = ""
    if short:
        legend = '<p class="note">' + "<br>".join(
            _esc(tr("cmp_legend_base" if i == 0 else "cmp_legend", lang, letter=k, name=x))
            for i, (k, x) in enumerate(zip(keys, cmp.names, strict=True))) + "</p>"
    return (f'{legend}<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody>'
            "</table></div>")


def cards_html(totals: pd.Series, lang: str, keys=HEADLINE_FIGURES, *, rows: dict | None = None,
               column: int = 0) -> str:
    """Key-figure cards: label and value with unit; in a comparison (``rows``: its
    :func:`~planner.report.text.comparison_rows`, ``column`` the scenario's place in them) the value as the table
    shows it and its difference from the baseline."""
    out = []
    for k in keys:
        row = rows.get(k) if rows else None
        value = fmt(totals.get(k), k, lang, unit=True) if row is None else with_unit(row.values[column], k, lang)
        d = ""
        if row is not None and column > 0 and row.diffs[column - 1] != "–":
            way = row.ways[column - 1]
            cls = "pos" if way > 0 else "neg" if way < 0 else ""
            d = (f'<div class="d {cls}">{_esc(tr("difference", lang))} '
                 f'{_esc(row.diff_with_unit(column - 1, lang, minus="−"))}</div>')
        out.append(f'<div class="card"><div class="v">{_esc(value)}</div>'
                   f'<div class="k">{_esc(label(k, lang, unit=False))}</div>{d}</div>')
    return f'<div class="cards">{"".join(out)}</div>'


def _page(title: str, body: str, lang: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_esc(title)}</title><style>{_CSS}</style></head>"
            f"<body><main>{body}</main></body></html>\n")


def _now() -> str:
    return _dt.datetime.now().strftime("%Y-%m-%d %H:%M")


def html_report(result: ScenarioResult, *, lang: str = "zh", max_sites: int = 50,
                background: gpd.GeoDataFrame | None = None, charts: dict | None = None, sensitivity=None) -> str:
    """Standalone HTML report of one scenario (no external resources); ``charts``: its
    :func:`~planner.report.charts.scenario_charts` when made already; ``sensitivity``: its
    :func:`planner.workflow.runs_sensitivity` (a section before the assumptions)."""
    from planner.report.charts import floor_chart, scenario_charts

    charts = charts or scenario_charts(result, lang, background=background)

    sc = result.scenario
    t = result.totals
    tpl = _template_names([result])
    parts = [f"<h1>{_esc(tr('title', lang))}</h1>",
             f'<p class="meta">{_esc(tr("scenario", lang))}: <b>{_esc(sc.label or sc.name)}</b> '
             f"({_esc(sc.name)}) · {_esc(tr('generated', lang))}: {_now()}</p>",
             f'<p class="meta">{_esc(tr("policy", lang))}: {_esc(policy_text(result, lang))}</p>']
    # the stored sites it ran on, out of date or built with other settings than the saved ones (as a comparison)
    parts += [f'<p class="note">{_esc(n)}</p>' for n in sites_notes([result], lang)]
    if sc.description:
        parts.append(f"<p>{_esc(sc.description)}</p>")
    parts.append(f"<h2>{_esc(tr('key_figures', lang))}</h2>" + cards_html(t, lang, CARDS))
    parts.append(f"<h2>{_esc(tr('ledger', lang))}</h2>")
    if len(result.sites):
        parts.append(_img(floor_chart([result], lang)))
    ledger = pd.DataFrame({"figure": [label(k, lang) for k in LEDGER], "value": [t.get(k) for k in LEDGER]})
    parts.append(_table_html(ledger, lang, text_cols=("figure",), row_keys=list(LEDGER)))
    parts.append(f"<h2>{_esc(tr('timeline', lang))}</h2>")
    if len(result.sites):
        parts.append('<div class="two">' + "".join(_img(c) for c in charts["timeline"]) + "</div>")
    tl = result.timeline.reset_index()
    tl = tl[["year", "sites_started", "investment_cny", "under_construction_m2", "delivered_m2", "occupied_m2",
             "enterprises", "jobs_new", "rent_cny", "tax_new_cny"]]
    tl = tl[(tl.drop(columns="year").abs().sum(axis=1) > 0) | (tl["year"] == tl["year"].min())]
    parts.append(_table_html(tl, lang))
    parts.append(f"<h2>{_esc(tr('map', lang))}</h2>")
    parts.append(_img(charts["map"], tr("no_geometry", lang)))
    parts.append(f"<h2>{_esc(tr('sites', lang))}</h2>")
    if not len(result.sites):
        parts.append(f'<p class="note">{_esc(tr("no_sites", lang))}</p>')
    else:
        cols = ["site_id", "rank", "template", "start_year", "delivery", "land_area_mu", "existing_floor_m2",
                "demolished_floor_m2", "new_floor_m2", "net_change_m2", "enterprises_housed", "tax_after_cny",
                "investment_cny", "payback_years", "fiscal_payback_years"]
        st = pd.DataFrame(result.sites[[c for c in cols if c in result.sites.columns]]).head(max_sites)
        if len(result.sites) > max_sites:
            parts.append(f'<p class="note">{_esc(tr("sites_shown", lang, n=max_sites, total=len(result.sites)))}</p>')
        parts.append(_table_html(st, lang, text_cols=("site_id", "template"), templates=tpl))
    parts.append(sensitivity_html(sensitivity, lang))
    parts.append(f"<h2>{_esc(tr('assumptions', lang))}</h2>")
    parts.append(f'<p class="note">{_esc(tr("method_text", lang))}</p>')
    a = assumptions_table(result, lang)
    parts.append(_table_html(a, lang, text_cols=tuple(a.columns)))
    return _page(f"{tr('title', lang)} – {sc.name}", "".join(parts), lang)


def sensitivity_html(sections, lang: str) -> str:
    """The sensitivity section of a report (:func:`planner.workflow.runs_sensitivity`): per scenario the range each
    payback takes, its tornado chart and the table; "" without sections."""
    from planner.report.charts import tornado_chart

    if not sections:
        return ""
    pct = swing_text(sections[0].swing)
    parts = [f"<h2>{_esc(tr('sens_title', lang, pct=pct))}</h2>",
             f'<p class="note">{_esc(tr("sens_note", lang, pct=swing_text(sections[0].swing)))}</p>']
    for s in sections:
        parts.append(f"<h3>{_esc(s.name)}</h3>")
        if sensitivity_empty(s.table, lang):
            parts.append(f'<p class="note">{_esc(sensitivity_empty(s.table, lang))}</p>')
            continue
        lines = [x for x in (sensitivity_range(s.table, o, lang, s.swing) for o in sensitivity_outputs(s.table)) if x]
        if lines:
            parts.append("<p>" + "<br>".join(_esc(x) for x in lines) + "</p>")
        parts.append(_img(tornado_chart(s.table, lang, swing=s.swing, name=s.name)))
        rows = sensitivity_rows(s.table, lang, s.swing)
        head = "".join(f'<th class="{"t" if j == 0 else ""}">{_esc(h)}</th>' for j, h in enumerate(rows[0]))
        body = "".join("<tr>" + "".join(f'<td class="{"t" if j == 0 else ""}">{_esc(c)}</td>'
                                        for j, c in enumerate(r)) + "</tr>" for r in rows[1:])
        parts.append(f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>')
        notes = [tr("sens_mixed", lang)] if not sensitivity_has_values(s.table) else []
        notes += [tr("sens_hidden", lang)] if s.hidden else []
        parts += [f'<p class="note">{_esc(n)}</p>' for n in notes]
    return "".join(parts)


def id_list(ids, lang: str, most: int = 30) -> str:
    """The first ``most`` site ids, comma-separated, and how many more there are ("… and 849 more" / "…等另外 849 个"):
    a list cut at 30 ids read as if the scenario had only those. "none" / "无" for no ids.

    Examples
    --------
    >>> id_list(["S1", "S2", "S3"], "en", most=2), id_list(["S1", "S2", "S3"], "zh", most=2), id_list([], "en")
    ('S1, S2 … and 1 more', 'S1, S2 …等另外 1 个', 'none')
    """
    ids = list(ids)
    if not ids:
        return tr("none", lang)
    shown = ", ".join(ids[:most])
    return shown if len(ids) <= most else f"{shown} {tr('and_more', lang, n=len(ids) - most)}"


def compare_html(cmp: Comparison, *, lang: str = "zh", background: gpd.GeoDataFrame | None = None,
                 sensitivity=None) -> str:
    """Standalone HTML comparison report: key figures with differences, one floor-area chart, one map of the sites
    in A only / B only / both, the side-by-side table, yearly curves, (with ``sensitivity``: each scenario's
    :func:`planner.workflow.runs_sensitivity`) the sensitivity of the paybacks, assumptions."""
    from planner.report.charts import compare_charts, floor_chart, membership_map

    base = cmp.results[0]
    parts = [f"<h1>{_esc(tr('compare_title', lang))}</h1>",
             f'<p class="meta">{_esc(", ".join(cmp.names))} · {_esc(tr("baseline", lang))}: '
             f"{_esc(base.name)} · {_esc(tr('generated', lang))}: {_now()}</p>"]
    pol = [p for p in dict.fromkeys(policy_text(r, lang) for r in cmp.results) if p != "–"] or ["–"]
    parts.append(f'<p class="meta">{_esc(tr("policy", lang))}: {_esc("; ".join(pol))}</p>')
    from planner.workflow.visibility import hidden_note

    if hidden_note(cmp.results):  # the blanks ("–") of a role without enterprise figures, explained
        parts.append(f'<p class="note">{_esc(hidden_note(cmp.results))}</p>')
    # the stored sites the scenarios ran on, out of date or built with other settings than the saved ones
    parts += [f'<p class="note">{_esc(n)}</p>' for n in sites_notes(cmp.results, lang)]
    parts.append(f"<h2>{_esc(tr('headline', lang))}</h2>")
    rows = comparison_rows(cmp, lang, HEADLINE_FIGURES)
    for i, r in enumerate(cmp.results):
        head = _esc(r.name) + ("" if r is base else f" · {_esc(tr('difference', lang))} − {_esc(base.name)}")
        parts.append(f"<h3>{head}</h3>" + cards_html(r.totals, lang, rows=rows, column=i))
    parts.append('<div class="two">' + _img(floor_chart(cmp.results, lang))
                 + _img(membership_map(cmp, lang, background=background), tr("no_geometry", lang)) + "</div>")
    parts.append(f"<h2>{_esc(tr('compare_table', lang))}</h2>" + _comparison_table(cmp, lang))
    parts.append(f"<h2>{_esc(tr('yearly', lang))}</h2>")
    parts.append('<div class="two">' + "".join(_img(c) for c in compare_charts(cmp, lang)) + "</div>")
    parts.append(f"<h2>{_esc(tr('site_membership', lang))}</h2>")
    d = cmp.differences()
    if len(d):
        rows = "".join(
            f"<tr><td class='t'>{_esc(r.scenario)}</td><td>{r.only_in_baseline}</td><td>{r.only_in_scenario}"
            f"</td><td>{r.in_both}</td><td class='t list'>{_esc(id_list(cmp.only_in(r.scenario), lang))}</td></tr>"
            for r in d.itertuples())
        parts.append(f"<div class='scroll'><table><thead><tr><th class='t'>{_esc(tr('scenario', lang))}</th>"
                     f"<th>{_esc(tr('only_in_baseline', lang))}</th><th>{_esc(tr('only_in_scenario', lang))}"
                     f"</th><th>{_esc(tr('in_both', lang))}</th><th class='t list'>"
                     f"{_esc(tr('only_in_scenario_ids', lang))}</th></tr></thead><tbody>{rows}</tbody></table></div>")
    parts.append(sensitivity_html(sensitivity, lang))
    parts.append(f"<h2>{_esc(tr('assumptions', lang))}</h2>")
    for r in cmp.results:
        a = assumptions_table(r, lang)
        parts.append(f"<h3>{_esc(r.name)}</h3>" + _table_html(a, lang, text_cols=tuple(a.columns)))
    return _page(tr("compare_title", lang), "".join(parts), lang)


def write_html(obj: ScenarioResult | Comparison, path: str | Path, *, lang: str = "zh", **kw) -> Path:
    """Write :func:`html_report` or :func:`compare_html` to ``path`` (UTF-8)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    text = html_report(obj, lang=lang, **kw) if isinstance(obj, ScenarioResult) else compare_html(obj, lang=lang, **kw)
    p.write_text(text, encoding="utf-8")
    return p
