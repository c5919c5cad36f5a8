"""One configuration run over seeds 1..N, as the pytest gate asks for it (pipeline/pytest_plugin.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.runs.matrix import (
    TINY_N_PREDICT,
    Configuration,
    RunPlan,
    chain_configuration,
    choose_model,
    configuration,
    execute,
)
from pipeline.runs.outcomes import ConfigSummary, RunReport, SampleOutcome
from pipeline.runs.validation_pool import default_jobs
from pipeline.sampling.chain import SamplerChain
from pipeline.store.db import GATE_COMMAND, Store
from prompts import DEFAULT_PROMPT, load_prompt


@dataclass(frozen=True)
class ConfigResult:
    """One configuration run for a gate test: its samples and pass rate."""

    name: str
    samples: tuple[SampleOutcome, ...]
    summary: ConfigSummary
    report: RunReport

    @property
    def passed(self) -> int:
        return self.summary.passed

    @property
    def total(self) -> int:
        return self.summary.total

    @property
    def pass_rate(self) -> float:
        return self.summary.pass_rate



def run_gate_config(*, model: Path | str, config: str | SamplerChain | Configuration, seeds: int,
                    engine: str = "embedded", store_path: Path | None = None,
                    prompt: str | None = None, smoke: bool = True, n_predict: int | None = None,
                    jobs: int | None = None, parallel: int = 1) -> ConfigResult:
    """Generate (or reuse) and validate one configuration over seeds 1..N; return its result.

    Screenshots live beside the store (see artifacts_dir), where later reports find them."""
    if isinstance(config, str):
        configuration_ = configuration(config)
    elif isinstance(config, SamplerChain):
        configuration_ = chain_configuration(config)
    else:
        configuration_ = config
    with Store(store_path) as store:
        model_choice = choose_model(str(model), store)
        if n_predict is None:
            n_predict = TINY_N_PREDICT if model_choice.is_tiny else -1
        plan = RunPlan(models=(model_choice,), configs=(configuration_,),
                       seeds=tuple(range(1, seeds + 1)),
                       prompt=load_prompt(prompt or DEFAULT_PROMPT), engine=engine,
                       n_predict=n_predict, smoke=smoke, jobs=jobs or default_jobs(), parallel=parallel)
        report = execute(plan, store, command=[GATE_COMMAND, configuration_.name], progress=False)
    summary = report.configs[0]
    return ConfigResult(summary.name, tuple(report.samples_of(summary.name)), summary, report)
