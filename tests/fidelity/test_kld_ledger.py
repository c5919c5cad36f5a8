"""The KLD ledger beside the store: appended records read back; a torn line never breaks a read."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.fidelity.saved import ledger as kld_ledger


def test_records_read_back_and_the_latest_per_model_wins(tmp_path: Path) -> None:
    store = tmp_path / "results.db"
    kld_ledger.record(store, {"run_id": 1, "model_label": "q4", "mean_kld": 0.2})
    kld_ledger.record(store, {"run_id": 1, "model_label": "q4", "mean_kld": 0.1})
    kld_ledger.record(store, {"run_id": 2, "model_label": "q8", "mean_kld": 0.01})
    assert [e["mean_kld"] for e in kld_ledger.for_run(store, 1)] == [0.1]
    assert kld_ledger.ledger_path(store).parent.name == "results-kld-references"


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300))
def test_any_torn_or_foreign_line_is_skipped(tmp_path_factory: pytest.TempPathFactory, junk: bytes) -> None:
    store = tmp_path_factory.mktemp("ledger") / "results.db"
    kld_ledger.record(store, {"run_id": 7, "model_label": "m", "mean_kld": 0.5})
    with kld_ledger.ledger_path(store).open("ab") as handle:
        handle.write(junk)
    found = kld_ledger.entries(store)
    assert all(isinstance(e, dict) for e in found)
    assert {"run_id": 7, "model_label": "m", "mean_kld": 0.5} in found
