"""Whether two enterprise tables (and their links) say the same: a table delivered again is not a new version.

The rows are compared as read and normalised (:func:`~planner.enterprise.read_enterprises`), in any order and
whatever file they came from: the same table saved as csv instead of xlsx, or with its title row removed, gives
the same enterprises. ``source_row`` (where a row stood in its file) is not part of what a version says.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from planner.enterprise.table import COLUMNS, NUMERIC

#: What an enterprise row says (``source_row`` only points into its file).
CONTENT = tuple(c for c in COLUMNS if c != "source_row")
#: What a link row says.
LINK_CONTENT = ("key", "parcel_id")


def _text(col) -> pd.Series:
    s = pd.Series(col, dtype="string").reset_index(drop=True).str.strip()
    return s.mask(s == "")


def _canonical(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """``columns`` of ``frame`` as comparable values (text as text, missing text as NA, numbers as floats), sorted."""
    out = {}
    for c in columns:
        col = frame[c] if c in frame.columns else pd.Series([pd.NA] * len(frame))
        if c in NUMERIC:
            out[c] = pd.to_numeric(pd.Series(col).reset_index(drop=True), errors="coerce").astype(float)
        else:
            out[c] = _text(col)
    df = pd.DataFrame(out, index=pd.RangeIndex(len(frame)))
    text = [c for c in columns if c not in NUMERIC]  # text first: figures that differ in the last bit keep the order
    return df.sort_values(text + [c for c in columns if c in NUMERIC], kind="stable",
                          na_position="last").reset_index(drop=True)


def _same(a: pd.DataFrame, b: pd.DataFrame, columns: tuple[str, ...]) -> bool:
    if len(a) != len(b):
        return False
    x, y = _canonical(a, columns), _canonical(b, columns)
    for c in columns:
        if c in NUMERIC:
            xv, yv = x[c].to_numpy(dtype=float), y[c].to_numpy(dtype=float)
            same = np.isclose(xv, yv, rtol=1e-9, atol=1e-9) | (np.isnan(xv) & np.isnan(yv))
        else:
            same = ((x[c] == y[c]).fillna(False) | (x[c].isna() & y[c].isna())).to_numpy(dtype=bool)
        if not same.all():
            return False
    return True


def same_enterprises(old: pd.DataFrame, new: pd.DataFrame) -> bool:
    """Whether two enterprise tables hold the same rows (codes, names, industry, figures, years, parcel ids).

    Examples
    --------
    >>> a = pd.DataFrame({"credit_code": ["A", "B"], "name": ["甲", "乙"], "tax_cny": [1e5, 2e5], "source_row": [3, 4]})
    >>> b = pd.DataFrame({"credit_code": ["B", "A"], "name": ["乙", "甲"], "tax_cny": [2e5, 1e5], "source_row": [2, 3]})
    >>> same_enterprises(a, b), same_enterprises(a, b.assign(tax_cny=[2e5, 1.5e5]))
    (True, False)
    """
    return _same(old, new, CONTENT)


def same_links(old: pd.DataFrame, new: pd.DataFrame) -> bool:
    """Whether two link tables join the same enterprise keys to the same parcels (as many times), in any order.

    >>> same_links(pd.DataFrame({"key": ["A", "B"], "parcel_id": ["P1", "P2"]}),
    ...            pd.DataFrame({"key": ["B", "A"], "parcel_id": ["P2", "P1"], "source_row": [9, 8]}))
    True
    """
    return _same(old, new, LINK_CONTENT)


__all__ = ["CONTENT", "LINK_CONTENT", "same_enterprises", "same_links"]
