"""A store's content without its local ids, for tests that compare stores (merges, shards)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.store.db import Store


def snapshot(path: Path) -> dict[str, Any]:
    with Store(path) as store:
        db = store.db
        return {
            "runs": sorted(tuple(r) for r in db.execute(
                "SELECT uid, status, started_at, finished_at, command, settings, summary FROM runs")),
            "samples": sorted(tuple(r) for r in db.execute(
                "SELECT sample_key, text, transcript, seed, model_name, created_at FROM samples")),
            "validations": sorted(tuple(r) for r in db.execute(
                "SELECT validation_key, verdict, findings, code FROM validations")),
            "links": sorted(tuple(r) for r in db.execute(
                "SELECT r.uid, s.sample_key, rs.config_name, rs.reused, v.validation_key"
                " FROM run_samples rs JOIN runs r ON r.id = rs.run_id JOIN samples s ON s.id = rs.sample_id"
                " LEFT JOIN validations v ON v.id = rs.validation_id")),
        }


def sample_texts(path: Path) -> dict[str, str]:
    """sample key -> text."""
    with Store(path) as store:
        return {r[0]: r[1] for r in store.db.execute("SELECT sample_key, text FROM samples")}
