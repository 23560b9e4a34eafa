"""`planner enterprise ingest` and `planner enterprise show` print in ``--lang`` (else ``PLANNER_LANG``, else zh).

They had no ``--lang`` and printed in English whatever the language: the load report ("ingest report: t.xlsx",
"read 5", "problems (5; row numbers are the rows a spreadsheet shows ...)", "invalid_credit_code (flagged)"),
"published as enterprise table version 1; ...", "report written to ...", the dry run's "the real run refuses it",
and show's pandas table (``version created_at user n_rows is_current source_file``) and "current version 1: ...";
while their refusals were in Chinese. The English stays word for word what it was (scripts read it).
"""

from __future__ import annotations

import csv

import pytest

from planner.cli import main
from planner.i18n import display_width
from planner.io.store import GpkgStore
from tests.test_enterprise import parcels, write_links, write_table


@pytest.fixture
def ws(tmp_path) -> str:
    store = GpkgStore(tmp_path / "ws.gpkg", crs="EPSG:4549", create=True)
    store.publish_survey(parcels(), label="base")
    return str(store.path)


def said(capsys, tmp_path, *argv) -> tuple[int, str, str]:
    """``planner ARGV``'s exit code, standard output and standard error, with the test folder written ``TMP`` (its
    name holds the test's English words)."""
    rc = main([str(a) for a in argv])
    got = capsys.readouterr()
    return rc, got.out.replace(str(tmp_path), "TMP"), got.err.replace(str(tmp_path), "TMP")


def _none_of(text: str, *words: str) -> None:
    found = [w for w in words if w in text]
    assert not found, (found, text)


def _column_at(line: str, text: str) -> int:
    """The terminal column where ``text`` starts in ``line`` (Chinese counted two columns)."""
    return display_width(line[:line.index(text)])


#: What the English report and confirmations say, none of which a Chinese one may.
ENGLISH = ("ingest report", "format ", "encoding", "read ", "accepted", "rejected", "flagged", "field mapping",
           "note:", "problems (", "row numbers", "sheet 1", "invalid_credit_code", "no_parcel", "credit_code",
           "tax_cny", "link:", "the enterprise reaches", "published as", "report written", "dry run")
#: What the Chinese ones say, none of which an English one may.
CHINESE = ("导入报告", "读取", "接受", "存疑", "字段对应", "说明：", "问题（", "行号", "工作表", "信用代码无效",
           "统一社会信用代码校验码错误", "已发布", "报告已写入", "试运行")


def _problem_table(text: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, x in enumerate(lines) if x.split()[:2] in (["行号", "宗地代码"], ["row", "parcel_id"]))
    return lines[start:start + 6]


def test_ingest_prints_its_report_and_confirmations_in_chinese(tmp_path, ws, capsys):
    t, lk = write_table(tmp_path / "t.xlsx"), write_links(tmp_path / "l.csv")
    rc, out, _ = said(capsys, tmp_path, "enterprise", "ingest", t, "--link", lk, "-w", ws, "--report",
                      tmp_path / "r.csv", "--lang", "zh")
    assert rc == 0
    assert out.startswith("导入报告：t.xlsx\n") and "  字符编码    -（工作表 1）\n" in out, out
    assert "  读取        5 条\n" in out and "  存疑        1 条\n" in out
    assert "几何" not in out  # a table has no geometry to repair: no "几何已修复 0 条" row
    assert "字段对应（标准字段 <- 源字段 [单位]）：\n  统一社会信用代码     <- 统一社会信用代码\n" in out
    assert "  年税收（元/年）      <- 实缴税金（万元） [万元]\n" in out
    assert "说明：企业按关联表关联到宗地；跨宗地企业按用地面积分摊\n" in out
    assert "说明：5 家企业中有 3 家关联到当前调查版本的 3 宗地块\n" in out
    assert "问题（5 条；行号为表格软件中显示的行号（从 1 起，含表头和标题行））：\n" in out
    assert "        1  信用代码无效（存疑）\n" in out and "        2  企业未关联宗地（存疑）\n" in out
    head, *rows = _problem_table(out)
    assert head.split() == ["行号", "宗地代码", "字段", "处理", "说明"], head
    assert rows[0].split() == ["6", rows[0].split()[1], "统一社会信用代码", "存疑", "统一社会信用代码校验码错误（GB",
                               "32100-2015）"], rows[0]
    for row in rows:  # lined up under their heads, Chinese two columns a character
        assert _column_at(row, "统一社会信用代码") == _column_at(head, "字段")
        assert _column_at(row, "存疑") == _column_at(head, "处理"), (head, row)
    assert f"已发布为企业数据第 1 版；`planner classify -w {ws.replace(str(tmp_path), 'TMP')}` 此后采用其中的税收、产值和能耗\n" in out
    assert out.endswith("报告已写入 TMP/r.csv\n")
    _none_of(out, *ENGLISH)
    with open(tmp_path / "r.csv", encoding="utf-8-sig", newline="") as fh:  # --report's CSV in the language too
        table = [r for r in csv.reader(fh) if r and not r[0].startswith("#")]
    assert table[0][:3] == ["行号", "宗地代码", "字段"] and table[1][2] == "统一社会信用代码", table[:2]


def test_ingest_prints_its_report_and_confirmations_in_english_as_before(tmp_path, ws, capsys):
    t, lk = write_table(tmp_path / "t.xlsx"), write_links(tmp_path / "l.csv")
    rc, out, _ = said(capsys, tmp_path, "enterprise", "ingest", t, "--link", lk, "-w", ws, "--report",
                      tmp_path / "r.csv", "--lang", "en")
    assert rc == 0
    assert out.startswith("ingest report: t.xlsx\n") and "  encoding           - (sheet 1)\n" in out, out
    assert "  read               5\n" in out and "  flagged            1\n" in out
    assert "repaired geometry" not in out
    assert "field mapping (canonical <- source [unit]):\n  credit_code     <- 统一社会信用代码\n" in out
    assert "note: enterprises linked to parcels by link table; shared by land area\n" in out
    assert "problems (5; row numbers are the rows a spreadsheet shows (1-based, header and title included)):\n" in out
    assert "        1  invalid_credit_code (flagged)\n" in out and "        2  no_parcel (flagged)\n" in out
    head, *rows = _problem_table(out)
    assert head == "      row  parcel_id            field          action   message", head
    assert rows[0].endswith("credit_code    flagged  credit code wrong check digit (GB 32100-2015)"), rows[0]
    assert f"published as enterprise table version 1; `planner classify -w {ws.replace(str(tmp_path), 'TMP')}` now " \
           "takes tax, output and energy from it\n" in out
    assert out.endswith("report written to TMP/r.csv\n")
    _none_of(out.replace("统一社会信用代码", "").replace("实缴税金（万元）", "").replace("销售收入（万元）", "")
             .replace("综合能耗（吨标准煤）", "").replace("从业人数", "").replace("企业名称", "").replace("行业代码", "")
             .replace("年度", ""), *CHINESE, "条", "说明", "关联", "企业")  # the table's own headers are as given


def test_a_dry_run_and_a_load_with_problems_say_so_in_either_language(tmp_path, ws, capsys):
    t, lk = write_table(tmp_path / "t.xlsx"), write_links(tmp_path / "l.csv")
    assert main(["enterprise", "ingest", str(t), "--link", str(lk), "-w", ws, "--lang", "en"]) == 0
    capsys.readouterr()
    rc, zh, _ = said(capsys, tmp_path, "enterprise", "ingest", t, "--link", lk, "-w", ws, "--dry-run", "--lang", "zh")
    assert rc == 0 and zh.startswith("导入报告：t.xlsx（试运行，未写入）\n"), zh
    assert "t.xlsx 及关联表 l.csv 与" in zh and "发布的当前企业数据 v1 是相同的文件（校验和相同）" in zh
    assert "（试运行：正式导入时将拒绝）如确需将其发布为新版本，请加 --publish-again。" in zh
    assert "企业未关联宗地（存疑）" in zh and "该企业未关联到任何宗地：其数据未计入" in zh
    _none_of(zh, *ENGLISH, "the same files", "real run")
    rc, en, _ = said(capsys, tmp_path, "enterprise", "ingest", t, "--link", lk, "-w", ws, "--dry-run", "--lang", "en")
    assert rc == 0 and en.startswith("ingest report: t.xlsx (dry run)\n"), en
    assert "t.xlsx with the link table l.csv: the same files as the current enterprise table v1" in en
    assert "(dry run: the real run refuses it) To publish it as a new version anyway, add --publish-again." in en
    assert "the enterprise reaches no parcel of the survey: its figures count for no land" in en
    _none_of(en, "导入报告", "试运行", "相同的文件", "存疑", "该企业")


def test_a_refused_load_prints_its_report_in_the_language(tmp_path, ws, capsys):
    """The report a refusal prints (on standard error, above the error line) follows the language too."""
    m = tmp_path / "m.toml"
    m.write_text("[checks]\nmax_rejected_share = 1.0\n", encoding="utf-8")
    rows = [["", "某公司", "19", "1", "1", "1", "1", "2024"], ["", "另一公司", "19", "1", "1", "1", "1", "2024"]]
    t = write_table(tmp_path / "r.csv", rows)
    rc, _, zh = said(capsys, tmp_path, "enterprise", "ingest", t, "-w", ws, "--mapping", m, "--lang", "zh")
    assert rc == 2 and zh.startswith("导入报告：r.csv\n"), zh
    assert "缺少信用代码（已拒绝）" in zh and "拒绝导入（原因见下方错误）" in zh  # said once, in the error line
    assert zh.count("2 行均未被接受，请查看问题列表") == 1 and zh.endswith("错误：r.csv：2 行均未被接受，请查看问题列表\n")
    _none_of(zh, "ingest report", "REFUSED", "missing_credit_code", "none of the 2 rows", "rejected")
    rc, _, en = said(capsys, tmp_path, "enterprise", "ingest", t, "-w", ws, "--mapping", m, "--lang", "en")
    assert rc == 2 and en.startswith("ingest report: r.csv\n"), en
    assert "missing_credit_code (rejected)" in en and "REFUSED (see the error below)" in en
    assert en.count("none of the 2 rows was accepted") == 1
    _none_of(en, "导入报告", "拒绝导入", "缺少信用代码")


def test_show_lists_the_versions_and_the_join_in_either_language(tmp_path, ws, capsys):
    rc, zh, _ = said(capsys, tmp_path, "enterprise", "show", "-w", ws, "--lang", "zh")
    assert rc == 0 and zh == "工作空间 TMP/ws.gpkg 中尚无企业数据；请用 `planner enterprise ingest` 导入\n", zh
    rc, en, _ = said(capsys, tmp_path, "enterprise", "show", "-w", ws, "--lang", "en")
    assert rc == 0 and en == "workspace TMP/ws.gpkg has no enterprise table; load one with `planner enterprise ingest`\n"
    t, lk = write_table(tmp_path / "t.xlsx"), write_links(tmp_path / "l.csv")
    assert main(["enterprise", "ingest", str(t), "--link", str(lk), "-w", ws]) == 0
    capsys.readouterr()
    rc, zh, _ = said(capsys, tmp_path, "enterprise", "show", "-w", ws, "--lang", "zh")
    assert rc == 0
    head, row, joined = zh.splitlines()
    assert head.split() == ["版本", "创建时间", "用户", "行数", "当前", "源文件"], head
    assert row.split()[0] == "1" and row.split()[3:] == ["5", "是", "t.xlsx"], row
    assert _column_at(row, "是") == _column_at(head, "当前") and _column_at(row, "t.xlsx") == _column_at(head, "源文件")
    assert joined == "当前企业数据第 1 版：3 家企业关联到 4 宗地块中的 3 宗；1 宗地块有多家企业；2 家企业未关联到任何地块"
    _none_of(zh, "version", "created_at", "n_rows", "is_current", "True", "enterprises reach", "tenants")
    rc, en, _ = said(capsys, tmp_path, "enterprise", "show", "-w", ws, "--lang", "en")
    head, row, joined = en.splitlines()
    assert rc == 0 and head.split() == ["version", "created_at", "user", "n_rows", "is_current", "source_file"], head
    assert row.split()[3:] == ["5", "True", "t.xlsx"], row
    assert joined == ("current version 1: 3 enterprises reach 3 of 4 parcels; 1 parcels hold several tenants; "
                      "2 enterprises reach none")
    _none_of(en, "版本", "当前", "是", "企业")


def test_without_lang_or_planner_lang_both_speak_chinese(tmp_path, ws, capsys, monkeypatch):
    monkeypatch.delenv("PLANNER_LANG", raising=False)
    t, lk = write_table(tmp_path / "t.xlsx"), write_links(tmp_path / "l.csv")
    rc, out, _ = said(capsys, tmp_path, "enterprise", "ingest", t, "--link", lk, "-w", ws)
    assert rc == 0 and out.startswith("导入报告：t.xlsx\n") and "问题（5 条；" in out and "已发布为企业数据第 1 版" in out
    _none_of(out, *ENGLISH)
    rc, out, _ = said(capsys, tmp_path, "enterprise", "show", "-w", ws)
    assert rc == 0 and out.splitlines()[0].split()[:2] == ["版本", "创建时间"] and "当前企业数据第 1 版：" in out, out
    _none_of(out, "version", "current version", "enterprises reach")
    monkeypatch.setenv("PLANNER_LANG", "en")  # the variable, without --lang
    rc, out, _ = said(capsys, tmp_path, "enterprise", "show", "-w", ws)
    assert rc == 0 and "current version 1: " in out and "当前" not in out


def test_the_data_managers_problem_table_names_the_enterprise_fields_in_the_page_language(tmp_path, ws):
    """The enterprise tab shows the check's problems (not the report's text) with the fields' labels: a Chinese page
    read ``credit_code``, a field the parcel schema does not have."""
    from planner.ui.tables import problems_frame
    from planner.workflow.enterprises import ingest_enterprises

    load = ingest_enterprises(write_table(tmp_path / "t.xlsx"), GpkgStore(ws), link=write_links(tmp_path / "l.csv"),
                              dry_run=True)
    zh, en = problems_frame(load.report.problems, "zh"), problems_frame(load.report.problems, "en")
    assert set(zh["field"]) == {"统一社会信用代码"} and "该企业未关联到任何宗地：其数据未计入" in set(zh["message"])
    assert set(en["field"]) == {"Credit code"} and "link: no parcel of the current survey has this id" in set(en["message"])
