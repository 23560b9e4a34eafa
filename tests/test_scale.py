"""Province scale on Dask (issue 17): partitioned flags and sites equal the in-memory run.

One small LocalCluster (2 workers, threads of this process, TCP so that the
CLI can be pointed at it with ``--scheduler``) serves the whole module and is
closed at its end.
"""

from __future__ import annotations

import dataclasses
import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from planner.classify import classify
from planner.classify.policy import Override, default_policy
from planner.cli import main
from planner.io import geoparquet as gpq
from planner.sample import build_city
from planner.scale import cluster as _cluster
from planner.scale.classify import classify_partitioned, with_reference_year
from planner.scale.sites import build_sites_partitioned
from planner.sites import SiteParams, build_sites

pytest.importorskip("dask_geopandas")


@pytest.fixture(scope="module")
def city():
    """A 4,000-parcel sample city with roads, rivers, railways and protected land."""
    c = build_city(4000, seed=11)
    bars = gpd.GeoDataFrame(pd.concat(list(c.barriers.values()), ignore_index=True), crs=c.crs)
    cons = gpd.GeoDataFrame(pd.concat(list(c.constraints.values()), ignore_index=True), crs=c.crs)
    return c.parcels, bars, cons


def _policy():
    """The default policy, plus a percentile override (warehouses: their own P10 of output per mu)."""
    p = with_reference_year(default_policy())
    cap = p.criteria.capacity
    rules = list(cap.rules)
    k = next(i for i, r in enumerate(rules) if r.percentile is not None)
    rules[k] = dataclasses.replace(rules[k], overrides=(Override(land_use=("warehouse",), percentile=10.0),))
    crit = dataclasses.replace(p.criteria, capacity=dataclasses.replace(cap, rules=tuple(rules)))
    return dataclasses.replace(p, criteria=crit)


def _read_all(path) -> gpd.GeoDataFrame:
    return gpq.to_frame([gpq.read_partition(f) for f in gpq.partition_files(path)])


def _assert_same_sites(mem, dask_result) -> None:
    d = dask_result
    pd.testing.assert_frame_equal(mem.parcel_sites, d.parcel_sites)
    pd.testing.assert_frame_equal(mem.excluded.reset_index(drop=True), d.excluded, check_dtype=False)
    ms, ds = mem.sites, d.sites
    assert list(ms.columns) == list(ds.columns)
    for col in ms.columns.drop("geometry"):
        pd.testing.assert_series_equal(ms[col], ds[col], check_dtype=False, rtol=1e-9, obj=col)
    # outlines: the same land (a site whose members all touch may be closed in one run and not the other)
    diff = shapely.area(shapely.symmetric_difference(ms.geometry.values, ds.geometry.values))
    assert (diff <= 1e-6 * np.maximum(shapely.area(ms.geometry.values), 1.0) + 0.01).all()


def test_classify_partitioned_equals_memory(client, city, tmp_path):
    parcels, _bars, _cons = city
    policy = _policy()
    gpq.write_partitioned_survey(parcels, tmp_path / "s.parquet", npartitions=6)
    run = classify_partitioned(tmp_path / "s.parquet", policy, tmp_path / "f.parquet", client=client, bar=False)
    mem = classify(parcels, policy)
    got = _read_all(tmp_path / "f.parquet")
    assert len(got) == len(mem) == 4000
    for col in mem.columns.drop("geometry"):
        a, b = mem[col].reset_index(drop=True), got[col]
        if isinstance(a.dtype, pd.CategoricalDtype):
            a, b = a.astype("string"), b.astype("string")
        pd.testing.assert_series_equal(a, b, check_dtype=False, check_names=False, obj=col)
    # both percentile levels were taken over all partitions: P5 of all, P10 of the warehouses
    assert sorted(run.thresholds["percentile"]) == [5.0, 10.0]
    p5 = run.thresholds.loc[run.thresholds["percentile"] == 5.0, "value"].iloc[0]
    ind = mem.loc[(mem["low_capacity"] != "n/a") & mem["output_per_mu"].notna(), "output_per_mu"]
    assert p5 == np.percentile(ind.to_numpy(), 5)
    # a partition classified alone would take its own percentiles and ranks: the flags would differ
    first = gpq.read_partition(gpq.partition_files(tmp_path / "s.parquet")[0])
    alone = classify(first, policy)
    joined = got.set_index("input_row").loc[first["input_row"]]
    a_grade = alone["grade"].astype("string").fillna("-").to_numpy()
    j_grade = joined["grade"].astype("string").fillna("-").to_numpy()
    assert (a_grade != j_grade).any() or (alone["three_low"].to_numpy() != joined["three_low"].to_numpy()).any()
    assert run.summary.loc[run.summary["category"] == "three_low", "parcels"].iloc[0] == int(mem["three_low"].sum())


def _partitions_of(ps: pd.DataFrame, parcels: gpd.GeoDataFrame, path) -> pd.Series:
    """Number of partitions each site's parcels come from."""
    part = pd.concat([pd.read_parquet(f, columns=["parcel_id"]).assign(part=k)
                      for k, f in enumerate(gpq.partition_files(path))])
    return ps.merge(part, on="parcel_id").groupby("site_id")["part"].nunique()


@pytest.mark.parametrize(("npartitions", "gap", "limits"), [(4, 2.0, {}), (9, 12.0, {}),
                                                            (6, 4.0, {"max_area_m2": 30_000, "max_owners": 6})])
def test_sites_partitioned_equal_memory_on_the_sample_city(client, city, tmp_path, npartitions, gap, limits):
    parcels, bars, cons = city
    flags = classify(parcels, default_policy())
    gpq.write_partitioned_survey(flags, tmp_path / "f.parquet", npartitions=npartitions, barriers=bars,
                                 constraints=cons)
    params = SiteParams(gap_m=gap, **limits)
    mem = build_sites(flags, params, barriers=bars, constraints=cons)
    run = build_sites_partitioned(tmp_path / "f.parquet", params, client=client, barriers=bars, constraints=cons,
                                  bar=False)
    _assert_same_sites(mem, run.result)
    # the case is not trivial: sites span partitions, protected land excludes parcels, enclaves are absorbed
    # (the sample city's roads lie wider than these gaps: barriers on partition edges are hand-made below)
    spans = _partitions_of(mem.parcel_sites, flags, tmp_path / "f.parquet")
    assert (spans > 1).sum() >= 3
    assert run.n_cross_pairs > 0
    assert len(mem.excluded) > 0 and (mem.parcel_sites["role"] == "absorbed").any()
    # the site rules of issue 13 cut clusters here: at streets, and (third case) at the size and owner limits
    plain = build_sites(flags, dataclasses.replace(params, split_streets=False, max_area_m2=None, max_owners=None),
                        barriers=bars, constraints=cons)
    assert len(plain.sites) < len(mem.sites)


# -- hand-made: a 10 x 10 grid of 100 m parcels in four quadrant partitions (split at 500 m) --------

X0, Y0 = 500_000.0, 2_740_000.0


def _cell(i: int, j: int, shrink=(0, 0, 0, 0)):
    x, y = X0 + 100 * i, Y0 + 100 * j
    return shapely.box(x + shrink[0], y + shrink[1], x + 100 - shrink[2], y + 100 - shrink[3])


def _hand_grid():
    """Parcels, barrier, constraints and partition numbers of the hand-made cases (see the test)."""
    flagged = {(4, 4), (5, 4), (4, 5), (5, 5),  # A: four parcels meeting at the corner of all four partitions
               (0, 4), (1, 5),  # B: two parcels touching at one point on the partition edge y = 500
               (4, 8), (5, 8),  # C: sharing the edge x = 500, a road drawn on it
               (9, 4), (9, 5),  # D: 1 m apart across y = 500 (the upper one shrunk)
               (4, 0), (5, 0), (6, 0), (4, 1), (6, 1), (4, 2), (5, 2), (6, 2),  # E: a ring over x = 500 ...
               (7, 7), (2, 7)}  # F: (7,7) inside protected land; (2,7) 30% inside
    rows = []
    for j in range(10):
        for i in range(10):
            if (i, j) == (5, 1):  # ... around four small parcels in partition 1, absorbed as enclaves
                for k, (a, b) in enumerate([(0, 0), (50, 0), (0, 50), (50, 50)]):
                    rows.append((f"e{k}", shapely.box(X0 + 500 + a, Y0 + 100 + b, X0 + 550 + a, Y0 + 150 + b),
                                 False, i, j))
                continue
            g = _cell(i, j, (0, 1, 0, 0)) if (i, j) == (9, 5) else _cell(i, j)
            rows.append((f"p{j}{i}", g, (i, j) in flagged, i, j))
    parcels = gpd.GeoDataFrame({"parcel_id": [r[0] for r in rows], "three_low": [r[2] for r in rows],
                                "floor_area_m2": 5000.0, "upgrade_class": "redevelop"},
                               geometry=[r[1] for r in rows], crs="EPSG:4549")
    part = np.array([(r[3] >= 5) + 2 * (r[4] >= 5) for r in rows])
    road = gpd.GeoDataFrame({"category": ["arterial_road"]},
                            geometry=[shapely.LineString([(X0 + 500, Y0 + 750), (X0 + 500, Y0 + 950)])],
                            crs="EPSG:4549")
    protected = gpd.GeoDataFrame({"category": ["ecological_red_line", "permanent_farmland"]},
                                 geometry=[shapely.box(X0 + 690, Y0 + 690, X0 + 810, Y0 + 810),
                                           shapely.box(X0 + 200, Y0 + 700, X0 + 230, Y0 + 800)], crs="EPSG:4549")
    return parcels, road, protected, part


def test_sites_hand_made_cases_across_partition_edges(client, tmp_path):
    parcels, road, protected, part = _hand_grid()
    gpq.write_partitioned_survey(parcels, tmp_path / "h.parquet", partition_of=part, barriers=road,
                                 constraints=protected)
    assert gpq.survey_info(tmp_path / "h.parquet")["npartitions"] == 4
    params = SiteParams(gap_m=2.0, min_area_m2=0)
    mem = build_sites(parcels, params, barriers=road, constraints=protected)
    run = build_sites_partitioned(tmp_path / "h.parquet", params, client=client, barriers=road,
                                  constraints=protected, bar=False)
    _assert_same_sites(mem, run.result)
    ps = run.result.parcel_sites
    members = ps.groupby("site_id")["parcel_id"].apply(lambda s: sorted(s)).tolist()
    assert sorted(map(tuple, members)) == sorted([
        ("p44", "p45", "p54", "p55"),  # A: one site over four partitions' corner
        ("p40", "p51"),  # B: a point contact across the partition edge
        ("p84",), ("p85",),  # C: the road on the partition edge separates them
        ("p49", "p59"),  # D: bridged across the partition edge (1 m < gap)
        ("e0", "e1", "e2", "e3", "p04", "p05", "p06", "p14", "p16", "p24", "p25", "p26"),  # E: ring + enclaves
        ("p72",),  # F: 30% protected, kept; its overlap reported
    ])
    assert set(ps.loc[ps["role"] == "absorbed", "parcel_id"]) == {"e0", "e1", "e2", "e3"}
    assert run.result.excluded["parcel_id"].tolist() == ["p77"]
    f = run.result.sites.set_index("site_id").loc[ps.loc[ps["parcel_id"] == "p72", "site_id"].iloc[0]]
    assert f["constraint_overlap_m2"] == pytest.approx(3000.0)
    # the road really is on the partition edge: without it, C is one site
    run2 = build_sites_partitioned(tmp_path / "h.parquet", params, client=client, constraints=protected, bar=False)
    assert len(run2.result.sites) == len(mem.sites) - 1


def test_partitioned_survey_folder_reads_with_dask_geopandas(tmp_path):
    parcels, road, protected, _part = _hand_grid()
    info = gpq.write_partitioned_survey(parcels, tmp_path / "s.parquet", npartitions=4, barriers=road,
                                        constraints=protected)
    assert info["partitioning"] == "hilbert" and info["layers"] == {"barriers": 1, "constraints": 2}
    ddf = gpq.read_partitioned_survey(tmp_path / "s.parquet")
    assert ddf.npartitions == 4
    back = gpq.to_frame([p.compute() for p in ddf.to_delayed()])
    assert back["parcel_id"].tolist() == parcels["parcel_id"].tolist()  # input_row keeps the survey's order
    # Hilbert partitions are compact: each covers about a quarter of the grid
    boxes = [gpq.read_partition(f).total_bounds for f in gpq.partition_files(tmp_path / "s.parquet")]
    assert all((b[2] - b[0]) * (b[3] - b[1]) <= 0.5 * 1000 * 1000 for b in boxes)
    with pytest.raises(Exception, match="exists"):
        gpq.write_partitioned_survey(parcels, tmp_path / "s.parquet")
    (tmp_path / "other").mkdir()
    with pytest.raises(Exception, match="not a partitioned survey"):
        gpq.write_partitioned_survey(parcels, tmp_path / "other", overwrite=True)


def test_province_cities_are_partitions_side_by_side(client, tmp_path):
    from planner.sample.province import write_province

    info = write_province(tmp_path / "p.parquet", 3000, client=client, parcels_per_city=1000, seed=3)
    assert info["npartitions"] == 3 and info["n_parcels"] == 3000
    parts = [gpq.read_partition(f) for f in gpq.partition_files(tmp_path / "p.parquet")]
    ids = pd.concat([p["parcel_id"] for p in parts])
    assert ids.is_unique and ids.str.match(r"C00[0-2]-").all()
    boxes = [shapely.box(*p.total_bounds) for p in parts]
    # cities never overlap (big ones, squares beyond the boundary, touch: sites cross partitions)
    assert shapely.area(shapely.union_all(boxes)) == pytest.approx(sum(b.area for b in boxes), rel=1e-3)
    assert shapely.distance(boxes[0], boxes[1]) < 0.25 * np.sqrt(boxes[0].area)  # grid neighbours
    assert gpq.read_layer(tmp_path / "p.parquet", "barriers") is not None


def test_cli_ingest_classify_sites_with_dask_engine(client, tmp_path, capsys):
    parcels, road, protected, part = _hand_grid()
    parcels = parcels.drop(columns=["three_low", "upgrade_class"]).assign(land_use="industrial",
                                                                          tax_cny=1000.0, output_cny=1e5)
    src = tmp_path / "survey.gpkg"
    parcels.to_file(src, layer="parcels")
    addr = client.scheduler.address
    assert main(["ingest", str(src), "--parquet", str(tmp_path / "s.parquet"), "--partitions", "4"]) == 0
    assert main(["classify", "--engine", "dask", "--parquet", str(tmp_path / "s.parquet"), "--out",
                 str(tmp_path / "f.parquet"), "--scheduler", addr]) == 0
    out = capsys.readouterr()
    assert "dashboard http" in out.err and "engine dask" in out.out and "Three-low" in out.out  # PLANNER_LANG=en
    assert main(["sites", "--engine", "dask", "--parquet", str(tmp_path / "f.parquet"), "--scheduler", addr,
                 "--out", str(tmp_path / "sites.csv"), "--min-area", "0"]) == 0
    out = capsys.readouterr().out
    flags = _read_all(tmp_path / "f.parquet")
    mem = build_sites(flags, SiteParams(min_area_m2=0))
    got = pd.read_csv(tmp_path / "sites_parcels.csv")
    assert got.equals(pd.read_csv(pd.io.common.StringIO(mem.parcel_sites.to_csv(index=False))))
    assert f"{len(mem.sites):,} sites from" in out and "engine dask" in out


def test_cli_dask_refusals(client, tmp_path, capsys, monkeypatch):
    assert main(["classify", "--engine", "dask", "--out", str(tmp_path / "f.parquet")]) == 2
    assert "--engine dask needs --parquet" in capsys.readouterr().err
    (tmp_path / "plain").mkdir()
    assert main(["sites", "--engine", "dask", "--parquet", str(tmp_path / "plain"),
                 "--scheduler", client.scheduler.address]) == 2
    assert "not a partitioned survey" in capsys.readouterr().err
    assert main(["classify"]) == 2
    assert "--workspace" in capsys.readouterr().err
    monkeypatch.setattr(_cluster, "CONNECT_TIMEOUT", 1)
    parcels, *_ = _hand_grid()
    gpq.write_partitioned_survey(parcels, tmp_path / "s.parquet", npartitions=2)
    assert main(["classify", "--engine", "dask", "--parquet", str(tmp_path / "s.parquet"), "--out",
                 str(tmp_path / "f.parquet"), "--scheduler", "tcp://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in err and "Traceback" not in err
    assert not (tmp_path / "f.parquet").exists()
    json.dumps(gpq.survey_info(tmp_path / "s.parquet"))


def test_touch_labels_are_exact_so_a_site_closes_whatever_its_neighbours(city):
    """``neighbour_components``'s touch labels equal the components of the touching pairs, tested one by one.

    The site builder closes (grows and shrinks) only sites whose members do not all touch; with approximate
    labels that choice, and the enclaves it makes, depended on which other parcels were built with the site.
    """
    from planner.sites import graph

    parcels, _bars, _cons = city
    flags = classify(parcels, default_policy())
    g = np.asarray(flags.geometry.values[flags["three_low"].to_numpy(bool)], dtype=object)
    labels, touch = graph.neighbour_components(g, 8.0)
    i, j = shapely.STRtree(g).query(g, predicate="intersects")
    exact = graph.components(len(g), i[i < j], j[i < j])
    assert pd.crosstab(touch, exact).gt(0).sum(axis=1).eq(1).all()  # each label is one exact component
    assert pd.crosstab(exact, touch).gt(0).sum(axis=1).eq(1).all()  # and the other way round
    assert len(np.unique(touch)) > len(np.unique(labels))  # gaps do separate contacts here


def test_cli_ingest_writes_the_published_survey_beside_the_workspace(tmp_path, capsys):
    import shutil

    from planner.io.store import open_store

    root = __import__("pathlib").Path(__file__).resolve().parents[1]
    ws = shutil.copyfile(root / "gis_data" / "sample_city.gpkg", tmp_path / "ws.gpkg")
    assert main(["ingest", str(root / "gis_data" / "survey_update.zip"), "-w", str(ws), "--parquet",
                 str(tmp_path / "s.parquet"), "--partitions", "3"]) == 0
    assert "3 Hilbert partitions" in capsys.readouterr().err
    current = open_store(ws).read_parcels()
    got = _read_all(tmp_path / "s.parquet")
    assert got["parcel_id"].tolist() == current["parcel_id"].tolist()  # the new version, in its order
    assert gpq.survey_info(tmp_path / "s.parquet")["layers"].keys() == {"barriers", "constraints"}


def test_repartition_a_big_geoparquet_with_spatial_shuffle(client, tmp_path):
    """A GeoParquet dataset cut any way (here: in rows order, 3 files) becomes Hilbert partitions on the cluster."""
    parcels, road, protected, _part = _hand_grid()
    src = tmp_path / "src"
    src.mkdir()
    for k, rows in enumerate(np.array_split(np.arange(len(parcels)), 3)):  # another system's: longitude/latitude
        parcels.iloc[rows].to_crs(4326).to_parquet(src / f"part.{k}.parquet")
    info = gpq.repartition_survey(str(src), tmp_path / "s.parquet", npartitions=4, barriers=road,
                                  constraints=protected, to_crs=parcels.crs)
    assert gpq.check_survey(tmp_path / "s.parquet")["crs"] == "EPSG:4549"
    assert info["npartitions"] == 4 and info["n_parcels"] == len(parcels)
    back = _read_all(tmp_path / "s.parquet")
    assert back["parcel_id"].tolist() == parcels["parcel_id"].tolist()  # input_row is the source's order
    boxes = [gpq.read_partition(f).total_bounds for f in gpq.partition_files(tmp_path / "s.parquet")]
    assert all((b[2] - b[0]) * (b[3] - b[1]) <= 0.5 * 1000 * 1000 for b in boxes)  # compact, unlike the rows
    # and the sites built from it are the in-memory ones
    params = SiteParams(gap_m=2.0, min_area_m2=0)
    run = build_sites_partitioned(tmp_path / "s.parquet", params, client=client, barriers=road,
                                  constraints=protected, bar=False)
    back = back.drop(columns="input_row")  # the parcels as written (in metres again, to the last bit)
    _assert_same_sites(build_sites(back, params, barriers=road, constraints=protected), run.result)


# -- what a user meets around the Dask engine: --out, bad input, the cluster, killed runs (session 14) ----------

def _snapshot(folder) -> dict:
    """Every file under ``folder`` (hidden ones too) with its bytes: to check that a refused command changed nothing."""
    from pathlib import Path

    root = Path(folder)
    return {str(p.relative_to(root.parent)): p.read_bytes() for p in sorted(root.parent.rglob("*")) if p.is_file()
            and (p == root or root in p.parents)}


def _no_cluster(monkeypatch):
    """Make any start of, or connection to, a cluster fail the test: refusals come before it."""
    from planner.cli import scale as cli_scale

    def boom(*_a, **_k):
        raise AssertionError("a cluster was started or reached before the refusal")

    monkeypatch.setattr(cli_scale, "_client", boom)


def _refused(capsys, argv, *needles) -> str:
    rc = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "Traceback" not in err
    for n in needles:
        assert n in err, f"{n!r} not in:\n{err}"
    return err


@pytest.fixture
def hand_survey(tmp_path):
    parcels, road, protected, part = _hand_grid()
    gpq.write_partitioned_survey(parcels, tmp_path / "s.parquet", partition_of=part, barriers=road,
                                 constraints=protected)
    return tmp_path / "s.parquet"


def test_cli_dask_out_is_checked_before_the_cluster_like_every_out(hand_survey, tmp_path, capsys, monkeypatch):
    """README: a refused command exits 2 and changed nothing. ``classify --engine dask --out`` was checked only for
    existence, after the cluster had started: ``--out`` the survey being classified (with --force) replaced it."""
    _no_cluster(monkeypatch)
    survey = hand_survey
    before = _snapshot(survey)
    base = ["classify", "--engine", "dask", "--parquet", survey, "--out"]
    # the survey this command reads, or a folder inside it, even with --force
    _refused(capsys, [*base, survey, "--force"], f"--out {survey} is the survey this command reads")
    _refused(capsys, [*base, survey / "parcels" / "f.parquet"], "is the survey this command reads")
    assert _snapshot(survey) == before
    # a file where the folder goes
    (tmp_path / "file.parquet").write_text("mine")
    for extra in ([], ["--force"]):
        _refused(capsys, [*base, tmp_path / "file.parquet", *extra], "is a file; a partitioned survey is a folder")
    assert (tmp_path / "file.parquet").read_text() == "mine"
    # a missing folder; a folder that is not a survey; an existing survey without --force
    _refused(capsys, [*base, tmp_path / "no" / "f.parquet"], "the folder", "does not exist")
    (tmp_path / "mine.parquet").mkdir()
    _refused(capsys, [*base, tmp_path / "mine.parquet", "--force"], "is not a partitioned survey")
    other = tmp_path / "other.parquet"
    gpq.write_partitioned_survey(_hand_grid()[0], other, npartitions=2)
    kept = _snapshot(other)
    _refused(capsys, [*base, other], "exists; give another folder or replace it (--force)")
    assert _snapshot(other) == kept
    # options of the workspace engine are refused, not ignored; so is a local cluster of no worker
    for bad in ("0", "-1", "two"):
        with pytest.raises(SystemExit) as exit_:
            main([str(a) for a in [*base, tmp_path / "new.parquet", "--workers", bad]])
        assert exit_.value.code == 2 and "is not a number of workers" in capsys.readouterr().err
    _refused(capsys, [*base, tmp_path / "new.parquet", "--survey-version", "1"], "--survey-version and --wkt need a")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.parquet", "mine.parquet", "other.parquet",
                                                          "s.parquet"]


def test_cli_dask_out_in_a_read_only_place_is_refused_before_the_cluster(hand_survey, tmp_path, capsys, monkeypatch):
    import os
    import subprocess

    _no_cluster(monkeypatch)
    ro = tmp_path / "ro"
    ro.mkdir()
    mounted = os.geteuid() == 0 and subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,ro", "tmpfs", str(ro)],
                                                   capture_output=True).returncode == 0
    if not mounted:
        if os.geteuid() == 0:
            pytest.skip("root without mount: no read-only folder to try")
        os.chmod(ro, 0o555)
    try:
        _refused(capsys, ["classify", "--engine", "dask", "--parquet", hand_survey, "--out", ro / "f.parquet"],
                 f"the folder {ro} is not writable")
    finally:
        subprocess.run(["umount", str(ro)], check=False) if mounted else os.chmod(ro, 0o755)


def test_cli_ingest_parquet_refused_before_the_workspace_changes(tmp_path, capsys, monkeypatch):
    """``ingest -w WS --parquet DIR`` with DIR taken published the survey into WS, then said exit 2."""
    import shutil
    from pathlib import Path

    from planner.io.store import open_store

    root = Path(__file__).resolve().parents[1]
    ws = shutil.copyfile(root / "gis_data" / "sample_city.gpkg", tmp_path / "ws.gpkg")
    (tmp_path / "s.parquet").mkdir()
    before = ws.read_bytes()
    _refused(capsys, ["ingest", root / "gis_data" / "survey_update.zip", "-w", ws, "--parquet",
                      tmp_path / "s.parquet"], f"--parquet {tmp_path / 's.parquet'} exists")
    assert ws.read_bytes() == before
    assert len(open_store(ws).layers("survey")) == 1


@pytest.mark.parametrize("damage", ["missing", "renumbered", "other CRS", "not parquet", "a column less"])
def test_cli_dask_names_the_bad_partition_before_the_cluster(hand_survey, tmp_path, capsys, monkeypatch, damage):
    """A survey folder copied in part, or mixed from two sources: the file is named, nothing runs.

    Before: a missing file gave a count, a renumbered file or a partition in EPSG:4326 ran to the end (the sites
    of a 4326 partition failed in stage 3 naming no file; in another metric CRS they would have been wrong), an
    unreadable file was named by its task key."""
    _no_cluster(monkeypatch)
    parts = gpq.partition_files(hand_survey)
    f = parts[1]
    if damage == "missing":
        f.unlink()
        needle = "missing parcels/part.1.parquet"
    elif damage == "renumbered":
        f.rename(f.with_name("part.7.parquet"))
        needle = "missing parcels/part.1.parquet; not listed parcels/part.7.parquet"
    elif damage == "other CRS":
        gpd.read_parquet(f).to_crs(4326).to_parquet(f)
        needle = f"{hand_survey}/parcels/part.1.parquet: CRS EPSG:4326, the survey's is EPSG:4549"
    elif damage == "not parquet":
        f.write_text("not parquet")
        needle = f"{hand_survey}/parcels/part.1.parquet: not a readable GeoParquet partition"
    else:
        gpd.read_parquet(f).drop(columns="floor_area_m2").to_parquet(f)
        needle = f"{hand_survey}/parcels/part.1.parquet: no column 'floor_area_m2'"
    _refused(capsys, ["classify", "--engine", "dask", "--parquet", hand_survey, "--out", tmp_path / "f.parquet"],
             needle)
    _refused(capsys, ["sites", "--engine", "dask", "--parquet", hand_survey], needle if damage != "a column less"
             else "part.1.parquet")
    assert not (tmp_path / "f.parquet").exists()


def test_scheduler_that_does_not_answer_or_has_no_workers_is_refused_in_time(hand_survey, tmp_path, capsys,
                                                                            monkeypatch):
    """A port where something listens but never speaks Dask (the dashboard's 8787 given for 8786) hung forever;
    so did a scheduler no worker had joined (the first task waited)."""
    import socket
    import time

    from distributed import LocalCluster

    monkeypatch.setattr(_cluster, "CONNECT_TIMEOUT", 1)
    base = ["classify", "--engine", "dask", "--parquet", hand_survey, "--out", tmp_path / "f.parquet", "--scheduler"]
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(5)
        addr = f"tcp://127.0.0.1:{silent.getsockname()[1]}"
        t = time.perf_counter()
        _refused(capsys, [*base, addr], f"cannot reach the Dask scheduler at {addr}")
        assert time.perf_counter() - t < 15
    with LocalCluster(n_workers=0, processes=False, protocol="tcp", dashboard_address=":0",
                      silence_logs=40) as empty:
        t = time.perf_counter()
        _refused(capsys, [*base, empty.scheduler_address],
                 f"the Dask scheduler at {empty.scheduler_address} has no workers", "dask worker")
        assert time.perf_counter() - t < 15
    assert not (tmp_path / "f.parquet").exists()


def test_workers_without_planner_are_refused_naming_them(client, hand_survey, tmp_path, capsys, monkeypatch):
    """In-process workers have planner: the worker's question is made to fail as on a worker without it."""
    monkeypatch.setattr(_cluster, "_PLANNER_VERSION", "__import__('planner_not_on_this_worker').__version__")
    _refused(capsys, ["classify", "--engine", "dask", "--parquet", hand_survey, "--out", tmp_path / "f.parquet",
                      "--scheduler", client.scheduler.address],
             "2 of 2 Dask workers at", "cannot import planner (ModuleNotFoundError",
             "install that version (and the same Python packages) on every worker")
    monkeypatch.setattr(_cluster, "_PLANNER_VERSION", "'0.0.1'")
    _refused(capsys, ["sites", "--engine", "dask", "--parquet", hand_survey, "--scheduler", client.scheduler.address],
             "run planner 0.0.1", "this client runs planner")


@pytest.mark.slow
def test_a_real_worker_without_planner_is_refused_not_waited_for(hand_survey, tmp_path):
    """A ``dask worker`` process that cannot import planner: the task's unpickling broke its connection, the
    worker was restarted and sent the task again, for ever (the command hung)."""
    import os
    import subprocess
    import sys
    import time

    block = tmp_path / "block"
    block.mkdir()
    (block / "sitecustomize.py").write_text(
        "import sys\nclass _B:\n    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'planner':\n            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, _B())\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    sched = subprocess.Popen([*dask, "--host", "127.0.0.1", "--port", "0", "--dashboard-address", ":0",
                              "--scheduler-file", str(tmp_path / "sched.json")], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = None
    try:
        for _ in range(100):
            if (tmp_path / "sched.json").exists():
                break
            time.sleep(0.2)
        addr = json.loads((tmp_path / "sched.json").read_text())["address"]
        worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", addr, "--nthreads", "1"],
                                  env={**env, "PYTHONPATH": str(block)}, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        code = "import sys; from planner.cli import main; sys.exit(main(sys.argv[1:]))"
        proc = subprocess.run([sys.executable, "-c", code, "classify", "--engine", "dask", "--parquet",
                               str(hand_survey), "--out", str(tmp_path / "f.parquet"), "--scheduler", addr],
                              capture_output=True, text=True, timeout=120,
                              env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
        assert proc.returncode == 2, proc.stderr
        assert "cannot import planner" in proc.stderr and "Traceback" not in proc.stderr
    finally:
        for p in (worker, sched):
            if p is not None:
                p.terminate()
                p.wait(timeout=30)


_KILLED = """
import os, signal, sys
from planner.io import geoparquet as gpq
where = sys.argv[1]
if where == "before planner.json":
    gpq.finish_survey = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
else:  # between the two renames of the replace
    def _replace(tmp, path):
        os.replace(path, path.with_name(f".{path.name}.old"))
        os.kill(os.getpid(), signal.SIGKILL)
    gpq._replace = _replace
from planner.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize("where", ["before planner.json", "between the renames"])
def test_a_killed_classify_leaves_the_previous_export_and_nothing_taken_for_complete(client, hand_survey, tmp_path,
                                                                                    where):
    """``classify --engine dask --out F --force`` killed at the end: F is still the previous export, whole.

    Killed between the two renames of the replace, F was gone (set aside as .F.old, never put back); the
    building folders of killed runs were left for ever (one per ingest: mkdtemp names)."""
    import os
    import subprocess
    import sys

    addr = client.scheduler.address
    out = tmp_path / "f.parquet"
    argv = ["classify", "--engine", "dask", "--parquet", str(hand_survey), "--out", str(out), "--scheduler", addr]
    assert main(argv) == 0
    before = _snapshot(out)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-c", _KILLED, where, *argv, "--force", "-p", "strict"],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == -9, proc.stderr
    # what a later run or the app reads is the previous export, whole
    info = gpq.survey_info(out)
    assert info["source"].endswith(f"classified under policy default ({info['source'][-13:-1]})")
    assert _snapshot(out) == before
    assert main(["sites", "--engine", "dask", "--parquet", str(out), "--scheduler", addr, "--min-area", "0"]) == 0
    # the next run replaces it and clears what the killed one left
    assert main([*argv, "--force", "-p", "strict"]) == 0
    assert "policy strict" in gpq.survey_info(out)["source"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.parquet", "s.parquet"]


@pytest.mark.slow
def test_cli_dask_equals_the_workspace_commands_on_the_sample_city(client, tmp_path, capsys):
    """The README's journey on gis_data/sample_city.gpkg (20,000 parcels, its roads, rivers, railway and protected
    land): ``ingest --parquet``, then classify and sites with ``--engine dask`` give the files the workspace
    commands give: every parcel's flags, grade and reasons; the same sites of the same parcels, areas to 1e-6 m²."""
    import shutil
    from pathlib import Path

    import pyogrio

    root = Path(__file__).resolve().parents[1]
    ws = shutil.copyfile(root / "gis_data" / "sample_city.gpkg", tmp_path / "ws.gpkg")
    addr = ["--scheduler", client.scheduler.address]
    s, f = tmp_path / "s.parquet", tmp_path / "f.parquet"
    assert main(["ingest", str(root / "gis_data" / "survey_update.zip"), "-w", str(ws), "--parquet", str(s),
                 "--partitions", "4"]) == 0
    assert main(["classify", "-w", str(ws), "--out", str(tmp_path / "mem.gpkg")]) == 0
    assert main(["classify", "--engine", "dask", "--parquet", str(s), "--out", str(f), *addr]) == 0
    assert main(["sites", "-w", str(ws), "--out", str(tmp_path / "mem_sites.gpkg")]) == 0
    assert main(["sites", "--engine", "dask", "--parquet", str(f), "--out", str(tmp_path / "sites.gpkg"), *addr]) == 0
    capsys.readouterr()
    mem = pyogrio.read_dataframe(tmp_path / "mem.gpkg", layer="flags").set_index("parcel_id")
    got = _read_all(f).set_index("parcel_id")
    assert len(got) == len(mem) == 19_999 and got.index.is_unique
    got = got.loc[mem.index]
    for col in ("three_low", "low_utilization", "low_capacity", "low_contribution", "n_low", "upgrade_class",
                "grade", "reason_zh", "reason_en", "output_per_mu"):
        a, b = mem[col].astype(object), got[col].astype(object)
        assert (a.isna() == b.isna()).all() and (a[a.notna()].astype(str) == b[b.notna()].astype(str)).all(), col
    assert mem["three_low"].astype(bool).sum() > 5000
    ms, ds = (pyogrio.read_dataframe(tmp_path / n, layer="sites").set_index("site_id")
              for n in ("mem_sites.gpkg", "sites.gpkg"))
    mp, dp = (pyogrio.read_dataframe(tmp_path / n, layer="site_parcels") for n in ("mem_sites.gpkg", "sites.gpkg"))
    pd.testing.assert_frame_equal(mp, dp)  # same sites (ids, order) of the same parcels, in the same roles
    assert len(ms) == len(ds) > 1000 and (ms.index == ds.index).all()
    assert np.abs(ms.geometry.area - ds.geometry.area).max() <= 1e-6
    for col in ("land_area_m2", "flagged_area_m2", "score"):
        if col in ms:
            assert np.abs(ms[col] - ds[col]).max() <= 1e-6, col
    assert (ms["status"] == ds["status"]).all() and (ms["rank"].fillna(0) == ds["rank"].fillna(0)).all()


def test_cli_dask_sites_of_an_unclassified_survey_say_to_classify_first(tmp_path, capsys, monkeypatch):
    _no_cluster(monkeypatch)
    gpq.write_partitioned_survey(_hand_grid()[0].drop(columns="three_low"), tmp_path / "s.parquet", npartitions=2)
    _refused(capsys, ["sites", "--engine", "dask", "--parquet", tmp_path / "s.parquet"],
             "the parcels have no 'three_low' column; classify them with `planner classify --engine dask`")


def test_a_parcel_id_repeated_in_two_partitions_is_refused_as_in_memory(client, tmp_path):
    """Two flagged parcels of one id in different partitions: the in-memory build refuses them; the partitioned
    build (each unit seeing one copy) gave a parcel-to-site table with the id twice."""
    parcels, _road, _protected, part = _hand_grid()
    parcels.loc[parcels["parcel_id"] == "p49", "parcel_id"] = "p40"  # D's lower parcel (partition 1) takes B's id
    gpq.write_partitioned_survey(parcels, tmp_path / "d.parquet", partition_of=part)
    params = SiteParams(gap_m=2.0, min_area_m2=0)
    with pytest.raises(Exception, match="parcel_id not unique among the parcels placed in sites") as mem:
        build_sites(parcels, params)
    with pytest.raises(type(mem.value), match=r"parcel_id not unique among the parcels placed in sites or excluded from them, e\.g\. \['p40'\]"):
        build_sites_partitioned(tmp_path / "d.parquet", params, client=client, bar=False)
    # an id repeated on parcels no site takes (a mapping may keep duplicate ids) is built as in memory; the
    # partitioned build refused the whole unit ("a partitioned survey needs one id per parcel")
    parcels, road, protected, part = _hand_grid()
    parcels.loc[parcels["parcel_id"].isin(["p01", "p11"]), "parcel_id"] = "p00"  # three unflagged parcels
    parcels.loc[parcels["parcel_id"] == "p53", "parcel_id"] = "p52"  # unflagged, next to the ring's enclave
    gpq.write_partitioned_survey(parcels, tmp_path / "u.parquet", partition_of=part, barriers=road,
                                 constraints=protected)
    run = build_sites_partitioned(tmp_path / "u.parquet", params, client=client, barriers=road,
                                  constraints=protected, bar=False)
    _assert_same_sites(build_sites(parcels, params, barriers=road, constraints=protected), run.result)


def test_sample_province_takes_the_scheduler_from_the_environment(tmp_path, capsys, monkeypatch):
    """README: PLANNER_DASK_SCHEDULER or --scheduler on each command; ``sample-data --province`` started a local
    cluster whatever the variable said."""
    monkeypatch.setattr(_cluster, "CONNECT_TIMEOUT", 1)
    monkeypatch.setenv("PLANNER_DASK_SCHEDULER", "tcp://127.0.0.1:9")
    _refused(capsys, ["sample-data", "--province", "--parcels", "2000", "--parcels-per-city", "1000", "--out",
                      tmp_path / "p.parquet"], "cannot reach the Dask scheduler at tcp://127.0.0.1:9")
    assert list(tmp_path.iterdir()) == []


def test_a_survey_folder_in_longitude_latitude_is_refused_naming_its_crs(tmp_path, capsys, monkeypatch):
    _no_cluster(monkeypatch)
    gpq.write_partitioned_survey(_hand_grid()[0].to_crs(4326), tmp_path / "ll.parquet", npartitions=2)
    _refused(capsys, ["classify", "--engine", "dask", "--parquet", tmp_path / "ll.parquet", "--out",
                      tmp_path / "f.parquet"], "ll.parquet: CRS EPSG:4326 is not projected (metres)")


def test_cli_dask_sites_take_every_site_option_the_workspace_engine_takes(client, city, tmp_path, capsys):
    """``--max-owners``, ``--difficulty-weight`` and ``--no-street-split`` were ignored by ``--engine dask`` (other
    sites than ``planner sites -w`` with the same options: 31,566 against 32,109 at 200k parcels)."""
    from planner import workflow as W

    parcels, bars, cons = city
    flags = classify(parcels, default_policy())
    gpq.write_partitioned_survey(flags, tmp_path / "f.parquet", npartitions=4, barriers=bars, constraints=cons)
    from planner import config

    data = {**config._drop_none(SiteParams().to_dict()), "gap_m": 6.0}  # as `sites -w` resolves the options
    params = SiteParams.from_dict(W.operations.apply_site_options(data, max_owners=3, difficulty_weight=0.4,
                                                                  split_streets=False, max_area_m2=0))
    assert main(["sites", "--engine", "dask", "--parquet", str(tmp_path / "f.parquet"), "--scheduler",
                 client.scheduler.address, "--max-owners", "3", "--difficulty-weight", "0.4", "--no-street-split",
                 "--max-area", "0", "--gap", "6", "--out", str(tmp_path / "s.csv")]) == 0
    capsys.readouterr()
    mem = build_sites(flags, params, barriers=bars, constraints=cons)
    got = pd.read_csv(tmp_path / "s_parcels.csv")
    assert got.equals(pd.read_csv(pd.io.common.StringIO(mem.parcel_sites.to_csv(index=False))))
    sites = pd.read_csv(tmp_path / "s.csv")
    assert sites["n_owners"].max() <= 3 and len(sites) == len(mem.sites)
    assert np.allclose(sites["score"], mem.sites["score"], equal_nan=True)
