"""The GIS officer's `planner ingest` as a subprocess, as they run it: the report in the language asked (the app
shows the same notes in the page's language), a file published twice refused, a layer of a zip of several
GeoPackages chosen with --file and --layer. The app's side is in tests/test_app_upload_officer.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from planner.io.store import GpkgStore

ROOT = Path(__file__).resolve().parents[1]
UPDATE = ROOT / "gis_data" / "survey_update.zip"


def planner(*args, lang_env: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``python -m planner ARGS`` as the officer types it; ``PLANNER_LANG`` set to ``lang_env`` (unset: None)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PLANNER_LANG", "PLANNER_WORKSPACE")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    if lang_env is not None:
        env["PLANNER_LANG"] = lang_env
    return subprocess.run([sys.executable, "-m", "planner", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd or ROOT, env=env, timeout=300)


@pytest.fixture
def city(tmp_path) -> Path:
    """A copy of the sample city (survey version 1)."""
    path = tmp_path / "city.gpkg"
    shutil.copy(ROOT / "gis_data" / "sample_city.gpkg", path)
    return path


def _csv_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8-sig").splitlines()


# -- the report's language ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("opts", "lang_env", "lang"), [(["--lang", "zh"], "en", "zh"), ([], None, "zh"),
                                                         (["--lang", "en"], "zh", "en"), ([], "en", "en")])
def test_the_ingest_report_speaks_the_language_asked(city, tmp_path, opts, lang_env, lang):
    """`planner ingest` printed its report in English whatever --lang or PLANNER_LANG said (its notes carry
    Chinese, which the app shows). Now --lang, else PLANNER_LANG, else Chinese (as `scenario run`), headers,
    units, notes and the --report CSV included."""
    rep = tmp_path / "report.csv"
    done = planner("ingest", UPDATE, "-w", city, "--dry-run", "--report", rep, *opts, lang_env=lang_env)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    if lang == "zh":
        assert out.startswith("导入报告：survey_update.zip!") and "（试运行，未写入）" in out, out[:300]
        for words in ("  读取          495 条", "  用地分类体系  gtkj（推定", "字段对应（标准字段 <- 源字段 [单位]）：",
                      "  年产值（元/年） <- CZ [万元]", "  建筑密度        <- JZMD [百分比]", "未入库的源字段：BGLX、YZDDM",
                      "说明：在宗地数据旁找到更新范围", "报告已写入 "):
            assert words in out, (words, out)
        assert "ingest report" not in out and "note:" not in out and "accepted" not in out
        lines = _csv_lines(rep)
        assert lines[0] == "# 来源文件: " + str(UPDATE) and "# 读取: 495" in lines
        assert "行号,宗地代码,字段,原值,问题,处理,说明,说明（英文）" in lines
    else:
        assert out.startswith("ingest report: survey_update.zip!") and " (dry run)" in out, out[:300]
        for words in ("  read               495", "field mapping (canonical <- source [unit]):",
                      "  output_cny      <- CZ [10k yuan]", "  coverage        <- JZMD [percent]",
                      "note: update extent", "report written to "):
            assert words in out, (words, out)
        assert "导入报告" not in out and "说明：" not in out
        lines = _csv_lines(rep)
        assert lines[0] == "# source: " + str(UPDATE) and "row,parcel_id,field,value,code,action,message,message_zh" in lines
    assert GpkgStore(city).surveys()["version"].max() == 1  # a dry run


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_refused_ingest_says_why_once_in_the_reports_language(city, tmp_path, lang):
    """A layer with no CRS, refused: the report, its last line and the error line all in the language asked."""
    src = tmp_path / "宗地.csv"
    src.write_text('ZDDM,WKT\nA1,"POLYGON((0 0,10 0,10 10,0 0))"\n', encoding="utf-8")
    done = planner("ingest", src, "-w", city, "--lang", lang)
    assert done.returncode == 2
    err = done.stderr
    if lang == "zh":
        assert "导入报告：宗地.csv" in err and "  文件的坐标系  （无）" in err and "  读取          1 条" in err, err
        assert "拒绝导入（原因见下方错误）" in err and "错误：宗地.csv：该图层没有坐标系" in err, err
        assert "REFUSED" not in err and "error:" not in err
    else:
        assert "ingest report: 宗地.csv" in err and "  CRS of the file    none" in err, err
        assert "REFUSED (see the error below)" in err and "error: 宗地.csv: " in err, err
        assert "拒绝导入" not in err and "错误：" not in err


# -- a file published twice ---------------------------------------------------------------------------------
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_file_published_before_is_refused_naming_the_version_when_and_who(city, tmp_path, lang):
    """The officer loads the update, then (a colleague, a script run twice, a copy under another name) loads the
    same bytes again: the CLI published an identical v3 where the data manager says "same file as v2". Now it
    refuses before reading, in the language asked, naming the version, when and by whom; nothing is written."""
    first = planner("ingest", UPDATE, "-w", city, "--lang", lang)
    assert first.returncode == 0, first.stderr
    copy = tmp_path / "晋江更新(1).zip"  # the same bytes under another name
    shutil.copy(UPDATE, copy)
    cat = GpkgStore(city).surveys()
    who, when = str(cat["user"].iloc[-1]), cat["created_at"].iloc[-1]
    n_audit = len(GpkgStore(city).audit_log())
    from planner.i18n import local_time

    for src in (UPDATE, copy):
        done = planner("ingest", src, "-w", city, "--lang", lang)
        assert done.returncode == 2, done.stdout
        err = done.stderr
        if lang == "zh":
            assert f"错误：{src.name} 与 {local_time(when)} 由 {who} 发布的调查版本 v2 是同一个文件（校验和相同）" in err, err
            assert "未发布" in err and "--publish-again" in err and "error:" not in err
        else:
            assert f"error: {src.name} is the same file as survey version v2, published by {who} on {local_time(when)}" in err, err
            assert "Nothing was published" in err and "--publish-again" in err
        assert not done.stdout  # refused before reading: no report of a load that will not happen
    dry = planner("ingest", copy, "-w", city, "--dry-run", "--lang", lang)  # a dry run says so and reads on
    assert dry.returncode == 0 and ("是同一个文件" if lang == "zh" else "is the same file as survey version v2") in dry.stdout
    assert GpkgStore(city).surveys()["version"].max() == 2 and len(GpkgStore(city).audit_log()) == n_audit


def test_publish_again_reads_the_same_file_with_other_units(city, tmp_path):
    """Why --publish-again exists: the update was published with its output read in 万元 (the default for CZ); the
    bureau says it is in 元. The same file, read with the unit corrected, is a real new version; the report's diff
    says what the second reading changed."""
    assert planner("ingest", UPDATE, "-w", city, "--lang", "en").returncode == 0
    mp = tmp_path / "yuan.toml"
    mp.write_text('[units]\noutput_cny = "元"\n', encoding="utf-8")
    refused = planner("ingest", UPDATE, "-w", city, "-m", mp, "--lang", "en")
    assert refused.returncode == 2 and "--publish-again" in refused.stderr
    again = planner("ingest", UPDATE, "-w", city, "-m", mp, "--publish-again", "--lang", "zh")
    assert again.returncode == 0, again.stderr
    assert "年产值（元/年） <- CZ [元]" in again.stdout and "变更 年产值（元/年）" in again.stdout, again.stdout
    assert "已发布为调查版本 3" in again.stdout
    cat = GpkgStore(city).surveys()
    assert cat["version"].max() == 3 and int(cat.loc[cat["is_current"], "version"].iloc[0]) == 3


# -- a zip of several GeoPackages -------------------------------------------------------------------------------
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_zip_of_two_geopackages_is_read_with_file_and_layer_and_refused_listing_every_layer(city, tmp_path, lang):
    """Two districts' GeoPackages of three layers each in one zip: `--layer STEM` picked a GeoPackage and was then
    refused ("holds 3 layers"), `--layer 宗地` was refused as "several datasets", and nothing read one layer of
    one of them. Now the refusals list every layer with its file, geometry type and rows, a layer name held by
    two files asks for --file, and --file with --layer reads that layer."""
    from tests.test_app_upload_officer import two_geopackages_zip

    z = two_geopackages_zip(tmp_path, city)
    none = planner("ingest", z, "-w", city, "--lang", lang)
    assert none.returncode == 2
    twice = planner("ingest", z, "-w", city, "--layer", "宗地", "--lang", lang)
    assert twice.returncode == 2
    if lang == "zh":
        assert "压缩包中有多个数据集" in none.stderr and "  - 2025/石狮.gpkg：宗地（面（多部件），30 条）" in none.stderr
        assert "  - 2025/晋江.gpkg：井点（点，5 条）" in none.stderr, none.stderr
        assert "多个文件含图层 '宗地'（2025/晋江.gpkg、2025/石狮.gpkg），请加 --file" in twice.stderr, twice.stderr
    else:
        assert "the zip holds several datasets" in none.stderr and "--file FILE" in none.stderr
        assert "  - 2025/石狮.gpkg: 宗地 (MultiPolygon, 30 rows)" in none.stderr, none.stderr
        assert "layer '宗地' is in several files of the zip (2025/晋江.gpkg, 2025/石狮.gpkg); add --file" in twice.stderr
    wrong = planner("ingest", z, "-w", city, "--file", "泉州", "--layer", "宗地", "--lang", lang)
    assert wrong.returncode == 2 and "2025/晋江.gpkg" in wrong.stderr and "泉州" in wrong.stderr
    assert GpkgStore(city).surveys()["version"].max() == 1  # refused: nothing written
    ok = planner("ingest", z, "-w", city, "--file", "石狮", "--layer", "宗地", "--lang", lang)
    assert ok.returncode == 0, ok.stderr
    assert "!2025/石狮.gpkg" in ok.stdout and ("图层 宗地" if lang == "zh" else "layer 宗地") in ok.stdout
    assert ("读取          30 条" if lang == "zh" else "read               30") in ok.stdout, ok.stdout
    assert GpkgStore(city).surveys()["version"].max() == 2
    one = planner("ingest", z, "-w", city, "--layer", "井点", "--file", "2025/晋江.gpkg", "--dry-run", "--lang", lang)
    assert one.returncode == 2 and "井点" in one.stderr  # points are no parcels: refused as such, not as ambiguous


def test_a_partitioned_survey_is_written_from_one_geopackage_of_a_zip_with_its_report_in_the_language_asked(
        city, tmp_path):
    """`planner ingest Z --parquet DIR` (no workspace: a province's folder straight from the delivery) refused
    --file and printed its report in English whatever --lang said."""
    from planner.io import geoparquet as gpq
    from tests.test_app_upload_officer import two_geopackages_zip

    z = two_geopackages_zip(tmp_path, city)
    out = tmp_path / "shishi.parquet"
    done = planner("ingest", z, "--parquet", out, "--file", "石狮", "--layer", "宗地", "--lang", "zh")
    assert done.returncode == 0, done.stderr
    assert "图层 宗地" in done.stdout and "读取          30 条" in done.stdout, done.stdout
    assert gpq.survey_info(out)["n_parcels"] == 30


def test_a_workspace_is_made_from_one_geopackage_of_a_zip_as_ingest_reads_it(city, tmp_path):
    """`planner workspace init --from Z` on a district delivery of several GeoPackages asked for --file (the read's
    own refusal) but had no such option: the officer could not start a workspace from the delivery ingest reads."""
    from tests.test_app_upload_officer import two_geopackages_zip

    z = two_geopackages_zip(tmp_path, city)
    ws = tmp_path / "new.gpkg"
    asked = planner("workspace", "init", ws, "--from", z)
    assert asked.returncode == 2 and "--file" in asked.stderr and not ws.exists(), asked.stderr
    made = planner("workspace", "init", ws, "--from", z, "--file", "石狮", "--layer", "宗地")
    assert made.returncode == 0, made.stderr
    assert "30 个要素" in made.stdout and "已新建工作空间" in made.stdout, made.stdout  # no PLANNER_LANG: Chinese
    assert planner("ingest", z, "-w", ws, "--file", "石狮", "--layer", "宗地").returncode == 0
    assert GpkgStore(ws).surveys()["n_rows"].max() == 30
