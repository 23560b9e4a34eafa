"""A partial survey update of the sample city, shaped like a Chinese GIS office's delivery.

Contents (``survey_update``): every parcel whose centroid lies in one of two
neighbourhoods (the update extent, 更新范围), with Chinese cadastral field
names and office units (NSE and CZ in 万元). Most keep their values, a few
hundred get new floor area and tax, some are split into new parcels and some
pairs are merged (two old ids -> one new id, geometry the union). It is a
*partial* update: it replaces the parcels of the area it covers only.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import shapely

from planner.sample.geometry import disjoint_pairs

FOLDER = "晋江市宗地更新2025"
#: Canonical status -> the office's Chinese status label (ZT).
STATUS_ZH = {"in_use": "在用", "idle": "闲置", "vacant": "空置", "under_construction": "在建",
             "stopped": "停产", "half_stopped": "半停产"}
README_TXT = (
    "晋江市宗地数据更新（2025年度，局部更新）\r\n"
    "坐标系：CGCS2000 3度带高斯-克吕格投影，中央经线120°E（不带带号），单位米。\r\n"
    "字符编码：GBK。\r\n"
    "更新方式：局部更新，仅替换“更新范围.shp”内（宗地质心落在范围内）的全部宗地。\r\n"
    "宗地数 {n_rows} 宗，其中属性变更 {n_changed} 宗，新增（分割）{n_new} 宗，合并 {n_merged} 宗。\r\n"
    "字段：ZDDM宗地代码 ZDMJ宗地面积(平方米) JZMJ建筑面积(平方米) JZZDMJ建筑占地面积(平方米) RJL容积率 "
    "JZMD建筑密度(%) QLR权利人 SYQY使用企业 TDYT土地用途代码 CYDM产业代码 NSE纳税额(万元) CZ产值(万元) "
    "CYRS从业人数 ZT使用状态 JCNF建成年份 GHRJL规划容积率 BGLX变更类型 YZDDM原宗地代码\r\n"
)


def survey_update(city, *, seed: int = 2025) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, dict]:
    """Build the update table (Chinese fields), its extent polygons and summary counts.

    Parameters
    ----------
    city : planner.sample.SampleCity
    seed : int

    Returns
    -------
    (parcels, extent, summary)
    """
    rng = np.random.default_rng(seed)
    p = city.parcels
    cen = shapely.centroid(p.geometry.values)
    cx, cy = shapely.get_x(cen), shapely.get_y(cen)
    # two neighbourhoods centred on old-industrial parcels, far apart
    old = np.flatnonzero((p["zone_type"] == "old_industrial").to_numpy())
    if not len(old):
        old = np.arange(len(p))
    a = old[rng.integers(len(old))]
    d = np.hypot(cx[old] - cx[a], cy[old] - cy[a])
    b = old[np.argmax(np.where(d > 3000, -np.abs(d - 4000), -np.inf))] if (d > 3000).any() else old[np.argmax(d)]
    radius = float(np.clip(np.sqrt(p.geometry.area.sum() / len(p) * 350 / np.pi), 250, 900))
    extent_geoms = shapely.buffer(shapely.points([[cx[a], cy[a]], [cx[b], cy[b]]]), radius, quad_segs=16)
    inside = shapely.contains_xy(shapely.union_all(extent_geoms), cx, cy)
    # the delivered extent (更新范围) is the outline of the covered parcels, lanes closed, 1 m margin
    covered = p.geometry.values[inside]
    zone = shapely.contains_xy(extent_geoms[0], cx[inside], cy[inside])
    u = np.array([shapely.union_all(covered[zone]), shapely.union_all(covered[~zone])])
    closed = shapely.buffer(shapely.buffer(u, 8.0, join_style="mitre", mitre_limit=10.0), -7.0, join_style="mitre",
                            mitre_limit=10.0)
    outline = shapely.union(closed, shapely.buffer(u, 1.0, join_style="mitre", mitre_limit=10.0))
    extent = gpd.GeoDataFrame({"FWMC": ["更新片区一", "更新片区二"], "GXND": [2025, 2025]},
                              geometry=outline, crs=p.crs)
    inside = shapely.contains_xy(shapely.union_all(outline), cx, cy)
    sub = p[inside].reset_index(drop=True)
    n = len(sub)
    floor = sub["floor_area_m2"].to_numpy(dtype=float).copy()
    tax = sub["tax_cny"].to_numpy(dtype=float).copy()
    kind = np.full(n, "未变更", dtype=object)
    changed = (rng.random(n) < 0.55) & ~np.isnan(tax)
    floor[changed] = floor[changed] * rng.choice([1.0, 1.0, 1.15, 1.6], changed.sum()) * rng.uniform(0.98, 1.05, changed.sum())
    tax[changed] = tax[changed] * np.exp(rng.normal(0.08, 0.3, changed.sum()))
    kind[changed] = "属性变更"
    geom = sub.geometry.values.copy()
    ids = sub["parcel_id"].to_numpy(dtype=object).copy()
    old_ids = np.full(n, None, dtype=object)
    # merges: pairs of touching parcels of the same block (same id prefix)
    tree = shapely.STRtree(geom)
    i, j = tree.query(geom, predicate="touches")
    ok = (i < j) & (pd.Series(ids[i]).str.slice(0, 12).to_numpy() == pd.Series(ids[j]).str.slice(0, 12).to_numpy())
    i, j = i[ok], j[ok]
    i, j = disjoint_pairs(i, j, rng)
    i, j = i[:6], j[:6]
    union = shapely.union(geom[i], geom[j])
    good = shapely.get_type_id(union) == 3
    i, j, union = i[good], j[good], union[good]
    geom[i] = union
    old_ids[i] = pd.Series(ids[i], dtype=object) + ";" + ids[j]
    floor[i] = np.nansum([floor[i], floor[j]], axis=0)
    tax[i] = np.nansum([tax[i], tax[j]], axis=0)
    ids[i] = pd.Series(ids[i], dtype=object).str.slice(0, 14) + (90000 + np.arange(len(i))).astype(str)
    kind[i] = "合并"
    keep = np.ones(n, dtype=bool)
    keep[j] = False
    # splits: a few large parcels cut in two across their long side (new ids, the old id retires)
    area = shapely.area(geom)
    big = np.flatnonzero(keep & (area > 20_000) & (kind == "未变更"))[:4]
    mrr = shapely.oriented_envelope(geom[big])
    c = shapely.get_coordinates(shapely.get_exterior_ring(mrr)).reshape(-1, 5, 2)
    e1, e2 = c[:, 1] - c[:, 0], c[:, 2] - c[:, 1]
    long1 = (np.hypot(*e1.T) >= np.hypot(*e2.T))[:, None]
    mid_a = np.where(long1, (c[:, 0] + c[:, 1]) / 2, (c[:, 1] + c[:, 2]) / 2)
    mid_b = np.where(long1, (c[:, 2] + c[:, 3]) / 2, (c[:, 3] + c[:, 0]) / 2)
    side_a = np.where(long1, c[:, 0], c[:, 1])
    side_b = np.where(long1, c[:, 3], c[:, 0])
    halves_a = shapely.polygons(np.stack([side_a, mid_a, mid_b, side_b, side_a], axis=1))
    halves_a = shapely.buffer(halves_a, 0.0)
    part1 = shapely.intersection(geom[big], halves_a)
    part2 = shapely.difference(geom[big], halves_a)
    new_rows = []
    for k, (g1, g2) in enumerate(zip(part1, part2, strict=True)):  # at most four parcels
        src = big[k]
        for m, g in enumerate((g1, g2)):
            if shapely.get_type_id(g) != 3:
                continue
            share = shapely.area(g) / area[src]
            new_rows.append({"idx": src, "geometry": g, "ZDDM": ids[src][:14] + str(95000 + 2 * k + m),
                             "YZDDM": ids[src], "floor": floor[src] * share, "tax": tax[src] * share})
    if new_rows:
        keep[big] = False
    base = _office_fields(sub, ids, floor, tax, kind, old_ids)
    out = base[keep]
    geoms = geom[keep]
    if new_rows:
        add = base.iloc[[r["idx"] for r in new_rows]].copy()
        add["ZDDM"] = [r["ZDDM"] for r in new_rows]
        add["YZDDM"] = [r["YZDDM"] for r in new_rows]
        add["BGLX"] = "新增"
        g_new = np.array([r["geometry"] for r in new_rows], dtype=object)
        add["ZDMJ"] = np.round(shapely.area(g_new), 2)
        add["JZMJ"] = np.round([r["floor"] for r in new_rows], 1)
        add["NSE"] = np.round(np.array([r["tax"] for r in new_rows]) / 1e4, 2)
        add["RJL"] = np.round(add["JZMJ"] / add["ZDMJ"], 2)
        out = pd.concat([out, add], ignore_index=True)
        geoms = np.concatenate([geoms, g_new])
    gdf = gpd.GeoDataFrame(out.reset_index(drop=True), geometry=geoms, crs=p.crs)
    gdf["ZDMJ"] = np.round(shapely.area(gdf.geometry.values), 2)
    gdf["RJL"] = np.round(gdf["JZMJ"] / gdf["ZDMJ"], 2)
    summary = {"n_rows": len(gdf), "n_changed": int((gdf["BGLX"] == "属性变更").sum()),
               "n_new": int((gdf["BGLX"] == "新增").sum()), "n_merged": int((gdf["BGLX"] == "合并").sum()),
               "n_replaced": int(n), "radius_m": round(radius, 1)}
    return gdf, extent, summary


def _office_fields(sub, ids, floor, tax, kind, old_ids) -> pd.DataFrame:
    area = sub["land_area_m2"].to_numpy(dtype=float)
    return pd.DataFrame({
        "ZDDM": ids,
        "ZDMJ": np.round(area, 2),
        "JZMJ": np.round(floor, 1),
        "JZZDMJ": np.round(sub["footprint_m2"].to_numpy(dtype=float), 1),
        "RJL": np.round(floor / area, 2),
        "JZMD": np.round(sub["footprint_m2"].to_numpy(dtype=float) / area * 100, 1),
        "QLR": sub["owner"].astype(object).to_numpy(),
        "SYQY": sub["enterprise"].astype(object).to_numpy(),
        "TDYT": sub["land_use_code"].astype(object).to_numpy(),
        "CYDM": sub["industry"].astype(object).to_numpy(),
        "NSE": np.round(tax / 1e4, 2),
        "CZ": np.round(sub["output_cny"].to_numpy(dtype=float) / 1e4, 1),
        "CYRS": sub["employees"].to_numpy(dtype=float),
        "ZT": sub["status"].map(STATUS_ZH).astype(object).to_numpy(),
        "JCNF": sub["year_built"].to_numpy(dtype=float),
        "GHRJL": sub["zone_far_max"].to_numpy(dtype=float),
        "BGLX": kind,
        "YZDDM": old_ids,
    })


def write_shapefile(gdf: gpd.GeoDataFrame, path: Path) -> None:
    """Write a GBK shapefile with a ``.cpg`` saying GBK and an ESRI-style ``.prj`` (as ArcGIS writes it)."""
    obj = gdf.copy()
    for c in obj.columns:
        if c != "geometry" and obj[c].dtype != float:
            obj[c] = obj[c].astype(object).where(obj[c].notna(), None)
    pyogrio.write_dataframe(obj, path, driver="ESRI Shapefile", encoding="GBK")
    path.with_suffix(".cpg").write_text("GBK", encoding="ascii")
    wkt = pyproj.CRS.from_user_input(gdf.crs).to_wkt(pyproj.enums.WktVersion.WKT1_ESRI)
    path.with_suffix(".prj").write_text(wkt, encoding="ascii")
