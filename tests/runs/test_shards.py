"""`--shard K/N`: parsing, and a split of the matrix that is a partition, balanced and stable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.errors import UsageError
from pipeline.runs.shards import Shard, parse_shard, shard_of
from tests.paths import REPO

counts = st.integers(min_value=1, max_value=10_000)
chains = st.dictionaries(st.sampled_from(["temp", "top_k", "min_p", "seed"]),
                         st.integers(0, 100) | st.floats(0, 2, allow_nan=False))


@settings(deadline=None)  # a property of the split, not of its speed on a busy machine
@given(counts.flatmap(lambda n: st.tuples(st.integers(1, n), st.just(n))),
       st.sampled_from(["{k}/{n}", " {k} / {n} ", "{k}/ {n}"]))
def test_every_k_of_n_parses_back_to_itself(k_n: tuple[int, int], form: str) -> None:
    k, n = k_n
    shard = parse_shard(form.format(k=k, n=n))
    assert shard == Shard(k, n)
    assert parse_shard(str(shard)) == shard


@settings(deadline=None)  # a property of the split, not of its speed on a busy machine
@given(st.integers(-100, 10_000), st.integers(-100, 10_000))
def test_k_outside_one_to_n_is_a_usage_error(k: int, n: int) -> None:
    if 1 <= k <= n:
        assert parse_shard(f"{k}/{n}") == Shard(k, n)
    else:
        with pytest.raises(UsageError, match="K/N|between 1 and N"):
            parse_shard(f"{k}/{n}")


@settings(deadline=None)  # a property of the split, not of its speed on a busy machine
@given(st.text(max_size=20))
def test_any_text_is_a_shard_or_a_one_line_usage_error(text: str) -> None:
    try:
        shard = parse_shard(text)
    except UsageError as exc:
        assert "\n" not in str(exc).replace(repr(text), "")
    else:
        assert 1 <= shard.index <= shard.count


@settings(deadline=None)  # a property of the split, not of its speed on a busy machine
@given(st.text(min_size=1, max_size=8), chains, st.integers(-2**31, 2**32), st.integers(1, 64))
def test_every_cell_is_in_exactly_one_shard(model: str, chain: dict, seed: int, count: int) -> None:
    holders = [k for k in range(1, count + 1) if Shard(k, count).holds(model, "flappy_bird", chain, seed)]
    assert holders == [shard_of(model, "flappy_bird", chain, seed, count)]


@settings(deadline=None)  # a property of the split, not of its speed on a busy machine
@given(st.text(min_size=1, max_size=8), chains, st.integers(1, 16), st.integers(1, 8))
def test_seeds_of_one_configuration_are_dealt_evenly(model: str, chain: dict, count: int, rounds: int) -> None:
    shards = [shard_of(model, "flappy_bird", chain, seed, count) for seed in range(1, count * rounds + 1)]
    assert sorted(shards) == sorted(list(range(1, count + 1)) * rounds)


def test_a_cells_shard_ignores_the_seed_inside_the_chain() -> None:
    chain = {"temp": 0.6}
    assert shard_of("m", "p", {**chain, "seed": 4294967295}, 3, 5) == shard_of("m", "p", chain, 3, 5)


def test_the_split_is_the_same_in_every_process_and_on_every_machine() -> None:
    # Fixed figures: a change to the hashing moves cells between machines of one CI matrix.
    expected = [3, 4, 1, 2, 3, 4, 1, 2]
    assert [shard_of("ab" * 32, "flappy_bird", {"temp": 0.6}, s, 4) for s in range(1, 9)] == expected
    code = ("from pipeline.runs.shards import shard_of; print([shard_of('ab' * 32, 'flappy_bird', "
            "{'temp': 0.6}, s, 4) for s in range(1, 9)])")
    for hash_seed in ("1", "2"):  # str hashing differs per process; the split must not
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env={"PYTHONHASHSEED": hash_seed, "PATH": ""}, cwd=REPO)
        assert out.stdout.strip() == str(expected)



def test_a_shard_run_says_how_many_cells_it_holds_and_records_its_shard(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pipeline.cli import main
    from pipeline.store.db import Store

    held = {}
    for k in (1, 2):
        argv = ["run", "--engine", "replay", "--model", str(REPO / "fixtures" / "corpus" / "answer_flappy_shapes.txt"),
                "--seeds", "4", "--no-smoke", "--jobs", "1", "--shard", f"{k}/2", "--store", str(tmp_path / f"{k}.db")]
        assert main(argv) == 0
        note = next(line for line in capsys.readouterr().err.splitlines() if line.startswith("shard"))
        held[k] = int(note.split()[2])
        assert note == f"shard {k}/2: {held[k]} of the matrix's 4 cells"
        with Store(tmp_path / f"{k}.db") as store:
            assert store.run_settings(1)["shard"] == f"{k}/2"
            assert store.sample_count() == held[k]
    assert held == {1: 2, 2: 2}  # one configuration, 4 seeds: dealt evenly


def test_a_malformed_shard_is_refused_by_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    from pipeline.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["run", "--shard", "0/2"])
    assert exit_.value.code == 2
    assert "argument --shard: '0/2': K must lie between 1 and N" in capsys.readouterr().err
