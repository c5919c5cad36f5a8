"""Pipes are obstacles (validators/play/player/collision.py): a bird drawn deep inside a pipe's
body while the scene scrolls on is a game whose hit test never fires."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from validators.play.player.collision import inside_pipe, margin_for
from validators.smoke.harness import draw_reader as dr

from .play_runs import play_report

PAIR = dr.Pair(200, 70, 180, 360, (0, 100, 0))


def bird(x: int, y: int, size: int = 28) -> dr.Box:
    return dr.Box("rect", (30, 30, 30), x, y, size, size)


@given(st.integers(-200, 600), st.integers(-100, 700), st.integers(4, 60))
def test_a_bird_inside_the_gap_or_beside_the_column_is_never_inside_a_pipe(x, y, size):
    # a bird drawn larger than its hit box may reach a third of its size into a pipe unhurt
    box = bird(x, y, size)
    in_gap = y >= PAIR.gap_top and y + size <= PAIR.gap_bottom
    beside = x + size <= PAIR.x + margin_for(box) or x >= PAIR.right - margin_for(box)
    if in_gap or beside:
        assert not inside_pipe(box, PAIR)


@given(st.integers(PAIR.x, PAIR.right - 40), st.integers(0, 60), st.integers(0, 200))
def test_moving_a_bird_deeper_into_a_pipe_keeps_it_inside(x, depth, more):
    margin = margin_for(bird(0, 0))
    upper = bird(x, PAIR.gap_top - margin - 1 - depth)
    assert inside_pipe(upper, PAIR)
    assert inside_pipe(bird(x, upper.y - more), PAIR)
    lower = bird(x, PAIR.gap_bottom + margin + 1 - 28 + depth)
    assert inside_pipe(lower, PAIR)
    assert inside_pipe(bird(x, lower.y + more), PAIR)


def test_a_game_whose_pipes_never_kill_is_reported_and_its_fixed_twin_is_not():
    broken = {f.key for f in play_report("pipes_never_kill").findings}
    fixed = {f.key for f in play_report("healthy_random_spacing").findings}
    assert "requirements/pipes-no-hit" in broken
    assert "requirements/pipes-no-hit" not in fixed


def test_a_pair_merged_from_overlapping_pipes_is_not_judged():
    # its gap is only the common part of the merged gaps: a bird in one of them may lie outside it
    merged = PAIR._replace(pipes=2)
    deep = bird(PAIR.x + 20, PAIR.gap_top - 60)
    assert inside_pipe(deep, PAIR) and not inside_pipe(deep, merged)
