"""check `lint`: the real ruff binary over the program, with rules chosen for generated code.

The rule set is exactly the `lint/...` codes of pipeline/codes.py: errors are rules whose
hit means a certain failure when the line runs, warnings are likely bugs. Style is left out:
a healthy game must pass clean. Undefined names (F821) and star-import names (F403/F405)
are left to validators/static/names.py, which is stricter about `global` and says it once.

ruff runs with `--isolated`, so no configuration file near the program or the caller changes
what is checked.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pipeline.codes import CATALOGUE, finding
from pipeline.findings import Finding

RUFF_TIMEOUT_S = 30.0
NON_RULE_CODES = frozenset({"ruff-failed"})


@functools.cache
def selected_rules() -> tuple[str, ...]:
    return tuple(c.code for c in CATALOGUE if c.check == "lint" and c.code not in NON_RULE_CODES)


@functools.cache
def ruff_binary() -> str:
    """The binary the `ruff` package installs (not whatever `ruff` a PATH happens to hold first)."""
    try:
        from ruff.__main__ import find_ruff_bin

        return os.fsdecode(find_ruff_bin())
    except (ImportError, FileNotFoundError):
        found = shutil.which("ruff")
        if found is None:
            raise RuntimeError("the ruff binary is missing: pip install ruff") from None
        return found


def ruff_command(stdin_filename: str | None = "program.py") -> list[str]:
    """ruff over stdin (named `stdin_filename`), or, with None, over files appended by the caller."""
    base = [
        ruff_binary(),
        "check",
        "--isolated",
        "--no-cache",
        "--no-fix",
        "--output-format",
        "json",
        "--target-version",
        "py311",
        "--select",
        ",".join(selected_rules()),
    ]
    return base + ["--stdin-filename", stdin_filename, "-"] if stdin_filename else base


def check_lint(code: str) -> list[Finding]:
    """ruff over one program given on stdin."""
    # utf-8 with surrogatepass encodes every str, lone surrogates included.
    result = _ruff_diagnostics(
        ruff_command(), code.encode("utf-8", "surrogatepass"), RUFF_TIMEOUT_S
    )
    return [result] if isinstance(result, Finding) else findings_from_diagnostics(result)


def check_lint_many(codes: Sequence[str]) -> list[list[Finding]]:
    """ruff once over many programs (one process instead of one per program): the findings of
    each, in order. For batch runs: the matrix, the benchmark, property tests."""
    if not codes:
        return []
    with tempfile.TemporaryDirectory(prefix="gencheck-lint-") as tmp:
        paths = []
        for index, code in enumerate(codes):
            path = Path(tmp) / f"program_{index:06d}.py"
            path.write_bytes(code.encode("utf-8", "surrogatepass"))
            paths.append(path)
        command = ruff_command(None) + [str(p) for p in paths]
        result = _ruff_diagnostics(command, None, RUFF_TIMEOUT_S + len(codes) * 0.05)
    if isinstance(result, Finding):
        return [[result] for _ in codes]
    by_file: dict[str, list[Mapping[str, Any]]] = {}
    for diagnostic in result:
        by_file.setdefault(Path(diagnostic.get("filename", "")).name, []).append(diagnostic)
    return [findings_from_diagnostics(by_file.get(p.name, [])) for p in paths]


def _ruff_diagnostics(
    command: list[str], stdin: bytes | None, timeout_s: float
) -> list[Mapping[str, Any]] | Finding:
    """ruff's JSON diagnostics, or a `lint/ruff-failed` finding saying why there are none."""
    try:
        proc = subprocess.run(
            command, input=stdin, capture_output=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired:
        return finding("lint/ruff-failed", f"ruff did not finish in {timeout_s:.0f} s")
    # Exit 0: clean, 1: diagnostics found; anything else is ruff itself failing.
    if proc.returncode not in (0, 1):
        stderr = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        last = stderr[-1] if stderr else ""
        return finding("lint/ruff-failed", f"ruff exited {proc.returncode}: {last}")
    try:
        return json.loads(proc.stdout or b"[]")
    except json.JSONDecodeError as exc:
        return finding("lint/ruff-failed", f"ruff printed no JSON: {exc}")


def findings_from_diagnostics(diagnostics: Sequence[Mapping[str, Any]]) -> list[Finding]:
    """ruff JSON diagnostics -> findings; syntax errors (code null) are compile's to report."""
    rules = selected_rules()
    findings: list[Finding] = []
    for diagnostic in diagnostics:
        rule = diagnostic.get("code")
        if rule not in rules:
            continue
        location = diagnostic.get("location") or {}
        findings.append(
            finding(
                f"lint/{rule}",
                str(diagnostic.get("message") or rule),
                location.get("row"),
                rule_name=diagnostic.get("name"),
                column=location.get("column"),
            )
        )
    return findings
