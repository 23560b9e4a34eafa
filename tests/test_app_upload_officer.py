"""A GIS officer uploading a survey of their own on the data manager (AppTest), with the mistakes real officers make.

The layer is real third-party data: the county boundaries of Quanzhou in ``../shared/data/china-admin-gcj02``
(no ``.prj``, GCJ-02 longitude/latitude, CJK file names; see its README), given a parcel id column here so that
it loads as a survey. The browser journey is in ``tests/e2e/test_upload_browser.py``.
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from pathlib import Path

import geopandas as gpd
import pytest

from planner import workflow as W
from planner.io.store import GpkgStore
from tests._text import rendered
from tests.conftest import SHARED_DATA
from tests.test_security import APP, _data_page

QUANZHOU = SHARED_DATA / "china-admin-gcj02" / "泉州市.shp"


def need_quanzhou() -> None:
    if not QUANZHOU.exists():
        pytest.skip(f"third-party test data not found at {SHARED_DATA} (only present in the dev/CI layout)")


def quanzhou_zip(tmp_path: Path, *, prj: bool = False) -> bytes:
    """The Quanzhou counties as a zipped shapefile set in a folder, with a parcel id (宗地代码 from the adcode)."""
    need_quanzhou()
    g = gpd.read_file(QUANZHOU, encoding="utf-8").set_crs(4326, allow_override=True)
    g = g[["adcode", "name", "geometry"]].rename(columns={"adcode": "ZDDM", "name": "QLR"})
    out = tmp_path / "shp"
    out.mkdir(exist_ok=True)
    g.to_file(out / "泉州宗地.shp", encoding="utf-8")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for f in sorted(out.iterdir()):
            if f.suffix == ".prj" and not prj:
                continue  # as delivered: no .prj
            z.write(f, f"泉州调查2025/{f.name}")  # the set in a folder, as a zip made of a folder is
    return buf.getvalue()


@pytest.fixture
def ws(tmp_path, monkeypatch):
    path = tmp_path / "ws.gpkg"
    GpkgStore(path, crs="EPSG:4549", create=True)  # a new city's workspace, no survey yet
    monkeypatch.setenv("PLANNER_WORKSPACE", str(path))
    monkeypatch.delenv("PLANNER_DATA_DIR", raising=False)
    monkeypatch.delenv("PLANNER_WORKSPACES", raising=False)
    monkeypatch.setenv("PLANNER_UPLOAD_DIR", str(tmp_path / "uploads"))
    return path


_page = _data_page  # the data manager, in a language


def _sample_city(tmp_path, monkeypatch) -> Path:
    """A copy of the bundled sample city offered by the app (PLANNER_WORKSPACE), uploads under tmp_path/uploads."""
    import shutil

    path = tmp_path / "sample.gpkg"
    shutil.copy(Path(APP).parent / "gis_data" / "sample_city.gpkg", path)
    monkeypatch.setenv("PLANNER_WORKSPACE", str(path))
    monkeypatch.delenv("PLANNER_DATA_DIR", raising=False)
    monkeypatch.delenv("PLANNER_WORKSPACES", raising=False)
    monkeypatch.setenv("PLANNER_UPLOAD_DIR", str(tmp_path / "uploads"))
    return path


def _enterprise_tables_checked(lang: str):
    """The data manager with the sample tax table and its link table uploaded and checked."""
    gis = Path(APP).parent / "gis_data"
    at = _page(lang)
    at.file_uploader[1].set_value(("2024亩均效益.xlsx", (gis / "enterprises_2024.xlsx").read_bytes(),
                                   "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")).run()
    at.file_uploader[2].set_value(("关联表.csv", (gis / "enterprise_parcels_2024.csv").read_bytes(), "text/csv")).run()
    at.button(key="de_check").click().run()
    assert not at.exception, [e.message for e in at.exception]
    return at



def _errors(at) -> list[str]:
    return [rendered(e.value) for e in at.error]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_shp_alone_is_taken_and_answered_with_what_to_zip(ws, lang):
    """The officer picks 泉州市.shp from the set: the uploader takes it (the browser's own refusal is an English
    tooltip, "files are not allowed") and the page says, in its language, to zip the set; nothing is stored."""
    need_quanzhou()
    at = _page(lang)
    allowed = {t.lstrip(".").lower() for t in at.file_uploader[0].allowed_type}
    assert {"shp", "dbf", "shx", "prj", "zip"} <= allowed
    at.file_uploader[0].set_value(("泉州市.shp", QUANZHOU.read_bytes(), "application/octet-stream")).run()
    assert not at.exception, [e.message for e in at.exception]
    errs = _errors(at)
    assert len(errs) == 1, errs
    if lang == "zh":
        assert "泉州市.shp 只是 Shapefile 的一个文件" in errs[0] and "泉州市.dbf" in errs[0] and ".zip" in errs[0]
    else:
        assert "泉州市.shp is only one file of a shapefile" in errs[0] and "泉州市.dbf" in errs[0]
        assert not any("\u4e00" <= ch <= "\u9fff" for ch in errs[0].replace("泉州市", ""))
    assert len(at.button) == 0 or not [b for b in at.button if b.key == "dm_read"]  # nothing to validate
    assert GpkgStore(ws).surveys().empty
    assert not any((Path(os.environ["PLANNER_UPLOAD_DIR"])).glob("u-*/*"))  # the part was not kept


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_layer_without_a_crs_gets_none_assumed_until_the_officer_picks_one(ws, tmp_path, lang):
    """No .prj, GCJ-02 lon/lat: the app used to pick EPSG:4490 (CGCS2000) for it without a word, a few hundred
    metres off; now it says so and validation is refused until a CRS is chosen, as `planner ingest` refuses."""
    at = _page(lang)
    at.file_uploader[0].set_value(("泉州调查2025.zip", quanzhou_zip(tmp_path), "application/zip")).run()
    assert not at.exception, [e.message for e in at.exception]
    crs = at.selectbox(key="dm_crs")
    assert crs.value is None
    warns = [rendered(w.value) for w in at.warning]
    word = "没有坐标系" if lang == "zh" else "has no CRS"
    assert any("泉州调查2025.zip" in w and word in w and "gcj02" in w and "EPSG:4490" in w for w in warns), warns
    at.button(key="dm_read").click().run()
    errs = _errors(at)
    assert any(("没有坐标系" if lang == "zh" else "has no CRS") in e for e in errs), errs
    if lang == "zh":  # the likely CRSs explained in Chinese too (they were English inside the Chinese message)
        crs_err = next(e for e in errs if "没有坐标系" in e)
        assert "火星坐标" in crs_err and "lon/lat" not in crs_err and "web map" not in crs_err, crs_err
    assert not [b for b in at.button if b.key == "dm_publish"]
    assert GpkgStore(ws).surveys().empty
    crs.set_value("gcj02").run()
    assert not [w for w in at.warning if word in rendered(w.value)]
    at.button(key="dm_read").click().run()
    assert not at.exception and not _errors(at), _errors(at)
    at.button(key="dm_publish").click().run()
    cat = GpkgStore(ws).surveys()
    assert cat["version"].tolist() == [1] and cat["n_rows"].iloc[0] > 0
    assert cat["source_file"].iloc[0] == "泉州调查2025.zip"


def test_the_crs_picked_for_one_file_does_not_override_the_next_files_own(ws, tmp_path):
    """gcj02 picked for a file without .prj stayed picked when the officer uploaded the corrected file with its
    .prj, and overrode it (a silent shift of hundreds of metres); a new file starts from its own CRS."""
    at = _page()
    at.file_uploader[0].set_value(("泉州调查2025.zip", quanzhou_zip(tmp_path), "application/zip")).run()
    at.selectbox(key="dm_crs").set_value("gcj02").run()
    (tmp_path / "b").mkdir()
    fixed = quanzhou_zip(tmp_path / "b", prj=True)
    at.file_uploader[0].set_value(("泉州调查2025_含prj.zip", fixed, "application/zip")).run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.selectbox(key="dm_crs").value == "auto"
    assert not [w for w in at.warning if "没有坐标系" in rendered(w.value)]


def test_the_sample_survey_update_read_in_english_reads_english(tmp_path, monkeypatch):
    """The bundled survey update (a GBK shapefile set in a folder of the zip) on the sample city, in English: the
    page's captions join with English commas and say where the encoding came from; it publishes as an update."""
    root, path = Path(APP).parent, _sample_city(tmp_path, monkeypatch)
    at = _page("en")
    data = (root / "gis_data" / "survey_update.zip").read_bytes()
    at.file_uploader[0].set_value(("survey_update.zip", data, "application/zip")).run()
    assert not at.exception, [e.message for e in at.exception]
    captions = [rendered(c.value) for c in at.caption]
    assert any("495 records · GBK (.cpg file says GBK)" in c for c in captions), captions
    # the field mapping's empty cells (no source field, no unit) show a dash: they read "None" on a Chinese page
    assert at.dataframe and all(d.proto.placeholder == "—" for d in at.dataframe), [d.proto.placeholder for d in at.dataframe]
    at.button(key="dm_read").click().run()
    assert not at.exception, [e.message for e in at.exception]
    captions = [rendered(c.value) for c in at.caption]
    changed = [c for c in captions if c.startswith("Floor area")]
    assert changed and "、" not in changed[0] and ", Annual tax" in changed[0], captions
    # the units the numbers were read in (CZ and NSE as 万元 by their names): said, in English
    units = [c for c in captions if c.startswith("Read in:")]
    assert units and "← CZ: 10k yuan" in units[0] and "← NSE: 10k yuan" in units[0], captions
    assert "← JZMD: percent" in units[0] and "Unit column" in units[0]
    at.button(key="dm_publish").click().run()
    assert [s.value for s in at.success if "Published survey version v2" in s.value]
    assert GpkgStore(path).surveys()["version"].max() == 2


def test_leaving_the_page_mid_upload_and_coming_back_keeps_the_file(tmp_path, monkeypatch):
    """The officer uploads, validates, looks at the map and comes back: Streamlit draws the uploader anew, empty,
    and the upload used to end without a word. The stored file is kept, said so, validated again and published."""
    root, path = Path(APP).parent, _sample_city(tmp_path, monkeypatch)
    at = _page()
    data = (root / "gis_data" / "survey_update.zip").read_bytes()
    at.file_uploader[0].set_value(("晋江更新2025.zip", data, "application/zip")).run()
    at.button(key="dm_read").click().run()
    assert [b for b in at.button if b.key == "dm_publish"]
    at.switch_page("views/explorer.py").run()
    at.switch_page("views/data.py").run()
    assert not at.exception, [e.message for e in at.exception]
    infos = [rendered(i.value) for i in at.info]
    assert any("晋江更新2025.zip" in i and "尚未发布" in i and "重新校验" in i for i in infos), infos
    assert not [b for b in at.button if b.key == "dm_publish"]  # the report made before is not published blind
    assert list((tmp_path / "uploads").glob("u-*/upload.zip"))
    at.button(key="dm_read").click().run()
    at.button(key="dm_publish").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert [s.value for s in at.success if "已发布调查版本 v2" in s.value]
    cat = GpkgStore(path).surveys()
    assert cat["version"].max() == 2 and cat["source_file"].iloc[-1] == "晋江更新2025.zip"
    assert not list((tmp_path / "uploads").glob("u-*/upload.zip"))  # published: the upload is gone
    assert not [i for i in at.info if "尚未发布" in str(i.value)]


def test_a_kept_file_can_be_discarded(tmp_path, monkeypatch):
    root, path = Path(APP).parent, _sample_city(tmp_path, monkeypatch)
    at = _page("en")
    data = (root / "gis_data" / "survey_update.zip").read_bytes()
    at.file_uploader[0].set_value(("update.zip", data, "application/zip")).run()
    at.switch_page("views/compare.py").run()
    at.switch_page("views/data.py").run()
    assert any("Carrying on with update.zip" in rendered(i.value) for i in at.info)
    at.button(key="dm_discard").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.info or not any("Carrying on" in str(i.value) for i in at.info)
    assert not [b for b in at.button if b.key == "dm_read"]
    assert not list((tmp_path / "uploads").glob("u-*/upload.zip"))
    assert GpkgStore(path).surveys()["version"].max() == 1


def test_the_units_assumed_are_shown(tmp_path, monkeypatch):
    """The survey update's CZ (output) and NSE (tax) are read as 万元 because of their names; an office whose CZ is
    in 元 saw nothing of it in the app (the CLI prints it) and had no way to say otherwise (now: the Unit column of
    the field mapping, tests/e2e/test_upload_browser.py)."""
    root = Path(APP).parent
    _sample_city(tmp_path, monkeypatch)
    at = _page()
    data = (root / "gis_data" / "survey_update.zip").read_bytes()
    at.file_uploader[0].set_value(("survey_update.zip", data, "application/zip")).run()
    at.button(key="dm_read").click().run()
    captions = [rendered(c.value) for c in at.caption]
    units = [c for c in captions if c.startswith("读取单位")]
    assert units and "← CZ: 万元" in units[0] and "← JZMD: 百分比" in units[0] and "单位列" in units[0], captions


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_old_excel_workbook_is_answered_with_save_as_xlsx(ws, lang):
    """The tax bureau's table as .xls: the browser refused it with an English tooltip ("files are not allowed");
    now the page says, in its language, to save it as .xlsx. Nothing is stored."""
    at = _page(lang)
    assert {"xls", "xlsx", "csv"} <= {t.lstrip(".").lower() for t in at.file_uploader[1].allowed_type}
    at.file_uploader[1].set_value(("2024亩均效益.xls", b"\xd0\xcf\x11\xe0" + b"\0" * 60, "application/vnd.ms-excel")).run()
    assert not at.exception, [e.message for e in at.exception]
    errs = _errors(at)
    words = "是旧版 Excel 工作簿" if lang == "zh" else "is an old Excel workbook"
    assert any(words in e and "2024亩均效益.xlsx" in e for e in errs), errs
    assert GpkgStore(ws).layers("enterprise").empty


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_leaving_the_page_mid_enterprise_upload_and_coming_back_keeps_the_table(tmp_path, monkeypatch, lang):
    """The officer uploads the tax bureau's table and its link table, checks them, looks at the map and comes back:
    both uploads used to end without a word. They are kept, said so in the page's language, checked again
    (the check made before is not published blind) and published."""
    path = _sample_city(tmp_path, monkeypatch)
    at = _enterprise_tables_checked(lang)
    assert [b for b in at.button if b.key == "de_publish"]
    at.switch_page("views/explorer.py").run()
    at.switch_page("views/data.py").run()
    assert not at.exception, [e.message for e in at.exception]
    infos = [rendered(i.value) for i in at.info]
    words = ("尚未发布", "重新校验") if lang == "zh" else ("not published", "check it again")
    assert any("2024亩均效益.xlsx" in i and all(w in i for w in words) for i in infos), infos
    assert any("关联表.csv" in i for i in infos), infos
    assert not [b for b in at.button if b.key == "de_publish"]  # the check made before is not published blind
    assert len(list((tmp_path / "uploads").glob("u-*/upload.*"))) == 2
    assert GpkgStore(path).layers("enterprise").empty  # nothing published meanwhile
    at.button(key="de_check").click().run()
    at.button(key="de_publish").click().run()
    assert not at.exception, [e.message for e in at.exception]
    cat = GpkgStore(path).layers("enterprise")
    assert len(cat) == 1
    assert not list((tmp_path / "uploads").glob("u-*/upload.*"))  # published: the uploads are gone
    assert not [i for i in at.info if "2024亩均效益.xlsx" in str(i.value)]


def test_a_kept_enterprise_table_can_be_discarded(tmp_path, monkeypatch):
    path = _sample_city(tmp_path, monkeypatch)
    gis = Path(APP).parent / "gis_data"
    at = _page("en")
    at.file_uploader[1].set_value(("ent.xlsx", (gis / "enterprises_2024.xlsx").read_bytes(),
                                   "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")).run()
    at.switch_page("views/compare.py").run()
    at.switch_page("views/data.py").run()
    assert any("Carrying on with the enterprise table ent.xlsx" in rendered(i.value) for i in at.info)
    at.button(key="de_discard_enterprise").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert not any("ent.xlsx" in str(i.value) for i in at.info)
    assert not [b for b in at.button if b.key == "de_check"]
    assert not list((tmp_path / "uploads").glob("u-*/upload.*"))
    assert GpkgStore(path).layers("enterprise").empty


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_ingest_notes_are_shown_in_the_pages_language(tmp_path, monkeypatch, lang):
    """What the reading did (the update extent found beside the parcels, the data outside the CRS's area of use,
    JZMD read as percent; the encoding from the .cpg) was said by `planner ingest`, in English only; the app
    showed none of it (and the encoding's source only in English). Now the validation report lists them, in the
    page's language."""
    _sample_city(tmp_path, monkeypatch)
    at = _page(lang)
    data = (Path(APP).parent / "gis_data" / "survey_update.zip").read_bytes()
    at.file_uploader[0].set_value(("survey_update.zip", data, "application/zip")).run()
    captions = [rendered(c.value) for c in at.caption]
    cpg = "GBK（.cpg 文件指明为 GBK）" if lang == "zh" else "GBK (.cpg file says GBK)"
    assert any(cpg in c for c in captions), captions
    at.button(key="dm_read").click().run()
    assert not at.exception, [e.message for e in at.exception]
    label = "读取说明" if lang == "zh" else "Notes on the reading"
    exp = [e for e in at.expander if label in e.label]
    assert exp, [e.label for e in at.expander]
    notes = [rendered(m.value) for m in exp[0].markdown]
    if lang == "zh":
        want = ["在宗地数据旁找到更新范围 更新范围.shp", "超出工作空间坐标系", "建筑密度 'JZMD' 按百分比读取"]
        assert not [n for n in notes if "read as" in n or "found beside" in n], notes
    else:
        want = ["update extent 更新范围.shp (2 polygon(s)) found beside the parcels", "outside the area of use",
                "coverage 'JZMD' read as percent"]
    for w in want:
        assert any(w in n for n in notes), (w, notes)


def several_layers_zip(tmp: Path) -> bytes:
    """The bundled survey update with a point layer (wells) and a line layer (roads) zipped before it."""
    src = Path(APP).parent / "gis_data" / "survey_update.zip"
    buf = io.BytesIO()
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(buf, "w") as z:
        parcels = None
        for info in zin.infolist():
            z.writestr(info, zin.read(info))
            if info.filename.endswith("宗地.shp"):
                parcels = info.filename
        tmp = tmp / "extra"
        tmp.mkdir(exist_ok=True)
        zin.extractall(tmp)
        g = gpd.read_file(tmp / parcels, encoding="gbk").head(40)
        folder = Path(parcels).parent
        pts = gpd.GeoDataFrame({"JH": [f"W{i}" for i in range(len(g))]}, geometry=g.geometry.centroid)
        pts.to_file(tmp / "01井点.shp", encoding="utf-8")
        roads = gpd.GeoDataFrame({"DLMC": ["路"] * 5}, geometry=g.geometry.boundary.head(5))
        roads.to_file(tmp / "02道路.shp", encoding="utf-8")
        for f in sorted(tmp.glob("0*.*")):
            z.write(f, str(folder / f.name))
    return buf.getvalue()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_zip_of_several_layers_offers_a_layer_picker(tmp_path, monkeypatch, lang):
    """A zip holding wells, roads and the parcels: the page used to refuse it ("zip only the parcel layer"; the CLI
    has --layer). Now it lists the layers with their geometry types and row counts, polygon layers first, picks
    the one polygon layer, and validates and publishes it."""
    path = _sample_city(tmp_path, monkeypatch)
    at = _page(lang)
    at.file_uploader[0].set_value(("三层.zip", several_layers_zip(tmp_path), "application/zip")).run()
    assert not at.exception, [e.message for e in at.exception]
    assert not _errors(at), _errors(at)
    pick = at.selectbox(key="dm_layer")
    if lang == "zh":
        assert pick.options == ["宗地 — 面 · 495 条", "01井点 — 点 · 40 条", "02道路 — 线 · 5 条"], pick.options
    else:
        assert pick.options == ["宗地 — Polygon · 495 rows", "01井点 — Point · 40 rows", "02道路 — LineString · 5 rows"]
    assert pick.value == "宗地"  # the one polygon layer, picked
    at.button(key="dm_read").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert not _errors(at), _errors(at)
    at.button(key="dm_publish").click().run()
    assert GpkgStore(path).surveys()["version"].max() == 2


def two_geopackages_zip(tmp: Path, sample: Path) -> Path:
    """Two districts' GeoPackages in one zip, each with a parcel layer 宗地 (30 parcels of the sample city, the two
    districts' own), wells and roads: the delivery of a county survey office."""
    g = GpkgStore(sample).read_parcels().head(60)[["parcel_id", "owner", "geometry"]]
    g = g.rename(columns={"parcel_id": "ZDDM", "owner": "QLR"})
    folder = tmp / "two_gpkg"
    folder.mkdir(exist_ok=True)
    out = tmp / "两区调查.zip"
    with zipfile.ZipFile(out, "w") as z:
        for name, part in (("晋江", g.iloc[:30]), ("石狮", g.iloc[30:])):
            gp = folder / f"{name}.gpkg"
            part.to_file(gp, layer="宗地")
            gpd.GeoDataFrame({"JH": range(5)}, geometry=part.geometry.centroid.head(5).values,
                             crs=part.crs).to_file(gp, layer="井点")
            gpd.GeoDataFrame({"DLMC": ["路"] * 3}, geometry=part.geometry.boundary.head(3).values,
                             crs=part.crs).to_file(gp, layer="道路")
            z.write(gp, f"2025/{name}.gpkg")
    return out


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_zip_of_two_geopackages_lists_every_layer_and_keeps_the_pick_across_pages(tmp_path, monkeypatch, lang):
    """A zip of two GeoPackages of several layers each: the picker listed the two files only ("晋江 — MultiPolygon,
    Point, MultiLineString · ? rows"), and a file picked was then refused as holding three layers; a pick was also
    lost when the officer looked at another page. Now every layer is listed with its file, geometry type and row
    count, polygons first; the pick survives a page switch, and the picked district is the one published."""
    path = _sample_city(tmp_path, monkeypatch)
    z = two_geopackages_zip(tmp_path, path)
    at = _page(lang)
    at.file_uploader[0].set_value((z.name, z.read_bytes(), "application/zip")).run()
    assert not at.exception, [e.message for e in at.exception]
    pick = at.selectbox(key="dm_layer")
    if lang == "zh":
        assert pick.options[:2] == ["宗地（2025/晋江.gpkg）— 面（多部件） · 30 条", "宗地（2025/石狮.gpkg）— 面（多部件） · 30 条"], pick.options
        assert "井点（2025/石狮.gpkg）— 点 · 5 条" in pick.options and len(pick.options) == 6
    else:
        assert pick.options[:2] == ["宗地 (2025/晋江.gpkg) — MultiPolygon · 30 rows",
                                    "宗地 (2025/石狮.gpkg) — MultiPolygon · 30 rows"], pick.options
        assert "道路 (2025/晋江.gpkg) — MultiLineString · 3 rows" in pick.options
    assert pick.value is None  # two polygon layers: nothing guessed
    assert not [b for b in at.button if b.key == "dm_read"]
    pick.set_value("2025/石狮.gpkg › 宗地").run()
    assert not at.exception and not _errors(at), _errors(at)
    at.switch_page("views/explorer.py").run()
    at.switch_page("views/data.py").run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.selectbox(key="dm_layer").value == "2025/石狮.gpkg › 宗地"  # kept while the officer was away
    at.button(key="dm_read").click().run()
    assert not at.exception and not _errors(at), _errors(at)
    assert any(str(m.value) == "30" for m in at.metric), [m.value for m in at.metric]
    at.button(key="dm_publish").click().run()
    assert not at.exception and not _errors(at), _errors(at)
    cat = GpkgStore(path).surveys()
    assert cat["version"].max() == 2
    new = set(GpkgStore(path).read_parcels(columns=["parcel_id"], geometry=False)["parcel_id"])
    shishi = set(GpkgStore(path).read_parcels(version=1).head(60)["parcel_id"].iloc[30:])
    assert shishi <= new


def test_a_geopackage_whose_first_layer_is_points_asks_which_layer(tmp_path, monkeypatch):
    """A GeoPackage with a point layer first and two polygon layers: nothing is guessed; the page asks (in its
    language), lists the polygons first, and reads the one picked."""
    path = _sample_city(tmp_path, monkeypatch)
    g = GpkgStore(path).read_parcels().head(30)[["parcel_id", "geometry"]].rename(columns={"parcel_id": "ZDDM"})
    gp = tmp_path / "mixed.gpkg"
    gpd.GeoDataFrame(g[["ZDDM"]], geometry=g.geometry.centroid).to_file(gp, layer="a_points")
    g.to_file(gp, layer="parcels_2025")
    g.head(10).to_file(gp, layer="parcels_old")
    at = _page()
    at.file_uploader[0].set_value(("混合.gpkg", gp.read_bytes(), "application/geopackage+sqlite3")).run()
    assert not at.exception, [e.message for e in at.exception]
    pick = at.selectbox(key="dm_layer")
    assert pick.value is None
    assert [o.split(" — ")[0] for o in pick.options] == ["parcels_2025", "parcels_old", "a_points"]
    assert any("含 3 个图层" in rendered(i.value) and "面" in rendered(i.value) for i in at.info)
    assert not [b for b in at.button if b.key == "dm_read"] and not _errors(at)
    pick.set_value("parcels_2025").run()
    at.button(key="dm_read").click().run()
    assert not at.exception and not _errors(at), _errors(at)
    assert any("30" in str(m.value) for m in at.metric)


def test_the_layer_picked_in_a_geopackage_is_kept_when_the_officer_looks_at_another_page(tmp_path, monkeypatch):
    """The officer picks the older parcel layer of a GeoPackage, checks the map and comes back: the upload was kept
    but the pick was gone (Streamlit forgets a widget of a page not shown), and the picker asked again. Now the
    pick is kept and the layer read is the one picked."""
    path = _sample_city(tmp_path, monkeypatch)
    g = GpkgStore(path).read_parcels().head(30)[["parcel_id", "geometry"]].rename(columns={"parcel_id": "ZDDM"})
    gp = tmp_path / "mixed.gpkg"
    g.to_file(gp, layer="parcels_2025")
    g.head(10).to_file(gp, layer="parcels_old")
    at = _page("en")
    at.file_uploader[0].set_value(("mixed.gpkg", gp.read_bytes(), "application/geopackage+sqlite3")).run()
    at.selectbox(key="dm_layer").set_value("parcels_old").run()
    at.switch_page("views/explorer.py").run()
    at.switch_page("views/data.py").run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.selectbox(key="dm_layer").value == "parcels_old"
    assert not [i for i in at.info if "pick the parcel (polygon) layer" in str(i.value)]
    at.button(key="dm_read").click().run()
    assert not at.exception and not _errors(at), _errors(at)
    assert any(str(m.value) == "10" for m in at.metric), [m.value for m in at.metric]


def _update_with_ids(tmp: Path, how) -> Path:
    """The bundled survey update, its parcel ids rewritten by ``how`` (the set zipped again, .cpg and all)."""
    src = Path(APP).parent / "gis_data" / "survey_update.zip"
    folder = tmp / "ids"
    with zipfile.ZipFile(src) as z:
        z.extractall(folder)
    shp = next(folder.rglob("宗地.shp"))
    g = gpd.read_file(shp, encoding="gbk")
    g["ZDDM"] = g["ZDDM"].map(how)
    g.to_file(shp, encoding="gbk")
    out = tmp / "ids.zip"
    with zipfile.ZipFile(out, "w") as z:
        for f in sorted(folder.rglob("*")):
            if f.is_file():
                z.write(f, str(f.relative_to(folder)))
    return out


@pytest.mark.parametrize(("lang", "how"), [("zh", str.lower), ("en", lambda s: re.sub("GB0+", "GB", s))])
def test_an_update_whose_ids_changed_case_or_padding_is_warned_before_publishing(tmp_path, monkeypatch, lang, how):
    """An office's update with its ids lower-cased (or unpadded) by a spreadsheet: the diff said 495 added and
    496 removed, without a word of why; published, 482 parcels were re-keyed (history and enterprise links by id
    lost). Now the diff warns, in the page's language, with an example; `planner ingest --dry-run` says it too."""
    import subprocess
    import sys

    path = _sample_city(tmp_path, monkeypatch)
    z = _update_with_ids(tmp_path, how)
    at = _page(lang)
    at.file_uploader[0].set_value(("更新.zip", z.read_bytes(), "application/zip")).run()
    at.button(key="dm_read").click().run()
    assert not at.exception, [e.message for e in at.exception]
    warns = [rendered(w.value) for w in at.warning]
    if lang == "zh":
        hit = [w for w in warns if "宗地代码写法不一致" in w and "482 个" in w and re.search(r"文件中的 '350582\d+gb00\d+'、调查中的 '350582\d+GB00\d+'", w)]
    else:
        hit = [w for w in warns if "Parcel ids written differently" in w and "of the file's 495" in w
               and re.search(r"e\.g\. '350582\d+GB[1-9]\d*' in the file, '350582\d+GB00\d+' in the survey", w)]
    assert hit, warns
    out = subprocess.run([sys.executable, "-m", "planner", "ingest", str(z), "-w", str(path), "--dry-run"],
                         capture_output=True, text=True, cwd=Path(APP).parent, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(Path(APP).parent)})
    assert out.returncode == 0, out.stderr
    assert re.search(r"WARNING: \d{3} of the file's 495 parcel ids differ from ids of the current survey only in case",
                     out.stdout), out.stdout[-2000:]
    assert GpkgStore(path).surveys()["version"].max() == 1


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_same_file_uploaded_twice_is_recognised_and_not_published_again(tmp_path, monkeypatch, lang):
    """The officer publishes the update, then (a colleague, a second tab, a double check) uploads it again: the page
    said nothing and published an identical v3. Now it names the version the file was published as, and the
    report says there is nothing to publish (the button is disabled)."""
    path = _sample_city(tmp_path, monkeypatch)
    data = (Path(APP).parent / "gis_data" / "survey_update.zip").read_bytes()
    at = _page(lang)
    at.file_uploader[0].set_value(("晋江更新2025.zip", data, "application/zip")).run()
    assert not [i for i in at.info if "v2" in str(i.value)]
    at.button(key="dm_read").click().run()
    at.button(key="dm_publish").click().run()
    assert GpkgStore(path).surveys()["version"].max() == 2
    at.file_uploader[0].set_value(("晋江更新2025(1).zip", data, "application/zip")).run()
    assert not at.exception, [e.message for e in at.exception]
    infos = [rendered(i.value) for i in at.info]
    words = "是同一个文件" if lang == "zh" else "is the same file as survey version v2"
    assert any(words in i and "晋江更新2025(1).zip" in i and "v2" in i for i in infos), infos
    at.button(key="dm_read").click().run()
    warns = [rendered(w.value) for w in at.warning]
    words = "无需发布" if lang == "zh" else "nothing to publish"
    assert any(words in w for w in warns), warns
    assert at.button(key="dm_publish").disabled
    assert GpkgStore(path).surveys()["version"].max() == 2
    # v2 the current version: nothing to switch to; after a switch to v1 the info says where v2 is made current
    assert not any("current again" in i or "重新成为当前版本" in i for i in infos), infos
    W.operations.set_current_survey(GpkgStore(path), 1)
    at = _page(lang)
    at.file_uploader[0].set_value(("晋江更新2025(2).zip", data, "application/zip")).run()
    infos = [rendered(i.value) for i in at.info]
    words = (("当前调查版本为 v1。", "如需让 v2 重新成为当前版本，请在应用的「数据管理 › 调查版本」中切换到 v2。") if lang == "zh"
             else ("The current survey is v1.", "To make v2 current again, switch to it in the app (Data manager › "
                   "Survey versions)."))
    assert any(all(w in i for w in words) for i in infos), infos
    assert "planner workspace use" not in " ".join(infos)


def _texts(at) -> str:
    """Everything the page says, as read (buttons' help too)."""
    parts = [w.value for w in (*at.warning, *at.error, *at.info, *at.success, *at.caption, *at.markdown)]
    parts += [b.help or "" for b in at.button]
    return " | ".join(rendered(p) for p in parts)


def _z3(tmp_path: Path, floor: float, name: str, driver: str = "GPKG") -> Path:
    """An update of one parcel: Z3 with its floor area ``floor`` (the other fields as the survey has them)."""
    from tests.test_ingest import cn_layer

    out = tmp_path / name
    cn_layer(3, JZMJ=[2500.0, 2500.0, floor]).iloc[[2]].to_file(out, driver=driver)
    return out


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_last_months_survey_exported_again_is_refused_pointing_to_the_switch(tmp_path, ws, lang):
    """v1 the November survey, v2 Z3's floor area re-surveyed. The officer uploads November's survey exported
    again (other bytes: the checksum does not know it): published, it was an identical v3, a rollback under a new
    number. The check names v1 (its label), says v2 is current and that v1 is made current again in the versions
    list (no command-line option or command: the app adds its own how-to to the library's words); publish is off;
    the switch there does it."""
    from planner.ingest import ingest
    from tests.test_ingest import cn_layer

    store = GpkgStore(ws)
    base = tmp_path / "nov.gpkg"
    cn_layer(3).to_file(base, driver="GPKG")
    ingest(base, store, survey_name="2025-11")
    ingest(_z3(tmp_path, 4000.0, "fix.gpkg"), store, survey_name="Z3 re-surveyed")
    again = tmp_path / "nov.geojson"
    cn_layer(3).to_file(again, driver="GeoJSON")
    cat, audit = store.layers(), store.audit_log()
    at = _page(lang)
    at.file_uploader[0].set_value(("11月调查.geojson", again.read_bytes(), "application/geo+json")).run()
    at.button(key="dm_read").click().run()
    assert not at.exception, [e.message for e in at.exception]
    said = ("11月调查.geojson 发布后的宗地将与 ", "发布的调查版本 v1（「2025-11」）完全相同（没有任何新增、删除或变更）",
            "当前调查版本为 v2。", "如需让 v1 重新成为当前版本，请在应用的「数据管理 › 调查版本」中切换到 v1。") if lang == "zh" \
        else ("11月调查.geojson: published, the survey's parcels would be those of survey version v1 (\"2025-11\"), "
              "published by ", "The current survey is v2.", "To make v1 current again, switch to it in the app (Data "
              "manager › Survey versions).")
    warns = [rendered(w.value) for w in at.warning]
    assert any(all(x in w for x in said) for w in warns), warns
    assert at.button(key="dm_publish").disabled
    assert "--publish-again" not in _texts(at) and "planner workspace use" not in _texts(at)
    pd_equal(store, cat, audit)
    at.selectbox(key="dm_ver").set_value(1).run()
    at.button(key="dm_set").click().run()
    at.button(key="dm_set_yes").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert W.current_survey_version(GpkgStore(ws)) == 1 and GpkgStore(ws).surveys()["version"].tolist() == [1, 2]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_update_that_became_a_copy_of_an_earlier_version_meanwhile_is_refused_at_publish(tmp_path, ws, lang):
    """Checked against v1, Z3's re-survey is new; before the click a colleague published it (v2) and then another
    figure for Z3 (v3): merged into v3, the update now gives v2's parcels again. The publish is refused under the
    lock in the page's language, naming v2 and where to switch to it; nothing is published."""
    from planner.ingest import ingest
    from tests.test_ingest import cn_layer

    store = GpkgStore(ws)
    base = tmp_path / "nov.gpkg"
    cn_layer(3).to_file(base, driver="GPKG")
    ingest(base, store, survey_name="2025-11")
    mine = _z3(tmp_path, 4000.0, "z3.geojson", driver="GeoJSON")
    at = _page(lang)
    at.file_uploader[0].set_value(("宗地Z3.geojson", mine.read_bytes(), "application/geo+json")).run()
    at.radio(key="dm_mode").set_value("update").run()
    at.button(key="dm_read").click().run()
    assert not at.button(key="dm_publish").disabled and not at.warning
    ingest(_z3(tmp_path, 4000.0, "colleague.gpkg"), store, user="colleague", survey_name="Z3")  # v2, meanwhile
    ingest(_z3(tmp_path, 3000.0, "colleague2.gpkg"), store, user="colleague")  # v3
    cat, audit = store.layers(), store.audit_log()
    at.button(key="dm_publish").click().run()
    assert not at.exception, [e.message for e in at.exception]
    errs = [rendered(e.value) for e in at.error]
    said = ("无法发布：宗地Z3.geojson 发布后的宗地将与 ", "由 colleague 发布的调查版本 v2（「Z3」）完全相同", "当前调查版本为 v3。",
            "如需让 v2 重新成为当前版本，请在应用的「数据管理 › 调查版本」中切换到 v2。") if lang == "zh" \
        else ("Cannot publish: 宗地Z3.geojson: published, the survey's parcels would be those of survey version v2 "
              "(\"Z3\"), published by colleague on ", "The current survey is v3.", "To make v2 current again, switch "
              "to it in the app (Data manager › Survey versions).")
    assert any(all(x in e for x in said) for e in errs), errs
    assert "--publish-again" not in _texts(at)
    pd_equal(store, cat, audit)


def pd_equal(store, cat, audit) -> None:
    import pandas as pd

    pd.testing.assert_frame_equal(store.layers(), cat)
    pd.testing.assert_frame_equal(store.audit_log(), audit)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_uploaders_say_their_size_limit_in_the_pages_language(ws, lang):
    """A file over the server's upload limit is refused by Streamlit's own English line ("File must be 1.0GB or
    smaller"); the survey and enterprise uploaders' help says the limit, and what to do instead, beforehand."""
    import streamlit as st

    mb = f"{int(st.get_option('server.maxUploadSize')):,} MB"
    at = _page(lang)
    for up in (at.file_uploader[0], at.file_uploader[1]):
        words = f"单个文件最大 {mb}" if lang == "zh" else f"At most {mb} a file"
        assert words in up.help and "planner ingest" in up.help, up.help


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_enterprise_checks_notes_are_shown_in_the_pages_language(tmp_path, monkeypatch, lang):
    """How the tax bureau's table was linked and shared (the CLI's notes, English only) is listed under the check,
    in the page's language; the link's name inside a Chinese refusal was English ("关联方式：link table")."""
    _sample_city(tmp_path, monkeypatch)
    at = _enterprise_tables_checked(lang)
    label = "读取说明" if lang == "zh" else "Notes on the reading"
    exp = [e for e in at.expander if label in e.label]
    assert exp, [e.label for e in at.expander]
    notes = " | ".join(rendered(m.value) for m in exp[0].markdown)
    if lang == "zh":
        assert "企业按关联表关联到宗地；跨宗地企业按用地面积分摊" in notes and "linked" not in notes, notes
        assert "关联到当前调查版本的" in notes
    else:
        assert "enterprises linked to parcels by link table; shared by land area" in notes, notes
