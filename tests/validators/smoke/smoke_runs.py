"""Smoke runs shared by the smoke and requirements tests: each fixture game is played once per
test session (a real sandbox, a real pygame), whichever test asks first."""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path

from tests.paths import FIXTURES
from validators.play.session import run_smoke
from validators.smoke.smoke_run import SmokeOptions, SmokeReport

GAMES = FIXTURES / "games"
SHOTS_ROOT = Path("/tmp") / "gencheck-test-shots"


def game_code(name: str) -> str:
    return (GAMES / f"{name}.py").read_text(encoding="utf-8")


@functools.cache
def expected() -> dict[str, dict]:
    return tomllib.loads((GAMES / "expected.toml").read_text(encoding="utf-8"))["games"]


@functools.cache
def smoke_report(name: str, only: tuple[str, ...] | None = None) -> SmokeReport:
    shots = SHOTS_ROOT / name / ("-".join(only) if only else "all")
    return run_smoke(game_code(name), SmokeOptions(screenshots_dir=shots, only=only))
