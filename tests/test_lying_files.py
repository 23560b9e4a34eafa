"""Files that lie about what they are, through the real CLI and the app's upload.

A .shp zip whose .dbf is an image or a zip, a .gpkg that is a zip or text,
an .xlsx that is a CSV, a .geojson that is a zip, a zip entry whose name hides
a NUL, a workspace CRS that is no CRS: each is refused with exit 2 and a
message naming the file and saying what it really is and what to do; the
workspace's content fingerprint is unchanged.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from planner.cli import main
from planner.io.fingerprint import content_fingerprint
from planner.io.store import GpkgStore
from tests.conftest import box_grid
from tests.hostile_files import parcels, write_shp, zip_entries
from tests.test_app_new_workspace import data_dir  # noqa: F401  (a fixture: the app's data directory)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200


@pytest.fixture
def ws(tmp_path) -> Path:
    path = tmp_path / "ws" / "ws.gpkg"
    path.parent.mkdir()
    GpkgStore(path, crs="EPSG:4549", create=True).publish_survey(box_grid(3, 3), label="base", user="gis")
    return path


def run_cli(argv) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main([str(a) for a in argv])
    return rc, out.getvalue() + err.getvalue()


def refused(argv, ws: Path, *needles: str) -> str:
    before = content_fingerprint(str(ws))
    rc, text = run_cli(argv)
    assert rc == 2, text
    assert "Traceback" not in text
    for n in needles:
        assert n in text, f"{n!r} not in:\n{text}"
    assert content_fingerprint(str(ws)) == before
    return text


def shapefile_parts(tmp_path: Path) -> dict[str, bytes]:
    shp = write_shp(parcels(3), tmp_path / "src" / "parcels.shp")
    return {f"parcels{ext}": shp.with_suffix(ext).read_bytes() for ext in (".shp", ".shx", ".dbf", ".prj")}


def lying_file(kind: str, tmp_path: Path) -> Path:
    parts = shapefile_parts(tmp_path)
    good_zip = zip_entries(tmp_path / "good.zip", parts)
    if kind == "dbf_png":
        return zip_entries(tmp_path / "survey.zip", {**parts, "parcels.dbf": PNG})
    if kind == "dbf_zip":
        return zip_entries(tmp_path / "survey.zip", {**parts, "parcels.dbf": good_zip.read_bytes()})
    if kind == "gpkg_zip":
        p = tmp_path / "survey.gpkg"
        p.write_bytes(good_zip.read_bytes())
        return p
    if kind == "gpkg_text":
        p = tmp_path / "survey.gpkg"
        p.write_text("ZDDM,WKT\nZ1,POLYGON EMPTY\n", encoding="utf-8")
        return p
    if kind == "geojson_zip":
        p = tmp_path / "survey.geojson"
        p.write_bytes(good_zip.read_bytes())
        return p
    if kind == "shp_pdf":
        d = tmp_path / "shp"
        d.mkdir()
        for name, data in parts.items():
            (d / name).write_bytes(data)
        (d / "parcels.shp").write_bytes(b"%PDF-1.7\n" + b"x" * 200)
        return d / "parcels.shp"
    if kind == "nul_name":
        return zip_entries(tmp_path / "survey.zip", {**{k: v for k, v in parts.items() if k != "parcels.dbf"},
                                                     "parcels\x00.dbf": parts["parcels.dbf"]})
    raise AssertionError(kind)


#: kind -> what the message says (besides the file's name)
LIES = {
    "dbf_png": ("survey.zip!parcels.dbf", "is a PNG image, not a dBASE table (.dbf)", "export it again"),
    "dbf_zip": ("survey.zip!parcels.dbf", "is a zip archive", "not a dBASE table"),
    "gpkg_zip": ("survey.gpkg", "is a zip archive", "not a GeoPackage", "rename it to end in .zip"),
    "gpkg_text": ("survey.gpkg", "is a text file (a CSV?)", "rename it to end in .csv"),
    "geojson_zip": ("survey.geojson", "is a zip archive", "not a GeoJSON text file", "rename it to end in .zip"),
    "shp_pdf": ("parcels.shp", "is a PDF document, not a shapefile (.shp)"),
    "nul_name": ("survey.zip", "'parcels\\x00.dbf' has control characters", "nothing was extracted"),
}


@pytest.mark.parametrize("kind", list(LIES))
def test_a_file_that_lies_about_its_kind_is_refused_by_ingest(kind, tmp_path, ws):
    """Before: GDAL's "not recognized as being in a supported file format ... prefixing the file path with
    '<DRIVER>:'", a .dbf header "claiming 169,478,669 records", or (a NUL in a zip name, cut by zipfile) "the
    .dbf file is missing"."""
    src = lying_file(kind, tmp_path)
    refused(["ingest", src, "-w", ws], ws, *LIES[kind])
    text = refused(["ingest", src, "--dry-run"], ws, *LIES[kind])
    assert "DRIVER" not in text and "169,478,669" not in text


def test_workspace_init_from_a_file_that_lies_is_refused(tmp_path):
    src = lying_file("gpkg_zip", tmp_path)
    rc, text = run_cli(["workspace", "init", tmp_path / "new.gpkg", "--from", src])
    assert rc == 2 and "not a GeoPackage" in text and "Traceback" not in text
    assert not (tmp_path / "new.gpkg").exists()


@pytest.mark.parametrize(("name", "data", "needles"), [
    ("2024亩均效益.xlsx", "统一社会信用代码,企业名称\n91350582MA2YCT8X4L,甲\n".encode("gbk"),
     ("2024亩均效益.xlsx", "is a text file (a CSV?), not an Excel workbook (.xlsx)", "rename it to end in .csv")),
    ("2024亩均效益.xlsx", b"%PDF-1.7\n" + b"x" * 100, ("is a PDF document, not an Excel workbook",)),
    ("宗地关联.csv", b"PK\x05\x06" + b"\x00" * 18, ("宗地关联.csv", "is an empty zip archive, not a CSV text file")),
])
def test_an_enterprise_table_that_lies_about_its_kind_is_refused(name, data, needles, tmp_path, ws):
    """Before: "2024亩均效益.xlsx: not a readable zip file (File is not a zip file); re-create the archive"."""
    src = tmp_path / name
    src.write_bytes(data)
    refused(["enterprise", "ingest", src, "-w", ws], ws, *needles)


@pytest.mark.parametrize(("crs", "needles"), [
    ("gcj02", ("CRS 'gcj02'", "a CRS of data, not of a workspace", "--source-crs gcj02")),
    ("EPSG:99999999", ("CRS 'EPSG:99999999'", "not a CRS pyproj understands", "EPSG:4549")),
])
def test_workspace_init_with_a_crs_that_is_no_crs_is_refused(crs, needles, tmp_path):
    """Before: a pyproj CRSError traceback (exit 1)."""
    rc, text = run_cli(["workspace", "init", tmp_path / "new.gpkg", "--crs", crs])
    assert rc == 2, text
    assert "Traceback" not in text
    for n in needles:
        assert n in text, text
    assert not (tmp_path / "new.gpkg").exists()


def test_workspace_init_from_data_without_a_crs_names_its_own_option(tmp_path):
    """`workspace init --from` takes the data's CRS as --source-crs (its --crs is the workspace's): the advice
    said "Give it with --crs", which then failed with a traceback for gcj02."""
    gdf = parcels(3).to_crs(4326).set_crs(None, allow_override=True)
    src = write_shp(gdf, tmp_path / "noprj" / "parcels.shp")
    src.with_suffix(".prj").unlink(missing_ok=True)
    rc, text = run_cli(["workspace", "init", tmp_path / "new.gpkg", "--from", src])
    assert rc == 2 and "has no CRS" in text and "--source-crs" in text, text
    assert "--crs" not in text.replace("--source-crs", "")
    rc, text = run_cli(["workspace", "init", tmp_path / "new.gpkg", "--from", src, "--source-crs", "EPSG:4490"])
    assert rc == 0, text


# -- the app's upload ------------------------------------------------------------------------------------
def test_the_app_refuses_files_that_lie_naming_the_uploaded_file(tmp_path, ws, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from tests._text import rendered
    from tests.test_security import APP

    monkeypatch.setenv("PLANNER_WORKSPACE", str(ws))
    monkeypatch.delenv("PLANNER_DATA_DIR", raising=False)
    monkeypatch.delenv("PLANNER_WORKSPACES", raising=False)
    monkeypatch.setenv("PLANNER_UPLOAD_DIR", str(tmp_path / "uploads"))
    before = content_fingerprint(str(ws))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("views/data.py").run()
    for kind, shown, needle in (("gpkg_zip", "调查2024.gpkg", "不是GeoPackage"),
                                ("dbf_png", "调查2024.zip", "PNG 图片"),
                                ("nul_name", "调查2024.zip", "parcels\\x00.dbf")):
        (tmp_path / kind).mkdir()
        src = lying_file(kind, tmp_path / kind)
        at.file_uploader[0].set_value((shown, src.read_bytes(), "application/octet-stream")).run()
        assert not at.exception, [e.message for e in at.exception]
        errors = [rendered(e.value) for e in at.error]
        assert any(shown in e and needle in e for e in errors), (kind, errors)
        assert not any("upload." in e for e in errors), errors  # the server's name never shows
    assert content_fingerprint(str(ws)) == before


@pytest.mark.parametrize("crs", ["gcj02", "EPSG:99999999", "WGS84 please"])
def test_the_app_refuses_a_new_workspace_crs_that_is_no_crs(crs, data_dir):  # noqa: F811  (the fixture)
    """Before: a pyproj CRSError shown as an exception on the data manager page."""
    from tests._text import rendered
    from tests.test_app_new_workspace import _create, _data_page, _tree

    d = data_dir
    at = _create(_data_page(), "city", crs)
    assert not at.exception, [e.message for e in at.exception]
    errors = [rendered(e.value) for e in at.error]
    assert any("未创建" in e and repr(crs) in e and "EPSG:4549" in e for e in errors), errors
    assert _tree(d) == []
