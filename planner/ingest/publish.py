"""Publishing a survey: diff against the current version, merge of partial updates, the new version."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from planner import schema
from planner.errors import IngestError
from planner.ingest.report import IngestReport


def diff_parcels(old: pd.DataFrame, new: pd.DataFrame, *, max_ids: int = 1000) -> dict:
    """Added, removed and changed parcels (by ``parcel_id``) and which fields changed.

    Geometry counts as changed when it is not equal within 1 cm, vertex order aside.
    """
    o = old.drop_duplicates("parcel_id").set_index("parcel_id")
    nw = new.set_index("parcel_id")
    added = nw.index.difference(o.index)
    removed = o.index.difference(nw.index)
    common = nw.index.intersection(o.index)
    a, b = o.loc[common], nw.loc[common]
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
    ga = np.asarray(a.geometry.values if isinstance(a, gpd.GeoDataFrame) else a["geometry"].values, dtype=object)
    gb = np.asarray(b.geometry.values if isinstance(b, gpd.GeoDataFrame) else b["geometry"].values, dtype=object)
    gm = ~shapely.equals_exact(ga, gb, tolerance=0.01)
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


def _inherit(cur: gpd.GeoDataFrame, new: gpd.GeoDataFrame, columns: list[str]) -> gpd.GeoDataFrame:
    """Fill ``columns`` of ``new`` from each parcel's predecessor: same id, else largest overlap."""
    if not columns or not len(cur) or not len(new):
        return new
    cg = np.asarray(cur.geometry.values, dtype=object)
    ng = np.asarray(new.geometry.values, dtype=object)
    ni, ci = shapely.STRtree(cg).query(ng, predicate="intersects")
    pred = np.full(len(new), -1)
    if len(ni):
        area = shapely.area(shapely.intersection(ng[ni], cg[ci]))
        order = np.lexsort((area, ni))
        last = np.r_[ni[order][1:] != ni[order][:-1], True]
        pred[ni[order][last]] = ci[order][last]
    pos = pd.Series(np.arange(len(cur)), index=cur["parcel_id"].astype(str)).drop_duplicates()
    same = new["parcel_id"].astype(str).map(pos).to_numpy(dtype=float, na_value=np.nan)
    pred = np.where(np.isnan(same), pred, np.nan_to_num(same, nan=-1).astype(int))
    has = pred >= 0
    out = new.copy()
    for c in columns:
        vals = cur[c].to_numpy()[np.where(has, pred, 0)]
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
    cur = current.to_crs(new.crs) if current.crs is not None and not current.crs.equals(new.crs) else current
    rest = cur[~cur["parcel_id"].isin(new["parcel_id"])].reset_index(drop=True)
    rg = np.asarray(rest.geometry.values, dtype=object)
    ng = np.asarray(new.geometry.values, dtype=object)
    tree = shapely.STRtree(ng)
    ri, ni = tree.query(rg, predicate="intersects")
    inter = shapely.area(shapely.intersection(rg[ri], ng[ni])) if len(ri) else np.zeros(0)
    cov = np.bincount(ri, weights=inter, minlength=len(rest)) / np.maximum(shapely.area(rg), 1e-12)
    covered = cov >= cover_share
    if extent is not None:
        covered = shapely.contains_xy(extent, *shapely.get_coordinates(shapely.centroid(rg)).T) | covered
    removed = rest.loc[covered, "parcel_id"].astype(str).tolist()
    new = _inherit(cur, new, [c for c in (inherit or []) if c in cur.columns])
    kept = schema.conform(rest[~covered].reset_index(drop=True), crs=new.crs)
    both = pd.concat([kept, new], ignore_index=True)
    return schema.conform(gpd.GeoDataFrame(both, geometry="geometry", crs=new.crs), crs=new.crs), removed


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
    """
    if mode not in ("auto", "replace", "update"):
        msg = f"mode {mode!r}: use 'replace', 'update' or 'auto'"
        raise IngestError(msg, zh=f"发布方式 {mode!r} 无效，请使用 replace（整体替换）、update（局部更新）或 auto")
    notes = report.notes if report is not None else []
    extent = shapely.from_wkt(report.update_extent_wkt) if report is not None and report.update_extent_wkt else None
    if mode == "auto":
        if current is None or not len(current):
            mode = "replace"
        elif extent is not None:
            mode = "update"
            notes.append("mode auto -> update: the file ships an update extent")
        else:
            share = float(shapely.area(np.asarray(parcels.geometry.values)).sum()
                          / max(shapely.area(np.asarray(current.geometry.values)).sum(), 1e-9))
            mode = "update" if share < 0.5 else "replace"
            notes.append(f"mode auto -> {mode}: the file's parcels cover {share:.0%} of the current version's land")
    removed_merged: list[str] = []
    out = parcels
    if mode == "update" and current is not None:
        provided = set(report.mapping if report is not None else ()) | {"parcel_id", "land_area_m2", "geometry"}
        provided |= {"floor_area_m2"} if "plot_ratio" in provided else set()
        provided |= {"footprint_m2"} if "coverage" in provided else set()
        provided |= {"land_use"} if "land_use_code" in provided else set()
        inherit = [c for c in current.columns if c not in provided] if report is not None else []
        out, removed_merged = merge_update(current, parcels, cover_share=cover_share, extent=extent, inherit=inherit)
        if inherit:
            notes.append("update: fields the file does not carry are kept from each parcel's predecessor "
                         f"(same id, else largest overlap): {', '.join(inherit)}")
    if current is not None:
        diff = diff_parcels(current, out)
    else:
        diff = {"n_added": len(out), "n_removed": 0, "n_changed": 0, "n_unchanged": 0, "changed_fields": {},
                "added_ids": out["parcel_id"].astype(str).head(1000).tolist(), "removed_ids": [], "changed_ids": [],
                "changed_fields_by_id": {}}
    diff["n_removed_merged"] = len(removed_merged)
    diff["removed_merged_ids"] = removed_merged[:1000]
    return out, diff, mode


def publish(parcels: gpd.GeoDataFrame, store, *, report: IngestReport | None = None, mode: str = "auto",
            source_file: str | None = None, sha256: str | None = None, label: str | None = None,
            user: str | None = None, cover_share: float = 0.5) -> IngestReport:
    """Store accepted parcels as a new current survey version, with the diff in its meta.

    Parameters
    ----------
    parcels : GeoDataFrame
        Canonical parcels (from :func:`read_survey`).
    store : planner.io.store.Store
        The workspace.
    report : IngestReport, optional
        The read report; it is completed (mode, diff, version) and returned.
    mode : {"auto", "replace", "update"}
        See the module notes. ``auto`` picks ``update`` when the file ships an
        update extent or the parcels' total area is under half of the current
        version's. :func:`plan_publish` computes the same without writing.
    cover_share : float
        Update mode: current parcels covered at least this much are removed.
    """
    if mode not in ("auto", "replace", "update"):
        msg = f"mode {mode!r}: use 'replace', 'update' or 'auto'"
        raise IngestError(msg, zh=f"发布方式 {mode!r} 无效，请使用 replace（整体替换）、update（局部更新）或 auto")
    rep = report or IngestReport(source=str(source_file or "(data frame)"), n_read=len(parcels),
                                 n_accepted=len(parcels))
    parcels = parcels.to_crs(store.crs) if not pyproj.CRS.from_user_input(parcels.crs).equals(store.crs) else parcels
    has = store.has_layer("survey", "parcels")
    current = store.read_parcels() if has else None
    base = None
    if current is not None:
        cat = store.surveys()
        base = int(cat.loc[cat["is_current"], "version"].max()) if cat["is_current"].any() else None
    out, diff, mode = plan_publish(parcels, current, report=rep if report is not None else None,
                                   mode=mode, cover_share=cover_share)
    diff["base_version"] = base
    rep.mode = mode
    rep.diff = diff
    meta_diff = {k: (v[:200] if isinstance(v, list) else v) for k, v in diff.items() if k != "changed_fields_by_id"}
    meta_diff["changed_fields_by_id"] = dict(list(diff["changed_fields_by_id"].items())[:200])
    rep.version = store.publish_survey(out, label=label, user=user, source_file=source_file, sha256=sha256,
                                       meta={"diff": meta_diff, "ingest": rep.summary()})
    return rep


