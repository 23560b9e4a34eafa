"""Adversarial inputs through the real CLI: each is refused (exit 2) or loses only its bad rows.

Every case is built here from small files (zip tricks, NaN and huge
coordinates, lying .dbf headers, MultiPatch and TIN surfaces, 2-point rings,
attribute-only layers, a read-only workspace or folder, a full disk) and
asserts what a user sees: the exit code, a message naming the file or row,
no traceback, and a workspace whose content fingerprint
(:func:`planner.io.fingerprint.workspace_fingerprint`) is unchanged.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from planner.cli import main
from planner.errors import DataError, StoreError
from planner.ingest import choose_mode
from planner.ingest.publish import merge_update
from planner.io.fingerprint import changed_parts, workspace_fingerprint
from planner.io.readers import ReadLimits, read_source, safe_extract
from planner.io.store import GpkgStore
from tests.conftest import box_grid
from tests.hostile_files import (
    X0,
    Y0,
    lie_in_dbf_header,
    multipatch_record,
    parcels,
    polygon_record,
    rewrite_shp,
    ring,
    set_encrypted_flag,
    set_gpkg_geometry,
    wkb_polygon,
    wkb_tin,
    write_shp,
    zip_entries,
)


# -- helpers -------------------------------------------------------------------------
def new_workspace(path: Path) -> GpkgStore:
    """A workspace with a 3 x 3 survey (ids r0c0..r2c2 at X0, Y0), a saved policy and their audit rows."""
    ws = GpkgStore(path, crs="EPSG:4549", create=True)
    ws.publish_survey(box_grid(3, 3), label="base", user="gis")
    ws.save_doc("policy", "p", {"min_criteria": 2}, user="planner")
    return ws


@pytest.fixture
def ws(tmp_path) -> GpkgStore:
    return new_workspace(tmp_path / "ws" / "ws.gpkg")


def leftovers(ws_path: Path) -> list[str]:
    """Temporary copies and journals a failed write must not leave behind."""
    return sorted(p.name for p in Path(ws_path).parent.iterdir() if ".tmp.gpkg" in p.name or p.name.endswith("-journal"))


def refused(argv: list[str], ws_path: Path, capsys, *needles: str) -> str:
    """Run the CLI in-process: exit 2, the needles in stderr, no traceback, workspace unchanged."""
    before = workspace_fingerprint(ws_path)
    mode = Path(ws_path).stat().st_mode
    rc = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "Traceback" not in err
    for n in needles:
        assert n in err, f"{n!r} not in:\n{err}"
    assert changed_parts(before, workspace_fingerprint(ws_path)) == []
    assert Path(ws_path).stat().st_mode == mode
    assert leftovers(ws_path) == []
    return err


def refused_in_subprocess(argv: list[str], ws_path: Path, *needles: str) -> str:
    """The same through a separate ``planner`` process (what a user's shell runs)."""
    before = workspace_fingerprint(ws_path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    code = "import sys; from planner.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.run([sys.executable, "-c", code, *map(str, argv)], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    for n in needles:
        assert n in proc.stderr, f"{n!r} not in:\n{proc.stderr}"
    assert changed_parts(before, workspace_fingerprint(ws_path)) == []
    return proc.stderr


def ingest_ok(argv: list[str], capsys) -> str:
    rc = main(["ingest", *map(str, argv)])
    out, err = capsys.readouterr()
    assert rc == 0, err
    return out


# -- zips ------------------------------------------------------------------------------
def test_zip_of_entries_of_exactly_one_mib_is_refused(tmp_path, ws, capsys):
    """Today's bomb: entries of exactly 1 MiB slipped under a ratio check that looked only above 1 MiB."""
    z = zip_entries(tmp_path / "bomb.zip", {f"d/{i:03d}.csv": b"0" * (1 << 20) for i in range(20)})
    assert z.stat().st_size < 40_000
    refused(["ingest", z, "-w", ws.path], ws.path, capsys, "bomb.zip", "'d/000.csv'", "possible zip bomb")
    with pytest.raises(Exception, match="compresses"):
        safe_extract(z, tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.csv"))


def test_zip_of_many_small_entries_is_refused_by_its_total_ratio(tmp_path, ws, capsys):
    """Entries under the per-entry floor add up: the whole archive's ratio bounds them."""
    z = zip_entries(tmp_path / "many.zip", {f"{i:04d}.csv": b"0" * (60 << 10) for i in range(400)})
    err = refused(["ingest", z, "-w", ws.path], ws.path, capsys, "many.zip", "unpack to", "possible zip bomb")
    assert "24,576,000 bytes" in err


def test_zip_budget_leaves_real_surveys_alone(tmp_path):
    """A shapefile with a wide, mostly blank text field (compresses ~70:1) still unpacks."""
    g = parcels(400, note=[""] * 400, owner=["晋江恒安实业有限公司"] * 400)
    shp = write_shp(g, tmp_path / "src" / "parcels.shp")
    z = zip_entries(tmp_path / "ok.zip", {p.name: p.read_bytes() for p in shp.parent.iterdir()})
    assert len(read_source(z)) == 400


@pytest.mark.parametrize(("name", "shown"), [
    ("survey/" + "宗" * 90 + ".shp", "bytes)"),  # 270 bytes of UTF-8 in one name
    ("a" * 300 + ".csv", "bytes)"),
])
def test_zip_entry_name_too_long_for_the_file_system(tmp_path, ws, capsys, name, shown):
    z = zip_entries(tmp_path / "long.zip", {name: b"x", "ok.csv": b"a,wkt\n"})
    refused(["ingest", z, "-w", ws.path], ws.path, capsys, "long.zip", "too long for the file system", shown)


@pytest.mark.parametrize(("name", "shown"), [("parcels\x1b[2J.shp", "parcels\\x1b[2J.shp"),
                                             ("a\nb.csv", "a\\x0ab.csv"), ("bell\x07.dbf", "bell\\x07.dbf")])
def test_zip_entry_name_with_control_characters(tmp_path, ws, capsys, name, shown):
    z = zip_entries(tmp_path / "ctl.zip", {name: b"x"})
    err = refused(["ingest", z, "-w", ws.path], ws.path, capsys, "ctl.zip", "control characters", shown)
    assert "\x1b" not in err and "\x07" not in err


def test_zip_bomb_refused_in_a_separate_process(tmp_path, ws):
    z = zip_entries(tmp_path / "bomb.zip", {f"{i}.dbf": b"\0" * (1 << 20) for i in range(8)})
    refused_in_subprocess(["ingest", z, "-w", ws.path], ws.path, "bomb.zip", "possible zip bomb")


def _shp_zip(tmp_path: Path, name: str, extra: dict[str, bytes] | None = None) -> Path:
    """A zipped 3-parcel shapefile (ids Z1..Z3), plus ``extra`` entries after it."""
    shp = write_shp(parcels(3), tmp_path / "src" / "parcels.shp")
    z = zip_entries(tmp_path / name, {p.name: p.read_bytes() for p in sorted(shp.parent.iterdir())})
    with zipfile.ZipFile(z, "a") as zf, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Duplicate name": wanted here
        for entry, data in (extra or {}).items():
            zf.writestr(entry, data)
    return z


def test_zip_with_password_protected_entries_is_refused(tmp_path, ws, capsys):
    """Today: RuntimeError "File ... is encrypted, password required" and a traceback (exit 1)."""
    z = set_encrypted_flag(_shp_zip(tmp_path, "locked.zip"))
    refused(["ingest", z, "-w", ws.path], ws.path, capsys, "locked.zip", "'parcels.", "password-protected",
            "without a password")
    err = refused(["workspace", "init", tmp_path / "new.gpkg", "--from", z], ws.path, capsys, "locked.zip",
                  "password-protected")
    assert not (tmp_path / "new.gpkg").exists(), err


def test_excel_workbook_with_password_protected_entries_is_refused(tmp_path, ws, capsys):
    t = tmp_path / "企业.xlsx"
    pd.DataFrame([["统一社会信用代码", "企业名称", "实缴税金"], ["91350582MA0000001X", "甲", "1"]]).to_excel(
        t, header=False, index=False)
    set_encrypted_flag(t)
    refused(["enterprise", "ingest", t, "-w", ws.path], ws.path, capsys, "企业.xlsx", "password-protected",
            "save the workbook again without a password")


def test_an_excel_file_saved_with_a_password_is_refused_as_such(tmp_path, ws, capsys):
    """Excel stores a password-protected workbook as an OLE compound file, not a zip."""
    t = tmp_path / "密.xlsx"
    t.write_bytes(bytes.fromhex("d0cf11e0a1b11ae1") + b"\0" * 504)
    refused(["enterprise", "ingest", t, "-w", ws.path], ws.path, capsys, "密.xlsx", "password", ".xlsx")


@pytest.mark.parametrize(("second", "shown"), [
    ("parcels.dbf", "entry 'parcels.dbf' appears twice"),
    ("PARCELS.DBF", "entries 'parcels.dbf' and 'PARCELS.DBF' have names that differ only in case"),
    ("./parcels.dbf", "entries 'parcels.dbf' and './parcels.dbf' are the same path"),
    ("sub\\..\\parcels.dbf", None),
])
def test_zip_with_two_entries_of_one_name_is_refused(tmp_path, ws, capsys, second, shown):
    """Today the last copy won silently: another file's attributes on these polygons."""
    other = write_shp(parcels(3, prefix="X"), tmp_path / "other" / "parcels.shp").with_suffix(".dbf").read_bytes()
    z = _shp_zip(tmp_path, "dup.zip", {second: other})
    if shown is None:  # a path out of the folder is refused for that reason first
        refused(["ingest", z, "-w", ws.path], ws.path, capsys, "dup.zip", "escapes the target folder")
        return
    refused(["ingest", z, "-w", ws.path, "--dry-run"], ws.path, capsys, "dup.zip", shown, "each file once")
    with pytest.raises(Exception, match="each file once"):
        read_source(z)


def test_zip_entries_in_different_folders_may_share_a_file_name(tmp_path):
    z = _shp_zip(tmp_path, "two.zip", {"old/readme.txt": b"a", "new/readme.txt": b"b"})
    got = safe_extract(z, tmp_path / "out")
    assert sorted(p.read_bytes() for p in got if p.name == "readme.txt") == [b"a", b"b"]


def test_read_limits_are_adjustable(tmp_path):
    z = zip_entries(tmp_path / "z.zip", {"a.csv": b"0" * (200 << 10)})
    with pytest.raises(Exception, match="compresses"):
        safe_extract(z, tmp_path / "o1")
    assert len(safe_extract(z, tmp_path / "o2", ReadLimits(max_ratio=10_000))) == 1


@pytest.mark.parametrize("layer", ["nonexistent", "../parcels", "PARCELS"])
def test_a_layer_the_zip_does_not_hold_is_refused(tmp_path, ws, capsys, layer):
    """Today `--layer nonexistent` on a zip of one dataset was ignored and that dataset ingested."""
    z = _shp_zip(tmp_path, "one.zip")
    refused(["ingest", z, "-w", ws.path, "--layer", layer], ws.path, capsys, "one.zip", f"no layer {layer!r}",
            "parcels (parcels.shp)")
    refused(["workspace", "init", tmp_path / "n.gpkg", "--from", z, "--layer", layer], ws.path, capsys,
            f"no layer {layer!r}")
    ingest_ok([z, "-w", ws.path, "--layer", "parcels", "--dry-run"], capsys)


def test_a_layer_a_single_layer_file_does_not_hold_is_refused(tmp_path, ws, capsys):
    shp = write_shp(parcels(3), tmp_path / "src" / "parcels.shp")
    refused(["ingest", shp, "-w", ws.path, "--layer", "宗地"], ws.path, capsys, "parcels.shp", "no layer '宗地'",
            "parcels")
    f = tmp_path / "p.csv"
    f.write_text(f'ZDDM,wkt\nZ1,"{_square_wkt(X0 + 500)}"\n', encoding="utf-8")
    refused(["ingest", f, "-w", ws.path, "--crs", "EPSG:4549", "--layer", "x"], ws.path, capsys, "p.csv", "no layer 'x'")
    ingest_ok([shp, "-w", ws.path, "--layer", "parcels", "--dry-run"], capsys)


def test_a_layer_named_in_a_zip_keeps_the_update_extent_beside_it(tmp_path, ws, capsys):
    ext = write_shp(gpd.GeoDataFrame({"FWMC": ["a"]}, geometry=[shapely.box(X0, Y0, X0 + 150, Y0 + 50)],
                                     crs="EPSG:4549"), tmp_path / "e" / "更新范围.shp")
    z = _shp_zip(tmp_path, "upd.zip", {p.name: p.read_bytes() for p in ext.parent.iterdir()})
    for argv in ([], ["--layer", "parcels"]):
        assert "update extent 更新范围.shp" in ingest_ok([z, "-w", ws.path, "--dry-run", *argv], capsys)


# -- coordinates ----------------------------------------------------------------------
def _csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    lines = ["ZDDM,wkt"] + [f'{pid},"{wkt}"' for pid, wkt in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _square_wkt(x: float, y: float = Y0, size: float = 50.0) -> str:
    return f"POLYGON (({x} {y}, {x + size} {y}, {x + size} {y + size}, {x} {y + size}, {x} {y}))"


BAD_COORDS = {
    "nan": f"POLYGON (({X0} {Y0}, nan {Y0}, {X0 + 50} {Y0 + 50}, {X0} {Y0}))",
    "inf": f"POLYGON (({X0} {Y0}, inf {Y0}, {X0 + 50} {Y0 + 50}, {X0} {Y0}))",
    "huge": "POLYGON ((-1e308 -1e308, 1e308 -1e308, 1e308 1e308, -1e308 -1e308))",
    "far": "POLYGON ((1e15 1e15, 1.00001e15 1e15, 1.00001e15 1.00001e15, 1e15 1e15))",
}


@pytest.mark.parametrize("kind", sorted(BAD_COORDS))
def test_absurd_coordinates_are_rejected_rows(tmp_path, ws, capsys, kind):
    """NaN, infinite and absurd coordinates: the row is a problem (here the only row, so the load is refused)."""
    f = _csv(tmp_path / f"{kind}.csv", [("Z9", BAD_COORDS[kind])])
    err = refused(["ingest", f, "-w", ws.path, "--crs", "EPSG:4549"], ws.path, capsys,
                  f"{kind}.csv", "1 of 1 rows rejected")
    row = next(ln for ln in err.splitlines() if " Z9 " in ln)
    assert row.split()[0] == "1" and "rejected" in row
    assert any(w in row for w in ("not finite", "infinite or beyond", "absurd", "broken coordinates"))


def test_a_region_delivered_as_a_parcel_is_refused_with_its_area(tmp_path, ws, capsys):
    """A county boundary (2,000 km²) in a parcel layer was refused as "absurd coordinates": it says its area."""
    f = _csv(tmp_path / "county.csv", [("Z9", f"POLYGON(({X0} {Y0},{X0 + 50_000} {Y0},{X0 + 50_000} {Y0 + 40_000},"
                                               f"{X0} {Y0 + 40_000},{X0} {Y0}))")])
    err = refused(["ingest", f, "-w", ws.path, "--crs", "EPSG:4549"], ws.path, capsys, "county.csv",
                  "1 of 1 rows rejected")
    assert "polygon area 2,000 km², over 1,000 km²: not one parcel" in err and "absurd" not in err


@pytest.mark.parametrize("kind", ["huge", "inf", "nan"])
def test_a_bad_row_never_replaces_the_survey(tmp_path, ws, capsys, kind):
    """A 2-row file, one row at ±1e308 (coverage NaN): today `auto` chose replace and 9 parcels were lost."""
    f = _csv(tmp_path / "two.csv", [("N1", _square_wkt(X0 + 1000)), ("N2", BAD_COORDS[kind])])
    out = ingest_ok([f, "-w", ws.path, "--crs", "EPSG:4549"], capsys)
    assert "mode auto -> update" in out and "1 row(s) were rejected" in out
    cur = ws.read_parcels()
    assert sorted(cur["parcel_id"]) == sorted([*box_grid(3, 3)["parcel_id"], "N1"])


def test_auto_mode_with_rejected_rows_updates_even_a_whole_survey(tmp_path, ws, capsys):
    """A file covering the whole survey but with one rejected row is merged, not taken as the new whole."""
    rows = [(f"r0c{i}", _square_wkt(X0 + 50 * i)) for i in range(3)] + [("bad", BAD_COORDS["inf"])]
    rows += [("new", _square_wkt(X0 + 50 * 10))]  # a parcel the survey lacks: the update adds it
    out = ingest_ok([_csv(tmp_path / "most.csv", rows), "-w", ws.path, "--crs", "EPSG:4549"], capsys)
    assert "mode auto -> update" in out
    assert len(ws.read_parcels()) == 10
    # the same file read again with another mode: --publish-again (without it, refused as published before)
    out = ingest_ok([_csv(tmp_path / "most.csv", rows), "-w", ws.path, "--crs", "EPSG:4549", "--mode", "replace",
                     "--publish-again"], capsys)
    assert len(ws.read_parcels()) == 4  # replace on purpose still replaces


def test_choose_mode_never_replaces_on_nan():
    cur = box_grid(3, 3)
    new = box_grid(3, 3)
    assert choose_mode(new, cur)[0] == "replace"
    nan = new.copy()
    nan.loc[0, "geometry"] = shapely.Polygon([(0, 0), (1e308, 0), (1e308, 1e308), (0, 1e308)])
    mode, why = choose_mode(nan, cur)
    assert mode == "update" and "could not be computed" in why
    assert choose_mode(new, cur.iloc[:0])[0] == "replace"


@pytest.mark.parametrize("argv", [["--crs", "EPSG:4549"], ["--crs", "EPSG:4549", "--dry-run"], []])
def test_a_csv_of_a_header_alone_is_refused(tmp_path, ws, capsys, argv):
    """Today: ValueError "zero-size array to reduction operation fmin" and a traceback (exit 1)."""
    f = tmp_path / "空表.csv"
    f.write_text("ZDDM,ZDMJ,wkt\n", encoding="utf-8")
    refused(["ingest", f, "-w", ws.path, *argv], ws.path, capsys, "空表.csv", "has no features", "export")


@pytest.mark.parametrize("argv", [["--source-crs", "EPSG:4549"], [], ["--dry-run"]])
def test_workspace_init_from_a_csv_of_a_header_alone_is_refused(tmp_path, ws, capsys, argv):
    f = tmp_path / "空表.csv"
    f.write_text("ZDDM,ZDMJ,wkt\n", encoding="utf-8")
    new = tmp_path / "new.gpkg"
    refused(["workspace", "init", new, "--from", f, *argv], ws.path, capsys, "空表.csv", "has no features")
    assert not new.exists()


WGS84_PRJ = ('GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],'
             'PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]')


def test_a_prj_in_degrees_on_projected_coordinates_is_named_as_the_cause(tmp_path, ws, capsys):
    """Today every row read "coordinates are not finite numbers" and the mapping or units were blamed."""
    shp = write_shp(parcels(3), tmp_path / "src" / "parcels.shp")
    shp.with_suffix(".prj").write_text(WGS84_PRJ, encoding="ascii")
    z = zip_entries(tmp_path / "lie.zip", {p.name: p.read_bytes() for p in shp.parent.iterdir()})
    err = refused(["ingest", z, "-w", ws.path], ws.path, capsys, "lie.zip", "WGS 84, in degrees",
                  "x runs 500,000 to 500,150", ".prj (or CRS) is wrong", "EPSG:4549", "--crs")
    assert "not finite numbers" not in err and "mapping or units are probably wrong" not in err
    new = tmp_path / "new.gpkg"
    refused(["workspace", "init", new, "--from", z], ws.path, capsys, "lie.zip", ".prj (or CRS) is wrong")
    assert not new.exists()
    refused(["ingest", z, "-w", ws.path, "--crs", "EPSG:4490"], ws.path, capsys, "--crs EPSG:4490 is a CRS in degrees",
            "EPSG:4549")
    ingest_ok([z, "-w", ws.path, "--crs", "EPSG:4549", "--dry-run"], capsys)  # the right CRS: accepted


def test_a_stray_projected_row_in_lonlat_data_costs_only_its_row(tmp_path, ws, capsys):
    """The .prj is blamed only when most rows are not degrees: one stray row is rejected on its own."""
    ll = gpd.GeoSeries(shapely.box(118.5 + np.arange(4) * 1e-3, 24.8, 118.5005 + np.arange(4) * 1e-3, 24.8005),
                       crs="EPSG:4490")
    g = gpd.GeoDataFrame({"ZDDM": ["L1", "L2", "L3", "L4"]}, geometry=ll)
    g.loc[3, "geometry"] = shapely.box(X0, Y0, X0 + 50, Y0 + 50)
    f = tmp_path / "ll.gpkg"
    g.to_file(f)
    # --mode update: these parcels lie off the workspace's survey, which the dry run (as the real run) refuses in auto
    out = ingest_ok([f, "-w", ws.path, "--dry-run", "--mode", "update"], capsys)
    assert "accepted           3" in out and "rejected           1" in out
    assert any(ln.split()[:2] == ["4", "L4"] and "rejected" in ln for ln in out.splitlines())


# -- absurd numbers -------------------------------------------------------------------
def _numbers_csv(path: Path, rows: list[tuple[str, str, str, str, str]]) -> Path:
    """Parcels N1.. (50 m squares east of the workspace's) with ZDMJ (m²), JZMJ (m²), NSE (万元), CYRS."""
    lines = ["ZDDM,ZDMJ,JZMJ,NSE,CYRS,wkt"] + [
        f'N{i + 1},{a},{f},{t},{e},"{_square_wkt(X0 + 1000 + 60 * i)}"' for i, (a, f, t, e, _) in enumerate(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# (ZDMJ, JZMJ, NSE 万元, CYRS, what the row shows); every other row is a good one
ABSURD = [("inf", "3000", "10", "20", "ZDMJ: not a finite number"),
          ("1e309", "3000", "10", "20", "ZDMJ: not a finite number"),
          ("1e300", "3000", "10", "20", "ZDMJ: land_area_m2 over 1,000,000,000"),
          ("-inf", "3000", "10", "20", "ZDMJ: not a finite number"),
          ("2500", "1e300", "10", "20", "JZMJ: floor_area_m2 over 20,000,000,000"),
          ("2500", "3000", "1e308", "20", "NSE: not a finite number"),
          ("2500", "3000", "inf", "20", "NSE: not a finite number"),
          ("2500", "3000", "2e8", "20", "NSE: tax_cny over 1,000,000,000,000"),
          ("2500", "3000", "10", "1e18", "CYRS: employees over 1,000,000")]
GOOD = ("2500", "3000", "10", "20", "")


def test_infinite_and_absurd_survey_numbers_null_their_field_and_are_reported(tmp_path, ws, capsys):
    """Today inf and 1e300 m² were stored (three-low grade D), 1e308 万元 overflowed to an inf tax, 1e18 employees."""
    rows = [r for bad in ABSURD for r in (bad, GOOD)]
    f = _numbers_csv(tmp_path / "调查.csv", rows)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no "overflow encountered in multiply"
        out = ingest_ok([f, "-w", ws.path, "--crs", "EPSG:4549", "--mode", "update"], capsys)
    for i, (*_, shown) in enumerate(rows):
        if shown:
            line = next(ln for ln in out.splitlines() if ln.split()[:2] == [str(i + 1), f"N{i + 1}"] and shown in ln)
            assert "nulled" in line
    p = ws.read_parcels().set_index("parcel_id").loc[[f"N{i + 1}" for i in range(len(rows))]]
    assert len(p) == len(rows)  # every parcel stays
    for c in ("land_area_m2", "floor_area_m2", "tax_cny", "employees"):
        v = p[c].to_numpy(dtype=float)
        assert not np.isinf(v).any(), c
    assert p["land_area_m2"].to_numpy() == pytest.approx(2500.0)  # nulled: the geometry's area
    assert np.isnan(p.loc["N9", "floor_area_m2"]) and p.loc["N10", "floor_area_m2"] == 3000
    assert np.isnan(p.loc[["N11", "N13", "N15"], "tax_cny"]).all()
    assert np.isnan(p.loc["N17", "employees"]) and p.loc["N18", "employees"] == 20
    assert p.loc["N12", "tax_cny"] == pytest.approx(1e5)
    assert p["ingest_flags"].str.contains("impossible:tax_cny").sum() == 1


def test_a_column_of_absurd_numbers_is_refused_as_a_wrong_unit(tmp_path, ws, capsys):
    """Most values over the bound: the unit is wrong, not the rows (exit 2, nothing stored)."""
    f = _numbers_csv(tmp_path / "亿.csv", [("2500", "3000", "5e9", "20", "")] * 3 + [GOOD])
    refused(["ingest", f, "-w", ws.path, "--crs", "EPSG:4549"], ws.path, capsys, "亿.csv", "tax_cny nulled",
            "units are probably wrong", "NSE: tax_cny over 1,000,000,000,000")


# -- lying headers, surfaces, attribute tables -------------------------------------------
def test_dbf_header_claiming_two_billion_records(tmp_path, ws, capsys):
    """Today: MemoryError. Now: refused, the .dbf named, before any reader allocates for the claim."""
    shp = write_shp(parcels(3), tmp_path / "lie" / "lie.shp")
    lie_in_dbf_header(shp, 2_000_000_000)
    refused(["ingest", shp, "-w", ws.path], ws.path, capsys, "lie.dbf", "claims 2,000,000,000 records",
            "holds at most 3")


def test_dbf_header_lie_inside_a_zip_in_a_separate_process(tmp_path, ws):
    shp = write_shp(parcels(3), tmp_path / "lie" / "宗地.shp")
    lie_in_dbf_header(shp, 50_000_000)
    z = zip_entries(tmp_path / "lie.zip", {p.name: p.read_bytes() for p in shp.parent.iterdir()})
    refused_in_subprocess(["ingest", z, "-w", ws.path], ws.path, "宗地.dbf", "truncated or damaged")


def test_shapefile_multipatch_is_refused(tmp_path, ws, capsys):
    """MultiPatch comes out of GDAL as TIN (WKB 16): today a GEOS ParseException on the Arrow path."""
    shp = write_shp(parcels(3), tmp_path / "mp" / "buildings.shp")
    strip = [(X0, Y0, 0.0), (X0 + 50, Y0, 0.0), (X0, Y0 + 50, 10.0), (X0 + 50, Y0 + 50, 10.0)]
    rewrite_shp(shp, [multipatch_record([strip])] * 3)
    refused(["ingest", shp, "-w", ws.path], ws.path, capsys, "buildings.shp", "MultiPatch", "rows [1, 2, 3]",
            "export the parcels as a polygon layer")


def test_geopackage_with_a_tin_row_is_refused(tmp_path, ws, capsys):
    gpkg = tmp_path / "tin.gpkg"
    parcels(3).to_file(gpkg, layer="parcels", driver="GPKG")
    tri = [(X0, Y0, 0.0), (X0 + 50, Y0, 0.0), (X0, Y0 + 50, 0.0), (X0, Y0, 0.0)]
    set_gpkg_geometry(gpkg, "parcels", 2, wkb_tin([tri]))
    refused(["ingest", gpkg, "-w", ws.path], ws.path, capsys, "tin.gpkg", "TIN", "rows [2]")


def test_attribute_only_layer_in_a_geopackage(tmp_path, ws, capsys):
    """Today: "'DataFrame' object has no attribute 'crs'"."""
    gpkg = tmp_path / "mixed.gpkg"
    parcels(3).to_file(gpkg, layer="parcels", driver="GPKG")
    pyogrio.write_dataframe(pd.DataFrame({"ZDDM": ["Z1"], "owner": ["x"]}), gpkg, layer="owners")
    refused(["ingest", gpkg, "--layer", "owners", "-w", ws.path], ws.path, capsys, "mixed.gpkg", "'owners'",
            "has no geometry", "parcels")
    only = tmp_path / "table.gpkg"
    pyogrio.write_dataframe(pd.DataFrame({"ZDDM": ["Z1"]}), only, layer="owners")
    refused(["ingest", only, "-w", ws.path], ws.path, capsys, "table.gpkg", "has no geometry")


def test_attribute_only_layer_in_a_filegdb(tmp_path, ws, capsys):
    gdb = tmp_path / "survey.gdb"
    pyogrio.write_dataframe(parcels(3), gdb, layer="parcels", driver="OpenFileGDB")
    pyogrio.write_dataframe(pd.DataFrame({"ZDDM": ["Z1"], "owner": ["x"]}), gdb, layer="owners",
                            driver="OpenFileGDB")
    refused(["ingest", gdb, "--layer", "owners", "-w", ws.path], ws.path, capsys, "survey.gdb", "has no geometry")


# -- 2-point rings on every read path ------------------------------------------------------
def _two_point_rows() -> list[list[list[tuple]]]:
    """Row 1 a square, row 2 a 2-point ring alone, row 3 a square with a 2-point hole."""
    x = X0 + 1000
    return [[ring(x)], [[(x + 100, Y0), (x + 150, Y0)]], [ring(x + 200), [(x + 210, Y0 + 10), (x + 220, Y0 + 10)]]]


def _two_point_file(tmp_path: Path, path_kind: str) -> Path:
    rows = _two_point_rows()
    base = parcels(3, x0=X0 + 1000, prefix="T")
    if path_kind in ("shp-arrow", "shp-pandas"):
        if path_kind == "shp-pandas":  # a date field sends the layer through the pandas reader
            base["DJRQ"] = [datetime.date(2020, 1, 1)] * 3
        shp = tmp_path / path_kind / "two.shp"
        shp.parent.mkdir()
        pyogrio.write_dataframe(base, shp, use_arrow=True, encoding="UTF-8")  # Arrow writes a .dbf date field
        return rewrite_shp(shp, [polygon_record(r) for r in rows])
    if path_kind == "gpkg":
        gpkg = tmp_path / "two.gpkg"
        base.to_file(gpkg, layer="two", driver="GPKG")
        for fid, r in enumerate(rows, 1):
            set_gpkg_geometry(gpkg, "two", fid, wkb_polygon(r))
        return gpkg
    wkt = [_square_wkt(X0 + 1000), f"POLYGON (({X0 + 1100} {Y0}, {X0 + 1150} {Y0}))",
           f"POLYGON (({_square_wkt(X0 + 1200)[10:-2]}), ({X0 + 1210} {Y0 + 10}, {X0 + 1220} {Y0 + 10}))"]
    return _csv(tmp_path / "two.csv", list(zip(["T1", "T2", "T3"], wkt, strict=True)))


@pytest.mark.parametrize("path_kind", ["shp-arrow", "shp-pandas", "gpkg", "csv"])
def test_two_point_rings_cost_only_their_row(tmp_path, ws, capsys, path_kind):
    f = _two_point_file(tmp_path, path_kind)
    raw = read_source(f)
    if path_kind in ("shp-arrow", "gpkg"):
        assert raw.table is not None  # the Arrow fast path read it
    elif path_kind == "shp-pandas":
        assert raw.table is None
    out = ingest_ok([f, "-w", ws.path, "--crs", "EPSG:4549", "--mode", "update"], capsys)
    assert "accepted           2" in out and "rejected           1" in out
    row2 = next(ln for ln in out.splitlines() if " T2 " in ln)
    assert row2.split()[0] == "2" and "rejected" in row2
    assert {"T1", "T3"} <= set(ws.read_parcels()["parcel_id"])
    t3 = ws.read_parcels().set_index("parcel_id").loc["T3"]
    assert t3.geometry.area == pytest.approx(2500.0)


def test_a_file_of_only_two_point_rings_is_refused(tmp_path, ws, capsys):
    shp = write_shp(parcels(2, x0=X0 + 1000), tmp_path / "bad" / "rings.shp")
    rewrite_shp(shp, [polygon_record([[(X0, Y0), (X0 + 5, Y0)]])] * 2)
    err = refused(["ingest", shp, "-w", ws.path], ws.path, capsys, "rings.shp", "2 of 2 rows rejected")
    assert "no polygonal part left" in err


# -- absurdly complex parcels ------------------------------------------------------------------
def test_a_parcel_of_twenty_thousand_parts_is_a_problem_not_a_stall(tmp_path, ws, capsys):
    k = 20_000
    i = np.arange(k)
    dust = shapely.multipolygons(shapely.box(X0 + i % 200 * 0.7, Y0 + i // 200 * 0.7,
                                             X0 + i % 200 * 0.7 + 0.5, Y0 + i // 200 * 0.7 + 0.5))
    g = gpd.GeoDataFrame({"ZDDM": ["DUST", "OK1"], "ZDMJ": [5000.0, 2500.0]},
                         geometry=[dust, shapely.box(X0 + 2000, Y0, X0 + 2050, Y0 + 50)], crs="EPSG:4549")
    g.to_file(tmp_path / "dust.gpkg", driver="GPKG")
    out = ingest_ok([tmp_path / "dust.gpkg", "-w", ws.path, "--mode", "update"], capsys)
    row = next(ln for ln in out.splitlines() if " DUST " in ln)
    assert row.split()[0] == "1" and "too complex: 20,000 parts" in row
    assert "OK1" in set(ws.read_parcels()["parcel_id"])


def test_update_merge_splits_many_part_parcels_and_keeps_its_answer():
    """The merge intersects parts, not whole multi-part parcels; the result is the same."""
    cur = box_grid(10, 10)
    i = np.arange(400)
    x0, y0 = 500_000.0, 2_740_000.0
    cells = shapely.box(x0 + i % 20 * 25, y0 + i // 20 * 25, x0 + i % 20 * 25 + 24, y0 + i // 20 * 25 + 24)
    new = gpd.GeoDataFrame({"parcel_id": ["MANY"], "land_area_m2": [1.0]},
                           geometry=[shapely.multipolygons(cells)], crs="EPSG:4549")
    merged, removed = merge_update(cur, new)
    # 400 cells of 24 m in a 25 m lattice over 500 m x 500 m cover 92 % of each 50 m parcel they fall in
    assert len(removed) == 100 and sorted(merged["parcel_id"]) == ["MANY"]
    merged, removed = merge_update(cur, new, cover_share=0.95)
    assert removed == [] and len(merged) == 101


# -- permissions and read-only places --------------------------------------------------------
def test_read_only_workspace_is_refused_not_replaced(tmp_path, ws, capsys):
    """Today a 444 workspace was silently replaced by a 644 copy."""
    f = _csv(tmp_path / "new.csv", [("N1", _square_wkt(X0 + 1000))])
    os.chmod(ws.path, 0o444)
    try:
        err = refused(["ingest", f, "-w", ws.path, "--crs", "EPSG:4549"], ws.path, capsys, f"workspace {ws.path.name} ",
                      "read-only", "-r--r--r--")  # by its file name, as the app and PostGIS name one
        assert "nothing was written" in err
        assert stat.S_IMODE(ws.path.stat().st_mode) == 0o444
        assert len(GpkgStore(ws.path).read_parcels()) == 9  # still readable by everyone
        with pytest.raises(StoreError, match="read-only"):
            GpkgStore(ws.path).save_doc("scenario", "s", {"a": 1})
    finally:
        os.chmod(ws.path, 0o644)


def test_group_shared_workspace_keeps_mode_owner_and_group(tmp_path, ws, capsys):
    """Today a 664 group-shared workspace came back 644 after a publish."""
    gid = os.getegid() if os.geteuid() != 0 else 100  # root may hand the file to any group
    os.chown(ws.path, -1, gid)
    os.chmod(ws.path, 0o664)
    before = ws.path.stat()
    ingest_ok([_csv(tmp_path / "new.csv", [("N1", _square_wkt(X0 + 1000))]), "-w", ws.path,
               "--crs", "EPSG:4549"], capsys)
    after = ws.path.stat()
    assert after.st_ino == before.st_ino  # the file was written in place ...
    assert stat.S_IMODE(after.st_mode) == 0o664  # ... and keeps its mode, owner and group
    assert (after.st_uid, after.st_gid) == (before.st_uid, before.st_gid)
    assert "N1" in set(ws.read_parcels()["parcel_id"])


def _as_user(uid: int, gids: list[int]):
    """``preexec_fn`` that turns a child process into another user (root only)."""
    def switch() -> None:
        os.setgroups(gids)
        os.setgid(gids[0])
        os.setuid(uid)
    return switch


@contextlib.contextmanager
def _interpreter_reachable_by_other_users():
    """Let other users traverse the folders above this Python (root's pyenv under a 0700 /root), then restore them.

    Only the search (x) bit for others is added, to the folders that lack it;
    nothing becomes listable or readable that was not.
    """
    changed = []
    try:
        for d in Path(os.path.realpath(sys.executable)).parents:
            mode = stat.S_IMODE(d.stat().st_mode)
            if not mode & stat.S_IXOTH:
                os.chmod(d, mode | stat.S_IXOTH)
                changed.append((d, mode))
        yield
    finally:
        for d, mode in reversed(changed):
            os.chmod(d, mode)


def test_a_colleague_in_the_group_publishes_into_a_shared_workspace(tmp_path):
    """Alice's 664 workspace in a shared folder; Bob (same group) publishes: mode and group stay, Carol is refused.

    As root the test runs Bob and Carol as real other users (``nobody`` with and
    without the group); elsewhere both are the current user (mode and group only).
    """
    import tempfile

    root = os.geteuid() == 0
    group = 100 if root else os.getegid()
    shared = Path(tempfile.mkdtemp(prefix="planner-shared-", dir="/tmp" if root else tmp_path))
    with contextlib.ExitStack() as stack:
        if root:
            stack.enter_context(_interpreter_reachable_by_other_users())
        stack.callback(subprocess.run, ["rm", "-rf", str(shared)], check=False)
        os.chmod(shared, 0o2775)
        os.chown(shared, -1, group)
        ws = new_workspace(shared / "ws.gpkg")
        os.chown(ws.path, -1, group)
        os.chmod(ws.path, 0o664)
        ws.save_doc("policy", "q", {})  # leaves Alice's lock file behind ...
        lock = ws.path.with_name(f".{ws.path.name}.lock")
        os.chmod(lock, 0o644)  # ... one Bob may not write: he locks through a read-only descriptor
        _csv(shared / "new.csv", [("N1", _square_wkt(X0 + 1000))])
        os.chmod(shared / "new.csv", 0o644)
        code = "import sys; from planner.cli import main; sys.exit(main(sys.argv[1:]))"
        argv = [sys.executable, "-c", code, "ingest", str(shared / "new.csv"), "-w", str(ws.path), "--crs", "EPSG:4549"]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "HOME": str(shared)}
        bob = _as_user(65534, [group]) if root else None
        proc = subprocess.run(argv, capture_output=True, text=True, env={**env, "USER": "bob", "LOGNAME": "bob"},
                              preexec_fn=bob, timeout=300)
        assert proc.returncode == 0, proc.stderr
        st = ws.path.stat()
        assert stat.S_IMODE(st.st_mode) == 0o664 and st.st_gid == group
        assert st.st_uid == os.geteuid()  # written in place: still Alice's file
        assert "N1" in set(ws.read_parcels()["parcel_id"])
        if root:  # Carol is not in the group: refused with who may write, nothing changed
            before = workspace_fingerprint(ws.path)
            proc = subprocess.run([*argv, "--publish-again"], capture_output=True, text=True, timeout=300,
                                  env={**env, "USER": "carol", "LOGNAME": "carol"},
                                  preexec_fn=_as_user(65533, [65533]))
            assert proc.returncode == 2 and "Traceback" not in proc.stderr
            assert "not writable by user carol" in proc.stderr and "-rw-rw-r--" in proc.stderr
            assert "group users" in proc.stderr
            assert changed_parts(before, workspace_fingerprint(ws.path)) == []


def _root_can_mount(tmp_path: Path) -> bool:
    if os.geteuid() != 0:
        return False
    probe = tmp_path / "probe"
    probe.mkdir()
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe)], capture_output=True).returncode == 0
    if ok:
        subprocess.run(["umount", str(probe)], check=True)
    return ok


@contextlib.contextmanager
def tiny_file_system(path: Path, size: str) -> Path:
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder holding a workspace, made read-only: a read-only mount as root, chmod 555 otherwise."""
    if _root_can_mount(tmp_path):
        with tiny_file_system(tmp_path / "ro", "4m") as folder:
            new_workspace(folder / "ws.gpkg")
            subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
            yield folder / "ws.gpkg"
        return
    folder = tmp_path / "ro"
    folder.mkdir()
    new_workspace(folder / "ws.gpkg")
    os.chmod(folder, 0o555)
    try:
        yield folder / "ws.gpkg"
    finally:
        os.chmod(folder, 0o755)


def test_read_only_folder_or_file_system_is_refused(tmp_path, read_only_folder, capsys):
    """Today: a PermissionError traceback on the lock file."""
    f = _csv(tmp_path / "new.csv", [("N1", _square_wkt(X0 + 1000))])
    err = refused(["ingest", f, "-w", read_only_folder, "--crs", "EPSG:4549"], read_only_folder, capsys,
                  f"workspace {read_only_folder.name} ", "cannot be written")  # by its file name
    assert "read-only file system" in err or "is read-only for user" in err
    assert len(GpkgStore(read_only_folder).read_parcels()) == 9
    refused(["classify", "-w", read_only_folder], read_only_folder, capsys, "cannot be written")


# -- a full disk -------------------------------------------------------------------------------
def _fill(folder: Path, leave: int) -> None:
    st = os.statvfs(folder)
    free = st.f_bavail * st.f_frsize
    with open(folder / "filler.bin", "wb") as fh, contextlib.suppress(OSError):
        fh.write(b"\0" * max(free - leave, 0))


@pytest.fixture(params=["tiny-fs", "patched"])
def full_disk(request, tmp_path, monkeypatch):
    """A workspace on a nearly full file system: a 2 MiB tmpfs (as root), or writes patched to fail with ENOSPC."""
    if request.param == "tiny-fs" and _root_can_mount(tmp_path):
        with tiny_file_system(tmp_path / "tiny", "2m") as folder:
            ws = new_workspace(folder / "ws.gpkg")
            _fill(folder, 8192)
            yield ws.path
        return
    ws = new_workspace(tmp_path / "tiny" / "ws.gpkg")
    import sqlite3 as _sqlite3

    import pyogrio

    real = pyogrio.write_dataframe

    def write_half(gdf, path, *a, **k):  # part of the layer lands in the workspace file, then the disk is full
        real(gdf.iloc[: len(gdf) // 2], path, *a, **k)
        raise pyogrio.errors.DataSourceError("Error while writing batch to OGR layer: sqlite3_exec(...) failed: "
                                             "database or disk is full")

    def insert_fails(*a, **k):
        raise _sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(pyogrio, "write_dataframe", write_half)
    monkeypatch.setattr(GpkgStore, "_insert_doc", classmethod(lambda cls, *a, **k: insert_fails()))
    yield ws.path


def test_full_disk_during_publish(tmp_path, full_disk, capsys):
    f = _csv(tmp_path / "new.csv", [("N1", _square_wkt(X0 + 1000))])
    err = refused(["ingest", f, "-w", full_disk, "--crs", "EPSG:4549"], full_disk, capsys, f"workspace {full_disk.name}: ",
                  "the disk is full", "nothing was changed")
    assert "No space left on device" in err


def test_full_disk_during_document_save(full_disk, capsys):
    """`planner classify` stores its flags and policy document in one commit; a save_doc alone too: a full disk
    refuses each cleanly."""
    refused(["classify", "-w", full_disk], full_disk, capsys, "the disk is full", "nothing was changed")
    with pytest.raises(StoreError, match="disk is full"):
        GpkgStore(full_disk).save_doc("scenario", "s", {"text": "x" * 100_000})
    assert sqlite3.connect(full_disk).execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_file_of_only_unreadable_geometries_says_so(tmp_path, ws, capsys):
    f = _csv(tmp_path / "junk.csv", [("J1", "POLYGON ((1 2, 3"), ("J2", "CIRCLE (0 0, 5)")])
    refused(["ingest", f, "-w", ws.path, "--crs", "EPSG:4549"], ws.path, capsys, "junk.csv",
            "no feature has a readable geometry", "2 row(s) could not be read", "row 1: unreadable WKT")


def test_an_output_file_that_cannot_be_written_is_a_refusal(tmp_path, ws, capsys):
    """`classify --out` into a missing folder: exit 2 naming the file, no traceback."""
    out = tmp_path / "no" / "such" / "flags.csv"
    rc = main(["classify", "-w", str(ws.path), "--no-store", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and str(out.parent) in err and "Traceback" not in err


def test_a_broken_pipe_still_exits_quietly(monkeypatch, capfd):
    """The OSError refusal above must not swallow the quiet exit of `planner ... | head`."""
    import planner.cli.workspace as wcmd

    def broken(_args):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(wcmd, "run", broken)
    monkeypatch.setattr(os, "dup2", lambda *a: None)
    assert main(["info", "-w", "x.gpkg"]) == 0
    assert "error" not in capfd.readouterr().err


# -- --out: checked before anything is stored, never the workspace, replaced atomically --------------------------
def _out_cases(tmp_path: Path, ws: GpkgStore) -> dict[str, tuple[str, str]]:
    """Bad --out values of `classify` and `sites`: (value, what the refusal says)."""
    (tmp_path / "adir.csv").mkdir()
    link = tmp_path / "link.gpkg"
    link.symlink_to(ws.path)
    other = new_workspace(tmp_path / "other" / "other.gpkg")
    return {"folder": (str(tmp_path / "adir.csv"), "is a folder; give a file name"),
            "missing folder": (str(tmp_path / "no" / "such" / "f.csv"), "does not exist; create it first"),
            "suffix": (str(tmp_path / "f.txt"), "unknown extension '.txt'"),
            "workspace": (str(ws.path), "is the workspace: an export must not write into a workspace"),
            "./workspace": ("./ws.gpkg", "is the workspace"),
            "symlink": (str(link), "is the workspace"),
            "another workspace": (str(other.path), "is a planner workspace")}


@pytest.mark.parametrize("case", ["folder", "missing folder", "suffix", "workspace", "./workspace", "symlink",
                                  "another workspace"])
def test_classify_refuses_a_bad_out_before_storing_anything(case, tmp_path, ws, capsys, monkeypatch):
    """A folder or missing folder failed only after flags/default was committed (exit 2, yet changed); --out the
    workspace added an unmanaged `flags` layer to it (no lock, audit or catalogue row)."""
    monkeypatch.chdir(Path(ws.path).parent)
    out, says = _out_cases(tmp_path, ws)[case]
    refused(["classify", "-w", ws.path, "--out", out], ws.path, capsys, f"--out {out}", says)


_DIE_WHILE_WRITING = """
import os, signal, sys
from pathlib import Path
import pandas as pd, pyogrio
real_gdal, real_csv = pyogrio.write_dataframe, pd.DataFrame.to_csv
def export(path):
    return isinstance(path, (str, os.PathLike)) and Path(path).parent == Path(os.environ["DIE_IN"])
def gdal(df, path, *a, **kw):
    if not export(path):
        return real_gdal(df, path, *a, **kw)
    real_gdal(df.iloc[:1], path, *a, **kw)  # part of the file on disk, then the process is killed
    os.kill(os.getpid(), signal.SIGKILL)
def csv(self, path=None, *a, **kw):
    if not export(path):
        return real_csv(self, path, *a, **kw)
    real_csv(self.iloc[:1], path, *a, **kw)
    os.kill(os.getpid(), signal.SIGKILL)
pyogrio.write_dataframe, pd.DataFrame.to_csv = gdal, csv
from planner.cli import main
sys.exit(main(sys.argv[1:]))
"""


def killed_while_exporting(argv: list[str], folder: Path) -> None:
    """Run the CLI in a process that is killed (SIGKILL) half-way through writing a file in ``folder``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "DIE_IN": str(folder)}
    proc = subprocess.run([sys.executable, "-c", _DIE_WHILE_WRITING, *map(str, argv)], capture_output=True,
                          text=True, env=env, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson", ".csv"])
def test_a_killed_classify_out_leaves_the_previous_export_whole(suffix, tmp_path, ws):
    """`classify --out old.gpkg` killed while writing left "no such table: flags": the new file is written beside
    and renamed over the old one when complete; the next run removes what the killed one left."""
    folder = tmp_path / "exports"
    folder.mkdir()
    out = folder / f"flags{suffix}"
    assert main(["classify", "-w", str(ws.path), "--no-store", "--out", str(out)]) == 0
    before = out.read_bytes()
    killed_while_exporting(["classify", "-w", ws.path, "--no-store", "--out", out], folder)
    assert out.read_bytes() == before
    assert len(list(folder.iterdir())) == 2  # the killed command's temporary file, beside
    assert main(["classify", "-w", str(ws.path), "--no-store", "--out", str(out)]) == 0
    assert [p.name for p in folder.iterdir()] == [out.name]


def with_flags(ws: GpkgStore) -> GpkgStore:
    """``ws`` with a flags layer: columns 0 and 2 of the 3 x 3 grid three-low (two sites of 7,500 m²)."""
    g = box_grid(3, 3)
    g["three_low"] = ~g["parcel_id"].str.endswith("c1")
    g["upgrade_class"] = np.where(g["three_low"], "redevelop", "upgrade")
    ws.write_layer("flags", "default", g, meta={"policy_hash": "abc"})
    return ws


@pytest.mark.parametrize("case", ["folder", "missing folder", "suffix", "workspace", "./workspace", "symlink",
                                  "another workspace"])
def test_sites_refuses_a_bad_out_before_storing_anything(case, tmp_path, ws, capsys, monkeypatch):
    """`sites --out` a folder stored sites and site_parcels, then exit 2; --out the workspace added unmanaged
    `sites` and `site_parcels` layers to it."""
    with_flags(ws)
    monkeypatch.chdir(Path(ws.path).parent)
    out, says = _out_cases(tmp_path, ws)[case]
    refused(["sites", "-w", ws.path, "--out", out], ws.path, capsys, f"--out {out}", says)


def test_sites_refuses_a_csv_out_whose_parcel_table_cannot_be_written(tmp_path, ws, capsys):
    """`--out s.csv` also writes s_parcels.csv: a folder of that name is refused before the build, not after."""
    with_flags(ws)
    (tmp_path / "s_parcels.csv").mkdir()
    refused(["sites", "-w", ws.path, "--out", tmp_path / "s.csv"], ws.path, capsys,
            f"--out {tmp_path / 's_parcels.csv'} is a folder")


@pytest.mark.parametrize("option", ["--name", "--save-params"])
@pytest.mark.parametrize("name", ["", "  ", "a@2"])
def test_sites_refuses_a_blank_or_unopenable_name_before_the_build(option, name, ws, capsys):
    """`--save-params ""` was silently not saved (an empty string read as "not given"); `--name ""` fell back."""
    with_flags(ws)
    refused(["sites", "-w", ws.path, option, name], ws.path, capsys, f"name {name!r}", "choose another name")


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson", ".csv"])
def test_a_killed_sites_out_leaves_the_previous_export_whole(suffix, tmp_path, ws):
    """A killed `sites --out` leaves the previous file(s) as they were (both CSVs of a .csv --out, and the record of
    what they were built from beside them)."""
    with_flags(ws)
    folder = tmp_path / "exports"
    folder.mkdir()
    out = folder / f"s{suffix}"
    assert main(["sites", "-w", str(ws.path), "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert len(before) == (3 if suffix == ".csv" else 1), before  # s.csv, s_parcels.csv, s.planner.json
    killed_while_exporting(["sites", "-w", ws.path, "--out", out], folder)
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.name in before} == before
    assert main(["sites", "-w", str(ws.path), "--out", str(out)]) == 0
    assert sorted(p.name for p in folder.iterdir()) == sorted(before)


_DIE_AFTER_RENAMING = """
import os, signal, sys
real = os.replace
def replace(src, dst):
    real(src, dst)
    if os.path.basename(dst) == sys.argv[1]:
        os.kill(os.getpid(), signal.SIGKILL)
os.replace = replace
from planner.cli import main
sys.exit(main(sys.argv[2:]))
"""


def test_a_csv_export_killed_between_its_renames_is_told_apart_from_a_whole_one(tmp_path, ws):
    """`--out s.csv` writes three files and renames them one after the other: killed after the first, s.csv was
    the new table beside the old parcel table and the old record, and the record said nothing was amiss. The
    record now holds both tables' checksums and is renamed last: a mixed set is refused naming the file."""
    from planner.cli.sites import output_files, output_record

    with_flags(ws)
    out = tmp_path / "s.csv"
    assert main(["sites", "-w", str(ws.path), "--out", str(out)]) == 0
    rec = output_record(out)
    before = {p.name: p.read_bytes() for p in output_files(out)}
    assert rec["engine"] == "workspace" and "files" not in rec  # the checksums are checked, not handed on
    proc = subprocess.run([sys.executable, "-c", _DIE_AFTER_RENAMING, "s.csv", "sites", "-w", str(ws.path),
                           "--out", str(out), "--min-area", "0"],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    after = {p.name: p.read_bytes() for p in output_files(out)}
    assert [after[p.name] == before[p.name] for p in output_files(out)] == [False, True, True]  # s.csv new, alone
    with pytest.raises(DataError, match=r"s\.csv: not the file its record s\.planner\.json was written with") as e:
        output_record(out)
    assert "planner sites --out" in str(e.value) and "重新运行" in e.value.zh
    assert main(["sites", "-w", str(ws.path), "--out", str(out), "--min-area", "0"]) == 0
    assert output_record(out)["provenance"]["site_params"]["min_area_m2"] == 0  # whole again, the new build's
    # a table edited by hand afterwards is told too
    output_files(out)[1].write_text("site_id,parcel_id\r\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"s_parcels\.csv: not the file"):
        output_record(out)


def test_a_failed_export_leaves_the_previous_file_its_mode_and_links(tmp_path):
    """An error half-way through an export: the previous file stays, nothing is left beside it; a completed one
    keeps the file's permissions and a symbolic link to it."""
    from planner.io.writers import replacing

    target = tmp_path / "flags [v2].csv"  # glob characters in the name
    target.write_text("old\n")
    target.chmod(0o640)
    link = tmp_path / "latest.csv"
    link.symlink_to(target)
    with pytest.raises(RuntimeError), replacing(link) as tmp:
        tmp.write_text("half")
        raise RuntimeError("disk gone")
    assert target.read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == [target.name, "latest.csv"]
    with replacing(link) as tmp:
        tmp.write_text("new\n")
    assert link.is_symlink() and target.read_text() == "new\n" and stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name, "latest.csv"]
    stale = tmp_path / f".{target.stem}.tmp-999999999{target.suffix}"  # left by a killed command (no such pid)
    stale.write_text("half")
    with replacing(target) as tmp:
        tmp.write_text("newer\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name, "latest.csv"]


def test_an_id_with_invisible_characters_is_kept_and_listed(tmp_path, ws, capsys):
    """"Z1" and "Z1" + a zero-width space are two parcels that look the same: both kept as delivered, the second
    listed (hidden_id, flagged) and printed with its hidden character visible."""
    f = _csv(tmp_path / "twins.csv", [("N1", _square_wkt(X0 + 1000)), ("N1\u200b", _square_wkt(X0 + 1100)),
                                      ("N\u202e2", _square_wkt(X0 + 1200))])
    out = ingest_ok([f, "-w", ws.path, "--crs", "EPSG:4549", "--mode", "update", "--report", tmp_path / "r.json"],
                    capsys)
    assert "N1\\u200b" in out and "N\\u202e2" in out and "\u200b" not in out and "\u202e" not in out
    assert "invisible characters" in out
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    hidden = sorted(p["parcel_id"] for p in report["problems"] if p["code"] == "hidden_id")
    assert hidden == ["N1\u200b", "N\u202e2"] and {p["action"] for p in report["problems"]
                                                  if p["code"] == "hidden_id"} == {"flagged"}
    assert {"N1", "N1\u200b", "N\u202e2"} <= set(ws.read_parcels()["parcel_id"])  # kept as delivered
