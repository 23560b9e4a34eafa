"""Exports of scenario results: Excel workbook, GeoPackage/GeoJSON, standalone HTML.

The HTML report is one self-contained file a decision-maker can open offline:
no script, style or image is fetched from anywhere (charts and the map are
inline PNG images rendered with matplotlib). Text is in Simplified Chinese
(``lang="zh"``, default) or English (``lang="en"``), chart text included: the
CJK font is a dependency (``noto-cjk-sans-otc``). The PDFs (:mod:`~planner.report.pdf`)
print on A4 with that font embedded.

This package writes files (it is the report edge of the library); the model
itself stays in :mod:`planner.scenarios` and :mod:`planner.scenarios.comparison`.

- :mod:`~planner.report.text`: labels, sentences and number formats in both languages;
- :mod:`~planner.report.charts`: static charts and maps (matplotlib);
- :mod:`~planner.report.excel`, :mod:`~planner.report.html`, :mod:`~planner.report.pdf` (and :mod:`~planner.report.brief`),
  :mod:`~planner.report.geodata`: the files.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from planner.report.excel import compare_to_excel, to_excel
from planner.report.geodata import SITE_COLUMNS, has_geometry, write_sites
from planner.report.html import compare_html, html_report, write_html
from planner.report.text import fmt
from planner.scenarios.model import ScenarioResult

#: Longest file stem in bytes (UTF-8): file systems allow 255 bytes a name, and a comparison of three long
#: scenario names made a 447-character download name.
MAX_STEM_BYTES = 120


def file_stem(name: str, *, ascii_only: bool = False) -> str:
    """The file name (without suffix) reports of ``name`` are saved under: letters, digits, ``-`` and ``_``
    (``ascii_only``: Latin letters only, for downloads that zip tools on a Chinese Windows open); anything else
    becomes ``_``. A name longer than :data:`MAX_STEM_BYTES` is cut and ends with a hash of the whole name, so
    two long names still get two files.

    >>> file_stem("上楼 方案/A"), file_stem("上楼 A", ascii_only=True), len(file_stem("x" * 300).encode())
    ('上楼_方案_A', 'A', 120)
    """
    ok = (lambda ch: ch.isascii() and ch.isalnum()) if ascii_only else str.isalnum
    stem = "".join(ch if ok(ch) or ch in "-_" else "_" for ch in name)
    if ascii_only:
        stem = re.sub(r"_+", "_", stem).strip("_") or "report"
    if len(stem.encode("utf-8")) <= MAX_STEM_BYTES:
        return stem
    tag = "_" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:10]
    cut = stem.encode("utf-8")[: MAX_STEM_BYTES - len(tag)].decode("utf-8", errors="ignore")
    return cut + tag


def export_all(result: ScenarioResult, out_dir: str | Path, *, lang: str = "zh", background=None,
               sensitivity=None) -> dict[str, Path]:
    """Write ``<name>.xlsx``, ``<name>.html``, ``<name>.pdf`` (A4) and (with geometry) ``<name>.gpkg`` into ``out_dir``;
    ``sensitivity`` (:func:`planner.workflow.runs_sensitivity` of the run): a section in the first three."""
    from planner.io.writers import replacing
    from planner.report.charts import scenario_charts
    from planner.report.pdf import scenario_pdf

    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    safe = file_stem(result.name)
    charts = scenario_charts(result, lang, background=background)  # drawn once for the HTML and the PDF
    writers = {"xlsx": lambda p: to_excel(result, p, lang=lang, sensitivity=sensitivity),
               "html": lambda p: write_html(result, p, lang=lang, background=background, charts=charts,
                                            sensitivity=sensitivity),
               "pdf": lambda p: p.write_bytes(scenario_pdf(result, lang=lang, background=background, charts=charts,
                                                           sensitivity=sensitivity))}
    if has_geometry(result.sites):
        writers["gpkg"] = lambda p: write_sites(result, p, lang=lang)
    out = {}
    for kind, write in writers.items():
        out[kind] = d / f"{safe}.{kind}"
        with replacing(out[kind]) as tmp:  # a report of an earlier run stays whole until the new one is
            write(tmp)
    return out



__all__ = ["SITE_COLUMNS", "compare_html", "compare_to_excel", "export_all", "file_stem", "fmt", "has_geometry",
           "html_report", "to_excel", "write_html", "write_sites"]
