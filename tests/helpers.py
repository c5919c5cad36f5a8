"""One-line test cases for the validators, pyflakes style:

    assert_findings(source, "names/undefined-name@3")

runs the static validators over a (dedented) program and asserts the EXACT set of finding
keys (`check/code@line`), errors and warnings alike. `checks` narrows what is compared, so a
names case is not disturbed by a lint warning about an unused variable.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable

from pipeline.findings import Finding
from validators import GATING_CHECK, STATIC_VALIDATORS


def static_findings(
    source: str, checks: Iterable[str] = ("compile", "lint", "names")
) -> list[Finding]:
    wanted = set(checks)
    code = textwrap.dedent(source).lstrip("\n")
    findings: list[Finding] = []
    for check, validator in STATIC_VALIDATORS:
        if check in wanted or check == GATING_CHECK:
            produced = validator(code)
            if check in wanted:
                findings += produced
            if check == GATING_CHECK and any(f.severity == "error" for f in produced):
                break
    return findings


def assert_findings(
    source: str, *expected: str, checks: Iterable[str] = ("compile", "lint", "names")
) -> None:
    findings = static_findings(source, checks)
    got = sorted(f.key for f in findings)
    assert got == sorted(expected), "\n".join(
        [f"expected {sorted(expected)}", f"got      {got}"]
        + [f"  {f.key}: {f.message}" for f in findings]
    )


def assert_names(source: str, *expected: str) -> None:
    """A names-only case (compile still gates: a case that does not compile fails loudly)."""
    assert_findings(source, *expected, checks=("compile", "names"))
