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
    if path.suffix == ".toml" and path.exists():
        source = _read(path, name_or_path)
    else:
        entry = resources.files(__name__) / f"{name_or_path}.toml"
        if "/" in name_or_path or not entry.is_file():
            raise UsageError(f"unknown prompt {name_or_path!r}; choose one of {', '.join(available())} "
                             "or give a path to a .toml prompt file")
        source = entry.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(source)
        prompt = Prompt(name=data["name"], text=data["text"], chat=data["chat"],
                        description=data.get("description", ""), raw=data)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"prompt file {name_or_path}: {exc}") from None
    except KeyError as exc:
        raise UsageError(f"prompt file {name_or_path}: no {exc.args[0]} = ... key") from None
    for key in ("name", "text", "chat", "description"):
        if not isinstance(getattr(prompt, key), str):
            raise UsageError(f"prompt file {name_or_path}: {key} must be a string")
    if "{prompt}" not in prompt.chat:
        # without the placeholder the prompt's text would silently never reach the model
        raise UsageError(f"prompt file {name_or_path}: chat must contain {{prompt}}, where the "
                         "text goes")
    return prompt


def _read(path: Path, shown: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise UsageError(f"prompt file {shown}: cannot be read ({reason})") from None
