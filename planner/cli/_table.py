"""Text tables the commands print: columns lined up in a terminal, Chinese counted two columns a character."""

from __future__ import annotations

from collections.abc import Sequence

from planner.i18n import display_width, pad


def aligned(heads: Sequence[str], rows: Sequence[Sequence[str]], *, left: int = 0, indent: str = "") -> list[str]:
    """The lines of a table: the header, then a line per row, each column padded to its widest cell in display
    columns (:func:`planner.report.text.display_width`); the first ``left`` columns left-aligned, the others right.

    >>> aligned(["名称", "n"], [["a", "1"], ["乙", "22"]], left=1)
    ['名称   n', 'a      1', '乙    22']
    """
    widths = [max(display_width(str(c)) for c in col) for col in zip(heads, *rows, strict=True)]

    def line(cells) -> str:
        return (indent + "  ".join(pad(str(c), w, left=i < left) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))).rstrip()

    return [line(heads), *(line(r) for r in rows)]
