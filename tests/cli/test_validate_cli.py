"""`gencheck validate` as a user runs it: a real subprocess, JSON shape, table, exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import FIXTURES

HEALTHY = FIXTURES / "programs" / "healthy_flappy_functional.py"
BROKEN = FIXTURES / "transcripts" / "restart_nameerror.md"


def gencheck(*args: str) -> subprocess.CompletedProcess[str]:
    script = shutil.which("gencheck")
    command = [script] if script else [sys.executable, "-m", "pipeline.cli"]
    return subprocess.run(
        command + ["validate", *args], capture_output=True, text=True, timeout=120
    )


def test_json_is_one_object_with_the_issue_shape_and_exit_1_on_a_failure() -> None:
    proc = gencheck("--json", "--no-smoke", str(HEALTHY), str(BROKEN))
    assert proc.returncode == 1, proc.stderr
    data = json.loads(proc.stdout)
    assert [r["source"] for r in data["results"]] == [str(HEALTHY), str(BROKEN)]
    assert [r["verdict"] for r in data["results"]] == ["pass", "fail"]
    finding = data["results"][1]["findings"][0]
    assert set(finding) >= {"check", "code", "severity", "message", "line"}
    assert (finding["check"], finding["code"], finding["line"]) == ("names", "undefined-name", 47)


def test_exit_0_when_all_pass_and_the_table_names_each_file() -> None:
    proc = gencheck("--no-smoke", str(HEALTHY))
    assert proc.returncode == 0, proc.stderr
    assert "pass" in proc.stdout and str(HEALTHY) in proc.stdout


def test_table_shows_the_first_error_with_its_line() -> None:
    proc = gencheck("--no-smoke", str(BROKEN))
    assert proc.returncode == 1
    assert "names/undefined-name line 47" in proc.stdout


def test_table_names_the_sandbox_tier_of_the_smoke_run() -> None:
    from validators.sandbox.box import choose_tier

    proc = gencheck(str(HEALTHY))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.rstrip().splitlines()[-1] == f"smoke run sandbox tier: {choose_tier()}"
    assert "sandbox tier" not in gencheck("--no-smoke", str(HEALTHY)).stdout


def test_missing_file_is_a_one_line_usage_error_with_exit_2(tmp_path: Path) -> None:
    proc = gencheck("--no-smoke", str(tmp_path / "nope.txt"))
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "no such file" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unreadable_file_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "locked.txt"
    path.write_text("x")
    path.chmod(0)
    if os.access(path, os.R_OK):
        pytest.skip("running as a user who reads anything (root)")
    proc = gencheck("--no-smoke", str(path))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_a_directory_stands_for_its_files_and_skips_sidecars_and_screenshots(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\nprint(x)\n")
    (tmp_path / "a.py.json").write_text("{}")
    (tmp_path / "shots").mkdir()
    (tmp_path / "shots" / "a-frame-1.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    proc = gencheck("--json", "--no-smoke", str(tmp_path))
    assert proc.returncode == 0
    assert [r["source"] for r in json.loads(proc.stdout)["results"]] == [str(tmp_path / "a.py")]


def test_jobs_gives_the_same_results_in_the_same_order() -> None:
    files = [str(p) for p in sorted((FIXTURES / "transcripts").iterdir())[:4]]
    one = json.loads(gencheck("--json", "--no-smoke", *files).stdout)
    many = json.loads(gencheck("--json", "--no-smoke", "--jobs", "2", *files).stdout)
    strip = lambda data: [(r["source"], r["verdict"], r["findings"]) for r in data["results"]]  # noqa: E731
    assert strip(one) == strip(many)


@pytest.mark.parametrize("jobs", ["0", "-1"])
def test_bad_jobs_is_a_usage_error(jobs: str) -> None:
    proc = gencheck("--jobs", jobs, str(HEALTHY))
    assert proc.returncode == 2 and "--jobs" in proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr


def test_a_smoke_option_with_no_smoke_is_a_usage_error(tmp_path: Path) -> None:
    proc = gencheck("--no-smoke", "--screenshots", str(tmp_path), str(HEALTHY))
    assert proc.returncode == 2 and "--screenshots" in proc.stderr and "--no-smoke" in proc.stderr
    assert proc.stderr.strip().count("\n") == 0


def test_a_directory_with_no_files_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / ".hidden").write_text("x")
    proc = gencheck("--no-smoke", str(tmp_path))
    assert proc.returncode == 2 and "holds no files" in proc.stderr
    assert proc.stderr.strip().count("\n") == 0


def test_a_fifo_is_not_a_readable_file(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    proc = gencheck("--no-smoke", str(fifo))
    assert proc.returncode == 2 and "not a readable file" in proc.stderr


def test_a_path_with_spaces_is_one_file(tmp_path: Path) -> None:
    path = tmp_path / "my broken game.md"
    path.write_bytes(BROKEN.read_bytes())
    proc = gencheck("--json", "--no-smoke", str(path))
    assert proc.returncode == 1
    assert [r["source"] for r in json.loads(proc.stdout)["results"]] == [str(path)]


def test_help_explains_the_flags() -> None:
    script = shutil.which("gencheck")
    command = [script] if script else [sys.executable, "-m", "pipeline.cli"]
    proc = subprocess.run(
        command + ["validate", "--help"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0
    for flag in ("--json", "--no-smoke", "--jobs"):
        assert flag in proc.stdout
