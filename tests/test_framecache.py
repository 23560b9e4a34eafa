"""planner.io.framecache: the disk cache a restarted app server reads its parcels, flags and sites from.

What comes back must be the frame that went in (values, dtypes, order,
index, CRS, attrs, every kind of geometry); anything else in the folder (an
entry of another key or other code, a broken file, a write killed midway, a
folder that cannot be written) is a miss, never an error and never a wrong
frame. The app-level round trip (the warm-up keeps, a restart reads) is in
tests/test_warmup.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal

from planner.io import framecache
from tests.conftest import ROOT


@pytest.fixture
def cache(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setenv("PLANNER_CACHE_DIR", str(d))
    return d


def odd_frame() -> gpd.GeoDataFrame:
    """Every geometry and column kind a survey layer brings, the geometry column neither last nor 'geometry'."""
    hole = shapely.Polygon([(0, 0), (10, 0), (10, 10), (0, 10)], [[(2, 2), (4, 2), (4, 4), (2, 4)]])
    geoms = [shapely.box(500000, 2740000, 500050, 2740050), hole,
             shapely.MultiPolygon([shapely.box(0, 0, 1, 1), shapely.box(2, 2, 3, 3)]), None,
             shapely.Polygon(), shapely.Polygon([(0, 0, 1), (1, 0, 1), (1, 1, 2), (0, 0, 1)]),
             shapely.LineString([(0, 0), (1, 1)])]
    n = len(geoms)
    g = gpd.GeoDataFrame({
        "parcel_id": ["p1", "地块-2", None, "=HYPERLINK(\"x\")", "<b>5</b>", "p6", "p7"],
        "area": [1.5, np.nan, 3.0, 4.0, 5.0, 6.0, 7.0],
        "floors": np.arange(n, dtype=np.int64),
        "flag": [True, False, True, False, True, False, True],
        "state": pd.Categorical(["low", "ok", None, "low", "unknown", "ok", "low"],
                                categories=["low", "ok", "unknown"]),
        "owner": pd.array(["甲", None, "c", "d", "e", "f", "g"], dtype="string"),
    }, geometry=geoms, crs="EPSG:4549", index=pd.RangeIndex(10, 10 + n))
    g = g.rename_geometry("geom")[["parcel_id", "geom", "area", "floors", "flag", "state", "owner"]]
    assert sum(x is not None for x in g.geometry) == n - 1  # (aligned with the index)
    g.attrs.update({"meta": {"generator": "test", "n": n, "nested": {"a": [1, 2]}}, "table": "survey_x_v0001_abcdef",
                    "enterprise_version": None})
    return g


def test_a_frame_comes_back_as_it_went_in(cache):
    g = odd_frame()
    arrays = {"cx": np.linspace(0, 1, len(g)), "bounds": np.array([1.0, 2.0, 3.0, 4.0])}
    assert framecache.save("parcels", "k1", g, arrays, code="c1")
    got, arr = framecache.load("parcels", "k1", code="c1")
    assert_geodataframe_equal(got, g)  # values, dtypes, order, index, CRS, geometry (types, holes, Z)
    assert got.geometry.name == "geom" and list(got.columns) == list(g.columns)
    assert got.attrs == g.attrs
    assert set(arr) == {"cx", "bounds"} and np.array_equal(arr["cx"], arrays["cx"])
    assert np.array_equal(arr["bounds"], arrays["bounds"])
    assert [x.geom_type if x is not None else None for x in got.geometry] == \
        [x.geom_type if x is not None else None for x in g.geometry]


def test_a_plain_frame_and_an_all_polygon_layer_come_back(cache):
    df = pd.DataFrame({"low_utilization": pd.Categorical(["low", "ok"]), "n_low": [1, 0], "three_low": [True, False]})
    assert framecache.save("flags", "k", df)
    got, arrays = framecache.load("flags", "k")
    pd.testing.assert_frame_equal(got, df)
    assert arrays == {}
    polys = gpd.GeoDataFrame({"id": ["a", "b"]}, geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 1, 3, 3)],
                             crs="EPSG:32650")
    assert framecache.save("sites", "k", polys)
    assert_geodataframe_equal(framecache.load("sites", "k")[0], polys)


def test_another_key_other_code_or_another_name_is_a_miss(cache):
    g = odd_frame()
    assert framecache.save("parcels", "k1", g, code="c1")
    assert framecache.has("parcels", "k1", code="c1")
    assert framecache.load("parcels", "k2", code="c1") is None
    assert framecache.load("parcels", "k1", code="c2") is None  # made by other code
    assert framecache.load("sites", "k1", code="c1") is None
    assert not framecache.has("parcels", "k1", code="c2")
    assert framecache.save("parcels", "k1", g.iloc[:2], code="c2")  # other code: replaced, not mixed
    assert len(framecache.load("parcels", "k1", code="c2")[0]) == 2
    assert framecache.load("parcels", "k1", code="c1") is None


def test_a_database_address_in_the_key_is_not_written_to_disk(cache):
    key = "survey/parcels/1#postgresql://planner:s3cret-pw@db.example:5432/city"
    assert framecache.save("parcels", key, odd_frame())
    assert framecache.load("parcels", key) is not None
    for f in cache.rglob("*"):
        if f.is_file():
            assert b"s3cret-pw" not in f.read_bytes(), f


@pytest.mark.parametrize("damage", ["truncate", "garbage_meta", "drop_file", "wrong_rows"])
def test_a_broken_entry_is_a_miss_and_is_removed(cache, damage, caplog):
    assert framecache.save("parcels", "k", odd_frame())
    entry = next(cache.glob("parcels-*"))
    if damage == "truncate":
        f = entry / "frame.arrow"
        f.write_bytes(f.read_bytes()[:200])
    elif damage == "garbage_meta":
        (entry / "meta.json").write_text("{not json", encoding="utf-8")
    elif damage == "drop_file":
        (entry / "g-coords.arrow").unlink()
    else:
        import json

        meta = json.loads((entry / "meta.json").read_text(encoding="utf-8"))
        meta["n"] = 3
        (entry / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    assert framecache.load("parcels", "k") is None
    if damage != "garbage_meta":  # (an unreadable description is simply not ours: left to eviction)
        assert not entry.exists()
        assert "broken" in caplog.text
    assert framecache.save("parcels", "k", odd_frame())  # made again
    assert framecache.load("parcels", "k") is not None


def test_cache_off_or_a_folder_that_cannot_be_made_keeps_nothing_and_never_raises(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("PLANNER_CACHE_DIR", "off")
    assert framecache.cache_dir() is None
    assert not framecache.save("parcels", "k", odd_frame())
    assert framecache.load("parcels", "k") is None
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv("PLANNER_CACHE_DIR", str(blocker / "cache"))  # under a file: cannot be made
    assert not framecache.save("parcels", "k", odd_frame())
    assert framecache.load("parcels", "k") is None
    assert "not kept" in caplog.text


def test_attrs_that_are_not_json_are_not_kept(cache):
    g = odd_frame()
    g.attrs["when"] = object()
    assert not framecache.save("parcels", "k", g)
    assert framecache.load("parcels", "k") is None


def test_a_write_killed_midway_leaves_no_entry_and_its_leftovers_go(cache):
    code = (
        "import os, sys, time\n"
        "from planner.io import framecache\n"
        "from tests.test_framecache import odd_frame\n"
        "def stall(src, dst):\n"
        "    print('written', flush=True); time.sleep(60)\n"
        "framecache.os.replace = stall\n"
        "framecache.save('parcels', 'k', odd_frame())\n"
    )
    env = {**os.environ, "PLANNER_CACHE_DIR": str(cache)}
    p = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "written"  # every file written, not yet renamed into place
    finally:
        p.kill()
        p.wait()
    assert framecache.load("parcels", "k") is None and not framecache.has("parcels", "k")
    left = list(cache.glob(".tmp-*"))
    assert len(left) == 1
    old = time.time() - 7200
    os.utime(left[0], (old, old))
    assert framecache.save("parcels", "k", odd_frame())  # the next write clears what the dead one left
    assert not left[0].exists() and framecache.load("parcels", "k") is not None


def test_two_writers_of_the_same_entry_leave_one_whole_entry(cache):
    g = odd_frame()
    out = []
    threads = [threading.Thread(target=lambda: out.append(framecache.save("parcels", "k", g))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out == [True] * 4
    assert len(list(cache.glob("parcels-*"))) == 1 and not list(cache.glob(".tmp-*"))
    assert_geodataframe_equal(framecache.load("parcels", "k")[0], g)


def test_entries_beyond_the_budget_go_least_recently_used_first(cache, monkeypatch):
    g = odd_frame()
    for i in range(3):
        assert framecache.save("parcels", f"k{i}", g)
        entry = next(p for p in cache.glob("parcels-*") if framecache.has("parcels", f"k{i}"))
        old = time.time() - 1000 + i * 100
        os.utime(entry / "meta.json", (old, old))
    size = sum(f.stat().st_size for f in next(cache.glob("parcels-*")).iterdir())
    assert framecache.load("parcels", "k0") is not None  # used now: the most recent
    monkeypatch.setenv("PLANNER_CACHE_MAX_GB", str(1.5 * size / 1e9))  # room for one parcels entry and a little
    assert framecache.save("flags", "x", pd.DataFrame({"a": [1]}))  # a write makes room
    assert framecache.has("parcels", "k0") and framecache.has("flags", "x")
    assert not framecache.has("parcels", "k1") and not framecache.has("parcels", "k2")


def test_a_long_text_column_comes_back_in_one_piece(cache):
    """Feather writes a record batch per 64k rows by default: a 1M-row column of 16 pieces made every map tile's
    row look-up 2x slower (pyarrow takes rows of a chunked column piece by piece)."""
    n = 70_000
    df = pd.DataFrame({"parcel_id": [f"p{i}" for i in range(n)], "area": np.arange(n, dtype=float)})
    g = gpd.GeoDataFrame(df, geometry=shapely.points(np.arange(n), np.arange(n)).astype(object), crs="EPSG:4549")
    g["geometry"] = shapely.buffer(g.geometry.values, 0.4, quad_segs=1)
    assert framecache.save("parcels", "big", g, {"cx": np.arange(n, dtype=float)})
    got, _ = framecache.load("parcels", "big")
    assert got["parcel_id"].array._pa_array.num_chunks == 1
    assert_geodataframe_equal(got, g)
