"""Model files: the GGUF header and what it says, the chat template, the tiny test model, and
llama.cpp's own tools built from the vendored sources."""

from pipeline.lazy_exports import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "read_header": "gguf_header",
    "GGUFFormatError": "gguf_header",
    "read_model_info": "gguf_info",
    "render_text": "gguf_info",
    "render_json": "gguf_info",
    "chat_template_of": "gguf_info",
    "wrap_prompt": "chat_template",
    "render_chat": "chat_template",
    "template_adds_think": "chat_template",
    "generation_prompt": "chat_template",
    "ensure_tiny_model": "tiny_model",
    "make_tiny_model": "tiny_model",
    "build_tools": "native_build",
    "find_llama_tool": "native_build",
    "run_llama_completion": "native_build",
})
