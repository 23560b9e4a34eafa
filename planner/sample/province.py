"""A synthetic province (样例省域数据): many sample cities side by side, written as a partitioned survey.

A provincial department evaluates every industrial parcel of its cities: ten
million parcels and more. :func:`write_province` lays ``n_cities`` sample
cities (:func:`planner.sample.build_city`, each with its own seed) on a grid,
edge to edge, and writes each city as one partition of a partitioned survey
(:mod:`planner.io.geoparquet`), city by city on a Dask cluster: the cities are
independent, so they are generated in parallel and no machine ever holds the
whole province. The cities are numbered along the Hilbert curve of the grid,
so that consecutive partitions are neighbours. Parcel ids are prefixed with
the city number (``C007-...``) and ``input_row`` counts on from city to city.

Neighbouring cities touch along their edges (the grid step is the city's
width), so parcels of two partitions can be neighbours, as at the edge of two
Hilbert partitions of one city.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from planner.errors import DataError
from planner.io import geoparquet as gpq

#: ``input_row`` of city k starts at ``k * ROW_STRIDE``.
ROW_STRIDE = 10**8


def _grid_order(n: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Grid cells (column, row) of ``n`` cities on a square grid, in Hilbert order, and the grid width."""
    side = int(np.ceil(np.sqrt(n)))
    cells = np.array([(i % side, i // side) for i in range(side * side)], dtype=float)
    pts = gpd.GeoSeries(shapely.points(cells + 0.5))
    order = gpq.hilbert_order(pts, total_bounds=(0, 0, side, side))[:n]
    return cells[order, 0].astype(int), cells[order, 1].astype(int), side


def build_city_partition(k: int, n_parcels: int, seed: int, col: int, row: int, step: float, path: str) -> dict:
    """Build city ``k``, move it to grid cell (``col``, ``row``) and write it as partition ``k`` (runs on a worker).

    Returns its barrier and constraint layers (small) and its parcel count.
    """
    from planner.sample import build_city

    city = build_city(n_parcels, seed)
    x0, y0, _x1, _y1 = city.study_area.total_bounds
    dx, dy = col * step - x0, row * step - y0

    def move(g: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        out = g.copy()
        out.geometry = shapely.transform(out.geometry.values, lambda c: c + np.array([dx, dy]))
        return out

    parcels = move(city.parcels)
    parcels["parcel_id"] = f"C{k:03d}-" + parcels["parcel_id"].astype(str)
    parcels["input_row"] = np.arange(len(parcels), dtype=np.int64) + k * ROW_STRIDE
    parcels = parcels.take(gpq.hilbert_order(parcels.geometry)).reset_index(drop=True)
    gpq.write_partition(parcels, path, k)
    layers = {}
    for kind, group in (("barriers", city.barriers), ("constraints", city.constraints)):
        frames = [move(g).assign(layer=name) for name, g in group.items() if len(g)]
        layers[kind] = pd.concat(frames, ignore_index=True) if frames else None
    return {"n": len(parcels), "crs": city.crs, "width": float(city.study_area.total_bounds[2] - x0),
            "height": float(city.study_area.total_bounds[3] - y0), **layers}


def city_step(parcels_per_city: int) -> float:
    """Grid step (m): the larger side of the region :func:`planner.sample.build_city` fills for this size.

    Beyond the Jinjiang boundary (more than about 40,000 parcels) that region
    is a square filled to its edges, so neighbouring cities touch; smaller
    cities have the shape of their part of Jinjiang and lie apart (5% margin).
    """
    from planner.sample import city as _city

    boundary = _city.jinjiang_boundary()
    origin = np.round(np.array(_city.CENTRE), -3)
    target = parcels_per_city * _city.GROSS_M2_PER_PARCEL
    inside = target * 1.08 <= _city.MAX_BOUNDARY_SHARE * boundary.area
    region, _ = _city._region(target * (1.08 if inside else _city.OUTSIDE_FACTOR), boundary, origin)
    x0, y0, x1, y1 = region.bounds
    return max(x1 - x0, y1 - y0) * (1.05 if inside else 1.0)


def write_province(path: str | Path, n_parcels: int, *, client, parcels_per_city: int = 100_000, seed: int = 42,
                   overwrite: bool = False, progress=None) -> dict:
    """Generate a province of sample cities on a Dask cluster and write it as a partitioned survey.

    Parameters
    ----------
    path : str or Path
        The survey folder to create.
    n_parcels : int
        Parcels in total (split into cities of ``parcels_per_city``).
    client : distributed.Client
        The cluster the cities are built on (workers must see ``path``).
    progress : callable, optional
        Called with each finished future (for a progress bar).

    Returns
    -------
    dict
        The ``planner.json`` record.
    """
    from distributed import as_completed

    path = Path(path)
    if parcels_per_city < 1_000:
        msg = f"parcels_per_city={parcels_per_city}: at least 1000"
        raise DataError(msg, zh="每个城市至少 1000 个地块")
    gpq._check_target(path, overwrite)
    n_cities = max(1, -(-n_parcels // parcels_per_city))
    sizes = np.full(n_cities, n_parcels // n_cities)
    sizes[: n_parcels - sizes.sum()] += 1
    cols, rows, _side = _grid_order(n_cities)
    tmp = gpq.building(path)
    try:
        # a city beyond the Jinjiang boundary is a square whose side follows its size; step = the largest
        step = city_step(int(sizes.max()))
        futures = [client.submit(build_city_partition, k, int(sizes[k]), seed + k, int(cols[k]), int(rows[k]), step,
                                 str(tmp), pure=False, key=f"city-{k}-{tmp.name}") for k in range(n_cities)]
        results = {}
        for fut in as_completed(futures):
            k = int(fut.key.split("-")[1])
            results[k] = fut.result()
            if progress:
                progress(fut)
        crs = results[0]["crs"]
        layers = {}
        for kind in ("barriers", "constraints"):
            frames = [results[k][kind] for k in range(n_cities) if results[k][kind] is not None]
            layers[kind] = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=crs) if frames else None
        info = gpq.finish_survey(tmp, crs=crs, n_parcels=int(sum(r["n"] for r in results.values())),
                                 npartitions=n_cities, partitioning="city grid in Hilbert order",
                                 source=f"synthetic province: {n_cities} sample cities, seed {seed}", **layers)
        gpq._replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return info
