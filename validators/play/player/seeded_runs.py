""""Randomly chosen", verified: every scenario runs under its own seed of Python's `random`
(the harness seeds it; scenarios declare `seed_offset`), so the runs of one game sample its
random choices. What the prompt says is random must differ somewhere across them: the bird's
colour and shape, the land colour, the pipe colour, and the background after a restart (the
first one must be light blue, so only restarts can show it varying). And the background of
every run's first frame must be light blue.

A property is called not random only with enough samples that a fair choice among two
options would rarely look constant: MIN_SAMPLES runs (2**-(n-1) for two options).
"""

from __future__ import annotations

from pipeline.codes import finding
from pipeline.findings import Finding
from validators.play import colour_families as cf
from validators.play.track import Played, where
from validators.smoke.harness import draw_reader as dr

MIN_SAMPLES = 6           # runs that show a property before its constancy is a finding
MIN_RESTARTS = 2          # restarts seen before an unchanging background is a finding
Sample = tuple[Played, int, object]   # run, frame, value


def _first_bird(run: Played, bird_x: float | None) -> tuple[int, dr.Box] | None:
    """The bird in the run's first frames: its track, or the small shape at the bird's x."""
    if run.birds:
        frame = min(run.birds)
        return frame, run.birds[frame]
    if bird_x is None:
        return None
    for frame in run.frames[:5]:
        near = [b for b in run.shapes[frame["f"]] if dr.is_small(b, run.window) and abs(b.cx - bird_x) <= 12]
        if near:
            return frame["f"], max(near, key=lambda b: b.w * b.h)
    return None


def _first_land(run: Played) -> tuple[int, tuple[int, int, int]] | None:
    frame = run.frames[0]
    bands = dr.land(frame, run.window)
    return (frame["f"], max(bands, key=lambda s: s.w * s.h).rgb) if bands else None


def _pipe_colours(run: Played) -> tuple[int, set[tuple[int, int, int]]] | None:
    """Pipe colours of the run's first game (before any restart)."""
    end = run.restarts[0] if run.restarts else None
    colours, first = set(), None
    for frame, pairs in run.pairs.items():
        if end is not None and frame >= end:
            break
        first = frame if first is None else first
        colours |= {p.rgb for p in pairs if p.rgb != dr.UNKNOWN}
    return (first, colours) if first is not None and colours else None


def samples(runs: dict[str, Played]) -> dict[str, list[Sample]]:
    bird_x = next((r.bird_x for r in runs.values() if r.bird_x is not None), None)
    found: dict[str, list[Sample]] = {"bird colour": [], "bird shape": [], "land colour": [],
                                      "pipe colour": []}
    for run in runs.values():
        bird = _first_bird(run, bird_x)
        if bird is not None and bird[1].rgb != dr.UNKNOWN:  # a sprite's colour and shape are unknown
            found["bird colour"].append((run, bird[0], bird[1].rgb))
            found["bird shape"].append((run, bird[0], _form(bird[1])))
        land = _first_land(run)
        if land is not None:
            found["land colour"].append((run, *land))
        pipes = _pipe_colours(run)
        if pipes is not None:
            if len(pipes[1]) > 1:  # several colours in one game: chosen per pipe, random enough
                found["pipe colour"].append((run, pipes[0], "varied"))
            else:
                found["pipe colour"].append((run, pipes[0], next(iter(pipes[1]))))
    return found


def _form(box: dr.Box) -> str:
    return box.form or box.kind


def check_random(runs: dict[str, Played]) -> list[Finding]:
    findings = _first_backgrounds(runs) + _restart_backgrounds(runs)
    for what, seen in samples(runs).items():
        values = {value for _, _, value in seen}
        if len(seen) >= MIN_SAMPLES and len(values) == 1 and "varied" not in values:
            run, frame, value = seen[0]
            findings.append(finding("requirements/not-random", f"{what} was {_show(value)} in all "
                                    f"{len(seen)} seeded runs: it is not chosen at random", None,
                                    **where(run, frame, what=what, runs=len(seen))))
    return findings


def _first_backgrounds(runs: dict[str, Played]) -> list[Finding]:
    """Seeds where the game starts on another colour (a random start colour, say)."""
    wrong = []
    for run in runs.values():
        first = dr.background(run.frames[0], run.window)
        if first is not None and not cf.is_light_blue(first):
            wrong.append((run, first))
    if not wrong or len(wrong) == len(runs):
        return []  # none starts light blue: requirements/background already says so
    run, colour = wrong[0]
    return [finding("requirements/first-background", f"the first frame's background {_show(colour)} is not "
                    f"light blue in {len(wrong)} of {len(runs)} seeded runs", None,
                    **where(run, run.frames[0]["f"], runs=len(wrong)))]


def _restart_backgrounds(runs: dict[str, Played]) -> list[Finding]:
    """After each restart the background is re-chosen; one that never leaves the first colour
    is not random."""
    seen: list[tuple[Played, int, bool]] = []
    for run in runs.values():
        first = dr.background(run.frames[0], run.window)
        for press in run.restarts:
            after = run.frame(press + 5)
            colour = dr.background(after, run.window) if after else None
            if first is not None and colour is not None:
                seen.append((run, after["f"], colour == first))  # type: ignore[index]
    if len(seen) >= MIN_RESTARTS and all(same for _, _, same in seen):
        run, frame, _ = seen[0]
        colour = dr.background(run.frames[0], run.window)
        return [finding("requirements/not-random", f"background stayed {_show(colour)} after all "
                        f"{len(seen)} restarts: it is never chosen at random", None,
                        **where(run, frame, what="background", runs=len(seen)))]
    return []


def _show(value: object) -> str:
    return str(tuple(value)) if isinstance(value, tuple | list) else str(value)

