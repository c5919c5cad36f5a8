"""llama-perplexity's --kl-divergence-base format: written, read back, and refused when broken."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.errors import UsageError
from pipeline.fidelity.saved.base_file import (
    HEADER_BYTES,
    KldBaseFile,
    dequantize_log_probs,
    parse_kld_base,
    quantize_log_probs,
    row_width,
    scored_per_chunk,
    write_kld_base,
)


def _base(n_ctx: int, n_vocab: int, n_chunk: int, seed: int = 0) -> KldBaseFile:
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, n_vocab, n_chunk * n_ctx).astype(np.int32)
    logits = rng.standard_normal((n_chunk * scored_per_chunk(n_ctx), n_vocab)).astype(np.float32) * 4
    rows = quantize_log_probs(logits).reshape(n_chunk, scored_per_chunk(n_ctx), row_width(n_vocab))
    return KldBaseFile(n_ctx, n_vocab, tokens, rows)


def test_file_layout_is_magic_header_tokens_then_rows(tmp_path: Path) -> None:
    base = _base(8, 5, 2)
    path = tmp_path / "base.kld"
    write_kld_base(path, base)
    data = path.read_bytes()
    assert data[:8] == b"_logits_"
    assert list(np.frombuffer(data, "<i4", 3, 8)) == [8, 5, 2]
    # 16 tokens, then 2 chunks x 3 scored rows x (2*3 + 4) uint16
    assert len(data) == HEADER_BYTES + 16 * 4 + 2 * 3 * 10 * 2


@settings(max_examples=40, deadline=None)
@given(n_ctx=st.integers(2, 24), n_vocab=st.integers(1, 40), n_chunk=st.integers(0, 3), seed=st.integers(0, 99))
def test_written_file_reads_back_identically(tmp_path_factory: pytest.TempPathFactory, n_ctx: int,
                                             n_vocab: int, n_chunk: int, seed: int) -> None:
    base = _base(n_ctx, n_vocab, n_chunk, seed)
    path = tmp_path_factory.mktemp("kld") / "base.kld"
    write_kld_base(path, base)
    back = parse_kld_base(path.read_bytes())
    assert (back.n_ctx, back.n_vocab, back.n_chunk) == (n_ctx, n_vocab, n_chunk)
    assert np.array_equal(back.tokens, base.tokens)
    assert np.array_equal(back.rows, base.rows)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=200))
def test_parser_refuses_garbage_with_a_usage_error(data: bytes) -> None:
    try:
        parse_kld_base(data)
    except UsageError:
        pass


@settings(max_examples=40, deadline=None)
@given(cut=st.integers(0, 200))
def test_a_file_cut_short_is_refused(cut: int) -> None:
    base = _base(6, 7, 2)
    whole = (b"_logits_" + np.array([6, 7, 2], "<i4").tobytes() + base.tokens.astype("<i4").tobytes()
             + base.rows.astype("<u2").tobytes())
    parse_kld_base(whole)  # the whole file is fine
    short = whole[:max(0, len(whole) - 1 - cut)]
    with pytest.raises(UsageError):
        parse_kld_base(short)


def test_token_outside_the_vocabulary_is_refused() -> None:
    data = b"_logits_" + np.array([2, 3, 1], "<i4").tobytes() + np.array([0, 9], "<i4").tobytes() \
        + np.zeros(row_width(3) * scored_per_chunk(2), "<u2").tobytes()
    with pytest.raises(UsageError, match="outside the vocabulary"):
        parse_kld_base(data)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-40, 40, allow_nan=False, width=32), min_size=2, max_size=50))
def test_quantized_log_probs_are_within_half_a_step_over_the_top_16_nats(values: list[float]) -> None:
    logits = np.array([values], dtype=np.float32)
    log_p = (logits - (logits.max() + np.log(np.exp(logits - logits.max()).sum())))[0]
    back = dequantize_log_probs(quantize_log_probs(logits), len(values))[0]
    kept = log_p >= log_p.max() - 16 + 1e-3
    step = (logits.max() - max(logits.min(), logits.max() - 16)) / 65535
    assert np.all(np.abs(back[kept] - log_p[kept]) <= step / 2 + 1e-4 * (1 + np.abs(log_p[kept])))
    assert math.isclose(float(back.max()), float(log_p.max()), abs_tol=1e-4)
