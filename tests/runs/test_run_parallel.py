"""`gencheck run --parallel N`: the same samples, keyed the same, as one stream makes them."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path


def run(model: Path, store: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pipeline.cli.main", "run", "--model", str(model), "--seeds", "5",
                           "--no-smoke", "--n-predict", "60", "--store", str(store), *flags],
                          capture_output=True, text=True, timeout=900)


def texts(store: Path) -> dict[int, str]:
    with sqlite3.connect(store) as db:
        return dict(db.execute("SELECT seed, text FROM samples").fetchall())


def test_samples_made_in_parallel_are_reused_by_a_single_stream_and_equal_its_own(
        tiny_model: Path, tmp_path: Path) -> None:
    parallel, single = tmp_path / "parallel.db", tmp_path / "single.db"
    first = run(tiny_model, parallel, "--parallel", "4")
    assert first.returncode == 0, first.stderr
    assert "5 generated, 0 reused" in first.stdout and "4 slots x" in first.stderr
    again = run(tiny_model, parallel)  # --parallel 1: the keys do not depend on the slots
    assert again.returncode == 0, again.stderr
    assert "0 generated, 5 reused" in again.stdout
    alone = run(tiny_model, single)
    assert alone.returncode == 0, alone.stderr
    assert texts(parallel) == texts(single) and len(texts(single)) == 5


def test_more_slots_than_samples_allocate_only_the_slots_used(tiny_model: Path, tmp_path: Path) -> None:
    done = run(tiny_model, tmp_path / "r.db", "--parallel", "16")
    assert done.returncode == 0, done.stderr
    assert "context: 5 slots x" in done.stderr


def test_parallel_is_for_the_embedded_engine(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "pipeline.cli.main", "run", "--engine", "replay", "--model", "x.txt",
                           "--parallel", "2"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "--parallel is for --engine embedded" in done.stderr
