"""The logits of every scored position of some token sequences, from llama.cpp in this process.

The model and context come from pipeline.generation.engines.embedded; this module only builds batches
with an output flag per position and copies the float32 logits out. Sequences decoded together
get their own sequence ids, the way llama-perplexity scores n_batch / n_ctx chunks per decode.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import llama_cpp as lib
import numpy as np

from pipeline.generation.engines.embedded import DEFAULT_N_BATCH, EmbeddedEngine, EngineError

MIN_CELLS_PER_SEQUENCE = 256


@dataclass(frozen=True)
class Window:
    """Tokens decoded from position 0 on a cleared cache; positions `first`.. get logits.

    Position p's logits predict tokens[p + 1], so the last position is never scored.
    """

    tokens: np.ndarray  # int32
    first: int

    @property
    def n_scored(self) -> int:
        return max(0, len(self.tokens) - 1 - self.first)


class LogitsModel:
    """A GGUF loaded for scoring: tokenize, render tokens, and decode windows to logits."""

    def __init__(self, model_path: str | os.PathLike[str], *, n_ctx: int, n_seq: int = 1,
                 n_batch: int = DEFAULT_N_BATCH, n_threads: int | None = None) -> None:
        self.n_seq = max(1, n_seq)
        n_batch = max(n_batch, 1)
        # llama.cpp gives each sequence at least 256 cells (and warns when asked for fewer):
        # ask for that much, so the context is what it will be anyway, without the warning.
        n_ctx = max(n_ctx, MIN_CELLS_PER_SEQUENCE)
        self.engine = EmbeddedEngine(Path(model_path), n_ctx=n_ctx * self.n_seq, n_batch=n_batch,
                                     n_ubatch=min(512, n_batch), n_threads=n_threads,
                                     n_parallel=self.n_seq)
        self.n_vocab = self.engine.n_vocab
        self.n_ctx_per_seq = self.engine.n_ctx // self.n_seq
        self.n_batch = self.engine.n_batch
        vocab = self.engine.raw_vocab
        self.add_bos = bool(lib.llama_vocab_get_add_bos(vocab))
        self.bos = int(lib.llama_vocab_bos(vocab))
        self._pieces: dict[int, bytes] = {}

    def close(self) -> None:
        self.engine.close()

    def __enter__(self) -> LogitsModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def tokenize(self, text: str, *, parse_special: bool = True) -> np.ndarray:
        """common_tokenize(text, add_special=True, parse_special)."""
        return np.asarray(self.engine.tokenize(text, parse_special=parse_special), dtype=np.int32)

    def piece(self, token: int) -> bytes:
        """A token's bytes with special tokens spelled out (`<think>` shows), for regions and context."""
        cached = self._pieces.get(token)
        if cached is None:
            buffer = ctypes.create_string_buffer(64)
            size = lib.llama_token_to_piece(self.engine.raw_vocab, token, buffer, len(buffer), 0, True)
            if size < 0:
                buffer = ctypes.create_string_buffer(-size)
                size = lib.llama_token_to_piece(self.engine.raw_vocab, token, buffer, len(buffer), 0, True)
            cached = self._pieces[token] = buffer.raw[:max(size, 0)]
        return cached

    def blocks(self, windows: list[Window], *, bos_first: bool = False) -> Iterator[tuple[int, np.ndarray]]:
        """(window index, logits of its next scored positions), window after window, in order.

        Up to n_seq windows go into one batch when they fit in n_batch; a longer window is
        decoded n_batch tokens at a time, and each decode's logits are handed on before the next
        (a 16k-token text on a 152k vocabulary would be 10 GB at once). `bos_first` puts BOS in
        place of each window's first token when the model adds one (llama-perplexity's chunks).
        """
        step = self.n_seq if all(len(w.tokens) * self.n_seq <= self.n_batch for w in windows) else 1
        for start in range(0, len(windows), step):
            for seq, block in self._decode_group(windows[start:start + step], bos_first):
                yield start + seq, block

    def _decode_group(self, group: list[Window], bos_first: bool) -> Iterator[tuple[int, np.ndarray]]:
        ctx = self.engine.raw_context
        for window in group:
            if len(window.tokens) > self.n_ctx_per_seq:
                raise EngineError(f"a window of {len(window.tokens)} tokens does not fit the context of "
                                  f"{self.n_ctx_per_seq} per sequence")
        lib.llama_memory_clear(lib.llama_get_memory(ctx), True)
        longest = max(len(w.tokens) for w in group)
        span = self.n_batch if len(group) == 1 else longest
        for offset in range(0, longest, span):
            parts = []  # per window: (tokens, positions, seq id, wants logits) of this slice
            for seq, window in enumerate(group):
                stop = min(offset + span, len(window.tokens))
                if stop <= offset:
                    continue
                positions = np.arange(offset, stop, dtype=np.int32)
                tokens = window.tokens[offset:stop].astype(np.int32, copy=True)
                if bos_first and offset == 0 and self.add_bos:
                    tokens[0] = self.bos
                wanted = (positions >= window.first) & (positions < len(window.tokens) - 1)
                parts.append((tokens, positions, seq, wanted))
            if not parts:
                continue
            outputs = self._decode(parts)
            row = 0
            for _, _, seq, wanted in parts:
                count = int(wanted.sum())
                if count:
                    yield seq, outputs[row:row + count]
                row += count

    def _decode(self, parts: list[tuple[np.ndarray, np.ndarray, int, np.ndarray]]) -> np.ndarray:
        tokens = np.concatenate([p[0] for p in parts])
        n = len(tokens)
        wanted = np.concatenate([p[3] for p in parts])
        batch = lib.llama_batch_init(n, 0, 1)
        try:
            np.ctypeslib.as_array(batch.token, shape=(n,))[:] = tokens
            np.ctypeslib.as_array(batch.pos, shape=(n,))[:] = np.concatenate([p[1] for p in parts])
            np.ctypeslib.as_array(batch.n_seq_id, shape=(n,))[:] = 1
            np.ctypeslib.as_array(ctypes.cast(batch.logits, ctypes.POINTER(ctypes.c_int8)), shape=(n,))[:] = wanted
            i = 0
            for p in parts:  # seq_id is an array of per-token pointers: filled one by one
                seq = p[2]
                for _ in range(len(p[0])):
                    batch.seq_id[i][0] = seq
                    i += 1
            batch.n_tokens = n
            status = lib.llama_decode(self.engine.raw_context, batch)
            if status != 0:
                raise EngineError(f"llama_decode failed with status {status}")
            n_out = int(wanted.sum())
            if n_out == 0:
                return np.zeros((0, self.n_vocab), dtype=np.float32)
            pointer = lib.llama_get_logits(self.engine.raw_context)
            return np.ctypeslib.as_array(pointer, shape=(n_out, self.n_vocab)).copy()
        finally:
            lib.llama_batch_free(batch)
