"""Publishing a survey: diff against the current version, merge of partial updates, the new version."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from planner import schema
from planner.errors import IngestError, Note, message_in
from planner.i18n import column_label
from planner.ingest.report import IngestReport
from planner.shapes import single_parts


def diff_parcels(old: pd.DataFrame, new: pd.DataFrame, *, max_ids: int = 1000,
                 carried: tuple[np.ndarray, np.ndarray] | None = None) -> dict:
    """Added, removed and changed parcels (by ``parcel_id``) and which fields changed.

    Geometry counts as changed when it is not equal within 1 cm, vertex order aside; it is compared when both
    frames have it (a version read without its polygons is compared by its attributes).
    ``carried`` is ``(positions in old, positions in new)`` of rows ``new``
    carries over from ``old`` as they are (the parcels a partial update keeps,
    :func:`merge_update`): they count as unchanged without being compared, and
    only the other rows are diffed (a 500-parcel update of a 1M-parcel survey
    compares 500 rows, not 1M). Their ids must occur nowhere else in either.
    """
    if carried is not None:
        keep_old, keep_new = (np.ones(len(x), dtype=bool) for x in (old, new))
        keep_old[carried[0]], keep_new[carried[1]] = False, False
        d = diff_parcels(old.iloc[np.flatnonzero(keep_old)], new.iloc[np.flatnonzero(keep_new)], max_ids=max_ids)
        d["n_unchanged"] += len(carried[1])
        return d
    o = old.drop_duplicates("parcel_id")
    in_old = schema.id_positions(new["parcel_id"], o["parcel_id"])  # Arrow look-ups, not an index on 1M strings
    in_new = schema.id_positions(o["parcel_id"], new["parcel_id"])
    new_ids = new["parcel_id"].astype("string")
    added = pd.Index(new_ids[in_old < 0].unique()).sort_values()
    removed = pd.Index(o["parcel_id"].astype("string")[in_new < 0]).sort_values()
    both = np.flatnonzero(in_old >= 0)  # in the new file's order
    common = pd.Index(new_ids.iloc[both])
    a, b = o.iloc[in_old[both]].reset_index(drop=True), new.iloc[both].reset_index(drop=True)
    cols = [c for c in schema.column_names() if c not in ("parcel_id", "geometry") and c in a.columns and c in b.columns]
    changed = np.zeros(len(common), dtype=bool)
    per_field: dict[str, int] = {}
    field_masks: dict[str, np.ndarray] = {}
    for c in cols:
        x, y = a[c], b[c]
        if schema.field(c).kind == "float":
            xv = x.to_numpy(dtype=float, na_value=np.nan)
            yv = y.to_numpy(dtype=float, na_value=np.nan)
            same = np.isclose(xv, yv, rtol=1e-9, atol=1e-6) | (np.isnan(xv) & np.isnan(yv))
        else:
            xs, ys = x.astype("string"), y.astype("string")
            same = ((xs == ys).fillna(False) | (xs.isna() & ys.isna())).to_numpy(dtype=bool)
        m = ~same
        if m.any():
            per_field[c] = int(m.sum())
            field_masks[c] = m
        changed |= m
    if not (_has_geometry(a) and _has_geometry(b)):  # the attributes alone (a version read without its polygons)
        gm = np.zeros(len(common), dtype=bool)
        ga = gb = np.zeros(0, dtype=object)
    else:
        ga = np.asarray(a.geometry.values if isinstance(a, gpd.GeoDataFrame) else a["geometry"].values, dtype=object)
        gb = np.asarray(b.geometry.values if isinstance(b, gpd.GeoDataFrame) else b["geometry"].values, dtype=object)
        gm = ~shapely.equals_exact(ga, gb, tolerance=0.01)
    if gm.any():  # a multipolygon of one part equals its polygon (a stored survey is all multi; a file, the app's not)
        sub = np.flatnonzero(gm)
        gm[sub] = ~shapely.equals_exact(single_parts(ga[sub]), single_parts(gb[sub]), tolerance=0.01)
    if gm.any():
        sub = np.flatnonzero(gm)
        gm[sub] = ~shapely.equals(ga[sub], gb[sub])
    if gm.any():
        per_field["geometry"] = int(gm.sum())
        field_masks["geometry"] = gm
    changed |= gm
    ch_ids = common[changed]
    by_id: dict[str, list[str]] = {}
    for i in np.flatnonzero(changed)[:max_ids]:
        by_id[str(common[i])] = [c for c, m in field_masks.items() if m[i]]
    return {"n_added": len(added), "n_removed": len(removed), "n_changed": int(changed.sum()),
            "n_unchanged": int(len(common) - changed.sum()), "changed_fields": per_field,
            "added_ids": [str(x) for x in added[:max_ids]], "removed_ids": [str(x) for x in removed[:max_ids]],
            "changed_ids": [str(x) for x in ch_ids[:max_ids]], "changed_fields_by_id": by_id}


def _has_geometry(df: pd.DataFrame) -> bool:
    return isinstance(df, gpd.GeoDataFrame) or "geometry" in df.columns


def _overlaps(new: np.ndarray, old: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs ``(i, j)`` of intersecting ``new[i]`` and ``old[j]`` and their overlap area.

    The new geometries are split into their polygon parts first, so the work
    grows with the parts that actually overlap: a feature of a million parts
    costs a million small intersections, not a million-part intersection per
    neighbour (which took minutes). The tree is built over the smaller side.
    """
    parts, owner = shapely.get_parts(new, return_index=True)
    if len(parts) < len(old):  # the tree over the smaller side: a 500-parcel update of a 1M-parcel survey
        oj, pi = shapely.STRtree(parts).query(old, predicate="intersects")
        o = np.lexsort((oj, pi))  # in part order, as the other side gives them (the sums below add in this order)
        pi, oj = pi[o], oj[o]
    else:
        pi, oj = shapely.STRtree(old).query(parts, predicate="intersects")
    if not len(pi):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
    area = shapely.area(shapely.intersection(parts[pi], old[oj]))
    key = owner[pi].astype(np.int64) * len(old) + oj
    uniq, inv = np.unique(key, return_inverse=True)
    return uniq // len(old), uniq % len(old), np.bincount(inv, weights=area)


def _inherit(cur: gpd.GeoDataFrame, new: gpd.GeoDataFrame, columns: list[str]) -> gpd.GeoDataFrame:
    """Fill ``columns`` of ``new`` from each parcel's predecessor: same id, else largest overlap."""
    if not columns or not len(cur) or not len(new):
        return new
    cg = np.asarray(cur.geometry.values, dtype=object)
    ni, ci, area = _overlaps(np.asarray(new.geometry.values, dtype=object), cg)
    pred = np.full(len(new), -1)
    if len(ni):
        order = np.lexsort((area, ni))
        last = np.r_[ni[order][1:] != ni[order][:-1], True]
        pred[ni[order][last]] = ci[order][last]
    same = schema.id_positions(new["parcel_id"], cur["parcel_id"])  # the new parcels' ids among 1M: Arrow look-ups
    pred = np.where(same < 0, pred, same)
    has = pred >= 0
    out = new.copy()
    for c in columns:
        vals = cur[c].iloc[np.where(has, pred, 0)].to_numpy()  # the predecessors' values, not the column's 1M
        if c in out.columns:
            fill = has & out[c].isna().to_numpy()
            col = out[c].to_numpy(copy=True)
            col[fill] = vals[fill]
            out[c] = pd.array(col, dtype=cur[c].dtype)
        else:
            out[c] = pd.array(np.where(has, vals, None), dtype=cur[c].dtype) if cur[c].dtype != float else \
                np.where(has, vals, np.nan)
    return out


def merge_update(current: gpd.GeoDataFrame, new: gpd.GeoDataFrame, *, cover_share: float = 0.5,
                 extent=None, inherit: list[str] | None = None) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Merge a partial survey into the current parcels.

    Parcels of ``new`` replace the same ids and new ids are added; current
    parcels at least ``cover_share`` covered by parcels of ``new`` are removed
    (merged or re-parcelled); every other current parcel is kept. With an
    ``extent`` (a polygon shipped with the update, e.g. 更新范围.shp), every
    current parcel whose centroid lies in it is replaced instead of the cover rule.
    Columns in ``inherit`` (those the update file does not carry) are filled
    from each new parcel's predecessor: the current parcel with the same id,
    else the one it overlaps most.

    Returns
    -------
    (GeoDataFrame, list of str)
        The merged parcels (canonical schema) and the ids removed by cover.
    """
    out, removed, _ = _merge_update(current, new, cover_share=cover_share, extent=extent, inherit=inherit)
    return out, removed


def _merge_update(current: gpd.GeoDataFrame, new: gpd.GeoDataFrame, *, cover_share: float = 0.5, extent=None,
                  inherit: list[str] | None = None) -> tuple[gpd.GeoDataFrame, list[str], tuple | None]:
    """:func:`merge_update`, and the kept parcels as ``diff_parcels(carried=...)`` takes them (None when the
    current parcels had to be reprojected: then they are not carried over as they are)."""
    cur = current.to_crs(new.crs) if current.crs is not None and not current.crs.equals(new.crs) else current
    # positions, and one take of the kept rows at the end: a partial update of a 1M-parcel survey keeps nearly all
    rest = np.flatnonzero(~cur["parcel_id"].isin(new["parcel_id"]).to_numpy(dtype=bool))
    rg = np.asarray(cur.geometry.values, dtype=object)[rest]
    ni, ri, inter = _overlaps(np.asarray(new.geometry.values, dtype=object), rg)
    cov = np.bincount(ri, weights=inter, minlength=len(rest)) / np.maximum(shapely.area(rg), 1e-12)
    covered = cov >= cover_share
    if extent is not None:
        covered = _centroid_in(extent, rg) | covered
    removed = cur["parcel_id"].iloc[rest[covered]].astype(str).tolist()
    new = _inherit(cur, new, [c for c in (inherit or []) if c in cur.columns])
    kept = cur.iloc[rest[~covered]].reset_index(drop=True)
    if kept.crs is None and new.crs is not None:  # a survey without a CRS takes the update's (as the conform did)
        kept = kept.set_crs(new.crs)
    both = pd.concat([kept, new], ignore_index=True)  # one conform of the whole (it was one of the kept rows too)
    out = schema.conform(gpd.GeoDataFrame(both, geometry="geometry", crs=new.crs), crs=new.crs)
    # the kept rows lead the result; conform leaves a stored (conformed) row as it is
    carried = (rest[~covered], np.arange(len(kept))) if cur is current else None
    return out, removed, carried


def _centroid_in(extent, geoms: np.ndarray) -> np.ndarray:
    """Which ``geoms`` have their centroid in ``extent``; only those whose box meets the extent's box are looked at
    (a centroid lies in its geometry's box; an update's extent covers a district, the survey a city)."""
    out = np.zeros(len(geoms), dtype=bool)
    b, (x0, y0, x1, y1) = shapely.bounds(geoms), extent.bounds
    cand = np.flatnonzero((b[:, 2] >= x0) & (b[:, 0] <= x1) & (b[:, 3] >= y0) & (b[:, 1] <= y1))
    if len(cand):
        xy = shapely.get_coordinates(shapely.centroid(geoms[cand]))
        out[cand] = shapely.contains_xy(extent, xy[:, 0], xy[:, 1])
    return out


#: New features within this distance (m) of the current survey's extent count as overlapping it.
NEAR_M = 1000.0


def survey_overlap(parcels: gpd.GeoDataFrame, current: gpd.GeoDataFrame, *, near_m: float = NEAR_M) -> tuple[int, str]:
    """How many new parcels lie on the current survey (within ``near_m`` of its extent), and where it is.

    Compared by bounding boxes (cheap at a million parcels): a partial update,
    or land added next to the surveyed area, overlaps; another city does not.
    """
    with np.errstate(all="ignore"):
        cb = np.asarray(shapely.total_bounds(np.asarray(current.geometry.values)), dtype=float)
        nb = shapely.bounds(np.asarray(parcels.geometry.values))
    where = (f"x {cb[0]:.0f}..{cb[2]:.0f}, y {cb[1]:.0f}..{cb[3]:.0f}" if np.isfinite(cb).all() else "unknown")
    if not np.isfinite(cb).all():
        return 0, where
    with np.errstate(invalid="ignore"):
        near = ((nb[:, 0] <= cb[2] + near_m) & (nb[:, 2] >= cb[0] - near_m)
                & (nb[:, 1] <= cb[3] + near_m) & (nb[:, 3] >= cb[1] - near_m))
    return int(near.sum()), where


def _refuse_elsewhere(parcels: gpd.GeoDataFrame, where: str) -> IngestError:
    nb = np.asarray(shapely.total_bounds(np.asarray(parcels.geometry.values)), dtype=float)
    theirs = f"x {nb[0]:.0f}..{nb[2]:.0f}, y {nb[1]:.0f}..{nb[3]:.0f}" if np.isfinite(nb).all() else "unknown"
    msg = (f"none of the {len(parcels):,} parcels lies on or within {NEAR_M:g} m of the current survey "
           f"(the file: {theirs}; the survey: {where}): it is not an update of this survey, so nothing was "
           "published. Choose: replace, to make it the whole survey of this workspace (--mode replace; in the "
           "data manager: publish as 'replace'; the current parcels leave the current version, which stays in "
           "the history); or a new workspace for these data (planner workspace init NEW.gpkg --from FILE, or "
           "'new workspace' in the data manager, then load the file into it); or update, to add them to this "
           "survey all the same (--mode update; publish as 'update')")
    zh = (f"文件中的 {len(parcels):,} 个宗地均不在当前调查范围内或其 {NEAR_M:g} 米以内（文件范围 {theirs}；"
          f"调查范围 {where}）：不是本调查的更新，因此未发布。可选：以「整体替换」方式发布（数据管理中发布方式选"
          "「整体替换」，命令行 --mode replace；当前版本保留在历史中）；或为这些数据新建工作空间（数据管理中的"
          "「新建工作空间」，或 planner workspace init NEW.gpkg --from 文件）；或以「局部更新」方式仍然并入"
          "（发布方式选「局部更新」，命令行 --mode update）")
    return IngestError(msg, zh=zh)


def choose_mode(parcels: gpd.GeoDataFrame, current: gpd.GeoDataFrame | None,
                report: IngestReport | None = None) -> tuple[str, str]:
    """What ``auto`` mode means for this load: ``("replace" | "update", why)``.

    ``replace`` only when nothing speaks against it: no current survey, or a
    clean file (no rejected rows, no update extent) whose land is at least
    half of the current version's. A load with rejected rows, or whose
    coverage cannot be computed (NaN), is an ``update``: an update never
    removes a parcel the file does not cover, so a bad row never replaces the
    survey. ``--mode replace`` replaces on purpose.

    Either needs the file to overlap the current survey
    (:func:`survey_overlap`): data from elsewhere (another city) are refused
    with :class:`IngestError` spelling out the choices (replace on purpose,
    a new workspace, or update on purpose).
    """
    if current is None or not len(current):
        return "replace", Note("the workspace has no survey yet", zh="工作空间尚无调查数据")
    n_near, where = survey_overlap(parcels, current)
    if n_near == 0 and len(parcels):
        raise _refuse_elsewhere(parcels, where)
    if report is not None and report.update_extent_wkt:
        return "update", Note("the file ships an update extent", zh="文件附带更新范围")
    if report is not None and report.n_rejected:
        return "update", Note(f"{report.n_rejected} row(s) were rejected, so the file is not taken as a whole "
                              "survey (use --mode replace to replace the survey with it)",
                              zh=f"有 {report.n_rejected} 行被拒收，因此不把该文件视为完整调查（如确要整体替换，"
                                 "请选择「整体替换」发布方式，命令行 --mode replace）")
    with np.errstate(all="ignore"):
        new_land = float(shapely.area(np.asarray(parcels.geometry.values)).sum())
        cur_land = float(shapely.area(np.asarray(current.geometry.values)).sum())
    share = new_land / cur_land if cur_land > 0 else float("nan")
    if not np.isfinite(share):
        return "update", Note("the land coverage could not be computed", zh="无法计算用地覆盖比例")
    mode = "update" if share < 0.5 else "replace"
    return mode, Note(f"the file's parcels cover {share:.0%} of the current version's land",
                      zh=f"文件中的地块覆盖当前版本用地面积的 {share:.0%}")


def _loose_ids(ids):
    """Ids as written loosely (an Arrow string array): lower case, no spaces, dashes or underscores, the leading
    zeros of digit runs dropped (RE2 in Arrow: 1M ids in a fraction of a second)."""
    import pyarrow.compute as pc

    a = pc.utf8_lower(ids)
    for sep in (" ", "-", "_", "\t", "\u3000", "\u00a0"):  # literal passes: a third of one regex pass's time
        a = pc.replace_substring(a, sep, "")
    return pc.replace_substring_regex(a, r"(^|[^0-9])0+([0-9])", r"\1\2")


#: Share of a file's ids not among the current ones from which they are looked at loosely: a file whose ids were
#: rewritten (case, padding) misses almost all; an update adding parcels misses a few (and a check of every current
#: id costs 1-2 s at 1M parcels, on every ingest).
MIN_UNMATCHED_SHARE = 0.2


def id_format_mismatch(new_ids, current_ids) -> dict | None:
    """Ids of a file that match current ids only when written loosely (``GB00001`` / ``gb1``), else None.

    Such a file re-keys the parcels: published as they are, its ids are new parcels, the old ones are
    removed, and what refers to a parcel by id (history, enterprise links) no longer finds it.

    Examples
    --------
    >>> id_format_mismatch(pd.Series(["350582gb001", "X9"]), pd.Series(["350582GB00001", "X8"]))["n"]
    1
    >>> id_format_mismatch(pd.Series([f"A{i}" for i in range(10)] + ["a01"]), pd.Series(["A1"])) is None
    False
    >>> id_format_mismatch(pd.Series(["A1"]), pd.Series(["A1", "A2"])) is None
    True
    >>> id_format_mismatch(pd.Series(["a-0b01"]), pd.Series(["A 0B1"]))["current_id"]
    'A 0B1'
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    def texts(ids) -> pa.Array:
        return pa.array(pd.Series(ids, dtype=object).astype(str), type=pa.string()).unique()

    new, cur = texts(new_ids), texts(current_ids)
    unmatched = pc.filter(new, pc.invert(pc.is_in(new, value_set=cur)))
    if len(unmatched) < max(1, MIN_UNMATCHED_SHARE * len(new)):  # parcels added by an update, not ids re-keyed
        return None
    cur_keys, keys = _loose_ids(cur), _loose_ids(unmatched)
    hit = pc.is_in(keys, value_set=cur_keys).to_numpy(zero_copy_only=False)
    if not hit.any():
        return None
    i = int(np.flatnonzero(hit)[0])
    at = pc.index(cur_keys, keys[i]).as_py()
    return {"n": int(hit.sum()), "of": len(new), "file_id": unmatched[i].as_py(), "current_id": cur[at].as_py()}


def id_format_warning(m: dict) -> tuple[str, str]:
    """The warning (English, Chinese) of :func:`id_format_mismatch`."""
    en = (f"{m['n']:,} of the file's {m['of']:,} parcel ids differ from ids of the current survey only in case, "
          f"spaces, dashes or leading zeros (e.g. {m['file_id']!r} in the file, {m['current_id']!r} in the survey): "
          "published as they are, they become new parcels and the old ones are removed, so what refers to a parcel "
          "by its id (history, enterprise links) no longer finds it. Write the ids as the survey does and upload again")
    zh = (f"文件的 {m['of']:,} 个宗地代码中有 {m['n']:,} 个与当前调查的宗地代码仅在大小写、空格、连字符或前导零上不同"
          f"（如文件中的 {m['file_id']!r}、调查中的 {m['current_id']!r}）：按原样发布将成为新地块、原地块被移除，"
          "按宗地代码关联的历史和企业数据将找不到对应地块。请按调查中的写法改正宗地代码后重新上传")
    return en, zh


def plan_publish(parcels: gpd.GeoDataFrame, current: gpd.GeoDataFrame | None, *,
                 report: IngestReport | None = None, mode: str = "auto",
                 cover_share: float = 0.5) -> tuple[gpd.GeoDataFrame, dict, str]:
    """What publishing ``parcels`` over ``current`` would store, without writing.

    Pure: resolves ``mode`` (see :func:`publish`), merges a partial update into
    the current version and diffs the result against it. The app's data manager
    shows this diff before the user publishes; :func:`publish` stores exactly it.

    Returns
    -------
    (layer, diff, mode)
        The parcel layer that would become current, the diff against
        ``current`` and the resolved mode. Notes go to ``report.notes``.
        Whether the layer is an earlier version's parcels again (refused by
        :func:`publish`) takes the workspace: :func:`equal_earlier_version`.
    """
    if mode not in ("auto", "replace", "update"):
        msg = f"mode {mode!r}: use 'replace', 'update' or 'auto'"
        raise IngestError(msg, zh=f"发布方式 {mode!r} 无效，请使用 replace（整体替换）、update（局部更新）或 auto")
    notes = report.notes if report is not None else []
    extent = shapely.from_wkt(report.update_extent_wkt) if report is not None and report.update_extent_wkt else None
    if mode == "auto":
        try:
            mode, why = choose_mode(parcels, current, report)
        except IngestError as exc:
            if report is not None:
                report.refused, report.refusal = True, str(exc)
                exc.report = report  # type: ignore[attr-defined]
            raise
        mode_zh = {"replace": "整体替换", "update": "局部更新"}[mode]
        notes.append(Note(f"mode auto -> {mode}: {why}", zh=f"自动选择发布方式：{mode_zh}（{message_in(why, 'zh')}）"))
    removed_merged: list[str] = []
    out, carried = parcels, None
    if mode == "update" and current is not None:
        provided = set(report.mapping if report is not None else ()) | {"parcel_id", "land_area_m2", "geometry"}
        provided |= {"floor_area_m2"} if "plot_ratio" in provided else set()
        provided |= {"footprint_m2"} if "coverage" in provided else set()
        provided |= {"land_use"} if "land_use_code" in provided else set()
        inherit = [c for c in current.columns if c not in provided] if report is not None else []
        out, removed_merged, carried = _merge_update(current, parcels, cover_share=cover_share, extent=extent,
                                                     inherit=inherit)
        if inherit:
            notes.append(Note("update: fields the file does not carry are kept from each parcel's predecessor "
                              f"(same id, else largest overlap): {', '.join(inherit)}",
                              zh="局部更新：文件中没有的字段沿用各地块原有的值（同一宗地代码，否则取重叠最大的原地块）："
                                 + "、".join(column_label(c, "zh") for c in inherit)))
    if current is not None:
        diff = diff_parcels(current, out, carried=carried)
    else:
        diff = {"n_added": len(out), "n_removed": 0, "n_changed": 0, "n_unchanged": 0, "changed_fields": {},
                "added_ids": out["parcel_id"].astype(str).head(1000).tolist(), "removed_ids": [], "changed_ids": [],
                "changed_fields_by_id": {}}
    diff["n_removed_merged"] = len(removed_merged)
    diff["removed_merged_ids"] = removed_merged[:1000]
    # ids looked at loosely only when many of the file's are new (the diff counted them): an update adding a few
    # parcels costs nothing more
    rekeyed = current is not None and diff["n_added"] >= max(1, MIN_UNMATCHED_SHARE * len(parcels))
    mismatch = id_format_mismatch(parcels["parcel_id"], current["parcel_id"]) if rekeyed else None
    if mismatch is not None:
        diff["id_format"] = mismatch
        if report is not None:
            en, zh = id_format_warning(mismatch)
            report.warnings.append(f"WARNING: {en}")
            report.warnings_zh.append(f"警告：{zh}")
    return out, diff, mode


#: ``publish(base_version=...)`` omitted: merge into whatever is current when the lock is held.
_ANY = object()


def current_survey_version(store) -> int | None:
    """The current version of the parcel survey, None when the workspace has none."""
    cat = store.surveys()
    cur = cat[cat["is_current"] & (cat["name"] == "parcels")]
    return int(cur["version"].iloc[0]) if len(cur) else None


def _changed_since(store, expected: int | None, base: int | None, source: str, mode: str, notes: list[str]) -> None:
    """The survey moved from ``expected`` to ``base`` while the load was prepared: refuse a replace, note an update."""
    cat = store.surveys()
    row = cat[(cat["name"] == "parcels") & (cat["version"] == base)]
    by = f" by {row['user'].iloc[0]} at {row['created_at'].iloc[0]}" if len(row) else ""
    was = f"version {expected}" if expected is not None else "no survey"
    if mode == "replace":
        msg = (f"{source}: the survey changed while you were working: version {base} was published{by}, after this "
               f"load started from {was}. Replacing now would drop that change, so nothing was published; run the "
               "load again (it will be compared with the new version), or publish it as a partial update (--mode update)")
        raise IngestError(msg, zh=f"{source}：处理期间调查数据已被他人更新（版本 {base}{by}），本次导入开始时为"
                                  f"{'版本 ' + str(expected) if expected is not None else '无调查数据'}。此时整体替换会丢失该更新，"
                                  "因此未发布；请重新导入（将与新版本比较），或以局部更新方式发布（--mode update）")
    was_zh = f"版本 {expected}" if expected is not None else "无调查数据"
    by_zh = f"，{row['user'].iloc[0]} 于 {row['created_at'].iloc[0]}" if len(row) else ""
    notes.append(Note(f"the survey changed while this load was prepared (version {base} was published{by}; the "
                      f"load started from {was}): the update was merged into version {base}, so both changes are kept",
                      zh=f"处理期间调查数据已更新（发布了版本 {base}{by_zh}；本次导入开始时为{was_zh}）：本次局部更新已"
                         f"合并到版本 {base}，两处更改均保留"))


def published_as(store, sha256: str | None) -> dict | None:
    """The latest survey version published from a file of these bytes (same SHA-256), or None.

    ``{"version", "created_at", "user", "source_file"}``: what the data manager says of a file uploaded again and
    why ``planner ingest`` refuses it (:func:`same_file_refusal`).
    """
    if not sha256:
        return None
    cat = store.surveys()
    if not len(cat) or "sha256" not in cat:
        return None
    same = cat[(cat["name"] == "parcels") & (cat["sha256"] == sha256)]
    if not len(same):
        return None
    row = same.sort_values("version").iloc[-1]
    return {"version": int(row["version"]), "created_at": row["created_at"],
            "user": None if pd.isna(row["user"]) or row["user"] in ("", None) else str(row["user"]),
            "source_file": row.get("source_file")}


def same_file_text(name: str, found: dict, lang: str, zone=None) -> str:
    """"NAME is the same file as survey version vN, published by USER on WHEN" in ``lang`` (the data manager's
    words; ``zone``: the time zone of WHEN, None: the machine's)."""
    from planner.i18n import local_time, t

    return t("dm_same_file", lang, name=name, v=found["version"], when=local_time(found["created_at"], zone),
             user=found["user"] or "?")


def same_file_refusal(name: str, found: dict, current: int | None | bool = False) -> IngestError:
    """The refusal of a file already published as ``found`` (:func:`published_as`), in both languages.

    In words of no face: each face adds its own how-to (the command line its ``--publish-again`` and its command
    to make the version current again, :func:`planner.cli.ingest.with_same_file_hints`). ``current``: the current
    survey version (None: none; False: not known); when ``found`` is an earlier version, the refusal says which
    is current and ``exc.earlier`` is the version found (None otherwise), ``exc.same_file`` is ``found``.
    """
    en, zh = (same_file_text(name, found, lang) + sep + _not_published(found["version"], current, lang, sep)
              for lang, sep in (("en", " "), ("zh", "")))
    exc = IngestError(en, zh=zh)
    exc.same_file = found  # type: ignore[attr-defined]
    exc.earlier = earlier_version(found["version"], current)  # type: ignore[attr-defined]
    return exc


def earlier_version(found: int, current: int | None | bool) -> int | None:
    """``found`` when it is not the current survey version ``current`` (False: not known, so None)."""
    return None if current is False or current == found else int(found)


def current_is_text(current: int | None, lang: str) -> str:
    """"The current survey is vN." (or that none is) in ``lang``."""
    from planner.i18n import t

    return t("ir_survey_current_is", lang, v=current) if current is not None else t("ir_survey_current_none", lang)


def _not_published(found: int, current: int | None | bool, lang: str, sep: str) -> str:
    from planner.i18n import t

    said = t("ir_same_file_refused", lang)
    return said if earlier_version(found, current) is None else said + sep + current_is_text(current, lang)


def _unchanged_refusal(name: str, version: int, report: IngestReport) -> IngestError:
    """The refusal of a load identical to current version ``version``, carrying its report (the diff)."""
    from planner.i18n import t

    exc = IngestError(t("ir_unchanged_refused", "en", name=name, v=version),
                      zh=t("ir_unchanged_refused", "zh", name=name, v=version))
    exc.report = report  # type: ignore[attr-defined]
    exc.unchanged = True  # type: ignore[attr-defined]  # planner ingest adds how to publish it anyway
    return exc


def equal_earlier_version(store, parcels: pd.DataFrame, *, current: int | None | bool = False,
                          changed_fields=None) -> dict | None:
    """The newest survey version other than the current one whose parcels equal ``parcels``, or None.

    ``parcels``: what publishing would store (after the merge of a partial update: ``plan_publish``'s layer).
    Equal as :func:`diff_parcels` says it: nothing added, removed or changed against that version. Publishing
    them would make a copy of an earlier version under a new number (a clerk's re-export of last month's survey: a
    silent rollback); switching to that version makes it current again without a copy. ``current``: the current
    survey version (None: none is current; False: looked up), which is never a candidate. ``changed_fields``: the
    fields ``parcels`` changes against the current version (``plan_publish``'s ``diff["changed_fields"]``), if
    known: an equal version differs from the current one there too, so they are compared first.

    Cheap where no version can be equal (a load's usual case, whatever the survey's size): only versions of as
    many rows as ``parcels`` (the catalogue's ``n_rows``) whose float columns add up as the load's do (the sums
    each version keeps, :func:`planner.schema.figure_sums`; a version published before they were kept is a
    candidate) are candidates, newest first, and nothing is read of any other (a monthly update of the same
    parcels' figures reads no earlier month). Of a candidate the parcel ids (with ``changed_fields``' attributes) are read and compared as sets
    (Arrow), then those attributes; a version of the very same ids and figures is read without its polygons and
    every attribute compared, and only then its polygons alone. At 200,000 (1M) parcels: no candidate 0.01 s
    (0.01 s); a candidate of other ids 0.3 s (1.5 s), of other figures where the load changes them 0.7 s (2.9 s);
    a copy found 2 s (13 s, instead of publishing it).

    Returns
    -------
    dict or None
        ``{"version", "created_at", "user", "label", "source_file"}`` of the version found.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from planner.io.store import catalogue_meta

    cat = store.surveys()
    if not len(cat):
        return None
    cat = cat[cat["name"] == "parcels"]
    if current is False:
        cur = cat[cat["is_current"].astype(bool)]
        current = int(cur["version"].iloc[-1]) if len(cur) else None
    n_rows = pd.to_numeric(cat["n_rows"], errors="coerce")
    cand = cat[(n_rows == len(parcels)).to_numpy() & (cat["version"].astype(int) != (current or 0)).to_numpy()]
    if not len(cand):
        return None
    # an earlier version whose figures add up otherwise is not read at all (a monthly update of the same parcels'
    # figures: every version has as many rows and the same ids)
    sums = schema.figure_sums(parcels)
    cand = cand[[_sums_may_match(catalogue_meta(m).get(schema.FIGURE_SUMS) or {}, sums) for m in cand["meta"]]]
    if not len(cand):
        return None
    fields = list(changed_fields or ())
    hint = [c for c in fields if c not in ("parcel_id", "geometry")]
    # the rest of a candidate: its attributes (without the polygons, most of a read), then its polygons alone (with
    # the ids); the polygons first when they are all the load changes
    rest = [{"geometry": False}, {"columns": ["parcel_id"]}]
    if "geometry" in fields and not hint:
        rest.reverse()
    ids, found = None, None
    for _, row in cand.sort_values("version", ascending=False).iterrows():
        v = int(row["version"])
        if ids is None:  # the load's ids once, as a set, only when a version has as many rows
            ids = pc.unique(pa.array(pd.Series(parcels["parcel_id"], dtype="string").array))
        first = store.read_parcels(v, columns=["parcel_id", *hint], geometry=False)
        old_ids = pc.unique(pa.array(pd.Series(first["parcel_id"], dtype="string").array))
        if len(old_ids) != len(ids) or not pc.all(pc.is_in(old_ids, value_set=ids)).as_py():
            continue
        if (hint and _differs(first, parcels)) or any(_differs(store.read_parcels(v, **kw), parcels) for kw in rest):
            continue
        found = row
        break
    if found is None:
        return None
    label = catalogue_meta(found.get("meta")).get("label")
    return {"version": int(found["version"]), "created_at": found["created_at"],
            "user": _text_or_none(found.get("user")), "label": _text_or_none(label),
            "source_file": _text_or_none(found.get("source_file"))}


def _sums_may_match(old: dict, new: dict) -> bool:
    """Whether two versions of :func:`planner.schema.figure_sums` ``old`` and ``new`` may be equal value by value.

    :func:`diff_parcels` takes floats as equal within ``1e-6 + 1e-9 * |value|``: equal columns have the same
    count of values present and sums apart by at most that summed over the values (plus rounding of the sums).
    A column one side lacks is not compared here (the read that follows compares it).
    """
    for c, (n, total, mag) in new.items():
        if c not in old:
            continue
        n_old, total_old, mag_old = old[c]
        if int(n_old) != int(n):
            return False
        slack = n * 1e-6 + 1e-9 * max(mag, mag_old) + 1e-12 * (mag + mag_old)
        if abs(float(total_old) - float(total)) > slack:
            return False
    return True


def _differs(old: pd.DataFrame, new: pd.DataFrame) -> bool:
    """Whether :func:`diff_parcels` finds a parcel added, removed or changed (in the columns ``old`` has)."""
    d = diff_parcels(old, new, max_ids=0)
    return any(d[f"n_{k}"] for k in ("added", "removed", "changed"))


def _text_or_none(x) -> str | None:
    return None if x is None or (isinstance(x, float) and np.isnan(x)) or str(x) in ("", "None", "nan") else str(x)


def earlier_text(name: str, found: dict, lang: str, current: int | None, local_time=None) -> str:
    """"Published, NAME would make the parcels of survey version vN ("label", by U on T) ... The current survey is vM."
    in ``lang`` (:func:`equal_earlier_version`'s ``found``), in words of no face: the command line adds its
    ``planner workspace use survey N`` and ``--publish-again``, the app its versions list. ``local_time`` writes
    the version's time (default: the machine's time zone)."""
    return _earlier_said(name, found, lang, local_time) + ("" if lang == "zh" else " ") + current_is_text(current, lang)


def _earlier_said(name: str, found: dict, lang: str, local_time=None) -> str:
    from planner.i18n import local_time as machine_time
    from planner.i18n import t

    label = t("ir_earlier_label", lang, label=found["label"]) if found.get("label") else ("" if lang == "en" else " ")
    return t("ir_earlier_same", lang, name=name, v=found["version"], label=label,
             when=(local_time or machine_time)(found["created_at"]), user=found.get("user") or "?")


def earlier_refusal(name: str, found: dict, current: int | None, report: IngestReport | None = None) -> IngestError:
    """The refusal of a load equal to the earlier survey version ``found`` (:func:`equal_earlier_version`), in both
    languages (:func:`earlier_text` and "nothing was published"). ``exc.earlier`` is that version and
    ``exc.unchanged`` is True (a load that publishes nothing new: ``planner ingest`` adds ``--publish-again`` and
    the command that makes the version current again); ``exc.report`` is ``report``."""
    from planner.i18n import t

    en, zh = (_earlier_said(name, found, lg) + sep + t("ir_same_file_refused", lg) + sep + current_is_text(current, lg)
              for lg, sep in (("en", " "), ("zh", "")))
    exc = IngestError(en, zh=zh)
    exc.report = report  # type: ignore[attr-defined]
    exc.unchanged = True  # type: ignore[attr-defined]
    exc.earlier = int(found["version"])  # type: ignore[attr-defined]
    exc.equal_to = found  # type: ignore[attr-defined]
    return exc


def publish(parcels: gpd.GeoDataFrame, store, *, report: IngestReport | None = None, mode: str = "auto",
            source_file: str | None = None, sha256: str | None = None, label: str | None = None,
            user: str | None = None, cover_share: float = 0.5, base_version=_ANY,
            unchanged_ok: bool = False) -> IngestReport:
    """Store accepted parcels as a new current survey version, with the diff in its meta.

    The current version is read, merged and replaced under the workspace's
    writer lock, so two loads published at the same time never drop each
    other's parcels: the second one is merged into the first one's result.

    Parameters
    ----------
    parcels : GeoDataFrame
        Canonical parcels (from :func:`read_survey`).
    store : planner.io.store.Store
        The workspace.
    report : IngestReport, optional
        The read report; it is completed (mode, diff, version) and returned.
    mode : {"auto", "replace", "update"}
        See the module notes and :func:`choose_mode`. :func:`plan_publish`
        computes the same without writing.
    cover_share : float
        Update mode: current parcels covered at least this much are removed.
    base_version : int or None, optional
        The survey version the load was prepared against
        (:func:`current_survey_version` when it started; None: the workspace
        had none). When another version became current meanwhile, an update
        is merged into it (and says so in the notes) and a replace is refused
        with :class:`IngestError` ("the survey changed while you were
        working"), as replacing would drop the other change. Omitted: merge
        into whatever is current.
    unchanged_ok : bool
        Publish even when the parcels add, remove and change nothing against
        the current version (an identical version), or against an earlier one
        (:func:`equal_earlier_version`). Without it such a load is refused with
        :class:`IngestError`, as the app's data manager does not offer it: a
        re-exported copy of the current survey (other bytes, the same parcels)
        is not a new survey, and one of an earlier version is that version
        made current again by switching to it (:func:`earlier_refusal`:
        ``exc.earlier`` names it), not a copy under a new number.
    """
    if mode not in ("auto", "replace", "update"):
        msg = f"mode {mode!r}: use 'replace', 'update' or 'auto'"
        raise IngestError(msg, zh=f"发布方式 {mode!r} 无效，请使用 replace（整体替换）、update（局部更新）或 auto")
    rep = report or IngestReport(source=str(source_file or "(data frame)"), n_read=len(parcels),
                                 n_accepted=len(parcels))
    parcels = parcels.to_crs(store.crs) if not pyproj.CRS.from_user_input(parcels.crs).equals(store.crs) else parcels
    with store.write_lock("publish_survey"):
        base = current_survey_version(store)
        current = store.read_parcels() if base is not None else None
        out, diff, mode = plan_publish(parcels, current, report=rep if report is not None else None,
                                       mode=mode, cover_share=cover_share)
        if base_version is not _ANY and base_version != base:
            _changed_since(store, base_version, base, rep.dataset or rep.source, mode, rep.notes)
        diff["base_version"] = base
        rep.mode = mode
        rep.diff = diff
        if base is not None and not unchanged_ok and not any(diff.get(f"n_{k}") for k in ("added", "removed",
                                                                                          "changed")):
            raise _unchanged_refusal(rep.dataset or rep.source or str(source_file), base, rep)
        # the parcels of an earlier version again (last month's survey re-exported): that version switched back to,
        # not copied under a new number; cheap when no earlier version has as many parcels
        earlier = None if unchanged_ok else equal_earlier_version(store, out, current=base,
                                                                  changed_fields=diff.get("changed_fields"))
        if earlier is not None:
            raise earlier_refusal(rep.dataset or rep.source or str(source_file), earlier, base, rep)
        meta_diff = {k: (v[:200] if isinstance(v, list) else v) for k, v in diff.items() if k != "changed_fields_by_id"}
        meta_diff["changed_fields_by_id"] = dict(list(diff["changed_fields_by_id"].items())[:200])
        rep.version = store.publish_survey(out, label=label, user=user, source_file=source_file, sha256=sha256,
                                           meta={"diff": meta_diff, "ingest": rep.summary()})
    return rep
