"""`gencheck run --reference`: each model's KL divergence against the reference in every report,
and `gencheck compare`'s KLD column read back from the ledger."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.fidelity.saved.ledger import entries


@pytest.fixture(scope="module")
def reference_run(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    folder = tmp_path_factory.mktemp("kld-run")
    store, report = folder / "results.db", folder / "report"
    args = ["run", "--model", str(tiny_model), "--seeds", "2", "--no-smoke", "--n-predict", "200",
            "--reference", str(tiny_model), "--store", str(store), "--report", str(report), "--json",
            "--markdown", str(folder / "summary.md")]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(args) in (0, 1)  # the tiny model's babble fails validation; the run itself works
    return store, folder, json.loads(out.getvalue())


def test_run_json_holds_each_models_kld_against_the_reference(reference_run: tuple[Path, Path, dict]) -> None:
    _, _, body = reference_run
    (entry,) = body["kld"]
    assert entry["run_id"] == body["run_id"]
    assert abs(entry["mean_kld"]) < 1e-4  # the tiny model against itself
    assert entry["n_tokens"] > 300 and set(entry["kld_percentiles"]) == {"50", "90", "99", "99.9", "max"}
    assert entry["regions"]["reasoning"]["n_tokens"] > 0  # the answers continue the prompt's <think>


def test_html_and_markdown_reports_have_a_kld_section(reference_run: tuple[Path, Path, dict]) -> None:
    _, folder, _ = reference_run
    index = (folder / "report" / "index.html").read_text(encoding="utf-8")
    assert "KL divergence against" in index and "diverges most" in index
    assert "#### KL divergence against" in (folder / "summary.md").read_text(encoding="utf-8")


def test_the_result_is_recorded_for_compare(reference_run: tuple[Path, Path, dict]) -> None:
    store, _, body = reference_run
    assert [e["run_id"] for e in entries(store)] == [body["run_id"]]


def test_a_missing_reference_is_refused_before_the_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--reference", str(tmp_path / "none.gguf"), "--store", str(tmp_path / "s.db")]) == 2
    assert "--reference" in capsys.readouterr().err


def test_compare_shows_each_sides_kld(reference_run: tuple[Path, Path, dict], tiny_model: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    from pipeline.models.random_qwen2 import ensure_random_qwen2

    store, folder, first = reference_run
    other = ensure_random_qwen2("Q4_0", cache_dir=folder / "models")  # the tiny model's vocabulary
    assert main(["run", "--model", str(other), "--seeds", "1", "--no-smoke", "--n-predict", "40",
                 "--reference", str(tiny_model), "--store", str(store), "--json"]) in (0, 1)
    second = json.loads(capsys.readouterr().out)
    assert main(["compare", "--runs", str(first["run_id"]), str(second["run_id"]), "--store", str(store),
                 "--json"]) == 0
    kld = json.loads(capsys.readouterr().out)["kld"]
    means = [entry["mean_kld"] for entry in kld.values()]
    assert len(means) == 2 and abs(means[0]) < 1e-4 and means[1] > 0.1  # itself vs a random model
    assert main(["compare", "--runs", str(first["run_id"]), str(second["run_id"]), "--store", str(store)]) == 0
    assert "KL divergence against the reference" in capsys.readouterr().out


def test_kld_command_on_a_runs_transcripts_reuses_the_reference_the_run_saved(
        reference_run: tuple[Path, Path, dict], tiny_model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store, _, body = reference_run
    assert main(["kld", "--reference", str(tiny_model), "--model", str(tiny_model), "--run", str(body["run_id"]),
                 "--store", str(store), "--json"]) == 0
    out = capsys.readouterr()
    assert "reusing" in out.err
    assert json.loads(out.out)["n_tokens"] == body["kld"][0]["n_tokens"]
    assert main(["kld", "--reference", str(tiny_model), "--model", str(tiny_model), "--config", "nope",
                 "--store", str(store)]) == 2
    assert "no finished run has configuration 'nope'" in capsys.readouterr().err
