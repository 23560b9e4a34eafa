"""The site builder: flagged parcels -> contiguous sites with outlines, metrics and a rank score.

See :mod:`planner.sites` for the rules.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from planner import schema
from planner.errors import DataError, Note
from planner.schema import MU_M2
from planner.sites import graph as _graph
from planner.sites import overlay as _overlay
from planner.sites import split as _split
from planner.sites.params import SITE_COLUMNS, SiteParams, SiteResult

# -- input checks -------------------------------------------------------------

#: The parcel columns site building reads (with the geometry); a caller reading a stored layer may read only these.
PARCEL_COLUMNS = ("parcel_id", "three_low", "land_area_m2", "floor_area_m2", "owner", "enterprise", "upgrade_class")


def _check_parcels(parcels: gpd.GeoDataFrame, what: str = "flagged parcels", *, check_ids: bool = True,
                   rows: np.ndarray | None = None) -> None:
    """Raise :class:`DataError` listing every problem of the parcel table.

    ``check_ids=False`` skips the whole-table unique-id check (the builder
    checks only the rows it places in sites, see :func:`_check_unique_ids`).
    ``rows`` (positions) limits the geometry check to those rows (an edit
    uses the parcels of the sites it touches, not a 1M city's every polygon).
    """
    problems = []
    if not isinstance(parcels, gpd.GeoDataFrame):
        msg = f"{what}: expected a GeoDataFrame, got {type(parcels).__name__}"
        raise DataError(msg)
    for col in ("parcel_id", "three_low"):
        if col not in parcels.columns:
            problems.append(f"missing column {col!r}" + (" (run `planner classify` first)" if col == "three_low" else ""))
    if parcels.crs is not None and not parcels.crs.is_projected:
        problems.append(f"CRS {parcels.crs.to_string()} is not projected; reproject to the workspace's metric CRS")
    if check_ids and "parcel_id" in parcels.columns and (dmask := schema.duplicated_ids(parcels["parcel_id"])).any():
        dup = parcels.loc[dmask, "parcel_id"].astype(str).drop_duplicates().head(5).tolist()
        problems.append(f"parcel_id not unique, e.g. {dup}")
    if len(parcels):
        at = np.arange(len(parcels)) if rows is None else np.asarray(rows, dtype=np.intp)
        bad = ~np.isin(shapely.get_type_id(parcels.geometry.values[at]), (3, 6))
        if bad.any():
            problems.append(f"{int(bad.sum())} row(s) without polygon geometry, first rows {at[bad][:5].tolist()}")
    if problems:
        msg = f"{what}: " + "; ".join(problems)
        raise DataError(msg)


def _check_unique_ids(ids: pd.Series, what: str = "flagged parcels") -> None:
    """Raise :class:`DataError` when ``ids`` (the parcel ids a result names: placed in sites, or excluded from them
    by protected land) repeat.

    Every id the result names must name one parcel: a site's parcel list and the excluded list are joined back to
    the parcels by id (an id in a site and on an excluded parcel made the excluded parcel a member too). Ids on
    parcels the result does not name may repeat (an ingest mapping can keep repeated ids, ``[checks]
    duplicate_id = "flag"``).
    """
    dmask = schema.duplicated_ids(ids)
    if dmask.any():
        dup = ids[dmask].astype(str).drop_duplicates().head(5).tolist()
        msg = (f"{what}: parcel_id not unique among the parcels placed in sites or excluded from them, e.g. {dup}; "
               "give every parcel its own id (ingest rejects repeated ids unless a mapping's [checks] duplicate_id "
               "keeps them)")
        raise DataError(msg, zh=f"三低地块：连片地块或被保护用地排除的地块中宗地代码重复，例如 {dup}；请为每宗地块赋唯一代码"
                                "（导入时重复代码会被拒绝，除非映射文件的 [checks] duplicate_id 保留了它们）")


def _unique_int(x: np.ndarray) -> np.ndarray:
    """Sorted distinct values of an integer array (a sort: faster than ``np.unique``'s hash path here)."""
    x = np.sort(x)
    return x[np.r_[True, x[1:] != x[:-1]]] if len(x) else x


def _site_ids(n: int) -> np.ndarray:
    """``S0001``...: zero-padded to one width, so text order is number order (``S00001`` past 9,999 sites)."""
    width = max(4, len(str(n)))
    return np.array([f"S{k:0{width}d}" for k in range(1, n + 1)], dtype=object)


def _sorted_parcel_sites(parcel_ids: pd.Series, rows: np.ndarray, site_codes: np.ndarray, site_ids: np.ndarray,
                         roles) -> pd.DataFrame:
    """The parcel-to-site table ordered by site, role, parcel id.

    ``rows`` are the parcels' row numbers in the input. When the ids ascend
    with the rows (the usual case: surveys and the store keep id order) the
    row number stands in for the id in one integer sort; otherwise the ids
    are ranked by an Arrow string sort first.
    """
    text = pd.api.types.is_string_dtype(parcel_ids.dtype)
    pid = pa.array(pd.Series(parcel_ids.to_numpy(), dtype="string").array)
    role_code, role_names = pd.factorize(np.asarray(roles, dtype=object), sort=True)
    by_row = np.argsort(rows, kind="stable")
    ids_by_row = pid.take(by_row)
    if len(pid) < 2 or pc.all(pc.less(ids_by_row[:-1], ids_by_row[1:])).as_py():
        rank = np.empty(len(rows), dtype=np.int64)
        rank[by_row] = np.arange(len(rows))
    else:
        rank = np.empty(len(rows), dtype=np.int64)
        rank[pc.sort_indices(pid).to_numpy()] = np.arange(len(rows))
    n = max(len(rows), 1)
    order = np.argsort((site_codes.astype(np.int64) * len(role_names) + role_code) * n + rank, kind="stable")
    role = pa.array(np.asarray(role_names, dtype=object)[role_code[order]], type=pa.string())
    return pa.table({"parcel_id": pid.take(order) if text else pa.array(parcel_ids.to_numpy()[order]),
                     "site_id": pa.array(site_ids, type=pa.string()).take(site_codes[order]),
                     "role": role}).to_pandas()


def _as_geoms(layer, name: str) -> np.ndarray:
    if layer is None:
        return np.empty(0, dtype=object)
    if isinstance(layer, gpd.GeoDataFrame | gpd.GeoSeries):
        g = np.asarray(layer.geometry.values if isinstance(layer, gpd.GeoDataFrame) else layer.values, dtype=object)
    else:
        g = np.asarray(layer, dtype=object)
    g = g[~(shapely.is_missing(g) | shapely.is_empty(g))]
    if len(g) and not shapely.is_valid(g).all():
        g = shapely.make_valid(g)
    return g


def _constraint_parts(constraints) -> np.ndarray:
    """Protected land as non-overlapping polygon pieces (overlaps are not counted twice).

    The constraint polygons are dissolved, then cut into pieces of at most
    :data:`planner.sites.overlay.MAX_PIECE_VERTICES` vertices with tight
    bounding boxes (:func:`planner.sites.overlay.subdivide`), so that
    overlap and cut touch only the pieces near each parcel or site.
    """
    if isinstance(constraints, _overlay.ProtectedPieces):  # cut once for many builds (planner.scale.sites)
        return constraints.pieces
    g = _as_geoms(constraints, "constraints")
    if not len(g):
        return g
    parts = shapely.get_parts(shapely.union_all(g))
    return _overlay.subdivide(parts[shapely.get_type_id(parts) == 3])[0]


#: The protected-land pieces a :class:`SiteResult` keeps (the app rebuilds them for stored sites).
constraint_parts = _constraint_parts
#: Area (m²) of each geometry inside the protected parts (see :func:`planner.sites.overlay.overlap_area`).
_overlap_area = _overlay.overlap_area
#: Geometries minus the protected parts (see :func:`planner.sites.overlay.cut`).
_cut = _overlay.cut


def _near_barriers(geoms: np.ndarray, bar: np.ndarray, params: SiteParams):
    """The barriers cut into pieces, and which of ``geoms`` lie within reach of one (None without barriers)."""
    if not len(bar):
        return None
    bp = _overlay.cut_barriers(bar)
    return bp, _overlay.near_barriers(geoms, bp, _overlay.barrier_reach(params.gap_m, params.barrier_contact_tol_m))


def _barrier_keep(mg: np.ndarray, near, params: SiteParams):
    """The barrier test ``keep(i, j)`` of the members ``mg`` (None without barriers near them)."""
    if near is None:
        return None
    return _overlay.barrier_filter(mg, near[0], gap=params.gap_m, contact_tol=params.barrier_contact_tol_m,
                                   contact_share=params.barrier_contact_share, near=near[1])


def _components(mg: np.ndarray, near, params: SiteParams, say) -> tuple[np.ndarray, np.ndarray]:
    """Site labels and touch labels of the members ``mg`` (see :func:`planner.sites.graph.neighbour_components`).

    ``near``: ``(barrier pieces, member within reach of a barrier)`` from
    :func:`_near_barriers`, or None; only neighbours both within reach of
    a barrier are tested against it (:func:`planner.sites.overlay.barrier_filter`).
    """
    keep = None
    if near is not None:
        say(Note("barriers", zh="阻隔"))
        keep = _barrier_keep(mg, near, params)
        say(Note("components", zh="连通片区"))
    return _graph.neighbour_components(mg, params.gap_m, keep=keep)


def _realistic(mg: np.ndarray, labels: np.ndarray, vlab: np.ndarray, near, geoms: np.ndarray, member_land: np.ndarray,
               owners, params: SiteParams, say) -> tuple[np.ndarray, np.ndarray]:
    """Clusters split at streets and to the size and owner limits (:func:`planner.sites.split.split_clusters`).

    Returns the new labels and touch labels; a cluster that was split gets
    one touch label per member, so its pieces' outlines are closed (their
    members may meet only through gaps).
    """
    new, split = _split.split_clusters(mg, labels, params, occupied=geoms, land=member_land, owners=owners,
                                       barriers=None if near is None else near[0],
                                       keep=_barrier_keep(mg, near, params), progress=say)
    if split.any():
        vlab = np.where(split[labels], int(vlab.max()) + 1 + np.arange(len(labels)), vlab)
    return new, vlab


def _land_area(parcels: gpd.GeoDataFrame) -> np.ndarray:
    geom_area = shapely.area(parcels.geometry.values)
    if "land_area_m2" in parcels.columns:
        v = pd.to_numeric(parcels["land_area_m2"], errors="coerce").to_numpy(dtype=float)
        return np.where(np.isfinite(v) & (v > 0), v, geom_area)
    return geom_area


def _col(parcels: pd.DataFrame, name: str, default=np.nan) -> pd.Series:
    if name in parcels.columns:
        return parcels[name]
    return pd.Series(default, index=parcels.index)


# -- the builder --------------------------------------------------------------

def build_sites(flagged: gpd.GeoDataFrame, params: SiteParams | None = None, *, barriers=None, constraints=None,
                progress: Callable[[str], None] | None = None) -> SiteResult:
    """Assemble contiguous candidate sites from classified parcels.

    Parameters
    ----------
    flagged : GeoDataFrame
        Classified parcels (docs/CONTRACTS.md "Classification output"): at
        least ``parcel_id``, ``three_low`` (bool) and polygon geometry in a
        projected metric CRS; ``upgrade_class``, ``land_area_m2``,
        ``floor_area_m2``, ``owner``, ``enterprise`` are used when present.
        Non-flagged parcels are enclave candidates.
    params : SiteParams, optional
    barriers : GeoDataFrame, GeoSeries or array of geometries, optional
        Lines or polygons that are never bridged.
    constraints : GeoDataFrame, GeoSeries or array of polygons, optional
        Protected land cut out of the sites.
    progress : callable, optional
        Called with a short message at the start of each stage (a :class:`~planner.errors.Note`: English, with
        its Chinese in ``zh``; :func:`~planner.errors.message_in` picks one).

    Returns
    -------
    SiteResult
    """
    params = params or SiteParams()
    say = progress or (lambda _msg: None)
    _check_parcels(flagged, check_ids=False)
    parcels = flagged.reset_index(drop=True)
    geoms = np.asarray(parcels.geometry.values, dtype=object)
    is_flag = parcels["three_low"].fillna(False).astype(bool).to_numpy()
    land = _land_area(parcels)

    flag_rows = np.flatnonzero(is_flag)
    bar = _as_geoms(barriers, "barriers")
    with ThreadPoolExecutor(1) as pool:  # barriers (GEOS releases the GIL) beside the constraints
        near_flag = pool.submit(_near_barriers, geoms[flag_rows], bar, params)
        say(Note("constraints", zh="管控约束"))
        parts = _constraint_parts(constraints)
        overlap = np.zeros(len(parcels))
        if len(parts):  # flagged parcels now, absorbed enclaves once they are known
            overlap[flag_rows] = _overlap_area(geoms[flag_rows], parts)
        geom_area = shapely.area(geoms)
        share = np.divide(overlap, geom_area, out=np.zeros(len(geoms)), where=geom_area > 0)
        excl = is_flag & (share > params.constraint_exclude_share)
        members = np.flatnonzero(is_flag & ~excl)
        near = near_flag.result()
    if near is not None:
        near = near[0], near[1][~excl[flag_rows]]

    say(Note(f"adjacency of {len(members):,} flagged parcels", zh=f"{len(members):,} 宗三低地块的相邻关系"))
    mg = geoms[members]
    labels, vlab = _components(mg, near, params, say)
    owners = _col(parcels, "owner", pd.NA).iloc[members].to_numpy() if params.max_owners is not None else None
    labels, vlab = _realistic(mg, labels, vlab, near, geoms, land[members] - overlap[members], owners, params, say)
    n_sites = int(labels.max()) + 1 if len(labels) else 0

    ps = pd.DataFrame({"row": members, "site": labels, "role": "flagged"})
    say(Note("site outlines", zh="片区轮廓"))
    close = params.gap_m / 2 + 1e-3 if params.gap_m > 0 else 0.0
    # only sites whose members do not all connect through contacts (gaps, slivers) need closing
    closed = None
    if n_sites:
        pairs = _unique_int(labels * (int(vlab.max()) + 1) + vlab) // (int(vlab.max()) + 1)
        closed = np.bincount(pairs, minlength=n_sites) > 1
    outline = (_graph.grouped_union(mg, labels, n_sites, close=close, closed=closed) if n_sites
               else np.empty(0, dtype=object))
    if params.absorb_enclaves and n_sites:
        say(Note("enclaves", zh="被包围地块"))
        absorbed, outline = _enclaves(parcels, geoms, geom_area, is_flag, land, labels, members, n_sites,
                                      params, outline)
        ps = pd.concat([ps, absorbed], ignore_index=True)
        if len(parts) and len(absorbed):
            rows = absorbed["row"].to_numpy()
            overlap[rows] = _overlap_area(geoms[rows], parts)

    say(Note("site outlines and metrics", zh="片区轮廓与指标"))
    ids = parcels["parcel_id"]
    _check_unique_ids(ids.iloc[np.r_[ps["row"].to_numpy(), np.flatnonzero(excl)]])
    order = _stable_order(labels, land[members], ids.iloc[members], n_sites)
    new_label = np.empty(n_sites, dtype=np.int64)
    new_label[order] = np.arange(n_sites)
    ps["site"] = new_label[ps["site"].to_numpy()]
    site_ids = _site_ids(n_sites)

    reuse = outline[order] if params.close_gaps or params.gap_m == 0 else None
    sites = _site_table(parcels, geoms, land, overlap, is_flag, ps, site_ids, parts, params, outline=reuse)
    placed = ps["row"].to_numpy()
    parcel_sites = _sorted_parcel_sites(ids.iloc[placed], placed, ps["site"].to_numpy(), site_ids, ps["role"])
    excluded = pd.DataFrame({"parcel_id": parcels["parcel_id"].iloc[np.flatnonzero(excl)].to_numpy(),
                             "constraint_share": share[excl]})
    return SiteResult(rescore(sites, params), parcel_sites, excluded, params, parts)


def _stable_order(labels: np.ndarray, member_land: np.ndarray, member_ids: pd.Series, n_sites: int) -> np.ndarray:
    """Site labels in id order: flagged land descending, ties by smallest member parcel id.

    Only the tied sites (rare: equal land sums) need the parcel ids, so the
    string work stays small.
    """
    flag_land = np.bincount(labels, weights=member_land, minlength=n_sites)
    if n_sites < 2:
        return np.arange(n_sites)
    by_land = np.argsort(-flag_land, kind="stable")
    fl = flag_land[by_land]
    eq = fl[1:] == fl[:-1]
    tied = by_land[np.r_[False, eq] | np.r_[eq, False]]
    key = np.zeros(n_sites, dtype=np.int64)
    if len(tied):
        sel = np.isin(labels, tied)
        first = pd.Series(member_ids.to_numpy()[sel].astype(str)).groupby(labels[sel]).min()
        key[first.index.to_numpy()] = pd.factorize(first.to_numpy(), sort=True)[0]
    return np.lexsort((key, -flag_land))


def _enclaves(parcels, geoms, geom_area, is_flag, land, labels, members, n_sites, params, outline):
    """Enclosed non-flagged parcels and the outlines with them absorbed.

    Only the holes of the (gap-closed) site outlines are searched: they are
    small polygons, so the tree query stays cheap for a whole city. A hole
    holding absorbed parcels is filled, except for the parts of the parcels
    that stay out (retained, too large, over the share), which become holes.

    Returns
    -------
    DataFrame
        ``row``, ``site`` (label), ``role`` (absorbed / retained_inside).
    ndarray
        The outlines, absorbed parcels included.
    """
    empty = pd.DataFrame({"row": np.empty(0, np.int64), "site": np.empty(0, np.int64), "role": []})
    others = np.flatnonzero(~is_flag)
    if not len(others):
        return empty, outline
    parts, part_site = shapely.get_parts(outline, return_index=True)
    n_holes = shapely.get_num_interior_rings(parts)
    if not n_holes.sum():
        return empty, outline
    hole_part = np.repeat(np.arange(len(parts)), n_holes)
    ring_no = np.arange(len(hole_part)) - np.repeat(np.cumsum(n_holes) - n_holes, n_holes)
    rings = shapely.get_interior_ring(parts[hole_part], ring_no)
    holes = shapely.polygons(rings)
    hole_site = part_site[hole_part]
    tree = shapely.STRtree(holes)
    og_all = geoms[others]
    k, h = tree.query(og_all, predicate="intersects")
    if not len(k):
        return empty, outline
    # most candidates lie wholly in their hole (area = own area): intersect only the others
    shapely.prepare(holes)
    inside = geom_area[others][k]
    part = ~shapely.covers(holes[h], og_all[k])
    inside[part] = shapely.area(shapely.intersection(og_all[k[part]], holes[h[part]]))
    og_area = np.maximum(geom_area[others], 1e-9)
    covered = np.bincount(k, weights=inside, minlength=len(og_all))
    enc = covered >= params.enclave_cover_share * og_area
    # site of each enclosed parcel: the site of the hole holding most of it
    best = pd.DataFrame({"k": k, "a": inside, "s": hole_site[h]})
    best = best[enc[k]].sort_values(["k", "a"], ascending=[True, False]).drop_duplicates("k")
    if not len(best):
        return empty, outline
    rows = others[best["k"].to_numpy()]
    s = best["s"].to_numpy()
    uc = _col(parcels, "upgrade_class", pd.NA).iloc[rows].astype("string").to_numpy()
    retain = pd.Series(uc).eq("retain").fillna(False).to_numpy()
    df = pd.DataFrame({"row": rows, "site": s, "area": land[rows], "retain": retain, "k": best["k"].to_numpy()})
    cand = df[~df["retain"] & (df["area"] <= params.enclave_max_area_m2)].sort_values(["site", "area", "row"])
    flag_land = np.bincount(labels, weights=land[members], minlength=n_sites)
    cum = cand.groupby("site")["area"].cumsum().to_numpy()
    cand = cand[cum <= params.enclave_max_share * flag_land[cand["site"].to_numpy()]]
    out = pd.concat([cand.assign(role="absorbed"), df[df["retain"]].assign(role="retained_inside")])
    out = out[["row", "site", "role"]].reset_index(drop=True)
    if not len(cand):
        return out, outline
    # holes to fill: every parcel reaching into them (with area) is absorbed
    absorbed = np.zeros(len(og_all), dtype=bool)
    absorbed[cand["k"].to_numpy()] = True
    real = inside > 1e-6 * og_area[k]
    has_abs = np.bincount(h, weights=real & absorbed[k], minlength=len(holes)) > 0
    outline = outline.copy()
    fill = has_abs  # filled holes; what stays out of a filled hole becomes new holes
    keep = ~fill[np.arange(len(holes))]
    touched = np.unique(hole_part[fill])
    kept = keep & np.isin(hole_part, touched)
    ring_owner = [touched, hole_part[kept]]
    ring_geom = [shapely.get_exterior_ring(parts[touched]), rings[kept]]
    # what stays out of a filled hole: non-absorbed parcels reaching into it, and other sites inside it;
    # parts of the same site inside it (islands) end up within the filled part and are dropped
    fh = np.flatnonzero(fill)
    hi, pj = shapely.STRtree(parts).query(holes[fh], predicate="covers")
    own = part_site[pj] == hole_site[fh[hi]]
    island = np.zeros(len(parts), dtype=bool)
    island[pj[own]] = True
    stay = real & ~absorbed[k] & fill[h]
    pieces, pi = shapely.get_parts(shapely.intersection(og_all[k[stay]], holes[h[stay]]), return_index=True)
    piece_hole = np.r_[h[stay][pi], fh[hi[~own]]]
    pieces = np.r_[pieces, parts[pj[~own]]]
    poly = shapely.get_type_id(pieces) == 3
    if poly.any():
        uh, code = np.unique(piece_hole[poly], return_inverse=True)
        merged, mi = shapely.get_parts(_graph.grouped_union(pieces[poly], code, len(uh)), return_index=True)
        merged_poly = shapely.get_type_id(merged) == 3
        ring_owner.append(hole_part[uh[mi[merged_poly]]])
        ring_geom.append(shapely.get_exterior_ring(merged[merged_poly]))
    ring_owner, ring_geom = np.concatenate(ring_owner), np.concatenate(ring_geom)
    o = np.argsort(ring_owner, kind="stable")  # the exterior ring first within each part
    parts = parts.copy()
    parts[touched] = shapely.polygons(ring_geom[o], indices=np.searchsorted(touched, ring_owner[o]))
    sites = np.unique(part_site[touched])
    sel = np.isin(part_site, sites) & ~island
    code = np.searchsorted(sites, part_site[sel])
    n_parts = np.bincount(code, minlength=len(sites))
    multi = shapely.multipolygons(parts[sel], indices=code)
    single = parts[sel][np.cumsum(n_parts) - n_parts]
    outline[sites] = np.where(n_parts == 1, single, multi)
    return out, outline


def _fill_holes(geoms: np.ndarray) -> np.ndarray:
    parts, idx = shapely.get_parts(geoms, return_index=True)
    shells = shapely.polygons(shapely.get_exterior_ring(parts))
    out = _graph.grouped_union(shells, idx, len(geoms)) if len(parts) else geoms
    return out


def _n_distinct(values: pd.Series, rows: np.ndarray, lab: np.ndarray, n_sites: int) -> np.ndarray:
    """Number of distinct non-missing ``values[rows]`` per site label ``lab``."""
    codes = pd.factorize(values.iloc[rows])[0]
    ok = codes >= 0
    if not ok.any():
        return np.zeros(n_sites, dtype=np.int64)
    m = int(codes.max()) + 1
    pairs = _unique_int(lab[ok].astype(np.int64) * m + codes[ok])
    return np.bincount(pairs // m, minlength=n_sites)


def _n_enterprises(parcels: pd.DataFrame, rows: np.ndarray, lab: np.ndarray, n_sites: int) -> np.ndarray:
    """Distinct enterprises on the parcels ``rows`` per site label ``lab`` (the enterprises to relocate).

    A parcel's tenants come ``；``-joined from the enterprise table (credit
    codes, else names: :func:`planner.enterprise.join_enterprises`), so a
    tenant on several parcels counts once and two tenants of a parcel twice.
    """
    ent = pd.Series(_col(parcels, "enterprise", pd.NA).iloc[rows].to_numpy(), dtype="string")
    if "credit_codes" in parcels.columns:
        cc = pd.Series(parcels["credit_codes"].iloc[rows].to_numpy(), dtype="string")
        ent = cc.where(cc.notna(), ent)
    if not ent.str.contains("；", regex=False).fillna(False).any():
        return _n_distinct(ent, np.arange(len(ent)), lab, n_sites)
    tokens = ent.str.split("；").explode()
    tokens = tokens.str.strip().replace("", pd.NA)
    return _n_distinct(pd.Series(tokens.to_numpy(), dtype="string"), np.arange(len(tokens)),
                       lab[tokens.index.to_numpy()], n_sites)


def _site_table(parcels, geoms, land, overlap, is_flag, ps, site_ids, parts, params,
                outline=None) -> gpd.GeoDataFrame:
    """Metrics and geometry of every site from the parcel-to-site rows ``ps`` (row, site, role).

    ``outline``: precomputed outlines of the sites (members and absorbed
    parcels), used as they are; default: computed from the members.
    """
    n_sites = len(site_ids)
    inside = ps[ps["role"] != "retained_inside"]
    rows = inside["row"].to_numpy()
    lab = inside["site"].to_numpy()
    floor = pd.to_numeric(_col(parcels, "floor_area_m2"), errors="coerce").to_numpy(dtype=float)
    agg = pd.DataFrame({
        "n_parcels": np.bincount(lab, minlength=n_sites),
        "land": np.bincount(lab, weights=land[rows], minlength=n_sites),
        "overlap": np.bincount(lab, weights=overlap[rows], minlength=n_sites),
        "floor": np.bincount(lab, weights=np.nan_to_num(floor[rows]), minlength=n_sites),
        "flag_land": np.bincount(lab, weights=np.where(is_flag[rows], land[rows], 0.0), minlength=n_sites),
        "flag_overlap": np.bincount(lab, weights=np.where(is_flag[rows], overlap[rows], 0.0), minlength=n_sites),
        "n_owners": _n_distinct(_col(parcels, "owner", pd.NA), rows, lab, n_sites),
        "n_enterprises": _n_enterprises(parcels, rows, lab, n_sites),
    })
    n_ret = np.bincount(ps.loc[ps["role"] == "retained_inside", "site"].to_numpy(), minlength=n_sites)
    close = params.gap_m / 2 + 1e-3 if (params.close_gaps and params.gap_m > 0) else 0.0
    if outline is None:
        outline = (_graph.grouped_union(geoms[rows], lab, n_sites, close=close) if n_sites
                   else np.empty(0, dtype=object))
    outline = _cut(outline, parts)
    land_gross = agg["land"].to_numpy(dtype=float)
    net = np.maximum(land_gross - agg["overlap"].to_numpy(dtype=float), 0.0)
    floor_sum = agg["floor"].to_numpy(dtype=float)
    per = shapely.length(outline)
    area_g = shapely.area(outline)
    compact = np.divide(4 * np.pi * area_g, per**2, out=np.zeros(n_sites), where=per > 0)
    status = np.full(n_sites, "ok", dtype=object)
    status[net < params.min_area_m2] = "too_small"
    if params.max_area_m2 is not None:  # the flagged land, as split: absorbed enclaves may add up to enclave_max_share
        flag_net = agg["flag_land"].to_numpy(dtype=float) - agg["flag_overlap"].to_numpy(dtype=float)
        status[flag_net > params.max_area_m2 * (1 + 1e-9)] = "too_large"
    out = gpd.GeoDataFrame({
        "site_id": site_ids,
        "status": status,
        "n_parcels": agg["n_parcels"].fillna(0).astype("int64").to_numpy(),
        "n_owners": agg["n_owners"].fillna(0).astype("int64").to_numpy(),
        "n_enterprises": agg["n_enterprises"].fillna(0).astype("int64").to_numpy(),
        "land_area_m2": net,
        "land_area_mu": net / MU_M2,
        "floor_area_m2": floor_sum,
        "plot_ratio": np.divide(floor_sum, land_gross, out=np.full(n_sites, np.nan), where=land_gross > 0),
        "flagged_share": np.divide(agg["flag_land"].to_numpy(dtype=float), land_gross, out=np.zeros(n_sites),
                                   where=land_gross > 0),
        "compactness": compact,
        "constraint_overlap_m2": agg["overlap"].to_numpy(dtype=float),
        "n_retained_inside": n_ret.astype("int64"),
        "potential_floor_area_m2": net * params.target_plot_ratio,
    }, geometry=outline, crs=parcels.crs)
    return out


#: The columns :func:`rescore` makes (from the others).
RESCORED = frozenset({"difficulty", "score_area", "score_flagged", "score_compactness", "score_unconstrained",
                      "score_uplift", "score_difficulty", "score", "rank", "score_formula"})


def rescore(sites: gpd.GeoDataFrame, params: SiteParams) -> gpd.GeoDataFrame:
    """(Re)compute ``difficulty``, ``score``, its terms, ``rank`` and ``score_formula`` of a sites table.

    Normalizations use the maxima over the sites with status ``"ok"``, so a
    change to one site refreshes every site's score and rank.
    """
    s = sites.copy()
    w = params.weights
    ok = (s["status"] == "ok").to_numpy()
    land = s["land_area_m2"].to_numpy(dtype=float)
    gross = land + s["constraint_overlap_m2"].to_numpy(dtype=float)
    cshare = np.divide(s["constraint_overlap_m2"].to_numpy(dtype=float), gross, out=np.zeros(len(s)), where=gross > 0)
    uplift = np.maximum(s["potential_floor_area_m2"].to_numpy(dtype=float) - s["floor_area_m2"].to_numpy(dtype=float), 0)
    s["difficulty"] = params.difficulty.index(*(s[c] if c in s.columns else np.zeros(len(s))
                                                for c in ("n_owners", "n_enterprises", "n_retained_inside")))

    def norm(x):
        m = x[ok].max() if ok.any() else 0.0
        return np.clip(x / m, 0, None) if m > 0 else np.zeros(len(x))

    s["score_area"] = w.area * norm(land)
    s["score_flagged"] = w.flagged * s["flagged_share"].to_numpy(dtype=float)
    s["score_compactness"] = w.compactness * s["compactness"].to_numpy(dtype=float)
    s["score_unconstrained"] = w.unconstrained * (1 - cshare)
    s["score_uplift"] = w.uplift * norm(uplift)
    s["score_difficulty"] = -w.difficulty * norm(s["difficulty"].to_numpy(dtype=float))
    terms = ["score_area", "score_flagged", "score_compactness", "score_unconstrained", "score_uplift",
             "score_difficulty"]
    s["score"] = s[terms].sum(axis=1).round(6)
    rank = pd.Series(pd.NA, index=s.index, dtype="Int64")
    if ok.any():
        ids = pa.array(pd.Series(s["site_id"], dtype="string").array)
        if ids.null_count == 0 and (len(ids) < 2 or pc.all(pc.less(ids[:-1], ids[1:])).as_py()):
            # the table in id order (as built and edited): a stable sort by score keeps it among equal scores
            at = np.flatnonzero(ok)
            rank.iloc[at[np.argsort(-s["score"].to_numpy(dtype=float)[at], kind="stable")]] = np.arange(1, len(at) + 1)
        else:
            okd = s.loc[ok, ["score", "site_id"]].sort_values(["score", "site_id"], ascending=[False, True])
            rank.loc[okd.index] = np.arange(1, len(okd) + 1)
    s["rank"] = rank
    # one text for every row, held once (as text per row: 26 MB for 85k sites, again for every edited result)
    s["score_formula"] = pd.Categorical.from_codes(np.zeros(len(s), dtype=np.int8), categories=[params.score_formula()])
    return s[SITE_COLUMNS]


