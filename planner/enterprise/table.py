"""Enterprise tables (亩均效益 data): a tax bureau's spreadsheet -> one checked row per enterprise.

:func:`read_enterprises` reads an xlsx or csv (GBK or UTF-8) as delivered: a
title row above the header is skipped (the header is the first row naming
at least two known fields), fields are matched by name (统一社会信用代码,
企业名称, 行业代码, 实缴税金, 销售收入/产值, 综合能耗, 从业人数, 年度,
宗地代码, or English names) or by the mapping file's ``[fields]``, money in
万元 is read as such when the header says so (``实缴税金（万元）``).

Checks, each a :class:`~planner.ingest.report.Problem` with the sheet's row
number: credit codes validated with their check digit
(:mod:`planner.enterprise.credit`; default: flagged, the row kept), missing
codes (rejected when the link is by code), the same code twice for one year
(every copy rejected: none can be trusted), negative or non-numeric figures
(nulled). Several years of one enterprise become one row: the latest year
(default) or the mean of the years (``[link] years = "mean"``, a 3-year
average as Quanzhou's rule asks).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from planner.config import from_dict, load_file
from planner.enterprise import credit
from planner.errors import ConfigError, IngestError, Note
from planner.ingest.aliases import normalize_name
from planner.ingest.formats import FieldFormat, format_text, parse_field
from planner.ingest.mapping import MAX_VALUES
from planner.ingest.report import IngestReport, Problem, _refuse
from planner.io.readers import ReadLimits, read_table

#: Canonical enterprise columns, in order.
COLUMNS = ("credit_code", "name", "industry", "tax_cny", "output_cny", "energy_tce", "employees", "year",
           "parcel_ids", "source_row")
NUMERIC = ("tax_cny", "output_cny", "energy_tce", "employees", "year")
#: Source names of each canonical column, most specific first (compared like survey fields).
ALIASES: dict[str, tuple[str, ...]] = {
    "credit_code": ("统一社会信用代码", "社会信用代码", "信用代码", "纳税人识别号", "TYSHXYDM", "SHXYDM", "USCC",
                    "credit_code", "uscc_code"),
    "name": ("企业名称", "纳税人名称", "单位名称", "企业", "QYMC", "NSRMC", "name", "enterprise", "company"),
    "industry": ("行业代码", "国民经济行业代码", "所属行业", "行业", "HYDM", "industry", "industry_code"),
    "tax_cny": ("实缴税金", "实缴税收", "税收总额", "纳税总额", "税收", "纳税额", "SJSJ", "tax_cny", "tax"),
    "output_cny": ("销售收入", "营业收入", "工业总产值", "产值", "XSSR", "output_cny", "output", "sales"),
    "energy_tce": ("综合能耗", "总能耗", "能耗", "用能总量", "ZHNH", "energy_tce", "energy"),
    "employees": ("从业人数", "年末从业人员", "职工人数", "CYRS", "employees", "staff"),
    "year": ("年度", "年份", "评价年度", "ND", "year"),
    "parcel_ids": ("宗地代码", "宗地编码", "ZDDM", "parcel_ids", "parcel_id", "parcels"),
}
#: Money units -> CNY, energy units -> tonnes of standard coal equivalent.
MONEY = {"yuan": 1.0, "元": 1.0, "cny": 1.0, "万元": 1e4, "10k_yuan": 1e4, "wan": 1e4, "亿元": 1e8, "100m_yuan": 1e8}
ENERGY = {"tce": 1.0, "吨标准煤": 1.0, "吨标煤": 1.0, "万吨标准煤": 1e4, "10k_tce": 1e4}
#: Canonical units of the bounded figures, in messages.
_CANON_UNIT = {"tax_cny": "yuan", "output_cny": "yuan", "energy_tce": "tce", "employees": "people"}
_CANON_UNIT_ZH = {"tax_cny": "元", "output_cny": "元", "energy_tce": "吨标准煤", "employees": "人"}
#: Separators of several parcel ids in one cell.
ID_SEPARATORS = r"[;；,，、/\s]+"

Policy = Literal["reject", "null", "flag", "refuse"]


@dataclass(frozen=True)
class EnterpriseChecks:
    """What to do about each problem of an enterprise table (``[checks]``)."""

    invalid_credit_code: Policy = "flag"
    missing_credit_code: Policy = "reject"
    duplicate: Policy = "reject"
    negative: Policy = "null"
    not_a_number: Policy = "null"
    #: A figure over :data:`~planner.ingest.mapping.MAX_VALUES` (e.g. tax over 1 万亿 yuan).
    impossible: Policy = "null"
    max_rejected_share: float = 0.5


@dataclass(frozen=True)
class LinkSpec:
    """How enterprises reach parcels (``[link]`` of an enterprise mapping file).

    ``by``: ``"table"`` (a parcel-id column of the enterprise table, several
    ids in one cell separated by ``;``/``；``/``、``), ``"file"`` (a separate
    link table of credit code and parcel id, ``--link FILE``), ``"parcels"``
    (the parcels carry the enterprise: their ``credit_code`` column, else
    their ``enterprise`` names), or ``"auto"``: the first that applies.
    ``share``: an enterprise on several parcels is split over them by
    ``"land"`` (default) or ``"floor"`` area. ``years``: ``"latest"`` or
    ``"mean"`` of several years per enterprise. ``parcels_without``: parcels
    no enterprise reaches get ``"unknown"`` figures (default; missing is not
    low) or ``"keep"`` the survey's own.
    """

    by: Literal["auto", "table", "file", "parcels"] = "auto"
    share: Literal["land", "floor"] = "land"
    years: Literal["latest", "mean"] = "latest"
    parcels_without: Literal["unknown", "keep"] = "unknown"


@dataclass(frozen=True)
class EnterpriseMapping:
    """An enterprise table's layout: ``[source]`` (sheet, encoding, header_row), ``[fields]``, ``[units]``,
    ``[link]`` (:class:`LinkSpec`) and ``[checks]`` (:class:`EnterpriseChecks`)."""

    fields: dict[str, str] = field(default_factory=dict)
    formats: dict[str, FieldFormat] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    sheet: str | int | None = None
    encoding: str | None = None
    header_row: int | None = None
    link: LinkSpec = LinkSpec()
    checks: EnterpriseChecks = EnterpriseChecks()
    where: str = "enterprise mapping"

    @classmethod
    def from_dict(cls, data: dict, *, where: str = "enterprise mapping") -> EnterpriseMapping:
        known = {"source", "fields", "units", "link", "checks"}
        bad = sorted(set(data) - known)
        if bad:
            msg = f"{where}: unknown table(s) {bad}; known: {sorted(known)}"
            raise ConfigError(msg)
        src = dict(data.get("source", {}))
        bad = sorted(set(src) - {"sheet", "encoding", "header_row"})
        if bad:
            msg = f"{where}: unknown key(s) {bad} in [source]; known: ['encoding', 'header_row', 'sheet']"
            raise ConfigError(msg)
        fields, formats = {}, {}
        for k, v in dict(data.get("fields", {})).items():
            if k not in COLUMNS or k == "source_row":
                msg = f"{where}: [fields] {k!r} is not an enterprise column; use one of {list(COLUMNS[:-1])}"
                raise ConfigError(msg)
            fields[k], fmt = parse_field(k, v, f"{where}: [fields]")
            if not fmt.is_default:
                formats[k] = fmt
        units = {str(k): str(v) for k, v in dict(data.get("units", {})).items()}
        for k, u in units.items():
            _unit(k, u, where)
        hr = src.get("header_row")
        if hr is not None and (isinstance(hr, bool) or not isinstance(hr, int) or hr < 1):
            msg = f"{where}: [source] header_row = {hr!r}; the 1-based row of the header"
            raise ConfigError(msg)
        return cls(fields=fields, formats=formats, units=units, sheet=src.get("sheet"), encoding=src.get("encoding"),
                   header_row=hr, link=from_dict(LinkSpec, dict(data.get("link", {})), where=f"{where} [link]"),
                   checks=from_dict(EnterpriseChecks, dict(data.get("checks", {})), where=f"{where} [checks]"),
                   where=where)

    @classmethod
    def load(cls, path: str | os.PathLike) -> EnterpriseMapping:
        return cls.from_dict(load_file(path), where=str(path))


def as_enterprise_mapping(mapping) -> EnterpriseMapping:
    """An :class:`EnterpriseMapping` from None, one, a dict of tables or a file path."""
    if mapping is None:
        return EnterpriseMapping()
    if isinstance(mapping, EnterpriseMapping):
        return mapping
    if isinstance(mapping, dict):
        return EnterpriseMapping.from_dict(mapping)
    return EnterpriseMapping.load(mapping)


def _unit(name: str, unit: str, where: str) -> float:
    u = unit.strip()
    table = MONEY if name in ("tax_cny", "output_cny") else ENERGY if name == "energy_tce" else None
    if table is None:
        msg = f"{where}: [units] {name!r} takes no unit; units apply to tax_cny, output_cny (元/万元/亿元), energy_tce"
        raise ConfigError(msg)
    if u.casefold() not in table and u not in table:
        msg = f"{where}: [units] {name} = {unit!r}; use one of {sorted(table)}"
        raise ConfigError(msg)
    return table.get(u.casefold(), table.get(u, 1.0))


def _header_unit(name: str, header: str) -> str | None:
    """The unit a header names (``实缴税金（万元）`` -> 万元)."""
    table = MONEY if name in ("tax_cny", "output_cny") else ENERGY if name == "energy_tce" else {}
    for key in sorted(table, key=len, reverse=True):
        if not key.isascii() and key in header:
            return key
    return None


def _find_header(cells: pd.DataFrame, mp: EnterpriseMapping) -> int:
    """Position of the header row: the first (of 20) naming two known fields, or ``[source] header_row``."""
    if mp.header_row is not None:
        return mp.header_row - 1
    wanted = {normalize_name(n) for names in ALIASES.values() for n in names} | {normalize_name(v) for v in mp.fields.values()}
    for pos in range(min(20, len(cells))):
        row = cells.iloc[pos]
        names = {normalize_name(_strip_unit(str(v))) for v in row if isinstance(v, str)}
        if len(names & wanted) >= 2:
            return pos
    return 0


def _strip_unit(h: str) -> str:
    import re

    return re.sub(r"[（(][^）)]*[）)]\s*$", "", h.strip())


def _match(headers: list[str], mp: EnterpriseMapping) -> dict[str, str]:
    out = dict(mp.fields)
    used = set(out.values())
    by_norm: dict[str, str] = {}
    for h in headers:
        by_norm.setdefault(normalize_name(h), h)
        by_norm.setdefault(normalize_name(_strip_unit(h)), h)
    for canon, names in ALIASES.items():
        if canon in out:
            continue
        for n in names:
            hit = by_norm.get(normalize_name(n))
            if hit is not None and hit not in used:
                out[canon] = hit
                used.add(hit)
                break
    return out


def read_enterprises(source: str | os.PathLike, *, mapping=None, encoding: str | None = None,
                     limits: ReadLimits = ReadLimits()) -> tuple[pd.DataFrame, IngestReport]:
    """Read and check an enterprise table; pure (writes nothing).

    Returns
    -------
    (DataFrame, IngestReport)
        One row per enterprise (:data:`COLUMNS`; money in CNY, energy in
        tce, ``source_row`` the sheet row it came from) and the report.

    Raises
    ------
    IngestError
        No credit code or name column, no rows (a header alone), no row
        accepted, more than ``max_rejected_share`` rejected, or a check set
        to ``refuse``.
    """
    mp = as_enterprise_mapping(mapping)
    src = Path(source)
    cells, enc, how = read_table(src, encoding=encoding or mp.encoding, sheet=mp.sheet, limits=limits)
    rep = IngestReport(source=str(src), dataset=src.name, format="Excel" if enc == "xlsx" else "CSV",
                       encoding=None if enc == "xlsx" else enc, encoding_note=how,
                       row_note=Note("row numbers are the rows a spreadsheet shows (1-based, header and title included)",
                                     zh="行号为表格软件中显示的行号（从 1 起，含表头和标题行）"))
    if not len(cells):
        raise _refuse(rep, "the table is empty", "表格为空")
    hpos = _find_header(cells, mp)
    header = [str(v).strip() if pd.notna(v) else f"column {i + 1}" for i, v in enumerate(cells.iloc[hpos])]
    body = cells.iloc[hpos + 1:].copy()
    body.columns = header
    rows = body.index.to_numpy() + 1
    matched = _match(header, mp)
    absent = {k: v for k, v in mp.fields.items() if v not in header}
    rep.mapping = {k: v for k, v in matched.items() if k not in absent}
    if absent or not ({"credit_code", "name"} & set(rep.mapping)):
        what = (f"mapping {mp.where} names column(s) the table does not have: "
                + ", ".join(f"{k} = {v!r}" for k, v in absent.items())) if absent else \
            "no credit code (统一社会信用代码) or enterprise name (企业名称) column"
        raise _refuse(rep, f"{what}; the columns (row {hpos + 1}) are: {', '.join(header)}",
                      f"{'字段对应指定了表格中没有的列' if absent else '找不到统一社会信用代码或企业名称列'}；"
                      f"表头（第 {hpos + 1} 行）为：{'、'.join(header)}")
    rep.n_read = len(body)
    if not len(body):  # publishing it would leave every parcel's tax unknown
        raise _refuse(rep, f"the table has a header (row {hpos + 1}) but no enterprise rows below it; add the rows, "
                           "or choose the sheet that holds them ([source] sheet in the mapping)",
                      f"表格只有表头（第 {hpos + 1} 行），下面没有企业数据行；请补充数据行，或选择含数据的工作表"
                      "（字段对应文件 [source] sheet）")
    rep.unmapped = [h for h in header if h not in rep.mapping.values()]
    out, problems, reject = _values(body, rows, mp, rep)
    return _apply(out, problems, reject, rows, mp, rep), rep


def _values(body: pd.DataFrame, rows: np.ndarray, mp: EnterpriseMapping, rep: IngestReport
            ) -> tuple[pd.DataFrame, list[Problem], np.ndarray]:
    """Canonical columns (text formatted, numbers in units) and the value problems."""
    ck = mp.checks
    n = len(body)
    out: dict[str, object] = {}
    problems: list[Problem] = []
    reject = np.zeros(n, dtype=bool)
    for canon in COLUMNS[:-1]:
        src = rep.mapping.get(canon)
        if src is None:
            out[canon] = np.full(n, np.nan) if canon in NUMERIC else pd.array([pd.NA] * n, dtype="string")
            continue
        col = body[src]
        if canon not in NUMERIC:
            text, _ = format_text(pd.Series(col.to_numpy(dtype=object)), mp.formats.get(canon))
            out[canon] = text.array
            continue
        st = pd.Series(col.to_numpy(dtype=object)).astype("string").str.strip().str.replace(",", "", regex=False)
        v = pd.to_numeric(st, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        nan_bad = np.isnan(v) & (st.notna() & (st != "")).fillna(False).to_numpy(dtype=bool)
        _add(problems, reject, nan_bad, rows, "not_a_number", ck.not_a_number, canon, st,
             (f"{src}: not a number", f"{src}：不是数字"))
        unit = mp.units.get(canon) or _header_unit(canon, src)
        if unit is not None:
            with np.errstate(over="ignore"):  # 1e308 万元 overflows: caught below as not finite
                v = v * _unit(canon, unit, mp.where)
            rep.units[canon] = unit
        inf = np.isinf(v)  # "inf", "1e309", an overflow: missing, as text is
        _add(problems, reject, inf, rows, "not_a_number", ck.not_a_number, canon, st,
             (f"{src}: not a finite number (infinite, or too large to compute)", f"{src}：不是有限数值（无穷大或超出计算范围）"))
        v = np.where(inf, np.nan, v)
        with np.errstate(invalid="ignore"):
            neg = v < 0
        _add(problems, reject, neg, rows, "negative", ck.negative, canon, st,
             (f"negative {src}", f"{src}为负值"))
        if ck.negative == "null":
            v = np.where(neg, np.nan, v)
        top = MAX_VALUES.get(canon)
        if top is not None:
            with np.errstate(invalid="ignore"):
                big = v > top
            fix, fix_zh = (("fix the value, or its unit ([units] in the mapping, or the header's, as in 实缴税金（万元）)",
                            "请修正数值或单位（字段对应的 [units]，或表头中的单位，如 实缴税金（万元））")
                           if canon != "employees" else ("fix the value", "请修正数值"))
            _add(problems, reject, big, rows, "impossible", ck.impossible, canon, st,
                 (f"{src}: over {top:,.0f} {_CANON_UNIT[canon]}, not plausible for one enterprise: a wrong unit or a "
                  f"typing error; {fix}",
                  f"{src}：超过 {top:,.0f} {_CANON_UNIT_ZH[canon]}，对一家企业而言不可能：单位或录入有误；{fix_zh}"))
            if ck.impossible != "flag":
                v = np.where(big, np.nan, v)
        out[canon] = v
    frame = pd.DataFrame(out)
    frame["source_row"] = rows.astype(np.int64)
    frame["credit_code"] = credit.normalize_codes(frame["credit_code"]).array
    return frame, problems, reject


def _add(problems: list[Problem], reject: np.ndarray, mask: np.ndarray, rows: np.ndarray, code: str, policy: str,
         fld: str, values, message: tuple[str, str], codes=None) -> None:
    from planner.ingest.geometry import action_of

    idx = np.flatnonzero(mask)
    if not len(idx):
        return
    if policy == "refuse":
        raise IngestError(f"{len(idx)} row(s) with {code} ({message[0]}; policy refuse), rows {rows[idx[:5]].tolist()}",
                          zh=f"{len(idx)} 行{message[1]}（规则为拒绝），行号 {rows[idx[:5]].tolist()}")
    vals = values.iloc[idx] if isinstance(values, pd.Series) else np.asarray(values)[idx]
    ids = codes.iloc[idx] if codes is not None else [None] * len(idx)
    for i, v, c in zip(idx, vals, ids, strict=True):
        problems.append(Problem(code, action_of(policy), message[0], int(rows[i]), None if pd.isna(c) else str(c),
                                fld, None if pd.isna(v) else str(v), message[1]))
    if policy == "reject":
        reject |= mask


def _apply(out: pd.DataFrame, problems: list[Problem], reject: np.ndarray, rows: np.ndarray, mp: EnterpriseMapping,
           rep: IngestReport) -> pd.DataFrame:
    """Credit-code and duplicate checks, rejected rows dropped, years folded into one row per enterprise."""
    ck = mp.checks
    codes = out["credit_code"]
    why = credit.check_codes(codes)
    for reason, (en, zh) in credit.REASONS.items():
        _add(problems, reject, (why == reason).to_numpy(), rows, "invalid_credit_code", ck.invalid_credit_code,
             "credit_code", codes, (f"credit code {en}", f"统一社会信用代码{zh}"), codes)
    by_code = mp.link.by != "parcels" or "name" not in rep.mapping
    missing = codes.isna().to_numpy()
    if by_code and "credit_code" in rep.mapping:
        _add(problems, reject, missing, rows, "missing_credit_code", ck.missing_credit_code, "credit_code",
             out["name"], ("credit code missing", "缺少统一社会信用代码"))
    key = codes.fillna("name:" + pd.Series(out["name"], dtype="string"))
    year = pd.Series(out["year"]).fillna(-1)
    dup = (pd.DataFrame({"k": key, "y": year}).duplicated(keep=False) & key.notna()).to_numpy()
    _add(problems, reject, dup, rows, "duplicate", ck.duplicate, "credit_code", codes,
         ("the same enterprise twice for one year (all copies)", "同一企业同一年度出现多次（列出全部）"), codes)
    problems.sort(key=lambda p: (p.row or 0, p.code))
    rep.problems = problems
    rep.n_rejected = int(reject.sum())
    rep.n_flagged = len({p.row for p in problems if p.action == "flagged"})
    if rep.n_rejected > ck.max_rejected_share * max(len(out), 1):
        raise _refuse(rep, f"{rep.n_rejected} of {len(out)} rows rejected (more than {ck.max_rejected_share:.0%}): "
                           "the columns or the link key are probably wrong; see the problems listed",
                      f"{len(out)} 行中有 {rep.n_rejected} 行被拒绝（超过 {ck.max_rejected_share:.0%}）：列或关联方式可能有误")
    if reject.all():
        raise _refuse(rep, f"none of the {len(out)} rows was accepted; see the problems listed",
                      f"{len(out)} 行均未被接受，请查看问题列表")
    kept = out[~reject].copy()
    kept["_key"] = key[~reject].to_numpy()
    n_before = len(kept)
    folded = _fold_years(kept, mp.link.years)
    if len(folded) < n_before:
        latest = mp.link.years == "latest"
        rep.notes.append(Note(f"{n_before} rows of {len(folded)} enterprises over several years: "
                              + ("the latest year of each kept" if latest else "figures averaged over the years of each"),
                              zh=f"{len(folded)} 家企业的 {n_before} 行跨多个年度："
                                 + ("每家企业保留最近一年" if latest else "每家企业取各年度平均值")))
    rep.n_accepted = len(folded)
    return folded


def _fold_years(kept: pd.DataFrame, years: str) -> pd.DataFrame:
    """One row per enterprise: the latest year, or the mean of its years' figures."""
    if not len(kept) or not kept["_key"].duplicated().any():
        return kept.drop(columns="_key").reset_index(drop=True)
    kept = kept.assign(_y=pd.Series(kept["year"]).fillna(-1).to_numpy()).sort_values(["_key", "_y"], kind="stable")
    last = kept.groupby("_key", sort=False).tail(1).set_index("_key")
    if years == "mean":
        means = kept.groupby("_key", sort=False)[["tax_cny", "output_cny", "energy_tce", "employees"]].mean()
        last[means.columns] = means.loc[last.index]
    return last.drop(columns="_y").reset_index(drop=True)[[c for c in COLUMNS]]


__all__ = ["ALIASES", "COLUMNS", "EnterpriseChecks", "EnterpriseMapping", "LinkSpec", "as_enterprise_mapping",
           "read_enterprises"]
