"""`gencheck run` on the real tiny model: the store, reuse, resumption after SIGKILL, reports, exits."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.store.db import Store
from tests.paths import REPO

MATRIX = ["--preset", "unsloth-qwq", "--preset", "llama.cpp-default", "--seeds", "3",
          "--n-predict", "384", "--no-smoke", "--jobs", "1"]


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["run", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def first_run(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """One 2-preset x 3-seed run, shared by the tests that read its outputs."""
    out = tmp_path_factory.mktemp("first-run")
    store = out / "store.db"
    argv = ["run", "--model", str(tiny_model), *MATRIX, "--store", str(store), "--json",
            "--junit", str(out / "junit.xml"), "--report", str(out / "html"),
            "--markdown", str(out / "step" / "summary.md")]  # a folder not made yet
    proc = subprocess.run([sys.executable, "-m", "pipeline.cli", *argv], capture_output=True,
                          text=True, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    return {"dir": out, "store": store, "json": json.loads(proc.stdout), "argv": argv}


def test_two_presets_three_seeds_generate_six_samples_into_the_store(first_run: dict) -> None:
    report = first_run["json"]
    assert (report["generated"], report["reused"]) == (6, 0)
    assert [(c["name"], c["total"]) for c in report["configs"]] == [("unsloth-qwq", 3),
                                                                   ("llama.cpp-default", 3)]
    with Store(first_run["store"]) as store:
        assert store.sample_count() == 6
        rows = store.run_samples(report["run_id"])
        assert len(rows) == 6 and all(r.validation is not None for r in rows)
        assert store.runs()[-1]["status"] == "finished"


def test_json_report_has_the_documented_fields(first_run: dict) -> None:
    config = first_run["json"]["configs"][0]
    for key in ("name", "passed", "total", "pass_rate", "interval", "looped", "compile_failed",
                "undefined_name", "crashed", "median_tokens", "median_seconds"):
        assert key in config
    assert len(first_run["json"]["comparisons"]) == 1
    assert first_run["json"]["comparisons"][0]["test"] == "fisher-exact"


def test_junit_has_one_testcase_per_sample_with_the_first_error_as_message(first_run: dict) -> None:
    root = ET.parse(first_run["dir"] / "junit.xml").getroot()
    cases = root.findall(".//testcase")
    assert len(cases) == 6
    report_samples = first_run["json"]["samples"]
    for case, sample in zip(cases, report_samples, strict=True):
        failure = case.find("failure")
        if sample["verdict"] == "fail":
            first = sample["first_error"]
            assert failure is not None and failure.get("type") == f"{first['check']}/{first['code']}"
            assert first["message"] in failure.get("message", "")
        else:
            assert failure is None


def test_html_report_links_every_sample_page(first_run: dict) -> None:
    html_dir = first_run["dir"] / "html"
    index = (html_dir / "index.html").read_text(encoding="utf-8")
    pages = sorted(html_dir.glob("samples/*.html"))
    assert len(pages) == 6
    for page in pages:
        assert f'href="samples/{page.name}"' in index
    assert "unsloth-qwq" in index and "http" not in index.split("<body>")[1]


def test_markdown_summary_holds_the_table(first_run: dict) -> None:
    text = (first_run["dir"] / "step" / "summary.md").read_text(encoding="utf-8")
    assert "| unsloth-qwq | " in text and "Fisher's exact" in text


def test_same_command_again_reuses_all_six_and_generates_none(first_run: dict,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    code = main(first_run["argv"])
    again = json.loads(capsys.readouterr().out)
    assert code == 0
    assert (again["generated"], again["reused"]) == (0, 6)
    assert again["configs"] == first_run["json"]["configs"] or [
        (c["name"], c["passed"], c["total"]) for c in again["configs"]] == [
        (c["name"], c["passed"], c["total"]) for c in first_run["json"]["configs"]]
    with Store(first_run["store"]) as store:
        assert store.sample_count() == 6


def test_run_killed_mid_way_resumes_to_exactly_one_full_run(tiny_model: Path, tmp_path: Path) -> None:
    store_path = tmp_path / "store.db"
    argv = [sys.executable, "-m", "pipeline.cli", "run", "--model", str(tiny_model), *MATRIX,
            "--store", str(store_path), "--json"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO,
                            start_new_session=True)
    try:
        done = _wait_for_samples(store_path, proc)
        os.kill(proc.pid, signal.SIGKILL)  # the run itself, mid-way
        proc.wait(timeout=30)
        assert _group_gone(proc.pid, 10), "validation workers outlived the killed run"
    finally:
        _reap_group(proc)
    assert 1 <= done < 6, f"the run was not caught mid-way ({done} samples)"

    resumed = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads(resumed.stdout)
    assert report["reused"] >= done and report["generated"] + report["reused"] == 6
    with Store(store_path) as store:
        keys = [r[0] for r in store.db.execute("SELECT sample_key FROM samples")]
        assert len(keys) == len(set(keys)) == 6
        assert all(r.validation is not None for r in store.run_samples(report["run_id"]))
        statuses = [r["status"] for r in store.runs()]
        assert statuses == ["running", "finished"]


def _wait_for_samples(store_path: Path, proc: subprocess.Popen) -> int:
    """Poll the store until the run has committed at least one sample; return how many."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if store_path.exists():
            try:
                db = sqlite3.connect(f"file:{store_path}?mode=ro", uri=True, timeout=1)
                count = db.execute("SELECT COUNT(*) FROM samples").fetchone()[0]
                db.close()
            except sqlite3.OperationalError:
                count = 0  # the schema is not there yet
            if count:
                return int(count)
        time.sleep(0.01)
    return 0


def _group_gone(pgid: int, seconds: float) -> bool:
    """Wait until no process of the group is left (the run's workers included)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_sigterm_stops_a_run_like_ctrl_c_in_one_line_and_takes_its_workers(
        tiny_model: Path, tmp_path: Path) -> None:
    store_path = tmp_path / "store.db"
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "run", "--model", str(tiny_model),
                             *MATRIX, "--store", str(store_path), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                            start_new_session=True)
    try:
        done = _wait_for_samples(store_path, proc)
        os.kill(proc.pid, signal.SIGTERM)  # `kill PID`, or a CI job's timeout
        out, err = proc.communicate(timeout=60)
        assert _group_gone(proc.pid, 10), "validation workers outlived the terminated run"
    finally:
        _reap_group(proc)
    assert 1 <= done < 6, f"the run was not caught mid-way ({done} samples)"
    assert proc.returncode == 143 and out == ""
    assert err.strip().splitlines()[-1] == "gencheck: terminated" and "Traceback" not in err
    with Store(store_path) as store:
        assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert [r["status"] for r in store.runs()] == ["stopped"]


def _reap_group(proc: subprocess.Popen) -> None:
    """Kill what is left of the killed run's own process group (its validation workers)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def test_a_recorded_transcript_replays_through_the_pipeline_and_validates_once(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recorded = REPO / "fixtures" / "corpus" / "answer_flappy_shapes.txt"
    code, out, _ = run_cli(capsys, "--engine", "replay", "--model", str(recorded), "--seeds", "2",
                           "--no-smoke", "--jobs", "1", "--store", str(tmp_path / "s.db"), "--json",
                           "--min-pass-rate", "1")
    report = json.loads(out)
    assert code == 0 and report["configs"][0]["passed"] == 2
    with Store(tmp_path / "s.db") as store:
        # Same text for both seeds: one validation serves both samples.
        assert store.db.execute("SELECT COUNT(*) FROM validations").fetchone()[0] == 1


def test_identical_texts_in_flight_are_validated_once(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.runs.validation_pool import ValidationPool

    submitted = []
    real_submit = ValidationPool.submit

    def counting_submit(pool: ValidationPool, job: object):  # the real pool still validates
        submitted.append(job)
        return real_submit(pool, job)

    monkeypatch.setattr(ValidationPool, "submit", counting_submit)
    recorded = REPO / "fixtures" / "corpus" / "answer_flappy_shapes.txt"
    code, out, _ = run_cli(capsys, "--engine", "replay", "--model", str(recorded), "--seeds", "3",
                           "--no-smoke", "--jobs", "2", "--store", str(tmp_path / "s.db"), "--json")
    report = json.loads(out)
    assert code == 0 and len(submitted) == 1
    assert report["configs"][0]["passed"] == 3 and all(s["verdict"] == "pass" for s in report["samples"])


def test_gate_below_threshold_exits_one(tiny_model: Path, first_run: dict,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "--model", str(tiny_model), *MATRIX, "--store",
                           str(first_run["store"]), "--min-pass-rate", "90%")
    assert code == 1 and "FAILS" in out


@pytest.mark.parametrize("argv", [["--seeds", "0"], ["--preset", "no-such-preset"],
                                  ["--model", "/nonexistent/model.gguf"], ["--model", "."], ["--jobs", "0"], ["--n-predict", "-5"],
                                  ["--engine", "replay"]])
def test_usage_errors_exit_two_with_one_line(argv: list[str], tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, *argv, "--store", str(tmp_path / "s.db"))
    assert code == 2
    assert err.count("\n") == 1 and "error:" in err


def test_a_model_llama_cpp_cannot_load_is_one_line_and_the_run_is_marked_stopped(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "broken.gguf").write_text("not a model")
    code, out, err = run_cli(capsys, "--model", str(tmp_path / "broken.gguf"), "--seeds", "1",
                             "--no-smoke", "--store", str(tmp_path / "s.db"))
    assert (code, out) == (2, "") and err.strip().splitlines()[-1].startswith("gencheck run: error:")
    with Store(tmp_path / "s.db") as store:
        assert [r["status"] for r in store.runs()] == ["stopped"]


def test_bad_min_pass_rate_is_rejected_by_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--min-pass-rate", "1.5"])
    assert exit_info.value.code == 2


def test_without_model_runs_the_tiny_model_and_says_so(tiny_model: Path, tmp_path: Path) -> None:
    env = dict(os.environ, GENCHECK_CACHE=str(_cache_root(tiny_model)))
    proc = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", "--seeds", "1", "--no-smoke",
                           "--n-predict", "64", "--jobs", "1", "--store", str(tmp_path / "s.db")],
                          capture_output=True, text=True, timeout=300, cwd=REPO, env=env)
    assert proc.returncode == 0, proc.stderr
    # The folder, not the file: the file name hashes the corpus, which may change under us.
    assert "tiny test model" in proc.stderr and str(tiny_model.parent) in proc.stderr
    assert "llama.cpp-default" in proc.stdout


def _cache_root(tiny_model: Path) -> Path:
    """The cache folder ensure_tiny_model() was given (the model sits in a subfolder of it)."""
    for parent in tiny_model.parents:
        if parent.name.startswith("gencheck-cache"):
            return parent
    return tiny_model.parent.parent


def test_a_changed_validator_revalidates_stored_samples_without_generating(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    recorded = REPO / "fixtures" / "corpus" / "answer_flappy_shapes.txt"
    argv = ["--engine", "replay", "--model", str(recorded), "--seeds", "1", "--no-smoke", "--jobs", "1",
            "--store", str(tmp_path / "s.db"), "--json"]
    run_cli(capsys, *argv)
    monkeypatch.setattr("pipeline.runs.matrix.validators_version", lambda: "a-newer-validator")
    _, out, _ = run_cli(capsys, *argv)
    assert (json.loads(out)["generated"], json.loads(out)["reused"]) == (0, 1)
    with Store(tmp_path / "s.db") as store:
        versions = [r[0] for r in store.db.execute("SELECT validators_version FROM validations")]
        assert len(versions) == 2 and versions[1] == "a-newer-validator"


def test_a_corrupt_store_is_one_line_and_exit_two(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "s.db"
    store.write_bytes(b"this was never a SQLite file " * 50)
    code, out, err = run_cli(capsys, "--engine", "replay", "--model", str(REPO / "fixtures" / "corpus" /
                             "answer_flappy_shapes.txt"), "--no-smoke", "--store", str(store))
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "file is not a database" in err


@pytest.mark.parametrize("outputs", [["--report", "a-file"], ["--junit", "."], ["--markdown", "a-file/x.md"]],
                         ids=["report-is-a-file", "junit-is-a-folder", "markdown-under-a-file"])
def test_an_output_that_cannot_be_written_is_refused_before_the_run(
        outputs: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-file").write_text("mine")
    code, out, err = run_cli(capsys, "--engine", "replay", "--model", str(REPO / "fixtures" / "corpus" /
                             "answer_flappy_shapes.txt"), "--no-smoke", "--store", "s.db", *outputs)
    assert (code, out) == (2, "") and err.count("\n") == 1
    assert not (tmp_path / "s.db").exists(), "the run started before the outputs were checked"


def test_two_runs_on_one_store_at_once_both_finish_and_share_every_sample(tmp_path: Path) -> None:
    store_path = tmp_path / "shared.db"  # created by whichever run opens it first
    argv = [sys.executable, "-m", "pipeline.cli", "run", "--engine", "replay", "--model",
            str(REPO / "fixtures" / "corpus" / "answer_flappy_shapes.txt"), "--seeds", "4",
            "--no-smoke", "--jobs", "1", "--store", str(store_path), "--json"]
    runs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
            for _ in range(2)]
    results = [(proc.communicate(timeout=300), proc.returncode) for proc in runs]
    for (out, err), code in results:
        assert code == 0, err
        assert json.loads(out)["configs"][0]["total"] == 4
    with Store(store_path) as store:
        assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert store.sample_count() == 4
        assert [r["status"] for r in store.runs()] == ["finished", "finished"]


def test_screenshots_go_beside_the_store_under_its_own_name(tmp_path: Path) -> None:
    from pipeline.runs.matrix import artifacts_dir

    assert artifacts_dir(tmp_path / "results.db") == (tmp_path / "results-artifacts").resolve()
