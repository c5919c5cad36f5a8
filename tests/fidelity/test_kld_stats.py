"""Per-token KL divergence and llama-perplexity's summary statistics."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.fidelity.saved.base_file import quantize_log_probs
from pipeline.fidelity.stats import mean_and_uncertainty, percentile, score_positions, summarize


def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    m = x.max(axis=1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=1, keepdims=True))


def test_kld_matches_the_exact_divergence_of_the_two_distributions() -> None:
    rng = np.random.default_rng(1)
    ref = (rng.standard_normal((50, 300)) * 3).astype(np.float32)
    new = (ref + rng.standard_normal(ref.shape) * 0.3).astype(np.float32)
    nxt = rng.integers(0, 300, 50)
    scores = score_positions(new, quantize_log_probs(ref), nxt)
    lp, lq = _log_softmax(ref), _log_softmax(new)
    exact = (np.exp(lp) * (lp - lq)).sum(axis=1)
    assert np.allclose(scores.kld, exact, rtol=1e-3, atol=1e-4)
    assert np.allclose(scores.delta_p, np.exp(lq[np.arange(50), nxt]) - np.exp(lp[np.arange(50), nxt]), atol=1e-4)
    assert np.array_equal(scores.same_top, ref.argmax(axis=1) == new.argmax(axis=1))


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 10_000), spread=st.floats(0.1, 10))
def test_a_model_against_its_own_reference_diverges_by_quantization_noise_only(seed: int, spread: float) -> None:
    rng = np.random.default_rng(seed)
    logits = (rng.standard_normal((8, 64)) * spread).astype(np.float32)
    scores = score_positions(logits, quantize_log_probs(logits), rng.integers(0, 64, 8))
    assert np.all(np.abs(scores.kld) < 1e-3)
    assert np.all(np.abs(scores.delta_p) < 1e-3)


def test_uncertainty_is_zero_for_ten_values_or_fewer_as_in_llama_perplexity() -> None:
    assert mean_and_uncertainty(5.0, 30.0, 10)[1] == 0.0
    mean, unc = mean_and_uncertainty(11.0, 21.0, 11)
    assert mean == 1.0 and math.isclose(unc, math.sqrt((21 / 11 - 1) / 10))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0, 100, allow_nan=False, width=32), min_size=1, max_size=60),
       st.sampled_from([0.5, 0.9, 0.99, 0.999]))
def test_percentiles_interpolate_linearly_like_numpy(values: list[float], fraction: float) -> None:
    ordered = np.sort(np.array(values, dtype=np.float32))
    assert math.isclose(percentile(ordered, fraction), float(np.percentile(ordered, 100 * fraction)),
                        rel_tol=1e-5, abs_tol=1e-5)


def test_summary_keys_are_the_ones_ci_reads() -> None:
    rng = np.random.default_rng(2)
    ref = (rng.standard_normal((40, 50)) * 2).astype(np.float32)
    scores = score_positions(ref * 1.1, quantize_log_probs(ref), rng.integers(0, 50, 40))
    body = summarize(scores).as_json()
    assert set(body["kld_percentiles"]) == {"50", "90", "99", "99.9", "max"}
    assert body["n_tokens"] == 40 and 0 <= body["same_top"] <= 1
    assert body["kld_percentiles"]["max"] == float(scores.kld.max())
