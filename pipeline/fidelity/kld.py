"""KL divergence of a model against a reference model, along given texts: the library behind
`gencheck kld`, `gencheck run --reference` and the pytest gate's `gencheck.kld(...)`.

Windowing: by default each text is one window and every position is scored with the whole text
before it. With `chunks=CTX`, llama-perplexity's: the texts' tokens end to end, cut into
len // CTX chunks of CTX tokens decoded on a cleared cache (BOS in place of the first token when
the model adds one), positions CTX//2 .. CTX-2 scored; n_batch // CTX chunks share one decode.
Text is then tokenized as llama-perplexity reads a file (see tokenize_text).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipeline.errors import UsageError
from pipeline.fidelity.logits import LogitsModel, Window
from pipeline.fidelity.regions import REGIONS, token_regions
from pipeline.fidelity.saved.base_file import quantize_log_probs, row_width
from pipeline.fidelity.saved.reference import Reference, texts_hash
from pipeline.fidelity.stats import KldSummary, TokenScores, score_positions, summarize
from pipeline.generation.engines.embedded import DEFAULT_N_BATCH

TOP_DIVERGENCES = 10
CONTEXT_TOKENS = 24  # tokens of text shown before a divergent position

Progress = Callable[[str], None]


@dataclass
class Divergence:
    kld: float
    same_top: bool
    region: str
    before: str   # the text leading up to the position
    token: str    # the token the text really has next

    def as_json(self) -> dict[str, object]:
        return {"kld": self.kld, "same_top": self.same_top, "region": self.region,
                "before": self.before, "token": self.token}


@dataclass
class KldResult:
    model: str
    reference: str
    windowing: str
    summary: KldSummary
    regions: dict[str, KldSummary]
    top: list[Divergence] = field(default_factory=list)

    @property
    def mean(self) -> float:
        return self.summary.mean_kld

    @property
    def same_top(self) -> float:
        return self.summary.same_top

    @property
    def n_tokens(self) -> int:
        return self.summary.n_tokens

    @property
    def summary_line(self) -> str:
        s = self.summary
        return (f"{self.model} vs {self.reference}: mean KLD {s.mean_kld:.6f} ± {s.mean_kld_uncertainty:.6f}, "
                f"same top {100 * s.same_top:.2f} %, 99% KLD {s.kld_percentiles['99']:.6f}, {s.n_tokens} tokens")

    def as_json(self) -> dict[str, object]:
        """The keys CI reads (mean_kld, same_top, kld_percentiles, n_tokens, regions) and the rest."""
        body = self.summary.as_json()
        return {"model": self.model, "reference": self.reference, "windowing": self.windowing, **body,
                "regions": {name: {"n_tokens": s.n_tokens, "mean_kld": s.mean_kld,
                                   "mean_kld_uncertainty": s.mean_kld_uncertainty,
                                   "same_top": s.same_top, "kld_percentiles": s.kld_percentiles}
                            for name, s in self.regions.items()},
                "top_divergences": [d.as_json() for d in self.top]}


def _quiet(_: str) -> None:
    return None


def chunk_windows(stream: np.ndarray, chunks: int) -> list[Window]:
    n_chunk = len(stream) // chunks
    if n_chunk < 1 or chunks < 4:
        raise UsageError(f"--chunks {chunks} needs at least {max(chunks, 4)} tokens of text and CTX >= 4; "
                         f"the texts have {len(stream)} tokens")
    return [Window(stream[i * chunks:(i + 1) * chunks], chunks // 2) for i in range(n_chunk)]


def _open(model_path: Path, windows_len: int, chunks: int | None, n_threads: int | None,
          n_batch: int) -> LogitsModel:
    if chunks:  # llama-perplexity's n_parallel = n_batch / n_ctx sequences per decode
        n_seq = max(1, n_batch // chunks)
        return LogitsModel(model_path, n_ctx=chunks, n_seq=n_seq, n_batch=min(n_batch, n_seq * chunks),
                           n_threads=n_threads)
    return LogitsModel(model_path, n_ctx=max(windows_len, 8), n_batch=n_batch, n_threads=n_threads)


def make_reference(model_path: Path, texts: Sequence[str], *, chunks: int | None = None,
                   model_sha256: str = "", n_threads: int | None = None, n_batch: int = DEFAULT_N_BATCH,
                   progress: Progress = _quiet) -> Reference:
    """Run the reference model over the texts once and keep its quantized log-probs."""
    if not texts:
        raise UsageError("no texts to score: give --text FILE, --run ID or --config NAME")
    with _open(model_path, 8, None, n_threads, n_batch) as probe:
        token_lists = [tokenize_text(probe, t, chunks) for t in texts]
    if chunks:
        stream = np.concatenate(token_lists)
        windows = chunk_windows(stream, chunks)
    else:
        windows = [Window(t, 0) for t in token_lists]
    starts = np.cumsum([0] + [len(t) for t in token_lists[:-1]]).tolist()
    longest = max(len(w.tokens) for w in windows)
    parts: list[list[np.ndarray]] = [[] for _ in windows]
    with _open(model_path, longest, chunks, n_threads, n_batch) as model:
        n_vocab = model.n_vocab
        for index, block in model.blocks(windows, bos_first=bool(chunks)):
            parts[index].append(quantize_log_probs(block))
            _report_window(progress, "reference", index, len(windows))
    rows = [np.concatenate(p) if p else np.zeros((0, row_width(n_vocab)), dtype=np.uint16) for p in parts]
    return Reference(model_sha256, model_path.name, n_vocab, chunks, [w.tokens for w in windows],
                     [w.first for w in windows], rows, [int(s) for s in starts], texts_hash(list(texts), chunks))


def tokenize_text(model: LogitsModel, text: str, chunks: int | None) -> np.ndarray:
    """A whole text is tokenized as the model saw it while generating (special tokens parsed);
    with llama-perplexity's chunks, as llama-perplexity reads `-f FILE`: one trailing newline
    dropped, special-token text left as plain text. Same text file, same tokens, same figures."""
    if chunks:
        return model.tokenize(text.removesuffix("\n"), parse_special=False)
    return model.tokenize(text)


def _report_window(progress: Progress, what: str, index: int, total: int) -> None:
    if total < 20 or (index + 1) % max(1, total // 20) == 0 or index + 1 == total:
        progress(f"{what}: window {index + 1}/{total}")


def compare(model_path: Path, reference: Reference, *, n_threads: int | None = None,
            n_batch: int = DEFAULT_N_BATCH, progress: Progress = _quiet) -> KldResult:
    """Score `model_path` against a reference: per-token KLD, summary, regions, top divergences."""
    windows = [Window(t, f) for t, f in zip(reference.tokens, reference.firsts, strict=True)]
    if not windows:
        raise UsageError("the reference holds no windows to score")
    longest = max(len(w.tokens) for w in windows)
    parts: list[TokenScores] = []
    with _open(model_path, longest, reference.chunks, n_threads, n_batch) as model:
        if model.n_vocab != reference.n_vocab:
            raise UsageError(f"{model_path.name} has {model.n_vocab} tokens, the reference "
                             f"{reference.n_vocab}: KL divergence needs the same vocabulary")
        done = np.zeros(len(windows), dtype=np.int64)  # rows of each window scored so far
        for index, block in model.blocks(windows, bos_first=bool(reference.chunks)):
            window, at = windows[index], int(done[index])
            targets = window.tokens[window.first + 1 + at:window.first + 1 + at + len(block)]
            parts.append(score_positions(block, reference.rows[index][at:at + len(block)], targets))
            done[index] += len(block)
            _report_window(progress, "compare", index, len(windows))
        labels, contexts = _labels_and_context(model, reference, windows)
    scores = TokenScores.concat(parts)
    regions = {name: summarize(scores.take(labels == index)) for index, name in enumerate(REGIONS)
               if name != "prompt" or bool((labels == index).any())}
    order = np.argsort(-scores.kld, kind="stable")[:TOP_DIVERGENCES]
    top = [Divergence(float(scores.kld[i]), bool(scores.same_top[i]), REGIONS[labels[i]], *contexts(int(i)))
           for i in order]
    return KldResult(model_path.name, reference.model_name, _windowing(reference), summarize(scores), regions, top)


def _windowing(reference: Reference) -> str:
    return f"llama-perplexity chunks of {reference.chunks}" if reference.chunks else "whole texts"


def _labels_and_context(model: LogitsModel, reference: Reference,
                        windows: list[Window]) -> tuple[np.ndarray, Callable[[int], tuple[str, str]]]:
    """Each scored position's region (of the token it predicts), and a function giving its context."""
    stream = reference.stream()
    pieces = [model.piece(int(t)) for t in stream]
    labels_stream = np.empty(len(stream), dtype=np.int8)
    bounds = [*reference.text_starts, len(stream)] if reference.text_starts else [0, len(stream)]
    for begin, end in zip(bounds[:-1], bounds[1:], strict=False):
        labels_stream[begin:end] = token_regions(pieces[begin:end])
    # where each scored position's predicted token lies in the stream
    predicted: list[np.ndarray] = []
    offset = 0
    for window in windows:
        predicted.append(offset + np.arange(window.first + 1, len(window.tokens)))
        offset += len(window.tokens)
    index = np.concatenate(predicted) if predicted else np.zeros(0, dtype=np.int64)

    def context(i: int) -> tuple[str, str]:
        at = int(index[i])
        before = b"".join(pieces[max(0, at - CONTEXT_TOKENS):at]).decode("utf-8", "replace")
        return before, pieces[at].decode("utf-8", "replace")

    return labels_stream[index], context


def cached_reference(reference_model: Path, texts: Sequence[str], *, chunks: int | None, directory: Path | None,
                     model_sha256: str, n_threads: int | None = None, progress: Progress = _quiet) -> Reference:
    """The reference for these texts from `directory` when saved before, else made and saved there."""
    from pipeline.fidelity.saved.reference import reference_path

    path = None
    if directory is not None:
        path = reference_path(directory, model_sha256, texts_hash(list(texts), chunks), chunks)
        if path.is_file():
            progress(f"reference: reusing {path}")
            return Reference.load(path)
    reference = make_reference(reference_model, texts, chunks=chunks, model_sha256=model_sha256,
                               n_threads=n_threads, progress=progress)
    if path is not None:
        reference.save(path)
        progress(f"reference: saved {path}")
    return reference

