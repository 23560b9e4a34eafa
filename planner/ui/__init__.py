"""Streamlit helpers for the app (the only part of ``planner`` that imports streamlit)."""
