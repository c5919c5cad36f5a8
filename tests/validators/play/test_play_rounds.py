"""Verdicts that hold on real answers (issue 11): quit from the game-over screen, restart judged
by state, the autopilot's rounds, and the best score kept. Each game in fixtures/play/ is ours,
written to reproduce a class of real answer; each runs once per session in the real sandbox."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.findings import verdict
from validators.play.player.rounds import BEST

from .play_runs import autopilot_run, play_report


def _keys(name: str) -> list[str]:
    return sorted(f.key for f in play_report(name).findings)


@given(st.sampled_from(["Best", "best score", "HIGH SCORE", "High"]), st.sampled_from([": ", " - ", " "]),
       st.integers(0, 10_000), st.text(max_size=12))
def test_best_score_reader_takes_the_number_after_best_or_high(word, sep, number, tail):
    match = BEST.search(f"{word}{sep}{number}{tail}")
    assert match is not None and match.group(1).startswith(str(number))


@given(st.text(alphabet=st.characters(blacklist_characters="bBhH"), max_size=30))
def test_best_score_reader_ignores_texts_without_best_or_high(text):
    assert BEST.search(text) is None


def test_quit_keys_that_work_only_on_the_game_over_screen_pass():
    report = play_report("quit_on_game_over_only")
    assert _keys("quit_on_game_over_only") == [] and verdict(report.findings) == "pass"


def test_a_game_that_cannot_quit_from_the_game_over_screen_fails():
    report = play_report("quit_only_in_flight")
    assert _keys("quit_only_in_flight") == ["requirements/quit-restart", "smoke/quit-ignored",
                                            "smoke/quit-ignored"]
    assert verdict(report.findings) == "fail"


def test_a_restart_that_keeps_the_fall_speed_is_a_restart():
    report = play_report("restart_keeps_fall")
    assert _keys("restart_keeps_fall") == [] and report.requirements_score == (8, 8)


def test_space_that_never_leaves_the_game_over_screen_is_an_error():
    [f] = [f for f in play_report("restart_does_nothing").findings if f.code == "quit-restart"]
    assert f.severity == "error"
    assert "SPACE at frame 300 after a loss did not leave the game-over screen" in f.message


def test_pipes_that_first_come_after_a_restart_fail_naming_the_round_and_frame():
    report = play_report("pipes_after_restart")
    by_code = {f.code: f for f in report.findings}
    late, never = by_code["pipes-after-restart"], by_code["score-never-counts"]
    assert late.severity == "error" and late.details["round"] == 2
    assert f"in round 2 at frame {late.details['frame']}" in late.message
    assert "in round 2 (last at frame" in never.message and never.details["rounds"] == [2]
    assert len(autopilot_run("pipes_after_restart").restarts) >= 1


def test_a_best_score_below_the_score_just_reached_is_found():
    [f] = play_report("best_only_on_land_death").findings
    assert f.key == "requirements/best-not-kept" and f.severity == "error"
    assert f.details["score"] >= 1 and f.details["best"] < f.details["score"]
    assert f.details["screenshot"].endswith(".png")


@pytest.mark.parametrize("name", ["healthy_cumulative", "restart_keeps_fall"])
def test_autopilot_ends_a_healthy_game_on_its_game_over_screen(name):
    run = autopilot_run(name)
    assert len(run.passes) >= 3
    assert play_report(name).runs["autopilot"].result["stop_reason"] == "autopilot-done"


def test_no_pipe_in_any_round_is_an_error_counting_the_rounds():
    [f] = [f for f in play_report("no_pipes_ever").findings if f.code == "no-pipes"]
    assert f.severity == "error" and f.details["rounds"] >= 2
    assert not any(f.key == "smoke/autopilot" for f in play_report("no_pipes_ever").findings)
