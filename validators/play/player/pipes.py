"""Could the autopilot fly through pipes, and if not, is the game to blame?

From the autopilot run: the pipes it flew through (play_track), and for every pipe opening it
met (a pair, or overlapping pairs whose gaps intersect) whether a bird fits: taller than the
bird plus a margin. No pass and no opening the bird fits through is the game's fault (an
error); no pass for another reason is reported as a warning with the reason (no pipes ever
drawn, no bird found, or the autopilot could not fly it); some unfair openings in a game that
can be played, or a next gap too high to climb to in time (validators/play/player/reach.py), are a
warning.
"""

from __future__ import annotations

from pipeline.codes import finding
from pipeline.findings import Finding
from validators.play.player.reach import describe, unreachable
from validators.play.track import Played, where
from validators.smoke.harness import draw_reader as dr

BIRD_MARGIN = 0.25  # the opening must exceed the bird's height by this share (and by 6 px)


def needed_opening(bird_h: int) -> float:
    return bird_h + max(6.0, BIRD_MARGIN * bird_h)


def openings(run: Played, bird: dr.Box) -> list[tuple[int, dr.Pair, float, str]]:
    """(frame, pair, opening in px, why) for each distinct pipe opening the bird met (a pair
    level with the bird); pairs that overlap in x come merged (draw_reader.merge_overlapping),
    their opening the intersection of their gaps."""
    left, right = (run.bird_x or bird.cx) - bird.w / 2, (run.bird_x or bird.cx) + bird.w / 2
    seen: dict[tuple[int, int, int], tuple[int, dr.Pair, float, str]] = {}
    for frame, pairs in run.pairs.items():
        for pair in pairs:
            if pair.x > right or pair.right < left:
                continue
            key = (pair.gap_top, pair.gap_bottom, pair.pipes)
            if key not in seen:
                why = "overlaps the next pair" if pair.pipes > 1 else "gap"
                seen[key] = (frame, pair, float(pair.gap), why)
    return list(seen.values())


def check_pipes_playable(autopilot: Played | None, budget_s: float) -> list[Finding]:
    if autopilot is None:
        return []
    passed = len(autopilot.passes)
    bird = next(iter(autopilot.birds.values()), None)
    if not autopilot.pairs:
        if passed or autopilot.restarts:  # several rounds without pipes: requirements/no-pipes
            return []
        return [finding("smoke/autopilot", f"the autopilot passed no pipe in {budget_s:.0f} s of play: "
                        f"no pipes were ever drawn", None, **where(autopilot, autopilot.frames[-1]["f"]))]
    if bird is None:
        return [finding("smoke/autopilot", "the autopilot passed no pipe: no bird found (no small shape "
                        "that stays in place while it moves up and down)", None,
                        **where(autopilot, autopilot.frames[-1]["f"]))]
    need = needed_opening(bird.h)
    met = openings(autopilot, bird)
    bad = [(f, p, size, why) for f, p, size, why in met if size < need]
    if passed == 0:
        if met and len(bad) == len(met):
            frame, pair, size, why = bad[0]
            shown = [f for f, pairs in autopilot.pairs.items()
                     if any(p.gap < need and 0 < p.x < autopilot.window[0] - p.w for p in pairs)]
            return [finding("requirements/pipes-impossible", _describe(pair, size, why, bird.h) +
                            "; no pipe can be passed", None,
                            **where(autopilot, frame, shown, gap_px=round(size), bird_px=bird.h))]
        last = max(autopilot.birds)
        return [finding("smoke/autopilot", f"the autopilot passed no pipe in {budget_s:.0f} s of play "
                        f"although the gaps look wide enough (bird {bird.h} px); it lost at frame {last}",
                        None, **where(autopilot, last))]
    if bad:
        frame, pair, size, why = bad[0]
        return [finding("requirements/pipes-unfair", f"{_describe(pair, size, why, bird.h)} "
                        f"({len(bad)} of {len(met)} openings are too narrow)", None,
                        **where(autopilot, frame, gap_px=round(size), bird_px=bird.h))]
    steep = unreachable(autopilot, bird)
    if steep:
        first = steep[0]
        shown = [f for f, pairs in autopilot.pairs.items() if first.pair in pairs and first.next_pair in pairs]
        return [finding("requirements/pipes-unfair", f"{describe(first)} ({len(steep)} such "
                        f"pair{'s' if len(steep) != 1 else ''})", None,
                        **where(autopilot, first.frame, shown, climb_px=first.climb_px))]
    return []


def _describe(pair: dr.Pair, size: float, why: str, bird_h: int) -> str:
    if why == "gap":
        return f"pipe gap of {max(0, round(size))} px at x={pair.x} is not enough for the {bird_h} px bird"
    if size <= 0:
        return f"pipe at x={pair.x} overlaps the next pair: no gap the bird fits through"
    return f"pipe at x={pair.x} overlaps the next pair, leaving {round(size)} px for the {bird_h} px bird"
