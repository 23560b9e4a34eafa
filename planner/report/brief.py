"""The one-page site brief (一地一策) on A4: map, facts, floor area now and planned, why it was flagged,
constraints and retained parcels, the parcels with their owners and enterprises.

Drawn with the helpers of :mod:`planner.report.pdf` from :class:`planner.workflow.briefs.SiteBrief`.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
from fpdf.enums import WrapMode, XPos, YPos

from planner.errors import PlannerError
from planner.report.pdf import (
    _GREY,
    WIDTH,
    _Doc,
    _heading,
    _image,
    _now,
    _table,
    _title,
    _value_rows,
)
from planner.report.text import fmt, label, tr

#: Units of indicator thresholds in reasons (:data:`planner.classify.indicators.INDICATORS` units -> text key).
_REASON_UNITS = {"CNY/mu": "brief_unit_cny_mu", "CNY/tce": "brief_unit_cny_tce",
                 "persons/ha": "brief_unit_persons_ha", "years": "brief_unit_years"}
_RULE = re.compile(r"^(?P<name>.+?)\s*(?P<op><=|>=|<|>|≤|≥)\s*(?P<thr>-?\d[\d,]*(?:\.\d+)?)$")


def reason_rule(text: str, lang: str) -> str:
    """A reason's rule as a reader expects it: capitalised, the threshold with separators and its unit.

    The stored reasons stay as :func:`planner.classify.classify` wrote them; only the brief shows them so.

    Examples
    --------
    >>> reason_rule("tax per mu < 50000", "en"), reason_rule("亩均税收 < 50000", "zh")
    ('Tax per mu < 50,000 yuan/mu', '亩均税收 < 50,000 元/亩')
    >>> reason_rule("building coverage < 0.3", "en"), reason_rule("production stopped", "en")
    ('Building coverage < 30%', 'Production stopped')
    """
    from planner.classify.indicators import INDICATORS

    m = _RULE.match(text.strip())
    out = text.strip()
    if m:
        name, op, thr = m["name"], {"<=": "≤", ">=": "≥"}.get(m["op"], m["op"]), m["thr"].replace(",", "")
        meta = next((i for i in INDICATORS.values() if name in (i.zh, i.en)), None)
        value = float(thr)
        if meta is not None and meta.name == "coverage":  # a share: 0.3 -> 30%
            shown = f"{value * 100:,.{max(len(thr.partition('.')[2]) - 2, 0)}f}%"
        else:
            decimals = len(thr.partition(".")[2])
            shown = f"{value:,.{decimals}f}"
            key = _REASON_UNITS.get(meta.unit) if meta is not None else None
            if key:
                shown += " " + tr(key, lang)
            elif meta is not None and meta.unit in ("m²", "mu"):
                shown += " " + ("㎡" if meta.unit == "m²" and lang == "zh" else "亩" if lang == "zh" else meta.unit)
        out = f"{name} {op} {shown}"
    return out[:1].upper() + out[1:] if lang == "en" else out


def _why(parcels: pd.DataFrame, lang: str) -> list[list[str]]:
    """Counts of the site's parcels by low criterion, and the most frequent reasons."""
    rows = [[tr("reasons", lang), label("n_parcels", lang)]]
    for c, (zh, en) in {"low_utilization": ("低利用率", "Low utilization"), "low_capacity": ("低产能", "Low capacity"),
                        "low_contribution": ("低贡献", "Low contribution")}.items():
        if c in parcels.columns:
            rows.append([zh if lang == "zh" else en, f"{int((parcels[c].astype(str) == 'low').sum())}"])
    col = "reason_en" if lang == "en" else "reason_zh"
    if col in parcels.columns:
        flagged = parcels[parcels.get("three_low", pd.Series(True, index=parcels.index)).fillna(False).astype(bool)]
        parts = flagged[col].dropna().astype(str).str.split("; ").explode()
        # the rule, not the parcel's own value: "容积率 0.72 < 1.0" -> "容积率 < 1.0"
        parts = parts.str.replace(r"\s*-?[\d.,]+[^\s<>≤≥]*\s*(?=[<>≤≥])", " ", regex=True).str.strip()
        parts = parts[parts.str.len() > 0]
        for text, n in parts.value_counts().head(5).items():
            rows.append([reason_rule(str(text), lang), f"{int(n)}"])
    return rows


def _brief_page(pdf: _Doc, b, lang: str) -> None:
    from planner.report.charts import brief_map

    s = b.site.iloc[0]
    f = b.figures
    pdf.add_page()
    tname = b.templates[b.template].label_en if lang == "en" and b.template in b.templates else \
        b.templates[b.template].label_zh if b.template in b.templates else b.template
    if not b.scenario:
        under = tr("brief_default", lang, template=tname)
    elif b.in_scenario:
        under = tr("brief_under", lang, name=b.scenario, template=tname)
    else:
        under = tr("brief_not_selected", lang, name=b.scenario, template=tname)
    _title(pdf, tr("brief_title", lang, id=b.site_id), tr("brief_subtitle", lang),
           f"{tr('generated', lang)}: {_now()} · {under}")
    _warnings_box(pdf, b, lang)
    top = pdf.get_y()
    mw = 112.0
    _heading(pdf, tr("brief_map", lang), w=mw)
    y_map = pdf.get_y()
    h = _image(pdf, brief_map(b.site, b.parcels, lang, constraints=b.constraints, context=b.context), mw,
               x=pdf.l_margin, y=y_map, max_h=86)
    # facts on the right
    x2 = pdf.l_margin + mw + 4
    w2 = WIDTH - mw - 4
    pdf.set_xy(x2, top)
    _heading(pdf, tr("brief_facts", lang), w=w2, x=x2)
    kept = b.parcels[b.parcels["kept"].astype(bool)] if "kept" in b.parcels.columns else b.parcels.iloc[:0]
    facts = [("rank", s.get("rank")), ("score", s.get("score")), ("land_area_m2", s.get("land_area_m2")),
             ("land_area_mu", s.get("land_area_mu")), ("n_parcels", s.get("n_parcels")),
             ("n_owners", s.get("n_owners")), ("n_enterprises", s.get("n_enterprises")),
             ("plot_ratio", s.get("plot_ratio")), ("flagged_share", s.get("flagged_share")),
             ("compactness", s.get("compactness")), ("n_retained_inside", s.get("n_retained_inside")),
             ("difficulty", s.get("difficulty"))]
    names = {"plot_ratio": tr("brief_plot_ratio_parcels", lang)}  # floor ÷ the parcels' land, cut-out included
    rows = [[label("figure", lang), label("value", lang)], [tr("brief_status", lang), _status(s, b.provenance, lang)],
            *[[names.get(k) or label(k, lang), fmt(v, k, lang)] for k, v in facts if v is not None],
            [tr("brief_kept_count", lang), f"{len(kept)}"]]
    pdf.set_x(x2)
    _table(pdf, rows, (w2 * 0.58, w2 * 0.42), size=6.8, align=("LEFT", "RIGHT"), x=x2)
    if s.get("difficulty") is not None:  # what the points count
        pdf.set_font("cjk", size=6.3)
        pdf.set_text_color(*_GREY)
        pdf.set_x(x2)
        pdf.multi_cell(w2, 3.2, _difficulty_scale(b.provenance, lang), wrapmode=pdf.wrap, new_x=XPos.LEFT,
                       new_y=YPos.NEXT, align="L")
        pdf.set_text_color(0, 0, 0)
        pdf.ln(1.5)
    pdf.set_x(x2)
    _heading(pdf, tr("brief_constraints_retained", lang), w=w2, x=x2)
    pdf.set_font("cjk", size=6.8)
    overlap = float(s.get("constraint_overlap_m2") or 0.0)
    net = float(s.get("land_area_m2") or 0.0)
    cats = []
    if b.constraints is not None and "category" in b.constraints.columns:
        from planner.i18n import value_label

        cats = sorted({value_label("category", c, lang) for c in b.constraints["category"].astype(str)})
    text = tr("brief_overlap", lang, area=f"{overlap:,.0f}") if overlap > 0 else tr("brief_no_constraint", lang)
    if cats:
        text += (" " if lang == "en" else "") + ("（附近：" + "、".join(cats) + "）" if lang == "zh"
                                                  else f"(nearby: {', '.join(cats)})")
    if overlap > 0:  # the two plot ratios of the page divide by these
        text += "\n" + tr("brief_land_split", lang, gross=f"{net + overlap:,.0f}", net=f"{net:,.0f}")
    text += "\n" + _kept_text(b, kept, lang, pdf, w2)
    pdf.set_x(x2)
    pdf.multi_cell(w2, 3.5, text, wrapmode=pdf.wrap, new_x=XPos.LEFT, new_y=YPos.NEXT, align="L")
    right_end = pdf.get_y()
    pdf.set_y(max(y_map + h, right_end) + 3)
    # floor area now and planned | why flagged
    y = pdf.get_y()
    half = WIDTH / 2 - 2
    _heading(pdf, tr("brief_floor" if b.in_scenario or not b.scenario else "brief_floor_not_selected", lang), w=half)
    keys = ("existing_floor_m2", "retained_floor_m2", "demolished_floor_m2", "new_floor_m2", "floor_after_m2",
            "net_change_m2", "plot_ratio_before", "plot_ratio_after", "enterprises_housed", "tax_after_cny",
            "investment_cny", "payback_years", "fiscal_payback_years")
    rows = [[label("figure", lang), label("value", lang)], *_value_rows(keys, [f.get(k) for k in keys], lang)]
    for r, k in zip(rows[1:], keys, strict=True):  # floor ÷ the site's land, the cut-out excluded
        if k in ("plot_ratio_before", "plot_ratio_after"):
            r[0] = tr(f"brief_{k}", lang)
    _table(pdf, rows, (half * 0.66, half * 0.34), size=6.8, align=("LEFT", "RIGHT"))
    left_end = pdf.get_y()
    x2 = pdf.l_margin + half + 4
    pdf.set_xy(x2, y)
    _heading(pdf, tr("brief_why", lang), w=half, x=x2)
    pdf.set_x(x2)
    _table(pdf, _why(b.parcels, lang), (half * 0.8, half * 0.2), size=6.8, align=("LEFT", "RIGHT"), x=x2)
    pdf.set_y(max(left_end, pdf.get_y()) + 1)
    # parcels
    _heading(pdf, tr("brief_parcels", lang))
    order = {"retained_inside": 0, "flagged": 1, "added": 2, "absorbed": 3}
    p = b.parcels.assign(_k=~b.parcels["kept"].astype(bool) if "kept" in b.parcels.columns else True,
                         _o=b.parcels["role"].astype(str).map(order).fillna(9),
                         _a=-pd.to_numeric(b.parcels.get("land_area_m2", 0), errors="coerce").fillna(0))
    p = p.sort_values(["_k", "_o", "_a", "parcel_id"])  # kept parcels first: on the page when the list is cut
    cols = [c for c in ("parcel_id", "owner", "enterprise", "land_area_m2", "floor_area_m2", "plot_ratio", "role",
                        "upgrade_class", "kept") if c in p.columns]
    heads = {"parcel_id": tr("parcel_id", lang), "owner": tr("owner", lang), "enterprise": tr("enterprise", lang),
             "role": tr("role", lang), "upgrade_class": "提升分类" if lang == "zh" else "Upgrade class",
             "kept": label("existing_rule", lang)}
    pdf.set_font("cjk", size=6.5)
    note = 3.5 * len(pdf.multi_cell(WIDTH, 3.5, _more_parcels(b.site_id, len(p), lang), dry_run=True, output="LINES",
                                    wrapmode=pdf.wrap))
    size = 6.3
    pdf.set_font("cjk", size=size)
    rows = [[heads.get(c) or label(c, lang) for c in cols]]
    cells_of = [_parcel_cells(r, cols, lang) for _, r in p.head(_MOST_ROWS).iterrows()]
    w = _parcel_widths(pdf, [rows[0], *cells_of], cols)
    # rows while they fit, each as high as its wrapped cells, with room left for the note on the rest of the list
    room = pdf.h - pdf.b_margin - pdf.get_y() - 1.5 - _row_height(pdf, rows[0], w, size)
    for i, full in enumerate(cells_of):
        # one line per parcel: a name is cut only when the columns beside it leave it no room
        cells = [pdf.fit(v, cw - 2.2) if c in _NAMES else v for c, v, cw in zip(cols, full, w, strict=True)]
        room -= _row_height(pdf, cells, w, size)
        if room < (0 if i == len(p) - 1 else note) and len(rows) > 3:
            break
        rows.append(cells)
    _table(pdf, rows, w, size=size, align=tuple("RIGHT" if c in _NUMBERS else "LEFT" for c in cols))
    if len(p) > len(rows) - 1:
        pdf.set_font("cjk", size=6.5)
        pdf.set_text_color(*_GREY)
        pdf.multi_cell(WIDTH, 3.5, _more_parcels(b.site_id, len(p) - len(rows) + 1, lang), wrapmode=pdf.wrap,
                       align="L")
        pdf.set_text_color(0, 0, 0)


#: Fill, border and heading colours of the box of a brief's warnings: the sites out of date (amber), or only built
#: with other settings than the saved ones (a neutral grey-blue note).
_BOX = {True: ((255, 244, 214), (222, 160, 40), (138, 80, 0)), False: ((238, 242, 247), (196, 205, 216), _GREY)}
#: Most height (mm) of that box: the page keeps room for its figures and the first parcels of its list.
_BOX_MOST = 30.0


def _warnings_box(pdf: _Doc, b, lang: str) -> None:
    """The warnings of the stored sites a brief rests on (:attr:`~planner.workflow.briefs.SiteBrief.warnings`), in a
    tinted box under the title: "Out of date: ..." when the sites no longer match the workspace, else a note that
    they were built with other settings than the saved ones; each reason on its own lines, with what rebuilds the
    sites. A printed brief is forwarded without the command's output: an out-of-date one must not look current.

    The box is at most :data:`_BOX_MOST` mm high (smaller type, then the last line cut with "…"), so the page keeps
    its layout on one sheet; without warnings nothing is drawn and the page is as it was.
    """
    if not b.warnings:
        return
    stale = bool(b.out_of_date)
    fill, border, ink = _BOX[stale]
    pad, bullet = 2.0, 3.0
    head = tr("brief_out_of_date" if stale else "brief_settings_note", lang)
    items = [zh if lang == "zh" else en[:1].upper() + en[1:] for en, zh in b.warnings]

    def lines(size: float) -> tuple[list[str], list[list[str]]]:
        pdf.set_font("cjk", size=size + 0.7)
        room = WIDTH - 2 * pad - 2 * pdf.c_margin - 0.01
        top = pdf.multi_cell(WIDTH - 2 * pad, 1, pdf.breaks(head, room), dry_run=True, output="LINES",
                             wrapmode=pdf.wrap)
        pdf.set_font("cjk", size=size)
        room -= bullet
        return top, [pdf.multi_cell(WIDTH - 2 * pad - bullet, 1, pdf.breaks(t, room), dry_run=True, output="LINES",
                                    wrapmode=pdf.wrap) for t in items]

    for size in (6.6, 6.2, 5.8, 5.4):  # the type smaller until the box fits its most height
        lh = size * 0.5
        top, body = lines(size)
        height = 2 * pad + (size + 0.7) * 0.5 * len(top) + 0.8 + lh * sum(len(x) for x in body)
        if height <= _BOX_MOST:
            break
    most = int((_BOX_MOST - 2 * pad - (size + 0.7) * 0.5 * len(top) - 0.8) // lh)
    if sum(len(x) for x in body) > most:  # still too long: the reasons as far as they go, the last line cut
        kept, left = [], most
        for x in body:
            if left <= 0:
                break
            kept.append(x[:left])
            left -= len(kept[-1])
        pdf.set_font("cjk", size=size)
        kept[-1][-1] = pdf.fit(kept[-1][-1].rstrip() + "…", WIDTH - 2 * pad - bullet - 2 * pdf.c_margin)
        body = kept
    height = 2 * pad + (size + 0.7) * 0.5 * len(top) + 0.8 + lh * sum(len(x) for x in body)
    pdf.ln(1)
    x, y = pdf.l_margin, pdf.get_y()
    pdf.set_fill_color(*fill)
    pdf.set_draw_color(*border)
    pdf.set_line_width(0.3)
    pdf.rect(x, y, WIDTH, height, style="DF")
    pdf.set_line_width(0.2)
    pdf.set_xy(x + pad, y + pad)
    pdf.set_font("cjk", size=size + 0.7)
    pdf.set_text_color(*ink)
    for t in top:
        pdf.cell(WIDTH - 2 * pad, (size + 0.7) * 0.5, t, new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_y(pdf.get_y() + 0.8)
    pdf.set_font("cjk", size=size)
    pdf.set_text_color(40, 40, 40)
    for x_lines in body:
        for i, t in enumerate(x_lines):
            pdf.set_x(x + pad)
            pdf.cell(bullet, lh, "•" if i == 0 else "", new_x=XPos.RIGHT, new_y=YPos.TOP)
            pdf.cell(WIDTH - 2 * pad - bullet, lh, t, new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_text_color(0, 0, 0)
    pdf.set_draw_color(0, 0, 0)
    pdf.set_y(y + height + 2)


_ROLE_KEYS = {"role_flagged", "role_absorbed", "role_retained_inside", "role_added"}


#: Columns of names in the parcel list: one line each, cut with "…" only when the other columns leave no room.
_NAMES = ("owner", "enterprise")
#: More parcel rows than an A4 page holds below the brief's figures (the widths are measured on these).
_MOST_ROWS = 60
_NUMBERS = ("land_area_m2", "floor_area_m2", "plot_ratio")


def _parcel_cells(r, cols, lang: str) -> list[str]:
    """The texts of one parcel's row of the list, uncut."""
    from planner.i18n import value_label

    cells = []
    for c in cols:
        v = r[c]
        if c == "role":
            cells.append(tr(f"role_{v}", lang) if f"role_{v}" in _ROLE_KEYS else str(v))
        elif c == "upgrade_class":
            cells.append(value_label("upgrade", v, lang) if isinstance(v, str) else "–")
        elif c == "kept":
            cells.append(tr("brief_kept_yes" if bool(v) else "brief_kept_no", lang))
        elif c in _NUMBERS:
            cells.append(fmt(v, c, lang))
        else:
            cells.append("–" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v))
    return cells


def _parcel_widths(pdf: _Doc, rows: list[list[str]], cols: list[str], width: float = WIDTH) -> list[float]:
    """Widths (mm) of the parcel list's columns in the current font, ``width`` in all.

    Every column is as wide as its widest cell and its heading on two lines (broken between words in English,
    before a bracket in Chinese, as :func:`planner.report.pdf._column_widths` breaks them); headings then get
    one line each while the page has room (the narrowest first), and what is left is shared out evenly. When the names
    (owner, enterprise) do not all fit, the other columns keep their widths and the names share the rest: the
    shorter column gets all it needs up to half of it, the longer one the remainder (its longest names are cut).
    Fixed widths cut "福建省晋江福特食品有限责任公司" to "福建省晋江福特食品有…" beside half-empty columns.
    """
    sep = " " if pdf.wrap == WrapMode.WORD else ""
    split = r"\s+" if pdf.wrap == WrapMode.WORD else r"(?=[（(])"

    def heading(head: str, lines: int) -> float:
        """Width of ``head`` on one line, or on two broken between its words (parts) at the best place."""
        parts = [p for p in re.split(split, head) if p]
        if lines == 1 or len(parts) < 2:
            return pdf.get_string_width(head)
        return min(max(pdf.get_string_width(sep.join(parts[:k])), pdf.get_string_width(sep.join(parts[k:])))
                   for k in range(1, len(parts)))

    def need(lines: int) -> np.ndarray:
        return np.array([max([heading(head, lines), *(pdf.get_string_width(r[i]) for r in rows[1:])]) + 2.2
                         for i, head in enumerate(rows[0])])

    whole, n = need(1), need(2)
    if whole.sum() <= width:
        return (whole + (width - whole.sum()) / len(n)).tolist()
    if n.sum() <= width:  # headings on one line where the room allows, the narrowest widening first
        for j in sorted(np.flatnonzero(whole > n), key=lambda j: whole[j] - n[j]):
            if n.sum() + whole[j] - n[j] > width:
                break
            n[j] = whole[j]
        return (n + (width - n.sum()) / len(n)).tolist()
    names = np.array([c in _NAMES for c in cols])
    room = width - n[~names].sum()
    if not names.any() or room < 15.0 * names.sum():  # no names, or the other columns alone fill the page
        return (n * width / n.sum()).tolist()
    out = n.copy()
    left, k = room, int(names.sum())
    for j in sorted(np.flatnonzero(names), key=lambda j: n[j]):  # the shorter names first, each up to an even share
        out[j] = min(n[j], left / k)
        left -= out[j]
        k -= 1
    return out.tolist()


def _row_height(pdf: _Doc, cells: list[str], widths, size: float) -> float:
    """Height in mm of one row of :func:`planner.report.pdf._table` (lines of its tallest cell; ``multi_cell``
    leaves the same 1 mm each side as the table's padding)."""
    lines = max(len(pdf.multi_cell(cw, size * 0.5, pdf.break_long_words(str(c), cw - 2.0), dry_run=True,
                                   output="LINES", wrapmode=pdf.wrap)) for c, cw in zip(cells, widths, strict=True))
    return lines * size * 0.5 + 1.2


def _difficulty_scale(provenance: dict | None, lang: str) -> str:
    """What the assembly difficulty counts, with the weights the sites were built with (default 1, 1 and 2).

    Examples
    --------
    >>> _difficulty_scale({}, "en")
    'Difficulty points: 1 per land-right holder, 1 per enterprise, 2 per retained parcel inside (higher is harder).'
    """
    from planner.sites.params import DifficultyWeights

    weights = ((provenance or {}).get("site_params") or {}).get("difficulty") or {}
    try:
        w = DifficultyWeights(**weights)
    except (TypeError, ValueError):  # the sites were stored by another version: the default says what it counts
        w = DifficultyWeights()
    return tr("brief_difficulty_scale", lang, owners=f"{w.owners:g}", enterprises=f"{w.enterprises:g}",
              retained=f"{w.retained:g}")


def _status(site, provenance: dict | None, lang: str) -> str:
    """The site's status ("OK", "Too small (< 10,000 m²)"...), with the limit of the site rules it misses."""
    from planner.i18n import value_label

    status = str(site.get("status") or "ok")
    text = value_label("site_status", status, lang)
    params = (provenance or {}).get("site_params") or {}
    limit = {"too_small": ("brief_status_min", params.get("min_area_m2")),
             "too_large": ("brief_status_max", params.get("max_area_m2"))}.get(status)
    if limit and limit[1] is not None:
        text = tr(limit[0], lang, status=text, area=f"{float(limit[1]):,.0f}")
    return text


def _kept_text(b, kept: pd.DataFrame, lang: str, pdf: _Doc, width: float) -> str:
    """Which parcels the figures keep, by the scenario's existing-buildings rule (with the floor area they keep);
    their ids on lines of their own, never broken inside an id."""
    from planner.i18n import value_label

    rule = str(b.figures.get("existing_rule") or "demolish")
    if rule == "retain_class":
        names = [value_label("upgrade", c, lang) for c in b.retain_classes]
        classes = "".join(f"「{n}」" for n in names) if lang == "zh" else " or ".join(names)
        how = tr("brief_rule_retain_class", lang, classes=classes)
    else:
        how = tr("brief_rule_retain" if rule == "retain" else "brief_rule_demolish", lang)
    if not len(kept):
        return tr("brief_kept_none", lang, rule=how)
    ids = kept["parcel_id"].astype(str).tolist()
    floor = fmt(b.figures.get("retained_floor_m2"), "retained_floor_m2", lang, unit=True)
    head = tr("brief_kept", lang, rule=how, n=len(ids), s="" if len(ids) == 1 else "s", floor=floor)
    sep = "、" if lang == "zh" else ", "
    items = [i + sep for i in ids[:8]]
    items[-1] = ids[min(len(ids), 8) - 1] + (sep + "…" if len(ids) > 8 else "")
    lines, line = [], ""
    for item in items:  # ids side by side while they fit the column
        if line and pdf.get_string_width(line + item) > width - 2.5:
            lines.append(line)
            line = ""
        line += item
    return "\n".join([head, *lines, line])


def _more_parcels(site_id: str, n: int, lang: str) -> str:
    """Where the parcels the page has no room for are listed: the app's export of the site's parcels."""
    from planner.i18n import t

    return tr("brief_more_parcels", lang, n=n, id=site_id, page=t("nav_sites", lang), export=t("ex_title", lang),
              what=t("ex_site_parcels", lang, id=site_id))


def site_briefs_pdf(briefs, *, lang: str = "zh") -> bytes:
    """One A4 page per site brief (:class:`planner.workflow.briefs.SiteBrief`), in order."""
    if not briefs:
        msg = "no site to brief"
        raise PlannerError(msg, zh="没有可生成简报的片区")
    prov = briefs[0].provenance or {}
    from planner.workflow.provenance import Provenance

    foot = Provenance.from_meta(prov).summary(lang) if prov else ""
    if prov.get("policy_edited"):
        foot += tr("policy_edited", lang, base=prov.get("policy_base") or prov.get("policy_name") or "–")
    pdf = _Doc(lang, foot, tr("brief_title", lang, id=", ".join(b.site_id for b in briefs[:5])))
    for b in briefs:
        _brief_page(pdf, b, lang)
    return bytes(pdf.output())
