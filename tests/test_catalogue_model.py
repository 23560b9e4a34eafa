"""Saved documents as two colleagues use them, checked against a model (hypothesis, stateful).

Two sessions (two :class:`GpkgStore` objects on one workspace file, as two
app servers hold it) open, save, rename, duplicate and delete scenarios in
any order. Each session remembers the version it opened, as the app's pages
do. The model says what must happen: a save, rename or delete against a
version that is no longer the latest is refused (a colleague saved since), a
new name that is taken is refused, nothing else is; and after every step the
names, latest versions and contents in the workspace are the model's.
The default run tries a few dozen sequences (and 8 on PostGIS); ``-m slow`` many more.
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule  # noqa: E402

from planner import workflow as W  # noqa: E402
from planner.errors import DataError  # noqa: E402
from planner.io.store import GpkgStore  # noqa: E402
from planner.scenarios import Scenario, SiteSelection  # noqa: E402

NAMES = st.sampled_from(["a", "b", "c"])
WHO = st.sampled_from([0, 1])


class Colleagues(RuleBasedStateMachine):
    """Two sessions on one workspace; ``self.model[name]`` is the list of saved contents (None: deleted)."""

    def __init__(self) -> None:
        super().__init__()
        self.stores, self.teardown = self.workspace()
        self.model: dict[str, list[int | None]] = {}
        self.opened: list[tuple[str, int] | None] = [None, None]  # (name, version) each session has open

    @staticmethod
    def workspace():
        """Two stores on one new workspace, and what removes it."""
        tmp = tempfile.TemporaryDirectory(prefix="planner-model-")
        path = Path(tmp.name) / "ws.gpkg"
        GpkgStore(path, crs="EPSG:4549", create=True)
        return [GpkgStore(path), GpkgStore(path)], tmp.cleanup

    # -- the model
    def latest(self, name: str) -> int | None:
        versions = self.model.get(name) or []
        return len(versions) if versions and versions[-1] is not None else None

    def save_version(self, name: str, top: int | None) -> int:
        self.model.setdefault(name, []).append(top)
        return len(self.model[name])

    @staticmethod
    def doc(name: str, top: int) -> W.ScenarioDoc:
        return W.ScenarioDoc(Scenario(name=name, sites=SiteSelection(top=top)))

    # -- what the sessions do
    @rule(who=WHO, name=NAMES)
    def open(self, who, name):
        if self.latest(name) is None:
            with pytest.raises(DataError):
                W.load_document(self.stores[who], "scenario", name)
            return
        v = W.latest_version(self.stores[who], "scenario", name)
        assert W.load_document(self.stores[who], "scenario", name, v).scenario.sites.top == self.model[name][v - 1]
        self.opened[who] = (name, v)

    @rule(who=WHO, top=st.integers(1, 50))
    def save_opened(self, who, top):
        if self.opened[who] is None:
            return
        name, v = self.opened[who]
        if self.latest(name) != v:
            with pytest.raises(W.SaveConflictError):
                W.save_document(self.stores[who], self.doc(name, top), expect_version=v)
            return
        assert W.save_document(self.stores[who], self.doc(name, top), expect_version=v) == self.save_version(name, top)
        self.opened[who] = (name, v + 1)

    @rule(who=WHO, name=NAMES, top=st.integers(1, 50))
    def save_new(self, who, name, top):
        if self.latest(name) is not None:
            with pytest.raises(W.SaveConflictError, match="exists"):
                W.save_document(self.stores[who], self.doc(name, top), expect_version=None)
            return
        v = W.save_document(self.stores[who], self.doc(name, top), expect_version=None)
        assert v == self.save_version(name, top)
        self.opened[who] = (name, v)

    @rule(who=WHO, new=NAMES)
    def rename_opened(self, who, new):
        if self.opened[who] is None or self.opened[who][0] == new:
            return
        name, v = self.opened[who]
        if self.latest(name) != v or self.latest(new) is not None:
            with pytest.raises((W.SaveConflictError, DataError)):
                W.rename_scenario(self.stores[who], name, new, expect_version=v)
            return
        top = self.model[name][v - 1]
        assert W.rename_scenario(self.stores[who], name, new, expect_version=v) == self.save_version(new, top)
        self.save_version(name, None)
        self.opened[who] = (new, self.latest(new))

    @rule(who=WHO, new=NAMES)
    def duplicate_opened(self, who, new):
        if self.opened[who] is None:
            return
        name, v = self.opened[who]
        if self.latest(new) is not None:
            with pytest.raises(W.SaveConflictError):
                W.duplicate_scenario(self.stores[who], name, new, version=v)
            return
        top = self.model[name][v - 1]
        assert W.duplicate_scenario(self.stores[who], name, new, version=v) == self.save_version(new, top)

    @rule(who=WHO)
    def delete_opened(self, who):
        if self.opened[who] is None:
            return
        name, v = self.opened[who]
        if self.latest(name) != v:
            with pytest.raises((W.SaveConflictError, DataError)):
                W.delete_document(self.stores[who], "scenario", name, expect_version=v)
            return
        W.delete_document(self.stores[who], "scenario", name, expect_version=v)
        self.save_version(name, None)
        self.opened[who] = None

    # -- what must always hold
    @invariant()
    def the_workspace_is_the_model(self):
        store = self.stores[0]
        assert W.document_names(store, "scenario") == sorted(n for n in self.model if self.latest(n) is not None)
        for name in self.model:
            assert W.latest_version(store, "scenario", name) == self.latest(name)
            if self.latest(name) is not None:
                assert W.load_document(store, "scenario", name).scenario.sites.top == self.model[name][-1]


_SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow], stateful_step_count=12)
TestColleagues = Colleagues.TestCase
TestColleagues.settings = settings(max_examples=30, **_SETTINGS)


@pytest.mark.slow
def test_colleagues_many_sequences():
    hypothesis.stateful.run_state_machine_as_test(Colleagues, settings=settings(max_examples=400, **_SETTINGS))


class ColleaguesOnPostgis(Colleagues):
    """The same on a PostGIS workspace: two stores (two app servers' connections) on one schema, where a rename
    holds one document's lock while it saves another and deletes the first."""

    dsn = ""

    @classmethod
    def workspace(cls):
        from planner.io.postgis import drop_workspace
        from planner.io.store import open_store
        from tests.conftest import pg_uri

        uri = pg_uri(cls.dsn, f"model_{uuid.uuid4().hex[:10]}")
        open_store(uri, create=True, crs="EPSG:4549")
        return [open_store(uri), open_store(uri)], lambda: drop_workspace(uri)


@pytest.mark.postgis
def test_colleagues_on_postgis(pg_dsn):
    ColleaguesOnPostgis.dsn = pg_dsn
    hypothesis.stateful.run_state_machine_as_test(ColleaguesOnPostgis,
                                                  settings=settings(max_examples=8, **_SETTINGS))
