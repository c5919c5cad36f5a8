"""`gencheck validate PATH... [--json] [--no-smoke] [--jobs N]`: is the final program in each file sound?"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.errors import UsageError
from pipeline.findings import first_error

if TYPE_CHECKING:
    from pipeline.runs.validate import SampleResult

# Files a directory argument contributes: model output, never our own metadata sidecars or
# the smoke run's screenshots (`--screenshots` may well point inside the folder validated).
SKIPPED_SUFFIXES = frozenset({".json", ".png"})
# Checks whose lines are lines of the extracted program (the others point into the transcript).
PROGRAM_CHECKS = frozenset({"compile", "lint", "names", "smoke"})


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="validate transcripts (.txt/.md...) or programs (.py)",
        description="Validate the final Python program of each file: transcript checks "
        "(unclosed <think>, cut fence, loop), extraction, compile, ruff, undefined names and, "
        "unless --no-smoke, a sandboxed headless smoke run. A .py file is validated as code, "
        "anything else as a model transcript. A directory stands for the files under it "
        "(hidden files, .json sidecars and .png screenshots skipped). Exit 0 when all pass, 1 when any fails, 2 on a "
        "usage error.",
    )
    parser.add_argument(
        "paths", nargs="+", metavar="PATH", help="transcript or .py files, or directories"
    )
    parser.add_argument(
        "--json", action="store_true", help='print one JSON object {"results": [...]}'
    )
    parser.add_argument("--no-smoke", action="store_true", help="static checks only, no smoke run")
    parser.add_argument(
        "--screenshots",
        type=Path,
        metavar="DIR",
        help="keep the smoke run's PNG screenshots in DIR (a subfolder per file when several)",
    )
    parser.add_argument(
        "--min-sandbox",
        choices=("basic", "seccomp", "landlock", "bwrap"),
        metavar="TIER",
        help="refuse to run generated code below this sandbox tier: basic (rlimits, own "
        "session, scrubbed env), seccomp (+ a syscall filter: no network, ptrace, unshare), "
        "landlock (+ Landlock: no writes outside its dir), bwrap (+ namespaces)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="validate N files at once in worker processes (default 1)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.jobs < 1:
        raise UsageError(f"--jobs must be at least 1, not {args.jobs}")
    if args.no_smoke and (args.screenshots is not None or args.min_sandbox is not None):
        flag = "--screenshots" if args.screenshots is not None else "--min-sandbox"
        raise UsageError(f"{flag} sets up the smoke run, which --no-smoke turns off")
    files = expand_paths(args.paths)
    results = validate_files(
        files, smoke=not args.no_smoke, jobs=args.jobs, smoke_options=_smoke_options(args)
    )
    if args.json:
        print(json.dumps({"results": [r.to_json() for r in results]}, indent=2))
    else:
        print(render_table(results))
    return 1 if any(r.verdict == "fail" for r in results) else 0


def expand_paths(paths: Sequence[str]) -> list[Path]:
    """Every argument checked before any work: a missing or unreadable file is a usage error."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.suffix.lower() not in SKIPPED_SUFFIXES
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not found:
                raise UsageError(f"{raw}: directory holds no files to validate")
            files += found
        elif not path.exists():
            raise UsageError(f"{raw}: no such file")
        elif not path.is_file() or not os.access(path, os.R_OK):
            raise UsageError(f"{raw}: not a readable file")
        else:
            files.append(path)
    return files


def validate_files(
    files: Sequence[Path], *, smoke: bool, jobs: int, smoke_options: Any = None
) -> list[SampleResult]:
    from pipeline.runs.validate import validate_path

    options = [_per_file(smoke_options, f, len(files)) for f in files]
    if jobs == 1 or len(files) == 1:
        return [
            _with_progress(i, len(files), validate_path(f, smoke=smoke, smoke_options=o))
            for i, (f, o) in enumerate(zip(files, options, strict=True))
        ]
    with ProcessPoolExecutor(max_workers=min(jobs, len(files))) as pool:
        results = pool.map(_validate_one, files, [smoke] * len(files), options)
        return [_with_progress(i, len(files), r) for i, r in enumerate(results)]


def _validate_one(path: Path, smoke: bool, smoke_options: Any = None) -> SampleResult:
    from pipeline.runs.validate import validate_path

    return validate_path(path, smoke=smoke, smoke_options=smoke_options)


def _smoke_options(args: argparse.Namespace) -> Any:
    """The smoke run's options from --screenshots/--min-sandbox (None: its defaults)."""
    if getattr(args, "screenshots", None) is None and getattr(args, "min_sandbox", None) is None:
        return None
    from validators.smoke.smoke_run import SmokeOptions

    return SmokeOptions(screenshots_dir=args.screenshots, min_sandbox=args.min_sandbox)


def _per_file(options: Any, path: Path, total: int) -> Any:
    """Several files keep their screenshots apart: DIR/<file stem>/."""
    if options is None or options.screenshots_dir is None or total == 1:
        return options
    from dataclasses import replace

    return replace(options, screenshots_dir=options.screenshots_dir / path.stem)


def _with_progress(index: int, total: int, result: SampleResult) -> SampleResult:
    if total > 1 and sys.stderr.isatty():
        print(
            f"\rvalidated {index + 1}/{total}",
            end="\n" if index + 1 == total else "",
            file=sys.stderr,
        )
    return result


def render_table(results: Iterable[SampleResult]) -> str:
    """file | verdict | first error (check/code, line, message), one row per file."""
    rows = [("FILE", "VERDICT", "FIRST ERROR")]
    results = list(results)
    for result in results:
        first = first_error(result.findings)
        if first is None:
            warnings = len(result.findings)  # no error: every finding is a warning
            summary = f"({warnings} warning{'s' if warnings != 1 else ''})" if warnings else ""
        else:
            where = f" line {first.line}" if first.line is not None else ""
            start = result.details.get("code_start_line")
            if (
                first.line is not None
                and first.check in PROGRAM_CHECKS
                and start
                and not result.details.get("is_code")
            ):
                where += f" (transcript line {start + first.line - 1})"
            summary = f"{first.check}/{first.code}{where}: {first.message}"
        rows.append((result.source, result.verdict, summary))
    width = [max(len(row[i]) for row in rows) for i in range(2)]
    lines = [f"{r[0]:<{width[0]}}  {r[1]:<{width[1]}}  {r[2]}".rstrip() for r in rows]
    tiers = sorted({tier for r in results if (tier := r.details.get("sandbox_tier"))})
    if tiers:  # what confined the programs matters as much as the verdict
        lines.append(f"smoke run sandbox tier: {', '.join(tiers)}")
    return "\n".join(lines)
