"""Where a command will write a file: checked, and its folder made, before the work starts."""

from __future__ import annotations

from pathlib import Path

from pipeline.errors import UsageError


def prepare_output_file(path: Path, what: str) -> None:
    """Make `path`'s folder; refuse in one line a path that is a folder or lies under a file.

    `what` names the path in the message (`--output out.txt`, `OUT.gguf x.gguf`). Called before
    a long run, so a mistyped path costs nothing rather than the whole run's work.
    """
    if path.is_dir():
        raise UsageError(f"{what} is a folder; give a file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((folder for folder in path.parents if folder.exists() and not folder.is_dir()),
                       path.parent)
        raise UsageError(f"{what}: {blocker} is a file, not a folder") from None
    except OSError as error:  # no permission, a read-only file system, ...
        raise UsageError(f"{what}: cannot create its folder ({error.strerror or error})") from None
