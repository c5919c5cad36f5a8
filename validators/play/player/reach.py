"""Can the bird get from one pipe's gap to the next one's in time?

From the autopilot run: the fastest the bird was seen to climb (px a frame; its flap speed, an
upper bound for a sustained climb), the pipes' speed, and for each two neighbouring pairs the
climb needed (from the top of one opening to the bottom of the next, so the easiest case) and
the frames the pipes leave for it (the room between the pairs, less the bird's width). A climb
that even the peak speed cannot make in that time is unreachable. Descents are not judged: a
bird can always fall faster than it was seen to.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from validators.play.track import Played
from validators.smoke.harness import draw_reader as dr

JUMP_PX = 60   # a bird that moves more than this in a frame was reset (restart), not flying


@dataclass(frozen=True)
class Unreachable:
    frame: int
    pair: dr.Pair
    next_pair: dr.Pair
    climb_px: int
    room_px: int
    frames: float
    climb_rate: float


def climb_rate(run: Played) -> float | None:
    """The fastest upward speed seen (px a frame)."""
    ys = sorted((f, b.cy) for f, b in run.birds.items())
    ups = [y0 - y1 for (f0, y0), (f1, y1) in zip(ys, ys[1:], strict=False) if f1 == f0 + 1 and 0 < y0 - y1 < JUMP_PX]
    return max(ups) if ups else None


def pipe_speed(run: Played) -> float | None:
    """The pipes' speed (px a frame): the median shift of a pair between two frames."""
    shifts = []
    frames = sorted(run.pairs)
    for f0, f1 in zip(frames, frames[1:], strict=False):
        if f1 == f0 + 1:
            shifts += [p.x - q.x for p in run.pairs[f0] for q in run.pairs[f1] if dr.same_pipe(p, q) and p.x > q.x]
    return statistics.median(shifts) if shifts else None


def unreachable(run: Played, bird: dr.Box) -> list[Unreachable]:
    """Neighbouring pairs (both on screen) whose next gap is too high to climb to in time."""
    rate, speed = climb_rate(run), pipe_speed(run)
    if not rate or not speed:
        return []
    found: dict[tuple[int, int, int, int], Unreachable] = {}
    width = run.window[0]
    for frame, pairs in run.pairs.items():
        for p, q in zip(pairs, pairs[1:], strict=False):
            if q.x >= width or p.gap <= 0 or q.gap <= 0:
                continue
            climb = p.gap_top - q.gap_bottom + bird.h
            room = q.x - p.right - bird.w
            frames = max(0, room) / speed
            if climb > 0 and climb > rate * frames:
                key = (p.gap_top, p.gap_bottom, q.gap_top, q.gap_bottom)
                found.setdefault(key, Unreachable(frame, p, q, climb, max(0, room), frames, rate))
    return list(found.values())


def describe(u: Unreachable) -> str:
    return (f"the gap after the pipe at x={u.pair.x} is {u.climb_px} px higher only {u.room_px} px further "
            f"on: at {u.climb_rate:.0f} px a frame the bird cannot climb there in {u.frames:.0f} frames")
