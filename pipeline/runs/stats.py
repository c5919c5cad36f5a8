"""Numbers that make "the fix helps" a claim with a size: pass-rate intervals, pass@k, A/B tests.

Intervals and the exact test come from scipy (already a dependency); pass@k is the unbiased
estimator of Chen et al. (2021), computed as a product so it never overflows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Alternative = Literal["two-sided", "less", "greater"]


@dataclass(frozen=True)
class Interval:
    low: float
    high: float

    def to_json(self) -> list[float]:
        return [round(self.low, 6), round(self.high, 6)]

    def __str__(self) -> str:
        return f"{self.low:.0%}–{self.high:.0%}"


def check_counts(passed: int, total: int) -> None:
    if total < 0 or passed < 0 or passed > total:
        raise ValueError(f"need 0 <= passed <= total, got passed={passed} total={total}")


def wilson_interval(passed: int, total: int, confidence: float = 0.95) -> Interval:
    """The Wilson score interval of a pass rate; (0, 1) when nothing was tried.

    Wilson rather than the normal approximation because gates run few seeds: at 7/8 the
    normal interval pokes past 1, Wilson stays inside [0, 1] and keeps its coverage.
    """
    check_counts(passed, total)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    if total == 0:
        return Interval(0.0, 1.0)
    from scipy.stats import binomtest

    ci = binomtest(passed, total).proportion_ci(confidence_level=confidence, method="wilson")
    # scipy can land a hair outside [0, 1] at the ends through floating point.
    return Interval(max(0.0, float(ci.low)), min(1.0, float(ci.high)))


def pass_at_k(total: int, passed: int, k: int) -> float:
    """Unbiased pass@k: the chance that at least one of k samples drawn without replacement
    from `total` (of which `passed` pass) passes. 1 - C(n-c, k) / C(n, k)."""
    check_counts(passed, total)
    if not 1 <= k <= total:
        raise ValueError(f"need 1 <= k <= total, got k={k} total={total}")
    if total - passed < k:
        return 1.0
    # C(n-c, k) / C(n, k) = prod_{i=n-c+1}^{n} (1 - k / i)
    ratio = 1.0
    for i in range(total - passed + 1, total + 1):
        ratio *= 1.0 - k / i
    return 1.0 - ratio


@dataclass(frozen=True)
class Comparison:
    """Configuration A against B on pass counts, with Fisher's exact test."""

    name_a: str
    passed_a: int
    total_a: int
    name_b: str
    passed_b: int
    total_b: int
    odds_ratio: float
    p_value: float
    alternative: Alternative

    @property
    def rate_a(self) -> float:
        return self.passed_a / self.total_a if self.total_a else 0.0

    @property
    def rate_b(self) -> float:
        return self.passed_b / self.total_b if self.total_b else 0.0

    @property
    def difference(self) -> float:
        """rate B minus rate A: positive when B passes more often."""
        return self.rate_b - self.rate_a

    def significant(self, alpha: float = 0.05) -> bool:
        return self.p_value < alpha

    def to_json(self) -> dict[str, object]:
        return {
            "a": self.name_a, "b": self.name_b,
            "passed_a": self.passed_a, "total_a": self.total_a,
            "passed_b": self.passed_b, "total_b": self.total_b,
            "difference": round(self.difference, 6),
            # None when infinite (B all pass, A none) or undefined: JSON has no Infinity or NaN
            "odds_ratio": self.odds_ratio if math.isfinite(self.odds_ratio) else None,
            "p_value": self.p_value,
            "alternative": self.alternative,
            "test": "fisher-exact",
        }


def compare_pass_rates(name_a: str, passed_a: int, total_a: int,
                       name_b: str, passed_b: int, total_b: int,
                       alternative: Alternative = "two-sided") -> Comparison:
    """Fisher's exact test on the 2x2 table of pass/fail counts of A and B.

    Exact rather than chi-squared because seed counts are small (8 a side is typical).
    `alternative="greater"` asks "does B pass more often than A?".
    """
    check_counts(passed_a, total_a)
    check_counts(passed_b, total_b)
    from scipy.stats import fisher_exact

    # Rows B, A so that "greater" means B's odds of passing exceed A's.
    table = [[passed_b, total_b - passed_b], [passed_a, total_a - passed_a]]
    odds_ratio, p_value = fisher_exact(table, alternative=alternative)
    return Comparison(name_a, passed_a, total_a, name_b, passed_b, total_b,
                      float(odds_ratio), min(1.0, float(p_value)), alternative)
