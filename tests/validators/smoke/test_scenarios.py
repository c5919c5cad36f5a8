"""The scenarios a prompt declares: parsed from its TOML, played by the harness's script driver
exactly as the parent reads them, and a mistake in them is the prompt file's usage error."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.errors import UsageError
from validators.smoke.scenarios import load_scenarios, press_frames


def test_prompt_declares_restart_flap_on_rapid_presses_and_q_after_a_second_loss():
    settings, scenarios = load_scenarios("flappy_bird")
    play = next(s for s in scenarios if s.name == "play-restart-q")
    assert play.frames_with_role("restart") == [300]
    assert play.frames_with_role("play-on") == [303]
    assert play.frames_with_role("rapid") == [320, 323, 326, 329, 332]
    # q on the game-over screen of the loss after the restart: seconds after the last flap
    assert play.quit_frame(settings.quit_keys) >= 332 + 180
    assert {s.expect for s in scenarios} == {"exit", "running"}


step_strategy = st.one_of(
    st.fixed_dictionaries({"at": st.integers(0, 500), "press": st.sampled_from(["space", "q", "escape", "up"])},
                          optional={"hold": st.integers(1, 5), "repeat": st.integers(1, 6),
                                    "every": st.integers(1, 10)}),
    st.fixed_dictionaries({"at": st.integers(0, 500), "event": st.just("quit")}),
)


@settings(deadline=None)  # the first example pays for importing pygame
@given(st.lists(step_strategy, max_size=8))
def test_script_driver_presses_every_key_down_then_up_as_the_steps_say(steps):
    from validators.smoke.harness.harness_input import ScriptDriver

    driver = ScriptDriver(steps)
    actions = [(frame, a) for frame in range(0, 600) for a in driver.actions_for_frame(frame, [])]
    presses = sum(int(s.get("repeat", 1)) for s in steps if "press" in s)
    assert sum(1 for _, (kind, _) in actions if kind == "down") == presses
    assert sum(1 for _, (kind, _) in actions if kind == "up") == presses
    assert sum(1 for _, (kind, _) in actions if kind == "quit") == sum(1 for s in steps if "event" in s)
    for step in steps:
        if "press" in step:
            assert (int(step["at"]), ("down", step["press"])) in actions
            # the parent's reading of a step (requirements, roles) is what the driver plays
            assert all((f, ("down", step["press"])) in actions for f in press_frames(step)
                       if f < 600)


@given(st.lists(step_strategy, max_size=6), st.sampled_from(["exit", "running"]))
def test_scenario_tables_round_trip_through_the_prompt_parser(steps, expect):
    from validators.smoke.scenarios import _scenario

    scenario = _scenario("p", {"name": "s", "steps": steps, "expect": expect, "max_frames": 700})
    job = scenario.to_job(("q", "escape"))
    assert job["steps"] == steps and job["max_frames"] == 700 and scenario.expect == expect
    quits = [s["at"] for s in steps if s.get("event") == "quit" or s.get("press") in ("q", "escape")]
    assert scenario.quit_frame(("q", "escape")) == (min(quits) if quits else None)


def test_malformed_scenario_is_a_usage_error():
    from validators.smoke.scenarios import _scenario

    with pytest.raises(UsageError, match="expect must be"):
        _scenario("p", {"name": "s", "steps": [], "expect": "maybe"})
    with pytest.raises(UsageError, match="each step needs"):
        _scenario("p", {"name": "s", "steps": [{"at": 3}]})


@pytest.mark.parametrize(("entry", "message"), [
    ({"name": "s", "steps": [{"at": "ten", "press": "space"}]}, "each step needs"),
    ({"name": "s", "steps": [{"at": -1, "press": "space"}]}, "each step needs"),
    ({"name": "s", "steps": [{"at": 3, "press": "space", "repeat": 0}]}, "each step needs"),
    ({"name": "s", "steps": [{"at": 3, "press": 32}]}, "each step needs"),
    ({"name": "s", "steps": [{"at": 3, "event": "close"}]}, "each step needs"),
    ({"name": "s", "steps": [], "driver": "robot"}, "driver must be one of"),
    ({"name": "../s", "steps": []}, "letters, digits"),
    ({"name": "a b", "steps": []}, "letters, digits"),
])
def test_a_scenario_mistake_is_the_prompt_files_usage_error_not_the_games_crash(entry, message):
    from validators.smoke.scenarios import _scenario

    with pytest.raises(UsageError, match=message):
        _scenario("p", entry)
