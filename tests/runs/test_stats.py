"""Pass-rate intervals, pass@k and the A/B test hold their textbook properties."""

from __future__ import annotations

import math
from itertools import combinations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.runs.stats import compare_pass_rates, pass_at_k, wilson_interval


@st.composite
def counts(draw: st.DrawFn, max_total: int = 200) -> tuple[int, int]:
    total = draw(st.integers(min_value=0, max_value=max_total))
    passed = draw(st.integers(min_value=0, max_value=total))
    return passed, total


def wilson_by_formula(passed: int, total: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = passed / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z / (1 + z * z / total) * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    return centre - half, centre + half


@settings(deadline=None)  # the first call pays for importing scipy
@given(counts())
def test_wilson_interval_contains_the_observed_rate_and_stays_in_unit_range(c: tuple[int, int]) -> None:
    passed, total = c
    interval = wilson_interval(passed, total)
    assert 0.0 <= interval.low <= interval.high <= 1.0
    if total:
        assert interval.low - 1e-12 <= passed / total <= interval.high + 1e-12


@settings(deadline=None)
@given(counts().filter(lambda c: c[1] > 0))
def test_wilson_interval_matches_the_closed_form(c: tuple[int, int]) -> None:
    passed, total = c
    low, high = wilson_by_formula(passed, total)
    interval = wilson_interval(passed, total)
    assert interval.low == pytest.approx(max(0.0, low), abs=1e-9)
    assert interval.high == pytest.approx(min(1.0, high), abs=1e-9)


def test_wilson_interval_of_seven_of_eight_is_the_published_value() -> None:
    interval = wilson_interval(7, 8)
    assert (round(interval.low, 3), round(interval.high, 3)) == (0.529, 0.978)


def test_wilson_interval_narrows_with_more_seeds_at_the_same_rate() -> None:
    few, many = wilson_interval(6, 8), wilson_interval(600, 800)
    assert many.high - many.low < few.high - few.low


def test_wilson_interval_of_no_samples_is_uninformative() -> None:
    assert wilson_interval(0, 0).to_json() == [0.0, 1.0]


@pytest.mark.parametrize(("passed", "total"), [(-1, 3), (4, 3), (0, -1)])
def test_impossible_counts_are_rejected(passed: int, total: int) -> None:
    with pytest.raises(ValueError):
        wilson_interval(passed, total)


@settings(max_examples=150)
@given(st.integers(1, 12).flatmap(
    lambda n: st.tuples(st.just(n), st.integers(0, n), st.integers(1, n))))
def test_pass_at_k_equals_the_share_of_k_subsets_with_a_pass(case: tuple[int, int, int]) -> None:
    total, passed, k = case
    outcomes = [True] * passed + [False] * (total - passed)
    subsets = list(combinations(outcomes, k))
    expected = sum(any(s) for s in subsets) / len(subsets)
    assert pass_at_k(total, passed, k) == pytest.approx(expected, abs=1e-12)


@given(counts(max_total=500).filter(lambda c: c[1] > 0))
def test_pass_at_1_is_the_pass_rate(c: tuple[int, int]) -> None:
    passed, total = c
    assert pass_at_k(total, passed, 1) == pytest.approx(passed / total)


@given(st.integers(2, 400).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n))))
def test_pass_at_k_never_decreases_with_k(case: tuple[int, int]) -> None:
    total, passed = case
    values = [pass_at_k(total, passed, k) for k in range(1, min(total, 20) + 1)]
    assert all(b >= a - 1e-12 for a, b in zip(values, values[1:], strict=False))
    assert all(0.0 <= v <= 1.0 for v in values)


def test_pass_at_k_rejects_k_beyond_the_samples() -> None:
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 4)


def test_fisher_test_finds_eight_of_eight_against_one_of_eight_significant() -> None:
    result = compare_pass_rates("old", 1, 8, "fixed", 8, 8)
    assert result.significant()
    assert result.p_value == pytest.approx(0.001398, abs=1e-6)
    assert result.difference == pytest.approx(7 / 8)


def test_fisher_test_does_not_call_five_against_six_of_eight_a_difference() -> None:
    assert not compare_pass_rates("a", 5, 8, "b", 6, 8).significant()


def test_one_sided_test_asks_whether_b_beats_a() -> None:
    better = compare_pass_rates("a", 1, 8, "b", 8, 8, alternative="greater")
    worse = compare_pass_rates("a", 8, 8, "b", 1, 8, alternative="greater")
    assert better.p_value < 0.01 < worse.p_value


@settings(deadline=None)
@given(counts(40), counts(40))
def test_fisher_p_value_is_a_probability_and_symmetric_in_a_and_b(a: tuple[int, int],
                                                                  b: tuple[int, int]) -> None:
    forward = compare_pass_rates("a", a[0], a[1], "b", b[0], b[1])
    backward = compare_pass_rates("b", b[0], b[1], "a", a[0], a[1])
    assert 0.0 <= forward.p_value <= 1.0
    assert forward.p_value == pytest.approx(backward.p_value, rel=1e-9, abs=1e-12)
    assert forward.difference == pytest.approx(-backward.difference)
