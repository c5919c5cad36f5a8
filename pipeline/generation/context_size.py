"""The context a run allocates: what its samples need, times the parallel slots, checked to fit.

Without -c, llama.cpp allocates the model's training context; with QwQ-32B's YaRN override that
is 131072 tokens of KV cache per context, more memory than most GPUs hold. A user would size it
from the sample instead: the prompt plus the token limit (or the write-up's 16384 tokens when
there is no limit), once per parallel slot. -c and --parallel combine as in llama-server: -c is
the whole context, and each of the N slots holds -c / N tokens of it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import UsageError

# The write-up's --ctx-size: what one unlimited sample of a reasoning model is given.
UNLIMITED_SAMPLE_CONTEXT = 16384
# llama.cpp pads a context to 256 cells; a choice already padded is the context it will report.
CONTEXT_PAD = 256
F16_BYTES = 2


@dataclass(frozen=True)
class ModelShape:
    """What the KV cache's size depends on, read from the GGUF (overrides applied)."""

    n_ctx_train: int
    n_layer: int
    n_head: int
    n_head_kv: int
    n_embd: int
    n_prompt_tokens: int

    def kv_bytes(self, n_ctx: int) -> int:
        """f16 K and V for every layer and cell (llama.cpp's default cache types)."""
        head_dim = self.n_embd // max(1, self.n_head)
        return n_ctx * self.n_layer * 2 * self.n_head_kv * head_dim * F16_BYTES


@dataclass(frozen=True)
class ContextChoice:
    n_ctx: int  # the whole context, llama.cpp's -c
    n_parallel: int
    why: str

    @property
    def per_sample(self) -> int:
        return self.n_ctx // self.n_parallel

    def describe(self) -> str:
        slots = f"{self.n_parallel} slots x {self.per_sample}" if self.n_parallel > 1 else f"{self.per_sample}"
        return f"context: {slots} tokens = -c {self.n_ctx} ({self.why})"


def _padded(n: int) -> int:
    return -(-n // CONTEXT_PAD) * CONTEXT_PAD


def choose_context(*, user_ctx: int | None, n_parallel: int, n_predict: int, shape: ModelShape) -> ContextChoice:
    """-c as given (0 = the training context, as in llama.cpp), else what the samples need."""
    if user_ctx is not None:
        total = user_ctx or shape.n_ctx_train
        why = "-c given" if user_ctx else "-c 0: the model's training context"
        if n_parallel > 1:
            why += f", split between the {n_parallel} slots"
        return ContextChoice(total, n_parallel, why)
    if n_predict >= 0:
        need, why = shape.n_prompt_tokens + n_predict + 1, f"prompt {shape.n_prompt_tokens} + --n-predict {n_predict}"
    else:
        need, why = UNLIMITED_SAMPLE_CONTEXT, f"no --n-predict: the write-up's {UNLIMITED_SAMPLE_CONTEXT} per sample"
    per_sample = _padded(need)
    if shape.n_ctx_train and per_sample > shape.n_ctx_train:
        per_sample, why = shape.n_ctx_train, why + f", cut to the training context {shape.n_ctx_train}"
    if n_parallel > 1:
        why += f", times {n_parallel} slots"
    return ContextChoice(per_sample * n_parallel, n_parallel, why)


def key_context(choice: ContextChoice, *, user_given: bool, n_predict: int) -> int | None:
    """The per-sample context when it can change a sample's text, for the sample key.

    -c given: always (as before parallel slots; one slot's share is all of -c). The default:
    only when there is no token limit, since it then ends the sample; a default that fits
    prompt + limit never cuts one short.
    """
    if user_given:
        return choice.per_sample if choice.n_parallel > 1 else choice.n_ctx
    return choice.per_sample if n_predict < 0 else None


def memory_available_bytes() -> int | None:
    """MemAvailable from /proc/meminfo (Linux), else None."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def check_fits(choice: ContextChoice, shape: ModelShape, *, on_gpu: bool) -> None:
    """A KV cache larger than the free memory is a usage error before loading, not an OOM crash.

    On a GPU only llama.cpp knows the free device memory: it refuses the context, which the
    engine turns into an error naming -c and --parallel. Here the host's memory is checked.
    """
    if shape.n_prompt_tokens >= choice.per_sample:
        raise UsageError(f"the prompt has {shape.n_prompt_tokens} tokens but each sample's context holds "
                         f"{choice.per_sample}: raise -c (or lower --parallel)")
    if on_gpu:
        return
    needed, free = shape.kv_bytes(choice.n_ctx), memory_available_bytes()
    if free is not None and needed > free:
        gib = 1 << 30
        raise UsageError(f"{choice.describe()} needs {needed / gib:.1f} GiB of KV cache; "
                         f"{free / gib:.1f} GiB is free: lower -c, --parallel or --n-predict")


def read_model_shape(model_path: Path, prompt: str,
                     kv_overrides: Mapping[str, bool | int | float | str] | None = None) -> ModelShape:
    """Load only the vocabulary (fast, no weights) to count the prompt and read the shape."""
    import llama_cpp as lib

    from pipeline.generation.engines.embedded import (
        EngineError,
        _init_backend,
        _model_metadata,
        kv_override_array,
    )

    _init_backend()
    params = lib.llama_model_default_params()
    params.vocab_only = True
    overrides = kv_override_array(kv_overrides or {})
    if overrides is not None:
        params.kv_overrides = overrides
    model = lib.llama_model_load_from_file(os.fsencode(model_path), params)
    if not model:
        raise EngineError(f"llama.cpp could not read {model_path} (not a GGUF it supports?)")
    try:
        meta = _model_metadata(model)
        vocab = lib.llama_model_get_vocab(model)
        data = prompt.encode("utf-8")
        buffer = (lib.llama_token * (len(data) + 8))()
        n_prompt = lib.llama_tokenize(vocab, data, len(data), buffer, len(data) + 8, True, True)
        arch = meta.get("general.architecture", "")

        def number(key: str, default: int = 0) -> int:
            try:
                return int(float(meta.get(f"{arch}.{key}", default)))
            except ValueError:
                return default

        n_head = number("attention.head_count", 1)
        # A vocabulary-only load reads no hyperparameters, so the override (YaRN's 131072) is
        # applied here as llama.cpp would apply it.
        trained = (kv_overrides or {}).get(f"{arch}.context_length", number("context_length"))
        return ModelShape(n_ctx_train=int(trained), n_layer=number("block_count"),
                          n_head=n_head, n_head_kv=number("attention.head_count_kv", n_head),
                          n_embd=number("embedding_length"), n_prompt_tokens=max(0, n_prompt))
    finally:
        lib.llama_model_free(model)
