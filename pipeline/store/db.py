"""The results store: one SQLite file (stdlib sqlite3, WAL) that keeps every run, sample and verdict.

Where it lives: `--store PATH`, else `$GENCHECK_HOME/gencheck.db`, else
`$XDG_DATA_HOME/gencheck/gencheck.db`, else `~/.local/share/gencheck/gencheck.db`.

- `runs`: one row per `gencheck run` (or gate) invocation, kept forever so the nightly job can
  say what changed since last night; its status is `running`, `finished`, or `stopped` (Ctrl-C,
  SIGTERM, an error; a SIGKILLed run stays `running`).
- `samples`: one generated transcript, keyed by what decides its text (model sha256, prompt,
  sampler chain JSON, seed, engine and its version, generation options). Shared between runs:
  a sample is generated once and reused by every later run that asks for the same key.
- `run_samples`: which samples a run used, under which configuration name, and whether the run
  generated or reused it.
- `validations`: a verdict with its findings, keyed by the hash of the validated text and the
  validators' version (and options such as the smoke run), so a changed validator re-validates
  old samples and an unchanged one never repeats work.

A sample row is written together with its run link in one transaction: a SIGKILL leaves either
the whole sample or none of it. Many processes may share one store (two runs, shards on one
disk, the pytest gate beside a run): opening (WAL switch, migrations) and closing take turns
under a lock file beside the store, and each write waits for the one before it (see
pipeline/store/lock.py), so none fails with "database is locked". The schema grows by migrations (pipeline/store/schema.py), each
applied once and recorded by name in `_migrations`.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline.errors import UsageError
from pipeline.store import schema as store_schema
from pipeline.store.lock import WRITE_WAIT_SECONDS, begin_immediate, opening_lock

GATE_COMMAND = "pytest-gate"  # a run row's command when the pytest gate made it: [GATE_COMMAND, config]


def default_store_path() -> Path:
    """`$GENCHECK_HOME/gencheck.db`, else `$XDG_DATA_HOME/gencheck/gencheck.db`, else
    `~/.local/share/gencheck/gencheck.db`."""
    home = os.environ.get("GENCHECK_HOME")
    if home:
        return Path(home).expanduser() / "gencheck.db"
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return base / "gencheck" / "gencheck.db"


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class SampleKey:
    """Everything that decides a sample's text. Equal keys mean the work was already done."""

    model_sha256: str
    prompt_name: str
    chain: Mapping[str, Any]
    seed: int
    engine: str
    engine_version: str
    options: Mapping[str, Any]

    @property
    def digest(self) -> str:
        return sha256_text(canonical_json({
            "model_sha256": self.model_sha256, "prompt_name": self.prompt_name,
            "chain": self.chain, "seed": self.seed, "engine": self.engine,
            "engine_version": self.engine_version, "options": self.options,
        }))


@dataclass(frozen=True)
class StoredSample:
    id: int
    key: str
    model_name: str
    prompt_name: str
    seed: int
    text: str
    transcript: dict[str, Any]
    n_generated_tokens: int | None
    seconds: float | None
    finish_reason: str | None


@dataclass(frozen=True)
class StoredValidation:
    id: int
    verdict: str
    findings: list[dict[str, Any]]
    code: str | None
    details: dict[str, Any]
    seconds: float | None


@dataclass(frozen=True)
class RunSampleRow:
    """One sample of a run, joined with its validation (None while not yet validated)."""

    run_id: int
    config_name: str
    reused: bool
    sample: StoredSample
    validation: StoredValidation | None


def validation_key(content_sha256: str, validators_version: str, options: Mapping[str, Any]) -> str:
    return sha256_text(canonical_json({"content": content_sha256, "validators": validators_version,
                                       "options": options}))


class Store:
    """A connection to the results store. Use as a context manager or call close()."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_store_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot open the results store {self.path}: {exc}") from None
        # SQLite's busy wait does not cover everything an opening does: switching a new file to
        # WAL and creating tables start in rollback mode, where two openers can deadlock and one
        # is refused at once ("database is locked", 1 run in 7 under load). So openings take turns.
        try:
            self._open()
        except OSError as exc:  # the lock file beside the store cannot be made: a read-only folder
            raise UsageError(f"cannot open the results store {self.path}: {exc}") from None

    def _open(self) -> None:
        with opening_lock(self.path):
            try:
                # isolation_level=None: we open transactions ourselves (BEGIN IMMEDIATE), so each
                # write is exactly one transaction and nothing is committed behind our back.
                self.db = sqlite3.connect(self.path, isolation_level=None, timeout=WRITE_WAIT_SECONDS)
            except (OSError, sqlite3.Error) as exc:
                raise UsageError(f"cannot open the results store {self.path}: {exc}") from None
            try:
                self.db.row_factory = sqlite3.Row
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
                self.db.execute("PRAGMA foreign_keys=ON")
                self.migrate()
            except sqlite3.Error as exc:  # not SQLite, another program's database, read-only...
                self.db.close()
                raise UsageError(f"cannot use {self.path} as the results store: {exc}") from None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        # The last connection to close checkpoints and removes the WAL file; an opening at
        # that moment could find the file half gone, so closing takes its turn too.
        with opening_lock(self.path):
            self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        begin_immediate(self.db)
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- schema ---------------------------------------------------------------------------

    def migrate(self) -> list[str]:
        """Apply every migration not yet recorded, each in its own transaction; return their names."""
        self.db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
        applied = []
        done = set(self.applied_migrations())  # a read: opening an up-to-date store writes nothing
        for name, apply in store_schema.MIGRATIONS:
            if name in done:
                continue
            with self.transaction() as db:
                if db.execute("SELECT 1 FROM _migrations WHERE name = ?", (name,)).fetchone():
                    continue  # another process applied it since
                apply(db)
                db.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", (name, now()))
                applied.append(name)
        return applied

    def applied_migrations(self) -> list[str]:
        return [r["name"] for r in self.db.execute("SELECT name FROM _migrations ORDER BY rowid")]

    # -- runs -----------------------------------------------------------------------------

    def start_run(self, command: list[str], settings: Mapping[str, Any], version: str) -> int:
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO runs (started_at, status, command, settings, gencheck_version, uid) "
                "VALUES (?, 'running', ?, ?, ?, ?)",
                (now(), json.dumps(command), canonical_json(settings), version, uuid.uuid4().hex))
            return int(cur.lastrowid or 0)

    def finish_run(self, run_id: int, summary: Mapping[str, Any]) -> None:
        with self.transaction() as db:
            db.execute("UPDATE runs SET status='finished', finished_at=?, summary=? WHERE id=?",
                       (now(), json.dumps(summary), run_id))

    def stop_run(self, run_id: int) -> None:
        """A run ended early (Ctrl-C, SIGTERM, an error): not `running` any more, never `finished`."""
        with self.transaction() as db:
            db.execute("UPDATE runs SET status='stopped', finished_at=? WHERE id=?", (now(), run_id))

    def runs(self) -> list[sqlite3.Row]:
        return list(self.db.execute("SELECT * FROM runs ORDER BY id"))

    def run_settings(self, run_id: int) -> dict[str, Any]:
        row = self.db.execute("SELECT started_at, settings FROM runs WHERE id=?", (run_id,)).fetchone()
        return {} if row is None else {"started_at": row["started_at"], **json.loads(row["settings"])}

    def finished_runs(self, *, with_gate: bool = True, with_shards: bool = True) -> list[int]:
        """Ids of the finished runs, oldest first; without the pytest gate's own runs, or without
        `--shard K/N` runs (a part of a matrix; `gencheck merge` joins them into a whole), if asked."""
        rows = self.db.execute("SELECT id, command, settings FROM runs WHERE status='finished' ORDER BY id")
        return [int(r["id"]) for r in rows
                if (with_gate or json.loads(r["command"])[:1] != [GATE_COMMAND])
                and (with_shards or "shard" not in json.loads(r["settings"]))]

    # -- samples --------------------------------------------------------------------------

    def find_sample(self, key: SampleKey) -> StoredSample | None:
        row = self.db.execute("SELECT * FROM samples WHERE sample_key = ?", (key.digest,)).fetchone()
        return None if row is None else _sample(row)

    def add_sample(self, run_id: int, config_name: str, key: SampleKey, model_name: str,
                   text: str, transcript: Mapping[str, Any]) -> StoredSample:
        """Store a generated sample and link it to the run, in one transaction."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO samples (sample_key, model_sha256, model_name, prompt_name, chain, seed,"
                " engine, engine_version, options, text, transcript, n_generated_tokens, seconds,"
                " finish_reason, created_at, created_by_run)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (sample_key) DO NOTHING",
                (key.digest, key.model_sha256, model_name, key.prompt_name,
                 canonical_json(key.chain), key.seed, key.engine, key.engine_version,
                 canonical_json(key.options), text, json.dumps(dict(transcript), default=str),
                 transcript.get("n_generated_tokens"), transcript.get("seconds"),
                 transcript.get("finish_reason"), now(), run_id))
            row = db.execute("SELECT * FROM samples WHERE sample_key = ?", (key.digest,)).fetchone()
            db.execute("INSERT OR IGNORE INTO run_samples (run_id, sample_id, config_name, reused)"
                       " VALUES (?, ?, ?, 0)", (run_id, row["id"], config_name))
        return _sample(row)

    def link_reused(self, run_id: int, config_name: str, sample_id: int) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO run_samples (run_id, sample_id, config_name, reused)"
                       " VALUES (?, ?, ?, 1)", (run_id, sample_id, config_name))

    def sample_count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM samples").fetchone()[0])

    # -- validations ----------------------------------------------------------------------

    def find_validation(self, key: str) -> StoredValidation | None:
        row = self.db.execute("SELECT * FROM validations WHERE validation_key = ?", (key,)).fetchone()
        return None if row is None else _validation(row)

    def add_validation(self, key: str, *, content_sha256: str, code_sha256: str | None,
                       validators_version: str, options: Mapping[str, Any], verdict: str,
                       findings: list[dict[str, Any]], code: str | None,
                       details: Mapping[str, Any], seconds: float | None) -> StoredValidation:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO validations (validation_key, content_sha256, code_sha256,"
                " validators_version, options, verdict, findings, code, details, seconds, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (validation_key) DO NOTHING",
                (key, content_sha256, code_sha256, validators_version, canonical_json(options),
                 verdict, json.dumps(findings, default=str), code, json.dumps(dict(details), default=str),
                 seconds, now()))
            row = db.execute("SELECT * FROM validations WHERE validation_key = ?", (key,)).fetchone()
        return _validation(row)

    def attach_validation(self, run_id: int, sample_id: int, config_name: str, validation_id: int) -> None:
        with self.transaction() as db:
            db.execute("UPDATE run_samples SET validation_id=? WHERE run_id=? AND sample_id=? AND config_name=?",
                       (validation_id, run_id, sample_id, config_name))

    # -- reading back ---------------------------------------------------------------------

    def run_samples(self, run_id: int) -> list[RunSampleRow]:
        rows = self.db.execute(
            "SELECT rs.run_id, rs.config_name, rs.reused, s.*, v.id AS v_id, v.verdict AS v_verdict,"
            " v.findings AS v_findings, v.code AS v_code, v.details AS v_details, v.seconds AS v_seconds"
            " FROM run_samples rs JOIN samples s ON s.id = rs.sample_id"
            " LEFT JOIN validations v ON v.id = rs.validation_id"
            " WHERE rs.run_id = ? ORDER BY rs.rowid", (run_id,))
        return [RunSampleRow(
            run_id=r["run_id"], config_name=r["config_name"], reused=bool(r["reused"]),
            sample=_sample(r),
            validation=None if r["v_id"] is None else StoredValidation(
                id=r["v_id"], verdict=r["v_verdict"], findings=json.loads(r["v_findings"]),
                code=r["v_code"], details=json.loads(r["v_details"]), seconds=r["v_seconds"]))
            for r in rows]

    def config_names(self, run_id: int | None = None) -> list[str]:
        if run_id is None:
            rows = self.db.execute("SELECT DISTINCT config_name FROM run_samples ORDER BY config_name")
        else:
            rows = self.db.execute("SELECT DISTINCT config_name FROM run_samples WHERE run_id=?"
                                   " ORDER BY config_name", (run_id,))
        return [r[0] for r in rows]

    def latest_run_with_config(self, config_name: str) -> int | None:
        row = self.db.execute("SELECT MAX(run_id) FROM run_samples WHERE config_name=?"
                              " AND validation_id IS NOT NULL", (config_name,)).fetchone()
        return None if row[0] is None else int(row[0])

    # -- model hashes ---------------------------------------------------------------------

    def cached_model_hash(self, path: Path) -> str | None:
        st = path.stat()
        row = self.db.execute("SELECT sha256 FROM model_hashes WHERE path=? AND size=? AND mtime_ns=?",
                              (str(path.resolve()), st.st_size, st.st_mtime_ns)).fetchone()
        return None if row is None else str(row[0])

    def remember_model_hash(self, path: Path, sha256: str) -> None:
        st = path.stat()
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO model_hashes (path, size, mtime_ns, sha256) VALUES (?, ?, ?, ?)",
                       (str(path.resolve()), st.st_size, st.st_mtime_ns, sha256))


def _sample(row: sqlite3.Row) -> StoredSample:
    return StoredSample(
        id=row["id"], key=row["sample_key"], model_name=row["model_name"],
        prompt_name=row["prompt_name"], seed=row["seed"], text=row["text"],
        transcript=json.loads(row["transcript"]), n_generated_tokens=row["n_generated_tokens"],
        seconds=row["seconds"], finish_reason=row["finish_reason"])


def _validation(row: sqlite3.Row) -> StoredValidation:
    return StoredValidation(id=row["id"], verdict=row["verdict"], findings=json.loads(row["findings"]),
                            code=row["code"], details=json.loads(row["details"]), seconds=row["seconds"])
