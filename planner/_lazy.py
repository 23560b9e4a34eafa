"""Packages whose public names are imported on first use (start-up time of the ``planner`` command).

A command imports only what it uses: ``planner scenario run`` needs no graph
library, ``planner --help`` no GeoPandas. A package lists its names and the
submodule of each; :func:`lazy_exports` gives it the module ``__getattr__``
and ``__dir__`` (PEP 562), so ``from planner.sites import build_sites`` and
``planner.sites.build_sites`` work as before.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable


def lazy_exports(package: str, names: dict[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package`` whose ``names`` map to the submodules that define them.

    A name that maps to itself (``{"enterprises": "enterprises"}``) is the submodule.
    """

    def __getattr__(name: str) -> object:
        sub = names.get(name)
        if sub is None:  # a submodule (``W.operations``), as an eager ``__init__`` had imported them all
            try:
                module = importlib.import_module(f"{package}.{name}")
            except ModuleNotFoundError as exc:
                if exc.name != f"{package}.{name}":
                    raise
                msg = f"module {package!r} has no attribute {name!r}"
                raise AttributeError(msg) from None
            globals_of(package)[name] = module
            return module
        module = importlib.import_module(f"{package}.{sub}")
        value = module if sub == name else getattr(module, name)
        globals_of(package)[name] = value  # cached: the next look-up is a plain attribute
        return value

    def __dir__() -> list[str]:
        return sorted({*globals_of(package), *names})

    return __getattr__, __dir__


def globals_of(package: str) -> dict:
    import sys

    return vars(sys.modules[package])
