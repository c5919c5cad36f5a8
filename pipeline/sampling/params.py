"""llama.cpp's sampling parameters: their types, valid ranges, flags, server fields and defaults.

One table (PARAM_SPECS) drives validation, the llama-cli flag parser, flag rendering and the
llama-server request, so a parameter is spelled in exactly one place. Defaults are those of
common/common.h in the llama.cpp that llama-cpp-python 0.3.36 vendors.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from pipeline.errors import UsageError

INT32_MAX = 2**31 - 1


@dataclass(frozen=True)
class ParamSpec:
    """How one parameter is typed, checked, and spelled on llama-cli and llama-server."""

    kind: type  # int or float
    flag: str | None  # the llama-cli flag that sets it; None when only a request can
    server: str  # the llama-server /completion field
    valid: str  # the valid values, in words, for error messages
    ok: Callable[[Any], bool]


def _between(low: float, high: float) -> Callable[[Any], bool]:
    return lambda v: low <= v <= high


def _at_least(low: float) -> Callable[[Any], bool]:
    return lambda v: v >= low


def _anything(_: Any) -> bool:
    return True


PARAM_SPECS: dict[str, ParamSpec] = {
    "temp": ParamSpec(float, "--temp", "temperature", ">= 0 (0 = greedy)", _at_least(0)),
    "top_k": ParamSpec(int, "--top-k", "top_k", ">= 0 (0 = off)", _at_least(0)),
    "top_p": ParamSpec(float, "--top-p", "top_p", "0 to 1 (1 = off)", _between(0, 1)),
    "min_p": ParamSpec(float, "--min-p", "min_p", "0 to 1 (0 = off)", _between(0, 1)),
    "typ_p": ParamSpec(float, "--typical", "typical_p", "0 to 1 (1 = off)", _between(0, 1)),
    "top_n_sigma": ParamSpec(float, "--top-n-sigma", "top_n_sigma", "a number (<= 0 = off)", _anything),
    "xtc_probability": ParamSpec(float, "--xtc-probability", "xtc_probability", "0 to 1 (0 = off)",
                                 _between(0, 1)),
    "xtc_threshold": ParamSpec(float, "--xtc-threshold", "xtc_threshold", "0 to 1 (> 0.5 = off)",
                               _between(0, 1)),
    "penalty_last_n": ParamSpec(int, "--repeat-last-n", "repeat_last_n", ">= 0 (0 = off)",
                                _at_least(0)),
    "penalty_repeat": ParamSpec(float, "--repeat-penalty", "repeat_penalty", "> 0 (1 = off)",
                                lambda v: v > 0 and math.isfinite(1.0 / v)),
    "penalty_freq": ParamSpec(float, "--frequency-penalty", "frequency_penalty", "a number (0 = off)",
                              _anything),
    "penalty_present": ParamSpec(float, "--presence-penalty", "presence_penalty", "a number (0 = off)",
                                 _anything),
    "dry_multiplier": ParamSpec(float, "--dry-multiplier", "dry_multiplier", ">= 0 (0 = off)",
                                _at_least(0)),
    "dry_base": ParamSpec(float, "--dry-base", "dry_base", ">= 1 (llama.cpp silently ignores less)",
                          _at_least(1)),
    "dry_allowed_length": ParamSpec(int, "--dry-allowed-length", "dry_allowed_length", ">= 0",
                                    _at_least(0)),
    "dry_penalty_last_n": ParamSpec(int, "--dry-penalty-last-n", "dry_penalty_last_n",
                                    ">= 0 (0 = off; this llama.cpp has no -1 = whole context)",
                                    _at_least(0)),
    "min_keep": ParamSpec(int, None, "min_keep", ">= 0", _at_least(0)),
    "mirostat": ParamSpec(int, "--mirostat", "mirostat", "0 (off), 1 or 2", lambda v: v in (0, 1, 2)),
    "mirostat_tau": ParamSpec(float, "--mirostat-ent", "mirostat_tau", ">= 0", _at_least(0)),
    "mirostat_eta": ParamSpec(float, "--mirostat-lr", "mirostat_eta", ">= 0", _at_least(0)),
    "dynatemp_range": ParamSpec(float, "--dynatemp-range", "dynatemp_range", ">= 0 (0 = off)",
                                _at_least(0)),
    "dynatemp_exponent": ParamSpec(float, "--dynatemp-exp", "dynatemp_exponent", "a number", _anything),
    "adaptive_target": ParamSpec(float, "--adaptive-target", "adaptive_target",
                                 "<= 1 (negative = off)", lambda v: v <= 1),
    "adaptive_decay": ParamSpec(float, "--adaptive-decay", "adaptive_decay", "0 to 0.99",
                                _between(0, 0.99)),
}
DEFAULT_DRY_BREAKERS: tuple[str, ...] = ("\n", ":", "\"", "*")


def check_value(name: str, value: Any) -> int | float:
    """`value` typed and range-checked for parameter `name`, or a UsageError naming the range."""
    spec = PARAM_SPECS[name]
    spelled = spec.flag or name
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UsageError(f"{spelled}: expected a number, got {value!r}")
    if spec.kind is int:
        if isinstance(value, float):
            raise UsageError(f"{spelled}: expected a whole number, got {value!r}")
        if not -INT32_MAX - 1 <= value <= INT32_MAX:
            raise UsageError(f"{spelled}: {value} does not fit llama.cpp's 32-bit integer")
    else:
        try:
            value = float(value) + 0.0  # + 0.0 turns -0.0 into 0.0: equal chains, equal JSON
        except OverflowError:
            raise UsageError(f"{spelled}: {value} is too large") from None
        if not math.isfinite(value):
            raise UsageError(f"{spelled}: {value} is not a finite number")
    if not spec.ok(value):
        raise UsageError(f"{spelled}: {value!r} is out of range; valid: {spec.valid}")
    return value


def check_breakers(breakers: Any) -> tuple[str, ...]:
    if not isinstance(breakers, list | tuple):
        raise UsageError(f"dry sequence breakers: expected a list of strings, got {breakers!r}")
    result = tuple(breakers)
    for breaker in result:
        if not isinstance(breaker, str) or breaker == "" or "\0" in breaker \
                or not _is_utf8(breaker):
            raise UsageError(f"--dry-sequence-breaker: {breaker!r} is not non-empty UTF-8 text "
                             f"without NUL characters")
    return result


@dataclass(frozen=True)
class SamplerParams:
    """Every sampling parameter llama.cpp knows, with llama.cpp's defaults (common/common.h).

    Values are checked on construction (UsageError naming the valid range).
    """

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
    dry_penalty_last_n: int = 64  # -1 (= whole context) was removed upstream before this version
    dry_sequence_breakers: tuple[str, ...] = DEFAULT_DRY_BREAKERS
    min_keep: int = 0
    mirostat: int = 0
    mirostat_tau: float = 5.00
    mirostat_eta: float = 0.10
    dynatemp_range: float = 0.00  # temperature is llama.cpp's temp_ext(temp, range, exponent)
    dynatemp_exponent: float = 1.00
    adaptive_target: float = -1.00  # only read when the order holds `adaptive_p`
    adaptive_decay: float = 0.90

    def __post_init__(self) -> None:
        for name in PARAM_SPECS:
            object.__setattr__(self, name, check_value(name, getattr(self, name)))
        object.__setattr__(self, "dry_sequence_breakers", check_breakers(self.dry_sequence_breakers))

    def changed(self) -> dict[str, Any]:
        """The parameters that differ from llama.cpp's defaults."""
        default = SamplerParams()
        return {f.name: getattr(self, f.name) for f in fields(self)
                if getattr(self, f.name) != getattr(default, f.name)}


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, e.g. undecodable bytes from argv
        return False
    return True
