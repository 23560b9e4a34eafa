"""The sample city: determinism, schema, realism statistics, topology, committed files."""

from __future__ import annotations

import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from scipy import sparse

from planner import schema
from planner.cli import main
from planner.io.store import GpkgStore
from planner.sample.boundary import JINJIANG_ADCODE, jinjiang_boundary, jinjiang_from_gcj02
from planner.sample.city import CENTRE, _region, build_city, write_survey_update, write_workspace
from planner.schema import MU_M2

ROOT = Path(__file__).resolve().parents[1]
GPKG = ROOT / "gis_data" / "sample_city.gpkg"
ZIP = ROOT / "gis_data" / "survey_update.zip"


@pytest.fixture(scope="module")
def city():
    return build_city(2500, seed=7)


@pytest.fixture(scope="module")
def committed() -> gpd.GeoDataFrame:
    if not GPKG.exists():
        pytest.skip("gis_data/sample_city.gpkg not generated")
    return GpkgStore(GPKG).read_parcels()


def _industrial(p):
    ind = p[(p["land_use"] == "industrial")]
    return ind, ind["tax_cny"] / (ind["land_area_m2"] / MU_M2)


def test_same_seed_same_city_other_seed_differs(city):
    again = build_city(2500, seed=7)
    pd.testing.assert_frame_equal(city.parcels.drop(columns="geometry"), again.parcels.drop(columns="geometry"))
    assert shapely.equals_exact(city.parcels.geometry.values, again.parcels.geometry.values, tolerance=0).all()
    other = build_city(2500, seed=8)
    assert not city.parcels["tax_cny"].equals(other.parcels["tax_cny"])


def test_schema_count_and_parcel_codes(city):
    p = city.parcels
    schema.validate(p)
    assert len(p) == 2500
    assert p.crs.to_epsg() == 4549
    ids = p["parcel_id"]
    assert ids.str.len().eq(19).all()
    assert ids.str.fullmatch(r"350582\d{6}[GJ]B\d{5}").all()
    assert ids.is_unique
    assert set(p["status"].dropna()) <= set(schema.STATUSES)
    assert (p["land_area_m2"] - p.geometry.area).abs().max() < 0.01


def test_parcel_sizes_are_varied_and_heavy_tailed(committed):
    mu = committed["land_area_m2"] / MU_M2
    assert (mu >= 1).mean() > 0.97
    assert 6 <= mu.median() <= 15
    assert (mu > 100).sum() >= 20  # large plants and logistics yards exist
    assert mu.quantile(0.95) > 3 * mu.median()  # heavy tail


def test_land_use_mix(committed):
    share = committed.groupby("land_use")["land_area_m2"].sum() / committed["land_area_m2"].sum()
    assert 0.55 <= share["industrial"] <= 0.85
    for cls in ("warehouse", "commercial", "residential", "public", "green"):
        assert share[cls] > 0.005, cls
    assert committed["land_use_code"].str.match(r"^(1001|1101|09|07|08|14)").all()


def test_industrial_plot_ratio_and_tax_per_mu(committed):
    ind, tpm = _industrial(committed)
    far = ind["floor_area_m2"] / ind["land_area_m2"]
    assert 0.8 <= far.mean() <= 1.2
    by_zone = far.groupby(ind["zone_type"]).mean()
    assert by_zone["old_industrial"] < 1.0 < by_zone["new_industrial"]
    tpm = tpm.dropna()
    assert 25_000 <= tpm.median() <= 80_000
    assert 0.25 <= (tpm < 50_000).mean() <= 0.75
    assert (tpm >= 200_000).sum() > 20
    med = tpm.groupby(ind["zone_type"]).median()
    assert med["old_industrial"] < 50_000 < med["new_industrial"]


def test_missing_values_are_nan_and_few(committed):
    p = committed[committed["land_use"].isin(["industrial", "warehouse"]) & (committed["status"] == "in_use")]
    for col, lo, hi in (("tax_cny", 0.01, 0.06), ("output_cny", 0.01, 0.08), ("employees", 0.01, 0.09),
                        ("floor_area_m2", 0.005, 0.05), ("year_built", 0.01, 0.08)):
        rate = p[col].isna().mean()
        assert lo <= rate <= hi, (col, rate)
    bad = committed["status"].isin(["idle", "vacant", "stopped", "half_stopped"]).mean()
    assert 0.01 <= bad <= 0.08
    assert (committed["status"] == "under_construction").sum() > 20


def _morans_i(geoms, y, rng, n_perm=99):
    tree = shapely.STRtree(geoms)
    i, j = tree.query(geoms, predicate="dwithin", distance=1.0)
    keep = i != j
    i, j = i[keep], j[keep]
    n = len(geoms)
    w = sparse.csr_matrix((np.ones(len(i)), (i, j)), shape=(n, n))
    deg = np.asarray(w.sum(axis=1)).ravel()
    w = sparse.diags(1 / np.maximum(deg, 1)) @ w  # row-standardized
    s0 = float(w.sum())

    def stat(v):
        z = v - v.mean()
        return n / s0 * (z @ (w @ z)) / (z @ z)

    obs = stat(y)
    perm = np.array([stat(rng.permutation(y)) for _ in range(n_perm)])
    return obs, perm


def test_low_performers_cluster_in_space(city):
    ind, tpm = _industrial(city.parcels)
    ok = tpm.notna() & (tpm > 0)
    obs, perm = _morans_i(ind.geometry.values[ok.to_numpy()], np.log(tpm[ok].to_numpy()), np.random.default_rng(0))
    assert obs > 0.2
    assert obs > perm.max()  # pseudo p < 0.01
    assert abs(perm.mean()) < 0.05


def test_inside_jinjiang_no_overlaps_roads_do_not_cut_parcels(city):
    geoms = city.parcels.geometry.values
    assert city.inside_boundary
    assert shapely.covered_by(geoms, shapely.buffer(jinjiang_boundary(), 0.05)).all()
    tree = shapely.STRtree(geoms)
    i, j = tree.query(geoms, predicate="intersects")
    pair = i < j
    overlap = shapely.area(shapely.intersection(geoms[i[pair]], geoms[j[pair]])).sum()
    assert overlap < 1e-3  # m², over the whole city
    assert pair.sum() > len(geoms)  # parcels do share boundaries
    for name in ("arterial_roads", "railways"):
        lines = city.barriers[name].geometry.values
        li, pi = tree.query(lines, predicate="intersects")  # a dead-end road may touch a parcel at its tip
        assert shapely.length(shapely.intersection(lines[li], geoms[pi])).sum() < 1e-6, name
    water = city.barriers["rivers"].geometry.values
    assert not tree.query(water, predicate="intersects").size


def test_layers_have_categories(city):
    cats = {n: set(g["category"]) for n, g in {**city.barriers, **city.constraints}.items()}
    assert cats == {"arterial_roads": {"arterial_road"}, "rivers": {"river"}, "railways": {"railway"},
                    "ecological": {"ecological_red_line"}, "farmland": {"permanent_farmland"}}
    eco = shapely.union_all(city.constraints["ecological"].geometry.values)
    assert shapely.intersects(city.parcels.geometry.values, eco).any()  # the buffer constrains some parcels


def test_region_continues_beyond_boundary_for_large_cities():
    b = jinjiang_boundary()
    origin = np.array(CENTRE)
    small, inside = _region(50e6, b, origin)
    assert inside and abs(small.area - 50e6) / 50e6 < 0.01
    big, inside = _region(5e9, b, origin)
    assert not inside and abs(big.area - 5e9) < 1


def test_package_boundary_matches_shared_file(shared_data):
    src = gpd.read_file(shared_data / "china-admin-gcj02" / "泉州市.shp", encoding="utf-8")
    jj = src[src["adcode"].astype(str) == JINJIANG_ADCODE]
    assert jj["name"].iloc[0] == "晋江市"
    fresh = jinjiang_from_gcj02(jj.geometry.values)
    pkg = jinjiang_boundary()
    assert abs(pkg.area - fresh.area) / fresh.area < 1e-6
    assert shapely.symmetric_difference(pkg, fresh).area / fresh.area < 1e-5
    assert 700e6 < pkg.area < 730e6  # Jinjiang ~649 km² of land; the AMap outline includes tidal flats


def test_workspace_and_survey_update_roundtrip(city, tmp_path):
    store = write_workspace(city, tmp_path / "ws.gpkg")
    cat = store.layers()
    assert set(zip(cat["kind"], cat["name"], strict=True)) == {
        ("survey", "parcels"), ("barrier", "arterial_roads"), ("barrier", "rivers"), ("barrier", "railways"),
        ("constraint", "ecological"), ("constraint", "farmland"), ("boundary", "study_area")}
    back = store.read_parcels()
    assert len(back) == len(city.parcels) and back.attrs["meta"]["label"].startswith("2024 baseline")
    with pytest.raises(ValueError, match="exists"):
        write_workspace(city, tmp_path / "ws.gpkg")
    s = write_survey_update(city, tmp_path / "u.zip", seed=3)
    assert s["n_new"] > 0 and s["n_merged"] > 0 and s["n_changed"] > 50
    _check_update_zip(tmp_path / "u.zip", city.parcels)


def _check_update_zip(path, parcels):
    zf = zipfile.ZipFile(path)
    names = zf.namelist()
    base = "晋江市宗地更新2025/宗地"
    for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
        assert base + ext in names
    assert zf.read(base + ".cpg").strip() == b"GBK"
    prj = zf.read(base + ".prj").decode("ascii")
    assert prj.startswith('PROJCS["CGCS2000_3_Degree_GK_CM_120E"') and "Central_Meridian\",120.0" in prj
    dbf = zf.read(base + ".dbf")
    assert "有限公司".encode("gbk") in dbf and "有限公司".encode() not in dbf
    g = pyogrio.read_dataframe(f"/vsizip/{path}/{base}.shp")
    for col in ("ZDDM", "ZDMJ", "JZMJ", "JZZDMJ", "RJL", "JZMD", "QLR", "SYQY", "TDYT", "CYDM", "NSE", "ZT",
                "JCNF", "GHRJL", "BGLX", "YZDDM"):
        assert col in g.columns, col
    assert g.crs.to_epsg() == 4549
    assert g["QLR"].str.contains("有限公司").any() and g["ZT"].isin(["在用", "闲置", "空置", "在建", "停产", "半停产"]).all()
    old = parcels.set_index("parcel_id")
    # NSE is in 万元 (10,000 yuan)
    same = g[g["BGLX"] == "未变更"].set_index("ZDDM")
    tax = old.loc[same.index, "tax_cny"]
    ok = tax.notna()
    assert np.allclose(same.loc[ok, "NSE"] * 1e4, tax[ok], rtol=1e-3, atol=100)
    # a merged parcel is the union of its two old parcels
    m = g[g["BGLX"] == "合并"].iloc[0]
    a, b = m["YZDDM"].split(";")
    assert abs(m.geometry.area - old.loc[a, "geometry"].area - old.loc[b, "geometry"].area) < 1.0
    assert not g["ZDDM"].isin(old.index).all()  # new ids exist
    ext = pyogrio.read_dataframe(f"/vsizip/{path}/晋江市宗地更新2025/更新范围.shp")
    area = shapely.union_all(ext.geometry.values)
    assert shapely.covered_by(g.geometry.values, area).all()
    # partial update: it replaces exactly the old parcels whose centroid lies in the extent
    replaced = old.index[shapely.contains_xy(area, *shapely.get_coordinates(shapely.centroid(old.geometry.values)).T)]
    gone = set(replaced) - set(g["ZDDM"])
    assert gone == set(g["YZDDM"].dropna().str.split(";").explode())
    assert 300 <= len(replaced) < len(old) / 4  # one or two neighbourhoods, not the city


def test_committed_files(committed):
    assert len(committed) >= 20_000
    schema.validate(committed)
    assert shapely.covered_by(committed.geometry.values, shapely.buffer(jinjiang_boundary(), 0.05)).all()
    size = sum(f.stat().st_size for f in (ROOT / "gis_data").rglob("*") if f.is_file())
    assert size < 25e6
    if not ZIP.exists():
        pytest.skip("gis_data/survey_update.zip not generated")
    _check_update_zip(ZIP, committed)


def test_cli_sample_data(tmp_path, capsys):
    out = tmp_path / "s.gpkg"
    assert main(["sample-data", "--parcels", "200", "--seed", "1", "--out", str(out)]) == 0
    assert len(GpkgStore(out).read_parcels()) == 200
    assert main(["sample-data", "--parcels", "200", "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err


# -- the fast paths used beyond the boundary (large cities) ------------------------------------


def test_split_exact_halves_and_leaves_hard_cases_to_geos():
    from planner.sample.geometry import split_exact

    u_shape = shapely.Polygon([(0, 0), (30, 0), (30, 40), (60, 40), (60, 0), (90, 0), (90, 60), (0, 60)])
    holed = shapely.box(0, 0, 100, 100).difference(shapely.box(40, 40, 60, 60))
    pieces = np.array([shapely.box(0, 0, 100, 50), shapely.box(0, 0, 100, 50), u_shape, u_shape, holed], dtype=object)
    p = np.array([[50, 25], [50, 25], [45, 50], [45, 20], [50, 50]], dtype=float)
    d = np.array([[1, 0], [1, 0], [1, 0], [1, 0], [0, 1]], dtype=float)
    gap = np.array([0.0, 5.0, 0.0, 0.0, 0.0])
    d[3] = [0, 1]
    # the vertical line x=45 crosses the U's bar twice (ok), the line y=20 crosses both legs (4 times: not ok)
    left, right, ok = split_exact(pieces, p, d, gap)
    assert ok.tolist() == [True, True, True, False, False]
    assert left[3] is None and left[4] is None
    # x <= 50 / x <= 45 (lane 45..55) / x <= 45: left leg 30x40 + bar 45x20
    np.testing.assert_allclose(shapely.area(left[:3]), [2500.0, 2250.0, 30 * 40 + 45 * 20])
    np.testing.assert_allclose(shapely.area(right[:3]), [2500.0, 2250.0, 30 * 40 + 45 * 20])
    assert shapely.is_valid(left[:3]).all() and shapely.is_valid(right[:3]).all()
    # siblings of a cut without a lane share the cut's vertices bit for bit
    on_cut = lambda g: {tuple(c) for c in shapely.get_coordinates(g) if c[0] == 50.0}  # noqa: E731
    assert on_cut(left[0]) == on_cut(right[0]) == {(50.0, 0.0), (50.0, 50.0)}


def test_tiled_blocks_are_the_blocks_of_one_union():
    from planner.sample.geometry import city_blocks

    region = shapely.box(0, 0, 1000, 1000)
    cut = np.array([shapely.box(300, -50, 320, 1050), shapely.box(-50, 600, 1050, 610),
                    shapely.box(500, 100, 600, 200)], dtype=object)  # two roads and a farmland hole
    want = sorted([300 * 600, 680 * 600 - 100 * 100, 300 * 390, 680 * 390])
    assert sorted(shapely.area(city_blocks(region, cut)).round(6)) == want
    # tiles of 250 m with a 100 m margin: the 680 m blocks need the margin doubled (twice)
    tiled = city_blocks(region, cut, tile_m=250.0, margin_m=100.0)
    assert sorted(shapely.area(tiled).round(6)) == want


def test_large_city_path_one_pass_exact_count_clean_topology(monkeypatch):
    import planner.sample.city as sample

    monkeypatch.setattr(sample, "MAX_BOUNDARY_SHARE", 0.001)  # take the beyond-the-boundary path at a small size
    monkeypatch.setattr(sample, "TILE_M", 2000.0)
    c = sample.build_city(1500, seed=3)
    assert not c.inside_boundary and c.info["attempts"] == 1
    geoms = c.parcels.geometry.values
    assert len(geoms) == 1500 and shapely.is_valid(geoms).all()
    schema.validate(c.parcels)
    tree = shapely.STRtree(geoms)
    i, j = tree.query(geoms, predicate="intersects")
    pair = i < j
    assert shapely.area(shapely.intersection(geoms[i[pair]], geoms[j[pair]])).sum() < 1e-3
    assert pair.sum() > len(geoms)
    lines = c.barriers["arterial_roads"].geometry.values
    li, pi = tree.query(lines, predicate="intersects")
    assert shapely.length(shapely.intersection(lines[li], geoms[pi])).sum() < 1e-6
    again = sample.build_city(1500, seed=3)
    assert shapely.equals_exact(geoms, again.parcels.geometry.values, tolerance=0).all()


def test_threaded_steps_do_not_depend_on_the_number_of_workers():
    from planner.sample.geometry import city_blocks, subdivide_chunks

    region = shapely.box(0, 0, 1000, 1000)
    cut = np.array([shapely.box(300, -50, 320, 1050), shapely.box(-50, 600, 1050, 610)], dtype=object)
    one = city_blocks(region, cut, tile_m=250.0, margin_m=100.0, workers=1)
    three = city_blocks(region, cut, tile_m=250.0, margin_m=100.0, workers=3)
    assert shapely.equals_exact(one, three, tolerance=0).all()

    def target(x, y, owner, rng):
        return np.full(len(owner), 2000.0) * rng.uniform(0.5, 1.5, len(owner))

    runs = [subdivide_chunks(np.random.default_rng(5), one, target, n_chunks=3, workers=w, fast=True,
                             lane_min_m2=1e12) for w in (1, 2)]  # no lanes: the parcels tile the blocks
    assert shapely.equals_exact(runs[0][0], runs[1][0], tolerance=0).all()
    assert (runs[0][1] == runs[1][1]).all()
    assert abs(shapely.area(runs[0][0]).sum() - shapely.area(one).sum()) < 1e-6 * shapely.area(one).sum()


def test_cli_sample_data_refuses_before_building_the_city(tmp_path, capsys, monkeypatch):
    """`sample-data --out EXISTING` built the whole city (a minute at 1M parcels), then refused: now at once, as
    are a folder and a missing folder; with --force an existing workspace is replaced."""
    import planner.sample

    out = tmp_path / "s.gpkg"
    assert main(["sample-data", "--parcels", "100", "--seed", "1", "--out", str(out)]) == 0
    built = []
    real = planner.sample.build_city
    monkeypatch.setattr(planner.sample, "build_city", lambda *a, **k: built.append(a) or real(*a, **k))
    (tmp_path / "dir.gpkg").mkdir()
    for target, says in ((out, "exists; choose another --out or pass --force"),
                         (tmp_path / "dir.gpkg", "is a folder"),
                         (tmp_path / "no" / "s.gpkg", "does not exist; create it first")):
        assert main(["sample-data", "--parcels", "100", "--out", str(target)]) == 2
        assert says in capsys.readouterr().err
    assert built == []
    assert main(["sample-data", "--parcels", "100", "--seed", "2", "--out", str(out), "--force"]) == 0
    assert len(built) == 1 and len(GpkgStore(out).read_parcels()) == 100
