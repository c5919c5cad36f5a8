"""The sandbox every model-written program runs in: tiers and limits (box), the supervisor that
applies them inside the child, and the reading of what the program left (untrusted)."""

from pipeline.lazy_exports import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "Sandbox": "box",
    "Limits": "box",
    "SandboxResult": "box",
    "SandboxError": "box",
    "TIERS": "box",
    "available_tiers": "box",
    "choose_tier": "box",
    "claims": "box",
    "read_json_object": "untrusted",
    "read_text": "untrusted",
    "read_bytes": "untrusted",
})
