"""A reference model's distributions over some texts, saved once and compared against anywhere.

Each window (a whole text, or one llama-perplexity chunk) keeps its tokens, the first scored
position, and the reference's log-probs of every scored position as llama-perplexity's 16-bit
rows (pipeline.fidelity.saved.base_file), so both tools compute from the very same numbers. Unlike the
`--kl-divergence-base` format it also keeps where each text starts in the token stream (regions
are per text) and texts scored from their first token; windows shaped like llama-perplexity's
export to that format, and a base file made by llama-perplexity imports as a reference.

Files live beside the results store, `<store>-kld-references/`, named by the reference model's
sha256 and a hash of the texts and windowing: the 64 GB reference runs once on a big machine
and the file (kilobytes per token of vocabulary) travels to where the quants are checked.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipeline.errors import UsageError
from pipeline.fidelity.saved.base_file import (
    MAGIC,
    KldBaseFile,
    read_kld_base,
    row_width,
    scored_per_chunk,
)

FORMAT = "gencheck-kld-reference/1"
SUFFIX = ".kldref.npz"


def windowing_label(chunks: int | None) -> str:
    """`prefix` (every position with its whole text before it) or `chunks<CTX>` (llama-perplexity's)."""
    return "prefix" if not chunks else f"chunks{chunks}"


def texts_hash(texts: list[str], chunks: int | None) -> str:
    # Not pipeline.store.db's helpers: fidelity sits below the runs layer and must not import it.
    payload = json.dumps({"texts": texts, "windowing": windowing_label(chunks)}, sort_keys=True,
                         separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()


def references_dir(store_path: Path) -> Path:
    """`results.db` -> `results-kld-references/` beside it (like the smoke run's artifacts)."""
    resolved = store_path.resolve()
    return resolved.with_name(f"{resolved.stem}-kld-references")


def reference_path(directory: Path, model_sha256: str, text_hash: str, chunks: int | None) -> Path:
    return directory / f"{model_sha256[:16]}-{text_hash[:16]}-{windowing_label(chunks)}{SUFFIX}"


@dataclass
class Reference:
    model_sha256: str
    model_name: str
    n_vocab: int
    chunks: int | None           # CTX of llama-perplexity windows, or None for whole texts
    tokens: list[np.ndarray]     # per window, int32
    firsts: list[int]            # per window, the first scored position
    rows: list[np.ndarray]       # per window, (n_scored, nv) uint16
    text_starts: list[int] = field(default_factory=lambda: [0])  # token index in the stream
    text_hash: str = ""

    @property
    def n_tokens(self) -> int:
        return sum(len(r) for r in self.rows)

    def stream(self) -> np.ndarray:
        """The windows' tokens end to end (chunks tile the stream; whole texts are the stream)."""
        return np.concatenate(self.tokens) if self.tokens else np.zeros(0, dtype=np.int32)

    # -- gencheck's own file ---------------------------------------------------------------

    def save(self, path: Path) -> None:
        """Written to a temporary file and renamed: a reader never sees half a reference."""
        meta = {"format": FORMAT, "model_sha256": self.model_sha256, "model_name": self.model_name,
                "n_vocab": self.n_vocab, "chunks": self.chunks, "text_hash": self.text_hash}
        lengths = np.array([len(t) for t in self.tokens], dtype=np.int64)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=path.parent, suffix=".partial")
        try:
            with os.fdopen(handle, "wb") as out:
                np.savez(out, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
                         lengths=lengths, firsts=np.array(self.firsts, dtype=np.int64),
                         text_starts=np.array(self.text_starts, dtype=np.int64),
                         tokens=self.stream().astype(np.int32),
                         rows=np.concatenate(self.rows) if self.rows else
                         np.zeros((0, row_width(self.n_vocab)), dtype=np.uint16))
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    @staticmethod
    def load(path: Path) -> Reference:
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(bytes(data["meta"]).decode())
                if meta.get("format") != FORMAT:
                    raise UsageError(f"{path} is a reference of another format ({meta.get('format')!r})")
                lengths, firsts = data["lengths"], data["firsts"]
                tokens, rows = data["tokens"], data["rows"]
                text_starts = [int(v) for v in data["text_starts"]]
        except (OSError, ValueError, KeyError) as exc:
            raise UsageError(f"{path} is not a gencheck KL-divergence reference ({exc})") from None
        token_parts = np.split(tokens, np.cumsum(lengths)[:-1]) if len(lengths) else []
        counts = [max(0, int(n) - 1 - int(f)) for n, f in zip(lengths, firsts, strict=True)]
        row_parts = np.split(rows, np.cumsum(counts)[:-1]) if counts else []
        return Reference(meta["model_sha256"], meta["model_name"], int(meta["n_vocab"]), meta["chunks"],
                         list(token_parts), [int(f) for f in firsts], list(row_parts), text_starts,
                         meta.get("text_hash", ""))

    # -- llama-perplexity's --kl-divergence-base ---------------------------------------------

    def to_kld_base(self) -> KldBaseFile:
        if not self.chunks or any(len(t) != self.chunks or f != self.chunks // 2
                                  for t, f in zip(self.tokens, self.firsts, strict=True)):
            raise UsageError("only a reference made with --chunks CTX has llama-perplexity's windows; "
                             "make it with --chunks to export a --kl-divergence-base file")
        return KldBaseFile(self.chunks, self.n_vocab, self.stream().astype(np.int32),
                           np.stack(self.rows) if self.rows else
                           np.zeros((0, scored_per_chunk(self.chunks), row_width(self.n_vocab)), np.uint16))

    @staticmethod
    def from_kld_base(base: KldBaseFile, name: str) -> Reference:
        """A base file as a reference: one text, llama-perplexity's chunks, model hash unknown."""
        return Reference("", name, base.n_vocab, base.n_ctx,
                         [base.chunk_tokens(c).copy() for c in range(base.n_chunk)],
                         [base.first_scored] * base.n_chunk, [base.rows[c] for c in range(base.n_chunk)])


def is_kld_base_file(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def load_any(path: Path) -> Reference:
    """A saved reference: gencheck's own file or llama-perplexity's base file, told by content."""
    if is_kld_base_file(path):
        return Reference.from_kld_base(read_kld_base(path), path.name)
    return Reference.load(path)
