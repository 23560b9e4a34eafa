"""A realistic, seeded sample city: an industrial district of Jinjiang (晋江).

``build_city`` places a district inside the real Jinjiang boundary (package
data, EPSG:4549) and generates an irregular arterial network (perturbed grid
with 600-1200 m spacing, curved and diagonal roads), a railway, a meandering
river with its ecological buffer, permanent farmland, and blocks split
recursively into parcels of varied size and shape with local lanes. Old
industrial areas, where low performers cluster, sit beside newer,
high-performing zones. The result follows the canonical parcel schema.

For large ``n_parcels`` (more than about 40,000) the district pattern no
longer fits in Jinjiang and the generator continues it over a square area
centred on the district, beyond the boundary (sea included): synthetic land.
That path is built for speed (1,000,000 parcels in about a minute of CPU):
diagonal roads, railways and rivers of bounded length, blocks per tile
(:func:`~planner.sample.geometry.city_blocks`), parcels split by an exact
whole-array half-plane clip in chunks on threads, and one pass sized from the
measured yield. The inside path (the committed 20,000-parcel city) is unchanged.

Examples
--------
>>> city = build_city(300, seed=1)
>>> len(city.parcels)
300
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from planner import schema
from planner.crs import DEFAULT_WORKSPACE_CRS
from planner.errors import DataError
from planner.i18n import t
from planner.sample.attributes import ZONE_MEDIAN_MU, attributes, zone_of_blocks
from planner.sample.boundary import jinjiang_boundary
from planner.sample.geometry import (
    Field,
    build_network,
    city_blocks,
    merge_l_shapes,
    subdivide,
    subdivide_chunks,
)
from planner.sample.names import BRAND
from planner.schema import MU_M2

#: Centre of the district (EPSG:4549): the centre of the largest circle inside mainland Jinjiang.
CENTRE = (349_909.0, 2_743_323.0)
#: Gross area per parcel (m²) incl. roads, lanes, river, farmland; calibrated on seed 42.
GROSS_M2_PER_PARCEL = 11_500.0
#: Above this share of Jinjiang's area the district continues beyond the boundary.
MAX_BOUNDARY_SHARE = 0.7
SURVEY_LABEL = "2024 baseline survey (synthetic)"
#: Beyond the boundary: diagonal roads, railways and rivers are at most this long (m), ...
MAX_FEATURE_M = 36_000.0
#: ... blocks are computed on tiles of this size (m), ...
TILE_M = 12_000.0
#: ... and the first attempt is this much larger than the target, so that one pass suffices.
OUTSIDE_FACTOR = 1.0


@dataclass
class SampleCity:
    """A generated city: parcels in the canonical schema plus barrier, constraint and boundary layers.

    Attributes
    ----------
    parcels : GeoDataFrame
        Canonical parcel table, extra columns ``zone_type`` and ``street``.
    barriers : dict of GeoDataFrame
        ``arterial_roads``, ``rivers``, ``railways`` (``category`` column).
    constraints : dict of GeoDataFrame
        ``ecological`` (river buffer, ``ecological_red_line``), ``farmland`` (``permanent_farmland``).
    study_area : GeoDataFrame
        The district boundary polygon.
    inside_boundary : bool
        Whether the district lies inside Jinjiang (False for large ``n_parcels``).
    """

    parcels: gpd.GeoDataFrame
    barriers: dict[str, gpd.GeoDataFrame]
    constraints: dict[str, gpd.GeoDataFrame]
    study_area: gpd.GeoDataFrame
    seed: int
    inside_boundary: bool
    crs: str = DEFAULT_WORKSPACE_CRS
    info: dict = field(default_factory=dict)


def _region(target_m2: float, boundary: shapely.Polygon, origin: np.ndarray) -> tuple[shapely.Geometry, bool]:
    """Jinjiang ∩ a disc of the target area around CENTRE, or a square beyond the boundary when too big."""
    b = shapely.transform(boundary, lambda c: c - origin)
    c = np.array(CENTRE) - origin
    if target_m2 <= MAX_BOUNDARY_SHARE * b.area:
        lo, hi = np.sqrt(target_m2 / np.pi), 40_000.0
        for _ in range(40):
            r = (lo + hi) / 2
            a = shapely.intersection(b, shapely.buffer(shapely.Point(c), r, quad_segs=32)).area
            lo, hi = (r, hi) if a < target_m2 else (lo, r)
        reg = shapely.intersection(b, shapely.buffer(shapely.Point(c), hi, quad_segs=32))
        parts = shapely.get_parts(reg)
        return parts[np.argmax(shapely.area(parts))], True
    s = np.sqrt(target_m2) / 2
    return shapely.box(c[0] - s, c[1] - s, c[0] + s, c[1] + s), False


def _progress(enabled: bool, total: int, lang: str = "en"):
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled, desc=t("cli_sample_city", lang), unit=t("cli_step_unit", lang), leave=False)


def _sub_progress(bar, what: str):
    """A ``progress(done, total)`` callback showing a sub-step count (tiles, chunks) on the bar."""
    def cb(done, total):
        bar.set_postfix_str(f"{done}/{total} {what}" if done < total else "", refresh=True)
    return cb


def build_city(n_parcels: int = 20_000, seed: int = 42, *, progress: bool = False, lang: str = "en") -> SampleCity:
    """Generate the sample city with exactly ``n_parcels`` parcels (deterministic for a seed).

    Parameters
    ----------
    n_parcels : int
        Number of parcels (at least 50).
    seed : int
        Random seed; the same seed gives an identical city.
    progress : bool
        Show a tqdm progress bar on stderr.
    lang : {"en", "zh"}
        Language of the progress bar's stage names.

    Returns
    -------
    SampleCity
    """
    if n_parcels < 50:
        msg = f"n_parcels={n_parcels}: the sample city needs at least 50 parcels"
        raise DataError(msg, zh=f"地块数 {n_parcels}：样例城市至少需要 50 个地块")
    boundary = jinjiang_boundary()
    origin = np.round(np.array(CENTRE), -3)
    factor = 1.08
    if n_parcels * GROSS_M2_PER_PARCEL * factor > MAX_BOUNDARY_SHARE * boundary.area:
        factor = OUTSIDE_FACTOR  # the tiled pattern beyond the boundary yields fewer parcels per km²
    bar = _progress(progress, 7, lang)
    for _attempt in range(4):  # normally one
        bar.reset()
        rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(8)]
        region, inside = _region(n_parcels * GROSS_M2_PER_PARCEL * factor, boundary, origin)
        bar.set_description(t("cli_sample_network", lang))
        net = build_network(rngs[0], region.bounds, region, max_len=None if inside else MAX_FEATURE_M)
        bar.update()
        bar.set_description(t("cli_sample_blocks", lang))
        blocks = city_blocks(region, net.cut, tile_m=None if inside else TILE_M,
                             progress=_sub_progress(bar, t("cli_sample_tiles", lang)))
        blocks = blocks[(shapely.get_type_id(blocks) == 3) & (shapely.area(blocks) > 3 * MU_M2)]
        bc = shapely.get_coordinates(shapely.centroid(blocks))
        minx, miny, maxx, maxy = region.bounds
        c = np.array(CENTRE) - origin
        age_f = Field(rngs[1], 7000.0)
        vil_f = Field(rngs[1], 2200.0)
        com_f = Field(rngs[1], 2500.0)
        d_c = np.hypot(bc[:, 0] - c[0], bc[:, 1] - c[1])
        rail_d = shapely.distance(shapely.points(bc), shapely.union_all(net.railways)) if len(net.railways) \
            else np.full(len(bc), np.inf)
        centre_score = com_f(bc[:, 0], bc[:, 1]) * 0.6 + 1.8 * np.exp(-0.5 * (d_c / 2200.0) ** 2)
        block_zone = zone_of_blocks(rngs[2], age_f(bc[:, 0], bc[:, 1]), vil_f(bc[:, 0], bc[:, 1]), centre_score, rail_d)
        med = np.array([ZONE_MEDIAN_MU[z] for z in block_zone]) * MU_M2
        bar.update()

        def target(x, y, owner, rng, med=med):
            return med[owner] * np.exp(rng.normal(0, 0.85, len(owner)))

        bar.set_description(t("cli_sample_parcels", lang))
        if inside:  # the committed default city: keep it bit for bit
            parcels, blk = subdivide(rngs[3], blocks, target)
        else:
            parcels, blk = subdivide_chunks(rngs[3], blocks, target, fast=True,
                                           progress=_sub_progress(bar, t("cli_sample_chunks", lang)))
        parcels, blk = merge_l_shapes(rngs[4], parcels, blk)
        bar.update()
        if len(parcels) >= n_parcels:
            break
        factor *= 1.1 * n_parcels / len(parcels)
    else:  # pragma: no cover - calibration guard
        msg = f"could not generate {n_parcels} parcels; increase GROSS_M2_PER_PARCEL"
        raise DataError(msg)

    # -- keep whole blocks nearest the centre, then the nearest parcels of the last one -----
    bar.set_description(t("cli_sample_trim", lang))
    n_generated = len(parcels)
    pc = shapely.get_coordinates(shapely.centroid(parcels))
    bdist = d_c[blk]
    pdist = np.hypot(pc[:, 0] - c[0], pc[:, 1] - c[1])
    order = np.lexsort((pdist, bdist))[:n_parcels]
    order.sort()
    parcels, blk, pc = parcels[order], blk[order], pc[order]
    used = np.unique(blk)
    # the hull of one linestring through all vertices: the same hull as of their multipoint, without
    # creating a Point per vertex
    # creating a Point per vertex; beyond the boundary the hull of the used blocks (a few times fewer
    # vertices; only the last block is partly used) is close enough
    hull = shapely.convex_hull(shapely.linestrings(shapely.get_coordinates(parcels if inside else blocks[used])))
    study = shapely.intersection(region, shapely.buffer(hull, 30.0, quad_segs=4))
    bar.update()

    # -- streets (nearest seed) and block numbers within a street ------------------------
    bar.set_description(t("cli_sample_attributes", lang))
    n_streets = int(np.clip(max(np.ceil(study.area / 12e6), np.ceil(len(used) / 900)), 1, 999))
    sminx, sminy, smaxx, smaxy = study.bounds
    cand = np.column_stack([rngs[5].uniform(sminx, smaxx, n_streets * 20), rngs[5].uniform(sminy, smaxy, n_streets * 20)])
    cand = cand[shapely.contains_xy(study, cand[:, 0], cand[:, 1])][:n_streets]
    bcu = bc[used]
    _, street_of_used = cKDTree(cand).query(bcu)
    street_of_block = np.zeros(len(blocks), dtype=np.int64)
    street_of_block[used] = street_of_used + 1
    block_code = np.zeros(len(blocks), dtype=np.int64)
    o = np.lexsort((bcu[:, 0], -bcu[:, 1], street_of_used))  # north to south within a street
    ks = street_of_used[o]
    start = np.r_[0, np.flatnonzero(np.diff(ks)) + 1]
    block_code[used[o]] = np.arange(len(o)) - np.repeat(start, np.diff(np.r_[start, len(o)])) + 1

    eco_geom = shapely.intersection(shapely.buffer(net.river_lines, net.river_width / 2 + 60.0, quad_segs=4),
                                    shapely.buffer(study, 200.0))
    eco_all = shapely.union_all(eco_geom)
    in_eco = shapely.contains_xy(eco_all, pc[:, 0], pc[:, 1])
    attrs = attributes(rngs[6], area=shapely.area(parcels), block=blk, block_zone=block_zone,
                       age=age_f(pc[:, 0], pc[:, 1]), eco=in_eco, street=street_of_block[blk],
                       block_code=block_code[blk])
    bar.update()

    bar.set_description(t("cli_sample_layers", lang))

    def to_crs(g):
        # no rounding: a vertex of a later cut lies on its neighbour's edge only to floating precision
        out = shapely.transform(np.asarray(g, dtype=object), lambda xy: xy + origin)
        bad = ~shapely.is_valid(out)
        if bad.any():
            out[bad] = shapely.make_valid(out[bad])
        return out

    geoms = to_crs(parcels)
    gtype = shapely.get_type_id(geoms)
    if (gtype != 3).any():  # make_valid may give collections: keep the polygonal part
        fix = gtype != 3
        parts, idx = shapely.get_parts(geoms[fix], return_index=True)
        poly = shapely.get_type_id(parts) == 3
        geoms[np.flatnonzero(fix)] = [shapely.multipolygons(parts[poly & (idx == i)]) for i in range(fix.sum())]
    attrs["land_area_m2"] = np.round(shapely.area(geoms), 2)
    gdf = schema.conform(gpd.GeoDataFrame(attrs, geometry=geoms, crs=DEFAULT_WORKSPACE_CRS))
    for col in ("zone_type", "street"):
        gdf[col] = gdf[col].astype("string")
    schema.validate(gdf)

    clip = shapely.buffer(study, 200.0)
    roads = shapely.intersection(net.roads, clip)
    keep = ~shapely.is_empty(roads)
    rng = rngs[7]
    road_names = _road_names(rng, int(keep.sum()))
    barriers = {
        "arterial_roads": gpd.GeoDataFrame(
            {"category": "arterial_road", "name": road_names, "road_class": net.road_class[keep],
             "width_m": np.round(net.road_width[keep], 1)}, geometry=to_crs(roads[keep]), crs=DEFAULT_WORKSPACE_CRS),
        "rivers": _layer(to_crs(shapely.intersection(net.river_water, clip)), "river",
                         ["晋江南支流", "九十九溪", "梧垵溪", "西滨溪", "陈埭溪", "池店溪"], rng,
                         width_m=np.round(net.river_width, 1)),
        "railways": _layer(to_crs(shapely.intersection(net.railways, clip)), "railway",
                           ["福厦铁路", "漳泉肖铁路", "泉州港疏港铁路"], rng),
    }
    constraints = {
        "ecological": _layer(to_crs(eco_geom), "ecological_red_line", ["河道生态保护红线"], rng, buffer_m=60.0),
        "farmland": _layer(to_crs(shapely.intersection(shapely.buffer(net.farmland, 12.0, quad_segs=4), study)),
                           "permanent_farmland", ["永久基本农田"], rng),
    }
    study_gdf = gpd.GeoDataFrame({"name": ["晋江市产业片区（样例）"], "category": ["study_area"],
                                  "inside_jinjiang": [inside]}, geometry=to_crs([study]), crs=DEFAULT_WORKSPACE_CRS)
    bar.update()
    bar.close()
    info = {"region_km2": region.area / 1e6, "study_area_km2": study.area / 1e6, "n_blocks": int(len(used)),
            "n_streets": n_streets, "n_generated": n_generated, "attempts": _attempt + 1}
    return SampleCity(gdf, barriers, constraints, study_gdf, seed, inside, info=info)


def _layer(geoms, category, names, rng, **cols) -> gpd.GeoDataFrame:
    geoms = np.asarray(geoms, dtype=object)
    keep = ~shapely.is_empty(geoms)
    n = int(keep.sum())
    data = {"category": [category] * n,
            "name": [names[i % len(names)] for i in range(n)]}
    for k, v in cols.items():
        data[k] = (np.asarray(v)[keep] if np.ndim(v) else np.full(n, v))
    return gpd.GeoDataFrame(data, geometry=geoms[keep], crs=DEFAULT_WORKSPACE_CRS)


def _road_names(rng, n: int) -> np.ndarray:
    real = np.array(["世纪大道", "晋江大道", "泉安路", "安平路", "陈埭路", "迎宾路", "和平路", "青华路",
                     "晋新路", "紫华路", "梅岭路", "灵源路", "池新路", "罗裳大道", "福埔路", "永和路"], dtype=object)
    made = (pd.Series(BRAND[rng.integers(0, len(BRAND), n)], dtype=object)
            + BRAND[rng.integers(0, len(BRAND), n)] + np.where(rng.random(n) < 0.2, "大道", "路")).to_numpy()
    out = made.copy()
    k = min(n, len(real))
    out[:k] = real[:k]
    return out


# -- writers (thin I/O at the edge) ----------------------------------------------------


def write_workspace(city: SampleCity, path: str | os.PathLike, *, overwrite: bool = False, user: str = "sample-data",
                    progress: bool = False, lang: str = "en"):
    """Write the city into a new GeoPackage workspace and return the :class:`~planner.io.store.GpkgStore`.

    Layers: survey/parcels (published as ``SURVEY_LABEL``), barrier/arterial_roads,
    barrier/rivers, barrier/railways, constraint/ecological, constraint/farmland,
    boundary/study_area. ``progress`` shows a tqdm bar (one step per layer; its words in ``lang``).
    """
    from tqdm.auto import tqdm

    from planner.io.store import GpkgStore

    path = Path(path)
    if path.exists():
        if not overwrite:
            msg = f"{path} exists; choose another --out or pass --force to replace it"
            raise DataError(msg)
        path.unlink()
    store = GpkgStore(path, crs=city.crs, create=True)
    meta = {"generator": "planner.sample.build_city", "seed": city.seed, "n_parcels": len(city.parcels),
            "synthetic": True}
    jobs = [("barrier", n, g) for n, g in city.barriers.items()]
    jobs += [("constraint", n, g) for n, g in city.constraints.items()]
    jobs += [("boundary", "study_area", city.study_area), ("survey", "parcels", city.parcels)]
    with tqdm(jobs, disable=not progress, desc=t("cli_sample_writing", lang), unit=t("cli_layer_unit", lang), leave=False) as bar:
        for kind, name, g in bar:
            bar.set_description(t("cli_sample_writing_layer", lang, kind=kind, name=name, n=len(g)))
            if kind == "survey":
                store.publish_survey(g, label=SURVEY_LABEL, user=user, meta=meta)
            else:
                store.write_layer(kind, name, g, user=user, meta=meta)
    return store


def write_survey_update(city: SampleCity, zip_path: str | os.PathLike, *, seed: int = 2025) -> dict:
    """Write a partial survey update as a zipped GBK shapefile, as a Chinese GIS office delivers it.

    See :func:`planner.sample.survey.survey_update` for the contents. Returns
    the summary counts.
    """
    from planner.sample.survey import FOLDER, README_TXT, survey_update, write_shapefile

    upd, extent, summary = survey_update(city, seed=seed)
    zip_path = Path(zip_path)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / FOLDER
        folder.mkdir()
        write_shapefile(upd, folder / "宗地.shp")
        write_shapefile(extent, folder / "更新范围.shp")
        (folder / "说明.txt").write_bytes(README_TXT.format(**summary).encode("gbk"))
        tmpzip = Path(tmp) / "out.zip"
        with zipfile.ZipFile(tmpzip, "w", zipfile.ZIP_DEFLATED) as zf:
            for p in sorted(folder.iterdir()):
                info = zipfile.ZipInfo(f"{FOLDER}/{p.name}", date_time=(2025, 3, 31, 17, 30, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, p.read_bytes())
        zip_path.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(tmpzip, zip_path)
    return summary


__all__ = ["SURVEY_LABEL", "SampleCity", "build_city", "write_survey_update", "write_workspace"]
