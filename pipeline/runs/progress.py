"""The live display of a run on stderr: per slot what it generates now, overall speed and ETA.

A run has one or more slots (one stream, parallel sequences, a pool of endpoints). Each slot
shows its sample's phase (thinking or answer), tokens and speed; the overall line sums the
tokens per second over the slots and counts the samples done. The ETA divides the samples left
by the rate samples have finished at so far, so N slots finishing N at a time count N-fold.

Shown only when stderr is a terminal; otherwise every method is a no-op, so logs and CI output
stay clean (the final table still goes to stdout). Events may come from pool threads: each
slot's state is its own object, and counters are plain integer updates.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any

from pipeline.generation.generate import ThinkPhase

# Overall tok/s is measured over the last few seconds, so a finished burst does not linger.
RATE_WINDOW_S = 5.0


@dataclass
class SlotState:
    name: str
    phase: ThinkPhase
    started: float = field(default_factory=time.perf_counter)
    tokens: int = 0


class RunProgress:
    def __init__(self, total: int, *, enabled: bool | None = None, n_slots: int = 1) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.total = total
        self.n_slots = n_slots
        self.generated = 0
        self.reused = 0
        self.validated = 0
        self.slots: dict[int, SlotState] = {}
        self.tokens = 0  # over the whole run
        self._started: float | None = None  # the first generation's start
        self._token_times: list[tuple[float, int]] = []
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

    def generating(self, name: str, prompt: str, slot: int = 0) -> None:
        if self._started is None:
            self._started = time.perf_counter()
        self.slots[slot] = SlotState(name, ThinkPhase(prompt))

    def piece(self, text: str, slot: int = 0) -> None:
        self.tokens += 1
        state = self.slots.get(slot)
        if state is not None:
            state.tokens += 1
            state.phase.feed(text)

    def generated_sample(self, slot: int = 0) -> None:
        self.generated += 1
        self.slots.pop(slot, None)

    def requeued_sample(self, slot: int = 0) -> None:
        """A slot's sample was given back (its endpoint failed); another slot will redo it."""
        self.slots.pop(slot, None)

    def validated_sample(self) -> None:
        self.validated += 1

    # -- figures -----------------------------------------------------------------------------

    def tokens_per_second(self) -> float:
        """Summed over the slots, over the last RATE_WINDOW_S seconds."""
        now = time.perf_counter()
        self._token_times.append((now, self.tokens))
        while len(self._token_times) > 1 and now - self._token_times[0][0] > RATE_WINDOW_S:
            self._token_times.pop(0)
        then, tokens_then = self._token_times[0]
        return (self.tokens - tokens_then) / (now - then) if now > then else 0.0

    def eta_seconds(self) -> float | None:
        if not self.generated or self._started is None:
            return None
        elapsed = time.perf_counter() - self._started
        to_generate = self.total - self.generated - self.reused  # those in flight included
        return max(0.0, elapsed / self.generated * to_generate)

    def _render(self) -> Any:
        from rich.text import Text

        done = self.generated + self.reused
        lines = [f"samples {done}/{self.total} (generated {self.generated}, reused {self.reused}), "
                 f"validated {self.validated}/{self.total}, {self.tokens_per_second():.1f} tok/s"
                 + (f" over {self.n_slots} slots" if self.n_slots > 1 else "")]
        now = time.perf_counter()
        for slot, state in sorted(list(self.slots.items())):
            elapsed = now - state.started
            rate = state.tokens / elapsed if elapsed > 0 else 0.0
            where = f"slot {slot}" if self.n_slots > 1 else "now"
            lines.append(f"{where}: {state.name}: {state.phase.name}, {state.tokens} tokens, {rate:.1f} tok/s")
        eta = self.eta_seconds()
        if eta is not None:
            lines.append(f"generation ETA {int(eta // 60)}:{int(eta % 60):02d}")
        elif done == self.total:
            lines.append("waiting for validation")
        return Text("\n".join(lines))
