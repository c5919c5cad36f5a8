"""Taking turns on one results store shared by many processes.

SQLite in WAL mode lets readers and one writer work at once, and a writer that finds another
waits (the busy timeout). Two things are not covered by that wait, and both failed under load:

- Opening a new store: the file starts in rollback mode, and `PRAGMA journal_mode=WAL` and the
  first migrations need its exclusive lock. Two openers that each hold a shared lock and want
  the exclusive one deadlock, and SQLite answers one of them "database is locked" at once,
  without waiting. Openings (and closings, which checkpoint and remove the WAL) therefore take
  turns under an OS lock on a file beside the store, `<store>-lock`.
- A write that waits longer than the busy timeout (8 busy writers on a loaded machine). A
  write starts with BEGIN IMMEDIATE, before any work is done, so starting it again is safe:
  begin_immediate() keeps trying until WRITE_WAIT_SECONDS have passed.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# How long one write waits for the others before it gives up. Generous: a sample costs
# minutes to generate, and losing it to an impatient lock would be the worse outcome.
WRITE_WAIT_SECONDS = 60.0
BEGIN_GIVE_UP_SECONDS = 600.0


def lock_path(store_path: Path) -> Path:
    return store_path.with_name(store_path.name + "-lock")


@contextmanager
def opening_lock(store_path: Path) -> Iterator[None]:
    """Hold the store's lock file exclusively (blocking) for the duration of the block.

    flock, not fcntl byte-range locks: these are SQLite's own, and closing any descriptor of
    the file would drop them. The lock file is never removed: removing it while another
    process waits on it would let a third one lock a new file beside them."""
    fd = os.open(lock_path(store_path), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock


def is_locked_error(exc: sqlite3.OperationalError) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


def begin_immediate(db: sqlite3.Connection, *, give_up_after: float = BEGIN_GIVE_UP_SECONDS) -> None:
    """BEGIN IMMEDIATE, started again while another writer holds the store, up to give_up_after."""
    deadline = time.monotonic() + give_up_after
    while True:
        try:
            db.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if not is_locked_error(exc) or time.monotonic() >= deadline:
                raise
