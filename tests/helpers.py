"""One-line test cases for the validators, pyflakes style:

    assert_findings(source, "names/undefined-name@3")

runs the static validators over a (dedented) program and asserts the EXACT set of finding
keys (`check/code@line`), errors and warnings alike. `checks` narrows what is compared, so a
names case is not disturbed by a lint warning about an unused variable.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping

from hypothesis import strategies as st

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


# The pieces every generated transcript can hold besides its own: reasoning tags and stray fences.
TRANSCRIPT_MARKERS: dict[str, st.SearchStrategy[str]] = {
    "think": st.just("<think>\n"),
    "unthink": st.just("</think>\n"),
    "fence": st.sampled_from(["```\n", "```python\n", "~~~\n", "````\n", "  ```py\n"]),
}


def draw_transcript(
    draw: st.DrawFn, pieces: Mapping[str, st.SearchStrategy[str]], max_parts: int
) -> str:
    """Up to `max_parts` pieces of the kinds given (plus TRANSCRIPT_MARKERS), joined, with
    `\n` or `\r\n` line ends: the shape of the transcripts the property tests generate."""
    kinds = {**TRANSCRIPT_MARKERS, **pieces}
    names = sorted(kinds)
    parts = [
        draw(kinds[draw(st.sampled_from(names))]) for _ in range(draw(st.integers(0, max_parts)))
    ]
    text = "".join(parts)
    return text.replace("\n", "\r\n") if draw(st.booleans()) else text
