"""The embedded engine on the real tiny model: determinism, order, limits, end tokens, UTF-8."""

from __future__ import annotations

import resource
from pathlib import Path

import pytest

from pipeline.generation.engines.base import GenerationRequest, Piece, Utf8Pieces
from pipeline.generation.engines.embedded import (
    EmbeddedEngine,
    EngineError,
    kv_override_array,
    read_gguf_metadata,
)
from pipeline.sampling.chain import SamplerChain

PROMPT = "<|im_start|>user\nWrite a game.<|im_end|>\n<|im_start|>assistant\n<think>\n"
WRITE_UP_ORDER = ("top_k", "top_p", "min_p", "temperature", "dry", "typ_p", "xtc")


@pytest.fixture(scope="module")
def engine(tiny_model: Path):
    with EmbeddedEngine(tiny_model, n_ctx=4096, n_threads=1) as loaded:
        yield loaded


def run(engine: EmbeddedEngine, chain: SamplerChain, n_predict: int = 200,
        prompt: str = PROMPT) -> tuple[list[Piece], object]:
    stream = engine.stream(GenerationRequest(prompt, chain, n_predict))
    pieces = list(stream)
    return pieces, stream


def text_of(pieces: list[Piece]) -> str:
    return "".join(p.text for p in pieces)


def test_same_seed_gives_the_same_text(engine: EmbeddedEngine) -> None:
    chain = SamplerChain(seed=42).with_params(temp=1.0)
    first, _ = run(engine, chain)
    second, _ = run(engine, chain)
    assert text_of(first) == text_of(second)
    assert [p.token for p in first] == [p.token for p in second]


def test_different_seeds_give_different_text(engine: EmbeddedEngine) -> None:
    a, _ = run(engine, SamplerChain(seed=1).with_params(temp=1.0))
    b, _ = run(engine, SamplerChain(seed=2).with_params(temp=1.0))
    assert text_of(a) != text_of(b)


def test_sampler_order_changes_the_text(engine: EmbeddedEngine) -> None:
    # Temperature before or after the truncation samplers: the same settings, another chain.
    params = {"temp": 1.5, "min_p": 0.1, "top_k": 40}
    last, _ = run(engine, SamplerChain(order=("top_k", "min_p", "temperature"), seed=7).with_params(**params))
    first, _ = run(engine, SamplerChain(order=("temperature", "top_k", "min_p"), seed=7).with_params(**params))
    assert text_of(last) != text_of(first)


def test_token_limit_stops_with_length(engine: EmbeddedEngine) -> None:
    never_end = tuple((engine.tokenize(t)[0], float("-inf")) for t in ("<|im_end|>", "<|endoftext|>"))
    pieces, stream = run(engine, SamplerChain(seed=3, logit_bias=never_end), n_predict=37)
    assert stream.finish_reason == "length"
    assert stream.n_generated_tokens == 37
    assert sum(p.n_tokens for p in pieces) == 37
    assert stream.n_prompt_tokens == len(engine.tokenize(PROMPT))


def test_zero_token_limit_generates_nothing(engine: EmbeddedEngine) -> None:
    pieces, stream = run(engine, SamplerChain(seed=3), n_predict=0)
    assert pieces == [] and stream.finish_reason == "length"


def test_end_of_generation_token_stops_with_eos(engine: EmbeddedEngine) -> None:
    im_end = engine.tokenize("<|im_end|>")
    assert len(im_end) == 1 and engine.is_end_of_generation(im_end[0])
    # A strong bias makes <|im_end|> likely but not certain: some text, then the end token.
    chain = SamplerChain(seed=5, logit_bias=((im_end[0], 6.0),)).with_params(temp=1.0)
    pieces, stream = run(engine, chain, n_predict=2000)
    assert stream.finish_reason == "eos"
    assert 0 < stream.n_generated_tokens < 2000
    assert "<|im_end|>" not in text_of(pieces)  # control tokens print nothing, as in llama.cpp


def test_special_tokens_in_the_prompt_are_parsed(engine: EmbeddedEngine) -> None:
    tokens = engine.tokenize("<|im_start|>user\n")
    assert len(tokens) < len("<|im_start|>user\n")
    assert engine.tokenize("<|im_start|>")[0] == tokens[0]


def test_penalties_see_the_prompt(engine: EmbeddedEngine) -> None:
    # Greedy picks the likeliest next token t; with a huge repeat penalty over a window that
    # covers the prompt, and t in the prompt, llama.cpp (which accepts the prompt into the
    # chain) must pick something else as the first token.
    greedy = SamplerChain(order=("temperature",), seed=1).with_params(temp=0.0)
    (first, *_), _ = run(engine, greedy, n_predict=1, prompt="def main(")
    prompt = first.text + "def main("
    (plain, *_), _ = run(engine, greedy, n_predict=1, prompt=prompt)
    assert plain.token == first.token
    penalised = SamplerChain(order=("penalties", "temperature"), seed=1).with_params(
        temp=0.0, penalty_repeat=1000.0, penalty_last_n=64)
    (after, *_), _ = run(engine, penalised, n_predict=1, prompt=prompt)
    assert after.token != first.token
    assert after.token not in engine.tokenize(prompt)


def test_pieces_hold_whole_characters_and_keep_every_byte(engine: EmbeddedEngine) -> None:
    # Bias every single-byte token above 0x7F up: the stream is then full of characters split
    # across tokens and of bytes that are no UTF-8 at all.
    high = [t for t in range(engine.n_vocab)
            if len(engine.token_bytes(t)) == 1 and engine.token_bytes(t)[0] >= 0x80]
    assert len(high) == 128
    chain = SamplerChain(order=("temperature",), seed=11,
                         logit_bias=tuple((t, 8.0) for t in high)).with_params(temp=1.0)
    pieces, _ = run(engine, chain, n_predict=400)
    data = b"".join(p.data for p in pieces)
    assert text_of(pieces) == data.decode("utf-8", errors="replace")
    assert not data.isascii()
    assert any(p.text == "" and p.data for p in pieces)  # a character split across tokens


def test_utf8_pieces_hold_a_split_character_back() -> None:
    utf8 = Utf8Pieces()
    euro = "€".encode()
    assert utf8.feed(euro[:1]) == ""
    assert utf8.feed(euro[1:2]) == ""
    assert utf8.feed(euro[2:] + b"a") == "€a"
    assert utf8.feed(b"\xe2") == ""
    assert utf8.flush() == "\ufffd"


def test_many_samples_in_one_process_do_not_leak(engine: EmbeddedEngine) -> None:
    chain = SamplerChain(order=WRITE_UP_ORDER, seed=9).with_params(dry_multiplier=0.5)
    for _ in range(5):
        run(engine, chain, n_predict=50)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for seed in range(60):
        stream = engine.stream(GenerationRequest(PROMPT, chain.with_seed(seed), 50))
        next(stream)
        stream.close()  # closed early, as the loop guard does
        run(engine, chain.with_seed(seed), n_predict=50)
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 20_000


def test_kv_overrides_reach_llama_cpp(tiny_model: Path) -> None:
    with EmbeddedEngine(tiny_model, n_threads=1, kv_overrides={"qwen2.context_length": 1024}) as engine:
        assert engine.n_ctx == 1024  # n_ctx 0 = the (overridden) training context


def test_kv_override_types_follow_python_types() -> None:
    import llama_cpp as lib

    array = kv_override_array({"a": 4, "b": 4.0, "c": "yarn", "d": True})
    assert [entry.tag for entry in array[:4]] == [
        lib.LLAMA_KV_OVERRIDE_TYPE_INT, lib.LLAMA_KV_OVERRIDE_TYPE_FLOAT,
        lib.LLAMA_KV_OVERRIDE_TYPE_STR, lib.LLAMA_KV_OVERRIDE_TYPE_BOOL]
    assert array[1].value.val_f64 == 4.0 and array[2].value.val_str == b"yarn"
    assert array[4].key == b""


def test_a_missing_model_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="does not exist"):
        EmbeddedEngine(tmp_path / "nope.gguf")
    with pytest.raises(EngineError, match="is not a file"):
        read_gguf_metadata(tmp_path)


def test_a_file_that_is_not_gguf_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"not a model at all" * 10)
    with pytest.raises(EngineError, match="could not"):
        EmbeddedEngine(bogus)


def test_metadata_is_read_without_loading_weights(tiny_model: Path) -> None:
    metadata = read_gguf_metadata(tiny_model)
    assert metadata["general.architecture"] == "qwen2"
    assert "tokenizer.chat_template" in metadata


def test_a_prompt_longer_than_one_batch_is_decoded_in_batches(tiny_model: Path) -> None:
    prompt = PROMPT * 12  # far more tokens than a batch of 32
    chain = SamplerChain(seed=17).with_params(temp=1.0)
    with EmbeddedEngine(tiny_model, n_ctx=4096, n_threads=1, n_batch=32) as small:
        assert small.n_batch == 32 and len(small.tokenize(prompt)) > 4 * 32
        batched, stream = run(small, chain, n_predict=100, prompt=prompt)
    with EmbeddedEngine(tiny_model, n_ctx=4096, n_threads=1) as whole:
        at_once, _ = run(whole, chain, n_predict=100, prompt=prompt)
        assert stream.n_prompt_tokens == len(whole.tokenize(prompt))
    assert [p.token for p in batched] == [p.token for p in at_once]


def test_a_closed_engine_refuses_work_instead_of_crashing(tiny_model: Path) -> None:
    engine = EmbeddedEngine(tiny_model, n_ctx=512, n_threads=1)
    engine.close()
    engine.close()  # twice is harmless
    for use in (lambda: engine.tokenize("hi"), lambda: engine.is_end_of_generation(1),
                lambda: engine.stream(GenerationRequest("hi", SamplerChain(), 5))):
        with pytest.raises(RuntimeError, match="after close"):
            use()


def test_a_prompt_that_fills_the_context_is_refused(tiny_model: Path) -> None:
    with EmbeddedEngine(tiny_model, n_ctx=256, n_threads=1) as engine:
        with pytest.raises(EngineError, match="ctx-size"):
            run(engine, SamplerChain(seed=1), prompt=PROMPT * 20)


def test_generation_stops_when_the_context_is_full(tiny_model: Path) -> None:
    with EmbeddedEngine(tiny_model, n_ctx=256, n_threads=1) as engine:
        never_end = tuple((engine.tokenize(t)[0], float("-inf")) for t in ("<|im_end|>", "<|endoftext|>"))
        _, stream = run(engine, SamplerChain(seed=1, logit_bias=never_end), n_predict=-1)
    assert stream.finish_reason == "length"
    assert stream.n_prompt_tokens + stream.n_generated_tokens == 256


def test_a_new_stream_closes_the_one_still_open(engine: EmbeddedEngine) -> None:
    chain = SamplerChain(seed=4).with_params(temp=1.0)
    first = engine.stream(GenerationRequest(PROMPT, chain, 50))
    next(first)
    second, _ = run(engine, chain, n_predict=50)
    assert list(first) == []  # closed: it can no longer read the shared context
    alone, _ = run(engine, chain, n_predict=50)
    assert [p.token for p in second] == [p.token for p in alone]
