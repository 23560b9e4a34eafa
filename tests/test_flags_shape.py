"""Flags stored as an attribute table that takes the survey's geometry (issue 18, the pipeline target).

``planner classify`` stores its flags without a copy of the parcels' polygons:
an attribute table whose feature ids are the survey's, and a view adding the
survey's geometry (GeoPackage view registered for GDAL/QGIS; a PostGIS view).
These tests pin that the store hands back what it did before (a GeoDataFrame
with each parcel's own polygon), that an old workspace with a geometry flags
layer still works, that GDAL reads the view as a polygon layer, and that the
sample city gives the same flags and sites as the old shape.
"""

from __future__ import annotations

import json
import shutil
import sqlite3

import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from planner import workflow as W
from planner.errors import StoreError
from planner.io.fingerprint import content_fingerprint
from planner.io.store import LayerWrite, open_store
from planner.io.transfer import copy_workspace
from tests.conftest import ROOT, box_grid


def _survey(store):
    """A 4 x 3 grid as survey version 1, then an update (version 2) with one parcel moved."""
    g = box_grid(4, 3)
    g["owner"] = [f"o{i % 3}" for i in range(len(g))]
    store.publish_survey(g)
    g2 = g.copy()
    g2.loc[0, "geometry"] = shapely.box(400_000, 2_700_000, 400_050, 2_700_050)
    store.publish_survey(g2)
    return g, g2


def _flags(g):
    """Attribute rows for the parcels of ``g``, in a shuffled order (the store must not rely on the order)."""
    rng = np.random.default_rng(3)
    order = rng.permutation(len(g))
    return pd.DataFrame({"parcel_id": g["parcel_id"].to_numpy()[order],
                         "three_low": (np.arange(len(g)) % 2 == 0)[order],
                         "reason_zh": pd.array([f"理由 {i}" for i in order], dtype="string"),
                         "n_low": np.arange(len(g))[order]})


def test_flags_table_round_trip_takes_the_survey_geometry(store):
    g1, g2 = _survey(store)
    flags = _flags(g1)
    store.write_layers([LayerWrite("flags", "default", flags, meta={"policy_name": "default"},
                                   geometry_from=("survey", "parcels", 1))])
    back = store.read_layer("flags", "default")
    assert back.crs.equals(store.crs) and back.attrs["meta"] == {"policy_name": "default"}
    assert list(back.columns) == ["parcel_id", "three_low", "reason_zh", "n_low", "geometry"]
    by_id = back.set_index("parcel_id")
    want = flags.set_index("parcel_id").loc[by_id.index]
    assert by_id["three_low"].tolist() == want["three_low"].tolist()
    assert by_id["reason_zh"].tolist() == want["reason_zh"].tolist()
    assert by_id["n_low"].tolist() == want["n_low"].tolist()
    # each row has its own parcel's polygon of version 1 (not the moved one of version 2)
    src = g1.set_index("parcel_id").geometry.loc[by_id.index]
    assert shapely.equals(by_id.geometry.values, src.values).all()
    assert back["parcel_id"].tolist() == g1["parcel_id"].tolist()  # in the survey's order
    # the catalogue records where the geometry comes from
    meta = json.loads(store.layers("flags")["meta"].iloc[0])
    assert meta["geometry_from"] == {"kind": "survey", "name": "parcels", "version": 1}
    # columns, no geometry, a bounding box
    cols = store.read_layer("flags", "default", columns=["parcel_id", "n_low"], geometry=False)
    assert list(cols.columns) == ["parcel_id", "n_low"] and "geometry" not in cols
    assert sorted(cols["n_low"]) == list(range(12))
    x0, y0 = 500_000.0, 2_740_000.0
    part = store.read_layer("flags", "default", bbox=(x0 + 10, y0 + 10, x0 + 40, y0 + 40))
    assert part["parcel_id"].tolist() == ["r0c0"]
    table = store.layers("flags")["table_name"].iloc[0]
    if not store.uri.endswith(".gpkg"):  # a real view in the schema, with the polygons, for QGIS and SQL users
        import psycopg

        from planner.io._pgconn import parse_uri

        with psycopg.connect(parse_uri(store.uri).conninfo) as con:
            rows = con.execute(f'SELECT count(*), min(ST_GeometryType(geometry)) FROM "{store.schema}"."{table}_geom"'
                               ).fetchone()
            kind = con.execute("SELECT table_type FROM information_schema.tables WHERE table_schema=%s AND "
                               "table_name=%s", (store.schema, f"{table}_geom")).fetchone()
        assert rows == (12, "ST_Polygon") and kind == ("VIEW",)


def test_flags_refused_when_a_parcel_is_not_in_the_survey(store):
    g1, _ = _survey(store)
    flags = _flags(g1)
    flags.loc[3, "parcel_id"] = "nowhere"
    before = store.layers()
    with pytest.raises(StoreError, match="nowhere"):
        store.write_layers([LayerWrite("flags", "default", flags, geometry_from=("survey", "parcels", 1))])
    assert store.layers().equals(before)
    dup = _flags(g1)
    dup.loc[3, "parcel_id"] = dup.loc[4, "parcel_id"]
    with pytest.raises(StoreError, match="repeats"):
        store.write_layers([LayerWrite("flags", "default", dup, geometry_from=("survey", "parcels", 1))])
    assert not store.has_layer("flags")


def test_shared_columns_come_from_the_survey_in_their_place(store):
    g1, _ = _survey(store)
    flags = _flags(g1)
    flags.insert(1, "owner", g1.set_index("parcel_id").loc[flags["parcel_id"], "owner"].to_numpy())
    store.write_layers([LayerWrite("flags", "default", flags, geometry_from=("survey", "parcels", 1),
                                   shared_columns=("owner",))])
    table = store.layers("flags")["table_name"].iloc[0]
    own = store.read_layer("flags", "default", columns=["parcel_id", "n_low"], geometry=False)
    assert list(own.columns) == ["parcel_id", "n_low"]
    back = store.read_layer("flags", "default")
    assert list(back.columns) == ["parcel_id", "owner", "three_low", "reason_zh", "n_low", "geometry"]
    assert back["owner"].tolist() == g1["owner"].tolist()
    no_geom = store.read_layer("flags", "default", geometry=False)
    assert list(no_geom.columns) == ["parcel_id", "owner", "three_low", "reason_zh", "n_low"]
    assert store.read_layer("flags", "default", columns=["owner"], geometry=False)["owner"].tolist() == g1["owner"].tolist()
    if table and store.uri.endswith(".gpkg"):  # the table itself holds no copy of the survey's field
        assert "owner" not in pyogrio.read_info(store.uri, layer=table)["fields"]
    with pytest.raises(StoreError, match="shared columns"):
        store.write_layers([LayerWrite("flags", "x", flags, geometry_from=("survey", "parcels", 1),
                                       shared_columns=("parcel_id",))])


@pytest.mark.parametrize("rows", ["in order", "shuffled", "some"])
def test_a_linked_read_joins_the_two_tables_as_the_view_does(tmp_path, monkeypatch, rows):
    """A GeoPackage read of a linked layer reads its table and the survey's and joins them on the feature id (SQLite's
    join was 1.2 s of a 1M-row read): the same frame as the view for every column choice; a survey row gone (the
    view's inner join drops it) sends the read to the view."""
    from geopandas.testing import assert_geodataframe_equal

    from planner.io.store import GpkgStore

    store = GpkgStore(tmp_path / "w.gpkg", crs="EPSG:4549", create=True)
    g1, _ = _survey(store)
    flags = _flags(g1)
    if rows == "in order":
        flags = flags.set_index("parcel_id").loc[g1["parcel_id"]].reset_index()
    elif rows == "some":  # rows for some of the survey's parcels only
        flags = flags.iloc[::2].reset_index(drop=True)
    flags.insert(2, "owner", g1.set_index("parcel_id").loc[flags["parcel_id"], "owner"].to_numpy())
    store.write_layers([LayerWrite("flags", "default", flags, geometry_from=("survey", "parcels", 1),
                                   shared_columns=("owner",))])
    view = store.layers("flags")["table_name"].iloc[0] + "_geom"
    read = []
    real = pyogrio.read_dataframe
    monkeypatch.setattr(pyogrio, "read_dataframe", lambda path, **kw: read.append(kw["layer"]) or real(path, **kw))

    def same(columns, geometry):
        got = store.read_layer("flags", "default", columns=columns, geometry=geometry)
        want = real(store.path, layer=view, use_arrow=True, columns=columns, read_geometry=geometry)
        for c in want.columns:
            if c != "geometry" and (want[c].dtype == object or str(want[c].dtype).startswith(("large_string",
                                                                                            "string"))):
                want[c] = want[c].astype("string")  # as read_layer hands such text back
        (assert_geodataframe_equal if geometry else pd.testing.assert_frame_equal)(got, want)
        return got

    for columns in (None, ["three_low", "owner"], ["n_low", "parcel_id", "nope"], ["owner"]):
        for geometry in (True, False):
            same(columns, geometry)
    assert view not in read  # never through the view
    order = g1["parcel_id"][g1["parcel_id"].isin(flags["parcel_id"])].tolist()
    assert same(None, True)["parcel_id"].tolist() == order  # in the survey's order

    source = store.layers("survey").query("version == 1")["table_name"].iloc[0]
    con = sqlite3.connect(store.path)
    gone = int(np.flatnonzero(g1["parcel_id"] == flags["parcel_id"].iloc[0])[0]) + 1  # a flagged parcel's fid
    with con:
        con.execute(f'DELETE FROM "{source}" WHERE fid = ?', (gone,))
    con.close()
    read.clear()
    got = same(None, True)
    assert len(got) == len(order) - 1 and view in read  # a row without its polygon: read as the view reads it


def test_copy_keeps_the_linked_shape_and_content(store, workspace_uris, tmp_path):
    g1, _ = _survey(store)
    flags = _flags(g1)
    flags["owner"] = g1.set_index("parcel_id").loc[flags["parcel_id"], "owner"].to_numpy()
    store.write_layers([LayerWrite("flags", "default", flags, meta={"k": 1}, geometry_from=("survey", "parcels", 1),
                                   shared_columns=("owner",))])
    dst = workspace_uris("copy")
    copy_workspace(store, dst)
    assert content_fingerprint(dst) == content_fingerprint(store)
    copied = open_store(dst)
    assert json.loads(copied.layers("flags")["meta"].iloc[0])["geometry_from"]["version"] == 1
    a, b = store.read_layer("flags", "default"), copied.read_layer("flags", "default")
    assert a.drop(columns="geometry").equals(b.drop(columns="geometry"))
    assert shapely.equals(a.geometry.values, b.geometry.values).all()
    if not store.uri.endswith(".gpkg"):  # PostGIS -> GeoPackage: the same content
        f = tmp_path / "back.gpkg"
        copy_workspace(copied, f)
        assert content_fingerprint(f) == content_fingerprint(store)


def _classified_workspace(tmp_path):
    ws = tmp_path / "city.gpkg"
    shutil.copyfile(ROOT / "gis_data" / "sample_city.gpkg", ws)
    store = open_store(ws)
    W.classify_workspace(store, W.PolicyDoc.from_file(None), geometry=False)
    return store


def test_flags_view_is_a_polygon_layer_for_gdal(tmp_path):
    store = _classified_workspace(tmp_path)
    table = store.layers("flags")["table_name"].iloc[0]
    layers = dict(pyogrio.list_layers(store.path).tolist())
    assert layers[table] is None  # the attribute table: no geometry copy
    assert layers[f"{table}_geom"] in ("MultiPolygon", "Polygon")
    info = pyogrio.read_info(store.path, layer=f"{table}_geom")
    assert info["features"] == 20_000 and info["crs"] == "EPSG:4549"
    view = pyogrio.read_dataframe(store.path, layer=f"{table}_geom")
    survey = store.read_parcels()
    assert view["parcel_id"].tolist() == survey["parcel_id"].tolist()
    assert shapely.equals(view.geometry.values, survey.geometry.values).all()
    assert int(view["three_low"].sum()) == int(store.read_layer("flags", "default", columns=["three_low"],
                                                                geometry=False)["three_low"].sum())
    con = sqlite3.connect(store.path)
    try:  # GDAL found the extent, CRS and geometry type where QGIS looks for them
        row = con.execute("SELECT data_type, srs_id, min_x FROM gpkg_contents WHERE table_name=?",
                          (f"{table}_geom",)).fetchone()
        assert row[0] == "features" and row[1] == 4549 and row[2] is not None
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        con.close()


def test_old_workspace_with_geometry_flags_still_opens(store):
    """A flags layer written with its own polygons (the shape before) reads, builds sites and runs scenarios."""
    g = box_grid(6, 2)
    g["floor_area_m2"] = 100.0
    store.publish_survey(g)
    classified = W.operations.classify_parcels(g, W.PolicyDoc.from_file(None))
    classified["three_low"] = True
    store.write_layer("flags", "default", W.operations._storable(classified),
                      meta=W.Provenance.new("flags", survey_version=1, policy_name="default").to_meta())
    assert "geometry_from" not in store.layers("flags")["meta"].iloc[0]
    back = store.read_layer("flags", "default")
    assert shapely.equals(back.geometry.values, g.geometry.values).all()
    built = W.build_workspace_sites(store)
    assert len(built.result.sites) == 1 and built.result.parcel_sites["parcel_id"].nunique() == 12
    stored = W.read_sites(store, flag_columns=W.operations.ROLLUP_COLUMNS)
    assert stored.flags is not None and len(stored.flags) == 12 and not stored.warnings


def test_sample_city_same_flags_and_sites_as_the_geometry_shape(tmp_path):
    """The sample city: the linked flags equal a classification of the parcels with their polygons, and the
    sites built from them equal those built from that in-memory (old-shape) layer."""
    from planner.sites.build import PARCEL_COLUMNS

    store = _classified_workspace(tmp_path)
    doc = W.PolicyDoc.from_file(None)
    old = W.operations._storable(W.operations.classify_parcels(store.read_parcels(), doc))
    new = store.read_layer("flags", "default")
    assert list(new.columns) == [*(c for c in old.columns if c != "geometry"), "geometry"]  # as a stored layer reads
    old = old[list(new.columns)]
    pd.testing.assert_frame_equal(pd.DataFrame(new.drop(columns="geometry")), pd.DataFrame(old.drop(columns="geometry")),
                                  check_dtype=False)
    assert shapely.equals(new.geometry.values, old.geometry.values).all()
    built = W.build_workspace_sites(store)
    params = W.operations.resolve_site_params(store, "default")
    ref, _ = W.assemble_sites(old[[*PARCEL_COLUMNS, "geometry"]], params, barriers=store.read_all_layers("barrier"),
                              constraints=store.read_all_layers("constraint"))
    a, b = built.result, ref
    assert len(a.sites) == len(b.sites) > 100
    pd.testing.assert_frame_equal(a.parcel_sites.reset_index(drop=True), b.parcel_sites.reset_index(drop=True))
    assert np.allclose(a.sites["land_area_m2"], b.sites["land_area_m2"])
    assert np.allclose(a.sites["constraint_overlap_m2"], b.sites["constraint_overlap_m2"], atol=1e-6)


def test_cli_classify_with_an_enterprise_table_stores_the_joined_figures(tmp_path):
    """`planner classify` reads no polygons; with an enterprise table joined in, the flags keep the joined
    output and tax (not the survey's), and equal a classification of the parcels with their polygons."""
    from planner.cli import main
    from planner.workflow.enterprises import analysis_parcels, ingest_enterprises

    ws = tmp_path / "city.gpkg"
    shutil.copyfile(ROOT / "gis_data" / "sample_city.gpkg", ws)
    store = open_store(ws)
    ingest_enterprises(ROOT / "gis_data" / "enterprises_2024.xlsx", store,
                       link=ROOT / "gis_data" / "enterprise_parcels_2024.csv")
    assert main(["classify", "-w", str(ws)]) == 0
    link = json.loads(store.layers("flags")["meta"].iloc[0])["geometry_from"]
    assert link["version"] == 1 and not link.get("shared")  # joined figures: every column stored
    doc = W.PolicyDoc.from_file(None)
    want = W.operations._storable(W.operations.classify_parcels(analysis_parcels(store), doc))
    got = store.read_layer("flags", "default")
    assert (got["tax_cny"].fillna(-1).to_numpy() == want["tax_cny"].fillna(-1).to_numpy()).all()
    survey = store.read_parcels()
    assert not (got["tax_cny"].fillna(-1).to_numpy() == survey["tax_cny"].fillna(-1).to_numpy()).all()
    pd.testing.assert_frame_equal(pd.DataFrame(got.drop(columns="geometry")),
                                  pd.DataFrame(want[list(got.columns)].drop(columns="geometry")), check_dtype=False)


def test_sites_saved_with_their_flags_link_the_survey_geometry(store):
    """The app stores a saved rule version's flags with its sites (``store_sites(flags=...)``): in the shape
    ``classify_workspace`` gives them, rows taking the polygons of the survey version they classify (none
    copied), whatever the polygons the app holds (one-part multipolygons held as polygons)."""
    from planner.sites import SiteParams

    g = box_grid(6, 2)
    g["floor_area_m2"] = 100.0
    store.publish_survey(g)
    doc = W.PolicyDoc.from_file(None)
    flagged = W.operations.classify_parcels(g, doc)
    flagged["three_low"] = True
    params = W.SiteParamsDoc("default", SiteParams(), True)
    result, _ = W.assemble_sites(flagged, params)
    prov = W.Provenance.new("flags", survey_version=1, policy_name="default", policy_hash=doc.hash)
    W.store_sites(store, "default", result, flagged, flags_prov=prov, flags_version=None, params=params,
                  flags=flagged)
    meta = json.loads(store.layers("flags")["meta"].iloc[0])
    assert meta["geometry_from"] == {"kind": "survey", "name": "parcels", "version": 1}
    back = store.read_layer("flags", "default")
    assert shapely.equals(back.geometry.values, store.read_parcels().geometry.values).all()
    assert back["three_low"].all() and len(back) == 12
    stored = W.read_sites(store, flag_columns=W.operations.ROLLUP_COLUMNS)
    assert stored.flags is not None and len(stored.flags) == 12 and not stored.warnings
