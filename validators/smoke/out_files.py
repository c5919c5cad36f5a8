"""What the harness leaves in one scenario's out dir, read back by the parent as untrusted input.

The harness runs inside the game's process, so the game can overwrite, delete or replace any of
these files: result.json (outcome, frames, exception, screenshots), exit.json (how the process
ended), frames.jsonl (the draw record), stdout/stderr and the PNG screenshots. Each is read
through validators/sandbox/untrusted.py (regular files inside the sandbox, size-bounded) and must have
the shape the harness writes (validators/smoke/harness/run_game.py, harness_record.py); a result that
does not counts as no result, a frame that does not ends the record there.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from validators.sandbox.untrusted import (
    copy_png,
    is_int,
    is_number,
    is_str,
    list_of,
    obj,
    optional,
    read_bytes,
    read_json_object,
    read_text,
)

OUTCOMES = ("exit", "exception", "hang", "stopped")
RESULT_SCHEMA = {
    "outcome": lambda v: v in OUTCOMES,
    "frame": is_int, "flips": is_int, "virtual_ms": is_number,
    "window": optional(list_of(is_int, 2)),
    "quit_frame": optional(is_int), "stop_reason": optional(is_str),
    "exit_code": lambda v: v is None or isinstance(v, int | str),
    "hang_s": is_number, "line": optional(is_int), "code": optional(is_str),
    "skipped_after": is_str,
    "exception": obj({"type": is_str, "message": is_str, "line": optional(is_int),
                      "code": optional(is_str), "traceback": is_str},
                     required=("type", "message", "line")),
    "screenshots": list_of(obj({"path": is_str, "frame": is_int, "label": is_str},
                               required=("path",))),
}
RESULT_REQUIRED = ("outcome", "frame", "flips")
EXIT_SCHEMA = {"exit_code": optional(is_int), "signal": optional(is_int),
               "timed_out": lambda v: isinstance(v, bool), "wall_s": is_number}
MAX_SCREENSHOTS = 64  # a scenario asks for a handful; the game must not flood the user's dir
OUTPUT_TAIL = 16 * 1024


def read_result(out: Path, root: Path) -> dict[str, Any] | None:
    """result.json when it has the harness's shape (an exception outcome must carry its
    exception), else None."""
    result = read_json_object(out / "result.json", root, RESULT_SCHEMA, RESULT_REQUIRED)
    if result is not None and result["outcome"] == "exception" and "exception" not in result:
        return None
    return result


def read_exit(out: Path, root: Path) -> dict[str, Any] | None:
    return read_json_object(out / "exit.json", root, EXIT_SCHEMA, ("timed_out",))


def read_tail(path: Path, root: Path) -> str:
    return read_text(path, root, OUTPUT_TAIL, tail=True)


def read_frames(path: Path, root: Path, limit: int) -> list[dict[str, Any]]:
    """The draw record, one entry per line; it ends at the first line that is cut short (the
    output limit) or not a frame as the harness writes it."""
    data = read_bytes(path, root, limit)
    frames: list[dict[str, Any]] = []
    for line in (data or b"").splitlines():
        try:
            entry = json.loads(line)
        except (ValueError, RecursionError):
            break
        if not _is_frame(entry):
            break
        if entry.pop("same", 0):  # drew exactly what the frame before drew
            if not frames:
                break
            entry["ops"] = frames[-1]["ops"]
        elif not isinstance(entry.get("ops"), list) or not all(map(_is_op, entry["ops"])):
            break
        frames.append(entry)
    return frames


def _is_frame(entry: Any) -> bool:
    return (isinstance(entry, dict) and type(entry.get("f")) is int
            and isinstance(entry.get("t"), int | float) and type(entry.get("flip", 0)) is int
            and isinstance(entry.get("in", []), list) and all(map(_is_input, entry.get("in", []))))


def _is_input(item: Any) -> bool:
    """[kind, key]: ["down", "space"], ["up", "q"], or ["quit", None] for a window close."""
    return (type(item) is list and len(item) == 2 and type(item[0]) is str
            and (item[1] is None or type(item[1]) is str))


def _is_op(op: Any) -> bool:
    """[kind, rgb or None, [x, y, w, h], width, extra]: extra is None, a radius, a text or
    points."""
    if type(op) is not list or len(op) != 5 or type(op[0]) is not str or type(op[3]) is not int:
        return False
    rgb, box, extra = op[1], op[2], op[4]
    return ((rgb is None or _is_ints(rgb, 3)) and _is_ints(box, 4)
            and (extra is None or isinstance(extra, str | int | float)
                 or (type(extra) is list and all(_is_ints(p, 2) for p in extra))))


def _is_ints(value: Any, length: int) -> bool:
    return (type(value) is list and len(value) == length
            and all(type(v) is int for v in value))


def keep_screenshots(out: Path, root: Path, scenario: str, result: dict[str, Any] | None,
                     target: Path | None, limit: int) -> list[Path]:
    """Copy the screenshots the result lists into `target`: only names the harness gives this
    scenario's shots (`<scenario>-f0060.png`, `<scenario>-last.png`: a game cannot overwrite
    the user's other files in the dir), each a real PNG file of the out dir, at most
    MAX_SCREENSHOTS."""
    if target is None or result is None:
        return []
    ours = re.compile(re.escape(scenario) + r"-(f[0-9]{4,6}|last)\.png")
    kept: list[Path] = []
    for shot in result.get("screenshots", [])[:MAX_SCREENSHOTS]:
        name = shot["path"]
        if ours.fullmatch(name) and copy_png(out, name, root, target, limit):
            kept.append(target / name)
    return kept
