"""Text tables the commands print: columns lined up in a terminal, Chinese counted two columns a character."""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence

import numpy as np
import pandas as pd

from planner.i18n import clipped, display_width, pad, t, terminal_text

#: Terminal columns a cell of a stored text takes at most (a 400-character file name made every line as wide).
CELL_WIDTH = 60


def aligned(heads: Sequence[str], rows: Sequence[Sequence[str]], *, left: int | Collection[int] = 0,
            indent: str = "") -> list[str]:
    """The lines of a table: the header, then a line per row, each column padded to its widest cell in display
    columns (:func:`planner.report.text.display_width`); the first ``left`` columns left-aligned (or, a collection,
    the columns of those indices), the others right.

    >>> aligned(["名称", "n"], [["a", "1"], ["乙", "22"]], left=1)
    ['名称   n', 'a      1', '乙    22']
    >>> aligned(["n", "名称"], [["1", "a"], ["22", "乙"]], left={1})
    [' n  名称', ' 1  a', '22  乙']
    """
    widths = [max(display_width(str(c)) for c in col) for col in zip(heads, *rows, strict=True)]
    lefts = set(range(left)) if isinstance(left, int) else set(left)

    def line(cells) -> str:
        return (indent + "  ".join(pad(str(c), w, left=i in lefts)
                                   for i, (c, w) in enumerate(zip(cells, widths, strict=True)))).rstrip()

    return [line(heads), *(line(r) for r in rows)]


def cell(value, lang: str = "zh") -> str:
    r"""A stored value as a table cell: missing as "—", a whole number without ".0" (a version in a column with
    gaps is a float), True/False as 是/否 in Chinese; the rest as it is (kinds, names, paths, times), on one line
    and inert (:func:`~planner.i18n.terminal_text`: a user name holding a line break, ESC or a bidi override
    neither starts a row nor moves the terminal) and at most :data:`CELL_WIDTH` columns (start and end kept).

    >>> [cell(v, "zh") for v in (3.0, None, float("nan"), True, "survey", "bob\nFAKE ROW")]
    ['3', '—', '—', '是', 'survey', 'bob\\x0aFAKE ROW']
    """
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, (float, np.floating)) and math.isnan(value)):
        return "—"
    if isinstance(value, (bool, np.bool_)):
        return t("cli_true" if value else "cli_false", lang)
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return clipped(terminal_text(str(value), one_line=True), CELL_WIDTH)


def frame_lines(df, columns: Sequence[str], lang: str = "zh", *, indent: str = "") -> list[str]:
    """``df``'s ``columns`` as :func:`aligned` lines, headed in ``lang`` (``cli_col_<column>`` of
    :data:`planner.i18n.STRINGS`: Chinese words, or the column names as the English), numbers right-aligned."""
    numeric = [pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c]) for c in columns]
    rows = [[cell(v, lang) for v in rec] for rec in df[list(columns)].itertuples(index=False, name=None)]
    return aligned([t(f"cli_col_{c}", lang) for c in columns], rows,
                   left=[i for i, num in enumerate(numeric) if not num], indent=indent)
