"""What every engine speaks: a request in, a stream of text pieces out.

An engine owns a loaded model (or a connection) and can serve many requests in one process;
each request gets its own sampler chain and a fresh context, so one sample never leaks into
the next. Streams are iterators of `Piece`s; when exhausted (or closed early by the loop guard)
they report why they ended and how many tokens they saw.
"""

from __future__ import annotations

import codecs
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Protocol

from pipeline.sampling.chain import SamplerChain

# Why a stream ended on its own. The loop guard adds "loop" on top of these.
FINISH_EOS = "eos"
FINISH_LENGTH = "length"
FINISH_LOOP = "loop"


@dataclass(frozen=True)
class GenerationRequest:
    """One generation: the prompt text exactly as it is tokenized, the chain, a token limit.

    `n_predict` < 0 means no limit (until end of generation or a full context), as in llama.cpp.
    """

    prompt: str
    chain: SamplerChain
    n_predict: int = -1


@dataclass(frozen=True)
class Piece:
    """A step of the stream: the bytes the engine produced and the text they complete.

    `text` holds only whole UTF-8 characters: a character split across tokens arrives with the
    token that completes it, so `text` may be "" for a token. `data` keeps the raw bytes so a
    raw transcript can be written byte for byte. `n_tokens` is how many tokens this piece covers
    (1 for a live engine; a replayed transcript may chunk differently).
    """

    text: str
    data: bytes
    n_tokens: int = 1
    token: int | None = None


class PieceStream(Protocol):
    """An iterator of pieces that knows, once finished, why it ended."""

    finish_reason: str | None
    n_prompt_tokens: int
    n_generated_tokens: int

    def __iter__(self) -> Iterator[Piece]: ...

    def __next__(self) -> Piece: ...

    def close(self) -> None: ...


class Engine(Protocol):
    """Where tokens come from."""

    name: str

    def version(self) -> str: ...

    def stream(self, request: GenerationRequest) -> PieceStream: ...

    def close(self) -> None: ...


class GeneratorStream:
    """A PieceStream over a generator of pieces that fills in the counters as it runs.

    Closing it closes the generator, which runs its `finally` blocks: that is how an early stop
    (the loop guard) frees a sampler or a connection at once.
    """

    def __init__(self) -> None:
        self.finish_reason: str | None = None
        self.n_prompt_tokens = 0
        self.n_generated_tokens = 0
        self._pieces: Generator[Piece, None, None] = _no_pieces()

    def __iter__(self) -> Iterator[Piece]:
        return self

    def __next__(self) -> Piece:
        return next(self._pieces)

    def close(self) -> None:
        self._pieces.close()


def _no_pieces() -> Generator[Piece, None, None]:
    yield from ()


class Utf8Pieces:
    """Turns a run of token byte strings into whole-character text, holding split characters back.

    Invalid bytes (a model can emit any byte) become U+FFFD as soon as they are known to be
    invalid; an incomplete character at the very end becomes U+FFFD on `flush()`.
    """

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def feed(self, data: bytes) -> str:
        return self._decoder.decode(data)

    def flush(self) -> str:
        return self._decoder.decode(b"", final=True)


class PushedStream:
    """A PieceStream fed from outside, one piece at a time.

    Parallel sequences are decoded by one scheduler that pushes each sequence's next piece;
    the sample's consumer (the loop guard, the transcript) pulls it right after, so the same
    pull-based code serves one stream and many. `closed` tells the scheduler the consumer
    stopped the sequence (the loop guard closes its stream).
    """

    def __init__(self) -> None:
        self.finish_reason: str | None = None
        self.n_prompt_tokens = 0
        self.n_generated_tokens = 0
        self.closed = False
        self._next: Piece | None = None

    def push(self, piece: Piece) -> None:
        self._next = piece

    def __iter__(self) -> Iterator[Piece]:
        return self

    def __next__(self) -> Piece:
        if self.closed or self._next is None:
            raise StopIteration
        piece, self._next = self._next, None
        return piece

    def close(self) -> None:
        self.closed = True
