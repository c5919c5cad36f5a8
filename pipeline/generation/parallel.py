"""N samples decoded together in one llama.cpp context: llama.cpp's parallel sequences (-np).

Decoding is memory-bound: one step over N sequences costs little more than over one, because
the weights are read once per step. So each step puts every active sequence's last token into
one llama_batch (its own position and sequence id, logits on), decodes once, and samples each
sequence from its row of logits with its own sampler chain and seed. A slot whose sample ends
(an end token, its limit, a full share of the context, the loop guard) clears its sequence's KV
cells and takes the next job at once; its prompt is decoded alone before the next shared step.
This is the scheme of llama.cpp's examples/parallel and tools/batched-bench, written anew.

Every sequence goes through the same SampleRecording as a single stream (loop guard, text,
transcript), fed through a PushedStream. The limits mirror EmbeddedEngine._sample_loop exactly,
with the sequence's share of the context (llama_n_ctx_seq) in place of the whole context.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import llama_cpp as lib

from pipeline.generation.engines.base import (
    FINISH_EOS,
    FINISH_LENGTH,
    Piece,
    PushedStream,
    Utf8Pieces,
)
from pipeline.generation.engines.embedded import EmbeddedEngine, EngineError
from pipeline.generation.engines.sampler_build import build_chain
from pipeline.generation.generate import SampleRecording
from pipeline.generation.loop_guard import LoopGuardSettings
from pipeline.generation.slots import SampleJob, SlotListener


@dataclass
class _Sequence:
    """One slot's sample in flight: its sequence id is its slot number."""

    slot: int
    job: SampleJob
    stream: PushedStream
    recording: SampleRecording
    sampler: Any
    n_past: int = 0
    remaining: int = -1
    pending_token: int = -1
    utf8: Utf8Pieces = field(default_factory=Utf8Pieces)


class ParallelSequences:
    """`engine.n_parallel` slots over one EmbeddedEngine (built with n_parallel=N)."""

    def __init__(self, engine: EmbeddedEngine, *, loop_guard: LoopGuardSettings | None = None) -> None:
        self.engine = engine
        self.loop_guard = loop_guard
        self.n_slots = engine.n_parallel
        self._ctx = engine._ctx
        self._memory = lib.llama_get_memory(engine._ctx)
        # Room for a prompt chunk or one token of every slot, whichever is larger.
        self._capacity = max(engine.n_batch, self.n_slots)
        self._batch = lib.llama_batch_init(self._capacity, 0, 1)
        # The shared steps' wall time and the tokens they produced (bench/parallel.py reads them).
        self.step_seconds = 0.0
        self.step_tokens = 0

    def close(self) -> None:
        if self._batch is not None:
            lib.llama_batch_free(self._batch)
            self._batch = None

    def __del__(self) -> None:
        self.close()

    # -- the schedule ------------------------------------------------------------------------

    def run(self, jobs: Iterator[SampleJob], listener: SlotListener) -> None:
        slots: list[_Sequence | None] = [None] * self.n_slots
        more_jobs = True
        try:
            while True:
                for slot in range(self.n_slots):
                    # A sample can end at its first token; the slot then takes the next job.
                    while slots[slot] is None and more_jobs:
                        job = next(jobs, None)
                        if job is None:
                            more_jobs = False
                            break
                        slots[slot] = self._start(slot, job, listener)
                active = [sequence for sequence in slots if sequence is not None]
                if not active:
                    return
                started = time.perf_counter()
                self._step(active)
                for index, sequence in enumerate(active):
                    sequence.n_past += 1
                    token = lib.llama_sampler_sample(sequence.sampler, self._ctx, index)
                    if not self._advance(sequence, token, listener):
                        slots[sequence.slot] = None
                self.step_seconds += time.perf_counter() - started
                self.step_tokens += len(active)
        finally:
            for sequence in slots:
                if sequence is not None:
                    lib.llama_sampler_free(sequence.sampler)

    def _start(self, slot: int, job: SampleJob, listener: SlotListener) -> _Sequence | None:
        """Decode the job's prompt into the slot's sequence and sample its first token."""
        engine, request = self.engine, job.request
        tokens = engine.tokenize(request.prompt)
        if not tokens:
            raise EngineError("the prompt is empty after tokenization")
        if len(tokens) >= engine.n_ctx_seq:
            raise EngineError(f"the prompt has {len(tokens)} tokens; each of the {self.n_slots} parallel "
                              f"sequences holds {engine.n_ctx_seq} (raise -c or lower --parallel)")
        lib.llama_memory_seq_rm(self._memory, slot, -1, -1)  # the slot's previous sample
        stream = PushedStream()
        stream.n_prompt_tokens = len(tokens)
        recording = SampleRecording(engine, request, stream, prompt_name=job.prompt_name, progress=False,
                                    model_path=job.model_path, loop_guard=self.loop_guard)
        listener.started(slot, job)
        sequence = _Sequence(slot, job, stream, recording, build_chain(request.chain, engine._vocab, engine.n_vocab),
                             n_past=len(tokens), remaining=request.n_predict)
        try:
            for start in range(0, len(tokens), engine.n_batch):
                chunk = tokens[start:start + engine.n_batch]
                self._fill(((token, start + i, slot) for i, token in enumerate(chunk)), logits_last_only=True)
                self._decode()
            for token in tokens:  # llama.cpp shows the prompt to the chain so penalties and DRY see it
                lib.llama_sampler_accept(sequence.sampler, token)
            first = lib.llama_sampler_sample(sequence.sampler, self._ctx, len(chunk) - 1)
        except BaseException:
            lib.llama_sampler_free(sequence.sampler)
            raise
        return sequence if self._advance(sequence, first, listener) else None

    def _step(self, active: list[_Sequence]) -> None:
        self._fill(((s.pending_token, s.n_past, s.slot) for s in active), logits_last_only=False)
        self._decode()

    def _advance(self, sequence: _Sequence, token: int, listener: SlotListener) -> bool:
        """Take a sampled token; False when the sample ended (it is then finished and reported)."""
        engine, stream = self.engine, sequence.stream
        is_end = engine._eog.get(token)
        if is_end is None:
            is_end = engine._eog[token] = engine.is_end_of_generation(token)
        if is_end:
            stream.finish_reason = FINISH_EOS
            return self._finish(sequence, listener)
        stream.n_generated_tokens += 1
        data = engine.token_bytes(token)
        self._deliver(sequence, Piece(sequence.utf8.feed(data), data, 1, token), listener)
        if stream.closed:  # the loop guard stopped it
            return self._finish(sequence, listener)
        sequence.remaining -= 1
        if sequence.remaining == 0 or sequence.n_past + 1 >= engine.n_ctx_seq:
            return self._finish(sequence, listener)
        sequence.pending_token = token
        return True

    def _deliver(self, sequence: _Sequence, piece: Piece, listener: SlotListener) -> None:
        sequence.stream.push(piece)
        taken = next(sequence.recording.guarded, None)
        if taken is not None:
            sequence.recording.take(taken)
            listener.piece(sequence.slot, taken)

    def _finish(self, sequence: _Sequence, listener: SlotListener) -> bool:
        stream = sequence.stream
        if stream.finish_reason is None:  # the limit or a full share of the context
            stream.finish_reason = FINISH_LENGTH
        tail = sequence.utf8.flush()
        if tail and not stream.closed:
            self._deliver(sequence, Piece(tail, b"", 0, None), listener)
        lib.llama_sampler_free(sequence.sampler)
        sequence.sampler = None
        listener.finished(sequence.slot, sequence.job, sequence.recording.transcript())
        return False

    # -- the batch ---------------------------------------------------------------------------

    def _fill(self, entries: Iterator[tuple[int, int, int]], *, logits_last_only: bool) -> None:
        """Write (token, position, sequence id) entries into the batch."""
        batch = self._batch
        count = 0
        for token, position, seq_id in entries:
            batch.token[count] = token
            batch.pos[count] = position
            batch.n_seq_id[count] = 1
            batch.seq_id[count][0] = seq_id
            batch.logits[count] = not logits_last_only
            count += 1
        if logits_last_only and count:
            batch.logits[count - 1] = True
        batch.n_tokens = count

    def _decode(self) -> None:
        status = lib.llama_decode(self._ctx, self._batch)
        if status != 0:
            raise EngineError(f"llama_decode failed with status {status}"
                              + (" (the KV cache is full)" if status == 1 else ""))

