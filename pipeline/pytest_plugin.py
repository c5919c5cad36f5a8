"""The pytest regression gate: `pytest --gencheck-model PATH` runs gate tests on a real model.

Registered through the `pytest11` entry point, so it loads in every pytest run: it imports
nothing heavy at module level and never fails a run that has no model; gate tests then skip
with the reason.

Every setting has one precedence, highest first (the pytest-timeout shape):

    command-line flag  >  ini key  >  gencheck_gate marker argument  >  default

| setting | flag                | ini key          | marker kwarg | default                       |
|---------|---------------------|------------------|--------------|-------------------------------|
| model   | --gencheck-model    | gencheck_model   | model=       | none: gate tests skip          |
| engine  | --gencheck-engine   | gencheck_engine  | engine=      | embedded                      |
| seeds   | --gencheck-seeds    | gencheck_seeds   | seeds=       | 3                             |
| store   | --gencheck-store    | gencheck_store   | store=       | the default store (see store) |
| parallel| --gencheck-parallel | gencheck_parallel| parallel=    | 1 (samples decoded together)  |

`--gencheck-model tiny` means the tiny test model (built on first use into a cache folder).

A gate test is marked `@pytest.mark.gencheck_gate` (optionally with marker kwargs) and asks
for the `gencheck` fixture:

    @pytest.mark.gencheck_gate(seeds=8)
    def test_fixed_order_passes_seven_of_eight(gencheck):
        result = gencheck.run("unsloth-qwq")          # a preset name or a SamplerChain
        assert result.passed >= 7, result.summary

    @pytest.mark.gencheck_gate(seeds=8)
    def test_fixed_order_beats_the_old_default(gencheck):
        assert gencheck.compare("llama.cpp-legacy-default", "unsloth-qwq").significant()

`run()` generates what the store lacks, validates, and returns the configuration's samples and
pass rate (`ConfigResult`); every sample already in the store is reused.

`kld()` checks a quant without sampling: KL divergence against a reference model along texts
(default: the test prompt followed by the bundled QwQ-shaped answers); the reference's
log-probs are saved beside the gate's store and reused:

    @pytest.mark.gencheck_gate
    def test_q4_stays_close_to_bf16(gencheck):
        result = gencheck.kld(reference="QwQ-32B-BF16.gguf")   # the gate's model vs the reference
        assert result.mean < 0.05 and result.same_top > 0.95, result.summary_line
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pipeline.fidelity.kld import KldResult
    from pipeline.runs.gate_config import ConfigResult
    from pipeline.runs.stats import Alternative, Comparison

MARKER = "gencheck_gate"
DEFAULT_ENGINE = "embedded"
DEFAULT_SEEDS = 3
DEFAULT_PARALLEL = 1
TINY = "tiny"

# setting name -> (flag, ini key, help)
_SETTINGS: dict[str, tuple[str, str, str]] = {
    "model": ("--gencheck-model", "gencheck_model",
              "GGUF model file for gencheck gate tests, or 'tiny' for the tiny test model; "
              "without it gate tests skip"),
    "engine": ("--gencheck-engine", "gencheck_engine",
               f"engine gate tests generate with (default {DEFAULT_ENGINE})"),
    "seeds": ("--gencheck-seeds", "gencheck_seeds",
              f"seeds per configuration in gate tests (default {DEFAULT_SEEDS})"),
    "store": ("--gencheck-store", "gencheck_store",
              "SQLite results store for gate tests (default: gencheck's default store)"),
    "parallel": ("--gencheck-parallel", "gencheck_parallel",
                 f"samples the embedded engine decodes together in one context, llama.cpp's -np "
                 f"(default {DEFAULT_PARALLEL})"),
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gencheck", "gencheck regression gate")
    for name, (flag, ini, help_text) in _SETTINGS.items():
        group.addoption(flag, dest=f"gencheck_{name}", default=None, help=help_text)
        parser.addini(ini, help=help_text, default=None)


def pytest_configure(config: pytest.Config) -> None:
    # pyproject registers the marker too; registering here keeps --strict-markers happy in
    # other projects that install gencheck and write gate tests.
    config.addinivalue_line(
        "markers",
        f"{MARKER}(model=None, engine=None, seeds=None, store=None, parallel=None): a gencheck regression "
        "gate test; skips without --gencheck-model",
    )
    # A bad flag or ini value is the user's mistake: one line before any test runs.
    gate_settings(config, None)


@dataclass(frozen=True)
class GateSettings:
    """The settings a gate test runs with, after precedence was applied."""

    model: str | None
    engine: str
    seeds: int
    store: str | None
    parallel: int = DEFAULT_PARALLEL


def resolve_setting(config: pytest.Config, marker: pytest.Mark | None, name: str) -> Any:
    """flag > ini > marker kwarg > None (the caller applies the default)."""
    flag_value = config.getoption(f"gencheck_{name}", default=None)
    if flag_value not in (None, ""):
        return flag_value
    ini_value = config.getini(_SETTINGS[name][1])
    if ini_value not in (None, ""):
        return ini_value
    if marker is not None and marker.kwargs.get(name) is not None:
        return marker.kwargs[name]
    return None


def _positive_setting(config: pytest.Config, marker: pytest.Mark | None, name: str, default: int) -> int:
    raw = resolve_setting(config, marker, name)
    try:
        value = default if raw is None else int(raw)
    except ValueError:
        raise pytest.UsageError(f"--gencheck-{name} must be a whole number, not {raw!r}") from None
    if value < 1:
        raise pytest.UsageError(f"--gencheck-{name} must be at least 1, not {value}")
    return value


def gate_settings(config: pytest.Config, marker: pytest.Mark | None) -> GateSettings:
    seeds = _positive_setting(config, marker, "seeds", DEFAULT_SEEDS)
    parallel = _positive_setting(config, marker, "parallel", DEFAULT_PARALLEL)
    model = resolve_setting(config, marker, "model")
    return GateSettings(
        model=None if model is None else str(model),
        engine=str(resolve_setting(config, marker, "engine") or DEFAULT_ENGINE),
        seeds=seeds,
        store=resolve_setting(config, marker, "store"),
        parallel=parallel,
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip every gate test that has no model, saying how to give one."""
    for item in items:
        marker = item.get_closest_marker(MARKER)
        if marker is None:
            continue
        if resolve_setting(config, marker, "model") is None:
            item.add_marker(pytest.mark.skip(
                reason="gencheck gate test: no model given; run with --gencheck-model PATH.gguf "
                       "(or --gencheck-model tiny for the tiny test model)"))


class GateRunner:
    """What the `gencheck` fixture hands a gate test: runs configurations on the gate's model."""

    def __init__(self, settings: GateSettings) -> None:
        self.settings = settings

    @property
    def is_tiny(self) -> bool:
        """True on the tiny test model, whose bigram babble is never a working program."""
        return self.settings.model == TINY

    @property
    def model_path(self) -> Path:
        from pipeline.runs.matrix import resolve_model

        assert self.settings.model is not None
        return resolve_model(self.settings.model)

    def run(self, config: Any, *, seeds: int | None = None, prompt: str | None = None,
            smoke: bool = True, n_predict: int | None = None) -> ConfigResult:
        """Generate and validate `config` (a preset name or a SamplerChain) over the seeds.

        A mistake in the gate's settings (no such model file, an unknown engine or preset)
        fails the test with gencheck's one-line message, not a traceback into gencheck.
        """
        from pipeline.errors import UsageError
        from pipeline.runs.gate_config import run_gate_config

        try:
            return run_gate_config(
                model=self.model_path,
                config=config,
                seeds=seeds or self.settings.seeds,
                engine=self.settings.engine,
                store_path=Path(self.settings.store) if self.settings.store else None,
                prompt=prompt,
                smoke=smoke,
                n_predict=n_predict,
                parallel=self.settings.parallel,
            )
        except UsageError as exc:
            mistake = str(exc)
        pytest.fail(f"gencheck gate: {mistake}", pytrace=False)  # outside `except`: no chained trace

    def compare(self, baseline: Any, candidate: Any, *, seeds: int | None = None,
                alternative: Alternative = "greater", **options: Any) -> Comparison:
        """Run both configurations; Fisher's exact test of "candidate passes more often"."""
        from pipeline.runs.stats import compare_pass_rates

        a = self.run(baseline, seeds=seeds, **options)
        b = self.run(candidate, seeds=seeds, **options)
        return compare_pass_rates(a.name, a.passed, a.total, b.name, b.passed, b.total,
                                  alternative=alternative)


    def kld(self, model: Path | str | None = None, *, reference: Path | str, texts: list[str] | None = None,
            chunks: int | None = None) -> KldResult:
        """KL divergence of `model` (default: the gate's model; "tiny" for the tiny model) against
        `reference` (a GGUF, or a saved reference file) along `texts`; `result.mean`,
        `result.same_top` (a fraction), `result.regions` and `result.as_json()` hold the figures."""
        from pipeline.errors import UsageError
        from pipeline.fidelity.gate import gate_kld

        try:
            return gate_kld(model if model is not None else self.model_path, reference, texts=texts,
                            chunks=chunks, store=Path(self.settings.store) if self.settings.store else None)
        except UsageError as exc:
            mistake = str(exc)
        pytest.fail(f"gencheck gate: {mistake}", pytrace=False)


@pytest.fixture
def gencheck_settings(request: pytest.FixtureRequest) -> GateSettings:
    """The resolved gate settings of this test (model, engine, seeds, store)."""
    return gate_settings(request.config, request.node.get_closest_marker(MARKER))


@pytest.fixture
def gencheck(gencheck_settings: GateSettings) -> GateRunner:
    """Runs configurations on the gate's model; skips the test when no model was given."""
    if gencheck_settings.model is None:
        pytest.skip("gencheck gate: no model given; run with --gencheck-model PATH.gguf "
                    "(or --gencheck-model tiny)")
    return GateRunner(gencheck_settings)
