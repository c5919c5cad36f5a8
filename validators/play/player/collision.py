"""Do the pipes stop the bird? Point 6 counts a pass only "if you ... don't hit them", so a pipe
is an obstacle: a round must end when the bird flies into one. A game whose hit test never
fires (`and` where `or` was meant, a stale rect, a test against the wrong list) lets the bird
fly through the pipes' bodies and play on; no other check sees it, since the score still counts.

Read from the draw record of every run: frames where the bird's drawn box lies deep inside a
pipe's body (past a margin that forgives hit boxes smaller than the drawing) while the pipes
keep scrolling afterwards. A healthy game stops the pipes at the hit (its game-over screen),
so the overlap never outlasts a frame or two of a moving scene.
"""

from __future__ import annotations

from collections.abc import Mapping

from pipeline.codes import finding
from pipeline.findings import Finding
from validators.play.track import Played, where
from validators.smoke.harness import draw_reader as dr

INSIDE_MARGIN = 8       # px the bird's box must reach into a pipe's body, beyond its edges
HITBOX_SHARE = 3        # ... or a third of the bird's size: games shrink the hit box that much
THROUGH_FRAMES = 10     # consecutive frames inside a pipe's body while the scene scrolls on


def inside_pipe(bird: dr.Box, pair: dr.Pair) -> bool:
    """The bird's box reaches INSIDE_MARGIN px into the pair's upper or lower pipe. A pair
    merged from overlapping ones keeps only the common part of their gaps, so a bird inside
    one of their gaps may lie outside it: such pairs are not judged."""
    if pair.pipes > 1:
        return False
    margin = margin_for(bird)
    if bird.x + bird.w <= pair.x + margin or bird.x >= pair.right - margin:
        return False
    return bird.y < pair.gap_top - margin or bird.y + bird.h > pair.gap_bottom + margin


def margin_for(bird: dr.Box) -> int:
    """How deep into a pipe the drawn bird must reach before it is surely a hit."""
    return max(INSIDE_MARGIN, min(bird.w, bird.h) // HITBOX_SHARE)


def flights_through(run: Played) -> list[int]:
    """Frames that end a stretch of THROUGH_FRAMES frames with the bird inside a pipe's body
    and the pipes still scrolling afterwards: the game played on through the hit."""
    ends, stretch = [], 0
    for frame in run.frames:
        f = frame["f"]
        bird = run.birds.get(f)
        hit = bird is not None and any(inside_pipe(bird, p) for p in run.pairs.get(f, []))
        stretch = stretch + 1 if hit and run.scrolling(f, later=2) else 0
        if stretch == THROUGH_FRAMES:
            ends.append(f)
    return ends


def check_pipes_solid(runs: Mapping[str, Played]) -> list[Finding]:
    for name, run in sorted(runs.items()):
        ends = flights_through(run)
        if ends:
            return [finding("requirements/pipes-no-hit",
                            f"in the {name} run the bird flew {THROUGH_FRAMES} frames inside a pipe's "
                            f"body (frame {ends[0]}) and the game went on: hitting a pipe does not end "
                            f"the round", None, **where(run, ends[0], visible=[ends[0]]))]
    return []
