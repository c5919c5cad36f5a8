"""Named sampler chains, and the sampling defaults a GGUF file may carry.

A preset is what a user would have typed on llama-cli, so it also says which settings it sets
(`preset_user_set`): those win over a model file's `general.sampling.*` keys, exactly as flags do.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline.errors import UsageError
from pipeline.sampling.chain import (
    DEFAULT_ORDER,
    LEGACY_DEFAULT_ORDER,
    PARAM_SPECS,
    SAMPLER_ALIASES,
    SamplerChain,
    SamplerParams,
    check_value,
)

# The write-up's order, as written: no `penalties`, so its --repeat-penalty 1.1 never runs on a
# llama.cpp from 2025 on.
UNSLOTH_ORDER = ("top_k", "top_p", "min_p", "temperature", "dry", "typ_p", "xtc")
UNSLOTH_FLAGS: dict[str, Any] = {"temp": 0.6, "penalty_repeat": 1.1, "dry_multiplier": 0.5,
                                 "min_p": 0.1, "top_k": 40, "top_p": 0.95}


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    params: dict[str, Any] = field(default_factory=dict)
    order: tuple[str, ...] | None = None  # None: the order is not set (--samplers not given)
    seed: int | None = None
    legacy: bool = False

    def chain(self) -> SamplerChain:
        order = self.order if self.order is not None else (
            LEGACY_DEFAULT_ORDER if self.legacy else DEFAULT_ORDER)
        chain = SamplerChain(order=order, params=SamplerParams(**self.params),
                             legacy_penalties=self.legacy)
        return chain if self.seed is None else chain.with_seed(self.seed)

    def user_set(self) -> frozenset[str]:
        names = set(self.params)
        if self.order is not None:
            names.add("order")
        if self.seed is not None:
            names.add("seed")
        return frozenset(names)


PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("llama.cpp-default", "llama.cpp's own defaults, nothing set (a model file's "
           "general.sampling.* keys apply)"),
    Preset("llama.cpp-legacy-default", "llama.cpp before 2025: penalties first, outside the list, "
           "then dry;top_k;typ_p;top_p;min_p;xtc;temperature", legacy=True),
    Preset("qwen-recommended", "Qwen's settings for QwQ: temp 0.6, top_k 40, top_p 0.95, "
           "min_p 0.1, repeat penalty 1.0, llama.cpp's default order",
           {"temp": 0.6, "top_k": 40, "top_p": 0.95, "min_p": 0.1, "penalty_repeat": 1.0}),
    Preset("unsloth-qwq", "the write-up's flags and --samplers as written (seed 3407); on this "
           "llama.cpp its repeat penalty 1.1 does not run", UNSLOTH_FLAGS, UNSLOTH_ORDER, 3407),
    Preset("unsloth-qwq-penalties", "the write-up's flags with `penalties` first in the order, as "
           "its authors' older build ran it", UNSLOTH_FLAGS, ("penalties", *UNSLOTH_ORDER), 3407),
    Preset("unsloth-qwq-baseline", "the write-up's 'broken' baseline: its flags without --samplers "
           "on a pre-2025 llama.cpp (legacy default order)", UNSLOTH_FLAGS, None, 3407, True),
)}


def preset(name: str, *, legacy: bool = False) -> SamplerChain:
    """The named preset's chain; `legacy=True` runs it as a pre-2025 llama.cpp would."""
    chain = _lookup(name).chain()
    return chain.as_legacy() if legacy else chain


def preset_user_set(name: str) -> frozenset[str]:
    """The settings a preset sets, as llama.cpp would count them set by flags."""
    return _lookup(name).user_set()


def _lookup(name: str) -> Preset:
    if name not in PRESETS:
        raise UsageError(f"unknown preset {name!r}; valid presets: {', '.join(PRESETS)}")
    return PRESETS[name]


# --- GGUF general.sampling.* -----------------------------------------------------------------

SEQUENCE_KEY = "general.sampling.sequence"
GGUF_INT_KEYS = ("top_k", "penalty_last_n", "mirostat")
GGUF_FLOAT_KEYS = ("top_p", "min_p", "xtc_probability", "xtc_threshold", "temp", "penalty_repeat",
                   "mirostat_tau", "mirostat_eta")
# Values whose out-of-range reading llama.cpp treats exactly like this bound (sampler no-ops or
# clamps), so taking the bound changes no token.
EQUIVALENT_BOUND = {"top_k": 0, "penalty_last_n": 0, "temp": 0.0}
# strtol/strtof in the C locale: only these six characters are space and only 0-9 are digits
# (Python's \s and \d also take "\x1c" or "٣", which int() then refuses)
_C_SPACE = "[ \t\n\v\f\r]*"
_FLOAT_PREFIX = re.compile(_C_SPACE + r"[+-]?([0-9]+\.?[0-9]*([eE][+-]?[0-9]+)?|\.[0-9]+([eE][+-]?[0-9]+)?)")
_INT_PREFIX = re.compile(_C_SPACE + r"[+-]?[0-9]+")


def from_gguf_sampling(metadata: Mapping[str, Any], user_set: frozenset[str] | set[str] = frozenset(),
                       base: SamplerChain | None = None) -> SamplerChain:
    """`base` with a model file's `general.sampling.*` defaults where the user set nothing.

    `user_set` names what the user set (SamplerParams field names, plus "order" for --samplers),
    as llama.cpp's user_sampling_config bits do. Unknown names in `.sequence` are skipped, as
    llama.cpp skips them; a legacy chain ignores the keys (old builds never read them).
    """
    return _apply_gguf(metadata, frozenset(user_set), base or SamplerChain())[0]


def gguf_sampling_notes(metadata: Mapping[str, Any], user_set: frozenset[str] | set[str] = frozenset(),
                        base: SamplerChain | None = None) -> list[str]:
    """One line per `general.sampling.*` key: taken, overridden by the user, or ignored and why."""
    return _apply_gguf(metadata, frozenset(user_set), base or SamplerChain())[1]


def _apply_gguf(metadata: Mapping[str, Any], user_set: frozenset[str],
                chain: SamplerChain) -> tuple[SamplerChain, list[str]]:
    notes: list[str] = []
    present = [key for key in metadata if isinstance(key, str) and key.startswith("general.sampling.")]
    if chain.legacy_penalties:
        if present:
            notes.append("legacy chain: pre-2025 llama.cpp did not read general.sampling.* keys")
        return chain, notes
    if SEQUENCE_KEY in metadata:
        chain = _apply_sequence(metadata[SEQUENCE_KEY], user_set, chain, notes)
    changes: dict[str, Any] = {}
    for name in GGUF_INT_KEYS + GGUF_FLOAT_KEYS:
        key = f"general.sampling.{name}"
        if key not in metadata:
            continue
        if name in user_set:
            notes.append(f"{key} = {metadata[key]!r} not used: {PARAM_SPECS[name].flag} was given")
            continue
        value = _read_number(metadata[key], integer=name in GGUF_INT_KEYS)
        if value is None:
            notes.append(f"{key} = {metadata[key]!r} ignored: llama.cpp cannot read a number from it")
            continue
        changes[name] = _checked(key, name, value, notes)
        notes.append(f"{key} = {changes[name]!r} taken from the model file")
    unknown = sorted(set(present) - {SEQUENCE_KEY} - {f"general.sampling.{n}" for n in
                                                      GGUF_INT_KEYS + GGUF_FLOAT_KEYS})
    notes.extend(f"{key} ignored: llama.cpp does not read it" for key in unknown)
    return (chain.with_params(**changes) if changes else chain), notes


def _apply_sequence(value: Any, user_set: frozenset[str], chain: SamplerChain,
                    notes: list[str]) -> SamplerChain:
    if "order" in user_set:
        notes.append(f"{SEQUENCE_KEY} = {value!r} not used: --samplers was given")
        return chain
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if not isinstance(value, str):
        notes.append(f"{SEQUENCE_KEY} = {value!r} ignored: not a string")
        return chain
    # llama.cpp copies the key into a 512-byte C buffer: it ends at a NUL or after 511 bytes.
    text = value.partition("\0")[0].encode("utf-8")[:511].decode("utf-8", errors="ignore")
    if text == "":
        return chain
    order = []
    for name in text.split(";"):
        stage = SAMPLER_ALIASES.get(name.lower()) if name.isascii() else None
        if stage is None:
            notes.append(f"{SEQUENCE_KEY}: unknown sampler {name!r} skipped (as llama.cpp skips it)")
        else:
            order.append(stage)
    notes.append(f"{SEQUENCE_KEY} = {text!r} taken from the model file: order "
                 f"{';'.join(order) or '(empty: only dist runs)'}")
    return chain.with_order(order)


def _read_number(value: Any, *, integer: bool) -> int | float | None:
    """The number llama.cpp reads from a metadata value (strtol/strtof of its text form)."""
    if isinstance(value, bool):
        return None  # its text form is "true"/"false": no number
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        # llama.cpp prints a float key with std::to_string ("%f", six decimals), then reads
        # that text back: 1e-7 becomes 0, and strtol stops at the point (truncation).
        value = f"{float(value):f}"
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if isinstance(value, str):
        match = (_INT_PREFIX if integer else _FLOAT_PREFIX).match(value)
        if match is None:
            return None
        return int(match.group()) if integer else float(match.group())
    return None


def _checked(key: str, name: str, value: int | float, notes: list[str]) -> int | float:
    try:
        return check_value(name, value)
    except UsageError:
        bound = EQUIVALENT_BOUND.get(name)
        if bound is not None and value < bound:
            notes.append(f"{key} = {value!r} read as {bound!r}: llama.cpp treats both the same")
            return bound
        raise UsageError(f"the model file's {key} = {value!r} is out of range "
                         f"(valid: {PARAM_SPECS[name].valid}); set {PARAM_SPECS[name].flag} to "
                         f"override it") from None
