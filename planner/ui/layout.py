"""Page layout shared by every page: the app on a phone.

Streamlit stacks columns one under another below 640 px. A row of headline figures
(``st.metric`` in ``st.columns``) then becomes one card per screen line: the comparison page
of two scenarios ran to twelve cards before its chart. On a narrow screen such a row keeps two
cards side by side, in a smaller type; every other row stacks as Streamlit does. Desktops are unchanged.
"""

from __future__ import annotations

import streamlit as st

#: Below Streamlit's own stacking width (640 px): columns that hold one figure and nothing else, two to a line (a
#: page's layout columns, holding figures among other things, stack as before). (``:has`` cannot nest.)
PHONE_CSS = """<style>
@media (max-width: 640px) {
  [data-testid="stColumn"]:has(> [data-testid="stVerticalBlock"]
      > [data-testid="stElementContainer"]:only-child > [data-testid="stMetric"]) {
    min-width: calc(50% - 0.5rem) !important;
    flex: 0 1 calc(50% - 0.5rem) !important;
  }
  [data-testid="stMetricValue"] { font-size: 1.6rem; }
  [data-testid="stMetric"] { padding: 0.6rem 0.7rem !important; }
  [data-testid="stMetricLabel"] p { white-space: normal; }
  [data-testid="stMetricLabel"] > div { white-space: normal; overflow: visible; text-overflow: clip; }
}
</style>"""


def phone_layout() -> None:
    """Add :data:`PHONE_CSS` to the page (the app's own constant text; nothing of the user's)."""
    st.html(PHONE_CSS)
