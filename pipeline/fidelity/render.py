"""KL-divergence results as text: the terminal table of `gencheck kld` and the lines reports reuse."""

from __future__ import annotations

from pipeline.fidelity.kld import KldResult
from pipeline.fidelity.stats import KldSummary


def _pm(value: float, uncertainty: float, digits: int = 6) -> str:
    return f"{value:.{digits}f} ± {uncertainty:.{digits}f}"


def summary_lines(s: KldSummary) -> list[str]:
    """llama-perplexity's KL-divergence and Δp block, same labels and precision."""
    p = s.kld_percentiles
    d = s.delta_p_percentiles
    return [
        f"Mean    KLD: {_pm(s.mean_kld, s.mean_kld_uncertainty)}",
        f"Maximum KLD: {p['max']:10.6f}",
        f"99.9%   KLD: {p['99.9']:10.6f}",
        f"99.0%   KLD: {p['99']:10.6f}",
        f"90.0%   KLD: {p['90']:10.6f}",
        f"Median  KLD: {p['50']:10.6f}",
        f"Mean    Δp: {100 * s.delta_p_mean:6.3f} ± {100 * s.delta_p_mean_uncertainty:5.3f} %",
        f"Maximum Δp: {100 * d.get('max', 0.0):6.3f}%",
        f"99.0%   Δp: {100 * d.get('99', 0.0):6.3f}%",
        f"Median  Δp: {100 * d.get('50', 0.0):6.3f}%",
        f"1.0%    Δp: {100 * d.get('1', 0.0):6.3f}%",
        f"Minimum Δp: {100 * d.get('min', 0.0):6.3f}%",
        f"RMS Δp    : {100 * s.delta_p_rms:6.3f} ± {100 * s.delta_p_rms_uncertainty:5.3f} %",
        f"Same top p: {100 * s.same_top:6.3f} ± {100 * s.same_top_uncertainty:5.3f} %",
        f"PPL(model) {s.ppl:.4f}, PPL(reference) {s.ppl_ref:.4f}",
    ]


def region_rows(result: KldResult) -> list[tuple[str, int, float, float, float]]:
    """(region, tokens, mean KLD, same top, 99 % KLD) for each region that has tokens."""
    return [(name, s.n_tokens, s.mean_kld, s.same_top, s.kld_percentiles["99"])
            for name, s in result.regions.items() if s.n_tokens]


def render_text(result: KldResult) -> str:
    lines = [f"KL divergence of {result.model} against {result.reference} ({result.windowing}, "
             f"{result.n_tokens} tokens scored)", ""]
    lines += summary_lines(result.summary)
    lines += ["", f"{'region':<10} {'tokens':>7} {'mean KLD':>10} {'same top':>9} {'99% KLD':>10}"]
    for name, n, mean, same, p99 in region_rows(result):
        lines.append(f"{name:<10} {n:>7} {mean:>10.6f} {100 * same:>8.2f}% {p99:>10.6f}")
    if result.top:
        lines += ["", f"The {len(result.top)} positions that diverge most (text before ⟦next token⟧):"]
        for d in result.top:
            before = d.before.replace("\n", "⏎")[-60:]
            token = d.token.replace("\n", "⏎")
            top = "same top" if d.same_top else "top differs"
            lines.append(f"  {d.kld:9.5f}  {d.region:<9} {top:<11} …{before}⟦{token}⟧")
    return "\n".join(lines)
