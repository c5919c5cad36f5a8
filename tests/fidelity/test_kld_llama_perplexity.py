"""Reading the statistics `llama-perplexity --kl-divergence` prints."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.fidelity.llama_perplexity import parse_kld_output

FIGURE = st.floats(0, 50, allow_nan=False)


def printed(mean: float, unc: float, pcts: list[float], same: float) -> str:
    """The block as perplexity.cpp's LOG calls format it (its exact format strings)."""
    p999, p99, p90, median, maximum = pcts
    return "\n".join([
        "llama_perplexity: kl_divergence: computing over 3 chunks, n_ctx=128, batch_size=2048, n_seq=16",
        "====== KL divergence statistics ======",
        f"Mean    KLD: {mean:10.6f} ± {unc:10.6f}",
        f"Maximum KLD: {maximum:10.6f}",
        f"99.9%   KLD: {p999:10.6f}",
        f"99.0%   KLD: {p99:10.6f}",
        f"95.0%   KLD: {p90:10.6f}",
        f"90.0%   KLD: {p90:10.6f}",
        f"Median  KLD: {median:10.6f}",
        "====== Token probability statistics ======",
        "RMS Δp    :  1.234 ± 0.010 %",
        f"Same top p: {100 * same:6.3f} ± {0.5:5.3f} %",
    ])


@settings(max_examples=80, deadline=None)
@given(FIGURE, FIGURE, st.lists(FIGURE, min_size=5, max_size=5), st.floats(0, 1))
def test_printed_figures_read_back_to_their_printed_precision(mean: float, unc: float, pcts: list[float],
                                                               same: float) -> None:
    parsed = parse_kld_output(printed(mean, unc, pcts, same))
    assert parsed is not None
    assert abs(parsed.mean_kld - mean) <= 5e-7 and abs(parsed.mean_kld_uncertainty - unc) <= 5e-7
    assert abs(parsed.kld_percentiles["99.9"] - pcts[0]) <= 5e-7
    assert abs(parsed.kld_percentiles["max"] - pcts[4]) <= 5e-7
    assert abs(parsed.same_top - same) <= 5e-6
    assert (parsed.n_chunk, parsed.n_ctx, parsed.n_tokens) == (3, 128, 3 * 63)


@settings(max_examples=80, deadline=None)
@given(st.text(max_size=300))
def test_output_without_the_statistics_reads_as_none(text: str) -> None:
    assert parse_kld_output(text.replace("KLD", "")) is None


def test_a_run_cut_before_same_top_reads_as_none() -> None:
    whole = printed(0.1, 0.01, [1, 0.5, 0.2, 0.05, 2], 0.9)
    assert parse_kld_output(whole) is not None
    assert parse_kld_output(whole.rsplit("Same top", 1)[0]) is None
