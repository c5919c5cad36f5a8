"""llama.cpp's sampler chain as data: stage names, letters, parameters with llama.cpp's defaults.

Engines only translate a SamplerChain; they never decide anything about sampling themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

# Canonical llama.cpp sampler names, with the letter `--sampling-seq` uses for each.
STAGE_LETTERS: dict[str, str] = {
    "penalties": "e",
    "dry": "d",
    "top_n_sigma": "s",
    "top_k": "k",
    "typ_p": "y",
    "top_p": "p",
    "min_p": "m",
    "xtc": "x",
    "temperature": "t",
    "infill": "i",
    "adaptive_p": "a",
}
STAGES: tuple[str, ...] = tuple(STAGE_LETTERS)

DEFAULT_ORDER: tuple[str, ...] = (
    "penalties", "dry", "top_n_sigma", "top_k", "typ_p", "top_p", "min_p", "xtc", "temperature",
)


@dataclass(frozen=True)
class SamplerParams:
    """Every sampling parameter llama.cpp knows, with llama.cpp's defaults (common/common.h)."""

    temp: float = 0.80
    top_k: int = 40
    top_p: float = 0.95
    min_p: float = 0.05
    typ_p: float = 1.00
    top_n_sigma: float = -1.00
    xtc_probability: float = 0.00
    xtc_threshold: float = 0.10
    penalty_last_n: int = 64
    penalty_repeat: float = 1.00
    penalty_freq: float = 0.00
    penalty_present: float = 0.00
    dry_multiplier: float = 0.0
    dry_base: float = 1.75
    dry_allowed_length: int = 2
    dry_penalty_last_n: int = -1
    dry_sequence_breakers: tuple[str, ...] = ("\n", ":", "\"", "*")
    min_keep: int = 0
    mirostat: int = 0
    mirostat_tau: float = 5.00
    mirostat_eta: float = 0.10

    def changed(self) -> dict[str, Any]:
        """The parameters that differ from llama.cpp's defaults."""
        default = SamplerParams()
        return {f.name: getattr(self, f.name) for f in fields(self)
                if getattr(self, f.name) != getattr(default, f.name)}


@dataclass(frozen=True)
class SamplerChain:
    """An ordered chain of llama.cpp samplers with their parameters and the seed of `dist`.

    llama.cpp builds: logit bias first, then `order` (duplicates allowed), then dist(seed);
    mirostat 1/2 replaces the order.
    """

    order: tuple[str, ...] = DEFAULT_ORDER
    params: SamplerParams = field(default_factory=SamplerParams)
    seed: int = 0xFFFFFFFF  # LLAMA_DEFAULT_SEED: random
    logit_bias: tuple[tuple[int, float], ...] = ()

    def with_params(self, **changes: Any) -> SamplerChain:
        return replace(self, params=replace(self.params, **changes))
