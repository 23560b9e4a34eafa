"""The Jinjiang boundary used to place the sample city (package data).

The polygon ships as ``planner/data/jinjiang_boundary.geojson`` so that the
generator works in a clone without the third-party ``../shared`` folder. It
was made by :func:`jinjiang_from_gcj02` from the AMap district boundary of
Jinjiang (adcode 350582) published by GaryBikini/ChinaAdminDivisonSHP (MIT,
AMap 2020): GCJ-02 lon/lat -> WGS84 lon/lat (planner.crs) -> CGCS2000 3-degree
Gauss-Krüger CM 120E (EPSG:4549), mainland part only, simplified to 5 m.
"""

from __future__ import annotations

from importlib import resources

import numpy as np
import shapely

from planner.crs import DEFAULT_WORKSPACE_CRS, gcj02_geoms_to_wgs84
from planner.errors import DataError

#: Administrative code of Jinjiang (晋江市).
JINJIANG_ADCODE = "350582"
#: Simplification tolerance of the packaged polygon, metres.
SIMPLIFY_M = 5.0
PROVENANCE = (
    "Jinjiang (晋江市, adcode 350582) mainland boundary. Source: GitHub GaryBikini/ChinaAdminDivisonSHP "
    "(MIT licence), AMap district boundaries as published in 2020, GCJ-02 lon/lat; converted "
    "GCJ-02 -> WGS84 with planner.crs.gcj02_geoms_to_wgs84, projected to CGCS2000 3-degree GK CM 120E "
    "(EPSG:4549), largest part kept (islets dropped), simplified to 5 m."
)


def jinjiang_from_gcj02(geoms_gcj02) -> shapely.Polygon:
    """Convert Jinjiang's GCJ-02 lon/lat boundary to the packaged EPSG:4549 mainland polygon.

    Parameters
    ----------
    geoms_gcj02 : array of shapely geometries
        The Jinjiang feature(s) of ``泉州市.shp`` (GCJ-02 lon/lat).

    Returns
    -------
    shapely.Polygon
        Largest part, in EPSG:4549 metres, simplified to :data:`SIMPLIFY_M`.
    """
    import pyproj

    wgs = gcj02_geoms_to_wgs84(np.asarray(geoms_gcj02, dtype=object))
    tr = pyproj.Transformer.from_crs("EPSG:4326", DEFAULT_WORKSPACE_CRS, always_xy=True)
    proj = shapely.transform(wgs, lambda c: np.column_stack(tr.transform(c[:, 0], c[:, 1])))
    parts = shapely.get_parts(proj)
    if not len(parts):
        msg = "Jinjiang boundary: no polygon in the given features"
        raise DataError(msg)
    main = parts[np.argmax(shapely.area(parts))]
    return shapely.simplify(main, SIMPLIFY_M, preserve_topology=True)


def jinjiang_boundary() -> shapely.Polygon:
    """The packaged Jinjiang mainland polygon in EPSG:4549 (metres)."""
    import json

    ref = resources.files("planner") / "data" / "jinjiang_boundary.geojson"
    try:
        doc = json.loads(ref.read_text(encoding="utf-8"))
    except FileNotFoundError:  # pragma: no cover - broken install
        msg = f"package data {ref} is missing; reinstall planner"
        raise DataError(msg) from None
    geom = shapely.from_geojson(json.dumps(doc["features"][0]["geometry"]))
    return geom
