"""Nothing a decision-maker downloads gives away a figure hidden from them (QA finding 3).

The decision-maker (no ``see_enterprise_figures``) saw "Tax after" blanked in the scenario summary, but the sites
sheet kept 改造后亩均税收 (x land area = the hidden tax after, retained enterprises' tax included) and the
year-by-year sheet and the HTML table kept the tax of the new space the summary blanked. Here the decision-maker
opens every page with downloads, each download is made as a click would make it, and every number in every file
is compared with every hidden figure of the same runs: as it is, per mu and per m² of land, and in the units the
reports use (万, 亿, million).
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.runtime.media_file_manager import MediaFileManager

from planner.io.store import GpkgStore
from tests.test_roles import _app, _sign_in, build_office

#: Words that make a result column a tax or output figure (or one computed from them: the fiscal payback).
WORDS = {"tax", "output", "fiscal"}
MU_M2 = 10_000 / 15
#: How a figure may be shown: as it is, and in the reports' units (万, 亿, million, thousand).
SCALES = (1.0, 1e4, 1e8, 1e6, 1e3)


@pytest.fixture(scope="module")
def office(tmp_path_factory) -> Path:
    """The office workspace with a second saved scenario that keeps the existing buildings (their tax counts)."""
    from planner import scenarios

    ws = build_office(tmp_path_factory.mktemp("office") / "ws.gpkg")
    GpkgStore(ws).save_doc("scenario", "keep_all", scenarios.Scenario(
        name="keep_all", existing="retain", sites=scenarios.SiteSelection(top=6)).to_dict())
    return ws


def _hidden(name) -> bool:
    return bool(WORDS.intersection(str(name).split("_")))


def _finite(values) -> np.ndarray:
    v = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(float)
    return v[np.isfinite(v) & (np.abs(v) > 1e-9)]


def _secrets(results) -> tuple[np.ndarray, dict[str, set[str]]]:
    """Every hidden figure of the runs, with its per-mu and per-m² forms, in every unit; and as the reports format
    them (``{text}`` per language) minus what a visible figure formats to as well."""
    from planner.report.text import fmt

    vals: list[np.ndarray] = []
    shown: dict[str, set[str]] = {"zh": set(), "en": set()}
    seen: dict[str, set[str]] = {"zh": set(), "en": set()}
    for r in results:
        sites, tl, tot = pd.DataFrame(r.sites), r.timeline, r.totals
        land = pd.to_numeric(sites.get("land_area_m2"), errors="coerce").to_numpy(float)
        frames = [(sites, land), (tl, None)]
        for df, area in frames:
            for c in df.columns:
                col = pd.to_numeric(df[c], errors="coerce")
                if not pd.api.types.is_numeric_dtype(col):
                    continue
                target = shown if _hidden(c) else seen
                for lg in ("zh", "en"):
                    target[lg].update(fmt(float(x), str(c), lg) for x in _finite(col))
                if not _hidden(c):
                    continue
                v = col.to_numpy(float)
                vals.append(_finite(v))
                if area is not None:
                    vals += [_finite(v / area), _finite(v / (area / MU_M2))]
        for k, x in tot.items():
            x = pd.to_numeric(pd.Series([x]), errors="coerce").iloc[0]
            if not np.isfinite(x) or abs(x) < 1e-9:
                continue
            target = shown if _hidden(k) else seen
            for lg in ("zh", "en"):
                target[lg].add(fmt(float(x), str(k), lg))
            if _hidden(k):
                land_t = float(tot["land_area_m2"])
                vals.append(np.array([x, x / land_t, x / (land_t / MU_M2)]))
    base = np.unique(np.concatenate(vals)) if vals else np.zeros(0)
    every = np.unique(np.concatenate([base / s for s in SCALES]))
    # a formatted hidden figure that a visible one also formats to proves nothing; short ones match by chance
    texts = {lg: {t for t in shown[lg] - seen[lg] if _telling(t)} for lg in shown}
    return every, texts


def _telling(text: str) -> bool:
    """Whether a formatted number has 4 significant digits or more (6, 4,000 or 1.27 match by chance)."""
    try:
        x = float(text.replace(",", ""))
    except ValueError:
        return False
    return float(f"{x:.3g}") != x


def _numbers_in(name: str, data: bytes, tmp: Path) -> tuple[np.ndarray, str]:
    """The numbers (cells, attributes) and the text of a downloaded file."""
    low = name.lower()
    if low.endswith(".xlsx"):
        import openpyxl

        wb = openpyxl.load_workbook(io.BytesIO(data), data_only=True)
        cells = [c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row]
        return _finite([c for c in cells if isinstance(c, (int, float))]), " ".join(
            str(c) for c in cells if isinstance(c, str))
    if low.endswith((".gpkg", ".zip")):
        import pyogrio

        suffix = ".gpkg" if low.endswith(".gpkg") else ".shp.zip"
        path = tmp / f"download{suffix}"
        path.write_bytes(data)
        layers = [x[0] for x in pyogrio.list_layers(str(path))] if suffix == ".gpkg" else [None]
        nums = [pyogrio.read_dataframe(str(path), layer=lay).select_dtypes("number").to_numpy(float).ravel()
                for lay in layers]
        return _finite(np.concatenate(nums) if nums else []), ""
    if low.endswith(".pdf"):
        pdfium = pytest.importorskip("pypdfium2", reason="pypdfium2 reads the PDF (test extra)")
        doc = pdfium.PdfDocument(data)
        text = "\n".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
        return np.zeros(0), text
    if low.endswith(".html"):
        text = re.sub(r"<[^>]+>", " ", data.decode("utf-8"))
        text = re.sub(r"data:image/[^\s\"')]+", " ", text)
        return np.zeros(0), text
    raise AssertionError(f"a download of a kind this test does not read: {name}")


def _labels(results) -> list[str]:
    """The labels of the hidden figures as the reports print them, longest first, in both languages."""
    from planner.report.text import label

    keys = {str(k) for r in results for k in (*pd.DataFrame(r.sites).columns, *r.timeline.columns, *r.totals.index)
            if _hidden(k)}
    out = {label(k, lg, unit=u) for k in keys for lg in ("zh", "en") for u in (True, False)}
    return sorted((x for x in out if x and x not in keys), key=len, reverse=True)


def _labelled(name: str, text: str, labels: list[str]) -> list[str]:
    """A figure printed after its label ("改造后年税收（亿元/年） 0.0432" in a brief's table) that is not a dash."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        hit = next((lab for lab in labels if line.startswith(lab)), None)
        if hit and re.search(r"\d", line[len(hit):]):
            out.append(f"{name}: {line}")
    return out


def _leaks(name: str, data: bytes, every: np.ndarray, texts: dict[str, set[str]], tmp: Path,
           labels: list[str]) -> list[str]:
    nums, text = _numbers_in(name, data, tmp)
    out = _labelled(name, text, labels)
    if len(every) and len(nums):
        i = np.clip(np.searchsorted(every, nums), 1, len(every) - 1)
        near = np.minimum(np.abs(every[i] - nums), np.abs(every[i - 1] - nums))
        hit = nums[near <= 1e-9 * np.abs(nums)]
        # a round number (6 years, 4,000 m²) is everywhere; a figure with 4 significant digits or more is not
        out += [f"{name}: {float(n)!r}" for n in hit if float(f"{n:.3g}") != n]
    if text:
        tokens = set(re.findall(r"-?[\d,]*\d(?:\.\d+)?", text))
        for lg in ("zh", "en"):
            out += [f"{name}: {t} ({lg})" for t in sorted(texts[lg] & tokens)]
    return out


def test_nothing_a_decision_maker_downloads_holds_a_hidden_figure(office, monkeypatch, tmp_path):
    from planner.ui import results

    made: list[tuple[str, object]] = []
    real_add = MediaFileManager.add_deferred

    def add_deferred(self, data_callable, mimetype, coordinates, file_name=None, **kw):
        made.append((file_name or "", data_callable))
        return real_add(self, data_callable, mimetype, coordinates, file_name, **kw)

    runs = []
    real_run = results._run

    def run(*a, **kw):  # the runs as computed, before the page blanks them for this role
        out = real_run(*a, **kw)
        runs.append(out.result)
        return out

    monkeypatch.setattr(MediaFileManager, "add_deferred", add_deferred)
    monkeypatch.setattr(results, "_run", run)
    at = _sign_in(_app(office, monkeypatch), "dee")
    for page in ("explorer", "sites", "compare", "scenarios"):
        at.switch_page(f"views/{page}.py").run()
        assert not at.exception, (page, [e.message for e in at.exception])
    at.selectbox(key="sc_exist").set_value("retain").run()  # the retained enterprises' tax counts in "after"
    next(b for b in at.button if b.label == "计算").click().run()
    assert not at.exception, [e.message for e in at.exception]
    names = {n for n, _ in made}
    assert {n.rsplit(".", 1)[-1] for n in names} >= {"xlsx", "html", "pdf", "gpkg", "zip"}, names
    every, texts = _secrets(runs)
    labels = _labels(runs)
    assert len(every) > 100 and sum(map(len, texts.values())) > 10  # there is something to find
    leaks = []
    for name, make in made:
        data = make()
        leaks += _leaks(name, data if isinstance(data, bytes) else str(data).encode(), every, texts, tmp_path,
                        labels)
    assert not leaks, leaks[:60]


def test_the_sensitivity_leaves_out_what_starts_from_enterprise_tax_for_a_decision_maker(office, monkeypatch):
    from planner.ui import keys

    at = _sign_in(_app(office, monkeypatch), "dee")
    at.switch_page("views/scenarios.py").run()
    at.button(key="sc_sens_btn").click().run()
    assert not at.exception, [e.message for e in at.exception]
    table = at.session_state[keys.SCENARIO_SENSITIVITY]["table"]
    assert "tax_per_mu" not in set(table["parameter"])
    assert not [c for c in table.columns if c.startswith(("fiscal_payback", "tax_after"))]
    assert "payback_years_base" in table.columns
