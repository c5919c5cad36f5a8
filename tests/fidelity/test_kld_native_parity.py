"""gencheck's KL divergence equals `llama-perplexity --kl-divergence` on the same text and models.

`native`: needs llama-perplexity and llama-quantize from `python -m pipeline.models.native_build`.

Tolerance. Both tools score against the same stored reference: llama-perplexity's 16-bit rows
(a log-prob step of at most 16/65535 nats), read by both from the same file, so the reference
side is identical bit for bit. The new model's logits come from the same llama.cpp commit with
the same batches (n_batch / CTX chunks per decode) and threads, so they are equal too. What is
left is summation order: llama-perplexity adds each row's terms one by one in double, numpy adds
float32 terms pairwise in double; each per-token KLD then differs by a few float32 ulps. So the
mean and percentiles must agree to within 1e-6 absolute (the last digit llama-perplexity prints)
plus 1e-4 relative, and same-top to within one token in the count (a tie broken by one ulp).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.fidelity.kld import compare, make_reference
from pipeline.fidelity.llama_perplexity import PerplexityKld, kl_divergence, make_base
from pipeline.fidelity.saved.base_file import read_kld_base, write_kld_base
from pipeline.fidelity.saved.reference import load_any
from pipeline.fidelity.stats import KldSummary
from pipeline.models.quantize import ensure_quantized
from pipeline.models.random_qwen2 import ensure_random_qwen2
from tests.native_tools import llama_tool
from tests.paths import FIXTURES

pytestmark = pytest.mark.native

CTX = 128
THREADS = 2
CORPUS = FIXTURES / "corpus"
ABS_TOL, REL_TOL = 1e-6, 1e-4
TEXT_CHARS = 12_000  # some 40 chunks of 128 tokens: every statistic printed, a few seconds a run


@pytest.fixture(scope="module")
def text_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("kld-text") / "answers.txt"
    corpus = "".join(p.read_text(encoding="utf-8") for p in sorted(CORPUS.glob("*.txt")))
    path.write_text(corpus[:TEXT_CHARS], encoding="utf-8")
    return path


@pytest.fixture(scope="module", params=["tiny", "random-qwen2"])
def reference_model(request: pytest.FixtureRequest, tiny_model: Path,
                    tmp_path_factory: pytest.TempPathFactory) -> Path:
    if request.param == "tiny":
        return tiny_model
    return ensure_random_qwen2("F32", cache_dir=tmp_path_factory.mktemp("random"))


def _close(ours: float, theirs: float) -> bool:
    return abs(ours - theirs) <= ABS_TOL + REL_TOL * abs(theirs)


def _assert_same_figures(ours: KldSummary, theirs: PerplexityKld | None) -> None:
    assert theirs is not None, "llama-perplexity printed no statistics"
    assert ours.n_tokens == theirs.n_tokens
    assert _close(ours.mean_kld, theirs.mean_kld), (ours.mean_kld, theirs.mean_kld)
    for key in ("50", "90", "99", "99.9", "max"):
        assert _close(ours.kld_percentiles[key], theirs.kld_percentiles[key]), key
    # printed as a percentage with 3 decimals: one token, or the rounding of the print
    assert abs(ours.same_top - theirs.same_top) <= max(1 / ours.n_tokens, 5e-6) + 1e-9


@pytest.mark.parametrize(("quant", "pure"), [("Q8_0", False), ("Q4_0", True)])
def test_figures_equal_llama_perplexity_on_its_own_base_file(reference_model: Path, quant: str, pure: bool,
                                                             text_file: Path, tmp_path: Path) -> None:
    tool = llama_tool("llama-perplexity")
    quantized = ensure_quantized(reference_model, quant, pure=pure, cache_dir=tmp_path)
    base = tmp_path / "base.kld"
    make_base(tool, reference_model, text_file, base, n_ctx=CTX, threads=THREADS)
    theirs, output = kl_divergence(tool, quantized, base, n_ctx=CTX, threads=THREADS)
    ours = compare(quantized, load_any(base), n_threads=THREADS).summary
    assert ours.mean_kld > 0
    _assert_same_figures(ours, theirs)


def test_reference_gencheck_writes_is_the_base_file_llama_perplexity_writes(
        reference_model: Path, text_file: Path, tmp_path: Path) -> None:
    tool = llama_tool("llama-perplexity")
    base = tmp_path / "theirs.kld"
    make_base(tool, reference_model, text_file, base, n_ctx=CTX, threads=THREADS)
    theirs = read_kld_base(base)
    ours = make_reference(reference_model, [text_file.read_text(encoding="utf-8")], chunks=CTX,
                          n_threads=THREADS).to_kld_base()
    assert (ours.n_ctx, ours.n_vocab, ours.n_chunk) == (theirs.n_ctx, theirs.n_vocab, theirs.n_chunk)
    assert np.array_equal(ours.tokens, theirs.tokens)
    # The 16-bit codes and the scale depend only on the logits: equal. The minimum log-prob goes
    # through expf (glibc's in C, numpy's here), whose last bit may differ: equal within 1e-6.
    assert np.array_equal(ours.rows[..., 4:], theirs.rows[..., 4:])
    ours_header, theirs_header = (np.ascontiguousarray(b.rows[..., :4]).view(np.float32) for b in (ours, theirs))
    assert np.array_equal(ours_header[..., 0], theirs_header[..., 0])
    assert np.allclose(ours_header[..., 1], theirs_header[..., 1], rtol=1e-6, atol=0)


def test_llama_perplexity_reads_the_base_file_gencheck_writes(reference_model: Path, text_file: Path,
                                                               tmp_path: Path) -> None:
    tool = llama_tool("llama-perplexity")
    quantized = ensure_quantized(reference_model, "Q4_0", cache_dir=tmp_path)
    reference = make_reference(reference_model, [text_file.read_text(encoding="utf-8")], chunks=CTX,
                               n_threads=THREADS)
    base = tmp_path / "ours.kld"
    write_kld_base(base, reference.to_kld_base())
    theirs, _ = kl_divergence(tool, quantized, base, n_ctx=CTX, threads=THREADS)
    _assert_same_figures(compare(quantized, reference, n_threads=THREADS).summary, theirs)
