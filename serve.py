"""What ``make run`` starts: the Streamlit app (``app.py``) and the map-tile route beside it.

    streamlit run serve.py        # (make run / python3 tasks.py run)

``st.App`` mounts :func:`planner.ui.tiles.routes` (``/_planner/tiles/...``) in
the same server process as the app, so the map in the browser fetches the
tiles of its view from the app itself (no other port, no internet). Running
``streamlit run app.py`` directly still works; the map then sends the features
of each view with the page, as before, which is slower.

When the server starts, :func:`planner.ui.warmup.start` fills the shared
caches of the default workspace in the background (the first visitor after a
restart does not wait for them). :func:`planner.ui.memory.start` first makes
the server give the memory it frees back to the system.
"""

import streamlit as st

from planner.ui import memory, tiles, warmup

memory.start()
app = st.App("app.py", routes=tiles.routes())
warmup.start()
