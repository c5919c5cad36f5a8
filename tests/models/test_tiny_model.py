"""The tiny test model: a real qwen2 GGUF that llama.cpp runs as a bigram chain of its corpus."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.cli import main as gencheck
from pipeline.models.tiny_model import (
    NEVER_GENERATED,
    bigram_log_probs,
    bundled_corpus,
    ensure_tiny_model,
    make_tiny_model,
    tokenize_with_llama_cpp,
)
from pipeline.models.tiny_vocab import (
    BASE_MERGE,
    SPECIAL_TOKENS,
    build_vocabulary,
    byte_alphabet,
    encode_bytes,
    learn_merges,
)

llama_cpp = pytest.importorskip("llama_cpp")


@pytest.fixture(scope="module")
def loaded(tiny_model: Path):
    model = llama_cpp.Llama(model_path=str(tiny_model), n_ctx=1024, verbose=False, seed=7)
    yield model
    model.close()


def test_byte_alphabet_is_256_distinct_printable_characters():
    alphabet = byte_alphabet()
    assert len(set(alphabet)) == 256
    assert alphabet[ord("a")] == "a"
    assert alphabet[0x20] == "Ġ" and alphabet[0x0A] == "Ċ"
    assert all(ch.isprintable() and not ch.isspace() for ch in alphabet)


@given(st.text(max_size=200))
def test_encode_bytes_gives_one_character_per_utf8_byte(text):
    encoded = encode_bytes(text)
    assert len(encoded) == len(text.encode("utf-8"))
    decode = {ch: byte for byte, ch in enumerate(byte_alphabet())}
    assert bytes(decode[ch] for ch in encoded) == text.encode("utf-8")


@given(st.text(max_size=300), st.integers(min_value=0, max_value=20))
def test_learned_merges_are_deterministic_and_join_known_symbols(text, count):
    merges = learn_merges(text, count)
    assert merges == learn_merges(text, count)
    assert len(merges) <= count
    known = set(byte_alphabet())
    for left, right in merges:
        assert left in known and right in known
        known.add(left + right)


def test_vocabulary_has_bytes_merges_and_qwq_specials_always_with_one_merge():
    vocab = build_vocabulary("x", 0)
    assert vocab.merges == (f"{BASE_MERGE[0]} {BASE_MERGE[1]}",)
    assert vocab.tokens[:256] == byte_alphabet()
    assert vocab.tokens[-len(SPECIAL_TOKENS):] == SPECIAL_TOKENS
    assert len(set(vocab.tokens)) == vocab.size


def test_bundled_corpus_holds_answers_with_reasoning_code_and_end_of_turn():
    corpus = bundled_corpus()
    assert corpus.count("<think>") >= 3 and corpus.count("</think>") >= 3
    assert corpus.count("```python") >= 3
    assert "```<|im_end|>" in corpus
    assert "import pygame" in corpus


def test_bigram_rows_are_probability_distributions():
    log_probs = bigram_log_probs([0, 1, 2, 1, 0, 2], 4)
    assert np.allclose(np.exp(log_probs).sum(axis=1), 1.0)
    assert np.all(np.isfinite(log_probs))
    # 1 -> 2 and 1 -> 0 were each seen once (0 and 2 equally often overall), 1 -> 3 never.
    assert log_probs[1, 2] == pytest.approx(log_probs[1, 0])
    assert log_probs[1, 3] < log_probs[1, 2] - 2
    # A token never to continue with keeps a vanishing, finite probability.
    banned = bigram_log_probs([0, 1, 2, 1, 0, 2], 4, never_next=[2])
    assert np.allclose(np.exp(banned).sum(axis=1), 1.0)
    assert np.all(banned[:, 2] < -20) and np.all(np.isfinite(banned))


def test_generation_never_opens_a_new_turn(loaded):
    im_start = loaded.tokenize(b"<|im_start|>", add_bos=False, special=True)[0]
    ids = loaded.tokenize(b"<|im_end|>\n", add_bos=False, special=True)
    loaded.reset()
    loaded.eval(ids)
    raw = llama_cpp.llama_get_logits_ith(loaded.ctx, -1)
    logits = np.ctypeslib.as_array(raw, shape=(loaded.n_vocab(),))
    assert logits[im_start] < -20  # in the corpus "\n" is followed by <|im_start|> between turns


def test_llama_cpp_reads_qwq_tokens_eos_and_a_distinct_pad(loaded):
    assert loaded.metadata["general.architecture"] == "qwen2"
    assert loaded.metadata["tokenizer.ggml.pre"] == "qwen2"
    eos = loaded.token_eos()
    assert loaded.detokenize([eos], special=True) == b"<|im_end|>"
    pad = int(loaded.metadata["tokenizer.ggml.padding_token_id"])
    assert pad != eos
    assert loaded.detokenize([pad], special=True) == b"<|vision_pad|>"
    for special in ("<|im_start|>", "<|im_end|>", "<think>", "</think>"):
        assert len(loaded.tokenize(special.encode(), add_bos=False, special=True)) == 1


def expected_log_probs(loaded, tiny_model: Path) -> np.ndarray:
    never = [loaded.tokenize(t.encode(), add_bos=False, special=True)[0] for t in NEVER_GENERATED]
    ids = tokenize_with_llama_cpp(tiny_model, bundled_corpus())
    return bigram_log_probs(ids, loaded.n_vocab(), never)


def test_logits_are_the_bigram_log_probs_of_the_corpus(loaded, tiny_model):
    expected = expected_log_probs(loaded, tiny_model)
    token = loaded.tokenize(b"pygame", add_bos=False)[-1]
    loaded.reset()
    loaded.eval([token])
    raw = llama_cpp.llama_get_logits_ith(loaded.ctx, -1)  # Llama.scores needs logits_all
    logits = np.ctypeslib.as_array(raw, shape=(loaded.n_vocab(),)).astype(np.float64)
    assert math.log(np.exp(logits).sum()) == pytest.approx(0.0, abs=1e-4)
    assert np.allclose(logits, expected[token], atol=1e-3)


def test_think_token_prints_as_text_while_control_tokens_do_not(loaded):
    think = loaded.tokenize(b"<think>", add_bos=False, special=True)
    im_start = loaded.tokenize(b"<|im_start|>", add_bos=False, special=True)
    assert loaded.detokenize(think) == b"<think>"
    assert loaded.detokenize(im_start) == b""


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=120))
def test_llama_cpp_tokenizer_round_trips_any_text(loaded, text):
    tokens = loaded.tokenize(text.encode("utf-8"), add_bos=False, special=False)
    assert loaded.detokenize(tokens) == text.encode("utf-8")


def test_generation_sometimes_ends_the_turn_with_im_end(loaded):
    prompt = "<|im_start|>user\nWrite a game.<|im_end|>\n<|im_start|>assistant\n<think>\n"
    reasons = []
    for seed in range(8):
        loaded.reset()
        out = loaded.create_completion(prompt, max_tokens=600, temperature=0.8, top_k=40,
                                       top_p=0.95, min_p=0.05, seed=seed)
        reasons.append(out["choices"][0]["finish_reason"])
        assert out["usage"]["completion_tokens"] > 0
    assert "stop" in reasons


def test_ensure_tiny_model_builds_once_then_reuses_the_file(tmp_path):
    first = ensure_tiny_model(tmp_path)
    stamp = first.stat().st_mtime_ns
    second = ensure_tiny_model(tmp_path)
    assert second == first and second.stat().st_mtime_ns == stamp
    assert [p.name for p in first.parent.iterdir()] == [first.name]  # no temp file left


def test_make_test_model_cli_writes_a_model_from_a_custom_corpus(tmp_path, capsys):
    corpus = tmp_path / "c.txt"
    corpus.write_text("abcdefgh\n" * 30, encoding="utf-8")
    out = tmp_path / "m.gguf"
    assert gencheck(["make-test-model", str(out), "--corpus", str(corpus), "--merges", "0"]) == 0
    assert "qwen2" in capsys.readouterr().out
    model = llama_cpp.Llama(model_path=str(out), n_ctx=256, verbose=False)
    try:
        assert model.n_vocab() == build_vocabulary("", 0).size
        text = model.create_completion("a", max_tokens=12, temperature=0.0)["choices"][0]["text"]
        assert text == "bcdefgh\nabcd"
    finally:
        model.close()


def test_greedy_generation_follows_the_most_likely_bigram_chain(loaded, tiny_model):
    expected = expected_log_probs(loaded, tiny_model)
    prompt = loaded.tokenize(b"import", add_bos=False)
    chain, token = [], prompt[-1]
    for _ in range(40):
        token = int(np.argmax(expected[token]))
        if token == loaded.token_eos():
            break
        chain.append(token)
    loaded.reset()
    out = loaded.create_completion("import", max_tokens=40, temperature=0.0)
    assert out["choices"][0]["text"].encode() == loaded.detokenize(chain)


@pytest.mark.parametrize("args, message", [
    (["bad.bin"], "must end in .gguf"),
    (["x.gguf", "--corpus", "/no/such/corpus"], "does not exist"),
    (["x.gguf", "--sampling", "bogus=1"], "unknown sampling key"),
    (["x.gguf", "--sampling", "top_k"], "KEY=VALUE"),
    (["x.gguf", "--merges", "-1"], "0 or more"),
    (["x.gguf", "--pad-token", "<pad>"], "must be one of"),
])
def test_make_test_model_refuses_bad_input_in_one_line(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    assert gencheck(["make-test-model", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1  # the error alone, no "building" line


def test_make_tiny_model_leaves_nothing_behind_when_it_fails(tmp_path):
    with pytest.raises(Exception, match="too short"):
        make_tiny_model(tmp_path / "m.gguf", corpus="x")
    assert list(tmp_path.iterdir()) == []


def test_make_test_model_refuses_a_folder_or_a_path_under_a_file(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.txt").write_text("x", encoding="utf-8")
    (tmp_path / "dir.gguf").mkdir()
    assert gencheck(["make-test-model", "a.txt/x.gguf"]) == 2
    assert gencheck(["make-test-model", "dir.gguf"]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert errors == ["gencheck make-test-model: error: a.txt/x.gguf: a.txt is a file, not a folder",
                      "gencheck make-test-model: error: dir.gguf is a folder; give a file name"]
