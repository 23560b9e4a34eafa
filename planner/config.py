"""Frozen configuration dataclasses and their loading from TOML/JSON.

Stage-specific configurations (policy, site parameters, park templates,
scenarios) are frozen dataclasses built on the helpers here, so that every
file is validated on load with an error that names the file and the key.

Examples
--------
>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Demo:
...     gap_m: float = 2.0
...     name: str = "x"
>>> from_dict(Demo, {"gap_m": 5}, where="demo.toml").gap_m
5.0
"""

from __future__ import annotations

import dataclasses
import json
import math
import tomllib
import types
import typing
import warnings
from pathlib import Path
from typing import Any, TypeVar

import tomli_w

from planner.errors import ConfigError

T = TypeVar("T")


class SettingError(ConfigError):
    """One setting's value is refused by a configuration dataclass, which does not know its file.

    :func:`from_dict` puts the file and table in front (``policies/x.toml [sites]: gap_m must be ...``);
    built directly (``SiteParams(gap_m=...)``) it is a plain :class:`ConfigError`.
    """


class EncodingNote(UserWarning):
    """A settings file was read in another encoding than UTF-8 (the command line prints it as a note, in its
    language: ``zh`` holds the Chinese)."""

    def __init__(self, message: str, zh: str | None = None) -> None:
        super().__init__(message)
        self.zh = zh


def _fmt(v: float) -> str:
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:g}"


def check_number(key: str, value, *, low: float | None = None, high: float | None = None, above: bool = False,
                 unit: str = "", zh_unit: str = "") -> float:
    """``value`` if it is a finite number within ``[low, high]`` (``(low, high]`` with ``above``), else refuse.

    NaN passes every ``<`` test and infinity every ``>=`` test, so each numeric setting goes through here:
    ``gap_m = nan`` gave 2,152 sites instead of 1,675 and ``gap_m = inf`` never finished.

    Examples
    --------
    >>> check_number("gap_m", 5, low=0, high=50)
    5
    >>> check_number("gap_m", float("nan"), low=0, high=50, unit=" metres")
    Traceback (most recent call last):
    ...
    planner.config.SettingError: gap_m must be a finite number from 0 to 50 metres, got nan
    """
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if ok and low is not None:
        ok = value > low if above else value >= low
    if ok and high is not None:
        ok = value <= high
    if ok:
        return value
    if low is not None and high is not None:
        rng = f"above {_fmt(low)} and at most {_fmt(high)}" if above else f"from {_fmt(low)} to {_fmt(high)}"
        rng_zh = f"大于 {_fmt(low)} 且不超过 {_fmt(high)}" if above else f"介于 {_fmt(low)} 与 {_fmt(high)} 之间"
    elif low is not None:
        rng, rng_zh = (f"above {_fmt(low)}", f"大于 {_fmt(low)}") if above else (f">= {_fmt(low)}", f"不小于 {_fmt(low)}")
    elif high is not None:
        rng, rng_zh = f"<= {_fmt(high)}", f"不超过 {_fmt(high)}"
    else:
        rng, rng_zh = "", ""
    msg = f"{key} must be a finite number{' ' + rng if rng else ''}{unit}, got {value!r}"
    raise SettingError(msg, zh=f"{key} 须为有限数值{'，' + rng_zh if rng_zh else ''}{zh_unit}，现为 {value!r}")


def read_text(path: str | Path, *, note: bool = True) -> str:
    """The text of a settings file: UTF-8 (with or without a byte-order mark), else GB18030.

    Notepad and WPS on Chinese Windows save "ANSI" text as GBK (GB18030 reads it, and is a superset): such a
    file is read, and ``note`` warns (:class:`EncodingNote`) that it was, so that a wrong guess can be seen in
    the names it shows. A file that is neither (a binary file, another encoding) is refused, naming it.
    """
    p = Path(path)
    raw = p.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        utf8_error = exc
    try:
        text = raw.decode("gb18030")
    except UnicodeDecodeError:
        text = None
    if text is None or "\x00" in text:
        msg = (f"{p}: not a text file in UTF-8 or GBK (byte {utf8_error.start} is {raw[utf8_error.start:utf8_error.start + 1]!r}); "
               "save it as UTF-8 text (Notepad: Save as, Encoding UTF-8)")
        raise ConfigError(msg, zh=f"{p}：不是 UTF-8 或 GBK 编码的文本文件（第 {utf8_error.start} 字节）；"
                                  "请另存为 UTF-8 文本（记事本：另存为，编码选 UTF-8）")
    if note:
        warnings.warn(EncodingNote(f"{p} is not UTF-8; read it as GBK/GB18030 (Chinese Windows). If names in it look "
                                   "wrong, save it as UTF-8",
                                   zh=f"{p} 不是 UTF-8 编码；已按 GBK/GB18030（中文 Windows）读取。如其中名称显示不正确，"
                                      "请另存为 UTF-8"), stacklevel=2)
    return text


def load_file(path: str | Path) -> dict:
    """Read a TOML or JSON file into a dict; errors name the file and the line (:func:`read_text` for encodings)."""
    p = Path(path)
    if not p.exists():
        msg = f"{p}: file not found"
        raise ConfigError(msg, zh=f"{p}：找不到文件")
    if p.is_dir():
        msg = f"{p}: is a folder; give a TOML or JSON file"
        raise ConfigError(msg, zh=f"{p}：是文件夹，请指定 TOML 或 JSON 文件")
    text = read_text(p)
    try:
        if p.suffix.lower() == ".json":
            return json.loads(text)
        return tomllib.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        kind = p.suffix.lstrip('.').upper() or 'TOML'
        msg = f"{p}: not valid {kind}: {exc}"
        raise ConfigError(msg, zh=f"{p}：不是有效的 {kind}：{exc}") from exc


def dumps_toml(data: dict) -> str:
    """Serialize a dict (as produced by :func:`to_dict`) to TOML text."""
    return tomli_w.dumps(_drop_none(data))


def _drop_none(obj):
    if isinstance(obj, dict):
        return {k: _drop_none(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list | tuple):
        return [_drop_none(v) for v in obj]
    return obj


def _coerce(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(a, value, where)
            except ConfigError as exc:
                errors.append(str(exc))
        msg = errors[0] if errors else f"{where}: invalid value {value!r}"
        raise ConfigError(msg)
    if origin is typing.Literal:
        if value not in args:
            msg = f"{where}: {value!r} is not one of {list(args)}"
            raise ConfigError(msg)
        return value
    if origin in (tuple, list):
        if not isinstance(value, list | tuple):
            msg = f"{where}: expected a list, got {type(value).__name__} {value!r}"
            raise ConfigError(msg)
        item_t = args[0] if args else Any
        return tuple(_coerce(item_t, v, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            msg = f"{where}: expected a table, got {type(value).__name__}"
            raise ConfigError(msg)
        vt = args[1] if len(args) == 2 else Any
        return types.MappingProxyType({str(k): _coerce(vt, v, f"{where}.{k}") for k, v in value.items()})
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            msg = f"{where}: expected a table, got {type(value).__name__}"
            raise ConfigError(msg)
        return from_dict(tp, value, where=where)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            msg = f"{where}: expected a number, got {value!r}"
            raise ConfigError(msg)
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            msg = f"{where}: expected an integer, got {value!r}"
            raise ConfigError(msg)
        return value
    if tp is bool:
        if not isinstance(value, bool):
            msg = f"{where}: expected true or false, got {value!r}"
            raise ConfigError(msg)
        return value
    if tp is str:
        if not isinstance(value, str):
            msg = f"{where}: expected text, got {value!r}"
            raise ConfigError(msg)
        return value
    return value


def from_dict(cls: type[T], data: dict, *, where: str = "config") -> T:
    """Build a (frozen) dataclass from a dict, checking keys and types.

    Unknown keys are an error naming the key and the known ones; nested
    dataclasses, tuples, optionals and literals are converted recursively.
    ``__post_init__`` of the class may raise :class:`ConfigError` for
    cross-field checks.
    """
    if not isinstance(data, dict):
        msg = f"{where}: expected a table, got {type(data).__name__}"
        raise ConfigError(msg)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        msg = f"{where}: unknown key(s) {unknown}; known keys: {sorted(fields)}"
        raise ConfigError(msg)
    kwargs = {}
    for name, f in fields.items():
        if name in data:
            kwargs[name] = _coerce(hints[name], data[name], f"{where}.{name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            msg = f"{where}: missing required key {name!r}"
            raise ConfigError(msg)
    try:
        return cls(**kwargs)
    except SettingError as exc:  # one setting refused: say which file and table
        zh = f"{where}：{exc.zh}" if exc.zh else None
        raise ConfigError(f"{where}: {exc}", zh=zh) from None
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        msg = f"{where}: {exc}"
        raise ConfigError(msg) from exc


def to_dict(obj: Any) -> Any:
    """Inverse of :func:`from_dict`: plain dicts, lists and scalars."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, types.MappingProxyType | dict):
        return {k: to_dict(v) for k, v in obj.items()}
    if isinstance(obj, tuple | list):
        return [to_dict(v) for v in obj]
    return obj


def load(cls: type[T], path: str | Path) -> T:
    """Load and validate a TOML/JSON file into dataclass ``cls``."""
    return from_dict(cls, load_file(path), where=str(path))
