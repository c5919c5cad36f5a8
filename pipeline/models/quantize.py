"""Quantized copies of a GGUF made by the vendored `llama-quantize`, for KL-divergence tests.

The copies are what users check: the same tool, the same commit as the llama.cpp gencheck runs.
Each is cached beside the other built things, named by the source file's content and the type.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from pipeline.cache_dir import default_cache_dir
from pipeline.errors import UsageError
from pipeline.models.native_build import find_llama_tool

QUANT_TYPES = ("Q8_0", "Q4_0", "Q4_K_M", "Q6_K", "F16")


def _content_key(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def quantize(source: Path, out: Path, quant_type: str, *, threads: int = 2, pure: bool = False) -> Path:
    """Run llama-quantize [--pure] SOURCE OUT TYPE; its log goes to OUT.log when it fails.

    Without --pure llama-quantize keeps some tensors finer (the output matrix of a Q4_0 file
    becomes Q6_K, or Q8_0 when its rows do not fit 256-blocks): on the tiny model, whose only
    informative tensor is the output matrix, Q4_0 and Q8_0 then score the same. --pure makes
    every tensor TYPE.
    """
    if quant_type not in QUANT_TYPES:
        raise UsageError(f"quant type {quant_type!r} is not one of {', '.join(QUANT_TYPES)}")
    tool = find_llama_tool("llama-quantize")
    if tool is None:
        raise UsageError("llama-quantize is not built: run `python -m pipeline.models.native_build` first")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    done = subprocess.run([str(tool), *(["--pure"] if pure else []), str(source), str(partial), quant_type,
                           str(threads)],
                          capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    if done.returncode != 0 or not partial.is_file():
        log = out.with_name(out.name + ".log")
        log.write_text(done.stdout + done.stderr, encoding="utf-8")
        partial.unlink(missing_ok=True)
        raise RuntimeError(f"llama-quantize {quant_type} of {source} failed ({done.returncode}); see {log}")
    partial.replace(out)
    return out


def ensure_quantized(source: Path, quant_type: str, *, pure: bool = False, cache_dir: Path | None = None) -> Path:
    """SOURCE quantized to QUANT_TYPE, made once and reused."""
    folder = (cache_dir or default_cache_dir()) / "quantized"
    out = folder / f"{source.stem}-{_content_key(source)}-{quant_type}{'-pure' if pure else ''}.gguf"
    if not out.is_file():
        quantize(source, out, quant_type, pure=pure)
    return out
