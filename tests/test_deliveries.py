"""Real deliveries from other offices (issue 15): workspaces in any CRS, ids and codes as delivered,
field-level problems that keep the parcel, data that do not overlap, policies on source codes.

Every case is a small file made here: a tax-lot layer in US feet with 10-digit ids stored as DBF
doubles, year-built sentinels and land-use codes; a second city far away.
"""

from __future__ import annotations

import struct
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

from planner.cli import main
from planner.errors import ConfigError, StoreError
from planner.ingest import Mapping, ingest, read_survey
from planner.io.fingerprint import workspace_fingerprint
from planner.io.store import GpkgStore, create_workspace, open_store

FT = 0.3048006096012192  # US survey foot in metres
X_FT, Y_FT = 985_000.0, 195_000.0  # Brooklyn, EPSG:2263


def tax_lots(n: int = 6, x0: float = X_FT, y0: float = Y_FT, side_ft: float = 100.0) -> gpd.GeoDataFrame:
    """``n`` square lots of ``side_ft`` feet in EPSG:2263, 10-digit ids as floats, year-built sentinels."""
    i = np.arange(n)
    geoms = shapely.box(x0 + i * side_ft, y0, x0 + (i + 1) * side_ft, y0 + side_ft)
    return gpd.GeoDataFrame({
        "BBL": 3029130038.0 + i,  # a double, as in the source's DBF
        "LandUse": np.array([6.0, 6.0, 6.0, 5.0, 11.0, 6.0])[:n],
        "LotArea": np.full(n, side_ft * side_ft),
        "BldgArea": np.array([5000.0, 9970.0, 20000.0, 10000.0, 0.0, -10.0])[:n],
        "YearBuilt": np.array([1931.0, 1800.0, 1899.0, 1999.0, 0.0, 2010.0])[:n],
        "OwnerName": [" acme mfg ", "B CORP", "C LLC", "D INC", "CITY OF NY", "E CO"][:n],
    }, geometry=geoms, crs="EPSG:2263")


MAPPING = {
    "fields": {"parcel_id": {"source": "BBL", "as": "integer"}, "land_area_m2": "LotArea",
               "floor_area_m2": "BldgArea", "year_built": "YearBuilt",
               "land_use_code": {"source": "LandUse", "as": "integer", "pad": 2},
               "owner": {"source": "OwnerName", "case": "upper"}},
    "units": {"land_area_m2": "ft2", "floor_area_m2": "ft2"},
    "land_use": {"scheme": "none", "classes": {"industrial": ["06"], "commercial": ["05"], "other": ["11"]}},
    "options": {"zero_as_missing": ["year_built"]},
}


def write_shp(gdf: gpd.GeoDataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    gdf.to_file(path, engine="pyogrio")
    return path


def dbf_fields(dbf: Path) -> dict[str, tuple[str, int, int]]:
    """``name -> (type, width, decimals)`` from a .dbf header."""
    raw = dbf.read_bytes()
    hlen = struct.unpack("<H", raw[8:10])[0]
    out = {}
    for off in range(32, hlen - 1, 32):
        d = raw[off:off + 32]
        if d[0] == 0x0D:
            break
        out[d[:11].split(b"\0")[0].decode()] = (chr(d[11]), d[16], d[17])
    return out


def cli(argv, capsys) -> tuple[int, str, str]:
    rc = main([str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


# -- workspaces ------------------------------------------------------------------------------
def test_workspace_init_with_a_crs_and_info(tmp_path, capsys):
    ws = tmp_path / "ny.gpkg"
    rc, out, _ = cli(["workspace", "init", ws, "--crs", "EPSG:32618"], capsys)
    assert rc == 0 and "EPSG:32618 (WGS 84 / UTM zone 18N)" in out
    assert GpkgStore(ws).crs.to_epsg() == 32618 and not GpkgStore(ws).layers().shape[0]
    before = workspace_fingerprint(ws)
    rc, _, err = cli(["workspace", "init", ws, "--crs", "EPSG:32618"], capsys)
    assert rc == 2 and "already exists" in err and workspace_fingerprint(ws) == before
    for argv in (["workspace", "info", ws], ["info", "-w", ws]):
        rc, out, _ = cli(argv, capsys)
        assert rc == 0 and "WGS 84 / UTM zone 18N" in out


@pytest.mark.parametrize(("crs", "needle", "proposal"), [
    ("EPSG:2263", "US survey foot, not metres", "--crs EPSG:32618"),   # NY Long Island, feet
    ("EPSG:2229", "US survey foot, not metres", "--crs EPSG:32611"),   # California zone 5, feet
    ("EPSG:4326", "not projected", "--from DATA"),
])
def test_workspace_in_feet_or_degrees_is_refused_with_a_metric_proposal(tmp_path, capsys, crs, needle, proposal):
    ws = tmp_path / "w.gpkg"
    rc, _, err = cli(["workspace", "init", ws, "--crs", crs], capsys)
    assert rc == 2 and needle in err and proposal in err and "Traceback" not in err
    assert not ws.exists()
    with pytest.raises(StoreError, match="not metres|not projected"):
        create_workspace(ws, crs)
    with pytest.raises(StoreError, match="not metres|not projected"):
        open_store(ws, create=True, crs=crs)


def test_workspace_crs_proposed_from_the_data(tmp_path, capsys):
    """Brooklyn lots in feet -> UTM 18N; a Jinjiang layer -> CGCS2000 GK CM 120E; --dry-run creates nothing."""
    lots = write_shp(tax_lots(), tmp_path / "lots" / "lots.shp")
    rc, out, _ = cli(["workspace", "init", tmp_path / "a.gpkg", "--from", lots, "--dry-run"], capsys)
    assert rc == 0 and "would create" in out and "EPSG:32618" in out and not (tmp_path / "a.gpkg").exists()
    assert "not metres: ingest reprojects" in out  # the data's own CRS is in feet: said, and reprojected at ingest
    rc, out, _ = cli(["workspace", "init", tmp_path / "a.gpkg", "--from", lots], capsys)
    assert rc == 0 and GpkgStore(tmp_path / "a.gpkg").crs.to_epsg() == 32618
    jj = gpd.GeoDataFrame({"ZDDM": ["Z1"]}, geometry=[shapely.box(118.55, 24.78, 118.551, 24.781)], crs="EPSG:4490")
    jj.to_file(tmp_path / "jj.gpkg")
    rc, out, _ = cli(["workspace", "init", tmp_path / "jj_ws.gpkg", "--from", tmp_path / "jj.gpkg"], capsys)
    assert rc == 0 and GpkgStore(tmp_path / "jj_ws.gpkg").crs.to_epsg() == 4549
    assert "Gauss-Kr" in out


def test_data_outside_the_workspace_crs_warn_with_the_area_error(tmp_path, capsys):
    """Brooklyn into a Chinese GK workspace (what copying the sample workspace did): areas 3.5% too large."""
    lots = write_shp(tax_lots(), tmp_path / "lots" / "lots.shp")
    cn = GpkgStore(tmp_path / "cn.gpkg", crs="EPSG:4549", create=True)
    _gdf, rep = read_survey(lots, mapping=MAPPING, target_crs=cn.crs)
    (warning,) = rep.warnings
    assert warning.startswith("WARNING") and "outside the area of use" in warning and "--crs EPSG:32618" in warning
    # hand check: PROJ's areal scale factor of EPSG:4549 at the lots (about 1.035)
    lon, lat = pyproj.Transformer.from_crs("EPSG:2263", "EPSG:4326", always_xy=True).transform(X_FT, Y_FT)
    scale = pyproj.Proj("EPSG:4549").get_factors(lon, lat).areal_scale
    got = float(warning.split("come out ")[1].split("%")[0]) / 100
    assert got == pytest.approx(scale - 1, abs=2e-4) and 0.034 < got < 0.036
    assert f"面积偏大 {got:.2%}" in rep.warnings_zh[0]
    # the same data in UTM 18N: no warning, and the area is the true one
    gdf, rep = read_survey(lots, mapping=MAPPING, target_crs="EPSG:32618")
    assert rep.warnings == [] and shapely.area(gdf.geometry.values[0]) == pytest.approx(100 * 100 * FT * FT, rel=1e-3)
    rc, _out, err = cli(["workspace", "init", tmp_path / "x.gpkg", "--crs", "EPSG:4549", "--from", lots], capsys)
    assert rc == 0 and f"{got:.2%} too large" in err


def test_ingest_dry_run_needs_no_workspace(tmp_path, capsys):
    lots = write_shp(tax_lots(), tmp_path / "lots" / "lots.shp")
    mp = tmp_path / "m.toml"
    mp.write_text(_toml(MAPPING), encoding="utf-8")
    rc, out, _ = cli(["ingest", lots, "--mapping", mp, "--dry-run"], capsys)
    assert rc == 0 and "(dry run)" in out and "no workspace: checked in EPSG:32618" in out
    rc, out, _ = cli(["ingest", lots, "--mapping", mp, "-w", tmp_path / "none.gpkg", "--dry-run"], capsys)
    assert rc == 0 and not (tmp_path / "none.gpkg").exists()
    rc, _, err = cli(["ingest", lots, "--mapping", mp], capsys)
    assert rc == 2 and "--workspace" in err


# -- ids and codes as delivered ---------------------------------------------------------------
def test_float_ids_round_trip_byte_for_byte(tmp_path):
    """A DBF double 3029130038 is stored as "3029130038" (with or without a format), not "3029130038.0"."""
    lots = write_shp(tax_lots(), tmp_path / "lots" / "lots.shp")
    typ, _width, decimals = dbf_fields(lots.with_suffix(".dbf"))["BBL"]
    assert typ == "N" and decimals > 0  # really a double in the DBF
    store = GpkgStore(tmp_path / "ny.gpkg", crs="EPSG:32618", create=True)
    ingest(lots, store, mapping=MAPPING)
    p = store.read_parcels()
    assert p["parcel_id"].tolist() == [str(3029130038 + i) for i in range(6)]
    assert p["land_use_code"].tolist() == ["06", "06", "06", "05", "11", "06"]
    assert p["land_use"].tolist() == ["industrial"] * 3 + ["commercial", "other", "industrial"]
    assert p["owner"].iloc[0] == "ACME MFG"  # trimmed and upper-cased
    # no format: the shortest exact form, still no ".0"
    gdf, _ = read_survey(lots, mapping={"fields": {"parcel_id": "BBL"}}, target_crs="EPSG:32618")
    assert gdf["parcel_id"].iloc[0] == "3029130038"


def test_integer_format_refuses_non_integral_values(tmp_path):
    lots = tax_lots()
    lots["BBL"] = [3029130038.0, 3029130039.5, 3029130040.0, 3029130041.0, 3029130042.0, 9.1e15]
    src = write_shp(lots, tmp_path / "lots" / "lots.shp")
    gdf, rep = read_survey(src, mapping=MAPPING, target_crs="EPSG:32618")
    bad = {(p.row, p.code, p.action) for p in rep.problems if p.code == "not_integer"}
    assert bad == {(2, "not_integer", "rejected"), (6, "not_integer", "rejected")}  # an id: its row goes
    assert "3029130039" not in set(gdf["parcel_id"]) and len(gdf) == 4
    # without a format, a floating-point id beyond 2^53 cannot be exact: rejected too
    _, rep = read_survey(src, mapping={"fields": {"parcel_id": "BBL"}, "checks": {"max_rejected_share": 1}},
                         target_crs="EPSG:32618")
    assert [p.row for p in rep.problems if p.code == "not_integer"] == [6]
    # a code that is not a whole number is nulled (the parcel stays)
    lots = tax_lots()
    lots["LandUse"] = [6.0, 6.5, 6.0, 5.0, 11.0, 6.0]
    gdf, rep = read_survey(write_shp(lots, tmp_path / "b" / "b.shp"), mapping=MAPPING, target_crs="EPSG:32618")
    assert len(gdf) == 6 and pd.isna(gdf["land_use_code"].iloc[1])
    assert [(p.row, p.action) for p in rep.problems if p.code == "not_integer"] == [(2, "nulled")]


def test_code_lists_and_mapping_errors():
    m = Mapping.from_dict({"land_use": {"classes": {"industrial": ["06", "07"], "05": "commercial"}}})
    assert m.land_use_classes == {"06": "industrial", "07": "industrial", "05": "commercial"}
    for bad, needle in [({"land_use": {"classes": {"factory": ["06"]}}}, "is not a class"),
                        ({"land_use": {"classes": {"industrial": ["06"], "commercial": ["06"]}}}, "listed under"),
                        ({"fields": {"parcel_id": {"source": "BBL", "as": "float"}}}, "use 'text' or 'integer'"),
                        ({"fields": {"parcel_id": {"source": "BBL", "pad": -1}}}, "pad"),
                        ({"fields": {"parcel_id": {"src": "BBL"}}}, "must be a source field name or a table"),
                        ({"checks": {"bad_geometry": "null"}}, "cannot be kept"),
                        ({"checks": {"fields": {"colour": "null"}}}, "not canonical")]:
        with pytest.raises(ConfigError, match=needle):
            Mapping.from_dict(bad)


# -- field-level problems keep the parcel -------------------------------------------------------
def test_sentinel_years_and_negative_areas_null_the_field_not_the_parcel(tmp_path):
    src = write_shp(tax_lots(), tmp_path / "lots" / "lots.shp")
    gdf, rep = read_survey(src, mapping=MAPPING, target_crs="EPSG:32618")
    assert rep.n_rejected == 0 and len(gdf) == 6  # the fabric stays whole
    p = gdf.set_index("parcel_id")
    assert np.isnan(p.loc["3029130039", "year_built"]) and np.isnan(p.loc["3029130040", "year_built"])
    assert p.loc["3029130038", "year_built"] == 1931
    assert np.isnan(p.loc["3029130042", "year_built"])  # 0 = unknown (zero_as_missing): not a problem
    assert np.isnan(p.loc["3029130043", "floor_area_m2"])  # -10 ft²: nulled
    assert p.loc["3029130043", "land_area_m2"] == pytest.approx(10_000 * 0.09290304)
    nulled = {(q.row, q.field) for q in rep.problems if q.action == "nulled"}
    assert nulled == {(2, "year_built"), (3, "year_built"), (6, "floor_area_m2")}
    assert {q.value for q in rep.problems if q.field == "year_built"} == {"1800.0", "1899.0"}
    assert p.loc["3029130043", "ingest_flags"] == "negative:floor_area_m2"
    assert p.loc["3029130039", "ingest_flags"] == "impossible:year_built"
    assert "nulled" in rep.to_text()
    # per check, per field: reject sentinel years, keep other impossible values nulled
    gdf, rep = read_survey(src, mapping={**MAPPING, "checks": {"fields": {"year_built": "reject"}}},
                           target_crs="EPSG:32618")
    assert sorted(gdf["parcel_id"]) == ["3029130038", "3029130041", "3029130042", "3029130043"]
    assert np.isnan(gdf.set_index("parcel_id").loc["3029130043", "floor_area_m2"])
    # flag only, with an earlier bound: 1800 is kept as it is
    gdf, rep = read_survey(src, mapping={**MAPPING, "checks": {"impossible": "flag", "year_min": 1700}},
                           target_crs="EPSG:32618")
    assert gdf["year_built"].iloc[1] == 1800 and pd.isna(gdf["ingest_flags"].iloc[1])
    assert gdf["year_built"].iloc[2] == 1899


# -- auto mode and data that do not overlap -------------------------------------------------------
def test_auto_refuses_data_that_do_not_overlap_and_names_the_choices(tmp_path, capsys):
    store = GpkgStore(tmp_path / "ws.gpkg", crs="EPSG:32618", create=True)
    ingest(write_shp(tax_lots(), tmp_path / "a" / "a.shp"), store, mapping=MAPPING)
    far = write_shp(tax_lots(x0=X_FT + 200_000), tmp_path / "far" / "far.shp")  # 61 km east: another place
    mp = tmp_path / "m.toml"
    mp.write_text(_toml(MAPPING), encoding="utf-8")
    before = workspace_fingerprint(store.path)
    rc, _, err = cli(["ingest", far, "-w", store.path, "--mapping", mp], capsys)
    assert rc == 2 and "Traceback" not in err
    assert "none of the 6 parcels lies on or within 1000 m of the current survey" in err
    assert "--mode replace" in err and "planner workspace init NEW.gpkg" in err and "--mode update" in err
    assert workspace_fingerprint(store.path) == before
    # a partial update next to the survey still merges
    near = tax_lots(2, x0=X_FT + 600 + 1000)  # 300 m beyond the first survey's east edge
    near["BBL"] = [3029139000.0, 3029139001.0]
    rc, out, _ = cli(["ingest", write_shp(near, tmp_path / "n" / "n.shp"), "-w", store.path, "--mapping", mp], capsys)
    assert rc == 0 and "mode auto -> update" in out and len(store.read_parcels()) == 8
    # replacing on purpose still works
    rc, out, _ = cli(["ingest", far, "-w", store.path, "--mapping", mp, "--mode", "replace"], capsys)
    assert rc == 0 and len(store.read_parcels()) == 6


# -- policies on source codes; reasons that read true ---------------------------------------------
def test_policy_selects_by_source_codes_and_reasons_print_true_comparisons(tmp_path):
    from planner.classify import classify
    from planner.classify.policy import default_policy, from_dict, policy_hash, policy_to_dict

    g = gpd.GeoDataFrame({
        "parcel_id": ["a", "b", "c", "d"], "land_use": [None, "industrial", "commercial", "commercial"],
        "land_use_code": ["06", "100101", "05", "0601"],
        "floor_area_m2": [2492.5, 1250.0, 1000.0, 1000.0], "tax_cny": [187_499.0, 10.0, 1.0, 1.0]},
        geometry=[shapely.box(0, 0, 50, 50)] * 4, crs="EPSG:32618")
    d = policy_to_dict(default_policy())
    d["land_use_codes"] = ["06"]
    d["criteria"]["utilization"]["rules"][0]["overrides"] = [{"land_use_code": ["0601"], "threshold": 0.3}]
    pol = from_dict(d)
    out = classify(g, pol).set_index("parcel_id")
    assert out["low_utilization"].tolist() == ["low", "low", "n/a", "ok"]  # a: code 06, d: 0601 at 0.3
    reason = out.loc["a", "reason_en"]
    assert "plot ratio 0.997 < 1.0" in reason and "tax per mu 49999.7 < 50000" in reason
    assert "1.0 < 1.0" not in reason and "50000 < 50000" not in reason
    assert "容积率 0.997 < 1.0" in out.loc["a", "reason_zh"]
    assert out.loc["b", "reason_en"].startswith("plot ratio 0.5 < 1.0")
    # an older policy without the new keys keeps its hash
    assert "land_use_codes" not in policy_to_dict(default_policy())
    assert policy_hash(from_dict(policy_to_dict(default_policy()))) == policy_hash(default_policy())


def _toml(d: dict) -> str:
    import tomli_w

    return tomli_w.dumps(d)


def test_crs_helpers_use_the_epsg_database():
    from planner.crs import propose_workspace_crs

    assert propose_workspace_crs(118.45, 24.8)[0].to_epsg() == 4548  # west of the 118.5E zone line
    assert propose_workspace_crs(2.35, 48.85)[0].to_epsg() == 32631  # Paris
    assert propose_workspace_crs(151.2, -33.9)[0].to_epsg() == 32756  # Sydney, southern hemisphere
    assert pyproj.CRS("EPSG:4549").area_of_use.west == 118.5
