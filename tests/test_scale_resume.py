"""Province scale on Dask, for an analyst whose runs get killed (session 15): a survey folder that fell behind
its workspace is refused and refreshed, killed and concurrent runs leave nothing stale or half-written, both
engines treat a repeated parcel id alike.

The cluster is one small LocalCluster (2 workers, threads of this process, TCP so that the CLI subprocesses can be
pointed at it with ``--scheduler``) for the whole module.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pytest

from planner.cli import main
from planner.io import geoparquet as gpq
from planner.io.store import open_store
from tests.test_scale import _hand_grid, _no_cluster, _read_all, _refused

pytest.importorskip("dask_geopandas")


def _survey_file(path: Path, *, tax: float = 1000.0) -> Path:
    """The hand-made grid of tests/test_scale.py as a survey file a GIS office delivers."""
    parcels = _hand_grid()[0].drop(columns=["three_low", "upgrade_class"])
    parcels = parcels.assign(land_use="industrial", tax_cny=tax, output_cny=1e5)
    parcels.to_file(path, layer="parcels")
    return path


@pytest.fixture
def workspace(tmp_path):
    """A workspace with one published survey (version 1) of the hand-made grid."""
    ws = tmp_path / "ws.gpkg"
    assert run(["workspace", "init", str(ws), "--crs", "EPSG:4549"]) == 0
    assert run(["ingest", str(_survey_file(tmp_path / "v1.gpkg")), "-w", str(ws)]) == 0
    return ws


def run(argv) -> int:
    """``planner ARGV`` in this process (paths given as they are)."""
    return main([str(a) for a in argv])


def _cli(argv, **kw) -> subprocess.CompletedProcess:
    """``planner ARGV`` in a subprocess (a command the test may kill), with this clone first on the path."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run([sys.executable, "-m", "planner", *map(str, argv)], capture_output=True, text=True,
                          timeout=300, env=env, **kw)


_KILL_AT = """
import os, signal, sys
from planner.io import geoparquet as gpq
name = sys.argv[1]
setattr(gpq, name, lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL))
from planner.cli import main
sys.exit(main(sys.argv[2:]))
"""


def _killed_at(function: str, argv) -> subprocess.CompletedProcess:
    """``planner ARGV`` SIGKILLed when it calls ``planner.io.geoparquet.<function>``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-c", _KILL_AT, function, *map(str, argv)], capture_output=True,
                          text=True, timeout=300, env=env)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    return proc


def test_an_ingest_killed_after_the_publish_leaves_a_folder_that_says_it_is_stale(workspace, tmp_path, capsys,
                                                                                   monkeypatch):
    """``ingest SRC -w WS --parquet DIR --force`` killed after the publish, before DIR was written: DIR stayed
    whole at the previous version, planner.json did not say which, and ``classify --engine dask`` ran on the old
    parcels. Now DIR records its workspace and survey version; the Dask commands refuse it naming both versions
    and the command that refreshes it; that command brings DIR up to date without publishing again."""
    s = tmp_path / "s.parquet"
    assert run(["ingest", "-w", workspace, "--parquet", s, "--partitions", "2"]) == 0  # the current survey, v1
    rec = gpq.survey_info(s)["workspace"]
    assert rec["survey_version"] == 1 and rec["uri"] == os.path.realpath(workspace)
    # a new delivery: published as version 2, killed before the folder was written
    _killed_at("write_partitioned_survey", ["ingest", _survey_file(tmp_path / "v2.gpkg", tax=1.0), "-w", workspace,
                                            "--parquet", s, "--force", "--partitions", "2"])
    assert open_store(workspace).surveys()["version"].tolist() == [1, 2]
    assert gpq.survey_info(s)["workspace"]["survey_version"] == 1
    _no_cluster(monkeypatch)
    refresh = f"`planner ingest -w {os.path.realpath(workspace)} --parquet {s} --force`"
    for argv in (["classify", "--engine", "dask", "--parquet", s, "--out", tmp_path / "f.parquet"],
                 ["classify", "--engine", "dask", "--parquet", s, "--out", tmp_path / "f.parquet", "-w", workspace]):
        _refused(capsys, argv, f"{s} holds survey version 1 of workspace", "current survey is version 2",
                 "nothing was run on the old parcels", refresh)
    assert not (tmp_path / "f.parquet").exists()
    # the refresh: the current version written, nothing published
    assert run(["ingest", "-w", workspace, "--parquet", s]) == 2  # DIR exists: --force, as for every write
    assert "--force" in capsys.readouterr().err
    assert run(["ingest", "-w", workspace, "--parquet", s, "--force", "--partitions", "2"]) == 0
    assert "survey version 2 of ws.gpkg" in capsys.readouterr().err
    assert open_store(workspace).surveys()["version"].tolist() == [1, 2]
    assert gpq.survey_info(s)["workspace"]["survey_version"] == 2
    assert (_read_all(s)["tax_cny"] == 1.0).all()
    # an option that reads or publishes a file, with no file: refused, not ignored
    _refused(capsys, ["ingest", "-w", workspace, "--parquet", tmp_path / "n.parquet", "--mapping", "m.toml"],
             "--mapping: these read or publish a survey file")
    _refused(capsys, ["ingest", "--parquet", tmp_path / "n.parquet"], "give the survey file to load")


def test_a_classified_folder_behind_its_workspace_says_to_refresh_and_classify_again(client, workspace, tmp_path,
                                                                                      capsys):
    addr = ["--scheduler", client.scheduler.address]
    s, f = tmp_path / "s.parquet", tmp_path / "f.parquet"
    assert run(["ingest", "-w", workspace, "--parquet", s, "--partitions", "2"]) == 0
    assert run(["classify", "--engine", "dask", "--parquet", s, "--out", f, *addr, "-p", "strict"]) == 0
    info = gpq.survey_info(f)
    assert info["workspace"]["survey_version"] == 1 and info["classified_from"] == str(s.resolve())
    assert info["policy"]["name"] == "strict"
    capsys.readouterr()
    assert run(["sites", "--engine", "dask", "--parquet", f, *addr, "--min-area", "0", "--lang", "zh"]) == 0
    # what the flags are (a rerun killed before its replace leaves the previous classification: it is named)
    assert f"{f} 的识别结果：识别规则「strict」（哈希 {info['policy']['hash'][:12]}），ws.gpkg 的调查版本 1，" \
        in capsys.readouterr().out
    assert run(["sites", "--engine", "dask", "--parquet", f, *addr, "--min-area", "0", "--lang", "en"]) == 0
    assert f"flags of {f}: policy 'strict' (hash {info['policy']['hash'][:12]}), survey version 1 of ws.gpkg" \
        in capsys.readouterr().out
    assert run(["ingest", _survey_file(tmp_path / "v2.gpkg", tax=1.0), "-w", workspace]) == 0  # v2, no --parquet
    capsys.readouterr()
    _refused(capsys, ["sites", "--engine", "dask", "--parquet", f, *addr],
             f"{f} holds survey version 1", "current survey is version 2",
             f"`planner ingest -w {os.path.realpath(workspace)} --parquet {s.resolve()} --force`",
             f"`planner classify --engine dask --parquet {s.resolve()} --out {f} --force -p strict`")
    # the commands it names bring both folders up to date
    assert run(["ingest", "-w", workspace, "--parquet", s, "--force", "--partitions", "2"]) == 0
    assert run(["classify", "--engine", "dask", "--parquet", s, "--out", f, "--force", *addr, "-p", "strict"]) == 0
    assert run(["sites", "--engine", "dask", "--parquet", f, *addr, "--min-area", "0"]) == 0


def test_a_folder_whose_workspace_has_new_protected_land_is_refused(workspace, tmp_path, capsys, monkeypatch):
    """The folder holds the workspace's barrier and protected-land layers too: a protected area published after
    the export would have been ignored by ``sites --engine dask``."""
    import shapely

    s = tmp_path / "s.parquet"
    assert run(["ingest", "-w", workspace, "--parquet", s]) == 0
    store = open_store(workspace)
    x0, y0 = _hand_grid()[0].total_bounds[:2]
    store.write_layer("constraint", "ecological", gpd.GeoDataFrame(
        {"category": ["ecological_red_line"]}, geometry=[shapely.box(x0, y0, x0 + 300, y0 + 300)], crs="EPSG:4549"))
    _no_cluster(monkeypatch)
    _refused(capsys, ["classify", "--engine", "dask", "--parquet", s, "--out", tmp_path / "f.parquet"],
             "whose barrier and protected-land layers have changed since (constraint/ecological none -> v1)",
             f"`planner ingest -w {os.path.realpath(workspace)} --parquet {s} --force`")
    monkeypatch.undo()
    assert run(["ingest", "-w", workspace, "--parquet", s, "--force"]) == 0
    assert gpq.survey_info(s)["layers"] == {"constraints": 1}
    assert gpq.survey_info(s)["workspace"]["layers"] == {"constraint/ecological": 1}


def test_a_folder_of_another_workspace_is_refused_with_w(client, workspace, tmp_path, capsys, monkeypatch):
    other = tmp_path / "other.gpkg"
    assert run(["workspace", "init", str(other), "--crs", "EPSG:4549"]) == 0
    assert run(["ingest", str(_survey_file(tmp_path / "o.gpkg")), "-w", str(other)]) == 0
    s = tmp_path / "s.parquet"
    assert run(["ingest", "-w", workspace, "--parquet", s]) == 0
    _no_cluster(monkeypatch)
    _refused(capsys, ["classify", "--engine", "dask", "--parquet", s, "--out", tmp_path / "f.parquet", "-w", other],
             f"{s} holds survey version 1 of workspace {os.path.realpath(workspace)}, not of "
             f"{os.path.realpath(other)} (-w)", f"`planner ingest -w {os.path.realpath(other)} --parquet NEW.parquet`")
    # a folder that records no workspace (written from a file): run, with a note that it was not checked
    plain = tmp_path / "plain.parquet"
    gpq.write_partitioned_survey(_hand_grid()[0], plain, npartitions=2)
    monkeypatch.undo()
    assert run(["sites", "--engine", "dask", "--parquet", plain, "-w", other, "--scheduler",
                 client.scheduler.address]) == 0
    assert f"{plain} records no workspace" in capsys.readouterr().err
    # the workspace moved away: the folder still runs, saying its version was not checked
    os.replace(workspace, tmp_path / "moved.gpkg")
    assert run(["classify", "--engine", "dask", "--parquet", s, "--out", tmp_path / "f.parquet", "--scheduler",
                 client.scheduler.address]) == 0
    assert "the workspace cannot be opened here" in capsys.readouterr().err


@pytest.mark.parametrize(("giver", "taker"), [("p77", "p85"), ("p77", "p72"), ("p32", "p33"), ("p17", "e0")])
def test_a_flagged_id_repeated_on_a_parcel_protected_land_excludes_is_refused_by_both_engines(client, tmp_path,
                                                                                              giver, taker):
    """Two flagged parcels of one id, one in a site and one excluded by protected land (p77): the in-memory build
    gave a result naming the id in a site and as excluded (joined back to the parcels, the excluded one became a
    member too), the partitioned build refused it when both were in one partition (p85) and accepted it across
    partitions (p72). The data contract: an id names one parcel (ingest rejects repeats unless a mapping keeps
    them); both engines now refuse every id the result names twice, and build alike when a repeated id is on
    one parcel the result names at most (p33: unflagged, not an enclave; e0: an enclave the ring absorbs, and an
    unflagged parcel of its partition, which the partitioned build refused)."""
    from planner.errors import DataError
    from planner.scale.sites import build_sites_partitioned
    from planner.sites import SiteParams, build_sites

    parcels, road, protected, part = _hand_grid()
    parcels.loc[parcels["parcel_id"] == giver, "parcel_id"] = taker
    gpq.write_partitioned_survey(parcels, tmp_path / "d.parquet", partition_of=part, barriers=road,
                                 constraints=protected)
    params = SiteParams(gap_m=2.0, min_area_m2=0)

    def build(engine):
        if engine == "memory":
            return build_sites(parcels, params, barriers=road, constraints=protected)
        return build_sites_partitioned(tmp_path / "d.parquet", params, client=client, barriers=road,
                                       constraints=protected, bar=False).result

    if giver != "p77":
        from tests.test_scale import _assert_same_sites

        _assert_same_sites(build("memory"), build("dask"))
        return
    for engine in ("memory", "dask"):
        with pytest.raises(DataError, match=rf"parcel_id not unique among the parcels placed in sites or excluded "
                                            rf"from them, e\.g\. \['{taker}'\]; give every parcel its own id"):
            build(engine)


# -- a folder replaced while a command reads it; two runs writing one folder at once ------------------------

def _replace_after(monkeypatch, module, stage: str, path: Path, frame) -> None:
    """Make ``module``'s progress gather replace the survey folder ``path`` with ``frame`` once ``stage`` is done
    (another analyst's run finishing in the middle of this one)."""
    orig = module.gather_with_progress

    def gather(client, futures, label, **kw):
        out = orig(client, futures, label, **kw)
        if label.startswith(stage):
            gpq.write_partitioned_survey(frame, path, npartitions=3, overwrite=True)
        return out

    monkeypatch.setattr(module, "gather_with_progress", gather)


def test_a_folder_replaced_while_sites_read_it_gives_no_mixed_sites(client, tmp_path, capsys, monkeypatch):
    """``sites --engine dask`` reads every partition in stage 1 (groups) and again in stage 3 (units): a
    ``classify --force`` of the same folder finishing in between gave 'unit 1: 1133 flagged parcel(s) of its
    groups are in no site' (20,000 parcels, default then strict), or sites of two classifications mixed."""
    from planner.classify import classify
    from planner.classify.policy import default_policy
    from planner.scale import sites as scale_sites

    parcels = _hand_grid()[0]
    f = tmp_path / "f.parquet"
    gpq.write_partitioned_survey(parcels, f, npartitions=3)
    other = parcels.assign(three_low=~parcels["three_low"])  # another classification of the same parcels
    _replace_after(monkeypatch, scale_sites, "sites 1/4", f, other)
    err = _refused(capsys, ["sites", "--engine", "dask", "--parquet", f, "--out", tmp_path / "sites.csv",
                            "--scheduler", client.scheduler.address, "--min-area", "0"],
                   f"{f} was replaced by another run while this command read it; nothing was written")
    assert "in no site" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.parquet"]
    # the classify of a survey replaced between its passes (thresholds of one survey, flags of another)
    from planner.scale import classify as scale_classify

    monkeypatch.undo()
    s = tmp_path / "s.parquet"
    gpq.write_partitioned_survey(classify(parcels.assign(land_use="industrial", tax_cny=1000.0, output_cny=1e5),
                                          default_policy()), s, npartitions=3)
    changed = gpq.read_partition(gpq.partition_files(s)[0]).assign(tax_cny=1.0)
    _replace_after(monkeypatch, scale_classify, "classify 1/3", s, changed)
    _refused(capsys, ["classify", "--engine", "dask", "--parquet", s, "--out", tmp_path / "o.parquet",
                      "--scheduler", client.scheduler.address], f"{s} was replaced by another run")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.parquet", "s.parquet"]  # no output, no leftovers


def test_a_reader_does_not_put_back_what_a_writer_set_aside(tmp_path):
    """A run reading a folder while another replaced it put the set-aside previous folder back between the
    writer's two renames (_recover); the writer then failed with 'Directory not empty' after all its work. The
    renames and the putting back now take turns."""
    import threading
    import time

    parcels = _hand_grid()[0]
    s = tmp_path / "s.parquet"
    gpq.write_partitioned_survey(parcels, s, npartitions=2)
    new = gpq.building(s)
    gpq.write_partitioned_survey(parcels.iloc[:50], tmp_path / "n.parquet", npartitions=1)
    os.replace(tmp_path / "n.parquet", new)
    moved = threading.Event()
    real_replace = os.replace

    def slow_replace(a, b):
        real_replace(a, b)
        if Path(b).name == ".s.parquet.old":  # the previous folder set aside: a reader comes now
            moved.set()
            time.sleep(0.5)

    errors = []

    def writer():
        try:
            gpq._replace(new, s)
        except Exception as exc:  # reported below
            errors.append(exc)

    os.replace = slow_replace
    try:
        t = threading.Thread(target=writer)
        t.start()
        assert moved.wait(10)
        info = gpq.survey_info(s)  # waits for the writer's second rename instead of putting the old one back
        t.join()
    finally:
        os.replace = real_replace
    assert errors == [] and info["n_parcels"] == 50 and gpq.survey_info(s)["n_parcels"] == 50
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.parquet"]


def test_a_postgis_workspace_is_recorded_without_its_password_and_checked_with_w(pg_dsn, tmp_path, capsys,
                                                                                 monkeypatch):
    import uuid
    from urllib.parse import urlsplit

    from planner.io._pgconn import without_credentials
    from planner.io.postgis import drop_workspace
    from tests.conftest import pg_uri

    ws = pg_uri(pg_dsn, f"t_{uuid.uuid4().hex[:12]}_dask")
    try:
        assert run(["workspace", "init", ws, "--crs", "EPSG:4549"]) == 0
        assert run(["ingest", _survey_file(tmp_path / "v1.gpkg"), "-w", ws, "--parquet", tmp_path / "s.parquet"]) == 0
        rec = gpq.survey_info(tmp_path / "s.parquet")["workspace"]
        assert rec["uri"] == without_credentials(ws) and rec["survey_version"] == 1
        password = urlsplit(ws).password
        if password:  # never written into planner.json (a folder on a shared file system)
            assert f":{password}@" not in (tmp_path / "s.parquet" / "planner.json").read_text()
        assert run(["ingest", _survey_file(tmp_path / "v2.gpkg", tax=1.0), "-w", ws]) == 0
        _no_cluster(monkeypatch)
        _refused(capsys, ["classify", "--engine", "dask", "--parquet", tmp_path / "s.parquet", "--out",
                          tmp_path / "f.parquet", "-w", ws], "holds survey version 1 of workspace",
                 "current survey is version 2")
        assert run(["ingest", "-w", ws, "--parquet", tmp_path / "s.parquet", "--force"]) == 0
        assert gpq.survey_info(tmp_path / "s.parquet")["workspace"]["survey_version"] == 2
        assert len(open_store(ws).surveys()) == 2
    finally:
        drop_workspace(ws)


@pytest.mark.slow
def test_the_sample_city_journey_with_an_ingest_killed_after_the_publish(client, tmp_path, capsys):
    """gis_data/sample_city.gpkg (20,000 parcels) exported, then its survey update (19,999) published by an
    ingest killed before the folder was written: classify --engine dask ran on the 20,000 old parcels; now it is
    refused, the refresh writes the 19,999 and the flags equal the workspace engine's."""
    import shutil

    import pyogrio

    root = Path(__file__).resolve().parents[1]
    ws = shutil.copyfile(root / "gis_data" / "sample_city.gpkg", tmp_path / "ws.gpkg")
    s, f = tmp_path / "s.parquet", tmp_path / "f.parquet"
    addr = ["--scheduler", client.scheduler.address]
    assert run(["ingest", "-w", ws, "--parquet", s, "--partitions", "4"]) == 0
    _killed_at("write_partitioned_survey", ["ingest", root / "gis_data" / "survey_update.zip", "-w", ws,
                                            "--parquet", s, "--force", "--partitions", "4"])
    assert gpq.survey_info(s)["n_parcels"] == 20_000
    capsys.readouterr()
    _refused(capsys, ["classify", "--engine", "dask", "--parquet", s, "--out", f, *addr],
             "holds survey version 1 of workspace", "current survey is version 2")
    assert run(["ingest", "-w", ws, "--parquet", s, "--force", "--partitions", "4"]) == 0
    assert run(["classify", "--engine", "dask", "--parquet", s, "--out", f, *addr]) == 0
    assert run(["classify", "-w", ws, "--out", tmp_path / "mem.gpkg"]) == 0
    mem = pyogrio.read_dataframe(tmp_path / "mem.gpkg", layer="flags").set_index("parcel_id")
    got = _read_all(f).set_index("parcel_id")
    assert len(got) == len(mem) == 19_999
    assert (got.loc[mem.index, "three_low"].astype(bool) == mem["three_low"].astype(bool)).all()
    assert len(open_store(ws).surveys()) == 2
