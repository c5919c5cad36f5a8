"""llama.cpp's sampler chain as data: stage names, letters, parameters with llama.cpp's defaults.

Engines only translate a SamplerChain; they never decide anything about sampling themselves.
Facts follow the llama.cpp that llama-cpp-python 0.3.36 vendors (common/common.h, common/sampling.cpp,
common/arg.cpp, src/llama-sampler.cpp); where gencheck is stricter than llama.cpp (it refuses what
llama.cpp only warns about or silently skips) the message says what llama.cpp would have done.

Parameters and their ranges live in pipeline/sampling/params.py; presets and GGUF defaults in
pipeline/sampling/presets.py; the chain in words (`explain_chain`) and the server translations
in pipeline/sampling/explain.py. Those modules import this one, never the other way round.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from typing import Any

from pipeline.errors import UsageError
from pipeline.sampling.params import (
    DEFAULT_DRY_BREAKERS,
    INT32_MAX,
    PARAM_SPECS,
    ParamSpec,
    SamplerParams,
    check_breakers,
    check_value,
)

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
LETTER_STAGES: dict[str, str] = {letter: name for name, letter in STAGE_LETTERS.items()}

DEFAULT_ORDER: tuple[str, ...] = (
    "penalties", "dry", "top_n_sigma", "top_k", "typ_p", "top_p", "min_p", "xtc", "temperature",
)
# The default before llama.cpp PR 10803 (Dec 2024), when penalties always ran first, outside the list.
LEGACY_DEFAULT_ORDER: tuple[str, ...] = (
    "dry", "top_k", "typ_p", "top_p", "min_p", "xtc", "temperature",
)
LLAMA_DEFAULT_SEED = 0xFFFFFFFF  # dist draws a random seed


def _aliases() -> dict[str, str]:
    # As common_sampler_types_from_names builds them: kebab-case and no-underscore spellings of
    # every canonical name that has an underscore, plus three historical names.
    table = {name: name for name in STAGES}
    for name in STAGES:
        if "_" in name:
            table[name.replace("_", "-")] = name
            table[name.replace("_", "")] = name
    table.update({"nucleus": "top_p", "temp": "temperature", "typ": "typ_p"})
    return table


SAMPLER_ALIASES: dict[str, str] = _aliases()
VALID_NAMES_HINT = "valid names: " + ", ".join(STAGES)


def canonical_stage(name: str) -> str:
    """The canonical stage for a name or alias, compared case-insensitively as llama.cpp does."""
    if name != name.strip():
        raise UsageError(f"sampler name {name!r} has spaces around it (llama.cpp would skip it): "
                         f"write the names joined by ';' without spaces")
    found = SAMPLER_ALIASES.get(name.lower()) if name.isascii() else None
    if found is not None:
        return found
    hint = "; separate names with ';' (llama.cpp does not split on ',')" if "," in name else ""
    raise UsageError(f"unknown sampler {name!r}{hint}; {VALID_NAMES_HINT} "
                     f"(also top-k/topk spellings, nucleus, temp, typ)")


def parse_names(text: str) -> tuple[str, ...]:
    """A `--samplers` value ('top_k;top_p;...') as canonical stage names, in order.

    Empty segments (a trailing ';') are skipped as llama.cpp skips them; "" is the empty order.
    """
    return tuple(canonical_stage(part) for part in text.split(";") if part != "")


def parse_letters(text: str) -> tuple[str, ...]:
    """A `--sampling-seq` value ('kpmt') as canonical stage names; letters are case-sensitive."""
    order = []
    for letter in text:
        if letter not in LETTER_STAGES:
            valid = ", ".join(f"{letter_}={name}" for name, letter_ in STAGE_LETTERS.items())
            raise UsageError(f"unknown sampler letter {letter!r} in {text!r}; valid letters: {valid}")
        order.append(LETTER_STAGES[letter])
    return tuple(order)


@dataclass(frozen=True)
class PlannedSampler:
    """One llama_sampler an engine must create: the llama.h initialiser and its arguments.

    Arguments the chain cannot know (vocab, n_vocab) are left to the engine.
    """

    stage: str
    init: str
    args: tuple[tuple[str, Any], ...] = ()

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.args)


@dataclass(frozen=True)
class SamplerChain:
    """An ordered chain of llama.cpp samplers with their parameters and the seed of `dist`.

    llama.cpp builds: logit bias first, then `order` (duplicates allowed), then dist(seed);
    mirostat 1/2 replaces the order. `legacy_penalties` reproduces llama.cpp before 2025
    (PR 10803): the penalties sampler always ran first, outside the list, so a legacy chain's
    `order` never holds `penalties` and `effective_order()` puts it in front.
    """

    order: tuple[str, ...] = DEFAULT_ORDER
    params: SamplerParams = field(default_factory=SamplerParams)
    seed: int = LLAMA_DEFAULT_SEED
    logit_bias: tuple[tuple[int, float], ...] = ()
    legacy_penalties: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.order, str):
            raise UsageError("order: expected a sequence of sampler names, got one string")
        order = tuple(self.order)
        for name in order:
            if name not in STAGES:
                raise UsageError(f"unknown sampler {name!r}; {VALID_NAMES_HINT}")
        object.__setattr__(self, "order", order)
        if not isinstance(self.params, SamplerParams):
            raise UsageError("params: expected SamplerParams")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) \
                or not 0 <= self.seed <= LLAMA_DEFAULT_SEED:
            raise UsageError(f"--seed: {self.seed!r} is out of range; valid: 0 to 4294967295 "
                             f"(-1 or 4294967295 = random)")
        object.__setattr__(self, "logit_bias", tuple(_check_bias(entry) for entry in self.logit_bias))
        if not isinstance(self.legacy_penalties, bool):
            raise UsageError("legacy_penalties: expected true or false")
        if self.legacy_penalties and "penalties" in order:
            raise UsageError("a legacy (pre-2025) chain has no 'penalties' stage: penalties always "
                             "run first there; drop it from the order")

    # --- building -------------------------------------------------------------------------

    @classmethod
    def from_names(cls, text: str, **fields_: Any) -> SamplerChain:
        """A chain whose order is a `--samplers` string ('top_k;top_p;...'), other fields given."""
        return cls(order=parse_names(text), **fields_)

    @classmethod
    def from_letters(cls, text: str, **fields_: Any) -> SamplerChain:
        """A chain whose order is a `--sampling-seq` string ('kpmt'), other fields given."""
        return cls(order=parse_letters(text), **fields_)

    def with_params(self, **changes: Any) -> SamplerChain:
        unknown = sorted(set(changes) - {f.name for f in fields(SamplerParams)})
        if unknown:
            raise UsageError(f"unknown sampling parameter(s): {', '.join(unknown)}")
        return replace(self, params=replace(self.params, **changes))

    def with_order(self, order: Iterable[str]) -> SamplerChain:
        order = tuple(order)
        if self.legacy_penalties:
            order = tuple(name for name in order if name != "penalties")
        return replace(self, order=order)

    def with_seed(self, seed: int) -> SamplerChain:
        return replace(self, seed=LLAMA_DEFAULT_SEED if seed == -1 else seed)

    def as_legacy(self) -> SamplerChain:
        """This chain on a pre-2025 llama.cpp: penalties moved out of the list, to the front."""
        return replace(self, order=tuple(n for n in self.order if n != "penalties"),
                       legacy_penalties=True)

    # --- what runs -----------------------------------------------------------------------

    def effective_order(self) -> tuple[str, ...]:
        """The stages llama.cpp runs between logit bias and the final draw (mirostat aside)."""
        return (("penalties",) if self.legacy_penalties else ()) + self.order

    def plan(self) -> tuple[PlannedSampler, ...]:
        """Every llama_sampler of the chain in order, as common_sampler_init adds them.

        The engine adds the vocabulary's suppress tokens to the logit bias (llama.cpp merges
        them in) and creates the logit-bias sampler only when the merged list is not empty.
        """
        p, seed = self.params, self.seed
        steps: list[PlannedSampler] = []
        if self.logit_bias:
            steps.append(_plan("logit_bias", "logit_bias", biases=self.logit_bias))
        penalties = _plan("penalties", "penalties", penalty_last_n=p.penalty_last_n,
                          penalty_repeat=p.penalty_repeat, penalty_freq=p.penalty_freq,
                          penalty_present=p.penalty_present)
        if p.mirostat:
            if self.legacy_penalties:  # old builds added penalties before the mirostat pair too
                steps.append(penalties)
            steps.append(_plan("temperature", "temp", temp=p.temp))
            if p.mirostat == 1:
                steps.append(_plan("mirostat", "mirostat", seed=seed, tau=p.mirostat_tau,
                                   eta=p.mirostat_eta, m=100))
            else:
                steps.append(_plan("mirostat", "mirostat_v2", seed=seed, tau=p.mirostat_tau,
                                   eta=p.mirostat_eta))
            return tuple(steps)
        by_stage: dict[str, PlannedSampler] = {
            "penalties": penalties,
            "dry": _plan("dry", "dry", multiplier=p.dry_multiplier, base=p.dry_base,
                         allowed_length=p.dry_allowed_length, penalty_last_n=p.dry_penalty_last_n,
                         sequence_breakers=p.dry_sequence_breakers),
            "top_n_sigma": _plan("top_n_sigma", "top_n_sigma", n=p.top_n_sigma),
            "top_k": _plan("top_k", "top_k", k=p.top_k),
            "typ_p": _plan("typ_p", "typical", p=p.typ_p, min_keep=p.min_keep),
            "top_p": _plan("top_p", "top_p", p=p.top_p, min_keep=p.min_keep),
            "min_p": _plan("min_p", "min_p", p=p.min_p, min_keep=p.min_keep),
            "xtc": _plan("xtc", "xtc", p=p.xtc_probability, t=p.xtc_threshold,
                         min_keep=p.min_keep, seed=seed),
            "temperature": _plan("temperature", "temp_ext", temp=p.temp, delta=p.dynatemp_range,
                                 exponent=p.dynatemp_exponent),
            "infill": _plan("infill", "infill"),
        }
        order = self.effective_order()
        # adaptive_p does not run where it is listed: it replaces dist at the end (sampling.cpp)
        steps.extend(by_stage[name] for name in order if name != "adaptive_p")
        if "adaptive_p" in order:
            steps.append(_plan("adaptive_p", "adaptive_p", target=p.adaptive_target,
                               decay=p.adaptive_decay, seed=seed))
        else:
            steps.append(_plan("dist", "dist", seed=seed))
        return tuple(steps)

    # --- spelling it out ---------------------------------------------------------------------

    def to_names(self) -> str:
        return ";".join(self.order)

    def to_letters(self) -> str:
        return "".join(STAGE_LETTERS[name] for name in self.order)

    def to_dict(self) -> dict[str, Any]:
        params = {f.name: getattr(self.params, f.name) for f in fields(SamplerParams)}
        params["dry_sequence_breakers"] = list(self.params.dry_sequence_breakers)
        return {"format": 1, "order": list(self.order), "legacy_penalties": self.legacy_penalties,
                "params": params, "seed": self.seed,
                "logit_bias": [[token, bias] for token, bias in self.logit_bias]}

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, no spaces): equal chains give equal strings."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=True)

    @classmethod
    def from_dict(cls, data: Any) -> SamplerChain:
        if not isinstance(data, dict) or data.get("format") != 1:
            raise UsageError("sampler chain JSON: expected an object with \"format\": 1")
        params = data.get("params", {})
        if not isinstance(params, dict):
            raise UsageError("sampler chain JSON: \"params\" must be an object")
        unknown = sorted(set(params) - {f.name for f in fields(SamplerParams)})
        if unknown:
            raise UsageError(f"sampler chain JSON: unknown parameter(s) {', '.join(unknown)}")
        if "dry_sequence_breakers" in params:
            params = {**params, "dry_sequence_breakers": check_breakers(params["dry_sequence_breakers"])}
        order, bias = data.get("order", DEFAULT_ORDER), data.get("logit_bias", [])
        if not isinstance(order, list | tuple) or not isinstance(bias, list | tuple):
            raise UsageError("sampler chain JSON: \"order\" and \"logit_bias\" must be arrays")
        return cls(order=tuple(order), params=SamplerParams(**params),
                   seed=data.get("seed", LLAMA_DEFAULT_SEED), logit_bias=tuple(bias),
                   legacy_penalties=data.get("legacy_penalties", False))

    @classmethod
    def from_json(cls, text: str) -> SamplerChain:
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as error:
            raise UsageError(f"sampler chain JSON does not parse: {error}") from None
        return cls.from_dict(data)


def _plan(stage: str, init: str, **args: Any) -> PlannedSampler:
    return PlannedSampler(stage, f"llama_sampler_init_{init}", tuple(args.items()))


def _check_bias(entry: Any) -> tuple[int, float]:
    if not isinstance(entry, list | tuple) or len(entry) != 2:
        raise UsageError(f"logit bias: expected (token, bias), got {entry!r}")
    token, bias = entry
    if isinstance(token, bool) or not isinstance(token, int) or not 0 <= token <= INT32_MAX:
        raise UsageError(f"logit bias: token {token!r} is not a token id")
    if isinstance(bias, int) and not isinstance(bias, bool) and abs(bias) < 2**53:
        bias = float(bias)
    if not isinstance(bias, float) or math.isnan(bias) or bias == math.inf:
        raise UsageError(f"logit bias: bias {bias!r} for token {token} must be a number or -inf")
    return token, bias + 0.0


__all__ = [
    "DEFAULT_DRY_BREAKERS", "DEFAULT_ORDER", "LEGACY_DEFAULT_ORDER", "LLAMA_DEFAULT_SEED",
    "PARAM_SPECS", "STAGES", "STAGE_LETTERS", "ParamSpec", "PlannedSampler", "SamplerChain",
    "SamplerParams", "canonical_stage", "check_breakers", "check_value", "parse_letters",
    "parse_names",
]
