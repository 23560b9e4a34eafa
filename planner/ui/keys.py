"""Session-state keys of the pages, in one place.

Streamlit drops a widget's state when its page is not shown, so everything a
user is working on lives under one of these plain keys (drafts), and widgets
are seeded from them when a page is shown again (:func:`seed`). Selections
are kept as ids, never as table rows. The sidebar's keys (workspace,
language, basemap) live in :mod:`planner.ui.state`.
"""

from __future__ import annotations

import streamlit as st

# -- three-low rules ------------------------------------------------------------
#: The policy being edited (a policy dict): the active policy on every page.
POLICY_DRAFT = "policy_draft"
#: What the draft started from: {"name", "version" (None: shipped default), "json" (canonical saved payload)}.
POLICY_BASE = "policy_base"
#: Widget generation: bumped to re-seed the rule widgets from the draft (open, discard).
POLICY_GEN = "policy_gen"

# -- sites -------------------------------------------------------------------------
#: Site parameter draft: {"params": SiteParams dict, "use_barriers": bool}.
SITE_PARAMS = "site_params"
#: Edit operations of this session (site_edit ops) and the undone ones (redo stack).
SITE_EDITS = "site_edits"
SITE_REDO = "site_redo"
#: Which saved edits (name, version, signature) the session holds.
SITE_EDITS_LOADED = "site_edits_loaded"
#: The selected site id.
SITE_SELECTED = "site_selected"
#: The site result of this session (with edits) used by the scenario and comparison pages.
SITE_RESULT = "site_result"
#: Drawings already turned into edits (their WKT hashes): a drawing is applied once.
SITE_DRAWINGS_USED = "site_drawings_used"
#: An edit waiting for confirmation (non-flagged or out-of-scope parcels): {"op", "warning"}.
SITE_PENDING = "site_pending"
#: One-shot message shown on the next run.
SITE_MSG = "site_msg"
#: One-shot message of the edit panel's buttons (save, a save conflict's choices): shown next to them and as a
#: toast, where the user is looking (the top of the page may be scrolled out of view).
SITE_NOTE = "site_note"
#: A site build the user cancelled (its build key): not started again until asked.
SITE_BUILD_CANCELLED = "site_build_cancelled"
#: The user asked to build the sites although the stored ones match the settings.
SITE_FORCE_BUILD = "site_force_build"
#: Whether this session's sites are the workspace's stored sites (no build).
SITE_FROM_STORE = "site_from_store"
#: What the session's site result is (its base and the edits replayed): the map's tiles are cached under it.
SITE_RESULT_SIG = "site_result_sig"
#: Signature of the site result the session's unsaved edits apply to (its tiles stay; the edits are drawn over them).
SITE_BASE_SIG = "site_base_sig"
#: The session's site results after its latest edits, by the edits replayed (a page run applies only new edits).
SITE_REPLAY = "site_replay"

# -- scenarios ---------------------------------------------------------------------
#: The scenario being edited (a scenario dict) and what it was opened from {"name", "version"}.
SCENARIO_DRAFT = "scenario_draft"
SCENARIO_BASE = "scenario_base"
SCENARIO_GEN = "scenario_gen"
#: A save or delete waiting for confirmation: {"action", "name", "version"}.
SCENARIO_CONFIRM = "scenario_confirm"
SCENARIO_MSG = "scenario_msg"
#: The sensitivity of the scenario on the page, computed on demand: {"key": (scenario, inputs), "table"}.
SCENARIO_SENSITIVITY = "scenario_sensitivity"

# -- comparison ----------------------------------------------------------------------
COMPARE_PICK = "compare_pick"
#: The sensitivity of the compared scenarios for the reports, computed when asked for: {"key", "sections"}.
COMPARE_SENSITIVITY = "compare_sensitivity"

# -- data manager ---------------------------------------------------------------------
#: A survey version switch waiting for confirmation.
DATA_SWITCH = "data_switch"
#: The layer picked in the upload's layer picker: (stored upload path, layer id); kept while the user is on another page.
DATA_LAYER = "data_layer"
#: A workspace just made in the data manager: the sidebar picks it on the next run.
WORKSPACE_PENDING = "workspace_pending"


def seed(widget_key: str, value) -> None:
    """Give a widget its value from a draft when the widget has no state yet (first run, page switch)."""
    if widget_key not in st.session_state:
        st.session_state[widget_key] = value


def bump(gen_key: str) -> int:
    """Start a new widget generation (the widgets are seeded afresh from the draft)."""
    st.session_state[gen_key] = st.session_state.get(gen_key, 0) + 1
    return st.session_state[gen_key]
