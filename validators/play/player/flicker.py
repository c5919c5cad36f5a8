"""Flicker: a region whose colour changes from frame to frame while its shape stays put.

The regions a player watches: the background (the fill covering the window), the land, each
pipe pair (followed as it moves left) and the bird. A change counts between two consecutive
drawn frames when the region has the same geometry (or is the same moving pipe) and a colour
channel jumps by COLOUR_STEP or more, so a slow day-to-night fade is not flicker. One change
at a restart, or one per pipe passed, is legitimate; many within a short window are a colour
re-chosen every frame.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from pipeline.codes import finding
from pipeline.findings import Finding
from validators.play.track import Played, colour_gap, where
from validators.smoke.harness import draw_reader as dr

COLOUR_STEP = 24
WINDOW = 60          # consecutive frame pairs looked at together
MIN_CHANGES = 10     # changes within WINDOW that make it flicker


def _pairs(run: Played) -> Iterator[tuple[dict, dict]]:
    frames = run.frames
    for a, b in zip(frames, frames[1:], strict=False):
        if b["f"] - a["f"] == 1:
            yield a, b


def region_changes(run: Played) -> dict[str, list[tuple[int, bool]]]:
    """Region -> [(frame, changed)] over consecutive frames where the region kept its shape."""
    seen: dict[str, list[tuple[int, bool]]] = {"background": [], "land": [], "pipe": [], "bird": []}
    for a, b in _pairs(run):
        f = b["f"]
        shapes_a, shapes_b = run.shapes[a["f"]], run.shapes[f]
        bg_a, bg_b = _background(shapes_a, run.window), _background(shapes_b, run.window)
        if bg_a and bg_b:
            seen["background"].append((f, colour_gap(bg_a.rgb, bg_b.rgb) >= COLOUR_STEP))
        land_a, land_b = _land(shapes_a, run.window), _land(shapes_b, run.window)
        if land_a and land_b and (land_a.x, land_a.y, land_a.w, land_a.h) == (land_b.x, land_b.y, land_b.w, land_b.h):
            seen["land"].append((f, colour_gap(land_a.rgb, land_b.rgb) >= COLOUR_STEP))
        pipes_a, pipes_b = run.pairs.get(a["f"], []), run.pairs.get(f, [])
        moved = [(p, q) for q in pipes_b for p in pipes_a if dr.same_pipe(p, q)]
        if moved:
            seen["pipe"].append((f, any(colour_gap(p.rgb, q.rgb) >= COLOUR_STEP for p, q in moved)))
        bird_a, bird_b = run.birds.get(a["f"]), run.birds.get(f)
        if bird_a and bird_b and bird_a.kind == bird_b.kind and abs(bird_a.cy - bird_b.cy) < 40:
            seen["bird"].append((f, colour_gap(bird_a.rgb, bird_b.rgb) >= COLOUR_STEP))
    return seen


def _background(shapes: list[dr.Box], window: tuple[int, int]) -> dr.Box | None:
    return next((s for s in shapes if dr.is_backdrop(s, window) and s.rgb != dr.UNKNOWN), None)


def _land(shapes: list[dr.Box], window: tuple[int, int]) -> dr.Box | None:
    """The widest band along the bottom."""
    bands = [s for s in shapes if dr.is_land_band(s, window)]
    return max(bands, key=lambda s: s.w * s.h) if bands else None


def densest(changes: list[tuple[int, bool]]) -> tuple[int, int, int]:
    """(changes, pairs looked at, first frame) of the WINDOW-long stretch with most changes."""
    best = (0, 0, 0)
    for i in range(len(changes)):
        stretch = changes[i:i + WINDOW]
        count = sum(1 for _, c in stretch if c)
        if count > best[0]:
            best = (count, len(stretch), stretch[0][0])
        if len(stretch) < WINDOW:
            break
    return best


def check_flicker(runs: dict[str, Played]) -> list[Finding]:
    worst: dict[str, tuple[int, int, int, Played]] = {}
    for run in runs.values():
        for region, changes in region_changes(run).items():
            count, looked, frame = densest(changes)
            if count >= MIN_CHANGES and (region not in worst or count > worst[region][0]):
                worst[region] = (count, looked, frame, run)
    findings = []
    for region, (count, looked, frame, run) in worst.items():
        still = "while it moved on steadily" if region in ("pipe", "bird") else "while nothing moved"
        details = where(run, frame, range(frame, frame + WINDOW), region=region, changes=count)
        pair = next((shots for r in (run, *runs.values()) if (shots := _shots_of_a_change(r, region))), None)
        if pair:
            details["screenshots"] = pair
        findings.append(finding("requirements/flicker", f"{region} colour changed on {count} of {looked} "
                                f"consecutive frames {still}", None, **details))
    return findings


def _shots_of_a_change(run: Played, region: str) -> list[str] | None:
    """Screenshots of two consecutive frames between which the region changed colour (a
    scenario may take such a pair, frames N and N + 1), so a person sees the flicker."""
    shots = {int(m.group(1)): str(p) for p in run.screenshots if (m := re.search(r"-f(\d+)\.png$", p.name))}
    changed = {f for f, c in region_changes(run)[region] if c}
    for f in sorted(changed):
        if f in shots and f - 1 in shots:
            return [shots[f - 1], shots[f]]
    return None
