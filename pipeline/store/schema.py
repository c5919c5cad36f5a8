"""The results store's schema, grown by migrations: small named functions applied once each.

Every migration is recorded by name in `_migrations` when it is applied (pipeline/store/db.py's
Store.migrate); add a new one at the end, never change one that has shipped.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

Migration = Callable[[sqlite3.Connection], None]
MIGRATIONS: list[tuple[str, Migration]] = []


def migration(fn: Migration) -> Migration:
    MIGRATIONS.append((fn.__name__, fn))
    return fn


@migration
def m001_initial(db: sqlite3.Connection) -> None:
    db.execute("""
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            status TEXT NOT NULL,             -- running | finished (a killed run stays running)
            command TEXT NOT NULL,            -- JSON argv
            settings TEXT NOT NULL,           -- JSON: models, configs, seeds, prompt, options
            gencheck_version TEXT NOT NULL,
            summary TEXT                      -- JSON report of the finished run
        )""")
    db.execute("""
        CREATE TABLE samples (
            id INTEGER PRIMARY KEY,
            sample_key TEXT NOT NULL UNIQUE,  -- sha256 of the identity columns below
            model_sha256 TEXT NOT NULL,
            model_name TEXT NOT NULL,
            prompt_name TEXT NOT NULL,
            chain TEXT NOT NULL,              -- canonical JSON of the sampler chain
            seed INTEGER NOT NULL,
            engine TEXT NOT NULL,
            engine_version TEXT NOT NULL,
            options TEXT NOT NULL,            -- canonical JSON: n_predict and the like
            text TEXT NOT NULL,
            transcript TEXT NOT NULL,         -- JSON metadata of the Transcript
            n_generated_tokens INTEGER,
            seconds REAL,
            finish_reason TEXT,
            created_at TEXT NOT NULL,
            created_by_run INTEGER REFERENCES runs(id)
        )""")
    db.execute("""
        CREATE TABLE run_samples (
            run_id INTEGER NOT NULL REFERENCES runs(id),
            sample_id INTEGER NOT NULL REFERENCES samples(id),
            config_name TEXT NOT NULL,
            reused INTEGER NOT NULL,          -- 1 when the sample existed before this run
            validation_id INTEGER REFERENCES validations(id),
            PRIMARY KEY (run_id, sample_id, config_name)
        )""")
    db.execute("""
        CREATE TABLE validations (
            id INTEGER PRIMARY KEY,
            validation_key TEXT NOT NULL UNIQUE,  -- sha256 of content hash + version + options
            content_sha256 TEXT NOT NULL,     -- hash of the validated transcript text
            code_sha256 TEXT,                 -- hash of the extracted program, when there is one
            validators_version TEXT NOT NULL,
            options TEXT NOT NULL,
            verdict TEXT NOT NULL,
            findings TEXT NOT NULL,           -- JSON list of Finding.to_json()
            code TEXT,
            details TEXT NOT NULL,            -- JSON: smoke tier, scenarios, screenshots...
            seconds REAL,
            created_at TEXT NOT NULL
        )""")
    db.execute("CREATE INDEX run_samples_by_config ON run_samples(config_name)")
    db.execute("CREATE INDEX validations_by_code ON validations(code_sha256)")


@migration
def m002_model_hashes(db: sqlite3.Connection) -> None:
    # Hashing a 20 GB GGUF takes minutes; remember it by path, size and mtime.
    db.execute("""
        CREATE TABLE model_hashes (
            path TEXT NOT NULL,
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            PRIMARY KEY (path, size, mtime_ns)
        )""")


@migration
def m003_run_uids(db: sqlite3.Connection) -> None:
    # A run's id is local to its store; `gencheck merge` renumbers runs, so a merged run is
    # recognised by this uid (merging twice adds nothing). Earlier runs get a random one.
    db.execute("ALTER TABLE runs ADD COLUMN uid TEXT")
    db.execute("UPDATE runs SET uid = lower(hex(randomblob(16)))")
    db.execute("CREATE UNIQUE INDEX runs_by_uid ON runs(uid)")
