"""Shards run apart and merged equal the unsharded run: same samples, same texts, same report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.store.db import Store
from tests.paths import REPO
from tests.store.store_snapshot import sample_texts, snapshot

MATRIX = ["--preset", "unsloth-qwq", "--preset", "llama.cpp-default", "--seeds", "2",
          "--n-predict", "48", "--no-smoke", "--jobs", "1"]


def gencheck(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *argv], capture_output=True, text=True,
                          timeout=300, cwd=REPO)


@pytest.fixture(scope="module")
def runs(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same matrix run whole into whole.db, and as shards 1/2 and 2/2 into their own stores."""
    out = tmp_path_factory.mktemp("shards")
    for name, shard in (("whole", []), ("shard-1", ["--shard", "1/2"]), ("shard-2", ["--shard", "2/2"])):
        proc = gencheck("run", "--model", str(tiny_model), *MATRIX, *shard, "--store", str(out / f"{name}.db"),
                        "--json")
        assert proc.returncode == 0, proc.stderr
    return out


def test_the_two_shards_split_the_matrix_between_them(runs: Path) -> None:
    first, second = sample_texts(runs / "shard-1.db"), sample_texts(runs / "shard-2.db")
    assert first and second and not first.keys() & second.keys()
    assert len(first) + len(second) == 4


def test_two_shards_merged_have_the_unsharded_runs_samples_and_report(runs: Path) -> None:
    proc = gencheck("merge", str(runs / "merged.db"), str(runs / "shard-1.db"), str(runs / "shard-2.db"),
                    "--json", "--junit", str(runs / "junit.xml"), "--report", str(runs / "html"),
                    "--markdown", str(runs / "summary.md"))
    assert proc.returncode == 0, proc.stderr
    assert sample_texts(runs / "merged.db") == sample_texts(runs / "whole.db")
    joined = json.loads(proc.stdout)
    with Store(runs / "whole.db") as store:
        whole = json.loads(store.db.execute("SELECT summary FROM runs").fetchone()[0])
    def verdicts(configs: list[dict]) -> list[dict]:  # all but the timing, which differs per run
        return [{k: v for k, v in c.items() if k != "median_seconds"} for c in configs]

    assert verdicts(joined["configs"]) == verdicts(whole["configs"])
    assert joined["comparisons"] == whole["comparisons"]
    assert [(s["config"], s["seed"]) for s in joined["samples"]] == \
        [(s["config"], s["seed"]) for s in whole["samples"]]
    assert joined["generated"] == 4 and joined["reused"] == 0
    assert (runs / "junit.xml").read_text().count("<testcase") == 4
    assert (runs / "html" / "index.html").is_file() and "gencheck run" in (runs / "summary.md").read_text()


def test_merging_and_reporting_the_shards_again_changes_nothing(runs: Path) -> None:
    args = ["merge", str(runs / "again.db"), str(runs / "shard-1.db"), str(runs / "shard-2.db"), "--join-shards"]
    assert gencheck(*args).returncode == 0
    once = snapshot(runs / "again.db")
    again = gencheck(*args)
    assert again.returncode == 0, again.stderr
    assert snapshot(runs / "again.db") == once


def test_joining_needs_every_shard_of_one_matrix(runs: Path) -> None:
    proc = gencheck("merge", str(runs / "half.db"), str(runs / "shard-2.db"), "--join-shards")
    assert proc.returncode == 2 and proc.stderr.strip().endswith(
        "shard 1 of 2 missing: merge every shard's store before reporting")
    proc = gencheck("merge", str(runs / "mixed.db"), str(runs / "shard-1.db"), str(runs / "whole.db"),
                    "--join-shards")
    assert proc.returncode == 2 and "was not run with --shard K/N" in proc.stderr
    assert proc.stderr.count("error") == 1


def test_compare_last_sees_the_joined_run_not_a_shard(runs: Path) -> None:
    for _ in range(2):  # joined twice: still one joined run, and the shard runs left out
        assert gencheck("merge", str(runs / "nights.db"), str(runs / "shard-1.db"), str(runs / "shard-2.db"),
                        "--join-shards").returncode == 0
    with Store(runs / "nights.db") as store:
        assert store.finished_runs(with_shards=False) == [3]
