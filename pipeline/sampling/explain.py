"""A SamplerChain in words, and what other servers can and cannot do with it.

`explain_chain` walks `SamplerChain.plan()`, the very list engines build, so the words cannot
drift from what runs. `unused_settings` names every setting that differs from llama.cpp's default
yet changes no token: the trap of the write-up, whose --repeat-penalty 1.1 never ran because its
--samplers order has no `penalties` stage.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pipeline.sampling.chain import (
    DEFAULT_ORDER,
    LLAMA_DEFAULT_SEED,
    PARAM_SPECS,
    PlannedSampler,
    SamplerChain,
    SamplerParams,
)
from pipeline.sampling.presets import PRESETS

# The parameters only one stage reads; a changed one is unused when its stage does not run.
STAGE_PARAMS: dict[str, tuple[str, ...]] = {
    "penalties": ("penalty_last_n", "penalty_repeat", "penalty_freq", "penalty_present"),
    "dry": ("dry_multiplier", "dry_base", "dry_allowed_length", "dry_penalty_last_n",
            "dry_sequence_breakers"),
    "top_n_sigma": ("top_n_sigma",),
    "top_k": ("top_k",),
    "typ_p": ("typ_p",),
    "top_p": ("top_p",),
    "min_p": ("min_p",),
    "xtc": ("xtc_probability", "xtc_threshold"),
    "temperature": ("temp", "dynatemp_range", "dynatemp_exponent"),
    "adaptive_p": ("adaptive_target", "adaptive_decay"),
}
MIN_KEEP_READERS = ("typ_p", "top_p", "min_p", "xtc")


def _setting(name: str, value: Any) -> str:
    flag = PARAM_SPECS[name].flag if name in PARAM_SPECS else "--dry-sequence-breaker"
    return f"{flag or name} {_show(value)}"


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return " ".join(repr(item) for item in value) or "none"
    return repr(value)


def off_reason(stage: str, p: SamplerParams) -> str | None:
    """Why a listed stage changes nothing with these parameters (llama-sampler.cpp's no-ops)."""
    if stage == "penalties":
        if p.penalty_last_n == 0:
            return "--repeat-last-n 0"
        if p.penalty_repeat == 1.0 and p.penalty_freq == 0.0 and p.penalty_present == 0.0:
            return "repeat 1, frequency 0, presence 0"
    elif stage == "dry":
        if p.dry_multiplier == 0.0:
            return "--dry-multiplier 0"
        if p.dry_penalty_last_n == 0:
            return "--dry-penalty-last-n 0"
    elif stage == "xtc":
        if p.xtc_probability <= 0.0:
            return "--xtc-probability 0"
        if p.xtc_threshold > 0.5:
            return "--xtc-threshold above 0.5"
    elif stage == "temperature" and p.temp == 1.0 and p.dynatemp_range <= 0:
        return "temperature 1"
    else:
        return {
            "top_n_sigma": "--top-n-sigma <= 0" if p.top_n_sigma <= 0 else None,
            "top_k": "--top-k 0" if p.top_k <= 0 else None,
            "typ_p": "--typical 1" if p.typ_p >= 1.0 else None,
            "top_p": "--top-p 1" if p.top_p >= 1.0 else None,
            "min_p": "--min-p 0" if p.min_p <= 0.0 else None,
        }.get(stage)
    return None


def stage_active(stage: str, p: SamplerParams) -> bool:
    return off_reason(stage, p) is None


def planned_off_reason(step: PlannedSampler) -> str | None:
    """Why a planned sampler is one llama.cpp builds empty (it prints it with a `?`), or None."""
    a = step.kwargs
    init = step.init.removeprefix("llama_sampler_init_")
    if init == "temp":  # mirostat's plain temperature ignores dynamic temperature
        return "temperature 1" if a["temp"] == 1.0 else None
    if init == "logit_bias":
        return None if a["biases"] else "no biases"
    if step.stage not in STAGE_PARAMS or step.stage == "adaptive_p":
        return None
    p = SamplerParams()
    changes = {"penalties": {"penalty_last_n": a.get("penalty_last_n"),
                             "penalty_repeat": a.get("penalty_repeat"),
                             "penalty_freq": a.get("penalty_freq"),
                             "penalty_present": a.get("penalty_present")},
               "dry": {"dry_multiplier": a.get("multiplier"), "dry_penalty_last_n": a.get("penalty_last_n")},
               "top_n_sigma": {"top_n_sigma": a.get("n")}, "top_k": {"top_k": a.get("k")},
               "typ_p": {"typ_p": a.get("p")}, "top_p": {"top_p": a.get("p")},
               "min_p": {"min_p": a.get("p")},
               "xtc": {"xtc_probability": a.get("p"), "xtc_threshold": a.get("t")},
               "temperature": {"temp": a.get("temp"), "dynatemp_range": a.get("delta")}}[step.stage]
    return off_reason(step.stage, replace(p, **changes))


def _describe(step: PlannedSampler, p: SamplerParams) -> str:
    a = step.kwargs
    reason = planned_off_reason(step)
    if reason is not None:
        return f"{step.stage:<12} off ({reason})"
    seed = "a random seed" if a.get("seed") == LLAMA_DEFAULT_SEED else f"seed {a.get('seed')}"
    keep = f", keeping at least {a['min_keep']}" if a.get("min_keep") else ""
    if step.init.endswith("_temp"):
        return f"temperature  {a['temp']!r} (plain; mirostat ignores dynamic temperature)"
    text = {
        "logit_bias": lambda: f"{len(a['biases'])} token bias(es), before everything",
        "penalties": lambda: (f"repeat x{a['penalty_repeat']!r}, frequency {a['penalty_freq']!r}, "
                              f"presence {a['penalty_present']!r} over the last "
                              f"{a['penalty_last_n']} tokens (prompt included)"),
        "dry": lambda: (f"multiplier {a['multiplier']!r}, base {a['base']!r}, allowed length "
                        f"{a['allowed_length']}, over the last {a['penalty_last_n']} tokens, "
                        f"breakers {_show(a['sequence_breakers'])}"),
        "top_n_sigma": lambda: f"keeps logits within {a['n']!r} standard deviations of the top",
        "top_k": lambda: f"keeps the {a['k']} most likely tokens",
        "typ_p": lambda: f"locally typical sampling, p {a['p']!r}{keep}",
        "top_p": lambda: f"keeps the most likely tokens up to cumulative probability {a['p']!r}{keep}",
        "min_p": lambda: f"drops tokens below {a['p']!r} x the top token's probability{keep}",
        "xtc": lambda: (f"with probability {a['p']!r}, removes every token above {a['t']!r} but "
                        f"the least likely of them{keep} ({seed})"),
        "temperature": lambda: _describe_temperature(a),
        "infill": lambda: "fill-in-the-middle sampler (for infill models)",
        "adaptive_p": lambda: (f"draws the token, steering toward probability {a['target']!r} "
                               f"(decay {a['decay']!r}; {seed})"),
        "mirostat": lambda: (f"{step.init.removeprefix('llama_sampler_init_')} draws the token, "
                             f"tau {a['tau']!r}, eta {a['eta']!r} ({seed})"),
        "dist": lambda: f"draws the token from what is left ({seed})",
    }[step.stage]()
    return f"{step.stage:<12} {text}"


def _describe_temperature(a: dict[str, Any]) -> str:
    if a["temp"] <= 0:
        return "greedy: keeps only the highest logit; stages after it change nothing"
    if a["delta"] > 0:
        return (f"dynamic temperature {a['temp']!r} +/- {a['delta']!r} "
                f"(exponent {a['exponent']!r})")
    return f"divides logits by {a['temp']!r}"


def explain_chain(chain: SamplerChain) -> str:
    p = chain.params
    lines = [f"sampler chain ({chain_label(chain)}), as llama.cpp builds it:"]
    if p.mirostat:
        lines.append(f"  mirostat {p.mirostat} replaces the sampler list")
    elif chain.legacy_penalties:
        lines.append("  legacy (pre-2025 llama.cpp): penalties run first, outside the list")
    counts: dict[str, int] = {}
    for number, step in enumerate(chain.plan(), 1):
        counts[step.stage] = counts.get(step.stage, 0) + 1
        lines.append(f"  {number}. {_describe(step, p)}")
    lines.extend(f"  note: {stage} runs {n} times" for stage, n in counts.items()
                 if n > 1 and stage != "logit_bias")
    unused = unused_settings(chain)
    if unused:
        lines.append("set but not applied:")
        lines.extend(f"  - {sentence}" for sentence in unused)
    lines.extend(f"note: {sentence}" for sentence in _legacy_notes(chain))
    return "\n".join(lines)


def _legacy_notes(chain: SamplerChain) -> list[str]:
    if not chain.legacy_penalties:
        return []
    return ["pre-2025 builds did not penalise the newline token (penalize_nl was off); this build "
            "penalises it, so legacy runs are close to, not identical with, those builds",
            "builds before mid-2026 (PR 26524) defaulted --dry-penalty-last-n to -1 (the whole "
            f"context); this build scans {chain.params.dry_penalty_last_n} tokens: set it to the context size to match"]


def unused_settings(chain: SamplerChain) -> list[str]:
    p, changed = chain.params, chain.params.changed()
    order = chain.effective_order()
    out: list[str] = []
    if p.mirostat:
        if chain.order != DEFAULT_ORDER:
            out.append(f"the order {chain.to_names() or '(empty)'} is set but mirostat {p.mirostat} "
                       f"replaces the sampler list")
        running = {"temperature"} | ({"penalties"} if chain.legacy_penalties else set())
        for stage, names in STAGE_PARAMS.items():
            for name in names:
                if name in changed and (stage not in running or name.startswith("dynatemp")):
                    out.append(f"{_setting(name, changed[name])} is set but mirostat {p.mirostat} "
                               f"replaces the sampler list: it never runs")
        return out
    for name in ("mirostat_tau", "mirostat_eta"):
        if name in changed:
            out.append(f"{_setting(name, changed[name])} is set but mirostat is off (--mirostat 0)")
    for stage, names in STAGE_PARAMS.items():
        for name in names:
            if name in changed and stage not in order:
                tail = ": logits are sampled at temperature 1" if stage == "temperature" else ""
                out.append(f"{_setting(name, changed[name])} is set but the order has no "
                           f"`{stage}` stage: it never runs{tail}")
    out.extend(_disabled_by_other_settings(chain, changed))
    if "min_keep" in changed and not any(s in order and stage_active(s, p) for s in MIN_KEEP_READERS):
        out.append(f"min_keep {p.min_keep} is set but no running stage reads it")
    return out


def _disabled_by_other_settings(chain: SamplerChain, changed: dict[str, Any]) -> list[str]:
    p, order, out = chain.params, chain.effective_order(), []

    def changed_in(stage: str, skip: tuple[str, ...] = ()) -> list[str]:
        return [_setting(n, changed[n]) for n in STAGE_PARAMS[stage] if n in changed and n not in skip]

    if "penalties" in order and p.penalty_last_n == 0 and changed_in("penalties", ("penalty_last_n",)):
        out.append(f"{', '.join(changed_in('penalties', ('penalty_last_n',)))}: no effect, "
                   f"--repeat-last-n 0 turns penalties off")
    if "dry" in order and p.dry_multiplier == 0 and changed_in("dry", ("dry_multiplier",)):
        out.append(f"{', '.join(changed_in('dry', ('dry_multiplier',)))}: no effect, "
                   f"--dry-multiplier 0 turns DRY off")
    if "dry" in order and p.dry_multiplier != 0 and p.dry_penalty_last_n == 0:
        out.append(f"--dry-multiplier {p.dry_multiplier!r}: no effect, --dry-penalty-last-n 0 "
                   f"turns DRY off")
    if "xtc" in order and p.xtc_probability > 0 and p.xtc_threshold > 0.5:
        out.append(f"--xtc-probability {p.xtc_probability!r}: no effect, --xtc-threshold "
                   f"{p.xtc_threshold!r} above 0.5 turns XTC off")
    if "xtc" in order and p.xtc_probability == 0 and "xtc_threshold" in changed:
        out.append(f"--xtc-threshold {p.xtc_threshold!r}: no effect, --xtc-probability 0 turns XTC off")
    if "temperature" in order and p.dynatemp_range == 0 and "dynatemp_exponent" in changed:
        out.append(f"--dynatemp-exp {p.dynatemp_exponent!r}: no effect without --dynatemp-range")
    if "adaptive_p" in order and p.adaptive_target < 0 and "adaptive_decay" in changed:
        out.append(f"--adaptive-decay {p.adaptive_decay!r}: no effect, a negative "
                   f"--adaptive-target makes adaptive_p a plain draw")
    if "temperature" in order and p.temp <= 0:
        after = order[order.index("temperature") + 1:]
        for stage in dict.fromkeys(after):
            if stage in STAGE_PARAMS and stage != "temperature" and stage_active(stage, p):
                names = changed_in(stage) or [stage]
                out.append(f"{', '.join(names)}: no effect, temperature {p.temp!r} before it "
                           f"leaves a single token")
        xtc_first = "xtc" in order[:order.index("temperature")] and stage_active("xtc", p)
        if chain.seed != LLAMA_DEFAULT_SEED and not xtc_first:
            out.append(f"--seed {chain.seed}: no effect, temperature {p.temp!r} makes the draw "
                       f"certain")
    return out


def chain_label(chain: SamplerChain) -> str:
    for name, spec in PRESETS.items():
        base = spec.chain()
        if chain == base:
            return name
        if chain == base.as_legacy():
            return f"{name} legacy"
        if replace(chain, seed=base.seed) == base:
            return f"{name} seed={_seed(chain.seed)}"
    parts = [chain.to_letters() or "(empty)"]
    if chain.legacy_penalties:
        parts.append("legacy")
    parts.extend(f"{name}={_show(value)}" for name, value in chain.params.changed().items())
    if chain.logit_bias:
        parts.append(f"bias={len(chain.logit_bias)}")
    parts.append(f"seed={_seed(chain.seed)}")
    return " ".join(parts)


def _seed(seed: int) -> str:
    return "random" if seed == LLAMA_DEFAULT_SEED else str(seed)


def server_request(chain: SamplerChain) -> dict[str, Any]:
    """Every sampling field, so nothing of the server's own command line leaks into the run."""
    p = chain.params
    request: dict[str, Any] = {"samplers": list(chain.effective_order())}
    for name, spec in PARAM_SPECS.items():
        request[spec.server] = getattr(p, name)
    if p.dry_sequence_breakers:  # the server refuses an empty list (see server_limitations)
        request["dry_sequence_breakers"] = list(p.dry_sequence_breakers)
    request["seed"] = chain.seed
    # llama-server takes `false` for "never this token"; it clears its own biases when sent [].
    request["logit_bias"] = [[token, False if bias == float("-inf") else bias]
                             for token, bias in chain.logit_bias]
    return request


def server_limitations(chain: SamplerChain) -> list[str]:
    out = []
    if not chain.params.dry_sequence_breakers:
        out.append("llama-server refuses an empty dry_sequence_breakers list: the request leaves "
                   "it out, so the server's own breakers apply")
    if chain.legacy_penalties and chain.params.mirostat:
        out.append("llama-server cannot run penalties before mirostat (a pre-2025 behaviour)")
    return out


def openai_limitations(chain: SamplerChain) -> list[str]:
    p, order = chain.params, chain.effective_order()
    active = [s for s in dict.fromkeys(order) if s in STAGE_PARAMS and stage_active(s, p)]
    out = []
    if len(active) > 1 and not p.mirostat:
        out.append(f"the order {';'.join(order)} cannot be sent: the server applies its own fixed order")
    for stage, what in (("dry", "DRY"), ("xtc", "XTC"), ("top_n_sigma", "top_n_sigma"),
                        ("typ_p", "typical_p"), ("adaptive_p", "adaptive_p"),
                        ("infill", "the infill sampler")):
        if stage in order and (stage not in STAGE_PARAMS or stage_active(stage, p)):
            out.append(f"{what} is not an OpenAI parameter: it will not run")
    if p.mirostat:
        out.append(f"mirostat {p.mirostat} is not an OpenAI parameter")
    if "temperature" in active and p.dynatemp_range > 0:
        out.append("dynamic temperature is not an OpenAI parameter")
    extras = [s for s in ("top_k", "min_p") if s in active]
    if "penalties" in active and p.penalty_repeat != 1.0:
        extras.append("repeat_penalty")
    if extras:
        out.append(f"{', '.join(extras)}: not OpenAI parameters (vLLM takes them as extra body "
                   f"fields, Ollama as options; other servers may drop them)")
    if "penalties" in active and (p.penalty_freq or p.penalty_present):
        out.append(f"frequency/presence penalties cannot be limited to the last {p.penalty_last_n} "
                   f"tokens: OpenAI-style penalties count the whole output")
    if "penalties" in active or "dry" in active:
        out.append("llama.cpp counts the prompt's tokens in penalties and DRY; OpenAI-style servers "
                   "may count only generated tokens")
    if p.min_keep:
        out.append("min_keep is not an OpenAI parameter")
    return out
