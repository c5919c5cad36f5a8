"""The autopilot's run as rounds, like a tester plays: each restart after a loss starts a new
round. Checks that need rounds: pipes that first appear only after a restart, no pipes in any
round, and a best score on the game-over screen below the score the round just reached.

A round ends in a loss where the next restart was pressed (the bird sat still before it: the
game-over screen) or, for the last round, where the run ends with the bird still.
"""

from __future__ import annotations

import re

from pipeline.codes import finding
from pipeline.findings import Finding
from validators.play.player.score import score_numbers
from validators.play.track import Played, where
from validators.smoke.harness import draw_reader as dr

BEST = re.compile(r"(?:best|high)\D*(\d+)", re.IGNORECASE)
GAME_OVER_FRAMES = 8      # frames before a restart press read as the game-over screen
STILL_AT_END = 20         # the bird did not move in the run's last frames: it ended in a loss
SETTLE_FRAMES = 3         # frames after a restart press before the new round's score is read


def round_starts(run: Played) -> list[int]:
    """First frame of each round: the run's first frame, then each restart press."""
    return [run.frames[0]["f"], *run.restarts] if run.frames else []


def lost_rounds(run: Played) -> list[tuple[int, int, int]]:
    """(round, first frame, frame of its game-over screen's end) for each round that ended in a
    loss whose game-over screen was on show."""
    starts = round_starts(run)
    ends = list(run.restarts)
    ys = [run.birds[f["f"]].cy for f in run.frames[-STILL_AT_END:] if f["f"] in run.birds]
    if run.frames and len(run.frames) > STILL_AT_END and (not ys or max(ys) - min(ys) < 1):
        ends.append(run.frames[-1]["f"] + 1)
    return [(i + 1, starts[i], end) for i, end in enumerate(ends) if i < len(starts)]


def check_pipes_by_round(autopilot: Played | None) -> list[Finding]:
    """No pipe in any round, or none in the first round but some after a restart (point 7)."""
    if autopilot is None or not autopilot.restarts:
        return []  # one round only: the autopilot's own finding says what it saw
    rounds = len(autopilot.restarts) + 1
    if not autopilot.pairs:
        return [finding("requirements/no-pipes", f"no pipe was drawn in any of {rounds} rounds "
                        f"({autopilot.frames[-1]['f']} frames of play)", None,
                        **where(autopilot, autopilot.frames[-1]["f"], rounds=rounds))]
    first = min(autopilot.pairs)
    if first < autopilot.restarts[0]:
        return []
    number = autopilot.round_of(first)
    return [finding("requirements/pipes-after-restart", f"the first round (frames 0-"
                    f"{autopilot.restarts[0]}) had no pipe; pipes first appear in round {number} "
                    f"at frame {first}, after a loss and SPACE", None,
                    **where(autopilot, first, [first], round=number))]


def check_best_kept(autopilot: Played | None) -> list[Finding]:
    """After a round whose score reached k, the best score on its game-over screen is >= k."""
    if autopilot is None:
        return []
    scores = [(f, n) for series in score_numbers(autopilot).values() for f, n, _ in series]
    for number, start, end in lost_rounds(autopilot):
        reached = max((n for f, n in scores if start + SETTLE_FRAMES <= f < end), default=0)
        shown = [(f["f"], int(m.group(1))) for f in autopilot.frames if end - GAME_OVER_FRAMES <= f["f"] < end
                 for text, _ in dr.texts(f) if (m := BEST.search(text))]
        if reached and shown and max(n for _, n in shown) < reached:
            frame, best = shown[-1]
            return [finding("requirements/best-not-kept", f"round {number} reached a score of "
                            f"{reached}, but its game-over screen shows a best score of {best} "
                            f"(frame {frame})", None,
                            **where(autopilot, frame, round=number, score=reached, best=best))]
    return []
