"""Realistic sites: clusters split at street gaps, oversize clusters split into compact sub-sites.

A cluster of touching flagged parcels (:func:`planner.sites.graph.neighbour_components`)
is not yet a site a city would assemble. Two rules of DOMAIN.md "Contiguous
sites" cut it further; both work on the cluster's contact graph (the
neighbour pairs within ``gap_m`` that no barrier separates) and keep every
piece contiguous in it.

* **Streets** (:func:`street_pairs`, :func:`split_at_streets`). Existing
  roads split sites at the centreline. Mapped roads come as barrier layers
  and are never bridged, but a cluster can still join their two sides
  around a road's end (a dead-end street, a lane into a former large plot);
  local streets and lanes are often not mapped at all, but show as empty
  strips between parcels. Two flagged parcels of one cluster stand on two
  sides of a street when they face each other across an empty gap between
  ``street_gap_min_m`` and ``street_gap_max_m`` wide (and wider than
  ``gap_m``, which bridges on purpose), or when a barrier separates them
  and they are at most ``street_gap_max_m`` apart. Such clusters are cut by
  a minimum cut of their contact graph between the two sides (SciPy
  ``maximum_flow``; every contact counts one), i.e. with the fewest parcel
  contacts, where the street would run on; the sides are two-coloured along
  a spanning forest of the facing pairs, and rounds repeat until no site
  holds a facing pair.
* **Size and owners** (:func:`split_oversize`). With ``max_area_m2`` or
  ``max_owners`` set, a cluster over either is split into compact
  contiguous sub-sites by contiguity-constrained Ward clustering of the
  parcel centroids (scikit-learn ``ward_tree`` with the contact graph as
  connectivity: ``AgglomerativeClustering(linkage="ward")``, the model PySAL
  spopt's ``WardSpatial`` wraps), cut from the root down wherever a piece
  is still over a limit (:func:`cut_tree`). One Ward forest serves all
  oversize clusters at once. It is deterministic; on the sample city a
  100-parcel cluster takes a few milliseconds, where spopt's
  ``RegionKMeansHeuristic`` took 0.1-0.4 s and ``Skater`` about 1 s, and
  ``MaxPHeuristic`` bounds a region's size from below only. The cost is
  scikit-learn's merge loop (about 0.1 ms per parcel in an oversize
  cluster). A single parcel over ``max_area_m2`` stays a site of its own
  (status ``"too_large"``).

:func:`split_clusters` applies both rules as :func:`planner.sites.build_sites`
does; the functions take and return cluster labels of the members, so a
partitioned build can call them per partition (a cluster must lie whole in
one partition).

Examples
--------
A strip of ten 50 m parcels (25,000 m²) with at most 10,000 m² per site:

>>> import shapely, numpy as np
>>> g = shapely.box(np.arange(10) * 50.0, 0, np.arange(10) * 50.0 + 50, 50)
>>> lab = split_oversize(g, np.zeros(10, int), land=shapely.area(g), max_area_m2=10_000)
>>> sorted(np.bincount(lab).tolist())
[2, 4, 4]
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse import csgraph

from planner.errors import Note
from planner.sites import graph as _graph
from planner.sites import overlay as _overlay
from planner.sites.params import SiteParams

Keep = Callable[[np.ndarray, np.ndarray], np.ndarray] | None


# -- contact graph ---------------------------------------------------------------

def contact_edges(geoms: np.ndarray, labels: np.ndarray, gap: float, *, keep: Keep = None,
                  rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Neighbour pairs ``i < j`` (within ``gap``, kept by ``keep``) of the same cluster.

    ``rows`` (optional) limits the search to those members (the clusters
    being split); the pairs index ``geoms`` either way.
    """
    rows = np.arange(len(geoms)) if rows is None else np.asarray(rows, dtype=np.int64)
    if len(rows) < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    a, b = _graph.bbox_pairs(shapely.bounds(geoms[rows]), gap)
    i, j = rows[a], rows[b]
    same = labels[i] == labels[j]
    i, j = i[same], j[same]
    near = _graph.within_gap(geoms[i], geoms[j], gap)
    i, j = i[near], j[near]
    if keep is not None and len(i):
        ok = keep(i, j)
        i, j = i[ok], j[ok]
    return i, j


# -- street gaps -------------------------------------------------------------------

def street_pairs(geoms: np.ndarray, labels: np.ndarray, *, gap: float, min_width: float, max_width: float,
                 occupied: np.ndarray | None = None, roads: Keep = None) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of members of one cluster facing each other across a street: an empty street-wide gap or a mapped road.

    Parameters
    ----------
    geoms : ndarray of shapely geometries
        The members (flagged parcels in clusters).
    labels : ndarray of int
        Cluster of each member.
    gap : float
        The gap tolerance: gaps up to it are bridged on purpose, never streets.
    min_width, max_width : float
        A gap wider than ``max(gap, min_width)`` and at most ``max_width`` metres
        is a street when it is empty.
    occupied : ndarray of shapely geometries, optional
        What may fill a gap (all parcels of the survey, flagged or not): a gap
        with any of them on the line joining the two parcels is not a street.
    roads : callable, optional
        ``keep(i, j)`` of the mapped roads and other barriers
        (:func:`planner.sites.overlay.barrier_filter` with ``gap=max_width``):
        two members of one cluster at most ``max_width`` apart that a barrier
        separates face each other across it whatever the gap (the cluster
        joins them around the barrier's end).

    Returns
    -------
    i, j : ndarray of int
        Index pairs into ``geoms`` (``i < j``).
    """
    empty = np.zeros(0, np.int64), np.zeros(0, np.int64)
    lo = max(gap, min_width)
    if len(geoms) < 2 or (max_width <= lo and roads is None):
        return empty
    i, j = _graph.bbox_pairs(shapely.bounds(geoms), max_width)
    same = labels[i] == labels[j]
    i, j = i[same], j[same]
    if not len(i):
        return empty
    d = _graph._pairwise(shapely.distance, geoms[i], geoms[j])  # two threads (GEOS releases the GIL)
    within = d <= max_width
    i, j, d = i[within], j[within], d[within]
    mapped = ~roads(i, j) if roads is not None and len(i) else np.zeros(len(i), dtype=bool)
    ri, rj = i[mapped], j[mapped]
    face = (d > lo) & ~mapped
    i, j, d = i[face], j[face], d[face]
    if not len(i):
        return ri, rj
    if occupied is None or not len(occupied):
        return np.r_[ri, i], np.r_[rj, j]
    # the gap must be empty: the middle of the shortest line between the two may meet no parcel
    xy = shapely.get_coordinates(_graph._pairwise(shapely.shortest_line, geoms[i], geoms[j])).reshape(-1, 2, 2)
    t = (np.minimum(1.0, d / 4) / d)[:, None]
    p, q = xy[:, 0] + (xy[:, 1] - xy[:, 0]) * t, xy[:, 1] - (xy[:, 1] - xy[:, 0]) * t
    mid = shapely.linestrings(np.stack([p, q], axis=1))
    _, hit = shapely.STRtree(mid).query(occupied, predicate="intersects")  # a small tree, many queries
    free = np.ones(len(i), dtype=bool)
    free[hit] = False
    return np.r_[ri, i[free]], np.r_[rj, j[free]]


def _two_colour(n: int, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sides of a spanning forest of the pairs ``(a, b)``: a colour per node, and the forest's pairs.

    The two ends of every forest pair get different colours (a forest has no
    odd cycle); pairs left out of the forest may not, and wait for the next round.

    A forest is two-coloured by the components of its double cover (node
    ``v`` and its copy ``v + n``: an edge joins ``a`` to ``b + n`` and
    ``a + n`` to ``b``); the colour of ``v`` is whether its component label is
    below its copy's.
    """
    g = sparse.coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n)).tocsr()
    g = g + g.T
    forest = csgraph.minimum_spanning_tree(g).tocoo()
    fa, fb = forest.row.astype(np.int64), forest.col.astype(np.int64)
    cover = sparse.coo_matrix((np.ones(2 * len(fa)), (np.r_[fa, fa + n], np.r_[fb + n, fb])), shape=(2 * n, 2 * n))
    _, lab = csgraph.connected_components(cover, directed=False)
    return lab[:n] < lab[n:], (fa, fb)


def _min_cut(n: int, ei: np.ndarray, ej: np.ndarray, source: np.ndarray, sink: np.ndarray) -> np.ndarray:
    """Edges of a minimum cut (unit capacities) between the node sets ``source`` and ``sink``.

    One SciPy ``maximum_flow`` over all clusters at once (they are not
    connected, so the cut is each cluster's own minimum cut); the cut edges
    join the nodes reachable from the super source in the residual graph to
    the others. Returns a boolean mask over the edges ``(ei, ej)``.
    """
    s, t = n, n + 1
    big = len(ei) + 1
    rows = np.r_[ei, ej, np.full(len(source), s), sink]
    cols = np.r_[ej, ei, source, np.full(len(sink), t)]
    cap = np.r_[np.ones(2 * len(ei), np.int32), np.full(len(source) + len(sink), big, np.int32)]
    c = sparse.csr_matrix((cap, (rows, cols)), shape=(n + 2, n + 2))
    c.sum_duplicates()
    flow = csgraph.maximum_flow(c, s, t).flow
    residual = (c - flow).tocsr()
    residual.data = (residual.data > 0).astype(np.int8)
    residual.eliminate_zeros()
    reach = np.zeros(n + 2, dtype=bool)
    reach[csgraph.breadth_first_order(residual, s, directed=True, return_predecessors=False)] = True
    return reach[ei] != reach[ej]


def split_at_streets(labels: np.ndarray, edges: tuple[np.ndarray, np.ndarray],
                     facing: tuple[np.ndarray, np.ndarray], *, max_rounds: int = 50) -> np.ndarray:
    """Cluster labels after cutting every cluster that holds a pair facing across a street.

    Parameters
    ----------
    labels : ndarray of int
        Cluster (0..k-1) of each member.
    edges : (ndarray, ndarray)
        The contact graph of the clusters (:func:`contact_edges`).
    facing : (ndarray, ndarray)
        Pairs facing each other across a street (:func:`street_pairs`).

    Returns
    -------
    ndarray of int
        New labels (0..k'-1): the two parcels of a facing pair never share
        one, every label is connected in the contact graph, and clusters
        without a facing pair keep their members.
    """
    n = len(labels)
    ei, ej = (np.asarray(x, dtype=np.int64) for x in edges)
    fi, fj = (np.asarray(x, dtype=np.int64) for x in facing)
    if not len(fi):
        return labels
    # only the clusters holding a facing pair are cut; the others keep their label
    hit = np.zeros(int(labels.max()) + 1, dtype=bool)
    hit[labels[fi]] = True
    node = np.flatnonzero(hit[labels])
    pos = np.full(n, -1, dtype=np.int64)
    pos[node] = np.arange(len(node))
    inside = hit[labels[ei]] & hit[labels[ej]]
    ei, ej = pos[ei[inside]], pos[ej[inside]]
    fi, fj = pos[fi], pos[fj]
    alive = np.ones(len(ei), dtype=bool)
    sub = _graph.components(len(node), ei, ej)
    for _ in range(max_rounds):
        joined = sub[fi] == sub[fj]
        if not joined.any():
            break
        colour, (fa, fb) = _two_colour(len(node), fi[joined], fj[joined])
        ends = np.unique(np.r_[fa, fb])
        cut = _min_cut(len(node), ei[alive], ej[alive], ends[colour[ends]], ends[~colour[ends]])
        alive[np.flatnonzero(alive)[cut]] = False
        sub = _graph.components(len(node), ei[alive], ej[alive])
    out = labels.copy()
    out[node] = labels.max() + 1 + sub
    return pd.factorize(out, sort=True)[0].astype(np.int64)


# -- size and owners -------------------------------------------------------------------

def _n_distinct_per(labels: np.ndarray, codes: np.ndarray, n: int) -> np.ndarray:
    """Distinct non-negative ``codes`` per label (0..n-1)."""
    ok = codes >= 0
    if not ok.any():
        return np.zeros(n, dtype=np.int64)
    m = int(codes.max()) + 1
    pairs = np.unique(labels[ok].astype(np.int64) * m + codes[ok])
    return np.bincount(pairs // m, minlength=n)


def ward_tree(xy: np.ndarray, ei: np.ndarray, ej: np.ndarray) -> np.ndarray:
    """Merges of contiguity-constrained Ward clustering of points ``xy`` over the graph ``(ei, ej)``.

    scikit-learn's ``ward_tree`` (``AgglomerativeClustering(linkage="ward",
    connectivity=...)``, the model that PySAL spopt's ``WardSpatial`` runs,
    without the estimator's per-call overhead): only neighbours in the
    graph (and clusters holding neighbours) merge, so every node of the tree
    is a connected set; merging the pair that least raises the sum of
    squared distances to the cluster centroids keeps the clusters compact.
    The graph must be connected. Returns ``children_`` (``n - 1`` rows; node
    ``n + r`` is the merge of row ``r``).
    """
    from sklearn.cluster import ward_tree as _ward

    n = len(xy)
    conn = sparse.coo_matrix((np.ones(2 * len(ei)), (np.r_[ei, ej], np.r_[ej, ei])), shape=(n, n)).tocsr()
    return _ward(xy - xy.mean(axis=0), connectivity=conn)[0]


def _leaf_ranges(children: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A leaf order in which every tree node's leaves are contiguous, and each node's ``[start, end)``."""
    size = np.ones(2 * n - 1, dtype=np.int64)
    for r, (a, b) in enumerate(children):  # children come before parents
        size[n + r] = size[a] + size[b]
    start = np.zeros(2 * n - 1, dtype=np.int64)
    for r in range(n - 2, -1, -1):  # parents before children: the left child first, the right after it
        a, b = children[r]
        start[a] = start[n + r]
        start[b] = start[n + r] + size[a]
    order = np.empty(n, dtype=np.int64)
    order[start[:n]] = np.arange(n)
    return order, start, start + size


def cut_tree(children: np.ndarray, land: np.ndarray, codes: np.ndarray, *, max_area_m2: float | None,
             max_owners: int | None, groups: np.ndarray | None = None) -> np.ndarray:
    """Pieces of a merge tree: from the root down, a node over a limit is replaced by its two children.

    A leaf (one parcel) is never split; a node holding leaves of two
    ``groups`` (clusters joined only by the forest's last merges) always is.
    Returns the piece (0..k-1) of each leaf.
    """
    n = len(land)
    if n == 1:
        return np.zeros(1, dtype=np.int64)
    order, start, end = _leaf_ranges(children, n)
    cum = np.r_[0.0, np.cumsum(land[order])]
    codes = codes[order]
    grp = groups[order] if groups is not None else np.zeros(n, dtype=np.int64)
    out = np.empty(n, dtype=np.int64)
    stack, k = [2 * n - 2], 0
    while stack:
        node = stack.pop()
        lo, hi = start[node], end[node]
        over = grp[lo] != grp[hi - 1] or (max_area_m2 is not None and cum[hi] - cum[lo] > max_area_m2)
        if not over and max_owners is not None:
            own = codes[lo:hi]
            over = len(np.unique(own[own >= 0])) > max_owners
        if over and node >= n:
            stack.extend(children[node - n][::-1])
            continue
        out[order[lo:hi]] = k
        k += 1
    return out


def split_oversize(geoms: np.ndarray, labels: np.ndarray, *, land: np.ndarray, owners: np.ndarray | None = None,
                   max_area_m2: float | None = None, max_owners: int | None = None,
                   edges: tuple[np.ndarray, np.ndarray] | None = None, gap: float = 0.0, keep: Keep = None,
                   ) -> np.ndarray:
    """Cluster labels after splitting clusters over ``max_area_m2`` land or ``max_owners`` owners.

    Each oversize cluster gets one contiguity-constrained Ward tree of its
    parcel centroids (:func:`ward_tree`), cut from the root down wherever a
    node is over a limit (:func:`cut_tree`): the pieces are compact,
    contiguous, within the limits (but a single parcel over ``max_area_m2``)
    and as few as the tree allows.

    Parameters
    ----------
    geoms : ndarray of shapely geometries
        The members.
    labels : ndarray of int
        Cluster (0..k-1) of each member; each cluster connected in the contact graph.
    land : ndarray of float
        Land of each member counted against ``max_area_m2`` (m²).
    owners : ndarray, optional
        Owner (land-right holder) of each member; missing values count no owner.
    max_area_m2, max_owners : optional
        The limits; ``None`` (both: the default) splits nothing.
    edges : (ndarray, ndarray), optional
        The contact graph (:func:`contact_edges`) holding at least the
        oversize clusters; default: found here with ``gap`` and ``keep``.

    Returns
    -------
    ndarray of int
        New labels (0..k'-1); each label is connected in the contact graph.
    """
    labels = np.asarray(labels, dtype=np.int64)
    if (max_area_m2 is None and max_owners is None) or not len(labels):
        return labels
    codes = (pd.factorize(pd.Series(owners))[0] if owners is not None and max_owners is not None
             else np.full(len(labels), -1)).astype(np.int64)
    n_lab = int(labels.max()) + 1
    area = np.bincount(labels, weights=land, minlength=n_lab)
    over = area > (max_area_m2 if max_area_m2 is not None else np.inf)
    if max_owners is not None:
        over |= _n_distinct_per(labels, codes, n_lab) > max_owners
    over &= np.bincount(labels, minlength=n_lab) > 1
    todo = np.flatnonzero(over)
    if not len(todo):
        return labels
    rows = np.flatnonzero(over[labels])
    ei, ej = edges if edges is not None else contact_edges(geoms, labels, gap, keep=keep, rows=rows)
    ei, ej = np.asarray(ei, dtype=np.int64), np.asarray(ej, dtype=np.int64)
    sel = (labels[ei] == labels[ej]) & over[labels[ei]]
    ei, ej = ei[sel], ej[sel]
    # one Ward forest for all oversize clusters: each cluster centred on a point of a far-apart grid and
    # chained to the next by one edge; a merge across clusters costs more than any merge within one, so those
    # come last, and each cluster's merges are the ones it would get alone (a merge's cost depends on its two
    # parts only)
    rows = rows[np.argsort(labels[rows], kind="stable")]
    local = np.full(len(labels), -1, dtype=np.int64)
    local[rows] = np.arange(len(rows))
    group = np.searchsorted(todo, labels[rows])
    xy = shapely.get_coordinates(shapely.centroid(geoms[rows]))
    counts = np.bincount(group, minlength=len(todo))
    xy -= (np.bincount(group, weights=xy[:, 0]) / counts)[group, None] * [1, 0]
    xy -= (np.bincount(group, weights=xy[:, 1]) / counts)[group, None] * [0, 1]
    side = int(np.ceil(np.sqrt(len(todo))))
    spacing = 1e3 * max(float(np.abs(xy).max()), 1.0)
    xy += np.column_stack([group % side, group // side]) * spacing
    first = np.cumsum(counts) - counts
    ci, cj = local[ei], local[ej]
    if len(todo) > 1:
        ci, cj = np.r_[ci, first[:-1]], np.r_[cj, first[1:]]
    children = ward_tree(xy, ci, cj)
    piece = cut_tree(children, land[rows], codes[rows], max_area_m2=max_area_m2, max_owners=max_owners,
                     groups=group)
    out = labels.copy()
    out[rows] = n_lab + piece
    return pd.factorize(out, sort=True)[0].astype(np.int64)


# -- both rules ------------------------------------------------------------------------------

def split_clusters(geoms: np.ndarray, labels: np.ndarray, params: SiteParams, *, occupied: np.ndarray | None = None,
                   land: np.ndarray | None = None, owners: np.ndarray | None = None, barriers=None, keep: Keep = None,
                   progress: Callable[[str], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The clusters of :func:`planner.sites.build_sites` split at streets and to the size and owner limits.

    Parameters
    ----------
    geoms : ndarray of shapely geometries
        The members (flagged parcels not excluded by protected land).
    labels : ndarray of int
        Cluster (0..k-1) of each member (:func:`planner.sites.graph.neighbour_components`).
    params : SiteParams
        ``split_streets``, ``street_gap_min_m``, ``street_gap_max_m``,
        ``max_area_m2``, ``max_owners``, ``gap_m`` and the barrier contact rule.
    occupied : ndarray of shapely geometries, optional
        All parcels of the survey (what may fill a gap, :func:`street_pairs`).
    land : ndarray of float, optional
        Land of each member counted against ``max_area_m2`` (default: geometry area).
    owners : ndarray, optional
        Owner of each member (for ``max_owners``).
    barriers : BarrierPieces or ndarray of geometries, optional
        Mapped roads, rivers, railways (:func:`planner.sites.overlay.cut_barriers`).
    keep : callable, optional
        The barrier test of the contact graph (as the clusters were built with).

    Returns
    -------
    labels : ndarray of int
        New labels (0..k'-1).
    split : ndarray of bool
        Per old label: whether the cluster was looked at for splitting
        (its members' outlines need closing).
    """
    say = progress or (lambda _m: None)
    labels = np.asarray(labels, dtype=np.int64)
    n_lab = int(labels.max()) + 1 if len(labels) else 0
    todo = np.zeros(n_lab, dtype=bool)
    roads = None
    if params.split_streets and barriers is not None and len(getattr(barriers, "pieces", barriers)):
        bp = _overlay.cut_barriers(barriers)
        reach = _overlay.barrier_reach(params.street_gap_max_m, params.barrier_contact_tol_m)
        roads = _overlay.barrier_filter(geoms, bp, gap=params.street_gap_max_m,
                                        contact_tol=params.barrier_contact_tol_m,
                                        contact_share=params.barrier_contact_share,
                                        near=_overlay.near_barriers(geoms, bp, reach))
    streets = params.split_streets and (roads is not None
                                        or params.street_gap_max_m > max(params.gap_m, params.street_gap_min_m))
    limits = params.max_area_m2 is not None or params.max_owners is not None
    if not n_lab or not (streets or limits):
        return labels, todo
    land = shapely.area(geoms) if land is None else np.asarray(land, dtype=float)
    facing = (np.zeros(0, np.int64), np.zeros(0, np.int64))
    if streets:
        say(Note("streets", zh="街道切分"))
        facing = street_pairs(geoms, labels, gap=params.gap_m, min_width=params.street_gap_min_m,
                              max_width=params.street_gap_max_m, occupied=occupied, roads=roads)
    todo[labels[facing[0]]] = True
    if limits:
        todo |= np.bincount(labels, weights=land, minlength=n_lab) > (params.max_area_m2 or np.inf)
        if params.max_owners is not None and owners is not None:
            todo |= _n_distinct_per(labels, pd.factorize(pd.Series(owners))[0], n_lab) > params.max_owners
    if not todo.any():
        return labels, todo
    edges = contact_edges(geoms, labels, params.gap_m, keep=keep, rows=np.flatnonzero(todo[labels]))
    new = split_at_streets(labels, edges, facing) if len(facing[0]) else labels
    if limits:
        say(Note("split", zh="超限片区拆分"))
        new = split_oversize(geoms, new, land=land, owners=owners, max_area_m2=params.max_area_m2,
                             max_owners=params.max_owners, edges=edges)
    return new, todo
