"""Geometry of the sample city: smooth fields, arterial network, river, rail, farmland, parcels.

Everything is built in local metres around (0, 0) and shifted to the
workspace CRS by the caller. All steps are whole-array shapely 2 / NumPy
operations; the only Python loops run over split *levels* (about 15) and over
the handful of roads, never over parcels.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import shapely

from planner.schema import MU_M2


class Field:
    """A smooth random field: a normalized sum of random plane waves.

    ``wavelength`` (metres) sets the size of the patches; values have mean 0
    and standard deviation about 1.
    """

    def __init__(self, rng: np.random.Generator, wavelength: float, n_waves: int = 12) -> None:
        ang = rng.uniform(0, np.pi, n_waves)
        lam = wavelength * rng.uniform(0.6, 1.6, n_waves)
        k = 2 * np.pi / lam
        self.kx, self.ky = k * np.cos(ang), k * np.sin(ang)
        self.phase = rng.uniform(0, 2 * np.pi, n_waves)
        self.amp = rng.uniform(0.5, 1.0, n_waves)
        self.norm = np.sqrt(0.5 * np.sum(self.amp**2))

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)[..., None]
        y = np.asarray(y, dtype=float)[..., None]
        return np.sum(self.amp * np.cos(x * self.kx + y * self.ky + self.phase), axis=-1) / self.norm


@dataclass
class Network:
    """Linear and areal features of the city (local metres)."""

    roads: np.ndarray  # LineStrings (centrelines)
    road_width: np.ndarray
    road_class: np.ndarray  # "main" / "secondary"
    railways: np.ndarray
    river_lines: np.ndarray
    river_water: np.ndarray  # Polygons
    river_width: np.ndarray
    farmland: np.ndarray  # Polygons
    cut: np.ndarray  # Polygons whose union is everything that is not parcel land


def _wavy(rng, t: np.ndarray, along: np.ndarray, normal: np.ndarray, origin: np.ndarray,
          amp: float, lam: float) -> np.ndarray:
    """Points origin + t*along + w(t)*normal with a two-harmonic wobble w."""
    p1, p2 = rng.uniform(0, 2 * np.pi, 2)
    w = amp * np.sin(2 * np.pi * t / lam + p1) + 0.35 * amp * np.sin(2 * np.pi * t / (lam / 2.7) + p2)
    return origin[None, :] + t[:, None] * along[None, :] + w[:, None] * normal[None, :]


def build_network(rng: np.random.Generator, bounds: tuple[float, float, float, float],
                  region: shapely.Geometry, *, max_len: float | None = None) -> Network:
    """Perturbed arterial grid (spacing 600-1200 m), diagonals, a railway, rivers and farmland.

    Diagonal roads, railways and rivers cross the whole region unless
    ``max_len`` (metres) caps their length: then they are scattered over the
    region and their density (length per km², as their number grows with the
    area) stays that of a district of about that size, instead of growing with
    the square root of the area.
    """
    minx, miny, maxx, maxy = bounds
    w, h = maxx - minx, maxy - miny
    area_km2 = w * h / 1e6
    step = 80.0
    roads, widths, classes = [], [], []
    # perturbed grid: near-vertical then near-horizontal families
    for axis in (0, 1):
        lo, hi = (minx, maxx) if axis == 0 else (miny, maxy)
        a_lo, a_hi = (miny, maxy) if axis == 0 else (minx, maxx)
        pos = lo - rng.uniform(0, 600)
        tilt = rng.uniform(-0.12, 0.12)  # whole family leans a little
        k = 0
        while pos < hi + 600:
            length = a_hi - a_lo + 2000
            t = np.arange(0.0, length + step, step)
            # some roads stop part-way (T-junctions), a few are short connectors
            if rng.random() < 0.3:
                s0, s1 = np.sort(rng.uniform(0, length, 2))
                if s1 - s0 > 1500:
                    t = t[(t >= s0) & (t <= s1)]
            ang = tilt + rng.normal(0, 0.04)
            along = np.array([np.sin(ang), np.cos(ang)]) if axis == 0 else np.array([np.cos(ang), np.sin(ang)])
            normal = np.array([along[1], -along[0]])
            origin = np.array([pos, a_lo - 1000]) if axis == 0 else np.array([a_lo - 1000, pos])
            amp = rng.choice([0.0, 40.0, 120.0, 250.0], p=[0.25, 0.35, 0.25, 0.15])
            pts = _wavy(rng, t, along, normal, origin, amp, rng.uniform(2500, 7000))
            roads.append(shapely.linestrings(pts))
            main = k % 3 == 0 or rng.random() < 0.2
            widths.append(rng.uniform(44, 60) if main else rng.uniform(26, 36))
            classes.append("main" if main else "secondary")
            pos += rng.uniform(600, 1200)
            k += 1
    # diagonals
    n_diag = max(2, int(round(area_km2 / 70)))
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    diag = max(w, h) * 1.6
    capped = max_len is not None and diag > max_len
    if capped:
        diag = float(max_len)
    for _ in range(n_diag):
        ang = rng.choice([rng.uniform(0.4, 1.1), rng.uniform(2.0, 2.7)])
        along = np.array([np.cos(ang), np.sin(ang)])
        normal = np.array([-along[1], along[0]])
        c = np.array([rng.uniform(minx, maxx), rng.uniform(miny, maxy)]) if n_diag > 2 else \
            np.array([cx, cy]) + rng.normal(0, 0.15, 2) * [w, h]
        t = np.arange(-diag / 2, diag / 2 + step, step)
        pts = _wavy(rng, t, along, normal, c, rng.uniform(50, 300), rng.uniform(4000, 9000))
        roads.append(shapely.linestrings(pts))
        widths.append(rng.uniform(50, 64))
        classes.append("main")
    roads_a = shapely.intersection(np.array(roads, dtype=object), shapely.buffer(region, 200))
    keep = ~shapely.is_empty(roads_a)
    roads_a, widths_a, classes_a = roads_a[keep], np.array(widths)[keep], np.array(classes)[keep]

    # railway(s): long gentle curves across the district
    rails = []
    for _ in range(max(1, int(round(area_km2 / 400)))):
        ang = rng.uniform(0.2, 1.3) + (np.pi / 2 if rng.random() < 0.5 else 0)
        along = np.array([np.cos(ang), np.sin(ang)])
        normal = np.array([-along[1], along[0]])
        c = np.array([cx, cy]) + rng.uniform(-0.3, 0.3, 2) * [w, h] * (1.6 if capped else 1.0)
        t = np.arange(-diag / 2, diag / 2 + step, step)
        rails.append(shapely.linestrings(_wavy(rng, t, along, normal, c, rng.uniform(300, 900), 25000)))
    rails_a = shapely.intersection(np.array(rails, dtype=object), shapely.buffer(region, 200))
    rails_a = rails_a[~shapely.is_empty(rails_a)]

    # meandering rivers
    rivers, rwidth = [], []
    for i in range(max(1, int(round(area_km2 / 150)))):
        ang = rng.uniform(0, np.pi)
        along = np.array([np.cos(ang), np.sin(ang)])
        normal = np.array([-along[1], along[0]])
        off = (0.18 if i == 0 else rng.uniform(-0.45, 0.45))
        c = np.array([cx, cy]) + off * np.array([w, h]) * normal
        if capped:  # scattered along the flow direction too
            c = c + rng.uniform(-0.5, 0.5) * np.array([w, h]) * along
        t = np.arange(-diag / 2, diag / 2 + 40, 40.0)
        rivers.append(shapely.linestrings(_wavy(rng, t, along, normal, c, rng.uniform(250, 500), rng.uniform(2200, 3500))))
        rwidth.append(rng.uniform(50, 90))
    rivers_a = shapely.intersection(np.array(rivers, dtype=object), shapely.buffer(region, 500))
    ok = ~shapely.is_empty(rivers_a)
    rivers_a, rwidth_a = rivers_a[ok], np.array(rwidth)[ok]
    water = shapely.buffer(rivers_a, rwidth_a / 2, quad_segs=4)

    # permanent farmland: lobed patches, preferring the periphery
    n_farm = max(3, int(round(area_km2 / 25)))
    fx = rng.uniform(minx, maxx, n_farm * 4)
    fy = rng.uniform(miny, maxy, n_farm * 4)
    dist = np.hypot((fx - cx) / (w / 2), (fy - cy) / (h / 2))
    pick = np.argsort(-(dist + rng.uniform(0, 0.6, dist.size)))[:n_farm]
    theta = np.linspace(0, 2 * np.pi, 25)[:-1]
    r0 = rng.uniform(350, 900, n_farm)[:, None]
    lobes = r0 * (1 + 0.25 * np.sin(3 * theta[None, :] + rng.uniform(0, 6, (n_farm, 1)))
                  + 0.12 * np.sin(5 * theta[None, :] + rng.uniform(0, 6, (n_farm, 1))))
    ring = np.stack([fx[pick, None] + lobes * np.cos(theta), fy[pick, None] + lobes * np.sin(theta)], axis=-1)
    ring = np.concatenate([ring, ring[:, :1]], axis=1)
    farm = shapely.intersection(shapely.polygons(ring), region)
    farm = farm[shapely.area(farm) > 1e4]

    cut = np.concatenate([
        shapely.buffer(roads_a, widths_a / 2, cap_style="flat", quad_segs=2),
        shapely.buffer(rails_a, 20.0, cap_style="flat", quad_segs=2),
        shapely.buffer(water, 6.0, quad_segs=2),
        farm,
    ])
    return Network(roads_a, widths_a, classes_a, rails_a, rivers_a, water, rwidth_a, farm, cut)


def city_blocks(region: shapely.Geometry, cut: np.ndarray, *, tile_m: float | None = None,
                margin_m: float = 2500.0, workers: int | None = None, progress=None) -> np.ndarray:
    """Blocks: the polygons of ``region`` minus the union of ``cut``.

    With ``tile_m`` the work is done tile by tile (tiles of ``tile_m`` metres
    grown by ``margin_m``): each tile unions only the cut shapes it overlaps,
    clipped to it, and keeps the blocks whose centroid lies in its core. A
    block that reaches the grown tile's edge (inside the region) may continue
    beyond it, so its tile is done again with twice the margin. The result is
    the same set of blocks as the one big union (up to floating point and the
    order), at a cost linear in the area instead of one overlay of every road,
    river, railway and farmland shape of the region.

    Parameters
    ----------
    region : Polygon
    cut : array of Polygon
    tile_m, margin_m : float
    workers : int, optional
        Threads for the tiles (default: the CPU count, at most 4); the result does not depend on it.
    progress : callable(n_done_tiles, n_tiles), optional

    Returns
    -------
    array of Polygon (and possibly other parts; the caller filters)
    """
    if tile_m is None:
        return shapely.get_parts(shapely.difference(region, shapely.union_all(cut)))
    rminx, rminy, rmaxx, rmaxy = region.bounds
    nx, ny = max(1, int(np.ceil((rmaxx - rminx) / tile_m))), max(1, int(np.ceil((rmaxy - rminy) / tile_m)))
    xs = rminx + np.arange(nx + 1) * (rmaxx - rminx) / nx
    ys = rminy + np.arange(ny + 1) * (rmaxy - rminy) / ny
    tree = shapely.STRtree(cut)
    eps = 1e-6 * tile_m

    def tile(ij):
        i, j = ij
        x0, x1, y0, y1 = xs[i], xs[i + 1], ys[j], ys[j + 1]
        m = margin_m
        while True:
            ext = (max(x0 - m, rminx), max(y0 - m, rminy), min(x1 + m, rmaxx), min(y1 + m, rmaxy))
            local = shapely.clip_by_rect(cut[tree.query(shapely.box(*ext))], *ext)
            land = shapely.clip_by_rect(region, *ext)
            parts = shapely.get_parts(shapely.difference(land, shapely.union_all(local)))
            cen = shapely.get_coordinates(shapely.centroid(parts))
            # half-open cores; the last row/column takes its far edge
            core = ((cen[:, 0] >= x0) & ((cen[:, 0] < x1) | (i == nx - 1))
                    & (cen[:, 1] >= y0) & ((cen[:, 1] < y1) | (j == ny - 1)))
            parts = parts[core]
            b = shapely.bounds(parts)
            open_edge = (((b[:, 0] <= ext[0] + eps) & (ext[0] > rminx))
                         | ((b[:, 1] <= ext[1] + eps) & (ext[1] > rminy))
                         | ((b[:, 2] >= ext[2] - eps) & (ext[2] < rmaxx))
                         | ((b[:, 3] >= ext[3] - eps) & (ext[3] < rmaxy)))
            if not open_edge.any():
                return parts
            m *= 2  # a block may continue beyond the grown tile: grow more

    tiles = [(i, j) for j in range(ny) for i in range(nx)]
    out = list(_map_threads(tile, tiles, workers, progress))
    return np.concatenate(out) if out else np.empty(0, dtype=object)


def _map_threads(fn, items, workers: int | None, progress=None):
    """``map(fn, items)`` on a thread pool (shapely and NumPy release the GIL); results in item order."""
    from concurrent.futures import ThreadPoolExecutor

    workers = workers or min(4, os.cpu_count() or 1)
    if workers <= 1:
        for k, it in enumerate(items):
            yield fn(it)
            if progress is not None:
                progress(k + 1, len(items))
        return
    with ThreadPoolExecutor(workers) as ex:
        for k, res in enumerate(ex.map(fn, items)):
            yield res
            if progress is not None:
                progress(k + 1, len(items))


def _half_planes(p: np.ndarray, d: np.ndarray, half_gap: np.ndarray, big: np.ndarray):
    """Rectangles covering {(x-p).d < -g} and {(x-p).d > g}, clipped to size ``big``."""
    n = np.column_stack([-d[:, 1], d[:, 0]])
    B = big[:, None]
    ql = p - d * half_gap[:, None]
    qr = p + d * half_gap[:, None]
    left = np.stack([ql + n * B, ql - n * B, ql - n * B - d * B, ql + n * B - d * B, ql + n * B], axis=1)
    right = np.stack([qr + n * B, qr + n * B + d * B, qr - n * B + d * B, qr - n * B, qr + n * B], axis=1)
    return shapely.polygons(left), shapely.polygons(right)


def _clip_rings(xy: np.ndarray, nxt: np.ndarray, piece: np.ndarray, side: np.ndarray, n: int) -> np.ndarray:
    """Sutherland-Hodgman clip of many rings to ``side <= 0`` (``side`` = signed distance of each vertex).

    Exact for a simple ring that crosses the line exactly twice: the kept
    vertices are the input ones and the two new ones lie on the line (the same
    floating-point values for both sides of a cut without gap, so siblings share
    their boundary exactly). Every ring here must cross twice. Returns one
    Polygon per ring.
    """
    a_in = side <= 0
    b_in = a_in[nxt]
    cross = a_in != b_in
    # the point where edge a -> b meets the line (computed once per edge for both sides)
    t = np.where(cross, side / np.where(cross, side - side[nxt], 1.0), 0.0)
    x = xy + t[:, None] * (xy[nxt] - xy)
    n_out = np.where(a_in, 1, np.where(b_in, 2, 0))
    edge = np.repeat(np.arange(len(xy)), n_out)
    first = np.r_[0, np.cumsum(n_out)[:-1]]
    k = np.arange(len(edge)) - np.repeat(first, n_out)
    # in->in: b; in->out: X; out->in: X then b
    take_b = (a_in[edge] & b_in[edge]) | (~a_in[edge] & (k == 1))
    out = np.where(take_b[:, None], xy[nxt[edge]], x[edge])
    return shapely.polygons(shapely.linearrings(out, indices=piece[edge]))


def split_exact(pieces: np.ndarray, p: np.ndarray, d: np.ndarray, half_gap: np.ndarray):
    """Split polygons by the lines through ``p`` normal to ``d`` (a lane of 2 ``half_gap`` between the halves).

    Whole-array Sutherland-Hodgman on the ring coordinates, for the pieces
    without holes whose ring crosses each line twice; the others (``ok`` False)
    are left to the caller (GEOS overlay). Returns ``(left, right, ok)``; left
    and right hold None where not ``ok``.
    """
    n = len(pieces)
    # all rings' vertices: a piece with holes is not ok below, so the others' vertices are their exterior ring
    xy, gi = shapely.get_coordinates(pieces, return_index=True)
    counts = np.bincount(gi, minlength=n)
    ends = np.cumsum(counts)
    keep = np.ones(len(xy), dtype=bool)
    keep[ends[counts > 0] - 1] = False  # drop the closing vertex
    xy, gi = xy[keep], gi[keep]
    counts = np.maximum(counts - 1, 0)
    start = np.cumsum(counts) - counts
    nxt = np.arange(len(xy)) + 1
    nxt[(start + counts - 1)[counts > 0]] = start[counts > 0]
    s = (xy[:, 0] - p[gi, 0]) * d[gi, 0] + (xy[:, 1] - p[gi, 1]) * d[gi, 1]
    g = half_gap[gi]
    s_left, s_right = s + g, g - s  # <= 0 on the kept side
    n_left = np.bincount(gi, weights=(s_left <= 0) != (s_left[nxt] <= 0), minlength=n)
    n_right = np.bincount(gi, weights=(s_right <= 0) != (s_right[nxt] <= 0), minlength=n)
    ok = (n_left == 2) & (n_right == 2) & (shapely.get_num_interior_rings(pieces) == 0) & (counts >= 3)
    sel = ok[gi]
    idx = np.flatnonzero(ok)
    # renumber the kept rings' vertices
    new_pos = np.cumsum(sel) - 1
    xy_k, nxt_k = xy[sel], new_pos[nxt[sel]]
    piece_k = np.searchsorted(idx, gi[sel])
    left = np.full(n, None, dtype=object)
    right = np.full(n, None, dtype=object)
    if len(idx):
        left[idx] = _clip_rings(xy_k, nxt_k, piece_k, s_left[sel], len(idx))
        right[idx] = _clip_rings(xy_k, nxt_k, piece_k, s_right[sel], len(idx))
    return left, right, ok


def subdivide(rng: np.random.Generator, blocks: np.ndarray, target_fn, *, lane_min_m2: float = 90_000.0,
              min_m2: float = 2.3 * MU_M2, fast: bool = False, progress=None) -> tuple[np.ndarray, np.ndarray]:
    """Recursively split polygons along their long axis until each is below its drawn target size.

    Parameters
    ----------
    blocks : array of Polygon
    target_fn : callable(x, y, block_index, rng) -> target areas (m²) of pieces centred at x, y
    lane_min_m2 : float
        Pieces larger than this are split, half of the time, with a local lane
        (a gap of 8-14 m) instead of a shared boundary.
    min_m2 : float
        Pieces below this are never split (children would be under about 1 mu).
    fast : bool
        Split by whole-array Sutherland-Hodgman (:func:`split_exact`) where it
        is exact, GEOS overlay elsewhere (about 5x faster). The parcels are the
        same up to floating point, so the default (GEOS everywhere) keeps the
        committed sample city reproducible bit for bit.

    Returns
    -------
    (parcels, block_index) : arrays of Polygon and int
    """
    pieces = np.asarray(blocks, dtype=object)
    owner = np.arange(len(pieces))
    done_g, done_b = [], []
    level = 0
    while len(pieces):
        area = shapely.area(pieces)
        cen = shapely.get_coordinates(shapely.centroid(pieces))
        target = target_fn(cen[:, 0], cen[:, 1], owner, rng)
        active = (area > target) & (area > min_m2)
        # heavy tail: now and then a large plot is kept whole (a big plant, a logistics yard)
        active &= ~((area > 50 * MU_M2) & (area < 250 * MU_M2) & (rng.random(len(area)) < 0.05))
        done_g.append(pieces[~active])
        done_b.append(owner[~active])
        pieces, owner, area = pieces[active], owner[active], area[active]
        if not len(pieces):
            break
        mrr = shapely.oriented_envelope(pieces)
        ok = shapely.get_num_coordinates(mrr) == 5
        mrr = np.where(ok, mrr, shapely.envelope(pieces))
        c = shapely.get_coordinates(mrr).reshape(-1, 5, 2)  # rectangles: exterior ring only
        e1, e2 = c[:, 1] - c[:, 0], c[:, 2] - c[:, 1]
        l1, l2 = np.hypot(*e1.T), np.hypot(*e2.T)
        long_is_1 = l1 >= l2
        vec = np.where(long_is_1[:, None], e1, e2)
        L = np.maximum(np.where(long_is_1, l1, l2), 1e-9)
        d = vec / L[:, None]
        jit = rng.normal(0, 0.06, len(pieces))  # cut angle jitter (radians)
        cs, sn = np.cos(jit), np.sin(jit)
        d = np.column_stack([d[:, 0] * cs - d[:, 1] * sn, d[:, 0] * sn + d[:, 1] * cs])
        f = rng.uniform(0.33, 0.67, len(pieces))
        off = (rng.random(len(pieces)) < 0.12) & (area * 0.12 > 1.3 * MU_M2)  # now and then a small corner plot
        f[off] = rng.uniform(0.12, 0.25, off.sum())
        mid = c[:, :4].mean(axis=1)
        p = mid + d * ((f - 0.5) * L)[:, None]
        lane = (area > lane_min_m2) & (rng.random(len(pieces)) < 0.5)
        half_gap = np.where(lane, rng.uniform(4.0, 7.0, len(pieces)), 0.0)
        big = L + np.where(long_is_1, l2, l1) + 50.0
        if fast:
            left, right, ok = split_exact(pieces, p, d, half_gap)
            hard = ~ok
        else:
            left, right = np.full(len(pieces), None, dtype=object), np.full(len(pieces), None, dtype=object)
            hard = np.ones(len(pieces), dtype=bool)
        if hard.any():
            hl, hr = _half_planes(p[hard], d[hard], half_gap[hard], big[hard])
            left[hard] = shapely.intersection(pieces[hard], hl)
            right[hard] = shapely.intersection(pieces[hard], hr)
        kids = np.concatenate([left, right])
        kid_owner = np.concatenate([owner, owner])
        multi = np.concatenate([hard, hard])  # the clip gives one Polygon; an overlay may give several parts
        parts, idx = shapely.get_parts(kids[multi], return_index=True)
        parts = np.concatenate([kids[~multi], parts])
        part_owner = np.concatenate([kid_owner[~multi], kid_owner[multi][idx]])
        poly = shapely.get_type_id(parts) == 3
        keep = poly & (shapely.area(parts) > 150.0)
        pieces, owner = parts[keep], part_owner[keep]
        level += 1
        if progress is not None:
            progress(level, len(pieces))
    return np.concatenate(done_g), np.concatenate(done_b)


def subdivide_chunks(rng: np.random.Generator, blocks: np.ndarray, target_fn, *, n_chunks: int = 32,
                     workers: int | None = None, progress=None, **kw) -> tuple[np.ndarray, np.ndarray]:
    """:func:`subdivide` on ``n_chunks`` runs of consecutive blocks, each with its own generator, on threads.

    The result depends on ``rng`` and ``n_chunks`` only (not on ``workers``
    or on timing). Block indices passed to ``target_fn`` and returned are
    those of ``blocks``. ``progress(n_done_chunks, n_chunks)``.
    """
    n = len(blocks)
    k = max(1, min(n_chunks, n))
    edge = np.linspace(0, n, k + 1).astype(np.int64)
    seeds = np.random.SeedSequence(int(rng.integers(2**63))).spawn(k)

    def run(c):
        a, b = edge[c], edge[c + 1]

        def tf(x, y, owner, r):
            return target_fn(x, y, owner + a, r)

        g, o = subdivide(np.random.default_rng(seeds[c]), blocks[a:b], tf, **kw)
        return g, o + a

    res = list(_map_threads(run, range(k), workers, progress))
    return np.concatenate([g for g, _ in res]), np.concatenate([o for _, o in res])


def disjoint_pairs(a: np.ndarray, b: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random candidate pairs ``(a, b)`` thinned so that no element is in two pairs.

    One random partner is kept per ``a`` (a random permutation first), then
    every pair that shares an element with another pair is dropped.
    """
    order = rng.permutation(len(a))
    a, b = a[order], b[order]
    _, first = np.unique(a, return_index=True)
    a, b = a[first], b[first]
    uniq, counts = np.unique(np.concatenate([a, b]), return_counts=True)
    dup = uniq[counts > 1]
    ok = ~(np.isin(a, dup) | np.isin(b, dup))
    return a[ok], b[ok]


def merge_l_shapes(rng: np.random.Generator, parcels: np.ndarray, block: np.ndarray,
                   share: float = 0.04, max_m2: float = 60 * MU_M2) -> tuple[np.ndarray, np.ndarray]:
    """Merge a few pairs of neighbouring parcels of a block into one (L-shapes and irregular plots).

    Returns the new parcel array and block index (merged pairs replaced by their union).
    """
    n = len(parcels)
    cand = np.flatnonzero(rng.random(n) < share)
    tree = shapely.STRtree(parcels)
    a, b = tree.query(parcels[cand], predicate="intersects")
    a = cand[a]
    ok = (a != b) & (block[a] == block[b])
    a, b = a[ok], b[ok]
    if not len(a):
        return parcels, block
    shared = shapely.length(shapely.intersection(shapely.boundary(parcels[a]), shapely.boundary(parcels[b])))
    area = shapely.area(parcels[a]) + shapely.area(parcels[b])
    ok = (shared > 15.0) & (area < max_m2)
    a, b = a[ok], b[ok]
    a, b = disjoint_pairs(a, b, rng)
    merged = shapely.union(parcels[a], parcels[b], grid_size=None)
    merged = np.where(shapely.get_type_id(merged) == 3, merged, None)
    good = merged != None  # noqa: E711 - object array comparison
    a, b, merged = a[good], b[good], merged[good]
    drop = np.zeros(n, dtype=bool)
    drop[b] = True
    out = parcels.copy()
    out[a] = merged
    return out[~drop], block[~drop]
