"""Per-parcel indicators of land use efficiency (vectorized, NaN for missing).

Every indicator is a whole-column numpy expression over the canonical parcel
schema (docs/CONTRACTS.md). Missing inputs give NaN, never 0: "missing is not
low". A land area of zero or less counts as missing (it would divide by zero).

====================  =========================================  ========
column                definition                                 unit
====================  =========================================  ========
land_area_m2          table value, else geometry area            m²
land_area_mu          land_area_m2 / 666.67                      mu
plot_ratio            容积率 floor_area_m2 / land_area_m2          -
coverage              建筑密度 footprint_m2 / land_area_m2         -
output_per_mu         亩均产值 output_cny / land_area_mu            CNY/mu
tax_per_mu            亩均税收 tax_cny / land_area_mu               CNY/mu
employees_per_ha      employees / (land_area_m2 / 10,000)        persons/ha
far_gap               zone_far_max - plot_ratio                  -
floor_potential_m2    max(0, zone_far_max * land - floor)        m²
years_since_built     reference_year - year_built                years
tax_per_energy        tax_cny / energy_tce (单位能耗税收)          CNY/tce
====================  =========================================  ========

``energy_tce`` (total energy use, tonnes of standard coal equivalent) is not
a survey field: it comes from an enterprise table joined into the parcels
(:mod:`planner.enterprise`); without one the indicator is missing.

Examples
--------
>>> import geopandas as gpd, shapely
>>> g = gpd.GeoDataFrame({"parcel_id": ["a"], "floor_area_m2": [1050.0], "tax_cny": [20000.0]},
...                      geometry=[shapely.box(0, 0, 50, 50)], crs="EPSG:4549")
>>> ind = compute_indicators(g, reference_year=2025)
>>> float(ind["plot_ratio"].iloc[0]), round(float(ind["tax_per_mu"].iloc[0]))
(0.42, 5333)
>>> bool(ind["coverage"].isna().iloc[0])
True
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from planner.schema import MU_M2


@dataclass(frozen=True)
class Indicator:
    """Metadata of one indicator: labels, unit, display decimals and its input columns."""

    name: str
    zh: str
    en: str
    unit: str
    decimals: int
    inputs: tuple[str, ...]


#: Indicators by name, in output order.
INDICATORS: dict[str, Indicator] = {
    i.name: i
    for i in (
        Indicator("land_area_m2", "土地面积", "land area", "m²", 0, ("land_area_m2",)),
        Indicator("land_area_mu", "土地面积(亩)", "land area (mu)", "mu", 2, ("land_area_m2",)),
        Indicator("plot_ratio", "容积率", "plot ratio", "", 2, ("floor_area_m2", "land_area_m2")),
        Indicator("coverage", "建筑密度", "building coverage", "", 2, ("footprint_m2", "land_area_m2")),
        Indicator("output_per_mu", "亩均产值", "output per mu", "CNY/mu", 0, ("output_cny", "land_area_m2")),
        Indicator("tax_per_mu", "亩均税收", "tax per mu", "CNY/mu", 0, ("tax_cny", "land_area_m2")),
        Indicator("employees_per_ha", "地均就业", "employees per ha", "persons/ha", 1, ("employees", "land_area_m2")),
        Indicator("far_gap", "容积率差距", "plot-ratio gap", "", 2, ("zone_far_max", "floor_area_m2", "land_area_m2")),
        Indicator("floor_potential_m2", "可增建筑面积", "floor-area potential", "m²", 0, ("zone_far_max", "floor_area_m2", "land_area_m2")),
        Indicator("years_since_built", "建成年限", "years since built", "years", 0, ("year_built",)),
        Indicator("tax_per_energy", "单位能耗税收", "tax per unit energy", "CNY/tce", 0, ("tax_cny", "energy_tce")),
    )
}

#: Why an input is missing, per input column: (zh, en) used in "unknown" reasons.
MISSING_REASON: dict[str, tuple[str, str]] = {
    "land_area_m2": ("土地面积未知：无土地面积或几何", "land area unknown: no land area or geometry"),
    "floor_area_m2": ("建筑面积未知：无建筑面积记录", "floor area unknown: no floor-area record"),
    "footprint_m2": ("基底面积未知：无基底面积记录", "footprint unknown: no footprint record"),
    "output_cny": ("产值未知：无产值记录", "output unknown: no output record"),
    "tax_cny": ("税收未知：无税收记录", "tax unknown: no tax record"),
    "employees": ("从业人数未知：无从业人数记录", "employees unknown: no employee record"),
    "zone_far_max": ("规划容积率未知：无规划条件记录", "zoned plot ratio unknown: no zoning record"),
    "year_built": ("建成年份未知：无建成年份记录", "year built unknown: no year-built record"),
    "energy_tce": ("能耗未知：无企业能耗记录", "energy use unknown: no enterprise energy record"),
}


def _col(df: pd.DataFrame, name: str) -> np.ndarray:
    if name not in df.columns:
        return np.full(len(df), np.nan)
    return pd.to_numeric(df[name], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def land_area(parcels: pd.DataFrame) -> np.ndarray:
    """Land area in m²: ``land_area_m2`` where positive, else the geometry's area; NaN if neither."""
    area = _col(parcels, "land_area_m2")
    missing = ~(area > 0)
    if missing.any() and "geometry" in parcels.columns:
        geoms = np.asarray(parcels.geometry.values)[missing] if hasattr(parcels, "geometry") else None
        if geoms is not None:
            ga = shapely.area(geoms)
            ga = np.where(ga > 0, ga, np.nan)
            area = area.copy()
            area[missing] = ga
    return np.where(area > 0, area, np.nan)


def input_missing(parcels: pd.DataFrame, name: str, land_m2: np.ndarray | None = None) -> np.ndarray:
    """Boolean mask: input column ``name`` is missing (or not positive for the land area)."""
    if name == "land_area_m2":
        la = land_area(parcels) if land_m2 is None else land_m2
        return np.isnan(la)
    return np.isnan(_col(parcels, name))


def compute_indicators(parcels: pd.DataFrame, *, reference_year: int | None = None) -> pd.DataFrame:
    """Compute every indicator of :data:`INDICATORS` for each parcel.

    Parameters
    ----------
    parcels : DataFrame or GeoDataFrame
        Parcels in the canonical schema; absent optional columns count as missing.
    reference_year : int, optional
        Year for ``years_since_built`` (default: the current calendar year).

    Returns
    -------
    DataFrame
        One float64 column per indicator, same index as ``parcels``; NaN where
        an input is missing.
    """
    if reference_year is None:
        reference_year = _dt.date.today().year
    land = land_area(parcels)
    mu = land / MU_M2
    floor = _col(parcels, "floor_area_m2")
    zone = _col(parcels, "zone_far_max")
    with np.errstate(divide="ignore", invalid="ignore"):
        pr = floor / land
        cols = {
            "land_area_m2": land,
            "land_area_mu": mu,
            "plot_ratio": pr,
            "coverage": _col(parcels, "footprint_m2") / land,
            "output_per_mu": _col(parcels, "output_cny") / mu,
            "tax_per_mu": _col(parcels, "tax_cny") / mu,
            "employees_per_ha": _col(parcels, "employees") / (land / 10_000.0),
            "far_gap": zone - pr,
            "floor_potential_m2": np.maximum(zone * land - floor, 0.0),  # NaN propagates
            "years_since_built": float(reference_year) - _col(parcels, "year_built"),
            "tax_per_energy": np.where(_col(parcels, "energy_tce") > 0, _col(parcels, "tax_cny") / _col(parcels, "energy_tce"),
                                       np.nan),
        }
    return pd.DataFrame(cols, index=parcels.index)


__all__ = ["INDICATORS", "MISSING_REASON", "Indicator", "compute_indicators", "input_missing", "land_area"]
