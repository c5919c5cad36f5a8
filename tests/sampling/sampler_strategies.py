"""Hypothesis strategies for valid sampler chains, shared by the sampler and flag parser tests."""

from __future__ import annotations

import math

from hypothesis import strategies as st

from pipeline.sampling.chain import STAGES, SamplerChain, SamplerParams


def _floats(low: float, high: float) -> st.SearchStrategy[float]:
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


PARAM_VALUES: dict[str, st.SearchStrategy] = {
    "temp": _floats(0, 10),
    "top_k": st.integers(0, 2**31 - 1),
    "top_p": _floats(0, 1),
    "min_p": _floats(0, 1),
    "typ_p": _floats(0, 1),
    "top_n_sigma": _floats(-10, 10),
    "xtc_probability": _floats(0, 1),
    "xtc_threshold": _floats(0, 1),
    "penalty_last_n": st.integers(0, 2**31 - 1),
    "penalty_repeat": _floats(1e-3, 10),
    "penalty_freq": _floats(-5, 5),
    "penalty_present": _floats(-5, 5),
    "dry_multiplier": _floats(0, 5),
    "dry_base": _floats(1, 10),
    "dry_allowed_length": st.integers(0, 100),
    "dry_penalty_last_n": st.integers(0, 10**6),
    "mirostat": st.sampled_from((0, 1, 2)),
    "mirostat_tau": _floats(0, 20),
    "mirostat_eta": _floats(0, 1),
    "dynatemp_range": _floats(0, 5),
    "dynatemp_exponent": _floats(-5, 5),
    "adaptive_target": _floats(-5, 1),
    "adaptive_decay": _floats(0, 0.99),
}
breakers = st.lists(st.text(st.characters(blacklist_characters="\0", blacklist_categories=("Cs",)), min_size=1, max_size=4),
                    max_size=4).map(tuple)
orders = st.lists(st.sampled_from(STAGES), max_size=12).map(tuple)


@st.composite
def sampler_params(draw: st.DrawFn, *, with_min_keep: bool = True) -> SamplerParams:
    chosen = draw(st.sets(st.sampled_from(sorted(PARAM_VALUES))))
    values = {name: draw(PARAM_VALUES[name]) for name in chosen}
    if draw(st.booleans()):
        values["dry_sequence_breakers"] = draw(breakers)
    if with_min_keep and draw(st.booleans()):
        values["min_keep"] = draw(st.integers(0, 100))
    return SamplerParams(**values)


@st.composite
def chains(draw: st.DrawFn, *, with_min_keep: bool = True) -> SamplerChain:
    legacy = draw(st.booleans())
    order = draw(orders)
    if legacy:
        order = tuple(name for name in order if name != "penalties")
    bias = draw(st.lists(st.tuples(st.integers(0, 200_000),
                                   _floats(-100, 100) | st.just(-math.inf)), max_size=3))
    return SamplerChain(order=order, params=draw(sampler_params(with_min_keep=with_min_keep)),
                        seed=draw(st.integers(0, 2**32 - 1)), logit_bias=tuple(bias),
                        legacy_penalties=legacy)
