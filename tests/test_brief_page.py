"""The one-page site brief (一地一策) as its reader sees it: names whole where the page has room, the assembly
difficulty in points with what they count. Pages are made by the CLI from a copy of the sample city and read
back as text (pypdfium2); they are rendered to tests/artifacts/ to be looked at."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from planner.cli import main

pdfium = pytest.importorskip("pypdfium2", reason="pypdfium2 reads the PDF pages (test extra)")
SAMPLE = Path(__file__).resolve().parents[1] / "gis_data" / "sample_city.gpkg"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    ws = tmp_path_factory.mktemp("brief") / "city.gpkg"
    shutil.copy(SAMPLE, ws)
    assert main(["classify", "-w", str(ws)]) == 0 and main(["sites", "-w", str(ws)]) == 0
    return ws


def _brief(ws, tmp_path, lang: str, *more) -> list[str]:
    out = tmp_path / f"brief_page_{lang}.pdf"
    assert main(["brief", "--top", "2", "-w", str(ws), "--out", str(out), "--lang", lang, *more]) == 0
    doc = pdfium.PdfDocument(str(out))
    ARTIFACTS.mkdir(exist_ok=True)
    texts = []
    for i in range(len(doc)):
        doc[i].render(scale=1.4).to_pil().save(ARTIFACTS / f"brief_page_{lang}_{i + 1}.png")
        texts.append(doc[i].get_textpage().get_text_range().replace("\r\n", "\n"))
    return texts


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_brief_lists_owner_and_enterprise_names_whole(city, tmp_path, lang, capsys):
    """The parcel list cut every name over 11 characters ("晋江市鑫华塑料制品有…") in columns of a fixed width,
    beside role, class and building columns half empty: the page had room for the whole names."""
    from planner.io.store import open_store

    survey = open_store(str(city)).read_layer("survey").set_index("parcel_id")
    for page in _brief(city, tmp_path, lang):
        listed = [line for line in page.split("\n") if line.split(" ")[0] in survey.index]
        assert len(listed) >= 8, page  # the list is there, and as long as before
        assert "…" not in page
        for line in listed:
            row = survey.loc[line.split(" ")[0]]
            assert f" {row['owner']} " in line and f" {row['enterprise']} " in line, line
    capsys.readouterr()


@pytest.mark.parametrize(("lang", "shown", "scale"), [
    ("zh", "实施难度（分） {n}", "实施难度：权利人 1 分/个，企业 1 分/家，内部保留地块 2 分/宗。"),
    ("en", "Assembly difficulty (points) {n}",
     "Difficulty points: 1 per land-right holder, 1 per enterprise, 2 per retained parcel inside (higher is harder)."),
])
def test_brief_shows_assembly_difficulty_in_points(city, tmp_path, lang, shown, scale, capsys):
    """The difficulty read "137.00", a score's two decimals on a count of owners, enterprises and retained
    parcels (DifficultyWeights), with no word of its scale."""
    from planner.io.store import open_store

    sites = open_store(str(city)).read_layer("sites", "default").set_index("site_id")
    for page in _brief(city, tmp_path, lang):
        sid = re.search(r"S\d{4}", page.split("\n")[0])[0]  # the title: 一地一策 · 片区 S0001
        n = sites.loc[sid, "difficulty"]
        assert n == int(n) > 9  # owners + enterprises + 2 x retained: a whole number of points
        assert shown.format(n=f"{int(n)}") + "\n" in page, page
        assert f"{n:.2f}" not in page
        assert scale in page.replace("\n", " " if lang == "en" else "")
    capsys.readouterr()


def test_brief_difficulty_scale_follows_the_weights_the_sites_were_built_with():
    from planner.report.brief import _difficulty_scale

    prov = {"site_params": {"difficulty": {"owners": 1.5, "enterprises": 0.5, "retained": 3}}}
    assert _difficulty_scale(prov, "zh") == "实施难度：权利人 1.5 分/个，企业 0.5 分/家，内部保留地块 3 分/宗。"
    assert _difficulty_scale(prov, "en").startswith("Difficulty points: 1.5 per land-right holder, 0.5 per enterprise")


def test_a_name_too_long_for_any_room_is_cut_and_the_figures_keep_their_columns():
    """When the names do not fit, the figures beside them keep their widths; the shorter name column gets what it
    needs, the longer one the rest, and only it is cut."""
    from planner.report.brief import _parcel_widths
    from planner.report.pdf import WIDTH, _Doc

    pdf = _Doc("zh", "", "t")
    pdf.add_page()
    pdf.set_font("cjk", size=6.3)
    cols = ["parcel_id", "owner", "enterprise", "land_area_m2"]
    head = ["地块编号", "权利人", "企业", "用地面积（㎡）"]
    long, short = "福建省泉州市晋江市" * 12, "晋江市鑫华塑料制品有限公司"
    w = _parcel_widths(pdf, [head, ["350582014003GB00016", long, short, "65,487"]], cols)
    assert sum(w) == pytest.approx(WIDTH)
    assert w[3] >= pdf.get_string_width("65,487") + 2.2 and w[0] >= pdf.get_string_width("350582014003GB00016") + 2.2
    assert w[2] >= pdf.get_string_width(short) + 2.2 and w[1] < pdf.get_string_width(long)
    assert pdf.fit(short, w[2] - 2.2) == short and pdf.fit(long, w[1] - 2.2).endswith("…")


def test_sites_command_prints_difficulty_in_whole_points(city, capsys):
    """`planner sites` printed the difficulty of its top ten as "137.00"."""
    capsys.readouterr()
    assert main(["sites", "-w", str(city), "--lang", "zh"]) == 0
    out = capsys.readouterr().out.splitlines()
    head = next(i for i, line in enumerate(out) if line.split()[:2] == ["排名", "片区编号"])
    col = out[head].split().index("实施难度（分）")
    values = [line.split()[col] for line in out[head + 1:head + 11]]
    assert values and all(v.replace(",", "").isdigit() for v in values), values
