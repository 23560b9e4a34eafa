"""planner: geospatial land-revitalization planner.

Three-low (三低) industrial land, contiguous candidate sites (连片) and
standardized-park redevelopment scenarios. The public API below is imported
lazily, so ``import planner`` (and the CLI's start-up) stays cheap.

The package folders follow the data flow: ``io`` -> ``ingest`` -> ``classify``
-> ``sites`` -> ``scenarios`` -> ``report``, with ``maps`` for the map,
``sample`` for the sample city, and ``cli``/``ui`` as the two faces over one
``workflow`` layer.

Examples
--------
>>> import planner
>>> {"GpkgStore", "build_city", "build_sites"} <= set(planner.__all__)
True
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: name -> module that defines it
_API = {
    "PlannerError": "planner.errors",
    "GpkgStore": "planner.io.store",
    "open_store": "planner.io.store",
    "build_city": "planner.sample",
    "write_workspace": "planner.sample",
    "read_survey": "planner.ingest",
    "compute_indicators": "planner.classify.indicators",
    "load_policy": "planner.classify.policy",
    "default_policy": "planner.classify.policy",
    "threshold_curve": "planner.classify.sensitivity",
    "SiteParams": "planner.sites",
    "build_sites": "planner.sites",
    "load_scenario": "planner.scenarios",
    "run_scenario": ("planner.scenarios", "run"),
    "export_all": "planner.report",
}

__all__ = sorted(_API)


def __getattr__(name: str):
    target = _API.get(name)
    if target is None:
        msg = f"module 'planner' has no attribute {name!r}"
        raise AttributeError(msg)
    module, attr = target if isinstance(target, tuple) else (target, name)
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
