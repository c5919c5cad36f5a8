"""`gencheck inspect A.gguf B.gguf` on Qwen-sized headers, against the gguf package's reader.

    python bench/inspect_diff.py [--runs R]

Writes two headers shaped like QwQ-32B's (152,064 tokens with 421 control tokens, 151,387
merges, 64 blocks of 7 weight tensors; one Q8_0, one Q4_K with pad = eos) into a temp folder,
then prints the best of R times for reading both and diffing them, the time GGUFReader takes to
open one of them, and the ratio (how many times faster the diff of two files is than the
package opening one).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import gguf
import numpy as np

from pipeline.models.gguf_diff import diff_models
from pipeline.models.gguf_info import read_model_info

NORMAL_TOKENS, CONTROL_TOKENS, MERGES, BLOCKS = 151_643, 421, 151_387, 64
ROLES = ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")


def write_qwen_sized(path: Path, *, pad: int, qtype: gguf.GGMLQuantizationType) -> None:
    writer = gguf.GGUFWriter(str(path), "qwen2")
    writer.add_block_count(BLOCKS)
    writer.add_context_length(131072)
    tokens = [f"tok{i}" for i in range(NORMAL_TOKENS)] + [f"<|s{i}|>" for i in range(CONTROL_TOKENS)]
    tokens[151643], tokens[151645], tokens[151654] = "<|endoftext|>", "<|im_end|>", "<|vision_pad|>"
    writer.add_token_list(tokens)
    writer.add_token_types([1] * NORMAL_TOKENS + [3] * CONTROL_TOKENS)
    writer.add_token_merges([f"t{i} o{i}" for i in range(MERGES)])
    writer.add_bos_token_id(151643)
    writer.add_eos_token_id(151645)
    writer.add_pad_token_id(pad)
    writer.add_chat_template("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}"
                             "<|im_end|>\n{% endfor %}")
    weights_per_block = gguf.GGML_QUANT_SIZES[qtype][1]
    for layer in range(BLOCKS):
        for role in ROLES:  # one quant block a tensor: the header is what is measured
            writer.add_tensor(f"blk.{layer}.{role}.weight",
                              np.zeros((1, weights_per_block), dtype=np.uint8), raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def best_of(runs: int, work) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="timed runs; the best counts (default 3)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        a, b = Path(folder) / "q8_0.gguf", Path(folder) / "q4_k.gguf"
        print("writing two Qwen-sized headers ...", file=sys.stderr)
        write_qwen_sized(a, pad=151654, qtype=gguf.GGMLQuantizationType.Q8_0)
        write_qwen_sized(b, pad=151643, qtype=gguf.GGMLQuantizationType.Q4_K)
        diff = diff_models(read_model_info(a), read_model_info(b))
        assert diff.changes_generation, "the pad = eos file must differ"
        ours = best_of(args.runs, lambda: diff_models(read_model_info(a), read_model_info(b)))
        reference = best_of(1, lambda: gguf.GGUFReader(str(a)))
    print(f"inspect diff of two files (read both + diff): {ours:.3f} s (best of {args.runs})")
    print(f"gguf.GGUFReader opening one file:            {reference:.3f} s")
    print(f"ratio (reference / ours):                    {reference / ours:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
