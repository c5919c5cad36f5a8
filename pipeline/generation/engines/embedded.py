"""The embedded engine: llama.cpp in this process through llama-cpp-python's low-level API.

`Llama.create_completion` has a fixed chain and never shows the prompt to the sampler, so this
module drives llama.cpp the way llama-completion does (tools/completion, common/sampling.cpp):
tokenize with special tokens parsed, decode the prompt in batches of n_batch, accept every
prompt token into the chain, then per token `llama_sampler_sample` (which accepts the token
itself: accepting again would count every token twice) until an end-of-generation token or the
limit. The module is named `embedded`, not `llama_cpp`, so it never shadows the library.
"""

from __future__ import annotations

import ctypes
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from importlib import metadata
from pathlib import Path

import llama_cpp as lib

from pipeline.errors import UsageError
from pipeline.generation.engines.base import (
    FINISH_EOS,
    FINISH_LENGTH,
    GenerationRequest,
    GeneratorStream,
    Piece,
    Utf8Pieces,
)
from pipeline.generation.engines.sampler_build import build_chain

# llama-completion's batch sizes (common/common.h): the logical batch for prompt decoding and
# the physical micro-batch. Kept equal so prompt logits are computed in the same chunks.
DEFAULT_N_BATCH = 2048
DEFAULT_N_UBATCH = 512

_backend_ready = False


class EngineError(UsageError):
    """The engine cannot do what was asked (a file llama.cpp refuses, a server that is down)."""


def _init_backend() -> None:
    """Once per process: quiet llama.cpp's log (errors still reach stderr) and init the backend."""
    global _backend_ready
    if _backend_ready:
        return
    # Importing llama_cpp installs a log callback that prints everything at NOTSET level.
    logging.getLogger("llama-cpp-python").setLevel(logging.ERROR)
    lib.llama_backend_init()
    _backend_ready = True


def kv_override_array(overrides: Mapping[str, bool | int | float | str]) -> ctypes.Array | None:
    """GGUF key overrides as llama.cpp's null-terminated array; the Python type picks the kind.

    `bool` is checked before `int` (a bool is an int in Python); write 4.0, not 4, for a float.
    """
    if not overrides:
        return None
    array = (lib.llama_model_kv_override * (len(overrides) + 1))()
    for slot, (key, value) in zip(array, overrides.items(), strict=False):
        encoded_key = key.encode("utf-8")
        if len(encoded_key) >= 128:
            raise EngineError(f"override key {key!r} is longer than llama.cpp's 127 bytes")
        slot.key = encoded_key
        if isinstance(value, bool):
            slot.tag, slot.value.val_bool = lib.LLAMA_KV_OVERRIDE_TYPE_BOOL, value
        elif isinstance(value, int):
            slot.tag, slot.value.val_i64 = lib.LLAMA_KV_OVERRIDE_TYPE_INT, value
        elif isinstance(value, float):
            slot.tag, slot.value.val_f64 = lib.LLAMA_KV_OVERRIDE_TYPE_FLOAT, value
        elif isinstance(value, str):
            encoded = value.encode("utf-8")
            if len(encoded) >= 128:
                raise EngineError(f"override value for {key!r} is longer than llama.cpp's 127 bytes")
            slot.tag, slot.value.val_str = lib.LLAMA_KV_OVERRIDE_TYPE_STR, encoded
        else:
            raise EngineError(f"override {key!r}: {type(value).__name__} is not int, float, bool or str")
    array[len(overrides)].key = b""  # the terminator llama.cpp looks for
    return array


def _meta_string(read: Callable[[ctypes.Array, int], int]) -> str:
    buffer = ctypes.create_string_buffer(256)
    size = read(buffer, len(buffer))
    if size >= len(buffer):
        buffer = ctypes.create_string_buffer(size + 1)
        size = read(buffer, len(buffer))
    return buffer.value.decode("utf-8", "replace") if size >= 0 else ""


def _model_metadata(model: object) -> dict[str, str]:
    result: dict[str, str] = {}
    for index in range(lib.llama_model_meta_count(model)):
        key = _meta_string(lambda buf, n, i=index: lib.llama_model_meta_key_by_index(model, i, buf, n))
        result[key] = _meta_string(lambda buf, n, i=index: lib.llama_model_meta_val_str_by_index(model, i, buf, n))
    return result


def _model_file(model_path: str | os.PathLike[str]) -> Path:
    path = Path(model_path)
    if not path.is_file():
        raise EngineError(f"model file {path} " + ("is not a file" if path.exists() else "does not exist"))
    return path


def read_gguf_metadata(model_path: str | os.PathLike[str]) -> dict[str, str]:
    """A GGUF's metadata as llama.cpp reads it, loading only the vocabulary (fast, no weights)."""
    path = _model_file(model_path)
    _init_backend()
    params = lib.llama_model_default_params()
    params.vocab_only = True
    model = lib.llama_model_load_from_file(str(path).encode("utf-8"), params)
    if not model:
        raise EngineError(f"llama.cpp could not read {path} (not a GGUF it supports?)")
    try:
        return _model_metadata(model)
    finally:
        lib.llama_model_free(model)


class EmbeddedEngine:
    """A GGUF model loaded once; `stream()` runs one request on a cleared context.

    Not thread-safe: one stream at a time. `close()` (or `with`) frees the model and context.
    """

    name = "embedded"

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        *,
        n_ctx: int = 0,
        n_gpu_layers: int | None = None,
        n_threads: int | None = None,
        kv_overrides: Mapping[str, bool | int | float | str] | None = None,
        n_batch: int = DEFAULT_N_BATCH,
        n_ubatch: int = DEFAULT_N_UBATCH,
        n_parallel: int = 1,
    ) -> None:
        self._model = None
        self._ctx = None
        self._active: EmbeddedStream | None = None
        self.model_path = _model_file(model_path)
        _init_backend()
        mparams = lib.llama_model_default_params()
        if n_gpu_layers is not None:
            mparams.n_gpu_layers = n_gpu_layers
        overrides = kv_override_array(kv_overrides or {})
        if overrides is not None:
            mparams.kv_overrides = overrides
        self._model = lib.llama_model_load_from_file(str(self.model_path).encode("utf-8"), mparams)
        if not self._model:
            raise EngineError(f"llama.cpp could not load {self.model_path} (not a GGUF it supports?)")
        cparams = lib.llama_context_default_params()
        cparams.n_ctx = max(0, n_ctx)
        cparams.n_batch = n_batch
        cparams.n_ubatch = min(n_ubatch, n_batch)
        # Parallel sequences each get their own KV stream of n_ctx / n_parallel cells (llama-server's
        # -c / -np split); unified KV only pays when the sequences share a long prefix.
        cparams.n_seq_max = max(1, n_parallel)
        if n_parallel > 1:
            cparams.kv_unified = False
        threads = n_threads if n_threads and n_threads > 0 else (os.cpu_count() or 1)
        cparams.n_threads = threads
        cparams.n_threads_batch = threads
        self._ctx = lib.llama_init_from_model(self._model, cparams)
        if not self._ctx:
            self.close()
            raise EngineError(f"llama.cpp could not create a context of {n_ctx} tokens for {self.model_path} "
                              "(not enough memory? lower -c or --parallel)")
        self._vocab = lib.llama_model_get_vocab(self._model)
        self.n_vocab = lib.llama_vocab_n_tokens(self._vocab)
        self.n_ctx = lib.llama_n_ctx(self._ctx)
        self.n_parallel = lib.llama_n_seq_max(self._ctx)
        self.n_ctx_seq = lib.llama_n_ctx_seq(self._ctx)  # what one sequence may hold
        self.n_batch = lib.llama_n_batch(self._ctx)
        self._settings: dict[str, object] = {
            "n_ctx": self.n_ctx, "n_batch": self.n_batch, "n_ubatch": cparams.n_ubatch,
            "n_threads": threads, "n_gpu_layers": mparams.n_gpu_layers,
            "kv_overrides": dict(kv_overrides or {}),
        }
        if self.n_parallel > 1:  # only then: a single stream's recorded settings stay as they were
            self._settings.update(n_parallel=self.n_parallel, n_ctx_seq=self.n_ctx_seq)
        self._pieces: dict[int, bytes] = {}
        self._eog: dict[int, bool] = {}
        self._token_slot = (lib.llama_token * 1)()

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        if self._active is not None:
            self._active.close()  # frees its sampler while the model is still there
            self._active = None
        if self._ctx:
            lib.llama_free(self._ctx)
            self._ctx = None
        if self._model:
            lib.llama_model_free(self._model)
            self._model = None

    def __enter__(self) -> EmbeddedEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    @property
    def raw_context(self) -> object:
        """The llama_context pointer, for callers that drive llama_decode themselves (KL divergence)."""
        self._check_open()
        return self._ctx

    @property
    def raw_vocab(self) -> object:
        self._check_open()
        return self._vocab

    def version(self) -> str:
        return f"llama-cpp-python {metadata.version('llama_cpp_python')}"

    def settings(self) -> dict[str, object]:
        """What a transcript needs besides the chain to run this engine the same way again."""
        return dict(self._settings)

    # -- text <-> tokens ---------------------------------------------------------------------

    def tokenize(self, text: str, *, parse_special: bool = True) -> list[int]:
        """Tokens as llama.cpp's common_tokenize(add_special=True, parse_special) gives them
        (llama-completion parses special tokens in a prompt; llama-perplexity reads a file without)."""
        self._check_open()
        data = text.encode("utf-8")
        capacity = len(data) + 8
        buffer = (lib.llama_token * capacity)()
        count = lib.llama_tokenize(self._vocab, data, len(data), buffer, capacity, True, parse_special)
        if count < 0:  # the buffer was too small: -count is the size needed
            capacity = -count
            buffer = (lib.llama_token * capacity)()
            count = lib.llama_tokenize(self._vocab, data, len(data), buffer, capacity, True, parse_special)
        return list(buffer[:count])

    def token_bytes(self, token: int) -> bytes:
        """The bytes llama-completion prints for a token (special=false: control tokens print nothing)."""
        cached = self._pieces.get(token)
        if cached is None:
            self._check_open()
            buffer = ctypes.create_string_buffer(64)
            size = lib.llama_token_to_piece(self._vocab, token, buffer, len(buffer), 0, False)
            if size < 0:
                buffer = ctypes.create_string_buffer(-size)
                size = lib.llama_token_to_piece(self._vocab, token, buffer, len(buffer), 0, False)
            cached = buffer.raw[:size]
            self._pieces[token] = cached
        return cached

    def metadata(self) -> dict[str, str]:
        """The GGUF key/value pairs as llama.cpp reads them (values in their text form)."""
        self._check_open()
        return _model_metadata(self._model)

    def is_end_of_generation(self, token: int) -> bool:
        self._check_open()
        return bool(lib.llama_vocab_is_eog(self._vocab, token))

    # -- generation --------------------------------------------------------------------------

    def stream(self, request: GenerationRequest) -> EmbeddedStream:
        """A new stream; one that is still open is closed first (they share one context)."""
        self._check_open()
        if self._active is not None:
            self._active.close()
        self._active = EmbeddedStream(self, request)
        return self._active

    def _check_open(self) -> None:
        # The vocabulary and context pointers dangle once freed: fail in Python, not in C.
        if not self._ctx or not self._model:
            raise RuntimeError("EmbeddedEngine used after close()")

    def _decode(self, tokens: ctypes.Array, start: int, count: int) -> None:
        pointer = ctypes.cast(ctypes.byref(tokens, start * ctypes.sizeof(lib.llama_token)),
                              ctypes.POINTER(lib.llama_token))
        status = lib.llama_decode(self._ctx, lib.llama_batch_get_one(pointer, count))
        if status != 0:
            raise EngineError(f"llama_decode failed with status {status}")

    def _run(self, request: GenerationRequest, stream: EmbeddedStream) -> Iterator[Piece]:
        """The generation loop; `stream` receives counts and the finish reason as they happen."""
        prompt_tokens = self.tokenize(request.prompt)
        if not prompt_tokens:
            raise EngineError("the prompt is empty after tokenization")
        if len(prompt_tokens) >= self.n_ctx:
            raise EngineError(f"the prompt has {len(prompt_tokens)} tokens; the context holds {self.n_ctx} "
                              "(raise --ctx-size)")
        stream.n_prompt_tokens = len(prompt_tokens)
        lib.llama_memory_clear(lib.llama_get_memory(self._ctx), True)
        sampler = build_chain(request.chain, self._vocab, self.n_vocab)
        try:
            prompt_array = (lib.llama_token * len(prompt_tokens))(*prompt_tokens)
            for start in range(0, len(prompt_tokens), self.n_batch):
                self._decode(prompt_array, start, min(self.n_batch, len(prompt_tokens) - start))
            # llama.cpp shows the prompt to the chain so penalties and DRY see it.
            for token in prompt_tokens:
                lib.llama_sampler_accept(sampler, token)
            yield from self._sample_loop(sampler, request.n_predict, len(prompt_tokens), stream)
        finally:
            lib.llama_sampler_free(sampler)

    def _sample_loop(self, sampler: object, n_predict: int, n_past: int,
                     stream: EmbeddedStream) -> Iterator[Piece]:
        utf8 = Utf8Pieces()
        slot = self._token_slot
        # One batch for every generated token: it points at `slot`, which each step refills.
        single = lib.llama_batch_get_one(ctypes.cast(slot, ctypes.POINTER(lib.llama_token)), 1)
        eog = self._eog
        remaining = n_predict
        while remaining != 0:
            token = lib.llama_sampler_sample(sampler, self._ctx, -1)  # accepts `token` itself
            is_end = eog.get(token)
            if is_end is None:
                is_end = eog[token] = self.is_end_of_generation(token)
            if is_end:
                stream.finish_reason = FINISH_EOS
                break
            stream.n_generated_tokens += 1
            data = self.token_bytes(token)
            yield Piece(utf8.feed(data), data, 1, token)
            remaining -= 1
            if remaining == 0 or n_past + 1 >= self.n_ctx:
                break
            slot[0] = token
            status = lib.llama_decode(self._ctx, single)
            if status != 0:
                raise EngineError(f"llama_decode failed with status {status}")
            n_past += 1
        if stream.finish_reason is None:  # the limit or a full context, not an end token
            stream.finish_reason = FINISH_LENGTH
        tail = utf8.flush()
        if tail:
            yield Piece(tail, b"", 0, None)


class EmbeddedStream(GeneratorStream):
    """One request's pieces; close() early (the loop guard does) frees its sampler at once."""

    def __init__(self, engine: EmbeddedEngine, request: GenerationRequest) -> None:
        super().__init__()
        self._pieces = engine._run(request, self)

