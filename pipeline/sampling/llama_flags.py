"""llama-cli's flags, pasted as users already type them, parsed into a SamplerChain and run settings.

Parsing follows common/arg.cpp of the llama.cpp that llama-cpp-python 0.3.36 vendors: flags apply
in order (the last value wins), `--under_scores` read as `--under-scores`, the first
`--dry-sequence-breaker` clears the default breakers, `-p`/`-f` text and breakers get llama.cpp's
escape processing (`\\n`, `\\t`, `\\xNN`, ...) unless `--no-escape`. Where llama.cpp only warns or
silently ignores (an unknown sampler name, `--dry-base 0.5`, `--temp=0.6`), this parser either
refuses with one line or, for `--flag=value`, accepts the value.
"""

from __future__ import annotations

import argparse
import csv
import difflib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from pipeline.errors import UsageError
from pipeline.sampling.chain import (
    DEFAULT_DRY_BREAKERS,
    LLAMA_DEFAULT_SEED,
    PARAM_SPECS,
    SamplerChain,
    SamplerParams,
    check_value,
    parse_letters,
    parse_names,
)
from pipeline.sampling.escapes import escape_for_flag, process_escapes

KvValue = int | float | str | bool
_INT = re.compile(r"\s*[+-]?\d+\s*")
_FLOAT = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")


@dataclass(frozen=True)
class LlamaArgs:
    """What a llama-cli command line asks for. None means "not given": llama.cpp's default.

    `user_set` names the sampling settings set by a flag or `--preset` (SamplerParams field names,
    "seed", and "order" for --samplers only: llama.cpp does not count --sampling-seq as setting
    the order, so a model file's general.sampling.sequence still replaces it).
    """

    chain: SamplerChain
    model: str | None = None
    prompt: str | None = None  # -p, escapes already processed
    prompt_file: str | None = None  # -f; read it with prompt_text()
    escape: bool = True
    n_predict: int = -1  # -1 = no limit, -2 = until the context is full
    ctx_size: int | None = None  # 0 = the model's training context
    n_gpu_layers: int | str | None = None  # a count, "auto" or "all"
    threads: int | None = None
    kv_overrides: dict[str, KvValue] = field(default_factory=dict)
    user_set: frozenset[str] = frozenset()
    notes: list[str] = field(default_factory=list)
    preset: str | None = None
    # True when a flag other than --seed shaped the chain (user_set misses --sampling-seq, -l, --legacy)
    any_sampling_flag: bool = False

    def engine_options(self) -> dict[str, Any]:
        """EmbeddedEngine keyword arguments for what -c, -ngl, -t and --override-kv set; nothing
        for what the line leaves to llama.cpp (so a sample key holds only what was asked)."""
        options: dict[str, Any] = {}
        if self.ctx_size is not None:
            options["n_ctx"] = self.ctx_size
        if self.n_gpu_layers == "all":
            options["n_gpu_layers"] = 999
        elif isinstance(self.n_gpu_layers, int):
            options["n_gpu_layers"] = self.n_gpu_layers
        if self.threads is not None:
            options["n_threads"] = self.threads
        if self.kv_overrides:
            options["kv_overrides"] = dict(self.kv_overrides)
        return options

    def prompt_text(self) -> str | None:
        """The prompt llama.cpp would use: -p, or -f's file less one trailing newline, unescaped."""
        if self.prompt_file is None:
            return self.prompt
        try:
            text = Path(self.prompt_file).read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise UsageError(f"-f {self.prompt_file}: cannot read the prompt file ({error})") from None
        text = text.removesuffix("\n")
        return process_escapes(text, "-f") if self.escape else text


def _int(flag: str, value: str) -> int:
    if not _INT.fullmatch(value):
        raise UsageError(f"{flag}: expected a whole number, got {value!r}")
    return int(value)


def _float(flag: str, value: str) -> float:
    if not _FLOAT.fullmatch(value):
        raise UsageError(f"{flag}: expected a number, got {value!r}")
    return float(value)


# Sampling parameters by every spelling llama-cli accepts.
PARAM_FLAGS: dict[str, str] = {spec.flag: name for name, spec in PARAM_SPECS.items() if spec.flag}
PARAM_FLAGS.update({"--temperature": "temp", "--top-nsigma": "top_n_sigma", "--typical-p": "typ_p"})
VALUE_FLAGS: dict[str, str] = {  # flag -> what it sets (handled in _Parser.apply)
    "--samplers": "samplers", "--sampling-seq": "sampling-seq", "--sampler-seq": "sampling-seq",
    "-s": "seed", "--seed": "seed", "--dry-sequence-breaker": "breaker",
    "-l": "logit-bias", "--logit-bias": "logit-bias",
    "-m": "model", "--model": "model", "-p": "prompt", "--prompt": "prompt",
    "-f": "file", "--file": "file", "-n": "n_predict", "--predict": "n_predict",
    "--n-predict": "n_predict", "-c": "ctx_size", "--ctx-size": "ctx_size",
    "-ngl": "n_gpu_layers", "--gpu-layers": "n_gpu_layers", "--n-gpu-layers": "n_gpu_layers",
    "-t": "threads", "--threads": "threads", "--override-kv": "override-kv", "--prio": "prio",
    "--preset": "preset",
}
SAMPLING_KEYS = frozenset({"samplers", "sampling-seq", "seed", "breaker", "logit-bias", "preset"})
SWITCHES: dict[str, str] = {
    "-e": "escape", "--escape": "escape", "--no-escape": "no-escape",
    "--legacy": "legacy", "--legacy-penalties": "legacy",
}
CONSOLE_ONLY = ("-no-cnv", "--no-conversation", "-cnv", "--conversation", "-st", "--single-turn",
                "--no-display-prompt", "--display-prompt", "--verbose-prompt", "--simple-io",
                "--log-disable", "--no-warmup", "--perf", "--no-perf")


class _Parser:
    """Collects what the flags set; result() lays it over the base chain (or the --preset)."""

    def __init__(self, base: SamplerChain) -> None:
        self.base = base
        self.params: dict[str, Any] = {}  # sampling parameters set by flags
        self.order: tuple[str, ...] | None = None
        self.seed: int | None = None
        self.bias: list[tuple[int, float]] = []
        self.breakers: list[str] | None = None
        self.legacy = False
        self.run: dict[str, Any] = {"kv_overrides": {}}
        self.user_set: set[str] = set()
        self.notes: list[str] = []
        self.escape = True
        self.preset: str | None = None
        self.any_sampling = False

    def apply(self, flag: str, key: str, value: str) -> None:
        # the seed picks a sample, not a configuration
        self.any_sampling |= key != "seed" and (key in PARAM_SPECS or key in SAMPLING_KEYS)
        if key in PARAM_SPECS:
            number = _int(flag, value) if PARAM_SPECS[key].kind is int else _float(flag, value)
            if key == "temp" and number < 0:
                self.notes.append(f"{flag} {value}: read as 0 (greedy), as llama.cpp clamps it")
                number = 0.0
            self.params[key] = check_value(key, number)
            self.user_set.add(key)
        elif key == "samplers":
            self.order = parse_names(value)
            self.user_set.add("order")
        elif key == "sampling-seq":
            self.order = parse_letters(value)
        elif key == "seed":
            seed = _int(flag, value)
            if not -1 <= seed <= LLAMA_DEFAULT_SEED:
                raise UsageError(f"{flag}: {seed} is out of range; valid: 0 to 4294967295, -1 = random")
            self.seed = LLAMA_DEFAULT_SEED if seed == -1 else seed
            self.user_set.add("seed")
        elif key == "breaker":
            if self.breakers is None or value == "none":
                self.breakers = []
            if value != "none":
                self.breakers.append(value)
            self.user_set.add("dry_sequence_breakers")
        elif key == "logit-bias":
            self.bias.append(_logit_bias(flag, value))
        elif key == "override-kv":
            self.run["kv_overrides"].update(parse_kv_overrides(value))
        else:
            self._run_setting(flag, key, value)

    def _run_setting(self, flag: str, key: str, value: str) -> None:
        if key in ("model", "prompt", "file"):
            self.run[key] = value
            if key != "model":  # -p and -f both set llama.cpp's prompt: the last one wins
                self.run.pop("file" if key == "prompt" else "prompt", None)
        elif key == "n_predict":
            self.run[key] = _at_least(flag, _int(flag, value), -2, "-1 = no limit, -2 = fill the context")
        elif key == "ctx_size":
            self.run[key] = _at_least(flag, _int(flag, value), 0, "0 = the model's context")
        elif key == "n_gpu_layers":
            if value not in ("auto", "all") and not _INT.fullmatch(value):
                raise UsageError(f"{flag}: expected a whole number, auto or all, got {value!r}")
            number = None if value in ("auto", "all") else int(value)
            self.run[key] = value if number is None else (
                number if number >= 0 else "auto" if number == -1 else "all")
        elif key == "threads":
            threads = _int(flag, value)
            if threads <= 0:
                threads = os.cpu_count() or 1
                self.notes.append(f"{flag} {value}: all {threads} cores, as llama.cpp reads it")
            self.run[key] = threads
        elif key == "prio":
            if not -1 <= _int(flag, value) <= 3:
                raise UsageError(f"{flag}: {value!r} is out of range; valid: -1 to 3")
            self.notes.append(f"{flag} {value} ignored: process priority only matters to llama-cli")
        elif key == "preset":
            from pipeline.sampling.presets import preset, preset_user_set  # imports samplers
            self.base = preset(value)
            self.preset = value
            self.user_set |= preset_user_set(value)

    def switch(self, flag: str, key: str) -> None:
        if key in ("escape", "no-escape"):
            self.escape = key == "escape"
        elif key == "legacy":
            self.legacy = self.any_sampling = True

    def result(self) -> LlamaArgs:
        base = self.base  # a --preset is the base whatever its position: flags win over it
        params = {f.name: getattr(base.params, f.name) for f in fields(SamplerParams)}
        params.update(self.params)
        if self.breakers is not None:
            params["dry_sequence_breakers"] = tuple(
                process_escapes(b, "--dry-sequence-breaker") if self.escape else b
                for b in self.breakers)
        order = base.order if self.order is None else self.order
        legacy = self.legacy or base.legacy_penalties
        if legacy and "penalties" in order:
            if self.legacy:
                self.notes.append("--legacy: 'penalties' leaves the order and runs first, as "
                                  "pre-2025 llama.cpp ran it (that build did not know the name)")
            order = tuple(name for name in order if name != "penalties")
        chain = SamplerChain(order=order, params=SamplerParams(**params),
                             seed=base.seed if self.seed is None else self.seed,
                             logit_bias=base.logit_bias + tuple(self.bias), legacy_penalties=legacy)
        run = dict(self.run)
        prompt = run.pop("prompt", None)
        if prompt is not None and self.escape:
            prompt = process_escapes(prompt, "-p")
        return LlamaArgs(chain=chain, model=run.pop("model", None), prompt=prompt,
                         prompt_file=run.pop("file", None), escape=self.escape,
                         user_set=frozenset(self.user_set), notes=self.notes, preset=self.preset,
                         any_sampling_flag=self.any_sampling, **run)


def _at_least(flag: str, number: int, low: int, meaning: str) -> int:
    if number < low:
        raise UsageError(f"{flag}: {number} is out of range; valid: >= {low} ({meaning})")
    return number


def _logit_bias(flag: str, value: str) -> tuple[int, float]:
    match = re.fullmatch(r"\s*(\d+)\s*([+-])\s*(\S+)\s*", value)
    if match is None:
        raise UsageError(f"{flag}: expected TOKEN_ID+BIAS or TOKEN_ID-BIAS (e.g. 15043+1 or 15043-inf), "
                         f"got {value!r}")
    token, sign, amount = match.groups()
    magnitude = float("inf") if amount.lower() in ("inf", "infinity") else _float(flag, amount)
    if sign == "+" and magnitude == float("inf"):
        raise UsageError(f"{flag}: +inf would force token {token} forever; use a finite bias")
    return int(token), -magnitude if sign == "-" else magnitude


def parse_kv_overrides(value: str) -> dict[str, KvValue]:
    """`--override-kv KEY=TYPE:VALUE[,KEY=TYPE:VALUE...]` (types int, float, bool, str)."""
    result: dict[str, KvValue] = {}
    for item in next(csv.reader([value])) if value else [""]:
        key, sep, typed = item.partition("=")
        kind, colon, raw = typed.partition(":")
        if not sep or not colon or key == "":
            raise UsageError(f"--override-kv: expected KEY=TYPE:VALUE with TYPE int, float, bool or "
                             f"str, got {item!r}")
        if len(key.encode("utf-8")) >= 128:
            raise UsageError(f"--override-kv: a key is at most 127 bytes (llama.cpp's limit); "
                             f"{key[:40]}... has {len(key.encode('utf-8'))}")
        if kind == "int":
            result[key] = _int("--override-kv " + key, raw)
        elif kind == "float":
            result[key] = _float("--override-kv " + key, raw)
        elif kind == "bool":
            if raw not in ("true", "false"):
                raise UsageError(f"--override-kv {key}: bool must be true or false, got {raw!r}")
            result[key] = raw == "true"
        elif kind == "str":
            if len(raw.encode("utf-8")) > 127 or "\0" in raw:
                raise UsageError(f"--override-kv {key}: a str value is at most 127 bytes")
            result[key] = raw
        else:
            raise UsageError(f"--override-kv {key}: unknown type {kind!r}; valid: int, float, bool, str")
    return result


def _normalise(arg: str) -> str:
    return arg.replace("_", "-") if arg.startswith("--") else arg  # as arg.cpp does


def parse_llama_args(argv: Sequence[str], *, base: SamplerChain | None = None) -> LlamaArgs:
    """Parse llama-cli flags; UsageError (one line) for an unknown flag or a bad value."""
    parser = _Parser(base or SamplerChain())
    i = 0
    while i < len(argv):
        arg = argv[i]
        if not isinstance(arg, str):
            raise UsageError(f"argument {arg!r} is not text")
        # only the name is normalised: a value after "=" keeps its underscores
        name, has_inline, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        name = _normalise(name)
        if name in PARAM_FLAGS or name in VALUE_FLAGS:
            if has_inline:
                value = inline
            elif i + 1 < len(argv):
                i += 1
                value = argv[i]
            else:
                raise UsageError(f"{name} needs a value")
            if not isinstance(value, str):
                raise UsageError(f"{name}: value {value!r} is not text")
            parser.apply(name, PARAM_FLAGS.get(name) or VALUE_FLAGS[name], value)
        elif has_inline:
            raise UsageError(f"{name} takes no value (got {arg!r})") if name in SWITCHES or \
                name in CONSOLE_ONLY else _unknown(arg)
        elif name in SWITCHES:
            parser.switch(name, SWITCHES[name])
        elif name in CONSOLE_ONLY:
            parser.notes.append(f"{name} ignored: gencheck never runs llama-cli's interactive console")
        else:
            raise _unknown(arg)
        i += 1
    return parser.result()


def _unknown(arg: str) -> UsageError:
    known = [*PARAM_FLAGS, *VALUE_FLAGS, *SWITCHES, *CONSOLE_ONLY]
    close = difflib.get_close_matches(_normalise(arg.partition("=")[0]), known, n=2)
    hint = f" (did you mean {' or '.join(close)}?)" if close else ""
    kind = "unexpected argument" if not arg.startswith("-") else "unknown or unsupported flag"
    return UsageError(f"{kind} {arg!r}{hint}; the accepted llama-cli flags are listed in --help")


def chain_to_flags(chain: SamplerChain) -> list[str]:
    """llama-cli flags that rebuild `chain` (from llama.cpp's defaults) through parse_llama_args."""
    p, default = chain.params, SamplerParams()
    if p.min_keep != default.min_keep:
        raise UsageError("min_keep has no llama-cli flag: this chain cannot be written as flags")
    flags = ["--samplers", chain.to_names()]
    for name, spec in PARAM_SPECS.items():
        if spec.flag and getattr(p, name) != getattr(default, name):
            flags += [spec.flag, repr(getattr(p, name))]
    if p.dry_sequence_breakers != DEFAULT_DRY_BREAKERS:
        flags += ["--dry-sequence-breaker", "none"]
        for breaker in p.dry_sequence_breakers:
            flags += ["--dry-sequence-breaker", escape_for_flag(breaker)]
    for token, bias in chain.logit_bias:
        flags += ["--logit-bias", f"{token}{'-' if bias < 0 else '+'}{abs(bias)!r}"]
    if chain.seed != LLAMA_DEFAULT_SEED:
        flags += ["--seed", str(chain.seed)]
    if chain.legacy_penalties:
        flags.append("--legacy")
    return flags


HELP_TEXT = """\
llama-cli flags (paste them as you run llama-cli; `--flag value` or `--flag=value`):
  sampling   --temp/--temperature N   --top-k N   --top-p N   --min-p N   --typical N
             --top-n-sigma N   --xtc-probability N   --xtc-threshold N
             --repeat-penalty N   --repeat-last-n N   --presence-penalty N   --frequency-penalty N
             --dry-multiplier N   --dry-base N   --dry-allowed-length N   --dry-penalty-last-n N
             --dry-sequence-breaker S (repeatable; 'none' = no breakers)
             --mirostat 0|1|2   --mirostat-lr N   --mirostat-ent N   --dynatemp-range N
             --dynatemp-exp N   --adaptive-target N   --adaptive-decay N   -l/--logit-bias ID(+|-)BIAS
             -s/--seed N (-1 = random)
  order      --samplers "top_k;top_p;min_p;temperature"   --sampling-seq kpmt
             names: penalties dry top_n_sigma top_k typ_p top_p min_p xtc temperature infill
             adaptive_p (also top-k/topk, nucleus, temp, typ); letters e d s k y p m x t i a
  presets    --preset NAME (llama.cpp-default, llama.cpp-legacy-default, qwen-recommended,
             unsloth-qwq, unsloth-qwq-penalties, unsloth-qwq-baseline); flags given with it win
             --legacy   run the chain as pre-2025 llama.cpp did: penalties first, outside the list
  model/run  -m/--model F   -p/--prompt TEXT   -f/--file F   -e/--escape   --no-escape
             -n/--n-predict N   -c/--ctx-size N   -ngl/--n-gpu-layers N|auto|all   -t/--threads N
             --override-kv KEY=TYPE:VALUE[,...] (TYPE int, float, bool, str)
  ignored    -no-cnv -cnv -st --prio N and other console-only flags (a note says so)
Unknown sampler names, letters, flags and out-of-range values are refused (llama.cpp only warns).
LLAMA_ARG_* environment variables are not read."""


def add_llama_help(parser: argparse.ArgumentParser) -> None:
    """Append the accepted llama-cli flags to a parser's --help (its own flags stay its own)."""
    parser.epilog = f"{parser.epilog}\n\n{HELP_TEXT}" if parser.epilog else HELP_TEXT
    if parser.formatter_class is argparse.HelpFormatter:  # keep the table's line breaks
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
