"""Property tests over generated transcripts and programs: bad input becomes findings, never an
exception, and the names verdict does not depend on what the names are called.

Default suite: 2,000 transcripts through transcript checks + extractor + compile + names, and
2,000 programs through ruff (batched, one process per 40). The `slow` marker runs five times more
through the whole static pipeline, ruff included, one file at a time.

The names check is held against real runs both ways: 400 generated programs (5,000 under `slow`)
where any reported line that runs must raise NameError, and 300 (5,000 under `slow`) whose every
NameError is certain by construction, run in every mix of their `try` bodies raising or not, where
each line that fails whenever it runs must be reported.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import itertools
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


# Handlers a guarded `try` may name: all but KeyError catch the NameError of its body.
GUARDS = ("NameError", "(KeyError, NameError)", "Exception", "BaseException", "", "KeyError")


@st.composite
def programs(draw: st.DrawFn) -> str:
    """Small programs over a few names: bindings, augmented assignments, `global`, reads, del,
    defaults, a class (body, `__init__`), `except ... as` names, `try` bodies a handler guards,
    loop targets read in their own iterable, class bodies in functions and class-body dunders."""
    name = st.sampled_from(SLOTS)
    lines: list[str] = []
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(KINDS))
        x = draw(name)
        if kind == "call":
            lines.append(f"{draw(st.sampled_from(FUNCS))}()")
        elif kind == "if":
            lines += [f"if {draw(name)}:", f"    {x} = [3]"]
        elif kind == "class":  # a class body runs at once, its __init__ at each K()
            lines += ["class K:", f"    v = {x}", "    def __init__(self):"]
            lines.append(f"        print({draw(name)}, {draw(st.sampled_from(FUNCS))})")
        elif kind == "new":
            lines.append("K()")
        elif kind == "classfn":  # the class body runs at the call, reading the local
            lines += [f"def {draw(st.sampled_from(FUNCS))}():", "    class C:", f"        v = {x}"]
            lines += [f"    {draw(name)} = [6]"] if draw(st.booleans()) else []
        elif kind == "def":
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
                                f"    del {y}",
                            ]
                        )
                    )
                )
        else:
            lines += straight_statement(draw, kind, x, name)
    return "\n".join(lines) + "\n"


KINDS = ["assign", "aug", "read", "del", "def", "call", "selfread", "if", "class", "new"]
KINDS += ["tryas", "guard", "forown", "classfn", "dunder"]
STRAIGHT_KINDS = ["assign", "aug", "read", "del", "selfread", "tryas", "guard", "forown", "dunder"]


def straight_statement(
    draw: st.DrawFn, kind: str, x: str, name: st.SearchStrategy[str], indent: str = ""
) -> list[str]:
    """One statement whose every NameError is certain: it has no branch, or only a `try` body
    of `pass` / `raise ValueError` (the `# T` lines, which the completeness test flips)."""
    if kind == "assign":
        lines = [f"{x} = [1]"]
    elif kind == "aug":
        lines = [f"{x} += [2]"]
    elif kind == "read":
        lines = [f"print({x})"]
    elif kind == "del":
        lines = [f"del {x}"]
    elif kind == "selfread":
        lines = [f"{x} = max({x}, [0])"]
    elif kind == "tryas":
        body = draw(st.sampled_from(["pass  # T", "raise ValueError  # T"]))
        handler = draw(st.sampled_from(["pass", f"print({draw(name)})"]))
        lines = ["try:", f"    {body}", f"except ValueError as {x}:", f"    {handler}"]
    elif kind == "guard":
        caught = draw(st.sampled_from(GUARDS))
        lines = ["try:", f"    print({x})", f"except {caught}:".replace("except :", "except:")]
        lines.append("    pass")
    elif kind == "forown":  # runs exactly once; the iterable may read the target itself
        body = draw(st.sampled_from([f"print({draw(name)})", f"{draw(name)} = [7]"]))
        lines = [f"for {x} in [{draw(name)}]:", f"    {body}"]
    else:  # dunder
        lines = ["class D:", f"    print(__module__, __qualname__, {x})"]
    return [indent + line for line in lines]


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


FUNC_LOCALS = ("l0", "l1", "l2")


@st.composite
def certain_programs(draw: st.DrawFn) -> str:
    """Programs in which every NameError that escapes is certain once the `# T` try bodies are
    free to raise or not: straight-line module statements over n0..n3, a function over its
    own l0..l2 called once right after its `def`, and a class body in a function that reads
    a local bound before or after it."""
    name, local = st.sampled_from(SLOTS), st.sampled_from(FUNC_LOCALS)
    # Some names bound first, so that runs get past the first line to the later constructs.
    lines = [f"{n} = [0]" for n in draw(st.lists(name, max_size=3, unique=True))]
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from([*STRAIGHT_KINDS, "function", "classfn"]))
        if kind == "function":
            lines.append("def g():")
            lines += [f"    {n} = [0]" for n in draw(st.lists(local, max_size=2, unique=True))]
            for _ in range(draw(st.integers(1, 4))):
                statement = draw(st.sampled_from(STRAIGHT_KINDS))
                lines += straight_statement(draw, statement, draw(local), local, indent="    ")
            lines.append("g()")
        elif kind == "classfn":
            x = draw(local)
            before = [f"    {x} = [6]"] if draw(st.booleans()) else []
            lines += ["def h():", *before, "    class C:", f"        v = {x}", f"    {x} = [8]"]
            lines.append("h()")
        else:
            lines += straight_statement(draw, kind, draw(name), name)
    return "\n".join(lines) + "\n"


def try_variants(code: str) -> list[str]:
    """The program with each `# T` try body as `pass` and as `raise ValueError`, every mix."""
    lines = code.splitlines()
    toggles = [i for i, line in enumerate(lines) if line.endswith("# T")]
    variants = []
    for raises in itertools.product((False, True), repeat=len(toggles)):
        for index, raise_it in zip(toggles, raises, strict=True):
            indent = lines[index][: len(lines[index]) - len(lines[index].lstrip())]
            lines[index] = indent + ("raise ValueError  # T" if raise_it else "pass  # T")
        variants.append("\n".join(lines) + "\n")
    return variants


def check_certain_name_errors(code: str) -> None:
    """No miss: a line that raises NameError in every variant where it runs (and does in one)
    is reported. No false alarm: a reported line that runs in any variant raises NameError."""
    if check_compile(code) or code.count("# T") > 4:
        return
    reported = {f.line for f in check_names(code) if f.severity == "error"}
    runs = [run_traced(variant) for variant in try_variants(code)]
    for started, exc, raised_at in runs:
        for line in reported & started:
            assert isinstance(exc, NameError) and raised_at == line, (line, exc, code)
    raised = {at for _, exc, at in runs if isinstance(exc, NameError) and at is not None}
    for line in raised:
        certain = all(
            isinstance(exc, NameError) and at == line
            for started, exc, at in runs
            if line in started
        )
        assert not certain or line in reported, (line, code)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(certain_programs())
def test_every_certain_name_error_is_reported_and_no_report_runs_clean(code: str) -> None:
    check_certain_name_errors(code)


@pytest.mark.slow
@settings(max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(certain_programs())
def test_slow_thousands_of_programs_hold_certain_name_errors_exactly(code: str) -> None:
    check_certain_name_errors(code)


@pytest.mark.slow
@settings(max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(), st.lists(st.sampled_from(FUNCS), max_size=3))
def test_slow_thousands_of_names_errors_never_run_clean(code: str, calls: list[str]) -> None:
    test_a_names_error_line_never_runs_without_raising_name_error.hypothesis.inner_test(code, calls)


@pytest.mark.slow
@settings(max_examples=10000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(transcripts())
def test_slow_many_transcripts_through_the_whole_static_pipeline(text: str) -> None:
    result = validate_text(text, smoke=False)
    assert result.verdict in ("pass", "fail")
