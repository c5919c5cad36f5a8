"""The run matrix: models x sampler configurations x seeds -> validated samples in the store.

Each cell's sample is looked up by its key (model sha256, prompt, chain, seed, engine and
version, options) and generated only when the store lacks it. Generation runs on slots
(pipeline/generation/slots.py): one stream, N parallel sequences of one loaded model, or a pool of
server endpoints; each free slot pulls the next missing cell, and each finished sample is
committed whole at once and goes to a pool of validation workers while the slots go on. So a
run killed at any point resumes with everything it had finished.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline import __version__
from pipeline.errors import UsageError
from pipeline.extract import prompt_opens_think
from pipeline.generation.context_size import key_context
from pipeline.generation.engines.base import GenerationRequest
from pipeline.generation.slots import SampleJob, SampleSlots
from pipeline.runs.open_engines import (
    POOL_ENGINES,
    embedded_context,
    engine_version,
    open_pool,
    open_slots,
    pool_version,
)
from pipeline.runs.outcomes import RunReport, build_report
from pipeline.runs.progress import RunProgress
from pipeline.runs.shards import Shard
from pipeline.runs.validation_pool import (
    ValidationJob,
    ValidationPool,
    smoke_parallel_for,
    validators_version,
)
from pipeline.sampling.chain import SamplerChain
from pipeline.sampling.explain import chain_label
from pipeline.store.db import (
    SampleKey,
    Store,
    StoredSample,
    sha256_text,
    validation_key,
)
from pipeline.transcript import Transcript
from prompts import Prompt

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
    # Embedded: sequences decoded together in one context (-np). Pools: the endpoints' URLs,
    # their slots when /props cannot tell (--server-slots), an OpenAI server's model name.
    parallel: int = 1
    endpoints: tuple[str, ...] = ()
    server_slots: int | None = None
    server_model: str | None = None
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
                "engine_options": self.engine_options, "parallel": self.parallel,
                "endpoints": list(self.endpoints), "server_slots": self.server_slots,
                "server_model": self.server_model,
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


# -- the run ------------------------------------------------------------------------------------

class _Runner:
    """One invocation: owns the slots (one model loaded at a time) and the validation pool."""

    def __init__(self, plan: RunPlan, store: Store, run_id: int, progress: RunProgress) -> None:
        self.plan, self.store, self.run_id, self.progress = plan, store, run_id, progress
        # A validation in flight: its future -> (validation key, content hash); and per key the
        # (config name, sample id) pairs waiting for it. Identical texts (a replayed transcript,
        # two configurations that agree) are validated once, and never into one screenshot
        # folder at the same time.
        self.pending: dict[Future[dict[str, Any]], tuple[str, str]] = {}
        self.waiting: dict[str, list[tuple[str, int]]] = {}
        self.endpoint_pool = (open_pool(plan.engine, plan.endpoints, server_slots=plan.server_slots,
                                        server_model=plan.server_model)
                              if plan.engine in POOL_ENGINES else None)
        # What every sample key shares, worked out once per model rather than per cell.
        if self.endpoint_pool is not None:
            version = pool_version(self.endpoint_pool, plan.engine, plan.server_model)
            self.engine_versions = {m.path: version for m in plan.models}
        else:
            self.engine_versions = {m.path: engine_version(plan.engine, m.path) for m in plan.models}
        self.prompt = plan.prompt.wrapped()
        # No more slots than the model has cells: a slot that would never be used costs memory.
        cells_of = {m.path: sum(1 for cell in plan.cells() if cell[1] == m) for m in plan.models}
        self.contexts = {m.path: embedded_context(m.path, self.prompt, plan.engine_options,
                                                  n_parallel=min(plan.parallel, cells_of[m.path]),
                                                  n_predict=plan.n_predict)
                         for m in plan.models} if plan.engine == "embedded" else {}
        self.key_options = {m.path: self._key_options(m.path) for m in plan.models}
        # Named after the store, so `--store results.db` never takes over a generic ./artifacts/;
        # absolute, so the screenshot paths recorded in the store hold from any folder.
        self.artifacts = artifacts_dir(store.path)
        self.starts_in_think = prompt_opens_think(self.prompt)
        self.validation_options = {"smoke": plan.smoke, "starts_in_think": self.starts_in_think}

    def _key_options(self, model: Path) -> dict[str, Any]:
        options: dict[str, Any] = {"n_predict": self.plan.n_predict, "prompt_sha256": sha256_text(self.prompt)}
        given = self.plan.engine_options
        context = self.contexts.get(model)
        n_ctx = (key_context(context, user_given="n_ctx" in given, n_predict=self.plan.n_predict)
                 if context is not None else given.get("n_ctx"))
        if n_ctx is not None:
            options["n_ctx"] = n_ctx
        if "kv_overrides" in given:
            options["kv_overrides"] = given["kv_overrides"]
        return options

    def sample_key(self, model: ModelChoice, chain: SamplerChain, seed: int) -> SampleKey:
        return SampleKey(model_sha256=model.sha256, prompt_name=self.plan.prompt.name,
                         chain=chain.to_dict(), seed=seed, engine=self.plan.engine,
                         engine_version=self.engine_versions[model.path], options=self.key_options[model.path])

    def execute(self, pool: ValidationPool) -> None:
        for model in self.plan.models:
            jobs = self.jobs(pool, model)
            first = next(jobs, None)  # a model whose every sample is stored is never loaded
            if first is not None:
                slots, close = self.open_slots(model)
                try:
                    slots.run(_chained(first, jobs), _Listener(self, pool, model))
                finally:
                    close()  # free the model's memory before the next one loads
            self.collect(block=False)
        self.collect(block=True)

    def open_slots(self, model: ModelChoice) -> tuple[SampleSlots, Any]:
        if self.endpoint_pool is not None:
            return self.endpoint_pool, lambda: None
        return open_slots(self.plan.engine, model.path, self.plan.engine_options,
                          context=self.contexts.get(model.path))

    def jobs(self, pool: ValidationPool, model: ModelChoice) -> Iterator[SampleJob]:
        """The model's cells the store lacks, pulled one per free slot; stored ones are reused here."""
        for name, cell_model, config, seed in self.plan.cells():
            if cell_model != model:
                continue
            chain = config.chain.with_seed(seed)
            key = self.sample_key(model, chain, seed)
            sample = self.store.find_sample(key)
            if sample is not None:
                self.store.link_reused(self.run_id, name, sample.id)
                self.progress.reused_sample()
                self.validate(pool, name, sample)
                self.collect(block=False)
                continue
            yield SampleJob((name, key), GenerationRequest(self.prompt, chain, self.plan.n_predict),
                            prompt_name=self.plan.prompt.name,
                            model_path=model.path if model.path.is_file() else None)

    def store_sample(self, pool: ValidationPool, model: ModelChoice, job: SampleJob,
                     transcript: Transcript) -> None:
        name, key = job.tag
        if self.endpoint_pool is None and transcript.engine_version != key.engine_version:
            raise RuntimeError(f"engine version {transcript.engine_version!r} differs from the key's "
                               f"{key.engine_version!r}: engine_version() in run_engines.py is out of date")
        sample = self.store.add_sample(self.run_id, name, key, model.path.name, transcript.text,
                                       transcript.metadata())
        self.validate(pool, name, sample)
        self.collect(block=False)

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


class _Listener:
    """The run's side of the slots: progress as pieces arrive, the store as samples finish."""

    def __init__(self, runner: _Runner, pool: ValidationPool, model: ModelChoice) -> None:
        self.runner, self.pool, self.model = runner, pool, model

    def started(self, slot: int, job: SampleJob) -> None:
        name, key = job.tag
        self.runner.progress.generating(f"{name} seed {key.seed}", job.request.prompt, slot)

    def piece(self, slot: int, piece: Any) -> None:
        self.runner.progress.piece(piece.text, slot)

    def finished(self, slot: int, job: SampleJob, transcript: Transcript) -> None:
        self.runner.progress.generated_sample(slot)
        self.runner.store_sample(self.pool, self.model, job, transcript)

    def requeued(self, slot: int, job: SampleJob) -> None:
        self.runner.progress.requeued_sample(slot)


def _chained(first: SampleJob, rest: Iterator[SampleJob]) -> Iterator[SampleJob]:
    yield first
    yield from rest


def execute(plan: RunPlan, store: Store, *, command: Sequence[str] = (),
            min_pass_rate: float | None = None, notes: Sequence[str] = (),
            progress: bool | None = None) -> RunReport:
    """Run the plan against the store and return the run's report (the run row is finished)."""
    run_id = store.start_run(list(command) or sys.argv, plan.settings(), __version__)
    cells = plan.cells()
    try:
        with RunProgress(len(cells), enabled=progress, n_slots=plan.parallel) as live, ValidationPool(plan.jobs) as pool:
            _Runner(plan, store, run_id, live).execute(pool)
    except BaseException:  # Ctrl-C, SIGTERM, a model that will not load; SIGKILL leaves `running`
        store.stop_run(run_id)
        raise
    report = build_report(store, run_id, min_pass_rate=min_pass_rate, notes=notes)
    store.finish_run(run_id, report.to_json())
    return report


def artifacts_dir(store_path: Path) -> Path:
    """Where a store's smoke-run screenshots go: `results.db` -> `results-artifacts/` beside it."""
    resolved = store_path.resolve()
    return resolved.with_name(f"{resolved.stem}-artifacts")
