"""Issue 19: the app's server memory stays bounded while a user tries rule variants (thresholds on the Rules page).

A rule variant's classification shares the parcel columns, the geometry and
the indicators with the parcels and the default rules' classification (only
the flags, counts and reasons are its own); the shipped default rules'
results stay cached however many variants are tried; at most
``MAX_RULE_VARIANTS`` variants stay in memory, also when their map index was
registered with the tile route (which holds it weakly and rebuilds it when a
map still asks for its tiles).
"""

from __future__ import annotations

import copy
import gc
import json
import weakref
from collections import OrderedDict

import numpy as np
import pandas as pd
import pytest

from planner import maptiles
from planner.ui import data, tiles
from tests.e2e._workspace import build_workspace

_CACHES = ("_parcels", "_indicators", "_classified_default", "_classified_variant", "_shown_default", "_shown_variant",
           "_parcel_index_default", "_parcel_index_variant", "_geometry_index", "_catalogue", "_store", "_stored_sites",
           "_resolved_policy")


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> str:
    return str(build_workspace(tmp_path_factory.mktemp("mem") / "ws.gpkg"))


@pytest.fixture
def fresh(monkeypatch):
    """Empty data caches and tile tables for the test."""
    for name in _CACHES:
        getattr(data, name).clear()
    monkeypatch.setattr(tiles, "_SPECS", OrderedDict())
    monkeypatch.setattr(tiles, "_TILES", OrderedDict())
    monkeypatch.setattr(tiles, "_tile_bytes", 0)
    yield
    for name in _CACHES:
        getattr(data, name).clear()


def _variant(threshold: float) -> dict:
    """The default rules with another plot-ratio threshold (what the Rules page's first number input changes)."""
    p = copy.deepcopy(data.default_policy_dict())
    p["criteria"]["utilization"]["rules"][0]["threshold"] = threshold
    return p


def _buffers(s: pd.Series) -> set[int]:
    """Addresses of the memory holding a column's values (numpy, categorical codes, Arrow strings, geometry)."""
    a = s.array
    if hasattr(a, "_pa_array"):
        return {b.address for ch in a._pa_array.chunks for b in ch.buffers() if b is not None and b.size}
    if isinstance(s.dtype, pd.CategoricalDtype):
        arr = np.asarray(a.codes)
    elif s.dtype.name == "geometry":
        arr = np.asarray(a)
    else:
        arr = s.to_numpy()
    return {arr.__array_interface__["data"][0]}


def _shared(a: pd.Series, b: pd.Series) -> bool:
    return bool(_buffers(a) & _buffers(b))


def test_classifications_hold_no_reasons_and_rows_get_them_as_classify_writes_them(ws, fresh, monkeypatch):
    """Reasons are two text columns, 81 MB per classification at 1M parcels, and a page shows one parcel's: the
    app makes them for the rows it shows, exports or saves, equal to the CLI's (a percentile rule included), with
    the numbers taken out for a role that may not see enterprise figures."""
    from planner.classify import classify
    from planner.classify.policy import from_dict
    from planner.workflow.visibility import hide_parcel_figures

    p = _variant(0.8)
    p["criteria"]["contribution"]["rules"][0] = {"indicator": "tax_per_mu", "comparison": "<", "percentile": 40.0}
    got = data.classified(ws, p)
    assert not got.columns.str.startswith("reason").any()
    want = classify(data.parcels(ws), from_dict(p))
    rows = got.iloc[::7]
    out = data.reasons_for(ws, p)(rows)
    assert list(out.columns) == list(want.columns)  # where classify puts them
    pd.testing.assert_frame_equal(pd.DataFrame(out[["reason_zh", "reason_en"]]),
                                  pd.DataFrame(want.loc[rows.index, ["reason_zh", "reason_en"]]))
    assert out["reason_en"].str.contains("tax per mu").any()
    assert data.reasons_for(ws, p)(out) is out  # rows with reasons come back as they are
    monkeypatch.setattr(data, "figures_visible", lambda _path: False)
    shown = data.classified(ws, p)
    assert "tax_per_mu" not in shown.columns and not shown.columns.str.startswith("reason").any()
    hidden = data.reasons_for(ws, p)(shown.iloc[::7])
    assert hidden["reason_zh"].str.contains("数值不可见").any()
    pd.testing.assert_series_equal(hidden["reason_zh"], hide_parcel_figures(want).loc[rows.index, "reason_zh"])
    with pytest.raises(ValueError, match="not rows of the classified survey"):
        data.reasons_for(ws, p)(shown.iloc[::7].reset_index(drop=True).iloc[1:])


def test_a_rule_variant_shares_the_parcel_columns_geometry_and_indicators(ws, fresh):
    parcels = data.parcels(ws)
    default = data.classified(ws, data.default_policy_dict())
    variant = data.classified(ws, _variant(0.8))
    assert variant["three_low"].sum() < default["three_low"].sum()  # the variant is a real one
    kept = [c for c in parcels.columns if c != "land_area_m2"]  # land_area_m2 is filled from geometry where missing
    assert "geometry" in kept and "owner" in kept and "tax_cny" in kept
    copied = [c for c in kept if not _shared(parcels[c], variant[c])]
    assert copied == [], f"the variant copied the parcel columns {copied}"
    indicators = ["plot_ratio", "coverage", "output_per_mu", "tax_per_mu", "far_gap", "land_area_mu"]
    copied = [c for c in indicators if not _shared(default[c], variant[c])]
    assert copied == [], f"the indicators {copied} were computed and stored again for the variant"
    assert not _shared(default["three_low"], variant["three_low"])  # its own flags
    # and the variant's results are those of classifying from scratch
    from planner import workflow as W
    from planner.classify import policy as pol

    fresh_result = W.operations.classify_parcels(parcels, W.PolicyDoc(pol.from_dict(_variant(0.8))))
    pd.testing.assert_frame_equal(pd.DataFrame(data.reasons_for(ws, _variant(0.8))(variant).drop(columns="geometry")),
                                  pd.DataFrame(fresh_result.drop(columns="geometry")))  # reasons made on demand
    # the variant's map index shares the geometry's derived arrays (points, id look-up, extent): none made again
    base, vidx = data._geometry_index(ws, data.data_stamp(ws, data.PARCEL_KINDS)), data.parcel_index(ws, _variant(0.8))
    for k in ("_merc_xy", "_total_bounds"):
        assert vidx.__dict__.get(k) is not None and vidx.__dict__[k] is base.__dict__[k], k
    assert data.id_lookup(vidx) is data.id_lookup(base)  # made once, on the geometry index, when first needed
    assert vidx.lonlat_bounds() == base.lonlat_bounds()


def test_the_server_holds_one_part_parcels_as_polygons(tmp_path, fresh):
    """A GeoPackage stores polygons as one-part multipolygons; the server keeps each parcel's polygon instead
    (GEOS: about half the memory; 0.58 -> 0.33 GB for a 1M city), the same land, in every frame and index."""
    import shutil

    import shapely

    from planner.io.store import open_store
    from tests.conftest import ROOT

    ws = str(tmp_path / "city.gpkg")
    shutil.copyfile(ROOT / "gis_data" / "sample_city.gpkg", ws)
    stored = open_store(ws).read_parcels()
    assert set(stored.geom_type) == {"MultiPolygon"}
    parcels = data.parcels(ws)
    assert set(parcels.geom_type) == {"Polygon"}
    assert shapely.equals_exact(parcels.geometry.values, shapely.get_geometry(stored.geometry.values, 0)).all()
    assert parcels.attrs.get("enterprise_version", "absent") is None  # what the join said is kept
    default = data.classified(ws, data.default_policy_dict())
    assert _shared(parcels.geometry, default.geometry)
    assert _shared(parcels.geometry, data.parcel_index(ws, data.default_policy_dict()).gdf.geometry)


def test_the_cached_layers_hold_columns_of_their_own_not_the_reads_record_batches(ws, tmp_path, fresh):
    """A GeoPackage read's columns share GDAL's record batches (the polygons' WKB in them) and keep them all
    alive; what the server caches is rebuilt from copies (a 1M survey: 1.21 -> 0.93 GB): equal, not shared."""
    import shutil

    from planner import workflow as W
    from planner.io.store import open_store
    from planner.ui import memory

    ws = str(shutil.copyfile(ws, tmp_path / "ws.gpkg"))
    W.classify_workspace(open_store(ws), W.PolicyDoc.from_file(None))
    W.build_workspace_sites(open_store(ws))
    read = open_store(ws).read_parcels()
    read.attrs["note"] = "kept"
    own = memory.owned_frame(read)
    assert list(own.columns) == list(read.columns) and own.crs == read.crs and own.attrs == read.attrs
    pd.testing.assert_frame_equal(pd.DataFrame(own), pd.DataFrame(read))
    text = [c for c in read.columns if pd.api.types.is_string_dtype(read[c].dtype)]
    assert "parcel_id" in text and "owner" in text
    shared = [c for c in read.columns if c != "geometry" and _shared(read[c], own[c])]
    assert shared == [], f"columns {shared} still share the read's memory"
    assert np.asarray(own.geometry.array)[7] is np.asarray(read.geometry.array)[7]  # the polygons: not copied
    # what the pages get: the survey, the stored sites and their members
    stored, _ = data.stored_sites(ws, "default")
    raw = W.read_sites(open_store(ws), "default", with_flags=False)
    for frame, again, key in ((data.parcels(ws), open_store(ws).read_parcels(), "parcel_id"),
                              (stored.sites, raw.sites, "site_id"), (stored.parcel_sites, raw.parcel_sites, "parcel_id")):
        assert not _shared(frame[key], again[key])
        pd.testing.assert_frame_equal(pd.DataFrame(frame.drop(columns="geometry", errors="ignore")),
                                      pd.DataFrame(again.drop(columns="geometry", errors="ignore")))


def test_a_variant_made_ahead_lets_the_kept_one_go_before_it_is_made(ws, fresh, monkeypatch):
    """The rules page has the next variant classified in the background: the kept variant is let go first, so
    two variants never live at once (a 1M city's highest reading rose by one at every threshold change)."""
    import threading

    from planner import workflow as W

    monkeypatch.setitem(data._AHEAD, "made", None)
    first = _variant(0.8)
    ref = weakref.ref(data.classified(ws, first))
    data.parcel_index(ws, first)
    gc.collect()
    assert ref() is not None  # kept by the cache
    started, gate = threading.Event(), threading.Event()
    real = W.operations.classify_parcels

    def gated(*a, **k):
        started.set()
        assert gate.wait(60)
        return real(*a, **k)

    monkeypatch.setattr(W.operations, "classify_parcels", gated)
    second = _variant(0.7)
    assert data.classify_ahead(ws, second)
    assert started.wait(30)  # the second variant is being made ...
    gc.collect()
    assert ref() is None  # ... and the first is gone already
    gate.set()
    frame = data.classified(ws, second)  # the one made ahead (the cache waits for it)
    assert frame["three_low"].sum() < data.classified(ws, data.default_policy_dict())["three_low"].sum()


def test_trying_many_thresholds_keeps_a_bounded_number_of_variants_and_the_default(ws, fresh):
    default = data.default_policy_dict()
    d_frame, d_index = data.classified(ws, default), data.parcel_index(ws, default)
    frames, indexes, tokens = [], [], []
    thresholds = [0.8, 0.85, 0.9, 0.95, 1.05, 1.1, 1.2]
    assert len(thresholds) > data.MAX_RULE_VARIANTS + 3
    for i, t in enumerate(thresholds):
        p = _variant(t)
        frames.append(weakref.ref(data.classified(ws, p)))
        idx = data.parcel_index(ws, p)
        indexes.append(weakref.ref(idx))
        # the map page registers the index with the tile route: that must not keep it alive
        tokens.append(tiles.register(f"variant{i}", tiles.TileSpec(idx, ("parcel_id", "three_low"))))
        del idx
    gc.collect()
    alive_frames = sum(r() is not None for r in frames)
    alive_indexes = sum(r() is not None for r in indexes)
    assert alive_frames <= data.MAX_RULE_VARIANTS + 1  # + the last index's frame, held by the variant index cache
    assert alive_indexes <= data.MAX_RULE_VARIANTS
    assert frames[-1]() is not None  # the last tried is at hand
    # the shipped default rules' results were never pushed out
    assert data.classified(ws, default) is d_frame and data.parcel_index(ws, default) is d_index


def test_the_tile_route_rebuilds_a_variant_the_caches_let_go(ws, fresh):
    """A map still showing an older threshold gets its tiles, with that threshold's flags."""
    p = _variant(0.8)
    idx = data.parcel_index(ws, p)
    token = tiles.register("old-variant", tiles.TileSpec(idx, ("parcel_id", "three_low")))
    z, x, y = maptiles.tile_of(idx, 0, 16)
    before = tiles.tile_bytes(token, z, x, y, z)
    flagged_before = int(idx.flagged.sum())
    ref = weakref.ref(idx)
    del idx
    for t in (0.85, 0.9, 0.95, 1.1):  # other thresholds push it out of the caches
        data.parcel_index(ws, _variant(t))
    gc.collect()
    assert ref() is None
    tiles._TILES.clear()
    tiles._tile_bytes = 0
    after = tiles.tile_bytes(token, z, x, y, z)
    assert after == before and json.loads(after)["features"]
    again = data.parcel_index(ws, p)  # rebuilt once by that tile, now cached again
    assert int(again.flagged.sum()) == flagged_before


def test_a_weakly_held_index_let_go_does_not_serve_stale_tiles_under_its_token(fresh):
    """Another index at the address of one let go gives the same map key: the old tiles are dropped."""
    from planner import maps
    from tests.e2e._workspace import grid_parcels

    g = grid_parcels()
    g["three_low"] = False
    built = []

    def index(flag: bool):
        gg = g.copy()
        gg["three_low"] = flag
        idx = maps.LayerIndex.build(gg, flag_col="three_low")
        idx.__dict__["_reload"] = lambda: built.append(1) or index(flag)
        return idx

    a = index(False)
    token = tiles.register("same-key", tiles.TileSpec(a, ("parcel_id", "three_low")))
    z, x, y = maptiles.tile_of(a, 0, 16)
    assert tiles.tile_bytes(token, z, x, y, z) is not None and tiles._TILES
    del a
    gc.collect()
    b = index(True)
    assert tiles.register("same-key", tiles.TileSpec(b, ("parcel_id", "three_low"))) == token
    assert not tiles._TILES  # the tiles of the index let go are gone
    tile = json.loads(tiles.tile_bytes(token, z, x, y, z))
    assert all(f["properties"]["three_low"] for f in tile["features"])
    assert not built  # b is alive: served as registered, nothing rebuilt


def test_the_map_the_sites_page_and_the_id_matching_share_one_read_of_the_stored_sites(tmp_path, fresh, monkeypatch):
    """The stored sites layer (80k+ site polygons at 1M) is read once: the map, the sites page, new-id matching."""
    import subprocess
    import sys
    from pathlib import Path

    from planner import workflow as W
    from planner.io.store import GpkgStore

    ws = str(build_workspace(tmp_path / "ws.gpkg"))
    for args in (["classify", "-w", ws], ["sites", "-w", ws]):
        subprocess.run([sys.executable, "-m", "planner", *args], cwd=Path(__file__).resolve().parents[1], check=True,
                       capture_output=True)
    for fn in (data._saved_sites, data._stored_sites, data._previous_sites):
        fn.clear()
    reads = []
    real = GpkgStore.read_layer

    def counted(self, kind, *a, **k):
        reads.append(kind)
        return real(self, kind, *a, **k)

    monkeypatch.setattr(GpkgStore, "read_layer", counted)
    saved = data.saved_sites(ws)  # the map page
    stored, err = data.stored_sites(ws, "default")  # the sites page
    prev, hw = data.previous_sites(ws, "default")  # a rebuild's id matching
    assert err is None and saved is stored.sites
    assert reads.count("sites") == 1
    monkeypatch.setattr(GpkgStore, "read_layer", real)
    want_prev, want_hw = W.operations.previous_sites(GpkgStore(ws), "default")
    assert hw == want_hw > 0
    pd.testing.assert_frame_equal(pd.DataFrame(prev), pd.DataFrame(want_prev))
    assert _shared(prev.geometry, stored.sites.geometry)


def _run(code: str) -> str:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("ARROW_DEFAULT_MEMORY_POOL", "MALLOC_ARENA_MAX")}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env,
                          timeout=120).stdout.strip()


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="glibc's malloc_trim")
def test_release_gives_the_freed_heap_back_to_the_system():
    """200 MB freed amid a live heap stays resident until release() (glibc keeps it otherwise)."""
    code = """
import os
from planner.ui import memory
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
keep, junk = [], []
for i in range(2000):
    junk.append(bytearray(100_000))
    keep.append(bytearray(1024))  # live blocks between the freed ones (over 512 bytes: from malloc, not
    # Python's small-object arenas), so the heap's top cannot shrink
junk.clear()
before = rss()
assert memory.release()
print((before - rss()) // 2**20)
"""
    assert int(_run(code)) > 150


_ARENAS = """
import ctypes, re, sys, tempfile, threading
from planner.ui import memory
if sys.argv[1] == "capped":
    assert memory.cap_arenas(2)
hold, ready, go = [], threading.Barrier(9), threading.Event()
def work():
    hold.append(bytearray(200_000))  # large: from malloc, in this thread's arena
    ready.wait()
    go.wait()
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads:
    t.start()
ready.wait()
libc = ctypes.CDLL("libc.so.6")
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = (ctypes.c_char_p, ctypes.c_char_p)
libc.malloc_info.argtypes = (ctypes.c_int, ctypes.c_void_p)
libc.fclose.argtypes = (ctypes.c_void_p,)
out = tempfile.NamedTemporaryFile(suffix=".xml", delete=False).name
fp = libc.fopen(out.encode(), b"w")
libc.malloc_info(0, fp)
libc.fclose(fp)
go.set()
print(len(re.findall(r'<heap nr="', open(out).read())))
"""


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="glibc's arenas")
def test_the_server_threads_share_two_glibc_heaps_instead_of_one_each():
    """Eight threads allocating at once: glibc gives each its own heap, unless the server capped them at two."""
    free = int(_run(_ARENAS.replace("sys.argv[1]", "'free'")))
    capped = int(_run(_ARENAS.replace("sys.argv[1]", "'capped'")))
    assert free > 4  # glibc's default: a heap per thread (the check is meaningful here)
    assert capped <= 2


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="glibc's malloc_trim")
def test_the_keeper_collects_garbage_cycles_the_page_runs_leave():
    """Streamlit's collection after each run is off: the keeper collects cycles (and trims) on its own."""
    code = """
import gc, os, time
from planner.ui import memory
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
gc.disable()  # no automatic collection: only the keeper's
th = memory.start(0.05, collect_every=0.1)
junk = []
for _ in range(300):
    a = [bytearray(1_000_000)]
    a.append(a)  # a reference cycle, as a page run's frames leave
    junk.append(a)
before = rss()  # measured while the junk is still held: the keeper may collect the moment it is let go
junk = None
for _ in range(100):  # the keeper runs every 0.1 s; on a loaded machine its thread may wait its turn a while
    time.sleep(0.1)
    if (before - rss()) // 2**20 > 200:
        break
print((before - rss()) // 2**20)
"""
    assert int(_run(code)) > 200


def test_make_run_starts_the_server_with_two_glibc_heaps(monkeypatch):
    """glibc reads MALLOC_ARENA_MAX only at start-up: `make run` (tasks.py run) gives it to the server process."""
    import importlib.util
    from pathlib import Path

    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    spec = importlib.util.spec_from_file_location("_tasks_under_test", Path(__file__).resolve().parents[1] / "tasks.py")
    tasks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tasks)
    seen = {}
    monkeypatch.setattr(tasks, "_ensure_env", lambda extra: None)
    monkeypatch.setattr(tasks, "_exec", lambda cmd, env=None: seen.update(cmd=cmd, env=env) or 0)
    assert tasks.run([]) == 0
    assert seen["cmd"][-2:] == ["run", "serve.py"] and seen["env"]["MALLOC_ARENA_MAX"] == "2"


def test_an_explicit_malloc_arena_max_is_left_to_glibc(monkeypatch):
    from planner.ui import memory

    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert memory.cap_arenas() is False


def test_the_server_switches_arrow_to_a_pool_that_returns_memory_and_starts_trimming():
    import pyarrow as pa

    try:
        pa.jemalloc_memory_pool()
        want = "jemalloc"
    except NotImplementedError:  # an Arrow build without it keeps its default
        want = pa.default_memory_pool().backend_name
    code = ("from planner.ui import memory; import pyarrow as pa; th = memory.start(0.05); "
            "print(pa.default_memory_pool().backend_name, th is not None and th.is_alive())")
    assert _run(code) == f"{want} True"


def test_the_server_entry_point_starts_the_memory_keeper_before_the_app():
    from pathlib import Path

    src = (Path(__file__).resolve().parents[1] / "serve.py").read_text(encoding="utf-8")
    assert "memory.start()" in src and src.index("memory.start()") < src.index("st.App(")


def test_site_lookups_are_one_compact_series_per_result_and_bounded(monkeypatch):
    """parcel -> site for the sites page and its tiles: one Series per edit result, the last few kept (issue 19).

    Each edit at 1M parcels used to add a dict (70 MB, 0.56 s) and an index of
    the members (46 MB), eight of each kept.
    """
    monkeypatch.setattr(data, "_SITE_OF", data._Lru(data.MAX_SITE_LOOKUPS))
    ps = pd.DataFrame({"parcel_id": ["a", "b", "c", "c"], "site_id": ["S1", "S1", "S2", "S3"],
                       "role": ["flagged"] * 4})
    lk = data.site_of_parcel("sig0", ps)
    assert lk.get("a") == "S1" and "b" in lk and "zz" not in lk and lk.get("zz") is None
    assert lk["c"] == "S3"  # as a dict of the rows kept it: the last row of a parcel
    assert lk.index.is_unique and list(lk.index.get_indexer(["c", "q"]) >= 0) == [True, False]
    assert data.site_of_parcel("sig0", ps) is lk  # shared by every session and tile of that result
    assert lk.members_of("S1") == ("a", "b") and lk.members_of("S3") == ("c",) and lk.members_of("S2") == ()
    rng = np.random.default_rng(3)  # single look-ups in Arrow answer as the dict of the rows did
    big = pd.DataFrame({"parcel_id": [f"P{k}" for k in rng.integers(0, 400, 600)],
                        "site_id": [f"S{k}" for k in rng.integers(0, 40, 600)]})
    ref, blk = dict(zip(big["parcel_id"], big["site_id"], strict=True)), data.SiteLookup(big)
    assert all(blk.get(p) == ref.get(p) and (p in blk) == (p in ref) for p in [f"P{k}" for k in range(420)])
    assert set(blk.index) == set(ref)
    for sid in {f"S{k}" for k in range(42)}:
        assert set(blk.members_of(sid)) == {p for p, s in ref.items() if s == sid}
    for k in range(1, 10):
        data.site_of_parcel(f"sig{k}", ps)
    assert len(data._SITE_OF) == data.MAX_SITE_LOOKUPS


def test_an_edit_changes_only_the_membership_of_its_parcels_drawn_over_the_tiles(monkeypatch):
    """After an unsaved edit the map keeps the tiles of the result before it; the moved parcels come as fills."""
    monkeypatch.setattr(data, "_SITE_OF", data._Lru(data.MAX_SITE_LOOKUPS))
    monkeypatch.setattr(data, "_CHANGES", data._Lru(data.MAX_SITE_LOOKUPS))
    before = pd.DataFrame({"parcel_id": ["a", "b", "c"], "site_id": ["S1", "S1", "S2"]})
    after = pd.DataFrame({"parcel_id": ["a", "c", "d"], "site_id": ["S1", "S2", "S2"]})  # b removed, d added
    added, removed = data.membership_changes("s0", before, "s1", after)
    assert list(added) == ["d"] and list(removed) == ["b"]
    assert data.membership_changes("s0", before, "s1", after)[0] is added  # kept per pair
    monkeypatch.setattr(data, "MAX_CLIENT_FILLS", 1)
    assert data.membership_changes("s0", before, "s2", after) is None  # too many: tiles are made again

    fg = tiles.feature_group("地块", "tok", id_col="parcel_id", tooltip={}, fills={"d": "#9e9ac8", "b": "#91bfdb"},
                             highlight=["a"], hl_fill="#f16913")
    layer = next(iter(fg._children.values()))
    cfg = json.loads(layer.cfg_json)
    assert cfg["fills"] == {"d": "#9e9ac8", "b": "#91bfdb"} and cfg["hl"] == ["a"]
    assert "fills[String(p[cfg.id])]" in tiles._JS  # the browser recolours them, under the highlight


def test_the_parcels_edits_name_give_the_same_changes_as_comparing_every_member(monkeypatch):
    """An edit's map colours come from the parcels the edits name (an Arrow test of a few ids against 360k members
    at 1M, instead of hashing every member each edit): the same changes as the full comparison, for adds that move
    parcels between sites, removals that empty a site and drawn boundaries."""
    import shapely

    from planner import sites as S
    from tests.e2e._workspace import grid_parcels

    g = grid_parcels(14, seed=5)
    g["three_low"] = np.random.default_rng(5).random(len(g)) < 0.45
    base = S.build_sites(g, S.SiteParams(min_area_m2=0))
    ps0 = base.parcel_sites
    sites = ps0["site_id"].drop_duplicates().tolist()
    lone = sites[1]
    x0, y0, *_ = g.total_bounds
    ops = [{"op": "add", "site_id": sites[0], "parcel_ids": ps0.loc[ps0["site_id"] == sites[-1], "parcel_id"][:2].tolist()
            + [next(p for p in g["parcel_id"] if p not in set(ps0["parcel_id"]))]},  # two moved, one new
           {"op": "remove", "site_id": lone, "parcel_ids": ps0.loc[ps0["site_id"] == lone, "parcel_id"].tolist()},
           {"op": "boundary", "wkt": shapely.box(x0 + 10, y0 + 10, x0 + 250, y0 + 250).wkt, "site_id": "S9001"}]
    for n in range(1, len(ops) + 1):
        monkeypatch.setattr(data, "_SITE_OF", data._Lru(8))
        monkeypatch.setattr(data, "_CHANGES", data._Lru(8))
        res = S.apply_edits(base, ops[:n], g)
        full = data.membership_changes("b", ps0, f"r{n}", res.parcel_sites)
        cands = data.edit_candidates(ops[:n], data.site_of_parcel(f"r{n}", res.parcel_sites))
        monkeypatch.setattr(data, "_CHANGES", data._Lru(8))  # not the kept full answer
        fast = data.membership_changes("b", ps0, f"r{n}", res.parcel_sites, candidates=cands)
        assert set(fast[0]) == set(full[0]) and set(fast[1]) == set(full[1]), ops[n - 1]["op"]
        assert len(full[0]) + len(full[1]) > 0
    assert data.edit_candidates([{"op": "boundary", "wkt": "POLYGON EMPTY"}], None) is None  # no site id: all members


def test_a_site_brief_gets_the_reasons_of_its_sites_parcels_only(ws, fresh):
    from planner import workflow as W
    from planner.classify import policy as pol
    from planner.ui.exports import _member_reasons

    p = data.default_policy_dict()
    got = data.classified(ws, p)
    ids = got["parcel_id"].astype(str)
    ps = pd.DataFrame({"site_id": ["S1", "S1", "S2"], "parcel_id": [ids.iloc[3], ids.iloc[40], ids.iloc[9]]})
    out = _member_reasons(got, ps, ["S1"], data.reasons_for(ws, p))
    want = W.operations.classify_parcels(data.parcels(ws), W.PolicyDoc(pol.from_dict(p)))
    members = got.index[[3, 40]]
    assert out.loc[members, "reason_en"].tolist() == want.loc[members, "reason_en"].tolist()
    assert out.drop(index=members)["reason_en"].isna().all()  # no other parcel's reasons were made
    assert _member_reasons(want, ps, ["S1"], data.reasons_for(ws, p)) is want  # a frame with reasons is kept
