"""Private helpers of :mod:`planner.sites`: neighbour edges, components, grouped unions.

Everything here works on whole geometry arrays (shapely 2) and integer index
arrays (numpy); there is no loop over pairs of parcels.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import shapely
import shapely.errors
from scipy import sparse
from scipy.sparse import csgraph
from shapely import lib  # vectorized coverage/unary union of collections


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
        ``i < j`` are returned (each undirected edge once), found by
        :func:`bbox_pairs` and tested exactly with :func:`within_gap`.

    Returns
    -------
    i, j : ndarray of int
        ``i`` indexes ``geoms``, ``j`` indexes ``others`` (or ``geoms``).
    """
    if others is None:
        i, j = bbox_pairs(shapely.bounds(geoms), gap)
        near = within_gap(geoms[i], geoms[j], gap)
        return i[near], j[near]
    tree = shapely.STRtree(others)
    if gap > 0:
        qi, tj = tree.query(geoms, predicate="dwithin", distance=gap)
    else:
        qi, tj = tree.query(geoms, predicate="intersects")
    return qi.astype(np.int64), tj.astype(np.int64)


def within_gap(a: np.ndarray, b: np.ndarray, gap: float) -> np.ndarray:
    """Elementwise ``distance(a, b) <= gap`` (``intersects`` when ``gap == 0``), unprepared GEOS calls."""
    if gap > 0:
        return shapely.dwithin(a, b, gap)
    return shapely.intersects(a, b)


def shared_vertex_edges(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Edges between geometries having an identical vertex (so they touch: distance 0).

    Vertices are sorted by a hash of their coordinates (43 bits, packed with
    the vertex number into one 64-bit key, so a plain sort does the work of
    an argsort); consecutive vertices with equal hashes, equal coordinates
    and different geometries give one edge each, which connects every
    geometry sharing that vertex (enough for connected components). A hash
    collision can only hide an edge, never invent one (coordinates are
    compared exactly), and a hidden edge only costs the caller a distance
    test.
    """
    xy, idx = shapely.get_coordinates(geoms, return_index=True)
    n = len(xy)
    if n < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    bits = np.ascontiguousarray(xy).view(np.uint64)
    nbits = max(int(n - 1).bit_length(), 1)
    low = np.uint64((1 << nbits) - 1)
    key = (bits[:, 0] * np.uint64(0x9E3779B97F4A7C15) ^ bits[:, 1]) & ~low
    packed = np.sort(key | np.arange(n, dtype=np.uint64))
    cand = np.flatnonzero((packed[1:] & ~low) == (packed[:-1] & ~low))
    a = (packed[cand] & low).astype(np.int64)
    b = (packed[cand + 1] & low).astype(np.int64)
    same = (xy[a, 0] == xy[b, 0]) & (xy[a, 1] == xy[b, 1]) & (idx[a] != idx[b])
    return idx[a[same]].astype(np.int64), idx[b[same]].astype(np.int64)


def neighbour_components(geoms: np.ndarray, gap: float, *, rounds: int = 3,
                         keep: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Connected components of the "within ``gap``" graph, without testing every neighbour pair.

    Geometries sharing a vertex are neighbours without a distance test
    (:func:`shared_vertex_edges`). The candidate pairs from
    :func:`bbox_pairs` are tested exactly (``shapely.distance <= gap``, or
    ``intersects`` with ``gap = 0``) in ``rounds`` growing batches; before
    each batch the pairs whose two ends are already connected are dropped.
    The result equals ``components(len(geoms), *neighbour_pairs(geoms, gap))``.

    ``keep`` (optional) is asked about edges before they join components:
    ``keep(i, j)`` returns a boolean mask of the index pairs that may join
    (barriers: :func:`planner.sites.overlay.barrier_filter`). It sees every
    shared-vertex edge and the near pairs of each batch, which are pairs not
    yet connected; so the result equals the components of the pairs within
    ``gap`` that ``keep`` accepts.

    Returns
    -------
    labels : ndarray of int
        Component (0..k-1) of each geometry.
    touch_labels : ndarray of int
        Components through the edges touching (shared vertex or distance 0)
        that ``keep`` accepts: exact. A site whose members have one touch
        label has no gaps to bridge. The batches skip pairs already connected,
        which can only split a touch component; so the candidate pairs of
        components with more than one touch label are tested for contact
        afterwards (:func:`_exact_touch`), and a site's touch labels never
        depend on the other parcels given (a partitioned build,
        :mod:`planner.scale.sites`, gives each site other neighbours).
    """
    n = len(geoms)
    big = n >= _PARALLEL_MIN and _WORKERS > 1
    if big:  # the bbox pairs (numpy, GIL released) overlap the shared-vertex scan (GEOS coordinates)
        with ThreadPoolExecutor(2) as ex:
            pairs = ex.submit(lambda: bbox_pairs(shapely.bounds(geoms), gap))
            si, sj = shared_vertex_edges(geoms)
            i, j = pairs.result()
    else:
        si, sj = shared_vertex_edges(geoms)
        i, j = bbox_pairs(shapely.bounds(geoms), gap)
    if keep is not None and len(si):
        ok = keep(si, sj)
        si, sj = si[ok], sj[ok]
    ci, cj = i, j
    labels = touch_labels = components(n, si, sj)
    # batches of 1/4, 1/4, 1/2 of the candidates (interleaved, so each covers the whole area); each
    # batch's edges merge the current components (a graph of components, not of parcels)
    for r in range(rounds):
        todo = labels[i] != labels[j]
        i, j = i[todo], j[todo]
        if not len(i):
            break
        step = 2 ** (rounds - 1 - r) if r < rounds - 1 else 1
        take = np.zeros(len(i), dtype=bool)
        take[::step] = True
        a, b = i[take], j[take]
        if gap > 0:
            d = _pairwise(shapely.distance, geoms[a], geoms[b])
            near, touch = d <= gap, d == 0
        else:
            near = touch = _pairwise(shapely.intersects, geoms[a], geoms[b])
        i, j = i[~take], j[~take]
        if keep is not None and near.any():
            near[near] = keep(a[near], b[near])
            touch = touch & near
        labels = _merge(labels, a[near], b[near])
        touch_labels = _merge(touch_labels, a[touch], b[touch])
    if gap > 0:
        touch_labels = _exact_touch(geoms, labels, touch_labels, ci, cj, keep)
    return labels, touch_labels


def _exact_touch(geoms: np.ndarray, labels: np.ndarray, touch_labels: np.ndarray, i: np.ndarray, j: np.ndarray,
                 keep) -> np.ndarray:
    """Touch labels completed: every candidate pair ``(i, j)`` inside a component that has several touch labels
    and joining two of them is tested for contact (``intersects``, and ``keep``)."""
    if not len(labels):
        return touch_labels
    k = int(touch_labels.max()) + 1
    split = np.bincount(_unique_int(labels * k + touch_labels) // k, minlength=int(labels.max()) + 1) > 1
    if not split.any():
        return touch_labels
    todo = split[labels[i]] & (labels[i] == labels[j]) & (touch_labels[i] != touch_labels[j])
    a, b = i[todo], j[todo]
    hit = _pairwise(shapely.intersects, geoms[a], geoms[b]) if len(a) else np.zeros(0, dtype=bool)
    if keep is not None and hit.any():
        hit[hit] = keep(a[hit], b[hit])
    return _merge(touch_labels, a[hit], b[hit])


def _unique_int(x: np.ndarray) -> np.ndarray:
    x = np.sort(x)
    return x[np.r_[True, x[1:] != x[:-1]]] if len(x) else x


def _merge(labels: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Component labels after adding the edges ``(a, b)`` to the graph that ``labels`` partitions."""
    if not len(a):
        return labels
    return components(int(labels.max()) + 1, labels[a], labels[b])[labels]


#: Element-wise GEOS calls on this many pairs or more run in two threads (shapely releases the GIL).
_PARALLEL_MIN = 20_000
_WORKERS = min(2, os.cpu_count() or 1)


def _pairwise(fn, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``fn(a, b)`` element-wise, split over two threads for large inputs (same result)."""
    if len(a) < _PARALLEL_MIN or _WORKERS < 2:
        return fn(a, b)
    h = len(a) // 2
    with ThreadPoolExecutor(2) as ex:
        lo = ex.submit(fn, a[:h], b[:h])
        hi = fn(a[h:], b[h:])
        return np.concatenate([lo.result(), hi])


def bbox_pairs(bounds: np.ndarray, gap: float) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs ``i < j`` whose bounding boxes lie within ``gap`` of each other (numpy grid hashing).

    A superset of the pairs within ``gap``: each box, grown by ``gap / 2``, is
    registered in the cells of a uniform grid (cell size: the median grown box
    extent) it covers; pairs are formed within cells and kept once, in the
    cell holding the lower-left corner of the two boxes' overlap.
    """
    n = len(bounds)
    if n < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    h = gap / 2.0
    x0, y0, x1, y1 = bounds[:, 0] - h, bounds[:, 1] - h, bounds[:, 2] + h, bounds[:, 3] + h
    cell = float(np.median(np.maximum(x1 - x0, y1 - y0)))
    cell = cell if cell > 0 else 1.0
    ox, oy = x0.min(), y0.min()
    cx0, cy0 = ((x0 - ox) // cell).astype(np.int64), ((y0 - oy) // cell).astype(np.int64)
    nx = ((x1 - ox) // cell).astype(np.int64) - cx0 + 1
    ny = ((y1 - oy) // cell).astype(np.int64) - cy0 + 1
    cnt = nx * ny
    box = np.repeat(np.arange(n, dtype=np.int64), cnt)
    k = np.arange(len(box), dtype=np.int64) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    ix = cx0[box] + k % nx[box]
    iy = cy0[box] + k // nx[box]
    stride = int(iy.max()) + 1
    key = ix * stride + iy
    order = np.argsort(key, kind="stable")
    key, box = key[order], box[order]
    start = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    run = np.diff(np.r_[start, len(key)])
    pos = np.arange(len(key)) - np.repeat(start, run)
    later = np.repeat(run, run) - pos - 1  # entries after this one in its cell
    a = np.repeat(np.arange(len(key)), later)
    b = a + 1 + (np.arange(len(a)) - np.repeat(np.cumsum(later) - later, later))
    i, j, cellkey = box[a], box[b], key[a]
    ok = (x0[i] <= x1[j]) & (x0[j] <= x1[i]) & (y0[i] <= y1[j]) & (y0[j] <= y1[i])
    i, j, cellkey = i[ok], j[ok], cellkey[ok]
    lx = ((np.maximum(x0[i], x0[j]) - ox) // cell).astype(np.int64)
    ly = ((np.maximum(y0[i], y0[j]) - oy) // cell).astype(np.int64)
    once = lx * stride + ly == cellkey
    i, j = i[once], j[once]
    return np.minimum(i, j), np.maximum(i, j)


def components(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Connected-component label (0..k-1) of each of ``n`` nodes given undirected edges."""
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    g = sparse.coo_matrix((np.ones(len(i), dtype=np.int8), (i, j)), shape=(n, n)).tocsr()
    _, labels = csgraph.connected_components(g, directed=False)
    return labels.astype(np.int64)


def grouped_union(geoms: np.ndarray, labels: np.ndarray, n_groups: int, *, close: float = 0.0,
                  closed: np.ndarray | None = None) -> np.ndarray:
    """Union of ``geoms`` per group label (0..n_groups-1), optionally morphologically closed.

    A group of one geometry is that geometry. The others are packed into one
    GeometryCollection each (vectorized constructor) and unioned by
    :func:`coverage_union` (snapped, then linear coverage union). With
    ``close > 0`` the groups selected by ``closed`` (default: all) are then
    grown by ``close`` and shrunk back (mitre joins keep right-angled
    corners), which bridges gaps narrower than ``2 * close`` between the
    members. Closing the union equals closing the members (a Minkowski sum
    distributes over union) and costs far less.
    """
    labels = np.asarray(labels, dtype=np.int64)
    counts = np.bincount(labels, minlength=n_groups)
    sel = np.zeros(n_groups, dtype=bool)
    if close > 0:
        sel = np.ones(n_groups, dtype=bool) if closed is None else np.asarray(closed, dtype=bool)
    out = np.empty(n_groups, dtype=object)
    order = np.argsort(labels, kind="stable")
    sorted_geoms = geoms[order]
    first = np.cumsum(counts) - counts
    one = counts == 1
    if one.any():  # a group of one parcel is that parcel
        out[one] = sorted_geoms[first[one]]
    many = np.flatnonzero(counts > 1)
    if len(many):
        rows = np.repeat(counts > 1, counts)
        code = np.repeat(np.arange(len(many)), counts[many])
        colls = shapely.geometrycollections(sorted_geoms[rows], indices=code)
        out[many] = coverage_union(colls)
    if sel.any():
        out[sel] = _threaded(_closing, out[sel], close)
    return out


def _closing(geoms: np.ndarray, dist: float) -> np.ndarray:
    grown = shapely.buffer(geoms, dist, join_style="mitre", mitre_limit=5.0)
    out = shapely.buffer(grown, -dist, join_style="mitre", mitre_limit=5.0)
    bad = ~shapely.is_valid(out)  # rare mitre artefacts (self-touching rings)
    if bad.any():
        out[bad] = shapely.make_valid(out[bad], method="structure", keep_collapsed=False)
    return out


def _threaded(func, geoms: np.ndarray, *args, workers: int | None = None) -> np.ndarray:
    """``func(geoms, *args)`` on two (or ``workers``) chunks of similar vertex count in threads.

    Shapely releases the GIL inside its vectorized GEOS calls, so the chunks
    run on separate cores.
    """
    workers = workers or min(2, os.cpu_count() or 1)
    if workers < 2 or len(geoms) < 2 * workers:
        return func(geoms, *args)
    cum = np.cumsum(shapely.get_num_coordinates(geoms))
    cuts = np.searchsorted(cum, cum[-1] * np.arange(1, workers) / workers)
    chunks = np.split(geoms, cuts)
    with ThreadPoolExecutor(workers) as ex:
        return np.concatenate(list(ex.map(lambda g: func(g, *args), chunks)))


#: Snapping tolerance (metres) that nodes T-junctions before coverage union: a vertex this close to
#: a neighbour's edge is inserted into that edge. Far below survey precision (cm), far above
#: floating-point noise of split parcels (nm).
SNAP_TOL = 1e-4

#: Snapping is quadratic in a collection's vertex count; past this many vertices (about 300
#: parcels) the general union is cheaper (per-parcel cost measured: snap 16 us at 1,920 vertices,
#: 33 us at 4,320; general union about 20 us).
SNAP_MAX_VERTICES = 2_000

#: Collections per coverage-union attempt (a rejected chunk is done again one collection at a time).
_CHUNK = 64


def coverage_union(colls: np.ndarray, *, snap_tol: float = SNAP_TOL) -> np.ndarray:
    """Union of the polygons of each GeometryCollection: snapped coverage union, general union as fallback.

    GEOS coverage union is linear but needs non-overlapping polygons noded
    alike. Surveys are full of T-junctions (a parcel edge running past the
    corner where two neighbours meet), so each collection is first snapped
    to itself (``shapely.snap`` inserts a vertex that lies within
    ``snap_tol`` of an edge into that edge). That nodes T-junctions and
    closes slivers between two shared corners (a neighbour's vertex a few
    nanometres off the edge), which the general union keeps as parts touching
    at points, their common side counted twice in the perimeter. Chunks
    GEOS still rejects (overlaps, corners a hair apart instead of shared)
    and invalid results get the general (cascaded) union of the unsnapped
    collections, and so do collections of more than
    :data:`SNAP_MAX_VERTICES` vertices. Runs in two threads (shapely
    releases the GIL).

    Measured on the 1M-parcel sample city (213,512 parcels in 44,472
    multi-parcel sites): snapping plus coverage union takes about a third
    of the general union's time; 99.4% of 64-site chunks pass; 27,726 of the
    sites lose sliver double-counting in their perimeter (areas equal to
    1e-7).
    """
    if not len(colls):
        return np.empty(0, dtype=object)
    return _threaded(_snapped_coverage_union, colls, snap_tol)


def _snapped_coverage_union(colls: np.ndarray, snap_tol: float) -> np.ndarray:
    out = np.empty(len(colls), dtype=object)
    big = shapely.get_num_coordinates(colls) > SNAP_MAX_VERTICES
    if big.any():
        out[big] = lib.unary_union(colls[big])
    small = np.flatnonzero(~big)
    snapped = shapely.snap(colls[small], colls[small], snap_tol) if snap_tol > 0 else colls[small]
    # in chunks from the start: a city's sites hold a few that GEOS rejects, and an attempt on the whole array
    # stops at the first of them (at 1M parcels about half the work, done again in chunks)
    for start in range(0, len(small), _CHUNK):
        part = small[start:start + _CHUNK]
        try:
            out[part] = lib.coverage_union(snapped[start:start + _CHUNK])
        except shapely.errors.GEOSException:
            # one by one: a site's outline must not depend on which sites share its chunk
            # (a partitioned build, planner.scale.sites, chunks other sites with it)
            for k in range(start, min(start + _CHUNK, len(small))):
                try:
                    out[small[k]] = lib.coverage_union(snapped[k])
                except shapely.errors.GEOSException:
                    out[small[k]] = lib.unary_union(colls[small[k]])
    bad = np.flatnonzero(~shapely.is_valid(out))
    if len(bad):
        out[bad] = lib.unary_union(colls[bad])
    return out
