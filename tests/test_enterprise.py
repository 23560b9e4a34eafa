"""Enterprise tables (issue 15): a tax bureau's table and its link to parcels, checked, joined, versioned.

Small files made here: a GBK csv and an xlsx with a title row, shared and multi-tenant parcels,
a mistyped credit code, a duplicate, an enterprise without parcels, link rows naming a parcel or a
code nobody has. Every figure below is worked out by hand.
"""

from __future__ import annotations

import random
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from planner.cli import main
from planner.enterprise import LinkSpec, join_enterprises, links_for, read_enterprises
from planner.enterprise.credit import ALPHABET, check_codes, check_digit
from planner.errors import IngestError
from planner.io.fingerprint import workspace_fingerprint
from planner.io.store import GpkgStore
from planner.schema import MU_M2
from planner.workflow.enterprises import analysis_parcels, enterprise_version, ingest_enterprises

X0, Y0 = 500_000.0, 2_740_000.0


def code(n: int) -> str:
    body = f"91350582MA{n:07d}"
    return body + check_digit(body)


A, B, C, D, E = (code(i) for i in range(1, 6))
HEADER = ["统一社会信用代码", "企业名称", "行业代码", "实缴税金（万元）", "销售收入（万元）", "综合能耗（吨标准煤）", "从业人数", "年度"]
ROWS = [  # A and B share P1; B also uses P2 (3x P1's land); C alone on P3; D mistyped; E has no parcel
    [A, "甲鞋业有限公司", "19", "10", "100", "50", "20", "2024"],
    [B, "乙服饰有限公司", "18", "8", "80", "40", "16", "2024"],
    [C, "丙纺织有限公司", "17", "4", "40", "", "10", "2024"],
    [D[:-1] + ("0" if D[-1] != "0" else "1"), "丁五金有限公司", "33", "1", "1", "1", "1", "2024"],
    [E, "戊贸易有限公司", "51", "2", "20", "1", "2", "2024"],
]
LINKS = [["宗地代码", "统一社会信用代码", "使用方式"], ["P1", A, "自有"], ["P1", B, "租赁"], ["P2", B, "自有"],
         ["P3", C, "自有"], ["P9", C, "租赁"], ["P3", code(99), "租赁"]]


def parcels() -> gpd.GeoDataFrame:
    """P1 1,000 m², P2 3,000 m², P3 500 m² (floor 2,000 / 2,000 / unknown), P4 with no enterprise."""
    from planner import schema

    g = gpd.GeoDataFrame({"parcel_id": ["P1", "P2", "P3", "P4"], "land_area_m2": [1000.0, 3000.0, 500.0, 800.0],
                          "floor_area_m2": [2000.0, 2000.0, np.nan, 100.0], "land_use": ["industrial"] * 4,
                          "tax_cny": [1.0, 1.0, 1.0, 5.0]},
                         geometry=shapely.box(X0 + np.arange(4) * 100, Y0, X0 + np.arange(4) * 100 + 50, Y0 + 50),
                         crs="EPSG:4549")
    return schema.conform(g)


def write_table(path, rows=ROWS, *, title=True, encoding="gbk"):
    cells = ([["2024年度亩均效益评价企业数据（税务局）"] + [None] * 7] if title else []) + [HEADER] + rows
    df = pd.DataFrame(cells)
    if str(path).endswith(".xlsx"):
        df.to_excel(path, header=False, index=False)
    else:
        df.to_csv(path, header=False, index=False, encoding=encoding)
    return path


def write_links(path, rows=LINKS):
    pd.DataFrame(rows[1:], columns=rows[0]).to_csv(path, index=False, encoding="gbk")
    return path


@pytest.fixture
def ws(tmp_path) -> GpkgStore:
    store = GpkgStore(tmp_path / "ws.gpkg", crs="EPSG:4549", create=True)
    store.publish_survey(parcels(), label="base")
    return store


# -- credit codes --------------------------------------------------------------------------------
def test_credit_code_check_agrees_with_stdnum():
    from stdnum.cn import uscc

    rng = random.Random(7)
    codes = []
    for _ in range(3000):
        body = "".join(rng.choice("0123456789") for _ in range(8)) + "".join(rng.choice(ALPHABET) for _ in range(9))
        good = body + uscc.calc_check_digit(body)
        codes += [good, good[:-1] + rng.choice(ALPHABET)]
    codes += ["91110000600037341L", "9111000060003734", "A1110000600037341L", "91110000600037341I",
              "9111000060003734１L", "", "  91110000600037341l "]
    got = check_codes(pd.Series(codes))
    want = [uscc.is_valid(c) for c in codes]
    assert [g == "" for g in got][:-2] == want[:-2]  # "" is missing, not invalid; the last is compacted first
    assert got.iloc[-1] == "" and uscc.is_valid("91110000600037341L")
    assert got.iloc[-6] == "length" and got.iloc[-5] == "format" and got.iloc[-4] == "format"


# -- reading -------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_read_gbk_table_with_a_title_row(tmp_path, fmt):
    ent, rep = read_enterprises(write_table(tmp_path / f"t.{fmt}"))
    assert len(ent) == 5 and rep.n_rejected == 0
    assert ent["tax_cny"].tolist() == [100_000.0, 80_000.0, 40_000.0, 10_000.0, 20_000.0]  # 万元 from the header
    assert ent["energy_tce"].iloc[0] == 50.0 and np.isnan(ent["energy_tce"].iloc[2])
    assert ent["industry"].tolist()[:3] == ["19", "18", "17"]  # codes stay text
    bad = [(p.row, p.code, p.action) for p in rep.problems]
    assert bad == [(6, "invalid_credit_code", "flagged")]  # title row 1, header row 2: the 4th enterprise is row 6
    assert "wrong check digit" in rep.problems[0].message and "校验码错误" in rep.problems[0].message_zh


def test_duplicates_years_and_refusals(tmp_path):
    rows = [*ROWS, [A, "甲鞋业有限公司", "19", "12", "110", "55", "20", "2024"],  # A twice for 2024
            [B, "乙服饰有限公司", "18", "6", "60", "30", "16", "2023"]]          # B also for 2023
    ent, rep = read_enterprises(write_table(tmp_path / "t.csv", rows))
    dups = sorted(p.row for p in rep.problems if p.code == "duplicate")
    assert dups == [3, 8] and A not in set(ent["credit_code"])  # every copy of A rejected
    assert ent.set_index("credit_code").loc[B, "tax_cny"] == 80_000.0  # the latest year
    ent, _ = read_enterprises(tmp_path / "t.csv", mapping={"link": {"years": "mean"}})
    assert ent.set_index("credit_code").loc[B, "tax_cny"] == 70_000.0  # (8 + 6) / 2 万元
    with pytest.raises(IngestError, match="no credit code"):
        read_enterprises(write_table(tmp_path / "u.csv", [["x"] * 8]) if False else _plain(tmp_path / "u.csv"))


def _plain(path):
    pd.DataFrame({"a": [1], "b": [2]}).to_csv(path, index=False)
    return path


# -- the join ----------------------------------------------------------------------------------
def test_tenants_add_up_and_shared_enterprises_split_by_land_or_floor(tmp_path):
    ent, _ = read_enterprises(write_table(tmp_path / "t.csv"))
    from planner.enterprise import read_links

    links_raw, _ = read_links(write_links(tmp_path / "l.csv"))
    links, how = links_for(ent, LinkSpec(), parcels(), links_raw)
    assert how == "link table"
    j = join_enterprises(parcels(), ent, links)
    p = j.parcels.set_index("parcel_id")
    # P1: A's 100,000 whole + B's 80,000 x 1,000 / (1,000 + 3,000) = 120,000; P2: B's other 60,000
    assert p.loc["P1", "tax_cny"] == pytest.approx(120_000.0) and p.loc["P2", "tax_cny"] == pytest.approx(60_000.0)
    assert p.loc["P1", "n_enterprises"] == 2 and p.loc["P1", "credit_codes"] == f"{A}；{B}"
    assert p.loc["P1", "enterprise"] == "甲鞋业有限公司；乙服饰有限公司"
    assert p.loc["P1", "employees"] == pytest.approx(20 + 16 / 4)
    assert p.loc["P1", "energy_tce"] == pytest.approx(50 + 10)
    assert np.isnan(p.loc["P3", "energy_tce"])  # C's energy unknown: the parcel's too
    assert np.isnan(p.loc["P4", "tax_cny"])  # no enterprise: unknown, not the survey's 5 yuan, not 0
    assert p.loc["P3", "industry"] == "17"
    got = {(q.code, q.parcel_id) for q in j.problems}
    assert ("unmatched_parcel", "P9") in got and ("unmatched_code", "P3") in got
    lonely = {q.value for q in j.problems if q.code == "no_parcel"}
    assert E in lonely and len(lonely) == 2  # E and the mistyped D
    # by floor area: B's share of P1 is 2,000 / 4,000 = half
    p = join_enterprises(parcels(), ent, links, share="floor").parcels.set_index("parcel_id")
    assert p.loc["P1", "tax_cny"] == pytest.approx(140_000.0) and p.loc["P2", "tax_cny"] == pytest.approx(40_000.0)
    # parcels without an enterprise can keep the survey's own figures
    p = join_enterprises(parcels(), ent, links, parcels_without="keep").parcels.set_index("parcel_id")
    assert p.loc["P4", "tax_cny"] == 5.0


def test_links_from_a_parcel_id_column_or_from_the_parcels(tmp_path):
    rows = [r + [ids] for r, ids in zip(ROWS, ["P1", "P1；P2", "P3、P9", "", ""], strict=True)]
    cells = [HEADER + ["宗地代码"], *rows]
    pd.DataFrame(cells).to_csv(tmp_path / "t.csv", header=False, index=False, encoding="gbk")
    ent, _ = read_enterprises(tmp_path / "t.csv")
    links, how = links_for(ent, LinkSpec(), parcels())
    assert "parcel-id column" in how
    p = join_enterprises(parcels(), ent, links).parcels.set_index("parcel_id")
    assert p.loc["P1", "tax_cny"] == pytest.approx(120_000.0)
    # by the enterprise names on the parcels (full-width brackets and blanks do not matter)
    g = parcels()
    g["enterprise"] = ["甲鞋业有限公司", "乙服饰有限公司", " 丙纺织有限公司 ", None]
    ent, _ = read_enterprises(write_table(tmp_path / "n.csv"))
    links, how = links_for(ent, LinkSpec(by="parcels"), g)
    assert how == "the parcels' enterprise names"
    p = join_enterprises(g, ent, links).parcels.set_index("parcel_id")
    assert p.loc["P1", "tax_cny"] == 100_000.0 and p.loc["P2", "tax_cny"] == 80_000.0
    assert p.loc["P3", "tax_cny"] == 40_000.0
    # by credit codes on the parcels (an [extra] credit_code column; two tenants in one cell)
    g = parcels()
    g["credit_code"] = [f"{A}；{B.lower()}", B, C, None]
    links, how = links_for(ent, LinkSpec(by="parcels"), g)
    assert how == "the parcels' credit codes"
    p = join_enterprises(g, ent, links).parcels.set_index("parcel_id")
    assert p.loc["P1", "tax_cny"] == pytest.approx(120_000.0) and p.loc["P1", "n_enterprises"] == 2


# -- the workspace: versions, analysis, CLI --------------------------------------------------------
def test_published_table_is_versioned_and_drives_the_per_mu_figures_and_grade(tmp_path, ws, capsys):
    from planner.classify.policy import default_policy
    from planner.workflow import PolicyDoc, classify_workspace

    t, lk = write_table(tmp_path / "t.xlsx"), write_links(tmp_path / "l.csv")
    rc = main(["enterprise", "ingest", str(t), "--link", str(lk), "-w", str(ws.path)])
    out = capsys.readouterr().out
    assert rc == 0 and "published as enterprise table version 1" in out
    assert "unmatched_parcel" in out and "no_parcel" in out
    assert enterprise_version(ws) == 1
    p = analysis_parcels(ws).set_index("parcel_id")
    assert p.loc["P1", "tax_cny"] == pytest.approx(120_000.0)
    flagged = classify_workspace(ws, PolicyDoc(default_policy())).flagged.set_index("parcel_id")
    assert flagged.loc["P1", "tax_per_mu"] == pytest.approx(120_000.0 / (1000.0 / MU_M2))
    assert flagged.loc["P1", "tax_per_energy"] == pytest.approx(120_000.0 / 60.0)
    assert flagged.loc["P4", "low_contribution"] == "unknown"
    assert flagged.attrs.get("policy_name") == "default"
    cat = ws.layers("flags")
    assert cat["meta"].iloc[-1].count('"enterprise_version": 1') == 1
    # a second version by floor area; the first stays in the history
    rc = main(["enterprise", "ingest", str(t), "--link", str(lk), "-w", str(ws.path), "--share", "floor"])
    capsys.readouterr()
    assert rc == 0 and enterprise_version(ws) == 2 and len(ws.layers("enterprise")) == 2
    assert analysis_parcels(ws).set_index("parcel_id").loc["P1", "tax_cny"] == pytest.approx(140_000.0)
    rc = main(["enterprise", "show", "-w", str(ws.path)])
    assert rc == 0 and "parcels hold several tenants" in capsys.readouterr().out


def test_energy_takes_its_grade_weight_only_when_present():
    from planner.classify import classify
    from planner.classify.flags import grade_weights
    from planner.classify.indicators import compute_indicators
    from planner.classify.policy import default_policy

    g = parcels()
    g["tax_cny"] = [100_000.0, 90_000.0, 80_000.0, 70_000.0]
    g["output_cny"] = [1e6] * 4
    scope = np.ones(4, dtype=bool)
    assert grade_weights(compute_indicators(g), scope, default_policy()) == \
        {"tax_per_mu": 45.0, "output_per_mu": 35.0, "plot_ratio": 20.0}
    g["energy_tce"] = [10.0, 1.0, np.nan, 5.0]
    assert grade_weights(compute_indicators(g), scope, default_policy()) == \
        {"tax_per_mu": 45.0, "output_per_mu": 35.0, "tax_per_energy": 20.0}
    out = classify(g, default_policy())
    assert out["tax_per_energy"].tolist()[:2] == [10_000.0, 90_000.0]


def test_a_refused_enterprise_load_leaves_the_workspace_unchanged(tmp_path, ws, capsys):
    before = workspace_fingerprint(ws.path)
    rows = [[f"9135{i}", "某公司", "19", "1", "1", "1", "1", "2024"] for i in range(4)]
    bad = write_table(tmp_path / "bad.csv", rows)
    rc = main(["enterprise", "ingest", str(bad), "-w", str(ws.path), "--mapping", str(_refuse_invalid(tmp_path))])
    err = capsys.readouterr().err
    assert rc == 2 and "invalid_credit_code" in err and "Traceback" not in err
    rc = main(["enterprise", "ingest", str(_plain(tmp_path / "p.csv")), "-w", str(ws.path)])
    err = capsys.readouterr().err
    assert rc == 2 and "no credit code (统一社会信用代码) or enterprise name" in err
    rc = main(["enterprise", "ingest", str(write_table(tmp_path / "t.csv")), "-w", str(ws.path), "--dry-run"])
    assert rc == 0 and "(dry run)" in capsys.readouterr().out
    assert workspace_fingerprint(ws.path) == before
    with pytest.raises(IngestError):
        ingest_enterprises(tmp_path / "t.csv", ws, mapping={"link": {"by": "file"}})
    assert workspace_fingerprint(ws.path) == before


def _refused(argv, ws, capsys, *needles) -> str:
    """The CLI exits 2 naming ``needles``, without a traceback; the workspace (catalogue, documents, content) unchanged."""
    before, layers, docs = workspace_fingerprint(ws.path), ws.layers(), ws.docs()
    rc = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err, err
    for n in needles:
        assert n in err, f"{n!r} not in:\n{err}"
    assert workspace_fingerprint(ws.path) == before
    pd.testing.assert_frame_equal(ws.layers(), layers)
    pd.testing.assert_frame_equal(ws.docs(), docs)
    return err


@pytest.mark.parametrize(("name", "title"), [("h.xlsx", False), ("h.csv", True), ("h.xlsx", True)])
def test_a_table_of_a_header_alone_is_refused_and_the_current_version_stays(tmp_path, ws, capsys, name, title):
    """Today "published as enterprise table version 2": every parcel's tax became unknown."""
    lk = write_links(tmp_path / "l.csv")
    assert main(["enterprise", "ingest", str(write_table(tmp_path / "t.xlsx")), "--link", str(lk), "-w",
                 str(ws.path)]) == 0
    capsys.readouterr()
    empty = write_table(tmp_path / name, [], title=title)
    row = 2 if title else 1
    for extra in ([], ["--dry-run"]):
        _refused(["enterprise", "ingest", empty, "--link", lk, "-w", ws.path, *extra], ws, capsys, name,
                 f"has a header (row {row}) but no enterprise rows")
    assert enterprise_version(ws) == 1
    assert analysis_parcels(ws).set_index("parcel_id").loc["P1", "tax_cny"] == pytest.approx(120_000.0)


def test_a_table_whose_every_row_is_rejected_is_refused(tmp_path, ws, capsys):
    """Even where the rejected share allows it (max_rejected_share = 1): no row is nothing to publish."""
    m = tmp_path / "m.toml"
    m.write_text("[checks]\nmax_rejected_share = 1.0\n", encoding="utf-8")
    rows = [["", "某公司", "19", "1", "1", "1", "1", "2024"], ["", "另一公司", "19", "1", "1", "1", "1", "2024"]]
    t = write_table(tmp_path / "r.csv", rows)
    err = _refused(["enterprise", "ingest", t, "-w", ws.path, "--mapping", m], ws, capsys, "r.csv",
                   "none of the 2 rows was accepted", "missing_credit_code")
    assert err.count("none of the 2 rows was accepted") == 1, err  # the report points to the error, as ingest's


def test_infinite_and_absurd_figures_are_nulled_and_reported(tmp_path, ws, capsys):
    """Today tax "inf" or 1e308 万元 was accepted and became an infinite tax per mu."""
    rows = [[A, "甲", "19", "inf", "100", "50", "20", "2024"],        # row 3 (title, header above)
            [B, "乙", "18", "1e308", "80", "40", "16", "2024"],       # overflows in 万元
            [C, "丙", "17", "2e8", "1e10", "2e9", "1e18", "2024"],    # 2 万亿, 10^14 yuan, 2e9 tce, 10^18 people
            [E, "戊", "51", "-inf", "20", "1", "2", "2024"]]
    t = write_table(tmp_path / "t.xlsx", rows)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        ent, rep = read_enterprises(t)
    got = {(p.row, p.field, p.code) for p in rep.problems}
    assert {(3, "tax_cny", "not_a_number"), (4, "tax_cny", "not_a_number"), (5, "tax_cny", "impossible"),
            (5, "output_cny", "impossible"), (5, "energy_tce", "impossible"), (5, "employees", "impossible"),
            (6, "tax_cny", "not_a_number")} <= got
    assert all(p.action == "nulled" for p in rep.problems if p.code in ("not_a_number", "impossible"))
    assert any("not a finite number" in p.message for p in rep.problems)
    assert any("over 1,000,000,000,000 yuan" in p.message for p in rep.problems)
    e = ent.set_index("credit_code")
    num = e[["tax_cny", "output_cny", "energy_tce", "employees"]].to_numpy(dtype=float)
    assert not np.isinf(num).any() and np.isnan(e.loc[[A, B, C, E], "tax_cny"]).all()
    assert e.loc[A, "output_cny"] == pytest.approx(1e6)  # the row's other figures stay
    rc = main(["enterprise", "ingest", str(t), "--link", str(write_links(tmp_path / "l.csv")), "-w", str(ws.path)])
    assert rc == 0, capsys.readouterr().err
    tax = analysis_parcels(ws)["tax_cny"].to_numpy(dtype=float)
    assert not np.isinf(tax).any()


def _refuse_invalid(tmp_path):
    p = tmp_path / "m.toml"
    p.write_text('[checks]\ninvalid_credit_code = "refuse"\n', encoding="utf-8")
    return p


def test_sample_city_ships_a_tax_bureau_table(tmp_path):
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "gis_data"
    ws_path = tmp_path / "city.gpkg"
    ws_path.write_bytes((root / "sample_city.gpkg").read_bytes())
    store = GpkgStore(ws_path)
    load = ingest_enterprises(root / "enterprises_2024.xlsx", store, link=root / "enterprise_parcels_2024.csv")
    codes = {}
    for p in load.report.problems:
        codes[p.code] = codes.get(p.code, 0) + 1
    # the planted faults, each found: 3 mistyped codes, 1 enterprise twice, 3 bad parcel ids, 5 moved out
    assert codes["invalid_credit_code"] == 3 and codes["duplicate"] == 2 and codes["unmatched_parcel"] == 3
    assert codes["no_parcel"] >= 5
    p = analysis_parcels(store)
    assert (p["n_enterprises"] > 1).sum() > 500  # multi-tenant parcels
    assert p["energy_tce"].notna().sum() > 10_000


def test_shipped_tables_are_what_the_generator_makes():
    from pathlib import Path

    from planner.sample.enterprises import enterprise_tables

    root = Path(__file__).resolve().parents[1] / "gis_data"
    parcels_ = GpkgStore(root / "sample_city.gpkg").read_parcels()
    table, links = enterprise_tables(parcels_, seed=2024)
    shipped = pd.read_excel(root / "enterprises_2024.xlsx", header=1, dtype={"行业代码": str})
    assert shipped.columns.tolist() == table.columns.tolist() and len(shipped) == len(table)
    assert shipped["统一社会信用代码"].tolist() == table["统一社会信用代码"].tolist()
    assert np.allclose(shipped["实缴税金（万元）"], table["实缴税金（万元）"])
    shipped_links = pd.read_csv(root / "enterprise_parcels_2024.csv", encoding="gbk", dtype=str)
    assert shipped_links["宗地代码"].tolist() == links["宗地代码"].tolist()


def test_a_table_that_reaches_no_parcel_is_not_published(tmp_path, ws, capsys):
    """Links that match no parcel of the current survey (another county's ids, a stale link table): published, every
    parcel's tax and output turned unknown and "low contribution" vanished. The check says so; publishing is refused."""
    lk = write_links(tmp_path / "l.csv")
    assert main(["enterprise", "ingest", str(write_table(tmp_path / "t.xlsx")), "--link", str(lk), "-w",
                 str(ws.path)]) == 0
    capsys.readouterr()
    stale = write_links(tmp_path / "stale.csv", [LINKS[0], *[["X" + r[0], *r[1:]] for r in LINKS[1:]]])
    t = write_table(tmp_path / "t2.xlsx")
    assert main(["enterprise", "ingest", str(t), "--link", str(stale), "-w", str(ws.path), "--dry-run"]) == 0
    assert "none of the 5 enterprises reaches a parcel" in capsys.readouterr().out  # the check tells
    _refused(["enterprise", "ingest", t, "--link", stale, "-w", ws.path], ws, capsys, "stale.csv",
             "none of the 5 enterprises reaches a parcel of the current survey")
    assert enterprise_version(ws) == 1


def test_an_enterprise_table_publishes_copies_and_reads_back_on_either_backend(tmp_path, store, capsys):
    """An enterprise table has no geometry: a PostGIS workspace stores it too, and a copy either way keeps it.

    On PostGIS ``planner enterprise ingest`` stopped with ``AttributeError: 'DataFrame' object has no attribute
    'crs'`` and printed the URI's password in its next step; a workspace holding one could not be copied.
    """
    from planner.io.fingerprint import changed_parts, content_fingerprint
    from planner.io.transfer import copy_workspace

    store.publish_survey(parcels(), label="base")
    uri = store.uri
    t, lk = write_table(tmp_path / "t.xlsx"), write_links(tmp_path / "l.csv")
    rc = main(["enterprise", "ingest", str(t), "--link", str(lk), "-w", uri])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "published as enterprise table version 1" in out
    password = uri.split("://", 1)[1].split("@", 1)[0].partition(":")[2] if "://" in uri else ""
    if password:
        assert f":{password}@" not in out + err  # the workspace is named without its password
    assert enterprise_version(store) == 1
    # the same files again: refused on either backend (the checksums and settings come back from its catalogue)
    assert main(["enterprise", "ingest", str(t), "--link", str(lk), "-w", uri]) == 2
    assert "the same files as the current enterprise table v1" in capsys.readouterr().err
    assert enterprise_version(store) == 1 and len(store.layers("enterprise")) == 1
    assert analysis_parcels(store).set_index("parcel_id").loc["P1", "tax_cny"] == pytest.approx(120_000.0)
    assert main(["enterprise", "show", "-w", uri]) == 0
    assert "parcels hold several tenants" in capsys.readouterr().out
    # the whole workspace, table included, to a GeoPackage and back where it came from: nothing lost
    original = content_fingerprint(uri)
    middle = str(tmp_path / "copy.gpkg")
    back = str(tmp_path / "back.gpkg") if uri.endswith(".gpkg") else uri.replace("schema=", "schema=b")
    try:
        copy_workspace(uri, middle)
        assert main(["workspace", "copy", middle, back]) == 0
        assert changed_parts(original, content_fingerprint(middle)) == []
        assert changed_parts(original, content_fingerprint(back)) == []
        from planner.io.store import open_store

        table = open_store(back).read_layer("enterprise")
        assert not isinstance(table, gpd.GeoDataFrame) and len(table) == len(store.read_layer("enterprise"))
    finally:
        if not back.endswith(".gpkg"):
            from planner.io.postgis import drop_workspace

            drop_workspace(back)


# -- a table delivered again: the current version's files, or its enterprises and links, publish nothing ------------
def _published(tmp_path, ws, capsys):
    """v1 from the tax bureau's xlsx (title row) and a GBK link csv, through the CLI; ``(table, links)``."""
    t, lk = write_table(tmp_path / "t.xlsx"), write_links(tmp_path / "l.csv")
    assert main(["enterprise", "ingest", str(t), "--link", str(lk), "-w", str(ws.path)]) == 0
    capsys.readouterr()
    assert enterprise_version(ws) == 1
    return t, lk


def _refused_again(argv, ws, capsys, *needles) -> str:
    """:func:`_refused`, and the audit log is the same row for row (a refusal records nothing)."""
    audit = ws.audit_log()
    err = _refused(argv, ws, capsys, *needles)
    pd.testing.assert_frame_equal(ws.audit_log(), audit)
    assert enterprise_version(ws) == 1 and len(ws.layers("enterprise")) == 1
    return err


def test_the_current_versions_files_again_are_refused_naming_it(tmp_path, ws, capsys, monkeypatch):
    """A monthly table republished as it was made an identical version 2 (a new catalogue row, classify results
    marked stale for nothing). Refused with exit code 2 in the command's language, naming v1; nothing written."""
    t, lk = _published(tmp_path, ws, capsys)
    err = _refused_again(["enterprise", "ingest", t, "--link", lk, "-w", ws.path], ws, capsys,
                         "error: t.xlsx with the link table l.csv: the same files as the current enterprise table v1",
                         "(same checksums)", "nothing to publish", "add --publish-again")
    assert "unchanged" not in err.lower() and "enterprises (codes" not in err  # said as the same files, not re-read
    monkeypatch.delenv("PLANNER_LANG")  # the default language: Chinese
    _refused_again(["enterprise", "ingest", t, "--link", lk, "-w", ws.path], ws, capsys,
                   "错误：t.xlsx 及关联表 l.csv 与", "发布的当前企业数据 v1 是相同的文件（校验和相同）", "无需发布",
                   "请加 --publish-again")
    # the table alone, linked by its own parcel-id column (no link table then or now): the same file
    monkeypatch.setenv("PLANNER_LANG", "en")
    ws2 = GpkgStore(tmp_path / "ws2.gpkg", crs="EPSG:4549", create=True)
    ws2.publish_survey(parcels(), label="base")
    own = tmp_path / "own.csv"
    rows = [r + [ids] for r, ids in zip(ROWS, ["P1", "P1；P2", "P3", "P4", ""], strict=True)]
    pd.DataFrame([HEADER + ["宗地代码"], *rows]).to_csv(own, header=False, index=False, encoding="gbk")
    assert main(["enterprise", "ingest", str(own), "-w", str(ws2.path)]) == 0
    capsys.readouterr()
    audit = ws2.audit_log()
    _refused(["enterprise", "ingest", own, "-w", ws2.path], ws2, capsys,
             "own.csv: the same file as the current enterprise table v1")
    pd.testing.assert_frame_equal(ws2.audit_log(), audit)


def test_the_same_table_in_another_format_is_refused_as_changing_nothing(tmp_path, ws, capsys, monkeypatch):
    """The same rows saved as UTF-8 csv without the title row, the links as xlsx in another order: other bytes,
    the same enterprises and links. Refused with a summary; the workflow says which refusal it is."""
    _published(tmp_path, ws, capsys)
    t2 = write_table(tmp_path / "t2.csv", title=False, encoding="utf-8")
    lk2 = tmp_path / "l2.xlsx"
    pd.DataFrame(LINKS[:0:-1], columns=LINKS[0]).to_excel(lk2, index=False)  # the rows in reverse order
    _refused_again(["enterprise", "ingest", t2, "--link", lk2, "-w", ws.path], ws, capsys,
                   "t2.csv with the link table l2.xlsx: the same 5 enterprises (codes, names and figures) and 6 "
                   "parcel links as the current enterprise table v1", "nothing to publish", "add --publish-again")
    monkeypatch.delenv("PLANNER_LANG")
    _refused_again(["enterprise", "ingest", t2, "--link", lk2, "-w", ws.path], ws, capsys,
                   "与当前企业数据 v1 相同的 5 家企业", "6 条宗地关联", "请加 --publish-again")
    with pytest.raises(IngestError) as exc:
        ingest_enterprises(t2, ws, link=lk2)
    assert exc.value.refusal.kind == "unchanged" and exc.value.refusal.version == 1
    assert "--publish-again" not in str(exc.value) + exc.value.zh  # the app's words: no command-line option
    assert enterprise_version(ws) == 1


def test_an_earlier_versions_files_or_rows_again_are_refused_naming_it_on_either_backend(tmp_path, store, capsys):
    """v1 the tax bureau's table, v2 a corrected one; v1's very files loaded again (last year's delivery picked by
    mistake, or meant to go back to) published a v3 identical to v1, as did the same rows saved as csv. Refused
    like a survey file published before: naming v1, that v2 is current and how v1 is made current again (``planner
    workspace use enterprise 1``; the app adds its own versions list); nothing written. ``--publish-again`` still
    publishes, and the current version, when it is the one equal, is named as before."""
    store.publish_survey(parcels(), label="base")
    uri = store.uri
    t, lk = write_table(tmp_path / "t.xlsx"), write_links(tmp_path / "l.csv")
    rows = [list(r) for r in ROWS]
    rows[0][3] = "11"
    t2 = write_table(tmp_path / "t2.csv", rows, title=False)
    for f in (t, t2):
        assert main(["enterprise", "ingest", str(f), "--link", str(lk), "-w", uri]) == 0
    capsys.readouterr()
    assert enterprise_version(store) == 2
    cat, audit = store.layers(), store.audit_log()

    def refused(argv, lang, *needles):
        rc = main(["enterprise", "ingest", *map(str, argv), "-w", uri, "--lang", lang])
        err = capsys.readouterr().err
        assert rc == 2 and "Traceback" not in err, err
        for n in needles:
            assert n in err, f"{n!r} not in:\n{err}"
        pd.testing.assert_frame_equal(store.layers(), cat)
        pd.testing.assert_frame_equal(store.audit_log(), audit)

    refused([t, "--link", lk], "en", "t.xlsx with the link table l.csv: the same files as enterprise table v1, "
            "published by", "(same checksums)", "would make a version identical to v1", "The current enterprise "
            "table is v2. To make v1 current again, run `planner workspace use enterprise 1 -w", "add --publish-again")
    refused([t, "--link", lk], "zh", "t.xlsx 及关联表 l.csv 与", "发布的企业数据 v1 是相同的文件（校验和相同）",
            "当前企业数据为 v2。如需让 v1 重新成为当前版本，请运行 `planner workspace use enterprise 1 -w",
            "请加 --publish-again")
    t3 = write_table(tmp_path / "t3.csv", title=False, encoding="utf-8")  # v1's rows, other bytes
    refused([t3, "--link", lk], "en", "t3.csv with the link table l.csv: the same 5 enterprises (codes, names and "
            "figures) and 6 parcel links as enterprise table v1", "The current enterprise table is v2. To make v1 "
            "current again", "add --publish-again")
    refused([t3, "--link", lk], "zh", "t3.csv 及关联表 l.csv：与企业数据 v1 相同的 5 家企业", "当前企业数据为 v2",
            "如需让 v1 重新成为当前版本")
    # the library's words: the version and the current one, no face's way (the app and the command line add theirs)
    with pytest.raises(IngestError) as exc:
        ingest_enterprises(t, store, link=lk)
    why = exc.value.refusal
    assert (why.kind, why.version, why.current) == ("same_file", 1, 2)
    assert "--publish-again" not in str(exc.value) + exc.value.zh
    assert "v2" in str(exc.value) and "Data manager" not in str(exc.value) and "planner workspace" not in str(exc.value)
    dry = ingest_enterprises(t3, store, link=lk, dry_run=True).refusal
    assert (dry.kind, dry.version, dry.current) == ("unchanged", 1, 2)
    pd.testing.assert_frame_equal(store.layers(), cat)
    # read with another sharing setting, the same files are another version
    assert main(["enterprise", "ingest", str(t), "--link", str(lk), "-w", uri, "--share", "floor"]) == 0
    assert "published as enterprise table version 3" in capsys.readouterr().out
    # anyway: a copy of v1, now current; then v1's files again are the current version's, named as such
    assert main(["enterprise", "ingest", str(t), "--link", str(lk), "-w", uri, "--publish-again"]) == 0
    assert "published as enterprise table version 4" in capsys.readouterr().out
    assert main(["enterprise", "ingest", str(t), "--link", str(lk), "-w", uri, "--lang", "en"]) == 2
    err = capsys.readouterr().err
    assert "the same files as the current enterprise table v4" in err and "make v1 current" not in err
    assert enterprise_version(store) == 4
    assert analysis_parcels(store).set_index("parcel_id").loc["P1", "tax_cny"] == pytest.approx(120_000.0)


def test_a_changed_table_or_link_table_is_published(tmp_path, ws, capsys):
    """One figure changed (tax of 甲 10 -> 11 万元), or one link more: a new version each."""
    _, lk = _published(tmp_path, ws, capsys)
    rows = [list(r) for r in ROWS]
    rows[0][3] = "11"
    t2 = write_table(tmp_path / "t2.csv", rows, title=False)
    assert main(["enterprise", "ingest", str(t2), "--link", str(lk), "-w", str(ws.path)]) == 0
    assert "published as enterprise table version 2" in capsys.readouterr().out
    assert analysis_parcels(ws).set_index("parcel_id").loc["P1", "tax_cny"] == pytest.approx(130_000.0)
    lk3 = write_links(tmp_path / "l3.csv", [*LINKS, ["P4", E, "租赁"]])
    assert main(["enterprise", "ingest", str(t2), "--link", str(lk3), "-w", str(ws.path)]) == 0
    assert "published as enterprise table version 3" in capsys.readouterr().out
    assert analysis_parcels(ws).set_index("parcel_id").loc["P4", "n_enterprises"] == 1


def test_publish_again_publishes_the_same_files_or_rows_as_a_new_version(tmp_path, ws, capsys):
    t, lk = _published(tmp_path, ws, capsys)
    _refused_again(["enterprise", "ingest", t, "--link", lk, "-w", ws.path], ws, capsys, "--publish-again")
    assert main(["enterprise", "ingest", str(t), "--link", str(lk), "-w", str(ws.path), "--publish-again"]) == 0
    assert "published as enterprise table version 2" in capsys.readouterr().out
    t2 = write_table(tmp_path / "t2.csv", title=False)
    assert main(["enterprise", "ingest", str(t2), "--link", str(lk), "-w", str(ws.path), "--publish-again"]) == 0
    assert "published as enterprise table version 3" in capsys.readouterr().out
    cat = ws.layers("enterprise")
    assert cat["version"].tolist() == [1, 2, 3] and cat["source_file"].tolist() == ["t.xlsx", "t.xlsx", "t2.csv"]
    assert ws.layers("enterprise_link")["sha256"].notna().all()  # the link table's checksum is kept too


def test_a_dry_run_says_the_real_run_would_refuse(tmp_path, ws, capsys):
    t, lk = _published(tmp_path, ws, capsys)
    before, audit = workspace_fingerprint(ws.path), ws.audit_log()
    t2 = write_table(tmp_path / "t2.csv", title=False)
    for argv, said in (([str(t), "--link", str(lk)], "the same files as the current enterprise table v1"),
                       ([str(t2), "--link", str(lk)], "the same 5 enterprises")):
        rc = main(["enterprise", "ingest", *argv, "-w", str(ws.path), "--dry-run"])
        out = capsys.readouterr().out
        assert rc == 0 and "(dry run)" in out
        assert said in out and "(dry run: the real run refuses it) To publish it as a new version anyway, add " \
            "--publish-again." in out, out
        rc = main(["enterprise", "ingest", *argv, "-w", str(ws.path), "--dry-run", "--publish-again"])
        assert rc == 0 and "real run refuses" not in capsys.readouterr().out
    load = ingest_enterprises(t2, ws, link=lk, dry_run=True)
    assert load.refusal.kind == "unchanged"
    # the library's (the app's) report says it too, without the command line's option
    assert load.report.warnings == [f"{load.refusal.text('en')} (dry run: the real run refuses it)"]
    assert load.report.warnings_zh == [f"{load.refusal.text('zh')}（试运行：正式导入时将拒绝）"]
    rows = [list(r) for r in ROWS]
    rows[1][4] = "81"
    changed = write_table(tmp_path / "t3.csv", rows)
    assert ingest_enterprises(changed, ws, link=lk, dry_run=True).refusal is None
    assert workspace_fingerprint(ws.path) == before
    pd.testing.assert_frame_equal(ws.audit_log(), audit)


def test_a_table_linked_by_the_parcels_is_the_same_whatever_survey_links_it_now(tmp_path, capsys):
    """Links found on the parcels (their enterprise names) are found there again by every analysis: a survey
    version since that names 甲 on P4 too changes the links a load finds, not what the table says."""
    from planner import schema

    store = GpkgStore(tmp_path / "ws.gpkg", crs="EPSG:4549", create=True)
    g = parcels()
    g["enterprise"] = pd.array(["甲鞋业有限公司", "乙服饰有限公司", "丙纺织有限公司", None], dtype="string")
    store.publish_survey(schema.conform(g), label="base")
    assert ingest_enterprises(write_table(tmp_path / "n.xlsx"), store).version == 1
    g.loc[3, "enterprise"] = "甲鞋业有限公司"
    store.publish_survey(schema.conform(g), label="P4 let to 甲")
    again = write_table(tmp_path / "n.csv", title=False)
    load = ingest_enterprises(again, store, dry_run=True)
    assert len(load.links) == 4 and load.refusal is not None and load.refusal.kind == "unchanged"
    with pytest.raises(IngestError, match="the same 5 enterprises"):
        ingest_enterprises(again, store)
    assert enterprise_version(store) == 1 and len(store.layers("enterprise")) == 1
    assert analysis_parcels(store).set_index("parcel_id").loc["P4", "n_enterprises"] == 1  # found there by v1 too


def test_every_column_an_enterprise_table_joins_in_has_a_label_in_both_languages(tmp_path, ws):
    """The explorer's detail table showed ``energy_tce`` and ``credit_codes`` as raw names in either language: every
    column of the parcels the analyses read with an enterprise table joined is labelled (:func:`column_label`)."""
    from planner.i18n import column_label

    ingest_enterprises(write_table(tmp_path / "t.xlsx"), ws, link=write_links(tmp_path / "l.csv"))
    cols = list(analysis_parcels(ws).columns)
    assert {"energy_tce", "credit_codes", "n_enterprises"} <= set(cols)
    assert [c for c in cols if c in (column_label(c, "zh"), column_label(c, "en"))] == []
    assert column_label("energy_tce", "zh") == "综合能耗（吨标准煤）"
