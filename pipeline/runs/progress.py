"""The live display of a run on stderr: samples done, the current sample's phase and speed, ETA.

Shown only when stderr is a terminal; otherwise every method is a no-op, so logs and CI output
stay clean (the final table still goes to stdout).
"""

from __future__ import annotations

import sys
import time
from typing import Any

from pipeline.generation.generate import ThinkPhase


class RunProgress:
    def __init__(self, total: int, *, enabled: bool | None = None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.total = total
        self.generated = 0
        self.reused = 0
        self.validated = 0
        self.current: str | None = None
        self.tokens = 0
        self._phase: ThinkPhase | None = None
        self._sample_started = 0.0
        self._generation_seconds: list[float] = []
        self._live: Any = None

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> RunProgress:
        if self.enabled:
            from rich.console import Console
            from rich.live import Live

            self._live = Live(console=Console(stderr=True), refresh_per_second=4,
                              get_renderable=self._render, transient=True)
            self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    # -- events ------------------------------------------------------------------------------

    def reused_sample(self) -> None:
        self.reused += 1

    def generating(self, name: str, prompt: str) -> None:
        self.current = name
        self.tokens = 0
        self._phase = ThinkPhase(prompt)
        self._sample_started = time.perf_counter()

    def piece(self, text: str) -> None:
        self.tokens += 1
        if self._phase is not None:
            self._phase.feed(text)

    def generated_sample(self) -> None:
        self._generation_seconds.append(time.perf_counter() - self._sample_started)
        self.generated += 1
        self.current = None

    def validated_sample(self) -> None:
        self.validated += 1

    # -- display -----------------------------------------------------------------------------

    def eta_seconds(self) -> float | None:
        if not self._generation_seconds:
            return None
        mean = sum(self._generation_seconds) / len(self._generation_seconds)
        to_generate = self.total - self.generated - self.reused  # the current sample included
        return max(0.0, mean * to_generate - (time.perf_counter() - self._sample_started
                                                     if self.current else 0.0))

    def _render(self) -> Any:
        from rich.text import Text

        done = self.generated + self.reused
        lines = [f"samples {done}/{self.total} (generated {self.generated}, reused {self.reused}), "
                 f"validated {self.validated}/{self.total}"]
        if self.current is not None:
            elapsed = time.perf_counter() - self._sample_started
            rate = self.tokens / elapsed if elapsed > 0 else 0.0
            phase = self._phase.name if self._phase else ""
            lines.append(f"now: {self.current}: {phase}, {self.tokens} tokens, {rate:.1f} tok/s")
        eta = self.eta_seconds()
        if eta is not None:
            lines.append(f"generation ETA {int(eta // 60)}:{int(eta % 60):02d}")
        elif done == self.total:
            lines.append("waiting for validation")
        return Text("\n".join(lines))
