"""The validation workers: they stop when the run stops, and they never outlive a killed run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import CancelledError
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from pipeline.runs.validation_pool import ValidationJob, ValidationPool
from pipeline.transcript import Transcript
from tests.paths import REPO

HEALTHY = REPO / "fixtures" / "corpus" / "answer_flappy_shapes.txt"

# A run in miniature: one worker, started by a first job, then the parent waits to be killed.
PARENT = """
import sys, time
from pipeline.runs.validation_pool import ValidationJob, ValidationPool
pool = ValidationPool(1)
pool.submit(ValidationJob(text="no code here", source="probe", smoke=False)).result()
print(*pool._executor._processes, flush=True)
time.sleep(600)
"""


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie waiting for its parent to reap it counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_an_idle_worker_exits_when_its_run_is_killed(tmp_path: Path) -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True,
                              cwd=REPO, start_new_session=True)
    try:
        assert parent.stdout is not None
        (worker,) = (int(pid) for pid in parent.stdout.readline().split())
        assert alive(worker)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=30)
        assert wait_gone(worker, 10), "the worker outlived its killed run"
    finally:
        try:
            os.killpg(parent.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_leaving_the_pool_on_an_error_kills_the_running_validation() -> None:
    job = ValidationJob(text=Transcript.load(HEALTHY).text, source="healthy", smoke=True)
    with pytest.raises(KeyboardInterrupt), ValidationPool(1) as pool:
        running = pool.submit(job)
        queued = pool.submit(job)
        workers = list(pool._executor._processes or {})
        time.sleep(1.0)  # the first job is inside its smoke run, seconds from done
        raise KeyboardInterrupt
    # Waiting would have given a result; stopping leaves none and no worker.
    with pytest.raises((BrokenProcessPool, CancelledError)):
        running.result(timeout=0)
    assert queued.cancelled() or isinstance(queued.exception(timeout=0), BrokenProcessPool)
    assert workers and not any(alive(pid) for pid in workers)


def test_leaving_the_pool_normally_waits_for_every_validation() -> None:
    with ValidationPool(1) as pool:
        futures = [pool.submit(ValidationJob(text=f"no code {n}", source="t", smoke=False))
                   for n in range(3)]
    assert [f.result(timeout=0)["verdict"] for f in futures] == ["fail"] * 3
