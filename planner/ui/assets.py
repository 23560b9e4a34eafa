"""Offline web assets: Leaflet and leaflet.draw served by Streamlit from ./static.

folium loads Leaflet and its plugins from CDNs by default. Government
intranets have no internet, so the app serves the files itself: they come
from the ``django-leaflet`` wheel (a PyPI dependency that ships Leaflet 1.9
and leaflet.draw under ``leaflet/static/leaflet/``), are copied once into
``static/vendor/leaflet`` next to ``app.py``, and Streamlit's static file
serving (``[server] enableStaticServing = true``) exposes them at
``/app/static/vendor/leaflet``. :func:`planner.maps.use_local_assets` points
every map at that URL.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from planner.errors import PlannerError

#: URL under which Streamlit serves ``static/vendor/leaflet``.
ASSET_URL = "/app/static/vendor/leaflet"
_NEEDED = ("leaflet.js", "leaflet.css", "draw/leaflet.draw.js", "draw/leaflet.draw.css")


def leaflet_source() -> Path:
    """The ``leaflet/static/leaflet`` folder of the installed django-leaflet package."""
    spec = importlib.util.find_spec("leaflet")  # locate without importing (no Django set-up)
    if spec is None or not spec.submodule_search_locations:
        msg = "Leaflet files not found: install the 'django-leaflet' package (pip install django-leaflet)"
        raise PlannerError(msg)
    src = Path(next(iter(spec.submodule_search_locations))) / "static" / "leaflet"
    missing = [f for f in _NEEDED if not (src / f).is_file()]
    if missing:
        msg = f"the installed django-leaflet has no {missing} under {src}; reinstall it"
        raise PlannerError(msg)
    return src


def ensure_static(app_dir: str | Path) -> Path:
    """Copy Leaflet into ``<app_dir>/static/vendor/leaflet`` if it is missing or stale; return it."""
    src = leaflet_source()
    dst = Path(app_dir) / "static" / "vendor" / "leaflet"
    stamp = dst / ".source"
    if stamp.is_file() and stamp.read_text() == str(src) and all((dst / f).is_file() for f in _NEEDED):
        return dst
    tmp = dst.with_name(".leaflet.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp, ignore=shutil.ignore_patterns("*.map", "*-src.*", "proj4*", "*.forms.js"))
    (tmp / ".source").write_text(str(src))
    shutil.rmtree(dst, ignore_errors=True)
    tmp.replace(dst)
    return dst
