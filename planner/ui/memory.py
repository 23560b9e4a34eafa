"""The app server's memory allocators: freed memory goes back to the system (issue 19: < 3 GB at 1M parcels).

``serve.py`` (what ``make run`` starts) calls :func:`start` before anything
is loaded. Two allocators otherwise keep what a server frees and the
resident size only grows while users try rules and open pages:

- Arrow's default pool (mimalloc) keeps freed pages per thread; the app's
  text columns (reasons, names) live there. :func:`use_returning_arrow_pool`
  switches Arrow to its jemalloc pool, which gives freed pages back by itself
  (measured at 1M: default rules plus four tried thresholds held 1.97 GB
  instead of 2.26 GB, classification as fast);
- glibc's malloc keeps the freed space of the many 8 MB arrays a 1M-row
  computation leaves behind (its mmap threshold grows with them);
  :func:`release` (``malloc_trim``) gives it back, cheap (about a
  millisecond) and safe while other threads allocate. A daemon thread calls it
  every :data:`TRIM_INTERVAL_S` seconds;
- glibc gives each thread that meets a locked heap a heap (arena) of its own,
  up to eight per core, and memory freed in one arena serves only that arena.
  Streamlit runs every page run in a new thread and the map tiles in a pool,
  so a 1M-parcel computation's freed blocks were spread over many arenas and
  rarely reused. ``make run`` starts the server with ``MALLOC_ARENA_MAX=2``
  (``tasks.SERVER_ENV``; glibc reads it at start-up). Measured in the browser
  benchmark at 1M, the same actions: 4.33 GB at the end with glibc's default,
  3.60 GB with two arenas, times unchanged. For a server started otherwise
  (``streamlit run serve.py``), :func:`cap_arenas` limits the heaps made from
  then on to :data:`MAX_ARENAS` (the few Streamlit's start-up threads made
  before stay).

Elsewhere (macOS, musl, an Arrow build without jemalloc) these are skipped.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import sys
import threading
import time

log = logging.getLogger(__name__)

#: Seconds between two returns of glibc's free heap pages to the system.
TRIM_INTERVAL_S = 10.0

#: Seconds between two full garbage collections. Streamlit's collection after every page run is off
#: (``.streamlit/config.toml``: it walked the shared caches on every click); without any, page runs left
#: frames in reference cycles behind: in a 1M server after edits, rule variants and scenarios, one
#: ``gc.collect()`` (injected with gdb) found 17,620 objects in cycles and the resident size fell from
#: 3.85 GB to 3.14 GB after the next trim. A full collection there costs about 0.08 s (1.2M tracked
#: objects): once every 30 s rather than after every click.
COLLECT_INTERVAL_S = 30.0

#: glibc heaps (arenas) the server's threads share (glibc's default: eight per core).
MAX_ARENAS = 2

_M_ARENA_MAX = -8  # mallopt's parameter number, from glibc's malloc.h


def owned_frame(gdf):
    """``gdf`` rebuilt from copies of its columns: what a long-lived cache should hold of a layer just read.

    A GeoPackage read hands back columns that share GDAL's Arrow record
    batches, the polygons' WKB included: while any column lives, every batch
    stays in memory (replacing columns one by one frees nothing). A 1M-parcel
    survey held 1.21 GB as read and 0.93 GB rebuilt (0.26 s). Values, dtypes,
    index, CRS and ``attrs`` are kept; the geometry objects are shared.
    """
    import geopandas as gpd
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    geom = gdf.geometry.name if isinstance(gdf, gpd.GeoDataFrame) else None
    cols = {}
    for c in gdf.columns:
        s = gdf[c]
        if c == geom:
            cols[c] = gpd.GeoSeries(gdf.geometry.array, index=s.index, crs=gdf.crs, name=c)
        elif getattr(s.dtype, "storage", None) == "pyarrow" and pd.api.types.is_string_dtype(s.dtype):
            arr = pa.array(s.array)
            chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
            # new buffers (with the empty array, also for a lone chunk: it would otherwise be shared)
            own = pa.concat_arrays([*chunks, pa.array([], type=arr.type)])
            cols[c] = pd.Series(pd.arrays.ArrowStringArray(own), index=s.index, dtype=s.dtype)
        elif isinstance(s.dtype, np.dtype) and _owns_memory(s.to_numpy(copy=False)):
            cols[c] = s  # numbers the conversion already copied out of the batches (a 1M survey's: 0.15 s to copy)
        else:
            cols[c] = pd.Series(s.array.copy(), index=s.index, name=c)
    # the columns as they are (no second copy into consolidated blocks), in their order
    out = pd.DataFrame(cols, index=gdf.index, copy=False)
    if geom is not None:
        out = gpd.GeoDataFrame(out, geometry=geom, crs=gdf.crs)
    out.attrs.update(gdf.attrs)
    return out


def _owns_memory(values) -> bool:
    """Whether a NumPy array's data belong to NumPy (not to a buffer another library keeps, e.g. Arrow's)."""
    import numpy as np

    base = values
    while isinstance(base.base, np.ndarray):
        base = base.base
    return base.base is None and base.flags.owndata


def use_returning_arrow_pool() -> str:
    """Make Arrow allocate from its jemalloc pool (unless ``ARROW_DEFAULT_MEMORY_POOL`` chooses); the pool in use."""
    import pyarrow as pa

    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return pa.default_memory_pool().backend_name
    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:  # an Arrow build without jemalloc: its default stays
        return pa.default_memory_pool().backend_name
    pa.set_memory_pool(pool)
    return pool.backend_name


def _malloc_trim():
    return _libc_fn("malloc_trim")


def _libc_fn(name: str):
    if not sys.platform.startswith("linux"):
        return None
    try:
        return getattr(ctypes.CDLL("libc.so.6"), name)
    except (OSError, AttributeError):  # not glibc
        return None


def cap_arenas(n: int = MAX_ARENAS) -> bool:
    """Let the threads made from now on share at most ``n`` glibc arenas; False where not applied.

    Not applied when ``MALLOC_ARENA_MAX`` is set (glibc read it at start-up)
    or where there is no glibc.
    """
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    mallopt = _libc_fn("mallopt")
    if mallopt is None:
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(_M_ARENA_MAX, int(n)))


def release() -> bool:
    """Give glibc's free heap pages back to the system (``malloc_trim(0)``); False where there is no such call."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


def _trim_loop(interval: float, collect_every: float = COLLECT_INTERVAL_S) -> None:
    last = time.monotonic()
    while True:
        time.sleep(interval)
        try:
            if time.monotonic() - last >= collect_every:
                gc.collect()
                last = time.monotonic()
            release()
        except Exception:  # never fatal: memory is then only given back less often
            log.exception("returning free memory failed")
            return


def start(interval: float = TRIM_INTERVAL_S, collect_every: float = COLLECT_INTERVAL_S) -> threading.Thread | None:
    """Switch Arrow to a pool that returns memory, cap glibc's arenas, collect garbage cycles every
    ``collect_every`` s and trim the C heap every ``interval`` s.

    Returns the keeper thread (None: no trimming here).
    """
    pool = use_returning_arrow_pool()
    log.info("arrow memory pool: %s; glibc arenas capped: %s", pool, cap_arenas())
    if _malloc_trim() is None:
        return None
    th = threading.Thread(target=_trim_loop, args=(interval, collect_every), name="planner-memory", daemon=True)
    th.start()
    return th
