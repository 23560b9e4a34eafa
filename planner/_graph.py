"""Private helpers of :mod:`planner.sites`: neighbour edges, barriers, components, grouped unions.

Everything here works on whole geometry arrays (shapely 2) and integer index
arrays (numpy); there is no loop over pairs of parcels.
"""

from __future__ import annotations

import numpy as np
import shapely
from scipy import sparse
from scipy.sparse import csgraph


def neighbour_pairs(geoms: np.ndarray, gap: float, others: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs ``(i, j)`` of geometries that intersect or lie within ``gap`` metres.

    Parameters
    ----------
    geoms : ndarray of shapely geometries
        The query geometries.
    gap : float
        Distance tolerance in metres; ``0`` means "intersect" (sharing an edge
        or only a corner point both count).
    others : ndarray of shapely geometries, optional
        Tree geometries; default ``geoms`` itself, in which case only pairs with
        ``i < j`` are returned (each undirected edge once).

    Returns
    -------
    i, j : ndarray of int
        ``i`` indexes ``geoms``, ``j`` indexes ``others`` (or ``geoms``).
    """
    self_join = others is None
    tree = shapely.STRtree(geoms if self_join else others)
    if gap > 0:
        qi, tj = tree.query(geoms, predicate="dwithin", distance=gap)
    else:
        qi, tj = tree.query(geoms, predicate="intersects")
    if self_join:
        keep = qi < tj
        qi, tj = qi[keep], tj[keep]
    return qi.astype(np.int64), tj.astype(np.int64)


def barrier_separated(a: np.ndarray, b: np.ndarray, barriers: np.ndarray, *, contact_tol: float = 0.5,
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
      barrier, e.g. a road centreline drawn on the shared boundary. A corner
      contact (a point) is separated when it lies within ``contact_tol``.

    Returns
    -------
    ndarray of bool, one per pair.
    """
    n = len(a)
    out = np.zeros(n, dtype=bool)
    if n == 0 or barriers is None or len(barriers) == 0:
        return out
    tree = shapely.STRtree(barriers)
    dist = shapely.distance(a, b)
    apart = dist > 0
    if apart.any():
        idx = np.flatnonzero(apart)
        seg = shapely.shortest_line(a[idx], b[idx])
        si, bj = tree.query(seg, predicate="intersects")
        if len(si):
            s, bb = seg[si], barriers[bj]
            hit = shapely.relate_pattern(s, bb, "T********") | shapely.relate_pattern(s, bb, "*T*******")
            out[idx[si[hit]]] = True
    touch = ~apart
    if touch.any():
        idx = np.flatnonzero(touch)
        contact = shapely.intersection(shapely.boundary(a[idx]), shapely.boundary(b[idx]))
        ci, bj = tree.query(contact, predicate="dwithin", distance=contact_tol)
        if len(ci):
            length = shapely.length(contact)
            is_point = length[ci] == 0
            covered = shapely.length(shapely.intersection(contact[ci], shapely.buffer(barriers[bj], contact_tol)))
            cov = np.bincount(ci, weights=covered, minlength=len(idx))
            point_hit = np.bincount(ci[is_point], minlength=len(idx)) > 0
            sep = point_hit | ((length > 0) & (cov > contact_share * length))
            out[idx[sep]] = True
    return out


def components(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Connected-component label (0..k-1) of each of ``n`` nodes given undirected edges."""
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    g = sparse.coo_matrix((np.ones(len(i), dtype=np.int8), (i, j)), shape=(n, n)).tocsr()
    _, labels = csgraph.connected_components(g, directed=False)
    return labels.astype(np.int64)


def grouped_union(geoms: np.ndarray, labels: np.ndarray, n_groups: int, *, close: float = 0.0) -> np.ndarray:
    """Union of ``geoms`` per group label (0..n_groups-1), optionally morphologically closed.

    Groups are packed into one GeometryCollection each (vectorized
    constructor) and unioned with a vectorized buffer: ``buffer(0)`` unions a
    collection's polygons; with ``close > 0`` the union is grown by ``close``
    and shrunk back (mitre joins keep right-angled corners), which bridges
    gaps narrower than ``2 * close`` between the members.
    """
    order = np.argsort(labels, kind="stable")
    colls = shapely.geometrycollections(geoms[order], indices=labels[order], out=None)
    if len(colls) < n_groups:  # trailing empty groups cannot happen (labels are dense) but keep shape
        colls = np.concatenate([colls, np.full(n_groups - len(colls), shapely.GeometryCollection())])
    if close > 0:
        grown = shapely.buffer(colls, close, join_style="mitre", mitre_limit=5.0)
        return shapely.buffer(grown, -close, join_style="mitre", mitre_limit=5.0)
    return shapely.buffer(colls, 0)
