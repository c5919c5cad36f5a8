"""llama.cpp's sampler chain as data: the chain and its parameters, presets and GGUF
defaults, the chain in words, and llama-cli's flags."""

from pipeline.lazy_exports import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "SamplerChain": "chain",
    "SamplerParams": "chain",
    "DEFAULT_ORDER": "chain",
    "LEGACY_DEFAULT_ORDER": "chain",
    "LLAMA_DEFAULT_SEED": "chain",
    "STAGES": "chain",
    "STAGE_LETTERS": "chain",
    "PARAM_SPECS": "chain",
    "PRESETS": "presets",
    "preset": "presets",
    "from_gguf_sampling": "presets",
    "gguf_sampling_notes": "presets",
    "chain_label": "explain",
    "explain_chain": "explain",
    "unused_settings": "explain",
    "server_request": "explain",
    "server_limitations": "explain",
    "openai_limitations": "explain",
    "LlamaArgs": "llama_flags",
    "parse_llama_args": "llama_flags",
    "chain_to_flags": "llama_flags",
    "add_llama_help": "llama_flags",
})
