"""The loop guard stops looping runs soon after onset and never stops healthy text."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from pipeline.generation.engines.base import GenerationRequest
from pipeline.generation.engines.embedded import EmbeddedEngine
from pipeline.generation.engines.replay import ReplayEngine, split_token_like
from pipeline.generation.loop_guard import GuardedStream, LoopGuardSettings
from pipeline.repetition import find_loop
from pipeline.sampling.chain import SamplerChain
from pipeline.sampling.presets import preset
from prompts import load_prompt
from tests.paths import FIXTURES

MAX_TOKENS_AFTER_ONSET = 512


def recorded_transcripts(looping: bool) -> list[Path]:
    expected = tomllib.loads((FIXTURES / "expected.toml").read_text(encoding="utf-8"))
    chosen = []
    for name, entry in expected.items():
        if not name.startswith("transcripts/"):
            continue
        loops = any(key.startswith("transcript/repetition-loop") for key in entry["findings"])
        if loops == looping:
            chosen.append(FIXTURES / name)
    return sorted(chosen)


HEALTHY = recorded_transcripts(looping=False)
LOOPING = recorded_transcripts(looping=True)


def replay(text: str, settings: LoopGuardSettings | None = None, n_predict: int = -1) -> GuardedStream:
    engine = ReplayEngine(text)
    guarded = GuardedStream(engine.stream(GenerationRequest("", SamplerChain(), n_predict)), settings)
    for _ in guarded:
        pass
    return guarded


def test_there_are_recorded_transcripts_on_both_sides() -> None:
    assert len(HEALTHY) >= 5 and len(LOOPING) >= 2


@pytest.mark.parametrize("path", HEALTHY, ids=lambda p: p.name)
def test_healthy_recorded_transcripts_are_never_stopped(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    guarded = replay(text)
    assert guarded.finish_reason == "eos"
    assert guarded.report() == {"enabled": True, "stopped": False}
    assert guarded.n_generated_tokens == len(split_token_like(text))


@pytest.mark.parametrize("path", LOOPING, ids=lambda p: p.name)
def test_recorded_loops_are_stopped_before_their_end(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    guarded = replay(text)
    report = guarded.report()
    assert guarded.finish_reason == "loop" and report["stopped"]
    assert report["stop_token"] < len(split_token_like(text))
    assert 0 <= report["tokens_after_onset"] <= MAX_TOKENS_AFTER_ONSET


def test_a_loop_after_healthy_text_is_stopped_soon_after_its_onset() -> None:
    healthy = (FIXTURES / "programs" / "healthy_flappy_classes.py").read_text(encoding="utf-8")
    text = healthy + "    " * 5000
    guarded = replay(text)
    report = guarded.report()
    onset_token = len(split_token_like(healthy))
    assert report["stopped"]
    # the onset lies at the end of the healthy text (a trailing space or two may be counted in)
    assert abs(report["onset_token"] - onset_token) <= 2
    assert report["tokens_after_onset"] <= MAX_TOKENS_AFTER_ONSET
    assert "spaces" in report["reason"]


def test_the_guard_switched_off_lets_a_loop_run_to_the_end() -> None:
    text = "x = 1\n" + "    " * 3000
    guarded = replay(text, LoopGuardSettings(enabled=False))
    assert guarded.finish_reason == "eos"
    assert guarded.report() == {"enabled": False}
    assert guarded.n_generated_tokens == len(split_token_like(text))


def test_a_looping_run_on_the_tiny_model_is_stopped(tiny_model: Path) -> None:
    # The write-up's chain at temperature 0 falls at once into " 10, 10, 10, ..." on the tiny
    # model; without the guard it runs to the token limit.
    prompt = load_prompt("flappy_bird").wrapped()
    chain = preset("unsloth-qwq").with_params(temp=0.0)
    limit = 3000
    with EmbeddedEngine(tiny_model, n_ctx=8192, n_threads=1) as engine:
        unguarded = engine.stream(GenerationRequest(prompt, chain, limit))
        text = "".join(piece.text for piece in unguarded)
        assert unguarded.finish_reason == "length" and find_loop(text) is not None
        guarded = GuardedStream(engine.stream(GenerationRequest(prompt, chain, limit)))
        guarded_text = "".join(piece.text for piece in guarded)
    report = guarded.report()
    assert guarded.finish_reason == "loop"
    assert guarded.n_generated_tokens < limit
    assert text.startswith(guarded_text)
    assert 0 <= report["tokens_after_onset"] <= MAX_TOKENS_AFTER_ONSET
    assert report["stop_token"] == guarded.n_generated_tokens
