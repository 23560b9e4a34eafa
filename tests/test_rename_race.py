"""Renaming a scenario while a colleague saves a scenario under the new name, at the same instant (both backends).

The rename held only the old name's lock; the new name's check ran inside it, where on PostGIS a nested lock
joins the one held instead of taking the new name's: a colleague creating the new name between the rename's
check and its save had the renamed scenario saved as version 2 beside their version 1. The rename now holds both
names' locks (in one order, so two renames cannot wait for each other). A hook pauses the rename right after its
check of the new name, so the colleague's save always lands in that window.
"""

from __future__ import annotations

import contextlib
import threading

from planner import workflow as W
from planner.io.store import open_store
from planner.scenarios import Scenario, SiteSelection
from planner.workflow import catalogue

PAUSE = 3.0  # seconds the rename waits, paused in its window, for the colleague to finish


def _pause_after_check(monkeypatch, name: str, renamer: list[threading.Thread], checked: threading.Event,
                       done: threading.Event) -> None:
    real = catalogue.check_expected_version

    def check(store, kind, n, expect_version, **kw):
        real(store, kind, n, expect_version, **kw)
        if n == name and threading.current_thread() in renamer:  # the rename found the name free: its window
            checked.set()
            done.wait(PAUSE)

    monkeypatch.setattr(catalogue, "check_expected_version", check)


def test_a_colleague_saving_the_new_name_meanwhile_is_never_saved_beside_the_rename(store, workspace_uri,
                                                                                    monkeypatch):
    W.save_document(store, W.ScenarioDoc(Scenario(name="old", sites=SiteSelection(top=7))), user="ann")
    checked, done = threading.Event(), threading.Event()
    renamer: list[threading.Thread] = []
    _pause_after_check(monkeypatch, "new", renamer, checked, done)
    out: dict[str, object] = {}

    def rename():
        try:
            out["rename"] = W.rename_scenario(open_store(workspace_uri), "old", "new", expect_version=1, user="ann")
        except Exception as exc:  # the test looks at what each side got
            out["rename"] = exc

    def colleague():
        checked.wait(30)
        try:
            out["colleague"] = W.save_document(open_store(workspace_uri),
                                               W.ScenarioDoc(Scenario(name="new", sites=SiteSelection(top=3))),
                                               expect_version=None, user="bob")
        except Exception as exc:
            out["colleague"] = exc
        finally:
            done.set()

    threads = [threading.Thread(target=rename), threading.Thread(target=colleague)]
    renamer.append(threads[0])
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    assert checked.is_set()
    cat = store.docs("scenario")
    versions = sorted(cat[cat["name"] == "new"]["version"].tolist())
    assert versions == [1], (versions, out)  # one version of "new", never one beside the other
    assert out["rename"] == 1  # the rename held the new name: the colleague waited, then was told it is taken
    assert isinstance(out["colleague"], W.SaveConflictError), out
    assert "exists: version 1" in str(out["colleague"])
    assert W.load_document(store, "scenario", "new").scenario.sites.top == 7  # the renamed scenario, whole
    assert W.document_names(store, "scenario") == ["new"]


def test_two_renames_onto_each_others_names_neither_wait_forever_nor_deadlock(store, workspace_uri, monkeypatch):
    """Renames a→b and b→a at the same instant: each holds both names, taken in one order; both are refused
    (the other name is taken) with the usual message, neither hangs nor fails with a database deadlock."""
    for name in ("a", "b"):
        W.save_document(store, W.ScenarioDoc(Scenario(name=name)), user="ann")
    barrier = threading.Barrier(2, timeout=PAUSE)
    real = catalogue.check_expected_version

    def check(st, kind, n, expect_version, **kw):
        if expect_version == 1 and n in ("a", "b"):  # each rename's check of its old name: both start together
            with contextlib.suppress(threading.BrokenBarrierError):  # the other waits for the names this one holds
                barrier.wait()
        real(st, kind, n, expect_version, **kw)

    monkeypatch.setattr(catalogue, "check_expected_version", check)
    out: dict[str, object] = {}

    def rename(old, new):
        try:
            out[old] = W.rename_scenario(open_store(workspace_uri), old, new, expect_version=1)
        except Exception as exc:
            out[old] = exc

    threads = [threading.Thread(target=rename, args=p) for p in (("a", "b"), ("b", "a"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    for old, new in (("a", "b"), ("b", "a")):
        assert isinstance(out[old], W.SaveConflictError) and f"scenario {new!r} exists" in str(out[old]), out
    assert W.document_names(store, "scenario") == ["a", "b"]
    assert [W.latest_version(store, "scenario", n) for n in ("a", "b")] == [1, 1]
