"""The versions a page's documents keep: a table of them and a button that opens one as a draft.

Saving never overwrites and deleting saves a deletion mark, so every version
a colleague saved stays in the workspace; this expander is how a user gets
to them: who saved which version and when, deleted names too, and any kept
version opened as a draft over the latest (the page's ``open_version``), so
that saving it makes it the latest version, checked like any save.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from planner import workflow as W
from planner.ui import tables
from planner.ui.auth import shown_name
from planner.ui.state import tr, tr_plain
from planner.ui.survey import local_time


def versions_kept(store, kind: str, live: list[str], current: str | None, open_version: Callable[[str, int], None],
                  *, title: str, key: str) -> None:
    """An expander listing the versions of ``kind``'s documents (``live`` names first, then deleted ones) with a
    button calling ``open_version(name, version)``; nothing when none was saved."""
    versions = W.document_versions(store, kind)
    if not len(versions):
        return
    with st.expander(title):
        everyone = sorted(set(versions["name"]), key=lambda n: (n not in live, n))
        name = st.selectbox(tr("wf_history_name_" + kind), everyone, key=f"{key}_hist_name",
                            index=everyone.index(current) if current in everyone else 0,
                            format_func=lambda n: n if n in live else tr_plain("wf_history_deleted", name=n))
        rows = versions[versions["name"] == name].sort_values("version", ascending=False)
        tables.show(pd.DataFrame({
            tr_plain("wf_col_version"): [f"v{v}" for v in rows["version"]],
            tr_plain("wf_col_saved"): [local_time(t) for t in rows["created_at"]],
            tr_plain("wf_col_by"): rows["user"].map(shown_name).tolist(),
            tr_plain("wf_col_state"): [tr_plain("wf_state_deleted") if d else "" for d in rows["deleted"]]}))
        kept = rows.loc[~rows["deleted"], "version"].astype(int).tolist()
        c1, c2 = st.columns([1, 2], vertical_alignment="bottom")
        version = c1.selectbox(tr("wf_history_version"), kept, key=f"{key}_hist_v_{name}", format_func=lambda v: f"v{v}")
        c2.button(tr("wf_history_open", v=version), key=f"{key}_hist_open", disabled=version is None,
                  on_click=open_version, args=(name, version))


def next_version(store, kind: str, name: str) -> int:
    """The version the next save of ``kind/name`` makes (after every kept version and deletion mark)."""
    cat = W.document_versions(store, kind)
    mine = cat.loc[cat["name"] == name, "version"] if len(cat) else []
    return int(max(mine, default=0)) + 1
