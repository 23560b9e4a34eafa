"""Geodata exports of scenario results (GeoPackage, GeoJSON) and the site columns every export shares."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from planner.crs import to_lonlat_valid
from planner.errors import DataError
from planner.scenarios.model import ScenarioResult

#: Site columns written to the sites sheet / layer, in order.
SITE_COLUMNS = (
    "site_id", "rank", "template", "existing_rule", "start_year", "works_start", "delivery", "land_area_m2",
    "land_area_mu", "existing_floor_m2", "retained_floor_m2", "demolished_floor_m2", "new_floor_m2",
    "floor_after_m2", "net_change_m2", "plot_ratio_before", "plot_ratio_after", "leasable_m2", "occupied_m2",
    "enterprises_before", "enterprises_housed", "jobs_before", "jobs_after", "output_before_cny",
    "output_after_cny", "tax_before_cny", "tax_after_cny", "tax_per_mu_after", "investment_cny",
    "construction_cost_cny", "demolition_cost_cny", "other_cost_cny", "rent_cny_yr", "payback_years",
    "fiscal_payback_years",
)


def has_geometry(g) -> bool:
    """True for a GeoDataFrame with an active geometry column and a CRS."""
    return (isinstance(g, gpd.GeoDataFrame) and getattr(g, "_geometry_column_name", None) in g.columns
            and g.crs is not None)


def site_table(result: ScenarioResult) -> pd.DataFrame:
    """The scenario's per-site table in :data:`SITE_COLUMNS` order (no geometry)."""
    cols = [c for c in SITE_COLUMNS if c in result.sites.columns]
    return pd.DataFrame(result.sites[cols])


def write_sites(result: ScenarioResult, path: str | Path) -> Path:
    """Write the sites with their results as GeoPackage (``.gpkg``) or GeoJSON (``.geojson``/``.json``)."""
    p = Path(path)
    g = result.sites
    if not has_geometry(g):
        msg = f"{p}: the scenario's sites have no geometry/CRS; run it on the workspace sites layer"
        raise DataError(msg)
    out = gpd.GeoDataFrame(site_table(result).replace([np.inf, -np.inf], np.nan), geometry=g.geometry.to_numpy(),
                           crs=g.crs)
    out.insert(0, "scenario", result.name)
    p.parent.mkdir(parents=True, exist_ok=True)
    suffix = p.suffix.lower()
    if suffix == ".gpkg":
        out.to_file(p, layer=result.name, driver="GPKG", engine="pyogrio")
    elif suffix in (".geojson", ".json"):
        to_lonlat_valid(out).to_file(p, driver="GeoJSON", engine="pyogrio")
    else:
        msg = f"{p}: unknown geodata format; use .gpkg or .geojson"
        raise DataError(msg)
    return p
