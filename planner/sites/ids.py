"""Stable site ids: a site keeps its id across edits, rebuilds and new survey versions.

:func:`build_sites` numbers sites afresh each time, so the same land could get
another id after a rebuild, and a scenario that picked ``S0009`` would then
point at other land. :func:`match_site_ids` renames a fresh build's sites
after the previous result's: a new site takes the id of the previous site
whose land it overlaps most, when the two are recognisably the same land
(intersection over union of the outlines at least ``min_overlap``, matched
one to one, best overlap first). Outlines are compared rather than parcel
ids so that a re-surveyed parcel (new id, same land) does not break the
match. New land gets ids above every id used before (``high_water``), so a
vanished site's id is never reused for other land.

Examples
--------
>>> import geopandas as gpd, pandas as pd, shapely
>>> from planner.sites.params import SiteParams, SiteResult
>>> def res(ids, boxes):
...     s = gpd.GeoDataFrame({"site_id": ids}, geometry=[shapely.box(*b) for b in boxes], crs="EPSG:4549")
...     ps = pd.DataFrame({"parcel_id": ids, "site_id": ids, "role": "flagged"})
...     return SiteResult(s, ps, pd.DataFrame(), SiteParams())
>>> old = res(["S0001", "S0002"], [(0, 0, 10, 10), (20, 0, 30, 10)])
>>> new = res(["S0001", "S0002", "S0003"], [(-5, -5, 5, 5), (20, 0, 31, 10), (0, 0, 10, 10)])
>>> out, table = match_site_ids(new, old.sites)
>>> out.sites["site_id"].tolist()
['S0001', 'S0002', 'S0003']
>>> table.set_index("built_id")["site_id"].to_dict()
{'S0001': 'S0003', 'S0002': 'S0002', 'S0003': 'S0001'}
"""

from __future__ import annotations

import dataclasses
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from planner.shapes import single_parts
from planner.sites.params import SiteResult

_NUM = re.compile(r"^S(\d+)$")


def id_number(site_id) -> int:
    """The number of a site id ``S0012`` (0 when it is not of that form)."""
    m = _NUM.match(str(site_id))
    return int(m.group(1)) if m else 0


def format_id(n: int, width: int = 4) -> str:
    """``S`` and ``n`` padded to ``width`` digits."""
    return f"S{n:0{width}d}"


def high_water(*id_lists, floor: int = 0) -> int:
    """The highest site-id number in the lists (at least ``floor``)."""
    nums = [id_number(s) for ids in id_lists for s in ids]
    return max([floor, *nums])


def _overlaps(new: np.ndarray, old: np.ndarray, min_iou: float = 0.0) -> pd.DataFrame:
    """Intersection over union of the intersecting (new, old) outline pairs whose IoU can reach ``min_iou``.

    Outlines equal vertex for vertex (most of them, when a build is run
    again on the same data) have IoU 1 without an intersection; a pair whose
    smaller area is under ``min_iou`` of the larger cannot reach it (IoU is
    at most that ratio) and is left out. Only the rest are intersected.
    """
    if not len(new) or not len(old):
        return pd.DataFrame({"new": [], "old": [], "iou": []})
    ni, oi = shapely.STRtree(old).query(new)  # envelopes only: the polygon test is left to the pairs that need it
    a_new, a_old = shapely.area(new)[ni], shapely.area(old)[oi]
    big = np.maximum(a_new, a_old)
    bound = np.divide(np.minimum(a_new, a_old), big, out=np.zeros(len(ni)), where=big > 0)
    if min_iou > 0:
        cand = bound >= min_iou
        ni, oi, a_new, a_old, big = ni[cand], oi[cand], a_new[cand], a_old[cand], big[cand]
    same = shapely.equals_exact(single_parts(new)[ni], single_parts(old)[oi], tolerance=0.0) & (big > 0)
    rest = np.flatnonzero(~same)
    rest = rest[shapely.intersects(new[ni[rest]], old[oi[rest]])]
    iou = np.where(same, 1.0, 0.0)
    inter = shapely.area(shapely.intersection(new[ni[rest]], old[oi[rest]]))
    union = a_new[rest] + a_old[rest] - inter
    iou[rest] = np.divide(inter, union, out=np.zeros(len(inter)), where=union > 0)
    keep = same.copy()
    keep[rest] = True
    return pd.DataFrame({"new": ni[keep], "old": oi[keep], "iou": iou[keep]})


def match_site_ids(result: SiteResult, previous: gpd.GeoDataFrame | None, *, reserved=(), min_overlap: float = 0.5,
                   high_water_mark: int = 0) -> tuple[SiteResult, pd.DataFrame]:
    """Rename the sites of ``result`` after the ``previous`` sites they are the same land as.

    Parameters
    ----------
    result : SiteResult
        A fresh build.
    previous : GeoDataFrame, optional
        The previous result's sites (``site_id``, geometry); ``None`` keeps the ids.
    reserved : iterable of str
        Previous ids not to hand out (e.g. sites that replayed edits will make again).
    min_overlap : float
        Least intersection over union of two outlines to count as the same land.
    high_water_mark : int
        The highest id number ever issued in this workspace (new ids go above it).

    Returns
    -------
    (SiteResult, DataFrame)
        The renamed result (sites ordered by id) and the match table:
        ``built_id``, ``site_id``, ``status`` ("kept" or "new") and ``overlap``.
    """
    sites = result.sites
    built = sites["site_id"].astype(str).to_numpy()
    if previous is None or not len(previous):
        table = pd.DataFrame({"built_id": built, "site_id": built, "status": "new", "overlap": np.nan})
        return result, table
    reserved = {str(s) for s in reserved}
    prev = previous[~previous["site_id"].astype(str).isin(reserved)]
    old_ids = prev["site_id"].astype(str).to_numpy()
    pairs = _overlaps(np.asarray(sites.geometry.values, dtype=object), np.asarray(prev.geometry.values, dtype=object),
                      min_overlap)
    pairs = pairs[pairs["iou"] >= min_overlap].sort_values(["iou", "new", "old"], ascending=[False, True, True])
    taken_new, taken_old = set(), set()
    final = np.empty(len(built), dtype=object)
    overlap = np.full(len(built), np.nan)
    for n, o, iou in pairs.itertuples(index=False):  # one to one, best first (pairs of overlapping sites: few)
        if n in taken_new or o in taken_old:
            continue
        taken_new.add(n)
        taken_old.add(o)
        final[int(n)] = old_ids[int(o)]
        overlap[int(n)] = iou
    width = max(4, *(len(s) - 1 for s in (*built, *previous["site_id"].astype(str))))
    nxt = high_water(previous["site_id"].astype(str), reserved, floor=high_water_mark)
    status = np.where(pd.isna(final), "new", "kept")
    for i in np.flatnonzero(pd.isna(final)):  # new land, in the build's own order
        nxt += 1
        final[i] = format_id(nxt, width)
    rename = dict(zip(built, final.astype(str), strict=True))
    out_sites = sites.assign(site_id=final.astype(str)).sort_values("site_id").reset_index(drop=True)
    ps = result.parcel_sites.assign(site_id=result.parcel_sites["site_id"].astype(str).map(rename))
    ps = ps.sort_values(["site_id", "role", "parcel_id"], kind="stable").reset_index(drop=True)
    table = pd.DataFrame({"built_id": built, "site_id": final.astype(str), "status": status, "overlap": overlap})
    return dataclasses.replace(result, sites=gpd.GeoDataFrame(out_sites, geometry="geometry", crs=sites.crs),
                               parcel_sites=ps), table


def vanished_ids(previous: gpd.GeoDataFrame | None, current: gpd.GeoDataFrame) -> list[str]:
    """Previous site ids that the current result no longer has."""
    if previous is None:
        return []
    return sorted(set(previous["site_id"].astype(str)) - set(current["site_id"].astype(str)))
