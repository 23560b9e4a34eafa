"""The server warms the default workspace's shared caches at start (serve.py): the first visitor does not wait."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pandas as pd

from planner.io.store import GpkgStore
from tests.conftest import ROOT
from tests.e2e._workspace import build_workspace


def test_warm_fills_the_caches_the_pages_use(tmp_path, monkeypatch):
    from planner.ui import data, warmup

    ws = str(build_workspace(tmp_path / "ws.gpkg"))
    monkeypatch.setenv("PLANNER_WORKSPACE", ws)
    monkeypatch.setattr(warmup, "QUIET_S", 0.0)  # nobody is served here
    steps = warmup.warm()  # the workspace the server offers
    assert {"classified", "parcel_index", "constraint_index", "barrier_index"} <= set(steps)

    def no_read(*_a, **_k):
        raise AssertionError("read from the workspace after the warm-up")

    monkeypatch.setattr(GpkgStore, "read_layer", no_read)
    monkeypatch.setattr(GpkgStore, "read_parcels", no_read)
    pol = data.default_policy_dict()
    g = data.classified(ws, pol)  # what the map page asks first: all from the shared caches
    assert len(g) and "three_low" in g.columns
    assert len(data.parcel_index(ws, pol)) == len(g)
    assert data.layer_index(ws, "constraint") is not None and data.layer_index(ws, "barrier") is not None
    # a user's first search finds the id without building the id hash (0.4 s at 1M parcels)
    ids = data.parcel_index(ws, pol).__dict__.get("_id_lookup")
    assert ids is not None and ids._cache.get("is_unique") is True
    assert "parcel_ids" in steps


def test_warm_skips_what_it_cannot_open_and_start_never_raises(tmp_path, monkeypatch, caplog):
    from planner.ui import warmup

    assert warmup.warm(str(tmp_path / "missing.gpkg")) == {}
    empty = tmp_path / "empty.gpkg"
    GpkgStore(empty, crs="EPSG:4549", create=True)
    assert warmup.warm(str(empty)) == {}  # no survey yet: nothing to warm
    junk = tmp_path / "junk.gpkg"
    junk.write_bytes(b"not a database")
    assert warmup.warm(str(junk)) == {}
    monkeypatch.setattr(warmup, "warm", lambda _p: (_ for _ in ()).throw(RuntimeError("boom")))
    th = warmup.start(str(junk))
    th.join(timeout=30)
    assert not th.is_alive()
    assert "warming the caches failed" in caplog.text


def test_the_server_entry_point_starts_the_warm_up():
    from pathlib import Path

    assert "warmup.start()" in (Path(__file__).resolve().parents[1] / "serve.py").read_text(encoding="utf-8")


def test_warm_imports_no_streamlit_component(tmp_path):
    """A component (streamlit_folium) imported by the warm-up thread, outside a page run, is registered with no
    server: its frontend then answers 404 and no map loads. The warm-up must leave components to the pages."""
    import subprocess
    import sys
    from pathlib import Path

    ws = build_workspace(tmp_path / "ws.gpkg")
    code = ("import sys; from planner.ui import warmup; warmup.QUIET_S = 0.0; s = warmup.warm(sys.argv[1]); "
            "print(sorted(m for m in sys.modules if m.startswith(('streamlit_folium', 'planner.ui.mapview')))); "
            "print(bool(s))")
    out = subprocess.run([sys.executable, "-c", code, str(ws)], cwd=Path(__file__).resolve().parents[1],
                         capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "[]" and out[1] == "True"


def test_what_the_first_map_does_not_need_waits_until_nobody_is_served(tmp_path, monkeypatch):
    """The map page's caches first; the look-ups and other pages' work only once no page runs and no map fetches
    tiles (a cold start's first map competed with them for the two cores), or after a bounded wait."""
    from planner.ui import tiles, warmup

    ws = str(build_workspace(tmp_path / "ws.gpkg"))
    asked = []
    monkeypatch.setattr(tiles, "busy", lambda: asked.append(len(asked)) or len(asked) <= 3)  # busy 3 times, then quiet
    monkeypatch.setattr(warmup, "QUIET_S", 0.1)
    steps = warmup.warm(ws)
    order = list(steps)
    assert order.index("max_area") < order.index("parcel_ids") and order[-2:] == ["imports", "keep_on_disk"]
    assert len(asked) >= 4  # the later steps waited for the quiet moment
    monkeypatch.setattr(tiles, "busy", lambda: True)  # never quiet: the wait is bounded
    monkeypatch.setattr(warmup, "QUIET_WAIT_S", 0.05)
    t = time.monotonic()
    warmup._wait_quiet()
    assert time.monotonic() - t < 1.0
    # quiet means quiet for a while: a pause between a page run and its tiles does not count
    calls = iter([False] * 2 + [True] + [False] * 1000)
    monkeypatch.setattr(tiles, "busy", lambda: next(calls))
    t = time.monotonic()
    warmup._wait_quiet(limit=5.0, quiet=0.3)
    assert 0.4 <= time.monotonic() - t < 2.0  # 0.15 s, then 0.3 s of quiet


def _frames(ws: str) -> dict:
    """What the map and the sites page take from the shared caches: the frames and their map indexes."""
    from planner import maptiles
    from planner.ui import data

    pol = data.default_policy_dict()
    idx = data.parcel_index(ws, pol)
    stored, err = data.stored_sites(ws, "default")
    assert err is None
    sidx = data.sites_index(stored.sites)
    return {"classified": data.classified(ws, pol), "parcels": data.parcels(ws),
            "index": (idx.cx, idx.cy, idx.area, idx.flagged, *maptiles.merc_points(idx), maptiles.merc_sorted(idx)[0],
                      np.asarray(idx.lonlat_bounds())),
            "sites": stored.sites, "site_parcels": stored.parcel_sites, "provenance": stored.provenance,
            "site_index": (sidx.cx, sidx.cy, sidx.area, *maptiles.merc_points(sidx), np.asarray(sidx.lonlat_bounds())),
            "site_tiles": [maptiles.tile_features(sidx, 15, *maptiles.tile_of(sidx, 0, 15)[1:]),
                           maptiles.tile_features(idx, 9, *maptiles.tile_of(idx, 0, 9)[1:])]}


def test_a_restarted_server_reads_what_the_warm_up_kept_on_disk_and_shows_the_same(tmp_path, monkeypatch):
    """A restart after the warm-up kept the parcels, flags and sites: nothing is read from the workspace or
    classified again, and every frame, index and tile equals what the first server computed."""
    import streamlit as st
    from geopandas.testing import assert_geodataframe_equal

    from planner.classify import flags as cl
    from planner.io import framecache
    from planner.ui import data, warmup

    ws = build_workspace(tmp_path / "ws.gpkg")
    for args in (["classify", "-w", ws], ["sites", "-w", ws]):
        subprocess.run([sys.executable, "-m", "planner", *map(str, args)], cwd=ROOT, check=True, capture_output=True)
    ws = str(ws)
    monkeypatch.setenv("PLANNER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(warmup, "QUIET_S", 0.0)
    st.cache_resource.clear()
    steps = warmup.warm(ws)
    assert steps.get("keep_on_disk") is not None
    kept = sorted(p.name.split("-")[0] for p in (tmp_path / "cache").iterdir())
    assert kept == ["flags", "indicators", "parcels", "site_parcels", "sites"]
    first = _frames(ws)

    st.cache_resource.clear()  # a new server process: its caches are empty, the disk cache is not
    data._KEPT_POINTS.clear()

    def no_read(*_a, **_k):
        raise AssertionError("read from the workspace although the disk cache holds it")

    monkeypatch.setattr(GpkgStore, "read_layer", no_read)
    monkeypatch.setattr(GpkgStore, "read_parcels", no_read)
    monkeypatch.setattr(cl, "evaluate", no_read)  # and not classified again
    again = _frames(ws)
    for k in ("classified", "parcels", "sites"):
        assert_geodataframe_equal(again[k], first[k])
        assert again[k].attrs == first[k].attrs
    pd.testing.assert_frame_equal(again["site_parcels"], first["site_parcels"])
    assert again["provenance"] == first["provenance"]
    for a, b in zip(again["index"] + again["site_index"], first["index"] + first["site_index"], strict=True):
        assert np.array_equal(a, b)
    assert again["site_tiles"] == first["site_tiles"]

    # a new survey version is not served from the old entries
    monkeypatch.undo()
    monkeypatch.setenv("PLANNER_CACHE_DIR", str(tmp_path / "cache"))
    s = GpkgStore(ws)
    g = s.read_parcels()
    g.loc[0, "floor_area_m2"] = 123456.0
    s.publish_survey(g, label="update", user="test")
    assert data.parcels(ws)["floor_area_m2"].iloc[0] == 123456.0
    assert not framecache.has("parcels", data.data_stamp(ws, data.PARCEL_KINDS), code=data._kept_code())
