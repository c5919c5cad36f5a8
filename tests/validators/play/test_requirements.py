"""The prompt's requirement checks: colour families, draw-record readers, and real games."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.validators.smoke.smoke_runs import smoke_report
from validators.play import colour_families as cf
from validators.smoke.harness import draw_reader as dr

LIGHT_BLUES = [(173, 216, 230), (135, 206, 250), (135, 206, 235), (176, 224, 230), (170, 210, 240),
               (100, 180, 255), (200, 230, 255)]
DARK_GREENS = [(0, 100, 0), (34, 139, 34), (0, 128, 0), (85, 107, 47), (10, 110, 40), (46, 139, 87)]
LIGHT_BROWNS = [(210, 180, 140), (222, 184, 135), (205, 133, 63), (196, 164, 132), (181, 146, 105)]
DARK_GRAYS = [(169, 169, 169), (105, 105, 105), (80, 80, 80), (64, 64, 64), (70, 70, 75), (128, 128, 128)]
DARK_BROWNS = [(101, 67, 33), (139, 69, 19), (92, 64, 51), (110, 70, 30), (160, 82, 45)]
YELLOWS = [(255, 255, 0), (255, 215, 0), (230, 200, 40), (204, 170, 0), (218, 165, 32), (240, 230, 140)]


def test_colour_families_accept_the_many_shades_of_each_word():
    assert all(cf.is_light_blue(c) for c in LIGHT_BLUES)
    assert all(cf.pipe_family(c) == "dark green" for c in DARK_GREENS)
    assert all(cf.pipe_family(c) == "light brown" for c in LIGHT_BROWNS)
    assert all(cf.pipe_family(c) == "dark gray" for c in DARK_GRAYS)
    assert all(cf.land_family(c) == "dark brown" for c in DARK_BROWNS)
    assert all(cf.land_family(c) == "yellow" for c in YELLOWS)


def test_colour_families_reject_other_colours():
    assert not any(cf.is_light_blue(c) for c in [(25, 25, 60), (0, 0, 255), (255, 250, 205), (230, 230, 230)])
    assert cf.pipe_family((220, 20, 20)) is None and cf.pipe_family((0, 255, 0)) is None
    assert cf.land_family((30, 160, 60)) is None and cf.land_family((20, 20, 20)) is None


@given(st.tuples(st.integers(-50, 300), st.integers(-50, 300), st.integers(-50, 300)))
def test_light_and_dark_never_overlap_and_families_never_raise(rgb):
    assert not (cf.is_light(rgb) and cf.is_dark(rgb))
    cf.land_family(rgb)
    cf.pipe_family(rgb)


def _frame(f, ops):
    return {"f": f, "t": f * 16, "flip": 1, "in": [], "ops": ops}


def test_pipe_pairs_need_a_top_piece_and_a_lower_piece_standing_on_the_floor():
    frame = _frame(0, [["fill", [173, 216, 230], [0, 0, 400, 600], 0, None],
                       ["rect", [0, 100, 0], [200, 0, 60, 150], 0, None],
                       ["rect", [0, 100, 0], [200, 320, 60, 280], 0, None],
                       ["rect", [0, 100, 0], [300, 0, 60, 150], 0, None]])
    [pair] = dr.pipe_pairs(dr.coloured(frame), (400, 600))
    assert (pair.x, pair.gap_top, pair.gap_bottom) == (200, 150, 320)
    assert dr.background(frame, (400, 600)) == (173, 216, 230)


@given(st.lists(st.integers(100, 400), min_size=12, max_size=40))
def test_bird_track_follows_the_shape_that_moves_only_vertically(ys):
    frames = [_frame(i, [["fill", [200, 230, 255], [0, 0, 400, 600], 0, None],
                         ["rect", [0, 100, 0], [380 - 3 * i, 0, 60, 150], 0, None],
                         ["circle", [20, 20, 90], [65, y - 15, 30, 30], 0, 15.0]])
              for i, y in enumerate(ys)]
    track = dr.track_bird(frames, (400, 600))
    if len(set(ys)) > 3 and max(ys) - min(ys) > 10:
        assert track is not None and track.form == "circle" and track.rgb == (20, 20, 90)
        assert track.ys[0] == ys[0]


def test_healthy_game_meets_all_eight_points():
    report = smoke_report("healthy_events")
    assert report.requirements_score == (8, 8)
    assert [f for f in report.findings if f.check == "requirements"] == []


def test_broken_restart_is_an_error_against_point_eight():
    report = smoke_report("restart_nameerror", ("play-restart-q",))
    keys = {f.key for f in report.findings if f.check == "requirements"}
    assert "requirements/quit-restart" in keys
    assert next(f for f in report.findings if f.code == "quit-restart").severity == "error"
