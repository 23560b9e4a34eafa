"""Per-parcel indicators on hand-checkable 50 m box parcels (2,500 m² = 3.75 mu each)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from planner.classify.indicators import INDICATORS, compute_indicators, land_area
from tests.conftest import box_grid


@pytest.fixture
def four():
    g = box_grid(4, 1)  # 4 parcels of 2,500 m²
    g["floor_area_m2"] = [1050.0, 5000.0, np.nan, 2500.0]
    g["footprint_m2"] = [1000.0, np.nan, 500.0, 2500.0]
    g["output_cny"] = [3_750_000.0, np.nan, 0.0, 375_000.0]
    g["tax_cny"] = [150_000.0, 750_000.0, np.nan, 0.0]
    g["employees"] = [50.0, np.nan, 10.0, 0.0]
    g["zone_far_max"] = [2.0, 1.5, 2.0, np.nan]
    g["year_built"] = [2000.0, np.nan, 2020.0, 1990.0]
    return g


def test_indicator_values_by_hand(four):
    ind = compute_indicators(four, reference_year=2025)
    assert list(ind.columns) == list(INDICATORS)
    np.testing.assert_allclose(ind["land_area_m2"], 2500.0)
    np.testing.assert_allclose(ind["land_area_mu"], 3.75)
    np.testing.assert_allclose(ind["plot_ratio"], [0.42, 2.0, np.nan, 1.0])
    np.testing.assert_allclose(ind["coverage"], [0.4, np.nan, 0.2, 1.0])
    np.testing.assert_allclose(ind["output_per_mu"], [1_000_000.0, np.nan, 0.0, 100_000.0])
    np.testing.assert_allclose(ind["tax_per_mu"], [40_000.0, 200_000.0, np.nan, 0.0])
    np.testing.assert_allclose(ind["employees_per_ha"], [200.0, np.nan, 40.0, 0.0])
    np.testing.assert_allclose(ind["far_gap"], [1.58, -0.5, np.nan, np.nan])
    # 2.0*2500-1050 = 3950; 1.5*2500-5000 < 0 -> 0 (built above the zoned max); missing -> NaN
    np.testing.assert_allclose(ind["floor_potential_m2"], [3950.0, 0.0, np.nan, np.nan])
    np.testing.assert_allclose(ind["years_since_built"], [25.0, np.nan, 5.0, 35.0])


def test_missing_is_nan_never_zero(four):
    ind = compute_indicators(four, reference_year=2025)
    # a recorded 0 stays 0 (tax 0 is known), a missing input stays missing
    assert ind.loc[3, "tax_per_mu"] == 0.0
    assert np.isnan(ind.loc[2, "tax_per_mu"])
    assert np.isnan(ind.loc[2, "plot_ratio"])


def test_land_area_falls_back_to_geometry_and_zero_is_missing():
    g = box_grid(3, 1, size=20.0)  # 400 m² geometries
    g["land_area_m2"] = [1000.0, np.nan, 0.0]
    np.testing.assert_allclose(land_area(g), [1000.0, 400.0, 400.0])
    g2 = g.copy()
    g2.loc[2, "geometry"] = None
    out = land_area(g2)
    assert np.isnan(out[2])
    g2["floor_area_m2"] = 100.0
    assert np.isnan(compute_indicators(g2, reference_year=2025).loc[2, "plot_ratio"])


def test_absent_optional_columns_and_default_year():
    g = box_grid(2, 1)[["parcel_id", "geometry"]]
    ind = compute_indicators(g)
    np.testing.assert_allclose(ind["land_area_m2"], 2500.0)
    assert ind.drop(columns=["land_area_m2", "land_area_mu"]).isna().all().all()
    g2 = box_grid(1, 1)
    g2["year_built"] = 2000.0
    assert compute_indicators(g2)["years_since_built"].iloc[0] == pd.Timestamp.now().year - 2000
