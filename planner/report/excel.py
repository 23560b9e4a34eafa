"""Excel workbooks of a scenario result or a comparison (xlsxwriter).

Every cell is written by its type: numbers as numbers, text as a string
(never through xlsxwriter's ``write()``, which turns ``=...`` into a formula
and ``http://...`` into a link), and text a spreadsheet would evaluate gets a
leading quote (:func:`planner.io.writers.neutralize`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xlsxwriter

from planner.io.writers import neutralize
from planner.report.geodata import site_table
from planner.report.text import as_text, kind, label, policy_text, tr
from planner.scenarios.comparison import KEY_FIGURES, Comparison, compare
from planner.scenarios.model import ScenarioResult, assumptions_in

_EXCEL_FORMATS = {"area": "#,##0", "money": "#,##0", "count": "#,##0", "int": "#,##0", "ratio": "0.00",
                  "years": "0.0", "year": "0", "share": "0.0%", "text": "@"}


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


def _workbook(path: Path) -> xlsxwriter.Workbook:
    """A workbook that never makes formulas or links out of strings, even through ``write()``."""
    return xlsxwriter.Workbook(path, {"nan_inf_to_errors": True, "strings_to_formulas": False,
                                      "strings_to_urls": False, "strings_to_numbers": False})


def _write_cells(ws, col: int, values: list) -> None:
    """Write one column from row 1 by type: numbers, booleans, neutralized strings; None stays empty."""
    for i, v in enumerate(values, start=1):
        if v is None:
            continue
        if isinstance(v, bool | np.bool_):
            ws.write_boolean(i, col, bool(v))
        elif isinstance(v, int | float | np.integer | np.floating):
            if v == v:  # NaN stays empty
                ws.write_number(i, col, float(v))
        else:
            ws.write_string(i, col, neutralize(str(v)))


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

    with _workbook(p) as xw:
        summ, rk = _summary_frame(result, lang)
        meta = pd.DataFrame({summ.columns[0]: [both("scenario"), both("policy"), both("label")],
                             result.name: [result.name, policy_text(result, lang),
                                           result.scenario.description or result.scenario.label]})
        _sheet(xw, "Summary 汇总", pd.concat([summ.astype(object), meta], ignore_index=True),
               row_kinds=[*rk, "text", "text", "text"], widths={0: 46, 1: 22})
        df, kinds = _frame_for_excel(site_table(result), lang)
        _sheet(xw, "Sites 地块", df, col_kinds=kinds)
        df, kinds = _frame_for_excel(result.timeline.reset_index(), lang)
        _sheet(xw, "Timeline 年度", df, col_kinds=kinds)
        a = as_text(assumptions_in(result.assumptions, lang), "")
        a.columns = [label(c, lang, both=lang == "zh") if c in ("parameter", "source") else c for c in a.columns]
        _sheet(xw, "Assumptions 假设", a, widths={0: 30, a.shape[1] - 1: 70})
    return p


def compare_to_excel(cmp: Comparison, path: str | Path, *, lang: str = "zh") -> Path:
    """Excel workbook of a comparison: figures with differences, site membership, curves."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with _workbook(p) as xw:
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
