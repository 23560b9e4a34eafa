"""Tables and values as users read them: translated codes, labelled columns, formatted numbers.

Data frames keep their raw column names and values (selection, sorting and
tests work on them); :func:`show` adds a ``column_config`` with the label of
every column in the session language and a number format, and translates
coded values (``"low"`` -> ``"偏低"``, ``True`` -> ``"是"``, ``"industrial"`` ->
``"工业"``). :func:`format_value` and :func:`format_series` do the same for
one value or one column (detail panels, map tooltips).
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import streamlit as st

from planner.i18n import (
    VALUE_KINDS,
    VALUES,
    column_format,
    column_label,
    display_unit,
    field_label,
    has_fraction,
    label_kind,
    visible_text,
)
from planner.ui.state import lang

#: Python formats of single values (detail panel, tooltips); "pct" = fraction shown as a percentage.
VALUE_FMT = {
    "land_area_m2": "{:,.0f}", "floor_area_m2": "{:,.0f}", "footprint_m2": "{:,.0f}", "output_cny": "{:,.0f}",
    "tax_cny": "{:,.0f}", "employees": "{:,.0f}", "year_built": "{:.0f}", "zone_far_max": "{:.2f}",
    "land_area_mu": "{:,.2f}", "plot_ratio": "{:.2f}", "coverage": "pct", "output_per_mu": "{:,.0f}",
    "tax_per_mu": "{:,.0f}", "employees_per_ha": "{:,.1f}", "far_gap": "{:.2f}", "floor_potential_m2": "{:,.0f}",
    "years_since_built": "{:.0f}", "n_low": "{:.0f}", "n_unknown": "{:.0f}", "flagged_share": "pct",
    "share": "pct", "land_ha": "{:,.2f}", "flagged_ha": "{:,.2f}", "n": "{:,.0f}", "rank": "{:.0f}",
    "score": "{:.2f}", "compactness": "{:.2f}",
}


def _missing(v) -> bool:
    if v is None or v is pd.NA:
        return True
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def template_label(name, lang_: str | None = None) -> str:
    """Label of a park template name (``standard_factory`` -> 标准厂房园区; ``*_custom`` marked)."""
    from planner.scenarios import templates as tpl

    lg = lang_ or lang()
    s = str(name)
    base, custom = (s[: -len("_custom")], True) if s.endswith("_custom") else (s, False)
    try:
        t = tpl.builtin_templates().get(base) if tpl is not None else None
    except Exception:  # broken template files: show the name
        t = None
    if t is None:
        return s
    text = t.label_en if lg == "en" else t.label_zh
    return text + ((" (custom)" if lg == "en" else "（自定义）") if custom else "")


def format_value(col: str, v, lang_: str | None = None) -> str:
    """One value as text: coded values translated, numbers with separators and sensible decimals."""
    lg = lang_ or lang()
    if _missing(v):
        return "—"
    kind = VALUE_KINDS.get(col)
    if kind is not None:
        key = str(bool(v)) if isinstance(v, (bool, np.bool_)) else str(v)
        pair = VALUES[kind].get(key)
        return (pair[1] if lg == "en" else pair[0]) if pair else str(v)
    if col == "industry":
        from planner.codes import INDUSTRIES

        pair = INDUSTRIES.get(str(v))
        return f"{v} {pair[1] if lg == 'en' else pair[0]}" if pair else str(v)
    if col == "template":
        return template_label(v, lg)
    if isinstance(v, (bool, np.bool_)):
        return VALUES["bool"][str(bool(v))][1 if lg == "en" else 0]
    if isinstance(v, (int, float, np.integer, np.floating)):
        f = VALUE_FMT.get(col)
        if f == "pct":
            return f"{float(v):.1%}"
        if f is not None:
            return f.format(float(v))
        if isinstance(v, (int, np.integer)):
            return f"{int(v):,}"
        return f"{float(v):,.2f}"
    return str(v)


def format_series(col: str, s: pd.Series, lang_: str | None = None) -> pd.Series:
    """:func:`format_value` over a column (distinct values formatted once)."""
    lg = lang_ or lang()
    if col not in VALUE_KINDS and col not in ("industry", "template") and pd.api.types.is_string_dtype(s.dtype) \
            and not isinstance(s.dtype, pd.CategoricalDtype):
        return s.astype(object).where(s.notna(), "—")  # free text (owner, address): as it is, one value per row
    vals = s.astype(object)
    uniq = pd.unique(vals.dropna()) if len(vals) else []
    table = {u: format_value(col, u, lg) for u in uniq}
    return vals.map(table).astype(object).fillna("—")  # object first: an all-missing column maps to float NaN


def localize(df: pd.DataFrame, lang_: str | None = None) -> pd.DataFrame:
    """A copy for display: coded values translated, amounts in display units (万㎡/亿元, m²/million yuan), shares
    to percent, text without invisible characters (:func:`~planner.i18n.visible_text`: the grid honoured a
    right-to-left override in a delivered parcel id, "r1c1\u202e4c3r" read "r1c1r3c4")."""
    lg = lang_ or lang()
    out = pd.DataFrame(df).copy()
    geo = [c for c in out.columns if str(out[c].dtype) == "geometry"]
    out = out.drop(columns=geo)
    for c in out.columns:
        if c in VALUE_KINDS or c in ("template", "industry"):
            out[c] = format_series(c, out[c], lg)
        elif display_unit(str(c), lg) is not None:
            out[c] = pd.to_numeric(out[c], errors="coerce") / display_unit(str(c), lg)[0]
        elif column_format(c) == "share":
            out[c] = pd.to_numeric(out[c], errors="coerce") * 100.0
        elif label_kind(str(c)) == "year" and pd.api.types.is_float_dtype(out[c]):
            out[c] = np.floor(out[c] + 1e-9)  # a delivery in October 2028 is in 2028
        if pd.api.types.is_object_dtype(out[c].dtype) or pd.api.types.is_string_dtype(out[c].dtype):
            out[c] = out[c].map(lambda v: visible_text(v) if isinstance(v, str) else v)
    return out


def problems_frame(problems, lang_: str | None = None, limit: int = 2000) -> pd.DataFrame:
    """Ingest problems (:class:`planner.ingest.Problem`) as a table in the UI language.

    The message is the Chinese one in a Chinese UI (English where a problem
    has none); field names become their labels. Codes and actions stay raw
    here and are translated by :func:`show` like every coded column.
    """
    from dataclasses import asdict

    lang_ = lang_ or lang()
    df = pd.DataFrame([asdict(p) for p in problems[:limit]])
    if not len(df):
        return df
    df["field"] = df["field"].map(lambda f: field_label(f, lang_) if isinstance(f, str) else f)
    if lang_ == "zh":
        df["message"] = df["message_zh"].fillna(df["message"])
    return df.drop(columns="message_zh")


def _fractional(df: pd.DataFrame, cols) -> set:
    """The "points" columns of ``cols`` holding a value with a fraction (a whole-number format would cut it off).

    Estimates counted in whole things (enterprises housed, jobs) keep whole numbers, as the reports show them.
    """
    return {c for c in cols if label_kind(str(c)) == "points" and pd.api.types.is_float_dtype(df[c])
            and has_fraction(df[c].to_numpy(dtype=float))}


def column_config(columns, lang_: str | None = None, *, labels: dict | None = None, numeric=None,
                  fractional=()) -> dict:
    """``st.dataframe`` column_config: a label for every column, a number format where known.

    ``numeric``: the columns that hold numbers (others keep a plain column whatever their name);
    ``fractional``: those with values that are not whole, where points show one decimal (difficulty points
    weighted 1.5 per owner: 2.5, which "%,d" showed as 2 while the reports said 2.5).
    """
    lg = lang_ or lang()
    cfg = {}
    for c in columns:
        lbl = (labels or {}).get(c) or column_label(str(c), lg)
        fmt = column_format(str(c), lg) if numeric is None or c in numeric else ""
        if fmt == "%,d" and c in fractional:
            fmt = "%,.1f"
        if fmt == "share":
            cfg[c] = st.column_config.NumberColumn(lbl, format="%.1f%%")
        elif fmt:
            cfg[c] = st.column_config.NumberColumn(lbl, format=fmt)
        else:
            cfg[c] = st.column_config.Column(lbl)
    return cfg


#: Tables longer than this are shown a page at a time (sorted and filtered on the server).
PAGE_ROWS = 200


def show(df: pd.DataFrame, *, labels: dict | None = None, style=None, **kw):
    """``st.dataframe`` of ``df`` localized and labelled; ``style(localized_df)`` (a Styler or a DataFrame) optional.

    Other keyword arguments go to ``st.dataframe`` (``hide_index`` defaults to True,
    ``width`` to ``"stretch"``). Returns what ``st.dataframe`` returns (selection events).
    A table longer than :data:`PAGE_ROWS` is shown a page at a time (:func:`paged`);
    a selection then refers to the rows of the page shown.
    """
    if len(df) > PAGE_ROWS:
        return paged(df, labels=labels, style=style, **kw)[0]
    return _show(df, labels=labels, style=style, **kw)


def _show(df: pd.DataFrame, *, labels: dict | None = None, style=None, **kw):
    loc = localize(df)
    kw.setdefault("placeholder", "—")  # a missing number read "None" (text columns already show "—")
    kw.setdefault("hide_index", True)
    kw.setdefault("width", "stretch")
    num = {c for c in loc.columns if pd.api.types.is_numeric_dtype(loc[c]) and not pd.api.types.is_bool_dtype(loc[c])}
    cfg = column_config(loc.columns, labels=labels, numeric=num, fractional=_fractional(loc, num))
    return st.dataframe(style(loc) if style is not None else loc, column_config=cfg, **kw)


def selected_rows(state) -> list[int]:
    """The selected row numbers in an ``st.dataframe``'s selection state (``session_state[key]``; none: ``[]``).

    >>> selected_rows({"selection": {"rows": [2], "columns": []}}), selected_rows(None)
    ([2], [])
    """
    try:
        return [int(r) for r in state["selection"]["rows"]]
    except (KeyError, TypeError, ValueError):
        return []


def page_order(df: pd.DataFrame, sort: str | None, desc: bool, find_col: str | None, find: str) -> np.ndarray:
    """Row positions of ``df`` filtered by ``find`` (a case-insensitive substring of ``find_col``) and sorted.

    Sorting is stable (ties keep the table's order) and puts missing values last.
    """
    pos = np.arange(len(df))
    if find and find_col is not None and find_col in df.columns:
        hit = df[find_col].astype(str).str.contains(find.strip(), case=False, regex=False, na=False).to_numpy()
        pos = pos[hit]
    if sort and sort in df.columns:
        v = df[sort].iloc[pos]
        o = v.reset_index(drop=True).sort_values(ascending=not desc, kind="stable", na_position="last").index
        pos = pos[o.to_numpy()]
    return pos


def paged(df: pd.DataFrame, *, key: str | None = None, labels: dict | None = None, style=None,
          find_col: str | None = None, page_rows: int = PAGE_ROWS, style_selection: bool = False,
          **kw) -> tuple[object, pd.DataFrame]:
    """A long table one page at a time: sort, find and page on the server, only the page goes to the browser.

    Styling (``style``) applies to the page only, so a 100,000-row table never
    meets the Pandas Styler cell limit, and a 1,000,000-row table costs the
    browser one page. Returns ``(st.dataframe event, the page's rows of df)``;
    a selection's row numbers refer to that page.

    ``style_selection``: ``style`` is called as ``style(page, rows)`` with the rows of the page selected in the
    browser as this run starts, so what it marks is the selection just made, not the one of the run before
    (the event is returned only once the table is drawn).
    """
    from planner.ui.state import tr

    key = key or "tbl_" + str(abs(hash((tuple(map(str, df.columns)), len(df)))))
    cols = [c for c in df.columns if str(df[c].dtype) != "geometry"]
    c1, c2, c3, c4 = st.columns([1.5, 0.45, 1.2, 0.9], vertical_alignment="bottom")
    opts = ["—", *cols]
    sort = c1.selectbox(tr("tbl_sort"), opts, key=f"{key}__sort",
                        format_func=lambda c: c if c == "—" else ((labels or {}).get(c) or column_label(str(c), lang())))
    desc = c2.toggle("↓", key=f"{key}__desc", help=tr("tbl_desc"))
    find = c3.text_input(tr("tbl_find"), key=f"{key}__find") if find_col is not None else ""
    pos = page_order(df, None if sort == "—" else sort, desc, find_col, find)
    pages = max(1, -(-len(pos) // page_rows))
    page = int(c4.number_input(tr("tbl_page_pick"), 1, pages, 1, step=1, key=f"{key}__page_{pages}"))
    part = df.iloc[pos[(page - 1) * page_rows: page * page_rows]]
    kw.pop("key", None)
    # the widget is keyed by what it shows: a selection never points at a row of another page or order
    wkey = f"{key}__{sort}_{desc}_{find}_{page}"
    if style is not None and style_selection:
        rows = selected_rows(st.session_state.get(wkey))
        style = functools.partial(style, rows=rows)
    ev = _show(part, labels=labels, style=style, key=wkey, **kw)
    st.caption(tr("tbl_page", page=page, pages=pages, n=len(pos)))
    return ev, part
