"""Reading what a sandboxed program left behind, as untrusted input.

Every file in a sandbox's dir may have been written, replaced or swapped for a link by the
program that ran there (the harness runs inside the game's own process). So the parent reads
such a file only when, with every link resolved, it lies inside the sandbox's dir and is a
regular file (not a FIFO that would block the read forever, nor a device such as /dev/zero that
never ends), and never more than a size bound. JSON from it must have the shape the harness
writes, or it counts as absent; a screenshot must start as a PNG does and have a plain name.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# What the harness names a screenshot (`<scenario>-<label>.png`): no separator, no leading dot.
SCREENSHOT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,120}\.png")

Check = Callable[[Any], bool]


def read_bytes(path: Path, root: Path, limit: int, *, tail: bool = False) -> bytes | None:
    """The first (with `tail`, the last) `limit` bytes of a regular file inside `root`; None
    for anything else: missing, a link out of root, a FIFO, a device, a directory."""
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):  # missing, or a loop of links
        return None
    if not real.is_relative_to(root.resolve()):
        return None
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None
        if tail:
            fh.seek(max(0, info.st_size - limit))
        return fh.read(limit)


def read_text(path: Path, root: Path, limit: int, *, tail: bool = False) -> str:
    data = read_bytes(path, root, limit, tail=tail)
    return "" if data is None else data.decode("utf-8", "replace")


def read_json_object(path: Path, root: Path, schema: Mapping[str, Check],
                     required: tuple[str, ...] = (), limit: int = 1 << 20) -> dict[str, Any] | None:
    """A JSON object whose fields fit `schema` (absent fields allowed unless `required`)."""
    data = read_bytes(path, root, limit)
    if data is None:
        return None
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        return None
    return value if fits(value, schema, required) else None


def fits(value: Any, schema: Mapping[str, Check], required: tuple[str, ...] = ()) -> bool:
    return (isinstance(value, dict) and all(key in value for key in required)
            and all(check(value[key]) for key, check in schema.items() if key in value))


def is_int(value: Any) -> bool:
    return isinstance(value, int)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float)


def is_str(value: Any) -> bool:
    return isinstance(value, str)


def optional(check: Check) -> Check:
    return lambda value: value is None or check(value)


def list_of(check: Check, length: int | None = None) -> Check:
    return lambda value: (isinstance(value, list) and (length is None or len(value) == length)
                          and all(check(item) for item in value))


def obj(schema: Mapping[str, Check], required: tuple[str, ...] = ()) -> Check:
    return lambda value: fits(value, schema, required)


def copy_png(source_dir: Path, name: str, root: Path, target_dir: Path, limit: int) -> bool:
    """Copy screenshot `name` out of the sandbox when the name is plain (no separator: it can
    only land in target_dir) and its bytes start as a PNG's; False, with nothing written,
    otherwise."""
    if not SCREENSHOT_NAME.fullmatch(name):
        return False
    data = read_bytes(source_dir / name, root, limit)
    if data is None or not data.startswith(PNG_SIGNATURE):
        return False
    (target_dir / name).write_bytes(data)
    return True
