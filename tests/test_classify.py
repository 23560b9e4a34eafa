"""Three-low classification, reasons, summary, sensitivity and CLI on hand-checked box grids.

Parcels are 50 m squares (2,500 m² = 3.75 mu) unless said otherwise.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest

from planner.classify import classify, evaluate, summary
from planner.classify.policy import default_policy, from_dict, policy_hash, policy_to_dict
from planner.classify.sensitivity import threshold_curve
from planner.cli import main
from planner.io.store import open_store
from planner.schema import MU_M2
from tests.conftest import box_grid


def make(n: int, **cols) -> pd.DataFrame:
    g = box_grid(n, 1)
    g["land_use"] = pd.array(["industrial"] * n, dtype="string")
    for k, v in cols.items():
        g[k] = pd.array(v, dtype="string") if k in ("land_use", "industry", "status") else np.asarray(v, dtype=float)
    return g


def pol(criteria: dict, **kw):
    d = {"criteria": criteria, "grade": {"enabled": False}}
    d.update(kw)
    return from_dict(d, where="test")


NAN = np.nan
PR_LT_1 = {"rules": [{"indicator": "plot_ratio", "threshold": 1.0}]}
OUT_LT = {"rules": [{"indicator": "output_per_mu", "threshold": 100_000.0}]}
TAX_LT = {"rules": [{"indicator": "tax_per_mu", "threshold": 50_000.0}]}


@pytest.fixture
def five():
    """The default policy's worked example (see test_default_policy_worked_example)."""
    return make(
        5,
        land_use=["industrial", "industrial", "residential", "industrial", "industrial"],
        industry=["33", "17", None, None, "18"],
        status=["in_use", None, None, "idle", None],
        floor_area_m2=[1050, 2250, 100, NAN, 2250],
        footprint_m2=[1000, 1000, NAN, NAN, 500],
        output_cny=[3_750_000, 7_500_000, NAN, NAN, 375_000],
        tax_cny=[150_000, 375_000, NAN, NAN, 900_000],
    )


def test_default_policy_worked_example(five):
    out = classify(five, default_policy())
    # capacity P5 of in-scope output/mu [1e5, 1e6, 2e6] = 1e5 + 0.1 * 9e5 = 190,000
    assert out["low_utilization"].tolist() == ["low", "ok", "n/a", "low", "low"]
    assert out["low_capacity"].tolist() == ["ok", "ok", "n/a", "unknown", "low"]
    assert out["low_contribution"].tolist() == ["low", "ok", "n/a", "unknown", "ok"]
    assert out["n_low"].tolist() == [2, 0, 0, 1, 2]
    assert out["n_unknown"].tolist() == [0, 0, 0, 2, 0]
    assert out["three_low"].tolist() == [True, False, False, False, True]
    assert out["reason_zh"].tolist() == [
        "容积率 0.42 < 1.0; 亩均税收 40000 < 50000",
        "",
        "不在范围：住宅用地",
        "闲置; 产值未知：无产值记录; 税收未知：无税收记录",
        "容积率 0.9 < 1.0; 建筑密度 0.2 < 0.3; 亩均产值 100000 < 190000",
    ]
    assert out["reason_en"].tolist() == [
        "plot ratio 0.42 < 1.0; tax per mu 40000 < 50000",
        "",
        "out of scope: residential",
        "idle; output unknown: no output record; tax unknown: no tax record",
        "plot ratio 0.9 < 1.0; building coverage 0.2 < 0.3; output per mu 100000 < 190000",
    ]
    assert out["upgrade_class"].tolist() == ["redevelop", "upgrade", "n/a", "unknown", "retain"]
    # grade: weights tax 45 / output 35 / plot ratio 20 over percentile ranks of parcels 0, 1, 4:
    # scores 0.45, 0.817, 0.733 -> 1: A (top), 4: B (1/3 above), 0: C (2/3 above); 3 has no data
    assert out["grade"].astype("string").fillna("-").tolist() == ["C", "A", "-", "-", "B"]
    # contract columns, geometry kept, policy identity carried
    for c in ("land_area_mu", "plot_ratio", "coverage", "output_per_mu", "tax_per_mu", "employees_per_ha",
              "far_gap", "floor_potential_m2", "years_since_built", "reason_zh", "reason_en", "geometry"):
        assert c in out.columns
    assert out.crs == five.crs
    assert out.attrs["policy_hash"] == policy_hash(default_policy())


def test_absolute_rule_and_comparisons():
    g = make(3, floor_area_m2=[2000, 2500, 3000])  # plot ratio 0.8, 1.0, 1.2
    for cmp, expected in (("<", ["low", "ok", "ok"]), ("<=", ["low", "low", "ok"]),
                          (">", ["ok", "ok", "low"]), (">=", ["ok", "low", "low"])):
        p = pol({"utilization": {"rules": [{"indicator": "plot_ratio", "comparison": cmp, "threshold": 1.0}]}})
        assert classify(g, p)["low_utilization"].tolist() == expected, cmp
    p = pol({"utilization": {"rules": [{"indicator": "plot_ratio", "comparison": ">=", "threshold": 1.0}]}})
    assert classify(g, p)["reason_en"].tolist() == ["", "plot ratio 1.0 >= 1.0", "plot ratio 1.2 >= 1.0"]


def test_percentile_threshold_over_in_scope_parcels_only():
    per_mu = np.array([10_000, 20_000, 30_000, 40_000, 50_000, 0, 0, NAN])
    g = make(8, land_use=["industrial"] * 5 + ["residential"] * 2 + ["warehouse"], tax_cny=per_mu * 3.75)
    p = pol({"contribution": {"rules": [{"indicator": "tax_per_mu", "percentile": 50.0}]}})
    out = classify(g, p)
    # median of the 5 in-scope values is 30,000 (with the residential zeros it would be 20,000)
    assert out["low_contribution"].tolist() == ["low", "low", "ok", "ok", "ok", "n/a", "n/a", "unknown"]
    assert out.loc[0, "reason_zh"] == "亩均税收 10000 < 30000"
    assert out.loc[7, "reason_en"] == "tax unknown: no tax record"


def test_industry_and_land_use_overrides():
    g = make(
        6,
        land_use=["warehouse", "industrial", "warehouse", "industrial", "industrial", "industrial"],
        industry=["33", "33", "17", "17", "29", "29"],
        floor_area_m2=np.array([0.6, 0.6, 0.7, 0.85, 0.2, 0.4]) * 2500,
    )
    rule = {"indicator": "plot_ratio", "threshold": 1.0, "overrides": [
        {"land_use": ["warehouse"], "threshold": 0.5},
        {"industry": ["17"], "threshold": 0.8},
        {"industry": ["17", "29"], "threshold": 0.1},  # 17 already matched above: first wins
        {"industry": ["29"], "percentile": 50.0},  # never reached for 29 (matched by the previous one)
    ]}
    out = classify(g, pol({"utilization": {"rules": [rule]}}))
    # warehouse 0.6 vs 0.5 ok; industrial 0.6 vs 1.0 low; warehouse+textiles 0.7 vs 0.8 (industry wins) low;
    # textiles 0.85 vs 0.8 ok; industry 29 vs 0.1: both ok
    assert out["low_utilization"].tolist() == ["ok", "low", "low", "ok", "ok", "ok"]
    assert out.loc[2, "reason_zh"] == "容积率 0.7 < 0.8"
    rule["overrides"] = [{"industry": ["29"], "percentile": 50.0}]  # median of the industry-29 parcels = 0.3
    out = classify(g, pol({"utilization": {"rules": [rule]}}))
    assert out["low_utilization"].tolist()[4:] == ["low", "ok"]
    assert out.loc[4, "reason_en"] == "plot ratio 0.2 < 0.3"


def test_status_rules_low_with_reason_and_never_ok_by_themselves():
    g = make(4, status=["idle", "in_use", None, "stopped"])
    p = pol({"utilization": {"status_rules": [{"statuses": ["idle", "vacant"]}]},
             "capacity": {"status_rules": [{"statuses": ["stopped", "half_stopped"]}]}})
    out = classify(g, p)
    assert out["low_utilization"].tolist() == ["low", "unknown", "unknown", "unknown"]
    assert out["low_capacity"].tolist() == ["unknown", "unknown", "unknown", "low"]
    assert out["reason_zh"].tolist() == ["闲置", "", "", "停产"]
    assert out["reason_en"].tolist() == ["idle", "", "", "production stopped"]


def test_missing_tax_is_unknown_never_low():
    g = make(2, tax_cny=[NAN, 0.0])
    out = classify(g, pol({"contribution": TAX_LT}, min_criteria=1))
    assert out["low_contribution"].tolist() == ["unknown", "low"]
    assert out["three_low"].tolist() == [False, True]
    assert out.loc[0, "reason_zh"] == "税收未知：无税收记录"
    assert out.loc[0, "reason_en"] == "tax unknown: no tax record"
    assert out.loc[1, "reason_en"] == "tax per mu 0 < 50000"


@pytest.mark.parametrize(("k", "expected"), [(1, [False, True, True, True, True]),
                                             (2, [False, False, True, True, False]),
                                             (3, [False, False, False, True, False])])
def test_min_criteria(k, expected):
    # p0 none low; p1 utilization; p2 utilization+capacity; p3 all three; p4 utilization + 2 unknown
    g = make(5, floor_area_m2=[5000, 1000, 1000, 1000, 1000],
             output_cny=np.array([5e5, 5e5, 5e4, 5e4, NAN]) * 3.75,
             tax_cny=np.array([1e5, 1e5, 1e5, 1e4, NAN]) * 3.75)
    out = classify(g, pol({"utilization": PR_LT_1, "capacity": OUT_LT, "contribution": TAX_LT}, min_criteria=k))
    assert out["n_low"].tolist() == [0, 1, 2, 3, 1]
    assert out["n_unknown"].tolist() == [0, 0, 0, 0, 2]
    assert out["three_low"].tolist() == expected


def test_combine_all():
    g = make(4, floor_area_m2=[1250, 1250, 1250, 5000], footprint_m2=[500, 1000, NAN, NAN])
    crit = {"combine": "all", "rules": [{"indicator": "plot_ratio", "threshold": 1.0},
                                        {"indicator": "coverage", "threshold": 0.3}]}
    out = classify(g, pol({"utilization": crit}))
    assert out["low_utilization"].tolist() == ["low", "ok", "unknown", "ok"]
    assert out.loc[0, "reason_en"] == "plot ratio 0.5 < 1.0; building coverage 0.2 < 0.3"


def test_upgrade_classes_at_the_boundaries():
    per_mu = np.array([49_999.0, 50_000.0, 199_999.0, 200_000.0, NAN, 1e6])
    g = make(6, land_use=["industrial"] * 5 + ["commercial"], tax_cny=per_mu * 4)
    g["land_area_m2"] = MU_M2 * 4  # exactly 4 mu
    out = classify(g, default_policy())
    assert out["upgrade_class"].tolist() == ["redevelop", "upgrade", "upgrade", "retain", "unknown", "n/a"]
    p = policy_to_dict(default_policy())
    p["upgrade"].update(redevelop_below=60_000.0, retain_from=150_000.0)
    out = classify(g, from_dict(p))
    assert out["upgrade_class"].tolist() == ["redevelop", "redevelop", "retain", "retain", "unknown", "n/a"]


def test_grade_shares_and_renormalized_weights():
    g = make(20, tax_cny=np.arange(1, 21) * 1e4)
    out = classify(g, from_dict({"grade": {"weights": {"tax_per_mu": 1.0}}}))
    assert out["grade"].astype("string").tolist() == ["D"] + ["C"] * 7 + ["B"] * 8 + ["A"] * 4
    # only output known for p2: its score is its output rank alone (weights renormalized), so it ranks first
    g = make(4, tax_cny=[1e5, 2e5, NAN, NAN], output_cny=[1e5, 2e5, 3e5, NAN])
    out = classify(g, from_dict({"grade": {"weights": {"tax_per_mu": 45.0, "output_per_mu": 35.0}}}))
    assert out["grade"].astype("string").fillna("-").tolist() == ["C", "B", "A", "-"]


def test_out_of_scope_parcels():
    g = make(3, land_use=["residential", None, "industrial"], floor_area_m2=[100, 100, 100], tax_cny=[0, 0, 0])
    out = classify(g, default_policy())
    for c in ("low_utilization", "low_capacity", "low_contribution"):
        assert out[c].tolist()[:2] == ["n/a", "n/a"]
    assert out["three_low"].tolist() == [False, False, True]
    assert out["reason_zh"].tolist()[:2] == ["不在范围：住宅用地", "不在范围：用地分类未知"]
    assert out["reason_en"].tolist()[:2] == ["out of scope: residential", "out of scope: land use unknown"]
    assert out["n_low"].tolist()[:2] == [0, 0]
    assert out["grade"].isna().tolist()[:2] == [True, True]


def test_summary_table(five):
    p = default_policy()
    s = summary(classify(five, p), p).set_index(["table", "criterion", "category"])
    assert s.loc[("class", "", "three_low"), "parcels"] == 2
    assert s.loc[("class", "", "three_low"), "land_m2"] == 5000.0
    assert s.loc[("class", "", "three_low"), "land_mu"] == pytest.approx(7.5)
    assert s.loc[("class", "", "not_three_low"), "parcels"] == 2
    assert s.loc[("class", "", "out_of_scope"), "parcels"] == 1
    assert s.loc[("criterion", "utilization", "low"), "parcels"] == 3
    assert s.loc[("criterion", "capacity", "unknown"), "parcels"] == 1
    assert s.loc[("unknown_reason", "capacity", "output unknown: no output record"), "parcels"] == 1
    assert s.loc[("unknown_reason", "contribution", "tax unknown: no tax record"), "parcels"] == 1
    assert ("unknown_reason", "utilization", "floor area unknown: no floor-area record") not in s.index
    assert [s.loc[("upgrade_class", "", k), "parcels"] for k in ("redevelop", "upgrade", "retain", "unknown")] == [1, 1, 1, 1]
    assert s.loc[("grade", "", "none"), "parcels"] == 1


# -- sensitivity --------------------------------------------------------------

def _random_parcels(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)

    def maybe(x, p=0.15):
        return np.where(rng.random(n) < p, NAN, x)

    g = make(
        n,
        land_use=rng.choice(np.array(["industrial", "warehouse", "residential", None], dtype=object), n, p=[.6, .2, .1, .1]),
        industry=rng.choice(np.array(["17", "18", "33", None], dtype=object), n),
        status=rng.choice(np.array(["in_use", "idle", "stopped", None], dtype=object), n, p=[.6, .1, .1, .2]),
        floor_area_m2=maybe(np.round(rng.uniform(0, 5000, n), -2)),  # rounded: ties at the thresholds
        footprint_m2=maybe(np.round(rng.uniform(0, 2000, n), -2)),
        output_cny=maybe(rng.lognormal(14, 1, n)),
        tax_cny=maybe(np.round(rng.lognormal(12, 1, n), -4)),
    )
    g["land_area_m2"] = maybe(rng.uniform(500, 5000, n), 0.05)
    return g


def _brute(parcels, policy, crit, rule, t=None, percentile=None):
    d = policy_to_dict(policy)
    r = d["criteria"][crit]["rules"][rule]
    r.pop("threshold", None)
    r.pop("percentile", None)
    r.update({"threshold": t} if percentile is None else {"percentile": percentile})
    p2 = from_dict(d)
    ev = evaluate(parcels, p2)
    area = np.nan_to_num(ev.indicators["land_area_m2"].to_numpy(), nan=0.0)
    ci = ["utilization", "capacity", "contribution"].index(crit)
    masks = (ev.criteria[ci].rules[rule].low, ev.criteria[ci].state == 0, ev.three_low)
    return [int(m.sum()) for m in masks], [float(area[m].sum()) for m in masks]


@pytest.mark.parametrize("comparison", ["<", "<=", ">", ">="])
@pytest.mark.parametrize(("crit", "rule"), [("utilization", 0), ("utilization", 1), ("capacity", 0), ("contribution", 0)])
def test_sensitivity_equals_brute_force(comparison, crit, rule):
    parcels = _random_parcels(300, seed=hash((comparison, crit, rule)) % 1000)
    d = policy_to_dict(default_policy())
    d["criteria"][crit]["rules"][rule]["comparison"] = comparison
    k = 1 + ("<", "<=", ">", ">=").index(comparison) % 3
    d["min_criteria"] = k
    if comparison in (">", ">="):
        d["criteria"]["utilization"]["combine"] = "all"
    policy = from_dict(d)
    ev = evaluate(parcels, policy)
    vals = ev.criteria[["utilization", "capacity", "contribution"].index(crit)].rules[rule].value
    vals = vals[~np.isnan(vals)]
    thresholds = np.concatenate([np.quantile(vals, [0.0, 0.1, 0.5, 0.9, 1.0]), [vals.min() - 1, vals.max() + 1], vals[:3]])
    curve = threshold_curve(parcels, policy, crit, rule, thresholds)
    same = threshold_curve(None, policy, crit, rule, thresholds, evaluation=ev)
    pd.testing.assert_frame_equal(curve, same)
    for i, t in enumerate(thresholds):
        counts, lands = _brute(parcels, policy, crit, rule, float(t))
        row = curve.iloc[i]
        assert [row["n_rule_low"], row["n_criterion_low"], row["n_three_low"]] == counts, (t, comparison)
        np.testing.assert_allclose([row["land_rule_low_m2"], row["land_criterion_low_m2"], row["land_three_low_m2"]],
                                   lands, rtol=1e-9, atol=1e-6)


def test_sensitivity_percentiles_match_percentile_rules():
    parcels = _random_parcels(300, seed=7)
    policy = default_policy()
    curve = threshold_curve(parcels, policy, "capacity", 0, percentiles=[5.0, 25.0, 50.0])
    for i, p in enumerate([5.0, 25.0, 50.0]):
        counts, _ = _brute(parcels, policy, "capacity", 0, percentile=p)
        assert curve.loc[i, ["n_rule_low", "n_criterion_low", "n_three_low"]].tolist() == counts
    default = threshold_curve(parcels, policy, "contribution", 0)
    assert len(default) == 100 and default["n_rule_low"].is_monotonic_increasing


def test_sensitivity_by_hand():
    g = make(4, floor_area_m2=[500, 1500, 2500, 4000])  # plot ratio 0.2, 0.6, 1.0, 1.6
    g["land_area_m2"] = [2500.0, 2500.0, 2500.0, 2500.0]
    curve = threshold_curve(g, pol({"utilization": PR_LT_1}, min_criteria=1), "utilization", 0,
                            thresholds=[0.1, 0.6, 1.0, 1.01, 2.0])
    assert curve["n_rule_low"].tolist() == [0, 1, 2, 3, 4]
    assert curve["land_rule_low_m2"].tolist() == [0.0, 2500.0, 5000.0, 7500.0, 10000.0]
    assert curve["n_three_low"].tolist() == [0, 1, 2, 3, 4]


# -- CLI ------------------------------------------------------------------------

@pytest.fixture
def workspace(store, five):
    """A workspace (GeoPackage or PostGIS) with the five parcels as its survey; its URI."""
    store.publish_survey(five)
    return store.uri


def test_cli_classify_stores_flags_and_policy(workspace, tmp_path, capsys):
    out_csv = tmp_path / "flags.csv"
    assert main(["classify", "-w", str(workspace), "--out", str(out_csv), "--wkt"]) == 0
    printed = capsys.readouterr().out
    assert "Three-low" in printed and "tax unknown: no tax record" in printed  # PLANNER_LANG=en (tests/conftest.py)
    store = open_store(workspace)
    cat = store.layers("flags")
    assert cat["name"].tolist() == ["default"]
    meta = __import__("json").loads(cat["meta"].iloc[0])
    prov = {k: meta.pop(k) for k in ("result_id", "created_at", "kind")}
    # stored without a copy of the polygons: the rows take the geometry of the survey version they classify
    link = meta.pop("geometry_from")
    assert {k: link[k] for k in ("kind", "name", "version")} == {"kind": "survey", "name": "parcels", "version": 1}
    assert "floor_area_m2" in link["shared"] and "three_low" not in link["shared"]  # survey fields: not stored again
    assert meta == {"policy_name": "default", "policy_hash": policy_hash(default_policy()), "survey_version": 1}
    assert prov["kind"] == "flags" and len(prov["result_id"]) == 12
    flags = store.read_layer("flags", "default")
    assert flags["three_low"].tolist() == [True, False, False, False, True]
    assert flags["reason_zh"].iloc[3] == "闲置; 产值未知：无产值记录; 税收未知：无税收记录"
    doc = store.load_doc("policy", "default")
    assert doc["hash"] == meta["policy_hash"] and "泉政办规" in doc["toml"] and doc["schema_version"] == 2
    # the flags layer and the policy document were stored in one commit (adjacent audit rows)
    log = store.audit_log()
    ids = log.loc[log["action"].isin(["classify", "save_policy"]), "id"].tolist()
    assert len(ids) == 2 and ids[1] == ids[0] + 1
    csv = pd.read_csv(out_csv, encoding="utf-8-sig", keep_default_na=False)
    assert csv["low_utilization"].tolist() == ["low", "ok", "n/a", "low", "low"]
    assert csv["wkt"].str.startswith("POLYGON").all()
    gpkg = tmp_path / "flags.gpkg"
    assert main(["classify", "-w", str(workspace), "--out", str(gpkg), "--no-store"]) == 0
    assert pyogrio.read_dataframe(gpkg)["upgrade_class"].tolist() == ["redevelop", "upgrade", "n/a", "unknown", "retain"]
    assert len(open_store(workspace).layers("flags")) == 1


def test_cli_classify_prints_its_summary_in_either_language(workspace, capsys, monkeypatch):
    """The summary table read as English codes ("not_three_low", "out_of_scope") whatever the language, where the
    scenario commands print Chinese: it follows ``--lang``, else ``PLANNER_LANG``, else Chinese, its columns
    lined up in a terminal."""
    from planner.report.text import display_width

    printed = {}
    for lang in ("zh", "en"):
        assert main(["classify", "-w", str(workspace), "--no-store", "--lang", lang]) == 0
        printed[lang] = capsys.readouterr().out.splitlines()
    for env, want in ((None, "zh"), ("en", "en"), ("zh_CN", "zh")):
        if env is None:
            monkeypatch.delenv("PLANNER_LANG", raising=False)
        else:
            monkeypatch.setenv("PLANNER_LANG", env)
        assert main(["classify", "-w", str(workspace), "--no-store"]) == 0
        assert capsys.readouterr().out.splitlines() == printed[want], env
    zh, en = printed["zh"], printed["en"]
    assert zh[0] == f"识别规则「default」（哈希 {policy_hash(default_policy())[:12]}），调查版本 1，共 5 个地块"
    assert en[0].startswith("policy 'default' (hash ") and en[0].endswith("survey version 1, 5 parcels")
    assert zh[1].split() == ["分组", "指标", "类别", "地块数", "用地面积（㎡）", "用地面积（亩）"]
    assert en[1].split()[:3] == ["Group", "Criterion", "Category"]
    rows_zh = {" ".join(r.split()[:-3]): r.split()[-3:] for r in zh[2:]}
    rows_en = {" ".join(r.split()[:-3]): r.split()[-3:] for r in en[2:]}
    assert rows_zh["三低分类 三低用地"] == rows_en["Class Three-low"]  # the same figures in both
    assert rows_zh["未知原因 贡献 税收未知：无税收记录"] == rows_en["Why unknown Contribution tax unknown: no tax record"]
    assert rows_zh["改造方式 拆除重建"] == rows_en["Upgrade class Redevelop"] and "等级 A" in rows_zh
    assert not any(code in line for line in zh for code in ("three_low", "out_of_scope", "unknown_reason"))
    for lines in (zh, en):  # the figures' columns end where their headers end (Chinese counted two columns)
        assert len({display_width(line) for line in lines[1:]}) == 1, lines


def test_cli_bad_policy_exits_2_naming_the_key(workspace, tmp_path, capsys):
    bad = tmp_path / "x.toml"
    bad.write_text('[criteria.utilization]\nrules = [{indicator = "plot_ratio", comparison = "<<", threshold = 1.0}]\n',
                   encoding="utf-8")
    assert main(["classify", "-w", str(workspace), "--policy", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: criteria.utilization.rules[0].comparison: '<<' is not one of" in err
    assert len(open_store(workspace).layers("flags")) == 0


def test_cli_policy_show(capsys):
    assert main(["policy", "show"]) == 0
    assert "override industry ['17']: 0.8" in capsys.readouterr().out


def test_reasons_of_some_rows_under_the_resolved_policy_equal_those_of_the_whole_classification():
    """The app keeps its classifications without reasons and makes them for the rows it shows, exports or saves:
    those rows, evaluated alone under the policy with its percentiles taken over the whole survey, read exactly as
    ``classify`` writes them for the whole (percentile rules and overrides included)."""
    from planner.classify.flags import reason_columns, resolve_percentiles
    from planner.io.store import GpkgStore
    from tests.conftest import ROOT

    parcels = GpkgStore(ROOT / "gis_data" / "sample_city.gpkg").read_parcels()
    d = policy_to_dict(default_policy())
    d["criteria"]["utilization"]["rules"][0]["overrides"][0] = {"industry": ["17"], "percentile": 30.0}
    d["criteria"]["contribution"]["rules"][0] = {"indicator": "tax_per_mu", "comparison": "<", "percentile": 20.0}
    policy = from_dict(d)
    whole = classify(parcels, policy)
    assert not classify(parcels, policy, with_reasons=False).columns.str.startswith("reason").any()
    resolved = resolve_percentiles(parcels, policy)
    assert all(r.percentile is None for _, c in resolved.criteria.items() for r in c.rules)  # every level had values
    rng = np.random.default_rng(7)
    some = np.sort(rng.choice(len(parcels), 700, replace=False))
    for rows in (parcels.iloc[some], parcels[parcels["industry"].astype(str) == "17"], parcels.iloc[[5]]):
        got = reason_columns(rows, resolved)
        pd.testing.assert_frame_equal(got, whole.loc[rows.index, ["reason_zh", "reason_en"]])
    # taken over the rows at hand, the percentiles give other reasons: the resolution is what makes them equal
    naive = reason_columns(parcels.iloc[some], policy)
    assert not naive["reason_en"].equals(whole.loc[parcels.index[some], "reason_en"])


def test_cli_classify_reads_a_gbk_policy_and_stores_it_as_text(workspace, tmp_path, capsys):
    """A policy saved as GBK (Notepad, Chinese Windows) was a UnicodeDecodeError traceback: now read, with a note,
    and its text (comments kept) stored in the saved policy."""
    text = (Path(__file__).resolve().parents[1] / "policies" / "default.toml").read_text(encoding="utf-8").replace('name = "default"', 'name = "晋江"')
    assert 'name = "晋江"' in text and "泉政办规" in text
    f = tmp_path / "jinjiang.toml"
    f.write_bytes(text.encode("gbk"))
    assert main(["classify", "-w", str(workspace), "--policy", str(f)]) == 0
    err = capsys.readouterr().err
    assert f"note: {f} is not UTF-8; read it as GBK/GB18030" in err and err.count("note:") == 1
    doc = open_store(workspace).load_doc("policy", "晋江")
    assert doc["toml"] == text
    assert main(["classify", "-w", str(workspace), "--policy", str(f), "--lang", "zh"]) == 0  # the note in Chinese
    err = capsys.readouterr().err
    assert f"注意：{f} 不是 UTF-8 编码；已按 GBK/GB18030" in err and "note:" not in err, err
