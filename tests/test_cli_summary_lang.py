"""`planner sites` prints its summary in ``--lang`` (else ``PLANNER_LANG``, else zh; as the other commands).

It printed English whatever the language: "1675 sites from 6265 flagged parcels (885 ok, …)", its top ten under
the code names of the columns (``n_retained_inside``) with pandas' alignment, which counts a Chinese character as
one column.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from planner.cli import main
from planner.io.store import open_store
from planner.report.text import display_width

SAMPLE = Path(__file__).resolve().parents[1] / "gis_data" / "sample_city.gpkg"


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    ws = tmp_path_factory.mktemp("summary") / "city.gpkg"
    shutil.copy(SAMPLE, ws)
    assert main(["classify", "-w", str(ws)]) == 0
    return ws


def test_sites_prints_its_summary_in_either_language(city, capsys, monkeypatch):
    capsys.readouterr()
    printed = {}
    for lang in ("zh", "en"):
        assert main(["sites", "-w", str(city), "--lang", lang]) == 0
        printed[lang] = capsys.readouterr().out.splitlines()
    monkeypatch.delenv("PLANNER_LANG", raising=False)  # nothing said: Chinese
    assert main(["sites", "-w", str(city)]) == 0
    default = capsys.readouterr().out.splitlines()
    sites = open_store(city).read_layer("sites", "default", geometry=False)
    n, ok = len(sites), int((sites["status"] == "ok").sum())
    zh, en = printed["zh"], printed["en"]
    assert default[1:13] == zh[1:13] and default[0].split("；")[0] == zh[0].split("；")[0]  # the default is Chinese
    assert zh[0].startswith("6,265 个三低地块组成 ") and f"组成 {n:,} 个片区（符合 {ok:,} 个，" in zh[0], zh[0]
    assert "个片区沿用上次的编号" in zh[0] and "个地块因位于保护用地内被排除" in zh[0]
    assert en[0].startswith(f"{n:,} sites from 6,265 flagged parcels ({ok:,} ok, ") and "site ids kept" in en[0]
    assert zh[1].startswith("综合得分公式：0.3×用地面积/最大用地面积 + ") and en[1].startswith("score = 0.3*land_area")
    assert "实施难度 = 1×权利人数 + 1×企业数 + 2×内部保留地块数" in zh[1] and "land_area" not in zh[1], zh[1]
    assert zh[2].split() == ["排名", "片区编号", "地块数", "权利人数", "企业数", "内部保留地块", "实施难度（分）",
                             "用地面积（亩）", "容积率", "紧凑度", "综合得分"]
    assert en[2].startswith("Rank  Site id  Parcels  Land-right holders")
    top = sites[sites["status"] == "ok"].sort_values("rank").iloc[0]
    first = zh[3].split()
    assert first[:3] == ["1", top["site_id"], str(int(top["n_parcels"]))] and en[3].split()[:2] == first[:2]
    assert first[6] == f"{top['difficulty']:,.0f}"  # points, whole
    for lines in (zh, en):  # the ten rows and their header line up (Chinese counted two columns)
        table = lines[2:13]
        assert len(table) == 11 and len({display_width(x) for x in table}) == 1, table


def test_what_the_commands_say_they_did_is_in_their_language_too(city, tmp_path, capsys):
    """Under a Chinese summary the lines saying what was stored and written stayed English ("stored as sites/default
    and site_parcels/default in city.gpkg (one commit, …)", "saved as scenario/… version 1", "wrote …"), and the
    classify stages and the policy's origin ("saved in the workspace as policy/default version 1 by …") too."""
    scen = Path(__file__).resolve().parents[1] / "scenarios" / "upstairs_all.toml"
    said = {}
    for lang in ("zh", "en"):
        assert main(["classify", "-w", str(city), "--lang", lang]) == 0
        c = capsys.readouterr()
        assert main(["sites", "-w", str(city), "--lang", lang]) == 0
        s = capsys.readouterr()
        assert main(["scenario", "run", str(scen), "-w", str(city), "--lang", lang, "--out", str(tmp_path / lang)]) == 0
        r = capsys.readouterr()
        said[lang] = (c.err, s.out, r.out)
    (c, s, r) = said["zh"]
    assert "识别规则「default」（工作空间中保存的 policy/default 第 1 版，由 " in c and "] 计算指标" in c and "] 生成判定理由" in c, c
    assert "已保存 flags/default 第 " in c and "stored" not in c and "classifying" not in c, c
    assert "已保存为 sites/default 和 site_parcels/default（city.gpkg，同一次提交，结果 " in s, s
    assert "已保存为 scenario/upstairs_all 第 1 版（city.gpkg）" in r and "已写入 html：" in r and "wrote" not in r, r
    (c, s, r) = said["en"]
    assert "classifying the survey of city.gpkg under policy 'default'" in c and "] indicators" in c, c
    assert "stored as sites/default and site_parcels/default in city.gpkg (one commit, result " in s
    assert "scenario/upstairs_all version 1 in city.gpkg is this scenario: not saved again" in r and "wrote html: " in r


def test_the_progress_of_a_build_names_its_stages_in_the_language(city, capsys):
    """`planner sites --lang zh` printed Chinese lines under a progress bar reading "sites … stage/s, adjacency of
    6,265 flagged parcels, barriers, constraints", and the app's sites page showed those English stage names in its
    Chinese progress text: the build says each stage in both languages, each face picks its own."""
    capsys.readouterr()
    said = {}
    for lang in ("zh", "en"):
        assert main(["sites", "-w", str(city), "--lang", lang]) == 0
        said[lang] = capsys.readouterr().err
    assert "连片片区" in said["zh"] and "阶段/s" in said["zh"] and "宗三低地块的相邻关系" in said["zh"], said["zh"]
    assert "阻隔" in said["zh"] and "管控约束" in said["zh"]
    assert not any(w in said["zh"] for w in ("adjacency", "barriers", "constraints", "stage/s")), said["zh"]
    assert "adjacency of" in said["en"] and "stage/s" in said["en"] and "阻隔" not in said["en"]


def test_the_build_says_each_stage_in_both_languages():
    """What ``build_sites`` tells its ``progress`` (the CLI's bar, the app's progress text) is a Note with Chinese."""
    import geopandas as gpd

    from planner.errors import message_in
    from planner.sites.build import build_sites

    flags = open_store(SAMPLE).read_layer("survey", "parcels").head(300)
    flags["three_low"] = True
    got = []
    build_sites(gpd.GeoDataFrame(flags), progress=got.append)
    assert got and all(message_in(m, "zh") != str(m) for m in got), got
