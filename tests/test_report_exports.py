"""Export what you see: the map page's filtered parcels and the sites page's sites and selected site, as
GeoPackage, zipped shapefile (UTF-8, with .cpg) and Excel (text neutralized); one place picks the columns."""

from __future__ import annotations

import io
import zipfile

import geopandas as gpd
import pytest
import shapely
from openpyxl import load_workbook

from planner.errors import DataError
from planner.report.geodata import EXPORT_COLUMNS, export_columns, export_layer


def parcels() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"parcel_id": ["=1+1", "P2", "P3"], "owner": ["晋江市某某鞋业有限公司", "@SUM(A1)", "+86 595"],
         "enterprise": ["-cmd", "企业乙", None], "land_area_m2": [1_000.0, 2_000.0, 3_000.0],
         "tax_cny": [10_000.0, 20_000.0, None], "tax_per_mu": [6_667.0, 6_667.0, None],
         "three_low": [True, False, True], "reason_zh": ["容积率 0.50 < 1.0", "", "闲置"],
         "secret_column": ["x", "y", "z"]},
        geometry=[shapely.box(0, 0, 10, 10), shapely.box(20, 0, 30, 10), shapely.box(40, 0, 50, 10)], crs="EPSG:4549")


def test_columns_come_from_one_place_and_tax_can_be_withheld():
    g = parcels()
    cols = export_columns(g, "parcels")
    assert cols == ["parcel_id", "owner", "enterprise", "land_area_m2", "tax_cny", "tax_per_mu", "three_low",
                    "reason_zh"]
    assert "secret_column" not in cols  # only the listed columns leave the server
    assert export_columns(g, "parcels", may_see_tax=False) == [c for c in cols if not c.startswith("tax")]
    assert set(EXPORT_COLUMNS) == {"parcels", "sites"}


def test_geopackage_round_trip():
    back = gpd.read_file(io.BytesIO(export_layer(parcels(), "gpkg", kind="parcels", name="parcels_filtered")))
    assert back["parcel_id"].tolist() == ["=1+1", "P2", "P3"] and back.crs.to_epsg() == 4549
    assert back["owner"].iloc[0] == "晋江市某某鞋业有限公司"
    # polygons (how the app holds one-part parcels) leave as a MultiPolygon layer, as the workspace stores them
    assert set(back.geom_type) == {"MultiPolygon"}
    assert shapely.equals(back.geometry.values, parcels().geometry.values).all()


def test_zipped_shapefile_has_cpg_and_utf8_text(tmp_path):
    data = export_layer(parcels(), "shp", kind="parcels", name="地块 parcels", may_see_tax=False)
    z = zipfile.ZipFile(io.BytesIO(data))
    names = z.namelist()
    assert {n.rsplit(".", 1)[1] for n in names} >= {"shp", "shx", "dbf", "prj", "cpg", "csv"}
    assert all(n.isascii() for n in names)  # zip tools on Chinese Windows read names as GBK
    assert z.read(next(n for n in names if n.endswith(".cpg"))).strip() == b"UTF-8"
    z.extractall(tmp_path)
    back = gpd.read_file(tmp_path / next(n for n in names if n.endswith(".shp")))
    assert back["owner"].iloc[0] == "晋江市某某鞋业有限公司" and "tax_cny" not in back.columns
    assert "reason_zh" in back.columns and back["reason_zh"].iloc[0] == "容积率 0.50 < 1.0"
    fields = z.read(next(n for n in names if n.endswith("_fields.csv")))
    assert fields.startswith(b"\xef\xbb\xbf") and b"\r\n" in fields  # opens in Excel on Chinese Windows
    # 10-character dBase names that say what they hold (cut at 10, m² and mu read "land_area_" and "land_area1"),
    # mapped back to the columns and named in both languages with the unit stored
    assert "land_m2,land_area_m2,用地面积（㎡）,Land area (m²)" in fields.decode("utf-8-sig").splitlines()
    assert "land_m2" in back.columns and not any(c.startswith("land_area") for c in back.columns)


def test_shapefile_field_names_are_readable_and_unique():
    from planner.report.geodata import EXPORT_COLUMNS, SHAPEFILE_FIELDS, _short_names

    for kind, cols in EXPORT_COLUMNS.items():
        short = _short_names(list(cols))
        assert all(len(f) <= 10 for f in short.values()) and len(set(short.values())) == len(cols), kind
        # every name over 10 characters has one chosen, not cut and numbered ("land_area_", "land_area1")
        assert {c for c in cols if len(c) > 10} <= set(SHAPEFILE_FIELDS), kind


def test_excel_neutralizes_text_and_labels_headers():
    wb = load_workbook(io.BytesIO(export_layer(parcels(), "xlsx", kind="parcels", name="x", lang="zh")))
    ws = wb.active
    rows = [[c.value for c in r] for r in ws.iter_rows()]
    assert rows[0][:4] == ["宗地代码", "权利人", "使用企业", "用地面积（㎡）"] and "认定理由" in rows[0]
    cells = [v for r in rows[1:] for v in r if isinstance(v, str)]
    assert "'=1+1" in cells and "'@SUM(A1)" in cells and "'+86 595" in cells and "'-cmd" in cells
    assert not any(c.data_type == "f" for r in ws.iter_rows() for c in r)  # no formula anywhere
    assert rows[1][3] == 1_000  # numbers stay numbers


def test_unknown_format_is_refused():
    with pytest.raises(DataError, match="unknown export format"):
        export_layer(parcels(), "csv", kind="parcels", name="x")
