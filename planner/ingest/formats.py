"""Field formats: how a delivered value becomes the text the source system shows (ids, codes, names).

A mapping file can give a field as a table instead of a bare source name::

    [fields]
    parcel_id = { source = "BBL", as = "integer" }           # DBF double 3029130038.0 -> "3029130038"
    land_use_code = { source = "LandUse", as = "integer", pad = 2 }   # 6.0 -> "06"
    owner = { source = "OwnerName", case = "upper" }          # trimmed (always) and upper-cased

Keys: ``source`` (the source field), ``as`` (``"text"``, default, or
``"integer"``: whole numbers only, written without a decimal part; a value
that is not a whole number, or a floating-point value too large to be exact
(over 2^53, about 16 digits), is a ``not_integer`` problem), ``pad``
(zero-pad numeric codes to this width), ``case`` (``"upper"`` / ``"lower"``),
``trim`` (strip surrounding blanks; default true).

Without a format, a floating-point field is written in the shortest form
that reads back as the same number (3029130038.0 as ``3029130038``, 12.5 as
``12.5``), never with a trailing ``.0``: ids and codes round-trip byte for
byte to what the source system shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from planner.errors import ConfigError

#: Floating-point numbers hold every integer exactly up to this magnitude (2^53).
EXACT_MAX = float(2**53)
_KEYS = {"source", "as", "pad", "case", "trim"}


@dataclass(frozen=True)
class FieldFormat:
    """How a source field is written as text (see the module notes)."""

    as_: str = "text"
    pad: int = 0
    case: str | None = None
    trim: bool = True

    @property
    def is_default(self) -> bool:
        return self == FieldFormat()


def parse_field(name: str, value, where: str) -> tuple[str, FieldFormat]:
    """``(source field, format)`` of one ``[fields]`` (or ``[extra]``) entry: a name, or a table."""
    if isinstance(value, str):
        return value, FieldFormat()
    if not isinstance(value, dict) or "source" not in value:
        msg = f"{where}: {name} must be a source field name or a table {{source = \"FIELD\", as = ..., pad = ...}}"
        raise ConfigError(msg)
    bad = sorted(set(value) - _KEYS)
    if bad:
        msg = f"{where}: {name}: unknown key(s) {bad}; known: {sorted(_KEYS)}"
        raise ConfigError(msg)
    as_ = value.get("as", "text")
    if as_ not in ("text", "integer"):
        msg = f"{where}: {name}: as = {as_!r}; use 'text' or 'integer'"
        raise ConfigError(msg)
    pad = value.get("pad", 0)
    if isinstance(pad, bool) or not isinstance(pad, int) or not 0 <= pad <= 64:
        msg = f"{where}: {name}: pad = {pad!r}; use a width from 0 to 64 (zero-padding of numeric codes)"
        raise ConfigError(msg)
    case = value.get("case")
    if case not in (None, "upper", "lower"):
        msg = f"{where}: {name}: case = {case!r}; use 'upper' or 'lower'"
        raise ConfigError(msg)
    trim = value.get("trim", True)
    if not isinstance(trim, bool):
        msg = f"{where}: {name}: trim = {trim!r}; use true or false"
        raise ConfigError(msg)
    return str(value["source"]), FieldFormat(as_=as_, pad=pad, case=case, trim=trim)


def format_text(col, fmt: FieldFormat | None = None) -> tuple[pd.Series, np.ndarray | None]:
    """A source column as text (dtype ``string``) in ``fmt``; empty strings are missing.

    Parameters
    ----------
    col : pyarrow.Array, pyarrow.ChunkedArray or pandas.Series
        The source values (numbers or text).
    fmt : FieldFormat, optional
        The mapping's format for the field.

    Returns
    -------
    (Series, ndarray or None)
        The text, and a mask of the values that are not whole numbers (or not
        exact) where ``as = "integer"`` (those are missing in the text);
        None when every value passed.

    Examples
    --------
    >>> import pandas as pd
    >>> format_text(pd.Series([3029130038.0, 12.5]))[0].tolist()
    ['3029130038', '12.5']
    >>> t, bad = format_text(pd.Series([6.0, 11.0, 2.5]), FieldFormat(as_="integer", pad=2))
    >>> t.tolist(), bad.tolist()
    (['06', '11', <NA>], [False, False, True])
    """
    fmt = fmt or FieldFormat()
    arr = _arrow(col)
    bad = None
    if pa.types.is_floating(arr.type) or pa.types.is_decimal(arr.type):
        v = pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False)
        with np.errstate(invalid="ignore"):
            whole = np.isfinite(v) & (v == np.trunc(v)) & (np.abs(v) <= EXACT_MAX)
        if fmt.as_ == "integer":
            bad = np.isfinite(v) & ~whole
            ints = pa.array(np.where(whole, v, 0).astype(np.int64), mask=~whole)
            arr = pc.cast(ints, pa.string())
        else:
            arr = pc.cast(pa.array(v, from_pandas=True), pa.string())  # shortest round-trip form, no ".0"
    elif pa.types.is_integer(arr.type):
        arr = pc.cast(arr, pa.string())
    else:
        if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
            arr = pa.array(pd.Series(col).astype("string").array).cast(pa.string())
        if fmt.trim:
            arr = pc.utf8_trim_whitespace(arr)
        if fmt.as_ == "integer":
            ok = pc.match_substring_regex(arr, r"^[+-]?\d+(\.0*)?$")
            nonempty = pc.not_equal(arr, "")
            bad = pc.and_(nonempty, pc.invert(ok)).fill_null(False).to_numpy(zero_copy_only=False)
            arr = pc.if_else(ok, pc.replace_substring_regex(arr, r"\.0*$", ""), pa.scalar(None, arr.type))
            arr = pc.replace_substring_regex(arr, r"^\+", "")
            if not bad.any():
                bad = None
    arr = pc.if_else(pc.equal(arr, ""), pa.scalar(None, arr.type), arr)
    if fmt.pad:
        digits = pc.match_substring_regex(arr, r"^\d+$").fill_null(False)
        arr = pc.if_else(digits, pc.utf8_lpad(arr, fmt.pad, "0"), arr)
    if fmt.case == "upper":
        arr = pc.utf8_upper(arr)
    elif fmt.case == "lower":
        arr = pc.utf8_lower(arr)
    if bad is not None and not bad.any():
        bad = None
    return pd.Series(pd.array(arr, dtype="string"), copy=False), bad


def _arrow(col) -> pa.Array:
    if isinstance(col, pa.ChunkedArray):
        return col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    if isinstance(col, pa.Array):
        return col
    s = pd.Series(col)
    try:
        arr = pa.Array.from_pandas(s)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed objects: their text
        arr = pa.Array.from_pandas(s.astype("string"))
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


__all__ = ["EXACT_MAX", "FieldFormat", "format_text", "parse_field"]
