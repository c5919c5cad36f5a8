"""Reading the harness's draw record: backgrounds, the bird, pipe pairs, land and texts.

A frame entry is {"f": frame, "t": virtual ms, "flip": 0/1, "in": [[kind, key]...], "ops": [...]}
and an op is [kind, rgb, [x, y, w, h], width, extra] (see validators/smoke/harness/harness_record.py).
These readers are shared by the requirement checks and, later, by a controller that plays.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from validators.play.colour_families import is_dark
from validators.smoke.harness import play_view as pv

Op = list[Any]
Frame = dict[str, Any]
SHAPES = ("rect", "circle", "ellipse", "polygon")


@dataclass(frozen=True)
class Shape:
    kind: str
    rgb: tuple[int, int, int]
    x: int
    y: int
    w: int
    h: int
    points: int  # polygon vertex count, 0 otherwise

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2

    @property
    def form(self) -> str | None:
        """square, circle or triangle, as a player would name it."""
        if self.kind == "polygon" and self.points == 3:
            return "triangle"
        if self.w == 0 or self.h == 0 or not 0.75 <= self.w / self.h <= 1.33:
            return None
        return {"rect": "square", "circle": "circle", "ellipse": "circle"}.get(self.kind)


def shapes(frame: Frame) -> list[Shape]:
    """Filled shapes of a frame, in drawing order."""
    found = []
    for op in frame.get("ops", []):
        kind, rgb, box, width = op[0], op[1], op[2], op[3]
        if kind in (*SHAPES, "fill") and rgb and (width == 0 or kind == "fill"):
            points = len(op[4]) if kind == "polygon" and isinstance(op[4], list) else 0
            found.append(Shape("rect" if kind == "fill" else kind, tuple(rgb), *box, points))
    return found


def texts(frame: Frame) -> list[tuple[str, list[int]]]:
    return [(str(op[4]), op[2]) for op in frame.get("ops", []) if op[0] == "text"]


def drawn(frames: Sequence[Frame]) -> list[Frame]:
    return [f for f in frames if f.get("flip")]


def background(frame: Frame, window: Sequence[int]) -> tuple[int, int, int] | None:
    """The colour of the first op that covers (nearly) the whole window."""
    return next((s.rgb for s in shapes(frame) if pv.is_backdrop(s, window)), None)


@dataclass(frozen=True)
class BirdTrack:
    kind: str
    rgb: tuple[int, int, int]
    form: str | None
    ys: dict[int, float]  # frame -> centre y


def track_bird(frames: Sequence[Frame], window: Sequence[int]) -> BirdTrack | None:
    """The small filled shape whose x stays put while its y moves: the bird.

    Its colour and shape may be re-chosen at every restart, so series of different colours at
    the same x are joined into one track; its kind and colour are the first game's.
    """
    width, height = window
    series: dict[tuple[str, tuple[int, int, int]], list[tuple[int, Shape]]] = {}
    for frame in drawn(frames):
        seen = set()
        for s in shapes(frame):
            key = (s.kind, s.rgb)
            if key in seen or not (6 <= s.w <= width * 0.2 and 6 <= s.h <= height * 0.15):
                continue
            seen.add(key)
            series.setdefault(key, []).append((frame["f"], s))
    candidates = []
    for (kind, rgb), items in series.items():
        xs = [s.cx for _, s in items]
        ys = [s.cy for _, s in items]
        if len(items) < 10 or statistics.pstdev(xs) > 3 or statistics.pstdev(ys) < 2:
            continue
        score = len(items) + (50 if is_dark(rgb) else 0)
        candidates.append((score, statistics.mean(xs), kind, rgb, items))
    if not candidates:
        return _track_by_place(frames, window)
    candidates.sort(key=lambda c: (-c[0], min(f for f, _ in c[4])))
    _, x0, _, _, _ = candidates[0]
    joined = [c for c in candidates if abs(c[1] - x0) <= 12]
    first = min(joined, key=lambda c: min(f for f, _ in c[4]))
    ys_by_frame: dict[int, float] = {}
    for c in joined:
        for f, s in c[4]:
            ys_by_frame.setdefault(f, s.cy)
    forms = Counter(s.form for _, s in first[4])
    return BirdTrack(first[2], first[3], forms.most_common(1)[0][0], ys_by_frame)


def _track_by_place(frames: Sequence[Frame], window: Sequence[int]) -> BirdTrack | None:
    """A bird re-coloured on every frame (a flicker defect) forms no colour series: group the
    small shapes by kind and x instead."""
    width, height = window
    series: dict[tuple[str, int], list[tuple[int, Shape]]] = {}
    for frame in drawn(frames):
        for s in shapes(frame):
            if 6 <= s.w <= width * 0.2 and 6 <= s.h <= height * 0.15:
                series.setdefault((s.kind, round(s.cx)), []).append((frame["f"], s))
    moving = [(len(items), key[1], items) for key, items in series.items()
              if len(items) >= 10 and statistics.pstdev([s.cy for _, s in items]) >= 2]
    if not moving:
        return None
    _, x0, items = max(moving, key=lambda m: m[0])
    ys: dict[int, float] = {}
    for _, x, joined in moving:  # a restart may re-choose the shape: same place, one bird
        for f, s in joined if abs(x - x0) <= 12 else ():
            ys.setdefault(f, s.cy)
    forms = Counter(s.form for _, s in items)
    return BirdTrack(items[0][1].kind, items[0][1].rgb, forms.most_common(1)[0][0], ys)


@dataclass(frozen=True)
class PipePair:
    x: int
    w: int
    gap_top: int
    gap_bottom: int
    rgb: tuple[int, int, int]


def pipe_pairs(frame: Frame, window: Sequence[int]) -> list[PipePair]:
    """Two filled rects in one column, one from the top edge down, one below it with a gap."""
    width, height = window
    columns: dict[tuple[int, int], list[Shape]] = {}
    for s in shapes(frame):
        if s.kind == "rect" and 15 <= s.w <= width * 0.4 and s.h >= height * 0.05:
            columns.setdefault((s.x, s.w), []).append(s)
    pairs = []
    for (x, w), rects in columns.items():
        tops = [r for r in rects if r.y <= 2]
        lows = [r for r in rects if r.y > 2]
        if tops and lows:
            top = max(tops, key=lambda r: r.y + r.h)
            low = min(lows, key=lambda r: r.y)
            if low.y > top.y + top.h:
                pairs.append(PipePair(x, w, top.y + top.h, low.y, top.rgb))
    return pairs


def land(frame: Frame, window: Sequence[int]) -> list[Shape]:
    """Filled shapes spanning most of the width and reaching the bottom edge (not the sky)."""
    return [s for s in shapes(frame) if pv.is_land_band(s, window)]
