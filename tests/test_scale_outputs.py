"""Dask scale: what ``planner sites --engine dask --out`` records of the survey it was built from, and folders
exported by another system whose parcel ids repeat across partitions (refused naming the id and the files)."""

from __future__ import annotations

import pytest

from planner.cli import main
from planner.io import geoparquet as gpq
from tests.test_scale import _hand_grid, _no_cluster, _refused, _snapshot

pytest.importorskip("distributed", reason="the dask engine (scale extra)")


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson", ".csv"])
def test_dask_sites_out_records_the_survey_version_it_was_built_from(client, tmp_path, capsys, suffix):
    """The folder's planner.json says which workspace and survey version it holds; the sites written from it did
    not, so nothing could tell an output of an older survey. Now each output carries the record, and the folder
    check of the dask commands tells it is stale once a new survey is published."""
    from planner.cli.sites import output_files, output_record
    from planner.io.store import open_store
    from tests.e2e._workspace import build_workspace

    ws = build_workspace(tmp_path / "ws.gpkg")
    addr = client.scheduler.address
    s, f = tmp_path / "s.parquet", tmp_path / "f.parquet"
    assert main(["ingest", "-w", str(ws), "--parquet", str(s), "--partitions", "3"]) == 0
    assert main(["classify", "--engine", "dask", "--parquet", str(s), "--out", str(f), "--scheduler", addr]) == 0
    out = tmp_path / f"sites{suffix}"
    assert main(["sites", "--engine", "dask", "--parquet", str(f), "--scheduler", addr, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert all(f"wrote {p}" in printed for p in output_files(out))
    rec = output_record(out)
    folder = gpq.survey_info(f)
    assert rec["engine"] == "dask" and rec["parquet"] == str(f)
    assert rec["workspace"] == folder["workspace"] and rec["workspace"]["survey_version"] == 1
    assert rec["policy"]["name"] == folder["policy"]["name"]
    gpq.check_workspace(out, rec)  # current: nothing said
    # a new survey version published: the output is told stale, with the command that refreshes its folder
    store = open_store(str(ws))
    store.write_layer("survey", "parcels", store.read_parcels(1).head(500), user="test")
    with pytest.raises(gpq.DataError, match="holds survey version 1 .* current survey is version 2"):
        gpq.check_workspace(out, rec)


def test_workspace_sites_out_records_the_survey_version_too(tmp_path, capsys):
    from planner.cli.sites import output_record
    from tests.e2e._workspace import build_workspace

    ws = build_workspace(tmp_path / "ws.gpkg")
    assert main(["classify", "-w", str(ws)]) == 0
    assert main(["sites", "-w", str(ws), "--out", str(tmp_path / "s.gpkg")]) == 0
    rec = output_record(tmp_path / "s.gpkg")
    assert rec["engine"] == "workspace" and rec["workspace"]["survey_version"] == 1
    assert rec["provenance"]["survey_version"] == 1 and rec["provenance"]["policy_name"] == "default"
    capsys.readouterr()


def test_parcel_ids_repeated_across_partitions_are_refused_naming_the_id_and_files(tmp_path, capsys, monkeypatch):
    """A folder exported by another system with one parcel id in two partitions: sites would key two parcels on
    one id (flags joined to the wrong parcel, a parcel in two sites). Refused before the cluster, naming the id,
    the files and what to do; nothing written."""
    parcels, road, protected, part = _hand_grid()
    pid = parcels["parcel_id"].iloc[0]
    other = int(next(i for i, p in enumerate(part) if p != part[0]))
    parcels.loc[parcels.index[other], "parcel_id"] = pid  # p00 in partition 0 and again in another one
    parcels.loc[parcels.index[1], "parcel_id"] = parcels["parcel_id"].iloc[2]  # and one repeated in partition 0
    survey = tmp_path / "s.parquet"
    gpq.write_partitioned_survey(parcels, survey, partition_of=part, barriers=road, constraints=protected)
    _no_cluster(monkeypatch)
    before = _snapshot(survey)
    files = sorted({f"parcels/part.{part[0]}.parquet", f"parcels/part.{part[other]}.parquet"})
    for argv in (["classify", "--engine", "dask", "--parquet", survey, "--out", tmp_path / "f.parquet"],
                 ["sites", "--engine", "dask", "--parquet", survey, "--out", tmp_path / "x.gpkg"]):
        err = _refused(capsys, argv)
        assert f"parcel id {parcels['parcel_id'].iloc[2]!r}" in err or f"parcel id {pid!r}" in err, err
        assert "1 other ids too" in err and "one row per parcel" in err
    monkeypatch.setenv("PLANNER_LANG", "zh")
    err = _refused(capsys, ["sites", "--engine", "dask", "--parquet", survey])
    assert "地块编号" in err and "在所有分区中须唯一" in err
    assert _snapshot(survey) == before and not (tmp_path / "f.parquet").exists() and not (tmp_path / "x.gpkg").exists()
    # the id and where it is, exactly
    with pytest.raises(gpq.DataError) as e:
        gpq.check_unique_ids(survey)
    first = str(e.value).split("parcel id ")[1].split(" is in ")[0].strip("'")
    if first == pid:
        assert all(f in str(e.value) for f in files)
    else:
        assert f"parcels/part.{part[0]}.parquet (2 times)" in str(e.value)
