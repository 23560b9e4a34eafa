"""Writers of ingest reports (JSON, CSV) and the guard every CSV or Excel writer puts its text through.

Spreadsheets run a cell as a formula when its text starts with ``=``, ``+``,
``-`` or ``@`` (and, in some, a tab or carriage return first):
``=HYPERLINK("http://...","click")`` in a parcel's owner field would become
a live link in the office's Excel. :func:`neutralize` puts a single quote in
front of such text, as the OWASP guidance on CSV injection advises; numbers,
and text that is only a number (``-12.5``), are left as they are.
"""

from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path

import pandas as pd

from planner.errors import IngestError

_CSV_COLUMNS = ("row", "parcel_id", "field", "value", "code", "action", "message", "message_zh")
#: First characters that make a spreadsheet evaluate a cell (OWASP: CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:[.,]\d*)*|\.\d+)(?:[eE][+-]?\d+)?%?")


def neutralize(value):
    r"""A cell value a spreadsheet shows as text: formula-like text gets a leading single quote.

    Examples
    --------
    >>> neutralize('=HYPERLINK("http://x","y")'), neutralize("@SUM(A1)"), neutralize("\t=1")
    ('\'=HYPERLINK("http://x","y")', "'@SUM(A1)", "'\t=1")
    >>> neutralize(-3.5), neutralize("-3.5"), neutralize("厂房-1"), neutralize(None)
    (-3.5, '-3.5', '厂房-1', None)
    """
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def neutralize_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells and column names pass :func:`neutralize` (numeric columns untouched)."""
    out = pd.DataFrame(df).copy()
    for c in out.columns:
        col = out[c]
        if isinstance(col.dtype, pd.CategoricalDtype):
            col = col.astype(object)
        if pd.api.types.is_object_dtype(col.dtype) or pd.api.types.is_string_dtype(col.dtype):
            out[c] = col.map(neutralize, na_action="ignore")
    out.columns = [neutralize(c) for c in out.columns]
    return out


def _one_line(v) -> str:
    """A summary value on one ``#`` line: a line break must not start a new row."""
    return re.sub(r"[\r\n]+", " ", str(v))


def write_report(report, path: str | os.PathLike) -> Path:
    """Write an :class:`planner.ingest.IngestReport` to ``path`` (format by extension).

    ``.json`` holds the whole report (settings, counts, problems, diff);
    ``.csv`` holds one row per problem after ``#``-prefixed summary lines.
    """
    p = Path(path)
    ext = p.suffix.lower()
    if ext not in (".json", ".csv"):
        msg = f"report {p}: use a .json or .csv file name"
        raise IngestError(msg)
    p.parent.mkdir(parents=True, exist_ok=True)
    if ext == ".json":
        p.write_text(json.dumps(report.to_dict(), ensure_ascii=False, indent=2, default=str), encoding="utf-8")
        return p
    with open(p, "w", newline="", encoding="utf-8-sig") as fh:  # BOM: Excel opens CJK text correctly
        summ = report.summary()
        for key in ("source", "format", "layer", "encoding", "crs_used", "target_crs", "n_read", "n_accepted",
                    "n_repaired", "n_rejected", "n_flagged", "refused", "refusal", "version", "row_note"):
            fh.write(f"# {key}: {_one_line(str(summ.get(key)).replace(chr(10) + '  -', ' |'))}\n")
        w = csv.writer(fh)
        w.writerow(_CSV_COLUMNS)
        for pr in report.problems:
            w.writerow([neutralize(getattr(pr, c)) if getattr(pr, c) is not None else "" for c in _CSV_COLUMNS])
    return p


__all__ = ["FORMULA_START", "neutralize", "neutralize_frame", "write_report"]
