"""How well the smoke run's requirement and play checks agree with a careful player's labels.

    python bench/requirements_accuracy.py [--corpus fixtures/play] [--corpus fixtures/games]

Validates every labelled game of the corpora (each folder's expected.toml: the findings a
careful player would give) with the whole smoke run (scenarios, autopilot, seeds, checks) and
prints, per finding code, a confusion table over games: true alarms (labelled and found), false
alarms (found, not labelled), misses (labelled, not found) and quiet games (neither), then the
games that disagree and the median wall time per game. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import tomllib
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from validators.play.session import run_smoke  # noqa: E402
from validators.smoke.smoke_run import SmokeOptions  # noqa: E402

DEFAULT_CORPORA = (REPO / "fixtures" / "play", REPO / "fixtures" / "games")


def code_of(key: str) -> str:
    """`check/code@line` -> `check/code`: the table counts codes, lines are the tests' job."""
    return key.split("@", 1)[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, action="append",
                        help="a folder with games and expected.toml (repeatable; default: fixtures/play and fixtures/games)")
    args = parser.parse_args()
    corpora = args.corpus or list(DEFAULT_CORPORA)
    for folder in corpora:
        if not (folder / "expected.toml").is_file():
            parser.error(f"--corpus {folder}: no expected.toml of labelled games there")
    labelled: dict[str, Counter[str]] = {}
    found: dict[str, Counter[str]] = {}
    walls: list[float] = []
    for folder in corpora:
        games = tomllib.loads((folder / "expected.toml").read_text(encoding="utf-8"))["games"]
        for name, want in sorted(games.items()):
            started = time.perf_counter()
            report = run_smoke((folder / f"{name}.py").read_text(encoding="utf-8"), SmokeOptions())
            walls.append(time.perf_counter() - started)
            key = f"{folder.name}/{name}"
            labelled[key] = Counter(code_of(k) for k in want["findings"])
            found[key] = Counter(code_of(f.key) for f in report.findings)
            print(f"{key}: {walls[-1]:.2f} s, {sorted(found[key])}", file=sys.stderr)
    codes = sorted(set().union(*labelled.values(), *found.values()))
    print(f"{'code':36} {'true':>5} {'false':>6} {'miss':>5} {'quiet':>6}   (games: {len(labelled)})")
    for code in codes:
        true = sum(1 for g in labelled if labelled[g][code] and found[g][code])
        false = sum(1 for g in labelled if found[g][code] and not labelled[g][code])
        miss = sum(1 for g in labelled if labelled[g][code] and not found[g][code])
        quiet = len(labelled) - true - false - miss
        print(f"{code:36} {true:5d} {false:6d} {miss:5d} {quiet:6d}")
    wrong = [g for g in labelled if labelled[g] != found[g]]
    for game in wrong:
        extra, missing = found[game] - labelled[game], labelled[game] - found[game]
        print(f"disagrees: {game}: extra {sorted(extra.elements())}, missing {sorted(missing.elements())}")
    print(f"{len(labelled) - len(wrong)} of {len(labelled)} games exactly as labelled; "
          f"median wall time per game {statistics.median(walls):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
