"""Issue 19 in AppTest: pages open what the workspace stores, saving keeps cached results, long tables page."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from planner import scenarios
from planner.i18n import t
from planner.io.store import GpkgStore
from planner.ui import keys
from tests.e2e._workspace import build_workspace, grid_parcels

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")


@pytest.fixture(scope="module")
def stored_ws(tmp_path_factory) -> Path:
    """A workspace classified and with sites stored by the CLI, as an analyst leaves it."""
    ws = build_workspace(tmp_path_factory.mktemp("stored") / "ws.gpkg")
    for args in (["classify", "-w", ws], ["sites", "-w", ws]):
        subprocess.run([sys.executable, "-m", "planner", *map(str, args)], cwd=ROOT, check=True,
                       capture_output=True)
    return ws


def _app(ws, monkeypatch, page=None) -> AppTest:
    monkeypatch.setenv("PLANNER_WORKSPACE", str(ws))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    if page:
        at.switch_page(f"views/{page}.py").run()
    return at


def test_sites_page_opens_the_stored_sites_and_builds_only_when_the_settings_change(stored_ws, monkeypatch):
    from planner.ui import data

    data._site_builds()["lru"].clear()
    at = _app(stored_ws, monkeypatch, "sites")
    assert not at.exception
    assert at.session_state[keys.SITE_FROM_STORE] is True
    stored = GpkgStore(stored_ws).read_layer("sites", "default")
    assert sorted(at.session_state[keys.SITE_RESULT].sites["site_id"]) == sorted(stored["site_id"])
    assert any(t("wf_using_stored_sites", "zh") in c.value for c in at.caption)
    assert not data._site_builds()["lru"]  # nothing was built
    at.switch_page("views/scenarios.py").run()  # the scenario and comparison pages use them too
    at.switch_page("views/compare.py").run()
    assert not at.exception and not data._site_builds()["lru"]
    at.switch_page("views/sites.py").run()
    at.number_input(key="s_min").set_value(20_000.0)
    next(b for b in at.button if b.label == t("sc_run", "zh")).click().run()
    assert not at.exception
    assert at.session_state[keys.SITE_FROM_STORE] is False
    assert len(data._site_builds()["lru"]) == 1  # other settings: built (once per server)


def test_sites_stored_without_the_protected_land_are_not_taken_for_the_apps_sites(stored_ws, monkeypatch, tmp_path):
    """`planner sites --no-constraints` stored sites the app would not build (it applies the constraints): rebuilt."""
    from planner.ui import data

    ws = tmp_path / "ws.gpkg"
    ws.write_bytes(Path(stored_ws).read_bytes())
    subprocess.run([sys.executable, "-m", "planner", "sites", "-w", str(ws), "--no-constraints"], cwd=ROOT,
                   check=True, capture_output=True)
    data._site_builds()["lru"].clear()
    at = _app(ws, monkeypatch, "sites")
    assert not at.exception
    assert at.session_state[keys.SITE_FROM_STORE] is False
    assert len(data._site_builds()["lru"]) == 1


def test_saving_a_scenario_keeps_the_cached_classification_and_a_new_survey_does_not(stored_ws, monkeypatch,
                                                                                     tmp_path):
    from planner.ui import data

    ws = tmp_path / "ws.gpkg"
    ws.write_bytes(Path(stored_ws).read_bytes())
    _app(ws, monkeypatch)
    pol = data.default_policy_dict()
    g1, i1 = data.classified(str(ws), pol), data.parcel_index(str(ws), pol)
    store = GpkgStore(ws)
    store.save_doc("scenario", "top3", scenarios.Scenario(name="top3", sites=scenarios.SiteSelection(top=3)).to_dict())
    os.utime(ws, (os.path.getmtime(ws) + 5,) * 2)  # the file changed
    assert data.classified(str(ws), pol) is g1 and data.parcel_index(str(ws), pol) is i1
    store.publish_survey(grid_parcels(24, seed=3), label="resurvey", user="test")
    g2 = data.classified(str(ws), pol)
    assert g2 is not g1 and not g2["floor_area_m2"].equals(g1["floor_area_m2"])


def test_the_comparison_reuses_scenario_runs_across_reruns_and_tabs_and_not_for_other_sites(stored_ws, monkeypatch,
                                                                                              tmp_path):
    """The comparison page ran its saved scenarios on every page run (0.3-0.5 s each at 1M parcels): now a run is
    made once per sites, parcels, document and provenance, shared by sessions; other inputs run again."""
    from planner import workflow as W
    from planner.ui import results

    ws = tmp_path / "ws.gpkg"
    ws.write_bytes(Path(stored_ws).read_bytes())
    store = GpkgStore(ws)
    for name, top in (("top3", 3), ("top5", 5)):
        store.save_doc("scenario", name, scenarios.Scenario(name=name, sites=scenarios.SiteSelection(top=top)).to_dict())
    made, calls = [], []
    real = W.run_scenario

    def counted(doc, *a, **k):
        made.append(doc.scenario.name)
        calls.append((doc, a, k))
        return real(doc, *a, **k)

    monkeypatch.setattr(W, "run_scenario", counted)
    results.clear_runs()
    at = _app(ws, monkeypatch, "compare")
    assert not at.exception and sorted(made) == ["top3", "top5"]
    shown = [m.value for m in at.metric]
    at.run()
    at.switch_page("views/explorer.py").run()
    at.switch_page("views/compare.py").run()
    other = _app(ws, monkeypatch, "compare")  # a new session (tab) on the same stored sites
    assert not other.exception and sorted(made) == ["top3", "top5"]  # nothing ran again
    assert [m.value for m in at.metric] == shown == [m.value for m in other.metric]
    for doc, a, k in calls:  # what is kept is what a run makes
        kept = next(v[2] for runs in results._RUNS.values() for v in runs.values() if v[2].doc is doc)
        pd.testing.assert_frame_equal(kept.result.sites, real(doc, *a, **k).result.sites)
    # trying drafts on the scenario page does not push the comparison's runs out
    from planner.ui import data

    pol = data.default_policy_dict()
    site_result = results.new_session_sites(str(ws), pol)[1]  # what a new session's pages run on
    for top in range(1, results.MAX_RUNS + 3):
        draft = W.ScenarioDoc(scenarios.Scenario(name="draft", sites=scenarios.SiteSelection(top=top)), {})
        results.run_scenario(str(ws), pol, site_result, draft, draft=True)
    assert made.count("draft") == results.MAX_RUNS + 2
    again = _app(ws, monkeypatch, "compare")  # a new tab after the drafts: the comparison's runs are still kept
    assert not again.exception and sorted(m for m in made if m != "draft") == ["top3", "top5"]
    made[:] = [m for m in made if m != "draft"]
    # other sites (the minimum area changed on the sites page): both scenarios run on them
    at.switch_page("views/sites.py").run()
    at.number_input(key="s_min").set_value(20_000.0)
    next(b for b in at.button if b.label == t("sc_run", "zh")).click().run()
    at.switch_page("views/compare.py").run()
    assert not at.exception and sorted(made) == ["top3", "top3", "top5", "top5"]


def test_a_long_table_is_sorted_and_found_on_the_server():
    from planner.ui.tables import page_order

    df = pd.DataFrame({"site_id": [f"S{i:06d}" for i in range(100_000)],
                       "score": np.r_[np.arange(99_999) % 7, np.nan]})
    pos = page_order(df, "score", True, "site_id", "")
    assert df["score"].iloc[pos[:3]].tolist() == [6.0, 6.0, 6.0] and pos[0] == 6  # stable: ties keep the order
    assert np.isnan(df["score"].iloc[pos[-1]])  # missing last
    assert df["site_id"].iloc[page_order(df, None, False, "site_id", "s0999")].tolist() == [
        f"S0999{i:02d}" for i in range(100)]


def test_after_the_warm_up_the_sites_page_opens_the_stored_sites_without_cutting_protected_land(stored_ws, monkeypatch,
                                                                                                tmp_path):
    """The sites page's first open after a restart dissolved and cut the protected land (1.4 s at 1M) and hashed
    the members (0.3 s): the server's warm-up now prepares both for the stored sites a new session opens."""
    from planner import workflow as W
    from planner.sites import build as sites_build
    from planner.ui import data, results, warmup

    ws = tmp_path / "ws.gpkg"
    ws.write_bytes(Path(stored_ws).read_bytes())
    store = GpkgStore(ws)
    for name, top in (("top3", 3), ("top5", 5)):
        store.save_doc("scenario", name, scenarios.Scenario(name=name, sites=scenarios.SiteSelection(top=top)).to_dict())
    results.clear_runs()
    monkeypatch.setattr(warmup, "QUIET_S", 0.0)  # nobody is served here
    steps = warmup.warm(str(ws))
    assert {"constraint_parts", "stored_site_result", "comparison"} <= set(steps)
    assert len(data.constraint_parts(str(ws)))  # the sample workspace has farmland

    def no_cut(*_a, **_k):
        raise AssertionError("protected land cut again after the warm-up")

    monkeypatch.setattr(sites_build, "constraint_parts", no_cut)
    monkeypatch.setattr(sites_build, "_constraint_parts", no_cut)
    at = _app(ws, monkeypatch, "sites")
    assert not at.exception and at.session_state[keys.SITE_FROM_STORE] is True
    lookup = data.site_of_parcel(at.session_state[keys.SITE_RESULT_SIG], None)  # kept by the warm-up (no table given)
    assert lookup._index is not None  # its hashed members were made by the warm-up
    assert results.result_sig(at.session_state[keys.SITE_RESULT], []) == at.session_state[keys.SITE_RESULT_SIG]
    # the comparison page of a new session finds its first two scenarios run on those sites (1.3 s at 1M)
    def no_run(*_a, **_k):
        raise AssertionError("a scenario ran again after the warm-up")

    monkeypatch.setattr(W, "run_scenario", no_run)
    cmp = _app(ws, monkeypatch, "compare")
    assert not cmp.exception and len(cmp.metric) > 0


def test_ranked_sites_are_the_ok_sites_in_rank_then_id_order():
    import numpy as np
    import pandas as pd

    from planner.ui import results

    rng = np.random.default_rng(5)
    n = 500
    sites = pd.DataFrame({"site_id": [f"S{i:04d}" for i in rng.permutation(n)],
                          "status": np.where(rng.random(n) < 0.8, "ok", "too_small"),
                          "rank": np.nan})
    ok = sites["status"] == "ok"
    sites.loc[ok, "rank"] = rng.permutation(int(ok.sum())) + 1.0  # distinct, as rescore makes them
    want = sites[ok].sort_values(["rank", "site_id"])
    pd.testing.assert_frame_equal(results.ranked_sites(sites), want)
    sites.loc[sites.index[ok][:50], "rank"] = 1.0  # ties (a table made elsewhere): rank, then id
    want = sites[ok].sort_values(["rank", "site_id"])
    pd.testing.assert_frame_equal(results.ranked_sites(sites), want)
    assert results.ranked_sites(sites.iloc[:0]).empty


def test_an_edited_sites_table_takes_the_points_of_its_unchanged_outlines_from_the_kept_index(monkeypatch):
    import geopandas as gpd
    import numpy as np
    import shapely

    from planner import maps
    from planner.ui import data

    boxes = [shapely.box(500000 + 60 * i, 2740000, 500050 + 60 * i, 2740000 + 10 * (i % 7 + 1)) for i in range(40)]
    ell = shapely.Polygon([(0, 0), (30, 0), (30, 5), (5, 5), (5, 30), (0, 30)])  # an L: its point is not its centre
    a = gpd.GeoDataFrame({"site_id": [f"S{i:02d}" for i in range(40)], "land_area_m2": 1.0},
                         geometry=boxes, crs="EPSG:4549")
    data.sites_index(a)
    b = a.iloc[::-1].reset_index(drop=True)  # an edit: rows in another order, the outlines the same objects...
    b.loc[3, "geometry"] = shapely.affinity.translate(ell, 500000, 2741000)  # ... but one
    sizes = []
    real = shapely.point_on_surface
    monkeypatch.setattr(shapely, "point_on_surface", lambda g, **k: sizes.append(np.size(g)) or real(g, **k))
    got = data.sites_index(b)
    assert sizes == [1]  # only the new outline's point was made
    monkeypatch.setattr(shapely, "point_on_surface", real)
    want = maps.LayerIndex.build(b, id_col="site_id", area_col="land_area_m2")
    assert np.array_equal(got.cx, want.cx) and np.array_equal(got.cy, want.cy)
