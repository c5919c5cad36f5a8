"""check `transcript`: the generated text as a whole, before any program is looked for."""

from __future__ import annotations

from pipeline.codes import finding
from pipeline.extract import (
    THINK_CLOSE,
    THINK_OPEN,
    answer_region,
    fenced_blocks,
    normalise_newlines,
)
from pipeline.findings import Finding
from pipeline.repetition import find_loop


def check_transcript(text: str) -> list[Finding]:
    """unclosed-think, cut-in-fence and repetition-loop, each at the transcript line it starts on."""
    text = normalise_newlines(text)
    findings: list[Finding] = []
    open_ = text.rfind(THINK_OPEN)
    unclosed_think = open_ >= 0 and text.rfind(THINK_CLOSE) < open_
    if unclosed_think:
        findings.append(
            finding(
                "transcript/unclosed-think",
                "<think> is opened and never closed: the model never reached its answer",
                _line_of(text, open_),
            )
        )
    # Fences pair up within the last region only: a draft in the reasoning that never closed
    # its fence must not shift the pairing of the answer's fences.
    region, first_line0 = answer_region(text)
    if unclosed_think:
        region, first_line0 = text[open_ + len(THINK_OPEN) :], _line_of(text, open_) - 1
    blocks = fenced_blocks(region)
    if blocks and not blocks[-1].closed:
        label = blocks[-1].label or "bare"
        line = first_line0 + blocks[-1].open_line
        findings.append(
            finding(
                "transcript/cut-in-fence",
                f"the text ends inside a {label} code fence opened on line {line}",
                line,
            )
        )
    loop = find_loop(text)
    if loop is not None:
        findings.append(
            finding(
                "transcript/repetition-loop",
                f"the text ends in a loop: {loop.reason}",
                _line_of(text, loop.onset_char),
                period=loop.period,
                onset_char=loop.onset_char,
            )
        )
    return findings


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, max(0, offset)) + 1
