"""Park templates: shipped defaults, consistency checks, inheritance."""

from __future__ import annotations

import filecmp
import re
from pathlib import Path

import pytest

from planner.config import to_dict
from planner.errors import ConfigError
from planner.scenarios.templates import (
    ParkTemplate,
    builtin_templates,
    load_templates,
    parse_template,
    template_table,
)
from planner.schema import MU_M2

ROOT = Path(__file__).resolve().parents[1]


def test_builtin_templates_match_domain_defaults():
    t = builtin_templates()
    assert set(t) == {"standard_factory", "multi_storey", "heavy_industry", "rnd_office"}
    std, up = t["standard_factory"], t["multi_storey"]
    assert (std.target_plot_ratio, std.floors_min, std.floors_max) == (2.5, 4, 6)
    assert (up.target_plot_ratio, up.floors_min, up.floors_max) == (3.5, 8, 10)
    assert std.hard_cost_per_m2 == 2000 and up.hard_cost_per_m2 == 2600
    assert std.all_in_cost_per_m2 == 3400 and std.rent_per_m2_month == 12
    assert std.absorption[0] == 0.60 and 0.90 <= std.absorption[-1] <= 0.95
    # 200,000 yuan/mu over the occupied floor of a mu: 666.67 m2 x 2.5 x 85% leasable x 95% let = 1,345.8 m2
    assert std.tax_m2 == pytest.approx(200_000 / (MU_M2 * 2.5 * 0.85 * 0.95))
    # every shipped template cites a source for its plot ratio
    assert all(x.sources.get("target_plot_ratio") for x in t.values())


def test_repository_templates_are_the_package_defaults():
    pkg = sorted((ROOT / "planner" / "defaults").glob("template_*.toml"))
    repo = sorted((ROOT / "templates").glob("template_*.toml"))
    assert [p.name for p in pkg] == [p.name for p in repo]
    assert all(filecmp.cmp(a, b, shallow=False) for a, b in zip(pkg, repo, strict=True))


def _base(**kw):
    d = to_dict(builtin_templates()["standard_factory"])
    d = {k: v for k, v in d.items() if v is not None}
    d.update(kw)
    return d


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"target_plot_ratio": 3.0, "coverage": 0.45, "floors_max": 6}, "not achievable"),  # 0.45*6 = 2.7 < 3
        ({"road_yard_share": 0.5, "green_share": 0.3, "facility_share": 0.3}, "exceeds 1"),
        ({"coverage": 0.8, "road_yard_share": 0.15}, "do not fit"),  # 0.8+0.15+0.10 = 1.05
        ({"absorption": [0.6, 0.5]}, "must not decrease"),
        ({"absorption": [0.6, 1.2]}, "between 0 and 1"),
        ({"tax_per_m2": 100.0}, "exactly one of tax_per_m2 and tax_per_mu"),
        ({"floors_min": 7, "floors_max": 6}, "floors_min"),
        ({"all_in_cost_per_m2": 1000.0}, "below hard_cost"),
    ],
)
def test_inconsistent_template_is_refused_with_a_clear_error(change, words):
    with pytest.raises(ConfigError, match=words) as exc:
        parse_template(_base(**change), where="my.toml")
    assert "my.toml" in str(exc.value) or "standard_factory" in str(exc.value)


def test_unknown_key_names_the_file_and_key():
    with pytest.raises(ConfigError, match=r"my\.toml.*unknown key.*plotratio"):
        parse_template(_base(plotratio=2.0), where="my.toml")


def test_base_inheritance_and_per_m2_override(tmp_path):
    f = tmp_path / "dense.toml"
    f.write_text('name = "dense"\nbase = "standard_factory"\ntarget_plot_ratio = 2.7\ntax_per_m2 = 90.0\n',
                 encoding="utf-8")
    t = load_templates(f)
    d = t["dense"]
    assert d.target_plot_ratio == 2.7 and d.coverage == 0.45  # inherited
    assert d.tax_m2 == 90.0 and d.tax_per_mu is None
    assert "standard_factory" in t  # built-ins still there


def test_replace_revalidates():
    t = builtin_templates()["standard_factory"]
    assert t.replace(rent_per_m2_month=15.0).rent_per_m2_month == 15.0
    with pytest.raises(ConfigError):
        t.replace(target_plot_ratio=9.0)


def test_template_table_lists_values_and_sources():
    t = builtin_templates()
    rows = {r["parameter"]: r for r in template_table({"standard_factory": t["standard_factory"]})}
    assert rows["target_plot_ratio"]["standard_factory"] == 2.5
    assert rows["absorption"]["standard_factory"] == "0.6, 0.775, 0.95"
    assert rows["target_plot_ratio"]["source"].startswith("S")
    assert rows["target_plot_ratio"]["source_zh"] == "S：晋江标准化园区，2.0–3.0"
    assert isinstance(ParkTemplate, type)


def test_every_shipped_source_has_a_chinese_version():
    for name, t in builtin_templates().items():
        assert set(t.sources_zh) == set(t.sources), name
        for k, v in t.sources_zh.items():
            # a bare status letter (S, P, G) stays as it is; any text is Chinese
            assert v == t.sources[k] if len(v) == 1 else re.search(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]", v), (name, k, v)
    # a child template inherits its parent's Chinese sources, but for the values it sets itself
    child = parse_template({"name": "tall", "base": "standard_factory", "floors_max": 8},
                           base=builtin_templates())
    parent = builtin_templates()["standard_factory"].sources_zh
    assert {k: v for k, v in child.sources_zh.items() if k != "floors_max"} == {
        k: v for k, v in parent.items() if k != "floors_max"}
    assert child.sources_zh["floors_max"] == "在 template 中设定（standard_factory：6）"


def test_a_park_once_let_yields_the_templates_tax_and_output_per_mu():
    """The per-mu rates were spread over the gross floor and applied to the occupied floor: a standard park showed
    161,500 yuan/mu of tax after redevelopment beside the 200,000 its template (and the report's assumptions) state."""
    from planner.scenarios import run, scenario_from_dict
    from tests.test_scenarios import one_site

    for name, t in builtin_templates().items():
        r = run(one_site(floor_area_m2=[0.0]), scenario_from_dict({"name": "x", "template": name}))
        s = r.sites.iloc[0]
        mu = s["land_area_m2"] / MU_M2
        per_mu = t.occupied_m2_per_mu  # what a given per-m2 rate yields on a mu
        assert s["tax_after_cny"] / mu == pytest.approx(t.tax_per_mu or t.tax_per_m2 * per_mu), name
        assert s["tax_per_mu_after"] == pytest.approx(s["tax_after_cny"] / mu)
        assert s["output_after_cny"] / mu == pytest.approx(t.output_per_mu or t.output_per_m2 * per_mu), name
        # the assumptions show the rate the model applies and how it follows from the per-mu figure
        row = r.assumptions.set_index("parameter").loc["tax_per_m2"]
        assert row[name] == pytest.approx(t.tax_m2, abs=0.01)
        assert t.tax_per_mu is None or "tax per mu ÷ occupied floor of a mu" in row["source"]
        assert "tax_per_mu" not in row["source"] and "output_per_mu" not in row["source"]  # words, not keys


def test_a_value_a_derived_template_sets_is_not_credited_to_its_parents_source():
    base = builtin_templates()
    low = parse_template({"name": "low_rent", "base": "standard_factory", "rent_per_m2_month": 10},
                         where="scenario s.templates.low_rent", base=base)
    assert low.rent_per_m2_month == 10
    assert low.sources["rent_per_m2_month"] == "set in scenario s.templates.low_rent (standard_factory: 12)"
    assert "中设定" in low.sources_zh["rent_per_m2_month"]
    assert low.sources["target_plot_ratio"] == base["standard_factory"].sources["target_plot_ratio"]  # kept
