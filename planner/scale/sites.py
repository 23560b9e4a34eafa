"""Contiguous sites of a partitioned survey on a Dask cluster: the in-memory partition of parcels into sites.

:func:`build_sites_partitioned` never re-states a site rule: every site is
built by :func:`planner.sites.build_sites` itself, on a piece of the survey
that holds the whole site and everything around it. Finding those pieces is
the distributed part:

1. **Groups.** Each partition links its flagged parcels within ``gap_m`` that
   no barrier separates (:func:`planner.sites.graph.neighbour_components`
   with the barrier test of :mod:`planner.sites.overlay`). Parcels of two
   partitions can be neighbours only where one partition's parcels (grown by
   ``gap_m``) reach into the grid cells the other's occupy, so each partition
   sends just those parcels (its halo) to the lower-numbered partitions
   there, which find the pairs across. A global union-find
   (``scipy.sparse.csgraph.connected_components``) over the per-partition
   components and these few cross pairs gives the groups. A group is a site
   or the union of several (parcels that protected land excludes still link
   here, which can only merge; streets and size limits cut sites out of a
   cluster later, inside the unit), never a part of one.
2. **Units.** Each group is given to one partition, its home (the lowest
   partition it touches). A unit is the home partition's parcels, plus, from
   the other partitions, every parcel whose box meets a home group's box
   grown by ``max(gap_m, barrier_contact_tol_m) + 1`` m (the group's other
   members, enclave candidates) and all members of any group whose box meets
   one (so a site around or inside a home site is whole too).
3. **Build.** :func:`planner.sites.build_sites` runs on each unit, with the
   barriers near it and the protected land cut once for the whole survey
   (:class:`planner.sites.overlay.ProtectedPieces`: the same pieces as
   in memory). A unit keeps the sites of its home groups and checks that
   they hold every parcel of those groups (or list it as excluded).
4. **Stitch.** Site ids are given over all sites in the in-memory order
   (flagged land descending, ties by the smallest parcel id, summed in
   survey order), the parcel-to-site table is sorted as in memory, and
   :func:`planner.sites.rescore` normalizes the scores over all sites.

The parcels' order is their ``input_row`` (the survey's order), which every
tie-break of the in-memory build follows.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from planner.errors import DataError
from planner.i18n import note
from planner.io import geoparquet as gpq
from planner.scale.cluster import gather_with_progress
from planner.sites import build as _build
from planner.sites import graph as _graph
from planner.sites import overlay as _overlay
from planner.sites.build import build_sites, rescore
from planner.sites.params import SiteParams, SiteResult

#: Columns never read for sites (long texts).
SKIP_COLUMNS = ("reason_zh", "reason_en")
#: Occupancy grid cell, in median flagged-parcel extents.
CELL_EXTENTS = 8.0


# -- geometry helpers ---------------------------------------------------------------

def _geoms(frame: gpd.GeoDataFrame) -> np.ndarray:
    return np.asarray(frame.geometry.values, dtype=object)


def _flag_mask(frame: pd.DataFrame) -> np.ndarray:
    return frame["three_low"].fillna(False).astype(bool).to_numpy()


def _boxes_meet(bounds: np.ndarray, box) -> np.ndarray:
    """Which rows of ``bounds`` (n x 4) meet the box ``(x0, y0, x1, y1)``."""
    return ((bounds[:, 0] <= box[2]) & (bounds[:, 2] >= box[0]) & (bounds[:, 1] <= box[3])
            & (bounds[:, 3] >= box[1]))


def _grown(box, d: float) -> tuple:
    return box[0] - d, box[1] - d, box[2] + d, box[3] + d


def _cells(bounds: np.ndarray, cell: float) -> tuple[np.ndarray, np.ndarray]:
    """``(row, cell key)`` for every grid cell each box covers (cells of side ``cell`` from the origin)."""
    if not len(bounds):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    cx0 = np.floor(bounds[:, 0] / cell).astype(np.int64)
    cy0 = np.floor(bounds[:, 1] / cell).astype(np.int64)
    nx = np.floor(bounds[:, 2] / cell).astype(np.int64) - cx0 + 1
    ny = np.floor(bounds[:, 3] / cell).astype(np.int64) - cy0 + 1
    cnt = nx * ny
    row = np.repeat(np.arange(len(bounds), dtype=np.int64), cnt)
    k = np.arange(len(row), dtype=np.int64) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    ix = cx0[row] + k % nx[row]
    iy = cy0[row] + k // nx[row]
    return row, (ix + 2**30) * 2**31 + (iy + 2**30)


class _Layers:
    """Barriers (whole geometries) and protected pieces with their boxes; each task picks those near it."""

    def __init__(self, barriers: np.ndarray, pieces: np.ndarray):
        self.barriers = barriers
        self.barrier_bounds = shapely.bounds(barriers) if len(barriers) else np.zeros((0, 4))
        self.pieces = pieces
        self.piece_bounds = shapely.bounds(pieces) if len(pieces) else np.zeros((0, 4))

    def barriers_near(self, box, d: float) -> np.ndarray:
        return self.barriers[_boxes_meet(self.barrier_bounds, _grown(box, d))]

    def pieces_near(self, box) -> np.ndarray:
        return self.pieces[_boxes_meet(self.piece_bounds, box)]  # a boolean mask keeps their order


def _reach(params: SiteParams) -> float:
    return _overlay.barrier_reach(params.gap_m, params.barrier_contact_tol_m)


def _margin(params: SiteParams) -> float:
    return max(params.gap_m, params.barrier_contact_tol_m) + 1.0


def _total_box(bounds: np.ndarray):
    return (bounds[:, 0].min(), bounds[:, 1].min(), bounds[:, 2].max(), bounds[:, 3].max())


# -- stage 1: groups --------------------------------------------------------------------

def partition_groups(path: str, layers: _Layers, params: SiteParams) -> dict:
    """Components of the flagged parcels of one partition (barriers applied); kept on the worker."""
    part = gpq.read_partition(path, columns=["input_row", "three_low", "geometry"])
    box_all = tuple(part.total_bounds) if len(part) else None
    flag = part[_flag_mask(part)].reset_index(drop=True)
    g = _geoms(flag)
    b = shapely.bounds(g) if len(g) else np.zeros((0, 4))
    if len(g):
        bar = _build._as_geoms(layers.barriers_near(_total_box(b), _reach(params)), "barriers")
        near = _build._near_barriers(g, bar, params)
        labels, _touch = _build._components(g, near, params, lambda _m: None)
    else:
        labels = np.zeros(0, np.int64)
    n = int(labels.max()) + 1 if len(labels) else 0
    ext = np.median(np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])) if len(b) else np.nan
    return {"rows": flag["input_row"].to_numpy(), "geoms": g, "bounds": b, "labels": labels, "n_comp": n,
            "comp_bounds": _group_bounds(b, labels, n), "extent": float(ext), "box_all": box_all}


def _group_bounds(b: np.ndarray, labels: np.ndarray, n: int) -> np.ndarray:
    """Bounding box (n x 4) of each label's boxes ``b``."""
    out = np.empty((n, 4))
    out[:, :2], out[:, 2:] = np.inf, -np.inf
    for c in range(2):
        np.minimum.at(out[:, c], labels, b[:, c])
        np.maximum.at(out[:, c + 2], labels, b[:, c + 2])
    return out


def group_summary(a: dict) -> dict:
    """What the client needs of :func:`partition_groups`: component count and boxes, parcel extent."""
    box = _total_box(a["bounds"]) if len(a["bounds"]) else None
    return {"n_comp": a["n_comp"], "comp_bounds": a["comp_bounds"], "extent": a["extent"], "box": box,
            "box_all": a["box_all"]}


def occupied_cells(a: dict, cell: float) -> np.ndarray:
    """Grid cells the flagged parcels of a partition cover (their boxes)."""
    return np.unique(_cells(a["bounds"], cell)[1])


def partition_halo(a: dict, number: int, cell: float, keys: np.ndarray, owners: np.ndarray, gap: float) -> dict:
    """Flagged parcels of partition ``number`` that may be neighbours of a lower partition's: ``{P: (local, geoms)}``.

    ``keys``/``owners``: every occupied cell and its partition, sorted by key.
    A parcel whose box grown by ``gap`` covers a cell occupied by ``P <
    number`` is sent to ``P``.
    """
    row, key = _cells(a["bounds"] + np.array([-gap, -gap, gap, gap]), cell)
    lo = np.searchsorted(keys, key, side="left")
    hi = np.searchsorted(keys, key, side="right")
    cnt = hi - lo
    r = np.repeat(row, cnt)
    idx = np.repeat(lo, cnt) + (np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt))
    p = owners[idx]
    sel = p < number
    pairs = np.unique(np.c_[p[sel], r[sel]], axis=0) if sel.any() else np.zeros((0, 2), np.int64)
    out = {}
    for target in np.unique(pairs[:, 0]):
        local = pairs[pairs[:, 0] == target, 1]
        out[int(target)] = (local, a["geoms"][local], a["labels"][local])
    return out


def cross_pairs(a: dict, number: int, halos: list[tuple[int, dict]], layers: _Layers,
                params: SiteParams) -> np.ndarray:
    """Component pairs ``(number, label, Q, label)`` joined by parcels of this partition and higher ones."""
    pieces = [(q, h[number]) for q, h in halos if number in h]
    if not pieces or not len(a["geoms"]):
        return np.zeros((0, 4), np.int64)
    hq = np.concatenate([np.full(len(x[0]), q) for q, x in pieces])
    hg = np.concatenate([x[1] for _q, x in pieces])
    hl = np.concatenate([x[2] for _q, x in pieces])
    g = a["geoms"]
    i, j = _graph.neighbour_pairs(g, params.gap_m, others=hg)
    if not len(i):
        return np.zeros((0, 4), np.int64)
    ui, ii = np.unique(i, return_inverse=True)  # only the parcels of candidate pairs meet the barrier test
    uj, jj = np.unique(j, return_inverse=True)
    both = np.concatenate([g[ui], hg[uj]])
    bar = _build._as_geoms(layers.barriers_near(_total_box(shapely.bounds(both)), _reach(params)), "barriers")
    if len(bar):
        keep = _overlay.barrier_filter(both, bar, gap=params.gap_m, contact_tol=params.barrier_contact_tol_m,
                                       contact_share=params.barrier_contact_share)
        if keep is not None:
            ok = keep(ii.ravel(), jj.ravel() + len(ui))
            i, j = i[ok], j[ok]
    out = np.c_[np.full(len(i), number), a["labels"][i], hq[j], hl[j]].astype(np.int64)
    return np.unique(out, axis=0) if len(out) else out


# -- stage 2: units ----------------------------------------------------------------------

def unit_rows(path: str, number: int, a: dict, comp_group: np.ndarray, unit_boxes: dict, unit_groups: dict,
              columns: list[str]) -> dict:
    """Rows of partition ``number`` that other units need: ``{H: GeoDataFrame}`` (with ``_group``).

    ``unit_boxes[H]``: boxes of unit H's home groups, grown; ``unit_groups[H]``:
    the groups whose members H needs whole. ``comp_group``: the group of each
    of this partition's components.
    """
    targets = [h for h in set(unit_boxes) | set(unit_groups) if h != number]
    if not targets:
        return {}
    part = gpq.read_partition(path, columns=columns)
    group = _row_groups(part, a, comp_group)
    b = shapely.bounds(_geoms(part))
    out = {}
    for h in targets:
        want = np.zeros(len(part), dtype=bool)
        boxes = unit_boxes.get(h)
        if boxes is not None and len(boxes):
            box = _total_box(boxes)
            cand = np.flatnonzero(_boxes_meet(b, box))
            if len(cand):
                tree = shapely.STRtree(shapely.box(*boxes.T))
                hit = tree.query(shapely.box(*b[cand].T), predicate="intersects")[0]
                want[cand[np.unique(hit)]] = True
        groups = unit_groups.get(h)
        if groups is not None and len(groups):
            want |= np.isin(group, groups) & (group >= 0)
        if want.any():
            out[h] = part[want].assign(_group=group[want], _part=number)
    return out


def _row_groups(part: pd.DataFrame, a: dict, comp_group: np.ndarray) -> np.ndarray:
    """Group of each row of a partition (-1 for parcels not flagged)."""
    group = np.full(len(part), -1, dtype=np.int64)
    pos = pd.Index(a["rows"]).get_indexer(part["input_row"].to_numpy())
    fl = pos >= 0
    group[fl] = comp_group[a["labels"][pos[fl]]]
    return group


def build_unit(path: str, number: int, a: dict, comp_group: np.ndarray, incoming: list[dict], home: np.ndarray,
               layers: _Layers, params: SiteParams, columns: list[str]) -> dict:
    """Build the sites of one unit with :func:`planner.sites.build_sites`; keep those of its home groups."""
    own = gpq.read_partition(path, columns=columns)
    own = own.assign(_group=_row_groups(own, a, comp_group), _part=number)
    frames = [own] + [d[number] for d in incoming if number in d]
    sub = pd.concat(frames, ignore_index=True) if len(frames) > 1 else own
    sub = gpd.GeoDataFrame(sub, geometry=own.geometry.name, crs=own.crs)
    sub = sub.sort_values("input_row", kind="stable").reset_index(drop=True)
    empty = {"sites": None, "members": None, "excluded": None}
    if not len(sub):
        return empty
    box = _total_box(shapely.bounds(_geoms(sub)))
    bar = layers.barriers_near(box, _reach(params))
    pieces = _overlay.ProtectedPieces(layers.pieces_near(box))
    # the builder names parcels by id: it is given the rows' positions as ids, so that every parcel it names is
    # found by its row whatever the ids (a repeated id is refused over the whole result in _stitch, as in memory)
    ids = sub["parcel_id"]
    work = sub.drop(columns=["_group", "_part"]).assign(parcel_id=np.arange(len(sub), dtype=np.int64))
    res = build_sites(work, params, barriers=bar, constraints=pieces)
    ps = res.parcel_sites
    row_of = ps["parcel_id"].to_numpy(dtype=np.int64)
    flagged = (ps["role"] == "flagged").to_numpy()
    grp = sub["_group"].to_numpy()[row_of]
    site_group = pd.Series(grp[flagged]).groupby(ps["site_id"].to_numpy()[flagged]).agg(["min", "max"])
    if (site_group["min"] != site_group["max"]).any():
        msg = f"unit {number}: a site spans two groups; the groups are not coarser than the sites"
        raise RuntimeError(msg)
    kept_sites = site_group.index[home[site_group["min"].to_numpy()] == number]
    keep = ps["site_id"].isin(kept_sites).to_numpy()
    ex = res.excluded
    ex_rows = ex["parcel_id"].to_numpy(dtype=np.int64)
    # every parcel of a home group is in a kept site, or excluded by protected land
    mine = np.flatnonzero((grp_all := sub["_group"].to_numpy()) >= 0)
    mine = mine[home[grp_all[mine]] == number]
    missing = np.setdiff1d(mine, np.r_[row_of[keep & flagged], ex_rows])
    if len(missing):
        msg = (f"unit {number}: {len(missing)} flagged parcel(s) of its groups are in no site, e.g. "
               f"{ids.iloc[missing[:3]].tolist()}")
        raise RuntimeError(msg)
    land = _build._land_area(sub)
    at = row_of[keep]
    members = ps[keep].assign(parcel_id=ids.iloc[at].to_numpy(), input_row=sub["input_row"].to_numpy()[at],
                              land=land[at], unit=number)
    sites = res.sites[res.sites["site_id"].isin(kept_sites)].assign(unit=number)
    own_ex = sub["_part"].to_numpy()[ex_rows] == number
    excluded = ex[own_ex].assign(parcel_id=ids.to_numpy()[ex_rows[own_ex]],
                                 input_row=sub["input_row"].to_numpy()[ex_rows[own_ex]])
    return {"sites": sites, "members": members, "excluded": excluded}


# -- the whole build ----------------------------------------------------------------------

@dataclass
class PartitionedSites:
    """A :class:`SiteResult` of a partitioned build and how it went."""

    result: SiteResult
    n_groups: int
    n_cross_pairs: int
    halo_parcels: int
    seconds: dict


def _layer_geoms(layer) -> np.ndarray:
    return _build._as_geoms(layer, "layer")


def build_sites_partitioned(survey: str | Path, params: SiteParams | None = None, *, client, barriers=None,
                            constraints=None, say: Callable[[str], None] | None = None,
                            bar: bool = True, lang: str = "en") -> PartitionedSites:
    """Assemble the sites of a classified partitioned survey; the result equals :func:`planner.sites.build_sites`.

    Parameters
    ----------
    survey : str or Path
        A classified partitioned survey (``planner classify --engine dask``):
        ``parcel_id``, ``three_low``, ``input_row``, geometry, and the other
        columns the site builder uses.
    params : SiteParams, optional
    client : distributed.Client
    barriers, constraints : GeoDataFrame or array of geometries, optional
        As for :func:`planner.sites.build_sites` (default: none).
    say : callable, optional
        Told each stage's line (a :class:`~planner.errors.Note`: English, with its Chinese in ``zh``).
    lang : {"en", "zh"}
        Language of the progress bars' stage names.

    Returns
    -------
    PartitionedSites
    """
    params = params or SiteParams()
    say = say or (lambda _m: None)
    info = gpq.survey_info(survey)
    with gpq.unchanged_while_read(survey, info):  # partitions are read twice: a folder replaced meanwhile is refused
        return _build_partitioned(survey, params, client, barriers, constraints, say, bar, lang)


def _build_partitioned(survey, params: SiteParams, client, barriers, constraints, say, bar,
                       lang: str = "en") -> PartitionedSites:
    cols = [c for c in gpq.columns_of(survey) if c not in SKIP_COLUMNS]
    for need in ("parcel_id", "three_low", "input_row"):
        if need not in cols:
            msg = f"{survey}: the parcels have no {need!r} column; classify them with `planner classify --engine dask`"
            raise DataError(msg, zh=f"{survey}：地块缺少 {need} 字段；请先运行 planner classify --engine dask")
    files = [str(p) for p in gpq.partition_files(survey)]
    n = len(files)
    tag = uuid.uuid4().hex[:8]
    secs = {}
    t = time.perf_counter()
    pieces = _build._constraint_parts(constraints)
    layers = _Layers(_layer_geoms(barriers), pieces)
    layers_f = client.scatter(layers, broadcast=True)
    futA = [client.submit(partition_groups, f, layers_f, params, key=f"groups-{tag}-{k}") for k, f in enumerate(files)]
    summ = gather_with_progress(client, [client.submit(group_summary, fa, key=f"gsum-{tag}-{k}")
                                         for k, fa in enumerate(futA)], note("scale_sites_groups"), bar=bar,
                                lang=lang)
    secs["groups"] = time.perf_counter() - t
    t = time.perf_counter()
    ext = np.nanmedian([s["extent"] for s in summ]) if any(np.isfinite(s["extent"]) for s in summ) else 100.0
    cell = max(CELL_EXTENTS * float(ext), 4 * params.gap_m, 1.0)
    occ = client.gather([client.submit(occupied_cells, fa, cell, key=f"occ-{tag}-{k}") for k, fa in enumerate(futA)])
    keys = np.concatenate(occ) if occ else np.zeros(0, np.int64)
    owners = np.concatenate([np.full(len(o), k) for k, o in enumerate(occ)]) if occ else np.zeros(0, np.int64)
    o = np.argsort(keys, kind="stable")
    keys_f, owners_f = client.scatter([keys[o], owners[o]], broadcast=True)
    futH = [client.submit(partition_halo, fa, k, cell, keys_f, owners_f, params.gap_m, key=f"halo-{tag}-{k}")
            for k, fa in enumerate(futA)]
    boxes = [s["box"] for s in summ]
    g = params.gap_m
    futX = []
    for p in range(n):
        if boxes[p] is None:
            continue
        near = [q for q in range(p + 1, n) if boxes[q] is not None
                and _boxes_meet(np.array([_grown(boxes[q], g)]), boxes[p])[0]]
        futX.append(client.submit(cross_pairs, futA[p], p, [(q, futH[q]) for q in near], layers_f, params,
                                  key=f"cross-{tag}-{p}"))
    cross = gather_with_progress(client, futX, note("scale_sites_pairs"), bar=bar, lang=lang)
    halo_parcels = sum(client.gather([client.submit(_halo_size, fh, key=f"hsz-{tag}-{k}")
                                      for k, fh in enumerate(futH)]))
    # keep only what the units need of stage 1 on the workers (the flagged geometries go)
    futA = [client.submit(_slim, fa, key=f"slim-{tag}-{k}") for k, fa in enumerate(futA)]
    client.gather(futA)
    del futH, futX
    # global union-find over the partitions' components
    offset = np.r_[0, np.cumsum([s["n_comp"] for s in summ])]
    edges = np.concatenate(cross) if cross else np.zeros((0, 4), np.int64)
    a_node = offset[edges[:, 0]] + edges[:, 1]
    b_node = offset[edges[:, 2]] + edges[:, 3]
    comp_group = _graph.components(int(offset[-1]), a_node, b_node)
    n_groups = int(comp_group.max()) + 1 if len(comp_group) else 0
    comp_part = np.repeat(np.arange(n), np.diff(offset))
    home = np.full(n_groups, n, dtype=np.int64)
    np.minimum.at(home, comp_group, comp_part)
    cb = np.concatenate([s["comp_bounds"] for s in summ]) if n_groups else np.zeros((0, 4))
    gb = _group_bounds(cb, comp_group, n_groups)
    secs["stitch"] = time.perf_counter() - t
    say(note("scale_groups", groups=n_groups, pairs=len(edges), halo=halo_parcels))
    t = time.perf_counter()
    unit_boxes, unit_groups = _units(gb, home, _margin(params))
    comp_group_f, home_f, ub_f, ug_f = client.scatter([comp_group, home, unit_boxes, unit_groups], broadcast=True)
    slices = [(int(offset[k]), int(offset[k + 1])) for k in range(n)]
    futR = [client.submit(_unit_rows_slice, f, k, futA[k], comp_group_f, slices[k], ub_f, ug_f, cols,
                          key=f"rows-{tag}-{k}") for k, f in enumerate(files)]
    futB = []
    boxes_all = [s["box_all"] for s in summ]
    for h, f in enumerate(files):
        src = [futR[q] for q in range(n) if q != h and _needs(h, q, boxes_all, unit_boxes, unit_groups, gb)]
        futB.append(client.submit(_build_unit_slice, f, h, futA[h], comp_group_f, slices[h], src, home_f,
                                  layers_f, params, cols, key=f"unit-{tag}-{h}"))
    units = gather_with_progress(client, futB, note("scale_sites_build"), bar=bar, lang=lang)
    secs["build"] = time.perf_counter() - t
    t = time.perf_counter()
    result = _stitch(units, params, pieces)
    secs["ids"] = time.perf_counter() - t
    return PartitionedSites(result, n_groups, len(edges), int(halo_parcels), secs)


def _slim(a: dict) -> dict:
    return {"rows": a["rows"], "labels": a["labels"]}


def _halo_size(h: dict) -> int:
    return int(sum(len(x[0]) for x in h.values()))


def _units(gb: np.ndarray, home: np.ndarray, margin: float) -> tuple[dict, dict]:
    """Per unit: its home groups' boxes grown by ``margin``, and the other groups whose box meets one of them."""
    unit_boxes: dict[int, np.ndarray] = {}
    unit_groups: dict[int, np.ndarray] = {}
    if not len(gb):
        return unit_boxes, unit_groups
    grown = gb + np.array([-margin, -margin, margin, margin])
    order = np.argsort(home, kind="stable")
    for h in np.unique(home):
        unit_boxes[int(h)] = grown[order[np.searchsorted(home[order], h):np.searchsorted(home[order], h, "right")]]
    tree = shapely.STRtree(shapely.box(*gb.T))
    gi, gj = tree.query(shapely.box(*grown.T), predicate="intersects")
    other = home[gi] != home[gj]
    pairs = np.unique(np.c_[home[gi[other]], gj[other]], axis=0) if other.any() else np.zeros((0, 2), np.int64)
    for h in np.unique(pairs[:, 0]):
        unit_groups[int(h)] = pairs[pairs[:, 0] == h, 1]
    return unit_boxes, unit_groups


def _needs(h: int, q: int, boxes_all: list, unit_boxes: dict, unit_groups: dict, gb: np.ndarray) -> bool:
    """Whether unit ``h`` may need rows of partition ``q`` (a cheap superset test on boxes)."""
    if boxes_all[q] is None:
        return False
    ub = unit_boxes.get(h)
    if ub is not None and len(ub) and _boxes_meet(ub, boxes_all[q]).any():
        return True
    grp = unit_groups.get(h)
    return grp is not None and len(grp) > 0 and bool(_boxes_meet(gb[grp], boxes_all[q]).any())


def _unit_rows_slice(path, number, a, comp_group, sl, unit_boxes, unit_groups, columns):
    return unit_rows(path, number, a, comp_group[sl[0]:sl[1]], unit_boxes, unit_groups, columns)


def _build_unit_slice(path, number, a, comp_group, sl, incoming, home, layers, params, columns):
    return build_unit(path, number, a, comp_group[sl[0]:sl[1]], incoming, home, layers, params, columns)


def _stitch(units: list[dict], params: SiteParams, pieces: np.ndarray) -> SiteResult:
    """One :class:`SiteResult` from the units' kept sites, with ids, order and scores as in memory."""
    sites = [u["sites"] for u in units if u["sites"] is not None and len(u["sites"])]
    members = [u["members"] for u in units if u["members"] is not None and len(u["members"])]
    excluded = [u["excluded"] for u in units if u["excluded"] is not None and len(u["excluded"])]
    ex = (pd.concat(excluded, ignore_index=True).sort_values("input_row", kind="stable")
          if excluded else pd.DataFrame({"parcel_id": [], "constraint_share": [], "input_row": []}))
    ex = ex[["parcel_id", "constraint_share"]].reset_index(drop=True)
    if not sites:
        empty = build_sites(gpd.GeoDataFrame({"parcel_id": [], "three_low": []}, geometry=[]), params)
        return SiteResult(empty.sites, empty.parcel_sites, ex, params, pieces)
    s = pd.concat(sites, ignore_index=True)
    m = pd.concat(members, ignore_index=True)
    # as in memory: every id the result names (placed or excluded) names one parcel; each unit saw its own copies
    _build._check_unique_ids(pd.concat([m["parcel_id"], ex["parcel_id"]], ignore_index=True))
    key_s = s["unit"].astype(str) + "/" + s["site_id"].astype(str)
    key_m = m["unit"].astype(str) + "/" + m["site_id"].astype(str)
    codes, uniq = pd.factorize(key_s)
    code_m = pd.Index(uniq).get_indexer(key_m)
    n_sites = len(uniq)
    fl = m[(m["role"] == "flagged").to_numpy()]
    o = np.argsort(fl["input_row"].to_numpy(), kind="stable")
    fl_code = code_m[(m["role"] == "flagged").to_numpy()][o]
    order = _build._stable_order(fl_code, fl["land"].to_numpy()[o], fl["parcel_id"].iloc[o].reset_index(drop=True),
                                 n_sites)
    new_label = np.empty(n_sites, dtype=np.int64)
    new_label[order] = np.arange(n_sites)
    site_ids = _build._site_ids(n_sites)
    s["site_id"] = site_ids[new_label[codes]]
    s = s.sort_values("site_id", kind="stable").drop(columns="unit").reset_index(drop=True)
    crs = sites[0].crs
    s = gpd.GeoDataFrame(s, geometry="geometry", crs=crs)
    ps = _build._sorted_parcel_sites(m["parcel_id"].reset_index(drop=True), m["input_row"].to_numpy(),
                                     new_label[code_m], site_ids, m["role"].to_numpy())
    return SiteResult(rescore(s, params), ps, ex, params, pieces)
