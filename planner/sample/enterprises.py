"""The sample city's enterprise tables, as a tax bureau and a natural-resources bureau would send them.

- ``enterprises_2024.xlsx`` (税务局): one row per enterprise, a title row
  above the header, 统一社会信用代码 / 企业名称 / 行业代码 / 实缴税金（万元）/
  销售收入（万元）/ 综合能耗（吨标准煤）/ 从业人数 / 年度;
- ``enterprise_parcels_2024.csv`` (自然资源局, GBK): which enterprise uses which
  parcel (宗地代码, 统一社会信用代码, 使用方式 自有/租赁).

Built from the parcels' own figures so the two agree: the occupying
enterprises of the survey become rows (an enterprise on several parcels
sums them), about 6 % of the larger economic parcels get two or three tenants
sharing the parcel's figures, energy use follows output with an industry
intensity. A delivery's usual faults are planted, few and on purpose: three
codes with a wrong check digit, one enterprise listed twice, five enterprises
that moved out (no parcel), three link rows with a parcel id the survey does
not have and one with a code the table does not have. Synthetic, seeded.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from planner.enterprise.credit import ALPHABET, check_digit
from planner.sample.names import enterprise_names

#: Energy intensity (tce per 10,000 yuan of output) by GB/T 4754 division; others 0.03.
ENERGY_INTENSITY = {"17": 0.08, "26": 0.12, "30": 0.15, "22": 0.09, "29": 0.05, "19": 0.02, "18": 0.015}
TITLE = "2024年度晋江市工业企业亩均效益评价数据（税务局提供，单位：万元、吨标准煤）"
COLUMNS = ["序号", "统一社会信用代码", "企业名称", "行业代码", "实缴税金（万元）", "销售收入（万元）",
           "综合能耗（吨标准煤）", "从业人数", "年度"]


def _codes(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` distinct valid credit codes of Jinjiang (91 + 350582 + 9 characters + check digit)."""
    alphabet = np.array(list(ALPHABET[:-1]))  # the 9-character organisation code: digits and letters
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        body = rng.choice(alphabet, size=(n, 9))
        for row in body:
            s = "91350582" + "".join(row)
            if s not in seen:
                seen.add(s)
                out.append(s + check_digit(s))
                if len(out) == n:
                    break
    return np.array(out)


def enterprise_tables(parcels: pd.DataFrame, *, seed: int = 2024, year: int = 2024) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(tax table, link table)`` with the headers a bureau uses (see the module notes)."""
    rng = np.random.default_rng(seed)
    p = parcels[parcels["enterprise"].notna() & parcels["tax_cny"].notna()].reset_index(drop=True)
    # tenants: the survey's enterprise, plus one or two more on ~6% of the larger parcels
    big = np.flatnonzero(p["land_area_m2"].to_numpy() > np.nanpercentile(p["land_area_m2"], 60))
    multi = rng.choice(big, size=int(0.06 * len(p)), replace=False)
    extra = rng.integers(1, 3, len(multi))
    tenants = np.repeat(multi, extra)
    new_names = enterprise_names(rng, p["industry"].astype(str).to_numpy()[tenants], np.zeros(len(tenants), bool))
    rows = pd.DataFrame({"parcel": np.r_[np.arange(len(p)), tenants],
                         "name": np.r_[p["enterprise"].astype(str).to_numpy(), new_names],
                         "industry": np.r_[p["industry"].astype(str).to_numpy(), p["industry"].astype(str).to_numpy()[tenants]]})
    # each parcel's figures split among its tenants (first tenant the largest)
    n_ten = np.bincount(rows["parcel"], minlength=len(p))
    raw = rng.uniform(0.3, 1.0, len(rows))
    raw[: len(p)] += 1.0
    share = raw / np.bincount(rows["parcel"], weights=raw, minlength=len(p))[rows["parcel"]]
    for col in ("tax_cny", "output_cny", "employees"):
        rows[col] = p[col].to_numpy(dtype=float)[rows["parcel"]] * share
    rows["parcel_id"] = p["parcel_id"].astype(str).to_numpy()[rows["parcel"]]
    rows["use"] = np.where(n_ten[rows["parcel"]] > 1, "租赁", "自有")
    # one enterprise per name (an enterprise on several parcels sums them)
    ent = rows.groupby("name", sort=False).agg(industry=("industry", "first"), tax_cny=("tax_cny", "sum"),
                                               output_cny=("output_cny", "sum"), employees=("employees", "sum"))
    ent = ent.reset_index()
    ent["code"] = _codes(rng, len(ent))
    intensity = ent["industry"].map(ENERGY_INTENSITY).fillna(0.03).to_numpy()
    ent["energy"] = np.round(ent["output_cny"].to_numpy() / 1e4 * intensity * rng.uniform(0.6, 1.4, len(ent)), 1)
    link = rows.merge(ent[["name", "code"]], on="name")
    # five enterprises that moved out: in the tax table, not in the link table
    gone = rng.choice(len(ent), 5, replace=False)
    link = link[~link["code"].isin(ent["code"].to_numpy()[gone])]
    table = pd.DataFrame({
        "序号": np.arange(1, len(ent) + 1),
        "统一社会信用代码": ent["code"].to_numpy(),
        "企业名称": ent["name"].to_numpy(),
        "行业代码": ent["industry"].to_numpy(),
        "实缴税金（万元）": np.round(ent["tax_cny"].to_numpy() / 1e4, 2),
        "销售收入（万元）": np.round(ent["output_cny"].to_numpy() / 1e4, 1),
        "综合能耗（吨标准煤）": ent["energy"].to_numpy(),
        "从业人数": pd.array(np.round(ent["employees"].to_numpy()), dtype="Int64"),
        "年度": year,
    })
    # planted faults: three mistyped check digits, one enterprise listed twice
    typo = rng.choice(len(table), 3, replace=False)
    for i in typo:
        c = table.at[i, "统一社会信用代码"]
        table.at[i, "统一社会信用代码"] = c[:-1] + ALPHABET[(ALPHABET.index(c[-1]) + 7) % 31]
    dup = table.iloc[[int(rng.integers(len(table)))]].copy()
    table = pd.concat([table, dup], ignore_index=True)
    table["序号"] = np.arange(1, len(table) + 1)
    links = pd.DataFrame({"宗地代码": link["parcel_id"].to_numpy(), "统一社会信用代码": link["code"].to_numpy(),
                          "使用方式": link["use"].to_numpy()})
    # three parcel ids mistyped in the link table, one code the tax table does not have
    bad = rng.choice(len(links), 3, replace=False)
    links.loc[bad, "宗地代码"] = links.loc[bad, "宗地代码"].str.slice(0, -1) + "X"
    stray = "91350582" + "".join(rng.choice(np.array(list(ALPHABET[:-1])), 9))
    links = pd.concat([links, pd.DataFrame({"宗地代码": [links["宗地代码"].iloc[0]],
                                            "统一社会信用代码": [stray + check_digit(stray)], "使用方式": ["租赁"]})],
                      ignore_index=True)
    return table, links.sort_values("宗地代码", kind="stable").reset_index(drop=True)


def write_enterprise_tables(parcels: pd.DataFrame, xlsx: str | os.PathLike, link_csv: str | os.PathLike, *,
                            seed: int = 2024, year: int = 2024) -> dict:
    """Write the tax table (xlsx, a title row above the header) and the link table (GBK csv)."""
    table, links = enterprise_tables(parcels, seed=seed, year=year)
    xlsx, link_csv = Path(xlsx), Path(link_csv)
    xlsx.parent.mkdir(parents=True, exist_ok=True)
    with pd.ExcelWriter(xlsx, engine="openpyxl") as xw:
        pd.DataFrame([[TITLE]]).to_excel(xw, sheet_name="亩均效益", header=False, index=False)
        table.to_excel(xw, sheet_name="亩均效益", startrow=1, index=False)
    links.to_csv(link_csv, index=False, encoding="gbk")
    return {"enterprises": len(table), "links": len(links),
            "multi_tenant_parcels": int((links["宗地代码"].value_counts() > 1).sum())}


__all__ = ["enterprise_tables", "write_enterprise_tables"]
