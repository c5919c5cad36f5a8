"""prompt + sampler chain + settings + seed -> Transcript, streamed through the loop guard.

One function, `generate()`, serves the CLI and the run matrix alike: the engine is loaded once
by the caller and reused for every sample. A chain whose seed is llama.cpp's "random" gets a
concrete seed drawn here, so every transcript records the seed that reproduces it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from pipeline.cache_dir import default_cache_dir
from pipeline.errors import UsageError
from pipeline.generation.engines.base import Engine, GenerationRequest, Piece, PieceStream
from pipeline.generation.loop_guard import GuardedStream, LoopGuardSettings
from pipeline.sampling.chain import LLAMA_DEFAULT_SEED, SamplerChain
from pipeline.transcript import FINISH_ERROR, FINISH_INTERRUPTED, Transcript

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
PROGRESS_INTERVAL_S = 0.25
ANNOUNCE_HASH_BYTES = 1 << 30


class GenerationInterrupted(KeyboardInterrupt):
    """Ctrl-C during a generation, carrying the transcript of what was generated before it.

    A KeyboardInterrupt still, so a caller that does not look for it stops as on any Ctrl-C;
    `gencheck generate` catches it to write the partial transcript (finish reason `interrupted`).
    """

    def __init__(self, transcript: Transcript) -> None:
        super().__init__()
        self.transcript = transcript


class GenerationFailed(UsageError):
    """The engine failed after its first token (a server that went away, a decode error),
    carrying the transcript of what came before (finish reason `error`). A UsageError still:
    one line, exit 2."""

    def __init__(self, message: str, transcript: Transcript) -> None:
        super().__init__(message)
        self.transcript = transcript


def concrete_seed(chain: SamplerChain) -> SamplerChain:
    """The chain with a recorded seed: a random one drawn here when llama.cpp would draw it."""
    if chain.seed != LLAMA_DEFAULT_SEED:  # llama.cpp would draw a seed it never reports
        return chain
    return dataclasses.replace(chain, seed=secrets.randbelow(LLAMA_DEFAULT_SEED))


# -- model file hash: once per file, remembered by path + size + mtime -------------------------

_hash_memory: dict[tuple[str, int, int], str] = {}


def _hash_cache_file() -> Path:
    return default_cache_dir() / "sha256-cache.json"


def file_sha256(path: str | os.PathLike[str]) -> str:
    """sha256 of a (possibly 20 GB) model file, computed once and remembered on disk."""
    resolved = Path(path).resolve()
    stat = resolved.stat()
    key = (str(resolved), stat.st_size, stat.st_mtime_ns)
    if key in _hash_memory:
        return _hash_memory[key]
    disk_key = f"{key[0]}|{key[1]}|{key[2]}"
    cache_file = _hash_cache_file()
    try:
        stored: dict[str, str] = json.loads(cache_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        stored = {}
    digest = stored.get(disk_key)
    if digest is None:
        if stat.st_size >= ANNOUNCE_HASH_BYTES:  # tens of seconds for a 20 GB quant: say why
            print(f"gencheck: computing the sha256 of {resolved.name} (once per file)...",
                  file=sys.stderr, flush=True)
        h = hashlib.sha256()
        with resolved.open("rb") as handle:
            while chunk := handle.read(1 << 22):
                h.update(chunk)
        digest = h.hexdigest()
        stored[disk_key] = digest
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache_file.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(stored, indent=1), encoding="utf-8")
            tmp.replace(cache_file)
        except OSError:
            pass  # a read-only cache only costs a re-hash next time
    _hash_memory[key] = digest
    return digest


# -- progress -----------------------------------------------------------------------------------

class ThinkPhase:
    """Tracks whether the stream is inside <think> ... </think>, tags split across pieces included."""

    def __init__(self, prompt: str) -> None:
        self.thinking = prompt.rfind(THINK_OPEN) > prompt.rfind(THINK_CLOSE)
        self._tail = ""

    def feed(self, text: str) -> None:
        window = self._tail + text
        opened, closed = window.rfind(THINK_OPEN), window.rfind(THINK_CLOSE)
        if opened > closed:
            self.thinking = True
        elif closed > opened:
            self.thinking = False
        self._tail = window[-(len(THINK_CLOSE) - 1):]

    @property
    def name(self) -> str:
        return "thinking" if self.thinking else "answer"


class ProgressLine:
    """One self-overwriting stderr line: phase, tokens, tokens/s, elapsed. Silent off a terminal."""

    def __init__(self, prompt: str, stream: TextIO | None = None, enabled: bool | None = None) -> None:
        self.out = stream or sys.stderr
        self.enabled = self.out.isatty() if enabled is None else enabled
        self.phase = ThinkPhase(prompt)
        self.start = time.perf_counter()
        self._last = 0.0

    def update(self, piece: Piece, n_tokens: int) -> None:
        self.phase.feed(piece.text)
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self._last >= PROGRESS_INTERVAL_S:
            self._last = now
            self._write(n_tokens, now - self.start)

    def _write(self, n_tokens: int, elapsed: float) -> None:
        rate = n_tokens / elapsed if elapsed > 0 else 0.0
        self.out.write(f"\r{self.phase.name:8s} {n_tokens:6d} tokens  {rate:7.1f} tok/s  {elapsed:6.1f} s ")
        self.out.flush()

    def finish(self, n_tokens: int, reason: str | None) -> None:
        if self.enabled:
            self._write(n_tokens, time.perf_counter() - self.start)
            self.out.write(f" {reason}\n")
            self.out.flush()


# -- generation ---------------------------------------------------------------------------------

class SampleRecording:
    """One sample as it is generated: the loop guard over its stream, its text, its timing.

    `generate()` pulls pieces through it from an engine's stream; the parallel-sequence
    scheduler pushes them (a PushedStream) and pulls each right after. Either way the loop
    guard, the progress line and the transcript are the same code.
    """

    def __init__(self, engine: Engine, request: GenerationRequest, stream: PieceStream, *,
                 prompt_name: str | None = None, loop_guard: LoopGuardSettings | None = None,
                 progress: bool | None = None, on_piece: Callable[[Piece], None] | None = None,
                 model_path: str | os.PathLike[str] | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        self.engine, self.request = engine, request
        self.prompt_name, self.model_path, self.extra = prompt_name, model_path, extra
        self.on_piece = on_piece
        self.line = ProgressLine(request.prompt, enabled=progress)
        self.started = time.perf_counter()
        self.first_piece_at: float | None = None  # prompt decoding plus the first token
        self.guarded = GuardedStream(stream, loop_guard or LoopGuardSettings())
        self.parts: list[str] = []

    def take(self, piece: Piece) -> None:
        """Record a piece the guard let through."""
        if self.first_piece_at is None:
            self.first_piece_at = time.perf_counter() - self.started
        self.parts.append(piece.text)
        if self.on_piece is not None:
            self.on_piece(piece)
        self.line.update(piece, self.guarded.n_generated_tokens)

    def transcript(self, stopped_by: str | None = None) -> Transcript:
        """The finished sample; `stopped_by` is `interrupted` or `error` when it did not end on its own."""
        stream, engine, chain = self.guarded, self.engine, self.request.chain
        seconds = time.perf_counter() - self.started
        finish_reason = stopped_by or stream.finish_reason or "unknown"
        self.line.finish(stream.n_generated_tokens, finish_reason)
        path = self.model_path if self.model_path is not None else getattr(engine, "model_path", None)
        sha = file_sha256(path) if path is not None and Path(path).is_file() else None
        n_generated = stream.n_generated_tokens
        return Transcript(
            text="".join(self.parts),
            prompt_name=self.prompt_name,
            prompt=self.request.prompt,
            model_path=str(path) if path is not None else None,
            model_sha256=sha,
            engine=engine.name,
            engine_version=engine.version(),
            chain=chain.to_dict(),
            seed=chain.seed,
            n_prompt_tokens=stream.n_prompt_tokens,
            n_generated_tokens=n_generated,
            seconds=round(seconds, 4),
            tokens_per_second=round(n_generated / seconds, 2) if seconds > 0 else None,
            finish_reason=finish_reason,
            loop_guard=stream.report(),
            extra={"n_predict": self.request.n_predict,
                   "seconds_to_first_token": _rounded(self.first_piece_at),
                   **_engine_settings(engine), **(self.extra or {})},
        )


def generate(
    engine: Engine,
    prompt: str,
    chain: SamplerChain,
    *,
    n_predict: int = -1,
    prompt_name: str | None = None,
    loop_guard: LoopGuardSettings | None = None,
    progress: bool | None = None,
    on_piece: Callable[[Piece], None] | None = None,
    model_path: str | os.PathLike[str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Transcript:
    """Run one sample. `prompt` is fed verbatim (wrap it in the chat template before).

    `progress`: None = a progress line on stderr only when stderr is a terminal.
    `on_piece` sees every piece as it arrives (e.g. to echo raw bytes).
    `model_path` defaults to the engine's `model_path`; its sha256 is recorded when it is a file.
    `extra` goes into the transcript's `extra`, beside the token limit and the engine's settings.
    Ctrl-C raises GenerationInterrupted with the partial transcript (finish reason `interrupted`),
    an engine failure GenerationFailed (finish reason `error`).
    """
    request = GenerationRequest(prompt=prompt, chain=concrete_seed(chain), n_predict=n_predict)
    recording = SampleRecording(engine, request, engine.stream(request), prompt_name=prompt_name,
                                loop_guard=loop_guard, progress=progress, on_piece=on_piece,
                                model_path=model_path, extra=extra)
    stream = recording.guarded
    stopped_by: str | None = None  # interrupted or error: the run did not end on its own
    failure: UsageError | None = None
    try:
        for piece in stream:
            recording.take(piece)
    except KeyboardInterrupt:  # what came before is still a transcript: build it, then raise
        stopped_by = FINISH_INTERRUPTED
    except UsageError as error:  # the engine's one-line failures (EngineError, ServerError)
        if stream.n_generated_tokens == 0:
            raise  # before the first token (prompt too long, server unreachable): nothing to keep
        stopped_by, failure = FINISH_ERROR, error
    finally:
        stream.close()
    transcript = recording.transcript(stopped_by)
    if failure is not None:
        raise GenerationFailed(str(failure), transcript) from failure
    if stopped_by == FINISH_INTERRUPTED:
        raise GenerationInterrupted(transcript)
    return transcript


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 4)


def _engine_settings(engine: Engine) -> dict[str, Any]:
    settings = getattr(engine, "settings", None)
    return {"engine_settings": settings()} if callable(settings) else {}
