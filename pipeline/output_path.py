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
    _make_folder(path.parent, what)


def prepare_output_folder(path: Path, what: str) -> None:
    """Make the folder `path`; refuse in one line a path that is a file or lies under one."""
    if path.exists() and not path.is_dir():
        raise UsageError(f"{what} is a file; give a folder")
    _make_folder(path, what)


def _make_folder(folder: Path, what: str) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), folder)
        raise UsageError(f"{what}: {blocker} is a file, not a folder") from None
    except OSError as error:  # no permission, a read-only file system, ...
        raise UsageError(f"{what}: cannot create its folder ({error.strerror or error})") from None
