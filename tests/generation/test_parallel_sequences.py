"""Parallel sequences in one llama.cpp context, on the real tiny model.

The tiny model's logits depend only on the current token (zero attention and FFN), so they do
not depend on what else is in the batch: every seed's text must come out byte for byte as the
single stream makes it, whatever the number of sequences decoded beside it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.generation.engines.base import GenerationRequest, Piece
from pipeline.generation.engines.embedded import EmbeddedEngine, EngineError
from pipeline.generation.parallel import ParallelSequences
from pipeline.generation.slots import SampleJob, SampleSlots, SerialSlots
from pipeline.sampling.chain import SamplerChain
from pipeline.sampling.presets import preset
from pipeline.transcript import Transcript
from prompts import DEFAULT_PROMPT, load_prompt

N_PREDICT = 300
SHARE = 2048  # each sequence's context in these tests: the prompt (479 tokens) + the limits fit


class Recorder:
    """Every event the slots report, in order."""

    def __init__(self) -> None:
        self.transcripts: dict[object, Transcript] = {}
        self.slot_of: dict[object, int] = {}
        self.pieces: dict[object, list[Piece]] = {}
        self._current: dict[int, object] = {}
        self.finish_order: list[object] = []

    def started(self, slot: int, job: SampleJob) -> None:
        self._current[slot] = job.tag
        self.slot_of[job.tag] = slot
        self.pieces[job.tag] = []

    def piece(self, slot: int, piece: Piece) -> None:
        self.pieces[self._current[slot]].append(piece)

    def finished(self, slot: int, job: SampleJob, transcript: Transcript) -> None:
        assert job.tag not in self.transcripts, f"{job.tag} reported twice"
        self.transcripts[job.tag] = transcript
        self.finish_order.append(job.tag)


def jobs_for(chain: SamplerChain, seeds: range, n_predict: int = N_PREDICT) -> list[SampleJob]:
    prompt = load_prompt(DEFAULT_PROMPT).wrapped()
    return [SampleJob(seed, GenerationRequest(prompt, chain.with_seed(seed), n_predict)) for seed in seeds]


def run_slots(slots: SampleSlots, jobs: list[SampleJob]) -> Recorder:
    recorder = Recorder()
    slots.run(iter(jobs), recorder)
    return recorder


@pytest.fixture(scope="module")
def single(tiny_model: Path):
    with EmbeddedEngine(tiny_model, n_ctx=SHARE, n_threads=1) as engine:
        yield engine


@pytest.fixture(scope="module")
def eight(tiny_model: Path):
    with EmbeddedEngine(tiny_model, n_ctx=8 * SHARE, n_threads=1, n_parallel=8) as engine:
        sequences = ParallelSequences(engine)
        yield sequences
        sequences.close()


def test_every_seed_is_byte_identical_at_one_and_eight_sequences(single: EmbeddedEngine,
                                                                   eight: ParallelSequences) -> None:
    # The write-up's chain on the tiny model: some seeds end on an end token, some at the
    # limit, some are stopped by the loop guard; 12 seeds on 8 slots make slots take new jobs.
    jobs = jobs_for(preset("unsloth-qwq"), range(1, 12))
    jobs += jobs_for(preset("unsloth-qwq").with_params(temp=0.0), range(12, 13), n_predict=1500)  # loops
    alone = run_slots(SerialSlots(single), jobs)
    together = run_slots(eight, jobs)
    assert set(alone.transcripts) == set(together.transcripts) == set(range(1, 13))
    assert {t.finish_reason for t in alone.transcripts.values()} == {"eos", "length", "loop"}
    for seed in range(1, 13):
        a, b = alone.transcripts[seed], together.transcripts[seed]
        assert a.text.encode("utf-8") == b.text.encode("utf-8"), f"seed {seed}"
        assert b"".join(p.data for p in alone.pieces[seed]) == b"".join(p.data for p in together.pieces[seed])
        assert (a.finish_reason, a.n_generated_tokens, a.n_prompt_tokens, a.loop_guard) == \
               (b.finish_reason, b.n_generated_tokens, b.n_prompt_tokens, b.loop_guard), f"seed {seed}"
        assert b.seed == seed and b.engine == "embedded" and b.engine_version == a.engine_version
    assert len({together.slot_of[seed] for seed in range(1, 13)}) == 8  # every slot was used


def test_a_slot_whose_sample_ends_takes_the_next_job_at_once(eight: ParallelSequences) -> None:
    # Twenty short samples on eight slots: all finish once each, and the earliest to finish
    # is not the first job (samples end at different lengths, slots refill independently).
    jobs = jobs_for(SamplerChain().with_params(temp=1.0), range(100, 120), n_predict=40)
    recorder = run_slots(eight, jobs)
    assert sorted(recorder.finish_order) == list(range(100, 120))
    assert all(t.n_generated_tokens <= 40 for t in recorder.transcripts.values())
    assert recorder.finish_order[:8] != list(range(100, 108))


def test_a_sequence_ends_at_its_share_of_the_context_as_one_stream_at_that_context(
        tiny_model: Path, single: EmbeddedEngine) -> None:
    # -c 4 * 768 with 4 sequences gives each 768 tokens: the same cut as one stream with -c 768.
    never_end = tuple((single.tokenize(t)[0], float("-inf")) for t in ("<|im_end|>", "<|endoftext|>"))
    chain = SamplerChain(logit_bias=never_end).with_params(temp=1.0)
    jobs = jobs_for(chain, range(1, 5), n_predict=-1)
    with EmbeddedEngine(tiny_model, n_ctx=768, n_threads=1) as narrow:
        alone = run_slots(SerialSlots(narrow), jobs)
    with EmbeddedEngine(tiny_model, n_ctx=4 * 768, n_threads=1, n_parallel=4) as shared:
        assert shared.n_ctx_seq == 768
        together = run_slots(ParallelSequences(shared), jobs)
    for seed in range(1, 5):
        a, b = alone.transcripts[seed], together.transcripts[seed]
        assert b.finish_reason == "length" and b.n_prompt_tokens + b.n_generated_tokens == 768
        assert a.text == b.text


def test_a_prompt_longer_than_a_sequences_share_is_one_line(tiny_model: Path) -> None:
    with EmbeddedEngine(tiny_model, n_ctx=4 * 256, n_threads=1, n_parallel=4) as engine:
        with pytest.raises(EngineError, match=r"each of the 4 parallel sequences holds 256 .*raise -c"):
            run_slots(ParallelSequences(engine), jobs_for(SamplerChain(), range(1, 3)))
