"""The layer catalogue says what each result was built on (``planner info`` and the data manager's layer table):
the survey version of flags and sites, the one now current when that is another, the rules and enterprise table of
a classification, the flags version of sites."""

from __future__ import annotations

import pytest

from planner.cli import main
from planner.io.store import GpkgStore
from planner.workflow.catalogue import layer_catalogue
from tests.test_cli_use_version import _two_surveys
from tests.test_roles import _app
from tests.test_version_switch_probes import data_manager


def _built_on(store, lang: str) -> dict[str, str]:
    cat = layer_catalogue(store, lang)
    cur = cat[cat["is_current"].astype(bool)]
    return {f"{k}/{n}": b for k, n, b in zip(cur["kind"], cur["name"], cur["built_on"], strict=True)}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_info_names_the_survey_version_each_result_was_built_on(store, capsys, lang):
    """Both backends: flags and sites built on v2; after `workspace use survey 1` the catalogue says they rest on v2
    while v1 is current; input layers say nothing."""
    _two_surveys(store)  # flags and sites built on survey v2
    on = _built_on(store, lang)
    assert on["survey/parcels"] == ""
    flags, sites = on["flags/default"], on["sites/default"]
    if lang == "zh":
        assert flags.startswith("调查 v2 · 识别规则 default ") and sites == "调查 v2 · 识别结果 v1", on
    else:
        assert flags.startswith("survey v2 · rules default ") and sites == "survey v2 · flags v1", on
    assert on["site_parcels/default"] == sites
    assert main(["workspace", "use", "survey", "1", "-w", store.uri, "--lang", "en"]) == 0
    capsys.readouterr()
    assert main(["info", "-w", store.uri, "--lang", lang]) == 0
    out = capsys.readouterr().out
    now = "调查 v2（当前为 v1） · 识别结果 v1" if lang == "zh" else "survey v2 (current: v1) · flags v1"
    rows = [line for line in out.splitlines() if line.startswith(("sites ", "flags "))]
    assert len(rows) == 2 and now in rows[1] and ("调查 v2（当前为 v1）" if lang == "zh" else "(current: v1)") in rows[0]
    assert ("计算依据" if lang == "zh" else "built_on") in out


def test_the_data_managers_layer_table_shows_it(tmp_path, monkeypatch):
    ws = tmp_path / "ws.gpkg"
    store = GpkgStore(ws, crs="EPSG:4549", create=True)
    _two_surveys(store)
    at = data_manager(_app(ws, monkeypatch), "en")
    assert not at.exception, [e.message for e in at.exception]
    tables = [df.value for df in at.dataframe]
    layer = next((t for t in tables if "built_on" in t.columns), None)
    assert layer is not None, [list(t.columns) for t in tables]
    assert "survey v2 · flags v1" in set(layer["built_on"]), layer
