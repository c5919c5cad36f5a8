"""The play-tester's checks (issue 7): the autopilot, pipes, score, text, flicker, randomness.

Readers of the draw record are tested on hand-made frames (and hypothesis for arbitrary ones);
the checks on real games played in the real sandbox: a representative subset by default, the
whole labelled corpus (fixtures/play/expected.toml) under `slow`.
"""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.codes import CATALOGUE
from pipeline.findings import verdict
from validators.play.player.flicker import densest
from validators.play.player.score import check_score_counts, counts_near, uncalled_score_functions
from validators.play.player.text import out_of_window
from validators.smoke.harness import draw_reader as dr

from .play_runs import autopilot_run, manifest, play_report

WINDOW = (400, 600)


def rect(rgb, x, y, w, h):
    return ["rect", list(rgb), [x, y, w, h], 0, None]


GREEN = (0, 100, 0)
LAND = rect((100, 60, 30), 0, 520, 400, 80)


def test_pipe_pair_is_a_top_and_a_bottom_rect_with_caps_narrowing_the_gap():
    ops = [["fill", [170, 210, 240], [0, 0, 400, 600], 0, None],
           rect(GREEN, 200, 0, 60, 150), rect(GREEN, 196, 150, 68, 16),
           rect(GREEN, 196, 330, 68, 16), rect(GREEN, 200, 346, 60, 174), LAND]
    [pair] = dr.pipe_pairs(dr.boxes(ops), WINDOW)
    assert (pair.gap_top, pair.gap_bottom) == (166, 330)
    assert pair.pipes == 1


def test_overlapping_pairs_merge_into_one_obstacle_with_the_intersection_of_their_gaps():
    ops = [rect(GREEN, 200, 0, 60, 100), rect(GREEN, 200, 250, 60, 270),
           rect(GREEN, 230, 0, 60, 300), rect(GREEN, 230, 450, 60, 70), LAND]
    [pair] = dr.pipe_pairs(dr.boxes(ops), WINDOW)
    assert pair.pipes == 2 and pair.gap == 0
    assert dr.opening([pair]) is None


def test_blitted_sprites_are_shapes_of_unknown_colour_and_can_be_pipes():
    ops = [["blit", None, [200, 0, 60, 150], 0, None], ["blit", None, [200, 330, 60, 190], 0, None],
           ["blit", None, [90, 300, 28, 28], 0, None], ["text", [0, 0, 0], [300, 10, 40, 20], 0, "3"], LAND]
    shapes = dr.boxes(ops)
    assert [b.kind for b in shapes] == ["blit", "blit", "blit", "rect"]
    assert shapes[2].rgb == dr.UNKNOWN and dr.is_small(shapes[2], WINDOW)
    [pair] = dr.pipe_pairs(shapes, WINDOW)
    assert (pair.gap_top, pair.gap_bottom) == (150, 330)


def test_a_pipe_counts_as_passed_only_when_the_bird_is_inside_its_gap():
    before = [dr.Pair(30, 60, 200, 360, GREEN)]
    after = [dr.Pair(27, 60, 200, 360, GREEN)]
    inside = dr.Box("rect", (20, 20, 20), 88, 270, 24, 24)
    assert dr.flew_through(before, after, inside) == after
    below = dr.Box("rect", (20, 20, 20), 88, 400, 24, 24)
    assert dr.flew_through(before, after, below) == []


@given(st.lists(st.tuples(st.sampled_from(["rect", "fill", "circle", "polygon", "text", "blit"]),
                          st.integers(-500, 1500), st.integers(-500, 1500),
                          st.integers(0, 1200), st.integers(0, 1200), st.integers(0, 3)),
                max_size=30))
def test_readers_accept_any_frame_and_give_ordered_pairs_with_sane_gaps(raw):
    ops = [[kind, [10, 90, 20], [x, y, w, h], width, None] for kind, x, y, w, h, width in raw]
    pairs = dr.pipe_pairs(dr.boxes(ops), WINDOW)
    assert all(p.gap_top <= p.gap_bottom for p in pairs)
    assert [p.x for p in pairs] == sorted(p.x for p in pairs)
    assert all(a.right <= b.x for a, b in zip(pairs, pairs[1:], strict=False))  # merged when overlapping


@given(st.integers(-300, 700), st.integers(-300, 900), st.integers(0, 600), st.integers(0, 200))
def test_out_of_window_is_positive_exactly_when_the_text_leaves_the_window(x, y, w, h):
    edge, px = out_of_window([x, y, w, h], WINDOW)
    inside = x >= 0 and y >= 0 and x + w <= 400 and y + h <= 600
    assert (px <= 0) == inside
    assert edge in ("left", "top", "right", "bottom")


def test_score_counts_when_the_number_rises_shortly_before_or_after_a_pass():
    series = [(f, 0 if f < 95 else 1, "") for f in range(0, 200, 5)]
    assert counts_near(series, 100)        # counted as the pipe's edge met the bird
    assert not counts_near(series, 180)    # nothing rose around a later pass
    assert not counts_near([(f, 0, "0") for f in range(200)], 50)


def test_static_read_finds_a_score_function_nobody_calls():
    code = "def add_score(g):\n    g['score'] += 1\n\ndef draw_score():\n    pass\n\ndraw_score()\n"
    assert uncalled_score_functions(code) == [("add_score", 1)]
    assert uncalled_score_functions("def f(:\n") == []


def test_uncalled_score_function_alone_is_a_warning_when_play_cannot_tell():
    code = "score = 0\n\ndef increase_score():\n    global score\n    score += 1\n"
    [f] = check_score_counts(code, None)
    assert f.key == "requirements/score-uncalled@3" and f.severity == "warning"
    assert check_score_counts("def draw_score():\n    pass\n\ndraw_score()\n", None) == []


def test_flicker_window_counts_changes_in_the_densest_stretch():
    steady = [(f, f == 300) for f in range(600)]          # one change: a restart
    assert densest(steady)[0] == 1
    flashing = [(f, f % 3 != 0) for f in range(600)]
    count, looked, _ = densest(flashing)
    assert looked == 60 and count == 40


def test_every_code_the_play_checks_emit_is_catalogued():
    keys = {c.key for c in CATALOGUE}
    for key in ("smoke/autopilot", "requirements/pipes-impossible", "requirements/pipes-unfair",
                "requirements/score-never-counts", "requirements/score-uncalled",
                "requirements/text-off-screen", "requirements/flicker", "requirements/not-random",
                "requirements/first-background"):
        assert key in keys


def test_corpus_has_at_least_15_games_each_with_a_label():
    games = manifest()
    assert len(games) >= 15
    assert sum(1 for g in games.values() if not g["findings"]) >= 4


# Real games in the real sandbox ------------------------------------------------------------

def _keys(report):
    return Counter(f.key for f in report.findings)


def test_autopilot_flies_through_pipes_that_spawn_from_a_set_timer_in_a_dt_game():
    run = autopilot_run("healthy_dt_timer")
    assert len(run.passes) >= 3
    assert play_report("healthy_dt_timer").scenarios["autopilot"]["pipes_passed"] == len(run.passes)
    assert _keys(play_report("healthy_dt_timer")) == Counter()


def test_score_that_never_counts_is_an_error_naming_the_uncalled_function():
    report = play_report("score_never_counts")
    [f] = report.findings
    assert f.key == "requirements/score-never-counts@37" and verdict(report.findings) == "fail"
    assert "stayed 'Score: 0' after the bird passed 3 pipes" in f.message
    assert "add_score() is defined but never called" in f.message
    assert f.details["screenshot"].endswith(".png")


def test_overlapping_pipes_make_the_game_impossible():
    report = play_report("pipes_overlap")
    [f] = report.findings
    assert f.key == "requirements/pipes-impossible"
    assert "overlaps the next pair: no gap the bird fits through" in f.message
    assert len(autopilot_run("pipes_overlap").passes) == 0


def test_land_flicker_is_a_warning_with_the_share_of_frames():
    report = play_report("land_flicker")
    [f] = report.findings
    assert f.key == "requirements/flicker" and f.details["region"] == "land"
    assert "land colour changed on" in f.message and verdict(report.findings) == "pass"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(manifest()))
def test_corpus_game_gets_exactly_its_labelled_findings(name):
    want = manifest()[name]
    report = play_report(name)
    assert _keys(report) == Counter(want["findings"]), [f.message for f in report.findings]
    assert verdict(report.findings) == want["verdict"]
    assert report.requirements_score == (want["requirements"], 8)
    if want["passes_at_least"]:  # a game that crashes before its first frame has no run to read
        assert len(autopilot_run(name).passes) >= want["passes_at_least"]
