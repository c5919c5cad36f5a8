"""One run out of the shard runs of a matrix, so the merged store reports as the unsharded run.

Each `gencheck run --shard K/N` records its own run. After `gencheck merge`, the shard runs
(one per K, same matrix) are joined into a run of their own that links every shard's samples
and verdicts: its report, JUnit and Markdown are those of the matrix run on one machine, and
`gencheck compare --last` sees it as tonight's run. Joining the same shard runs again finds
that run rather than adding another.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pipeline import __version__
from pipeline.errors import UsageError
from pipeline.runs.shards import parse_shard
from pipeline.store.db import Store, canonical_json


def join_shard_runs(store: Store, run_ids: Sequence[int], command: Sequence[str]) -> int:
    """The id of the run joining these shard runs (made now, or found from an earlier join)."""
    shards: dict[int, tuple[int, str]] = {}  # K -> (run id, run uid)
    common: str | None = None
    count = 0
    for run_id in dict.fromkeys(run_ids):
        row = store.db.execute("SELECT uid, status, settings FROM runs WHERE id = ?", (run_id,)).fetchone()
        settings: dict[str, Any] = json.loads(row["settings"])
        if "shard" not in settings:
            raise UsageError(f"run {run_id} was not run with --shard K/N; only shard runs are joined")
        shard = parse_shard(settings.pop("shard"))
        if shard.index in shards:
            raise UsageError(f"runs {shards[shard.index][0]} and {run_id} are both shard {shard}")
        if common is not None and (canonical_json(settings) != common or shard.count != count):
            raise UsageError(f"run {run_id} (shard {shard}) ran another matrix than run "
                             f"{next(iter(shards.values()))[0]}; join the shards of one matrix")
        common, count = canonical_json(settings), shard.count
        shards[shard.index] = (run_id, row["uid"])
    missing = [str(k) for k in range(1, count + 1) if k not in shards]
    if missing:
        raise UsageError(f"shard{'s' if len(missing) > 1 else ''} {', '.join(missing)} of {count} "
                         f"missing: merge every shard's store before reporting")
    assert common is not None
    joined = {**json.loads(common), "joined_shards": [shards[k][1] for k in sorted(shards)]}
    earlier = store.db.execute("SELECT id FROM runs WHERE settings = ?", (canonical_json(joined),)).fetchone()
    joined_id = int(earlier["id"]) if earlier is not None else store.start_run(list(command), joined, __version__)
    # Linked again when found: a join interrupted before its links were written gets them now
    # (INSERT OR IGNORE: a finished join is left as it was).
    _link_samples(store, joined_id, [shards[k][0] for k in sorted(shards)])
    return joined_id


def _link_samples(store: Store, joined_id: int, shard_runs: Sequence[int]) -> None:
    rows = [row for run_id in shard_runs for row in store.db.execute(
        "SELECT rs.sample_id, rs.config_name, rs.reused, rs.validation_id, s.seed FROM run_samples rs"
        " JOIN samples s ON s.id = rs.sample_id WHERE rs.run_id = ? ORDER BY rs.rowid", (run_id,))]
    # In the order the unsharded run would have: configurations as they first appear, then seeds.
    config_rank = {name: rank for rank, name in enumerate(dict.fromkeys(r["config_name"] for r in rows))}
    rows.sort(key=lambda r: (config_rank[r["config_name"]], r["seed"]))
    with store.transaction() as db:
        db.executemany(
            "INSERT OR IGNORE INTO run_samples (run_id, sample_id, config_name, reused, validation_id)"
            " VALUES (?, ?, ?, ?, ?)",
            [(joined_id, r["sample_id"], r["config_name"], r["reused"], r["validation_id"]) for r in rows])
