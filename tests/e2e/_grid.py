"""Streamlit's ``st.dataframe`` in the browser tests, read and checked through the grid's accessible table.

The grid (glide-data-grid) draws on a canvas that a rerun or a late layout may still be moving. Beside the
canvas it keeps an accessible table of the rows in view: a row is ``<tr aria-rowindex="row + 2"
aria-selected=...>`` (selected: its row-selection box is ticked), a cell ``<td id="glide-cell-<column>-<row>"
aria-selected=...>`` (selected: the focused cell), with the text the cell shows. The tests find a row by what it
reads there and check there that a click or a key reached the cell or row they meant, trying again if not,
instead of trusting pixel arithmetic alone.
"""

from __future__ import annotations

import time

HEADER_PX = ROW_PX = 35  # Streamlit's grid: the header and each row are 35 px high


def to_top(page, grid) -> None:
    """Scroll the grid (its ``.dvn-scroller``) back to its first row, and the page to the grid."""
    grid.scroll_into_view_if_needed()
    was = grid.locator(".dvn-scroller").first.evaluate("e => { const t = e.scrollTop; e.scrollTop = 0; return t; }")
    if was:  # a click may have scrolled it: let the grid draw (and its table list) the first rows
        page.wait_for_timeout(300)


def column(grid, header: str) -> int:
    """The column number (as in ``glide-cell-<column>-<row>``) of the column headed ``header``."""
    col = grid.locator("table[role='grid']").first.evaluate("""(t, header) => {
        const i = [...t.querySelectorAll('thead th')].findIndex(th => th.textContent === header);
        const td = i < 0 ? null : t.querySelector('tbody tr').children[i];
        return td ? td.id : null; }""", header)
    assert col, f"no column headed {header!r} in the grid"
    return int(col.split("-")[2])


def row_with(grid, col: int, text: str) -> int:
    """The first row in view whose cell of column ``col`` reads ``text``."""
    ids = grid.locator(f"td[id^='glide-cell-{col}-']").evaluate_all(
        "(cells, text) => cells.filter(c => c.textContent === text).map(c => c.id)", text)
    assert ids, f"no row in view reads {text!r} in column {col}"
    return int(ids[0].rsplit("-", 1)[1])  # glide-cell-<column>-<row>


def cell(grid, col: int, row: int):
    """The accessible cell of column ``col``, row ``row`` (its text is what the grid shows there)."""
    return grid.locator(f"#glide-cell-{col}-{row}")


def row_selected(grid, row: int) -> bool:
    """Whether row ``row``'s row-selection box is ticked."""
    return grid.locator(f"tbody tr[aria-rowindex='{row + 2}']").first.get_attribute("aria-selected") == "true"


def _still_box(page, grid) -> dict:
    """The grid's bounding box once it has stopped moving (two reads 150 ms apart agree)."""
    box = grid.bounding_box()
    for _ in range(20):
        page.wait_for_timeout(150)
        now = grid.bounding_box()
        if now == box:
            break
        box = now
    return box


def select_row(page, grid, row: int, shown, *, tries: int = 4, timeout: float = 30.0) -> None:
    """Tick row ``row``'s row-selection box with a mouse click, as a user does, until the grid says the row is
    selected and ``shown`` (a locator: the page's own reaction to the selection) is there.

    A click that missed (the grid was still moving) or that a rerun swallowed (the row not selected 3 s after it)
    is made again from a fresh position, up to ``tries`` clicks; a row already selected is never clicked (a click
    would untick it).
    """
    for _ in range(tries):
        to_top(page, grid)
        box = _still_box(page, grid)
        y = HEADER_PX + ROW_PX * row + ROW_PX / 2
        assert y < box["height"] - 4, f"row {row} is not in view in a grid {box['height']} px high"
        if not row_selected(grid, row):
            page.mouse.click(box["x"] + 12, box["y"] + y)  # the row-selection column
        clicked = time.time()
        while True:
            if not row_selected(grid, row):
                if time.time() - clicked > 3.0:
                    break  # the click missed, or the grid was reset by a rerun: click again
            elif shown.count():
                return
            elif time.time() - clicked > timeout:
                raise AssertionError(f"row {row} is selected but the page did not show it in {timeout:.0f} s")
            time.sleep(0.2)
    raise AssertionError(f"row {row} of the grid could not be selected in {tries} clicks")
