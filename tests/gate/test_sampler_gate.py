"""The regression gate, run with `pytest tests/gate --gencheck-model PATH` (tox -e gate: the tiny model).

Without --gencheck-model every test here skips. On the tiny test model the pipeline runs for
real end to end, and the gates hold what a bigram model can show: every sample is generated,
validated and stored, babble never passes, and nothing is generated twice. On a real model the
sampler gates of the write-up apply: the fixed order passes, and beats the old default.
"""

from __future__ import annotations

import pytest

from pipeline.runs.outcomes import PENDING

FIXED_ORDER = "unsloth-qwq"
OLD_DEFAULT = "unsloth-qwq-baseline"


@pytest.mark.gencheck_gate
def test_every_seed_is_generated_validated_and_stored(gencheck) -> None:
    result = gencheck.run(FIXED_ORDER)
    assert result.total == gencheck.settings.seeds
    assert all(s.verdict != PENDING for s in result.samples)
    assert {s.seed for s in result.samples} == set(range(1, gencheck.settings.seeds + 1))


@pytest.mark.gencheck_gate
def test_running_a_configuration_again_generates_nothing(gencheck) -> None:
    gencheck.run(FIXED_ORDER)
    again = gencheck.run(FIXED_ORDER)
    assert again.report.generated == 0
    assert again.report.reused == gencheck.settings.seeds


@pytest.mark.gencheck_gate
def test_bigram_babble_never_passes_validation(gencheck) -> None:
    if not gencheck.is_tiny:
        pytest.skip("holds only for the tiny test model")
    for config in (FIXED_ORDER, OLD_DEFAULT):
        result = gencheck.run(config)
        assert result.passed == 0, [s.name for s in result.samples if s.verdict == "pass"]


@pytest.mark.gencheck_gate(seeds=8)
def test_fixed_order_passes_at_least_seven_of_eight_seeds(gencheck) -> None:
    if gencheck.is_tiny:
        pytest.skip("the tiny test model cannot write a working game")
    result = gencheck.run(FIXED_ORDER)
    assert result.passed >= 7 * result.total / 8, result.summary


@pytest.mark.gencheck_gate(seeds=8)
def test_fixed_order_is_significantly_better_than_the_old_default(gencheck) -> None:
    if gencheck.is_tiny:
        pytest.skip("the tiny test model cannot write a working game")
    comparison = gencheck.compare(OLD_DEFAULT, FIXED_ORDER)
    assert comparison.significant(), comparison
