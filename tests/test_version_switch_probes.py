"""Version switches (``planner workspace use``, the data manager) under colleagues, kills, attackers and roles.

Probes of what :mod:`tests.test_cli_use_version` leaves out: a switch racing a ``classify`` of the same
workspace, a process killed in the middle of an enterprise switch (the table and its parcel links), hostile text
in what ``planner info`` prints after a switch, and a switch through a crafted session state of the app.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from planner.io.store import open_store
from planner.workflow.enterprises import enterprise_version, ingest_enterprises
from planner.workflow.versions import switch_version
from tests.test_enterprise import ROWS, parcels, write_links, write_table

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


def _two_enterprise_tables(tmp_path, store) -> None:
    store.publish_survey(parcels(), label="base")
    lk = write_links(tmp_path / "l.csv")
    ingest_enterprises(write_table(tmp_path / "t.xlsx"), store, link=lk)
    rows = [list(r) for r in ROWS]
    rows[0][3] = "11"
    ingest_enterprises(write_table(tmp_path / "t2.csv", rows, title=False), store, link=lk)
    assert enterprise_version(store) == 2


def _current(store, kind: str) -> list[int]:
    cat = store.layers(kind)
    return sorted(int(v) for v in cat.loc[cat["is_current"].astype(bool), "version"])


#: Run in a child process: switch the enterprise table of argv[1] to v1, SIGKILLed as its second audit row is
#: written (the table's switch written, its links' not yet).
_KILLED_SWITCH = """
import inspect, os, signal, sys
from planner.io.store import open_store
from planner.workflow.versions import switch_version

store = open_store(sys.argv[1])
cls = type(store)
static = isinstance(inspect.getattr_static(cls, "_audit"), staticmethod)
orig = cls._audit
seen = []

def audit(*a, **kw):
    seen.append(a)
    if len(seen) == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    return orig(*a, **kw)

cls._audit = staticmethod(audit) if static else audit
switch_version(store, "enterprise", 1)
"""


def test_a_kill_in_the_middle_of_an_enterprise_switch_never_splits_the_table_from_its_links(tmp_path, store):
    """Both backends: the table and its parcel links switch together or not at all. Killed between the two, the
    workspace had table v1 current with the links of v2 (every analysis then joined v1's enterprises through v2's
    links) and one audit row; the next switch to v1 then said "already current" and left the links as they were."""
    _two_enterprise_tables(tmp_path, store)
    audit = store.audit_log()
    proc = subprocess.run([sys.executable, "-c", _KILLED_SWITCH, store.uri], env=ENV, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    store = open_store(store.uri)
    table, links = _current(store, "enterprise"), _current(store, "enterprise_link")
    assert table == links, f"enterprise table v{table} current with the links of v{links}"
    new = store.audit_log().iloc[len(audit):]
    assert len(new) in (0, 2), new  # nothing recorded, or both switches
    assert len(new) == 2 * (table == [1])
    # and the next switch does the whole of it
    sw = switch_version(store, "enterprise", 1)
    assert _current(store, "enterprise") == _current(store, "enterprise_link") == [1]
    assert sw.changed and sw.previous == 2


def test_a_table_left_current_without_its_links_is_switched_whole_next_time(tmp_path, store):
    """A workspace split by such a kill before (table v1, links v2): ``use enterprise 1`` switched nothing ("v1 is
    already current") and left it split. Now the links follow, with their audit row."""
    _two_enterprise_tables(tmp_path, store)
    store.set_current("enterprise", "enterprises", 1)  # what the killed switch left
    n = len(store.audit_log())
    sw = switch_version(store, "enterprise", 1)
    assert _current(store, "enterprise") == _current(store, "enterprise_link") == [1]
    assert sw.changed
    log = store.audit_log().iloc[n:]
    assert list(zip(log["kind"], log["version"].astype(int), strict=True)) == [("enterprise_link", 1)]
