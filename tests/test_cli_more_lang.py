"""`planner scenario copy/rename/delete` and the Dask engine's own lines speak ``--lang`` (else ``PLANNER_LANG``,
else zh), as the listings do (tests/test_cli_listing_lang.py).

The scenario commands had no ``--lang`` and confirmed in English whatever the language ("saved scenario 'b'
version 1, a copy of 'a'"); ``planner classify --engine dask --lang zh`` printed its summary in Chinese between
English lines of its own ("Dask: …; dashboard …", "classifying …", "thresholds over …", "wrote …", the progress
bars' stage names), and so did ``sites`` and ``ingest --parquet``.
"""

from __future__ import annotations

import shutil

import pytest

from planner import workflow as W
from planner.cli import main
from planner.io import geoparquet as gpq
from planner.io.store import GpkgStore
from planner.scenarios import Scenario, SiteSelection


def said(capsys, *argv):
    """``planner ARGV``'s exit code, standard output and standard error."""
    rc = main([str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def _none_of(text: str, *words: str) -> None:
    found = [w for w in words if w in text]
    assert not found, (found, text)


# -- scenario copy / rename / delete ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """An empty workspace with one saved scenario ``a``."""
    path = tmp_path_factory.mktemp("manage") / "ws.gpkg"
    W.save_document(GpkgStore(path, crs="EPSG:4549", create=True),
                    W.ScenarioDoc(Scenario(name="a", sites=SiteSelection(top=5))))
    return path


@pytest.fixture
def ws(base, tmp_path) -> str:
    return str(shutil.copy(base, tmp_path / "ws.gpkg"))


def _manage(capsys, ws: str, *lang: str) -> list[str]:
    """copy a -> b, rename b -> c, delete c; each one's output (and each exits 0 and says nothing on stderr)."""
    outs = []
    for argv in (["copy", "a", "b"], ["rename", "b", "c"], ["delete", "c"]):
        rc, out, err = said(capsys, "scenario", *argv, "-w", ws, *lang)
        assert rc == 0 and not err, (argv, err)
        outs.append(out.strip())
    return outs


def test_scenario_copy_rename_delete_confirm_in_chinese(ws, capsys):
    copied, renamed, deleted = _manage(capsys, ws, "--lang", "zh")
    assert copied == "已保存情景「b」第 1 版，复制自「a」"
    assert renamed == "已将情景「b」重命名为「c」（第 1 版）；「b」的历史版本仍保留（以 b@版本号 打开）"
    assert deleted == "已删除情景「c」；各版本仍保留：`planner scenario copy c@1 c -w WS` 可将其恢复"
    _none_of("\n".join([copied, renamed, deleted]), "saved scenario", "a copy of", "renamed", "history", "deleted",
             "kept", "brings it back")
    assert W.document_names(GpkgStore(ws), "scenario") == ["a"]


def test_scenario_copy_rename_delete_keep_their_english_words(ws, capsys):
    copied, renamed, deleted = _manage(capsys, ws, "--lang", "en")
    assert copied == "saved scenario 'b' version 1, a copy of 'a'"
    assert renamed == ("renamed scenario 'b' to 'c' (version 1); the history of 'b' is kept "
                       "(its versions open as b@VERSION)")
    assert deleted == "deleted scenario 'c'; its versions are kept: `planner scenario copy c@1 c -w WS` brings it back"


def test_scenario_copy_rename_delete_speak_chinese_by_default(ws, capsys, monkeypatch):
    monkeypatch.delenv("PLANNER_LANG", raising=False)
    copied, renamed, deleted = _manage(capsys, ws)
    assert copied.startswith("已保存情景「b」") and renamed.startswith("已将情景「b」重命名为「c」")
    assert deleted.startswith("已删除情景「c」")
    monkeypatch.setenv("PLANNER_LANG", "zh")  # and PLANNER_LANG=zh with --lang en: the option wins
    assert said(capsys, "scenario", "copy", "a", "d", "-w", ws, "--lang", "en")[1].startswith("saved scenario 'd'")


def test_scenario_refusal_follows_lang_too(ws, capsys):
    rc, _, err = said(capsys, "scenario", "delete", "ghost", "-w", ws, "--lang", "zh")
    assert rc == 2 and err.strip() == "错误：没有可删除的情景「ghost」"


# -- the Dask engine: ingest --parquet, classify and sites --engine dask --------------------------------------
@pytest.fixture(scope="module")
def survey_file(tmp_path_factory):
    """The hand-made 100-parcel grid of test_scale as a survey file to ingest."""
    from tests.test_scale import _hand_grid

    parcels, *_ = _hand_grid()
    parcels = parcels.drop(columns=["three_low", "upgrade_class"]).assign(land_use="industrial", tax_cny=1000.0,
                                                                          output_cny=1e5)
    src = tmp_path_factory.mktemp("dask_lang") / "survey.gpkg"
    parcels.to_file(src, layer="parcels")
    return src


#: What the engine says in each language: (Chinese, English) of each stderr line of ingest, classify and sites.
INGEST = (("已写入 ", "个希尔伯特分区"), ("wrote ", "Hilbert partitions"))
CLASSIFY = (("Dask：", "；监控面板 http", "正在按识别规则「default」识别 ", "个地块的百分位阈值：", "识别 1/3 指标取值",
             "识别 3/3 判定", "已写入 ", "指标取值 ", " 秒"),
            ("Dask: ", "; dashboard http", "classifying ", "under policy 'default'", "thresholds over ",
             "classify 1/3 values", "classify 3/3 flags", "wrote ", "values ", " s"))
SITES_ERR = (("正在生成 ", "的连片地块", "三低地块共 ", "跨分区的连通分量对", "连片 1/4 分组", "连片 3/4 生成片区", "分组 ", " 秒"),
             ("assembling sites of ", "groups of flagged parcels", "component pairs across partitions",
              "sites 1/4 groups", "sites 3/4 build", "groups "))
NOTE = (("注意：", "未记录工作空间"), ("note: ", "records no workspace"))


def _dask_run(capsys, client, tmp_path, survey_file, *lang: str) -> dict[str, str]:
    """ingest --parquet, classify and sites with the Dask engine in ``lang``: each one's stderr (sites: and stdout)."""
    addr = ("--scheduler", client.scheduler.address)
    s, f = tmp_path / "s.parquet", tmp_path / "f.parquet"
    rc, _, ingest = said(capsys, "ingest", survey_file, "--parquet", s, "--partitions", "2", *lang)
    assert rc == 0, ingest
    # -w names a workspace the folder records none of: the note that it was not checked
    rc, _, classify = said(capsys, "classify", "--engine", "dask", "--parquet", s, "--out", f, *addr,
                           "-w", tmp_path / "other.gpkg", *lang)
    assert rc == 0, classify
    rc, sites_out, sites = said(capsys, "sites", "--engine", "dask", "--parquet", f, "--out", tmp_path / "sites.csv",
                                "--min-area", "0", *addr, *lang)
    assert rc == 0, sites
    return {"ingest": ingest, "classify": classify, "sites": sites, "sites_out": sites_out}


def _check(run: dict[str, str], i: int) -> None:
    """Every line of the engine in language ``i`` (0 zh, 1 en), none in the other."""
    for key, words in (("ingest", INGEST), ("classify", CLASSIFY), ("sites", SITES_ERR), ("classify", NOTE)):
        for w in words[i]:
            assert w in run[key], (key, w, run[key])
        _none_of(run[key], *(w for w in words[1 - i] if w.strip() not in ("s", "秒")))
    wrote = ("已写入 ", "wrote ")
    assert wrote[i] in run["sites_out"] and wrote[1 - i] not in run["sites_out"], run["sites_out"]


def test_dask_engine_speaks_chinese(client, tmp_path, survey_file, capsys):
    run = _dask_run(capsys, client, tmp_path, survey_file, "--lang", "zh")
    _check(run, 0)
    _none_of(run["classify"] + run["sites"] + run["ingest"], "dashboard", "classifying", "thresholds", "wrote",
             "parcels", "note:", "tasks done")


def test_dask_engine_keeps_its_english_words(client, tmp_path, survey_file, capsys):
    run = _dask_run(capsys, client, tmp_path, survey_file, "--lang", "en")
    _check(run, 1)
    assert "; dashboard http" in run["classify"] and "Dask: tcp://" in run["classify"]


def test_dask_engine_speaks_chinese_by_default(client, tmp_path, survey_file, capsys, monkeypatch):
    monkeypatch.delenv("PLANNER_LANG", raising=False)
    _check(_dask_run(capsys, client, tmp_path, survey_file), 0)


def test_dask_thresholds_name_the_indicators_in_the_commands_language(client, tmp_path, capsys):
    """The percentile thresholds the engine takes over all partitions: ``--lang zh`` printed the indicator's code
    (``output_per_mu P5 = …``) in its Chinese line. Each language names it by its label and unit now, as the
    summary names criteria and classes in words in either language."""
    import numpy as np

    from tests.test_scale import _hand_grid

    parcels, *_ = _hand_grid()  # industrial land (code 1001) with output rising parcel by parcel: P5 is a value
    parcels = parcels.drop(columns=["three_low", "upgrade_class"]).assign(
        land_use_code="1001", tax_cny=1000.0, output_cny=np.arange(len(parcels)) * 1e4)
    src = tmp_path / "survey.gpkg"
    parcels.to_file(src, layer="parcels")
    assert said(capsys, "ingest", src, "--parquet", tmp_path / "s.parquet", "--partitions", "2")[0] == 0
    for lang, line in (("zh", "103 个地块的百分位阈值：亩均产值（元/亩）P5 = 3400"),
                       ("en", "thresholds over 103 parcels: Output per mu (yuan/mu) P5 = 3400")):
        rc, _, err = said(capsys, "classify", "--engine", "dask", "--parquet", tmp_path / "s.parquet", "--out",
                          tmp_path / f"f_{lang}.parquet", "--scheduler", client.scheduler.address, "--lang", lang)
        assert rc == 0 and line in err, err
        assert "output_per_mu" not in err, err


def test_the_engine_tells_its_lines_in_both_languages(client, tmp_path):
    """The library stays free of the command's language: its lines are Notes (English, with their Chinese)."""
    from planner.classify.policy import default_policy
    from planner.errors import message_in
    from planner.scale.classify import classify_partitioned
    from planner.scale.cluster import dask_client
    from tests.test_scale import _hand_grid

    parcels, *_ = _hand_grid()
    gpq.write_partitioned_survey(parcels.drop(columns=["three_low", "upgrade_class"]), tmp_path / "s.parquet",
                                 npartitions=2)
    lines: list = []
    classify_partitioned(tmp_path / "s.parquet", default_policy(), tmp_path / "f.parquet", client=client,
                         say=lines.append, bar=False)
    assert [str(x).split(" over ")[0] for x in lines] == ["thresholds"]
    assert message_in(lines[0], "zh") == f"{gpq.survey_info(tmp_path / 's.parquet')['n_parcels']} 个地块的百分位阈值：无"
    told: list = []
    with dask_client(n_workers=1, processes=False, say=told.append):
        pass
    assert str(told[0]).startswith("Dask: a local cluster of 1 workers; dashboard ")
    assert message_in(told[0], "zh").startswith("Dask：本地集群（1 个工作进程）；监控面板 ")
