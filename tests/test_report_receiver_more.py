"""More deliveries as their receivers open them (after tests/test_report_receiver.py): the ingest report CSV, the
scenario GeoPackage/GeoJSON, the zipped shapefile exports and the printed summary of ``scenario run``.

What a receiver saw, and checks here:

- the ingest report CSV ended its ``#`` summary lines with LF and its rows with CRLF (two line endings in a file);
- every GeoPackage handed over was GeoPackage 1.4, which GDAL 3.6 (Debian 12) and older ArcGIS warn about
  ("may only be partially supported"): now 1.2, the same layers, fields and CRS; the workspace stays as it was;
- the scenario GeoPackage/GeoJSON held ``standard_factory`` and ``retain_class`` where the Excel sheet says
  标准厂房园区 and 保留所选提升分类的地块: the names now stand beside the codes, in the report's language;
- the zipped shapefile cut a parcel's reasons at 254 bytes (GDAL's warning went to the server's log, not to the
  receiver): the text is cut at a whole character and ends with "…", ``_fields.csv`` says so and how many rows,
  and ``<name>_text.csv`` holds the whole text by parcel id, to join in QGIS or ArcGIS;
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely
from openpyxl import load_workbook

from planner.cli import main

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = str(ROOT / "scenarios" / "conservative_top10.toml")


@pytest.fixture(scope="module")
def delivered(tmp_path_factory) -> Path:
    """The sample city (a copy) classified and assembled, with the GeoPackages the commands hand over."""
    d = tmp_path_factory.mktemp("deliveries")
    ws = d / "ws.gpkg"
    shutil.copyfile(ROOT / "gis_data" / "sample_city.gpkg", ws)
    w = ["-w", str(ws)]
    assert main(["classify", *w, "--out", str(d / "flags.gpkg")]) == 0
    assert main(["sites", *w, "--out", str(d / "sites.gpkg")]) == 0
    for lang in ("zh", "en"):
        assert main(["scenario", "run", SCENARIO, *w, "--no-save", "--out", str(d / f"run_{lang}"), "--lang", lang]) == 0
    return d


def _gpkg_version(path) -> int:
    con = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    try:
        return con.execute("PRAGMA user_version").fetchone()[0]
    finally:
        con.close()


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "planner", *args], cwd=cwd or ROOT, env=env, capture_output=True,
                          text=True, encoding="utf-8", timeout=600, check=False)


def test_ingest_report_csv_has_one_line_ending(tmp_path):
    """`planner ingest ... --report r.csv`: the summary lines and the problem rows end in CRLF alike (write_csv)."""
    out = tmp_path / "r.csv"
    proc = _cli("ingest", str(ROOT / "gis_data" / "survey_update.zip"), "--dry-run", "--report", str(out))
    assert proc.returncode == 0, proc.stderr
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    lines = data.split(b"\n")[:-1]
    assert data.endswith(b"\r\n") and lines and all(line.endswith(b"\r") for line in lines), lines[:3]
    assert b"\r\r" not in data
    assert any(line.startswith(b"# n_read") for line in data[3:].split(b"\r\n"))


def test_delivered_geopackages_are_version_1_2(delivered, tmp_path):
    """classify/sites --out x.gpkg, scenario run's <name>.gpkg and the app's GeoPackage export are GeoPackage 1.2
    (user_version 10200), which GDAL 3.6 opens without a warning; their layers and fields are all there."""
    from planner.io.store import GpkgStore
    from planner.report.geodata import export_layer

    files = [delivered / "flags.gpkg", delivered / "sites.gpkg", delivered / "run_zh" / "conservative_top10.gpkg"]
    store = GpkgStore(delivered / "ws.gpkg")
    parcels = store.read_layer("flags", store.layers("flags")["name"].iloc[0])
    app = tmp_path / "app_export.gpkg"
    app.write_bytes(export_layer(parcels.head(20), "gpkg", kind="parcels", name="parcels"))
    files.append(app)
    for f in files:
        assert _gpkg_version(f) == 10200, f
    assert {n for n, _ in pyogrio.list_layers(delivered / "sites.gpkg")} == {"sites", "site_parcels"}
    info = pyogrio.read_info(delivered / "sites.gpkg", layer="sites")
    assert info["crs"] == "EPSG:4549" and info["features"] > 0 and "site_id" in info["fields"]
    assert pyogrio.read_info(delivered / "sites.gpkg", layer="site_parcels")["features"] > 0
    assert "three_low" in pyogrio.read_info(delivered / "flags.gpkg")["fields"]
    assert _gpkg_version(delivered / "ws.gpkg") != 10200  # the workspace keeps GDAL's own version
    ogrinfo = shutil.which("ogrinfo")
    if ogrinfo:  # the system's GDAL (3.6 on Debian 12) warned "may only be partially supported" on 1.4
        for f in files:
            p = subprocess.run([ogrinfo, "-ro", "-so", "-al", str(f)], capture_output=True, text=True, check=False)
            assert p.returncode == 0 and "Warning" not in p.stderr + p.stdout, (f, p.stderr)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_scenario_geodata_names_templates_and_rules_as_the_workbook(delivered, lang, tmp_path):
    """QGIS labels a site with its template's name, as the Excel sheet shows it; the code stays beside it."""
    run = delivered / f"run_{lang}"
    layer = pyogrio.read_dataframe(run / "conservative_top10.gpkg")
    cols = list(layer.columns)
    assert cols[cols.index("template") + 1] == "template_name"
    assert cols[cols.index("existing_rule") + 1] == "existing_rule_name"
    assert set(layer["template"]) == {"standard_factory"} and set(layer["existing_rule"]) == {"retain_class"}
    ws = load_workbook(run / "conservative_top10.xlsx")["Sites 地块" if lang == "zh" else "Sites"]
    rows = list(ws.iter_rows(values_only=True))
    head = list(rows[0])
    tpl = next(i for i, h in enumerate(head) if "Park template" in str(h) or "园区模板" in str(h))
    rule = next(i for i, h in enumerate(head) if "Existing buildings" in str(h) or "现状建筑" in str(h))
    sheet = {r[0]: (r[tpl], r[rule]) for r in rows[1:] if r[0]}
    geo = dict(zip(layer["site_id"], zip(layer["template_name"], layer["existing_rule_name"], strict=True),
                   strict=True))
    assert geo == sheet
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in v) == (lang == "zh") for v in layer["template_name"])
    # the GeoJSON the same way (lon/lat)
    from planner import workflow as W
    from planner.io.store import open_store
    from planner.report.geodata import write_sites
    from planner.scenarios import load_scenario

    res = W.run_stored_scenario(open_store(str(delivered / "ws.gpkg")), W.ScenarioDoc(load_scenario(SCENARIO))).result
    gj = pyogrio.read_dataframe(write_sites(res, tmp_path / "s.geojson", lang=lang))
    assert dict(zip(gj["site_id"], zip(gj["template_name"], gj["existing_rule_name"], strict=True),
                    strict=True)) == sheet
    assert set(gj["template"]) == {"standard_factory"}


def test_shapefile_says_where_it_cut_text_and_keeps_the_whole_text(tmp_path, recwarn):
    """A parcel whose reasons run past 254 bytes (85 Chinese characters), exported as a zipped shapefile."""
    import zipfile

    from planner.report.geodata import export_layer

    reason = "；".join(["容积率 0.50 低于 1.0（工业用地下限）"] * 12)  # 287 characters, 621 bytes
    owner = "晋江市某某鞋业有限公司"
    g = gpd.GeoDataFrame({"parcel_id": ["P1", "P2"], "owner": [owner, "=1+1"], "reason_zh": [reason, "闲置"],
                          "reason_en": ["plot ratio " + "x" * 300, "idle"]},
                         geometry=[shapely.box(0, 0, 10, 10), shapely.box(20, 0, 30, 10)], crs="EPSG:4549")
    z = zipfile.ZipFile(io.BytesIO(export_layer(g, "shp", kind="parcels", name="parcels")))
    assert sorted(z.namelist()) == ["parcels.cpg", "parcels.dbf", "parcels.prj", "parcels.shp", "parcels.shx",
                                    "parcels_fields.csv", "parcels_text.csv"]
    z.extractall(tmp_path)
    back = pyogrio.read_dataframe(tmp_path / "parcels.shp")
    shown = back["reason_zh"].iloc[0]
    assert shown.endswith("…") and reason.startswith(shown[:-1]) and len(shown.encode("utf-8")) <= 254
    assert len(shown) >= 80  # as much as the field holds, not a few characters
    assert back["reason_en"].iloc[0].endswith("…") and back["reason_zh"].iloc[1] == "闲置"
    assert back["owner"].tolist() == [owner, "=1+1"]  # short text as it is
    assert not [w for w in recwarn if "truncated" in str(w.message)]  # GDAL cut nothing itself
    with open(tmp_path / "parcels_text.csv", encoding="utf-8-sig", newline="") as fh:
        full = list(csv.DictReader(fh))
    assert full == [{"parcel_id": "P1", "reason_zh": reason, "reason_en": "plot ratio " + "x" * 300}]
    assert (tmp_path / "parcels_text.csv").read_bytes().count(b"\r\n") == 2
    with open(tmp_path / "parcels_fields.csv", encoding="utf-8-sig", newline="") as fh:
        notes = {r["field"]: r for r in csv.DictReader(fh)}
    assert "parcels_text.csv" in notes["reason_zh"]["note_zh"] and "1 行" in notes["reason_zh"]["note_zh"]
    assert "whole text in parcels_text.csv (join on parcel_id)" in notes["reason_en"]["note_en"]
    assert notes["owner"]["note_en"] == "" and notes["parcel_id"]["note_zh"] == ""
    # nothing cut: the zip as before, no notes
    z2 = zipfile.ZipFile(io.BytesIO(export_layer(g.iloc[[1]], "shp", kind="parcels", name="parcels")))
    assert "parcels_text.csv" not in z2.namelist()
    assert z2.read("parcels_fields.csv").decode("utf-8-sig").splitlines()[0] == "field,column,zh,en"


def test_the_app_says_what_the_shapefile_zip_holds(tmp_path, monkeypatch):
    """The map page's shapefile button says, before the download, that long text is cut and where it is whole."""
    from streamlit.testing.v1 import AppTest

    from tests.e2e._workspace import build_workspace

    monkeypatch.setenv("PLANNER_WORKSPACE", str(build_workspace(tmp_path / "ws.gpkg")))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("views/explorer.py").run()
    assert not at.exception
    shp = next(b for b in at.get("download_button") if b.proto.label == "Shapefile（zip）")
    assert "254 字节" in shp.proto.help and "_text.csv" in shp.proto.help and "_fields.csv" in shp.proto.help
    assert not [b for b in at.get("download_button") if b.proto.label in ("GeoPackage", "Excel") and b.proto.help]
