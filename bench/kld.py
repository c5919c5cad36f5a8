"""Tokens scored per second by `gencheck kld` against `llama-perplexity --kl-divergence`. Goal: >= 0.9.

    python bench/kld.py [--ctx 128] [--runs 3] [--threads 1] [--model tiny|random-qwen2]

Both score the same quant against the same `--kl-divergence-base` file (made once by
llama-perplexity from the reference), with the same context, batch and threads. Each side is
timed whole, model loading included, as a user waits for it: llama-perplexity as a process,
gencheck as `compare()` in this process. Runs alternate between the two; the medians are
compared. Needs llama-perplexity and llama-quantize (python -m pipeline.models.native_build).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from pipeline.fidelity.kld import compare
from pipeline.fidelity.llama_perplexity import kl_divergence, make_base
from pipeline.fidelity.saved.reference import load_any
from pipeline.models.native_build import find_llama_tool
from pipeline.models.quantize import ensure_quantized
from pipeline.models.random_qwen2 import ensure_random_qwen2
from pipeline.models.tiny_model import ensure_tiny_model

GOAL_RATIO = 0.9
CORPUS = Path(__file__).resolve().parent.parent / "fixtures" / "corpus"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ctx", type=int, default=128, help="chunk size (llama-perplexity -c)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--model", choices=("tiny", "random-qwen2"), default="random-qwen2")
    parser.add_argument("--quant", default="Q4_0")
    args = parser.parse_args()
    tool = find_llama_tool("llama-perplexity")
    if tool is None or find_llama_tool("llama-quantize") is None:
        print("llama-perplexity / llama-quantize not built: run python -m pipeline.models.native_build", file=sys.stderr)
        return 1
    reference_model = ensure_tiny_model() if args.model == "tiny" else ensure_random_qwen2("F32")
    quant = ensure_quantized(reference_model, args.quant)
    with tempfile.TemporaryDirectory() as scratch:
        text = Path(scratch) / "answers.txt"
        text.write_text("".join(p.read_text(encoding="utf-8") for p in sorted(CORPUS.glob("*.txt"))),
                        encoding="utf-8")
        base = Path(scratch) / "base.kld"
        make_base(tool, reference_model, text, base, n_ctx=args.ctx, threads=args.threads)
        reference = load_any(base)
        ours: list[float] = []
        theirs: list[float] = []
        for _ in range(args.runs):
            started = time.perf_counter()
            figures, _ = kl_divergence(tool, quant, base, n_ctx=args.ctx, threads=args.threads)
            theirs.append(time.perf_counter() - started)
            started = time.perf_counter()
            result = compare(quant, reference, n_threads=args.threads)
            ours.append(time.perf_counter() - started)
    n = reference.n_tokens
    ours_rate, theirs_rate = n / statistics.median(ours), n / statistics.median(theirs)
    print(f"models: {reference_model.name} -> {quant.name}; {n} tokens scored in chunks of {args.ctx}, "
          f"{args.threads} thread(s), median of {args.runs}")
    print(f"mean KLD: gencheck {result.mean:.6f}, llama-perplexity "
          f"{figures.mean_kld if figures else float('nan'):.6f}")
    print(f"llama-perplexity --kl-divergence: {theirs_rate:,.0f} tokens/s ({statistics.median(theirs):.2f} s)")
    print(f"gencheck kld:                     {ours_rate:,.0f} tokens/s ({statistics.median(ours):.2f} s)")
    ratio = ours_rate / theirs_rate
    print(f"ratio gencheck / llama-perplexity: {ratio:.2f} (goal >= {GOAL_RATIO})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
