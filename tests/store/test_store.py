"""The results store: migrations once by name, samples shared between runs, atomic writes."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.store import schema as store_schema
from pipeline.store.db import SampleKey, Store, default_store_path, validation_key


def key(seed: int = 1, **changes: object) -> SampleKey:
    fields: dict[str, object] = dict(model_sha256="ab" * 32, prompt_name="flappy_bird",
                                     chain={"order": ["top_k", "temperature"], "temp": 0.6},
                                     seed=seed, engine="embedded", engine_version="0.3.36",
                                     options={"n_predict": 256})
    fields.update(changes)
    return SampleKey(**fields)  # type: ignore[arg-type]


def add(store: Store, run_id: int, seed: int, config: str = "cfg", text: str = "hello") -> int:
    return store.add_sample(run_id, config, key(seed), "tiny.gguf", text,
                            {"seed": seed, "n_generated_tokens": 5, "seconds": 0.1,
                             "finish_reason": "eos"}).id


def test_default_store_path_prefers_gencheck_home_then_xdg(monkeypatch: pytest.MonkeyPatch,
                                                           tmp_path: Path) -> None:
    monkeypatch.setenv("GENCHECK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_store_path() == tmp_path / "home" / "gencheck.db"
    monkeypatch.delenv("GENCHECK_HOME")
    assert default_store_path() == tmp_path / "xdg" / "gencheck" / "gencheck.db"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert default_store_path() == Path.home() / ".local" / "share" / "gencheck" / "gencheck.db"


def test_migrations_apply_once_each_in_order(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        names = [name for name, _ in store_schema.MIGRATIONS]
        assert store.applied_migrations() == names
        assert store.migrate() == []
    with Store(tmp_path / "s.db") as again:
        assert again.applied_migrations() == names


def test_a_new_migration_is_applied_to_an_existing_store(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    Store(tmp_path / "s.db").close()

    def m999_add_note(db: sqlite3.Connection) -> None:
        db.execute("ALTER TABLE runs ADD COLUMN note TEXT")

    monkeypatch.setattr(store_schema, "MIGRATIONS", [*store_schema.MIGRATIONS, ("m999_add_note", m999_add_note)])
    with Store(tmp_path / "s.db") as store:
        assert store.applied_migrations()[-1] == "m999_add_note"
        assert "note" in [r[1] for r in store.db.execute("PRAGMA table_info(runs)")]


def test_store_uses_write_ahead_logging(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_sample_key_changes_with_every_part_that_decides_the_text() -> None:
    base = key().digest
    for change in (dict(seed=2), dict(model_sha256="cd" * 32), dict(prompt_name="other"),
                   dict(chain={"order": ["temperature", "top_k"], "temp": 0.6}),
                   dict(engine="server"), dict(engine_version="0.3.37"), dict(options={"n_predict": 512})):
        assert key(**change).digest != base, change
    assert key().digest == base


def test_a_sample_is_shared_between_runs_and_marked_reused(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        first = store.start_run(["run"], {}, "0")
        sample_id = add(store, first, seed=1)
        second = store.start_run(["run"], {}, "0")
        found = store.find_sample(key(1))
        assert found is not None and found.id == sample_id and found.text == "hello"
        store.link_reused(second, "cfg", found.id)
        assert [r.reused for r in store.run_samples(first)] == [False]
        assert [r.reused for r in store.run_samples(second)] == [True]
        assert store.sample_count() == 1


def test_adding_the_same_sample_twice_keeps_one_row(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        run = store.start_run(["run"], {}, "0")
        assert add(store, run, seed=1) == add(store, run, seed=1, text="other")
        assert store.sample_count() == 1


def test_validation_is_found_by_content_version_and_options(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        k = validation_key("c" * 64, "v1", {"smoke": True})
        stored = store.add_validation(k, content_sha256="c" * 64, code_sha256=None, validators_version="v1",
                                      options={"smoke": True}, verdict="fail",
                                      findings=[{"check": "extract", "code": "no-code-block"}],
                                      code=None, details={}, seconds=0.5)
        assert store.find_validation(k) == stored
        assert store.find_validation(validation_key("c" * 64, "v2", {"smoke": True})) is None
        assert store.find_validation(validation_key("c" * 64, "v1", {"smoke": False})) is None


def test_run_rows_join_their_validation(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        run = store.start_run(["run"], {}, "0")
        sample_id = add(store, run, seed=3)
        assert store.run_samples(run)[0].validation is None
        v = store.add_validation("k", content_sha256="c", code_sha256="d", validators_version="v",
                                 options={}, verdict="pass", findings=[], code="print(1)",
                                 details={"screenshots": []}, seconds=1.0)
        store.attach_validation(run, sample_id, "cfg", v.id)
        row = store.run_samples(run)[0]
        assert row.validation is not None and row.validation.code == "print(1)"
        store.finish_run(run, {"ok": True})
        assert store.finished_runs() == [run]


def test_a_failed_transaction_leaves_nothing(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        run = store.start_run(["run"], {}, "0")
        with pytest.raises(RuntimeError), store.transaction() as db:
            db.execute("INSERT INTO samples (sample_key, model_sha256, model_name, prompt_name, chain,"
                       " seed, engine, engine_version, options, text, transcript, created_at)"
                       " VALUES ('k', 'm', 'n', 'p', '{}', 1, 'e', 'v', '{}', 't', '{}', 'now')")
            raise RuntimeError("killed half-way")
        assert store.sample_count() == 0
        assert store.run_samples(run) == []


WRITER = """
import sys
from pipeline.store.db import SampleKey, Store
store = Store(sys.argv[1])
run = store.start_run(["writer"], {}, "0")
big = "x" * 200_000
for seed in range(100_000):
    key = SampleKey("m" * 64, "p", {"c": 1}, seed, "e", "v", {})
    store.add_sample(run, "cfg", key, "model", big + str(seed), {"seed": seed})
    if seed == 3:
        print("writing", flush=True)
"""


def test_sigkill_mid_write_never_leaves_half_a_sample(tmp_path: Path) -> None:
    db_path = tmp_path / "s.db"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db_path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
    time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with Store(db_path) as store:
        rows = list(store.db.execute("SELECT s.id, s.seed, s.text, rs.run_id FROM samples s"
                                     " LEFT JOIN run_samples rs ON rs.sample_id = s.id"))
        assert len(rows) >= 4
        for row in rows:
            assert row["run_id"] is not None, "a sample without its run link"
            assert row["text"] == "x" * 200_000 + str(row["seed"]), "a truncated sample"
        assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_model_hash_is_remembered_until_the_file_changes(tmp_path: Path) -> None:
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF one")
    with Store(tmp_path / "s.db") as store:
        assert store.cached_model_hash(model) is None
        store.remember_model_hash(model, "a" * 64)
        assert store.cached_model_hash(model) == "a" * 64
        model.write_bytes(b"GGUF two, longer")
        assert store.cached_model_hash(model) is None


def not_a_database(tmp: Path) -> Path:
    (tmp / "s.db").write_bytes(b"not sqlite at all " * 100)
    return tmp / "s.db"


def under_a_file(tmp: Path) -> Path:
    (tmp / "file").write_text("x")
    return tmp / "file" / "s.db"


@pytest.mark.parametrize("make", [not_a_database, under_a_file, lambda tmp: tmp],
                         ids=["not-a-database", "folder-is-a-file", "a-folder"])
def test_a_path_that_cannot_be_a_store_is_a_usage_error(make, tmp_path: Path) -> None:
    from pipeline.errors import UsageError

    path = make(tmp_path)
    with pytest.raises(UsageError, match=str(path)):
        Store(path)


def test_a_store_in_a_missing_folder_creates_the_folder(tmp_path: Path) -> None:
    with Store(tmp_path / "new" / "deeper" / "s.db") as store:
        assert store.sample_count() == 0
