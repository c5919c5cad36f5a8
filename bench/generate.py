"""Tokens per second of the embedded engine against llama-completion, same model and chain.

    python bench/generate.py [--model M.gguf] [--tokens 2000] [--runs 5] [--threads 1]

Both sides run the write-up's chain (top_k;top_p;min_p;temperature;dry;typ_p;xtc, temp 0.6,
DRY 0.5, min_p 0.1) with the end tokens biased to -inf, so every run generates exactly --tokens
tokens, and both count the same span: prompt decoding plus generation, model loading excluded
(llama-completion's own "total time" line; for the embedded engine, the wall time of one
stream). Also shown: generate() with the loop guard on, which is what `gencheck generate` runs.
The best of --runs is kept for each, runs interleaved, so other load on the machine disturbs
the ratio less.
Goal (issue 4): embedded / llama-completion >= 0.95. Needs `python -m pipeline.models.native_build`.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pipeline.generation.engines.base import GenerationRequest  # noqa: E402
from pipeline.generation.engines.embedded import EmbeddedEngine  # noqa: E402
from pipeline.generation.generate import generate  # noqa: E402
from pipeline.generation.loop_guard import LoopGuardSettings  # noqa: E402
from pipeline.models.native_build import find_llama_tool, run_llama_completion  # noqa: E402
from pipeline.models.tiny_model import ensure_tiny_model  # noqa: E402
from pipeline.sampling.llama_flags import parse_llama_args  # noqa: E402

GOAL_RATIO = 0.95
PROMPT = "<|im_start|>user\nWrite a Flappy Bird game in Python.<|im_end|>\n<|im_start|>assistant\n<think>\n"
CHAIN_FLAGS = ["--samplers", "top_k;top_p;min_p;temperature;dry;typ_p;xtc", "--temp", "0.6",
               "--dry-multiplier", "0.5", "--min-p", "0.1", "--top-k", "40", "--top-p", "0.95",
               "--seed", "3407"]


def end_token_biases(engine: EmbeddedEngine) -> list[str]:
    ends = [t for t in range(engine.n_vocab) if engine.is_end_of_generation(t)]
    return [arg for token in ends for arg in ("--logit-bias", f"{token}-inf")]


def embedded_once(engine: EmbeddedEngine, flags: list[str], tokens: int) -> tuple[float, float]:
    """Tokens/s of a bare stream, and of generate() with the loop guard on."""
    chain = parse_llama_args(flags).chain
    started = time.perf_counter()
    count = sum(piece.n_tokens for piece in engine.stream(GenerationRequest(PROMPT, chain, tokens)))
    bare = count / (time.perf_counter() - started)
    transcript = generate(engine, PROMPT, chain, n_predict=tokens, progress=False,
                          loop_guard=LoopGuardSettings(enabled=True))
    if count != tokens or transcript.n_generated_tokens != tokens:
        raise SystemExit(f"the embedded engine stopped early ({transcript.finish_reason})")
    return bare, transcript.n_generated_tokens / transcript.seconds


def _timings(stderr: bytes) -> tuple[re.Match[str], re.Match[str]] | None:
    """llama-completion's total-time and eval lines, when its log reached them."""
    text = stderr.decode("utf-8", "replace")
    found = re.search(r"total time =\s*([\d.]+) ms /\s*(\d+) tokens", text)
    evals = re.search(r"(?<!prompt )eval time =.*?/\s*(\d+) runs", text)
    return (found, evals) if found and evals else None


def completion_once(tool: Path, model: Path, prompt_file: Path, flags: list[str], tokens: int,
                    n_ctx: int, threads: int) -> float:
    # A run whose timing lines were lost (llama-completion's unflushed logger) is run again.
    result = run_llama_completion(
        tool, ["-m", str(model), "-f", str(prompt_file), "-n", str(tokens), "-c", str(n_ctx),
               "-t", str(threads), "--no-display-prompt", *flags],
        lambda run: _timings(run.stderr) is not None, timeout=600)
    timings = _timings(result.stderr)
    if timings is None:
        raise SystemExit("could not read llama-completion's timings:\n"
                         + result.stderr.decode("utf-8", "replace")[-2000:])
    found, evals = timings
    generated = int(evals.group(1)) + 1  # the last token is sampled but never decoded
    if generated != tokens:
        raise SystemExit(f"llama-completion generated {generated} tokens, not {tokens}")
    return generated / (float(found.group(1)) / 1000)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="a GGUF (default: the tiny test model)")
    parser.add_argument("--tokens", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1,
                        help="both sides (default 1: on a shared 2-core machine two threads "
                        "waiting on each other run many times slower)")
    args = parser.parse_args()
    tool = find_llama_tool("llama-completion")
    if tool is None:
        print("llama-completion is not built: run `python -m pipeline.models.native_build`", file=sys.stderr)
        return 2
    model = args.model or ensure_tiny_model()
    n_ctx = len(PROMPT) + args.tokens + 64
    embedded = guarded = reference = 0.0
    # Runs interleave (ours, theirs, ours, ...) so a burst of load elsewhere hits both sides.
    with EmbeddedEngine(model, n_ctx=n_ctx, n_threads=args.threads) as engine, \
            tempfile.TemporaryDirectory() as tmp:
        flags = CHAIN_FLAGS + end_token_biases(engine)
        prompt_file = Path(tmp) / "prompt.txt"
        prompt_file.write_text(PROMPT + "\n", encoding="utf-8")  # -f drops one trailing newline
        for _ in range(args.runs):
            bare, with_guard = embedded_once(engine, flags, args.tokens)
            embedded, guarded = max(embedded, bare), max(guarded, with_guard)
            reference = max(reference, completion_once(tool, model, prompt_file, flags, args.tokens,
                                                       n_ctx, args.threads))
    ratio = embedded / reference
    print(f"model:                      {model.name}")
    print(f"tokens per run:             {args.tokens} (best of {args.runs}, {args.threads} thread(s))")
    print(f"llama-completion:           {reference:9.1f} tok/s")
    print(f"embedded engine:            {embedded:9.1f} tok/s")
    print(f"generate() with loop guard: {guarded:9.1f} tok/s")
    print(f"ratio embedded / llama-completion: {ratio:.3f} (goal >= {GOAL_RATIO})")
    print(f"ratio generate() / llama-completion: {guarded / reference:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
