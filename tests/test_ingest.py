"""Survey ingest: formats, encodings, CRS, field mapping and units, checks, publish/diff, bad inputs.

Every bad input of the corpus (tests/data/bad/README.md) is built here into
``tmp_path`` and must give its specific message, exit code 2 through the CLI
and leave the workspace file byte-identical.
"""

from __future__ import annotations

import json
import os
import re
import stat
import warnings
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from planner import schema
from planner.cli import build_parser, main
from planner.errors import ConfigError, IngestError, PlannerError, message_in
from planner.ingest import Mapping, diff_parcels, ingest, merge_update, read_survey
from planner.io.fingerprint import workspace_fingerprint
from planner.io.readers import ReadLimits, read_source, safe_extract
from planner.io.store import GpkgStore, catalogue_meta, open_store, sha256_file
from planner.io.writers import write_report
from tests.conftest import box_grid

ROOT = Path(__file__).resolve().parents[1]
X0, Y0 = 500_000.0, 2_740_000.0
ESRI_GK120 = (
    'PROJCS["CGCS2000_3_Degree_GK_CM_120E",GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",'
    'DATUM["D_China_2000",SPHEROID["CGCS2000",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],'
    'UNIT["Degree",0.0174532925199433]],PROJECTION["Gauss_Kruger"],PARAMETER["False_Easting",500000.0],'
    'PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",120.0],PARAMETER["Scale_Factor",1.0],'
    'PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]'
)


# -- helpers -------------------------------------------------------------------
def boxes(n: int, size: float = 50.0, x0: float = X0, y0: float = Y0) -> np.ndarray:
    i = np.arange(n)
    return shapely.box(x0 + i * size, y0, x0 + (i + 1) * size, y0 + size)


def cn_layer(n: int = 3, **cols) -> gpd.GeoDataFrame:
    """Chinese cadastral fields on ``n`` 50 m squares (2,500 m² each), ids Z1..Zn."""
    data = {"ZDDM": [f"Z{i + 1}" for i in range(n)], "ZDMJ": [2500.0] * n, "JZMJ": [2500.0] * n,
            "QLR": ["晋江恒安实业有限公司"] * n, "TDYT": ["100101"] * n}
    data.update(cols)
    return gpd.GeoDataFrame(data, geometry=boxes(n), crs="EPSG:4549")


def write_shp(gdf: gpd.GeoDataFrame, path: Path, *, encoding: str = "UTF-8", cpg: bool = True,
              prj: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # no CRS on purpose
        gdf.to_file(path, encoding=encoding, engine="pyogrio")
    if not cpg:
        path.with_suffix(".cpg").unlink(missing_ok=True)
    if prj is not None:
        path.with_suffix(".prj").write_text(prj)
    return path


class _GbkInfo(zipfile.ZipInfo):
    """A zip entry whose name is stored in GBK without the UTF-8 flag (as Windows zip tools do)."""

    def _encodeFilenameFlags(self):
        return self.filename.encode("gbk"), self.flag_bits & ~0x800


def zip_files(zpath: Path, files: dict[str, bytes], *, gbk_names: bool = False) -> Path:
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            info = _GbkInfo(name) if gbk_names else zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return zpath


def shp_bytes(shp: Path, prefix: str = "") -> dict[str, bytes]:
    return {prefix + p.name: p.read_bytes() for p in shp.parent.glob(shp.stem + ".*")}


@pytest.fixture
def ws(store):
    """A new workspace on each backend (GeoPackage, PostGIS)."""
    return store


@pytest.fixture
def ws3(ws, tmp_path):
    """Workspace with one survey version: ids Z1..Z3, 50 m squares."""
    ingest(_gpkg(cn_layer(3), tmp_path / "base.gpkg"), ws, survey_name="base")
    return ws


def _gpkg(gdf, path: Path, layer: str | None = None) -> Path:
    gdf.to_file(path, layer=layer, driver="GPKG")
    return path


def state(store) -> tuple:
    """Everything a rejected load must leave as it was."""
    return (workspace_fingerprint(store), store.layers().to_json(), store.docs().to_json(), store.audit_log().to_json())


def refused(argv: list[str], store, capsys, *needles: str) -> str:
    """Run the CLI, expect exit 2, the message parts, and an unchanged workspace."""
    before = state(store)
    rc = main(["ingest", *argv, "--workspace", store.uri])
    err = capsys.readouterr().err
    assert rc == 2, err
    for n in needles:
        assert n in err, f"{n!r} not in:\n{err}"
    assert state(store) == before
    # the same refusal through the library carries a Chinese message (the app shows it in a Chinese UI);
    # errors in a mapping file (ConfigError, a command-line feature: the app maps fields in a table) stay English
    args = build_parser().parse_args(["ingest", *argv, "--workspace", store.uri])
    with pytest.raises(PlannerError) as caught:
        ingest(args.source, store, mapping=args.mapping, layer=args.layer, crs=args.crs, encoding=args.encoding,
               survey_name=args.survey_name, dry_run=args.dry_run, mode=args.mode)
    if isinstance(caught.value, IngestError):
        zh = message_in(caught.value, "zh")
        assert zh != str(caught.value) and re.search(r"[\u4e00-\u9fff]", zh), zh
    assert state(store) == before
    return err


# -- good inputs -----------------------------------------------------------------
def test_gbk_zip_with_folder_cpg_and_esri_prj(tmp_path, ws, capsys):
    lay = cn_layer(3, RJL=[1.0, 0.5, 2.0])
    lay = lay.drop(columns="JZMJ")
    shp = write_shp(lay.set_crs(None, allow_override=True), tmp_path / "src" / "宗地.shp", encoding="GBK",
                    prj=ESRI_GK120)
    z = zip_files(tmp_path / "更新.zip", {**shp_bytes(shp, "调查/"), "__MACOSX/调查/._宗地.shp": b"junk"},
                  gbk_names=True)
    rc = main(["ingest", str(z), "--workspace", ws.uri, "--survey-name", "2025"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "GBK (.cpg file says GBK)" in out and "EPSG:4549" in out and "3 added" in out
    p = ws.read_parcels()
    assert p["owner"].tolist() == ["晋江恒安实业有限公司"] * 3
    # floor area derived from RJL x ZDMJ: 2500, 1250, 5000
    assert p["floor_area_m2"].tolist() == [2500.0, 1250.0, 5000.0]
    assert p["land_use"].tolist() == ["industrial"] * 3
    meta = ws.layers("survey").iloc[-1]
    assert meta["source_file"] == "更新.zip" and meta["sha256"] == sha256_file(z)
    assert json.loads(meta["meta"])["diff"]["n_added"] == 3


def test_gbk_without_cpg_is_detected(tmp_path):
    shp = write_shp(cn_layer(2), tmp_path / "a.shp", encoding="GBK", cpg=False)
    gdf, rep = read_survey(shp)
    assert rep.encoding == "GB18030" and "not UTF-8" in rep.encoding_note
    assert gdf["owner"].iloc[0] == "晋江恒安实业有限公司"


def test_cpg_that_lies_is_not_trusted(tmp_path):
    shp = write_shp(cn_layer(2), tmp_path / "a.shp", encoding="UTF-8")
    shp.with_suffix(".cpg").write_text("936")  # says GBK, bytes are UTF-8
    raw = read_source(shp)
    assert raw.encoding == "UTF-8" and ".cpg says '936'" in raw.encoding_note
    assert raw.gdf["QLR"].iloc[0] == "晋江恒安实业有限公司"


def test_cpg_naming_an_unknown_encoding_says_so(tmp_path):
    shp = write_shp(cn_layer(2), tmp_path / "a.shp", encoding="UTF-8")
    shp.with_suffix(".cpg").write_text("KLINGON-42")
    raw = read_source(shp)
    assert raw.encoding == "UTF-8" and "'KLINGON-42', which is not an encoding name" in raw.encoding_note
    assert "not valid KLINGON" not in raw.encoding_note


def test_china_admin_encoding_crs_and_refusal(shared_data, ws, capsys):
    shp = shared_data / "china-admin-gcj02" / "泉州市.shp"
    raw = read_source(shp)
    assert raw.encoding == "UTF-8"
    assert "晋江市" in raw.gdf["name"].tolist()
    refused([str(shp)], ws, capsys, "no parcel id field", "candidate fields: adcode", "no CRS",
            "gcj02", "Give it with --crs")
    # as a parcel-like layer with an id mapped and --crs gcj02, Jinjiang is about 649 km² (DOMAIN.md)
    gdf, rep = read_survey(shp, mapping={"fields": {"parcel_id": "adcode"}}, crs="gcj02", target_crs=ws.crs)
    jj = gdf[gdf["parcel_id"] == "350582"]
    assert 600e6 < jj["land_area_m2"].iloc[0] < 720e6
    assert "GCJ-02" in rep.crs_used


def test_mappluto_layout_in_us_feet(tmp_path):
    """A MapPLUTO-like layer in EPSG:2263 (US ft) into a UTM 18N workspace, units converted by hand."""
    ft = 0.3048
    lots = gpd.GeoDataFrame(
        {"BBL": ["1000010010", "1000010020", "3012340001"], "LotArea": [10_000.0, 5_000.0, 40_000.0],
         "BldgArea": [20_000.0, 0.0, 10_000.0], "AssessTot": [1_000_000.0, 50_000.0, 2_000_000.0],
         "LandUse": ["06", "11", "05"], "BuiltFAR": [2.0, 0.0, 0.25], "CommFAR": [5.0, 2.0, 6.5],
         "OwnerName": ["ACME MFG", "CITY OF NY", "ZETA LLC"], "YearBuilt": [1931.0, 0.0, 1999.0],
         "NumFloors": [2.0, 0.0, 1.0], "ZoneDist1": ["M1-1", "M1-1", "C6-4"]},
        geometry=[shapely.box(980_000, 190_000, 980_100, 190_100), shapely.box(980_100, 190_000, 980_150, 190_100),
                  shapely.box(990_000, 180_000, 990_200, 180_200)], crs="EPSG:2263")
    src = _gpkg(lots, tmp_path / "pluto.gpkg")
    store = GpkgStore(tmp_path / "ny.gpkg", crs="EPSG:32618", create=True)
    rep = ingest(src, store, mapping=ROOT / "examples" / "mappluto.toml")
    p = store.read_parcels().set_index("parcel_id")
    assert rep.n_accepted == 3
    assert p.loc["1000010010", "land_area_m2"] == pytest.approx(10_000 * ft * ft)  # 929.03 m²
    assert p.loc["1000010010", "floor_area_m2"] == pytest.approx(20_000 * ft * ft)
    assert shapely.area(p.loc["1000010010", "geometry"]) == pytest.approx(10_000 * ft * ft, rel=1e-3)
    assert p.loc["1000010010", "land_use"] == "industrial" and p.loc["3012340001", "land_use"] == "commercial"
    assert p.loc["1000010020", "land_use"] == "other"  # 11 vacant land
    rate = Mapping.load(ROOT / "examples" / "mappluto.toml").currency["usd"]
    assert p.loc["1000010010", "assessed_value_cny"] == pytest.approx(1_000_000 * rate)
    assert p.loc["1000010010", "floors"] == 2
    assert p.loc["1000010010", "zone_far_max"] == 5.0 and p.loc["3012340001", "zone_use"] == "C6-4"
    assert p.loc["1000010010", "owner"] == "ACME MFG"
    assert np.isnan(p.loc["1000010020", "year_built"])  # YearBuilt 0 = unknown in MapPLUTO
    assert p.loc["3012340001", "year_built"] == 1999
    assert rep.units["assessed_value_cny"] == "USD"


@pytest.mark.parametrize("fmt", ["geojson", "fgb", "csv", "gdbzip", "gpkglayer"])
def test_other_formats(tmp_path, fmt):
    lay = cn_layer(2)
    if fmt == "geojson":
        src = tmp_path / "a.geojson"
        lay.to_crs(4326).to_file(src, driver="GeoJSON")
    elif fmt == "fgb":
        src = tmp_path / "a.fgb"
        lay.to_file(src, driver="FlatGeobuf")
    elif fmt == "csv":
        src = tmp_path / "a.csv"
        df = pd.DataFrame(lay.drop(columns="geometry"))
        df["WKT"] = shapely.to_wkt(lay.geometry.values)
        df.to_csv(src, index=False, encoding="gb18030")
    elif fmt == "gdbzip":
        gdb = tmp_path / "survey.gdb"
        lay.to_file(gdb, driver="OpenFileGDB", layer="parcels")
        src = zip_files(tmp_path / "gdb.zip", {f"survey.gdb/{p.name}": p.read_bytes() for p in gdb.iterdir()})
    else:
        src = _gpkg(lay, tmp_path / "m.gpkg", layer="parcels")
        _gpkg(lay, src, layer="roads")
    kw = {"crs": "EPSG:4549"} if fmt == "csv" else {}
    gdf, rep = read_survey(src, layer="parcels" if fmt == "gpkglayer" else None, **kw)
    assert sorted(gdf["parcel_id"]) == ["Z1", "Z2"]  # FlatGeobuf's spatial index may reorder
    assert gdf["owner"].iloc[1] == "晋江恒安实业有限公司"
    assert shapely.area(gdf.geometry.values) == pytest.approx([2500, 2500], rel=1e-6)


def test_repairs_z_bowtie_and_flags(tmp_path):
    bowtie = shapely.Polygon([(X0, Y0), (X0 + 50, Y0 + 50), (X0 + 50, Y0), (X0, Y0 + 50)])  # 2 triangles, 1250 m²
    z = shapely.force_3d(shapely.box(X0 + 100, Y0, X0 + 150, Y0 + 50), 7.0)
    lay = cn_layer(4)
    lay["geometry"] = [bowtie, z, shapely.box(X0 + 200, Y0, X0 + 250, Y0 + 50),
                       shapely.box(X0 + 300, Y0, X0 + 350, Y0 + 50)]
    lay["ZDMJ"] = [1250.0, 2500.0, 3500.0, 2500.0]  # row 3: 40% off the geometry area
    lay["TDYT"] = ["100101", "100101", "100101", "9999"]
    gdf, rep = read_survey(_gpkg(lay, tmp_path / "a.gpkg"))
    assert rep.n_repaired == 1 and rep.n_accepted == 4
    assert gdf.geometry.iloc[0].geom_type == "MultiPolygon" and gdf.geometry.iloc[0].area == pytest.approx(1250)
    assert not shapely.has_z(gdf.geometry.values).any()
    assert gdf["ingest_flags"].tolist()[2:] == ["area_mismatch", "unknown_code"]
    schema.validate(gdf)  # canonical columns, dtypes, CRS, unique ids, polygons
    assert list(gdf.columns) == [*schema.column_names(), "ingest_flags"]
    msgs = {(p.row, p.code, p.action) for p in rep.problems}
    assert {(1, "repaired_geometry", "repaired"), (3, "area_mismatch", "flagged"),
            (4, "unknown_code", "flagged")} <= msgs
    zh = {p.code: p.message_zh for p in rep.problems}
    assert zh["area_mismatch"] == "调查面积与几何面积相差超过 20%"
    assert zh["unknown_code"] == "用地代码不在国土空间用地用海分类或映射表中"
    assert zh["repaired_geometry"].startswith("无效多边形已自动修复")


def test_arrow_fast_path_matches_the_geodataframe_path(tmp_path):
    """GeoPackage is read as Arrow (no pandas frame of the source); results equal the frame path's."""
    from planner.ingest import conform_layer
    from planner.io.readers import RawLayer

    bowtie = shapely.Polygon([(X0, Y0), (X0 + 50, Y0 + 50), (X0 + 50, Y0), (X0, Y0 + 50)])
    lay = cn_layer(4, ZT=[" 在用 ", "闲置", "", None], RJL=[1.0, 25.0, 1.0, None])
    lay["ZDDM"] = [" Z1", "Z2 ", "Z2", "  "]  # padded, duplicate after trimming, blank
    lay["geometry"] = [bowtie, *boxes(4)[1:]]
    raw = read_source(_gpkg(lay, tmp_path / "a.gpkg"))
    assert raw.table is not None and raw._gdf is None  # the fast path, no frame built
    assert raw.columns == ["ZDDM", "ZDMJ", "JZMJ", "QLR", "TDYT", "ZT", "RJL"]
    assert raw.bounds == pytest.approx((X0, Y0, X0 + 200, Y0 + 50))
    assert raw.geom_valid.tolist() == [False, True, True, True]
    slow = RawLayer(raw.gdf, source=raw.source, dataset=raw.dataset, format=raw.format, layer=raw.layer,
                    crs=raw.crs, notes=raw.notes)
    mp = {"checks": {"max_rejected_share": 1.0}}
    got, rep = conform_layer(raw, mapping=Mapping.from_dict(mp))
    want, rep_want = conform_layer(slow, mapping=Mapping.from_dict(mp))
    pd.testing.assert_frame_equal(pd.DataFrame(got), pd.DataFrame(want))
    assert rep.to_dict() == rep_want.to_dict()
    assert got["parcel_id"].tolist() == ["Z1"] and got["status"].tolist() == ["in_use"]  # " 在用 " trimmed
    assert {(p.row, p.code) for p in rep.problems} >= {(1, "repaired_geometry"), (2, "duplicate_id"),
                                                      (3, "duplicate_id"), (4, "missing_id")}


def test_row_checks_reject_with_row_id_field_value(tmp_path):
    """With value checks set to reject (as before issue 15), every bad row goes, each problem named."""
    lay = cn_layer(8, RJL=[1.0, 25.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], JZMD=[40, 40, 120, 40, 40, 40, 40, 40])
    lay["ZDDM"] = ["A", "B", "C", "D", "D", "F", "G", "H"]
    lay["JZMJ"] = [2500.0, 2500.0, 2500.0, 2500.0, 2500.0, -5.0, 2500.0, 2500.0]
    geoms = np.asarray(lay.geometry.values, dtype=object)
    geoms[6] = shapely.Polygon()  # empty
    geoms[7] = shapely.Point(X0, Y0)  # not a polygon
    lay = lay.set_geometry(list(geoms))
    strict = {"negative": "reject", "impossible": "reject"}
    with pytest.raises(IngestError, match="7 of 8 rows rejected"):
        read_survey(_gpkg(lay, tmp_path / "a.gpkg"), mapping={"checks": strict})
    gdf, rep = read_survey(tmp_path / "a.gpkg", mapping={"checks": {**strict, "max_rejected_share": 1.0}})
    got = {(p.row, p.parcel_id, p.code, p.field) for p in rep.problems if p.action == "rejected"}
    assert got == {(2, "B", "impossible", "plot_ratio"), (3, "C", "impossible", "coverage"),
                   (4, "D", "duplicate_id", "parcel_id"), (5, "D", "duplicate_id", "parcel_id"),
                   (6, "F", "negative", "floor_area_m2"), (7, "G", "bad_geometry", "geometry"),
                   (8, "H", "bad_geometry", "geometry")}
    assert gdf["parcel_id"].tolist() == ["A"]
    text = rep.to_text()
    assert "empty geometry" in text and "not a polygon (Point)" in text and "plot ratio over 20" in text
    assert "1-based" in text
    # every problem also speaks Chinese (the app shows it when its UI does)
    zh = {p.row: p.message_zh for p in rep.problems}
    assert all(re.search(r"[\u4e00-\u9fff]", p.message_zh or "") for p in rep.problems)
    assert zh[2] == "容积率超过 20" and zh[6] == "建筑面积（㎡）为负值" and zh[7] == "几何为空"
    assert zh[8] == "不是面要素（Point）" and zh[4] == "宗地代码重复（列出全部重复记录）"
    # footprint from coverage (percent, detected): 40% x 2500
    assert gdf["footprint_m2"].iloc[0] == pytest.approx(1000.0)
    # by default the value problems null their field and keep the parcel; ids and geometry still reject
    gdf, rep = read_survey(tmp_path / "a.gpkg")
    assert gdf["parcel_id"].tolist() == ["A", "B", "C", "F"] and rep.n_rejected == 4
    nulled = {(p.row, p.field) for p in rep.problems if p.action == "nulled"}
    assert nulled == {(2, "plot_ratio"), (3, "coverage"), (6, "floor_area_m2")}
    g = gdf.set_index("parcel_id")
    assert g.loc["B", "floor_area_m2"] == 2500.0  # surveyed floor area kept: only the plot ratio was bad
    assert np.isnan(g.loc["C", "footprint_m2"])  # derived from the impossible coverage: gone with it
    assert np.isnan(g.loc["F", "floor_area_m2"])
    assert g.loc["F", "ingest_flags"] == "negative:floor_area_m2"


def test_zone_prefix_eastings_fixed(tmp_path):
    lay = cn_layer(2).set_geometry(boxes(2, x0=40_500_000.0))
    gdf, rep = read_survey(_gpkg(lay, tmp_path / "a.gpkg"), target_crs="EPSG:4528")
    assert "carry zone prefix 40" in " ".join(rep.notes) and "EPSG:4528" in rep.crs_used
    assert gdf.total_bounds[0] == pytest.approx(40_500_000.0)


def test_esri_xian80_prj_mapped_to_epsg(tmp_path):
    prj = ESRI_GK120.replace("CGCS2000_3_Degree_GK_CM_120E", "Xian_1980_3_Degree_GK_CM_120E").replace(
        "GCS_China_Geodetic_Coordinate_System_2000", "GCS_Xian_1980").replace("D_China_2000", "D_Xian_1980").replace(
        'SPHEROID["CGCS2000",6378137.0,298.257222101]', 'SPHEROID["Xian_1980",6378140.0,298.257]')
    shp = write_shp(cn_layer(1).set_crs(None, allow_override=True), tmp_path / "x.shp", prj=prj)
    _, rep = read_survey(shp)
    assert "EPSG:2385" in rep.crs_used


def test_update_mode_merges_and_diffs(tmp_path, ws3, capsys):
    # Z2 changes floor area; N1 is new and covers Z3 (merged parcel) -> Z3 removed; Z1 kept
    upd = gpd.GeoDataFrame({"ZDDM": ["Z2", "N1"], "JZMJ": [5000.0, 100.0]},
                           geometry=[shapely.box(X0 + 50, Y0, X0 + 100, Y0 + 50),
                                     shapely.box(X0 + 100, Y0, X0 + 160, Y0 + 50)], crs="EPSG:4549")
    src = _gpkg(upd, tmp_path / "upd.gpkg")
    rc = main(["ingest", str(src), "--workspace", ws3.uri, "--mode", "update",
               "--report", str(tmp_path / "r.json")])
    out = capsys.readouterr().out
    assert rc == 0
    assert "1 added, 1 removed, 1 changed, 1 unchanged" in out and "1 removed because new parcels" in out
    p = ws3.read_parcels()
    assert sorted(p["parcel_id"]) == ["N1", "Z1", "Z2"]
    d = json.loads((tmp_path / "r.json").read_text())["diff"]
    assert d["changed_fields"]["floor_area_m2"] == 1 and d["removed_merged_ids"] == ["Z3"]
    # fields the update does not carry are inherited: same id, else the most-overlapped predecessor
    assert d["changed_fields_by_id"]["Z2"] == ["floor_area_m2"]
    assert p.set_index("parcel_id").loc["N1", "owner"] == "晋江恒安实业有限公司"
    assert len(ws3.surveys()) == 2


def test_update_zip_with_extent_like_survey_update(tmp_path, ws, capsys):
    """Mimics gis_data/survey_update.zip: GBK, .cpg, ESRI prj, folder, 更新范围.shp, 说明.txt, 万元."""
    base = cn_layer(6)
    base["zone_use"] = ["industrial"] * 6
    ingest(_gpkg(base, tmp_path / "base.gpkg"), ws)
    # Z1..Z3 inside the extent: Z1 re-surveyed, Z2+Z3 merged into M1; Z4..Z6 outside and untouched
    upd = gpd.GeoDataFrame({"ZDDM": ["Z1", "M1"], "ZDMJ": [2500.0, 5000.0], "NSE": [12.5, 3.0],
                            "QLR": ["新业主", "合并公司"]},
                           geometry=[shapely.box(X0, Y0, X0 + 50, Y0 + 50), shapely.box(X0 + 50, Y0, X0 + 150, Y0 + 50)])
    ext = gpd.GeoDataFrame({"FWMC": ["更新片区"]}, geometry=[shapely.box(X0 - 1, Y0 - 1, X0 + 151, Y0 + 51)])
    a = write_shp(upd, tmp_path / "u" / "宗地.shp", encoding="GBK", prj=ESRI_GK120)
    b = write_shp(ext, tmp_path / "u" / "更新范围.shp", encoding="GBK", prj=ESRI_GK120)
    z = zip_files(tmp_path / "survey_update.zip", {**shp_bytes(a, "更新2025/"), **shp_bytes(b, "更新2025/"),
                                                   "更新2025/说明.txt": "局部更新".encode("gbk")})
    assert main(["ingest", str(z), "-w", ws.uri]) == 0
    out = capsys.readouterr().out
    assert "update extent 更新范围.shp" in out and "mode auto -> update" in out
    assert "1 added, 2 removed, 1 changed, 3 unchanged" in out
    p = ws.read_parcels().set_index("parcel_id")
    assert sorted(p.index) == ["M1", "Z1", "Z4", "Z5", "Z6"]
    assert p.loc["Z1", "tax_cny"] == pytest.approx(125_000.0)  # NSE in 万元
    assert p.loc["M1", "zone_use"] == "industrial"  # inherited from a merged predecessor


def test_gis_data_survey_update(sample_city_uri, capsys):
    src = ROOT / "gis_data" / "survey_update.zip"
    wsp = sample_city_uri
    n0 = len(open_store(wsp).read_parcels())
    assert main(["ingest", str(src), "--workspace", str(wsp)]) == 0
    out = capsys.readouterr().out
    assert "published as survey version" in out and "update mode" in out
    rep_line = next(line for line in out.splitlines() if line.startswith("diff against"))
    added = int(rep_line.split(": ")[1].split(" added")[0])
    removed = int(rep_line.split(", ")[1].split(" removed")[0])
    assert len(open_store(wsp).read_parcels()) == n0 + added - removed


def test_plan_publish_previews_exactly_what_publish_stores(sample_city_uri):
    """The data manager's preview diff of a partial update is the diff that gets published."""
    import copy

    from planner.ingest import plan_publish, publish, read_survey

    src = ROOT / "gis_data" / "survey_update.zip"
    store = open_store(sample_city_uri)
    before = state(store)
    gdf, rep = read_survey(src, target_crs=store.crs)
    layer, diff, mode = plan_publish(gdf, store.read_parcels(), report=copy.deepcopy(rep))
    assert mode == "update"
    assert diff["n_removed"] < 100 and diff["n_added"] < 100  # not the whole city: a partial update
    assert diff["n_changed"] > 100
    assert state(store) == before  # planning writes nothing
    out = publish(gdf, store, report=rep)
    for k in ("n_added", "n_removed", "n_changed", "n_unchanged"):
        assert out.diff[k] == diff[k]
    assert len(store.read_parcels()) == len(layer)


def test_auto_mode_and_replace_diff(tmp_path, ws3):
    lay = cn_layer(3)
    lay.loc[0, "QLR"] = "新业主"
    rep = ingest(_gpkg(lay, tmp_path / "b.gpkg"), ws3)
    assert rep.mode == "replace" and rep.diff["changed_fields"] == {"owner": 1}
    small = cn_layer(1)
    small["JZMJ"] = [9.0]
    rep = ingest(_gpkg(small, tmp_path / "c.gpkg"), ws3)
    assert rep.mode == "update" and len(ws3.read_parcels()) == 3


def test_dry_run_and_reports(tmp_path, ws3, capsys):
    before = state(ws3)
    rc = main(["ingest", str(_gpkg(cn_layer(2), tmp_path / "d.gpkg")), "-w", ws3.uri, "--dry-run",
               "--report", str(tmp_path / "r.csv")])
    assert rc == 0 and state(ws3) == before
    assert "(dry run)" in capsys.readouterr().out
    text = (tmp_path / "r.csv").read_text(encoding="utf-8-sig")
    assert "# n_accepted: 2" in text and "row,parcel_id,field,value,code,action,message" in text


def test_merge_and_diff_units():
    cur = box_grid(2, 1)
    new = box_grid(1, 1)
    new.loc[0, "floor_area_m2"] = 10.0
    d = diff_parcels(cur, new)
    assert (d["n_added"], d["n_removed"], d["n_changed"], d["changed_fields"]) == (0, 1, 1, {"floor_area_m2": 1})
    merged, gone = merge_update(cur, new)
    assert sorted(merged["parcel_id"]) == ["r0c0", "r0c1"] and gone == []


def test_diff_takes_a_one_part_multipolygon_for_its_polygon_without_topology(monkeypatch):
    """The app holds one-part parcels as polygons, a stored survey as multipolygons: same land, not changed,
    told apart by the exact comparison (a topological one over 1M parcels costs seconds)."""
    cur = box_grid(3, 2)
    cur["geometry"] = [shapely.MultiPolygon([g]) for g in cur.geometry]
    new = box_grid(3, 2)
    new.loc[5, "geometry"] = shapely.box(0, 0, 5, 5)  # one parcel really moved
    seen = []
    equals = shapely.equals
    monkeypatch.setattr(shapely, "equals", lambda a, b, **kw: seen.append(len(a)) or equals(a, b, **kw))
    d = diff_parcels(cur, new)
    assert (d["n_changed"], d["changed_fields"]) == (1, {"geometry": 1})
    assert seen == [1]  # only the moved parcel went to the topological test


def test_mapping_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="area units are"):
        Mapping.from_dict({"units": {"land_area_m2": "acres"}})
    with pytest.raises(ConfigError, match=r"rate in \[currency\]"):
        Mapping.from_dict({"units": {"tax_cny": "USD"}})
    with pytest.raises(ConfigError, match="not a canonical column"):
        Mapping.from_dict({"fields": {"plotratio": "RJL"}})
    with pytest.raises(ConfigError, match=r"\[checks\]: unknown key"):
        Mapping.from_dict({"checks": {"dupes": "reject"}})
    m = Mapping.from_dict({"units": {"output_cny": "万元"}})
    assert m.units["output_cny"] == "万元"


def test_units_mu_and_wanyuan(tmp_path):
    lay = cn_layer(1, **{"年产值（万元）": [120.0]})
    lay["ZDMJ"] = [3.75]  # mu -> 2500 m²
    gdf, rep = read_survey(_gpkg(lay, tmp_path / "a.gpkg"), mapping={"units": {"land_area_m2": "mu"}})
    assert gdf["land_area_m2"].iloc[0] == pytest.approx(2500.0)
    assert gdf["output_cny"].iloc[0] == pytest.approx(1_200_000.0)
    assert rep.units == {"land_area_m2": "mu", "output_cny": "万元"}


# -- the bad-input corpus: refusals (exit 2, workspace unchanged) ---------------------
def test_bad_points_layer(tmp_path, ws3, capsys):
    pts = gpd.GeoDataFrame({"ZDDM": ["a"]}, geometry=[shapely.Point(X0, Y0)], crs="EPSG:4549")
    refused([str(_gpkg(pts, tmp_path / "p.gpkg"))], ws3, capsys, "holds Point features, not parcel polygons")


def test_bad_lines_layer(tmp_path, ws3, capsys):
    ln = gpd.GeoDataFrame({"ZDDM": ["a"]}, geometry=[shapely.LineString([(X0, Y0), (X0 + 1, Y0)])], crs="EPSG:4549")
    refused([str(_gpkg(ln, tmp_path / "l.gpkg"))], ws3, capsys, "LineString features, not parcel polygons")


def test_bad_no_crs(tmp_path, ws3, capsys):
    shp = write_shp(cn_layer(2).set_crs(None, allow_override=True), tmp_path / "n.shp")
    refused([str(shp)], ws3, capsys, "has no CRS", "EPSG:4549", "--crs")
    assert main(["ingest", str(shp), "-w", ws3.uri, "--crs", "EPSG:4549"]) == 0


def test_bad_no_parcel_id(tmp_path, ws3, capsys):
    lay = cn_layer(2).rename(columns={"ZDDM": "ZD_DM_X"})
    refused([str(_gpkg(lay, tmp_path / "a.gpkg"))], ws3, capsys, "no parcel id field", "candidate fields: ZD_DM_X")


@pytest.mark.parametrize(("entry", "needle"), [("../evil.shp", "escapes the target folder"),
                                                ("/etc/evil.shp", "absolute path"),
                                                ("C:/evil.shp", "absolute path")])
def test_bad_zip_paths(tmp_path, ws3, capsys, entry, needle):
    z = zip_files(tmp_path / "e.zip", {entry: b"x"})
    refused([str(z)], ws3, capsys, needle, "nothing was extracted")
    assert not (tmp_path / "evil.shp").exists()


def test_bad_zip_symlink(tmp_path, ws3, capsys):
    z = tmp_path / "s.zip"
    with zipfile.ZipFile(z, "w") as zf:
        info = zipfile.ZipInfo("link.shp")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    refused([str(z)], ws3, capsys, "is a symbolic link")


def test_bad_zip_bomb_ratio(tmp_path, ws3, capsys):
    z = zip_files(tmp_path / "bomb.zip", {"a.csv": b"0" * (20 << 20)})
    refused([str(z)], ws3, capsys, "possible zip bomb")


def test_bad_zip_total_and_file_limits(tmp_path):
    z = zip_files(tmp_path / "big.zip", {"a.csv": os.urandom(5000)})
    with pytest.raises(IngestError, match="uncompressed size 5,000 bytes exceeds"):
        read_source(z, limits=ReadLimits(max_unzipped_bytes=4000))
    with pytest.raises(IngestError, match="over the upload limit"):
        read_source(z, limits=ReadLimits(max_file_bytes=100))
    # lying header: more bytes than declared are refused while extracting
    with pytest.raises(IngestError, match="zip bomb|exceeds"):
        safe_extract(z, tmp_path / "out", ReadLimits(max_unzipped_bytes=4999))


def test_bad_zip_without_dataset(tmp_path, ws3, capsys):
    z = zip_files(tmp_path / "r.zip", {"readme.txt": b"hello", "__MACOSX/._x.shp": b"x"})
    refused([str(z)], ws3, capsys, "holds no dataset")


def test_bad_zip_two_datasets(tmp_path, ws3, capsys):
    a = write_shp(cn_layer(1), tmp_path / "s" / "a.shp")
    b = write_shp(cn_layer(1, JZMJ=[5000.0]), tmp_path / "s" / "b.shp")  # Z1 re-surveyed: something to publish
    z = zip_files(tmp_path / "two.zip", {**shp_bytes(a), **shp_bytes(b)})
    refused([str(z)], ws3, capsys, "several datasets", "a.shp", "b.shp", "--layer")
    assert main(["ingest", str(z), "-w", ws3.uri, "--layer", "b"]) == 0


def test_a_copy_of_the_current_survey_in_other_bytes_is_not_published_again(tmp_path, ws3, capsys):
    """The same parcels exported again (another file, other bytes: the checksum does not know it) add, remove and
    change nothing: the app's data manager offers no publish for it, and the command line published an identical
    version. It is refused naming the current version, with the diff printed; --publish-again publishes it."""
    from planner.ingest import current_survey_version as latest

    store = ws3
    before = latest(store)
    copy = write_shp(cn_layer(3), tmp_path / "again" / "copy.shp")
    refused([str(copy), "--lang", "en"], ws3, capsys, "copy.shp adds, removes and changes nothing against the current "
            f"survey v{before}", "--publish-again", "0 added, 0 removed, 0 changed, 3 unchanged")
    assert latest(store) == before
    # the dry run an officer runs first says so, with the diff the app's data manager shows before publishing
    assert main(["ingest", str(copy), "-w", ws3.uri, "--dry-run", "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "0 added, 0 removed, 0 changed, 3 unchanged" in out and "(dry run: the real run refuses it) To publish it " \
        "as a new version anyway, add --publish-again." in out, out
    refused([str(copy), "--lang", "zh"], ws3, capsys, f"与当前调查版本 v{before} 相比没有任何新增、删除或变更，未发布")
    # the app's publish (a colleague published the same change while the page prepared it): the same refusal,
    # without the command line's option in its words
    from planner import workflow as W
    from planner.ingest import read_survey

    gdf, rep = read_survey(copy, target_crs=store.crs)
    with pytest.raises(IngestError) as caught:
        W.publish_survey(gdf, store, report=rep, source_file="copy.zip")
    assert "changes nothing against the current survey" in str(caught.value)
    assert "--publish-again" not in str(caught.value) + message_in(caught.value, "zh")
    assert latest(store) == before
    assert main(["ingest", str(copy), "-w", ws3.uri, "--publish-again"]) == 0
    assert latest(store) == before + 1
    # one floor area re-surveyed, the same shapes: the .shp's bytes are those of copy.shp, its .dbf's are not (the
    # same-file check hashed the .shp alone and refused it as "the same file as survey version v2")
    changed = write_shp(cn_layer(3, JZMJ=[2500.0, 2500.0, 4000.0]), tmp_path / "again2" / "copy.shp")
    assert changed.read_bytes() == copy.read_bytes()
    assert main(["ingest", str(changed), "-w", ws3.uri, "--dry-run", "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "0 added, 0 removed, 1 changed, 2 unchanged" in out and "real run refuses" not in out, out
    assert main(["ingest", str(changed), "-w", ws3.uri]) == 0, capsys.readouterr().err  # published as ever
    assert latest(store) == before + 2


@pytest.mark.parametrize("how", ["replace", "update"])
def test_an_earlier_surveys_parcels_again_are_refused_naming_it_on_either_backend(tmp_path, ws3, capsys, how):
    """v1 the survey, v2 an update re-surveying Z3's floor area. A clerk re-exports last month's survey (other
    bytes: the checksum does not know it), or loads an update that puts Z3 back as it was: the parcels published
    would be v1's again, and were published as v3, a silent rollback under a new number. Refused as an earlier
    enterprise table is: naming v1 (its label and date), that v2 is current, and, on the command line only, how v1
    is made current again (``planner workspace use survey 1``) and ``--publish-again``; exit 2, nothing written.
    The dry run says it; ``--publish-again`` publishes; the library's words name no face's way."""
    from planner import workflow as W
    from planner.ingest import current_survey_version as latest

    store = ws3
    fix = _gpkg(cn_layer(3, JZMJ=[2500.0, 2500.0, 4000.0]).iloc[[2]], tmp_path / "fix.gpkg")
    assert main(["ingest", str(fix), "-w", store.uri, "--survey-name", "Z3 re-surveyed"]) == 0
    assert latest(store) == 2
    capsys.readouterr()
    if how == "replace":  # last month's survey exported again, as a shapefile this time
        again = write_shp(cn_layer(3), tmp_path / "last_month" / "宗地.shp")
    else:  # an update whose one parcel is Z3 as it was before v2: merged, the survey is v1's again
        again = _gpkg(cn_layer(3).iloc[[2]], tmp_path / "undo.gpkg")
    refused([str(again), "--lang", "en"], store, capsys,
            f"{again.name}: published, the survey's parcels would be those of survey version v1 (\"base\"), published "
            "by ", "(nothing added, removed or changed against it): it would make a version identical to v1. Nothing "
            "was published. The current survey is v2. To make v1 current again, run `planner workspace use survey 1 ",
            "To publish it as a new version anyway, add --publish-again.", f"({how} mode): 0 added, 0 removed, 1 changed")
    refused([str(again), "--lang", "zh"], store, capsys, f"{again.name} 发布后的宗地将与 ",
            "发布的调查版本 v1（「base」）完全相同（没有任何新增、删除或变更）：发布将产生与 v1 相同的版本。未发布。当前调查版本为 v2。"
            "如需让 v1 重新成为当前版本，请运行 `planner workspace use survey 1 ", "如确需将其发布为新版本，请加 --publish-again。")
    # the library's words (the app's, too): the version and the current one, no face's way
    with pytest.raises(IngestError) as caught:
        ingest(again, store)
    said = str(caught.value) + message_in(caught.value, "zh")
    assert caught.value.earlier == 1 and "The current survey is v2." in said and "当前调查版本为 v2" in said
    for face in ("planner workspace use", "--publish-again", "Data manager", "数据管理"):
        assert face not in said
    gdf, rep = read_survey(again, target_crs=store.crs)
    with pytest.raises(IngestError) as caught:
        W.publish_survey(gdf, store, report=rep, source_file=again.name, mode=how)
    assert caught.value.earlier == 1 and caught.value.report is rep and rep.diff["n_changed"] == 1
    # the dry run says the real run refuses it: in the library's words, with the command line's ways on its own
    rep = ingest(again, store, dry_run=True)
    assert rep.would_switch == [1] and rep.would_refuse[0].endswith("The current survey is v2.")
    assert "planner workspace use" not in " ".join(rep.warnings + rep.warnings_zh)
    assert main(["ingest", str(again), "-w", store.uri, "--dry-run", "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "identical to v1. The current survey is v2. (dry run: the real run refuses it) To make v1 current again, " \
        "run `planner workspace use survey 1 " in out and "add --publish-again." in out, out
    assert latest(store) == 2 and store.surveys()["version"].tolist() == [1, 2]
    # anyway: a copy of v1, now current; then the same file is that current version's (no version to switch to)
    assert main(["ingest", str(again), "-w", store.uri, "--publish-again"]) == 0
    assert latest(store) == 3
    capsys.readouterr()
    assert main(["ingest", str(again), "-w", store.uri, "--lang", "en"]) == 2
    err = capsys.readouterr().err
    assert "the same file as survey version v3" in err and "current again" not in err, err
    # a load equal to no version is published as ever
    assert main(["ingest", str(_gpkg(cn_layer(3, JZMJ=[2500.0, 2500.0, 3000.0]).iloc[[2]], tmp_path / "n.gpkg")),
                 "-w", store.uri]) == 0
    assert latest(store) == 4


def test_only_an_earlier_version_of_as_many_parcels_and_the_same_ids_is_read_whole(tmp_path, monkeypatch):
    """At a million parcels every old version read and diffed on every load would take minutes: a version of
    another row count (the catalogue says it) is not read at all; one of other ids, only its id column; one whose
    figures differ where the load changes them (``changed_fields``), only those columns; the polygons of one
    version alone, the one equal to the load."""
    from planner.ingest import diff_parcels, equal_earlier_version

    monkeypatch.setattr(schema, "figure_sums", lambda df: {})  # versions published before their sums were kept
    ws = GpkgStore(tmp_path / "ws.gpkg", crs="EPSG:4549", create=True)
    four = cn_layer(4).rename(columns={"ZDDM": "parcel_id", "JZMJ": "floor_area_m2", "ZDMJ": "land_area_m2"})
    four = schema.conform(four[["parcel_id", "land_area_m2", "floor_area_m2", "geometry"]])
    other_ids = four.assign(parcel_id=["Y1", "Y2", "Y3", "Y4"])
    changed = four.copy()
    changed.loc[3, "floor_area_m2"] = 9000.0
    for layer in (four.iloc[:3], four, other_ids, changed):  # v1 3 parcels; v2, v3 and v4 (current) 4 each
        ws.publish_survey(layer)
    reads: list[tuple] = []
    read = ws.read_parcels

    def spy(version=None, **kw):
        reads.append((version, tuple(kw.get("columns") or ("*",)), kw.get("geometry", True)))
        return read(version, **kw)

    monkeypatch.setattr(ws, "read_parcels", spy)
    assert equal_earlier_version(ws, cn_layer(5).rename(columns={"ZDDM": "parcel_id"}), current=4) is None
    assert reads == []  # no version of 5 parcels: nothing read
    found = equal_earlier_version(ws, four, current=4)
    assert found["version"] == 2 and found["label"] is None
    assert reads[0] == (3, ("parcel_id",), False)  # v3, other ids: its id column alone
    assert [r for r in reads if r[2]] == [(2, ("parcel_id",), True)]  # polygons: v2's alone
    assert all(r[0] in (2, 3) for r in reads)  # v1 (3 parcels) and v4 (current) never read
    reads.clear()
    load = four.copy()
    load.loc[0, "floor_area_m2"] = 1.0  # v2's ids; a figure the load changes against v4 differs from v2's too
    hint = diff_parcels(changed, load)["changed_fields"]
    assert equal_earlier_version(ws, load, current=4, changed_fields=hint) is None
    assert reads == [(3, ("parcel_id", "floor_area_m2"), False), (2, ("parcel_id", "floor_area_m2"), False)]
    # a changed attribute found without the hint: the attributes read, the polygons not
    reads.clear()
    assert equal_earlier_version(ws, load, current=4) is None
    assert not [r for r in reads if r[2]]


def test_earlier_versions_of_other_figures_are_ruled_out_by_their_sums_without_a_read(tmp_path, monkeypatch):
    """An office replacing the same parcels' figures every month: every version has as many rows and the same
    ids, so each was read (ids and the changed figures: 2.9 s a version at 1M) on every load. Each version now
    keeps its float columns' sums (values present, sum, magnitude): one whose sums differ from the load's beyond
    the diff's tolerance is not read at all; one equal to the load is still found, through figures that differ
    within the tolerance (a re-export's rounding)."""
    from planner.ingest import equal_earlier_version

    ws = GpkgStore(tmp_path / "ws.gpkg", crs="EPSG:4549", create=True)
    base = cn_layer(4).rename(columns={"ZDDM": "parcel_id", "JZMJ": "floor_area_m2", "ZDMJ": "land_area_m2"})
    base = schema.conform(base[["parcel_id", "land_area_m2", "floor_area_m2", "geometry"]])
    months = [base.assign(floor_area_m2=base["floor_area_m2"] + 10.0 * m) for m in range(4)]  # v1..v4 (current)
    months[2].loc[1, "floor_area_m2"] = np.nan  # a figure missing in v3 only
    for layer in months:
        ws.publish_survey(layer)
    assert schema.FIGURE_SUMS in catalogue_meta(ws.surveys()["meta"].iloc[0])
    reads: list = []
    read = ws.read_parcels
    monkeypatch.setattr(ws, "read_parcels", lambda version=None, **kw: reads.append(version) or read(version, **kw))
    fifth = base.assign(floor_area_m2=base["floor_area_m2"] + 40.0)  # this month's figures
    assert equal_earlier_version(ws, fifth, current=4) is None and reads == []
    nan_moved = months[2].copy()  # as many values in total but the missing one elsewhere: still told apart
    nan_moved.loc[1, "floor_area_m2"], nan_moved.loc[2, "floor_area_m2"] = months[2].loc[2, "floor_area_m2"], np.nan
    assert equal_earlier_version(ws, nan_moved, current=4) is None
    assert set(reads) <= {3}  # v3 alone has as many values present and may match by its sums
    reads.clear()
    rounded = months[1].assign(floor_area_m2=months[1]["floor_area_m2"] * (1 + 5e-10))  # within the diff's rtol
    assert equal_earlier_version(ws, rounded, current=4)["version"] == 2
    assert set(reads) == {2}  # the versions of other sums (v1, v3) never read


def test_a_dry_runs_refusal_notes_name_the_option_only_on_the_command_line(tmp_path, ws3, capsys):
    """The survey file published before, checked again: the library's dry run (the app has no --publish-again)
    says that the real run refuses it, as the same file and as changing nothing, in words of no face; `planner
    ingest --dry-run` adds its option to each note, in the command's language."""
    base = tmp_path / "base.gpkg"  # the file ws3's v1 came from
    rep = ingest(base, ws3, dry_run=True)
    first, second = rep.would_refuse
    assert first.startswith("base.gpkg is the same file as survey version v1, published by ") and \
        first.endswith(" (same checksum).")
    assert second == ("base.gpkg adds, removes and changes nothing against the current survey v1: nothing was "
                      "published (it would make an identical version).")
    notes = [w for w in rep.warnings if w.endswith(" (dry run: the real run refuses it)")]
    notes_zh = [w for w in rep.warnings_zh if w.endswith("（试运行：正式导入时将拒绝）")]
    assert len(notes) == len(notes_zh) == 2, (rep.warnings, rep.warnings_zh)
    assert notes[0].startswith("base.gpkg is the same file as survey version v1") and "是同一个文件" in notes_zh[0]
    assert "--publish-again" not in " ".join(rep.warnings + rep.warnings_zh)
    for lang, hint in (("en", " (dry run: the real run refuses it) To publish it as a new version anyway, add "
                              "--publish-again."),
                       ("zh", "（试运行：正式导入时将拒绝）如确需将其发布为新版本，请加 --publish-again。")):
        assert main(["ingest", str(base), "-w", ws3.uri, "--dry-run", "--lang", lang]) == 0
        out = capsys.readouterr().out
        assert out.count(hint) == 2, out
        assert ("是同一个文件" if lang == "zh" else "is the same file as survey version v1") in out
    assert ws3.surveys()["version"].tolist() == [1]


def test_bad_gpkg_ambiguous_layers(tmp_path, ws3, capsys):
    src = _gpkg(cn_layer(1), tmp_path / "m.gpkg", layer="parcels")
    _gpkg(cn_layer(1), src, layer="old")
    refused([str(src)], ws3, capsys, "holds 2 layers", "parcels (", "old (", "--layer")
    refused([str(src), "--layer", "nope"], ws3, capsys, "no layer 'nope'")


def test_bad_extension_and_corrupt_files(tmp_path, ws3, capsys):
    (tmp_path / "a.txt").write_text("x")
    refused([str(tmp_path / "a.txt")], ws3, capsys, "unsupported file type .txt")
    (tmp_path / "c.zip").write_bytes(b"PK\x03\x04 not really")
    refused([str(tmp_path / "c.zip")], ws3, capsys, "not a readable zip file")
    (tmp_path / "c.gpkg").write_bytes(b"garbage" * 10)
    refused([str(tmp_path / "c.gpkg")], ws3, capsys, "c.gpkg: the file is a text file, not a GeoPackage")
    refused([str(tmp_path / "missing.shp")], ws3, capsys, "file not found")


def test_bad_csv_without_wkt(tmp_path, ws3, capsys):
    (tmp_path / "a.csv").write_text("ZDDM,x,y\nA,1,2\n")
    refused([str(tmp_path / "a.csv"), "--crs", "EPSG:4549"], ws3, capsys, "no WKT geometry column")


def test_bad_empty_layer(tmp_path, ws3, capsys):
    src = _gpkg(cn_layer(1).iloc[:0], tmp_path / "e.gpkg")
    refused([str(src)], ws3, capsys, "no features")


def test_bad_mapping_field_absent_and_unit(tmp_path, ws3, capsys):
    src = _gpkg(cn_layer(1), tmp_path / "a.gpkg")
    m = tmp_path / "m.toml"
    m.write_text('[fields]\nparcel_id = "BBL"\n')
    refused([str(src), "--mapping", str(m)], ws3, capsys, "names field(s) the layer does not have: parcel_id = 'BBL'",
            "ZDDM")
    m.write_text('[units]\ntax_cny = "EUR"\n')
    refused([str(src), "--mapping", str(m)], ws3, capsys, "EUR", "[currency]", "no rates are fetched")


def test_bad_mostly_rejected(tmp_path, ws3, capsys):
    src = _gpkg(cn_layer(3, JZMJ=[-1.0, -1.0, 5.0]), tmp_path / "a.gpkg")
    refused([str(src)], ws3, capsys, "67% of the rows had their floor_area_m2 nulled", "mapping or units are probably wrong")
    src = _gpkg(cn_layer(3, ZDDM=["A", "A", "B"]), tmp_path / "b.gpkg")
    refused([str(src)], ws3, capsys, "2 of 3 rows rejected", "mapping or units are probably wrong")


def test_bad_duplicate_policy_refuse(tmp_path, ws3, capsys):
    lay = cn_layer(3)
    lay["ZDDM"] = ["A", "A", "B"]
    m = tmp_path / "m.toml"
    m.write_text('[checks]\nduplicate_id = "refuse"\n')
    refused([str(_gpkg(lay, tmp_path / "a.gpkg")), "--mapping", str(m), "--report", str(tmp_path / "r.json")],
            ws3, capsys, "2 row(s) with duplicate_id", "rows [1, 2]")
    assert json.loads((tmp_path / "r.json").read_text())["refused"] is True


def _patch_dbf_text(shp: Path, old: bytes, new: bytes) -> None:
    dbf = shp.with_suffix(".dbf")
    data = dbf.read_bytes()
    assert old in data
    dbf.write_bytes(data.replace(old, new.ljust(len(old), b" ")))


def test_bad_encoding_undecodable(tmp_path, ws3, capsys):
    lay = cn_layer(1)
    lay["QLR"] = ["XXXXXXXX"]
    shp = write_shp(lay, tmp_path / "u.shp", cpg=False)
    _patch_dbf_text(shp, b"XXXXXXXX", b"\xff\xfe\xff\xfe")
    refused([str(shp)], ws3, capsys, "decode neither as UTF-8 nor as GB18030", "--encoding")


def test_bad_encoding_given_wrong(tmp_path, ws3, capsys):
    shp = write_shp(cn_layer(1), tmp_path / "g.shp", encoding="GBK")
    refused([str(shp), "--encoding", "utf-8"], ws3, capsys, "do not decode as 'utf-8'")


def test_bad_zone_prefix_mismatch(tmp_path, ws3, capsys):
    lay = cn_layer(1).set_geometry(boxes(1, x0=39_500_000.0))  # zone 39 eastings, declared CM 120E
    refused([str(_gpkg(lay, tmp_path / "z.gpkg"))], ws3, capsys, "zone prefix 39", "central meridian 120E")


def test_bad_missing_dbf(tmp_path, ws3, capsys):
    shp = write_shp(cn_layer(1), tmp_path / "m.shp")
    shp.with_suffix(".dbf").unlink()
    refused([str(shp)], ws3, capsys, ".dbf file is missing")


def test_bad_gcj02_on_projected(tmp_path, ws3, capsys):
    refused([str(_gpkg(cn_layer(1), tmp_path / "a.gpkg")), "--crs", "gcj02"], ws3, capsys,
            "--crs gcj02 needs lon/lat")


def test_bad_crs_text(tmp_path, ws3, capsys):
    refused([str(_gpkg(cn_layer(1), tmp_path / "a.gpkg")), "--crs", "EPSG:99999999"], ws3, capsys,
            "is not a CRS pyproj understands")


def test_bad_shared_china_admin_cli(shared_data, ws3, capsys):
    refused([str(shared_data / "china-admin-gcj02" / "福建省.shp"), "--crs", "gcj02"], ws3, capsys,
            "no parcel id field", "adcode")


def test_report_writer_rejects_unknown_extension(tmp_path):
    _, rep = read_survey(_gpkg(cn_layer(1), tmp_path / "a.gpkg"))
    with pytest.raises(IngestError, match=r"\.json or \.csv"):
        write_report(rep, tmp_path / "r.txt")
