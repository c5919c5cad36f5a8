"""`gencheck compare`: A/B from the store with Fisher's exact test, and run-to-run changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.cli import main
from tests.paths import REPO

PASSING = REPO / "fixtures" / "corpus" / "answer_flappy_shapes.txt"
FAILING = REPO / "fixtures" / "corpus" / "answer_flappy_globals.txt"  # its fence never closes


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two finished runs of two recorded transcripts (one passes, one fails), six seeds each."""
    path = tmp_path_factory.mktemp("compare") / "store.db"
    for _ in range(2):
        code = main(["run", "--engine", "replay", "--model", str(FAILING), "--model", str(PASSING),
                     "--seeds", "6", "--no-smoke", "--jobs", "1", "--store", str(path), "--json"])
        assert code == 0  # no --min-pass-rate: no gate to fail
    return path


def compare(capsys: pytest.CaptureFixture[str], store: Path, *argv: str) -> tuple[int, str, str]:
    code = main(["compare", *argv, "--store", str(store)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_six_passes_against_six_failures_is_significant(store: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = compare(capsys, store, "answer_flappy_globals", "answer_flappy_shapes", "--json")
    data = json.loads(out)
    (comparison,) = data["comparisons"]
    assert code == 0
    assert (comparison["passed_a"], comparison["total_a"], comparison["passed_b"], comparison["total_b"]) == (0, 6, 6, 6)
    assert comparison["p_value"] == pytest.approx(0.002165, abs=1e-6)


def test_fail_if_worse_exits_one_when_b_is_significantly_worse(store: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = compare(capsys, store, "answer_flappy_shapes", "answer_flappy_globals",
                             "--fail-if-worse")
    assert code == 1
    assert "significant at 0.05" in out and "significantly worse" in err


def test_last_compares_the_latest_run_with_the_one_before(store: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = compare(capsys, store, "--last", "--json")
    data = json.loads(out)
    assert code == 0
    assert [c["a"] for c in data["comparisons"]] == ["answer_flappy_globals (run 1)",
                                                     "answer_flappy_shapes (run 1)"]
    assert all(c["difference"] == 0 for c in data["comparisons"])


def test_list_shows_runs_and_their_configurations(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = compare(capsys, store, "--list", "--json")
    runs = json.loads(out)["runs"]
    assert code == 0 and [r["status"] for r in runs] == ["finished", "finished"]
    assert runs[0]["configs"] == ["answer_flappy_globals", "answer_flappy_shapes"]


@pytest.mark.parametrize("argv", [["only-one"], ["nope", "answer_flappy_shapes"], [],
                                  ["--runs", "1", "99"], ["a", "b", "--alpha", "2"],
                                  ["answer_flappy_shapes", "answer_flappy_globals", "--fail-if-worse",
                                   "--alternative", "greater"]])
def test_usage_errors_exit_two(store: Path, argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = compare(capsys, store, *argv)
    assert code == 2 and err.count("\n") == 1


def test_missing_store_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert compare(capsys, tmp_path / "none.db", "a", "b")[0] == 2


def test_an_unknown_run_is_named_in_the_error(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = compare(capsys, store, "--runs", "1", "99")
    assert code == 2 and "no run 99 in the store (runs 1 to 2" in err


def test_an_empty_store_lists_no_runs_and_compares_nothing(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    from pipeline.store.db import Store

    Store(tmp_path / "empty.db").close()
    code, out, _ = compare(capsys, tmp_path / "empty.db", "--list")
    assert code == 0 and "no runs" in out
    assert json.loads(compare(capsys, tmp_path / "empty.db", "--list", "--json")[1]) == {"runs": []}
    for argv in (["--last"], ["a", "b"], ["--runs", "1", "2"]):
        code, out, err = compare(capsys, tmp_path / "empty.db", *argv)
        assert (code, out) == (2, "") and err.count("\n") == 1, argv


def test_last_leaves_out_the_gates_runs_and_compares_the_matrix_runs(
        store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    from pipeline.runs.gate_config import run_gate_config

    copy = tmp_path / "store.db"
    shutil.copyfile(store, copy)
    # What the nightly job does after its matrix: the pytest gate, one configuration a run.
    run_gate_config(model=PASSING, config="unsloth-qwq", seeds=2, engine="replay", store_path=copy,
                    smoke=False, jobs=1)
    code, out, _ = compare(capsys, copy, "--last", "--json")
    assert code == 0
    assert [(c["a"], c["b"]) for c in json.loads(out)["comparisons"]] == [
        ("answer_flappy_globals (run 1)", "answer_flappy_globals (run 2)"),
        ("answer_flappy_shapes (run 1)", "answer_flappy_shapes (run 2)")]


def test_configurations_from_runs_on_different_models_are_compared_with_a_note(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "store.db"
    for model, preset in ((FAILING, "unsloth-qwq"), (PASSING, "llama.cpp-default")):
        assert main(["run", "--engine", "replay", "--model", str(model), "--preset", preset, "--seeds", "2",
                     "--no-smoke", "--jobs", "1", "--store", str(path), "--json"]) == 0
    capsys.readouterr()
    code, _, err = compare(capsys, path, "unsloth-qwq", "llama.cpp-default")
    assert code == 0
    assert err.splitlines() == [f"gencheck compare: note: unsloth-qwq (run 1) ran on {FAILING.name} but "
                                f"llama.cpp-default (run 2) on {PASSING.name}"]


def test_two_configurations_are_set_side_by_side_on_pass_at_k_and_requirements(
        store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = compare(capsys, store, "answer_flappy_globals", "answer_flappy_shapes")
    block = out.split("\n\n")[1].splitlines()
    assert code == 0
    assert block == [
        "              answer_flappy_globals (run 2)  answer_flappy_shapes (run 2)",
        "passed        0/6                            6/6",
        "pass@1        0%                             100%",
        "pass@3        0%                             100%",
        "requirements  –                              –",  # the store's runs had --no-smoke
    ]


def test_the_json_carries_each_sides_figures_and_no_infinite_odds_ratio(
        store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = compare(capsys, store, "answer_flappy_globals", "answer_flappy_shapes", "--json")
    assert "Infinity" not in out  # A passes none, B all: the odds ratio is infinite
    (comparison,) = json.loads(out)["comparisons"]
    assert comparison["odds_ratio"] is None
    assert comparison["figures"]["b"]["pass_at_k"] == {"1": 1.0, "3": 1.0}
    assert comparison["figures"]["a"]["requirements"] == {"mean": None, "points": None, "scored": 0}


def test_two_quants_with_a_smoke_run_compare_their_requirement_scores(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Two "quants" (recorded answers stand in for model files) run side by side, two seeds
    # each: the configurations are named after the files, pass@3 needs a third seed.
    path = tmp_path / "store.db"
    assert main(["run", "--engine", "replay", "--model", str(PASSING), "--model", str(FAILING),
                 "--seeds", "2", "--jobs", "1", "--store", str(path), "--json"]) == 0
    capsys.readouterr()
    code, out, _ = compare(capsys, path, "answer_flappy_shapes", "answer_flappy_globals")
    block = out.split("\n\n")[1].splitlines()
    assert code == 0
    assert [line.split() for line in block[3:5]] == [["pass@3", "–", "–"],
                                                      ["requirements", "8.0/8", "0.0/8"]]
    assert block[5:] == ["(pass@3 needs at least 3 validated samples a side)"]
