"""Schema, configuration loading, CRS helpers, code lists and the architecture rule."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from planner import codes, config, crs, schema
from planner.errors import ConfigError, DataError, PlannerError, SchemaError
from tests.conftest import ROOT, box_grid

# -- schema -----------------------------------------------------------------


def test_conform_adds_missing_columns_with_canonical_dtypes():
    gdf = gpd.GeoDataFrame({"parcel_id": [1, 2], "tax_cny": ["100", None], "extra": ["a", "b"]},
                           geometry=[shapely.box(0, 0, 1, 1)] * 2, crs="EPSG:4549")
    out = schema.conform(gdf)
    assert list(out.columns) == schema.column_names() + ["extra"]
    assert out["parcel_id"].tolist() == ["1", "2"]
    assert out["tax_cny"].dtype == "float64" and np.isnan(out["tax_cny"].iloc[1])
    assert out["floor_area_m2"].isna().all() and out["owner"].isna().all()
    schema.validate(out)


def test_conform_refuses_missing_required_and_uncastable():
    gdf = gpd.GeoDataFrame({"x": [1]}, geometry=[shapely.box(0, 0, 1, 1)], crs="EPSG:4549")
    with pytest.raises(SchemaError, match=r"missing required column\(s\) \['parcel_id'\]"):
        schema.conform(gdf)
    gdf["parcel_id"] = "a"
    gdf["floor_area_m2"] = "lots"
    with pytest.raises(SchemaError, match="floor_area_m2.*float"):
        schema.conform(gdf)


def test_validate_lists_every_problem():
    g = box_grid(2, 1)
    g.loc[1, "parcel_id"] = g.loc[0, "parcel_id"]
    g.loc[0, "status"] = "abandoned"
    g.loc[1, "zone_far_max"] = 35.0
    g.loc[0, "floor_area_m2"] = -5.0
    g = g.set_crs("EPSG:4490", allow_override=True)
    with pytest.raises(SchemaError) as info:
        schema.validate(g)
    text = str(info.value)
    for part in ("not a projected metric CRS", "parcel_id not unique", "status: unknown value(s) ['abandoned']",
                 "zone_far_max: 1 value(s) outside [0.0, 20.0]", "floor_area_m2: 1 value(s) outside"):
        assert part in text


def test_validate_rejects_non_polygons_and_wrong_dtypes():
    g = box_grid(2, 1)
    g.loc[1, "geometry"] = shapely.Point(0, 0)
    g["tax_cny"] = g["tax_cny"].astype(object)
    with pytest.raises(SchemaError) as info:
        schema.validate(g)
    assert "1 non-polygonal geometries, first rows [1]" in str(info.value)
    assert "tax_cny" in str(info.value) and "float64" in str(info.value)


def test_labels_and_units():
    assert schema.label("floor_area_m2", "zh") == "建筑面积（㎡）"  # as every Chinese label
    assert schema.label("tax_cny", "en") == "Annual tax (yuan/yr)"
    assert pytest.approx(666.6667, rel=1e-6) == schema.MU_M2
    with pytest.raises(SchemaError, match="not a column"):
        schema.field("nope")


# -- config -----------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    indicator: str
    comparison: Literal["<", "<=", ">", ">="] = "<"
    threshold: float | None = None


@dataclass(frozen=True)
class Demo:
    name: str
    rules: tuple[Rule, ...] = ()
    weights: dict[str, float] = field(default_factory=dict)
    min_criteria: int = 2


def test_from_dict_nested_and_roundtrip(tmp_path):
    p = tmp_path / "demo.toml"
    p.write_text('name = "x"\nmin_criteria = 3\n[[rules]]\nindicator = "plot_ratio"\nthreshold = 1\n'
                 '[weights]\ntax = 45\n', encoding="utf-8")
    d = config.load(Demo, p)
    assert d.rules[0] == Rule("plot_ratio", "<", 1.0)
    assert d.weights["tax"] == 45.0 and d.min_criteria == 3
    again = config.from_dict(Demo, config.to_dict(d))
    assert again == d
    assert 'indicator = "plot_ratio"' in config.dumps_toml(config.to_dict(d))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "x", "colour": 1}, r"demo.toml: unknown key\(s\) \['colour'\]"),
        ({}, "demo.toml: missing required key 'name'"),
        ({"name": "x", "min_criteria": "2"}, "demo.toml.min_criteria: expected an integer"),
        ({"name": "x", "rules": [{"indicator": "a", "comparison": "<<"}]},
         r"demo.toml.rules\[0\].comparison: '<<' is not one of"),
        ({"name": "x", "rules": {"indicator": "a"}}, "demo.toml.rules: expected a list"),
        ({"name": "x", "weights": {"tax": "high"}}, "demo.toml.weights.tax: expected a number"),
    ],
)
def test_from_dict_errors_name_the_key(data, message):
    with pytest.raises(ConfigError, match=message):
        config.from_dict(Demo, data, where="demo.toml")


def test_load_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        config.load_file(tmp_path / "none.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n", encoding="utf-8")
    with pytest.raises(ConfigError, match="bad.toml: not valid TOML"):
        config.load_file(bad)


def test_errors_are_value_errors():
    for cls in (SchemaError, ConfigError, DataError):
        assert issubclass(cls, PlannerError) and issubclass(cls, ValueError)


# -- CRS --------------------------------------------------------------------


def test_gcj02_roundtrip_and_offset_size():
    lon = np.array([118.55, 118.6, 116.39])
    lat = np.array([24.78, 24.7, 39.9])
    glon, glat = crs.wgs84_to_gcj02(lon, lat)
    # GCJ-02 is a few hundred metres away from WGS84 (DOMAIN.md: 300-700 m).
    offset_m = np.hypot((glon - lon) * 111_320 * np.cos(np.radians(lat)), (glat - lat) * 110_540)
    assert ((offset_m > 200) & (offset_m < 800)).all()
    blon, blat = crs.gcj02_to_wgs84(glon, glat)
    np.testing.assert_allclose(blon, lon, atol=1e-9)
    np.testing.assert_allclose(blat, lat, atol=1e-9)


def test_gcj02_matches_published_reference_point():
    # Tiananmen: WGS84 (116.391349, 39.907375) -> GCJ-02 (116.397590, 39.908776), from the
    # published coordTransform examples; agreement within 1e-5 degrees (about 1 m).
    glon, glat = crs.wgs84_to_gcj02(116.391349, 39.907375)
    assert glon == pytest.approx(116.397590, abs=1e-5)
    assert glat == pytest.approx(39.908776, abs=1e-5)


def test_gcj02_geometries():
    g = np.array([shapely.box(118.5, 24.7, 118.51, 24.71)])
    back = crs.gcj02_geoms_to_wgs84(crs.wgs84_geoms_to_gcj02(g))
    assert shapely.equals_exact(back[0], g[0], tolerance=1e-8)


def test_gk_zones_and_guess():
    assert crs.gk_zone_3deg(118.55) == 40 and crs.gk_zone_3deg(118.45) == 39
    assert crs.cgcs2000_gk_epsg(40, with_prefix=False) == 4549
    assert crs.cgcs2000_gk_epsg(40, with_prefix=True) == 4528
    with pytest.raises(DataError, match="outside China"):
        crs.cgcs2000_gk_epsg(12, with_prefix=True)
    first = crs.guess_crs((40_400_000, 2_730_000, 40_420_000, 2_750_000))[0]
    assert first[0] == "EPSG:4528" and "zone prefix 40" in first[1]
    assert crs.guess_crs((118.4, 24.6, 118.7, 24.9))[1][0] == "gcj02"
    assert crs.guess_crs((430_000, 2_730_000, 460_000, 2_750_000))[0][0] == "EPSG:4549"


# -- codes ------------------------------------------------------------------


def test_land_use_codes_depend_on_scheme():
    s = codes.normalize_land_use(["100101", "1001", "1101", "0601", "1207", None, "99"], scheme="gtkj")
    assert s.tolist()[:5] == ["industrial", "industrial", "warehouse", "agricultural", "transport"]
    assert pd.isna(s.iloc[5]) and pd.isna(s.iloc[6])
    t = codes.normalize_land_use(["1001", "0601", "0508", "1101"], scheme="sandiao")
    assert t.tolist() == ["transport", "industrial", "warehouse", "water"]
    assert codes.land_use_name("100102") == "二类工业用地"
    with pytest.raises(DataError, match="unknown land-use scheme"):
        codes.normalize_land_use(["01"], scheme="osm")
    assert codes.industry_label(["19", "xx"], "en").tolist() == ["leather and footwear", "xx"]


# -- architecture -----------------------------------------------------------


def test_core_library_never_imports_streamlit():
    offenders = []
    for path in (ROOT / "planner").rglob("*.py"):
        if "ui" in path.relative_to(ROOT / "planner").parts[:1]:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n == "streamlit" or n.startswith("streamlit.") or n.startswith("streamlit_") for n in names):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == [], f"streamlit imported outside planner/ui/: {offenders}"


def test_no_cdn_urls_in_app_code():
    hits = []
    for base in ("planner", "views"):
        for path in (ROOT / base).rglob("*.py") if (ROOT / base).exists() else []:
            text = path.read_text(encoding="utf-8")
            for cdn in ("cdn.jsdelivr", "unpkg.com", "cdnjs.", "googleapis.com"):
                if cdn in text:
                    hits.append(f"{path.relative_to(ROOT)}: {cdn}")
    assert hits == []


def test_cli_help_lists_commands(capsys):
    from planner.cli import main

    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in ("info", "sample-data", "ingest", "classify", "policy", "sites", "scenario"):
        assert f"    {command}" in out, command



def test_public_api_resolves():
    import planner

    for name in planner.__all__:
        assert callable(getattr(planner, name)), name
    with pytest.raises(AttributeError):
        _ = planner.nope


def test_duplicated_ids_marks_every_copy_and_ignores_missing():
    ids = pd.Series(["a", "b", None, "a", "c", None, "b"], dtype="string")
    assert schema.duplicated_ids(ids).tolist() == [True, True, False, True, False, False, True]
    assert not schema.duplicated_ids(pd.Series(["x", None, "y"], dtype="string")).any()
    assert schema.duplicated_ids(pd.Series([], dtype="string")).tolist() == []


def test_errors_carry_an_optional_chinese_message():
    from planner.errors import IngestError, PlannerError, message_in

    e = IngestError("a.zip: holds no layer", zh="a.zip：不含任何图层")
    assert str(e) == "a.zip: holds no layer" and isinstance(e, PlannerError | ValueError)
    assert message_in(e, "zh") == "a.zip：不含任何图层" and message_in(e, "en") == str(e)
    assert message_in(IngestError("only English"), "zh") == "only English"


def test_lonlat_export_repairs_what_reprojection_breaks():
    import geopandas as gpd
    import shapely

    from planner.crs import to_lonlat_valid

    x, y = 500_000.0, 2_750_000.0
    ok = shapely.box(x, y, x + 100, y + 100)
    bowtie = shapely.Polygon([(x, y), (x + 50, y + 50), (x + 50, y), (x, y + 50)])  # stands in for a bent ring
    g = gpd.GeoDataFrame({"k": [1, 2, 3]}, geometry=[ok, bowtie, None], crs="EPSG:4549")
    out = to_lonlat_valid(g)
    assert out.crs.to_epsg() == 4326 and out.geometry.iloc[2] is None
    assert out.geometry.iloc[:2].is_valid.all() and out.geometry.iloc[1].geom_type == "MultiPolygon"
    assert out.geometry.iloc[0].equals(g.to_crs(4326).geometry.iloc[0])  # valid ones untouched
