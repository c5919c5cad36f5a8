"""KL divergence of real llama.cpp models against a reference, along a QwQ-shaped transcript."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from pipeline.cli import main
from pipeline.fidelity.kld import KldResult, compare, make_reference
from pipeline.fidelity.saved.base_file import read_kld_base, write_kld_base
from pipeline.fidelity.saved.reference import Reference, load_any
from pipeline.models.random_qwen2 import ensure_random_qwen2
from tests.paths import FIXTURES

TRANSCRIPT = FIXTURES / "corpus" / "answer_flappy_globals.txt"


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    cache = tmp_path_factory.mktemp("random-qwen2")
    return {kind: ensure_random_qwen2(kind, cache_dir=cache) for kind in ("F32", "F16", "Q8_0", "Q4_0")}


@pytest.fixture(scope="module")
def text() -> str:
    return TRANSCRIPT.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def reference(models: dict[str, Path], text: str) -> Reference:
    return make_reference(models["F32"], [text], model_sha256="f32")


@pytest.fixture(scope="module")
def results(models: dict[str, Path], reference: Reference) -> dict[str, KldResult]:
    """Each model scored once against the F32 reference, shared by the tests that read figures."""
    return {kind: compare(path, reference) for kind, path in models.items()}


def test_a_model_against_itself_has_no_divergence(results: dict[str, KldResult], reference: Reference) -> None:
    result = results["F32"]
    assert result.n_tokens == reference.n_tokens > 500
    assert abs(result.mean) < 1e-5 and result.same_top == 1.0


def test_coarser_quants_diverge_more(results: dict[str, KldResult]) -> None:
    means = {kind: results[kind].mean for kind in ("F16", "Q8_0", "Q4_0")}
    assert 0 < means["F16"] < means["Q8_0"] < means["Q4_0"]
    assert means["Q4_0"] > 0.01


def test_every_region_of_the_transcript_is_scored(results: dict[str, KldResult]) -> None:
    result = results["Q4_0"]
    regions = result.as_json()["regions"]
    assert {"reasoning", "code", "prose", "prompt"} <= set(regions)
    assert sum(r["n_tokens"] for r in regions.values()) == result.n_tokens
    assert regions["code"]["n_tokens"] > 100 and regions["reasoning"]["n_tokens"] > 50
    assert len(result.top) == 10
    assert result.top[0].kld == pytest.approx(result.summary.kld_percentiles["max"])


def test_a_saved_reference_gives_the_same_figures(models: dict[str, Path], reference: Reference,
                                                   results: dict[str, KldResult], tmp_path: Path) -> None:
    path = tmp_path / "ref.kldref.npz"
    reference.save(path)
    again = compare(models["Q8_0"], Reference.load(path)).as_json()
    assert again == results["Q8_0"].as_json()


def test_chunked_reference_exports_to_llama_perplexity_format_and_back(models: dict[str, Path], text: str,
                                                                       tmp_path: Path) -> None:
    chunked = make_reference(models["F32"], [text], chunks=64)
    assert all(len(t) == 64 and f == 32 for t, f in zip(chunked.tokens, chunked.firsts, strict=True))
    path = tmp_path / "base.kld"
    write_kld_base(path, chunked.to_kld_base())
    base = read_kld_base(path)
    assert base.n_ctx == 64 and base.n_chunk == len(chunked.tokens)
    assert np.array_equal(base.tokens, chunked.stream())
    imported = compare(models["Q4_0"], load_any(path)).summary
    direct = compare(models["Q4_0"], chunked).summary
    assert imported.mean_kld == direct.mean_kld and imported.same_top == direct.same_top


def test_kld_command_prints_the_keys_ci_reads_and_reuses_the_saved_reference(
        models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["kld", "--reference", str(models["F32"]), "--model", str(models["Q4_0"]),
            "--text", str(TRANSCRIPT), "--store", str(tmp_path / "results.db"), "--json"]
    assert main(args) == 0
    first = capsys.readouterr()
    body = json.loads(first.out)
    assert {"mean_kld", "same_top", "kld_percentiles", "n_tokens", "regions"} <= set(body)
    assert set(body["kld_percentiles"]) == {"50", "90", "99", "99.9", "max"}
    assert "saved" in first.err
    assert list((tmp_path / "results-kld-references").glob("*.kldref.npz"))
    assert main(args) == 0
    second = capsys.readouterr()
    assert "reusing" in second.err and json.loads(second.out)["mean_kld"] == body["mean_kld"]


@pytest.mark.parametrize(("extra", "message"), [
    (["--text", "MISSING.txt"], "cannot read --text"),
    (["--text", str(TRANSCRIPT), "--export-base", "b.kld"], "needs --chunks|give --chunks"),
    (["--text", str(TRANSCRIPT), "--chunks", "100000"], "needs at least 100000 tokens"),
    ([], "give the texts one way"),
])
def test_kld_mistakes_are_one_line(models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                   extra: list[str], message: str) -> None:
    code = main(["kld", "--reference", str(models["F32"]), "--model", str(models["Q8_0"]), "--no-save",
                 "--store", str(tmp_path / "s.db"), *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1

    assert re.search(message, err)


def test_a_text_longer_than_a_batch_is_scored_batch_by_batch_with_the_same_figures(
        models: dict[str, Path], reference: Reference, results: dict[str, KldResult]) -> None:
    assert max(len(t) for t in reference.tokens) > 3 * 256
    sliced = compare(models["Q4_0"], reference, n_batch=256)
    assert sliced.n_tokens == results["Q4_0"].n_tokens
    assert sliced.mean == pytest.approx(results["Q4_0"].mean, rel=1e-4)


def test_make_test_model_writes_a_random_qwen2_copy_llama_cpp_loads(tmp_path: Path) -> None:
    from pipeline.generation.engines.embedded import read_gguf_metadata

    out = tmp_path / "r.gguf"
    assert main(["make-test-model", str(out), "--random-qwen2", "Q8_0", "--seed", "4"]) == 0
    meta = read_gguf_metadata(out)
    assert meta["general.architecture"] == "qwen2" and meta["qwen2.block_count"] == "2"
