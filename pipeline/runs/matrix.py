"""The run matrix: models x sampler configurations x seeds -> validated samples in the store.

Each cell's sample is looked up by its key (model sha256, prompt, chain, seed, engine and
version, options) and generated only when the store lacks it. Generation is one sample at a
time on the engine (one loaded model); each finished sample goes straight to a pool of
validation workers while the next one generates. A sample is committed whole before its
validation starts, so a run killed at any point resumes with everything it had finished.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from concurrent.futures import Future, wait
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from pipeline import __version__
from pipeline.errors import UsageError
from pipeline.extract import prompt_opens_think
from pipeline.generation.engines.base import Engine
from pipeline.runs.outcomes import ConfigSummary, RunReport, SampleOutcome, build_report
from pipeline.runs.progress import RunProgress
from pipeline.runs.shards import Shard
from pipeline.runs.validation_pool import (
    ValidationJob,
    ValidationPool,
    default_jobs,
    smoke_parallel_for,
    validators_version,
)
from pipeline.sampling.chain import SamplerChain
from pipeline.sampling.explain import chain_label
from pipeline.store.db import (
    GATE_COMMAND,
    SampleKey,
    Store,
    StoredSample,
    sha256_text,
    validation_key,
)
from prompts import DEFAULT_PROMPT, Prompt, load_prompt

ENGINES = ("embedded", "replay")
TINY = "tiny"
# The tiny test model babbles until its length limit; a short limit keeps the README's first
# run within a couple of minutes on a laptop.
TINY_N_PREDICT = 768
TEXT_CHANGING_OPTIONS = ("n_ctx", "kv_overrides")


@dataclass(frozen=True)
class ModelChoice:
    path: Path
    sha256: str
    label: str
    is_tiny: bool = False


@dataclass(frozen=True)
class Configuration:
    """A named sampler chain; its seed is set per cell."""

    name: str
    chain: SamplerChain


@dataclass(frozen=True)
class RunPlan:
    models: tuple[ModelChoice, ...]
    configs: tuple[Configuration, ...]
    seeds: tuple[int, ...]
    prompt: Prompt
    engine: str = "embedded"
    n_predict: int = -1
    smoke: bool = True
    jobs: int = 1
    # EmbeddedEngine keyword arguments from llama-cli flags (n_ctx, n_gpu_layers, n_threads,
    # kv_overrides). Those that can change the text (n_ctx, kv_overrides) are part of the key.
    engine_options: dict[str, Any] = dataclasses.field(default_factory=dict)
    shard: Shard | None = None  # --shard K/N: only this shard's cells (pipeline/runs/shards.py)

    def cells(self) -> list[tuple[str, ModelChoice, Configuration, int]]:
        """(config display name, model, configuration, seed) in the order they run."""
        cells = []
        for model in self.models:
            for config in self.configs:
                name = cell_name(model, config, len(self.models), len(self.configs))
                cells += [(name, model, config, seed) for seed in self.seeds
                          if self.shard is None or self.shard.holds(
                              model.sha256, self.prompt.name, config.chain.to_dict(), seed)]
        return cells

    def settings(self) -> dict[str, Any]:
        return {"models": [{"path": str(m.path), "sha256": m.sha256} for m in self.models],
                "configs": [{"name": c.name, "chain": c.chain.to_dict()} for c in self.configs],
                "seeds": list(self.seeds), "prompt": self.prompt.name, "engine": self.engine,
                "n_predict": self.n_predict, "smoke": self.smoke, "jobs": self.jobs,
                "engine_options": self.engine_options,
                "validators_version": validators_version(),
                **({} if self.shard is None else {"shard": str(self.shard)})}


def cell_name(model: ModelChoice, config: Configuration, n_models: int, n_configs: int) -> str:
    if n_models > 1 and n_configs > 1:
        return f"{model.label} / {config.name}"
    return model.label if n_models > 1 else config.name


# -- resolving what the user named -------------------------------------------------------------

def resolve_model(spec: str) -> Path:
    """A model path, or `tiny` for the tiny test model (built into the cache on first use)."""
    if spec == TINY:
        from pipeline.models.tiny_model import ensure_tiny_model

        return ensure_tiny_model()
    path = Path(spec).expanduser()
    if path.is_dir():
        raise UsageError(f"model {spec} is a folder; give a .gguf file (or 'tiny')")
    if not path.is_file():
        raise UsageError(f"model file {spec} does not exist (give a .gguf path, or 'tiny')")
    return path


def choose_model(spec: str, store: Store) -> ModelChoice:
    path = resolve_model(spec)
    sha = store.cached_model_hash(path)
    if sha is None:
        from pipeline.generation.generate import file_sha256

        sha = file_sha256(path)
        store.remember_model_hash(path, sha)
    label = TINY if spec == TINY else path.stem
    return ModelChoice(path=path, sha256=sha, label=label, is_tiny=spec == TINY)


def configuration(preset_name: str) -> Configuration:
    from pipeline.sampling.presets import preset

    return Configuration(preset_name, preset(preset_name))


def chain_configuration(chain: SamplerChain, name: str | None = None) -> Configuration:
    return Configuration(name or chain_label(chain), chain)


def engine_version(engine: str, model: Path) -> str:
    """The engine's version string without loading the model (it is part of every sample key)."""
    if engine == "embedded":
        return f"llama-cpp-python {metadata.version('llama_cpp_python')}"
    if engine == "replay":
        from pipeline.generation.engines.replay import ReplayEngine

        return ReplayEngine.from_file(model).version()
    raise UsageError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")


def open_engine(engine: str, model: Path, options: dict[str, Any] | None = None) -> Engine:
    if engine == "embedded":
        from pipeline.generation.engines.embedded import EmbeddedEngine

        return EmbeddedEngine(model, **(options or {}))
    if engine == "replay":
        from pipeline.generation.engines.replay import ReplayEngine

        return ReplayEngine.from_file(model)
    raise UsageError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")


# -- the run ------------------------------------------------------------------------------------

class _Runner:
    """One invocation: owns the engine (one model loaded at a time) and the validation pool."""

    def __init__(self, plan: RunPlan, store: Store, run_id: int, progress: RunProgress) -> None:
        self.plan, self.store, self.run_id, self.progress = plan, store, run_id, progress
        # A validation in flight: its future -> (validation key, content hash); and per key the
        # (config name, sample id) pairs waiting for it. Identical texts (a replayed transcript,
        # two configurations that agree) are validated once, and never into one screenshot
        # folder at the same time.
        self.pending: dict[Future[dict[str, Any]], tuple[str, str]] = {}
        self.waiting: dict[str, list[tuple[str, int]]] = {}
        # What every sample key shares, worked out once rather than per cell.
        self.engine_versions = {m.path: engine_version(plan.engine, m.path) for m in plan.models}
        self.key_options = {
            "n_predict": plan.n_predict, "prompt_sha256": sha256_text(plan.prompt.wrapped()),
            **{k: v for k, v in plan.engine_options.items() if k in TEXT_CHANGING_OPTIONS}}
        # Named after the store, so `--store results.db` never takes over a generic ./artifacts/;
        # absolute, so the screenshot paths recorded in the store hold from any folder.
        self.artifacts = artifacts_dir(store.path)
        self.starts_in_think = prompt_opens_think(plan.prompt.wrapped())
        self.validation_options = {"smoke": plan.smoke, "starts_in_think": self.starts_in_think}
        self._engine: Engine | None = None
        self._engine_model: Path | None = None

    def sample_key(self, model: ModelChoice, chain: SamplerChain, seed: int) -> SampleKey:
        return SampleKey(model_sha256=model.sha256, prompt_name=self.plan.prompt.name,
                         chain=chain.to_dict(), seed=seed, engine=self.plan.engine,
                         engine_version=self.engine_versions[model.path], options=self.key_options)

    def engine_for(self, model: ModelChoice) -> Engine:
        if self._engine_model != model.path:
            self.close_engine()
            self._engine = open_engine(self.plan.engine, model.path, self.plan.engine_options)
            self._engine_model = model.path
        assert self._engine is not None
        return self._engine

    def close_engine(self) -> None:
        if self._engine is not None:
            self._engine.close()
        self._engine, self._engine_model = None, None

    def execute(self, pool: ValidationPool) -> None:
        for name, model, config, seed in self.plan.cells():
            chain = config.chain.with_seed(seed)
            key = self.sample_key(model, chain, seed)
            sample = self.store.find_sample(key)
            if sample is not None:
                self.store.link_reused(self.run_id, name, sample.id)
                self.progress.reused_sample()
            else:
                sample = self.generate(name, model, chain, key)
            self.validate(pool, name, sample)
            self.collect(block=False)
        self.close_engine()  # free the model's memory while the last validations finish
        self.collect(block=True)

    def generate(self, name: str, model: ModelChoice, chain: SamplerChain, key: SampleKey) -> StoredSample:
        from pipeline.generation.generate import generate

        engine = self.engine_for(model)
        prompt = self.plan.prompt.wrapped()
        self.progress.generating(f"{name} seed {key.seed}", prompt)
        transcript = generate(engine, prompt, chain, n_predict=self.plan.n_predict,
                              prompt_name=self.plan.prompt.name, progress=False,
                              on_piece=lambda piece: self.progress.piece(piece.text),
                              model_path=model.path)
        if transcript.engine_version != key.engine_version:
            raise RuntimeError(f"engine version {transcript.engine_version!r} differs from the key's "
                               f"{key.engine_version!r}: engine_version() in run.py is out of date")
        sample = self.store.add_sample(self.run_id, name, key, model.path.name, transcript.text,
                                       transcript.metadata())
        self.progress.generated_sample()
        return sample

    def validate(self, pool: ValidationPool, name: str, sample: StoredSample) -> None:
        content = sha256_text(sample.text)
        vkey = validation_key(content, validators_version(), self.validation_options)
        if vkey in self.waiting:  # the same text is being validated now: share its verdict
            self.waiting[vkey].append((name, sample.id))
            return
        stored = self.store.find_validation(vkey)
        if stored is not None:
            self.store.attach_validation(self.run_id, sample.id, name, stored.id)
            self.progress.validated_sample()
            return
        job = ValidationJob(text=sample.text, source=f"sample {sample.id}", smoke=self.plan.smoke,
                            screenshots_dir=str(self.artifacts / vkey[:20]) if self.plan.smoke else None,
                            prompt=self.plan.prompt.name, smoke_parallel=smoke_parallel_for(self.plan.jobs),
                            starts_in_think=self.starts_in_think)
        self.waiting[vkey] = [(name, sample.id)]
        self.pending[pool.submit(job)] = (vkey, content)

    def collect(self, *, block: bool) -> None:
        """Store every finished validation (all of them when `block`)."""
        if block and self.pending:
            wait(list(self.pending))
        for future in [f for f in self.pending if f.done()]:
            vkey, content = self.pending.pop(future)
            result = future.result()
            stored = self.store.add_validation(
                vkey, content_sha256=content, code_sha256=result["code_sha256"],
                validators_version=validators_version(), options=self.validation_options,
                verdict=result["verdict"], findings=result["findings"], code=result["code"],
                details=result["details"], seconds=result["seconds"])
            for name, sample_id in self.waiting.pop(vkey):
                self.store.attach_validation(self.run_id, sample_id, name, stored.id)
                self.progress.validated_sample()


def execute(plan: RunPlan, store: Store, *, command: Sequence[str] = (),
            min_pass_rate: float | None = None, notes: Sequence[str] = (),
            progress: bool | None = None) -> RunReport:
    """Run the plan against the store and return the run's report (the run row is finished)."""
    run_id = store.start_run(list(command) or sys.argv, plan.settings(), __version__)
    cells = plan.cells()
    try:
        with RunProgress(len(cells), enabled=progress) as live, ValidationPool(plan.jobs) as pool:
            _Runner(plan, store, run_id, live).execute(pool)
    except BaseException:  # Ctrl-C, SIGTERM, a model that will not load; SIGKILL leaves `running`
        store.stop_run(run_id)
        raise
    report = build_report(store, run_id, min_pass_rate=min_pass_rate, notes=notes)
    store.finish_run(run_id, report.to_json())
    return report


# -- the pytest gate's entry ------------------------------------------------------------------

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


def artifacts_dir(store_path: Path) -> Path:
    """Where a store's smoke-run screenshots go: `results.db` -> `results-artifacts/` beside it."""
    resolved = store_path.resolve()
    return resolved.with_name(f"{resolved.stem}-artifacts")


def run_gate_config(*, model: Path | str, config: str | SamplerChain | Configuration, seeds: int,
                    engine: str = "embedded", store_path: Path | None = None,
                    prompt: str | None = None, smoke: bool = True, n_predict: int | None = None,
                    jobs: int | None = None) -> ConfigResult:
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
                       n_predict=n_predict, smoke=smoke, jobs=jobs or default_jobs())
        report = execute(plan, store, command=[GATE_COMMAND, configuration_.name], progress=False)
    summary = report.configs[0]
    return ConfigResult(summary.name, tuple(report.samples_of(summary.name)), summary, report)
