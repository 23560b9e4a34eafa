"""The fast paths of the CLI pipeline (issue 18) give what the plain paths gave.

* a scenario run reads six attribute columns of the flags layer (no geometry)
  and gets the same figures as with the whole classified layer;
* ``scenario compare`` reads the stored sites once for all its scenarios;
* the workflow and sites packages import their modules on first use, every
  public name still resolves, and reading stored results pulls in no graph
  library;
* a city map is drawn as one path per colour: holes stay empty, every part
  of a multipolygon is filled;
* a reader meeting a layer write in progress sees the old state or the new
  one, never an error or a half-written layer.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from planner import workflow as W
from planner.cli import main
from planner.io.store import GpkgStore, open_store
from planner.workflow.operations import ROLLUP_COLUMNS
from tests.conftest import box_grid

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.toml"))
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


@pytest.fixture
def city_with_sites(sample_city_uri) -> str:
    """The bundled sample city (20,000 parcels), classified, with sites (defaults), on the test's backend."""
    assert main(["classify", "-w", sample_city_uri]) == 0
    assert main(["sites", "-w", sample_city_uri]) == 0
    return sample_city_uri


def test_scenario_runs_on_six_flag_columns_give_the_figures_of_the_whole_layer(city_with_sites):
    from planner.scenarios import load_scenario

    store = open_store(city_with_sites)
    full = W.read_sites(store)  # the plain path: the whole flags layer, geometry and all
    assert isinstance(full.flags, gpd.GeoDataFrame) and len(full.flags) == 20_000
    for path in SCENARIOS:
        doc = W.ScenarioDoc(load_scenario(path))
        fast = W.run_stored_scenario(store, doc)
        flags = fast.stored.flags
        assert not isinstance(flags, gpd.GeoDataFrame) and "geometry" not in flags.columns
        assert set(flags.columns) == set(ROLLUP_COLUMNS) & set(full.flags.columns)
        # only the rows of the sites' parcels (a scenario reads no other parcel's figures)
        members = set(full.parcel_sites["parcel_id"].astype(str))
        assert set(flags["parcel_id"].astype(str)) == members & set(full.flags["parcel_id"].astype(str))
        assert len(flags) == len(members) < len(full.flags)
        plain = W.run_scenario(fast.doc, full.sites, full.parcel_sites, full.flags,
                               policy_hash=full.provenance.policy_hash)
        assert fast.result.totals.equals(plain.result.totals), path.stem
        assert fast.result.sites.drop(columns="geometry").equals(plain.result.sites.drop(columns="geometry"))
        assert fast.result.totals["n_sites"] > 0


def test_the_rollup_of_the_picked_sites_gives_the_figures_of_the_whole_rollup(city_with_sites):
    """`run_scenario` rolls up only the sites a scenario picks; the result equals the model on the whole rollup."""
    from planner import scenarios as sc_mod
    from planner.scenarios import load_scenario

    store = open_store(city_with_sites)
    full = W.read_sites(store)
    for path in SCENARIOS:
        doc = W.ScenarioDoc(load_scenario(path))
        picked = W.run_scenario(doc, full.sites, full.parcel_sites, full.flags)
        sc = doc.scenario
        whole = sc_mod.parcel_rollup(full.parcel_sites[["parcel_id", "site_id", "role"]],
                                     full.flags[[c for c in ROLLUP_COLUMNS if c in full.flags.columns]],
                                     retain_classes=sc.retain_classes)
        assert len(whole) > picked.result.totals["n_sites"] > 0
        ref = sc_mod.run(full.sites, sc, rollup=whole)
        assert picked.result.totals.equals(ref.totals), path.stem
        assert picked.result.sites.drop(columns="geometry").equals(ref.sites.drop(columns="geometry"))


def test_compare_reads_the_stored_sites_once(tmp_path, monkeypatch, capsys):
    """Counted on a GeoPackage (the PostGIS path runs the same workflow code)."""
    import shutil

    city = str(shutil.copyfile(ROOT / "gis_data" / "sample_city.gpkg", tmp_path / "city.gpkg"))
    assert main(["classify", "-w", city]) == 0
    assert main(["sites", "-w", city]) == 0
    reads: list[tuple] = []
    real = GpkgStore.read_layer

    def counted(self, kind, name=None, version=None, **kw):
        reads.append((kind, kw.get("geometry", True)))
        return real(self, kind, name, version, **kw)

    monkeypatch.setattr(GpkgStore, "read_layer", counted)
    names = [s.stem for s in SCENARIOS]
    for s in SCENARIOS:
        assert main(["scenario", "run", str(s), "-w", city]) == 0
    reads.clear()
    assert main(["scenario", "compare", *names, "-w", city, "--out", str(tmp_path / "c.html")]) == 0
    assert reads.count(("flags", False)) == 1 and ("flags", True) not in reads
    assert reads.count(("sites", True)) == 1 and reads.count(("site_parcels", False)) == 1
    assert (tmp_path / "c.html").stat().st_size > 10_000
    capsys.readouterr()


def test_packages_import_on_first_use_and_every_name_resolves():
    code = textwrap.dedent("""
        import sys
        import planner.cli as cli
        cli.build_parser()
        from planner import workflow as W
        W.read_sites, W.run_stored_scenario
        print(int("planner.sites.build" in sys.modules), int("scipy" in sys.modules))
        import planner.sites, planner.workflow
        for pkg in (planner.sites, planner.workflow):
            for name in pkg.__all__:
                assert getattr(pkg, name) is not None, name
                assert name in dir(pkg)
        assert planner.workflow.operations.__name__ == "planner.workflow.operations"  # submodules as before
        assert planner.sites.overlay.__name__ == "planner.sites.overlay"
        from planner.sites import build_sites, SiteParams
        from planner.workflow import enterprises, PolicyDoc
        assert build_sites.__module__ == "planner.sites.build" and enterprises.__name__ == "planner.workflow.enterprises"
        try:
            planner.workflow.no_such_name
        except AttributeError as exc:
            assert "no_such_name" in str(exc)
        else:
            raise AssertionError("no AttributeError")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["0", "0"]  # reading stored results loads no graph code


def test_a_map_is_one_path_per_colour_with_holes_and_all_parts():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from planner.report.charts import _draw_polygons

    ring = shapely.Polygon([(10, 10), (50, 10), (50, 50), (10, 50)], holes=[[(20, 20), (40, 20), (40, 40), (20, 40)]])
    multi = shapely.MultiPolygon([shapely.box(60, 60, 70, 70), shapely.box(80, 80, 90, 90)])
    hole_cw = shapely.Polygon([(60, 10), (90, 10), (90, 40), (60, 40)][::-1],  # shell clockwise, hole as given
                              holes=[[(70, 20), (80, 20), (80, 30), (70, 30)]])
    fig = Figure(figsize=(2, 2), dpi=50)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 100)
    ax.set_axis_off()
    _draw_polygons(ax, [ring, multi, hole_cw], ["#ff0000", "#0000ff", "#ff0000"], edgecolor="none", linewidth=0)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    img = np.asarray(canvas.buffer_rgba())[:, :, :3]

    def at(x, y):
        h, w = img.shape[:2]
        return tuple(int(v) for v in img[h - 1 - int(y * h / 100), int(x * w / 100)])

    assert at(15, 15) == (255, 0, 0)  # the polygon's body
    assert at(30, 30) == (255, 255, 255)  # its hole stays empty
    assert at(65, 65) == (0, 0, 255) and at(85, 85) == (0, 0, 255)  # both parts of the multipolygon
    assert at(75, 75) == (255, 255, 255)  # between them
    assert at(62, 12) == (255, 0, 0) and at(75, 25) == (255, 255, 255)  # a clockwise shell is oriented too
    assert len(ax.patches) == 2  # one patch per colour


_WRITER = textwrap.dedent("""
    import sys
    import numpy as np, shapely, geopandas as gpd
    from planner.io.store import GpkgStore
    n = int(sys.argv[2])
    x = np.arange(n) % 500 * 20.0
    y = np.arange(n) // 500 * 20.0
    g = gpd.GeoDataFrame({"parcel_id": np.arange(n).astype(str)}, geometry=shapely.box(x, y, x + 19, y + 19),
                         crs="EPSG:4549")
    print("writing", flush=True)
    GpkgStore(sys.argv[1]).publish_survey(g, label="big")
""")


@pytest.mark.parametrize("n", [60_000, pytest.param(400_000, marks=pytest.mark.slow)])
def test_a_reader_during_a_layer_write_sees_the_old_state_or_the_new(tmp_path, n):
    """The app reads while `planner ingest` writes in place: every read succeeds with 9 or n parcels."""
    ws = GpkgStore(tmp_path / "ws.gpkg", crs="EPSG:4549", create=True)
    ws.publish_survey(box_grid(3, 3), label="old")
    script = tmp_path / "writer.py"
    script.write_text(_WRITER)
    proc = subprocess.Popen([sys.executable, str(script), str(ws.path), str(n)], stdout=subprocess.PIPE, env=ENV)
    assert proc.stdout.readline().strip() == b"writing"
    seen, deadline = [], time.monotonic() + 300

    def look() -> tuple[str, int]:
        g = GpkgStore(ws.path).read_parcels()  # as the app does on each rerun: the current version, whole
        return g.attrs["table"], len(g)

    while proc.poll() is None and time.monotonic() < deadline:
        seen.append(look())
    proc.wait(timeout=60)
    assert proc.returncode == 0
    seen.append(look())
    rows = dict(zip(ws.layers()["table_name"], ws.layers()["n_rows"], strict=True))
    assert all(rows.get(t) == k for t, k in seen), set(seen)  # every read: a registered version, all its rows
    assert {k for _, k in seen} <= {9, n}
    assert seen[0][1] == 9 and seen[-1][1] == n
    assert len(seen) >= 3, "the write ended before the reader could look; enlarge it"


def test_sites_built_from_the_site_columns_equal_sites_from_the_whole_flags_layer(sample_city_uri):
    """`planner sites` reads only the columns site building uses; the sites are those of the whole layer."""
    assert main(["classify", "-w", sample_city_uri]) == 0
    store = open_store(sample_city_uri)
    built = W.build_workspace_sites(store, save=False)
    full = store.read_layer("flags", built.name)
    assert len(built.flagged.columns) < len(full.columns)
    result, _ = W.assemble_sites(full, built.params, barriers=store.read_all_layers("barrier"),
                                 constraints=store.read_all_layers("constraint"))
    a, b = built.result.sites, result.sites
    assert len(a) > 100 and a.drop(columns="geometry").equals(b.drop(columns="geometry"))
    assert shapely.equals_exact(a.geometry.values, b.geometry.values, tolerance=0).all()
    assert built.result.parcel_sites.equals(result.parcel_sites)


@pytest.mark.parametrize("m", [3000, 60])  # many keys: one hash of the parcels; few: the parcels scanned for them
def test_parcel_rollup_by_position_equals_the_merge(m):
    """The rollup's Arrow look-up gives what ``merge(how="left")`` gave: missing ids, duplicates, NaN, classes."""
    import pandas as pd

    from planner.scenarios.model import parcel_rollup

    rng = np.random.default_rng(7)
    n = 5000
    parcels = pd.DataFrame({"parcel_id": pd.array([f"P{i}" for i in rng.permutation(n)], dtype="string"),
                            "floor_area_m2": np.where(rng.random(n) < 0.1, np.nan, rng.random(n) * 1000),
                            "output_cny": np.where(rng.random(n) < 0.3, np.nan, rng.random(n) * 1e6),
                            "tax_cny": rng.random(n) * 1e5, "employees": rng.integers(0, 50, n).astype(float),
                            "upgrade_class": pd.array(rng.choice(["retain", "upgrade", "redevelop", None], n),
                                                      dtype="string")})
    parcels = pd.concat([parcels, parcels.iloc[:50].assign(tax_cny=-1.0)], ignore_index=True)  # duplicate ids
    ids = [f"P{i}" for i in rng.integers(0, n + 200, m)]  # some ids are not among the parcels
    ids[:5] = parcels["parcel_id"].iloc[:5]  # and some are repeated ones
    sp = pd.DataFrame({"parcel_id": pd.array(ids, dtype="string"),
                       "site_id": pd.array([f"S{i}" for i in rng.integers(0, 300, m)], dtype="string"),
                       "role": pd.array(rng.choice(["flagged", "absorbed", "retained_inside"], m), dtype="string")})
    got = parcel_rollup(sp, parcels, retain_classes=("retain", "upgrade"))
    # the reference: the merge the rollup did before
    p = parcels.drop_duplicates("parcel_id")
    ref = sp.merge(p, on="parcel_id", how="left")
    keep = (ref["upgrade_class"].isin(["retain", "upgrade"]).fillna(False).to_numpy(dtype=bool)
            | (ref["role"] == "retained_inside").fillna(False).to_numpy(dtype=bool))
    ref["retain_class_floor_m2"] = np.where(keep, ref["floor_area_m2"].fillna(0.0), 0.0)
    g = ref.groupby("site_id")
    want = g[["retain_class_floor_m2"]].sum()
    want[["output_cny", "tax_cny", "employees"]] = g[["output_cny", "tax_cny", "employees"]].sum(min_count=1)
    pd.testing.assert_frame_equal(got, want)
    assert (got["tax_cny"].dropna() >= 0).all()  # the first of the duplicated ids is used, as drop_duplicates kept it


def test_id_positions_of_few_keys_equal_one_hash_of_all_values():
    """The scan for a few keys gives what one look-up in all values gave: first rows, absent and missing ids."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    from planner.schema import id_positions

    rng = np.random.default_rng(3)
    values = pd.Series([f"P{i}" for i in rng.integers(0, 4000, 20_000)] + [None, "P7", None], dtype="string")
    v = pa.array(values.array)
    for keys in ([], ["P7"], ["P7", "P7", "nope", None, "P1"], [None], ["nope"] * 3,
                 list(values.sample(200, random_state=1)), list(values.iloc[-3:])):
        k = pd.Series(keys, dtype="string")
        want = pc.index_in(pa.array(k.array), value_set=v).fill_null(-1).to_numpy(zero_copy_only=False)
        got = id_positions(k, values)
        assert got.dtype == np.int64 and got.tolist() == want.tolist(), keys
    # the reference itself: the first row of each id
    first = {x: i for i, x in reversed(list(enumerate(values.tolist()))) if x is not None}
    assert id_positions(pd.Series(["P7"], dtype="string"), values).tolist() == [first["P7"]]


def test_ids_in_equals_pandas_isin_of_the_texts():
    """The Arrow look-up a scenario run uses for its sites' members gives what pandas' ``isin`` gave."""
    import pandas as pd

    from planner.schema import ids_in

    rng = np.random.default_rng(5)
    for dtype in ("str", "string", object):
        values = pd.Series([f"S{i}" for i in rng.integers(0, 500, 5_000)] + [None, "S7"], dtype=dtype)
        for keys in ([], ["S7"], {"S7", "nope", "S1"}, pd.Series(["S3", "S3", "S400"], dtype="str"),
                     list(values.dropna().sample(100, random_state=1))):
            want = values.astype(str).isin(set(keys)).to_numpy() & values.notna().to_numpy()
            got = ids_in(values, keys)
            assert got.dtype == bool and got.tolist() == want.tolist(), keys


def test_site_id_matching_with_shortcuts_equals_intersecting_every_pair():
    """Equal outlines skip the intersection, pairs of very different size are left out: the ids are the same."""
    import pandas as pd

    from planner.sites import ids as I

    rng = np.random.default_rng(3)
    cells = [shapely.box(x * 100, y * 100, x * 100 + 90, y * 100 + 90) for x in range(30) for y in range(30)]
    new = np.array(cells, dtype=object)
    old = new.copy()
    moved = rng.choice(len(cells), 200, replace=False)
    for k, i in enumerate(moved):  # shifted a little, shrunk a lot, or cut in two unequal parts
        c = cells[i]
        if k % 3 == 0:
            old[i] = shapely.affinity.translate(c, 20, 0)
        elif k % 3 == 1:
            old[i] = shapely.affinity.scale(c, 0.5, 0.5)
        else:
            old[i] = shapely.box(*c.bounds[:2], c.bounds[0] + 60, c.bounds[3])
    old = np.concatenate([old, [shapely.box(i * 100 + 80, 50, i * 100 + 85, 55) for i in range(30)]])  # slivers

    def exhaustive(new, old):
        ni, oi = shapely.STRtree(old).query(new, predicate="intersects")
        inter = shapely.area(shapely.intersection(new[ni], old[oi]))
        union = shapely.area(new[ni]) + shapely.area(old[oi]) - inter
        return pd.DataFrame({"new": ni, "old": oi, "iou": np.divide(inter, union, out=np.zeros(len(inter)),
                                                                    where=union > 0)})

    fast, ref = I._overlaps(new, old, 0.5), exhaustive(new, old)
    ref = ref[ref["iou"] >= 0.5]
    got = fast[fast["iou"] >= 0.5]
    assert (got["iou"] == 1.0).sum() == len(cells) - 200  # the unchanged ones, without an intersection
    assert len(got) == len(ref)
    m = got.merge(ref, on=["new", "old"], suffixes=("", "_ref"))
    assert len(m) == len(ref) and np.allclose(m["iou"], m["iou_ref"], rtol=0, atol=1e-12)


def test_site_id_matching_sees_stored_multipolygons_as_the_built_polygons():
    """A stored sites layer comes back as multipolygons: equal land still needs no intersection."""
    from unittest import mock

    from planner.sites import ids as I

    new = np.array([shapely.box(i * 10, 0, i * 10 + 9, 9) for i in range(50)], dtype=object)
    old = np.array([shapely.MultiPolygon([g]) for g in new], dtype=object)
    real = shapely.intersection

    def none_intersected(a, b):
        assert len(a) == 0, f"{len(a)} pairs intersected"
        return real(a, b)

    with mock.patch.object(I.shapely, "intersection", side_effect=none_intersected):
        pairs = I._overlaps(new, old, 0.5)
    assert sorted(zip(pairs["new"], pairs["old"], strict=True)) == [(i, i) for i in range(50)]
    assert (pairs["iou"] == 1.0).all()


def test_a_command_imports_only_its_own_module():
    """`planner sites ...` registers (and imports) the sites command only; every command is in the table."""
    import argparse

    from planner import cli

    full = cli.build_parser()
    names = next(a for a in full._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert set(names) == set(cli.COMMANDS)  # a command missing from the table would still work, but slowly
    code = textwrap.dedent("""
        import sys
        from planner import cli
        cli.build_parser(["sites", "-w", "x.gpkg"])
        print(sorted(m for m in sys.modules if m.startswith("planner.cli.")))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['planner.cli.scale', 'planner.cli.sites']"


def test_a_command_process_collects_garbage_in_big_batches():
    """`planner ...` and `python -m planner` raise the collector's thresholds for their one command.

    With Python's default (a pass every 700 new objects) `planner sites` at 1M parcels spent 1.0 s in 3,500
    passes over the geometries it had just made. In-process callers of `main` (the tests, the app) keep theirs.
    """
    from importlib.metadata import entry_points

    from planner import cli

    assert entry_points(group="console_scripts")["planner"].value == "planner.cli:entry"
    code = textwrap.dedent("""
        import gc, sys
        from planner import cli
        cli.main = lambda: print(gc.get_threshold()) or 0
        sys.exit(cli.entry())
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == str(cli.BATCH_GC_THRESHOLDS) and cli.BATCH_GC_THRESHOLDS[0] >= 10_000
    main_py = (Path(cli.__file__).parent.parent / "__main__.py").read_text()
    assert "entry()" in main_py and "main()" not in main_py
    import gc

    assert gc.get_threshold()[0] < cli.BATCH_GC_THRESHOLDS[0]  # importing the package changes nothing


def test_a_small_update_merges_into_a_large_survey_as_the_rule_says():
    """A partial update of a few parcels (the tree over its parts, the kept rows taken once, one conform): the
    merged survey is the rule applied pair by pair (same id replaced; at least half covered, or centroid in the
    extent, removed; fields the update lacks from the predecessor)."""
    import importlib

    from planner import schema

    P = importlib.import_module("planner.ingest.publish")
    cur = box_grid(30, 30)
    cur["street"] = [f"街道{k % 7}" for k in range(len(cur))]
    x0, y0 = 500_000.0, 2_740_000.0
    new = box_grid(1, 1)
    new = new.iloc[[0, 0, 0, 0]].reset_index(drop=True)
    new["parcel_id"] = ["r0c0", "N1", "N2", "N3"]
    new["geometry"] = [shapely.box(x0, y0, x0 + 40, y0 + 40),                       # r0c0 re-surveyed
                       shapely.box(x0 + 100, y0, x0 + 200, y0 + 30),                # covers 60% of r0c2, r0c3
                       shapely.MultiPolygon([shapely.box(x0 + 500, y0 + 500, x0 + 550, y0 + 550),
                                             shapely.box(x0 + 600, y0 + 500, x0 + 620, y0 + 550)]),  # r10c10 + 40%
                       shapely.box(x0 + 1000, y0 + 1000, x0 + 1010, y0 + 1010)]     # r20c20, 4% covered
    new = schema.conform(new, crs=new.crs)
    extent = shapely.box(x0 + 1200, y0 + 1200, x0 + 1290, y0 + 1290)  # centroids of r24c24, r24c25, r25c24, r25c25
    merged, removed = P.merge_update(cur, new, extent=extent, inherit=["street"])

    cg, ng = cur.geometry.values, new.geometry.values
    share = np.array([sum(shapely.area(shapely.intersection(g, h)) for h in ng) / shapely.area(g) for g in cg])
    in_ext = shapely.contains_xy(extent, shapely.get_x(shapely.centroid(cg)), shapely.get_y(shapely.centroid(cg)))
    gone = ~cur["parcel_id"].isin(new["parcel_id"]).to_numpy() & ((share >= 0.5) | in_ext)
    assert removed == cur["parcel_id"][gone].tolist()
    assert sorted(removed) == ["r0c2", "r0c3", "r10c10", "r24c24", "r24c25", "r25c24", "r25c25"]
    kept = cur[~cur["parcel_id"].isin(new["parcel_id"]).to_numpy() & ~gone]
    assert merged["parcel_id"].tolist() == kept["parcel_id"].tolist() + new["parcel_id"].tolist()
    # the predecessor: same id (r0c0), else the largest overlap (N1: r0c2 and r0c3 tie at 1,500 m², the later one)
    want = {"r0c0": "街道0", "N1": cur["street"][cur["parcel_id"] == "r0c3"].iloc[0],
            "N2": cur["street"][cur["parcel_id"] == "r10c10"].iloc[0],
            "N3": cur["street"][cur["parcel_id"] == "r20c20"].iloc[0]}
    assert merged.set_index("parcel_id")["street"][list(want)].tolist() == list(want.values())
    assert (shapely.to_wkb(merged.geometry.values[-4:]) == shapely.to_wkb(new.geometry.values)).all()
    # the overlaps are the same pairs and areas whichever side the tree is built over
    small, big = P._overlaps(ng, cg), P._overlaps(cg, ng)
    assert len(small[0]) == len(big[0]) and int((small[2] > 0).sum()) == 6  # the rest touch
    a = sorted(zip(small[0].tolist(), small[1].tolist(), small[2].tolist(), strict=True))
    b = sorted(zip(big[1].tolist(), big[0].tolist(), big[2].tolist(), strict=True))
    assert [x[:2] for x in a] == [x[:2] for x in b] and np.allclose([x[2] for x in a], [x[2] for x in b])



def test_an_update_merged_into_a_survey_without_crs_takes_the_updates_crs():
    import importlib
    import warnings

    P = importlib.import_module("planner.ingest.publish")
    cur = box_grid(3, 3).set_crs(None, allow_override=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        merged, removed = P.merge_update(cur, box_grid(1, 1))
    assert merged.crs == box_grid(1, 1).crs and len(merged) == 9 and removed == []


def test_an_updates_diff_compares_only_the_parcels_it_touches_and_equals_the_full_diff(tmp_path, monkeypatch):
    """``plan_publish`` of a partial update counts the kept parcels as unchanged without comparing them (1M rows
    at city scale): its diff equals the diff of the whole merged survey against the current one, on the sample
    city's survey update (changed fields, re-parcelled, added and removed parcels)."""
    import importlib
    import shutil

    from planner.ingest import read_survey

    P = importlib.import_module("planner.ingest.publish")
    store = open_store(shutil.copyfile(ROOT / "gis_data" / "sample_city.gpkg", tmp_path / "city.gpkg"))
    current = store.read_parcels()
    parcels, rep = read_survey(ROOT / "gis_data" / "survey_update.zip", target_crs=store.crs)
    compared = []
    real = P.diff_parcels
    monkeypatch.setattr(P, "diff_parcels", lambda old, new, **k: compared.append(len(new)) or real(old, new, **k))
    out, diff, mode = P.plan_publish(parcels, current, report=rep)
    assert mode == "update" and compared[-1] == len(parcels) < len(out) // 10  # only the update's rows compared
    full = real(current, out)
    assert {k: diff[k] for k in full} == full
    assert full["n_changed"] and full["n_added"] and full["n_removed"] and full["changed_fields"]
    assert full["n_unchanged"] == len(out) - full["n_changed"] - full["n_added"]
