"""The judgement of a smoke run: what the prompt asks (requirements) and what a player would
see (the play checks), read from the draw record; `run_smoke` plays and judges."""

from pipeline.lazy_exports import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "run_smoke": "session",
    "check_requirements": "requirements",
    "check_play": "checks",
})
