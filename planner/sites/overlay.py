"""Private helpers of :mod:`planner.sites`: parcels overlaid with protected land and barriers.

A city has a few hundred constraint polygons and barrier lines, but they are
large: an ecological buffer along a river holds tens of thousands of vertices
and its bounding box covers half the city. Tested whole against each parcel,
every test walks all of those vertices. Here they are cut into small pieces
with tight bounding boxes first (:func:`subdivide`, like PostGIS
``ST_Subdivide``), so that a spatial index hands each parcel only the few
pieces near it and each exact test is small.

The pieces cover exactly what the whole geometries cover (they are clipped
to rectangles by exact overlay), so an overlap area is the sum over the pieces, a distance
is the minimum over the pieces, and "meets a barrier" is "meets a piece".
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import shapely

from planner.sites import graph as _graph

#: Pieces have at most this many vertices (PostGIS ``ST_Subdivide`` defaults to 256). Measured on
#: the 200k-parcel sample city: 32 to 256 all cost the same to build and query (0.4 s, against
#: 38 s for the whole polygons); 64 keeps a piece's bounding box close to the piece.
MAX_PIECE_VERTICES = 64

#: Barrier lines are cut into runs of this many segments: measured on the 1M-parcel sample city
#: (roads with a vertex every ~80 m), 4 finds the parcels near a barrier in 0.50 s of CPU, against
#: 0.84 s for single segments and 0.57 s for runs of 8.
LINE_RUN_SEGMENTS = 4

#: Halving stops after this many rounds (a piece then spans 2**-24 of its polygon's extent).
_MAX_ROUNDS = 24


def subdivide(polygons: np.ndarray, max_vertices: int = MAX_PIECE_VERTICES) -> tuple[np.ndarray, np.ndarray]:
    """Cut polygons into pieces of at most ``max_vertices`` vertices with tight bounding boxes.

    A polygon with more vertices is halved across the longer side of its
    bounding box (clipped exactly to the two half boxes, :func:`_clip`) and
    the halves are cut again, one round per level, as PostGIS
    ``ST_Subdivide`` does. The pieces of one polygon do not overlap and
    together cover it.

    Parameters
    ----------
    polygons : ndarray of shapely geometries
        Polygons or MultiPolygons (other parts are dropped).
    max_vertices : int
        Largest piece, in vertices (at least 8).

    Returns
    -------
    pieces : ndarray of Polygons
    owner : ndarray of int
        Index into ``polygons`` of each piece.

    Examples
    --------
    >>> ring = shapely.Point(0, 0).buffer(100, quad_segs=64)  # 257 vertices
    >>> pieces, owner = subdivide(np.array([ring]), 64)
    >>> len(pieces) > 4, bool(shapely.get_num_coordinates(pieces).max() <= 64)
    (True, True)
    >>> round(float(shapely.area(pieces).sum() - ring.area), 6)
    0.0
    """
    max_vertices = max(int(max_vertices), 8)
    todo, owner = shapely.get_parts(np.asarray(polygons, dtype=object), return_index=True)
    poly = shapely.get_type_id(todo) == 3
    todo, owner = todo[poly], owner[poly]
    done, done_owner = [], []
    for _ in range(_MAX_ROUNDS):
        big = shapely.get_num_coordinates(todo) > max_vertices
        done.append(todo[~big])
        done_owner.append(owner[~big])
        todo, owner = todo[big], owner[big]
        if not len(todo):
            break
        halves = _halve(todo)
        todo, k = shapely.get_parts(halves, return_index=True)
        owner = np.r_[owner, owner][k]
        poly = (shapely.get_type_id(todo) == 3) & (shapely.area(todo) > 0)
        todo, owner = todo[poly], owner[poly]
    done.append(todo)
    done_owner.append(owner)
    return np.concatenate(done), np.concatenate(done_owner).astype(np.int64)


def _halve(polys: np.ndarray) -> np.ndarray:
    """Each polygon cut in two across the longer side of its bounding box: ``[first halves, second halves]``.

    GEOS rectangle clipping (:func:`shapely.clip_by_rect`) is linear and
    three times faster than an overlay here, but may return a wrong polygon
    where the polygon touches a side of the rectangle (libgeos/geos#605,
    still so in GEOS 3.14). So the rectangles are drawn where nothing
    touches them: their outer sides well outside the polygon, and the cut
    moved off any vertex lying on it; every edge then crosses the cut
    properly. Each pair of halves is also checked (valid, and their areas add
    up to the polygon's); a pair that fails is cut again by exact overlay.
    """
    x0, y0, x1, y1 = shapely.bounds(polys).T
    wide = (x1 - x0) >= (y1 - y0)
    lo, hi = np.where(wide, x0, y0), np.where(wide, x1, y1)
    cut = _off_vertices(polys, wide, (lo + hi) / 2, hi - lo)
    m = np.maximum(x1 - x0, y1 - y0)
    xa, ya, xb, yb = x0 - m, y0 - m, x1 + m, y1 + m
    rects = np.r_[np.c_[xa, ya, np.where(wide, cut, xb), np.where(wide, yb, cut)],
                  np.c_[np.where(wide, cut, xa), np.where(wide, ya, cut), xb, yb]]
    both = np.r_[polys, polys]
    out = np.array([shapely.clip_by_rect(g, *r) for g, r in zip(both, rects.tolist(), strict=True)], dtype=object)
    n = len(polys)
    area = shapely.area(polys)
    ok = (np.abs(shapely.area(out[:n]) + shapely.area(out[n:]) - area) <= 1e-9 * area)
    ok &= shapely.is_valid(out[:n]) & shapely.is_valid(out[n:])
    bad = np.flatnonzero(~np.r_[ok, ok])
    if len(bad):
        out[bad] = _threaded_pairs(shapely.intersection, both[bad], shapely.box(*rects[bad].T), min_pairs=64)
    return out


def _off_vertices(polys: np.ndarray, wide: np.ndarray, cut: np.ndarray, extent: np.ndarray) -> np.ndarray:
    """``cut`` (x where ``wide``, else y) moved by a hair wherever a vertex of its polygon lies on it."""
    xy, idx = shapely.get_coordinates(polys, return_index=True)
    v = np.where(wide[idx], xy[:, 0], xy[:, 1])
    cut = cut.copy()
    for step in range(1, 20):
        on = np.bincount(idx, weights=v == cut[idx], minlength=len(polys)) > 0
        if not on.any():
            break
        cut[on] += extent[on] * 1e-7 * step
    return cut


#: Overlays (intersection, difference, union: tens of microseconds each) on this many pairs or more
#: run in two threads; cheap predicates wait for :data:`planner.sites.graph._PARALLEL_MIN`.
_OVERLAY_PARALLEL_MIN = 1_000


def _threaded_pairs(fn, a: np.ndarray, b: np.ndarray | None = None, *, min_pairs: int | None = None) -> np.ndarray:
    """``fn(a, b)`` (or ``fn(a)``) element-wise, in two threads when there are at least ``min_pairs``.

    Shapely releases the GIL inside its vectorized GEOS calls, so the halves
    run on separate cores; the result is the same.
    """
    min_pairs = _graph._PARALLEL_MIN if min_pairs is None else min_pairs
    args = (a,) if b is None else (a, b)
    if len(a) < max(min_pairs, 2) or _graph._WORKERS < 2:
        return fn(*args)
    h = len(a) // 2
    with ThreadPoolExecutor(2) as ex:
        lo = ex.submit(fn, *(x[:h] for x in args))
        hi = fn(*(x[h:] for x in args))
        return np.concatenate([lo.result(), hi])


# -- protected land -------------------------------------------------------------

def overlap_area(geoms: np.ndarray, pieces: np.ndarray) -> np.ndarray:
    """Area (m²) of each geometry inside the protected ``pieces`` (non-overlapping polygons).

    The pieces are queried against a tree over ``geoms`` (each piece
    prepared once); a geometry lying wholly inside a piece counts its own
    area, and only the others are intersected.
    """
    out = np.zeros(len(geoms))
    if not len(pieces) or not len(geoms):
        return out
    j, i = shapely.STRtree(geoms).query(pieces, predicate="intersects")
    if not len(i):
        return out
    inside = shapely.contains_properly(pieces[j], geoms[i])
    area = shapely.area(geoms[i])
    part = ~inside
    area[part] = shapely.area(_threaded_pairs(shapely.intersection, geoms[i[part]], pieces[j[part]],
                                              min_pairs=_OVERLAY_PARALLEL_MIN))
    return np.bincount(i, weights=area, minlength=len(geoms))


def cut(geoms: np.ndarray, pieces: np.ndarray) -> np.ndarray:
    """``geoms`` minus the protected ``pieces`` that intersect them.

    The pieces meeting each geometry are merged (GEOS union) and subtracted
    once; geometries no piece meets are returned as they are.
    """
    if not len(pieces) or not len(geoms):
        return geoms
    j, i = shapely.STRtree(geoms).query(pieces, predicate="intersects")
    if not len(i):
        return geoms
    out = np.asarray(geoms, dtype=object).copy()
    order = np.argsort(i, kind="stable")
    i, j = i[order], j[order]
    hit, start, count = np.unique(i, return_index=True, return_counts=True)
    code = np.repeat(np.arange(len(hit)), count)
    union = pieces[j[start]]
    many = count > 1
    if many.any():
        sel = np.repeat(many, count)
        colls = shapely.geometrycollections(pieces[j[sel]], indices=np.searchsorted(np.flatnonzero(many), code[sel]))
        union[many] = _threaded_pairs(shapely.lib.unary_union, colls, min_pairs=_OVERLAY_PARALLEL_MIN)
    out[hit] = _threaded_pairs(shapely.difference, out[hit], union, min_pairs=_OVERLAY_PARALLEL_MIN)
    return out


@dataclass(frozen=True)
class ProtectedPieces:
    """Protected land already dissolved and cut into pieces, given to :func:`planner.sites.build_sites` as is.

    A partitioned build (:mod:`planner.scale.sites`) cuts the whole layer once
    and hands each partition the pieces near it, so every partition measures
    overlaps against the same pieces as the in-memory build.
    """

    pieces: np.ndarray


# -- barriers ------------------------------------------------------------------

@dataclass(frozen=True)
class BarrierPieces:
    """Barriers (roads, rivers, railways) and the small pieces they are cut into.

    Attributes
    ----------
    geoms : ndarray of shapely geometries
        The barriers as given.
    pieces : ndarray of shapely geometries
        Lines cut into runs of :data:`LINE_RUN_SEGMENTS` segments, polygons
        subdivided (:func:`subdivide`), anything else as it is.
    owner : ndarray of int
        Index into ``geoms`` of each piece.
    """

    geoms: np.ndarray
    pieces: np.ndarray
    owner: np.ndarray

    def __len__(self) -> int:
        return len(self.geoms)

    @cached_property
    def tree(self) -> shapely.STRtree:
        """Spatial index over :attr:`pieces`."""
        return shapely.STRtree(self.pieces)


def cut_barriers(barriers: np.ndarray) -> BarrierPieces:
    """Cut barriers into pieces with tight bounding boxes (see :class:`BarrierPieces`)."""
    if isinstance(barriers, BarrierPieces):
        return barriers
    geoms = np.asarray(barriers, dtype=object)
    parts, owner = shapely.get_parts(geoms, return_index=True)
    while (multi := np.isin(shapely.get_type_id(parts), (4, 5, 6, 7))).any():  # nested collections
        sub, k = shapely.get_parts(parts[multi], return_index=True)
        parts, owner = np.r_[parts[~multi], sub], np.r_[owner[~multi], owner[multi][k]]
    tid = shapely.get_type_id(parts)
    line = np.isin(tid, (1, 2))
    poly = tid == 3
    runs, run_owner = _line_runs(parts[line])
    polys, poly_owner = subdivide(parts[poly])
    other = ~(line | poly)
    pieces = np.concatenate([runs, polys, parts[other]])
    piece_owner = np.concatenate([owner[line][run_owner], owner[poly][poly_owner], owner[other]])
    keep = ~(shapely.is_missing(pieces) | shapely.is_empty(pieces))
    return BarrierPieces(geoms, pieces[keep], piece_owner[keep].astype(np.int64))


def _line_runs(lines: np.ndarray, k: int = LINE_RUN_SEGMENTS) -> tuple[np.ndarray, np.ndarray]:
    """Lines cut into runs of ``k`` segments (a run ends on the vertex that starts the next).

    Returns the runs and the index into ``lines`` of each.
    """
    xy, idx = shapely.get_coordinates(lines, return_index=True)
    n = np.bincount(idx, minlength=len(lines))
    ok = n >= 2
    keep = ok[idx]
    xy, idx = xy[keep], idx[keep]
    pos = np.flatnonzero(keep) - (np.cumsum(n) - n)[idx]
    n_runs = np.where(ok, (n - 2) // k + 1, 0)  # ceil(segments / k)
    run = np.minimum(pos // k, n_runs[idx] - 1)
    again = (pos % k == 0) & (pos > 0) & (pos // k <= n_runs[idx] - 1)  # starts a run and ends the one before
    first = np.cumsum(n_runs) - n_runs
    rid = np.r_[first[idx] + run, first[idx[again]] + run[again] - 1]
    order = np.lexsort((np.r_[pos, pos[again]], rid))
    runs = shapely.linestrings(np.r_[xy, xy[again]][order], indices=rid[order])
    return runs, np.repeat(np.arange(len(lines)), n_runs)


def near_barriers(geoms: np.ndarray, barriers: BarrierPieces, distance: float) -> np.ndarray:
    """Which geometries lie within ``distance`` of a barrier.

    Candidates come from a tree over the pieces' boxes grown by ``distance``
    (queried by the geometries' own boxes); they are tested exactly with
    :func:`shapely.dwithin`.
    """
    near = np.zeros(len(geoms), dtype=bool)
    if not len(geoms) or not len(barriers.pieces):
        return near
    b = shapely.bounds(barriers.pieces)
    grown = shapely.STRtree(shapely.box(b[:, 0] - distance, b[:, 1] - distance, b[:, 2] + distance,
                                        b[:, 3] + distance))
    i, j = grown.query(geoms)
    if len(i):
        hit = _threaded_pairs(lambda x, y: shapely.dwithin(x, y, distance), geoms[i], barriers.pieces[j])
        near[i[hit]] = True
    return near


def barrier_separated(a: np.ndarray, b: np.ndarray, barriers, *, contact_tol: float = 0.5,
                      contact_share: float = 0.5) -> np.ndarray:
    """Which pairs ``(a[k], b[k])`` are separated by a barrier (roads, rivers, railways).

    Rule (documented in :class:`planner.sites.SiteParams`):

    * Pairs apart (distance > 0): the shortest segment joining the two
      parcels (:func:`shapely.shortest_line`) is tested against the barriers;
      the pair is separated when the segment's *interior* meets a barrier
      (DE-9IM ``T********`` or ``*T*******``), so a barrier that only touches
      an end point of the segment (e.g. runs along the far side of a parcel)
      does not separate.
    * Touching pairs (distance 0): their contact (intersection of the two
      boundaries: a shared edge or a corner point) is separated when more than
      ``contact_share`` of its length lies within ``contact_tol`` metres of a
      barrier, e.g. a road centreline drawn on the shared boundary (the
      lengths inside ``buffer(barrier, contact_tol)`` are summed over the
      barriers). A corner contact (a point) is separated when it lies within
      ``contact_tol`` of a barrier.

    The candidates come from a tree over the barrier pieces
    (:func:`cut_barriers`): a segment meets a barrier exactly when it meets
    one of its pieces, and a contact is within ``contact_tol`` of a barrier
    exactly when it is within it of a piece. Each contact's coverage is then
    measured against the whole buffered barriers it is near.

    Parameters
    ----------
    a, b : ndarray of shapely geometries
    barriers : ndarray of shapely geometries or BarrierPieces

    Returns
    -------
    ndarray of bool, one per pair.
    """
    n = len(a)
    out = np.zeros(n, dtype=bool)
    if n == 0 or barriers is None or len(barriers) == 0:
        return out
    bp = cut_barriers(barriers)
    if not len(bp.pieces):
        return out
    apart = shapely.distance(a, b) > 0
    if apart.any():
        idx = np.flatnonzero(apart)
        seg = shapely.shortest_line(a[idx], b[idx])
        si, pj = bp.tree.query(seg, predicate="intersects")
        if len(si):
            s, piece = seg[si], bp.pieces[pj]
            hit = shapely.relate_pattern(s, piece, "T********") | shapely.relate_pattern(s, piece, "*T*******")
            out[idx[si[hit]]] = True
    # a contact lies where the two boxes overlap: only touching pairs with a piece within reach of that overlap
    # can be separated (one tree query of boxes, where a contact is a boundary intersection, 12 us a pair: at 1M
    # the street split's 40,000 touching pairs near a barrier found none within reach in 0.46 s)
    idx = np.flatnonzero(~apart)
    if len(idx):
        ba, bb = shapely.bounds(a[idx]), shapely.bounds(b[idx])
        reach = barrier_reach(0.0, contact_tol)  # a hair more than the tolerance, as everywhere
        lo, hi = np.maximum(ba[:, :2], bb[:, :2]) - reach, np.minimum(ba[:, 2:], bb[:, 2:]) + reach
        qi, _ = bp.tree.query(shapely.box(lo[:, 0], lo[:, 1], hi[:, 0], hi[:, 1]), predicate="intersects")
        idx = idx[np.unique(qi)]
    if len(idx):
        contact = shapely.intersection(shapely.boundary(a[idx]), shapely.boundary(b[idx]))
        ci, pj = bp.tree.query(contact, predicate="dwithin", distance=contact_tol)
        if len(ci):
            nb = len(bp.geoms)
            key = np.unique(ci.astype(np.int64) * nb + bp.owner[pj])  # each barrier near a contact once
            ci, bj = key // nb, key % nb
            length = shapely.length(contact)
            is_point = length[ci] == 0
            covered = np.zeros(len(ci))
            line = np.flatnonzero(~is_point)
            if len(line):
                ub, inv = np.unique(bj[line], return_inverse=True)
                buf = shapely.buffer(bp.geoms[ub], contact_tol)
                covered[line] = shapely.length(shapely.intersection(contact[ci[line]], buf[inv]))
            cov = np.bincount(ci, weights=covered, minlength=len(idx))
            point_hit = np.bincount(ci[is_point], minlength=len(idx)) > 0
            sep = point_hit | ((length > 0) & (cov > contact_share * length))
            out[idx[sep]] = True
    return out


def barrier_reach(gap: float, contact_tol: float) -> float:
    """Distance within which a barrier can separate two neighbours (see :func:`barrier_filter`).

    A hair more than ``max(gap, contact_tol)``, so that rounding never hides a pair.
    """
    return max(gap, contact_tol) * (1 + 1e-9) + 1e-6


def barrier_filter(geoms: np.ndarray, barriers, *, gap: float, contact_tol: float = 0.5, contact_share: float = 0.5,
                   near: np.ndarray | None = None) -> Callable[[np.ndarray, np.ndarray], np.ndarray] | None:
    """The ``keep(i, j)`` test of :func:`planner.sites.graph.neighbour_components` for barriers.

    A barrier separates two neighbours only where it lies within reach of
    both: it crosses the segment joining two parcels at most ``gap`` apart
    (so it is within ``gap`` of each), or it lies within ``contact_tol`` of
    their contact. So the parcels within :func:`barrier_reach` of a barrier
    are found once (:func:`near_barriers`), and only pairs of two such
    parcels are tested with :func:`barrier_separated`; every other pair is
    kept untested.

    Parameters
    ----------
    geoms : ndarray of shapely geometries
    barriers : ndarray of shapely geometries or BarrierPieces
    near : ndarray of bool, optional
        ``near_barriers(geoms, barriers, barrier_reach(gap, contact_tol))``
        when already known.

    Returns
    -------
    callable or None
        ``keep(i, j)`` -> boolean mask (True: not separated), or None when
        no parcel lies within reach of a barrier.
    """
    bp = cut_barriers(barriers)
    if near is None:
        near = near_barriers(geoms, bp, barrier_reach(gap, contact_tol))
    if not near.any():
        return None

    def keep(i: np.ndarray, j: np.ndarray) -> np.ndarray:
        ok = np.ones(len(i), dtype=bool)
        risky = np.flatnonzero(near[i] & near[j])
        if len(risky):
            ok[risky] = ~barrier_separated(geoms[i[risky]], geoms[j[risky]], bp, contact_tol=contact_tol,
                                           contact_share=contact_share)
        return ok

    return keep
