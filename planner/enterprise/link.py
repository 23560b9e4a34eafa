"""Which enterprise uses which parcel, and the join of enterprise figures onto parcels.

Links come from a link table (credit code and parcel id per row, as a
natural-resources bureau keeps land-use rights and leases), from a parcel-id
column of the enterprise table (several ids in one cell allowed), or from the
parcels themselves (a ``credit_code`` column, several codes in one cell
allowed; else their ``enterprise`` names).

The join (:func:`join_enterprises`), whole columns with NumPy:

- an enterprise on several parcels is shared among them in proportion to
  their land area (or floor area: ``share = "floor"``; an enterprise with a
  parcel of unknown floor area is shared by land, and the report says so);
- several tenants on one parcel add up;
- a parcel's figure is unknown when any of its tenants' figure is unknown
  (adding the known ones would understate it: missing is not low);
- problems: link rows naming a code the table does not have or a parcel
  the survey does not have, enterprises that reach no parcel, names that
  match several enterprises.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from planner.enterprise import credit
from planner.enterprise.table import ID_SEPARATORS, LinkSpec
from planner.errors import IngestError, Note
from planner.ingest.aliases import normalize_name
from planner.ingest.formats import format_text
from planner.ingest.report import Problem
from planner.io.readers import ReadLimits, read_table

#: Figures allocated from enterprises to parcels.
FIGURES = ("tax_cny", "output_cny", "energy_tce", "employees")
LINK_ALIASES = {
    "credit_code": ("统一社会信用代码", "社会信用代码", "信用代码", "TYSHXYDM", "USCC", "credit_code"),
    "parcel_id": ("宗地代码", "宗地编码", "地块编码", "ZDDM", "parcel_id", "parcel"),
    "name": ("企业名称", "单位名称", "使用企业", "QYMC", "name", "enterprise"),
}


def name_key(names) -> pd.Series:
    """Enterprise names compared loosely: blanks dropped, full-width brackets as ASCII, case-folded."""
    s = pd.Series(names, dtype="string")
    s = s.str.replace("（", "(", regex=False).str.replace("）", ")", regex=False)
    return ("name:" + s.str.replace(r"\s+", "", regex=True).str.casefold()).mask(s.isna() | (s.str.strip() == ""))


def enterprise_keys(ent: pd.DataFrame, *, by_name: bool = False) -> pd.Series:
    """The key each enterprise is linked by: its credit code, else ``name:<its name>`` (``by_name``: the name)."""
    names = pd.Series(ent["name"], dtype="string").reset_index(drop=True)
    if by_name:
        return name_key(names)
    codes = pd.Series(ent["credit_code"], dtype="string").reset_index(drop=True)
    missing = codes.isna()
    if missing.any():  # the name only where there is no code (cheap on a table of codes)
        codes = codes.copy()
        codes[missing] = name_key(names[missing])
    return codes


def read_links(source: str | os.PathLike, *, encoding: str | None = None,
               limits: ReadLimits = ReadLimits()) -> tuple[pd.DataFrame, list[Problem]]:
    """Read a link table (credit code + parcel id per row, optional name): ``(links, problems)``."""
    cells, _enc, _how = read_table(source, encoding=encoding, limits=limits)
    name = os.path.basename(str(source))
    if not len(cells):
        msg = f"{name}: the link table is empty"
        raise IngestError(msg, zh=f"{name}：关联表为空")
    wanted = {normalize_name(a): k for k, names in LINK_ALIASES.items() for a in names}
    hpos, found = 0, {}
    for pos in range(min(20, len(cells))):
        hit = {wanted[normalize_name(str(v))]: str(v) for v in cells.iloc[pos] if normalize_name(str(v)) in wanted}
        if "parcel_id" in hit and len(hit) >= 2:
            hpos, found = pos, hit
            break
    if "parcel_id" not in found or not ({"credit_code", "name"} & set(found)):
        msg = (f"{name}: no header with a parcel id (宗地代码) and a credit code (统一社会信用代码) or enterprise "
               f"name (企业名称) column in the first rows")
        raise IngestError(msg, zh=f"{name}：前几行中找不到含宗地代码及统一社会信用代码（或企业名称）的表头")
    header = [str(v).strip() for v in cells.iloc[hpos]]
    body = cells.iloc[hpos + 1:]
    body.columns = header
    out = pd.DataFrame({"source_row": body.index.to_numpy() + 1})
    for canon in ("credit_code", "parcel_id", "name"):
        col = found.get(canon)
        out[canon] = (format_text(pd.Series(body[col].to_numpy(dtype=object)))[0].array if col
                      else pd.array([pd.NA] * len(body), dtype="string"))
    out["credit_code"] = credit.normalize_codes(out["credit_code"]).array
    problems = [Problem("missing_id", "rejected", "link row without a parcel id", int(r), None, "parcel_id", None,
                        "关联记录缺少宗地代码") for r in out.loc[out["parcel_id"].isna(), "source_row"]]
    return out[out["parcel_id"].notna()].reset_index(drop=True), problems


def _split(col: pd.Series) -> pd.Series:
    """Cells holding several ids/codes (``A;B``, ``A；B``, ``A、B``) as one row each (index kept)."""
    return col.astype("string").str.strip().str.split(ID_SEPARATORS, regex=True).explode().replace("", pd.NA).dropna()


def links_for(ent: pd.DataFrame, spec: LinkSpec, parcels: pd.DataFrame | None = None,
              link_table: pd.DataFrame | None = None) -> tuple[pd.DataFrame, str]:
    """Link rows ``(key, parcel_id)`` by ``spec.by`` and how they were found.

    ``key`` is an enterprise key (:func:`enterprise_keys`): a credit code, or
    ``name:<name>`` when the link is by name.
    """
    by = spec.by
    has_ids = "parcel_ids" in ent and pd.Series(ent["parcel_ids"]).notna().any()
    if by == "auto":
        by = "file" if link_table is not None else "table" if has_ids else "parcels"
    if by == "file":
        if link_table is None:
            msg = "the mapping links enterprises by a link table ([link] by = \"file\"): give it with --link FILE"
            raise IngestError(msg, zh="字段对应规定通过关联表关联企业与宗地：请同时提供关联表")
        key = link_table["credit_code"].fillna(name_key(link_table["name"]))
        return pd.DataFrame({"key": key.astype("string"), "parcel_id": link_table["parcel_id"].astype("string"),
                             "source_row": link_table["source_row"]}).dropna(subset=["key"]), Note("link table",
                                                                                                    zh="关联表")
    if by == "table":
        if not has_ids:
            msg = "the mapping links enterprises by a parcel-id column ([link] by = \"table\"), but the table has none"
            raise IngestError(msg, zh="字段对应规定通过企业表中的宗地代码列关联，但表中没有该列")
        keys = enterprise_keys(ent)
        ids = _split(pd.Series(ent["parcel_ids"]).reset_index(drop=True))
        return pd.DataFrame({"key": keys.loc[ids.index].to_numpy(), "parcel_id": ids.to_numpy(),
                             "source_row": pd.Series(ent["source_row"]).to_numpy()[ids.index]}), \
            Note("the table's parcel-id column", zh="企业表中的宗地代码列")
    if parcels is None:
        return pd.DataFrame({"key": pd.Series([], dtype="string"), "parcel_id": pd.Series([], dtype="string"),
                             "source_row": pd.Series([], dtype="int64")}), Note("the parcels (none yet)",
                                                                                    zh="地块（尚无调查数据）")
    pid = parcels["parcel_id"].astype("string").reset_index(drop=True)
    if "credit_code" in parcels.columns and parcels["credit_code"].notna().any():
        codes = _split(parcels["credit_code"].reset_index(drop=True))
        key = credit.normalize_codes(codes)
        how = Note("the parcels' credit codes", zh="地块上的统一社会信用代码")
    else:
        names = parcels["enterprise"].reset_index(drop=True) if "enterprise" in parcels.columns else pd.Series([], dtype="string")
        key = name_key(names.astype("string")).dropna()
        how = Note("the parcels' enterprise names", zh="地块上的企业名称")
    return pd.DataFrame({"key": key.to_numpy(), "parcel_id": pid.loc[key.index].to_numpy(),
                         "source_row": pd.array([pd.NA] * len(key), dtype="Int64")}), how


@dataclass
class JoinResult:
    """Parcels with the enterprise figures joined, and what the join found."""

    parcels: gpd.GeoDataFrame
    problems: list[Problem] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _areas(parcels: pd.DataFrame, share: str) -> tuple[np.ndarray, np.ndarray]:
    land = pd.to_numeric(parcels.get("land_area_m2"), errors="coerce").to_numpy(dtype=float, na_value=np.nan) \
        if "land_area_m2" in parcels else np.full(len(parcels), np.nan)
    if "geometry" in parcels and not (land > 0).all():
        geo = shapely.area(np.asarray(parcels.geometry.values))
        land = np.where(land > 0, land, geo)
    floor = (pd.to_numeric(parcels["floor_area_m2"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
             if share == "floor" and "floor_area_m2" in parcels else land)
    return land, floor


def join_enterprises(parcels: gpd.GeoDataFrame, ent: pd.DataFrame, links: pd.DataFrame, *,
                     share: str = "land", parcels_without: str = "unknown") -> JoinResult:
    """Allocate enterprise figures to parcels and add them up per parcel.

    Parameters
    ----------
    parcels : GeoDataFrame
        Canonical parcels (``parcel_id`` unique).
    ent : DataFrame
        Enterprises (:func:`planner.enterprise.read_enterprises`).
    links : DataFrame
        ``(key, parcel_id)`` rows (:func:`links_for`).
    share : {"land", "floor"}
        How an enterprise on several parcels is split among them.
    parcels_without : {"unknown", "keep"}
        Figures of parcels no enterprise reaches: unknown, or the survey's own.

    Returns
    -------
    JoinResult
        ``parcels`` with ``tax_cny``, ``output_cny``, ``employees``,
        ``energy_tce`` from the enterprises, ``n_enterprises``,
        ``credit_codes`` and ``enterprise`` (names, ``；``-joined), and the
        dominant tenant's ``industry`` where the survey has none.
    """
    n_p = len(parcels)
    lk = pd.Series(links["key"], dtype="string").reset_index(drop=True)
    keys = enterprise_keys(ent, by_name=bool(len(lk)) and bool(lk.str.startswith("name:").all()))
    n_e = len(keys)
    problems: list[Problem] = []
    counts: dict[str, int] = {}
    notes: list[str] = []
    # names that two enterprises share cannot link by name
    dup_key = keys.duplicated(keep=False).to_numpy() & keys.notna().to_numpy()
    valid = ~dup_key & keys.notna().to_numpy()
    pos = np.flatnonzero(valid)
    lp_id = pd.Series(links["parcel_id"], dtype="string").reset_index(drop=True)
    hit = pd.Index(keys.to_numpy(dtype=object)[valid]).get_indexer(lk)
    le = np.where(hit >= 0, pos[np.maximum(hit, 0)] if len(pos) else -1, -1)
    lp = pd.Index(parcels["parcel_id"].astype("string")).get_indexer(lp_id)
    ambiguous = pd.Index(keys[dup_key].unique())
    amb = lk.isin(ambiguous).to_numpy()
    rows = pd.Series(links.get("source_row", pd.Series([pd.NA] * len(links)))).reset_index(drop=True)
    _problem_rows(problems, amb, rows, lk, lp_id, "ambiguous_name",
                  ("link: the name matches several enterprises of the table; link it by credit code",
                   "关联：该名称对应表中多个企业；请改用统一社会信用代码关联"))
    no_ent = (le < 0) & ~amb
    _problem_rows(problems, no_ent, rows, lk, lp_id, "unmatched_code",
                  ("link: no enterprise of the table has this credit code (or name)",
                   "关联：企业表中没有该统一社会信用代码（或名称）"))
    no_par = (lp < 0) & ~no_ent & ~amb
    _problem_rows(problems, no_par, rows, lk, lp_id, "unmatched_parcel",
                  ("link: no parcel of the current survey has this id", "关联：当前调查数据中没有该宗地代码"))
    ok = (le >= 0) & (lp >= 0)
    pair = np.unique(le[ok].astype(np.int64) * max(n_p, 1) + lp[ok])
    le, lp = pair // max(n_p, 1), pair % max(n_p, 1)
    reached = np.bincount(le, minlength=n_e) > 0
    lonely = ~reached
    for i in np.flatnonzero(lonely)[:100_000]:
        problems.append(Problem("no_parcel", "flagged", "the enterprise reaches no parcel of the survey: its figures "
                                "count for no land", _int(ent["source_row"].iloc[i]), None, "credit_code",
                                str(keys.iloc[i]) if pd.notna(keys.iloc[i]) else None, "该企业未关联到任何宗地：其数据未计入"))
    counts.update(links=int(ok.sum()), pairs=len(pair), parcels_linked=int(np.unique(lp).size), enterprises_linked=int(reached.sum()),
                  enterprises_without_parcel=int(lonely.sum()), unmatched_code=int(no_ent.sum()),
                  unmatched_parcel=int(no_par.sum()), ambiguous_name=int(amb.sum()))
    land, basis = _areas(parcels, share)
    w_raw = basis[lp] if len(lp) else np.zeros(0)
    if share == "floor":
        bad = np.bincount(le, weights=~(w_raw > 0), minlength=n_e) > 0  # a parcel of unknown floor area
        if bad.any():
            w_raw = np.where(bad[le], land[lp], w_raw)
            n_bad = int((bad & reached).sum())
            notes.append(Note(f"{n_bad} enterprise(s) with a parcel of unknown floor area shared by land area instead",
                              zh=f"{n_bad} 家企业有建筑面积未知的宗地，改按用地面积分摊"))
    w_raw = np.where(np.isfinite(w_raw) & (w_raw > 0), w_raw, 0.0)
    tot = np.bincount(le, weights=w_raw, minlength=n_e)
    even = 1.0 / np.maximum(np.bincount(le, minlength=n_e), 1)
    w = np.where(tot[le] > 0, w_raw / np.where(tot[le] > 0, tot[le], 1.0), even[le])
    out = parcels.copy()
    n_ten = np.bincount(lp, minlength=n_p)
    counts["parcels_several"] = int((n_ten > 1).sum())
    linked = n_ten > 0
    for fig in FIGURES:
        v = pd.to_numeric(pd.Series(ent[fig]), errors="coerce").to_numpy(dtype=float, na_value=np.nan)[le] * w
        total = np.bincount(lp, weights=np.nan_to_num(v), minlength=n_p)
        unknown = np.bincount(lp, weights=np.isnan(v), minlength=n_p) > 0
        val = np.where(linked & ~unknown, total, np.nan)
        if parcels_without == "keep" and fig in parcels.columns:
            own = pd.to_numeric(parcels[fig], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            val = np.where(linked, val, own)
        out[fig] = val
    out["n_enterprises"] = n_ten.astype(np.int64)
    order = np.lexsort((le, lp))
    out["credit_codes"] = _joined(_arrow_text(ent["credit_code"]).take(pa.array(le[order])), lp[order], n_p)
    names = _joined(_arrow_text(ent["name"]).take(pa.array(le[order])), lp[order], n_p)
    base = out["enterprise"].astype("string") if "enterprise" in out else pd.Series(pd.NA, index=out.index, dtype="string")
    out["enterprise"] = pd.Series(names.array, index=out.index).where(linked, base.to_numpy())
    out["industry"] = _dominant_industry(out, ent, le, lp, w, linked)
    return JoinResult(out, problems, counts, notes)


def _int(v) -> int | None:
    return None if pd.isna(v) else int(v)


def _problem_rows(problems: list[Problem], mask: np.ndarray, rows: pd.Series, keys: pd.Series, pids: pd.Series,
                  code: str, message: tuple[str, str]) -> None:
    for i in np.flatnonzero(mask)[:100_000]:
        problems.append(Problem(code, "flagged", message[0], _int(rows.iloc[i]),
                                None if pd.isna(pids.iloc[i]) else str(pids.iloc[i]), "credit_code",
                                None if pd.isna(keys.iloc[i]) else str(keys.iloc[i]), message[1]))


def _arrow_text(col) -> pa.Array:
    """A text column as an Arrow string array (no Python objects on the way)."""
    arr = pa.Array.from_pandas(pd.Series(col, dtype="string"))
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    return arr.cast(pa.string())


def _joined(values: pa.Array, groups: np.ndarray, n: int, sep: str = "；") -> pd.Series:
    """Per group (sorted ``groups`` of ``values``) the values joined with ``sep`` (Arrow list kernels)."""
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(np.bincount(groups, minlength=n), out=offsets[1:])
    vals = values.fill_null("")
    joined = pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), vals), sep)
    joined = pc.if_else(pc.equal(joined, ""), pa.scalar(None, pa.string()), joined)
    return pd.Series(pd.array(joined, dtype="string"))


def _dominant_industry(out: pd.DataFrame, ent: pd.DataFrame, le: np.ndarray, lp: np.ndarray, w: np.ndarray,
                       linked: np.ndarray) -> pd.Series:
    """The survey's industry, else the industry of the tenant with the largest allocated output (then tax)."""
    base = out["industry"].astype("string") if "industry" in out else pd.Series(pd.NA, index=out.index, dtype="string")
    fill = base.isna().to_numpy() & linked
    keep = fill[lp]  # only the links of parcels whose industry comes from their tenants
    le, lp, w = le[keep], lp[keep], w[keep]
    if not len(le):
        return base
    size = np.nan_to_num(pd.to_numeric(pd.Series(ent["output_cny"]), errors="coerce").to_numpy(dtype=float)[le] * w,
                         nan=-1.0)
    tax = np.nan_to_num(pd.to_numeric(pd.Series(ent["tax_cny"]), errors="coerce").to_numpy(dtype=float)[le] * w,
                        nan=-1.0)
    order = np.lexsort((tax, size, lp))
    last = np.r_[lp[order][1:] != lp[order][:-1], True]
    top_parcel, top_ent = lp[order][last], le[order][last]
    ind = _arrow_text(ent["industry"]).take(pa.array(top_ent))
    res = pa.Array.from_pandas(base).cast(pa.string())
    res = res.combine_chunks() if isinstance(res, pa.ChunkedArray) else res
    res = pc.replace_with_mask(res, pa.array(np.isin(np.arange(len(out)), top_parcel)), ind)
    return pd.Series(pd.array(res, dtype="string"), index=out.index)


__all__ = ["FIGURES", "JoinResult", "enterprise_keys", "join_enterprises", "links_for", "name_key", "read_links"]
