"""What a run found, as plain data every report reads: per sample outcomes and per config summaries.

Built from the store (so `gencheck run`, `gencheck compare` and the pytest gate report the same
numbers), and kept free of any output format.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline.findings import Finding, Severity, first_error
from pipeline.runs.stats import Comparison, Interval, compare_pass_rates, pass_at_k, wilson_interval
from pipeline.store.db import RunSampleRow, Store

PENDING = "pending"  # a sample whose validation has not finished (a killed run)
# pass@k shown per configuration: pass@1 is the pass rate, pass@3 is what quant write-ups
# report ("did one of three tries work?"). Unbiased only for k <= n, so None below that.
PASS_AT_K = (1, 3)
SCORE = re.compile(r"(\d{1,4})/(\d{1,4})")


def parse_requirement_score(value: Any) -> tuple[int, int] | None:
    """The smoke run's "k/n" requirement score, or None when absent or not a score."""
    match = SCORE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return None
    met, points = int(match[1]), int(match[2])
    return (met, points) if 0 <= met <= points and points > 0 else None


def requirement_points() -> int:
    """How many points the prompt's requirement checks score (8 for the Flappy Bird prompt)."""
    from validators.play.requirements import CHECKS  # lazily: validators/ imports its whole stack

    return len(CHECKS)


@dataclass(frozen=True)
class SampleOutcome:
    config: str
    model: str
    seed: int
    sample_id: int
    reused: bool
    verdict: str  # pass | fail | pending
    findings: tuple[Finding, ...]
    code: str | None
    text: str
    tokens: int | None
    seconds: float | None
    finish_reason: str | None
    screenshots: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict, compare=False)
    requirements: tuple[int, int] | None = None  # (met, points); None when not scored

    @property
    def name(self) -> str:
        return f"{self.config} seed {self.seed}"

    @property
    def first_error(self) -> Finding | None:
        return first_error(self.findings)

    def has(self, *, check: str | None = None, code: str | None = None) -> bool:
        return any(f.severity is Severity.ERROR and (check is None or f.check == check)
                   and (code is None or f.code == code) for f in self.findings)

    @property
    def looped(self) -> bool:
        return self.finish_reason == "loop" or self.has(code="repetition-loop")

    @property
    def compile_failed(self) -> bool:
        return self.has(check="compile")

    @property
    def undefined_name(self) -> bool:
        return self.has(code="undefined-name")

    @property
    def crashed(self) -> bool:
        return self.has(check="smoke")


@dataclass(frozen=True)
class ConfigSummary:
    name: str
    passed: int
    total: int
    pending: int
    interval: Interval
    looped: int
    compile_failed: int
    undefined_name: int
    crashed: int
    median_tokens: float | None
    median_seconds: float | None
    pass_at: dict[int, float | None] = field(default_factory=dict)  # k -> pass@k, None if n < k
    requirements_mean: float | None = None  # mean points met over the scored samples
    requirements_points: int | None = None  # out of how many (8)
    requirements_scored: int = 0

    @property
    def pass_rate(self) -> float:
        return self.passed / self.total if self.total else 0.0

    def requirements_text(self) -> str:
        """`5.2/8`, or "–" when no sample was scored (the smoke run was off)."""
        if self.requirements_mean is None:
            return "–"
        return f"{self.requirements_mean:.1f}/{self.requirements_points}"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "passed": self.passed, "total": self.total,
            "pass_rate": round(self.pass_rate, 6), "interval": self.interval.to_json(),
            "looped": self.looped, "compile_failed": self.compile_failed,
            "undefined_name": self.undefined_name, "crashed": self.crashed,
            "pending": self.pending,
            "median_tokens": self.median_tokens, "median_seconds": self.median_seconds,
            "pass_at_k": {str(k): None if v is None else round(v, 6) for k, v in self.pass_at.items()},
            "requirements": {"mean": self.requirements_mean, "points": self.requirements_points,
                             "scored": self.requirements_scored},
        }


def _median(values: Iterable[float | int | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(float(statistics.median(present)), 3) if present else None


def summarize(name: str, samples: Sequence[SampleOutcome]) -> ConfigSummary:
    """Pass counts over validated samples; a pending sample counts in `pending`, not in `total`."""
    done = [s for s in samples if s.verdict != PENDING]
    passed = sum(s.verdict == "pass" for s in done)
    scores = [s.requirements for s in done if s.requirements is not None]
    return ConfigSummary(
        name=name, passed=passed, total=len(done), pending=len(samples) - len(done),
        interval=wilson_interval(passed, len(done)),
        looped=sum(s.looped for s in done), compile_failed=sum(s.compile_failed for s in done),
        undefined_name=sum(s.undefined_name for s in done), crashed=sum(s.crashed for s in done),
        median_tokens=_median(s.tokens for s in samples),
        median_seconds=_median(s.seconds for s in samples),
        pass_at={k: pass_at_k(len(done), passed, k) if len(done) >= k else None for k in PASS_AT_K},
        requirements_mean=round(statistics.fmean(m for m, _ in scores), 3) if scores else None,
        requirements_points=max((p for _, p in scores), default=None),
        requirements_scored=len(scores),
    )


@dataclass(frozen=True)
class Gate:
    """A threshold the run must hold: every config's pass rate at least `min_pass_rate`."""

    config: str
    min_pass_rate: float
    pass_rate: float

    @property
    def holds(self) -> bool:
        return self.pass_rate >= self.min_pass_rate

    def to_json(self) -> dict[str, Any]:
        return {"config": self.config, "min_pass_rate": self.min_pass_rate,
                "pass_rate": round(self.pass_rate, 6), "holds": self.holds}


@dataclass(frozen=True)
class RunReport:
    run_id: int
    generated: int
    reused: int
    samples: tuple[SampleOutcome, ...]
    configs: tuple[ConfigSummary, ...]
    comparisons: tuple[Comparison, ...]
    gates: tuple[Gate, ...] = ()
    notes: tuple[str, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict, compare=False)  # the run row's
    kld: tuple[dict[str, Any], ...] = ()  # each model's KL divergence (`run --reference`), as JSON

    def headline(self) -> str:
        """When, on what prompt and engine, with which validators: one line for every report."""
        s = self.settings
        parts = [f"started {s['started_at']}" if s.get("started_at") else "",
                 f"prompt {s['prompt']}" if s.get("prompt") else "",
                 f"engine {s['engine']}" if s.get("engine") else "",
                 f"n_predict {s['n_predict']}" if s.get("n_predict") is not None else "",
                 "smoke run on" if s.get("smoke") else "smoke run off" if "smoke" in s else "",
                 f"validators {s['validators_version']}" if s.get("validators_version") else ""]
        return " · ".join(p for p in parts if p)

    @property
    def gates_hold(self) -> bool:
        return all(g.holds for g in self.gates)

    def samples_of(self, config: str) -> list[SampleOutcome]:
        return [s for s in self.samples if s.config == config]

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "generated": self.generated, "reused": self.reused,
            "configs": [c.to_json() for c in self.configs],
            "comparisons": [c.to_json() for c in self.comparisons],
            "gates": [g.to_json() for g in self.gates], "gates_hold": self.gates_hold,
            "notes": list(self.notes),
            "samples": [{"config": s.config, "model": s.model, "seed": s.seed, "verdict": s.verdict,
                         "reused": s.reused, "tokens": s.tokens, "seconds": s.seconds,
                         "finish_reason": s.finish_reason,
                         "requirements": "{}/{}".format(*s.requirements) if s.requirements else None,
                         "first_error": s.first_error.to_json() if s.first_error else None}
                        for s in self.samples],
            **({"kld": list(self.kld)} if self.kld else {}),
        }


def sample_requirements(details: dict[str, Any], *, validated: bool,
                        smoke_on: bool) -> tuple[int, int] | None:
    """A sample's requirement score: the smoke run's k/n; 0/n when the run had the smoke run on
    but this sample had no program that compiled (a game that never runs meets no point, as a
    person scoring it by hand would say); None when nothing was scored."""
    score = parse_requirement_score(details.get("requirements"))
    if score is None and validated and smoke_on and details.get("smoke") != "run":
        return (0, requirement_points())
    return score


def outcome_from_row(row: RunSampleRow, *, smoke_on: bool = False) -> SampleOutcome:
    v = row.validation
    findings = tuple(Finding.from_json(f) for f in v.findings) if v else ()
    details = v.details if v else {}
    return SampleOutcome(
        config=row.config_name, model=row.sample.model_name, seed=row.sample.seed,
        sample_id=row.sample.id, reused=row.reused, verdict=v.verdict if v else PENDING,
        findings=findings, code=v.code if v else None, text=row.sample.text,
        tokens=row.sample.n_generated_tokens, seconds=row.sample.seconds,
        finish_reason=row.sample.finish_reason,
        screenshots=tuple(details.get("screenshots") or ()), details=details,
        requirements=sample_requirements(details, validated=v is not None, smoke_on=smoke_on))


def comparisons_of(configs: Sequence[ConfigSummary]) -> tuple[Comparison, ...]:
    """Every other configuration against the first (the baseline), by Fisher's exact test."""
    if len(configs) < 2:
        return ()
    base = configs[0]
    return tuple(compare_pass_rates(base.name, base.passed, base.total, c.name, c.passed, c.total)
                 for c in configs[1:])


def build_report(store: Store, run_id: int, *, min_pass_rate: float | None = None,
                 notes: Sequence[str] = ()) -> RunReport:
    rows = store.run_samples(run_id)
    settings = store.run_settings(run_id)
    smoke_on = bool(settings.get("smoke"))
    samples = tuple(outcome_from_row(r, smoke_on=smoke_on) for r in rows)
    names = list(dict.fromkeys(s.config for s in samples))
    configs = tuple(summarize(n, [s for s in samples if s.config == n]) for n in names)
    gates = () if min_pass_rate is None else tuple(
        Gate(c.name, min_pass_rate, c.pass_rate) for c in configs)
    return RunReport(
        run_id=run_id, generated=sum(not r.reused for r in rows), reused=sum(r.reused for r in rows),
        samples=samples, configs=configs, comparisons=comparisons_of(configs), gates=gates,
        notes=tuple(notes), settings=settings)
