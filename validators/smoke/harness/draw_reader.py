"""The one reader of the draw record: what a player sees in it. Shapes and texts of a frame,
the background, the land, small shapes (bird candidates), the bird's track over a run, pipe
pairs, and which pipe the bird flew through between two frames.

Standard library only, and no project imports: the autopilot uses it inside the sandbox (copied
beside run_game.py) and every check outside imports it as `validators.smoke.harness.draw_reader`, so
both sides see the same bird, the same pipes and the same passes. Judging colours (light, dark,
"dark green") is not reading: that stays outside, in validators/play/colour_families.py.

A frame entry is {"f": frame, "t": virtual ms, "flip": 0/1, "in": [[kind, key]...], "ops": [...]}
and an op is [kind, rgb, [x, y, w, h], width, extra] (see harness_record.py).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

Frame = dict[str, Any]
RGB = tuple[int, int, int]

FILLED_KINDS = ("rect", "circle", "ellipse", "polygon")
UNKNOWN = (-1, -1, -1)    # the colour of a blitted surface: the record does not know it
CROSSING_MAX_SHIFT = 40   # px a pipe may move left between two frames and still be the same pipe
CAP_REACH = 2             # px: a cap rect touching a pipe's end narrows that pipe's gap


class Box(NamedTuple):
    """A filled shape as drawn (a NamedTuple: thousands are made per run)."""

    kind: str
    rgb: tuple[int, int, int]
    x: int
    y: int
    w: int
    h: int
    points: int = 0   # a polygon's vertex count

    @property
    def right(self) -> int:
        return self.x + self.w

    @property
    def bottom(self) -> int:
        return self.y + self.h

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2

    def overlaps_x(self, other: Box) -> int:
        return min(self.right, other.right) - max(self.x, other.x)

    @property
    def form(self) -> str | None:
        """square, circle or triangle, as a player would name it."""
        if self.kind == "polygon" and self.points == 3:
            return "triangle"
        if self.w == 0 or self.h == 0 or not 0.75 <= self.w / self.h <= 1.33:
            return None
        return {"rect": "square", "circle": "circle", "ellipse": "circle"}.get(self.kind)


class Pair(NamedTuple):
    """A pipe pair: a column [x, x + w) blocked above gap_top and below gap_bottom."""

    x: int
    w: int
    gap_top: int
    gap_bottom: int
    rgb: tuple[int, int, int]
    pipes: int = 1   # pairs merged into this one because they overlap in x

    @property
    def right(self) -> int:
        return self.x + self.w

    @property
    def gap(self) -> int:
        return self.gap_bottom - self.gap_top

    @property
    def gap_centre(self) -> float:
        return (self.gap_top + self.gap_bottom) / 2


def boxes(ops: Iterable[Sequence[Any]]) -> list[Box]:
    """The filled shapes, fills and image blits of a frame, in drawing order. A blitted
    surface (a sprite: a bird or pipe drawn off-screen first) has no known colour: UNKNOWN."""
    found = []
    for op in ops:
        kind, rgb, box, width = op[0], op[1], op[2], op[3]
        if rgb and (kind == "fill" or (kind in FILLED_KINDS and width == 0)):
            points = len(op[4]) if kind == "polygon" and isinstance(op[4], list) else 0
            found.append(Box("rect" if kind == "fill" else kind, (rgb[0], rgb[1], rgb[2]),
                             box[0], box[1], box[2], box[3], points))
        elif kind == "blit":
            found.append(Box("blit", UNKNOWN, box[0], box[1], box[2], box[3]))
    return found


def coloured(frame: Frame) -> list[Box]:
    """The frame's filled shapes of known colour (no blits), in drawing order."""
    return [b for b in boxes(frame.get("ops", [])) if b.kind != "blit"]


def texts(frame: Frame) -> list[tuple[str, list[int]]]:
    """Each text drawn in the frame and its box [x, y, w, h]."""
    return [(str(op[4]), op[2]) for op in frame.get("ops", []) if op[0] == "text"]


def drawn(frames: Sequence[Frame]) -> list[Frame]:
    """The frames that reached the screen (a flip or update ended them)."""
    return [f for f in frames if f.get("flip")]


def background(frame: Frame, window: Sequence[int]) -> RGB | None:
    """The colour of the first op that covers (nearly) the whole window."""
    return next((b.rgb for b in coloured(frame) if is_backdrop(b, window)), None)


def land(frame: Frame, window: Sequence[int]) -> list[Box]:
    """Filled shapes spanning most of the width and reaching the bottom edge (not the sky)."""
    return [b for b in coloured(frame) if is_land_band(b, window)]


def is_land_band(b: Box, window: Sequence[int]) -> bool:
    """The land: a band across most of the width, in the lower half, down to the bottom edge.
    The one reading of "land" for the autopilot, the requirement checks and the play checks."""
    width, height = window
    return b.w >= 0.8 * width and b.y > 0.5 * height and b.y + b.h >= height - 2


def is_backdrop(b: Box, window: Sequence[int]) -> bool:
    """The background: a shape covering (nearly) the whole window from its top-left corner."""
    return b.w * b.h >= 0.9 * window[0] * window[1] and b.x <= 1 and b.y <= 1


def land_top(shapes: Sequence[Box], window: Sequence[int]) -> int:
    """Where the land begins: the top of the widest band along the bottom (the window's
    bottom when there is none)."""
    tops = [b.y for b in shapes if is_land_band(b, window)]
    return min(tops) if tops else window[1]


def is_small(b: Box, window: Sequence[int]) -> bool:
    """Bird-sized: a few pixels to a fifth of the width, under a seventh of the height, and
    not hanging from the top edge (the stub of a top pipe is that small too)."""
    return 6 <= b.w <= window[0] * 0.2 and 6 <= b.h <= window[1] * 0.15 and b.y > 0


def bird_near(shapes: Sequence[Box], kind: str, x: float) -> Box | None:
    """The bird where it was last seen: the small shape closest to its x (its kind first; a
    restart may re-choose the shape), so a short pipe passing by is not taken for it."""
    near = [b for b in shapes if abs(b.cx - x) <= 12]
    if not near:
        return None
    same = [b for b in near if b.kind == kind] or near
    return min(same, key=lambda b: (abs(b.cx - x), -b.w * b.h))


class BirdTrack(NamedTuple):
    """The bird over a run: its first game's kind, colour and shape, and its centre y by frame."""

    kind: str
    rgb: RGB
    form: str | None
    ys: dict[int, float]


def _bird_sized(b: Box, window: Sequence[int]) -> bool:
    return 6 <= b.w <= window[0] * 0.2 and 6 <= b.h <= window[1] * 0.15


def track_bird(frames: Sequence[Frame], window: Sequence[int],
               prefer: Callable[[RGB], bool] = lambda rgb: False) -> BirdTrack | None:
    """The small filled shape whose x stays put while its y moves: the bird. Among several,
    the one seen most, with a bonus for colours `prefer` likes (the prompt's dark bird; the
    colour judgement is the caller's).

    Its colour and shape may be re-chosen at every restart, so series of different colours at
    the same x are joined into one track; its kind and colour are the first game's.
    """
    series: dict[tuple[str, RGB], list[tuple[int, Box]]] = {}
    for frame in drawn(frames):
        seen = set()
        for b in coloured(frame):
            key = (b.kind, b.rgb)
            if key in seen or not _bird_sized(b, window):
                continue
            seen.add(key)
            series.setdefault(key, []).append((frame["f"], b))
    candidates = []
    for (kind, rgb), items in series.items():
        xs = [b.cx for _, b in items]
        ys = [b.cy for _, b in items]
        if len(items) < 10 or statistics.pstdev(xs) > 3 or statistics.pstdev(ys) < 2:
            continue
        score = len(items) + (50 if prefer(rgb) else 0)
        candidates.append((score, statistics.mean(xs), kind, rgb, items))
    if not candidates:
        return _track_by_place(frames, window)
    candidates.sort(key=lambda c: (-c[0], min(f for f, _ in c[4])))
    _, x0, _, _, _ = candidates[0]
    joined = [c for c in candidates if abs(c[1] - x0) <= 12]
    # the first game's bird; of shapes drawn from the same frame (a bird and its eye), the largest
    first = min(joined, key=lambda c: (min(f for f, _ in c[4]), -max(b.w * b.h for _, b in c[4])))
    ys_by_frame: dict[int, float] = {}
    for c in joined:
        for f, b in c[4]:
            ys_by_frame.setdefault(f, b.cy)
    forms = Counter(b.form for _, b in first[4])
    return BirdTrack(first[2], first[3], forms.most_common(1)[0][0], ys_by_frame)


def _track_by_place(frames: Sequence[Frame], window: Sequence[int]) -> BirdTrack | None:
    """A bird re-coloured on every frame (a flicker defect) forms no colour series: group the
    small shapes by kind and x instead."""
    series: dict[tuple[str, int], list[tuple[int, Box]]] = {}
    for frame in drawn(frames):
        for b in coloured(frame):
            if _bird_sized(b, window):
                series.setdefault((b.kind, round(b.cx)), []).append((frame["f"], b))
    moving = [(len(items), key[1], items) for key, items in series.items()
              if len(items) >= 10 and statistics.pstdev([b.cy for _, b in items]) >= 2]
    if not moving:
        return None
    _, x0, items = max(moving, key=lambda m: m[0])
    ys: dict[int, float] = {}
    for _, x, joined in moving:  # a restart may re-choose the shape: same place, one bird
        for f, b in joined if abs(x - x0) <= 12 else ():
            ys.setdefault(f, b.cy)
    forms = Counter(b.form for _, b in items)
    return BirdTrack(items[0][1].kind, items[0][1].rgb, forms.most_common(1)[0][0], ys)


def pipe_pairs(shapes: Sequence[Box], window: Sequence[int], bird: Box | None = None) -> list[Pair]:
    """Pipe pairs, left to right: a rect hanging from the top edge and one standing on the land
    (or the bottom edge) in the same column, the gap between them narrowed by any cap rect that
    touches either end. Rects of a pipe that overlaps its neighbour pair with the nearest."""
    width, height = window
    floor = land_top(shapes, window)
    columns = [b for b in shapes if b.kind in ("rect", "blit") and 10 <= b.w <= 0.4 * width
               and b.h >= 0.04 * height and not _is_bird(b, bird)]
    tops = [b for b in columns if b.y <= 2 and b.bottom < floor - 2]
    lows = [b for b in columns if b.y > 2 and b.bottom >= floor - 3 and b.y < floor]
    pairs = []
    used: set[int] = set()
    for top in sorted(tops, key=lambda b: b.x):
        options = [(abs(low.cx - top.cx), i) for i, low in enumerate(lows)
                   if i not in used and low.overlaps_x(top) >= 0.5 * min(low.w, top.w) and low.y > top.bottom]
        if not options:
            continue
        _, i = min(options)
        used.add(i)
        low = lows[i]
        gap_top, gap_bottom = top.bottom, low.y
        for cap in shapes:  # a wider or differently coloured end piece narrows the gap
            if cap is top or cap is low or _is_bird(cap, bird) or cap.overlaps_x(top) <= 0:
                continue
            if cap.y <= gap_top + CAP_REACH and gap_top < cap.bottom < gap_bottom:
                gap_top = cap.bottom
            elif cap.bottom >= gap_bottom - CAP_REACH and gap_top < cap.y < gap_bottom:
                gap_bottom = cap.y
        x = min(top.x, low.x)
        pairs.append(Pair(x, max(top.right, low.right) - x, gap_top, gap_bottom, top.rgb))
    return merge_overlapping(sorted(pairs, key=lambda p: p.x))


def merge_overlapping(pairs: Sequence[Pair]) -> list[Pair]:
    """Pairs that overlap in x are one obstacle: the bird must fit through all their gaps at
    once, so its opening is their intersection (none left: gap_top == gap_bottom)."""
    merged: list[Pair] = []
    for pair in pairs:
        if merged and pair.x < merged[-1].right:
            last = merged[-1]
            top, bottom = max(last.gap_top, pair.gap_top), min(last.gap_bottom, pair.gap_bottom)
            right = max(last.right, pair.right)
            merged[-1] = Pair(last.x, right - last.x, top, max(top, bottom), last.rgb, last.pipes + pair.pipes)
        else:
            merged.append(pair)
    return merged


def _is_bird(b: Box, bird: Box | None) -> bool:
    return bird is not None and b.kind == bird.kind and b.rgb == bird.rgb and abs(b.cx - bird.cx) <= 2 \
        and abs(b.cy - bird.cy) <= 2


def same_pipe(before: Pair, after: Pair) -> bool:
    """The same pair one frame later: moved left by at most CROSSING_MAX_SHIFT, same gap."""
    shift = before.x - after.x
    return 0 <= shift <= CROSSING_MAX_SHIFT and abs(before.gap_top - after.gap_top) <= 2 \
        and abs(before.gap_bottom - after.gap_bottom) <= 2


def flew_through(before: Sequence[Pair], after: Sequence[Pair], bird: Box) -> list[Pair]:
    """Pairs whose right edge moved past the bird's left edge between two frames while the
    bird's centre was inside their gap: pipes the bird passed, as a player counts them."""
    passed = []
    for now in after:
        if now.right >= bird.x or not now.gap_top <= bird.cy <= now.gap_bottom:
            continue
        if any(same_pipe(prev, now) and prev.right >= bird.x for prev in before):
            passed.append(now)
    return passed


def ahead(pairs: Sequence[Pair], bird: Box) -> list[Pair]:
    """Pairs the bird has not yet passed, nearest first."""
    return [p for p in pairs if p.right >= bird.x]


def opening(pairs: Sequence[Pair]) -> tuple[float, float] | None:
    """The vertical opening of the first pair ahead (None when it leaves none)."""
    if not pairs or pairs[0].gap <= 0:
        return None
    return pairs[0].gap_top, pairs[0].gap_bottom
