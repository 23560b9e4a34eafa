"""Every ``>>>`` example in ``planner`` runs, one test per module so a failure names the module.

The examples are the stdlib's doctests (``pytest --doctest-modules planner`` runs the same ones,
with the same default option flags). They run in a fresh temporary directory, with ``tempfile``
pointed at it too, so an example that writes a file (``tempfile.mkdtemp()``, a relative path)
leaves nothing behind.
"""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import io
import pkgutil
import tempfile
from pathlib import Path

import pytest

import planner

#: Modules never imported here, and why.
SKIPPED = {
    # running it *is* the command line: importing it calls ``sys.exit(entry())``
    "planner.__main__": "importing it runs the command line and exits",
}


def _module_names() -> list[str]:
    """Names of the ``planner`` modules whose source holds an example (found without importing the modules)."""
    names = ["planner", *(m.name for m in pkgutil.walk_packages(planner.__path__, "planner."))]
    out = []
    for name in names:
        if name in SKIPPED:
            continue
        origin = importlib.util.find_spec(name).origin
        if origin and origin.endswith(".py") and ">>>" in Path(origin).read_text(encoding="utf-8"):
            out.append(name)
    return out


MODULES = _module_names()


def test_examples_are_found():
    """The walk finds the package's examples (a broken walk would otherwise pass with nothing to run)."""
    assert {"planner", "planner.io.store", "planner.ingest", "planner.sites"} <= set(MODULES)
    assert len(MODULES) > 30


@pytest.mark.parametrize("name", MODULES)
def test_module_examples(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    module = importlib.import_module(name)
    tests = doctest.DocTestFinder().find(module, name)
    out = io.StringIO()
    runner = doctest.DocTestRunner(verbose=False)
    for test in tests:
        runner.run(test, out=out.write)
    result = runner.summarize(verbose=False)
    assert result.attempted, f"{name} has '>>>' in its source but no example doctest runs"
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed:\n{out.getvalue()}"
