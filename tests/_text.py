"""What a user reads of the Markdown the app sends (AppTest shows the source, with the app's backslash escapes)."""

from __future__ import annotations

import re


def rendered(markdown: str) -> str:
    r"""``markdown`` with CommonMark backslash escapes resolved: ``flow\_test`` reads ``flow_test``."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", str(markdown))


def table_cells(markdown: str) -> list[list[str]]:
    """The body rows of a Markdown table (header and rule left out), each cell as the user reads it."""
    rows = []
    for line in str(markdown).splitlines()[2:]:
        cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]  # an escaped "\|" is text, not a column break
        rows.append([rendered(c.strip()) for c in cells])
    return rows


def detail_cells(at) -> set[str]:
    """The value cells of the parcel detail tables (Markdown tables) an AppTest page shows."""
    return {row[-1] for m in at.markdown if str(m.value).startswith("| ") for row in table_cells(m.value)}
