"""llama-perplexity's `--kl-divergence-base` file: read it, write it, byte for byte.

The layout (tools/perplexity/perplexity.cpp of the vendored llama.cpp), all little-endian:

    b"_logits_"                      8-byte magic
    int32 n_ctx, int32 n_vocab, int32 n_chunk
    int32 tokens[n_chunk * n_ctx]    the text's tokens, chunk after chunk (no BOS substituted)
    per chunk, n_ctx - 1 - n_ctx//2 rows (positions n_ctx//2 .. n_ctx-2 of the chunk), each of
      nv = 2*((n_vocab+1)//2) + 4 uint16: float32 scale, float32 min_log_prob, then n_vocab
      codes (padded to an even count); log p[i] = scale * code[i] + min_log_prob.

The rows are the reference's log-softmax quantized to 16 bits over the top 16 nats
(`quantize_log_probs`). The format holds one token stream cut into equal chunks whose second
half is scored: it cannot hold texts of different lengths scored from their first token, nor
where each text starts. gencheck's own reference file (pipeline.fidelity.saved.reference) keeps those, with
the same row encoding, and exports this format when the windows are llama-perplexity's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.errors import UsageError

MAGIC = b"_logits_"
HEADER_BYTES = len(MAGIC) + 3 * 4
# log-probs more than this many nats below the top are stored as "zero probability" (code 0).
LOG_PROB_RANGE = 16.0


def row_width(n_vocab: int) -> int:
    """uint16 slots per stored row: two float32 (scale, minimum) and the codes, padded to even."""
    return 2 * ((n_vocab + 1) // 2) + 4


@dataclass
class KldBaseFile:
    """One `--kl-divergence-base` file in memory. `rows[c]` is chunk c's (n_scored, nv) uint16."""

    n_ctx: int
    n_vocab: int
    tokens: np.ndarray  # int32, shape (n_chunk * n_ctx,)
    rows: np.ndarray    # uint16, shape (n_chunk, n_ctx - 1 - n_ctx // 2, nv)

    @property
    def n_chunk(self) -> int:
        return int(self.rows.shape[0])

    @property
    def first_scored(self) -> int:
        return self.n_ctx // 2

    def chunk_tokens(self, chunk: int) -> np.ndarray:
        return self.tokens[chunk * self.n_ctx:(chunk + 1) * self.n_ctx]


def scored_per_chunk(n_ctx: int) -> int:
    return n_ctx - 1 - n_ctx // 2


def quantize_log_probs(logits: np.ndarray) -> np.ndarray:
    """Rows of float32 logits -> rows of nv uint16, exactly as llama-perplexity stores them.

    Same float32 steps as its log_softmax(): max and min (clamped to 16 below the max), the
    sum of expf in double, then codes = round-half-even((logit - min) / scale) where a logit at
    or under the clamp gets 0.
    """
    logits = np.ascontiguousarray(logits, dtype=np.float32)
    n_rows, n_vocab = logits.shape
    out = np.zeros((n_rows, row_width(n_vocab)), dtype=np.uint16)
    max_logit = logits.max(axis=1)
    min_logit = np.maximum(logits.min(axis=1), max_logit - np.float32(LOG_PROB_RANGE))
    sum_exp = np.exp(logits - max_logit[:, None]).sum(axis=1, dtype=np.float64)
    log_sum_exp = np.log(sum_exp).astype(np.float32)
    min_log_prob = (min_logit - max_logit - log_sum_exp).astype(np.float32)
    scale = ((max_logit - min_logit) / np.float32(65535.0)).astype(np.float32)
    header = out[:, :4].view(np.float32)  # two float32 in the first four uint16 slots
    header[:, 0] = scale
    header[:, 1] = min_log_prob
    with np.errstate(divide="ignore"):
        inv_scale = np.where(scale != 0, np.float32(1.0) / scale, np.float32(0.0)).astype(np.float32)
    codes = np.rint(inv_scale[:, None] * (logits - min_logit[:, None]))
    codes = np.where(logits > min_logit[:, None], codes, 0)
    out[:, 4:4 + n_vocab] = codes.astype(np.uint16)
    return out


def dequantize_log_probs(rows: np.ndarray, n_vocab: int) -> np.ndarray:
    """Stored rows -> float32 log-probabilities, `scale * code + min_log_prob` as llama.cpp reads them."""
    rows = np.ascontiguousarray(rows, dtype=np.uint16)
    header = rows[:, :4].view(np.float32)
    scale, minimum = header[:, 0:1], header[:, 1:2]
    return (scale * rows[:, 4:4 + n_vocab].astype(np.float32) + minimum).astype(np.float32)


def write_kld_base(path: Path, base: KldBaseFile) -> None:
    expected = (base.n_chunk, scored_per_chunk(base.n_ctx), row_width(base.n_vocab))
    if base.rows.shape != expected or base.tokens.shape != (base.n_chunk * base.n_ctx,):
        raise ValueError(f"rows {base.rows.shape} / tokens {base.tokens.shape} do not fit "
                         f"n_ctx {base.n_ctx}, n_vocab {base.n_vocab}")
    with path.open("wb") as out:
        out.write(MAGIC)
        out.write(np.array([base.n_ctx, base.n_vocab, base.n_chunk], dtype="<i4").tobytes())
        out.write(base.tokens.astype("<i4").tobytes())
        out.write(base.rows.astype("<u2").tobytes())


def read_kld_base(path: Path) -> KldBaseFile:
    """Parse a base file; a file that is not one, or is cut short, is a one-line UsageError."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    return parse_kld_base(data, str(path))


def parse_kld_base(data: bytes, name: str = "the base file") -> KldBaseFile:
    if len(data) < HEADER_BYTES or data[:len(MAGIC)] != MAGIC:
        raise UsageError(f"{name} is not a llama-perplexity --kl-divergence-base file (no _logits_ header)")
    n_ctx, n_vocab, n_chunk = (int(v) for v in np.frombuffer(data, dtype="<i4", count=3, offset=len(MAGIC)))
    if n_ctx < 2 or n_vocab < 1 or n_chunk < 0:
        raise UsageError(f"{name}: impossible header n_ctx={n_ctx} n_vocab={n_vocab} n_chunk={n_chunk}")
    n_tokens = n_chunk * n_ctx
    n_scored = scored_per_chunk(n_ctx)
    nv = row_width(n_vocab)
    expected = HEADER_BYTES + 4 * n_tokens + 2 * n_chunk * n_scored * nv
    if len(data) < expected:
        raise UsageError(f"{name} is cut short: {len(data)} bytes, the header promises {expected}")
    tokens = np.frombuffer(data, dtype="<i4", count=n_tokens, offset=HEADER_BYTES).astype(np.int32)
    if n_tokens and (tokens.min() < 0 or tokens.max() >= n_vocab):
        raise UsageError(f"{name}: a token id lies outside the vocabulary of {n_vocab}")
    rows = np.frombuffer(data, dtype="<u2", count=n_chunk * n_scored * nv, offset=HEADER_BYTES + 4 * n_tokens)
    return KldBaseFile(n_ctx, n_vocab, tokens, rows.reshape(n_chunk, n_scored, nv).astype(np.uint16))
