"""Attributes of the sample city's parcels: land use, zoning, performance, names, codes.

The spatial structure comes from smooth random fields (planner.sample.geometry.Field):
an *age* field separates old industrial areas (1985-2005 plants, low plot
ratio, tax per mu mostly under the 50,000 yuan/mu line of 泉政办规〔2025〕13号)
from newer development-zone land (higher plot ratio and tax); a block-level
random effect makes neighbours alike, so contiguous three-low sites exist.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from planner import codes
from planner.sample.names import (
    INDUSTRY_MIX,
    enterprise_names,
    person_names,
    street_name,
    village_names,
)
from planner.schema import MU_M2

#: Block zone types and the land-use mix of their parcels (class -> probability).
ZONE_MIX: dict[str, dict[str, float]] = {
    "old_industrial": {"industrial": 0.86, "warehouse": 0.04, "commercial": 0.03, "residential": 0.03, "public": 0.02, "green": 0.02},
    "new_industrial": {"industrial": 0.88, "warehouse": 0.05, "commercial": 0.03, "public": 0.02, "green": 0.02},
    "village": {"residential": 0.52, "industrial": 0.30, "commercial": 0.07, "public": 0.08, "green": 0.03},
    "commercial": {"commercial": 0.50, "residential": 0.25, "public": 0.12, "industrial": 0.08, "green": 0.05},
    "logistics": {"warehouse": 0.62, "industrial": 0.32, "commercial": 0.03, "green": 0.03},
}
ZONE_TYPES = tuple(ZONE_MIX)
#: Median parcel size (mu) by zone type, for the subdivision targets.
ZONE_MEDIAN_MU = {"old_industrial": 13.0, "new_industrial": 32.0, "village": 9.0, "commercial": 11.0, "logistics": 38.0}
#: Zoned maximum plot ratio range by zone type.
ZONE_FAR = {"old_industrial": (1.2, 2.0), "new_industrial": (2.0, 3.5), "village": (1.5, 2.5),
            "commercial": (2.5, 4.0), "logistics": (1.2, 2.0)}
#: Land-use codes (国土空间规划分类) and their probabilities by normalized class.
LAND_USE_CODES = {
    "industrial": (("100101", "100102", "100103"), (0.30, 0.60, 0.10)),
    "warehouse": (("110101", "110102"), (0.7, 0.3)),
    "commercial": (("0901", "0902", "0903"), (0.6, 0.25, 0.15)),
    "residential": (("0701", "0703"), (0.45, 0.55)),
    "public": (("0801", "0804", "0805", "0806"), (0.2, 0.5, 0.15, 0.15)),
    "green": (("1401", "1402"), (0.4, 0.6)),
}
ZONE_USE = {"old_industrial": "industrial", "new_industrial": "industrial", "village": "residential",
            "commercial": "commercial", "logistics": "warehouse"}
#: Tax per mu (yuan/mu/yr) line of low contribution (Quanzhou 泉政办规〔2025〕13号).
TAX_LINE = 50_000.0
#: Share of missing values by column (reported, not imputed).
MISSING = {"tax_cny": 0.03, "output_cny": 0.04, "employees": 0.05, "floor_area_m2": 0.02, "year_built": 0.04}


def zone_of_blocks(rng, age: np.ndarray, village: np.ndarray, centre: np.ndarray, rail_dist: np.ndarray) -> np.ndarray:
    """Zone type of each block from the fields at its centroid."""
    n = len(age)
    zone = np.where(age > -0.15, "old_industrial", "new_industrial").astype(object)
    logistics = (rail_dist < 1500) & (rng.random(n) < 0.35)
    zone[logistics] = "logistics"
    zone[centre > 1.6] = "commercial"
    zone[village > 1.25] = "village"
    return zone


def _choice_by_group(rng, groups: np.ndarray, table: dict[str, tuple[tuple[str, ...], tuple[float, ...]]]) -> np.ndarray:
    out = np.empty(len(groups), dtype=object)
    u = rng.random(len(groups))
    for g, (vals, p) in table.items():
        m = groups == g
        if m.any():
            cum = np.cumsum(p) / np.sum(p)
            out[m] = np.array(vals, dtype=object)[np.minimum(np.searchsorted(cum, u[m]), len(vals) - 1)]
    return out


def attributes(rng: np.random.Generator, *, area: np.ndarray, block: np.ndarray, block_zone: np.ndarray,
               age: np.ndarray, eco: np.ndarray, street: np.ndarray, block_code: np.ndarray) -> pd.DataFrame:
    """All non-geometry columns of the parcels (canonical names plus ``zone_type``).

    Parameters
    ----------
    area : parcel areas (m²)
    block : block index of each parcel; block_zone : zone type per block
    age : age field at each parcel centroid (high = old)
    eco : parcel centroid inside the river's ecological buffer
    street : 1-based street code per parcel; block_code : 1-based block number within the street
    """
    n = len(area)
    nb = len(block_zone)
    zone = block_zone[block]
    # -- land use ---------------------------------------------------------------
    mix = {z: (tuple(m), tuple(m.values())) for z, m in ZONE_MIX.items()}
    use = _choice_by_group(rng, zone, mix)
    use[eco & (rng.random(n) < 0.7)] = "green"
    use[(area > 60 * MU_M2) & np.isin(use, ["public", "green", "commercial"]) & (rng.random(n) < 0.7)] = "industrial"
    land_use_code = _choice_by_group(rng, use, LAND_USE_CODES)
    ind = use == "industrial"
    wh = use == "warehouse"
    com = use == "commercial"
    econ = ind | wh | com

    # -- performance: zone age + block effect + parcel noise -------------------------
    block_eff = rng.normal(0, 1, nb)[block]
    oldness = 1 / (1 + np.exp(-2.2 * (age + 0.15)))  # 0 new .. 1 old
    perf = -1.1 * (2 * oldness - 1) + 0.45 * block_eff + 0.55 * rng.normal(0, 1, n)
    perf = perf + np.where(zone == "new_industrial", 0.35, 0.0) - np.where(zone == "village", 0.3, 0.0)
    tax_per_mu = np.exp(np.log(56_000) + 0.62 * perf)
    far = np.exp(np.log(1.0) + 0.26 * perf + rng.normal(0, 0.17, n))
    far = np.where(wh, far * 0.8, far)
    far = np.where(com, far * 2.0, far)
    far = np.where(use == "residential", np.exp(rng.normal(np.log(1.6), 0.35, n)), far)
    far = np.where(use == "public", rng.uniform(0.5, 1.5, n), far)
    far = np.where(use == "green", rng.uniform(0.0, 0.05, n), far)
    far = np.clip(far, 0.0, 4.5)
    cov = np.clip(rng.normal(0.40 + 0.04 * perf, 0.08, n), 0.2, 0.6)
    cov = np.where(use == "green", far, np.minimum(cov, np.maximum(far, 0.2)))
    floor = far * area
    footprint = cov * area

    # -- status -----------------------------------------------------------------
    status = np.full(n, "in_use", dtype=object)
    u = rng.random(n)
    p_bad = np.where(econ, 0.012 + 0.05 * (perf < -0.8) + 0.05 * (perf < -1.6), 0.0)
    bad = u < p_bad
    status[bad] = np.array(["idle", "vacant", "stopped", "half_stopped"], dtype=object)[
        rng.choice(4, int(bad.sum()), p=[0.3, 0.2, 0.25, 0.25])]
    uc = ~bad & econ & (u < p_bad + 0.025 * (1 - oldness))
    status[uc] = "under_construction"
    floor = np.where(uc, floor * rng.uniform(0.0, 0.4, n), floor)
    floor = np.where(status == "idle", floor * rng.uniform(0.0, 0.3, n), floor)
    footprint = np.minimum(footprint, np.maximum(floor, 0.0))

    # -- money and people ------------------------------------------------------------
    mu = area / MU_M2
    tax = tax_per_mu * mu
    tax = np.where(com, tax * 1.3, tax)
    scale = np.select([status == "half_stopped", status == "stopped", np.isin(status, ["idle", "vacant"])],
                      [0.35, 0.03, 0.0], 1.0)
    tax = tax * scale
    output = tax * rng.uniform(10, 20, n)
    employees = np.round(floor / rng.uniform(40, 110, n) * np.where(scale > 0, np.maximum(scale, 0.2), 0.0))
    nan_econ = ~econ | uc
    tax = np.where(nan_econ, np.nan, np.round(tax, -2))
    output = np.where(nan_econ, np.nan, np.round(output, -3))
    employees = np.where(nan_econ & ~np.isin(use, ["public"]), np.nan, employees)
    year = np.round(2006 - 22 * (oldness - 0.5) + rng.normal(0, 4.5, n))
    year = np.clip(year, 1985, 2024)
    year = np.where(uc | (use == "green"), np.nan, year)
    cols = {"tax_cny": tax, "output_cny": output, "employees": employees, "floor_area_m2": floor, "year_built": year}
    for c, share in MISSING.items():
        cols[c] = np.where(rng.random(n) < share, np.nan, cols[c])

    # -- zoning --------------------------------------------------------------------
    lo = np.array([ZONE_FAR[z][0] for z in block_zone])
    hi = np.array([ZONE_FAR[z][1] for z in block_zone])
    zfar = np.round(rng.uniform(lo, hi), 1)[block]
    zuse = np.array([ZONE_USE[z] for z in block_zone], dtype=object)
    # a few old industrial blocks near the centre are zoned for renewal to other uses
    renew = (block_zone == "old_industrial") & (rng.random(nb) < 0.06)
    zuse[renew] = np.where(rng.random(int(renew.sum())) < 0.5, "commercial", "residential")
    zuse = zuse[block]

    # -- industry, names, owners -------------------------------------------------------
    icodes = np.array(list(INDUSTRY_MIX), dtype=object)
    ip = np.array(list(INDUSTRY_MIX.values()), dtype=float)
    dominant = icodes[rng.choice(len(icodes), nb, p=ip / ip.sum())][block]
    industry = np.where(rng.random(n) < 0.55, dominant, icodes[rng.choice(len(icodes), n, p=ip / ip.sum())])
    industry = np.where(wh, "59", industry)
    industry = np.where(ind | wh, industry, None)
    enterprise = enterprise_names(rng, np.where(ind | wh, industry, "").astype(object), com)
    enterprise = np.where(econ & (status != "vacant"), enterprise, None)
    r = rng.random(n)
    town = street_name(street)
    collective = econ & (r >= 0.78) & (r < 0.86) | (use == "residential") & (r < 0.35)
    person = econ & (r >= 0.86) | (use == "residential") & (r >= 0.35)
    landlord = econ & (r >= 0.70) & (r < 0.78)
    owner = np.where(econ, enterprise, None).astype(object)
    owner = np.where(econ & pd.isna(owner), enterprise_names(rng, np.full(n, ""), np.zeros(n, bool)), owner)
    owner[landlord] = enterprise_names(rng, np.full(int(landlord.sum()), ""), np.zeros(int(landlord.sum()), bool))
    vil = village_names(rng, n)
    owner[collective] = (pd.Series(town[collective], dtype=object) + vil[collective] + "村股份经济合作社").to_numpy()
    owner[person] = person_names(rng, int(person.sum()))
    pub = use == "public"
    owner[pub] = np.where(rng.random(int(pub.sum())) < 0.5, "晋江市人民政府",
                          (pd.Series(town[pub], dtype=object) + "人民政府").to_numpy())
    owner[use == "green"] = "晋江市城市管理局"

    # -- parcel code (宗地代码): 350582 + street(3) + block(3) + GB/JB + serial(5) -----------
    right = np.where(collective, "JB", "GB")
    key = street.astype(np.int64) * 1000 + block_code
    order = np.lexsort((np.arange(n), key))
    serial = np.empty(n, dtype=np.int64)
    ks = key[order]
    start = np.r_[0, np.flatnonzero(np.diff(ks)) + 1]
    run = np.arange(n) - np.repeat(start, np.diff(np.r_[start, n]))
    serial[order] = run + 1
    pid = (pd.Series(np.char.zfill(street.astype(str), 3), dtype=object).radd("350582")
           + np.char.zfill(block_code.astype(str), 3) + right + np.char.zfill(serial.astype(str), 5))

    return pd.DataFrame({
        "parcel_id": pid.to_numpy(),
        "land_area_m2": np.round(area, 2),
        "floor_area_m2": np.round(cols["floor_area_m2"], 1),
        "footprint_m2": np.round(footprint, 1),
        "land_use_code": land_use_code,
        "land_use": codes.normalize_land_use(land_use_code, scheme="gtkj").to_numpy(),
        "owner": owner,
        "enterprise": enterprise,
        "industry": industry,
        "output_cny": cols["output_cny"],
        "tax_cny": cols["tax_cny"],
        "employees": cols["employees"],
        "status": status,
        "year_built": cols["year_built"],
        "zone_far_max": zfar,
        "zone_use": zuse,
        "zone_type": zone,
        "street": town,
    })
