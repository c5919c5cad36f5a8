"""The Flappy Bird prompt's points, checked from what the game drew and a static read of its code.

Eight checks, one finding code each (requirements/background, accelerate, bird, land, score,
pipes, best-score, quit-restart); each that does not hold gives a finding with a message a person
understands, and the summary is k of 8. Quitting and restarting are errors; colours and shapes
are warnings, judged with tolerant colour families (validators/play/colour_families.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pipeline.codes import finding
from pipeline.findings import Finding
from validators.play import colour_families as cf
from validators.play.player.score import counts_near, score_numbers
from validators.play.track import played_runs
from validators.smoke.harness import draw_reader as dr
from validators.smoke.scenarios import press_frames

if TYPE_CHECKING:
    from validators.smoke.scenarios import SmokeSettings
    from validators.smoke.smoke_run import ScenarioRun, SmokeReport

PLAY = "play-restart-q"
Verdict = tuple[bool, str]  # (holds, what was seen)


def check_requirements(code: str, report: SmokeReport,
                       settings: SmokeSettings) -> tuple[list[Finding], tuple[int, int]]:
    play = report.runs.get(PLAY) or next(iter(report.runs.values()), None)
    if play is None or not dr.drawn(play.frames) or not (play.result or {}).get("window"):
        return [], (0, len(CHECKS))
    ctx = Context(code, report, play)
    findings, held = [], 0
    for key, check in CHECKS:
        holds, message = check(ctx)
        if holds:
            held += 1
        else:
            findings.append(finding(f"requirements/{key}", message, None, scenario=play.scenario.name))
    return findings, (held, len(CHECKS))


class Context:
    def __init__(self, code: str, report: SmokeReport, play: ScenarioRun) -> None:
        self.code, self.report, self.play = code, report, play
        self.window: list[int] = play.result["window"]  # type: ignore[index]
        self.frames = dr.drawn(play.frames)
        self.bird = dr.track_bird(play.frames, self.window, prefer=cf.is_dark)

    def code_lines(self, *words: str) -> list[str]:
        """Lines of the code mentioning every word (case-insensitive)."""
        return [line for line in self.code.lower().splitlines() if all(w in line for w in words)]

    def all_frames(self) -> list[dict[str, Any]]:
        return [f for run in self.report.runs.values() for f in dr.drawn(run.frames)]


def check_background(ctx: Context) -> Verdict:
    first = dr.background(ctx.frames[0], ctx.window)
    if first is None:
        return False, "no background fill covers the window on the first frame"
    if not cf.is_light_blue(first):
        return False, f"the first frame's background {first} is not a light blue"
    dark = {bg for f in ctx.all_frames() if (bg := dr.background(f, ctx.window)) and not cf.is_light(bg)}
    if dark:
        return False, f"later backgrounds are not light: {sorted(dark)[:3]}"
    # Whether it is random is seen in play, across seeds and restarts (requirements/not-random):
    # a keyword read of the code flagged games that pick the colour in a helper function.
    return True, "light blue first, light later"


def check_accelerate(ctx: Context) -> Verdict:
    if ctx.bird is None:
        return False, "no bird found in the drawing, so SPACE's effect could not be seen"
    sc = ctx.play.scenario
    rapid = sc.frames_with_role("rapid")
    isolated = [f for s in sc.steps if s.get("press") == "space" and "role" not in s
                for f in press_frames(s)]
    ys = ctx.bird.ys

    def top_rise(start: int, end: int) -> float | None:
        """The fastest upward speed (px/frame) between two frames; a press shows from its frame on."""
        teleport = ctx.window[1] * 0.1  # a restart puts the bird back: not a flap
        rises = [ys[f - 1] - ys[f] for f in range(start, end)
                 if f in ys and f - 1 in ys and abs(ys[f - 1] - ys[f]) < teleport]
        return max(rises) if rises else None

    singles = [r for p in isolated if (r := top_rise(p, p + 6)) is not None]
    many = top_rise(rapid[0], rapid[-1] + 6) if rapid else None
    if not singles or many is None:
        return False, "the bird was not on screen around the SPACE presses, so acceleration could not be seen"
    single = max(singles)
    if many <= max(1.25 * single, single + 1.0):
        return False, (f"rapid SPACE presses raise the bird no faster ({many:.1f} px/frame) than one "
                       f"press ({single:.1f} px/frame): presses do not add up")
    return True, f"one press {single:.1f} px/frame up, rapid presses {many:.1f} px/frame"


def check_bird(ctx: Context) -> Verdict:
    bird = ctx.bird
    if bird is None:
        return False, "no bird found: no small filled shape that stays in place while moving up and down"
    if bird.form is None:
        return False, f"the bird is a {bird.kind}, not a square, circle or triangle"
    if not cf.is_dark(bird.rgb):
        return False, f"the bird's colour {bird.rgb} is not dark"
    # Random shape and colour are checked in play, across seeded runs (requirements/not-random).
    return True, f"a dark {bird.form}"


def check_land(ctx: Context) -> Verdict:
    seen = [s for s in dr.land(ctx.frames[0], ctx.window)]
    if not seen:
        return False, "no land drawn across the bottom of the window"
    families = {cf.land_family(s.rgb) for s in seen} - {None}
    if not families:
        return False, f"the land {seen[-1].rgb} is neither dark brown nor yellow"
    # A random choice between the two is checked in play (requirements/not-random).
    return True, f"{', '.join(sorted(families))} land"


def check_score(ctx: Context) -> Verdict:
    width, height = ctx.window
    top_right = [(t, box) for f in ctx.frames[:5] for t, box in dr.texts(f)
                 if re.search(r"\d", t) and box[0] + box[2] / 2 > width / 2 and box[1] < height / 4]
    if not top_right:
        return False, "no score text (a number) drawn in the top-right area"
    if (not re.search(r"score\w*['\"\]]*\s*(\+=|=[^=\n]*score[^\n]*\+)", ctx.code, re.IGNORECASE)
            and not score_seen_counting(ctx)):
        return False, "nothing in the code increments the score"
    return True, f"score text {top_right[0][0]!r} at the top right"


def check_pipes(ctx: Context) -> Verdict:
    pairs = [p for f in ctx.all_frames() for p in dr.pipe_pairs(dr.coloured(f), ctx.window)]
    if not pairs:
        return False, "no pipe pairs (a rect from the top and one below it, with a gap) were drawn"
    families = {cf.pipe_family(p.rgb) for p in pairs} - {None}
    if not families:
        return False, f"the pipes' colour {pairs[0].rgb} is not dark green, light brown or dark gray"
    if len({p.gap_top for p in pairs if p.x > ctx.window[0] / 2}) < 2 and not ctx.code_lines("random", "gap"):
        return False, "every pipe's gap is at the same height: pipes are not randomly spaced"
    return True, f"{', '.join(sorted(families))} pipes"


def score_seen_counting(ctx: Context) -> bool:
    """The keyword read above misses a score kept under another name (`points`, `passed`):
    play settles it when the shown number went up as the autopilot passed a pipe."""
    autopilot = played_runs(ctx.report.runs).get("autopilot")
    if autopilot is None or not autopilot.passes:
        return False
    series = score_numbers(autopilot).values()
    return any(counts_near(s, frame) for s in series for frame, _ in autopilot.passes)


def check_best_score(ctx: Context) -> Verdict:
    pattern = re.compile(r"best|high", re.IGNORECASE)
    if any(pattern.search(t) for f in ctx.all_frames() for t, _ in dr.texts(f)):
        return True, "a best score is shown"
    return False, "no text with the best (high) score was drawn after a loss"


RESTART_WITHIN = 19   # frames after the restart press in which the game must leave game over


def check_quit_restart(ctx: Context) -> Verdict:
    """Point 8, in the game-over state: q or Esc quits (the scenarios press them only there;
    closing the window is pressed mid-flight, as any window must close), and SPACE leaves it.

    A restart is judged by state, at any frame soon after SPACE, not by one frame: the
    game-over texts go (or the score resets), or the bird goes back to its start. A restart
    that keeps the fall speed may end the new round within a second; it was a restart all
    the same, and the scenario flaps on at once as a player would."""
    quits = [f for f in ctx.report.findings if f.code in ("quit-ignored", "early-exit", "exception", "hang")]
    if any(f.code == "quit-ignored" for f in quits):
        return False, "q or Esc on the game-over screen, or closing the window, does not quit the game"
    result = ctx.play.result or {}
    restart = ctx.play.scenario.frames_with_role("restart")
    if not restart:
        return True, "the scenario does not test restarting"
    at = restart[0]
    if result.get("frame", 0) <= at + 5:
        return False, f"the game did not run past the restart press at frame {at} ({result.get('outcome')})"
    # What the player sees at the press is the last frame drawn before it: a game that draws
    # its game-over screen once and then blocks in pygame.event.wait() drew it long before.
    last_shown = max((f["f"] for f in ctx.frames if f["f"] < at), default=at - 1)
    before = {t for f in ctx.frames if last_shown - 2 <= f["f"] <= last_shown for t, _ in dr.texts(f)}
    after = [f for f in ctx.frames if at < f["f"] <= at + RESTART_WITHIN]
    if any(before - {t for t, _ in dr.texts(f)} for f in after):
        return True, "the game-over texts went away after SPACE"
    ys = ctx.bird.ys if ctx.bird else {}
    seen_at = max((f for f in ys if f < at), default=None)
    if seen_at is not None and any(abs(ys[f["f"]] - ys[seen_at]) > 20 for f in after if f["f"] in ys):
        return True, "the bird went back to its start after SPACE"
    return False, f"SPACE at frame {at} after a loss did not leave the game-over screen (nothing changed on screen)"


CHECKS: tuple[tuple[str, Callable[[Context], Verdict]], ...] = (
    ("background", check_background),
    ("accelerate", check_accelerate),
    ("bird", check_bird),
    ("land", check_land),
    ("score", check_score),
    ("pipes", check_pipes),
    ("best-score", check_best_score),
    ("quit-restart", check_quit_restart),
)
