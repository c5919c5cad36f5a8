"""A transcript: generated text plus how it was made. A bare llama-cli .txt is one with less metadata."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

FINISH_REASONS = ("eos", "length", "loop", "error", "unknown")


@dataclass
class Transcript:
    text: str
    prompt_name: str | None = None
    prompt: str | None = None
    model_path: str | None = None
    model_sha256: str | None = None
    engine: str | None = None
    engine_version: str | None = None
    chain: dict[str, Any] | None = None
    seed: int | None = None
    n_prompt_tokens: int | None = None
    n_generated_tokens: int | None = None
    seconds: float | None = None
    tokens_per_second: float | None = None
    finish_reason: str = "unknown"
    loop_guard: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def metadata(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("text")
        return data

    def save(self, path: Path) -> Path:
        """Write the text to `path` and the metadata to `path` + `.json`; return the sidecar path."""
        path.write_text(self.text, encoding="utf-8")
        sidecar = sidecar_path(path)
        sidecar.write_text(json.dumps(self.metadata(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return sidecar

    @classmethod
    def load(cls, path: Path) -> Transcript:
        """Read a text file and, when present, its `.json` sidecar."""
        text = path.read_text(encoding="utf-8", errors="replace")
        sidecar = sidecar_path(path)
        meta: dict[str, Any] = {}
        if sidecar.is_file():
            meta = json.loads(sidecar.read_text(encoding="utf-8"))
        known = {k: v for k, v in meta.items() if k in cls.__dataclass_fields__ and k != "text"}
        return cls(text=text, **known)


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")
