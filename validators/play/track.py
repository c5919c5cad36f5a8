"""What happened in one played run, read back from its draw record: where the bird was in each
frame, the pipe pairs, which pipes the bird flew through, and when the game restarted.

The autopilot (validators/smoke/harness/autopilot.py) steers by the same readings inside the sandbox
(validators/smoke/harness/draw_reader.py); this side recounts them from the record, so a finding never
trusts the child's own word.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from validators.smoke.harness import draw_reader as dr

if TYPE_CHECKING:
    from validators.smoke.smoke_run import ScenarioRun

RESTART_STILL_FRAMES = 10   # the bird sat still this long before a SPACE that restarted the game
RESTART_MOVE_WITHIN = 25    # ... and moved again within this many frames
SURVIVE_FRAMES = 12         # a pass counts when the pipes still scroll this many frames later


@dataclass
class Played:
    """One scenario run as a player saw it."""

    name: str
    window: tuple[int, int]
    frames: list[dict[str, Any]]                # drawn frames only
    screenshots: list[Path] = field(default_factory=list)

    @cached_property
    def shapes(self) -> dict[int, list[dr.Box]]:
        """frame -> its filled shapes, read once (a still frame shares the ops of the one
        before it, and its shapes too)."""
        found: dict[int, list[dr.Box]] = {}
        last_ops: object = None
        last: list[dr.Box] = []
        for frame in self.frames:
            if frame["ops"] is not last_ops:
                last_ops, last = frame["ops"], dr.boxes(frame["ops"])
            found[frame["f"]] = last
        return found

    @cached_property
    def bird_key(self) -> tuple[str, int] | None:
        """(kind, centre x) of the bird: a small shape seen at one x in many frames whose y
        moves. Keyed by place, not colour, so a bird whose colour changes stays one bird."""
        seen: dict[tuple[str, int], list[float]] = {}
        area: dict[tuple[str, int], int] = {}
        twice: dict[tuple[str, int], int] = {}   # frames with two such shapes: not one bird
        for frame in self.frames:
            here: set[tuple[str, int]] = set()
            for b in self.shapes[frame["f"]]:
                if dr.is_small(b, self.window) and 0 <= b.cy < self.window[1]:
                    key = (b.kind, round(b.cx))
                    if key in here:
                        twice[key] = twice.get(key, 0) + 1
                        continue
                    here.add(key)
                    seen.setdefault(key, []).append(b.cy)
                    area[key] = max(area.get(key, 0), b.w * b.h)
        moving = [(len(ys) + area[key] / 100, key) for key, ys in seen.items()
                  if len(ys) >= 10 and len(set(ys)) >= 5 and statistics.pstdev(ys) >= 2
                  and twice.get(key, 0) <= 0.2 * len(ys)]
        return max(moving)[1] if moving else None

    @cached_property
    def birds(self) -> dict[int, dr.Box]:
        """frame -> the bird's box: the small shape at the bird's x (its kind first, then any:
        a restart may re-choose the shape)."""
        key = self.bird_key
        if key is None:
            return {}
        found = {}
        for frame in self.frames:
            shapes = self.shapes[frame["f"]]
            small = [b for b in shapes if dr.is_small(b, self.window) and 0 <= b.cy < self.window[1]]
            bird = dr.bird_near(small, key[0], key[1])
            if bird is not None:
                found[frame["f"]] = bird
        return found

    @cached_property
    def bird_x(self) -> float | None:
        xs = sorted(b.cx for b in self.birds.values())
        return xs[len(xs) // 2] if xs else None

    @cached_property
    def pairs(self) -> dict[int, list[dr.Pair]]:
        """frame -> pipe pairs drawn in it (frames without pipes left out)."""
        found = {}
        last: tuple[object, object, list[dr.Pair]] = (None, None, [])
        for frame in self.frames:
            shapes, bird = self.shapes[frame["f"]], self.birds.get(frame["f"])
            if shapes is not last[0] or bird != last[1]:  # a still frame: the same pipes
                last = (shapes, bird, dr.pipe_pairs(shapes, self.window, bird))
            if last[2]:
                found[frame["f"]] = last[2]
        return found

    @cached_property
    def passes(self) -> list[tuple[int, dr.Pair]]:
        """(frame, pair) for each pipe the bird flew through and survived: the pipes still
        scroll a little later (a game whose collision box is larger than its drawing may end
        the game at the very pipe the drawing shows passed)."""
        passed, before = [], []
        for frame in self.frames:
            now = self.pairs.get(frame["f"], [])
            bird = self.birds.get(frame["f"])
            if bird is not None:
                passed += [(frame["f"], p) for p in dr.flew_through(before, now, bird)
                           if self.scrolling(frame["f"])]
            before = now
        return passed

    def scrolling(self, frame: int, later: int = SURVIVE_FRAMES) -> bool:
        """Pipes still move left `later` frames after `frame` (the game goes on)."""
        then, after = self.pairs.get(frame + later - 2, []), self.pairs.get(frame + later, [])
        return any(p.x > q.x and (p.gap_top, p.gap_bottom) == (q.gap_top, q.gap_bottom)
                   for p in then for q in after)

    @cached_property
    def restarts(self) -> list[int]:
        """Frames of SPACE presses that brought a still (dead) bird back: the bird sat still
        before the press, changed place after it, and had flown since the last such press (a
        press on a start screen, where the bird waits unflown, is a start, not a restart)."""
        presses = [e["f"] for e in self.all_frames if ["down", "space"] in e.get("in", [])]
        ys = {f: b.cy for f, b in self.birds.items()}
        found, last = [], -1
        for p in presses:
            before = [ys[f] for f in range(p - RESTART_STILL_FRAMES, p) if f in ys]
            after = [ys[f] for f in range(p, p + RESTART_MOVE_WITHIN) if f in ys]
            if len(before) < RESTART_STILL_FRAMES - 2 or max(before) - min(before) >= 1 or not after \
                    or max(abs(y - before[-1]) for y in after) <= 3:
                continue
            flown = [ys[f] for f in range(last + 1, p - RESTART_STILL_FRAMES) if f in ys]
            if flown and max(flown) - min(flown) > 10:
                found.append(p)
            last = p
        return found

    all_frames: list[dict[str, Any]] = field(default_factory=list)

    def round_of(self, frame: int) -> int:
        """1 for the first round (game), 2 after the first restart, ..."""
        return 1 + sum(1 for press in self.restarts if press <= frame)

    def frame(self, number: int) -> dict[str, Any] | None:
        for f in self.frames:
            if f["f"] >= number:
                return f
        return None

    def screenshot_near(self, frame: int, visible: Collection[int] = ()) -> str | None:
        """The kept screenshot closest to a frame, one taken where the defect is `visible` first
        (the run's last screenshot counts as its last frame)."""
        best: tuple[bool, int, str] | None = None
        for path in self.screenshots:
            match = re.search(r"-f(\d+)\.png$", path.name)
            at = int(match.group(1)) if match else (self.frames[-1]["f"] if self.frames else 0)
            rank = (at not in visible, abs(at - frame), str(path))
            if best is None or rank < best:
                best = rank
        return best[2] if best else None


def played_runs(runs: dict[str, ScenarioRun]) -> dict[str, Played]:
    """Every run that drew at least one frame in a known window."""
    played = {}
    for name, run in runs.items():
        window = (run.result or {}).get("window")
        frames = dr.drawn(run.frames)
        if window and frames:
            played[name] = Played(name, (int(window[0]), int(window[1])), frames,
                                  list(run.screenshots), all_frames=list(run.frames))
    return played


def where(run: Played, frame: int, visible: Collection[int] = (), **extra: Any) -> dict[str, Any]:
    """A finding's details: scenario, frame and the screenshot that shows it (one taken at a
    `visible` frame, where the defect is on screen, when there is one)."""
    details: dict[str, Any] = {"scenario": run.name, "frame": frame, **extra}
    shot = run.screenshot_near(frame, visible)
    if shot:
        details["screenshot"] = shot
    return details


def colour_gap(a: Sequence[int], b: Sequence[int]) -> int:
    return max(abs(int(x) - int(y)) for x, y in zip(a, b, strict=False))
