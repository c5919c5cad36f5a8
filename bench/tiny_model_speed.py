"""Tokens per second of the tiny test model under llama.cpp, against the 1,000 tok/s it must beat.

    python bench/tiny_model_speed.py [--tokens N] [--runs R]

Generates N tokens (end-of-turn ignored, so every run is the same length) with llama-cpp-python,
R times, and prints the median rate and its ratio to the 1,000 tok/s goal; with llama-completion
built (python -m pipeline.models.native_build) it also times that program on the same model and prompt.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

from pipeline.models.native_build import find_llama_tool, run_llama_completion
from pipeline.models.tiny_model import ensure_tiny_model

GOAL_TOKENS_PER_SECOND = 1000.0
PROMPT = "<|im_start|>user\nWrite a game.<|im_end|>\n<|im_start|>assistant\n<think>\n"


def embedded_rate(model: Path, tokens: int, seed: int) -> float:
    from llama_cpp import Llama

    llm = Llama(model_path=str(model), n_ctx=tokens + 64, verbose=False, seed=seed, n_threads=1)
    try:
        llm.eval(llm.tokenize(PROMPT.encode(), add_bos=False, special=True))
        started = time.perf_counter()
        for _ in range(tokens):
            token = llm.sample(temp=0.8, top_k=40, top_p=0.95, min_p=0.05)
            llm.eval([token])
        return tokens / (time.perf_counter() - started)
    finally:
        llm.close()


EVAL_RATE = re.compile(rb"(?<!prompt )eval time =.*?runs.*?([\d.]+) tokens per second")


def completion_rate(tool: Path, model: Path, tokens: int, seed: int) -> float | None:
    # One thread: the model is too small to split, and on a busy 2-core machine two threads
    # waiting on each other ran 50x slower (95 vs 5,400 tok/s measured). A run whose timing
    # line was lost (llama-completion's unflushed logger) is run again.
    result = run_llama_completion(
        tool, ["-m", str(model), "-p", PROMPT, "-n", str(tokens), "--ignore-eos",
               "--seed", str(seed), "-c", str(tokens + 64), "-t", "1"],
        lambda run: EVAL_RATE.search(run.stderr) is not None)
    found = EVAL_RATE.search(result.stderr)
    return float(found.group(1)) if found else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    model = ensure_tiny_model()
    rates = [embedded_rate(model, args.tokens, seed) for seed in range(args.runs)]
    median = statistics.median(rates)
    print(f"model: {model}")
    print(f"llama-cpp-python: {median:,.0f} tok/s (median of {args.runs} x {args.tokens} tokens); "
          f"ratio to the {GOAL_TOKENS_PER_SECOND:,.0f} tok/s goal: {median / GOAL_TOKENS_PER_SECOND:.2f}")
    tool = find_llama_tool("llama-completion")
    if tool is None:
        print("llama-completion: not built (python -m pipeline.models.native_build)")
        return 0
    native = [completion_rate(tool, model, args.tokens, seed) for seed in range(args.runs)]
    measured = [rate for rate in native if rate is not None]
    if not measured:
        print("llama-completion: ran but printed no timing", file=sys.stderr)
        return 1
    native_median = statistics.median(measured)
    print(f"llama-completion: {native_median:,.0f} tok/s; "
          f"ratio to the goal: {native_median / GOAL_TOKENS_PER_SECOND:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
