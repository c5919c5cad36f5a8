"""Validation in worker processes: many samples at once, while the engine keeps generating.

Workers are started with `spawn`: the parent holds a loaded llama.cpp model and its threads,
which a forked child must never inherit. A worker only computes; the parent writes the store,
so the SQLite file has one writer. The smoke run itself happens in the sandbox's own
subprocess (validators/sandbox/box.py), never inside a worker's interpreter.

A run that stops early (Ctrl-C, SIGTERM, an error) kills its workers rather than waiting for
their validations: the samples are in the store and the next run validates them. A run killed
outright (SIGKILL) cannot stop them, so each worker watches for its parent's death and exits.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]

# Whatever can change a verdict: the validators, extraction, the catalogue, the prompts (their
# scenarios and requirements). A change to any of them re-validates stored samples.
VERSIONED_SOURCES: tuple[str, ...] = (
    "validators", "prompts", "pipeline/runs/validate.py", "pipeline/extract.py",
    "pipeline/repetition.py", "pipeline/codes.py", "pipeline/findings.py",
)


PARENT_POLL_S = 0.5  # how soon an orphaned worker notices that its run is gone


@cache
def validators_version() -> str:
    """A hash of every source file that decides a verdict (first 16 hex digits)."""
    digest = hashlib.sha256()
    for entry in VERSIONED_SOURCES:
        root = REPO_ROOT / entry
        files = sorted(p for p in root.rglob("*") if p.suffix in (".py", ".toml")) if root.is_dir() else [root]
        for path in files:
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(REPO_ROOT)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class ValidationJob:
    text: str
    source: str
    smoke: bool
    screenshots_dir: str | None = None
    prompt: str = "flappy_bird"
    starts_in_think: bool = False  # the prompt opened <think>: the text begins inside it
    smoke_parallel: int | None = None  # scenarios at once inside one smoke run


def default_jobs() -> int:
    return os.cpu_count() or 1


def validate_job(job: ValidationJob) -> dict[str, Any]:
    """Run in a worker: validate one transcript; return JSON-ready data for the store."""
    from pipeline.runs.validate import validate_text

    started = time.perf_counter()
    smoke_options = _smoke_options(job) if job.smoke else None
    result = validate_text(job.text, source=job.source, smoke=job.smoke, smoke_options=smoke_options,
                           starts_in_think=job.starts_in_think)
    details = dict(result.details)
    details["screenshots"] = _screenshots(job.screenshots_dir)
    return {
        "verdict": result.verdict,
        "findings": [f.to_json() for f in result.findings],
        "code": result.code,
        "code_sha256": hashlib.sha256(result.code.encode()).hexdigest() if result.code else None,
        "details": details,
        "seconds": round(time.perf_counter() - started, 4),
    }


def _smoke_options(job: ValidationJob) -> object | None:
    try:
        from validators.smoke.smoke_run import SmokeOptions
    except ImportError:
        return None  # validate_text records that no smoke run is available
    shots = None
    if job.screenshots_dir is not None:
        shots = Path(job.screenshots_dir)
        shots.mkdir(parents=True, exist_ok=True)
    return SmokeOptions(screenshots_dir=shots, prompt=job.prompt, parallel=job.smoke_parallel)


def smoke_parallel_for(jobs: int) -> int:
    """Scenarios per smoke run so that `jobs` workers together use about the cores there are."""
    return max(1, default_jobs() // jobs)


def _screenshots(screenshots_dir: str | None) -> list[str]:
    if screenshots_dir is None or not Path(screenshots_dir).is_dir():
        return []
    return [str(p) for p in sorted(Path(screenshots_dir).rglob("*.png"))]


def worker_init(parent_pid: int) -> None:
    """Worker initializer: the parent decides when workers stop, and they stop when it is gone.

    Ctrl-C reaches the whole foreground process group; a worker interrupted mid-job would print
    a traceback while the run is already stopping it, so the worker leaves SIGINT to its parent
    (a Python handler, not SIG_IGN, so the sandbox it starts does not inherit it).

    An idle worker waits on its job queue, whose write end it holds itself, so it would never
    see its parent die; a SIGKILLed run would leave its workers (and the pipes a caller reads
    the run's output through) open forever. The sandbox under a busy worker dies with it
    (PR_SET_PDEATHSIG in validators/sandbox/supervisor.py).
    """
    signal.signal(signal.SIGINT, lambda signum, frame: None)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


@contextmanager
def signals_held() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM for the moment a worker is started, then deliver them.

    Interrupted while it writes a new worker's start-up data, the parent leaves the worker to
    read a cut pickle and print a traceback under the run's one-line "interrupted".
    """
    held: list[int] = []
    try:
        previous = {sig: signal.signal(sig, lambda signum, frame: held.append(signum))
                    for sig in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread, which alone receives signals
        yield
        return
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for sig in dict.fromkeys(held):
            signal.raise_signal(sig)


class ValidationPool:
    """`jobs` worker processes; `submit()` returns a future of `validate_job`'s dict."""

    def __init__(self, jobs: int) -> None:
        if jobs < 1:
            raise ValueError("jobs must be at least 1")
        self.jobs = jobs
        self._executor = ProcessPoolExecutor(max_workers=jobs,
                                             mp_context=multiprocessing.get_context("spawn"),
                                             initializer=worker_init, initargs=(os.getpid(),))

    def submit(self, job: ValidationJob) -> Future[dict[str, Any]]:
        with signals_held():  # a submit may start a worker
            return self._executor.submit(validate_job, job)

    def close(self) -> None:
        """Wait for every submitted validation, then end the workers."""
        self._executor.shutdown(wait=True, cancel_futures=False)

    def stop(self) -> None:
        """End now: drop queued validations and kill the running ones with their workers."""
        # Python 3.14 has ProcessPoolExecutor.kill_workers(); before it, only _processes.
        for worker in list((getattr(self._executor, "_processes", None) or {}).values()):
            worker.kill()
        # The pool sees its workers die, fails their futures (BrokenProcessPool) and winds down.
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> ValidationPool:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.stop()


def validate_all(jobs_to_run: Iterable[ValidationJob], jobs: int) -> list[dict[str, Any]]:
    """Validate every job on `jobs` workers; results in input order."""
    with ValidationPool(jobs) as pool:
        futures = [pool.submit(job) for job in jobs_to_run]
        return [f.result() for f in futures]
