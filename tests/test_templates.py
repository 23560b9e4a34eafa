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
    # 200,000 yuan/mu at plot ratio 2.5: 200000 / (666.67 * 2.5) = 120 yuan/m2
    assert std.tax_m2 == pytest.approx(120.0)
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
    # a child template inherits its parent's Chinese sources
    child = parse_template({"name": "tall", "base": "standard_factory", "floors_max": 8},
                           base=builtin_templates())
    assert child.sources_zh == builtin_templates()["standard_factory"].sources_zh
