"""Scenario comparison: key-figure table, differences, site membership, curves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from planner.errors import DataError
from planner.scenarios import run, scenario_from_dict
from planner.scenarios.comparison import compare


def sites():
    # three sites of 1, 2 and 1 ha, no existing floor area, ranks 1..3
    return pd.DataFrame({"site_id": ["S1", "S2", "S3"], "status": "ok", "rank": [1, 2, 3],
                         "land_area_m2": [10_000.0, 20_000.0, 10_000.0], "floor_area_m2": [0.0, 0.0, 0.0]})


def results():
    a = run(sites(), scenario_from_dict({"name": "top2", "sites": {"top": 2}}))
    b = run(sites(), scenario_from_dict({"name": "up_all", "template": "multi_storey"}))
    c = run(sites(), scenario_from_dict({"name": "S3_only", "sites": {"ids": ["S3"]}, "start_year": 2028}))
    return a, b, c


def test_table_absolute_and_relative_differences():
    cmp = compare(results())
    t = cmp.table
    # standard 2.5 on 3 ha = 75,000 m2; multi-storey 3.5 on 4 ha = 140,000 m2; 3.5 x 1 ha... S3 standard = 25,000
    assert t.loc["new_floor_m2", "top2"] == 75_000
    assert t.loc["new_floor_m2", "up_all"] == 140_000
    assert t.loc["new_floor_m2", "S3_only"] == 25_000
    assert t.loc["new_floor_m2", "up_all - top2"] == 65_000
    assert t.loc["new_floor_m2", "up_all vs top2 %"] == pytest.approx(65_000 / 75_000 * 100)
    assert t.loc["new_floor_m2", "S3_only vs top2 %"] == pytest.approx(-66.6667, rel=1e-4)
    assert t.loc["n_sites", "up_all - top2"] == 1
    # zero baseline -> relative difference undefined, not inf
    assert np.isnan(t.loc["existing_floor_m2", "up_all vs top2 %"])
    assert list(t.columns[:3]) == ["top2", "up_all", "S3_only"]
    # a later delivery year is a number of years later, not a percentage of the year (2031 -> 2050 was "+0.9%")
    assert t.loc["last_delivery", "S3_only - top2"] == t.loc["last_delivery", "S3_only"] - t.loc["last_delivery", "top2"]
    assert t.loc["last_delivery", "S3_only - top2"] != 0
    assert np.isnan(t.loc["last_delivery", "S3_only vs top2 %"]) and np.isnan(t.loc["first_delivery", "S3_only vs top2 %"])


def test_membership_and_only_in():
    cmp = compare(results())
    m = cmp.membership
    assert m.loc["S3", "top2"] == False and m.loc["S3", "up_all"] == True  # noqa: E712
    assert cmp.only_in("up_all") == ["S3"]
    assert cmp.only_in("top2", "S3_only") == ["S1", "S2"]
    assert m.loc["S3", "start_year_S3_only"] == 2028
    assert m.loc["S1", "template_up_all"] == "multi_storey"
    d = cmp.differences().set_index("scenario")
    assert d.loc["S3_only"].tolist() == [2, 1, 0]
    assert d.loc["up_all"].tolist() == [0, 1, 2]


def test_curves_are_tidy_and_sum_to_totals():
    a, b, c = results()
    cmp = compare([a, b, c])
    cv = cmp.curves
    assert list(cv.columns) == ["year", "scenario", "metric", "value"]
    inv = cv[(cv["scenario"] == "up_all") & (cv["metric"] == "investment_cny")]["value"].sum()
    assert inv == pytest.approx(b.totals["investment_cny"])
    assert set(cv["scenario"]) == {"top2", "up_all", "S3_only"}


def test_errors():
    a, _, _ = results()
    with pytest.raises(DataError, match="distinct"):
        compare([a, a])
    with pytest.raises(DataError, match="at least one"):
        compare([])
    assert compare([a]).table.shape[1] == 1
