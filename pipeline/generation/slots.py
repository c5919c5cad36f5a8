"""Slots that generate samples: what the run matrix hands them and hears back.

A run is N slots, each pulling the next cell from one queue of jobs and reporting its sample as
soon as it finishes. One engine stream is one slot (`run_serial`); an embedded engine with
parallel sequences gives N slots in one llama.cpp context (pipeline/generation/parallel.py); a
pool of servers gives each endpoint's slot count (pipeline/generation/endpoint_pool.py). All three speak
the types here, so the matrix (pipeline/runs/matrix.py) does not care which one runs its cells.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pipeline.generation.engines.base import Engine, GenerationRequest, Piece
from pipeline.transcript import Transcript


@dataclass(frozen=True)
class SampleJob:
    """One sample to generate: the request (its chain's seed already concrete) and who asked."""

    tag: Any  # the caller's handle for the cell; slots never look inside
    request: GenerationRequest
    prompt_name: str | None = None
    model_path: Path | None = None


class SlotListener(Protocol):
    """Hears what the slots do. Called on the thread that called `run` (the store's thread)."""

    def started(self, slot: int, job: SampleJob) -> None: ...

    def piece(self, slot: int, piece: Piece) -> None: ...

    def finished(self, slot: int, job: SampleJob, transcript: Transcript) -> None: ...


class SampleSlots(Protocol):
    """Generates every job of `jobs` (pulled lazily, one per free slot), reporting to `listener`."""

    n_slots: int

    def run(self, jobs: Iterator[SampleJob], listener: SlotListener) -> None: ...


class SerialSlots:
    """One slot: each job is one `generate()` on the engine, as a single stream always ran."""

    n_slots = 1

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def run(self, jobs: Iterator[SampleJob], listener: SlotListener) -> None:
        from pipeline.generation.generate import generate

        for job in jobs:
            listener.started(0, job)
            request = job.request
            transcript = generate(self.engine, request.prompt, request.chain, n_predict=request.n_predict,
                                  prompt_name=job.prompt_name, progress=False,
                                  on_piece=lambda piece: listener.piece(0, piece),
                                  model_path=job.model_path)
            listener.finished(0, job, transcript)
