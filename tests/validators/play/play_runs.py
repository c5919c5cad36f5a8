"""Whole validations of the play corpus (fixtures/play/), each run once per test session:
a real sandbox, real pygame, every scenario of the prompt including the autopilot and seeds."""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path

from tests.paths import FIXTURES
from validators.play.session import run_smoke
from validators.play.track import Played, played_runs
from validators.smoke.smoke_run import SmokeOptions, SmokeReport

PLAY = FIXTURES / "play"
SHOTS_ROOT = Path("/tmp") / "gencheck-play-shots"


@functools.cache
def manifest() -> dict[str, dict]:
    return tomllib.loads((PLAY / "expected.toml").read_text(encoding="utf-8"))["games"]


def code(name: str) -> str:
    return (PLAY / f"{name}.py").read_text(encoding="utf-8")


@functools.cache
def play_report(name: str) -> SmokeReport:
    return run_smoke(code(name), SmokeOptions(screenshots_dir=SHOTS_ROOT / name))


def autopilot_run(name: str) -> Played:
    return played_runs(play_report(name).runs)["autopilot"]
