"""Every KL-divergence result, appended to `<store>-kld-references/results.jsonl`.

`gencheck run --reference` records each model's result with the run's id, `gencheck kld` with
none; `gencheck compare` reads the column it shows from here. A line is one JSON object written
with a single append, so concurrent writers never interleave within a record.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pipeline.fidelity.saved.reference import references_dir

LEDGER = "results.jsonl"


def ledger_path(store_path: Path) -> Path:
    return references_dir(store_path) / LEDGER


def record(store_path: Path, entry: dict[str, Any]) -> None:
    path = ledger_path(store_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def entries(store_path: Path) -> list[dict[str, Any]]:
    """All readable records, oldest first; a torn last line (a killed writer) is skipped."""
    try:
        lines = ledger_path(store_path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            found.append(value)
    return found


def for_run(store_path: Path, run_id: int) -> list[dict[str, Any]]:
    """The latest record per model of a run's `--reference` check."""
    latest: dict[str, dict[str, Any]] = {}
    for entry in entries(store_path):
        if entry.get("run_id") == run_id:
            latest[str(entry.get("model_label") or entry.get("model"))] = entry
    return list(latest.values())
