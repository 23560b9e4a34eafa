"""Scenario model: hand-computed ledger, retention, phasing, absorption, selection."""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from planner.errors import ConfigError, DataError
from planner.scenarios import (
    load_scenario,
    parcel_rollup,
    replace,
    run,
    scenario_from_dict,
    select_sites,
)
from planner.scenarios.templates import builtin_templates, parse_template

ROOT = Path(__file__).resolve().parents[1]

#: A template with round numbers for hand arithmetic.
EASY = {
    "name": "easy", "target_plot_ratio": 2.0, "coverage": 0.5, "floors_min": 4, "floors_max": 6,
    "support_floor_share": 0.2, "hard_cost_per_m2": 2000.0, "all_in_cost_per_m2": 3000.0,
    "demolition_cost_per_m2": 100.0, "rent_per_m2_month": 10.0, "m2_per_enterprise": 2000.0,
    "jobs_per_1000m2": 10.0, "output_per_m2": 1000.0, "tax_per_m2": 50.0,
    "planning_months": 12, "construction_months": 24, "absorption": [0.6, 0.8, 0.9],
}


def templates():
    t = builtin_templates()
    t["easy"] = parse_template(EASY)
    return t


def one_site(**extra) -> gpd.GeoDataFrame:
    # 100 m x 100 m = 10,000 m2 of land, 4,000 m2 of existing floor area (plot ratio 0.4)
    data = {"site_id": ["S0001"], "status": ["ok"], "rank": [1], "land_area_m2": [10_000.0],
            "floor_area_m2": [4_000.0], "tax_cny": [100_000.0], "employees": [50.0], "output_cny": [2_000_000.0]}
    data.update(extra)
    return gpd.GeoDataFrame(data, geometry=[shapely.box(0, 0, 100, 100)], crs="EPSG:4549")


def scen(**kw):
    return scenario_from_dict({"name": "t", "template": "easy", "start_year": 2026, **kw})


def test_ledger_one_site_demolish_every_line():
    r = run(one_site(), scen(), templates=templates())
    s = r.sites.iloc[0]
    assert s["existing_floor_m2"] == 4_000
    assert s["retained_floor_m2"] == 0
    assert s["demolished_floor_m2"] == 4_000
    assert s["new_floor_m2"] == 20_000  # 10,000 m2 x plot ratio 2.0
    assert s["floor_after_m2"] == 20_000
    assert s["net_change_m2"] == 16_000  # 20,000 - 4,000
    assert s["leasable_m2"] == 16_000  # 20,000 x (1 - 0.2)
    assert s["occupied_m2"] == pytest.approx(14_400)  # 16,000 x 0.9
    assert s["enterprises_housed"] == pytest.approx(7.2)  # 14,400 / 2,000
    assert s["jobs_after"] == pytest.approx(144)  # 14,400 x 10 / 1,000 (old jobs demolished)
    assert s["output_after_cny"] == pytest.approx(14_400_000)  # 14,400 x 1,000
    assert s["tax_after_cny"] == pytest.approx(720_000)  # 14,400 x 50
    assert s["tax_before_cny"] == 100_000
    assert s["investment_cny"] == 60_000_000  # 20,000 x 3,000
    assert s["construction_cost_cny"] == 40_000_000  # 20,000 x 2,000
    assert s["demolition_cost_cny"] == 400_000  # 4,000 x 100
    assert s["other_cost_cny"] == 19_600_000  # 60 M - 40 M - 0.4 M
    assert s["rent_cny_yr"] == pytest.approx(1_728_000)  # 14,400 x 10 x 12
    assert s["payback_years"] == pytest.approx(60_000_000 / 1_728_000)  # 34.7 years
    # fiscal: rent + tax gain (720,000 - 100,000)
    assert s["fiscal_payback_years"] == pytest.approx(60_000_000 / (1_728_000 + 620_000))
    assert s["plot_ratio_before"] == pytest.approx(0.4) and s["plot_ratio_after"] == pytest.approx(2.0)
    assert s["start_year"] == 2026 and s["works_start"] == 2027.0 and s["delivery"] == 2029.0
    assert r.totals["new_floor_m2"] == 20_000 and r.totals["n_sites"] == 1
    assert r.totals["payback_years"] == pytest.approx(s["payback_years"])
    assert r.sites.crs == "EPSG:4549" and r.sites.geometry.area.iloc[0] == 10_000


def test_retention_keeps_floor_area_and_part_of_the_baseline():
    r = run(one_site(), scen(existing="retain"), templates=templates())
    s = r.sites.iloc[0]
    assert s["retained_floor_m2"] == 4_000 and s["demolished_floor_m2"] == 0
    assert s["new_floor_m2"] == 16_000  # 20,000 target - 4,000 kept
    assert s["floor_after_m2"] == 20_000 and s["net_change_m2"] == 16_000
    assert s["leasable_m2"] == pytest.approx(12_800)  # 16,000 x 0.8
    assert s["occupied_m2"] == pytest.approx(11_520)  # 12,800 x 0.9
    assert s["jobs_after"] == pytest.approx(50 + 115.2)  # kept jobs + 11,520 x 10 / 1,000
    assert s["tax_after_cny"] == pytest.approx(100_000 + 576_000)  # kept tax + 11,520 x 50
    assert s["investment_cny"] == 48_000_000 and s["demolition_cost_cny"] == 0


def test_retained_floor_over_target_builds_nothing():
    r = run(one_site(floor_area_m2=[25_000.0]), scen(existing="retain"), templates=templates())
    s = r.sites.iloc[0]
    assert s["new_floor_m2"] == 0 and s["investment_cny"] == 0 and np.isinf(s["payback_years"])
    assert s["floor_after_m2"] == 25_000


def test_retain_class_from_parcels():
    sp = pd.DataFrame({"parcel_id": ["a", "b", "c"], "site_id": ["S0001"] * 3,
                       "role": ["flagged", "flagged", "retained_inside"]})
    parcels = pd.DataFrame({"parcel_id": ["a", "b", "c"], "floor_area_m2": [1_000.0, 2_000.0, 1_000.0],
                            "upgrade_class": ["retain", "redevelop", "upgrade"],
                            "tax_cny": [10.0, None, 5.0], "employees": [None, None, None]})
    roll = parcel_rollup(sp, parcels)
    # a is class "retain" (1,000), c is retained_inside (1,000)
    assert roll.loc["S0001", "retain_class_floor_m2"] == 2_000
    assert roll.loc["S0001", "tax_cny"] == 15 and np.isnan(roll.loc["S0001", "employees"])
    r = run(one_site(), scen(existing="retain_class"), templates=templates(), rollup=roll)
    s = r.sites.iloc[0]
    assert s["retained_floor_m2"] == 2_000 and s["demolished_floor_m2"] == 2_000 and s["new_floor_m2"] == 18_000
    with pytest.raises(DataError, match="planner sites"):
        run(one_site(), scen(existing="retain_class"), templates=templates())
    # keeping upgrade-in-place parcels too: a + c (retained_inside, class upgrade)
    roll2 = parcel_rollup(sp, parcels, retain_classes=("retain", "upgrade"))
    assert roll2.loc["S0001", "retain_class_floor_m2"] == 2_000
    parcels.loc[2, "upgrade_class"] = "redevelop"
    sp.loc[2, "role"] = "flagged"
    assert parcel_rollup(sp, parcels).loc["S0001", "retain_class_floor_m2"] == 1_000
    assert parcel_rollup(sp, parcels, retain_classes=("retain", "redevelop")).loc["S0001", "retain_class_floor_m2"] == 4_000


def test_site_existing_rule_per_site():
    sites = pd.concat([one_site(), one_site(site_id=["S0002"], rank=[2])], ignore_index=True)
    r = run(sites, scen(site_existing={"S0002": "retain"}), templates=templates())
    assert r.sites["retained_floor_m2"].tolist() == [0, 4_000]


def test_timeline_whole_years():
    r = run(one_site(), scen(), templates=templates())
    tl = r.timeline
    # planning 12 months from 2026-01 -> works 2027.0-2029.0, delivered at the end of 2028
    assert tl.loc[2026, "investment_cny"] == 0
    assert tl.loc[2027, "investment_cny"] == pytest.approx(30_000_000)
    assert tl.loc[2028, "investment_cny"] == pytest.approx(30_000_000)
    assert tl.loc[2027, "under_construction_m2"] == 20_000 and tl.loc[2028, "under_construction_m2"] == 0
    assert tl.loc[2028, "delivered_m2"] == 20_000 and tl.loc[2027, "delivered_m2"] == 0
    assert tl.loc[2028, "sites_delivered"] == 1
    # absorption counted by calendar year from the delivery year 2029: 60%, 80%, 90%, 90%
    assert tl.loc[2028, "occupied_m2"] == 0
    assert tl.loc[[2029, 2030, 2031, 2032], "occupied_m2"].tolist() == pytest.approx([9_600, 12_800, 14_400, 14_400])
    assert tl.loc[2029, "rent_cny"] == pytest.approx(9_600 * 120)
    assert tl.loc[2031, "tax_new_cny"] == pytest.approx(14_400 * 50)
    assert tl.loc[2031, "enterprises"] == pytest.approx(7.2)
    assert tl["cum_investment_cny"].iloc[-1] == pytest.approx(60_000_000)
    assert tl.index[0] == 2026 and len(tl) == 15


def test_timeline_mid_year_delivery_counts_part_of_the_year():
    t = templates()
    t["fast"] = parse_template({**EASY, "name": "fast", "planning_months": 0, "construction_months": 18})
    r = run(one_site(), scen(template="fast"), templates=t)
    tl = r.timeline
    # works 2026.0-2027.5: 12/18 of the money in 2026, 6/18 in 2027
    assert tl.loc[2026, "investment_cny"] == pytest.approx(60e6 * 12 / 18)
    assert tl.loc[2027, "investment_cny"] == pytest.approx(60e6 * 6 / 18)
    # delivery year 2027: 60% occupied, rent for half a year
    assert tl.loc[2027, "occupied_m2"] == pytest.approx(9_600)
    assert tl.loc[2027, "rent_cny"] == pytest.approx(9_600 * 120 * 0.5)
    assert tl.loc[2028, "rent_cny"] == pytest.approx(12_800 * 120)


def five_sites(land=10_000.0):
    n = 5
    return gpd.GeoDataFrame(
        {"site_id": [f"S{i:04d}" for i in range(1, n + 1)], "status": ["ok"] * n, "rank": [3, 1, 2, 5, 4],
         "land_area_m2": [land] * n, "floor_area_m2": [0.0] * n},
        geometry=[shapely.box(i * 200, 0, i * 200 + 100, 100) for i in range(n)], crs="EPSG:4549")


def test_phasing_by_count_follows_rank():
    r = run(five_sites(), scen(sites_per_year=2), templates=templates())
    got = dict(zip(r.sites["site_id"], r.sites["start_year"], strict=True))
    # rank order S0002, S0003, S0001, S0005, S0004 -> 2 a year
    assert got == {"S0002": 2026, "S0003": 2026, "S0001": 2027, "S0005": 2027, "S0004": 2028}
    assert r.timeline.loc[[2026, 2027, 2028], "sites_started"].tolist() == [2, 2, 1]


def test_phasing_by_budget_cumulative():
    # each site: 10,000 m2 x 2.0 x 3,000 = 60 M; budget 100 M/yr
    # cumulative 60, 120, 180, 240, 300 M -> ceil(x/100) - 1 = 0, 1, 1, 2, 2
    r = run(five_sites(), scen(budget_per_year=100e6), templates=templates())
    assert r.sites["start_year"].tolist() == [2026, 2027, 2027, 2028, 2028]
    assert r.sites["site_id"].tolist() == ["S0002", "S0003", "S0001", "S0005", "S0004"]
    # both caps: the later start wins (count 1/yr -> 0,1,2,3,4)
    r2 = run(five_sites(), scen(budget_per_year=100e6, sites_per_year=1), templates=templates())
    assert r2.sites["start_year"].tolist() == [2026, 2027, 2028, 2029, 2030]


def test_selection_top_ids_filters():
    s = five_sites()
    s.loc[0, "land_area_m2"] = 30_000.0  # S0001
    s.loc[4, "status"] = "too_small"  # S0005
    t = templates()
    assert run(s, scen(sites={"top": 2}), templates=t).sites["site_id"].tolist() == ["S0002", "S0003"]
    assert run(s, scen(sites={"where": {"min_area_m2": 20_000}}), templates=t).sites["site_id"].tolist() == ["S0001"]
    assert "S0005" not in run(s, scen(), templates=t).sites["site_id"].tolist()
    assert run(s, scen(sites={"ids": ["S0004", "S0001"]}), templates=t).sites["site_id"].tolist() == ["S0001", "S0004"]
    with pytest.raises(DataError, match="no column 'zzz'"):
        select_sites(s, scen(sites={"where": {"min_zzz": 1}}).sites)
    with pytest.raises(DataError, match="S9999"):
        run(s, scen(sites={"ids": ["S9999"]}), templates=t)


@pytest.mark.parametrize("ranks", ["distinct", "ties", "missing"])
def test_selection_order_is_rank_then_id_as_a_full_sort_gives(ranks):
    """The selection's order (a take of the chosen rows only; by rank alone when ranks are distinct) equals the
    whole table sorted by rank (missing last) then id, with filters and top."""
    rng = np.random.default_rng(11)
    n = 400
    rank = {"distinct": rng.permutation(n) + 1.0, "ties": rng.integers(1, 40, n).astype(float),
            "missing": np.where(rng.random(n) < 0.2, np.nan, rng.integers(1, 60, n))}[ranks]
    s = gpd.GeoDataFrame({"site_id": [f"S{i:04d}" for i in rng.permutation(n)], "rank": rank,
                          "status": rng.choice(["ok", "ok", "too_small"], n),
                          "land_area_m2": rng.random(n) * 50_000, "floor_area_m2": rng.random(n) * 20_000},
                         geometry=[shapely.box(i, 0, i + 1, 1) for i in range(n)], crs="EPSG:4549")
    for sel in ({}, {"top": 7}, {"where": {"min_area_m2": 20_000}, "top": 30}, {"ids": list(s["site_id"][::9])}):
        got = select_sites(s, scen(sites=sel).sites)
        want = s[s["status"] == "ok"]  # the default selection: sites of status ok
        if "ids" in sel:
            want = want[want["site_id"].isin(sel["ids"])]
        if "where" in sel:
            want = want[want["land_area_m2"] >= 20_000]
        want = want.assign(_r=want["rank"].fillna(np.inf)).sort_values(["_r", "site_id"]).drop(columns="_r")
        want = want.head(sel["top"]) if "top" in sel else want
        assert got["site_id"].tolist() == want["site_id"].tolist(), sel
        assert list(got.columns) == list(s.columns) and isinstance(got, gpd.GeoDataFrame)


def test_site_templates_and_overrides():
    s = five_sites()
    sc = scen(site_templates={"S0001": "multi_storey"},
              overrides={"S0002": {"target_plot_ratio": 3.0, "floors_max": 8, "absorption": [1.0]}})
    r = run(s, sc, templates=templates()).sites.set_index("site_id")
    assert r.loc["S0001", "template"] == "multi_storey"
    assert r.loc["S0001", "new_floor_m2"] == 35_000  # 10,000 x 3.5
    assert r.loc["S0002", "new_floor_m2"] == 30_000  # override 3.0
    assert r.loc["S0002", "occupied_m2"] == pytest.approx(24_000)  # 30,000 x 0.8 x 1.0
    assert r.loc["S0003", "new_floor_m2"] == 20_000
    with pytest.raises(ConfigError, match="not achievable"):  # 3.5 > 0.5 x 6
        run(s, scen(overrides={"S0002": {"target_plot_ratio": 3.5}}), templates=templates())
    with pytest.raises(ConfigError, match="unknown template parameter"):
        scen(overrides={"S0002": {"plot": 3.0}})
    with pytest.raises(ConfigError, match="not a known park template"):
        run(s, scen(template="nope"), templates=templates())


def test_scenario_file_and_inline_template(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text('name = "x"\ntemplate = "mine"\nsites_per_year = 2\n[templates.mine]\nbase = "standard_factory"\n'
                 'rent_per_m2_month = 15.0\n[sites]\ntop = 3\n', encoding="utf-8")
    sc = load_scenario(f)
    r = run(five_sites(), sc)
    assert len(r.sites) == 3 and r.templates["mine"].rent_per_m2_month == 15.0
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nsites_per_year = 0\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="sites_per_year"):
        load_scenario(bad)


def test_saved_in_workspace_round_trip(store):
    ws = store
    sc = scen(sites={"top": 2}, policy_name="default", policy_hash="abc")
    assert ws.save_doc("scenario", sc.name, sc.to_dict()) == 1
    back = scenario_from_dict(ws.load_doc("scenario", "t"))
    assert back == sc


def realistic_sites(n=300, seed=1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    land = rng.uniform(10_000, 50_000, n)  # sites of 1-5 ha
    return pd.DataFrame({"site_id": [f"S{i:05d}" for i in range(n)], "status": "ok", "rank": np.arange(1, n + 1),
                         "land_area_m2": land, "floor_area_m2": land * rng.uniform(0.3, 1.0, n)})


def test_sanity_defaults_fall_in_the_programme_scale():
    r = run(realistic_sites(), scenario_from_dict({"name": "std"}))
    t = r.totals
    # Standard park: 25,000 m2 of new floor per ha; the programme averaged 21,600 m2 per project,
    # i.e. a project of about 0.86 ha at plot ratio 2.5. Our sites are 1-5 ha (contiguous), so per
    # site the floor area is 1.2-6 x a programme project.
    per_ha = t["new_floor_m2"] / (t["land_area_m2"] / 10_000)
    assert per_ha == pytest.approx(25_000)
    assert 21_600 <= t["new_floor_per_site_m2"] <= 6 * 21_600
    # leasable space per enterprise housed: 2,600 / 0.95 absorption = 2,737 m2, inside 2,600-3,000
    assert 2_600 <= t["leasable_m2"] / t["enterprises_housed"] <= 3_000
    # all-in investment per m2 close to the Jinjiang project (7.02 bn / 2.09 M m2 = 3,360)
    assert t["investment_cny"] / t["new_floor_m2"] == pytest.approx(3_360, rel=0.05)
    # stabilized occupancy at 95% (programme: 95.19%)
    assert t["occupied_m2"] / t["leasable_m2"] == pytest.approx(0.95)


# --------------------------------------------------------------------------- CLI
def _workspace_with_sites(ws):
    ws.write_layer("sites", "default", five_sites(), meta={"policy_name": "default", "policy_hash": "cafe" * 16})
    return ws


def test_cli_run_saves_and_writes_reports(tmp_path, store, capsys):
    from planner.cli import main

    ws = _workspace_with_sites(store)
    f = tmp_path / "s.toml"
    f.write_text('name = "two"\nsites_per_year = 1\n[sites]\ntop = 2\n', encoding="utf-8")
    out = tmp_path / "out"
    assert main(["scenario", "run", str(f), "-w", ws.uri, "--out", str(out), "--lang", "en"]) == 0
    text = capsys.readouterr().out
    # 2 sites x 10,000 m2 x 2.5 = 50,000 m2
    assert re.search(r"Gross planned floor area \(m²\)\s+50,000", text)
    assert {p.name for p in out.iterdir()} == {"two.xlsx", "two.html", "two.pdf", "two.gpkg"}
    doc = ws.load_doc("scenario", "two")["scenario"]
    assert doc["policy_name"] == "default" and doc["policy_hash"] == "cafe" * 16  # filled from the sites layer
    assert ws.audit_log()["action"].iloc[-1] == "save_scenario"
    # run again by saved name: the same scenario, not saved again; compare saved and file scenarios
    assert main(["scenario", "run", "two", "-w", ws.uri]) == 0
    assert "scenario/two version 1" in capsys.readouterr().out and ws.docs("scenario")["version"].max() == 1
    assert main(["scenario", "compare", "two@1", str(f), "-w", ws.uri, "--out", str(tmp_path / "c.xlsx")]) == 2
    assert "distinct" in capsys.readouterr().err
    g = tmp_path / "g.toml"
    g.write_text('name = "all_up"\ntemplate = "multi_storey"\n', encoding="utf-8")
    assert main(["scenario", "compare", "two", str(g), "-w", ws.uri, "--out", str(tmp_path / "c.html"), "--lang", "zh"]) == 0
    assert "all_up 较 two（%）" in (tmp_path / "c.html").read_text(encoding="utf-8")  # was the raw "all_up vs two %"


def test_cli_runs_several_scenarios_on_one_read_of_the_sites(tmp_path, store, capsys, monkeypatch):
    from planner import workflow as W
    from planner.cli import main

    ws = _workspace_with_sites(store)
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text('name = "two"\n[sites]\ntop = 2\n', encoding="utf-8")
    b.write_text('name = "all_up"\ntemplate = "multi_storey"\n', encoding="utf-8")
    reads = []
    real = W.operations.read_sites
    monkeypatch.setattr(W.operations, "read_sites", lambda *a, **k: reads.append(a[1:]) or real(*a, **k))
    out = tmp_path / "out"
    assert main(["scenario", "run", str(a), str(b), "-w", ws.uri, "--out", str(out), "--lang", "en"]) == 0
    text = capsys.readouterr().out
    assert len(reads) == 1  # one read of the sites for both
    assert "scenario two: 2 sites" in text and "scenario all_up: 5 sites" in text
    assert "saved as scenario/two version 1" in text and "saved as scenario/all_up version 1" in text
    assert {p.name for p in out.iterdir()} == {f"{n}.{x}" for n in ("two", "all_up") for x in ("xlsx", "html", "pdf", "gpkg")}
    def versions():
        return ws.docs("scenario").groupby("name")["version"].max().to_dict()

    # a saved name and a changed file together: the unchanged one is not saved again, the changed one is
    b.write_text('name = "all_up"\ntemplate = "multi_storey"\nstart_year = 2030\n', encoding="utf-8")
    assert main(["scenario", "run", "two", str(b), "-w", ws.uri]) == 0
    assert versions() == {"all_up": 2, "two": 1}
    # a bad name among good ones: refused before anything is run or saved (the changed file would be saved)
    a.write_text('name = "two"\n[sites]\ntop = 3\n', encoding="utf-8")
    assert main(["scenario", "run", str(a), "nosuch", "-w", ws.uri]) == 2
    assert "no saved scenario" in capsys.readouterr().err
    assert versions() == {"all_up": 2, "two": 1}
    # the same name twice would save over itself: refused unless nothing is saved
    assert main(["scenario", "run", str(a), "two", "-w", ws.uri]) == 2
    assert "two named more than once" in capsys.readouterr().err
    assert versions() == {"all_up": 2, "two": 1}
    assert main(["scenario", "run", str(a), "two", "-w", ws.uri, "--no-save"]) == 0
    # two names that make the same report file names: refused before anything is run, saved or written
    c = tmp_path / "c.toml"
    c.write_text('name = "all up"\ntemplate = "multi_storey"\n', encoding="utf-8")
    (tmp_path / "c2.toml").write_text('name = "all_up"\n', encoding="utf-8")
    assert main(["scenario", "run", str(c), str(tmp_path / "c2.toml"), "-w", ws.uri, "--out", str(tmp_path / "o2")]) == 2
    assert "would write the same report files" in capsys.readouterr().err
    assert not (tmp_path / "o2").exists() and versions() == {"all_up": 2, "two": 1}


def test_cli_says_what_to_run_first(tmp_path, store, capsys):
    from planner.cli import main

    ws = store
    f = tmp_path / "s.toml"
    f.write_text('name = "x"\n', encoding="utf-8")
    assert main(["scenario", "run", str(f), "-w", ws.uri]) == 2
    err = capsys.readouterr().err
    assert "planner classify" in err and "planner sites" in err
    assert main(["scenario", "run", "nosuch", "-w", ws.uri]) == 2
    assert "no saved scenario" in capsys.readouterr().err


def test_example_scenarios_are_valid():
    files = sorted((ROOT / "scenarios").glob("*.toml"))
    assert len(files) >= 2
    for f in files:
        sc = load_scenario(f)
        sc.resolved_templates()  # every template name resolves
        r = run(realistic_sites(40), replace(sc, existing="demolish"))
        assert r.totals["n_sites"] > 0 and r.totals["new_floor_m2"] > 0


def test_a_reader_is_told_when_the_budget_or_the_filter_bends_the_figures(tmp_path, store, capsys):
    """A 1 million a year budget started a 57 million site 56 years later, past the horizon, without a word; a
    filter that matched nothing gave a report of zeros that said "no geometry"; the budget read as an annual
    spending cap ("年度投资上限") it is not."""
    from planner.cli import main
    from planner.report.text import assumptions_table
    from planner.scenarios import phasing_warnings

    r = run(one_site(retain_class_floor_m2=[1_000.0]),
            scen(budget_per_year=1e6, existing="retain_class", retain_classes=["retain", "upgrade"]),
            templates=templates())
    said = " ".join(en for en, _ in phasing_warnings(r))
    assert "start after its horizon (2026-2040" in said and "starts the last in 2082" in said
    assert "cost more than a year's budget" in said and all(zh for _, zh in phasing_warnings(r))
    zh = assumptions_table(r, "zh").set_index("参数")["easy"]
    assert zh["情景：每年可新开工投资额（未用额度顺延）"] == "0.01 亿元"  # was 1000000
    assert zh["情景：现状建筑"] == "保留所选提升分类的地块：保留提升、原址提升"  # was "保留“保留提升”类" whatever was kept
    assert zh["情景：测算年限（年）"] == "15"
    en = assumptions_table(r, "en").set_index("Parameter")["easy"]
    assert en["Scenario: investment that may start per year (unused budget carries over)"] == "1.00 million yuan"
    assert phasing_warnings(run(one_site(), scen(), templates=templates())) == []
    none = run(one_site(), scen(sites={"where": {"min_area_m2": 1e9}}), templates=templates())
    assert "selects no site" in phasing_warnings(none)[0][0]
    # the CLI says so
    ws = _workspace_with_sites(store)
    f = tmp_path / "none.toml"
    f.write_text('name = "none"\n[sites]\nwhere = { min_area_m2 = 1e12 }\n', encoding="utf-8")
    assert main(["scenario", "run", str(f), "-w", ws.uri, "--no-save"]) == 0
    assert "warning: scenario 'none' selects no site" in capsys.readouterr().err


def test_the_curves_run_until_the_last_site_is_let():
    """A site delivered late in the horizon: the curves stopped before its absorption curve ended, below the
    headline figures (1,521,543 jobs against 1,522,667 for upstairs_all on the sample city)."""
    r = run(one_site(), scenario_from_dict({"name": "x", "template": "standard_factory", "horizon_years": 1}))
    last = r.timeline.iloc[-1]
    assert last["occupied_m2"] == pytest.approx(r.totals["occupied_m2"])
    assert last["jobs_new"] == pytest.approx(r.totals["jobs_after"])  # all old jobs demolished
    assert r.timeline.index[-1] == int(r.sites["delivery"].iloc[0]) + 2  # the third year of the 60/77.5/95% curve


@pytest.mark.slow
def test_sample_city_scale(sample_city_uri, capsys):
    """On the sample city: scale compared with the programme (GeoPackage and PostGIS give the same)."""
    from planner.cli import main
    from planner.io.store import open_store

    ws = sample_city_uri
    assert main(["classify", "-w", str(ws)]) == 0
    assert main(["sites", "-w", str(ws)]) == 0
    capsys.readouterr()
    store = open_store(ws)
    sites = store.read_layer("sites")
    r = run(sites, load_scenario(ROOT / "scenarios" / "upstairs_all.toml"))
    t = r.totals
    assert t["n_sites"] == (sites["status"] == "ok").sum()
    # contiguous sites are at least 1 ha, so a site holds more than one programme project (21,600 m2)
    assert t["new_floor_per_site_m2"] > 21_600
    assert 2_600 <= t["leasable_m2"] / t["enterprises_housed"] <= 3_000
    assert r.timeline["investment_cny"].sum() == pytest.approx(t["investment_cny"])
    # the curves run until the last site is let as its absorption curve ends: their last year is the headline
    # (they stopped short: 1,521,543 jobs against 1,522,667)
    last = r.timeline.iloc[-1]
    assert last["occupied_m2"] == pytest.approx(t["occupied_m2"]) and last["enterprises"] == pytest.approx(
        t["enterprises_housed"])
    assert main(["scenario", "run", str(ROOT / "scenarios" / "conservative_top10.toml"), "-w", str(ws)]) == 0
    assert "情景 conservative_top10：10 个片区" in capsys.readouterr().out  # --lang zh, the default


def _reference_timeline(r) -> pd.DataFrame:
    """Per site, per year, the timeline rules written out plainly (slow reference)."""
    rows = {}
    for s in r.sites.itertuples():
        t = r.templates[s.template]
        curve = t.absorption
        for y in r.timeline.index:
            d = rows.setdefault(y, dict.fromkeys(["investment_cny", "under_construction_m2", "delivered_m2",
                                                  "occupied_m2", "rent_cny", "tax_new_cny"], 0.0))
            dur = s.delivery - s.works_start
            d["investment_cny"] += s.investment_cny * max(0.0, min(y + 1, s.delivery) - max(y, s.works_start)) / dur
            if s.works_start < y + 1 < s.delivery:
                d["under_construction_m2"] += s.new_floor_m2
            if s.delivery <= y + 1:
                d["delivered_m2"] += s.new_floor_m2
            k = y - int(np.floor(s.delivery))
            if k >= 0:
                occ = s.leasable_m2 * curve[min(k, len(curve) - 1)]
                part = min(1.0, y + 1 - s.delivery)
                d["occupied_m2"] += occ
                d["rent_cny"] += occ * t.rent_per_m2_month * 12 * part
                d["tax_new_cny"] += occ * t.tax_m2 * part
    return pd.DataFrame.from_dict(rows, orient="index")


def test_timeline_matches_a_per_site_reference():
    rng = np.random.default_rng(5)
    n = 30
    s = pd.DataFrame({"site_id": [f"S{i:02d}" for i in range(n)], "status": "ok", "rank": rng.permutation(n) + 1,
                      "land_area_m2": rng.uniform(1e4, 5e4, n), "floor_area_m2": rng.uniform(0, 3e4, n)})
    sc = scenario_from_dict({"name": "mix", "budget_per_year": 4e8, "sites_per_year": 5,
                             "site_templates": {"S01": "heavy_industry", "S02": "rnd_office", "S03": "multi_storey"},
                             "overrides": {"S04": {"planning_months": 5, "construction_months": 13}}})
    r = run(s, sc)
    ref = _reference_timeline(r)
    for col in ref.columns:
        np.testing.assert_allclose(r.timeline[col].to_numpy(), ref[col].to_numpy(), rtol=1e-9, atol=1e-3,
                                   err_msg=col)


def test_parcel_rollup_sums_per_site_and_keeps_missing_as_missing():
    # issue 18: one vectorized pass; a site whose parcels all lack a value gets NaN, not 0
    sp = pd.DataFrame({"parcel_id": ["a", "b", "c", "d"], "site_id": ["S0002", "S0001", "S0002", "S0001"],
                       "role": ["flagged", "flagged", "retained_inside", "flagged"]})
    parcels = pd.DataFrame({"parcel_id": ["a", "b", "c", "d"], "floor_area_m2": [100.0, 200.0, 400.0, 800.0],
                            "upgrade_class": ["retain", "retain", "redevelop", "upgrade"],
                            "tax_cny": [1.0, None, 2.0, None], "output_cny": [5.0, 6.0, None, 7.0]})
    roll = parcel_rollup(sp, parcels)
    assert roll.index.tolist() == ["S0001", "S0002"]
    assert roll["retain_class_floor_m2"].tolist() == [200.0, 500.0]
    assert np.isnan(roll.loc["S0001", "tax_cny"]) and roll.loc["S0002", "tax_cny"] == 3.0
    assert roll["output_cny"].tolist() == [13.0, 5.0]


@pytest.mark.parametrize("name", ["plan@2026", "a/b", "a\\b", "", "  ", " padded", "line\nbreak", "zero\u200bwidth",
                                  "rtl\u202eexe.toml", "x" * 101])
def test_a_document_name_that_could_not_be_opened_again_is_refused(name):
    """``plan@2026`` was saved, then ``planner scenario run plan@2026`` looked for ``plan`` version 2026; a slash reads
    as a path; invisible characters make two names look alike."""
    from planner import workflow as W
    from planner.errors import DataError

    with pytest.raises(DataError, match="choose another name") as e:
        W.check_document_name("scenario", name)
    assert e.value.zh


def test_document_names_people_write_are_kept_and_references_parse():
    from planner import workflow as W
    from planner.errors import DataError

    for name in ("upstairs_all", "上楼 方案 A", "top-10 (v2).1", "x" * 100, "<b>=1+1<b>"):
        assert W.check_document_name("scenario", name) == name
    assert W.parse_ref("top5") == ("top5", None) and W.parse_ref("top5@3") == ("top5", 3)
    for bad in ("x@y", "x@", "@2", "x@-1", "x@２"):
        with pytest.raises(DataError, match="NAME@VERSION with a version number"):
            W.parse_ref(bad)


def test_cli_refuses_an_unsavable_name_before_running_and_a_bad_version_clearly(tmp_path, store, capsys):
    from planner.cli import main

    ws = _workspace_with_sites(store)
    good, bad = tmp_path / "good.toml", tmp_path / "bad.toml"
    good.write_text('name = "two"\n[sites]\ntop = 2\n', encoding="utf-8")
    bad.write_text('name = "plan@2026"\n[sites]\ntop = 2\n', encoding="utf-8")
    assert main(["scenario", "run", str(good), str(bad), "-w", ws.uri]) == 2
    err = capsys.readouterr().err
    assert "bad.toml" in err and "contains '@'" in err and "--no-save" in err
    assert not len(ws.docs("scenario"))  # nothing saved, not even the good one
    assert main(["scenario", "run", str(bad), "-w", ws.uri, "--no-save"]) == 0  # it runs, unsaved
    assert main(["scenario", "run", str(good), "-w", ws.uri]) == 0
    capsys.readouterr()
    for ref in ("two@x", "two@"):  # was a ValueError traceback
        assert main(["scenario", "run", ref, "-w", ws.uri, "--no-save"]) == 2
        assert "version number" in capsys.readouterr().err
    assert main(["scenario", "run", "two@1", "-w", ws.uri, "--no-save"]) == 0
    assert main(["scenario", "compare", "two", str(good), "-w", ws.uri, "--save", "a/b",
                 "--out", str(tmp_path / "c.html")]) == 2
    assert "contains a slash" in capsys.readouterr().err and not (tmp_path / "c.html").exists()
    assert not len(ws.docs("comparison"))


@pytest.mark.parametrize("toml, says", [
    ("budget_per_year = 1.0", "give yuan of at least 1,000,000"),  # 6 meaning 6 亿: a 50 GiB timeline before
    ("budget_per_year = 6000.0", "give yuan of at least 1,000,000"),  # first delivery in 493955 before
    ("budget_per_year = nan", "budget_per_year = nan"),  # delivery year -9223372036854773760 before
    ("budget_per_year = 1.0e6", "years, beyond 10,000"),  # 400 sites, about 100 bn at a million a year
    ("start_year = 9223372036854775807", "must be a year between 1900 and 2200"),
    ("start_year = -50000", "must be a year between 1900 and 2200"),
    ("[sites]\ntop = 0", "picks no site"),
    ("[sites]\nwhere = { min_area_m2 = nan }", "not a finite number"),
    ('template = "x"\n[templates.x]\nbase = "standard_factory"\nrent_per_m2_month = inf',
     "scenario s.templates.x: park template 'x': rent_per_m2_month: not a finite number"),
    ("[overrides.S00001]\nrent_per_m2_month = -5", "scenario 's': overrides.S00001 (template 'standard_factory')"),
])
def test_a_scenario_with_impossible_settings_is_refused_naming_the_key(tmp_path, toml, says):
    """Settings in the wrong unit or not numbers gave tracebacks (memory errors), absurd years or silently empty
    scenarios; each is now refused before anything runs, naming the key, in both languages."""
    from planner.errors import ConfigError, PlannerError

    f = tmp_path / "s.toml"
    f.write_text(f'name = "s"\n{toml}\n', encoding="utf-8")
    sites = realistic_sites(400)
    with pytest.raises(PlannerError, match=re.escape(says)) as e:
        sc = load_scenario(f)
        run(sites, sc)
    assert isinstance(e.value, ConfigError) and e.value.zh


def test_a_slow_pace_is_computed_and_said_not_refused():
    """A city of 1M parcels taking all its 47,904 sites at 40 a year takes 1,198 years: computed (it was refused for a
    while, which broke `upstairs_all` at province scale), and the run says the sites start past the horizon."""
    from planner.scenarios import phasing_warnings

    r = run(realistic_sites(400), scenario_from_dict({"name": "slow", "sites_per_year": 1}))
    assert r.sites["start_year"].max() == 2026 + 399 and r.timeline.index.max() >= 2026 + 399
    assert "start after its horizon" in phasing_warnings(r)[0][0]


def test_cli_refuses_a_report_place_it_cannot_write_before_anything_is_saved(tmp_path, capsys):
    """``--out`` at a file gave a FileExistsError traceback after the scenario was saved; a scenario named like the
    workspace, with ``--out`` its folder, wrote a layer into the workspace; compare checked the suffix last."""
    from planner.cli import main
    from planner.io.store import open_store

    ws = _workspace_with_sites(open_store(str(tmp_path / "city.gpkg"), create=True, crs="EPSG:4549"))
    f = tmp_path / "s.toml"
    f.write_text('name = "two"\n[sites]\ntop = 2\n', encoding="utf-8")
    (tmp_path / "taken").write_text("not a folder", encoding="utf-8")
    assert main(["scenario", "run", str(f), "-w", ws.uri, "--out", str(tmp_path / "taken")]) == 2
    assert "a file is there" in capsys.readouterr().err and not len(ws.docs("scenario"))
    city = tmp_path / "city.toml"
    city.write_text('name = "city"\n', encoding="utf-8")
    before = ws.layers()
    assert main(["scenario", "run", str(city), "-w", ws.uri, "--out", str(tmp_path), "--no-save"]) == 2
    assert "is the workspace: an export must not write into a workspace" in capsys.readouterr().err
    assert ws.layers().equals(before)
    assert main(["scenario", "compare", str(f), str(city), "-w", ws.uri, "--save", "c", "--out",
                 str(tmp_path / "c.txt")]) == 2
    assert "unknown extension '.txt'" in capsys.readouterr().err and not len(ws.docs("comparison"))
    assert main(["scenario", "compare", str(f), str(city), "-w", ws.uri, "--save", "c", "--out",
                 str(tmp_path / "nowhere" / "c.html")]) == 2
    assert "does not exist" in capsys.readouterr().err and not len(ws.docs("comparison"))
