"""The scenarios a prompt's program is driven through, read from the prompt's TOML file.

A scenario is data: a driver (`script` by default), its steps (`{at = FRAME, press = KEY}` or
`{at = FRAME, event = "quit"}`, optional `hold`, `repeat`, `every`, `role`), what must happen
(`expect = "exit"` within `exit_within` frames of the quit action, or `expect = "running"` until
`max_frames`) and the frames to screenshot. Nothing about Flappy Bird is hard-coded here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pipeline.errors import UsageError
from prompts import load_prompt

EXPECTATIONS = ("exit", "running")
DRIVERS = ("script", "autopilot")  # as validators/smoke/harness/harness_input.py makes them
STEP_COUNTS = ("hold", "repeat", "every")  # optional step fields: whole numbers >= 1
# A name becomes a dir in the sandbox and the start of screenshot names: no separators.
SCENARIO_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,60}")


@dataclass(frozen=True)
class SmokeSettings:
    quit_keys: tuple[str, ...] = ("q", "escape")
    hang_s: float = 2.0
    wall_s: float = 20.0


@dataclass(frozen=True)
class Scenario:
    name: str
    steps: tuple[dict[str, Any], ...]
    expect: str = "exit"
    exit_within: int = 30
    max_frames: int = 600
    screenshot_frames: tuple[int, ...] = ()
    description: str = ""
    driver: str = "script"
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def frames_with_role(self, role: str) -> list[int]:
        """Frames where a step marked `role = ROLE` presses (repeats expanded)."""
        return [f for step in self.steps if step.get("role") == role for f in press_frames(step)]

    def quit_frame(self, quit_keys: tuple[str, ...]) -> int | None:
        """The frame of the scenario's quit action (a quit key or a QUIT event), if any."""
        frames = [int(s["at"]) for s in self.steps
                  if s.get("event") == "quit" or s.get("press") in quit_keys]
        return min(frames) if frames else None

    def to_job(self, quit_keys: tuple[str, ...]) -> dict[str, Any]:
        return {"name": self.name, "driver": self.driver, "steps": [dict(s) for s in self.steps],
                "max_frames": self.max_frames, "exit_within": self.exit_within,
                "quit_keys": list(quit_keys), **self.extra}


def press_frames(step: dict[str, Any]) -> list[int]:
    """The frames a step presses its key at: `at`, then every `every` frames (default: just
    after the `hold` ends) `repeat` times, as the harness's script driver plays it."""
    every = int(step.get("every", int(step.get("hold", 1)) + 1))
    return [int(step["at"]) + i * every for i in range(int(step.get("repeat", 1)))]


def load_scenarios(prompt_name: str) -> tuple[SmokeSettings, list[Scenario]]:
    prompt = load_prompt(prompt_name)
    raw = prompt.raw
    if not raw.get("scenarios"):
        raise UsageError(f"prompt {prompt.name!r} declares no [[scenarios]]: nothing to smoke-run")
    smoke = raw.get("smoke", {})
    settings = SmokeSettings(
        quit_keys=tuple(smoke.get("quit_keys", SmokeSettings.quit_keys)),
        hang_s=float(smoke.get("hang_s", SmokeSettings.hang_s)),
        wall_s=float(smoke.get("wall_s", SmokeSettings.wall_s)),
    )
    return settings, [_scenario(prompt.name, entry) for entry in raw["scenarios"]]


_KNOWN = {"name", "steps", "expect", "exit_within", "max_frames", "screenshot_frames",
          "description", "driver"}


def _scenario(prompt: str, entry: dict[str, Any]) -> Scenario:
    try:
        scenario = Scenario(
            name=str(entry["name"]),
            steps=tuple(dict(s) for s in entry.get("steps", [])),
            expect=str(entry.get("expect", "exit")),
            exit_within=int(entry.get("exit_within", 30)),
            max_frames=int(entry.get("max_frames", 600)),
            screenshot_frames=tuple(int(f) for f in entry.get("screenshot_frames", [])),
            description=str(entry.get("description", "")),
            driver=str(entry.get("driver", "script")),
            extra={k: v for k, v in entry.items() if k not in _KNOWN},
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"prompt {prompt!r}: a [[scenarios]] entry is malformed ({exc})") from None
    if scenario.expect not in EXPECTATIONS:
        raise UsageError(f"prompt {prompt!r}, scenario {scenario.name!r}: expect must be one of "
                         f"{', '.join(EXPECTATIONS)}, not {scenario.expect!r}")
    if not SCENARIO_NAME.fullmatch(scenario.name):
        raise UsageError(f"prompt {prompt!r}: scenario name {scenario.name!r} must be letters, "
                         "digits, - and _ (it names a dir and the screenshots)")
    if scenario.driver not in DRIVERS:
        raise UsageError(f"prompt {prompt!r}, scenario {scenario.name!r}: driver must be one of "
                         f"{', '.join(DRIVERS)}, not {scenario.driver!r}")
    for step in scenario.steps:
        _check_step(prompt, scenario.name, step)
    return scenario


def _check_step(prompt: str, scenario: str, step: dict[str, Any]) -> None:
    """A mistake in a step is the prompt file's, found here: in the sandbox it would pass for
    the game's crash."""
    well_formed = (
        _is_count(step.get("at"), 0)
        and (isinstance(step.get("press"), str) if "press" in step else step.get("event") == "quit")
        and all(_is_count(step[key], 1) for key in STEP_COUNTS if key in step))
    if not well_formed:
        raise UsageError(f"prompt {prompt!r}, scenario {scenario!r}: each step needs `at = FRAME` "
                         f"and `press = KEY` or `event = \"quit\"` (hold, repeat, every: whole "
                         f"numbers >= 1), got {step}")


def _is_count(value: Any, least: int) -> bool:
    return type(value) is int and value >= least
