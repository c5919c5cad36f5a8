"""Property tests over generated transcripts and programs: bad input becomes findings, never an
exception, and the names verdict does not depend on what the names are called.

Default suite: 2,000 transcripts through transcript checks + extractor + compile + names, and
2,000 programs through ruff (batched, one process per 40). The `slow` marker runs five times more
through the whole static pipeline, ruff included, one file at a time.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import keyword
import sys
import traceback
from types import FrameType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.extract import extract_program
from pipeline.findings import Finding
from pipeline.runs.validate import validate_text
from tests.helpers import draw_transcript
from validators.static.lint import check_lint_many
from validators.static.names import check_names
from validators.static.syntax import check_compile
from validators.static.transcript import check_transcript

SLOTS = ("n0", "n1", "n2", "n3")
FUNCS = ("f0", "f1")


@st.composite
def programs(draw: st.DrawFn) -> str:
    """Small programs over a few names: bindings, augmented assignments, `global`, reads, del,
    defaults and a class (body, `__init__`)."""
    name = st.sampled_from(SLOTS)
    lines: list[str] = []
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(
            st.sampled_from(
                ["assign", "aug", "read", "del", "def", "call", "selfread", "if", "class", "new"]
            )
        )
        x = draw(name)
        if kind == "assign":
            lines.append(f"{x} = [1]")
        elif kind == "aug":
            lines.append(f"{x} += [2]")
        elif kind == "read":
            lines.append(f"print({x})")
        elif kind == "del":
            lines.append(f"del {x}")
        elif kind == "selfread":
            lines.append(f"{x} = max({x}, [0])")
        elif kind == "if":
            lines += [f"if {draw(name)}:", f"    {x} = [3]"]
        elif kind == "call":
            lines.append(f"{draw(st.sampled_from(FUNCS))}()")
        elif kind == "class":  # a class body runs at once, its __init__ at each K()
            lines += ["class K:", f"    v = {x}", "    def __init__(self):"]
            lines.append(f"        print({draw(name)}, {draw(st.sampled_from(FUNCS))})")
        elif kind == "new":
            lines.append("K()")
        else:
            default = f"a={draw(name)}" if draw(st.booleans()) else ""  # runs at the def
            lines.append(f"def {draw(st.sampled_from(FUNCS))}({default}):")
            declared = draw(st.lists(name, max_size=2, unique=True))
            if declared:
                lines.append("    global " + ", ".join(declared))
            for _ in range(draw(st.integers(1, 4))):
                y = draw(name)
                lines.append(
                    draw(
                        st.sampled_from(
                            [
                                f"    {y} = [4]",
                                f"    {y} += [5]",
                                f"    print({y})",
                                f"    {y}.clear()",
                            ]
                        )
                    )
                )
    return "\n".join(lines) + "\n"


GARBLE = st.sampled_from(
    ["PIPE_SPEED=- ( )    ?\n", "def main(:\n", "x = '\n", "\x00", "    indented\n"]
)
LABELS = st.sampled_from(["python", "py", "Python", "", "bash", "text"])


@st.composite
def transcripts(draw: st.DrawFn) -> str:
    block = st.builds(lambda label, code: f"```{label}\n{code}```\n", LABELS, programs())
    garbled = st.builds(
        lambda label, code, garble: f"```{label}\n{code}{garble}```\n", LABELS, programs(), GARBLE
    )
    loop = st.builds(
        lambda unit, times: unit * times, st.text(min_size=1, max_size=12), st.integers(2, 80)
    )
    pieces = {"prose": st.text(max_size=60), "block": block, "garbled": garbled, "loop": loop}
    return draw_transcript(draw, pieces, max_parts=6)


def static_without_ruff(text: str) -> list[Finding]:
    findings = check_transcript(text)
    extraction = extract_program(text)
    findings += extraction.findings
    if extraction.code is not None:
        compiled = check_compile(extraction.code)
        findings += compiled
        if not compiled:
            findings += check_names(extraction.code)
    return findings


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(transcripts())
def test_generated_transcripts_become_findings_never_exceptions(text: str) -> None:
    for finding in static_without_ruff(text):
        assert finding.severity in ("error", "warning")
        assert finding.line is None or finding.line >= 1


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(programs(), st.text(max_size=80), programs().map(lambda p: p + "x = '\n")),
        min_size=40,
        max_size=40,
    )
)
def test_generated_programs_through_ruff_become_findings(batch: list[str]) -> None:
    results = check_lint_many(batch)
    assert len(results) == len(batch)
    for findings in results:
        assert all(f.check == "lint" for f in findings)


IDENTIFIERS = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True).filter(
    lambda s: (
        not keyword.iskeyword(s)
        and not keyword.issoftkeyword(s)
        and not hasattr(builtins, s)
        and not (s.startswith("__") and s.endswith("__"))
        and s not in SLOTS + FUNCS
    )
)


def names_verdict(code: str) -> list[tuple[str, int | None]]:
    return sorted((f.key, f.line) for f in check_names(code))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(), st.lists(IDENTIFIERS, min_size=6, max_size=6, unique=True))
def test_renaming_bindings_consistently_never_changes_the_names_verdict(
    code: str, fresh: list[str]
) -> None:
    if check_compile(code):
        return
    renamed = code
    # Two passes through placeholders so a fresh name can never collide with an old one.
    for index, old in enumerate(SLOTS + FUNCS):
        renamed = renamed.replace(old, f"\x01{index}\x01")
    for index, new in enumerate(fresh):
        renamed = renamed.replace(f"\x01{index}\x01", new)
    assert names_verdict(renamed) == names_verdict(code)


def run_traced(code: str) -> tuple[set[int], BaseException | None, int | None]:
    """Runs one of OUR generated programs (prints, lists, `global`, `del`: no model wrote it,
    nothing it does leaves the process) and returns the lines that started, the exception that
    ended it and that exception's line."""
    started: set[int] = set()

    def trace(frame: FrameType, event: str, arg: object) -> object:
        if frame.f_code.co_filename != "<generated>":
            return None  # print() and the like: not followed line by line
        if event == "line":
            started.add(frame.f_lineno)
        return trace

    compiled = compile(code, "<generated>", "exec")
    previous = sys.gettrace()  # a coverage or debugger tracer gets its place back
    sys.settrace(trace)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compiled, {"__name__": "__generated__"})
    except Exception as exc:  # noqa: BLE001 - any exception is data here
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == "<generated>"]
        return started, exc, frames[-1].lineno if frames else None
    finally:
        sys.settrace(previous)
    return started, None, None


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(), st.lists(st.sampled_from(FUNCS), max_size=3))
def test_a_names_error_line_never_runs_without_raising_name_error(
    code: str, calls: list[str]
) -> None:
    """Soundness against real Python: names reports a certain failure whenever its line runs,
    so a reported line that runs must be the one that raised NameError (or UnboundLocalError)."""
    code += "".join(f"{f}()\n" for f in calls if f"def {f}(" in code)
    if check_compile(code):
        return
    reported = {f.line for f in check_names(code) if f.severity == "error"}
    started, exc, raised_at = run_traced(code)
    for line in reported & started:
        assert isinstance(exc, NameError) and raised_at == line, (line, exc, raised_at, code)


@pytest.mark.slow
@settings(max_examples=10000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(transcripts())
def test_slow_many_transcripts_through_the_whole_static_pipeline(text: str) -> None:
    result = validate_text(text, smoke=False)
    assert result.verdict in ("pass", "fail")
