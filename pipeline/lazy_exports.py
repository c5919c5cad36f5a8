"""Public names of a package, served from its modules on first use (PEP 562).

Each stage package lists its public names in its `__init__.py`, so `from pipeline.runs import
Store` works, but importing a package must not import all of its modules: `gencheck --help` and
the pytest plugin stay fast only while llama.cpp, libcst, pygame and scipy load when used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]) -> tuple[Callable[[str], Any], list[str]]:
    """`(__getattr__, __all__)` for `package`: each public name maps to the module that defines it."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{module}"), name)

    return __getattr__, sorted(exports)
