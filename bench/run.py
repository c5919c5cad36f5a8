"""Wall time of validating 100 recorded transcripts with --jobs 1 and --jobs 2, and their ratio.

Goal (issue 5): the 100 in under 90 s with 2 jobs, smoke run included.

The transcripts are the recorded ones under fixtures/ (healthy games, loops, NameErrors, cut
fences...), taken in turn until there are --count of them. Each one is validated for real
(no cache: the store would validate identical text only once) by the same worker pool
`gencheck run` uses, with the smoke run's scenarios sharing the cores with the workers.

    python bench/run.py [--count 100] [--no-smoke]
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pipeline.extract import prompt_opens_think  # noqa: E402
from pipeline.runs.validation_pool import ValidationJob, smoke_parallel_for, validate_all  # noqa: E402
from pipeline.transcript import Transcript  # noqa: E402

GOAL_SECONDS = 90.0
SOURCES = (REPO / "fixtures" / "transcripts", REPO / "fixtures" / "corpus")


def recorded_transcripts() -> list[Path]:
    return sorted(p for folder in SOURCES for p in folder.iterdir()
                  if p.suffix in (".txt", ".md") and p.is_file())  # .json sidecars are metadata


def jobs_for(paths: list[Path], count: int, jobs: int, smoke: bool, shots: Path) -> list[ValidationJob]:
    chosen = list(itertools.islice(itertools.cycle(paths), count))
    result = []
    for n, path in enumerate(chosen):
        transcript = Transcript.load(path)
        result.append(ValidationJob(
            text=transcript.text, source=str(path), smoke=smoke,
            screenshots_dir=str(shots / f"{jobs}-{n}") if smoke else None,
            smoke_parallel=smoke_parallel_for(jobs),
            starts_in_think=prompt_opens_think(transcript.prompt)))
    return result


def measure(paths: list[Path], count: int, jobs: int, smoke: bool) -> tuple[float, Counter[str]]:
    with tempfile.TemporaryDirectory(prefix="gencheck-bench-") as tmp:
        work = jobs_for(paths, count, jobs, smoke, Path(tmp))
        started = time.perf_counter()
        results = validate_all(work, jobs)
        return time.perf_counter() - started, Counter(r["verdict"] for r in results)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100, help="transcripts to validate (default 100)")
    parser.add_argument("--no-smoke", action="store_true", help="static checks only")
    args = parser.parse_args()
    if args.count < 1:
        parser.error(f"--count must be at least 1, not {args.count}")
    paths = recorded_transcripts()
    print(f"{args.count} validations of {len(paths)} recorded transcripts taken in turn, "
          f"smoke run {'off' if args.no_smoke else 'on'}, {os.cpu_count()} cores")
    timings = {}
    for jobs in (1, 2):
        seconds, verdicts = measure(paths, args.count, jobs, not args.no_smoke)
        timings[jobs] = seconds
        print(f"--jobs {jobs}: {seconds:7.1f} s wall, {seconds / args.count * 1000:6.0f} ms per "
              f"transcript ({dict(verdicts)})")
    ratio = timings[1] / timings[2]
    print(f"speed-up of --jobs 2 over --jobs 1: {ratio:.2f}x")
    scaled = timings[2] * 100 / args.count
    verdict = "meets" if scaled < GOAL_SECONDS else "misses"
    print(f"--jobs 2 per 100 transcripts: {scaled:.1f} s; goal < {GOAL_SECONDS:.0f} s: {verdict} "
          f"({scaled / GOAL_SECONDS:.2f} of the goal)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
