"""Printable PDFs on A4: site briefs (一地一策, one page per site) and scenario or comparison reports.

Drawn with fpdf2 (pure Python, no system libraries) with the packaged Noto Sans CJK font embedded (a
subset of the glyphs used), so a brief prints and reads the same on any machine. Charts and maps are the
report's matplotlib charts (:mod:`planner.report.charts`) as PNG. Every page carries what the figures
rest on (policy, survey version, site parameters) and its page number.
"""

from __future__ import annotations

import datetime as _dt
import io
import math
import re

import numpy as np
import pandas as pd
from fpdf import FPDF, FontFace
from fpdf.enums import WrapMode, XPos, YPos

from planner.errors import PlannerError
from planner.i18n import t as _t
from planner.i18n import visible_text
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

#: Usable width of an A4 page with 12 mm margins (mm).
WIDTH = 186.0
_HEAD = FontFace(emphasis="NONE", fill_color=(228, 236, 245), color=(20, 30, 45))
_BLUE = (11, 79, 138)
_GREY = (91, 107, 123)
#: Characters a line of Chinese never starts with (closing brackets and punctuation).
_NO_LINE_START = frozenset("）)」』】》〉］]、，。：；！？%％·…")


class ReportFontError(PlannerError):
    """No CJK font to embed."""


class _Doc(FPDF):
    """An A4 page set with the CJK font and a footer naming the inputs and the page."""

    def __init__(self, lang: str, footer: str, title: str) -> None:
        from planner.report.charts import cjk_font_face

        super().__init__(orientation="P", unit="mm", format="A4")
        face = cjk_font_face()
        if face is None:
            msg = "no CJK font for the PDF: install the 'noto-cjk-sans-otc' package (a dependency of planner)"
            raise ReportFontError(msg, zh="没有可嵌入 PDF 的中文字体：请安装 noto-cjk-sans-otc（planner 的依赖）")
        self.add_font("cjk", fname=str(face[0]), collection_font_number=face[1])
        self.rlang = lang
        self.footer_text = footer
        self.set_margins(12, 12, 12)
        self.set_auto_page_break(True, margin=15)
        self.set_font("cjk", size=9)
        self.set_title(title)
        self.set_lang("zh-CN" if lang == "zh" else "en")
        self.set_creator("planner")

    def normalize_text(self, text: str) -> str:
        """Every text fpdf2 draws or measures (cells, tables, widths) passes here: without the invisible characters
        of a delivered file or a typed name (:func:`~planner.i18n.visible_text`). The font has no glyph for them:
        fpdf2 drew nothing and logged "Font ... is missing the following glyphs", the raw right-to-left override
        on the command's terminal."""
        return super().normalize_text(visible_text(text))

    @property
    def wrap(self) -> WrapMode:
        """How text wraps: English between words (a word is split only when it is wider than its cell), Chinese
        anywhere (it has no spaces)."""
        return WrapMode.WORD if self.rlang == "en" else WrapMode.CHAR

    def fit(self, text: str, width: float) -> str:
        """``text`` cut with "…" to fit ``width`` mm in the current font (a cell does not clip what overflows it)."""
        if self.get_string_width(text) <= width:
            return text
        lo, hi = 0, len(text)
        while lo < hi:  # the longest prefix that fits with the ellipsis
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if self.get_string_width(text[:mid] + "…") <= width else (lo, mid - 1)
        return text[:lo].rstrip() + "…"

    def fitted(self, text: str, width: float, size: float, *, smallest: float | None = None) -> str:
        """Set the font ``size``, smaller (down to ``smallest``, default two thirds of it) until ``text`` fits
        ``width`` mm, and return it (cut with "…" if it still does not): a key figure stays inside its box."""
        smallest = size * 2 / 3 if smallest is None else smallest
        self.set_font("cjk", size=size)
        w = self.get_string_width(text)
        if w > width:
            self.set_font("cjk", size=max(smallest, size * width / w))
        return self.fit(text, width)

    def break_long_words(self, text: str, width: float) -> str:
        """``text`` with a line break after ``_``, ``-`` or ``/`` inside a word wider than ``width`` mm (English).

        fpdf2 breaks English between words, and a word wider than its cell anywhere in it: a scenario named
        ``phased_budget`` came out as "phased_budg / et". Such a word now breaks where its parts join, as few
        times as the width allows (a part still too wide is left to fpdf2). Chinese: :meth:`break_cjk`.
        """
        if self.wrap != WrapMode.WORD:
            return text
        out = []
        for line in text.split("\n"):
            words = []
            for word in line.split(" "):
                if self.get_string_width(word) > width:
                    parts, cur = [], ""
                    for part in re.split(r"(?<=[_/-])", word):
                        if cur and self.get_string_width(cur + part) > width:
                            parts.append(cur)
                            cur = part
                        else:
                            cur += part
                    word = "\n".join([*parts, cur])
                words.append(word)
            out.append(" ".join(words))
        return "\n".join(out)

    def break_cjk(self, text: str, width: float) -> str:
        """``text`` broken into lines of at most ``width`` mm (Chinese), never starting a line with a closing
        bracket or punctuation and keeping a bracketed unit on one line when it fits ("改造后年税收" /
        "（亿元/年）", not "改造后年税收（亿元/年" / "）"; "标准厂房（低租金" / ")" before), nor "v1）；" after
        "原为" split as "v" / "1）；", and a Latin word ("ws.gpkg") whole on the next line when the line ends in it.

        fpdf2 breaks Chinese at any character, the closing bracket too; the lines are broken here so each fits
        and fpdf2 keeps them. English (:attr:`wrap` WORD) is returned as it is.
        """
        if self.wrap != WrapMode.CHAR:
            return text
        out = []
        for para in text.split("\n"):
            line = ""
            for i, ch in enumerate(para):
                if not line or self.get_string_width(line + ch) <= width:
                    line += ch
                    continue
                cut = len(line)  # the line is para[i - len(line):i]
                opening = max(line.rfind("（"), line.rfind("("))
                closing = para.find("）" if line[opening:opening + 1] == "（" else ")", i) if opening > 0 else -1
                word = re.search(r"[A-Za-z0-9_./-]+$", line) if ch.isascii() and ch.isalnum() else None
                joint = max(word.group().rfind(j) for j in "_-/") if word else -1
                if closing >= 0 and self.get_string_width(para[i - len(line) + opening:closing + 1]) <= width:
                    cut = opening  # the bracket and what it holds start the next line together
                elif 0 <= joint < len(word.group()) - 1:  # a Latin name breaks where its parts join, "phased_" / "budget"
                    cut = word.start() + joint + 1
                elif word and word.start() > 0:  # a Latin word goes down whole, "ws.gpkg", not "ws.gpk" / "g"
                    cut = word.start()
                elif ch in _NO_LINE_START and len(line) > 1:
                    cut = len(line) - 1  # the character before goes down with it, and "）" before "；" too
                    while cut > 1 and line[cut] in _NO_LINE_START:
                        cut -= 1
                    start = re.search(r"[A-Za-z0-9_.]+$", line[:cut + 1]) if line[cut].isascii() else None
                    if start and start.start() > 0:  # "原为 v1）；": "v1）；" down together, not "v" / "1）；"
                        cut = start.start()
                out.append(line[:cut])
                line = line[cut:] + ch
            out.append(line)
        return "\n".join(out)

    def breaks(self, text: str, width: float) -> str:
        """``text`` with line breaks where it should wrap in a cell ``width`` mm wide: English after ``_``/``-``
        inside a long word (:meth:`break_long_words`), Chinese by the rules of :meth:`break_cjk`."""
        return self.break_long_words(text, width) if self.wrap == WrapMode.WORD else self.break_cjk(text, width)

    def footer(self) -> None:
        self.set_y(-11)
        self.set_font("cjk", size=6.5)
        self.set_text_color(*_GREY)
        self.set_draw_color(210, 216, 222)
        self.line(12, self.get_y() - 1, 12 + WIDTH, self.get_y() - 1)
        page = tr("page", self.rlang, i=self.page_no(), n="{nb}")
        # the inputs line stops short of the page number (it ran over it); the title block has it whole
        self.cell(WIDTH - 30, 4, self.fit(self.footer_text, WIDTH - 32), new_x=XPos.RIGHT, new_y=YPos.TOP)
        self.cell(30, 4, page, align="R")
        self.set_text_color(0, 0, 0)


def _now() -> str:
    return _dt.datetime.now().strftime("%Y-%m-%d %H:%M")


def _title(pdf: _Doc, title: str, subtitle: str = "", meta: str = "") -> None:
    pdf.set_font("cjk", size=17)
    pdf.set_text_color(*_BLUE)
    pdf.cell(WIDTH, 9, pdf.fitted(title, WIDTH, 17, smallest=11), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(0, 0, 0)
    if subtitle:  # wrapped, never cut: it names the scenarios (a long name lost its end, a baseline all but "基…")
        _lines(pdf, subtitle, 10, 5)
    if meta:
        pdf.set_font("cjk", size=7.5)
        pdf.set_text_color(*_GREY)
        pdf.multi_cell(WIDTH, 4, meta, wrapmode=pdf.wrap, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_text_color(0, 0, 0)
    pdf.ln(1.5)


#: Height of a section heading with its rule and the gap below it (mm).
HEADING_H = 7.7
#: What of a table must fit under its heading (mm): the header row and a row or two.
TABLE_START = 14.0


def _lines(pdf: _Doc, text: str, size: float, h: float, *, dry_run: bool = False) -> int:
    """Write ``text`` at ``size`` pt across the page in lines ``h`` mm high, wrapped (:meth:`_Doc.breaks`: English
    after an underscore inside a long name); returns the number of lines (only counts them with ``dry_run``)."""
    pdf.set_font("cjk", size=size)
    room = WIDTH - 2 * pdf.c_margin - 0.01  # what the cell leaves for text: a line broken wider wrapped its last letter
    lines = pdf.multi_cell(WIDTH, h, pdf.breaks(text, room), wrapmode=pdf.wrap, align="L", new_x=XPos.LMARGIN,
                           new_y=YPos.NEXT, dry_run=dry_run, output="LINES")
    return len(lines)


def _heading(pdf: _Doc, text: str, *, keep: float = TABLE_START, w: float = WIDTH, x: float | None = None) -> None:
    """A section heading kept on one page with the first ``keep`` mm of what follows (a heading alone at the foot
    of a page, its chart on the next, read as an empty section). A heading in a right-hand column (``x``) stays
    where its page layout puts it."""
    if x is None:
        _ensure(pdf, HEADING_H + keep)
    else:
        pdf.set_x(x)
    pdf.set_font("cjk", size=10.5)
    pdf.set_text_color(*_BLUE)
    pdf.cell(w, 6.5, text, new_x=XPos.LMARGIN if x is None else XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_draw_color(31, 119, 180)
    pdf.line(pdf.l_margin if x is None else x, pdf.get_y(), (pdf.l_margin if x is None else x) + w, pdf.get_y())
    pdf.ln(1.2)
    pdf.set_text_color(0, 0, 0)
    pdf.set_font("cjk", size=8)


def _cards(pdf: _Doc, totals: pd.Series, keys, *, rows: dict | None = None, column: int = 0, per_row: int = 3,
           h: float = 15.0) -> None:
    """Key-figure boxes: value with unit, label, and (``rows``: the comparison's
    :func:`~planner.report.text.comparison_rows`, ``column`` the scenario's place in them) the value as the
    comparison table shows it with its difference from the baseline."""
    gap = 2.5
    w = (WIDTH - gap * (per_row - 1)) / per_row
    x0 = pdf.l_margin
    _ensure(pdf, h * math.ceil(len(keys) / per_row) + 4)
    y = pdf.get_y()
    for i, k in enumerate(keys):
        if i and i % per_row == 0:
            y += h + gap
        x = x0 + (i % per_row) * (w + gap)
        pdf.set_draw_color(221, 227, 234)
        pdf.set_fill_color(251, 252, 254)
        pdf.rect(x, y, w, h, style="DF")
        pdf.set_xy(x + 2, y + 1.2)
        pdf.set_text_color(*_BLUE)
        row = rows.get(k) if rows else None
        value = fmt(totals.get(k), k, pdf.rlang, unit=True) if row is None else with_unit(row.values[column], k,
                                                                                           pdf.rlang)
        pdf.cell(w - 4, 6, pdf.fitted(value, w - 4, 12 if per_row <= 3 else 9.5))
        pdf.set_xy(x + 2, y + 7.6)
        pdf.set_text_color(*_GREY)
        pdf.cell(w - 4, 3.4, pdf.fitted(label(k, pdf.rlang, unit=False), w - 4, 7 if per_row <= 3 else 6))
        if row is not None and column > 0 and row.diffs[column - 1] != "–":
            way = row.ways[column - 1]  # better green, worse red, neither grey
            pdf.set_text_color(*((26, 127, 55) if way > 0 else (180, 35, 24) if way < 0 else _GREY))
            pdf.set_xy(x + 2, y + 11)
            text = f"{tr('difference', pdf.rlang)} {row.diff_with_unit(column - 1, pdf.rlang, minus='−')}"
            pdf.cell(w - 4, 3.4, pdf.fitted(text, w - 4, 7 if per_row <= 3 else 6))
        pdf.set_text_color(0, 0, 0)
    pdf.set_xy(pdf.l_margin, y + h + 3)


def _ensure(pdf: _Doc, mm: float) -> None:
    """A new page unless ``mm`` millimetres are left on this one (a heading never stays alone at the bottom)."""
    if pdf.get_y() + mm > pdf.h - pdf.b_margin:
        pdf.add_page()


def _room(pdf: _Doc) -> float:
    """Height of a whole page's text area (mm)."""
    return pdf.h - pdf.t_margin - pdf.b_margin


def _size(chart, w: float, max_h: float | None = None) -> tuple[float, float]:
    """Width and height (mm) of a chart placed ``w`` mm wide, narrower if it would be taller than ``max_h``."""
    if chart is None:
        return 0.0, 0.0
    from PIL import Image

    with Image.open(io.BytesIO(chart.png)) as im:
        h = w * im.height / im.width
        if max_h is not None and h > max_h:
            w, h = max_h * im.width / im.height, max_h
    return w, h


def _figure(pdf: _Doc, heading: str, chart, w: float, *, max_h: float | None = None) -> None:
    """A heading and its chart ``w`` mm wide (narrower if taller than ``max_h``) on one page: no taller than a page
    under its heading (a tall map moved on alone and left its heading on a page of its own)."""
    w, h = _size(chart, w, min(_room(pdf) - HEADING_H - 2, max_h or math.inf))
    _heading(pdf, heading, keep=h + 2)
    _image(pdf, chart, w)


def _image(pdf: _Doc, chart, w: float, *, x: float | None = None, y: float | None = None,
           max_h: float | None = None) -> float:
    """Place a chart ``w`` mm wide (narrower if it would be taller than ``max_h``); returns its height."""
    if chart is None:
        return 0.0
    w, h = _size(chart, w, max_h)
    if x is None and y is None and pdf.get_y() + h > pdf.h - pdf.b_margin:
        pdf.add_page()
    pdf.image(io.BytesIO(chart.png), x=pdf.l_margin if x is None else x, y=pdf.get_y() if y is None else y, w=w,
              alt_text=chart.alt[:500], title=chart.title)
    if x is None and y is None:
        pdf.set_y(pdf.get_y() + h + 2)
    return h


def _table(pdf: _Doc, rows: list[list[str]], widths, *, size: float = 7.0, align=None, x: float | None = None,
           line_height: float | None = None) -> None:
    """A table of text cells (first row = headings), CJK text wrapped by character."""
    pdf.set_font("cjk", size=size)
    margin = pdf.l_margin
    if x is not None:  # a table in the right-hand column: the margin moves there while it is drawn
        pdf.set_left_margin(x)
        pdf.set_x(x)
    try:
        with pdf.table(col_widths=widths, width=sum(widths), align="LEFT", headings_style=_HEAD,
                       line_height=line_height or size * 0.5, wrapmode=pdf.wrap, text_align=align or "LEFT",
                       padding=(0.6, 1.0, 0.6, 1.0), borders_layout="SINGLE_TOP_LINE") as t:
            for r in rows:
                row = t.row()
                for c, w in zip(r, widths, strict=True):
                    row.cell(pdf.breaks(str(c), w - 2.01))  # the cell's padding: 1 mm each side
    finally:
        pdf.set_left_margin(margin)
    pdf.ln(1.5)


def _column_widths(pdf: _Doc, rows: list[list[str]], width: float = WIDTH) -> list[float]:
    """Widths (mm) of a table's columns in the current font, ``width`` in all: each column as wide as its widest
    cell, a heading's words (English) or its parts before and from a bracket (Chinese: "改造后年税收" /
    "（亿元/年）") counted apart, the rest shared out evenly. Equal widths gave a template name 22 mm
    ("标准厂房（低租金" / ")") and the headings "用地面积（" / "亩）". Too wide a table is scaled down to ``width``."""
    split = r"\s+" if pdf.wrap == WrapMode.WORD else r"(?=[（(])"
    parts = [[p for p in re.split(split, str(c)) if p] for c in rows[0]]
    need = np.array([max([*map(pdf.get_string_width, [*head, *(str(r[i]) for r in rows[1:])]), 0.0]) + 2.2
                     for i, head in enumerate(parts)])
    if need.sum() > width:
        return (need * width / need.sum()).tolist()
    return (need + (width - need.sum()) / len(need)).tolist()


def _value_rows(keys, values, lang: str) -> list[list[str]]:
    return [[label(k, lang), fmt(v, k, lang)] for k, v in zip(keys, values, strict=True)]


# --------------------------------------------------------------------------- scenario and comparison reports
def scenario_pdf(result, *, lang: str = "zh", background=None, max_sites: int = 40,
                 charts: dict | None = None, sensitivity=None) -> bytes:
    """The scenario report on A4: key figures, floor-area chart, timeline, map, ledger, sites, (``sensitivity``: its
    :func:`planner.workflow.runs_sensitivity`) the sensitivity, assumptions; ``charts``: its
    :func:`~planner.report.charts.scenario_charts` when made already."""
    from planner.report.charts import floor_chart, scenario_charts
    from planner.report.html import CARDS, LEDGER

    charts = charts or scenario_charts(result, lang, background=background)

    sc = result.scenario
    pdf = _Doc(lang, f"{tr('policy', lang)}: {policy_text(result, lang)}", f"{tr('title', lang)} – {sc.name}")
    pdf.add_page()
    _title(pdf, tr("title", lang), f"{tr('scenario', lang)}: {sc.label or sc.name} ({sc.name})",
           "\n".join([f"{tr('generated', lang)}: {_now()} · {tr('policy', lang)}: {policy_text(result, lang)}",
                      *sites_notes([result], lang)]))  # the stored sites out of date, as a comparison says
    _heading(pdf, tr("key_figures", lang), keep=15 * 2 + 2.5)
    _cards(pdf, result.totals, CARDS[:6], per_row=3)
    _cards(pdf, result.totals, CARDS[6:], per_row=4, h=12)
    if len(result.sites):
        _image(pdf, floor_chart([result], lang, size=(7.5, 1.9)), WIDTH * 0.85)
        _ensure(pdf, max(_size(c, WIDTH / 2 - 2)[1] for c in charts["timeline"]) + 2)  # placed at y: nothing moves them on
        y = pdf.get_y()
        hs = [_image(pdf, c, WIDTH / 2 - 2, x=pdf.l_margin + i * (WIDTH / 2 + 2), y=y)
              for i, c in enumerate(charts["timeline"])]
        pdf.set_y(y + max(hs) + 2)
    pdf.add_page()
    rows = [[label("figure", lang), label("value", lang)], *_value_rows(LEDGER, [result.totals.get(k) for k in LEDGER],
                                                                        lang)]
    ledger = HEADING_H + len(rows) * (7.0 * 0.5 + 1.2)  # a row of one line: its text and padding
    full = _size(charts["map"], WIDTH * 0.8)[1]
    # the map a fifth smaller rather than the ledger split (3 rows ran on to the next page) or sent on alone
    _figure(pdf, tr("map", lang), charts["map"], WIDTH * 0.8, max_h=max(_room(pdf) - HEADING_H - 2 - ledger, full * 0.8))
    _heading(pdf, tr("ledger", lang), keep=ledger - HEADING_H)
    _table(pdf, rows, (70, 40), align=("LEFT", "RIGHT"))
    if len(result.sites):
        cols = [c for c in ("site_id", "template", "start_year", "delivery", "land_area_mu", "existing_floor_m2",
                            "new_floor_m2", "net_change_m2", "enterprises_housed", "tax_after_cny", "investment_cny",
                            "payback_years") if c in result.sites.columns]
        _heading(pdf, tr("sites_in_report", lang, n=min(max_sites, len(result.sites))))
        if len(result.sites) > max_sites:  # as the HTML report: how many there are, and where they all are
            pdf.set_text_color(*_GREY)
            _lines(pdf, tr("sites_shown", lang, n=max_sites, total=len(result.sites)), 7.5, 4)
            pdf.set_text_color(0, 0, 0)
            pdf.ln(0.5)
        names = {k: (t.label_en if lang == "en" else t.label_zh) for k, t in (result.templates or {}).items()}
        top = result.sites.head(max_sites)
        body = {c: top[c].astype(str).map(lambda v: names.get(v, v)).tolist() if c == "template" else
                top[c].astype(str).tolist() if c == "site_id" else same_precision(top[c], c, lang) for c in cols}
        rows = [[label(c, lang) for c in cols], *map(list, zip(*body.values(), strict=True))]
        pdf.set_font("cjk", size=6.3)
        _table(pdf, rows, _column_widths(pdf, rows), size=6.3, align=("LEFT", "LEFT", *["RIGHT"] * (len(cols) - 2)))
    _sensitivity(pdf, sensitivity, lang)
    _assumptions(pdf, [result], lang)
    return bytes(pdf.output())


def _sensitivity(pdf: _Doc, sections, lang: str) -> None:
    """The sensitivity section (:func:`planner.workflow.runs_sensitivity`) from a new page: per scenario the range
    each payback takes, its tornado chart and the table (nothing without sections)."""
    from planner.report.charts import tornado_chart

    if not sections:
        return
    pdf.add_page()
    _heading(pdf, tr("sens_title", lang, pct=swing_text(sections[0].swing)))
    pdf.set_font("cjk", size=7)
    pdf.multi_cell(WIDTH, 3.6, tr("sens_note", lang, pct=swing_text(sections[0].swing)), wrapmode=pdf.wrap,
                   new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1.5)
    for s in sections:
        chart = None if sensitivity_empty(s.table) else tornado_chart(s.table, lang, swing=s.swing, name=s.name)
        lines = [x for x in (sensitivity_range(s.table, o, lang, s.swing) for o in sensitivity_outputs(s.table)) if x]
        text_h = 6 + sum(_lines(pdf, x, 7.5, 4, dry_run=True) * 4 for x in lines)
        table_h = TABLE_START + 4.5 * len(s.table)
        # the name with its chart, and its table too when they fit on a page
        block = text_h + _size(chart, WIDTH * 0.9)[1] + 2
        _ensure(pdf, block + table_h if block + table_h < _room(pdf) else min(block, _room(pdf)))
        pdf.set_text_color(*_BLUE)
        _lines(pdf, s.name, 9, 5)
        pdf.set_text_color(0, 0, 0)
        pdf.ln(0.5)
        if sensitivity_empty(s.table, lang):
            _lines(pdf, sensitivity_empty(s.table, lang), 7.5, 4)
            continue
        for x in lines:
            _lines(pdf, x, 7.5, 4)
        pdf.ln(1)
        _image(pdf, chart, WIDTH * 0.9, max_h=_room(pdf) - text_h)
        rows = sensitivity_rows(s.table, lang, s.swing)
        pdf.set_font("cjk", size=6.5)
        lead = 2 if sensitivity_has_values(s.table) else 1
        _ensure(pdf, TABLE_START + 4 * len(rows))  # a short table is not split across pages
        _table(pdf, rows, _column_widths(pdf, rows), size=6.5,
               align=(*["LEFT"] * lead, *["RIGHT"] * (len(rows[0]) - lead)))
        notes = [tr("sens_mixed", lang)] if not sensitivity_has_values(s.table) else []
        notes += [tr("sens_hidden", lang)] if s.hidden else []
        pdf.set_text_color(*_GREY)
        for n in notes:
            _lines(pdf, n, 7, 3.6)
        pdf.set_text_color(0, 0, 0)
        pdf.ln(2)


def _assumptions(pdf: _Doc, results, lang: str) -> None:
    pdf.add_page()
    _heading(pdf, tr("assumptions", lang))
    pdf.set_font("cjk", size=7)
    pdf.multi_cell(WIDTH, 3.6, tr("method_text", lang), wrapmode=pdf.wrap, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1)
    for r in results:
        a = assumptions_table(r, lang)
        if len(results) > 1:
            _ensure(pdf, 6 + TABLE_START)  # the name with its table
            _lines(pdf, r.name, 9, 5)
            pdf.ln(1)
        n = a.shape[1] - 2
        w = [46, *[max(22, 60 / max(n, 1))] * n]
        w.append(WIDTH - sum(w))
        head = list(a.columns)
        if len(results) > 1:  # the header repeated on the next page names the scenario the rows belong to
            head[0] = f"{head[0]} · {r.name}"
        _table(pdf, [head, *a.astype(str).to_numpy().tolist()], w, size=6.3)


def comparison_pdf(cmp, *, lang: str = "zh", background=None, sensitivity=None) -> bytes:
    """The comparison report on A4: key figures with differences, floor-area chart, one map of the sites in A only,
    B only and both, the side-by-side table, yearly curves, (``sensitivity``: each scenario's
    :func:`planner.workflow.runs_sensitivity`) the sensitivity of the paybacks, assumptions."""
    from planner.report.charts import compare_charts, floor_chart, membership_map
    from planner.scenarios.comparison import HEADLINE_FIGURES

    base = cmp.results[0]
    pols = "; ".join([p for p in dict.fromkeys(policy_text(r, lang) for r in cmp.results) if p != "–"] or ["–"])
    pdf = _Doc(lang, f"{tr('policy', lang)}: {pols}", tr("compare_title", lang))
    pdf.add_page()
    from planner.workflow.visibility import hidden_note

    hidden = hidden_note(cmp.results)  # the blanks ("–") of a role without enterprise figures, explained
    notes = [hidden] if hidden else []
    notes += sites_notes(cmp.results, lang)  # the stored sites out of date, or built with other settings
    _title(pdf, tr("compare_title", lang), f"{', '.join(cmp.names)} · {tr('baseline', lang)}: {base.name}",
           "\n".join([f"{tr('generated', lang)}: {_now()} · {tr('policy', lang)}: {pols}", *notes]))
    _heading(pdf, tr("headline", lang))
    per_row = 6 if lang == "zh" else 3  # English figures ("15,530.2 million yuan/yr") need a wider box
    rows = comparison_rows(cmp, lang)
    for i, r in enumerate(cmp.results):
        head = r.name if r is base else f"{r.name} · {tr('difference', lang)} − {base.name}"
        lines = _lines(pdf, head, 9, 4.5, dry_run=True)
        _ensure(pdf, lines * 4.5 + 1 + math.ceil(len(HEADLINE_FIGURES) / per_row) * 17.5 + 4)  # names with boxes
        _lines(pdf, head, 9, 4.5)
        pdf.ln(1)
        _cards(pdf, r.totals, HEADLINE_FIGURES, rows=rows, column=i, per_row=per_row, h=15)
    _figure(pdf, tr("chart_floor_parts", lang), floor_chart(cmp.results, lang), WIDTH * 0.8)
    m = membership_map(cmp, lang, background=background)
    if m is not None:
        _figure(pdf, tr("cmp_map_title", lang), m, WIDTH * 0.72)
    pdf.add_page()
    n = len(cmp.names)
    w = [58] + [(WIDTH - 58) / (3 * n - 2)] * (3 * n - 2)
    pdf.set_font("cjk", size=6.8)
    # a name wider than its column: the columns are A, B, C and a legend above the table names them whole
    short = any(pdf.get_string_width(x) > w[1] - 2.2 for x in cmp.names)
    keys = scenario_keys(cmp.names) if short else list(cmp.names)
    legend = "\n".join(tr("cmp_legend_base" if i == 0 else "cmp_legend", lang, letter=k, name=x)
                       for i, (k, x) in enumerate(zip(keys, cmp.names, strict=True))) if short else ""
    legend_h = _lines(pdf, legend, 7.5, 3.8, dry_run=True) * 3.8 + 1 if short else 0.0
    _heading(pdf, tr("compare_table", lang), keep=TABLE_START + legend_h)
    if short:
        _lines(pdf, legend, 7.5, 3.8)
        pdf.ln(1)
    others = list(range(1, n))
    heads = [label("figure", lang), *keys, *[x for j in others for x in (
        _t("cmp_diff_col", lang, n=keys[j], base=keys[0]), _t("cmp_pct_col", lang, n=keys[j], base=keys[0]))]]
    table = [heads]
    for k, row in rows.items():
        table.append([label(k, lang), *row.values, *[x for j in others for x in (row.diffs[j - 1], row.pcts[j - 1])]])
    _table(pdf, table, w, size=6.8, align=("LEFT", *["RIGHT"] * (len(w) - 1)))
    charts = compare_charts(cmp, lang)
    _heading(pdf, tr("yearly", lang), keep=max((_size(c, WIDTH / 2 - 2)[1] for c in charts), default=0) + 2)
    y = pdf.get_y()
    hs = [_image(pdf, c, WIDTH / 2 - 2, x=pdf.l_margin + i * (WIDTH / 2 + 2), y=y) for i, c in enumerate(charts)]
    pdf.set_y(y + max(hs, default=0) + 2)
    _sensitivity(pdf, sensitivity, lang)
    _assumptions(pdf, cmp.results, lang)
    return bytes(pdf.output())


def report_pdf(obj, *, lang: str = "zh", background=None, sensitivity=None) -> bytes:
    """:func:`scenario_pdf` of a scenario result or :func:`comparison_pdf` of a comparison."""
    from planner.scenarios.model import ScenarioResult

    if isinstance(obj, ScenarioResult):
        return scenario_pdf(obj, lang=lang, background=background, sensitivity=sensitivity)
    return comparison_pdf(obj, lang=lang, background=background, sensitivity=sensitivity)


def site_briefs_pdf(briefs, *, lang: str = "zh") -> bytes:
    """One A4 page per site brief: see :func:`planner.report.brief.site_briefs_pdf`."""
    from planner.report.brief import site_briefs_pdf as _pdf

    return _pdf(briefs, lang=lang)
