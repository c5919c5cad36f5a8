"""Generation: a prompt and a sampler chain in, a transcript out, under the loop guard; the
engines (embedded llama.cpp, llama-server, OpenAI-compatible, replay) live in engines/."""

from pipeline.lazy_exports import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "generate": "generate",
    "GenerationFailed": "generate",
    "GenerationInterrupted": "generate",
    "file_sha256": "generate",
    "GuardedStream": "loop_guard",
    "LoopGuardSettings": "loop_guard",
})
