"""Excel workbooks of a scenario result or a comparison (xlsxwriter).

Amounts are written in the report language's units (万㎡ and 亿元 in a Chinese workbook, m² and million
yuan in an English one; the headers say which), years as whole calendar years. Each workbook has a
native Excel chart whose title, axes and series names are in the report language (Excel draws the text
with the reader's fonts).

Every cell is written by its type: numbers as numbers, text as a string
(never through xlsxwriter's ``write()``, which turns ``=...`` into a formula
and ``http://...`` into a link), and text a spreadsheet would evaluate gets a
leading quote (:func:`planner.io.writers.neutralize`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xlsxwriter

from planner.i18n import display_unit, has_fraction
from planner.io.writers import neutralize
from planner.report.geodata import readable, site_table, template_names
from planner.report.text import (
    assumptions_table,
    comparison_rows,
    decimals_shown,
    kind,
    label,
    policy_text,
    shown_number,
    sites_notes,
    timeline_key,
    tr,
)
from planner.scenarios.comparison import FLOOR_PARTS, KEY_FIGURES, Comparison, compare
from planner.scenarios.model import ScenarioResult

#: Amounts in 万㎡, 亿元 and million yuan show a true zero as "0", as the reports do (:func:`same_precision`), not as
#: "0.000" (less than 5 m²?) among values of three decimals.
_ZERO = ";-{0};0"
_EXCEL_FORMATS = {"area": "#,##0", "money": "#,##0", "count": "#,##0", "points": "#,##0", "points_frac": "#,##0.0", "int": "#,##0",
                  "ratio": "0.00", "years": "0.0", "year": "0", "share": "0.0%", "text": "@",
                  "area_zh": "#,##0.00" + _ZERO.format("#,##0.00"), "money_zh": "#,##0.000" + _ZERO.format("#,##0.000"),
                  "area_en": "#,##0", "money_en": "#,##0.00" + _ZERO.format("#,##0.00")}


def _kind(key: str, lang: str) -> str:
    """Number-format kind of a column in a workbook of ``lang`` (amounts in display units get their own)."""
    k = kind(key)
    return f"{k}_{'en' if lang == 'en' else 'zh'}" if display_unit(key, lang) is not None else k


def _scale(values, key: str, lang: str) -> np.ndarray:
    """Values of figure ``key`` as the workbook shows them: amounts in display units, calendar years whole."""
    v = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(float)
    du = display_unit(key, lang)
    if du is not None:
        return v / du[0]
    if kind(key) == "year":
        return np.floor(v + 1e-9)
    return v


def _scale_by(values, keys, lang: str) -> np.ndarray:
    """:func:`_scale` of each value by its own figure ``keys[i]``, one call per figure: a comparison's curves
    of a scenario paced to the year 3223 have 14k rows (3.4 s value by value).

    Examples
    --------
    >>> _scale_by([20000.0, 2026.7, 3e8], ["delivered_m2", "year", "cum_investment_cny"], "zh").tolist()
    [2.0, 2026.0, 3.0]
    """
    keys = pd.Series(keys).astype(str).to_numpy()
    v = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(float)
    out = np.full(len(v), np.nan)
    for k in dict.fromkeys(keys.tolist()):
        at = keys == k
        out[at] = _scale(v[at], k, lang)
    return out


def _frame_for_excel(df: pd.DataFrame, lang: str) -> tuple[pd.DataFrame, list[str]]:
    kinds = [_kind(c, lang) for c in df.columns]
    out = df.replace([np.inf, -np.inf], np.nan).copy()
    for j, c in enumerate(df.columns):  # points with fractions (difficulty weighted 1.5 per owner): one decimal
        if kinds[j] == "points" and pd.api.types.is_float_dtype(out[c]) and has_fraction(out[c].to_numpy(dtype=float)):
            kinds[j] = "points_frac"
    for c in df.columns:
        if kind(c) in ("area", "money", "year") and pd.api.types.is_numeric_dtype(out[c]):
            out[c] = _scale(out[c], c, lang)
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


def _fixed(wb, decimals: int, *, zero: bool = False) -> str:
    """Name of the workbook's number format with thousands separators and ``decimals`` decimals (made once);
    ``zero``: a true zero shows "0" (amounts in display units, as :data:`_EXCEL_FORMATS`)."""
    fm = _formats(wb)
    name = f"fixed_{decimals}{'_zero' if zero and decimals else ''}"
    if name not in fm:
        num = "#,##0" + ("." + "0" * decimals if decimals else "")
        fm[name] = wb.add_format({"num_format": num + (_ZERO.format(num) if zero and decimals else "")})
    return name


def sheet_name(name: str, lang: str) -> str:
    """A sheet's name in the workbook's language: "Summary 汇总" in a Chinese workbook (its headers are in both
    languages), "Summary" in an English one (its tabs said "Comparison 对比" to a reader of English only)."""
    return name.rsplit(" ", 1)[0] if lang == "en" else name


def _workbook(path: Path) -> xlsxwriter.Workbook:
    """A workbook that never makes formulas or links out of strings, even through ``write()``."""
    return xlsxwriter.Workbook(path, {"nan_inf_to_errors": True, "strings_to_formulas": False,
                                      "strings_to_urls": False, "strings_to_numbers": False})


def _write_cells(ws, col: int, values) -> None:
    """Write one column from row 1 by type: numbers, booleans, neutralized strings; None, NaN and ``pd.NA`` stay
    empty; any other value is written as its text.

    One pass with the common types tested first and each distinct text neutralized once: a 1M-parcel city's
    comparison writes 86k rows of site ids, "是"/"否" and template names (0.5 s as per-cell ``isinstance`` chains).
    """
    number, string, boolean = ws.write_number, ws.write_string, ws.write_boolean
    shown: dict[str, str] = {}
    for i, v in enumerate(values, start=1):
        t = type(v)
        if t is str:
            s = shown.get(v)
            if s is None:
                s = shown[v] = neutralize(v)
            string(i, col, s)
        elif t is float:
            if v == v:  # NaN stays empty
                number(i, col, v)
        elif v is None or v is pd.NA:
            continue
        elif isinstance(v, bool | np.bool_):
            boolean(i, col, bool(v))
        elif isinstance(v, int | float | np.integer | np.floating):
            if v == v:
                number(i, col, float(v))
        else:
            s = str(v)
            string(i, col, shown[s] if s in shown else shown.setdefault(s, neutralize(s)))


def _width(header: str, col: pd.Series) -> float:
    """Width (characters) of a column: its header wrapped on up to three lines, never narrower than its longest
    word (a scenario name wrapped "conservativ" / "e_top10") or its widest value (126,515,191 m² or a 1M-parcel
    city's 1,265,151,910 showed "#####"; template names ran under the next column), at most 60."""
    cjk = any(ord(ch) > 0x2E80 for ch in header)
    longest_word = max((len(w) for w in header.split() if w.isascii()), default=0)
    head = max(min(28.0, len(header) * (1.1 if cjk else 0.6)), longest_word + 2.0)
    body = 0.0
    if pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
        v = pd.to_numeric(col, errors="coerce").abs().replace([np.inf], np.nan).max()
        if v == v and v is not None:  # the integer part with separators, a sign and up to three decimals
            body = len(f"{v:,.0f}") + 6.0
    else:
        text = pd.Series(col.dropna().astype(str).unique(), dtype=object)  # each distinct text measured once
        if len(text):  # display width: a Chinese character (3 bytes of UTF-8) counts two
            body = float(((text.str.len() + text.str.encode("utf-8").str.len()) / 2).max()) + 2.0
    return min(60.0, max(10.0, head, body))


def _sheet(wb, name: str, df: pd.DataFrame, *, col_kinds: list[str] | None = None,
           row_kinds: list[str] | None = None, pct_cols: tuple[str, ...] = (), widths: dict[int, float] | None = None
           ) -> None:
    """Write ``df`` with bold wrapped headers, number formats per column (or per row) and column widths.

    Cells are written by type (:func:`_write_cells`); missing values stay empty cells.
    """
    df = df.replace([np.inf, -np.inf], np.nan)
    ws = wb.add_worksheet(name)
    fm = _formats(wb)
    for j, c in enumerate(df.columns):
        header = str(c)
        ws.write_string(0, j, neutralize(header), fm["header"])
        col = df.iloc[:, j]
        width = widths[j] if widths and j in widths else _width(header, col)
        k = "pct" if c in pct_cols else (col_kinds[j] if col_kinds else None)
        ws.set_column(j, j, width, fm.get(k) if k and k != "text" else None)
        if pd.api.types.is_bool_dtype(col.dtype):
            values = col.tolist()
        elif pd.api.types.is_numeric_dtype(col.dtype):
            values = col.to_numpy(float).tolist()  # NaN stays empty (_write_cells)
        else:  # text; numbers other than Python's (np.int64 in an object column) as their text, as always
            values = [v if type(v) is str or v is None or isinstance(v, int | float | bool) else None if v is pd.NA else str(v)
                      for v in col.tolist()]
        _write_cells(ws, j, values)
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
    scaled = [float(_scale([v], k, lang)[0]) for k, v in zip(keys, vals, strict=True)]
    return pd.DataFrame({label("figure", lang, both=lang == "zh"): [label(k, lang, both=lang == "zh") for k in keys],
                         result.name: scaled}), [_kind(k, lang) for k in keys]


_TEXT_NUMBER = re.compile(r"-?\d{1,3}(,\d{3})*(\.\d+)?%?|-?\d+(\.\d+)?%?")


def _numbers_as_shown(wb, sheet: str, df: pd.DataFrame, cols) -> None:
    """Write the cells of ``cols`` that hold one number as text ("2,000", "2.5", "17.5%", "2026") as numbers in a
    format that shows them as the text did (a receiver's Excel flagged 23 assumptions "number stored as text" and
    could not compute with them); other text ("60%, 77.5%, 95%", "不限") stays as it is."""
    ws = wb.get_worksheet_by_name(sheet)
    fm = _formats(wb)
    for j, c in enumerate(df.columns):
        if c not in cols:
            continue
        for i, v in enumerate(df[c].tolist(), start=1):
            t = str(v).strip() if isinstance(v, str) else ""
            if not _TEXT_NUMBER.fullmatch(t):
                continue
            pct = t.endswith("%")
            body = t.rstrip("%")
            dec = len(body.split(".")[1]) if "." in body else 0
            num = ("#,##0" if "," in body else "0") + ("." + "0" * dec if dec else "") + ("%" if pct else "")
            if num not in fm:
                fm[num] = wb.add_format({"num_format": num, "align": "left"})
            ws.write_number(i, j, float(body.replace(",", "")) / (100.0 if pct else 1.0), fm[num])


def _timeline_chart(xw, sheet: str, df: pd.DataFrame, lang: str) -> None:
    """A native line chart of delivered and occupied floor area per year on the timeline sheet."""
    cols = list(df.columns)
    n = len(df)
    chart = xw.add_chart({"type": "line"})
    for key in ("under_construction_m2", "delivered_m2", "occupied_m2"):  # what the title names
        j = cols.index(label(key, lang, both=lang == "zh"))
        chart.add_series({"name": label(key, lang, unit=False), "categories": [sheet, 1, 0, n, 0],
                          "values": [sheet, 1, j, n, j], "marker": {"type": "circle", "size": 4}})
    chart.set_title({"name": tr("chart_floor_title", lang)})
    chart.set_y_axis({"name": f"{tr('unit', lang)}: {display_unit('new_floor_m2', lang)[1]}", "num_format": "#,##0"})
    chart.set_x_axis({"name": label("year", lang, unit=False)})
    chart.set_legend({"position": "bottom"})
    chart.set_size({"width": 720, "height": 340})
    xw.get_worksheet_by_name(sheet).insert_chart(1, len(cols) + 1, chart)


def _floor_sheet(xw, results: list[ScenarioResult], lang: str) -> None:
    """Sheet of the floor-area parts per scenario (demolished negative) with a native stacked bar chart."""
    name = sheet_name("Floor area 建筑面积", lang)
    rows = {(f"{tr('scenario', 'zh')} {tr('scenario', 'en')}" if lang == "zh" else tr("scenario", lang)):
            [r.name for r in results]}  # in both languages in a Chinese workbook, as its other headers
    for k in (*FLOOR_PARTS, "net_change_m2"):
        sign = -1.0 if k == "demolished_floor_m2" else 1.0
        rows[label(k, lang, both=lang == "zh")] = [sign * float(_scale([r.totals.get(k, 0.0)], k, lang)[0])
                                                   for r in results]
    df = pd.DataFrame(rows)
    _sheet(xw, name, df, col_kinds=["text", *[_kind("new_floor_m2", lang)] * 4], widths={0: 22})
    chart = xw.add_chart({"type": "bar", "subtype": "stacked"})
    n = len(results)
    colors = {"retained_floor_m2": "#9E9E9E", "demolished_floor_m2": "#D6604D", "new_floor_m2": "#4393C3"}
    for j, k in enumerate(FLOOR_PARTS, start=1):
        chart.add_series({"name": label(k, lang, unit=False), "categories": [name, 1, 0, n, 0],
                          "values": [name, 1, j, n, j], "fill": {"color": colors[k]}, "gap": 60})
    chart.set_title({"name": tr("chart_floor_parts", lang)})
    unit = display_unit("new_floor_m2", lang)[1]
    chart.set_x_axis({"name": f"{tr('unit', lang)}: {unit}", "num_format": "#,##0"})
    chart.set_y_axis({"reverse": True})
    chart.set_legend({"position": "bottom"})
    chart.set_size({"width": 720, "height": 120 + 60 * n})
    xw.get_worksheet_by_name(name).insert_chart(n + 3, 0, chart)


_template_name = template_names


def _readable_sites(result: ScenarioResult, lang: str) -> pd.DataFrame:
    """The site table with the template and the rule for existing buildings by name, not by code."""
    st = site_table(result)
    for col, names in readable(st, result, lang).items():
        st[col] = names
    return st


def _membership(cmp: Comparison, lang: str) -> pd.DataFrame:
    """Which scenario takes each site, when it starts and with which template, under readable headers (the
    comparison's own columns were ``start_year_<name>``, ``template_<name>`` and True/False)."""
    m = cmp.membership
    names = _template_name(cmp.results, lang)
    yes, no = ("是", "否") if lang == "zh" else ("Yes", "No")
    out = pd.DataFrame({label("site_id", lang, both=lang == "zh"): m.index.astype(str)})
    for r in cmp.results:  # vectorized: a 1M-parcel city's comparison has 86k sites (0.45 s as Python loops)
        n = r.name
        out[f"{n} · {tr('in_scenario', lang)}"] = np.where(m[n].to_numpy(bool), yes, no)
        # a number (a year Excel can sort and filter by), empty where the scenario does not take the site
        out[f"{n} · {label('start_year', lang, unit=False)}"] = np.round(_scale(m[f"start_year_{n}"], "start_year", lang))
        tpl = m[f"template_{n}"].reset_index(drop=True)
        out[f"{n} · {label('template', lang, unit=False)}"] = tpl.map(names).fillna(tpl).fillna("").astype(str).to_numpy()
    return out


def _sensitivity_sheet(xw, sections, lang: str) -> None:
    """The sensitivity sheet (:func:`planner.workflow.runs_sensitivity`): one row per scenario and parameter, its
    value lower, as it is and higher (one template) and each figure of each run, numbers as numbers in the
    workbook's units (nothing without sections)."""
    from planner.i18n import param_label
    from planner.report.text import SENSITIVITY_SHOWN, swing_text
    from planner.scenarios.sensitivity import OUTPUTS

    if not sections:
        return
    zh = lang == "zh"
    pct = swing_text(sections[0].swing)
    sides = (("low", f"−{pct}"), ("base", f"{tr('sens_as_is', 'zh')} {tr('sens_as_is', 'en')}" if zh
                                   else tr("sens_as_is", lang)), ("high", f"+{pct}"))
    have = {c for s in sections for c in s.table.columns}
    outs = [o for o in dict.fromkeys((*SENSITIVITY_SHOWN, *OUTPUTS)) if f"{o}_base" in have]
    both = (lambda k: f"{tr(k, 'zh', pct=pct)} {tr(k, 'en', pct=pct)}") if zh else (lambda k: tr(k, lang, pct=pct))
    cols: dict[str, list] = {both("scenario"): [], both("sens_param"): []}
    kinds = ["text", "text"]
    for _side, head in sides:
        cols[f"{both('sens_param')} · {head}"] = []
        kinds.append("general")
    for o in outs:
        for _side, head in sides:
            cols[f"{label(o, lang, both=zh)} {head}"] = []
            kinds.append(_kind(o, lang))
    for s in sections:
        t = s.table
        for _, r in t.iterrows():
            values = [s.name, param_label(r["parameter"], lang)]
            values += [None if r.get(f"value_{side}") is None or pd.isna(r.get(f"value_{side}"))
                       else float(f"{float(r.get(f'value_{side}')):.12g}") for side, _h in sides]  # 9.6, not 9.600000000000001
            for o in outs:
                values += [float(_scale([r.get(f"{o}_{side}", np.nan)], o, lang)[0]) for side, _h in sides]
            for c, v in zip(cols, values, strict=True):
                cols[c].append(v)
    df = pd.DataFrame(cols)
    _sheet(xw, sheet_name("Sensitivity 敏感性", lang), df, col_kinds=kinds, widths={0: 22, 1: 26})


def to_excel(result: ScenarioResult | Sequence[ScenarioResult], path: str | Path, *, lang: str = "zh",
             sensitivity=None) -> Path:
    """Excel workbook of one scenario (summary, sites, timeline, assumptions; with ``sensitivity``, its
    :func:`planner.workflow.runs_sensitivity`, a sensitivity sheet) or of a comparison.

    Headers carry units, e.g. "新增建筑面积 New floor area (m²)"; numbers are
    formatted (thousands separators, 2-decimal ratios) and columns sized.
    """
    if not isinstance(result, ScenarioResult):
        return compare_to_excel(compare(list(result)), path, lang=lang, sensitivity=sensitivity)
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)

    def both(k: str) -> str:
        return f"{tr(k, 'zh')} {tr(k, 'en')}" if lang == "zh" else tr(k, lang)

    with _workbook(p) as xw:
        summ, rk = _summary_frame(result, lang)
        meta = pd.DataFrame({summ.columns[0]: [both("scenario"), both("policy"), both("label")],
                             result.name: [result.name, policy_text(result, lang),
                                           result.scenario.description or result.scenario.label]})
        notes = sites_notes([result], lang)  # the stored sites out of date (or of other settings), as HTML/PDF
        if notes:
            meta = pd.concat([meta, pd.DataFrame({summ.columns[0]: notes})], ignore_index=True)
        _sheet(xw, sheet_name("Summary 汇总", lang), pd.concat([summ.astype(object), meta], ignore_index=True),
               row_kinds=[*rk, "text", "text", "text", *["text"] * len(notes)], widths={0: 46, 1: 22})
        df, kinds = _frame_for_excel(_readable_sites(result, lang), lang)
        _sheet(xw, sheet_name("Sites 地块", lang), df, col_kinds=kinds)
        df, kinds = _frame_for_excel(result.timeline.reset_index().rename(columns=timeline_key), lang)
        _sheet(xw, sheet_name("Timeline 年度", lang), df, col_kinds=kinds)
        _timeline_chart(xw, sheet_name("Timeline 年度", lang), df, lang)
        _floor_sheet(xw, [result], lang)
        _sensitivity_sheet(xw, sensitivity, lang)
        a = assumptions_table(result, lang).replace("–", "")
        _sheet(xw, sheet_name("Assumptions 假设", lang), a, widths={0: 30, a.shape[1] - 1: 70})
        _numbers_as_shown(xw, sheet_name("Assumptions 假设", lang), a, a.columns[1:-1])
    return p


def compare_to_excel(cmp: Comparison, path: str | Path, *, lang: str = "zh", sensitivity=None) -> Path:
    """Excel workbook of a comparison: figures with differences, site membership, curves; with ``sensitivity``
    (each scenario's :func:`planner.workflow.runs_sensitivity`) a sensitivity sheet."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with _workbook(p) as xw:
        t = cmp.table
        rows = comparison_rows(cmp, lang)  # the numbers of the HTML and PDF reports and the app
        df = t.copy()
        for c in cmp.names:  # the values themselves, shown with the decimals the reports show them with
            df[c] = [float(_scale([v], k, lang)[0]) for k, v in zip(t.index, df[c], strict=True)]
        for j, n in enumerate(cmp.names[1:]):  # differences and % from the values shown, as the reports
            diff = [shown_number(rows[k].diffs[j]) for k in t.index]
            df[f"{n} - {cmp.names[0]}"] = diff
            df[f"{n} vs {cmp.names[0]} %"] = [shown_number(rows[k].pcts[j].rstrip("%")) + 0.0 for k in t.index]
        df.insert(0, label("figure", lang, both=lang == "zh"), [label(k, lang, both=lang == "zh") for k in t.index])
        row_kinds = ["year" if kind(k) == "year" else _fixed(xw, max(decimals_shown(x) for x in rows[k].values),
                                                            zero=display_unit(k, lang) is not None)
                     for k in t.index]
        from planner.workflow.visibility import hidden_note

        if hidden_note(cmp.results):  # the empty cells of a role without enterprise figures, explained (as HTML/PDF)
            df = pd.concat([df, pd.DataFrame({df.columns[0]: [hidden_note(cmp.results)]})], ignore_index=True)
            row_kinds.append("text")
        notes = sites_notes(cmp.results, lang)  # the stored sites out of date (or of other settings), as HTML/PDF
        if notes:
            df = pd.concat([df, pd.DataFrame({df.columns[0]: notes})], ignore_index=True)
            row_kinds += ["text"] * len(notes)
        _sheet(xw, sheet_name("Comparison 对比", lang), df, row_kinds=row_kinds,
               pct_cols=tuple(c for c in t.columns if c.endswith(" %")), widths={0: 46})
        _floor_sheet(xw, cmp.results, lang)
        m = _membership(cmp, lang)
        _sheet(xw, sheet_name("Sites 地块", lang), m, col_kinds=["year" if pd.api.types.is_float_dtype(m[c]) else "text" for c in m.columns])
        curves = cmp.curves.copy()
        curves["value"] = _scale_by(curves["value"], curves["metric"], lang)
        wide = curves.pivot_table(index="year", columns=["metric", "scenario"], values="value")
        kinds = ["year"] + [_kind(mm, lang) for mm, _s in wide.columns]
        wide.columns = [f"{label(timeline_key(mm), lang, both=lang == 'zh')} · {s}" for mm, s in wide.columns]
        wide.index.name = label("year", lang, both=lang == "zh")
        _sheet(xw, sheet_name("Curves 年度曲线", lang), wide.reset_index(), col_kinds=kinds)
        _sensitivity_sheet(xw, sensitivity, lang)
    return p


def table_to_excel(df: pd.DataFrame, path: str | Path, *, lang: str = "zh", sheet: str = "Data 数据") -> Path:
    """A plain table as a workbook: labelled headers, numbers as numbers, text neutralized (an export)."""
    from planner.i18n import column_label

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    out, kinds = _frame_for_excel(pd.DataFrame(df), lang)
    out.columns = [column_label(c, lang) if column_label(c, lang) != c else label(c, lang) for c in df.columns]
    with _workbook(p) as xw:
        _sheet(xw, sheet_name(sheet, lang), out, col_kinds=kinds)
    return p
