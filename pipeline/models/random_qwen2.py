"""A small qwen2-shaped GGUF with random weights, in F32 and quantized, for KL-divergence tests.

The tiny bigram model has zero attention and feed-forward weights, so quantizing it touches only
the embedding and output matrices. This model exercises the whole qwen2 graph (attention with
grouped KV heads and biases, SwiGLU, RMS norms, rope) with weights drawn from a fixed seed, and
its quantized copies (written here with the gguf package's reference Q8_0/Q4_0 code, or by the
vendored llama-quantize in pipeline.models.quantize) differ from it by a KL divergence that is
known to be non-zero and ordered: F16 < Q8_0 < Q4_0. It shares the tiny model's vocabulary.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.cache_dir import default_cache_dir
from pipeline.errors import UsageError
from pipeline.models.tiny_model import CHAT_TEMPLATE, add_tokenizer, bundled_corpus
from pipeline.models.tiny_vocab import PAD_TOKEN, build_vocabulary

BUILDER_VERSION = 1
TYPES = ("F32", "F16", "Q8_0", "Q4_0")


@dataclass(frozen=True)
class Shape:
    n_embd: int = 128
    n_layer: int = 2
    n_head: int = 4
    n_head_kv: int = 2
    n_ff: int = 256
    context: int = 4096


def _weights(shape: Shape, n_vocab: int, seed: int) -> dict[str, np.ndarray]:
    """Random float32 tensors; scales keep activations O(1) so the logits are far from flat."""
    rng = np.random.default_rng(seed)
    head_dim = shape.n_embd // shape.n_head
    kv = head_dim * shape.n_head_kv
    d = shape.n_embd

    def mat(rows: int, cols: int, gain: float = 1.0) -> np.ndarray:
        return (rng.standard_normal((rows, cols)) * gain / np.sqrt(cols)).astype(np.float32)

    tensors = {"token_embd.weight": rng.standard_normal((n_vocab, d)).astype(np.float32),
               "output_norm.weight": np.ones(d, dtype=np.float32),
               "output.weight": mat(n_vocab, d, 3.0)}
    for layer in range(shape.n_layer):
        block = {
            "attn_norm.weight": np.ones(d, dtype=np.float32), "ffn_norm.weight": np.ones(d, dtype=np.float32),
            "attn_q.weight": mat(d, d), "attn_k.weight": mat(kv, d), "attn_v.weight": mat(kv, d),
            "attn_q.bias": (rng.standard_normal(d) * 0.1).astype(np.float32),
            "attn_k.bias": (rng.standard_normal(kv) * 0.1).astype(np.float32),
            "attn_v.bias": (rng.standard_normal(kv) * 0.1).astype(np.float32),
            "attn_output.weight": mat(d, d), "ffn_gate.weight": mat(shape.n_ff, d),
            "ffn_up.weight": mat(shape.n_ff, d), "ffn_down.weight": mat(d, shape.n_ff),
        }
        tensors.update({f"blk.{layer}.{name}": value for name, value in block.items()})
    return tensors


def make_random_qwen2(out: Path, *, weight_type: str = "F32", seed: int = 0, shape: Shape = Shape()) -> Path:
    """Write the model with its 2-D weights as `weight_type` (norms and biases stay F32)."""
    import gguf  # heavy import, only when a model is built
    from gguf import quants

    if weight_type not in TYPES:
        raise UsageError(f"weight type {weight_type!r} is not one of {', '.join(TYPES)}")
    vocab = build_vocabulary(bundled_corpus(), 300)
    qtype = getattr(gguf.GGMLQuantizationType, weight_type)
    handle, temp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(handle)
    try:
        writer = gguf.GGUFWriter(temp, "qwen2")
        writer.add_name(f"gencheck random qwen2 seed {seed}")
        writer.add_context_length(shape.context)
        writer.add_embedding_length(shape.n_embd)
        writer.add_block_count(shape.n_layer)
        writer.add_feed_forward_length(shape.n_ff)
        writer.add_head_count(shape.n_head)
        writer.add_head_count_kv(shape.n_head_kv)
        writer.add_rope_freq_base(1_000_000.0)
        writer.add_layer_norm_rms_eps(1e-6)
        writer.add_file_type(getattr(gguf.LlamaFileType, "ALL_F32" if weight_type == "F32" else
                                     f"MOSTLY_{weight_type}"))
        add_tokenizer(writer, vocab, pad_token=PAD_TOKEN, template=CHAT_TEMPLATE)
        for name, value in _weights(shape, vocab.size, seed).items():
            if value.ndim == 2 and weight_type != "F32":
                data = value.astype(np.float16) if weight_type == "F16" else quants.quantize(value, qtype)
                writer.add_tensor(name, data, raw_dtype=qtype)
            else:
                writer.add_tensor(name, value)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        Path(temp).chmod(0o644)
        os.replace(temp, out)
    finally:
        Path(temp).unlink(missing_ok=True)
    return out


def ensure_random_qwen2(weight_type: str = "F32", *, seed: int = 0, cache_dir: Path | None = None) -> Path:
    """The model of this seed and type, built once into the cache (a few MB, well under a second)."""
    folder = (cache_dir or default_cache_dir()) / "random-qwen2"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"random-qwen2-v{BUILDER_VERSION}-seed{seed}-{weight_type}.gguf"
    if not path.is_file():
        make_random_qwen2(path, weight_type=weight_type, seed=seed)
    return path
