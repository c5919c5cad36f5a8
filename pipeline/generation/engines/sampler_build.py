"""A SamplerChain as a llama.cpp `llama_sampler` chain: `chain.plan()` turned into C calls.

The plan (pipeline/sampling/chain.py) already holds every decision common/sampling.cpp makes: logit
bias first, the stages in order, temp_ext for temperature, dist(seed) or adaptive_p last,
mirostat replacing the list, legacy penalties in front. This module only supplies what the plan
cannot know (the vocabulary, its size, its suppress tokens) and calls the initialisers.
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Callable
from typing import Any

import llama_cpp as lib

from pipeline.sampling.chain import PlannedSampler, SamplerChain


def suppress_tokens(vocab: Any) -> list[int]:
    """The model's `tokenizer.ggml.suppress_tokens`: llama.cpp biases them to -inf."""
    count = ctypes.c_int32(0)
    pointer = lib.llama_vocab_get_suppress_tokens(vocab, ctypes.byref(count))
    return [pointer[i] for i in range(count.value)] if pointer and count.value > 0 else []


def _logit_bias(biases: list[tuple[int, float]], n_vocab: int) -> Any:
    entries = (lib.llama_logit_bias * len(biases))()
    for entry, (token, bias) in zip(entries, biases, strict=True):
        entry.token, entry.bias = token, bias
    return lib.llama_sampler_init_logit_bias(n_vocab, len(biases), entries)


def _dry(vocab: Any, a: dict[str, Any]) -> Any:
    breakers = [b.encode("utf-8") for b in a["sequence_breakers"]]
    array = (ctypes.c_char_p * max(1, len(breakers)))(*breakers)  # llama.cpp copies the strings
    return lib.llama_sampler_init_dry(vocab, a["multiplier"], a["base"], a["allowed_length"],
                                      a["penalty_last_n"], array, len(breakers))


# init name -> (vocab, n_vocab, kwargs) -> llama_sampler. Positional order is llama.h's.
_INITIALISERS: dict[str, Callable[[Any, int, dict[str, Any]], Any]] = {
    "llama_sampler_init_penalties": lambda v, n, a: lib.llama_sampler_init_penalties(
        n, a["penalty_last_n"], a["penalty_repeat"], a["penalty_freq"], a["penalty_present"]),
    "llama_sampler_init_dry": lambda v, n, a: _dry(v, a),
    "llama_sampler_init_top_n_sigma": lambda v, n, a: lib.llama_sampler_init_top_n_sigma(a["n"]),
    "llama_sampler_init_top_k": lambda v, n, a: lib.llama_sampler_init_top_k(a["k"]),
    "llama_sampler_init_typical": lambda v, n, a: lib.llama_sampler_init_typical(a["p"], a["min_keep"]),
    "llama_sampler_init_top_p": lambda v, n, a: lib.llama_sampler_init_top_p(a["p"], a["min_keep"]),
    "llama_sampler_init_min_p": lambda v, n, a: lib.llama_sampler_init_min_p(a["p"], a["min_keep"]),
    "llama_sampler_init_xtc": lambda v, n, a: lib.llama_sampler_init_xtc(
        a["p"], a["t"], a["min_keep"], a["seed"]),
    "llama_sampler_init_temp_ext": lambda v, n, a: lib.llama_sampler_init_temp_ext(
        a["temp"], a["delta"], a["exponent"]),
    "llama_sampler_init_temp": lambda v, n, a: lib.llama_sampler_init_temp(a["temp"]),
    "llama_sampler_init_infill": lambda v, n, a: lib.llama_sampler_init_infill(v),
    "llama_sampler_init_mirostat": lambda v, n, a: lib.llama_sampler_init_mirostat(
        n, a["seed"], a["tau"], a["eta"], a["m"]),
    "llama_sampler_init_mirostat_v2": lambda v, n, a: lib.llama_sampler_init_mirostat_v2(
        a["seed"], a["tau"], a["eta"]),
    "llama_sampler_init_adaptive_p": lambda v, n, a: lib.llama_sampler_init_adaptive_p(
        a["target"], a["decay"], a["seed"]),
    "llama_sampler_init_dist": lambda v, n, a: lib.llama_sampler_init_dist(a["seed"]),
}


def _create(step: PlannedSampler, vocab: Any, n_vocab: int) -> Any:
    try:
        init = _INITIALISERS[step.init]
    except KeyError:
        raise ValueError(f"no llama.cpp initialiser for planned sampler {step.init!r}") from None
    return init(vocab, n_vocab, step.kwargs)


def build_chain(chain: SamplerChain, vocab: Any, n_vocab: int) -> Any:
    """A new llama_sampler chain for `chain`; the caller frees it with llama_sampler_free."""
    steps = list(chain.plan())
    user_bias = next((s for s in steps if s.init == "llama_sampler_init_logit_bias"), None)
    steps = [s for s in steps if s is not user_bias]
    # llama.cpp merges the user's biases with the vocabulary's suppress tokens (-inf) and adds
    # the logit-bias sampler only when the merged list is not empty.
    biases = [(int(t), float(b)) for t, b in (user_bias.kwargs["biases"] if user_bias else ())]
    biases += [(token, -math.inf) for token in suppress_tokens(vocab)]
    params = lib.llama_sampler_chain_default_params()
    params.no_perf = True
    sampler = lib.llama_sampler_chain_init(params)
    try:
        if biases:
            lib.llama_sampler_chain_add(sampler, _logit_bias(biases, n_vocab))
        for step in steps:
            lib.llama_sampler_chain_add(sampler, _create(step, vocab, n_vocab))  # the chain owns it
    except BaseException:
        lib.llama_sampler_free(sampler)
        raise
    return sampler
