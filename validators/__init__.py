"""Checks on an extracted program. Each is a plain function `code -> list[Finding]`.

STATIC_VALIDATORS is the registry, in the order they run. `compile` gates the others: a
program that does not compile is not linted or scope-analysed (both would only restate the
syntax error). The smoke run is not static and is added by pipeline/runs/validate.py.
"""

from __future__ import annotations

from collections.abc import Callable

from pipeline.findings import Finding
from validators.static.lint import check_lint
from validators.static.names import check_names
from validators.static.syntax import check_compile

StaticValidator = Callable[[str], list[Finding]]

STATIC_VALIDATORS: tuple[tuple[str, StaticValidator], ...] = (
    ("compile", check_compile),
    ("lint", check_lint),
    ("names", check_names),
)
GATING_CHECK = "compile"
