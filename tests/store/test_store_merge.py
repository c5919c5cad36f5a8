"""`gencheck merge`: runs kept and renumbered, samples by key, idempotent, conflicts refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.errors import UsageError
from pipeline.store.db import SampleKey, Store, sha256_text, validation_key
from pipeline.store.merge import merge_into
from tests.store.store_snapshot import snapshot


def key(seed: int) -> SampleKey:
    return SampleKey(model_sha256="ab" * 32, prompt_name="flappy_bird", chain={"temp": 0.6}, seed=seed,
                     engine="embedded", engine_version="0.3.36", options={"n_predict": 64})


def make_store(path: Path, seeds: range, text: str = "text of seed {seed}", finish: bool = True) -> Path:
    """A store with one run over `seeds`, each sample validated."""
    with Store(path) as store:
        run_id = store.start_run(["gencheck", "run", str(path)], {"seeds": list(seeds)}, "test")
        for seed in seeds:
            body = text.format(seed=seed)
            sample = store.add_sample(run_id, "cfg", key(seed), "m.gguf", body, {"seconds": 0.5})
            content = sha256_text(body)
            stored = store.add_validation(
                validation_key(content, "v1", {}), content_sha256=content, code_sha256=None,
                validators_version="v1", options={}, verdict="fail", findings=[{"code": "no-code"}],
                code=None, details={}, seconds=0.1)
            store.attach_validation(run_id, sample.id, "cfg", stored.id)
        if finish:
            store.finish_run(run_id, {"run_id": run_id})
    return path


def test_a_merge_keeps_every_run_sample_and_verdict_with_runs_renumbered(tmp_path: Path) -> None:
    a = make_store(tmp_path / "a.db", range(1, 4))
    b = make_store(tmp_path / "b.db", range(3, 6))  # seed 3 in both, with the same text
    with Store(tmp_path / "out.db") as out:
        results = merge_into(out, [a, b])
        assert [(r.runs_added, r.samples_added, r.samples_present) for r in results] == [(1, 3, 0), (1, 2, 1)]
        assert [r["id"] for r in out.runs()] == [1, 2]
        assert out.sample_count() == 5
        rows = out.run_samples(2)
        assert [r.sample.seed for r in rows] == [3, 4, 5]
        assert all(r.validation is not None and r.validation.verdict == "fail" for r in rows)
        assert out.db.execute("SELECT summary FROM runs WHERE id = 2").fetchone()[0] == '{"run_id": 2}'
    merged = snapshot(tmp_path / "out.db")
    assert {*snapshot(a)["links"], *snapshot(b)["links"]} == set(merged["links"])
    # the same runs (uid, status, times, command, settings); only the report's run id is renumbered
    assert {r[:6] for r in (*snapshot(a)["runs"], *snapshot(b)["runs"])} == {r[:6] for r in merged["runs"]}


def test_merging_the_same_stores_again_changes_nothing(tmp_path: Path) -> None:
    a = make_store(tmp_path / "a.db", range(1, 4))
    b = make_store(tmp_path / "b.db", range(2, 6))
    with Store(tmp_path / "out.db") as out:
        merge_into(out, [a, b])
    once = snapshot(tmp_path / "out.db")
    with Store(tmp_path / "out.db") as out:
        results = merge_into(out, [b, a, b])
    assert all((r.runs_added, r.samples_added, r.validations_added, r.links_added) == (0, 0, 0, 0)
               for r in results)
    assert snapshot(tmp_path / "out.db") == once


def test_a_key_with_another_text_is_refused_by_name_and_nothing_is_merged(tmp_path: Path) -> None:
    a = make_store(tmp_path / "a.db", range(1, 3))
    b = make_store(tmp_path / "b.db", range(2, 4), text="another text of seed {seed}")
    with Store(tmp_path / "out.db") as out:
        merge_into(out, [a])
    before = snapshot(tmp_path / "out.db")
    with Store(tmp_path / "out.db") as out, pytest.raises(UsageError) as refused:
        merge_into(out, [b])
    assert key(2).digest in str(refused.value) and "seed 2" in str(refused.value)
    assert str(b) in str(refused.value) and "\n" not in str(refused.value)
    assert snapshot(tmp_path / "out.db") == before


def test_the_output_may_be_one_of_the_inputs(tmp_path: Path) -> None:
    a = make_store(tmp_path / "a.db", range(1, 3))
    b = make_store(tmp_path / "b.db", range(3, 5))
    expected = tmp_path / "expected.db"
    with Store(expected) as out:
        merge_into(out, [a, b])
    with Store(a) as out:
        merge_into(out, [a, b])
    assert snapshot(a)["samples"] == snapshot(expected)["samples"]
    assert snapshot(a)["links"] == snapshot(expected)["links"]


def test_a_run_that_finished_after_an_earlier_merge_is_finished_in_the_output(tmp_path: Path) -> None:
    a = make_store(tmp_path / "a.db", range(1, 3), finish=False)
    with Store(tmp_path / "out.db") as out:
        merge_into(out, [a])
    with Store(a) as store:
        store.finish_run(1, {"run_id": 1})
    with Store(tmp_path / "out.db") as out:
        merge_into(out, [a])
        assert [r["status"] for r in out.runs()] == ["finished"]


def test_merge_cli_refuses_a_conflict_and_a_missing_input_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = make_store(tmp_path / "a.db", range(1, 3))
    b = make_store(tmp_path / "b.db", range(1, 2), text="changed {seed}")
    assert main(["merge", str(tmp_path / "out.db"), str(a), str(b)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and key(1).digest in err
    assert main(["merge", str(tmp_path / "out.db"), str(tmp_path / "nope.db")]) == 2
    assert "nope.db does not exist" in capsys.readouterr().err


def test_merging_without_joining_prints_what_each_input_brought(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = make_store(tmp_path / "a.db", range(1, 3))
    shutil.copy(a, tmp_path / "copy.db")
    assert main(["merge", str(tmp_path / "out.db"), str(a), str(tmp_path / "copy.db")]) == 0
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].endswith("1 runs, 2 samples (0 already there), 2 validations added")
    assert lines[1].endswith("0 runs, 0 samples (2 already there), 0 validations added")


def test_runs_from_before_run_uids_get_one_each_and_keep_it(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.store import schema as store_schema

    before_uids = [m for m in store_schema.MIGRATIONS if m[0] != "m003_run_uids"]
    with monkeypatch.context() as patch:
        patch.setattr(store_schema, "MIGRATIONS", before_uids)
        with Store(tmp_path / "old.db") as old:
            for n in range(2):
                old.db.execute("INSERT INTO runs (started_at, status, command, settings, gencheck_version)"
                               " VALUES ('2026-01-01', 'finished', '[]', ?, '0.1')", (f'{{"n":{n}}}',))
    with Store(tmp_path / "old.db") as store:
        uids = [r["uid"] for r in store.runs()]
    assert len(set(uids)) == 2 and all(len(uid) == 32 for uid in uids)
    with Store(tmp_path / "old.db") as store:
        assert [r["uid"] for r in store.runs()] == uids
