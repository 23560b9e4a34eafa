"""Adversarial cases (issue 11, security): crafted upload names, workspace choice, HTML and formulas in data.

Each case acts as an attacker would: through the app (AppTest drives the real
pages and the real file uploader), the CLI, or the exporters, and checks what
lands on disk, what the page shows and what a spreadsheet would read back.
Browser journeys of the same attacks are in tests/e2e/test_security_browser.py.
"""

from __future__ import annotations

import csv
import gc
import json
import os
import re
import sqlite3
import tempfile
import time
import unicodedata
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from openpyxl import load_workbook
from streamlit.testing.v1 import AppTest

from planner.errors import DataError
from planner.io.store import GpkgStore
from planner.io.writers import neutralize, neutralize_frame
from planner.ui import uploads, workspaces
from tests._text import detail_cells, rendered
from tests.e2e._workspace import build_workspace, grid_parcels

APP = str(Path(__file__).resolve().parents[1] / "app.py")
XSS = "<img src=x onerror=alert(1)>"
SCRIPT = "</script><script>alert(2)</script>"
LINK = '=HYPERLINK("http://evil.example/x","点击查看")'
FORMULAS = (LINK, "+1+1", "-2+3", "@SUM(A1:A9)", "\t=1+1", "\r=1+1", "=cmd|' /C calc'!A0")


def _tree(root: Path, skip: Path | None = None) -> dict[str, bytes | None]:
    """Every file and folder under ``root`` (with file contents), except under ``skip``."""
    out = {}
    for p in sorted(root.rglob("*")):
        if skip is not None and (p == skip or skip in p.parents):
            continue
        out[str(p.relative_to(root))] = p.read_bytes() if p.is_file() and not p.is_symlink() else None
    return out


#: An absolute server path (a folder led by "/" and followed by another "/"), not inside a URL.
ABS_PATH = re.compile(r"(?<![\w:/.\\<])/[^\s/'\"<>]+/")


def _paths_shown(texts: list[str]) -> list[str]:
    """The texts that show a server path."""
    return [t for t in texts if ABS_PATH.search(t) or tempfile.gettempdir() + os.sep in t]


def _page_texts(at: AppTest) -> list[str]:
    """The text of every message, heading, caption and exception the page shows."""
    out = []
    for kind in ("error", "warning", "info", "success", "markdown", "caption", "subheader", "title"):
        out += [rendered(getattr(e, "value", "")) for e in getattr(at, kind)]
    out += [f"{e.message} {e.stack_trace}" for e in at.exception]
    return out


# -- upload names ----------------------------------------------------------------------------------
CRAFTED = {
    "absolute": "{victim}",
    "dotdot": "../../victim.gpkg",
    "dotdot_deep": "../" * 12 + "tmp/victim.gpkg",
    "backslash": "..\\..\\victim.gpkg",
    "nul": "vic\x00tim.gpkg",
    "long": "长" * 3000 + ".gpkg",
    "unicode": "调查数据\u202e\u200bkpg.gpkg",
    "dots": "...gpkg",
    "hidden": ".gpkg",
}


@pytest.mark.parametrize("case", sorted(CRAFTED))
def test_crafted_upload_names_stay_in_their_folder(tmp_path, case):
    victim = tmp_path / "victim.gpkg"
    victim.write_bytes(b"the workspace")
    root = tmp_path / "uploads"
    before = _tree(tmp_path, skip=root)
    name = CRAFTED[case].format(victim=victim)
    up = uploads.save_upload(name, b"17 bytes of junk!", root=root)
    assert _tree(tmp_path, skip=root) == before  # nothing written or changed outside the upload folder
    assert up.folder.parent == root and up.path.parent == up.folder
    assert up.path.name == "upload.gpkg" and up.path.read_bytes() == b"17 bytes of junk!"
    assert "/" not in up.name and "\\" not in up.name and "\x00" not in up.name and "\u202e" not in up.name
    assert 0 < len(up.name) <= uploads.MAX_SHOWN
    assert oct(up.folder.stat().st_mode & 0o777) == "0o700"
    uploads.discard(up)
    assert not up.folder.exists() and victim.read_bytes() == b"the workspace"


def test_upload_names_shown_and_kinds_checked():
    assert uploads.shown_name("/srv/planner/data/jinjiang.gpkg") == "jinjiang.gpkg"
    assert uploads.shown_name("C:\\Users\\gis\\2025 调查.zip") == "2025 调查.zip"
    long = uploads.shown_name("a" * 500 + ".zip")
    assert len(long) == uploads.MAX_SHOWN and long.endswith(".zip") and "…" in long
    for bad in ("survey.exe", "survey.gpkg.sh", "survey", "survey.gpkg\x00.png", "../x/", ".."):
        with pytest.raises(Exception, match="unsupported file type") as err:
            uploads.upload_kind(bad)
        assert "/" not in str(err.value).split(":")[0]


def test_disk_full_during_upload_leaves_nothing(tmp_path, monkeypatch):
    import errno

    root = tmp_path / "uploads"
    real_fdopen = os.fdopen

    class Full:
        def __init__(self, fd, mode):
            self.fh = real_fdopen(fd, mode)

        def __enter__(self):
            return self

        def __exit__(self, *a):
            self.fh.close()

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(uploads.os, "fdopen", Full)
    with pytest.raises(Exception, match="disk is full") as err:
        uploads.save_upload("survey.zip", b"x" * 100, root=root)
    assert str(tmp_path) not in str(err.value)
    assert list(root.iterdir()) == []


def test_planted_upload_root_symlink_is_refused(tmp_path):
    target = tmp_path / "elsewhere"
    target.mkdir()
    root = tmp_path / "planner-uploads"
    root.symlink_to(target)
    with pytest.raises(Exception, match="upload folder is not usable"):
        uploads.save_upload("s.zip", b"x", root=root)
    assert list(target.iterdir()) == []


def test_stale_upload_folders_are_swept(tmp_path):
    root = tmp_path / "uploads"
    old = uploads.save_upload("a.zip", b"a", root=root)
    live = uploads.save_upload("b.zip", b"b", root=root)
    new = uploads.save_upload("c.zip", b"c", root=root)
    other = root / "not-ours"
    other.mkdir()
    day_ago = time.time() - uploads.STALE_AFTER_S - 60
    for up in (old, live):
        os.utime(up.folder, (day_ago, day_ago))
    os.utime(other, (day_ago, day_ago))
    assert uploads.clean_stale(root, keep=[live.folder]) == 1
    assert not old.folder.exists() and live.folder.exists() and new.folder.exists() and other.exists()


def test_leftovers_older_than_a_day_go_when_the_app_starts(tmp_path, monkeypatch):
    root = tmp_path / "uploads"
    old = uploads.save_upload("a.zip", b"a", root=root)
    new = uploads.save_upload("b.zip", b"b", root=root)
    day_ago = time.time() - uploads.STALE_AFTER_S - 60
    os.utime(old.folder, (day_ago, day_ago))
    monkeypatch.setenv("PLANNER_UPLOAD_DIR", str(root))
    monkeypatch.setenv("PLANNER_WORKSPACE", str(build_workspace(tmp_path / "ws.gpkg", n=4)))
    AppTest.from_file(APP, default_timeout=60).run()
    assert not old.folder.exists() and new.folder.exists()


# -- uploads through the data manager (AppTest drives the real page and file uploader) ----------
@pytest.fixture
def app_env(tmp_path, monkeypatch):
    """A workspace offered through PLANNER_WORKSPACE, uploads under tmp_path/uploads."""
    ws = build_workspace(tmp_path / "ws" / "ws.gpkg")
    monkeypatch.setenv("PLANNER_WORKSPACE", str(ws))
    monkeypatch.delenv("PLANNER_DATA_DIR", raising=False)
    monkeypatch.delenv("PLANNER_WORKSPACES", raising=False)
    monkeypatch.setenv("PLANNER_UPLOAD_DIR", str(tmp_path / "uploads"))
    return ws


def _data_page(lang: str = "zh") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    if lang != "zh":
        at.radio(key="w_lang").set_value(lang).run()
    at.switch_page("views/data.py").run()
    return at


def _survey_bytes(tmp_path: Path, n: int = 6, seed: int = 5, **fields) -> bytes:
    g = grid_parcels(n, seed=seed)
    for k, v in fields.items():
        g[k] = g[k].astype(object)
        g.loc[0, k] = v
    src = tmp_path / f"src_{seed}.geojson"
    g.to_crs(4490).to_file(src, driver="GeoJSON")
    return src.read_bytes()


def _upload_folders(tmp_path: Path) -> list[Path]:
    root = tmp_path / "uploads"
    return sorted(root.iterdir()) if root.exists() else []


@pytest.mark.parametrize("case", ["absolute", "dotdot", "backslash", "long", "unicode"])
def test_app_upload_with_crafted_name_writes_only_its_folder(app_env, tmp_path, case):
    victim = tmp_path / "victim.geojson"
    victim.write_bytes(b"the workspace")
    name = CRAFTED[case].format(victim=victim).replace(".gpkg", ".geojson")
    if case == "dotdot":  # from <tmp>/uploads/u-xxx/: ../../ is tmp_path itself
        name = "../../victim.geojson"
    before = _tree(tmp_path, skip=tmp_path / "uploads")
    at = _data_page()
    at.file_uploader[0].set_value((name, _survey_bytes(tmp_path), "application/geo+json")).run()
    assert not at.exception, [e.message for e in at.exception]
    after = _tree(tmp_path, skip=tmp_path / "uploads")
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k) and not k.endswith(".lock")}
    assert changed <= {"src_5.geojson"}, changed  # only the test's own source file is new
    assert victim.read_bytes() == b"the workspace"
    [folder] = _upload_folders(tmp_path)
    assert [p.name for p in folder.iterdir()] == ["upload.geojson"]
    shown = at.session_state["dm_name"]
    assert shown == uploads.shown_name(name) and "/" not in shown and "\\" not in shown
    assert _paths_shown(_page_texts(at)) == []


def test_app_upload_folder_lives_as_long_as_its_work(app_env, tmp_path):
    at = _data_page()
    data = _survey_bytes(tmp_path)
    at.file_uploader[0].set_value(("a.geojson", data, "application/geo+json")).run()
    [first] = _upload_folders(tmp_path)
    # a rerun keeps the same upload
    at.run()
    assert _upload_folders(tmp_path) == [first]
    # replaced by another upload: the first folder goes
    at.file_uploader[0].set_value(("b.geojson", data, "application/geo+json")).run()
    [second] = _upload_folders(tmp_path)
    assert second != first and not first.exists()
    # cancelled
    at.button(key="dm_read").click().run()
    at.button(key="dm_cancel").click().run()
    assert _upload_folders(tmp_path) == []
    # published: the survey is stored, the upload folder goes
    before = GpkgStore(app_env).surveys()["version"].max()
    at.file_uploader[0].set_value(("c.geojson", data, "application/geo+json")).run()
    assert len(_upload_folders(tmp_path)) == 1
    at.button(key="dm_read").click().run()
    at.button(key="dm_publish").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert GpkgStore(app_env).surveys()["version"].max() == before + 1
    assert _upload_folders(tmp_path) == []
    audit = GpkgStore(app_env).audit_log()
    assert audit["source_file"].iloc[-1] == "c.geojson"
    # the stored version names the upload as the user knows it, never by a server path
    meta = GpkgStore(app_env).surveys()["meta"].iloc[-1]
    assert str(tmp_path) not in meta and '"source": "c.geojson"' in meta
    # the uploader emptied
    at.file_uploader[0].set_value(("d.geojson", data, "application/geo+json")).run()
    assert len(_upload_folders(tmp_path)) == 1
    at.file_uploader[0].clear().run()
    assert _upload_folders(tmp_path) == []


def test_app_upload_folder_goes_when_the_session_ends(app_env, tmp_path):
    at = _data_page()
    at.file_uploader[0].set_value(("a.geojson", _survey_bytes(tmp_path), "application/geo+json")).run()
    assert len(_upload_folders(tmp_path)) == 1
    del at
    gc.collect()
    assert _upload_folders(tmp_path) == []


def test_app_upload_of_a_session_the_server_let_go_is_deleted(app_env, tmp_path, monkeypatch):
    at = _data_page()
    at.file_uploader[0].set_value(("a.geojson", _survey_bytes(tmp_path), "application/geo+json")).run()
    [folder] = _upload_folders(tmp_path)
    assert uploads.end_orphans() == 0 and folder.exists()  # the session is still there
    monkeypatch.setattr(uploads, "_session_exists", lambda sid: False)  # the tab was closed, the session expired
    assert uploads.end_orphans() == 1
    assert not folder.exists()


def test_app_upload_error_names_the_users_file_not_the_server_path(app_env, tmp_path):
    at = _data_page()
    at.file_uploader[0].set_value(("平面图 2025.gpkg", b"not a geopackage at all", "application/octet-stream")).run()
    errs = [rendered(e.value) for e in at.error]
    assert errs and all("平面图 2025.gpkg" in e for e in errs), errs
    texts = _page_texts(at)
    assert _paths_shown(texts) == [] and not any("upload.gpkg" in t for t in texts), texts


def test_app_upload_nul_name_is_refused_without_trace(app_env, tmp_path):
    at = _data_page()
    at.file_uploader[0].set_value(("a.geojson\x00.png", b"{}", "application/geo+json")).run()
    assert _upload_folders(tmp_path) == []
    assert _paths_shown(_page_texts(at)) == []


# -- workspace choice ------------------------------------------------------------------------------
def _gpkg(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.Point(0, 0)], crs="EPSG:4549").to_file(path, driver="GPKG",
                                                                                         layer="x")
    return path


@pytest.fixture
def data_dir(tmp_path):
    """A data directory with two workspaces and things that must not be offered."""
    d = tmp_path / "data"
    build_workspace(d / "north.gpkg", n=6)
    build_workspace(d / "south.gpkg", n=8)
    _gpkg(d / ".north.gpkg.1234.tmp.gpkg")  # the store's own temporary copy
    (d / "notes.gpkg").write_text("not a database")
    con = sqlite3.connect(d / "foreign.gpkg")  # an SQLite file that is no GeoPackage
    con.execute("CREATE TABLE t (x)")
    con.close()
    outside = build_workspace(tmp_path / "private" / "secret.gpkg", n=4)
    (d / "link.gpkg").symlink_to(outside)  # a symlink out of the folder
    _gpkg(d / "sub" / "deeper.gpkg")
    return d


def test_catalog_offers_only_geopackages_inside_the_data_dir(data_dir, tmp_path):
    cat = workspaces.load_catalog(env={"PLANNER_DATA_DIR": str(data_dir)})
    assert cat.names() == ["north.gpkg", "south.gpkg"] and cat.default == "north.gpkg"
    assert cat.path_of("south.gpkg") == (data_dir / "south.gpkg").resolve()
    for name in ("link.gpkg", "foreign.gpkg", "notes.gpkg", "../private/secret.gpkg", str(tmp_path / "private" /
                 "secret.gpkg"), "sub/deeper.gpkg", ".north.gpkg.1234.tmp.gpkg"):
        with pytest.raises(Exception, match="not offered"):
            cat.path_of(name)
    # a listed file swapped for a symlink out of the folder after listing is refused at open time
    (data_dir / "south.gpkg").unlink()
    (data_dir / "south.gpkg").symlink_to(tmp_path / "private" / "secret.gpkg")
    with pytest.raises(Exception, match="not offered"):
        cat.path_of("south.gpkg")


def test_catalog_sources_and_default(tmp_path, data_dir):
    assert workspaces.load_catalog(env={}).names() == ["sample_city.gpkg"]  # no configuration: as before
    assert workspaces.load_catalog(env={}).path_of("sample_city.gpkg") == workspaces.SAMPLE_WORKSPACE.resolve()
    extra = build_workspace(tmp_path / "archive" / "north.gpkg", n=4)
    env = {"PLANNER_DATA_DIR": str(data_dir), "PLANNER_WORKSPACES": f"{extra}{os.pathsep}{data_dir / 'notes.gpkg'}"}
    cat = workspaces.load_catalog(env=env, secrets={"default": "south.gpkg"})
    assert cat.names() == ["north.gpkg (archive)", "north.gpkg (data)", "south.gpkg"]
    assert cat.default == "south.gpkg"
    cat = workspaces.load_catalog(env={}, secrets={"data_dir": str(data_dir), "files": [str(extra)]})
    assert cat.names() == ["north.gpkg (archive)", "north.gpkg (data)", "south.gpkg"]
    assert workspaces.load_catalog(env={"PLANNER_DATA_DIR": str(tmp_path / "missing")}).names() == []


def test_app_offers_a_list_not_a_path_box(data_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("PLANNER_WORKSPACE", raising=False)
    monkeypatch.setenv("PLANNER_DATA_DIR", str(data_dir))
    foreign = (data_dir / "foreign.gpkg").read_bytes()
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert not [w for w in at.text_input if w.key == "w_workspace"]  # no box for a server path
    pick = at.selectbox(key="w_workspace")
    assert pick.options == ["north.gpkg", "south.gpkg"] and pick.value == "north.gpkg"
    assert at.session_state["_settings"].workspace == str((data_dir / "north.gpkg").resolve())
    pick.set_value("south.gpkg").run()
    assert at.session_state["_settings"].workspace == str((data_dir / "south.gpkg").resolve())
    for page in ("rules", "data"):
        at.switch_page(f"views/{page}.py").run()
        assert not at.exception
    assert at.session_state["_settings"].workspace_name == "south.gpkg"
    # a name that is not offered (a forged session value) falls back to the default, never opens
    at.session_state["_workspace"] = str(tmp_path / "private" / "secret.gpkg")
    at.run()
    assert at.session_state["_settings"].workspace == str((data_dir / "north.gpkg").resolve())
    assert (data_dir / "foreign.gpkg").read_bytes() == foreign  # never opened: journal mode untouched
    assert not (data_dir / "foreign.gpkg-journal").exists()
    assert _paths_shown(_page_texts(at)) == []


def test_app_with_an_empty_data_dir_says_so(tmp_path, monkeypatch):
    (tmp_path / "empty").mkdir()
    monkeypatch.delenv("PLANNER_WORKSPACE", raising=False)
    monkeypatch.setenv("PLANNER_DATA_DIR", str(tmp_path / "empty"))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception
    assert any("数据目录中没有可用的工作空间" in w.value for w in at.warning)
    assert _paths_shown(_page_texts(at)) == []


# -- no server paths in what the app shows -----------------------------------------------------------
def test_redact_takes_paths_out():
    cat = workspaces.Catalog((("jinjiang.gpkg", Path("/srv/planner data/jj.gpkg")),), (Path("/srv/planner data"),))
    assert cat.redact("workspace /srv/planner data/jj.gpkg is locked by pid 7") == \
        "workspace jinjiang.gpkg is locked by pid 7"
    assert cat.redact("[Errno 13] Permission denied: '/srv/planner data/x/.lock'") == \
        "[Errno 13] Permission denied: '.lock'"
    assert workspaces.redact("/home/gis/a/b.zip：不是可读取的 zip 文件") == "b.zip：不是可读取的 zip 文件"
    assert workspaces.redact("D:\\gis\\data\\ws.gpkg locked") == "ws.gpkg locked"
    # not paths: units, dates, fractions, URLs stay
    keep = "亩均税收 元/亩, 2025/06/30, 1/2, km/h, http://tiles.intranet/{z}/{x}/{y}.png"
    assert workspaces.redact(keep) == keep


def test_redact_takes_passwords_out():
    """A database address or connection string in a message loses its password; a known one shows its name."""
    msg = ('could not open postgresql://gis:s3cr%40t@db.office:5432/planner?options=x; '
           'conninfo host=db password=\'p w\' user=gis; retry with PASSWORD=hunter2')
    out = workspaces.redact(msg)
    for secret in ("s3cr", "p w", "hunter2"):
        assert secret not in out, out
    assert "postgresql://gis:***@db.office:5432/planner" in out and "user=gis" in out
    cat = workspaces.Catalog((("office", "postgresql://gis:s3cret@db/planner"),), ())
    assert cat.redact("postgresql://gis:s3cret@db/planner is read-only") == "office is read-only"
    keep = "http://tiles.intranet/{z}/{x}/{y}.png, mailto:gis@jinjiang.gov.cn, 12:30@2025"
    assert workspaces.redact(keep) == keep


@pytest.fixture
def hostile_ws(tmp_path):
    """A workspace whose survey carries HTML and formulas in attribute values (parcel r3c4: the XSS owner)."""
    ws = build_workspace(tmp_path / "ws" / "hostile.gpkg")
    store = GpkgStore(ws)
    g = store.read_parcels()
    g["owner"] = g["owner"].astype(object)
    g["enterprise"] = g["enterprise"].astype(object)
    g.loc[g["parcel_id"] == "r3c4", "owner"] = XSS
    g.loc[g["parcel_id"] == "r3c5", "owner"] = SCRIPT
    g.loc[g["parcel_id"] == "r3c6", "owner"] = LINK
    g.loc[g["parcel_id"] == "r3c4", "enterprise"] = "@SUM(A1:A9)"
    g.loc[g["parcel_id"] == "r3c4", "zone_far_max"] = 0.1  # far_gap below zero: a negative number in exports
    store.publish_survey(g, label="hostile", user="test")
    return ws


@pytest.mark.parametrize("how", ["planner_error", "os_error", "unexpected"])
@pytest.mark.parametrize("page", ["scenarios", "explorer", "compare"])
def test_errors_shown_in_the_app_carry_no_server_paths(hostile_ws, tmp_path, monkeypatch, page, how):
    from planner.scenarios import Scenario, SiteSelection
    from planner.ui import data as ui_data
    from planner.ui import results

    GpkgStore(hostile_ws).save_doc("scenario", "a", Scenario(name="a", sites=SiteSelection(top=2)).to_dict())
    GpkgStore(hostile_ws).save_doc("scenario", "b", Scenario(name="b", sites=SiteSelection(top=3)).to_dict())
    secret = str(tmp_path / "srv" / "planner" / "data" / "hostile.gpkg")
    exc = {"planner_error": DataError(f"{secret}: the layer is damaged", zh=f"{secret}：图层已损坏"),
           "os_error": PermissionError(13, "Permission denied", secret),
           "unexpected": RuntimeError(f"sqlite failed on {secret} and {hostile_ws}")}[how]

    def boom(*a, **k):
        raise exc

    monkeypatch.setattr(results, "run_scenario", boom)  # scenarios, compare
    monkeypatch.setattr(ui_data, "_classified", boom)  # explorer (and every classified view)
    monkeypatch.setenv("PLANNER_WORKSPACE", str(hostile_ws))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    if page != "explorer":
        at.switch_page(f"views/{page}.py").run()
    texts = _page_texts(at)
    shown = [e.value for e in at.error] + [e.message for e in at.exception]
    assert shown, f"the {page} page should show the error"
    assert _paths_shown(texts) == []
    assert any("hostile.gpkg" in t for t in texts)  # the file is still named, by its name


# -- HTML in attribute values -----------------------------------------------------------------------
def _tooltip(gj):
    import folium

    return next(c for c in gj._children.values() if isinstance(c, folium.GeoJsonTooltip))


def test_map_tooltips_escape_attribute_values():
    import folium

    from planner import maps

    g = gpd.GeoDataFrame({"parcel_id": ["a<b>", "p2", "p3"], "owner": [XSS, SCRIPT, "A&B 有限公司"],
                          "area": [1.5, -2.0, None], "_c": "#ff0000"},
                         geometry=[shapely.box(118.5 + i / 100, 24.7, 118.5 + (i + 1) / 100, 24.71) for i in range(3)],
                         crs=4326)
    m, _ = maps.make_map((118.5, 24.7, 118.53, 24.71))
    fg = maps.geojson_layer(g, "x", tooltip={"parcel_id": "宗地<b>", "owner": "权利人", "area": "面积"})
    fg.add_to(m)
    gj = next(c for c in fg._children.values() if isinstance(c, folium.GeoJson))
    tip = _tooltip(gj)
    props = [f["properties"] for f in gj.data["features"]]
    shown = [[p[f] for f in tip.fields] for p in props]
    assert shown[0][:2] == ["a&lt;b&gt;", "&lt;img src=x onerror=alert(1)&gt;"]
    assert shown[1][1] == "&lt;/script&gt;&lt;script&gt;alert(2)&lt;/script&gt;"
    assert shown[2][1] == "A&amp;B 有限公司" and [s[2] for s in shown] == [1.5, -2.0, None]
    assert tip.aliases[0] == "宗地&lt;b&gt;"
    # clicks still return the raw id
    assert [p["parcel_id"] for p in props] == ["a<b>", "p2", "p3"]
    html = m.get_root().render()
    assert "<img src=x" not in html and "</script><script>alert" not in html


def test_app_map_layer_escapes_what_the_tooltip_shows(hostile_ws, monkeypatch):
    """The explorer's parcel layer as the app builds it (mapview), with the hostile owners in view."""
    import folium

    from planner import maps
    from planner.ui import mapview

    g = GpkgStore(hostile_ws).read_parcels()
    idx = maps.LayerIndex.build(g, id_col="parcel_id")
    layer = mapview.MapLayer("parcels", "宗地", idx, columns=("parcel_id", "owner", "land_use"),
                             tooltip={"parcel_id": "宗地", "owner": "权利人", "land_use": "用途"})
    view = maps.viewport_features(idx, idx.lonlat_bounds(), 17, columns=layer.columns)
    fg = mapview._fg(layer, view)
    gj = next(c for c in fg._children.values() if isinstance(c, folium.GeoJson))
    by_id = {f["properties"]["parcel_id"]: f["properties"] for f in gj.data["features"]}
    shown = {pid: [p[f] for f in _tooltip(gj).fields] for pid, p in by_id.items()}
    assert shown["r3c4"][1] == "&lt;img src=x onerror=alert(1)&gt;"
    assert all("<" not in str(v) for vals in shown.values() for v in vals)


def test_a_right_to_left_override_in_an_id_turns_no_heading_or_tooltip_around(tmp_path, monkeypatch):
    """"r1c1" + U+202E + "4c3r" read "r1c1r3c4" in the detail heading and the map tooltip (the override turns
    what follows around), while the detail table showed "r1c14c3r": the heading and the tooltip now leave the
    invisible characters out as the tables do; a click still returns the id as stored."""
    import folium

    from planner import maps

    spoof = "r1c1\u202e4c3r"
    ws = build_workspace(tmp_path / "rtl.gpkg")
    store = GpkgStore(ws)
    g = store.read_parcels()
    g.loc[g["parcel_id"] == "r1c1", "parcel_id"] = spoof
    g.loc[g["parcel_id"] == "r1c2", "owner"] = "甲\u200b公司\u202e"
    store.publish_survey(g, label="rtl", user="test")
    monkeypatch.setenv("PLANNER_WORKSPACE", str(ws))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.text_input(key="ex_goto").set_value(spoof).run()
    heads = [h.value for h in at.subheader if "r1c1" in h.value]
    assert heads and rendered(heads[0]) == "地块 r1c14c3r", heads
    assert "r1c14c3r" in detail_cells(at)
    sub = store.read_parcels().to_crs(4326)
    sub = sub[sub["parcel_id"].isin([spoof, "r1c2"])]
    fg = maps.geojson_layer(sub, "x", tooltip={"parcel_id": "宗地", "owner": "权利人"})
    gj = next(c for c in fg._children.values() if isinstance(c, folium.GeoJson))
    tip = _tooltip(gj)
    shown = {f["properties"]["parcel_id"]: [f["properties"][k] for k in tip.fields] for f in gj.data["features"]}
    assert shown[spoof][0] == "r1c14c3r" and shown["r1c2"][1] == "甲公司"


def test_app_tables_leave_out_invisible_characters_of_the_data(monkeypatch):
    """Every table of the app (tables.show -> localize): a problem's parcel id or value, an enterprise name, holding
    a right-to-left override or a zero-width space is shown without it (the grid honoured the override:
    "r1c1" + U+202E + "4c3r" read "r1c1r3c4"), as the detail table and the version lists show them."""
    from planner.ingest.report import Problem
    from planner.ui import tables

    monkeypatch.setattr(tables, "lang", lambda: "zh")
    probs = [Problem("hidden_id", "flagged", "invisible characters", 3, "r1c1\u202e4c3r", "parcel_id",
                     "甲\u200b公司\tX", "编号含不可见字符")]
    shown = tables.localize(tables.problems_frame(probs, "zh"), "zh")
    cells = [v for v in shown.to_numpy().ravel() if isinstance(v, str)]
    assert "r1c14c3r" in cells and "甲公司 X" in cells, cells
    frame = tables.localize(pd.DataFrame({"enterprise": ["乙\u202e丙", None], "n": [1.0, 2.0]}), "zh")
    assert frame["enterprise"].tolist()[0] == "乙丙" and pd.isna(frame["enterprise"].iloc[1])
    assert frame["n"].tolist() == [1.0, 2.0]


def test_app_tables_and_headings_show_hostile_values_as_text(hostile_ws, monkeypatch):
    monkeypatch.setenv("PLANNER_WORKSPACE", str(hostile_ws))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.text_input(key="ex_goto").set_value("r3c4").run()
    assert not at.exception
    cells = detail_cells(at)
    assert XSS in cells and "@SUM(A1:A9)" in cells  # shown as the text it is (escaped Markdown, not HTML)
    # no element that renders HTML carries the value
    assert not [m.value for m in at.markdown if m.allow_html and "onerror" in m.value]


def test_parcel_id_markdown_is_shown_literally(tmp_path, monkeypatch):
    """A parcel id is survey data: in the detail heading it must not become a link or an image."""
    ws = build_workspace(tmp_path / "md.gpkg")
    store = GpkgStore(ws)
    g = store.read_parcels()
    evil = "![x](http://evil.example/t.png)"
    g.loc[g["parcel_id"] == "r1c1", "parcel_id"] = evil
    store.publish_survey(g, label="md", user="test")
    monkeypatch.setenv("PLANNER_WORKSPACE", str(ws))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.text_input(key="ex_goto").set_value(evil).run()
    heads = [h.value for h in at.subheader if "地块" in h.value]
    assert heads and "](" not in heads[0].replace("\\]\\(", ""), heads
    assert "\\!\\[x\\]\\(http" in heads[0]


def test_html_report_escapes_hostile_names(tmp_path):
    from planner.report import compare_html, html_report
    from planner.scenarios import run, scenario_from_dict
    from planner.scenarios.comparison import compare

    sites = gpd.GeoDataFrame({"site_id": [XSS, SCRIPT], "status": "ok", "rank": [1, 2],
                              "land_area_m2": [10_000.0, 10_000.0], "floor_area_m2": [4_000.0, 0.0]},
                             geometry=[shapely.box(0, 0, 100, 100), shapely.box(150, 0, 250, 100)], crs="EPSG:4549")
    r = run(sites, scenario_from_dict({"name": "s<script>", "label": XSS, "description": SCRIPT,
                                       "policy_name": "<b>p</b>"}))
    r2 = run(sites, scenario_from_dict({"name": "t", "policy_name": "x"}))
    for text in (html_report(r), html_report(r, lang="en"), compare_html(compare([r, r2]))):
        assert "<img src=x" not in text and "<script>" not in text and "</script><script>" not in text
        assert "<b>p</b>" not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in html_report(r)


def test_html_reports_leave_out_invisible_characters():
    """A right-to-left override in a typed label or a site's parcel data turned the rest of its paragraph around
    in the offline HTML report (the override runs to the end of the block, past the closing ``</b>``)."""
    from planner.report import compare_html, html_report
    from planner.scenarios import run, scenario_from_dict
    from planner.scenarios.comparison import compare

    sites = gpd.GeoDataFrame({"site_id": ["S\u202e1", "S2\u200b"], "status": "ok", "rank": [1, 2],
                              "land_area_m2": [10_000.0, 10_000.0], "floor_area_m2": [4_000.0, 0.0]},
                             geometry=[shapely.box(0, 0, 100, 100), shapely.box(150, 0, 250, 100)], crs="EPSG:4549")
    r = run(sites, scenario_from_dict({"name": "s", "label": "方案\u202e甲", "description": "d\u202ex\x1b[2J"}))
    r2 = run(sites, scenario_from_dict({"name": "t", "label": "乙\u200b"}))
    for text in (html_report(r), html_report(r, lang="en"), compare_html(compare([r, r2]))):
        assert not {c for c in text if unicodedata.category(c) in ("Cf", "Cc") and c not in "\n\r\t"}
    assert "方案甲" in html_report(r) and "S1" in html_report(r)


# -- formulas in exports ------------------------------------------------------------------------------
def test_neutralize_cells():
    for f in FORMULAS:
        assert neutralize(f) == "'" + f
    for v in ("-12.5", "+86", "-1,234.5", "1e-3", "-5%", "厂房 = 工业", "A-1", "", "'=already", " -12.5", "  "):
        assert neutralize(v) == v
    for f in (" =1+1", "   @SUM(A1)", "\u3000＝HYPERLINK(\"http://evil.example\")", "\u00a0+1+1"):
        assert neutralize(f) == "'" + f  # a sheet that trims spaces on import would read the rest as a formula
    for v in (-3, -2.5, 0, None, True):
        assert neutralize(v) is v or neutralize(v) == v
    df = pd.DataFrame({"=bad": ["=1+1", "ok"], "n": [-1.5, 2.0], "c": pd.Categorical(["@x", "y"])})
    out = neutralize_frame(df)
    assert list(out.columns) == ["'=bad", "n", "c"]
    assert out["'=bad"].tolist() == ["'=1+1", "ok"] and out["n"].tolist() == [-1.5, 2.0]
    assert out["c"].tolist() == ["'@x", "y"]


#: Full-width (全角) formula starts: Excel in a Chinese or Japanese locale runs ``＝cmd|' /C calc'!A0`` as it runs
#: ``=cmd|...`` (OWASP www-community issue 1088); a Chinese input method types them unless switched to half width.
FULL_WIDTH = ("＝HYPERLINK(\"http://evil.example\",\"x\")", "＋1+1", "－2+3", "＠SUM(A1)")


def test_full_width_formula_starts_are_neutralized():
    for f in FULL_WIDTH:
        assert neutralize(f) == "'" + f
    for v in ("厂房＝工业", "Ａ-1", "１２３", "（＝）"):  # not at the start: text as it is
        assert neutralize(v) == v
    assert neutralize_frame(pd.DataFrame({"＝x": ["＠y"]})).to_dict("list") == {"'＝x": ["'＠y"]}


def test_enterprise_names_and_codes_reach_the_csv_exports_neutralized(tmp_path, capsys):
    """A tax bureau's table is a delivered file: its enterprise names become the parcels' ``enterprise`` text
    (joined with ；), its credit codes their ``credit_codes``, and a mistyped code a value of the ``--report``."""
    from planner.cli import main
    from tests.test_enterprise import HEADER, code, parcels, write_links

    ws = tmp_path / "ws.gpkg"
    GpkgStore(ws, crs="EPSG:4549", create=True).publish_survey(parcels(), label="base")
    names = [LINK, "@SUM(A1:A9)", *FULL_WIDTH[:3], "-2+3"]
    rows = [[code(i + 1), n, "19", "10", "100", "5", "3", "2024"] for i, n in enumerate(names)]
    rows.append(["＝1+1", "丁五金有限公司", "33", "1", "1", "1", "1", "2024"])  # a code to report (read half width)
    pd.DataFrame([HEADER, *rows]).to_csv(tmp_path / "ent.csv", header=False, index=False, encoding="gbk")
    links = [["宗地代码", "统一社会信用代码"], *([f"P{1 + i % 3}", code(i + 1)] for i in range(len(names))),
             ["＠P9", code(1)]]
    write_links(tmp_path / "links.csv", links)
    assert main(["enterprise", "ingest", str(tmp_path / "ent.csv"), "--link", str(tmp_path / "links.csv"),
                 "-w", str(ws), "--report", str(tmp_path / "rep.csv")]) == 0
    assert main(["classify", "-w", str(ws), "--out", str(tmp_path / "flags.csv"), "--no-store"]) == 0
    capsys.readouterr()
    for name in ("rep.csv", "flags.csv"):
        with open(tmp_path / name, encoding="utf-8-sig", newline="") as fh:
            cells = [v for row in csv.reader(fh) for v in row]
        assert [v for v in cells if neutralize(v) != v] == [], name
        if name == "flags.csv":
            ent = [v for v in cells if "SUM" in v or "HYPERLINK" in v]
            assert ent and all(v.startswith("'") for v in ent), ent
    rep = (tmp_path / "rep.csv").read_text(encoding="utf-8-sig")
    assert "'=1+1" in rep and "'＠P9" in rep  # the link table's parcel id as delivered


def _check_workbook(path: Path) -> list:
    """Every cell of a workbook: text cells are strings, no formula-like text, no links; returns the cells."""
    wb = load_workbook(path)
    cells = []
    for ws in wb.worksheets:
        assert not ws._hyperlinks, ws.title
        for row in ws.iter_rows():
            for c in row:
                if c.value is None:
                    continue
                cells.append(c)
                assert c.data_type in ("s", "n", "b"), (ws.title, c.coordinate, c.data_type, c.value)
                if c.data_type == "s":
                    assert neutralize(c.value) == c.value, (ws.title, c.coordinate, c.value)
    return cells


def test_excel_exports_store_formula_text_as_strings(tmp_path):
    from planner.report import compare_to_excel, to_excel
    from planner.scenarios import run, scenario_from_dict
    from planner.scenarios.comparison import compare

    sites = gpd.GeoDataFrame({"site_id": [LINK, "@SUM(A1:A9)"], "status": "ok", "rank": [1, 2],
                              "land_area_m2": [10_000.0, 10_000.0], "floor_area_m2": [40_000.0, 0.0]},
                             geometry=[shapely.box(0, 0, 100, 100), shapely.box(150, 0, 250, 100)], crs="EPSG:4549")
    r = run(sites, scenario_from_dict({"name": "=1+1", "description": LINK, "policy_name": "=cmd|' /C calc'!A0"}))
    r2 = run(sites, scenario_from_dict({"name": "+2+2", "description": "http://evil.example/x",
                                        "policy_name": "-1+1", "sites": {"top": 1}}))
    one = _check_workbook(to_excel(r, tmp_path / "one.xlsx"))
    texts = {c.value for c in one if c.data_type == "s"}
    assert "'" + LINK in texts and "'@SUM(A1:A9)" in texts and "'=1+1" in texts
    assert any(str(t).startswith("'=cmd|") for t in texts)
    # numbers stay numbers, negative ones too
    nums = [c.value for c in one if c.data_type == "n"]
    assert nums and any(v < 0 for v in nums)
    both = _check_workbook(compare_to_excel(compare([r, r2]), tmp_path / "cmp.xlsx"))
    texts = {c.value for c in both if c.data_type == "s"}
    assert "'=1+1" in texts and "'+2+2" in texts
    assert [c.value for c in both if c.data_type == "n" and c.value < 0]  # differences below zero stay numbers


def test_ingest_report_csv_neutralizes_values(tmp_path):
    from planner.ingest.report import IngestReport, Problem
    from planner.io.writers import write_report

    rep = IngestReport(source="survey.zip\n=1+1")
    rep.problems.append(Problem(row=3, parcel_id="@SUM(A1)", field="owner", value=LINK, code="bad_value",
                                action="rejected", message="-2+3 is not allowed", message_zh="值不合法"))
    p = write_report(rep, tmp_path / "r.csv")
    lines = p.read_text(encoding="utf-8-sig").splitlines()
    assert all(line.startswith("#") for line in lines[: lines.index(next(ln for ln in lines if ln.startswith("row")))])
    rows = list(csv.reader([ln for ln in lines if not ln.startswith("#")]))
    assert rows[1][1] == "'@SUM(A1)" and rows[1][3] == "'" + LINK and rows[1][6] == "'-2+3 is not allowed"
    assert rows[1][0] == "3"


def test_cli_classify_csv_neutralizes_text_and_keeps_numbers(hostile_ws, tmp_path):
    from planner.cli import main

    out = tmp_path / "flags.csv"
    assert main(["classify", "-w", str(hostile_ws), "--out", str(out), "--no-store"]) == 0
    with open(out, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    by_id = {r["parcel_id"]: r for r in rows}
    assert by_id["r3c6"]["owner"] == "'" + LINK
    assert by_id["r3c4"]["enterprise"] == "'@SUM(A1:A9)"
    assert by_id["r3c4"]["owner"] == XSS
    for r in rows:
        for k, v in r.items():
            assert neutralize(v) == v, (k, v)
    far_gap = [float(r["far_gap"]) for r in rows if r.get("far_gap")]
    assert any(v < 0 for v in far_gap)  # a negative number is still a plain number in the CSV


def test_sites_csv_neutralizes_parcel_ids(tmp_path):
    from planner import sites as S
    from planner.classify import classify
    from planner.classify.policy import default_policy
    from planner.cli.sites import write_result

    g = grid_parcels(6, seed=3)
    g["parcel_id"] = ["=" + p if i % 2 else "+" + p for i, p in enumerate(g["parcel_id"])]
    flagged = classify(g, default_policy())
    flagged["three_low"] = True
    res = S.build_sites(flagged, S.SiteParams(min_area_m2=1.0))
    paths = write_result(res, tmp_path / "sites.csv")
    for p in paths:
        with open(p, encoding="utf-8", newline="") as fh:
            for row in csv.reader(fh):
                for v in row:
                    assert neutralize(v) == v, (p.name, v)
    side = pd.read_csv(paths[1], dtype=str)
    assert side["parcel_id"].str.startswith("'").all()
    assert json.dumps(side["parcel_id"].tolist()).count("'=") > 0


def test_enterprise_tab_shows_hostile_names_codes_and_labels_as_text(tmp_path, monkeypatch):
    """The data manager's enterprise tab: a table whose names and codes carry HTML, Markdown and formulas, a link
    table's parcel id a link, a typed label, and an upload name (named in the refusal of the same table again)
    that do too. Every Markdown place escapes them (the refusal fails when ``md_text`` is left out); tables show
    them as text."""
    from tests.test_app_enterprise import _page
    from tests.test_enterprise import HEADER, ROWS, code, parcels, write_links

    ws = tmp_path / "ws.gpkg"
    GpkgStore(ws, crs="EPSG:4549", create=True).publish_survey(parcels(), label="base")
    monkeypatch.setenv("PLANNER_WORKSPACE", str(ws))
    monkeypatch.delenv("PLANNER_DATA_DIR", raising=False)
    monkeypatch.delenv("PLANNER_WORKSPACES", raising=False)
    monkeypatch.setenv("PLANNER_UPLOAD_DIR", str(tmp_path / "uploads"))
    rows = [r[:] for r in ROWS]
    rows[0][1], rows[1][1], rows[2][1] = XSS, CRAFTED_NAME, LINK
    rows[3][0] = "<svg onload=alert(3)>"  # a code that is not one: reported with its value
    pd.DataFrame([HEADER, *rows]).to_csv(tmp_path / "t.csv", header=False, index=False, encoding="gbk")
    links = [["宗地代码", "统一社会信用代码"], ["P1", code(1)], ["P2", code(2)], ["[P](http://198.51.100.7)", code(3)]]
    write_links(tmp_path / "l.csv", links)
    at = _page()
    at.file_uploader[1].set_value(("t.csv", (tmp_path / "t.csv").read_bytes(), "text/csv")).run()
    at.file_uploader[2].set_value(("l.csv", (tmp_path / "l.csv").read_bytes(), "text/csv")).run()
    at.text_input(key="de_label").set_value("[v](http://198.51.100.7) <b>l</b> \u202e").run()
    at.button(key="de_check").click().run()
    checked = _shown_as(at)
    at.button(key="de_publish").click().run()
    published = _shown_as(at)
    # the same table again under a crafted upload name: refused, naming the upload as it is
    crafted = "![x](javascript:alert(1)) <img src=x onerror=alert(1)>.csv"  # no slash: an upload keeps its last part
    at.file_uploader[1].set_value((crafted, (tmp_path / "t.csv").read_bytes(), "text/csv")).run()
    at.file_uploader[2].set_value(("l.csv", (tmp_path / "l.csv").read_bytes(), "text/csv")).run()
    at.button(key="de_check").click().run()
    _shown_as(at)
    said = [rendered(w.value) for w in at.warning]
    assert any(crafted in w for w in said), said  # named as it is
    assert "<SVGONLOAD=ALERT(3)>" in checked  # the bad code (read compacted), a problem shown as text
    assert "[P](http://198.51.100.7)" in checked  # the link table's parcel id nobody has
    assert "[v](http://198.51.100.7) <b>l</b>" in published  # the label, its override left out
    assert len(GpkgStore(ws).layers("enterprise")) == 1


def _shown_as(at) -> set[str]:
    """The table cells of a page, after checking that no Markdown place shows an image, a link or HTML."""
    assert not at.exception, [e.message for e in at.exception]
    for kind in ("markdown", "caption", "info", "warning", "error", "success"):
        for m in getattr(at, kind):
            v = m.value
            assert "](" not in v.replace("\\](", "") and not re.search(r"(?<!\\)<(b|svg|img)\b", v), v
            assert not (getattr(m, "allow_html", False) and re.search("onload|onerror|198\\.51|javascript", v)), v
    return {str(c).strip() for d in at.dataframe for c in d.value.to_numpy().ravel()}


# -- invisible characters in PDFs ------------------------------------------------------------------------------
INVISIBLE = ("abc\u202eexe.pdf", "zero\u200bwidth\u200d", "tab\tbed", "esc\x1b[2Jape", "bom\ufeffhere")


def test_pdfs_leave_out_invisible_characters_of_data_and_names(tmp_path, caplog, capsys):
    """A right-to-left override, a zero-width space or an escape in an owner (a delivered file) or a scenario's
    label (typed) has no glyph in the PDF's font: fpdf2 drew nothing for it and logged "Font ... is missing the
    following glyphs: '\u202e'", the raw override on the command's terminal. The PDFs leave them out, as the app's
    tables do, and keep line breaks."""
    import logging
    import unicodedata

    import pypdfium2 as pdfium

    from planner.cli import main

    ws = build_workspace(tmp_path / "ws.gpkg")
    store = GpkgStore(ws)
    g = store.read_parcels()
    g["owner"] = [INVISIBLE[i % len(INVISIBLE)] for i in range(len(g))]
    g["enterprise"] = [INVISIBLE[(i + 1) % len(INVISIBLE)] + "\nline2" for i in range(len(g))]
    store.publish_survey(g, label="invisible", user="test")
    assert main(["classify", "-w", str(ws)]) == 0 and main(["sites", "-w", str(ws)]) == 0
    (tmp_path / "sc.json").write_text(json.dumps({"name": "inv", "label": "方案\u202e甲\u200b", "sites": {"top": 2},
                                                  "description": "desc\u202eription\tx"}), encoding="utf-8")
    capsys.readouterr()
    with caplog.at_level(logging.WARNING):
        assert main(["brief", "--top", "2", "-w", str(ws), "--out", str(tmp_path / "brief.pdf")]) == 0
        assert main(["scenario", "run", str(tmp_path / "sc.json"), "-w", str(ws), "--out", str(tmp_path),
                     "--no-save"]) == 0
    err = capsys.readouterr().err
    assert not [r.getMessage() for r in caplog.records if "glyph" in r.getMessage()]
    assert "\u202e" not in err and "\x1b" not in err
    for name in ("brief.pdf", "inv.pdf"):
        doc = pdfium.PdfDocument(str(tmp_path / name))
        text = "".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
        doc.close()
        hidden = {c for c in text if unicodedata.category(c) in ("Cc", "Cf") and c not in "\r\n"}
        assert hidden == set(), (name, hidden)
        if name == "brief.pdf":
            assert "abcexe.pdf" in text and "zerowidth" in text and "tab bed" in text, text
        else:
            assert "方案甲" in text


# -- Markdown in user text: names are shown as typed, never as images, links or HTML -------------------------------

CRAFTED_NAME = "![x](http://198.51.100.7/x.png) **big** [go](http://198.51.100.7) <b>b</b> $x$"


def test_markdown_in_filled_in_text_is_escaped(monkeypatch):
    from streamlit.testing.v1 import AppTest as _AT  # noqa: F401  (streamlit loaded, as in the app)

    from planner.ui import state

    monkeypatch.setattr(state, "redact", lambda s: s)
    escaped = state.md_text(CRAFTED_NAME)
    assert "](" not in escaped.replace("\\](", "") and "<b>" not in escaped and "**" not in escaped
    # what Markdown shows of the escaped text is the text itself (CommonMark backslash escapes)
    assert rendered(escaped) == CRAFTED_NAME


def test_comparison_shows_a_crafted_scenario_name_literally(tmp_path, monkeypatch):
    from planner import scenarios

    ws = build_workspace(tmp_path / "ws.gpkg")
    store = GpkgStore(ws)
    for name in ("plain", CRAFTED_NAME):
        store.save_doc("scenario", name, scenarios.Scenario(name=name, sites=scenarios.SiteSelection(top=3)).to_dict())
    monkeypatch.setenv("PLANNER_WORKSPACE", str(ws))
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("views/compare.py").run()
    assert not at.exception
    shown = [m.value for m in [*at.markdown, *at.caption, *at.success, *at.info]]
    heads = [v for v in shown if "198.51.100.7" in rendered(v)]
    assert heads, "the crafted name is shown somewhere"
    for v in heads:  # every Markdown place escapes it: no image, no link, no bold, no HTML, no LaTeX
        assert "![" not in v and "](" not in v.replace("\\](", "") and "<b>" not in v and "$x$" not in v
    # the comparison table shows it as typed (no backslashes in a plain-text header)
    cols = [c for d in at.dataframe for c in d.value.columns]
    assert CRAFTED_NAME in cols


def test_make_run_does_not_print_the_database_password(monkeypatch, capsys):
    """README's office set-up exports ``PLANNER_WORKSPACE='postgresql://planner:change-me@...'`` and then runs
    ``make run``, which printed "starting the planner on postgresql://planner:change-me@..." to the console and
    the server's log."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_tasks_pw", Path(__file__).resolve().parents[1] / "tasks.py")
    tasks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tasks)
    monkeypatch.setattr(tasks, "_ensure_env", lambda extra: None)
    monkeypatch.setattr(tasks, "_exec", lambda cmd, env=None: 0)
    monkeypatch.delenv("PLANNER_DATA_DIR", raising=False)
    for uri, shown in (("postgresql://planner:change-me@localhost:5432/planner?schema=jinjiang", "planner/jinjiang"),
                       ("postgres://gis:p@ss:w/rd@db.office/planner", "planner/planner")):
        monkeypatch.setenv("PLANNER_WORKSPACE", uri)
        assert tasks.run([]) == 0
        out = capsys.readouterr().out
        assert f"starting the planner on {shown} " in out and "change-me" not in out and "ss:w" not in out, out
        assert "localhost" not in out and "db.office" not in out, out  # README: database/schema, never the host


@pytest.mark.parametrize("uri", ["PostgreSQL://gis:Zq-s3cret@db.office/planner?schema=a",
                                 "postgresql+psycopg://gis:Zq-s3cret@db.office/planner",
                                 " postgresql://gis:Zq-s3cret@db.office/planner", "pg://gis:Zq-s3cret@db/x"])
def test_a_mistyped_database_address_is_refused_without_its_password(uri, capsys, tmp_path, monkeypatch):
    """A database address the planner does not take (a capital scheme, SQLAlchemy's form, a leading space) was
    refused by echoing it whole: ``workspace 'PostgreSQL://gis:s3cret@db.office/...': expected a .gpkg file``."""
    from planner.cli import main

    monkeypatch.chdir(tmp_path)
    for argv in (["info", "-w", uri], ["workspace", "init", uri, "--crs", "EPSG:4549"],
                 ["ingest", str(Path(__file__).resolve().parents[1] / "gis_data" / "survey_update.zip"), "-w", uri]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "expected a .gpkg file or a postgresql:// URI" in err and "Zq-s3cret" not in err, err
        assert "gis@db" not in err and "db.office" not in err and uri.strip().split(":")[0] + "://…/" in err, err
    assert list(tmp_path.iterdir()) == []  # nothing made under the mistyped name
