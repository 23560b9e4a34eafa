"""The naive peer of the browser benchmark: the whole parcel layer as one folium map through streamlit-folium.

    PLANNER_WORKSPACE=WS.gpkg streamlit run benchmarks/naive_map_app.py

What one writes first: read the classified parcels, colour them by class,
put every parcel (full geometry) into one ``folium.GeoJson`` with a tooltip,
and show it with ``st_folium``; a click shows the clicked parcel's id. Leaflet
is served by the app (no internet), as in the real app.
"""

import os
from pathlib import Path

import streamlit as st
from streamlit_folium import st_folium

from planner import maps
from planner.io.store import GpkgStore
from planner.ui import assets
from planner.ui.assets import ASSET_URL

assets.ensure_static(Path(__file__).resolve().parent)  # served from ./static beside this script
WS = os.environ["PLANNER_WORKSPACE"]


@st.cache_resource
def layer():
    store = GpkgStore(WS)
    g = store.read_layer("flags", "default", columns=["parcel_id", "land_use", "land_area_m2", "three_low",
                                                       "n_low", "n_unknown"])
    g["_c"] = maps.three_low_class(g).map(maps.CLASS_COLORS).to_numpy()
    return g.to_crs(4326)[["parcel_id", "land_use", "land_area_m2", "_c", "geometry"]]


g = layer()
m, _ = maps.make_map(tuple(g.total_bounds), asset_base=ASSET_URL)
maps.geojson_layer(g.set_index(g["parcel_id"].astype(str)), "parcels",
                   tooltip={"parcel_id": "parcel", "land_use": "use"}).add_to(m)
out = st_folium(m, key="naive", height=620, use_container_width=True)
props = ((out or {}).get("last_active_drawing") or {}).get("properties") or {}
st.write(f"clicked {props.get('parcel_id')}" if props else "click a parcel")
