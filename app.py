"""Streamlit app: ``streamlit run app.py`` (or ``make run``).

Thin: page config, the shared sidebar and ``st.navigation`` over ``views/``.
The workspace is picked in the sidebar from those the operator offers
(``PLANNER_DATA_DIR``, ``PLANNER_WORKSPACE``; see planner/ui/workspaces.py).
"""

from pathlib import Path

import streamlit as st

# "auto": open beside the page on a wide screen, closed on a phone (one tap away, the » button), where an open
# sidebar is drawn over the page.
st.set_page_config(page_title="低效工业用地更新规划 · Land revitalization planner", page_icon="🏭",
                   layout="wide", initial_sidebar_state="auto")

from planner.ui import assets, auth, layout, state, uploads
from planner.ui.state import tr

ROOT = Path(__file__).resolve().parent
assets.ensure_static(ROOT)
uploads.clean_at_start()
layout.phone_layout()  # a phone: rows of figures two to a line
settings = state.sidebar()
st.session_state["_settings"] = settings
account = auth.gate(settings)  # a workspace with accounts: the sign-in form until someone signs in

pages = {  # by url path (the default page's own url path is "")
    "map": st.Page("views/explorer.py", title=tr("nav_map"), icon=":material/map:", url_path="map", default=True),
    "rules": st.Page("views/rules.py", title=tr("nav_rules"), icon=":material/rule:", url_path="rules"),
    "sites": st.Page("views/sites.py", title=tr("nav_sites"), icon=":material/join_full:", url_path="sites"),
    "scenarios": st.Page("views/scenarios.py", title=tr("nav_scenarios"), icon=":material/domain_add:",
                         url_path="scenarios"),
    "compare": st.Page("views/compare.py", title=tr("nav_compare"), icon=":material/compare:", url_path="compare"),
    "data": st.Page("views/data.py", title=tr("nav_data"), icon=":material/database:", url_path="data"),
}
if account is not None and account.role == "admin":
    pages["admin"] = st.Page("views/admin.py", title=tr("nav_admin"), icon=":material/group:", url_path="admin")
nav = st.navigation(list(pages.values()))
if st.session_state.pop(auth.LAND, False) and account is not None:  # a new sign-in lands on its role's start page,
    start = pages.get(auth.START_PAGE.get(account.role, ""))  # not on the page the previous user left open
    if start is not None and nav is not start:
        st.switch_page(start)
try:
    nav.run()
except Exception as exc:  # shown without server paths; the traceback goes to the server log
    state.show_error(exc)
