"""The KLD column of `gencheck compare`: each compared configuration's KL divergence against the
reference its run was checked with (`gencheck run --reference`), read from the KLD ledger."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pipeline.fidelity.saved import ledger as kld_ledger

# compare labels each side "<configuration> (run <id>)"
_LABEL = re.compile(r"^(?P<config>.*) \(run (?P<run>\d+)\)$")


def kld_for(store_path: Path, run_id: int, config: str) -> dict[str, Any] | None:
    """The run's KLD entry for the model this configuration ran on (None when not checked)."""
    found = kld_ledger.for_run(store_path, run_id)
    if len(found) == 1:
        return found[0]
    # several models in one run: configuration names carry the model's label
    matching = [e for e in found if str(e.get("model_label", "")) in config]
    return max(matching, key=lambda e: len(str(e.get("model_label", "")))) if matching else None


def kld_by_label(store_path: Path, labels: Iterable[str]) -> dict[str, dict[str, Any] | None]:
    result: dict[str, dict[str, Any] | None] = {}
    for label in labels:
        match = _LABEL.match(label)
        result[label] = kld_for(store_path, int(match["run"]), match["config"]) if match else None
    return result


def short(entry: dict[str, Any] | None) -> dict[str, Any] | None:
    """What compare shows of an entry: the figures CI reads and the reference they are against."""
    if entry is None:
        return None
    return {key: entry[key] for key in ("reference", "mean_kld", "same_top", "kld_percentiles", "n_tokens")
            if key in entry}


def cell(entry: dict[str, Any] | None) -> str:
    if entry is None:
        return "-"
    return f"{entry['mean_kld']:.4f} / {100 * entry['same_top']:.1f}%"
