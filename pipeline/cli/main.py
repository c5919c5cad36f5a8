"""`gencheck`: a thin dispatcher over pipeline.cli.*; each subcommand lives in its own module."""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from pipeline import __version__
from pipeline.errors import UsageError

# (subcommand module under pipeline.cli). Modules import heavy libraries lazily,
# so `gencheck --help` stays fast.
COMMAND_MODULES: tuple[str, ...] = (
    "validate",
    "generate",
    "inspect_model",
    "make_test_model",
    "run",
    "compare",
    "merge",
    "kld",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gencheck",
        description="Generate with a llama.cpp sampler chain, extract the final Python program, "
        "validate it (compile, ruff, undefined names, a sandboxed headless smoke run) and report.",
    )
    parser.add_argument("--version", action="version", version=f"gencheck {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"pipeline.cli.{name}").register(sub)
    return parser


class _Signals:
    terminated = False


@contextmanager
def sigterm_as_interrupt() -> Iterator[_Signals]:
    """SIGTERM (`kill`, a CI job's timeout) stops a command the way Ctrl-C does.

    Python's default for SIGTERM ends the process on the spot: no `finally`, no `with` exit, so
    a run's validation workers would be left behind. Raised as KeyboardInterrupt it unwinds
    through every clean-up that Ctrl-C already runs; `terminated` says which signal it was.
    """
    seen = _Signals()

    def interrupt(signum: int, frame: object) -> None:
        seen.terminated = True
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave signals to whoever owns it
        yield seen
        return
    try:
        yield seen
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    # A command that takes llama-cli's flags as pasted (`gencheck run --temp 0.6 ...`) opts in
    # with set_defaults(accepts_extra_args=True) and finds them, in order, in args.extra_args.
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "accepts_extra_args", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra_args = extra
    with sigterm_as_interrupt() as signals:
        try:
            return int(args.func(args) or 0)
        except UsageError as exc:
            print(f"gencheck {args.command}: error: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            if signals.terminated:
                print("gencheck: terminated", file=sys.stderr)
                return 128 + signal.SIGTERM
            print("gencheck: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:
            # The reader went away (`gencheck inspect M.gguf | head`): not our failure. Point
            # stdout at /dev/null so the interpreter's final flush does not raise again.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 141


if __name__ == "__main__":
    sys.exit(main())
