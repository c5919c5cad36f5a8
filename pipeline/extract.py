"""Transcript text -> the final Python program, or findings that say why there is none.

The answer is the text after the last `</think>` (code blocks inside the reasoning are drafts).
In it we take the LAST fenced block that is Python: labelled ```python / ```py / ```python3
(any case), or bare ``` when its content parses. A final Python fence that never closes is
an `extract/unclosed-fence` error; an answer with no block, or only empty ones, is
`extract/no-code-block`.
"""

from __future__ import annotations

import ast
import re
import warnings
from dataclasses import dataclass, field

from pipeline.codes import finding
from pipeline.findings import Finding

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"

PYTHON_LABELS = frozenset({"python", "py", "python3", "py3"})

# A fence line: any indentation (fences inside list items are indented), three or more
# backticks or tildes, then an optional info string. Backtick info strings may not hold
# backticks (CommonMark), which keeps inline ```code``` spans from opening a block.
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n]*?)[ \t]*$")


@dataclass(frozen=True)
class FencedBlock:
    """One fenced block of the normalised text; lines are 1-based in that text."""

    info: str
    content: str
    open_line: int
    closed: bool

    @property
    def label(self) -> str:
        return self.info.split()[0].lower() if self.info.split() else ""

    @property
    def first_code_line(self) -> int:
        return self.open_line + 1


@dataclass(frozen=True)
class Extraction:
    """What the extractor found: the program (or None) and the findings that explain a None.

    `code_start_line` is the line of the transcript on which the program's line 1 stands, so a
    report can point into the original file.
    """

    code: str | None
    code_start_line: int | None = None
    label: str | None = None
    blocks_in_answer: int = 0
    findings: list[Finding] = field(default_factory=list)


def prompt_opens_think(prompt: str | None) -> bool:
    """Did the prompt itself open the reasoning (QwQ's `...assistant\n<think>\n`)? Then the
    generated text starts inside `<think>` without the tag."""
    return bool(prompt) and prompt.rfind(THINK_OPEN) > prompt.rfind(THINK_CLOSE)


def normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def answer_region(text: str) -> tuple[str, int]:
    """The text after the last `</think>` and the 0-based line on which it starts.

    With an opened and never closed `<think>` the answer is empty: everything is reasoning.
    Without any tag the whole text is the answer (a model with no reasoning section, or a
    transcript that starts inside `<think>` and closes it).
    """
    close = text.rfind(THINK_CLOSE)
    open_ = text.rfind(THINK_OPEN)
    if close >= 0 and close > open_:
        start = close + len(THINK_CLOSE)
    elif open_ >= 0:
        start = len(text)
    else:
        start = 0
    return text[start:], text.count("\n", 0, start)


def fenced_blocks(text: str) -> list[FencedBlock]:
    """Every fenced block of `text`, in order; the last may be unclosed (closed=False)."""
    blocks: list[FencedBlock] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None or (opening["fence"][0] == "`" and "`" in opening["info"]):
            i += 1
            continue
        fence_char, fence_len = opening["fence"][0], len(opening["fence"])
        indent = len(opening["indent"].expandtabs(4))
        body: list[str] = []
        j = i + 1
        closed = False
        while j < len(lines):
            closing = _FENCE.match(lines[j])
            if (
                closing is not None
                and closing["fence"][0] == fence_char
                and len(closing["fence"]) >= fence_len
                and not closing["info"]
            ):
                closed = True
                break
            body.append(_dedent_line(lines[j], indent))
            j += 1
        content = "\n".join(body)
        blocks.append(FencedBlock(opening["info"], content + "\n" if body else "", i + 1, closed))
        i = j + 1
    return blocks


def _dedent_line(line: str, indent: int) -> str:
    """Remove up to `indent` columns of the fence's own indentation from a content line."""
    removed = 0
    pos = 0
    while pos < len(line) and removed < indent and line[pos] in " \t":
        removed += 4 if line[pos] == "\t" else 1
        pos += 1
    return line[pos:]


def parses_as_python(source: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escapes etc. are lint's business
            ast.parse(source)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    return True


def is_python_block(block: FencedBlock) -> bool:
    """Labelled Python, or bare with content that parses (a bare ``` holding prose is not
    code). Either way it must hold something: an empty block is no program."""
    if not block.content.strip():
        return False
    return block.label in PYTHON_LABELS or (block.label == "" and parses_as_python(block.content))


def extract_program(text: str) -> Extraction:
    """The final Python block of the answer, or an Extraction with code=None and an error finding."""
    text = normalise_newlines(text)
    answer, answer_line0 = answer_region(text)
    blocks = fenced_blocks(answer)
    if blocks and not blocks[-1].closed and _could_be_python(blocks[-1]):
        last = blocks[-1]
        line = answer_line0 + last.open_line
        return Extraction(
            code=None,
            blocks_in_answer=len(blocks),
            findings=[
                finding(
                    "extract/unclosed-fence",
                    f"the final code fence opened on line {line} is never closed",
                    line,
                )
            ],
        )
    python_blocks = [b for b in blocks if b.closed and is_python_block(b)]
    if not python_blocks:
        where = "after </think>" if THINK_CLOSE in text else "in the text"
        if THINK_OPEN in text and answer == "":
            where = "(the reasoning section never closes)"
        message = f"no fenced Python block {where}"
        if any(b.closed and b.label in PYTHON_LABELS for b in blocks):
            message = f"the Python blocks {where} are empty: there is no program"
        return Extraction(
            code=None,
            blocks_in_answer=len(blocks),
            findings=[finding("extract/no-code-block", message)],
        )
    chosen = python_blocks[-1]
    return Extraction(
        code=chosen.content,
        code_start_line=answer_line0 + chosen.first_code_line,
        label=chosen.label or None,
        blocks_in_answer=len(blocks),
    )


def _could_be_python(block: FencedBlock) -> bool:
    # An unclosed bare fence cannot be judged by parsing (it was cut), so it counts as code.
    return block.label in PYTHON_LABELS or block.label == ""
