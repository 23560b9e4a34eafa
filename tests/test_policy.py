"""Policy files: validation errors that name the key, TOML/dict roundtrip, stable hash."""

from __future__ import annotations

import copy

import pytest

from planner.classify.policy import (
    POLICY_DIR,
    default_policy,
    describe,
    dumps,
    from_dict,
    from_toml,
    load_policy,
    policy_hash,
    policy_to_dict,
)
from planner.errors import ConfigError


def _bad(mutate) -> str:
    d = policy_to_dict(default_policy())
    mutate(d)
    with pytest.raises(ConfigError) as info:
        from_dict(d, where="policies/x.toml")
    return str(info.value)


def test_default_policy_has_domain_defaults():
    p = default_policy()
    assert p.land_uses == ("industrial", "warehouse")
    assert p.min_criteria == 2
    pr, cov = p.criteria.utilization.rules
    assert (pr.indicator, pr.comparison, pr.threshold) == ("plot_ratio", "<", 1.0)
    assert [(o.industry, o.threshold) for o in pr.overrides] == [(("17",), 0.8), (("18", "19"), 1.0)]
    assert (cov.indicator, cov.threshold) == ("coverage", 0.30)
    assert p.criteria.utilization.status_rules[0].statuses == ("idle", "vacant")
    assert p.criteria.capacity.rules[0].percentile == 5.0
    assert p.criteria.contribution.rules[0].threshold == 50_000.0
    assert (p.upgrade.redevelop_below, p.upgrade.retain_from) == (50_000.0, 200_000.0)
    assert p.grade.shares == (0.20, 0.60, 0.95)
    assert all(r.source for _, c in p.criteria.items() for r in c.rules)


def test_every_default_rule_has_a_source_comment():
    text = (POLICY_DIR / "default.toml").read_text(encoding="utf-8")
    blocks = text.split("[[criteria.")[1:]
    for b in blocks:
        assert "source =" in b


def test_error_names_key_comparison():
    msg = _bad(lambda d: d["criteria"]["utilization"]["rules"][0].update(comparison="<<"))
    assert msg == "policies/x.toml: criteria.utilization.rules[0].comparison: '<<' is not one of ['<', '<=', '>', '>=']"


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d.update(min_criteria=4), "policies/x.toml: min_criteria: must be 1, 2 or 3, got 4"),
        (lambda d: d.update(min_criteria="2"), "policies/x.toml: min_criteria: expected an integer, got '2'"),
        (lambda d: d["criteria"]["capacity"].update(foo=1), "policies/x.toml: criteria.capacity: unknown key(s) ['foo']"),
        (lambda d: d["criteria"]["contribution"]["rules"][0].update(indicator="tax"),
         "policies/x.toml: criteria.contribution.rules[0]: indicator: 'tax' is not one of"),
        (lambda d: d["criteria"]["contribution"]["rules"][0].update(percentile=5.0),
         "policies/x.toml: criteria.contribution.rules[0]: give exactly one of 'threshold'"),
        (lambda d: d["criteria"]["capacity"]["rules"][0].update(percentile=150.0),
         "policies/x.toml: criteria.capacity.rules[0]: percentile: must be between 0 and 100"),
        (lambda d: d["criteria"]["utilization"]["rules"][0]["overrides"][1].update(industry=[], land_use=[]),
         "policies/x.toml: criteria.utilization.rules[0].overrides[1]: give exactly one of 'industry', 'land_use' or 'land_use_code'"),
        (lambda d: d["criteria"]["utilization"]["status_rules"][0].update(statuses=["asleep"]),
         "policies/x.toml: criteria.utilization.status_rules[0]: statuses: ['asleep']"),
        (lambda d: d.update(land_uses=["factory"]), "policies/x.toml: land_uses: ['factory'] not in"),
        (lambda d: d["upgrade"].update(redevelop_below=300_000.0), "policies/x.toml: upgrade: redevelop_below (300000.0) must not exceed"),
        (lambda d: d["grade"].update(shares=[0.5, 0.2, 0.9]), "policies/x.toml: grade: shares:"),
        (lambda d: d["criteria"]["utilization"].update(combine="some"), "policies/x.toml: criteria.utilization.combine: 'some' is not one of ['any', 'all']"),
    ],
)
def test_errors_name_the_key(mutate, expected):
    assert _bad(mutate).startswith(expected)


def test_load_policy_file_errors_name_the_file(tmp_path):
    f = tmp_path / "x.toml"
    f.write_text('name = "x"\nmin_criteria = 0\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"x\.toml: min_criteria: must be 1, 2 or 3, got 0"):
        load_policy(f)
    f.write_text("name = \n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"x\.toml: not valid TOML"):
        load_policy(f)
    with pytest.raises(ConfigError, match="file not found"):
        load_policy(tmp_path / "missing.toml")


def test_roundtrip_dict_and_toml():
    p = default_policy()
    assert from_dict(policy_to_dict(p)) == p
    assert from_toml(dumps(p)) == p
    assert load_policy("strict") == from_toml(dumps(load_policy("strict")))


def test_hash_is_stable_and_sensitive(tmp_path):
    p = default_policy()
    h = policy_hash(p)
    assert len(h) == 64
    # same content, different key order and no comments -> same hash
    d = policy_to_dict(p)
    reordered = dict(reversed(list(d.items())))
    assert policy_hash(from_dict(reordered)) == h
    f = tmp_path / "copy.toml"
    f.write_text(dumps(p), encoding="utf-8")
    assert policy_hash(load_policy(f)) == h
    d2 = copy.deepcopy(d)
    d2["criteria"]["utilization"]["rules"][0]["threshold"] = 1.2
    assert policy_hash(from_dict(d2)) != h
    assert policy_hash(load_policy("strict")) != h


def test_describe_lists_rules_with_sources():
    text = describe(default_policy())
    assert "rules[0]: plot ratio < 1" in text
    assert "override industry ['17']: 0.8" in text
    assert "泉政办规〔2025〕13号" in text
    assert "容积率 < 1" in describe(default_policy(), lang="zh")


def test_packaged_policies_equal_the_repository_ones():
    """An installed package (no ``policies/`` folder) ships identical copies of the policies."""
    from pathlib import Path

    import planner.classify.policy as P

    repo = Path(P.__file__).resolve().parents[2] / "policies"
    shipped = sorted(p.name for p in repo.glob("*.toml"))
    assert shipped, "no policies in policies/"
    for name in shipped:
        packaged = Path(P.__file__).resolve().parents[1] / "defaults" / f"policy_{name}"
        assert packaged.read_bytes() == (repo / name).read_bytes(), f"{packaged} differs from policies/{name}"


def test_policy_path_names_shipped_policies_and_files(tmp_path, monkeypatch):
    from planner.classify.policy import policy_path

    monkeypatch.chdir(tmp_path)
    # the repository's policies/ (or, installed, the package's copies policy_<name>.toml)
    assert policy_path(None).name.endswith("default.toml") and policy_path(None).exists()
    assert policy_path("strict").name.endswith("strict.toml") and policy_path("strict").exists()
    (tmp_path / "strict").write_text("")  # a local file of that name wins over the shipped policy
    assert policy_path("strict") == tmp_path.joinpath("strict").relative_to(tmp_path)
    assert policy_path("mine.toml") == tmp_path.joinpath("mine.toml").relative_to(tmp_path)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1.0, 1e300])
def test_grade_weights_that_are_not_finite_shares_are_refused(value):
    """A NaN weight left 14,593 of 20,000 parcels with no grade, infinity shifted the grades: refused, key named."""
    err = _bad(lambda d: d["grade"]["weights"].update(tax_per_mu=value))
    assert err.startswith("policies/x.toml: grade: weights.tax_per_mu must be a finite number from 0 to 100")


@pytest.mark.parametrize(("key", "value"), [("redevelop_below", float("nan")), ("retain_from", float("nan")),
                                            ("retain_from", float("inf"))])
def test_upgrade_class_limits_must_be_finite(key, value):
    err = _bad(lambda d: d["upgrade"].update({key: value}))
    assert err.startswith(f"policies/x.toml: upgrade: {key} must be a finite number")


@pytest.mark.parametrize("name", ["", "   "])
def test_a_policy_without_a_name_is_refused(name):
    """A policy named "" was stored as policy/ and flags/ (an empty name): refused on load, in both languages."""
    d = policy_to_dict(default_policy())
    d["name"] = name
    with pytest.raises(ConfigError) as info:
        from_dict(d, where="policies/x.toml")
    assert str(info.value).startswith("policies/x.toml: name: a policy needs a name")
    assert info.value.zh.startswith("policies/x.toml：name：识别规则须有名称")


def test_reference_year_must_be_a_plausible_year():
    assert "reference_year: must be a year from 1900 to 2200, got 20250" in _bad(
        lambda d: d.update(reference_year=20250))


@pytest.mark.parametrize(("sites", "expected"), [
    ({"gap_m": float("nan")}, "policies/x.toml: sites: gap_m must be a finite number from 0 to 50 metres, got nan"),
    ({"min_area_m2": float("nan")}, "policies/x.toml: sites: min_area_m2 must be a finite number"),
    ({"weights": {"difficulty": float("inf")}},
     "policies/x.toml: sites.weights: score weight 'difficulty' must be a finite number from 0 to 100, got inf"),
])
def test_a_policy_sites_table_with_non_finite_values_is_refused_naming_the_file(sites, expected):
    assert _bad(lambda d: d.update(sites=sites)).startswith(expected)


def test_non_finite_numbers_in_a_policy_file_are_refused_on_the_command_line(tmp_path, capsys):
    """`planner policy show --policy nan_weight.toml`: exit 2 naming the file and the key, no traceback."""
    from planner.cli import main

    f = tmp_path / "nan_weight.toml"
    f.write_text(dumps(default_policy()).replace("tax_per_mu = 45.0", "tax_per_mu = nan"), encoding="utf-8")
    assert "tax_per_mu = nan" in f.read_text(encoding="utf-8")
    assert main(["policy", "show", "--policy", str(f)]) == 2
    err = capsys.readouterr().err
    assert f"{f}: grade: weights.tax_per_mu must be a finite number" in err and "Traceback" not in err


def _chinese_policy_text() -> str:
    text = dumps(default_policy()).replace('name = "default"', 'name = "晋江 2025"')
    return "\n".join('description = "泉州三低：税收每亩不足 5 万元"' if line.startswith("description =") else line
                     for line in text.splitlines())


def test_a_policy_saved_as_gbk_is_read_with_a_note(tmp_path):
    """Notepad on Chinese Windows saves "ANSI" text as GBK: it was a UnicodeDecodeError traceback."""
    import warnings

    from planner.config import EncodingNote

    utf8, gbk, bom = tmp_path / "utf8.toml", tmp_path / "gbk.toml", tmp_path / "bom.toml"
    utf8.write_text(_chinese_policy_text(), encoding="utf-8")
    gbk.write_bytes(_chinese_policy_text().encode("gbk"))
    bom.write_bytes(_chinese_policy_text().encode("utf-8-sig"))  # Notepad's "UTF-8 with BOM"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        expected = load_policy(utf8)
        assert load_policy(bom) == expected
    with pytest.warns(EncodingNote, match=f"{gbk} is not UTF-8; read it as GBK/GB18030"):
        assert load_policy(gbk) == expected
    assert expected.name == "晋江 2025" and expected.description == "泉州三低：税收每亩不足 5 万元"


def test_a_binary_file_given_as_a_policy_is_refused_naming_it(tmp_path, capsys):
    from planner.cli import main

    f = tmp_path / "policy.toml"
    f.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe\x00")
    with pytest.raises(ConfigError) as info:
        load_policy(f)
    assert str(info.value).startswith(f"{f}: not a text file in UTF-8 or GBK") and "save it as UTF-8" in str(info.value)
    assert info.value.zh.startswith(f"{f}：不是 UTF-8 或 GBK 编码的文本文件")
    assert main(["policy", "show", "--policy", str(f)]) == 2
    err = capsys.readouterr().err
    assert "not a text file in UTF-8 or GBK" in err and "Traceback" not in err
