"""Median time per file of the static pipeline (transcript checks + extract + compile + ruff +
names) over fixtures/programs and fixtures/transcripts, against the goal of 150 ms per file.

    python bench/validate_static.py [--rounds N]

Also prints: ruff batched over all fixtures in one process (per file), and the loop detector's
streaming cost per character (it runs on every generated token). The machine is shared, so
the load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time
from pathlib import Path

from pipeline.extract import extract_program
from pipeline.repetition import RepetitionDetector
from pipeline.runs.validate import validate_path
from validators.static.lint import check_lint_many

ROOT = Path(__file__).resolve().parent.parent
GOAL_MS = 150.0


def fixture_files() -> list[Path]:
    return sorted(
        p
        for d in ("programs", "transcripts")
        for p in (ROOT / "fixtures" / d).iterdir()
        if p.is_file()
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    files = fixture_files()
    validate_path(files[0], smoke=False)  # imports and first-call caches are not per-file costs

    per_file: list[float] = []
    cpu_per_file: list[float] = []
    stages: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        for path in files:
            start, cpu_start = time.perf_counter(), _cpu_seconds()
            result = validate_path(path, smoke=False)
            per_file.append((time.perf_counter() - start) * 1000)
            cpu_per_file.append((_cpu_seconds() - cpu_start) * 1000)
            for stage, ms in result.details["timings_ms"].items():
                stages.setdefault(stage, []).append(ms)

    median = statistics.median(per_file)
    print(
        f"files: {len(files)} fixtures x {args.rounds} rounds, load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"static pipeline, median per file: {median:.1f} ms  (goal {GOAL_MS:.0f} ms, ratio {median / GOAL_MS:.2f})"
    )
    print(f"                 p90 per file:    {statistics.quantiles(per_file, n=10)[-1]:.1f} ms")
    cpu = statistics.median(cpu_per_file)
    print(
        f"CPU time (this process + ruff), median per file: {cpu:.1f} ms (ratio to goal {cpu / GOAL_MS:.2f});"
        " wall time above includes waiting for a shared CPU"
    )
    for stage, values in stages.items():
        print(f"  {stage:<11} median {statistics.median(values):7.2f} ms")

    codes = [c for c in (_program(p) for p in files) if c is not None]
    start = time.perf_counter()
    check_lint_many(codes)
    batched = (time.perf_counter() - start) * 1000 / len(codes)
    print(
        f"ruff batched over {len(codes)} programs: {batched:.2f} ms per program "
        f"(vs {statistics.median(stages['lint']):.2f} ms one process per program)"
    )

    # Healthy text only: a loop latches the detector, after which feeding costs nothing.
    text = "".join(p.read_text(encoding="utf-8") for p in files if "healthy" in p.name)
    detector = RepetitionDetector()
    start = time.perf_counter()
    for index in range(0, len(text), 4):  # ~4 characters per token
        detector.feed(text[index : index + 4])
    per_char_us = (time.perf_counter() - start) * 1e6 / len(text)
    tripped = "tripped (a bug)" if detector.signal else "no loop signal"
    print(
        f"loop detector streaming: {per_char_us:.2f} us per character over {len(text)} healthy characters, {tripped}"
    )


def _cpu_seconds() -> float:
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _program(path: Path) -> str | None:
    text = path.read_text(encoding="utf-8")
    return text if path.suffix == ".py" else extract_program(text).code


if __name__ == "__main__":
    main()
