"""Where gencheck keeps things it builds once (the tiny model, llama.cpp binaries)."""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir() -> Path:
    """`$GENCHECK_CACHE`, else `$XDG_CACHE_HOME/gencheck`, else `~/.cache/gencheck`."""
    explicit = os.environ.get("GENCHECK_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "gencheck"
