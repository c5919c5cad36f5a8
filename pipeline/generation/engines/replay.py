"""The replay engine: a recorded transcript streamed back as if a model were producing it.

It lets the loop guard and everything after generation run offline on real recorded output
(a llama-cli `.txt`, a gencheck transcript). Without the model's tokenizer the stream is cut
into token-like pieces (up to 8 letters or digits, up to 8 spaces, or one other character),
which is close to how BPE pre-tokenizers split code; a caller that has the real tokenizer can
pass its own `split`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

from pipeline.generation.engines.base import (
    FINISH_EOS,
    FINISH_LENGTH,
    GenerationRequest,
    GeneratorStream,
    Piece,
)
from pipeline.transcript import Transcript

# BPE vocabularies hold words and runs of whitespace up to some length, so runs are capped.
_TOKEN_LIKE = re.compile(r"[A-Za-z0-9_]{1,8}|[ \t]{1,8}|\n|[^A-Za-z0-9_ \t\n]", re.ASCII)


def split_token_like(text: str) -> list[str]:
    """Pieces that join back to `text` exactly (the pattern covers every character)."""
    return _TOKEN_LIKE.findall(text)


class ReplayEngine:
    """Replays one recorded text for every request; honours the request's token limit."""

    name = "replay"

    def __init__(self, text: str, *, source: str | None = None,
                 finish_reason: str | None = None,
                 split: Callable[[str], list[str]] = split_token_like) -> None:
        self.text = text
        self.source = source
        self.recorded_finish_reason = finish_reason
        self._split = split

    @classmethod
    def from_file(cls, path: Path) -> ReplayEngine:
        transcript = Transcript.load(path)
        return cls(transcript.text, source=str(path), finish_reason=transcript.finish_reason)

    def version(self) -> str:
        return f"replay of {self.source}" if self.source else "replay"

    def stream(self, request: GenerationRequest) -> ReplayStream:
        return ReplayStream(self._split(self.text), request.n_predict, self.recorded_finish_reason)

    def close(self) -> None:
        pass


class ReplayStream(GeneratorStream):
    def __init__(self, pieces: list[str], n_predict: int, recorded_finish: str | None) -> None:
        super().__init__()
        self._pieces = self._run(pieces, n_predict, recorded_finish)

    def _run(self, pieces: list[str], n_predict: int, recorded_finish: str | None) -> Iterator[Piece]:
        if n_predict == 0:
            self.finish_reason = FINISH_LENGTH
            return
        for text in pieces:
            self.n_generated_tokens += 1
            yield Piece(text, text.encode("utf-8"), 1, None)
            if self.n_generated_tokens == n_predict:
                self.finish_reason = FINISH_LENGTH
                return
        # A recording that was cut by its length limit stays a length stop when replayed.
        self.finish_reason = recorded_finish if recorded_finish in (FINISH_EOS, FINISH_LENGTH) else FINISH_EOS

