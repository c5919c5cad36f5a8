"""Per-token KL divergence against a stored reference, and the summary llama-perplexity prints.

Per position (perplexity.cpp's log_softmax(..., base_log_prob, ...)): the new model's
log-softmax from its float32 logits; the reference's log-probs decoded from the 16-bit rows;
KL(ref || new) = sum over tokens the reference gives more than e^-16 of p_ref * (log p_ref -
log p_new); whether both rank the same token first; Δp = p_new(next) - p_ref(next) of the
token the text really has next. The summary keeps llama-perplexity's formulas: the mean with
sqrt(var / (n - 1)) as its uncertainty (0 under 11 tokens), linear-interpolated percentiles
over the sorted float32 values, and same-top with a binomial uncertainty.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from pipeline.fidelity.saved.base_file import LOG_PROB_RANGE, dequantize_log_probs

PERCENTILES: tuple[tuple[str, float], ...] = (("50", 0.5), ("90", 0.9), ("99", 0.99), ("99.9", 0.999))
DELTA_P_PERCENTILES: tuple[float, ...] = (0.999, 0.99, 0.95, 0.9, 0.75, 0.5, 0.25, 0.1, 0.05, 0.01, 0.001)


@dataclass
class TokenScores:
    """One value per scored position, in text order."""

    kld: np.ndarray        # float32 KL(ref || new)
    same_top: np.ndarray   # bool: both models' most likely token is the same
    delta_p: np.ndarray    # float32 p_new(next) - p_ref(next)
    nll: np.ndarray        # float32 -log p_new(next)
    nll_ref: np.ndarray    # float32 -log p_ref(next)

    @staticmethod
    def concat(parts: list[TokenScores]) -> TokenScores:
        if not parts:
            empty = np.zeros(0, dtype=np.float32)
            return TokenScores(empty, np.zeros(0, dtype=bool), empty, empty, empty)
        return TokenScores(*(np.concatenate([getattr(p, name) for p in parts])
                             for name in ("kld", "same_top", "delta_p", "nll", "nll_ref")))

    def take(self, mask: np.ndarray) -> TokenScores:
        return TokenScores(self.kld[mask], self.same_top[mask], self.delta_p[mask], self.nll[mask], self.nll_ref[mask])


def score_positions(logits: np.ndarray, ref_rows: np.ndarray, next_tokens: np.ndarray) -> TokenScores:
    """Scores of rows of new-model `logits` (n, n_vocab) against stored reference rows (n, nv)."""
    logits = np.ascontiguousarray(logits, dtype=np.float32)
    n_rows, n_vocab = logits.shape
    index = np.arange(n_rows)
    max_logit = logits.max(axis=1)
    top_new = logits.argmax(axis=1)
    sum_exp = np.exp(logits - max_logit[:, None]).sum(axis=1, dtype=np.float64)
    log_norm = (max_logit + np.log(sum_exp).astype(np.float32)).astype(np.float32)  # max + log-sum-exp
    nll = (log_norm - logits[index, next_tokens]).astype(np.float32)
    ref_log_p = dequantize_log_probs(ref_rows, n_vocab)
    nll_ref = (-ref_log_p[index, next_tokens]).astype(np.float32)
    top_ref = ref_log_p.argmax(axis=1)
    counted = ref_log_p > np.float32(-LOG_PROB_RANGE)
    terms = np.exp(ref_log_p) * (ref_log_p - logits + log_norm[:, None])
    kld = np.where(counted, terms, np.float32(0.0)).sum(axis=1, dtype=np.float64).astype(np.float32)
    delta_p = (np.exp(-nll) - np.exp(-nll_ref)).astype(np.float32)
    return TokenScores(kld, top_new == top_ref, delta_p, nll, nll_ref)


def mean_and_uncertainty(total: float, total_sq: float, count: int) -> tuple[float, float]:
    """llama-perplexity's mean +- uncertainty of the mean (0 uncertainty under 11 values)."""
    if count < 1:
        return 0.0, 0.0
    mean = total / count
    variance = total_sq / count - mean * mean
    return mean, math.sqrt(variance / (count - 1)) if variance > 0 and count > 10 else 0.0


def percentile(sorted_values: np.ndarray, fraction: float) -> float:
    """perplexity.cpp's percentile: linear interpolation at fraction * (n - 1), in float32."""
    if fraction <= 0:
        return float(sorted_values[0])
    if fraction >= 1:
        return float(sorted_values[-1])
    position = np.float32(fraction) * np.float32(len(sorted_values) - 1)
    low = int(position)
    weight = np.float32(position - np.float32(low))
    high = min(low + 1, len(sorted_values) - 1)
    return float((np.float32(1) - weight) * sorted_values[low] + weight * sorted_values[high])


def median(sorted_values: np.ndarray) -> float:
    n = len(sorted_values)
    if n % 2 == 0:
        return float(np.float32(0.5) * (sorted_values[n // 2] + sorted_values[n // 2 - 1]))
    return float(sorted_values[n // 2])


@dataclass
class KldSummary:
    n_tokens: int
    mean_kld: float
    mean_kld_uncertainty: float
    kld_percentiles: dict[str, float]
    same_top: float
    same_top_uncertainty: float
    delta_p_mean: float
    delta_p_mean_uncertainty: float
    delta_p_rms: float
    delta_p_rms_uncertainty: float
    delta_p_percentiles: dict[str, float] = field(default_factory=dict)
    ppl: float = 0.0
    ppl_ref: float = 0.0

    def as_json(self) -> dict[str, object]:
        return {
            "n_tokens": self.n_tokens,
            "mean_kld": self.mean_kld, "mean_kld_uncertainty": self.mean_kld_uncertainty,
            "kld_percentiles": self.kld_percentiles,
            "same_top": self.same_top, "same_top_uncertainty": self.same_top_uncertainty,
            "delta_p": {"mean": self.delta_p_mean, "mean_uncertainty": self.delta_p_mean_uncertainty,
                        "rms": self.delta_p_rms, "rms_uncertainty": self.delta_p_rms_uncertainty,
                        "percentiles": self.delta_p_percentiles},
            "ppl": self.ppl, "ppl_reference": self.ppl_ref,
        }


def summarize(scores: TokenScores) -> KldSummary:
    """The figures llama-perplexity prints at the end of --kl-divergence, from per-token scores."""
    count = len(scores.kld)
    if count == 0:
        nothing = {key: 0.0 for key, _ in PERCENTILES} | {"max": 0.0}
        return KldSummary(0, 0.0, 0.0, nothing, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    kld64 = scores.kld.astype(np.float64)
    mean_kld, kld_unc = mean_and_uncertainty(float(kld64.sum()), float((kld64 * kld64).sum()), count)
    ordered = np.sort(scores.kld)
    percentiles = {key: (median(ordered) if key == "50" else percentile(ordered, fraction))
                   for key, fraction in PERCENTILES}
    percentiles["max"] = float(ordered[-1])
    same = float(scores.same_top.sum()) / count
    same_unc = math.sqrt(same * (1 - same) / (count - 1)) if count > 1 else 0.0
    dp = scores.delta_p.astype(np.float64)
    dp_mean, dp_unc = mean_and_uncertainty(float(dp.sum()), float((dp * dp).sum()), count)
    mse, mse_unc = mean_and_uncertainty(float((dp * dp).sum()), float((dp ** 4).sum()), count)
    rms = math.sqrt(mse)
    rms_unc = 0.5 / rms * mse_unc if rms > 0 else 0.0
    dp_sorted = np.sort(scores.delta_p)
    dp_percentiles = {f"{100 * f:g}": percentile(dp_sorted, f) for f in DELTA_P_PERCENTILES}
    dp_percentiles |= {"max": float(dp_sorted[-1]), "min": float(dp_sorted[0]), "50": median(dp_sorted)}
    return KldSummary(
        n_tokens=count, mean_kld=mean_kld, mean_kld_uncertainty=kld_unc, kld_percentiles=percentiles,
        same_top=same, same_top_uncertainty=same_unc, delta_p_mean=dp_mean, delta_p_mean_uncertainty=dp_unc,
        delta_p_rms=rms, delta_p_rms_uncertainty=rms_unc, delta_p_percentiles=dp_percentiles,
        ppl=math.exp(float(scores.nll.astype(np.float64).mean())),
        ppl_ref=math.exp(float(scores.nll_ref.astype(np.float64).mean())))
