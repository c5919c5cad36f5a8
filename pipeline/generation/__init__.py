"""Generation: a prompt and a sampler chain in, a transcript out, under the loop guard; the
engines (embedded llama.cpp, llama-server, OpenAI-compatible, replay) live in engines/. Many
samples at once: slots that take the next job, N sequences in one llama.cpp context (parallel),
a pool of server endpoints, and the context size a run needs."""

from pipeline.lazy_exports import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "generate": "generate",
    "GenerationFailed": "generate",
    "GenerationInterrupted": "generate",
    "file_sha256": "generate",
    "GuardedStream": "loop_guard",
    "SampleJob": "slots",
    "SerialSlots": "slots",
    "ParallelSequences": "parallel",
    "EndpointPool": "endpoint_pool",
    "choose_context": "context_size",
    "LoopGuardSettings": "loop_guard",
})
