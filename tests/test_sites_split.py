"""Realistic sites: split at streets, to a maximum area and owner count; assembly difficulty in the score.

Hand-checked cases on boxes (planner/sites/split.py, issue 13 "Realistic sites").
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import shapely
import shapely.affinity
from test_sites import frame, partition

from planner import sites as S
from planner.classify import policy as policy_mod
from planner.cli import main
from planner.errors import ConfigError
from planner.sites.ids import match_site_ids

P0 = S.SiteParams(min_area_m2=0)


def strip(n: int, size: float = 50.0):
    """``n`` touching ``size`` m squares in a row: p0 (west) ... p{n-1} (east)."""
    return frame([(k * size, 0, (k + 1) * size, size) for k in range(n)])


def members(res: S.SiteResult) -> dict[str, list[int]]:
    ps = res.parcel_sites[res.parcel_sites["role"] == "flagged"]
    return {s: sorted(int(p[1:]) for p in g) for s, g in ps.groupby("site_id")["parcel_id"]}


# -- maximum area and owners ------------------------------------------------------

def test_long_strip_is_split_into_compact_pieces_within_the_maximum():
    g = strip(12)  # 600 x 50 m, 30,000 m², compactness 4*pi*30,000/1,300² = 0.22
    whole = S.build_sites(g, P0)
    assert len(whole.sites) == 1
    assert whole.sites["compactness"].iloc[0] == pytest.approx(4 * math.pi * 30_000 / 1_300**2)
    res = S.build_sites(g, S.SiteParams(min_area_m2=0, max_area_m2=10_000))
    s = res.sites
    # every piece at most 4 squares (10,000 m²), so at least 3 pieces: the fewest, in contiguous runs
    assert sorted(members(res).values()) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    assert s["land_area_m2"].sum() == pytest.approx(30_000)
    for ids in members(res).values():  # contiguous runs of the strip
        assert ids == list(range(ids[0], ids[-1] + 1))
    assert (shapely.get_type_id(s.geometry.values) == 3).all()  # each piece one polygon
    # hand-computed: a run of k squares is 50k x 50, compactness 4*pi*2,500k / (100k + 100)^2
    for _, row in s.iterrows():
        k = row["n_parcels"]
        assert row["compactness"] == pytest.approx(4 * math.pi * 2_500 * k / (100 * k + 100) ** 2)
        assert row["compactness"] > 2 * whole.sites["compactness"].iloc[0]
    assert (s["status"] == "ok").all()


def test_split_is_deterministic_and_a_parcel_over_the_maximum_stays_whole():
    g = frame([(0, 0, 300, 300), (300, 0, 350, 50), (350, 0, 400, 50)])  # 90,000 m² parcel + two small ones
    p = S.SiteParams(min_area_m2=0, max_area_m2=10_000)
    a, b = S.build_sites(g, p), S.build_sites(g, p)
    assert partition(a) == partition(b) == {frozenset({"p0"}), frozenset({"p1", "p2"})}
    s = a.sites.set_index("site_id")
    assert s.loc["S0001", "status"] == "too_large" and s.loc["S0002", "status"] == "ok"


def test_limit_is_on_the_flagged_land_an_absorbed_enclave_does_not_make_a_site_too_large():
    # a ring of 8 flagged 50 m squares (20,000 m²) around a small non-flagged one, absorbed (2,500 <= 20% of 20,000)
    g = frame([(x, y, x + 50, y + 50) for y in (0, 50, 100) for x in (0, 50, 100)],
              flagged=[True] * 4 + [False] + [True] * 4)
    res = S.build_sites(g, S.SiteParams(min_area_m2=0, max_area_m2=20_000))
    s = res.sites.iloc[0]
    assert len(res.sites) == 1 and s["land_area_m2"] == pytest.approx(22_500) and s["status"] == "ok"
    assert (res.parcel_sites["role"] == "absorbed").sum() == 1


def test_clusters_split_together_as_each_alone():
    # one Ward forest for all oversize clusters gives each the pieces it gets alone
    rng = np.random.default_rng(3)
    x, y = np.meshgrid(np.arange(12) * 40.0, np.arange(5) * 40.0)
    cells = shapely.box(x.ravel(), y.ravel(), x.ravel() + 40 - rng.uniform(0, 1, x.size), y.ravel() + 40)
    geoms = np.r_[cells, shapely.affinity.translate(shapely.GeometryCollection(list(cells)), 5_000).geoms]
    geoms = np.asarray(geoms, dtype=object)
    labels = np.repeat([0, 1], len(cells))
    land = shapely.area(geoms)
    both = S.split_oversize(geoms, labels, land=land, max_area_m2=20_000, gap=2.0)
    for c in (0, 1):
        alone = S.split_oversize(geoms[labels == c], np.zeros(len(cells), int), land=land[labels == c],
                                 max_area_m2=20_000, gap=2.0)
        mine = both[labels == c]
        assert len(set(zip(mine.tolist(), alone.tolist(), strict=True))) == len(set(alone.tolist())) == len(set(mine))
        assert np.bincount(alone, weights=land[labels == c]).max() <= 20_000


def test_max_owners_splits_a_cluster_with_too_many_owners():
    g = strip(8)
    g["owner"] = ["A", "A", "B", "B", "C", "C", "D", "D"]
    res = S.build_sites(g, S.SiteParams(min_area_m2=0, max_owners=2))
    assert sorted(res.sites["n_owners"].tolist()) == [2, 2]
    assert sorted(members(res).values()) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    none = S.build_sites(g, S.SiteParams(min_area_m2=0, max_owners=4))
    assert len(none.sites) == 1 and none.sites["n_owners"].iloc[0] == 4


def test_split_pieces_never_join_across_a_barrier():
    # a U of squares around a road: the west and east arms meet only at the bottom row
    boxes = [(0, 0, 50, 50), (50, 0, 100, 50), (100, 0, 150, 50),
             (0, 50, 50, 100), (0, 100, 50, 150), (100, 50, 150, 100), (100, 100, 150, 150)]
    g = frame(boxes)
    road = shapely.LineString([(500_075, 2_740_050), (500_075, 2_740_200)])  # in the U's notch, meets no parcel
    res = S.build_sites(g, S.SiteParams(min_area_m2=0, max_area_m2=10_000), barriers=[road])
    for ids in members(res).values():
        assert len(S.build_sites(g[g.index.isin(ids)], P0).sites) == 1  # each piece contiguous on its own


# -- streets ------------------------------------------------------------------------

#: Two rows of four 50 m squares with a 10 m street between them (y 50..60), joined only by
#: a parcel at the street's east end (p8): one cluster around a dead-end street.
AROUND_STREET = ([(50 * k, 0, 50 * k + 50, 50) for k in range(4)]
                 + [(50 * k, 60, 50 * k + 50, 110) for k in range(4)] + [(200, 0, 250, 110)])
SOUTH, NORTH = {f"p{k}" for k in range(4)}, {f"p{k}" for k in range(4, 8)}


def test_cluster_around_a_street_is_split_at_the_street():
    g = frame(AROUND_STREET)
    off = S.build_sites(g, S.SiteParams(min_area_m2=0, split_streets=False))
    assert partition(off) == {frozenset(SOUTH | NORTH | {"p8"})}
    res = S.build_sites(g, P0)
    # one cut of one contact (the end parcel joins one side): the two sides of the street apart
    assert partition(res) in ({frozenset(SOUTH | {"p8"}), frozenset(NORTH)},
                              {frozenset(SOUTH), frozenset(NORTH | {"p8"})})
    assert len(res.sites) == 2 and (shapely.get_type_id(res.sites.geometry.values) == 3).all()


def test_street_gap_rule_limits():
    g = frame(AROUND_STREET)
    # a gap the tolerance bridges on purpose is not a street
    assert len(S.build_sites(g, S.SiteParams(min_area_m2=0, gap_m=12)).sites) == 1
    # narrower than the narrowest street: a wall or a ditch, not a street
    assert len(S.build_sites(g, S.SiteParams(min_area_m2=0, street_gap_min_m=12)).sites) == 1
    # wider than a local street: not split here (arterials come as barrier layers)
    assert len(S.build_sites(g, S.SiteParams(min_area_m2=0, street_gap_max_m=8)).sites) == 1
    # a parcel in the gap (not flagged): no street there
    filled = frame([*AROUND_STREET, (0, 50, 200, 60)], flagged=[True] * 9 + [False])
    assert partition(S.build_sites(filled, S.SiteParams(min_area_m2=0, absorb_enclaves=False))) == {
        frozenset(SOUTH | NORTH | {"p8"})}


def test_mapped_road_splits_a_cluster_that_joins_around_its_end():
    # touching rows (no gap), a road drawn along their common edge that stops short of p8
    boxes = [(50 * k, 0, 50 * k + 50, 50) for k in range(4)] + [(50 * k, 50, 50 * k + 50, 100) for k in range(4)]
    g = frame([*boxes, (200, 0, 250, 100)])
    road = shapely.LineString([(500_000 - 20, 2_740_050), (500_200, 2_740_050)])
    off = S.build_sites(g, S.SiteParams(min_area_m2=0, split_streets=False), barriers=[road])
    assert len(off.sites) == 1  # the barrier splits the contacts along it, the rows still meet through p8
    res = S.build_sites(g, P0, barriers=[road])
    parts = partition(res)
    assert len(parts) == 2 and not any(SOUTH & p and NORTH & p for p in parts)


def test_sample_city_sites_no_longer_run_across_lanes():
    from test_sites_speed_paths import classified_sample_city

    parcels, barriers, constraints = classified_sample_city()
    off = S.build_sites(parcels, S.SiteParams(split_streets=False), barriers=barriers, constraints=constraints)
    on = S.build_sites(parcels, S.SiteParams(), barriers=barriers, constraints=constraints)
    allg = np.asarray(parcels.geometry.values, dtype=object)

    def across(res):
        ps = res.parcel_sites[res.parcel_sites["role"] == "flagged"].merge(parcels[["parcel_id", "geometry"]])
        lab = pd.factorize(ps["site_id"])[0]
        i, _ = S.street_pairs(np.asarray(ps.geometry.values, dtype=object), lab, gap=2, min_width=6, max_width=25,
                              occupied=allg)
        return len(i)

    assert across(off) > 100 and across(on) == 0
    assert len(on.sites) > len(off.sites)
    assert on.parcel_sites.query("role == 'flagged'")["parcel_id"].sort_values().tolist() == \
        off.parcel_sites.query("role == 'flagged'")["parcel_id"].sort_values().tolist()


# -- assembly difficulty ----------------------------------------------------------------

def test_difficulty_term_in_the_score_and_the_ranks():
    # two 200 x 100 sites alike in all but who is on the land: B (p0, p1) comes first by id
    g = frame([(0, 0, 100, 100), (100, 0, 200, 100), (500, 0, 600, 100), (600, 0, 700, 100)],
              owner=["Y", "Z", "X", "X"], enterprise=["E1", "E2", None, None])
    res = S.build_sites(g, P0)
    s = res.sites.set_index("site_id")
    assert s["difficulty"].to_dict() == {"S0001": 4.0, "S0002": 1.0}  # 2 owners + 2 enterprises; 1 owner
    assert s.loc["S0001", "score_difficulty"] == pytest.approx(-0.15)
    assert s.loc["S0002", "score_difficulty"] == pytest.approx(-0.15 / 4)
    assert s.loc["S0002", "score"] - s.loc["S0001", "score"] == pytest.approx(0.1125)
    assert s["rank"].to_dict() == {"S0001": 2, "S0002": 1}
    assert "- 0.15*difficulty/max_difficulty" in s.loc["S0001", "score_formula"]
    # weight 0: a tie, broken by id
    w0 = S.build_sites(g, S.SiteParams(min_area_m2=0, weights=S.ScoreWeights(difficulty=0)))
    assert w0.sites.set_index("site_id")["rank"].to_dict() == {"S0001": 1, "S0002": 2}
    # retained high performers inside count double by default; the counts' weights come from the policy
    assert S.DifficultyWeights().index(3, 2, 1) == 7.0
    assert S.DifficultyWeights(owners=2, enterprises=0, retained=1).index(3, 2, 1) == 7.0


def test_enterprises_to_relocate_count_each_tenant_once():
    # tenants as the enterprise join gives them: ；-joined per parcel; B uses two parcels, C's parcel is retained
    g = frame([(x, 0, x + 50, 50) for x in (0, 50, 100, 150)], flagged=[True, True, False, True],
              upgrade_class=["redevelop", "redevelop", "retain", "redevelop"],
              enterprise=["A；B", "B", "C", None], credit_codes=["91A；91B", "91B", "91C", None])
    res = S.build_sites(g, P0)
    assert partition(res) == {frozenset({"p0", "p1"}), frozenset({"p3"})}
    assert res.sites.set_index("site_id")["n_enterprises"].to_dict() == {"S0001": 2, "S0002": 0}


def test_difficulty_counts_a_retained_parcel_inside():
    # a 3 x 3 grid with a retained high performer in the middle
    g = frame([(x, y, x + 50, y + 50) for y in (0, 50, 100) for x in (0, 50, 100)],
              flagged=[True] * 4 + [False] + [True] * 4, upgrade_class=["redevelop"] * 4 + ["retain"] + ["redevelop"] * 4,
              owner=list("AABBRCCDD"))
    res = S.build_sites(g, P0)
    s = res.sites.iloc[0]
    assert s["n_retained_inside"] == 1 and s["n_owners"] == 4  # R, the retained parcel's owner, stays out
    assert s["difficulty"] == 4 + 0 + 2


# -- settings -------------------------------------------------------------------------

def test_new_settings_round_trip_through_a_policy_file(tmp_path):
    text = policy_mod.dumps(policy_mod.default_policy())
    text += ("\n[sites]\nmax_area_m2 = 60000.0\nmax_owners = 12\nsplit_streets = false\nstreet_gap_min_m = 8.0\n"
             "street_gap_max_m = 20.0\n\n[sites.weights]\ndifficulty = 0.3\n\n"
             "[sites.difficulty]\nowners = 1.5\nenterprises = 0.5\nretained = 3.0\n")
    f = tmp_path / "p.toml"
    f.write_text(text, encoding="utf-8")
    pol = policy_mod.load_policy(f)
    sp = policy_mod.site_params(pol)
    assert (sp.max_area_m2, sp.max_owners, sp.split_streets, sp.street_gap_min_m, sp.street_gap_max_m) == \
        (60_000.0, 12, False, 8.0, 20.0)
    assert sp.weights.difficulty == 0.3 and sp.difficulty == S.DifficultyWeights(1.5, 0.5, 3.0)
    again = tmp_path / "again.toml"
    again.write_text(policy_mod.dumps(pol), encoding="utf-8")
    assert policy_mod.site_params(policy_mod.load_policy(again)) == sp
    assert S.SiteParams.from_dict(sp.to_dict()) == sp


def test_commented_sites_example_in_the_default_policy_is_valid():
    import tomllib
    from pathlib import Path

    text = (Path(policy_mod.__file__).resolve().parents[2] / "policies" / "default.toml").read_text(encoding="utf-8")
    block = text[text.index("# [sites]"):]
    data = tomllib.loads("\n".join(line[2:] for line in block.splitlines() if line.startswith("# ")))
    sp = S.SiteParams.from_dict(data["sites"])
    assert sp.max_area_m2 == 60_000 and sp.weights.difficulty == S.ScoreWeights().difficulty
    assert sp.difficulty == S.DifficultyWeights() and sp.split_streets == S.SiteParams().split_streets


@pytest.mark.parametrize(("data", "word"), [({"max_owners": 0}, "max_owners"), ({"max_area_m2": -5.0}, "max_area_m2"),
                                            ({"street_gap_min_m": 30.0}, "street_gap_min_m"),
                                            ({"difficulty": {"owners": -1}}, "difficulty: difficulty weight 'owners'"),
                                            ({"weights": {"difficulty": -0.1}}, "difficulty")])
def test_bad_new_settings_are_refused_by_name(data, word):
    with pytest.raises(ConfigError, match=word):
        S.SiteParams.from_dict(data)


# -- ids and edits on split sites ------------------------------------------------------------

def test_split_sites_keep_their_ids_and_take_edits():
    g = strip(12)
    p = S.SiteParams(min_area_m2=0, max_area_m2=10_000)
    first = S.build_sites(g, p)
    again, table = match_site_ids(S.build_sites(g, p), first.sites)
    assert (table["status"] == "kept").all() and members(again) == members(first)
    # move the first parcel of the second piece into the first piece, then remove it again
    by = members(first)
    a, b = sorted(by, key=lambda s: by[s][0])[:2]
    moved = f"p{by[b][0]}"
    edited = S.add_parcels(first, a, [moved], g)
    assert moved in set(edited.parcel_sites.query("site_id == @a")["parcel_id"])
    sa = edited.sites.set_index("site_id")
    assert sa.loc[a, "n_parcels"] == len(by[a]) + 1 and sa.loc[b, "n_parcels"] == len(by[b]) - 1
    assert sa.loc[a, "land_area_m2"] == pytest.approx(2_500 * (len(by[a]) + 1))
    back = S.remove_parcels(edited, a, [moved], g)
    assert back.sites.set_index("site_id").loc[a, "n_parcels"] == len(by[a])


def test_cli_sites_takes_the_new_options(store, capsys):
    from test_sites import flag

    from planner import workflow as W

    g = flag(strip(12))
    g["owner"] = [f"O{k}" for k in range(12)]
    store.write_layer("flags", "default", g)
    ws = str(store.uri)
    assert main(["sites", "-w", ws, "--min-area", "0"]) == 0
    assert '"sites": 1' in capsys.readouterr().out
    assert main(["sites", "-w", ws, "--min-area", "0", "--max-area", "10000", "--max-owners", "4",
                 "--difficulty-weight", "0.4", "--save-params", "small"]) == 0
    out = capsys.readouterr().out
    assert '"sites": 3' in out and "- 0.4*difficulty/max_difficulty" in out  # 4 parcels and owners each
    sites = store.read_layer("sites", "default")
    assert sites["n_parcels"].tolist() == [4, 4, 4] and sites["difficulty"].tolist() == [4.0, 4.0, 4.0]
    doc = W.load_document(store, "site_params", "small")
    assert (doc.params.max_area_m2, doc.params.max_owners, doc.params.weights.difficulty) == (10_000, 4, 0.4)
    assert main(["sites", "-w", ws, "--params", "small", "--max-owners", "2", "--no-street-split"]) == 0
    assert '"sites": 6' in capsys.readouterr().out
    assert main(["sites", "-w", ws, "--params", "small", "--max-area", "0", "--max-owners", "0"]) == 0
    assert '"sites": 1' in capsys.readouterr().out  # 0: no limit
    assert main(["sites", "-w", ws, "--max-owners", "-1"]) == 2
    assert "max_owners" in capsys.readouterr().err


# -- the app -------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["zh", "en"])
def test_app_max_area_gives_more_smaller_sites(tmp_path, monkeypatch, lang):
    from test_app import _app, _button, _metric

    from planner.i18n import STRINGS, column_label, t
    from tests.e2e._workspace import build_workspace

    ws = build_workspace(tmp_path / "ws.gpkg")
    at = _app(ws, monkeypatch, "sites", lang=lang)
    assert not at.exception and not at.error
    before = at.session_state["site_result"].sites
    n_before = int(_metric(at, t("m_sites", lang)).replace(",", ""))
    assert before["land_area_m2"].max() > 30_000
    assert STRINGS["rs_max_area"][0 if lang == "zh" else 1] in [n.label for n in at.number_input]
    heads = [[str(c) for c in df.value.columns] for df in at.dataframe]
    wanted = ["n_owners", "n_enterprises", "n_retained_inside", "difficulty"]  # shown with column_label headers
    assert column_label("difficulty", lang) == ("实施难度（分）" if lang == "zh" else "Assembly difficulty (points)")
    assert any(all(w in h for w in wanted) for h in heads), heads  # assembly difficulty in the sites table
    at.number_input(key="s_max_area").set_value(15_000.0)
    _button(at, t("sc_run", lang)).click().run()
    assert not at.exception and not at.error
    after = at.session_state["site_result"].sites
    assert at.session_state["site_params"]["params"]["max_area_m2"] == 15_000.0
    assert len(after) > len(before) and int(_metric(at, t("m_sites", lang)).replace(",", "")) > n_before
    assert after["land_area_m2"].max() <= 15_000 < before["land_area_m2"].max()  # smaller sites, the same land
    assert after["land_area_m2"].sum() == pytest.approx(before["land_area_m2"].sum())
    # a bad value is refused in the UI language, nothing changes
    at.number_input(key="s_max_area").set_value(5_000.0)  # below the minimum site area (10,000 m²)
    _button(at, t("sc_run", lang)).click().run()
    assert at.error and at.session_state["site_params"]["params"]["max_area_m2"] == 15_000.0
    assert ("最大片区面积" if lang == "zh" else "max_area_m2") in at.error[0].value


def test_brief_and_export_show_assembly_difficulty(tmp_path, capsys):
    pytest.importorskip("pypdfium2", reason="pypdfium2 reads the PDF (test extra)")
    from test_report_pdf import _pages

    from planner.io.store import open_store
    from planner.report.geodata import export_columns
    from tests.e2e._workspace import build_workspace

    ws = str(build_workspace(tmp_path / "ws.gpkg"))
    assert main(["classify", "-w", ws]) == 0 and main(["sites", "-w", ws]) == 0
    sites = open_store(ws).read_layer("sites", "default")
    top = sites[sites["rank"] == 1].iloc[0]
    assert top["difficulty"] == top["n_owners"] + top["n_enterprises"] + 2 * top["n_retained_inside"]
    assert "difficulty" in export_columns(sites, "sites")
    out = tmp_path / "b.pdf"
    assert main(["brief", "--top", "1", "-w", ws, "--out", str(out), "--lang", "zh"]) == 0
    assert "实施难度" in _pages(out, "brief_difficulty_zh")[0]
    assert main(["brief", "--top", "1", "-w", ws, "--out", str(out), "--lang", "en"]) == 0
    assert "Assembly difficulty" in _pages(out, "brief_difficulty_en")[0]
    capsys.readouterr()
