"""How reliably the autopilot flies: every healthy game of the corpora under several seeds.

    python bench/autopilot.py [--seeds 5]

Runs only the `autopilot` scenario of each healthy game (fixtures/play/healthy_*.py and the
healthy games of fixtures/games) under seeds 0, 11, 22, ... and prints, per game, the pipes
flown through and the games lost on the way for each seed, then how many runs reached the
3 pipes the issue asks for and the mean frames (game time) that took.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from validators.play.session import run_smoke  # noqa: E402
from validators.play.track import played_runs  # noqa: E402
from validators.smoke.smoke_run import SmokeOptions  # noqa: E402

OTHER_HEALTHY = ("healthy_events", "healthy_polling", "healthy_dt", "fixed_flap", "wrong_colours")
GOAL_PIPES = 3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    if args.seeds < 1:
        parser.error(f"--seeds must be at least 1, not {args.seeds}")
    games = sorted((REPO / "fixtures" / "play").glob("healthy_*.py"))
    games += [REPO / "fixtures" / "games" / f"{name}.py" for name in OTHER_HEALTHY]
    reached, frames = 0, []
    for game in games:
        row = []
        for seed in range(0, 11 * args.seeds, 11):
            report = run_smoke(game.read_text(encoding="utf-8"),
                               SmokeOptions(only=("autopilot",), requirements=False, seed=seed))
            run = played_runs(report.runs)["autopilot"]
            row.append(f"{len(run.passes)} pipes/{len(run.restarts)} lost")
            reached += len(run.passes) >= GOAL_PIPES
            frames.append(report.scenarios["autopilot"]["frames"])
        print(f"{game.stem:22} " + "  ".join(row))
    runs = len(games) * args.seeds
    print(f"{reached} of {runs} runs flew through {GOAL_PIPES} pipes; mean {statistics.mean(frames):.0f} "
          f"frames ({statistics.mean(frames) / 60:.1f} s of game time) per run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
