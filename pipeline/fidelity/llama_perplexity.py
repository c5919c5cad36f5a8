"""Running the vendored `llama-perplexity` for KL divergence and reading the figures it prints.

Used by the native parity test and bench/kld.py. llama-perplexity prints through llama.cpp's
asynchronous logger, which is not flushed at exit (see native_build.run_llama_completion): on a
busy machine the final statistics are sometimes lost with exit status 0, so a run is repeated
until its output holds them.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

_NUMBER = r"(-?[0-9.]+(?:e[-+]?[0-9]+)?|-?nan|-?inf)"
_LINES = {
    "mean_kld": rf"Mean\s+KLD:\s+{_NUMBER}\s+±\s+{_NUMBER}",
    "max": rf"Maximum KLD:\s+{_NUMBER}",
    "99.9": rf"99\.9%\s+KLD:\s+{_NUMBER}",
    "99": rf"99\.0%\s+KLD:\s+{_NUMBER}",
    "90": rf"90\.0%\s+KLD:\s+{_NUMBER}",
    "50": rf"Median\s+KLD:\s+{_NUMBER}",
    "same_top": rf"Same top p:\s+{_NUMBER}\s+±\s+{_NUMBER}\s*%",
    "rms_dp": rf"RMS Δp\s*:\s+{_NUMBER}\s+±\s+{_NUMBER}\s*%",
}
_CHUNKS = re.compile(r"computing over (\d+) chunks, n_ctx=(\d+)")


@dataclass(frozen=True)
class PerplexityKld:
    """The KL-divergence figures llama-perplexity printed (same_top as a fraction)."""

    mean_kld: float
    mean_kld_uncertainty: float
    kld_percentiles: dict[str, float]
    same_top: float
    same_top_uncertainty: float
    delta_p_rms: float
    n_chunk: int
    n_ctx: int

    @property
    def n_tokens(self) -> int:
        return self.n_chunk * (self.n_ctx - 1 - self.n_ctx // 2)


def parse_kld_output(text: str) -> PerplexityKld | None:
    """The statistics block of `llama-perplexity --kl-divergence`, or None when it is missing."""
    found: dict[str, tuple[float, ...]] = {}
    for key, pattern in _LINES.items():
        match = re.search(pattern, text)
        if match is None:
            return None
        found[key] = tuple(float(g) for g in match.groups())
    chunks = _CHUNKS.search(text)
    n_chunk, n_ctx = (int(chunks.group(1)), int(chunks.group(2))) if chunks else (0, 0)
    return PerplexityKld(
        mean_kld=found["mean_kld"][0], mean_kld_uncertainty=found["mean_kld"][1],
        kld_percentiles={key: found[key][0] for key in ("50", "90", "99", "99.9", "max")},
        same_top=found["same_top"][0] / 100, same_top_uncertainty=found["same_top"][1] / 100,
        delta_p_rms=found["rms_dp"][0] / 100, n_chunk=n_chunk, n_ctx=n_ctx)


def run_perplexity(tool: Path, args: list[str], *, expect: str, attempts: int = 5,
                   timeout: float = 600) -> str:
    """stdout+stderr of `llama-perplexity ARGS`, repeated until it contains `expect`.

    The last run's output is returned either way, so the caller's assertion shows what was seen;
    a non-zero exit raises CalledProcessError at once.
    """
    output = ""
    for _ in range(max(1, attempts)):
        done = subprocess.run([str(tool), *args], capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, errors="replace")
        output = done.stdout + done.stderr
        if done.returncode != 0:
            raise subprocess.CalledProcessError(done.returncode, [str(tool), *args], done.stdout, done.stderr)
        if expect in output:
            break
    return output


def make_base(tool: Path, model: Path, text_file: Path, base: Path, *, n_ctx: int, threads: int,
              n_batch: int | None = None) -> str:
    """llama-perplexity -m MODEL -f TEXT --kl-divergence-base BASE -c N_CTX: writes the base file."""
    args = ["-m", str(model), "-f", str(text_file), "--kl-divergence-base", str(base), "-c", str(n_ctx),
            "-t", str(threads)]
    if n_batch:
        args += ["-b", str(n_batch)]
    return run_perplexity(tool, args, expect="Final estimate")


def kl_divergence(tool: Path, model: Path, base: Path, *, n_ctx: int, threads: int,
                  n_batch: int | None = None) -> tuple[PerplexityKld | None, str]:
    """llama-perplexity -m MODEL --kl-divergence-base BASE --kl-divergence: its parsed figures."""
    args = ["-m", str(model), "--kl-divergence-base", str(base), "--kl-divergence", "-c", str(n_ctx),
            "-t", str(threads)]
    if n_batch:
        args += ["-b", str(n_batch)]
    output = run_perplexity(tool, args, expect="Same top p:")
    return parse_kld_output(output), output
