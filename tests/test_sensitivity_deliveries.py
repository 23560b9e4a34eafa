"""The scenario sensitivity in the deliveries a decision maker receives.

A payback of 29 years in a PDF could be 23 or 37 with the rent or the all-in cost 20% off, and the reports did not
say so: the sensitivity was on the scenarios page only. Now ``planner scenario compare --sensitivity`` (and
``scenario run --sensitivity``) and the comparison page's "include the sensitivity" choice add a section per
scenario to the HTML, PDF and Excel reports, in the report's language; without it nothing changes and no scenario
is run again. The numbers are those of the scenario run again with the parameter changed in its template.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from planner.cli import main

pdfium = pytest.importorskip("pypdfium2", reason="pypdfium2 reads the PDF pages (test extra)")

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
SCENARIOS = [str(ROOT / "scenarios" / "conservative_top10.toml"), str(ROOT / "scenarios" / "phased_budget.toml")]


def cli(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    """``python -m planner ARGV`` as a user runs it (this checkout first on the path)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, "-m", "planner", *argv], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> Path:
    """The sample city (a copy) classified and its sites built."""
    d = tmp_path_factory.mktemp("sens")
    ws = d / "ws.gpkg"
    shutil.copyfile(ROOT / "gis_data" / "sample_city.gpkg", ws)
    assert main(["classify", "-w", str(ws)]) == 0
    assert main(["sites", "-w", str(ws)]) == 0
    return ws


@pytest.fixture(scope="module")
def reports(city) -> Path:
    """``scenario compare --sensitivity`` reports written by the command, in both languages."""
    d = city.parent / "out"
    d.mkdir()
    for lang, ext in (("zh", "html"), ("en", "html"), ("zh", "pdf"), ("en", "pdf"), ("zh", "xlsx"), ("en", "xlsx")):
        proc = cli("scenario", "compare", *SCENARIOS, "-w", str(city), "--lang", lang, "--sensitivity",
                   "--out", str(d / f"c_{lang}.{ext}"), cwd=d)
        assert ("敏感性" if lang == "zh" else "sensitivity") in proc.stderr  # the progress bar (tqdm, on stderr)
    return d


def pdf_text(data) -> str:
    doc = pdfium.PdfDocument(data)
    return "\n".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))


def _sheet_rows(path_or_bytes, name: str) -> list[tuple]:
    src = io.BytesIO(path_or_bytes) if isinstance(path_or_bytes, bytes) else path_or_bytes
    return list(load_workbook(src)[name].iter_rows(values_only=True))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_compared_reports_carry_the_sensitivity_of_each_scenario(reports, lang):
    html = (reports / f"c_{lang}.html").read_text(encoding="utf-8")
    title = "敏感性分析：各估计参数单独 ±20%" if lang == "zh" else "Sensitivity: each estimated parameter alone ±20%"
    assert f"<h2>{title}</h2>" in html
    section = html[html.index(title):]
    for name in ("conservative_top10", "phased_budget"):
        assert f"<h3>{name}</h3>" in section
    # the range a reader is after, and the tornado as an inline image whose words are in the report's language
    alt = re.search(r'alt="(phased_budget[^"]*)"', section).group(1).split(" · ")
    if lang == "zh":
        assert "仅计租金回收期 35.1 年：任一参数单独 ±20% 时在 28.1 至 43.9 年之间，影响最大的是租金。" in section
        assert alt[0] == "phased_budget：回收期敏感性"
        assert {"仅计租金回收期（35.1 年）", "租金+税收回收期（17.0 年）", "租金（元/㎡·月）", "43.9", "28.1", "参数 −20%",
                "参数 +20%", "不变"} <= set(alt)
        assert "综合造价（元/㎡）" in section
    else:
        assert ("Payback, rent only 35.1 years: between 28.1 and 43.9 years with any one parameter ±20%; Rent moves "
                "it most.") in section
        assert alt[0] == "phased_budget: payback sensitivity"
        assert {"Payback, rent only (35.1 years)", "Payback, rent + tax (17.0 years)", "Rent (yuan/m²/month)", "43.9",
                "28.1", "Parameter −20%", "Parameter +20%", "unchanged"} <= set(alt)
        assert "All-in cost (yuan/m²)" in section
    assert section.count("data:image/png;base64,") == 2
    assert section.index("<h3>conservative_top10</h3>") < section.index("<h2>", 10)  # before the assumptions

    pdf = pdf_text(str(reports / f"c_{lang}.pdf"))
    assert title in pdf
    if lang == "zh":
        assert "影响最大的是租金" in pdf and "8 / 10 / 12" in pdf  # phased_budget's rent of 10 yuan, ±20%
    else:
        assert "Rent moves it most" in pdf and "8 / 10 / 12" in pdf
    assert pdf.index(title) < pdf.rindex("模型假设" if lang == "zh" else "Assumptions")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_workbook_has_a_sensitivity_sheet_of_numbers(reports, lang):
    sheet = "Sensitivity 敏感性" if lang == "zh" else "Sensitivity"
    wb = load_workbook(reports / f"c_{lang}.xlsx")
    assert wb.sheetnames[-1] == sheet
    rows = _sheet_rows(reports / f"c_{lang}.xlsx", sheet)
    head = list(rows[0])
    assert head[:2] == (["情景 Scenario", "参数 Parameter"] if lang == "zh" else ["Scenario", "Parameter"])
    body = {(r[0], r[1]): dict(zip(head, r, strict=True)) for r in rows[1:]}
    rent = body[("phased_budget", "租金（元/㎡·月）" if lang == "zh" else "Rent (yuan/m²/month)")]
    pay = "仅计租金回收期 Payback, rent only（年）" if lang == "zh" else "Payback, rent only (yr)"
    as_is = "现值 as is" if lang == "zh" else "as is"
    assert isinstance(rent[f"{pay} +20%"], float)  # numbers as numbers
    assert rent[f"{pay} −20%"] == pytest.approx(rent[f"{pay} {as_is}"] / 0.8)  # rent-only payback: investment ÷ rent
    assert rent[f"{pay} +20%"] == pytest.approx(rent[f"{pay} {as_is}"] / 1.2)
    value = "参数 Parameter · " if lang == "zh" else "Parameter · "
    assert [rent[f"{value}−20%"], rent[f"{value}{as_is}"], rent[f"{value}+20%"]] == [8, 10, 12]
    assert {k[0] for k in body} == {"conservative_top10", "phased_budget"} and len(body) == 12
    # amounts in the workbook's units, as its other sheets: 亿元 in Chinese, million yuan in English
    inv = [c for c in head if c.startswith(("总投资", "Investment")) and c.endswith("+20%")][0]
    assert ("亿元" if lang == "zh" else "million yuan") in inv
    cost = body[("phased_budget", "综合造价（元/㎡）" if lang == "zh" else "All-in cost (yuan/m²)")]
    assert cost[inv] / cost[inv.replace("+20%", as_is)] == pytest.approx(1.2)


def test_a_parameters_higher_run_is_the_scenario_run_with_that_parameter_in_its_template(city, reports, tmp_path):
    """phased_budget's rent +20% in the sensitivity sheet is what ``scenario run`` gives for phased_budget with a rent
    of 12 (its template's 10 × 1.2), and its all-in cost +20% what it gives with 3,400 × 1.2 = 4,080 yuan/m²."""
    text = (ROOT / "scenarios" / "phased_budget.toml").read_text(encoding="utf-8")
    rows = _sheet_rows(reports / "c_en.xlsx", "Sensitivity")
    head = list(rows[0])
    body = {(r[0], r[1]): dict(zip(head, r, strict=True)) for r in rows[1:]}
    for param, line, label in (("rent", "rent_per_m2_month = 12.0", "Rent (yuan/m²/month)"),
                               ("cost", "rent_per_m2_month = 10.0\nall_in_cost_per_m2 = 4080.0", "All-in cost (yuan/m²)")):
        f = tmp_path / f"phased_{param}.toml"
        f.write_text(text.replace("rent_per_m2_month = 10.0", line), encoding="utf-8")
        cli("scenario", "run", str(f), "-w", str(city), "--no-save", "--lang", "en", "--out", str(tmp_path / param),
            cwd=tmp_path)
        summary = {r[0]: r[1] for r in _sheet_rows(tmp_path / param / "phased_budget.xlsx", "Summary")[1:]}
        sens = body[("phased_budget", label)]
        for figure in ("Payback, rent only (yr)", "Payback, rent + tax (yr)", "Investment (million yuan)"):
            assert sens[f"{figure} +20%"] == pytest.approx(summary[figure], rel=1e-9), (param, figure)


def test_scenario_run_prints_the_sensitivity_in_its_language(city, tmp_path):
    out = cli("scenario", "run", SCENARIOS[1], "-w", str(city), "--no-save", "--lang", "en", "--sensitivity",
              cwd=tmp_path).stdout
    assert "sensitivity (each parameter alone ±20%): phased_budget" in out
    assert "Payback, rent only 35.1 years: between 28.1 and 43.9 years with any one parameter ±20%" in out
    line = next(x for x in out.splitlines() if x.strip().startswith("Rent (yuan/m²/month)"))
    assert line.split()[-6:] == ["43.9", "35.1", "29.2", "18.9", "17.0", "15.5"], line
    zh = cli("scenario", "run", SCENARIOS[1], "-w", str(city), "--no-save", "--sensitivity", "--lang", "zh", "--out",
             str(tmp_path / "zh"), cwd=tmp_path).stdout
    assert "敏感性（各参数单独 ±20%）：phased_budget" in zh and "影响最大的是综合造价" in zh
    assert "敏感性分析" in (tmp_path / "zh" / "phased_budget.html").read_text(encoding="utf-8")
    assert "Sensitivity 敏感性" in load_workbook(tmp_path / "zh" / "phased_budget.xlsx").sheetnames
    assert "敏感性分析" in pdf_text(str(tmp_path / "zh" / "phased_budget.pdf"))


def test_without_the_flag_nothing_changes_and_nothing_runs_again(city, tmp_path, monkeypatch, capsys):
    import planner.scenarios as scenarios
    from planner.scenarios import model, sensitivity

    calls = {"run": 0, "sensitivity": 0}
    real_run, real_sens = model.run, sensitivity.sensitivity

    def run(*a, **k):
        calls["run"] += 1
        return real_run(*a, **k)

    def sens(*a, **k):
        calls["sensitivity"] += 1
        return real_sens(*a, **k)

    monkeypatch.setattr(model, "run", run)  # the sensitivity's runs
    monkeypatch.setattr(scenarios, "run", run)  # the workflow's
    monkeypatch.setattr(sensitivity, "sensitivity", sens)
    for ext in ("html", "xlsx", "pdf"):
        assert main(["scenario", "compare", *SCENARIOS, "-w", str(city), "--out", str(tmp_path / f"c.{ext}"),
                     "--lang", "zh"]) == 0
    assert calls == {"run": 6, "sensitivity": 0}  # one run per scenario and report
    assert "敏感性" not in capsys.readouterr().out
    assert "敏感性" not in (tmp_path / "c.html").read_text(encoding="utf-8")
    assert load_workbook(tmp_path / "c.xlsx").sheetnames == ["Comparison 对比", "Floor area 建筑面积", "Sites 地块",
                                                             "Curves 年度曲线"]
    assert "敏感性" not in pdf_text(str(tmp_path / "c.pdf"))
    # with it: 1 + 2 x 6 parameters more a scenario
    assert main(["scenario", "compare", *SCENARIOS, "-w", str(city), "--sensitivity"]) == 0
    assert calls == {"run": 6 + 2 + 2 * 13, "sensitivity": 2}


# -- the comparison page ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def office(tmp_path_factory) -> Path:
    from tests.test_roles import build_office

    ws = build_office(tmp_path_factory.mktemp("office") / "ws.gpkg")
    from planner import scenarios
    from planner.io.store import GpkgStore

    GpkgStore(ws).save_doc("scenario", "upstairs", scenarios.Scenario(
        name="upstairs", template="multi_storey", sites=scenarios.SiteSelection(top=8)).to_dict())
    return ws


def _downloads(monkeypatch) -> dict[str, object]:
    """The files the page's download buttons make when clicked, by extension (the last of each)."""
    made: dict[str, object] = {}
    real_add = MediaFileManager.add_deferred

    def add_deferred(self, data_callable, mimetype, coordinates, file_name=None, **kw):
        made[(file_name or "").rsplit(".", 1)[-1]] = data_callable
        return real_add(self, data_callable, mimetype, coordinates, file_name, **kw)

    monkeypatch.setattr(MediaFileManager, "add_deferred", add_deferred)
    return made


def _compare_page(office, monkeypatch, user: str) -> AppTest:
    from tests.test_roles import _app, _sign_in

    at = _sign_in(_app(office, monkeypatch), user)
    at.switch_page("views/compare.py").run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_the_comparison_page_exports_the_sensitivity_when_asked(office, monkeypatch):
    from planner.scenarios import sensitivity
    from planner.ui import keys

    calls = []
    real = sensitivity.sensitivity
    monkeypatch.setattr(sensitivity, "sensitivity", lambda *a, **k: calls.append(1) or real(*a, **k))
    made = _downloads(monkeypatch)
    at = _compare_page(office, monkeypatch, "pam")
    box = at.checkbox(key="cmp_sens")
    assert box.value is False and "26" in box.label  # opt-in, saying what it costs: 13 runs a scenario
    assert "敏感性" not in made["html"]().decode("utf-8") and not calls  # off: the reports as they were
    box.check().run()
    assert not at.exception, [e.message for e in at.exception]
    assert len(calls) == 2 and keys.COMPARE_SENSITIVITY in at.session_state
    assert any("包含 2 个情景的敏感性分析" in c.value for c in at.caption)
    html = made["html"]().decode("utf-8")
    assert "<h2>敏感性分析：各估计参数单独 ±20%</h2>" in html
    assert "<h3>top5</h3>" in html and "<h3>upstairs</h3>" in html and "租金+税收回收期" in html
    assert "Sensitivity 敏感性" in load_workbook(io.BytesIO(made["xlsx"]())).sheetnames
    assert "敏感性分析" in pdf_text(made["pdf"]())
    at.run()  # a page run with nothing changed does not compute it again
    assert len(calls) == 2
    at.checkbox(key="cmp_sens").uncheck().run()
    assert "敏感性" not in made["html"]().decode("utf-8")


def test_a_decision_makers_sensitivity_export_leaves_out_what_starts_from_tax(office, monkeypatch):
    """The decision-maker (no enterprise figures) gets the rent payback only, and the report says why."""
    from planner.report.text import fmt
    from planner.workflow import operations

    raw = []
    real = operations.scenario_sensitivity
    monkeypatch.setattr(operations, "scenario_sensitivity", lambda *a, **k: raw.append(real(*a, **k)) or raw[-1])
    made = _downloads(monkeypatch)
    at = _compare_page(office, monkeypatch, "dee")
    at.checkbox(key="cmp_sens").check().run()
    assert not at.exception, [e.message for e in at.exception]
    html = made["html"]().decode("utf-8")
    section = html[html.index("<h2>敏感性分析"):html.index("<h2>模型假设")]
    assert "仅计租金回收期（年）" in section and "租金+税收回收期（年）" not in section  # the table's and the chart's
    assert "租金+税收回收期 " not in section and "亩均税收（元/亩）" not in section  # the range, the parameter
    assert "以企业税收为基础的指标" in section
    note = "企业税收与产值（及其派生指标）对您的角色（决策人员）不可见。"
    assert note in html[:html.index("<h2>")]  # the comparison's blanks ("–") explained at the top
    first = pdfium.PdfDocument(made["pdf"]())[0].get_textpage().get_text_range()
    assert "对您的角色（决策人员）不可见" in first.replace("\r\n", "").replace("\n", "")
    hidden = {fmt(v, c.rsplit("_", 1)[0], "zh") for t in raw for c in t.columns
              if c.startswith(("fiscal_payback_years", "tax_after_cny")) for v in t[c]}
    visible = {fmt(v, c.rsplit("_", 1)[0], "zh") for t in raw for c in t.columns if c.startswith("payback_years")
               for v in t[c]}
    assert hidden - visible  # there is something to find
    cells = [c for r in _sheet_rows(made["xlsx"](), "Sensitivity 敏感性") for c in r]
    assert not [c for c in cells if isinstance(c, str) and c.startswith(("租金+税收", "亩均税收", "改造后年税收"))]
    assert not (hidden - visible) & set(section.replace("<", " ").replace(">", " ").split())


def test_the_command_line_under_a_decision_makers_role_blanks_what_starts_from_tax(city, tmp_path, monkeypatch):
    """``PLANNER_ROLE=decision_maker planner scenario compare`` printed and wrote "Tax after 1,160.6" and the rent + tax
    payback while the app blanked them for that role (and its sensitivity section left them out, under a table that
    had them): the command line now blanks them as the app does, and the report says why."""
    def tax_line(out: str) -> list[str]:
        return next(x for x in out.splitlines() if x.strip().startswith("Tax after")).split()[-4:]

    plain = cli("scenario", "compare", *SCENARIOS, "-w", str(city), "--lang", "en", cwd=tmp_path).stdout
    secret = tax_line(plain)[:2]
    assert all(any(ch.isdigit() for ch in v) for v in secret), secret  # a planner sees them
    monkeypatch.setenv("PLANNER_ROLE", "decision_maker")
    out = cli("scenario", "compare", *SCENARIOS, "-w", str(city), "--lang", "en", "--sensitivity", "--out",
              str(tmp_path / "dm.html"), cwd=tmp_path).stdout
    assert tax_line(out) == ["–", "–", "–", "–"], tax_line(out)
    html = (tmp_path / "dm.html").read_text(encoding="utf-8")
    assert not [v for v in secret if f">{v}<" in html]
    note = "Enterprise tax and output (and figures derived from them) are hidden for your role (Decision-maker)."
    assert note in html[:html.index("<h2>")]  # the blanks explained at the top, as the scenario reports do
    section = html[html.index("<h2>Sensitivity"):html.index("<h2>Assumptions")]
    assert "Payback, rent only (yr)" in section and "Payback, rent + tax (yr)" not in section
    assert "left out for this role" in section
    cli("scenario", "compare", *SCENARIOS, "-w", str(city), "--lang", "en", "--out", str(tmp_path / "dm.xlsx"),
        cwd=tmp_path)
    rows = _sheet_rows((tmp_path / "dm.xlsx").read_bytes(), "Comparison")
    assert [r[0] for r in rows].count(note) == 1, rows  # the workbook's empty cells explained too, under its figures
    tax = next(r for r in rows if str(r[0]).startswith("Tax after"))
    assert all(v is None for v in tax[1:]), tax
    # a scenario's own report says why, as the app's does
    run = cli("scenario", "run", SCENARIOS[0], "-w", str(city), "--lang", "en", "--no-save", "--out",
              str(tmp_path / "run"), cwd=tmp_path).stdout
    assert "Tax after (million yuan/yr)" in run and secret[0] not in run
    one = (tmp_path / "run" / "conservative_top10.html").read_text(encoding="utf-8")
    assert note in one


def test_a_scenario_on_several_templates_or_on_no_site_says_so_in_its_section(city, capsys):
    """Values per parameter exist only for a scenario on one template; a scenario that selects no site has no payback
    to vary (its section was a table of parameter values with empty figures)."""
    from planner import scenarios as S
    from planner import workflow as W
    from planner.cli.scenario import _print_sensitivity
    from planner.io.store import open_store
    from planner.report import compare_html
    from planner.report.pdf import comparison_pdf

    store = open_store(str(city))
    mixed = W.ScenarioDoc(S.Scenario(name="mixed", sites=S.SiteSelection(top=3), site_templates={"S0001": "multi_storey"}))
    none = W.ScenarioDoc(S.Scenario(name="none", sites=S.SiteSelection(top=3, where={"min_area_m2": 1e12})))
    runs = [W.run_stored_scenario(store, d) for d in (mixed, none)]
    sections = W.runs_sensitivity(runs)
    cmp = W.compare_runs(runs)
    html = compare_html(cmp, lang="en", sensitivity=sections)
    section = html[html.index("<h2>Sensitivity"):html.index("<h2>Assumptions")]
    assert "uses several park templates: each one&#x27;s values are under Assumptions" in section
    assert "Value (−20%" not in section and "Payback, rent only (yr) −20%" in section
    assert "This scenario has no payback to vary (it selects no sites, or earns no rent)." in section
    assert section.count("data:image/png") == 1  # the one tornado
    pdf = pdf_text(comparison_pdf(cmp, lang="zh", sensitivity=sections)).replace("\r\n", "").replace("\n", "")
    assert "本情景没有可计算的回收期" in pdf and "各模板的参数值见“模型假设”" in pdf
    for s in sections:
        _print_sensitivity(s, "zh")
    out = capsys.readouterr().out
    assert "本情景使用多个园区模板" in out and "本情景没有可计算的回收期" in out
