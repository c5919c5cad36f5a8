"""The loop guard: watch a stream of pieces and stop it once the text has entered a loop.

A looping reasoning model burns its whole token budget (16K tokens of spaces, the same line
again and again). The guard feeds every piece to the shared RepetitionDetector
(pipeline/repetition.py, the same one the transcript check uses) and, when it fires, closes the
engine's stream and reports finish reason `loop`. The onset and the stop are recorded in
tokens, so how late the guard stops (stop - onset) can be measured.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pipeline.generation.engines.base import FINISH_LOOP, Piece, PieceStream
from pipeline.repetition import LoopSignal, RepetitionDetector


@dataclass(frozen=True)
class LoopGuardSettings:
    """On by default. `detector` holds RepetitionDetector keyword arguments (thresholds)."""

    enabled: bool = True
    detector: dict[str, Any] = field(default_factory=dict)


class GuardedStream:
    """Wraps a PieceStream; iterating it yields the engine's pieces until the end or a loop."""

    def __init__(self, inner: PieceStream, settings: LoopGuardSettings | None = None) -> None:
        self.settings = settings or LoopGuardSettings()
        self._inner = inner
        self._detector = RepetitionDetector(**self.settings.detector) if self.settings.enabled else None
        self.signal: LoopSignal | None = None
        self._chars = 0
        self._tokens = 0
        # After piece i: characters and tokens seen so far (to turn a char offset into tokens).
        self._char_ends: list[int] = []
        self._token_ends: list[int] = []
        self._stopped_at_token: int | None = None

    # The counts and finish reason of the engine, with `loop` when the guard stopped it.
    @property
    def finish_reason(self) -> str | None:
        return FINISH_LOOP if self.signal is not None else self._inner.finish_reason

    @property
    def n_prompt_tokens(self) -> int:
        return self._inner.n_prompt_tokens

    @property
    def n_generated_tokens(self) -> int:
        return self._inner.n_generated_tokens

    def __iter__(self) -> Iterator[Piece]:
        return self

    def __next__(self) -> Piece:
        if self.signal is not None:
            raise StopIteration
        piece = next(self._inner)
        self._chars += len(piece.text)
        self._tokens += piece.n_tokens
        if self._detector is None:
            return piece
        self._char_ends.append(self._chars)
        self._token_ends.append(self._tokens)
        signal = self._detector.feed(piece.text)
        if signal is not None:
            self.signal = signal
            self._stopped_at_token = self._tokens
            self._inner.close()  # free the engine's sampler now, not when garbage is collected
        return piece

    def close(self) -> None:
        self._inner.close()

    def token_at_char(self, char_offset: int) -> int:
        """How many tokens came before the piece that holds character `char_offset`."""
        index = bisect.bisect_right(self._char_ends, char_offset)
        return self._token_ends[index - 1] if index > 0 else 0

    def report(self) -> dict[str, Any]:
        """What goes in a transcript's `loop_guard`."""
        if not self.settings.enabled:
            return {"enabled": False}
        report: dict[str, Any] = {"enabled": True, "stopped": self.signal is not None}
        if self.signal is not None and self._stopped_at_token is not None:
            onset = self.token_at_char(self.signal.onset_char)
            report.update(
                onset_char=self.signal.onset_char,
                onset_token=onset,
                stop_token=self._stopped_at_token,
                tokens_after_onset=self._stopped_at_token - onset,
                period_chars=self.signal.period,
                reason=self.signal.reason,
            )
        return report
