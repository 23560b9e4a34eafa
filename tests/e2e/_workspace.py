"""A small hand-made workspace for the app tests (a 24 x 24 grid of parcels, a road, a farmland patch)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from planner import schema
from planner.io.store import GpkgStore

X0, Y0, SIZE = 500_000.0, 2_740_000.0, 60.0


def grid_parcels(n: int = 24, seed: int = 7) -> gpd.GeoDataFrame:
    """``n`` x ``n`` parcels of 60 m (3,600 m²), ids ``r{row}c{col}``, with plausible attributes."""
    rng = np.random.default_rng(seed)
    ix, iy = np.meshgrid(np.arange(n), np.arange(n))
    ix, iy = ix.ravel(), iy.ravel()
    k = len(ix)
    geoms = shapely.box(X0 + ix * SIZE, Y0 + iy * SIZE, X0 + (ix + 1) * SIZE, Y0 + (iy + 1) * SIZE)
    land = np.full(k, SIZE * SIZE)
    lu = np.where(rng.random(k) < 0.8, "industrial", np.where(rng.random(k) < 0.5, "warehouse", "residential"))
    far = rng.uniform(0.3, 2.5, k)
    gdf = gpd.GeoDataFrame({
        "parcel_id": [f"r{r}c{c}" for r, c in zip(iy, ix, strict=True)],
        "land_area_m2": land,
        "floor_area_m2": np.round(land * far, 0),
        "footprint_m2": np.round(land * rng.uniform(0.2, 0.7, k), 0),
        "land_use_code": np.where(lu == "industrial", "1001", np.where(lu == "warehouse", "1101", "0701")),
        "land_use": lu,
        "owner": [f"企业{i % 97:02d}" for i in range(k)],
        "enterprise": [f"Firm {i % 89:02d}" for i in range(k)],
        "industry": rng.choice(["17", "18", "19", "29"], k),
        "output_cny": np.round(land / schema.MU_M2 * rng.uniform(1e5, 3e6, k), -3),
        "tax_cny": np.round(land / schema.MU_M2 * rng.uniform(1e4, 3e5, k), -2),
        "employees": rng.integers(0, 200, k).astype(float),
        "status": rng.choice(["in_use", "in_use", "in_use", "idle", "stopped"], k),
        "year_built": rng.integers(1985, 2020, k).astype(float),
        "zone_far_max": np.full(k, 2.5),
    }, geometry=geoms, crs="EPSG:4549")
    # some missing data: missing is not low
    gdf.loc[rng.random(k) < 0.05, "tax_cny"] = np.nan
    return schema.conform(gdf)


def build_workspace(path: str | Path, n: int = 24) -> Path:
    """Create a workspace at ``path`` with one survey version, a barrier and a constraint."""
    path = Path(path)
    ws = GpkgStore(path, crs="EPSG:4549", create=True)
    ws.publish_survey(grid_parcels(n), label="test grid", user="test")
    mid = Y0 + (n // 2) * SIZE
    road = gpd.GeoDataFrame({"category": ["arterial_road"]},
                            geometry=[shapely.LineString([(X0 - 50, mid), (X0 + n * SIZE + 50, mid)])],
                            crs="EPSG:4549")
    ws.write_layer("barrier", "arterial_roads", road, user="test")
    farm = gpd.GeoDataFrame({"category": ["permanent_farmland"]},
                            geometry=[shapely.box(X0, Y0, X0 + 2 * SIZE, Y0 + 2 * SIZE)], crs="EPSG:4549")
    ws.write_layer("constraint", "farmland", farm, user="test")
    return path
