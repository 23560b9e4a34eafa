"""`planner workspace`, `users`, `policy list`, `scenario list` and `sample-data` print in ``--lang`` (else
``PLANNER_LANG``, else zh), as `classify`, `sites` and `scenario run` do.

They had no ``--lang`` and printed their listings, progress and confirmations in English whatever the language
("added dee (decision_maker) to ws.gpkg", "created workspace …", "next: …", "copied …", pandas tables headed
``kind name version n_rows is_current``) while their refusals were in Chinese.
"""

from __future__ import annotations

import io
import shutil

import geopandas as gpd
import pytest
import shapely

from planner import workflow as W
from planner.classify import policy as pol
from planner.cli import main
from planner.i18n import display_width
from planner.io.store import GpkgStore
from planner.scenarios import Scenario, SiteSelection
from tests.e2e._workspace import build_workspace


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A small classified workspace with a saved policy, a saved scenario and a deleted one."""
    ws = build_workspace(tmp_path_factory.mktemp("listing") / "ws.gpkg")
    store = GpkgStore(ws)
    W.classify_workspace(store, W.PolicyDoc(pol.default_policy()))
    W.save_document(store, W.ScenarioDoc(Scenario(name="keep", sites=SiteSelection(top=5))))
    W.save_document(store, W.ScenarioDoc(Scenario(name="gone", sites=SiteSelection(top=3))))
    W.delete_document(store, "scenario", "gone")
    return ws


@pytest.fixture
def ws(base, tmp_path) -> str:
    """A copy of :func:`base` a test may write."""
    return str(shutil.copy(base, tmp_path / "ws.gpkg"))


def said(capsys, *argv, stdin: str | None = None, monkeypatch=None):
    """``planner ARGV``'s exit code, standard output and standard error."""
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    rc = main([str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def _column_at(line: str, text: str) -> int:
    """The terminal column where ``text`` starts in ``line`` (Chinese counted two columns)."""
    return display_width(line[:line.index(text)])


def _none_of(text: str, *words: str) -> None:
    found = [w for w in words if w in text]
    assert not found, (found, text)


# -- workspace info / init / copy ---------------------------------------------------------------------------
def test_workspace_info_speaks_its_lang(ws, capsys):
    rc, zh, _ = said(capsys, "workspace", "info", ws, "--lang", "zh")
    assert rc == 0
    assert zh.startswith("工作空间 ws.gpkg  坐标系 ") and "\n图层：\n" in zh and "\n已保存的文档：\n" in zh, zh
    n = min(10, len(GpkgStore(ws).audit_log()))
    assert f"\n操作记录（最近 {n} 条）：\n" in zh
    lines = zh.splitlines()
    head = lines[lines.index("图层：") + 1]
    assert head.split() == ["类型", "名称", "版本", "行数", "当前", "创建时间", "用户", "计算依据"], head
    docs = lines[lines.index("已保存的文档：") + 1]
    assert docs.split() == ["类型", "名称", "版本", "创建时间", "用户", "校验值"], docs
    audit = lines[lines.index(f"操作记录（最近 {n} 条）：") + 1]
    assert audit.split() == ["时间", "用户", "操作", "类型", "名称", "版本", "行数", "源文件"], audit
    survey = next(x for x in lines if x.startswith("survey "))
    assert "parcels" in survey and " 576 " in survey and " 是 " in survey  # kinds and names as stored
    assert _column_at(survey, "是") == _column_at(head, "当前")  # lined up, Chinese two columns a character
    _none_of(zh, "layers:", "saved documents", "audit (last", "n_rows", "is_current", "created_at", "True", "(none)")
    for argv in (["workspace", "info", ws, "--lang", "en"], ["info", "-w", ws, "--lang", "en"]):
        rc, en, _ = said(capsys, *argv)
        assert rc == 0 and en.startswith("workspace ws.gpkg  CRS ") and "\nlayers:\n" in en, en
        assert "\nsaved documents:\n" in en and f"\naudit (last {n}):\n" in en
        head = en.splitlines()[en.splitlines().index("layers:") + 1]
        assert head.split() == ["kind", "name", "version", "n_rows", "is_current", "created_at", "user", "built_on"], head
        _none_of(en, "工作空间", "图层", "类型", "是")


def test_workspace_init_and_copy_speak_their_lang(tmp_path, ws, capsys):
    rc, zh, _ = said(capsys, "workspace", "init", tmp_path / "a.gpkg", "--crs", "EPSG:4549", "--lang", "zh")
    assert rc == 0 and zh.startswith("已新建工作空间 a.gpkg，坐标系 EPSG:4549 (CGCS2000") and "（由 --crs 指定）" in zh, zh
    assert f"下一步：planner ingest 调查数据文件 -w {tmp_path / 'a.gpkg'}" in zh
    _none_of(zh, "created", "next:", "given with")
    rc, en, _ = said(capsys, "workspace", "init", tmp_path / "b.gpkg", "--crs", "EPSG:4549", "--lang", "en")
    assert rc == 0 and en.startswith("created workspace b.gpkg in EPSG:4549") and "(given with --crs)" in en, en
    assert f"next: planner ingest SURVEY -w {tmp_path / 'b.gpkg'}" in en
    _none_of(en, "已新建", "下一步")
    # the CRS proposed from the data, with why, in the language too
    jj = gpd.GeoDataFrame({"ZDDM": ["Z1"]}, geometry=[shapely.box(118.55, 24.78, 118.551, 24.781)], crs="EPSG:4490")
    jj.to_file(tmp_path / "jj.gpkg")
    rc, zh, _ = said(capsys, "workspace", "init", tmp_path / "c.gpkg", "--from", tmp_path / "jj.gpkg", "--dry-run",
                     "--lang", "zh")
    assert rc == 0 and "数据：jj.gpkg，1 个要素，经度 118.550–118.551，纬度 24.780–24.781" in zh, zh
    assert f"将新建工作空间 {tmp_path / 'c.gpkg'}，坐标系 EPSG:4549" in zh and "（数据位于中国境内（东经 118.55°）：" in zh
    assert "试运行：未新建任何内容" in zh and not (tmp_path / "c.gpkg").exists()
    _none_of(zh, "data:", "would create", "the data lie", "dry run")
    rc, en, _ = said(capsys, "workspace", "init", tmp_path / "c.gpkg", "--from", tmp_path / "jj.gpkg", "--dry-run",
                     "--lang", "en")
    assert rc == 0 and "data: jj.gpkg, 1 features" in en, en
    assert f"would create workspace {tmp_path / 'c.gpkg'} in EPSG:4549" in en
    assert "(the data lie in China at 118.55°E: " in en and "dry run: nothing was created" in en
    # copy: a line per layer version, then what was copied
    n = len(GpkgStore(ws).layers())
    rc, zh, _ = said(capsys, "workspace", "copy", ws, tmp_path / "z.gpkg", "--lang", "zh")
    assert rc == 0 and f"[{n}/{n}] " in zh and " 第 1 版（" in zh and " 行）" in zh, zh
    assert f"已复制 ws.gpkg -> z.gpkg：图层版本 {n} 个（" in zh and "文档版本 " in zh and "操作记录 " in zh
    _none_of(zh, "copied", "rows", "layer versions", " v1 ")
    rc, en, _ = said(capsys, "workspace", "copy", ws, tmp_path / "e.gpkg", "--lang", "en")
    assert rc == 0 and f"[{n}/{n}] " in en and " v1 (" in en and f"copied ws.gpkg -> e.gpkg: {n} layer versions (" in en
    _none_of(en, "已复制", "第 1 版")


# -- users --------------------------------------------------------------------------------------------------
def test_users_speak_their_lang(ws, capsys, monkeypatch):
    def users(*argv, stdin=None):
        return said(capsys, "users", *argv, "-w", ws, stdin=stdin, monkeypatch=monkeypatch)

    rc, out, _ = users("list", "--lang", "zh")
    assert rc == 0 and out.strip() == "ws.gpkg 没有账号（应用以单个本地用户运行，无需登录）", out
    rc, out, _ = users("list", "--lang", "en")
    assert out.strip() == "ws.gpkg has no accounts (the app runs for a single local user, with no sign-in)", out
    rc, out, _ = users("add", "pam", "--role", "planner", "--name", "王工", "--password-stdin", "--lang", "zh",
                       stdin="planner-pass-3\n")
    assert rc == 0 and out.splitlines() == ["已将 pam（规划人员）添加到 ws.gpkg", "此工作空间现已启用账号：应用将要求所有人登录",
                                            "注意：尚无管理员；请添加一个管理员（--role admin），以便在应用中管理账号"], out
    rc, out, _ = users("add", "ada", "--role", "admin", "--password-stdin", "--lang", "en", stdin="admin-pass-1\n")
    assert rc == 0 and out.strip() == "added ada (admin) to ws.gpkg", out
    rc, out, _ = users("list", "--lang", "zh")
    lines = out.splitlines()
    assert lines[0].split() == ["用户名", "显示名称", "角色", "已停用", "创建时间", "修改时间"], out
    pam = next(x for x in lines if x.startswith("pam "))
    assert "王工" in pam and "规划人员（planner）" in pam and " 否 " in pam, pam
    assert "管理员（admin）" in out
    assert _column_at(pam, "否") == _column_at(lines[0], "已停用")  # lined up, Chinese two columns a character
    _none_of(out, "username", "display_name", "disabled", "False")
    rc, out, _ = users("list", "--lang", "en")
    assert out.splitlines()[0].split() == ["username", "display_name", "role", "disabled", "created_at", "updated_at"]
    assert " planner " in out and "False" in out and "规划人员" not in out and "否" not in out, out
    zh_said = [users("set-role", "pam", "decision_maker", "--lang", "zh")[1], users("disable", "pam", "--lang", "zh")[1],
               users("enable", "pam", "--lang", "zh")[1],
               users("passwd", "pam", "--password-stdin", "--lang", "zh", stdin="a-new-pass-77\n")[1]]
    assert [x.strip() for x in zh_said] == ["pam 的角色已改为「决策人员」", "已停用账号 pam", "已启用账号 pam",
                                            "已为 pam 设置新密码"], zh_said
    en_said = [users("set-role", "pam", "planner", "--lang", "en")[1], users("disable", "pam", "--lang", "en")[1],
               users("enable", "pam", "--lang", "en")[1],
               users("passwd", "pam", "--password-stdin", "--lang", "en", stdin="a-new-pass-78\n")[1]]
    assert [x.strip() for x in en_said] == ["pam is now planner", "pam disabled", "pam enabled",
                                            "new password set for pam"], en_said


def test_users_asks_for_the_password_in_its_lang(ws, capsys, monkeypatch):
    asked = []
    monkeypatch.setattr("getpass.getpass", lambda prompt: asked.append(prompt) or "long-enough-pass")
    assert main(["users", "add", "ada", "--role", "admin", "-w", ws, "--lang", "zh"]) == 0
    assert main(["users", "passwd", "ada", "-w", ws, "--lang", "en"]) == 0
    assert asked == ["ada 的密码：", "再输入一次：", "password for ada: ", "again: "]


# -- the lists of saved documents ---------------------------------------------------------------------------
def test_policy_list_speaks_its_lang(ws, capsys):
    rc, zh, _ = said(capsys, "policy", "list", "-w", ws, "--lang", "zh")
    lines = zh.splitlines()
    assert rc == 0 and lines[0] == "已保存的识别规则：", zh
    assert lines[1].split() == ["名称", "版本", "创建时间", "用户", "已删除", "校验值"], zh
    assert lines[2].split()[:2] == ["default", "1"]
    assert "已识别（识别结果已保存）：default 第 1 版" in zh and "随附的识别规则：default、strict（" in zh
    _none_of(zh, "saved policies", "classified", "shipped", "version", "created_at", " v1")
    rc, en, _ = said(capsys, "policy", "list", "-w", ws, "--lang", "en")
    assert en.startswith("saved policies:\nname") and "classified (flags stored): default v1" in en, en
    assert "shipped: default, strict (what a NAME means" in en
    _none_of(en, "已保存", "名称", "随附")


def test_scenario_list_speaks_its_lang(ws, capsys):
    rc, zh, _ = said(capsys, "scenario", "list", "-w", ws, "--lang", "zh")
    lines = zh.splitlines()
    assert rc == 0 and lines[0] == "已保存的情景：", zh
    assert lines[1].split() == ["名称", "版本", "创建时间", "用户", "已删除", "校验值"], zh
    assert lines[2].split()[:2] == ["keep", "1"]
    assert "已删除（各版本仍保留；用 `planner scenario copy NAME@VERSION NAME -w WS` 恢复）：gone（最后版本 gone@1）" in zh
    heads = lines[lines.index("园区模板：") + 1]
    assert heads.split() == ["名称", "模板", "容积率", "层数", "综合造价（元/㎡）"], zh
    row = next(x for x in lines if x.strip().startswith("standard_factory"))
    assert "标准厂房园区" in row and "3,400" in row, row
    assert display_width(row) == display_width(heads)  # the last column right-aligned: lined up
    _none_of(zh, "saved scenarios", "deleted (", "park templates", "plot ratio", "Standard factory park", "(last")
    rc, en, _ = said(capsys, "scenario", "list", "-w", ws, "--lang", "en")
    assert en.startswith("saved scenarios:\nname") and "park templates:" in en, en
    assert "deleted (versions kept; `planner scenario copy NAME@VERSION NAME -w WS` brings one back): gone (last gone@1)" in en
    assert "Standard factory park" in en and "plot ratio" in en
    _none_of(en, "已保存", "园区模板", "标准厂房园区")


# -- sample-data --------------------------------------------------------------------------------------------
def test_sample_data_speaks_its_lang(tmp_path, capsys):
    rc, _, zh = said(capsys, "sample-data", "--parcels", "60", "--out", tmp_path / "zh.gpkg",
                     "--survey-update", tmp_path / "upd.zip", "--lang", "zh")
    assert rc == 0 and "60 个地块，研究范围 " in zh and "，位于晋江市界内；生成用时 " in zh and "-> " in zh, zh
    assert "调查更新 -> " in zh and "个地块，替换原有 " in zh
    assert "写入 survey/parcels（60 行）" in zh  # the progress bar's words too
    _none_of(zh, "parcels, study area", "built in", "survey update", "writing", "sample city")
    rc, _, en = said(capsys, "sample-data", "--parcels", "60", "--out", tmp_path / "en.gpkg", "--lang", "en")
    assert rc == 0 and "60 parcels, study area " in en and "inside the Jinjiang boundary; built in " in en, en
    assert "writing survey/parcels (60 rows)" in en
    _none_of(en, "地块", "写入")


# -- nothing said: Chinese ----------------------------------------------------------------------------------
def test_without_lang_or_planner_lang_they_speak_chinese(ws, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("PLANNER_LANG", raising=False)
    expected = {("workspace", "info", ws): "图层：", ("info", "-w", ws): "已保存的文档：",
                ("workspace", "init", tmp_path / "n.gpkg", "--crs", "EPSG:4549"): "已新建工作空间",
                ("workspace", "copy", ws, tmp_path / "c.gpkg"): "已复制",
                ("users", "list", "-w", ws): "没有账号",
                ("policy", "list", "-w", ws): "已保存的识别规则：",
                ("scenario", "list", "-w", ws): "园区模板："}
    for argv, words in expected.items():
        rc, out, _ = said(capsys, *argv)
        assert rc == 0 and words in out, (argv, out)
    rc, _, err = said(capsys, "sample-data", "--parcels", "60", "--out", tmp_path / "s.gpkg")
    assert rc == 0 and "个地块，研究范围" in err, err
    monkeypatch.setenv("PLANNER_LANG", "en")  # PLANNER_LANG without --lang: English, as the other commands
    assert said(capsys, "users", "list", "-w", ws)[1].startswith("ws.gpkg has no accounts")
