"""Merging results stores: the stores of shards run on many machines become one.

`merge_into(out, inputs)` copies every run, sample, validation and run link of each input into
`out`, in one transaction (a refused merge writes nothing):

- samples are keyed as everywhere (SampleKey's digest): a key already in `out` with the same
  text is the same sample; with a different text the merge is refused, naming the key, since
  one of the two engines did not do what its key says;
- validations are keyed by their validation key; the first one kept wins, as in a run;
- runs are kept with new ids, recognised by their uid, so merging twice adds nothing;
- machine-local things (the model hash cache, keyed by path) are not merged.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import UsageError
from pipeline.store.db import Store

SAMPLE_COLUMNS = ("sample_key", "model_sha256", "model_name", "prompt_name", "chain", "seed", "engine",
                  "engine_version", "options", "text", "transcript", "n_generated_tokens", "seconds",
                  "finish_reason", "created_at")
VALIDATION_COLUMNS = ("validation_key", "content_sha256", "code_sha256", "validators_version", "options",
                      "verdict", "findings", "code", "details", "seconds", "created_at")
RUN_COLUMNS = ("uid", "started_at", "finished_at", "status", "command", "settings", "gencheck_version",
               "summary")


@dataclass
class MergedInput:
    """What one input brought: counts of new rows, and its runs' ids in the output."""

    path: Path
    runs_added: int = 0
    samples_added: int = 0
    samples_present: int = 0
    validations_added: int = 0
    links_added: int = 0
    latest_finished_run: int | None = None  # its id in the output

    def line(self) -> str:
        return (f"{self.path}: {self.runs_added} runs, {self.samples_added} samples "
                f"({self.samples_present} already there), {self.validations_added} validations added")


def merge_into(out: Store, inputs: Sequence[Path]) -> list[MergedInput]:
    """Merge every input store into `out` (an input that is `out` itself only reports its runs)."""
    for path in inputs:
        if not path.is_file():
            raise UsageError(f"input store {path} does not exist")
    results: list[MergedInput] = []
    with out.transaction() as db:  # all inputs or nothing: a refused sample rolls back the rest
        for path in inputs:
            if _same_file(path, out.path):
                results.append(MergedInput(path, latest_finished_run=_latest_finished(db)))
                continue
            with Store(path) as source:
                results.append(_merge_one(db, source.db, path))
    return results


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False


def _latest_finished(db: sqlite3.Connection) -> int | None:
    row = db.execute("SELECT MAX(id) FROM runs WHERE status='finished'").fetchone()
    return None if row[0] is None else int(row[0])


def _merge_one(out: sqlite3.Connection, source: sqlite3.Connection, path: Path) -> MergedInput:
    result = MergedInput(path)
    run_ids = {row["id"]: _merge_run(out, row, result) for row in source.execute("SELECT * FROM runs ORDER BY id")}
    latest = _latest_finished(source)
    result.latest_finished_run = None if latest is None else run_ids[latest]
    validation_ids = {row["id"]: _merge_validation(out, row, result)
                      for row in source.execute("SELECT * FROM validations ORDER BY id")}
    sample_ids = {row["id"]: _merge_sample(out, row, run_ids, result)
                  for row in source.execute("SELECT * FROM samples ORDER BY id")}
    for link in source.execute("SELECT * FROM run_samples ORDER BY rowid"):
        validation = None if link["validation_id"] is None else validation_ids[link["validation_id"]]
        cursor = out.execute(
            "INSERT INTO run_samples (run_id, sample_id, config_name, reused, validation_id)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (run_id, sample_id, config_name) DO UPDATE"
            " SET validation_id = COALESCE(run_samples.validation_id, excluded.validation_id)"
            " WHERE run_samples.validation_id IS NULL AND excluded.validation_id IS NOT NULL",
            (run_ids[link["run_id"]], sample_ids[link["sample_id"]], link["config_name"],
             link["reused"], validation))
        result.links_added += cursor.rowcount if cursor.rowcount > 0 else 0
    return result


def _merge_run(out: sqlite3.Connection, row: sqlite3.Row, result: MergedInput) -> int:
    present = out.execute("SELECT id, status FROM runs WHERE uid = ?", (row["uid"],)).fetchone()
    if present is None:
        cursor = out.execute(f"INSERT INTO runs ({', '.join(RUN_COLUMNS)}) VALUES ({_marks(RUN_COLUMNS)})",
                             [row[c] for c in RUN_COLUMNS])
        result.runs_added += 1
        run_id = int(cursor.lastrowid or 0)
        if row["summary"] is not None:  # its report names the run by id: the new one
            out.execute("UPDATE runs SET summary = ? WHERE id = ?", (_renumbered(row["summary"], run_id), run_id))
        return run_id
    run_id = int(present["id"])
    if present["status"] == "running" and row["status"] != "running":  # it finished since
        out.execute("UPDATE runs SET status = ?, finished_at = ?, summary = ? WHERE id = ?",
                    (row["status"], row["finished_at"],
                     None if row["summary"] is None else _renumbered(row["summary"], run_id), run_id))
    return run_id


def _renumbered(summary: str, run_id: int) -> str:
    report = json.loads(summary)
    if isinstance(report, dict) and "run_id" in report:
        report["run_id"] = run_id
    return json.dumps(report)


def _merge_validation(out: sqlite3.Connection, row: sqlite3.Row, result: MergedInput) -> int:
    present = out.execute("SELECT id FROM validations WHERE validation_key = ?", (row["validation_key"],)).fetchone()
    if present is not None:
        return int(present["id"])
    cursor = out.execute(f"INSERT INTO validations ({', '.join(VALIDATION_COLUMNS)})"
                         f" VALUES ({_marks(VALIDATION_COLUMNS)})", [row[c] for c in VALIDATION_COLUMNS])
    result.validations_added += 1
    return int(cursor.lastrowid or 0)


def _merge_sample(out: sqlite3.Connection, row: sqlite3.Row, run_ids: dict[int, int], result: MergedInput) -> int:
    present = out.execute("SELECT id, text FROM samples WHERE sample_key = ?", (row["sample_key"],)).fetchone()
    if present is not None:
        if present["text"] != row["text"]:
            raise UsageError(
                f"sample {row['sample_key']} ({row['model_name']}, prompt {row['prompt_name']}, seed "
                f"{row['seed']}, {row['engine_version']}) has a different text in {result.path}; "
                f"nothing was merged")
        result.samples_present += 1
        return int(present["id"])
    created_by = None if row["created_by_run"] is None else run_ids.get(row["created_by_run"])
    columns = (*SAMPLE_COLUMNS, "created_by_run")
    cursor = out.execute(f"INSERT INTO samples ({', '.join(columns)}) VALUES ({_marks(columns)})",
                         [*(row[c] for c in SAMPLE_COLUMNS), created_by])
    result.samples_added += 1
    return int(cursor.lastrowid or 0)


def _marks(columns: Sequence[str]) -> str:
    return ", ".join("?" * len(columns))
