"""Summed decode speed of N parallel sequences: gencheck's embedded engine beside llama-batched-bench.

    python bench/parallel.py [--parallel 1,2,4,8] [--tokens 32] [--runs 3] [--threads T] [--layers 8]

For each N, N sequences of the same short prompt generate --tokens tokens each (end tokens
banned, loop guard off, so every sequence runs its full length), and the summed decode rate of
the shared steps is printed beside llama-batched-bench's S_TG for the same model, prompt length,
token count and N, with their ratio (goal: 0.9 or more at every N).

The model: decode cost depends on the shape, not the values, so a qwen2-shaped GGUF with random
f16 weights (a few hundred MB, written once into the cache with numpy + gguf) stands in for a
real one; its single decode step must take 5 ms or more here, or the figures measure overhead
only. The tiny test model's ratio is printed too. llama-batched-bench comes from
`python -m pipeline.models.native_build` (the same llama.cpp commit as the embedded engine).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np

from pipeline.cache_dir import default_cache_dir
from pipeline.generation.engines.base import GenerationRequest
from pipeline.generation.engines.embedded import EmbeddedEngine
from pipeline.generation.loop_guard import LoopGuardSettings
from pipeline.generation.parallel import ParallelSequences
from pipeline.generation.slots import SampleJob
from pipeline.models.native_build import find_llama_tool
from pipeline.models.tiny_model import bundled_corpus, ensure_tiny_model
from pipeline.models.tiny_vocab import BOS_TOKEN, EOS_TOKEN, PAD_TOKEN, build_vocabulary
from pipeline.sampling.chain import SamplerChain

PROMPT = "<|im_start|>user\nWrite a game.<|im_end|>\n<|im_start|>assistant\n<think>\n"
STEP_GOAL_MS = 5.0
RATIO_GOAL = 0.9


# -- the random-weight model -------------------------------------------------------------------

def bench_model(layers: int, n_embd: int = 1024, ffn: int = 4096, heads: int = 16, kv_heads: int = 4) -> Path:
    """A qwen2-shaped GGUF with random f16 weights, written once into the cache."""
    folder = default_cache_dir() / "bench-model"
    path = folder / f"qwen2-random-l{layers}-e{n_embd}-f{ffn}-h{heads}-kv{kv_heads}.gguf"
    if path.is_file():
        return path
    import gguf

    folder.mkdir(parents=True, exist_ok=True)
    vocab = build_vocabulary(bundled_corpus(), 300)
    head_dim, rng = n_embd // heads, np.random.default_rng(0)
    writer = gguf.GGUFWriter(str(path.with_suffix(".tmp")), "qwen2")
    writer.add_name("gencheck random bench model")
    writer.add_context_length(32768)
    writer.add_embedding_length(n_embd)
    writer.add_block_count(layers)
    writer.add_feed_forward_length(ffn)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_rope_freq_base(1_000_000.0)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("qwen2")
    writer.add_token_list(list(vocab.tokens))
    writer.add_token_types(list(vocab.token_types))
    writer.add_token_merges(list(vocab.merges))
    writer.add_bos_token_id(vocab.id_of(BOS_TOKEN))
    writer.add_eos_token_id(vocab.id_of(EOS_TOKEN))
    writer.add_pad_token_id(vocab.id_of(PAD_TOKEN))
    writer.add_add_bos_token(False)

    def weight(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(np.float16)

    ones = np.ones(n_embd, dtype=np.float32)
    writer.add_tensor("token_embd.weight", weight(vocab.size, n_embd))
    writer.add_tensor("output_norm.weight", ones)
    writer.add_tensor("output.weight", weight(vocab.size, n_embd))
    kv = kv_heads * head_dim
    for layer in range(layers):
        name = f"blk.{layer}."
        writer.add_tensor(name + "attn_norm.weight", ones)
        writer.add_tensor(name + "ffn_norm.weight", ones)
        for tensor, shape in (("attn_q.weight", (n_embd, n_embd)), ("attn_k.weight", (kv, n_embd)),
                              ("attn_v.weight", (kv, n_embd)), ("attn_output.weight", (n_embd, n_embd)),
                              ("ffn_gate.weight", (ffn, n_embd)), ("ffn_up.weight", (ffn, n_embd)),
                              ("ffn_down.weight", (n_embd, ffn))):
            writer.add_tensor(name + tensor, weight(*shape))
        for tensor, size in (("attn_q.bias", n_embd), ("attn_k.bias", kv), ("attn_v.bias", kv)):
            writer.add_tensor(name + tensor, np.zeros(size, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    path.with_suffix(".tmp").replace(path)
    return path


# -- the two measurements ----------------------------------------------------------------------

def embedded_rate(model: Path, n: int, tokens: int, threads: int) -> tuple[float, int]:
    """Summed tok/s over the shared decode steps, and the prompt's token count."""
    with EmbeddedEngine(model, n_ctx=n * 512, n_threads=threads, n_parallel=n) as engine:
        prompt_tokens = len(engine.tokenize(PROMPT))
        ends = tuple((t, float("-inf")) for t in range(engine.n_vocab) if engine.is_end_of_generation(t))
        chain = SamplerChain(logit_bias=ends)

        def jobs(count: int) -> list[SampleJob]:
            return [SampleJob(seed, GenerationRequest(PROMPT, chain.with_seed(seed), count + 1))
                    for seed in range(1, n + 1)]

        sequences = ParallelSequences(engine, loop_guard=LoopGuardSettings(enabled=False))

        class Quiet:
            def started(self, *_: object) -> None: ...
            def piece(self, *_: object) -> None: ...
            def finished(self, *_: object) -> None: ...

        sequences.run(iter(jobs(2)), Quiet())  # warm-up, as llama-batched-bench does one
        sequences.step_seconds, sequences.step_tokens = 0.0, 0
        sequences.run(iter(jobs(tokens)), Quiet())
        sequences.close()
        return sequences.step_tokens / sequences.step_seconds, prompt_tokens


def batched_bench_rates(tool: Path, model: Path, ns: list[int], prompt_tokens: int, tokens: int,
                        threads: int) -> dict[int, float]:
    """llama-batched-bench's S_TG (summed text-generation tok/s) per N."""
    command = [str(tool), "-m", str(model), "-c", str(max(ns) * 512), "-b", "2048", "-ub", "512",
               "-npp", str(prompt_tokens), "-ntg", str(tokens), "-npl", ",".join(map(str, ns)),
               "-t", str(threads), "-tb", str(threads)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        sys.exit(f"llama-batched-bench failed:\n{done.stderr[-2000:]}")
    rates: dict[int, float] = {}
    for line in (done.stdout + done.stderr).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 8 and re.fullmatch(r"\d+", cells[0]) and re.fullmatch(r"\d+", cells[2]):
            rates[int(cells[2])] = float(cells[7])  # PP TG B N_KV T_PP S_PP T_TG S_TG ...
    return rates


def table(name: str, model: Path, ns: list[int], tokens: int, threads: int, runs: int) -> list[float]:
    """Median of `runs` alternating measurements per side, so a busy moment hits both alike."""
    tool = find_llama_tool("llama-batched-bench")
    size_mb = model.stat().st_size / 1e6
    our_runs: dict[int, list[float]] = {n: [] for n in ns}
    their_runs: dict[int, list[float]] = {n: [] for n in ns}
    prompt_tokens = 0
    for _ in range(runs):
        for n in ns:
            rate, prompt_tokens = embedded_rate(model, n, tokens, threads)
            our_runs[n].append(rate)
        if tool:
            for n, rate in batched_bench_rates(tool, model, ns, prompt_tokens, tokens, threads).items():
                their_runs.setdefault(n, []).append(rate)
    ours = {n: statistics.median(rates) for n, rates in our_runs.items()}
    theirs = {n: statistics.median(rates) for n, rates in their_runs.items() if rates}
    print(f"\n{name}: {model.name} ({size_mb:.0f} MB), prompt {prompt_tokens} tokens, {tokens} generated "
          f"per sequence, {threads} threads, median of {runs} runs; one decode step at N=1: {1000 / ours[ns[0]]:.1f} ms")
    print(f"{'N':>3} {'gencheck tok/s':>15} {'batched-bench tok/s':>20} {'ratio':>6}")
    ratios = []
    for n in ns:
        ref = theirs.get(n)
        ratio = ours[n] / ref if ref else float("nan")
        ratios.append(ratio)
        print(f"{n:>3} {ours[n]:>15.1f} {ref if ref else float('nan'):>20.1f} {ratio:>6.2f}")
    if tool is None:
        print("llama-batched-bench is not built: run `python -m pipeline.models.native_build` for the reference")
    return ratios


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parallel", default="1,2,4,8", help="the N to measure (default 1,2,4,8)")
    parser.add_argument("--tokens", type=int, default=32, help="tokens generated per sequence (default 32)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="CPU threads (default: all)")
    parser.add_argument("--runs", type=int, default=3, help="measurements per side, median shown (default 3)")
    parser.add_argument("--layers", type=int, default=8, help="layers of the random model (default 8: about 250 MB)")
    args = parser.parse_args()
    ns = [int(n) for n in args.parallel.split(",")]
    big = bench_model(args.layers)
    ratios = table("random-weight qwen2", big, ns, args.tokens, args.threads, args.runs)
    table("tiny test model", ensure_tiny_model(), ns, args.tokens, args.threads, args.runs)
    held = all(r >= RATIO_GOAL for r in ratios)
    print(f"\ngoal: >= {RATIO_GOAL} of llama-batched-bench at every N on the random-weight model: "
          + ("held" if held else "NOT held"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
