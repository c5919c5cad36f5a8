"""Test prompts: one TOML file per prompt with its text, chat wrapping, scenarios and requirements."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from pipeline.errors import UsageError

DEFAULT_PROMPT = "flappy_bird"


@dataclass(frozen=True)
class Prompt:
    name: str
    text: str
    chat: str
    description: str = ""
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    def wrapped(self) -> str:
        """The prompt in its chat template, ending where the assistant's reasoning starts."""
        return self.chat.replace("{prompt}", self.text)


def available() -> list[str]:
    return sorted(p.name.removesuffix(".toml") for p in resources.files(__name__).iterdir()
                  if p.name.endswith(".toml"))


def load_prompt(name_or_path: str = DEFAULT_PROMPT) -> Prompt:
    """A prompt by name (`flappy_bird`) or by path to a TOML file of the same shape."""
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.is_file():
        source = path.read_text(encoding="utf-8")
    else:
        entry = resources.files(__name__) / f"{name_or_path}.toml"
        if not entry.is_file():
            raise UsageError(f"unknown prompt {name_or_path!r}; choose one of {', '.join(available())} "
                             "or give a path to a .toml prompt file")
        source = entry.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(source)
        return Prompt(name=data["name"], text=data["text"], chat=data["chat"],
                      description=data.get("description", ""), raw=data)
    except (tomllib.TOMLDecodeError, KeyError) as exc:
        raise UsageError(f"prompt file {name_or_path}: {exc}") from None
