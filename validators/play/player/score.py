"""Does the score count? After the autopilot flies through a pipe, a number in the score text
must go up; and a static read for a score function the program defines but never calls.

A score that never counts is an error (see the README's list of codes): it is the prompt's
point 6 failing in play, measured only after the bird provably flew through pipes, and a
player reports it as "the game is broken", not as a matter of taste like a colour.
"""

from __future__ import annotations

import ast
import re

from pipeline.codes import finding
from pipeline.findings import Finding
from validators.play.track import Played, where

NOT_SCORES = re.compile(r"best|high|record|fps|time|level|lives", re.IGNORECASE)
COUNT_WITHIN = 90   # frames after a pass in which the number must go up
COUNT_LEAD = 40     # ... or this many frames before it


def score_numbers(run: Played) -> dict[str, list[tuple[int, int, str]]]:
    """Text template ('Score: #') -> [(frame, number, text)] for texts that carry a number."""
    series: dict[str, list[tuple[int, int, str]]] = {}
    for frame in run.frames:
        for op in frame["ops"]:
            if op[0] != "text":
                continue
            text = str(op[4])
            number = re.search(r"\d+", text)
            if number is None or NOT_SCORES.search(text):
                continue
            series.setdefault(re.sub(r"\d+", "#", text), []).append((frame["f"], int(number.group()), text))
    return series


def counts_near(series: list[tuple[int, int, str]], frame: int) -> bool:
    """The number went up between COUNT_LEAD frames before a pass (games count when the
    pipe's edge meets the bird's centre, or its front) and COUNT_WITHIN frames after it
    (or when the pipe leaves the screen)."""
    start = frame - COUNT_LEAD
    before = [n for f, n, _ in series if f < start]
    last = before[-1] if before else None
    for f, n, _ in series:
        if start <= f <= frame + COUNT_WITHIN:
            if last is not None and n > last:
                return True
            last = n
    return False


def uncalled_score_functions(code: str) -> list[tuple[str, int]]:
    """Functions with 'score' in their name that nothing in the program refers to."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    defined = [(n.name, n.lineno) for n in ast.walk(tree)
               if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and "score" in n.name.lower()]
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    used |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    used |= {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    return [(name, line) for name, line in defined if name not in used]


def check_score_counts(code: str, autopilot: Played | None) -> list[Finding]:
    uncalled = uncalled_score_functions(code)
    static_note = f"; {uncalled[0][0]}() is defined but never called" if uncalled else ""
    line = uncalled[0][1] if uncalled else None
    passes = autopilot.passes if autopilot else []
    series = score_numbers(autopilot) if autopilot else {}
    if not passes or not series:
        if uncalled:
            return [finding("requirements/score-uncalled", f"{uncalled[0][0]}() is defined but never "
                            f"called, so the score it keeps cannot change", uncalled[0][1])]
        return []
    first_pass = passes[0][0]
    if any(counts_near(s, frame) for s in series.values() for frame, _ in passes):
        return []
    template, shown = _score_text(series, first_pass)
    assert autopilot is not None
    rounds = sorted({autopilot.round_of(f) for f, _ in passes})
    in_rounds = f" in round{'s' if len(rounds) > 1 else ''} {', '.join(map(str, rounds))}"
    return [finding("requirements/score-never-counts",
                    f"score text stayed {shown!r} after the bird passed {len(passes)} "
                    f"pipe{'s' if len(passes) != 1 else ''}{in_rounds} (last at frame "
                    f"{passes[-1][0]}){static_note}", line,
                    **where(autopilot, passes[-1][0], pipes_passed=len(passes), score_text=template,
                            rounds=rounds))]


def _score_text(series: dict[str, list[tuple[int, int, str]]], frame: int) -> tuple[str, str]:
    """The score text a player looks at: the template shown most often after the pass."""
    template = max(series, key=lambda t: sum(1 for f, _, _ in series[t] if f >= frame))
    after = [text for f, _, text in series[template] if f >= frame] or [series[template][-1][2]]
    return template, after[0]
