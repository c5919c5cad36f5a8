"""The tiny test model's vocabulary: byte tokens, QwQ's special tokens, and merges learned from text.

llama.cpp's `gpt2` tokenizer works on bytes written in GPT-2's byte-to-unicode alphabet (every
byte becomes a printable character, the space is `Ġ`), then applies BPE merges inside the pieces
its pre-tokenizer cuts. It refuses a vocabulary without merges, and merges are also what lets a
bigram chain say more than one byte of context (indentation runs, `pygame`, `self.`), so a few
dozen are learned from the corpus here. Which pieces they are only affects quality: the bigram
counts are taken from llama.cpp's own tokenization of the corpus (see tiny_model.py).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import cache

# gguf token types (llama.cpp's llama_token_type).
TOKEN_NORMAL = 1
TOKEN_CONTROL = 3
TOKEN_USER_DEFINED = 4

# QwQ's specials. `<think>`/`</think>` are ordinary added text in QwQ (they show in the output);
# the others are control tokens. `<|vision_pad|>` is the pad token the write-up recommends: it is
# no end token, so padding never doubles as end of text.
CONTROL_TOKENS: tuple[str, ...] = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_pad|>")
USER_DEFINED_TOKENS: tuple[str, ...] = ("<think>", "</think>")
SPECIAL_TOKENS: tuple[str, ...] = CONTROL_TOKENS + USER_DEFINED_TOKENS
EOS_TOKEN = "<|im_end|>"
PAD_TOKEN = "<|vision_pad|>"
BOS_TOKEN = "<|endoftext|>"

# An approximation of the qwen2 pre-tokenizer (contractions, letter runs with one leading
# non-letter, single digits, punctuation runs, newline runs, space runs). Only used to choose
# merges; llama.cpp's exact splitter decides how text is really tokenized.
_PIECE = re.compile(
    r"'(?:s|t|re|ve|m|ll|d)|[^\r\n\w]?[^\W\d_]+|\d| ?[^\s\w]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)


@cache
def byte_alphabet() -> tuple[str, ...]:
    """GPT-2's byte-to-unicode map as a tuple indexed by byte value.

    Printable Latin-1 bytes stand for themselves; the other 68 bytes (controls, space, a few
    Latin-1 gaps) are given the code points from 256 upward in byte order.
    """
    printable = set(range(ord("!"), ord("~") + 1)) | set(range(0xA1, 0xAD)) | set(range(0xAE, 0x100))
    shifted = 0
    chars: list[str] = []
    for byte in range(256):
        if byte in printable:
            chars.append(chr(byte))
        else:
            chars.append(chr(256 + shifted))
            shifted += 1
    return tuple(chars)


def encode_bytes(text: str) -> str:
    """Text as a string of byte-alphabet characters (one per UTF-8 byte)."""
    alphabet = byte_alphabet()
    return "".join(alphabet[b] for b in text.encode("utf-8"))


@dataclass(frozen=True)
class Vocabulary:
    tokens: tuple[str, ...]
    token_types: tuple[int, ...]
    merges: tuple[str, ...]  # "left right", in rank order

    def id_of(self, token: str) -> int:
        return self.tokens.index(token)

    @property
    def size(self) -> int:
        return len(self.tokens)


def learn_merges(text: str, count: int) -> list[tuple[str, str]]:
    """`count` BPE merges, most frequent adjacent pair first, ties broken by the pair's text.

    Special tokens are cut out first so no merge spans them. Deterministic for a given text.
    """
    plain = text
    for special in SPECIAL_TOKENS:
        plain = plain.replace(special, "\n")
    pieces = Counter(encode_bytes(piece) for piece in _PIECE.findall(plain))
    words: dict[tuple[str, ...], int] = {tuple(piece): n for piece, n in pieces.items()}
    merges: list[tuple[str, str]] = []
    for _ in range(count):
        pairs: Counter[tuple[str, str]] = Counter()
        for symbols, n in words.items():
            for left, right in zip(symbols, symbols[1:], strict=False):
                pairs[(left, right)] += n
        if not pairs:
            break
        best = min(pairs, key=lambda pair: (-pairs[pair], pair))
        if pairs[best] < 2:
            break
        merges.append(best)
        words = _apply_merge(words, best)
    return merges


def _apply_merge(words: dict[tuple[str, ...], int],
                 pair: tuple[str, str]) -> dict[tuple[str, ...], int]:
    joined = pair[0] + pair[1]
    merged: dict[tuple[str, ...], int] = {}
    for symbols, n in words.items():
        out: list[str] = []
        i = 0
        while i < len(symbols):
            if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == pair:
                out.append(joined)
                i += 2
            else:
                out.append(symbols[i])
                i += 1
        key = tuple(out)
        merged[key] = merged.get(key, 0) + n
    return merged


# A merge every vocabulary gets, even with `merges=0`: llama.cpp refuses a gpt2 vocabulary
# without merges, and two spaces are the commonest pair in indented code.
BASE_MERGE: tuple[str, str] = (byte_alphabet()[0x20], byte_alphabet()[0x20])


def build_vocabulary(corpus: str, merge_count: int) -> Vocabulary:
    """256 byte tokens, the merged tokens in rank order, then the special tokens."""
    tokens: list[str] = list(byte_alphabet())
    learned = learn_merges(corpus, merge_count)
    merges = [BASE_MERGE] + [pair for pair in learned if pair != BASE_MERGE]
    seen = set(tokens)
    for left, right in merges:
        joined = left + right
        if joined not in seen:
            tokens.append(joined)
            seen.add(joined)
    types = [TOKEN_NORMAL] * len(tokens)
    for special in SPECIAL_TOKENS:
        tokens.append(special)
        types.append(TOKEN_USER_DEFINED if special in USER_DEFINED_TOKENS else TOKEN_CONTROL)
    return Vocabulary(tokens=tuple(tokens), token_types=tuple(types),
                      merges=tuple(f"{left} {right}" for left, right in merges))
