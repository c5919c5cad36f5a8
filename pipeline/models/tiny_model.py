"""A tiny, real `qwen2` GGUF that llama.cpp runs as a bigram Markov chain of a text.

Construction (BRIEF section 2): token embeddings are one-hot (n_embd >= n_vocab), attention and
feed-forward weights are zero, so the residual stream that reaches the output is the one-hot
vector of the current token; the final RMS norm scales it by a known factor, and the output
matrix holds the log-probabilities of the next token given the current one, counted on a corpus
tokenized by llama.cpp itself. Logits are then log P(next | current): at temperature 1 llama.cpp
samples exactly the chain. It has QwQ's special tokens and a ChatML template, so every part of
generation (chat wrapping, `<think>`, end of turn, samplers) runs for real, at thousands of
tokens per second.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.cache_dir import default_cache_dir
from pipeline.errors import UsageError
from pipeline.models.tiny_vocab import (
    BOS_TOKEN,
    EOS_TOKEN,
    PAD_TOKEN,
    SPECIAL_TOKENS,
    Vocabulary,
    build_vocabulary,
)
from pipeline.output_path import prepare_output_file

# Bump when the construction changes: it is part of the cache key of ensure_tiny_model().
BUILDER_VERSION = 2
DEFAULT_MERGES = 300
HEAD_DIM = 64
FEED_FORWARD = 64
CONTEXT_LENGTH = 32768
RMS_EPS = 1e-6
ROPE_FREQ_BASE = 1_000_000.0
# Dirichlet smoothing toward the unigram distribution: rows of rare tokens borrow from it,
# unseen continuations keep a small non-zero probability (no -inf logits).
SMOOTHING = 0.5
MODEL_NAME = "gencheck tiny bigram"
NEVER_NEXT_PROBABILITY = 1e-12
# Tokens the chain should (almost) never produce: they open turns or pad, never continue one.
NEVER_GENERATED = ("<|im_start|>", "<|endoftext|>", PAD_TOKEN)

# ChatML like QwQ's: earlier assistant turns lose their reasoning (`split('</think>')[-1]`),
# and the generation prompt opens the assistant turn. The `<think>` variant is what some QwQ
# uploads ship and what `gencheck inspect` must recognise.
_TEMPLATE_HEAD = (
    "{%- for message in messages %}"
    "{%- if message['role'] == 'assistant' %}"
    "{%- set content = message['content'].split('</think>')[-1].lstrip('\\n') %}"
    "{%- else %}{%- set content = message['content'] %}{%- endif %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + content + '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}"
)
CHAT_TEMPLATE = _TEMPLATE_HEAD + "{{- '<|im_start|>assistant\\n' }}{%- endif %}"
CHAT_TEMPLATE_WITH_THINK = _TEMPLATE_HEAD + "{{- '<|im_start|>assistant\\n<think>\\n' }}{%- endif %}"

# general.sampling.* keys llama.cpp reads, and the GGUF type each is written with.
SAMPLING_KEY_TYPES: dict[str, type] = {
    "sequence": str, "top_k": int, "top_p": float, "min_p": float, "temp": float,
    "xtc_probability": float, "xtc_threshold": float, "penalty_last_n": int,
    "penalty_repeat": float, "mirostat": int, "mirostat_tau": float, "mirostat_eta": float,
}


@dataclass(frozen=True)
class TinyModelInfo:
    path: Path
    n_vocab: int
    n_embd: int
    merges: int
    corpus_tokens: int


def bundled_corpus() -> str:
    """The bundled corpus: every `fixtures/corpus/*.txt`, in name order, one per line block."""
    folder = resources.files("fixtures.corpus")
    parts = [entry.read_text(encoding="utf-8") for entry in
             sorted(folder.iterdir(), key=lambda e: e.name) if entry.name.endswith(".txt")]
    if not parts:
        raise RuntimeError("the bundled corpus (fixtures/corpus/*.txt) is missing")
    return "\n".join(parts)


def read_corpus(path: Path) -> str:
    """A corpus file, or every *.txt of a folder; a missing or empty one is the user's mistake."""
    if path.is_dir():
        files = sorted(path.glob("*.txt"))
        if not files:
            raise UsageError(f"corpus folder {path} holds no .txt files")
        text = "\n".join(f.read_text(encoding="utf-8", errors="replace") for f in files)
    elif path.is_file():
        text = path.read_text(encoding="utf-8", errors="replace")
    else:
        raise UsageError(f"corpus {path} does not exist")
    if len(text.strip()) < 2:
        raise UsageError(f"corpus {path} is empty")
    return text


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def bigram_log_probs(token_ids: list[int], n_vocab: int,
                     never_next: Sequence[int] = ()) -> np.ndarray:
    """Matrix [current, next] of smoothed log P(next | current) over a token sequence.

    Tokens in `never_next` (a turn opener, padding) keep only a vanishing probability as a
    continuation: the corpus holds them between turns, but a model that opens a new turn in
    the middle of its answer is not what the chain should imitate.
    """
    ids = np.asarray(token_ids, dtype=np.int64)
    counts = np.zeros((n_vocab, n_vocab), dtype=np.float64)
    np.add.at(counts, (ids[:-1], ids[1:]), 1.0)
    unigram = np.bincount(ids, minlength=n_vocab).astype(np.float64) + 0.1
    banned = np.asarray(list(never_next), dtype=np.int64)
    counts[:, banned] = 0.0
    unigram[banned] = 0.0
    unigram /= unigram.sum()
    unigram[banned] = NEVER_NEXT_PROBABILITY
    probs = (counts + SMOOTHING * unigram) / (counts.sum(axis=1, keepdims=True) + SMOOTHING)
    return np.log(probs)


def add_tokenizer(writer: Any, vocab: Vocabulary, *, pad_token: str, template: str) -> None:
    """The byte-level vocabulary, its special tokens and the chat template, as every test model
    of the project writes them (the tiny model and the random-weight qwen2 share one tokenizer)."""
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("qwen2")
    writer.add_token_list(list(vocab.tokens))
    writer.add_token_types(list(vocab.token_types))
    writer.add_token_merges(list(vocab.merges))
    writer.add_bos_token_id(vocab.id_of(BOS_TOKEN))
    writer.add_eos_token_id(vocab.id_of(EOS_TOKEN))
    writer.add_pad_token_id(vocab.id_of(pad_token))
    writer.add_add_bos_token(False)
    writer.add_chat_template(template)


def _write_gguf(path: Path, vocab: Vocabulary, log_probs: np.ndarray | None, *,
                template: str, sampling: Mapping[str, object], pad_token: str = PAD_TOKEN) -> int:
    """Write the model; with log_probs None the output layer is flat (used to tokenize)."""
    import gguf  # heavy import, only when a model is built

    n_vocab = vocab.size
    n_embd = _round_up(n_vocab, HEAD_DIM)
    n_head = n_embd // HEAD_DIM
    writer = gguf.GGUFWriter(str(path), "qwen2")
    writer.add_name(MODEL_NAME)
    writer.add_context_length(CONTEXT_LENGTH)
    writer.add_embedding_length(n_embd)
    writer.add_block_count(1)
    writer.add_feed_forward_length(FEED_FORWARD)
    writer.add_head_count(n_head)
    writer.add_head_count_kv(1)
    writer.add_rope_freq_base(ROPE_FREQ_BASE)
    writer.add_layer_norm_rms_eps(RMS_EPS)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    add_tokenizer(writer, vocab, pad_token=pad_token, template=template)
    for key, value in sampling.items():
        name = f"general.sampling.{key}"
        kind = SAMPLING_KEY_TYPES[key]
        if kind is str:
            writer.add_string(name, str(value))
        elif kind is int:
            writer.add_int32(name, int(value))  # type: ignore[call-overload]
        else:
            writer.add_float32(name, float(value))  # type: ignore[arg-type]

    embedding = np.zeros((n_vocab, n_embd), dtype=np.float32)
    embedding[np.arange(n_vocab), np.arange(n_vocab)] = 1.0
    # The final RMS norm turns a one-hot vector into 1/rms at that position; the output
    # column of token i carries log P(. | i) * rms so the logits are exactly the log-probs.
    rms = float(np.sqrt(1.0 / n_embd + RMS_EPS))
    output = np.zeros((n_vocab, n_embd), dtype=np.float32)
    if log_probs is not None:
        output[:, :n_vocab] = (log_probs.T * rms).astype(np.float32)
    ones = np.ones(n_embd, dtype=np.float32)
    n_kv = HEAD_DIM  # one key/value head
    writer.add_tensor("token_embd.weight", embedding)
    writer.add_tensor("output_norm.weight", ones)
    writer.add_tensor("output.weight", output)
    # Attention and feed-forward contribute nothing; F16 like a real upload's mixed types.
    zeros = {
        "attn_q.weight": (n_embd, n_embd), "attn_k.weight": (n_kv, n_embd),
        "attn_v.weight": (n_kv, n_embd), "attn_output.weight": (n_embd, n_embd),
        "ffn_gate.weight": (FEED_FORWARD, n_embd), "ffn_up.weight": (FEED_FORWARD, n_embd),
        "ffn_down.weight": (n_embd, FEED_FORWARD),
    }
    writer.add_tensor("blk.0.attn_norm.weight", ones)
    writer.add_tensor("blk.0.ffn_norm.weight", ones)
    for name, shape in zeros.items():
        writer.add_tensor(f"blk.0.{name}", np.zeros(shape, dtype=np.float16))
    for name, size in (("attn_q.bias", n_embd), ("attn_k.bias", n_kv), ("attn_v.bias", n_kv)):
        writer.add_tensor(f"blk.0.{name}", np.zeros(size, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return n_embd


@contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """Silence llama.cpp's model-loading log, which it writes to file descriptor 2 from C."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def tokenize_with_llama_cpp(model_path: Path, text: str) -> list[int]:
    """Token ids of text as llama.cpp tokenizes it (special tokens parsed), from the vocab only."""
    import llama_cpp  # heavy import, only when a model is built

    data = text.encode("utf-8")
    capacity = len(data) + 16  # byte-level: never more tokens than bytes
    buffer = (llama_cpp.llama_token * capacity)()
    with _quiet_native_stderr():
        llama_cpp.llama_backend_init()
        params = llama_cpp.llama_model_default_params()
        params.vocab_only = True
        model = llama_cpp.llama_model_load_from_file(str(model_path).encode(), params)
    if not model:
        raise RuntimeError(f"llama.cpp could not load the vocabulary of {model_path}")
    try:
        vocab = llama_cpp.llama_model_get_vocab(model)
        count = llama_cpp.llama_tokenize(vocab, data, len(data), buffer, capacity, False, True)
        if count < 0:
            raise RuntimeError(f"llama.cpp needs {-count} token slots, more than the bytes")
        return list(buffer[:count])
    finally:
        llama_cpp.llama_model_free(model)


def check_tiny_model_options(out: Path, *, merges: int = DEFAULT_MERGES, pad_token: str = PAD_TOKEN,
                             sampling: Mapping[str, object] | None = None) -> None:
    """Refuse in one line what make_tiny_model cannot build; make `out`'s folder."""
    if merges < 0:
        raise UsageError("--merges must be 0 or more")
    if pad_token not in SPECIAL_TOKENS:
        raise UsageError(f"pad token {pad_token!r} must be one of {', '.join(SPECIAL_TOKENS)}")
    unknown = sorted(set(sampling or {}) - set(SAMPLING_KEY_TYPES))
    if unknown:
        raise UsageError(f"unknown sampling key(s) {', '.join(unknown)}; "
                         f"valid: {', '.join(SAMPLING_KEY_TYPES)}")
    prepare_output_file(out, str(out))


def make_tiny_model(out: Path, *, corpus: str | None = None, merges: int = DEFAULT_MERGES,
                    template_adds_think: bool = False,
                    sampling: Mapping[str, object] | None = None,
                    pad_token: str = PAD_TOKEN) -> TinyModelInfo:
    """Write the tiny model to `out` atomically (a temp file in the same folder, then rename).

    `pad_token` other than `<|vision_pad|>` (say `<|endoftext|>`, as some uploads have it)
    makes a model whose pad is also an end token, for testing `gencheck inspect`.
    """
    out = Path(out)
    check_tiny_model_options(out, merges=merges, pad_token=pad_token, sampling=sampling)
    text = corpus if corpus is not None else bundled_corpus()
    vocab = build_vocabulary(text, merges)
    template = CHAT_TEMPLATE_WITH_THINK if template_adds_think else CHAT_TEMPLATE
    handle, temp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(handle)
    temp = Path(temp_name)
    try:
        # First pass: a flat model whose only use is llama.cpp's tokenizer, so the bigram
        # counts are over exactly the tokens llama.cpp will see and produce.
        _write_gguf(temp, vocab, None, template=template, sampling={})
        ids = tokenize_with_llama_cpp(temp, text)
        if len(ids) < 2:
            raise UsageError("the corpus is too short to count bigrams")
        never = [vocab.id_of(token) for token in NEVER_GENERATED]
        n_embd = _write_gguf(temp, vocab, bigram_log_probs(ids, vocab.size, never),
                             template=template, sampling=dict(sampling or {}),
                             pad_token=pad_token)
        temp.chmod(0o644)  # mkstemp makes it private; a model file is an ordinary file
        os.replace(temp, out)
    finally:
        temp.unlink(missing_ok=True)
    return TinyModelInfo(path=out, n_vocab=vocab.size, n_embd=n_embd,
                         merges=len(vocab.merges), corpus_tokens=len(ids))


def tiny_model_key(corpus: str, merges: int = DEFAULT_MERGES) -> str:
    digest = hashlib.sha256(f"builder={BUILDER_VERSION};merges={merges};".encode())
    digest.update(corpus.encode("utf-8"))
    return digest.hexdigest()[:16]


def ensure_tiny_model(cache_dir: Path | None = None) -> Path:
    """The tiny model built from the bundled corpus, built once into the cache and reused.

    The file name carries a hash of the corpus and the builder version, so an edited corpus
    or construction gives a new file instead of a stale one.
    """
    corpus = bundled_corpus()
    folder = (cache_dir or default_cache_dir()) / "tiny-model"
    path = folder / f"tiny-qwen2-{tiny_model_key(corpus)}.gguf"
    if not path.is_file():
        make_tiny_model(path, corpus=corpus)
    return path
