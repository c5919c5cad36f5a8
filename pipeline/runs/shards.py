"""`--shard K/N`: which cells of a run's matrix one of N machines generates.

A cell belongs to a shard by its own identity only (model sha256, prompt, sampler chain, seed),
never by a path, a machine or its place in a list, so every machine given the same matrix
picks the same cells, and adding seeds, models or configurations never moves a cell that was
already there. The seeds of one (model, prompt, chain) are dealt round-robin over the shards,
starting at an offset drawn from that triple's hash: with seeds a multiple of N every shard
gets the same number of cells, and otherwise the remainders spread over the shards.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipeline.errors import UsageError

_SHARD = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


@dataclass(frozen=True)
class Shard:
    """Shard `index` (1-based) of `count`."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not 1 <= self.index <= self.count:
            raise ValueError(f"shard {self.index}/{self.count} is not one of 1/{self.count}..{self.count}/{self.count}")

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def holds(self, model_sha256: str, prompt_name: str, chain: Mapping[str, Any], seed: int) -> bool:
        return shard_of(model_sha256, prompt_name, chain, seed, self.count) == self.index


def parse_shard(text: str) -> Shard:
    """`K/N` with 1 <= K <= N -> Shard; anything else is a one-line UsageError."""
    match = _SHARD.fullmatch(text)
    if match is None:
        raise UsageError(f"{text!r} is not K/N (e.g. 1/4: the first of 4 shards)")
    index, count = int(match[1]), int(match[2])
    if count < 1 or not 1 <= index <= count:
        raise UsageError(f"{text!r}: K must lie between 1 and N (N >= 1), e.g. 1/{max(count, 2)}")
    return Shard(index, count)


def shard_of(model_sha256: str, prompt_name: str, chain: Mapping[str, Any], seed: int, count: int) -> int:
    """The 1-based shard of a cell; `chain` is its configuration's chain without the cell's seed."""
    from pipeline.store.db import canonical_json

    identity = canonical_json({"model_sha256": model_sha256, "prompt": prompt_name,
                               "chain": {k: v for k, v in chain.items() if k != "seed"}})
    offset = int.from_bytes(hashlib.sha256(identity.encode("utf-8", "surrogatepass")).digest()[:8], "big")
    return (offset + seed) % count + 1
