"""``planner scenario run`` and ``planner brief`` say when the stored sites no longer match the workspace.

The command line has no draft: what the sites are checked against is what the workspace holds now, what
``planner classify`` and ``planner sites`` would build from with no options: the current survey, the rules saved
for the sites' policy, the policy's current flags (and enterprise table), the site settings saved for it. Each
warning says what to run; sites built on purpose with other settings are said to be so, naming them. Right after
``planner classify`` and ``planner sites`` nothing is said.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from planner import workflow as W
from planner.classify import policy as pol
from planner.cli import main
from planner.i18n import workspace_option
from planner.io.store import GpkgStore, open_store
from planner.sites import SiteParams
from planner.workflow.briefs import stored_site_briefs
from tests.e2e._workspace import build_workspace

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = str(ROOT / "scenarios" / "conservative_top10.toml")


@pytest.fixture
def store(tmp_path) -> GpkgStore:
    return GpkgStore(build_workspace(tmp_path / "ws.gpkg"))


def _built(uri: str, *sites_options: str) -> None:
    assert main(["classify", "-w", uri]) == 0
    assert main(["sites", "-w", uri, *sites_options]) == 0


def _run(uri: str, capsys, lang: str = "en", *more: str) -> str:
    """What ``planner scenario run`` prints on stderr (not saving the scenario)."""
    capsys.readouterr()
    assert main(["scenario", "run", SCENARIO, "-w", uri, "--no-save", "--lang", lang, *more]) == 0
    return capsys.readouterr().err


def _edited_rules(store) -> W.PolicyDoc:
    """What the rules page's save does: edited rules as the next version of policy/default."""
    doc = W.PolicyDoc(dataclasses.replace(pol.default_policy(), min_criteria=1, description="edited"))
    W.save_document(store, doc, user="alice")
    return doc


def _said(err: str) -> list[str]:
    return [line for line in err.splitlines() if "stored sites" in line or "已存储的片区结果" in line]


def test_a_fresh_build_says_nothing_also_under_rules_and_settings_saved_in_the_app(store, capsys):
    uri = str(store.path)
    _built(uri)
    assert _said(_run(uri, capsys)) == []
    assert W.operations.sites_staleness(store, W.read_sites(store, with_flags=False)) == []
    # rules and site settings saved in the app first: classify and sites use them, and the check compares with them
    _edited_rules(store)
    W.save_document(store, W.SiteParamsDoc(name="default", params=SiteParams(gap_m=7.5, min_area_m2=1234.0)))
    _built(uri)
    assert _said(_run(uri, capsys)) == [] and _said(_run(uri, capsys, "zh")) == []


def test_new_rules_saved_since_warn_in_both_languages_with_the_commands(store, capsys):
    uri = str(store.path)
    _built(uri)
    _edited_rules(store)
    ws = workspace_option(uri)
    (line,) = _said(_run(uri, capsys))
    assert line.startswith("warning: the stored sites 'default' are out of date: built under policy 'default' (")
    assert "(saved as policy/default version 2)" in line
    assert f"to rebuild them, run `planner classify {ws}`, then `planner sites {ws}`" in line
    (line,) = _said(_run(uri, capsys, "zh"))
    assert line.startswith("警告：已存储的片区结果 default 已过期：基于识别规则 default（")
    assert "（已保存为 policy/default 第 2 版）" in line
    assert f"先运行 `planner classify {ws}`，再运行 `planner sites {ws}`" in line
    # classified under the new rules: only the sites to build (the flags are of the saved rules already)
    assert main(["classify", "-w", uri]) == 0
    said = _said(_run(uri, capsys))
    assert len(said) == 2 and "classified again since (flags/default v2 now: rules " in said[1]
    assert all(s.endswith(f"to rebuild them, run `planner sites {ws}`") for s in said), said
    assert main(["sites", "-w", uri]) == 0
    assert _said(_run(uri, capsys)) == []


def test_flags_classified_again_with_a_new_enterprise_table_warn(store, tmp_path, capsys):
    from planner.workflow.enterprises import ingest_enterprises
    from tests.test_enterprise import A, B, write_links, write_table

    uri = str(store.path)
    _built(uri)
    assert main(["classify", "-w", uri]) == 0  # the same inputs again: the same flags, nothing to say
    assert _said(_run(uri, capsys)) == []
    links = write_links(tmp_path / "l.csv", [["宗地代码", "统一社会信用代码", "使用方式"], ["r0c0", A, "自有"],
                                             ["r0c1", B, "自有"]])
    ingest_enterprises(write_table(tmp_path / "t.xlsx"), store, link=links)
    ws = workspace_option(uri)
    (line,) = _said(_run(uri, capsys))  # published, not classified yet: both commands
    assert "classified with no enterprise table; the current enterprise table is v1" in line
    assert f"run `planner classify {ws}`, then `planner sites {ws}`" in line
    assert main(["classify", "-w", uri]) == 0
    (line,) = _said(_run(uri, capsys))
    assert ("are out of date: built from flags/default v1; policy 'default' was classified again since "
            "(flags/default v3 now: enterprise table v1, was none)") in line
    assert line.endswith(f"to rebuild them, run `planner sites {ws}`")
    (line,) = _said(_run(uri, capsys, "zh"))
    assert "基于三低识别结果 flags/default 第 1 版，此后规则 default 已重新识别（当前为第 3 版：企业表 v1，原为无）" in line
    assert main(["sites", "-w", uri]) == 0
    assert _said(_run(uri, capsys)) == []


def test_other_settings_than_the_saved_ones_are_named_not_called_an_error(store, capsys):
    uri = str(store.path)
    _built(uri)
    W.save_document(store, W.SiteParamsDoc(name="default", params=SiteParams(gap_m=7.5)))  # saved in the app since
    ws = workspace_option(uri)
    (line,) = _said(_run(uri, capsys))
    assert line == ("warning: the stored sites 'default' were built with other site settings than those saved for "
                    "policy 'default': gap_m 2 (saved: 7.5); to build them with the saved settings, run "
                    f"`planner sites {ws}`")
    (line,) = _said(_run(uri, capsys, "zh"))
    assert line == ("警告：已存储的片区结果 default 所用片区设置与规则 default 已保存的设置不同：gap_m 为 2（已保存：7.5）；"
                    f"如需按已保存的设置重新生成，请运行 `planner sites {ws}`")
    assert "out of date" not in _run(uri, capsys)
    # built on purpose with other settings, not saved: said so, naming them; with the saved ones, nothing
    assert main(["sites", "-w", uri, "--gap", "5", "--no-barriers"]) == 0
    (line,) = _said(_run(uri, capsys))
    assert "were built with other site settings than those saved for policy 'default': gap_m 5 (saved: 7.5)" in line
    assert "use_barriers false (saved: true)" in line
    assert main(["sites", "-w", uri]) == 0
    assert _said(_run(uri, capsys)) == []


def test_planner_brief_says_it_too(store, tmp_path, capsys):
    uri = str(store.path)
    _built(uri)
    capsys.readouterr()
    assert main(["brief", "-w", uri, "--top", "1", "--out", str(tmp_path / "b.pdf"), "--lang", "en"]) == 0
    assert _said(capsys.readouterr().err) == []
    _edited_rules(store)
    (b,) = stored_site_briefs(open_store(uri), top=1)
    assert len(b.warnings) == 1 and "built under policy 'default'" in b.warnings[0][0]
    assert main(["brief", "-w", uri, "--top", "1", "--out", str(tmp_path / "b.pdf"), "--lang", "zh"]) == 0
    (line,) = _said(capsys.readouterr().err)
    assert line.startswith("警告：已存储的片区结果 default 已过期：基于识别规则 default（")


def test_the_sample_city_built_with_defaults_says_nothing(sample_city_uri, capsys):
    """The bundled sample (barriers, protected land): a build with the defaults is up to date; one without the
    barriers is said to be, naming the switch."""
    _built(sample_city_uri)
    assert _said(_run(sample_city_uri, capsys)) == []
    assert main(["sites", "-w", sample_city_uri, "--no-barriers"]) == 0
    (line,) = _said(_run(sample_city_uri, capsys))
    assert "other site settings than those saved for policy 'default': use_barriers false (saved: true)" in line


def _pdf_text(path: Path) -> str:
    """The PDF's text, its lines joined; its first page rendered to tests/artifacts/<stem>.png to be looked at."""
    pdfium = pytest.importorskip("pypdfium2", reason="pypdfium2 reads the PDF's text (test extra)")
    doc = pdfium.PdfDocument(str(path))
    artifacts = ROOT / "tests" / "artifacts"
    artifacts.mkdir(exist_ok=True)
    doc[0].render(scale=1.4).to_pil().save(artifacts / f"stale_{path.stem}.png")
    return "".join(doc[i].get_textpage().get_text_range() for i in range(len(doc))).replace("\r\n", "")


def test_a_brief_pdf_of_out_of_date_sites_says_so_on_the_page(store, tmp_path, capsys):
    """The printed brief is what gets forwarded: it says the sites are out of date as the command's stderr does;
    built with other settings, a note names them; up to date, neither."""
    uri = str(store.path)
    _built(uri)
    out = tmp_path / "b.pdf"

    def brief(lang: str) -> str:
        assert main(["brief", "-w", uri, "--top", "1", "--out", str(out), "--lang", lang]) == 0
        return _pdf_text(out).replace(" ", "")

    # one brief a state, the languages taken in turn (both languages of each box: test_report_pdf)
    text = brief("en")
    assert "Outofdate" not in text and "Note:" not in text
    W.save_document(store, W.SiteParamsDoc(name="default", params=SiteParams(gap_m=7.5)))
    text = brief("zh")
    assert "说明：本简报所依据的已存储片区结果所用设置与已保存的设置不同" in text and "已过期" not in text
    assert "gap_m为2（已保存：7.5）" in text
    _edited_rules(store)
    text = brief("en")
    assert "Outofdate:thestoredsitesthisbriefrestsonnolongermatch" in text
    assert "Thestoredsites'default'areoutofdate:builtunderpolicy'default'(" in text
    assert "(savedaspolicy/defaultversion2)" in text


def test_scenario_compare_of_out_of_date_sites_says_so_and_its_reports_too(store, tmp_path, capsys):
    """``planner scenario compare`` runs each scenario on the stored sites: out of date, it says so once (not once a
    scenario), and the comparison report (HTML, Excel, PDF) says so beside its other notes."""
    import html

    from openpyxl import load_workbook

    uri = str(store.path)
    _built(uri)
    other = str(ROOT / "scenarios" / "phased_budget.toml")

    def compare(lang: str, suffix: str) -> tuple[list[str], str]:
        out = tmp_path / f"cmp_{lang}{suffix}"
        capsys.readouterr()
        assert main(["scenario", "compare", SCENARIO, other, "-w", uri, "--lang", lang, "--out", str(out)]) == 0
        err = capsys.readouterr().err
        if suffix == ".html":
            text = html.unescape(out.read_text(encoding="utf-8"))
        elif suffix == ".xlsx":
            wb = load_workbook(out, read_only=True)
            text = "\n".join(str(c) for ws in wb.worksheets for row in ws.iter_rows(values_only=True)
                             for c in row if c is not None)
        else:
            text = _pdf_text(out)
        return _said(err), text

    said, text = compare("en", ".html")
    assert said == [] and "stored sites" not in text
    _edited_rules(store)
    for suffix in (".html", ".xlsx", ".pdf"):
        said, text = compare("en", suffix)
        (line,) = said  # once for the two scenarios
        assert line.startswith("warning: the stored sites 'default' are out of date: built under policy 'default' (")
        reason = line.removeprefix("warning: ")
        if suffix == ".pdf":  # wrapped lines
            text, reason = text.replace(" ", ""), reason.replace(" ", "")
            assert "Warning:" + reason in text, suffix
        else:
            assert "Warning: " + reason in text, suffix
        said, text = compare("zh", suffix)
        (line,) = said
        assert line.startswith("警告：已存储的片区结果 default 已过期：基于识别规则 default（")
        assert (line.replace(" ", "") in text.replace(" ", "")) if suffix == ".pdf" else line in text, suffix


def test_the_reports_of_a_scenario_run_on_out_of_date_sites_say_so(store, tmp_path, capsys):
    """``planner scenario run --out DIR`` writes the scenario's HTML, Excel and PDF reports: run on out-of-date
    sites, each says so beside the policy it names, as a comparison does; up to date, none does."""
    import html

    from openpyxl import load_workbook

    uri = str(store.path)
    _built(uri)

    def reports(tag: str) -> dict[str, str]:
        out = tmp_path / tag
        assert main(["scenario", "run", SCENARIO, "-w", uri, "--out", str(out), "--no-save", "--lang", "en"]) == 0
        capsys.readouterr()
        (h,), (x,), (p,) = (sorted(out.glob(f"*.{s}")) for s in ("html", "xlsx", "pdf"))
        wb = load_workbook(x, read_only=True)
        cells = "\n".join(str(c) for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for c in row
                          if c is not None)
        return {"html": html.unescape(h.read_text(encoding="utf-8")), "xlsx": cells,
                "pdf": _pdf_text(p).replace(" ", "")}

    assert not any("stored sites" in t or "storedsites" in t for t in reports("fresh").values())
    _edited_rules(store)
    for kind, text in reports("stale").items():
        said = "Warning:thestoredsites'default'areoutofdate" if kind == "pdf" else \
            "Warning: the stored sites 'default' are out of date: built under policy 'default'"
        assert said in text, kind
