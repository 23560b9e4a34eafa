"""Shared fixtures: tiny hand-checkable parcel grids and the optional ../shared data."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from planner import schema

ROOT = Path(__file__).resolve().parents[1]
# the app's disk cache (planner.io.framecache) of this test run: not the user's ~/.cache; servers the tests start
# inherit it (each xdist worker has its own)
if "PLANNER_CACHE_DIR" not in os.environ:
    os.environ["PLANNER_CACHE_DIR"] = tempfile.mkdtemp(prefix="planner-test-cache-")
    atexit.register(shutil.rmtree, os.environ["PLANNER_CACHE_DIR"], ignore_errors=True)
# The tests read the command line's English: every command speaks (summaries and refusals) its --lang, else
# PLANNER_LANG, else Chinese (planner.cli.output_lang); tests that check the Chinese default remove it (test_cli_ingest_officer.py,
# test_classify.py, test_cli_summary_lang.py).
os.environ.setdefault("PLANNER_LANG", "en")
#: Third-party data beside the checkout (absent in a user's clone).
SHARED = Path(os.environ.get("PLANNER_SHARED", ROOT.parent / "shared"))
SHARED_DATA = SHARED / "data"


@pytest.fixture(scope="module")
def client():
    """A Dask cluster in this process (2 workers of 1 thread) and its client, one per test module (the scale tests)."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp", dashboard_address=":0",
                      silence_logs=40) as cluster, Client(cluster) as c:
        yield c


@pytest.fixture
def shared_data() -> Path:
    """``../shared/data``; skips the test when the folder is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"third-party test data not found at {SHARED_DATA} (only present in the dev/CI layout)")
    return SHARED_DATA


def box_grid(nx: int, ny: int, size: float = 50.0, gap: float = 0.0, crs: str = "EPSG:4549",
             x0: float = 500_000.0, y0: float = 2_740_000.0) -> gpd.GeoDataFrame:
    """An ``nx`` x ``ny`` grid of square parcels (ids ``r{row}c{col}``) in the canonical schema."""
    ix, iy = np.meshgrid(np.arange(nx), np.arange(ny))
    ix, iy = ix.ravel(), iy.ravel()
    step = size + gap
    geoms = shapely.box(x0 + ix * step, y0 + iy * step, x0 + ix * step + size, y0 + iy * step + size)
    gdf = gpd.GeoDataFrame(
        {"parcel_id": [f"r{r}c{c}" for r, c in zip(iy, ix, strict=True)],
         "land_area_m2": np.full(len(ix), size * size)},
        geometry=geoms, crs=crs,
    )
    return schema.conform(gdf)


@pytest.fixture
def grid3() -> gpd.GeoDataFrame:
    """3 x 3 grid of 50 m squares (2,500 m² each), touching."""
    return box_grid(3, 3)


# -- workspaces on both backends ---------------------------------------------------------------
#: The store backends every backend-neutral test runs on.
BACKENDS = ("gpkg", pytest.param("postgis", marks=pytest.mark.postgis))


@pytest.fixture(scope="session")
def pg_dsn() -> str:
    """The PostGIS server of the tests (``PLANNER_PG_DSN``); skips the test when none answers."""
    import postgis

    postgis.connect().close()
    return postgis.dsn()


def pg_uri(dsn: str, schema: str) -> str:
    """``dsn`` with ``?schema=`` (a workspace URI)."""
    return dsn + ("&" if "?" in dsn else "?") + f"schema={schema}"


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    """``"gpkg"`` or ``"postgis"`` (the latter skips without a server)."""
    if request.param == "postgis":
        request.getfixturevalue("pg_dsn")
    return request.param


@pytest.fixture
def workspace_uris(request, backend, tmp_path):
    """``new(name)``: a fresh workspace location of the test's backend (file or schema), removed afterwards."""
    made: list[str] = []

    def new(name: str = "ws") -> str:
        if backend == "gpkg":
            uri = str(tmp_path / f"{name}.gpkg")
        else:
            safe = "".join(ch if ch.isalnum() else "_" for ch in name.lower())[:20]
            uri = pg_uri(request.getfixturevalue("pg_dsn"), f"t_{uuid.uuid4().hex[:12]}_{safe}")
        made.append(uri)
        return uri

    yield new
    if backend == "postgis":
        from planner.io.postgis import drop_workspace

        for uri in made:
            drop_workspace(uri)


@pytest.fixture
def workspace_uri(workspace_uris) -> str:
    """A fresh workspace location (``ws.gpkg`` in tmp_path, or a new PostGIS schema); nothing created yet."""
    return workspace_uris("ws")


@pytest.fixture
def sample_city_uri(workspace_uris) -> str:
    """A copy of the bundled sample city (gis_data/sample_city.gpkg) on the test's backend."""
    import shutil

    from planner.io.transfer import copy_workspace

    city = ROOT / "gis_data" / "sample_city.gpkg"
    uri = workspace_uris("city")
    if uri.endswith(".gpkg"):
        shutil.copyfile(city, uri)
    else:
        copy_workspace(city, uri)
    return uri


@pytest.fixture
def store(workspace_uri):
    """A new, empty workspace (EPSG:4549) on the test's backend."""
    from planner.io.store import open_store

    return open_store(workspace_uri, create=True, crs="EPSG:4549")



def _no_skip() -> bool:
    return os.environ.get("PLANNER_NO_SKIP") == "1"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI (``PLANNER_NO_SKIP=1``) a skipped test fails: CI installs browser, PostGIS and data."""
    outcome = yield
    rep = outcome.get_result()
    if _no_skip() and rep.skipped and not hasattr(rep, "wasxfail"):
        rep.outcome = "failed"
        rep.longrepr = f"skipped in CI, where everything it needs is installed: {rep.longrepr}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    rep = outcome.get_result()
    if _no_skip() and rep.skipped:
        rep.outcome = "failed"
        rep.longrepr = f"module skipped in CI, where everything it needs is installed: {rep.longrepr}"
