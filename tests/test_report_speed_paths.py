"""The comparison reports' fast paths write what the slow ones wrote: the workbook's cells and curves, the map's
groups, every site on a city-wide map. A 1M-parcel city's comparison (86k sites, curves to the year 3223) spent
seconds converting values one by one (benchmarks/bench_compare_reports.py)."""

from __future__ import annotations

import io
import time
import zipfile

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from openpyxl import load_workbook

from planner.report import charts as C
from planner.report import excel as X
from planner.scenarios import run, scenario_from_dict
from planner.scenarios.comparison import Comparison, compare


def _grid(n: int, size: float = 100.0, gap: float = 50.0) -> gpd.GeoDataFrame:
    """``n`` sites of ``size`` m in a row of ``gap`` m gaps, ranks 1..n, no buildings."""
    x = np.arange(n) * (size + gap)
    return gpd.GeoDataFrame({"site_id": [f"S{i:03d}" for i in range(n)], "status": "ok", "rank": np.arange(1, n + 1),
                             "land_area_m2": size * size, "floor_area_m2": 0.0},
                            geometry=shapely.box(x, 0, x + size, size), crs="EPSG:4549")


def _long_comparison() -> Comparison:
    """Three scenarios, one paced at a site a year for 40 years (the curves run long), groups of 1, 2 and 3."""
    g = _grid(40)
    return compare([run(g, scenario_from_dict({"name": "top10", "sites": {"top": 10}})),
                    run(g, scenario_from_dict({"name": "=slow", "sites_per_year": 1, "template": "multi_storey"})),
                    run(g, scenario_from_dict({"name": "odd", "sites": {"ids": [f"S{i:03d}" for i in range(1, 40, 2)]}}))])


def _groups_row_by_row(cmp) -> pd.Series:
    """What :meth:`Comparison.site_groups` returned before, row by row (the reference)."""
    m = cmp.membership[cmp.names].astype(bool)
    every = "both" if len(cmp.names) == 2 else "all"
    cols = np.array(cmp.names, dtype=object)
    return pd.Series([every if row.all() else " + ".join(cols[row]) for row in m.to_numpy()], index=m.index,
                     name="group", dtype=object)


class _Membership:
    """A stand-in with what ``site_groups`` reads: names and a membership table."""

    def __init__(self, names, m):
        self.names, self.membership = list(names), m

    site_groups = Comparison.site_groups


@pytest.mark.parametrize("k", [2, 3, 5, 63])
@pytest.mark.parametrize("n", [0, 1, 9, 500])
def test_site_groups_name_every_row_as_row_by_row(k, n):
    rng = np.random.default_rng(k * 1000 + n)
    names = [f"s{i}" for i in range(k)]
    m = pd.DataFrame(rng.random((n, k)) < 0.5, columns=names, index=[f"S{i}" for i in range(n)])
    c = _Membership(names, m)
    pd.testing.assert_series_equal(c.site_groups(), _groups_row_by_row(c))
    cmp = _long_comparison()
    pd.testing.assert_series_equal(cmp.site_groups(), _groups_row_by_row(cmp))
    assert set(cmp.site_groups()) >= {"all", "=slow", "=slow + odd"}


def test_site_groups_are_named_once_per_kind_of_row_not_per_site():
    """86k sites were named one by one (0.2 s of every comparison report); now each distinct row once: 200k sites
    in a fraction of the time of the row-by-row reference."""
    n, names = 200_000, ["a", "b", "c"]
    m = pd.DataFrame(np.random.default_rng(1).random((n, 3)) < 0.5, columns=names, index=np.arange(n).astype(str))
    c = _Membership(names, m)

    def best(f) -> float:
        out = []
        for _ in range(3):
            t = time.process_time()
            f()
            out.append(time.process_time() - t)
        return min(out)

    assert best(c.site_groups) < best(lambda: _groups_row_by_row(c)) / 4


def test_excel_cells_are_written_by_type_each_text_neutralized_once(monkeypatch):
    """One column of every kind of value: text (formula-like text quoted), numbers, NaN/None/NA empty, booleans,
    other objects as their text; each distinct text goes through neutralize once (86k rows of "是"/"否")."""
    seen = []
    real = X.neutralize
    monkeypatch.setattr(X, "neutralize", lambda v: seen.append(v) or real(v))

    class Sheet:
        def __init__(self):
            self.cells = {}

        def write_number(self, r, c, v):
            assert type(v) is float
            self.cells[r] = ("n", v)

        def write_string(self, r, c, v):
            self.cells[r] = ("s", v)

        def write_boolean(self, r, c, v):
            assert type(v) is bool
            self.cells[r] = ("b", v)

    ws = Sheet()
    values = ["是", "否", "是", "=1+1", 3, 2.5, float("nan"), None, pd.NA, True, np.bool_(False), np.int64(7),
              np.float64(np.nan), np.float32(1.5), pd.Timestamp("2026-01-01"), "否", "=1+1"]
    X._write_cells(ws, 0, values)
    assert ws.cells == {1: ("s", "是"), 2: ("s", "否"), 3: ("s", "是"), 4: ("s", "'=1+1"), 5: ("n", 3.0),
                        6: ("n", 2.5), 10: ("b", True), 11: ("b", False), 12: ("n", 7.0), 14: ("n", 1.5),
                        15: ("s", "2026-01-01 00:00:00"), 16: ("s", "否"), 17: ("s", "'=1+1")}
    assert sorted(seen) == sorted(["是", "否", "=1+1", "2026-01-01 00:00:00"])  # once per distinct text


def test_excel_curves_scaled_per_figure_not_per_value(tmp_path, monkeypatch):
    """The curves sheet holds each value in the workbook's units as value-by-value scaling gave it, from one
    scaling per figure (a curve to the year 3223 took 14k calls, 3.4 s)."""
    cmp = _long_comparison()
    calls = []
    real = X._scale
    monkeypatch.setattr(X, "_scale", lambda *a, **k: calls.append(a[1]) or real(*a, **k))
    for lang in ("zh", "en"):
        calls.clear()
        wb = load_workbook(X.compare_to_excel(cmp, tmp_path / f"c_{lang}.xlsx", lang=lang))
        curve_calls = [k for k in calls if k in set(cmp.curves["metric"])]
        assert len(curve_calls) <= cmp.curves["metric"].nunique() + len(cmp.table)
        ws = wb[X.sheet_name("Curves 年度曲线", lang)]
        rows = list(ws.iter_rows(values_only=True))
        got = pd.DataFrame(rows[1:], columns=rows[0]).set_index(rows[0][0])
        c = cmp.curves
        want = c.assign(value=[float(real([v], m, lang)[0]) for v, m in zip(c["value"], c["metric"], strict=True)])
        wide = want.pivot_table(index="year", columns=["metric", "scenario"], values="value")
        assert got.shape == wide.shape and len(wide) > 40
        as_written = np.vectorize(lambda v: float(f"{v:.16G}"))  # the 16 digits xlsxwriter writes
        np.testing.assert_array_equal(got.to_numpy(float), as_written(wide.to_numpy(float)))
        sites = wb[X.sheet_name("Sites 地块", lang)]
        assert sites.max_row == len(cmp.membership) + 1
        assert sites.cell(2, 1).value == "S000" and sites.cell(2, 2).value in ("是", "Yes")
        assert any(r[0].value == "S001" for r in sites.iter_rows(min_row=2))


def test_excel_scale_by_matches_scale_value_by_value():
    keys = ["delivered_m2", "year", "cum_investment_cny", "delivered_m2", "jobs_new", "cum_investment_cny"]
    vals = [20_000.0, 2026.9999999999, 3.3e8, np.nan, 12.0, -1.5e7]
    for lang in ("zh", "en"):
        want = [float(X._scale([v], k, lang)[0]) for v, k in zip(vals, keys, strict=True)]
        np.testing.assert_array_equal(X._scale_by(vals, keys, lang), np.array(want))


def _city_map(geoms, groups) -> np.ndarray:
    """The membership-style map (city-wide frame) of ``geoms`` as RGB pixels."""
    from PIL import Image

    g = gpd.GeoDataFrame({"site_id": [f"S{i}" for i in range(len(geoms))], "group": groups}, geometry=geoms,
                         crs="EPSG:4549")
    ch = C.category_map(g, "group", {"a": "#ff0000", "b": "#0000ff"}, {"a": "A", "b": "B"}, "en", title="t",
                        annotate=False)
    return np.asarray(Image.open(io.BytesIO(ch.png)).convert("RGB")).astype(int)


def test_a_city_map_draws_a_site_smaller_than_a_pixel_and_keeps_holes_open():
    """On a 100 km frame a pixel is about 150 m: a 60 m site still shows (no site vanishes from a city map), and
    a hole of 5 km in a 20 km site stays open (the background shows through it)."""
    big = shapely.Polygon([(0, 0), (20_000, 0), (20_000, 20_000), (0, 20_000)],
                          holes=[[(7_500, 7_500), (12_500, 7_500), (12_500, 12_500), (7_500, 12_500)]])
    corner = shapely.box(99_000, 99_000, 100_000, 100_000)  # sets the frame to 100 km
    tiny = shapely.box(60_000, 60_000, 60_060, 60_060)
    with_tiny = _city_map([big, corner, tiny], ["a", "a", "b"])
    without = _city_map([big, corner, shapely.box(99_000, 99_000, 99_001, 99_001)], ["a", "a", "b"])
    assert with_tiny.shape == without.shape
    differs = np.abs(with_tiny - without).max(axis=2) > 40
    assert differs.sum() >= 1  # the tiny site is drawn
    img = with_tiny
    red = (img[..., 0] > 200) & (img[..., 1] < 60) & (img[..., 2] < 60)
    rows = np.flatnonzero(red.sum(axis=1) > 40)  # the big site: the only red 40 pixels wide (not the legend's
    cols = np.flatnonzero(red.sum(axis=0) > 40)  # swatch, not the corner site)
    box = img[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    assert 0.1 < len(cols) / red.shape[1] < 0.25 and 0.7 < len(rows) / len(cols) < 1.4  # 20 km square of ~100 km
    h, w = box.shape[:2]
    centre = box[h // 2 - 2:h // 2 + 3, w // 2 - 2:w // 2 + 3]
    assert (centre > 230).all()  # the hole: white, not red


def test_membership_sheet_and_map_groups_survive_the_fast_paths(tmp_path):
    cmp = _long_comparison()
    p = X.compare_to_excel(cmp, tmp_path / "c.xlsx", lang="en")
    with zipfile.ZipFile(p) as z:
        assert "xl/worksheets/sheet3.xml" in z.namelist()
    g = cmp.site_geometries()
    assert g["group"].tolist() == _groups_row_by_row(cmp).reindex(g["site_id"]).tolist()
    assert C.membership_map(cmp, "en") is not None
