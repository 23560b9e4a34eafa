"""Two busy colleagues at once: concurrent publishes and saves lose nothing; a held lock is named and bounded.

Every test runs on both backends (a GeoPackage file, a PostGIS schema).

The processes here are real ``planner`` processes started together (each
waits for a "go" file after its imports, so they really overlap).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from planner.cli import main
from planner.errors import IngestError, StoreError
from planner.ingest import publish, read_survey
from planner.io.fingerprint import changed_parts, workspace_fingerprint
from planner.io.store import GpkgStore, open_store
from tests.conftest import box_grid
from tests.hostile_files import X0, parcels

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}

_AT_ONCE = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import planner.ingest, planner.io.store  # imports done before the start line
    from planner.cli import main
    ready, go, kind = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    ready.touch()
    while not go.exists():
        time.sleep(0.002)
    if kind == "cli":
        sys.exit(main(sys.argv[4:]))
    ws, name, n = planner.io.store.open_store(sys.argv[4]), sys.argv[5], int(sys.argv[6])
    for i in range(n):
        ws.save_doc("scenario", name, {"writer": str(ready.name), "i": i})
    """
)


def start_together(tmp_path: Path, jobs: list[list[str]], timeout: float = 300) -> list[subprocess.CompletedProcess]:
    """Start one process per job, release them at the same instant, wait for all."""
    script = tmp_path / "at_once.py"
    script.write_text(_AT_ONCE)
    go = tmp_path / f"go-{time.monotonic_ns()}"
    procs, ready = [], []
    for i, job in enumerate(jobs):
        r = tmp_path / f"ready-{i}-{go.name}"
        ready.append(r)
        procs.append(subprocess.Popen([sys.executable, str(script), str(r), str(go), *map(str, job)],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV))
    deadline = time.monotonic() + timeout
    while not all(r.exists() for r in ready):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs), \
            [p.communicate() for p in procs if p.poll() is not None]
        time.sleep(0.01)
    go.touch()
    out = []
    for p in procs:
        o, e = p.communicate(timeout=timeout)
        out.append(subprocess.CompletedProcess(p.args, p.returncode, o, e))
    return out


def _updates(tmp_path: Path, round_: int) -> tuple[Path, Path, set[str], set[str]]:
    """Two disjoint partial updates: new parcels east (A) and north (B) of a 20 x 20 grid, each one changed parcel."""
    a = parcels(3, x0=X0 + 1000 + 200 * round_, prefix=f"A{round_}-")
    a.loc[len(a)] = [f"r0c{round_}", 1234.0, box_grid(20, 20).geometry.iloc[round_]]
    b = parcels(3, x0=X0 + 200 * round_, prefix=f"B{round_}-")
    b["geometry"] = b.geometry.translate(0, 1000 + 50)
    b.loc[len(b)] = [f"r19c{round_}", 4321.0, box_grid(20, 20).geometry.iloc[19 * 20 + round_]]
    pa, pb = tmp_path / f"a{round_}.gpkg", tmp_path / f"b{round_}.gpkg"
    a.to_file(pa, driver="GPKG")
    b.to_file(pb, driver="GPKG")
    return pa, pb, set(a["ZDDM"]), set(b["ZDDM"])


@pytest.mark.parametrize("rounds", [pytest.param(2, id="2-rounds"),
                                    pytest.param(10, id="10-rounds", marks=pytest.mark.slow)])
def test_two_partial_updates_published_at_once_both_land(tmp_path, store, rounds):
    """Today both exit 0 and the result holds only one: the base was read before the write lock."""
    ws = store
    ws.publish_survey(box_grid(20, 20), label="base")
    expected = set(box_grid(20, 20)["parcel_id"])
    for r in range(rounds):
        pa, pb, ida, idb = _updates(tmp_path, r)
        res = start_together(tmp_path, [["cli", "ingest", pa, "-w", ws.uri], ["cli", "ingest", pb, "-w", ws.uri]])
        for p in res:
            assert p.returncode == 0, p.stderr
            assert "Traceback" not in p.stderr
        cur = ws.read_parcels().set_index("parcel_id")
        expected |= ida | idb
        assert set(cur.index) == expected, f"round {r}: lost {sorted(expected - set(cur.index))}"
        assert cur.loc[f"r0c{r}", "land_area_m2"] == 1234.0
        assert cur.loc[f"r19c{r}", "land_area_m2"] == 4321.0
        # the one that waited says it merged into the other's version
        assert sum("the survey changed while this load was prepared" in p.stdout for p in res) <= 1
    assert ws.surveys()["version"].tolist() == list(range(1, 2 * rounds + 2))


def test_two_saves_of_the_same_document_at_once_give_every_version(tmp_path, store):
    ws = store
    res = start_together(tmp_path, [["store", ws.uri, "top10", 15], ["store", ws.uri, "top10", 15]])
    assert all(p.returncode == 0 for p in res), [p.stderr for p in res]
    docs = ws.docs("scenario")
    assert docs["version"].tolist() == list(range(1, 31))
    payloads = [ws.load_doc("scenario", "top10", v) for v in range(1, 31)]
    assert len({(p["writer"], p["i"]) for p in payloads}) == 30  # every save is a version of its own
    assert (ws.audit_log()["action"] == "save_scenario").sum() == 30


def test_replace_is_refused_when_the_survey_changed_meanwhile(tmp_path, store):
    """A replace prepared against version 1 would drop version 2: refused, nothing written."""
    ws = store
    ws.publish_survey(box_grid(3, 3), user="alice")
    parcels(9, x0=X0 + 1000).to_file(tmp_path / "full.gpkg", driver="GPKG")
    gdf, rep = read_survey(tmp_path / "full.gpkg", target_crs=ws.crs)
    ws.publish_survey(box_grid(4, 4), user="bob")  # someone else publishes while the first load is prepared
    before = workspace_fingerprint(ws.uri)
    with pytest.raises(IngestError, match="the survey changed while you were working") as caught:
        publish(gdf, ws, report=rep, mode="replace", base_version=1)
    assert "version 2 was published by bob" in str(caught.value)
    assert changed_parts(before, workspace_fingerprint(ws.uri)) == []
    # an update prepared against version 1 is merged into version 2 and says so
    gdf, rep = read_survey(tmp_path / "full.gpkg", target_crs=ws.crs)
    rep = publish(gdf.iloc[:1], ws, report=rep, mode="update", base_version=1)
    assert rep.version == 3 and rep.diff["base_version"] == 2
    assert any("merged into version 2" in n for n in rep.notes)
    assert len(ws.read_parcels()) == 16 + 1


_HOLDER = textwrap.dedent(
    """
    import sys, time
    from planner.io.store import open_store
    with open_store(sys.argv[1]).write_lock("publish_survey"):
        print("holding", flush=True)
        time.sleep(float(sys.argv[2]))
    """
)


def _hold_lock(ws_path: str, seconds: float) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-c", _HOLDER, str(ws_path), str(seconds)], stdout=subprocess.PIPE,
                         text=True, env=ENV)
    assert p.stdout.readline().strip() == "holding"
    return p


def test_a_held_lock_is_named_and_the_wait_is_bounded(tmp_path, store, capsys, monkeypatch):
    """Today a writer waits silently with no limit."""
    ws = store
    ws.publish_survey(box_grid(3, 3))
    parcels(2, x0=X0 + 1000).to_file(tmp_path / "u.gpkg", driver="GPKG")
    holder = _hold_lock(ws.uri, 60)
    try:
        before = workspace_fingerprint(ws.uri)
        t = time.monotonic()
        rc = main(["ingest", str(tmp_path / "u.gpkg"), "-w", ws.uri, "--lock-timeout", "1"])
        waited = time.monotonic() - t
        err = capsys.readouterr().err
        assert rc == 2, err
        assert f"pid {holder.pid}" in err and "publish_survey" in err and "since " in err and "gave up" in err
        assert "Traceback" not in err
        assert waited < 30
        assert changed_parts(before, workspace_fingerprint(ws.uri)) == []
        # the environment variable sets it for every command
        monkeypatch.setenv("PLANNER_LOCK_TIMEOUT", "0.5")
        rc = main(["classify", "-w", ws.uri])
        err = capsys.readouterr().err
        assert rc == 2 and f"pid {holder.pid}" in err
        holder_info = ws.lock_holder()
        assert holder_info["pid"] == holder.pid and holder_info["action"] == "publish_survey"
    finally:
        holder.kill()
        holder.wait()
    monkeypatch.setenv("PLANNER_LOCK_TIMEOUT", "nonsense")
    assert main(["ingest", str(tmp_path / "u.gpkg"), "-w", ws.uri]) == 2
    assert "PLANNER_LOCK_TIMEOUT='nonsense'" in capsys.readouterr().err


@contextlib.contextmanager
def _refused_while_held(ws, capsys, monkeypatch):
    """While another process holds the writer lock: yield ``(holder, the CLI's stderr of a classify, the
    StoreError of a save)``, both refused after ``PLANNER_LOCK_TIMEOUT=0.2``."""
    ws.publish_survey(box_grid(3, 3))
    holder = _hold_lock(ws.uri, 60)
    try:
        monkeypatch.setenv("PLANNER_LOCK_TIMEOUT", "0.2")
        assert main(["classify", "-w", ws.uri]) == 2
        err = capsys.readouterr().err
        with pytest.raises(StoreError) as caught:
            open_store(ws.uri, lock_timeout=0.2).save_doc("policy", "p", {"a": 1})
        yield holder, err, caught.value
    finally:
        holder.kill()
        holder.wait()


def test_a_lock_timeout_under_a_second_is_told_as_it_is(tmp_path, store, capsys, monkeypatch):
    """``PLANNER_LOCK_TIMEOUT=0.2``: the refusal said "gave up after waiting 0 s" ("已等待 0 秒"), and its Chinese
    text named the holder in English ("ann with `...`, pid 7 on pc1, since ...")."""
    from planner.errors import message_in

    with _refused_while_held(store, capsys, monkeypatch) as (holder, err, exc):
        assert "gave up after waiting 0.2 s" in err and f"pid {holder.pid}" in err, err
        assert "postgresql://" not in err and "Traceback" not in err, err  # a database is named db/schema (README)
        zh = message_in(exc, "zh")
        assert "已等待 0.2 秒" in zh and f"进程 {holder.pid}" in zh and "发布调查版本" in zh, zh
        assert " with `" not in zh and "since" not in zh, zh


def test_a_writer_waits_for_the_holder_and_then_writes(store, caplog):
    ws = store
    holder = _hold_lock(ws.uri, 1.5)
    try:
        t = time.monotonic()
        with caplog.at_level("WARNING", logger="planner.store"):
            assert open_store(ws.uri, lock_timeout=60).save_doc("policy", "p", {"a": 1}) == 1
        assert time.monotonic() - t >= 0.5
        assert any(f"pid {holder.pid}" in r.getMessage() and "waiting up to 60 s" in r.getMessage()
                   for r in caplog.records)
    finally:
        holder.kill()
        holder.wait()
    assert ws.lock_holder() is None  # released: the record went with the lock


def test_the_lock_is_re_entrant_within_one_thread(store):
    ws = open_store(store.uri, lock_timeout=0.2)
    with ws.write_lock("outer"):
        ws.publish_survey(box_grid(2, 2))
        ws.save_doc("policy", "p", {})
        assert ws.lock_holder()["action"] == "outer"
    assert len(ws.read_parcels()) == 4 and np.array_equal(ws.docs()["version"], [1])
    assert ws.lock_holder() is None


def test_app_publish_refuses_a_replace_when_a_colleague_published_meanwhile(tmp_path, monkeypatch):
    """The data manager publishes against the version it previewed: a colleague's newer survey is never dropped."""
    from tests.test_security import _data_page, _survey_bytes, app_env

    ws = app_env.__wrapped__(tmp_path, monkeypatch)
    at = _data_page()
    at.file_uploader[0].set_value(("full.geojson", _survey_bytes(tmp_path, n=24), "application/geo+json")).run()
    at.button(key="dm_read").click().run()
    store = GpkgStore(ws)
    colleague = store.read_parcels()
    colleague.loc[0, "owner"] = "colleague's fix"
    v_colleague = store.publish_survey(colleague, user="colleague")
    at.button(key="dm_publish").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert any("调查数据已被他人更新" in e.value for e in at.error), [e.value for e in at.error]
    cat = GpkgStore(ws).surveys()
    assert int(cat["version"].max()) == v_colleague  # nothing published over the colleague's version
    assert GpkgStore(ws).read_parcels().loc[0, "owner"] == "colleague's fix"


_APP_HOLDER = textwrap.dedent(
    """
    import sys, time
    from planner.io.store import open_store
    from planner.workflow import permissions
    permissions.set_actor_provider(lambda store: permissions.Actor("ann", "gis_staff"))  # as the app installs it
    with open_store(sys.argv[1]).write_lock("publish_survey"):
        print("holding", flush=True)
        time.sleep(float(sys.argv[2]))
    """
)


def test_a_lock_held_by_an_app_server_names_the_signed_in_colleague(tmp_path, store, capsys):
    """An app server writes for whoever is signed in: a colleague kept waiting is told that account.

    The holder record named the operating-system user the server runs as (the same for every colleague), so a
    CLI user kept waiting by ann's publish in the app read "root with `streamlit ...`" and could not ask her.
    And it recorded the holder's command line as it was: a workspace URI given with ``-w`` showed its password
    to every colleague kept waiting (and stayed in ``planner_writer``).
    """
    ws = store
    ws.publish_survey(box_grid(3, 3))
    parcels(2, x0=X0 + 1000).to_file(tmp_path / "u.gpkg", driver="GPKG")
    p = subprocess.Popen([sys.executable, "-c", _APP_HOLDER, ws.uri, "60"], stdout=subprocess.PIPE, text=True, env=ENV)
    try:
        assert p.stdout.readline().strip() == "holding"
        rc = main(["ingest", str(tmp_path / "u.gpkg"), "-w", ws.uri, "--lock-timeout", "0.5"])
        err = capsys.readouterr().err
        assert rc == 2, err
        from planner.io.lock import user_name

        assert f"ann (signed in to the app run by {user_name()}) with" in err and f"pid {p.pid}" in err, err
        holder = ws.lock_holder()
        assert holder["user"] == "ann"
        if "://" in ws.uri:  # the holder's command line held the URI: shown, and stored, without its password
            from planner.io._pgconn import parse_uri

            secret = ws.uri.split("://", 1)[1].rsplit("@", 1)[0]
            assert ":" in secret and secret not in err and secret not in holder["command"], err
            assert parse_uri(ws.uri).display in holder["command"]
    finally:
        p.kill()
        p.wait()


def test_a_geopackage_lock_refusal_names_the_file_not_its_server_path(tmp_path, store, capsys, monkeypatch):
    """The English lock refusal of a GeoPackage read "workspace /srv/planner/data/ws.gpkg is being written by ...",
    the server's folders and all, where the PostGIS one names ``db/schema`` (``Store.label``). Both now name the
    workspace as the app does: by its label (a GeoPackage by its file name), in both languages."""
    from planner.errors import message_in

    ws = store
    with _refused_while_held(ws, capsys, monkeypatch) as (_holder, err, exc):
        assert f"workspace {ws.label} is being written by" in err, err
        en, zh = message_in(exc, "en"), message_in(exc, "zh")
        assert en.startswith(f"workspace {ws.label} is being written by"), en
        assert zh.startswith(f"工作空间 {ws.label} 正在被"), zh
        if not ws.uri.startswith("postgresql"):  # a GeoPackage: its file name, not the folders it sits in (the
            # holder's own command line, quoted after "by", is what that user typed)
            told = [err.split(" is being written")[0], en.split(" is being written")[0], zh.split("正在被")[0]]
            assert not any(str(Path(ws.uri).parent) in t for t in told), told
