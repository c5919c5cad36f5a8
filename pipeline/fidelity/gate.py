"""KL divergence as the gate and `gencheck run --reference` ask for it: model specs, default texts,
and the reference saved beside the results store."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pipeline.errors import UsageError
from pipeline.fidelity.kld import KldResult, Progress, _quiet, cached_reference, compare
from pipeline.fidelity.saved.reference import load_any, references_dir

TINY = "tiny"


def model_file(spec: Path | str) -> Path:
    """A model path, or `tiny` for the tiny test model."""
    if str(spec) == TINY:
        from pipeline.models.tiny_model import ensure_tiny_model

        return ensure_tiny_model()
    path = Path(spec).expanduser()
    if not path.is_file():
        raise UsageError(f"model file {spec} does not exist (give a .gguf path, or 'tiny')")
    return path


def default_texts(prompt_name: str | None = None) -> list[str]:
    """The test prompt in its chat template followed by each bundled QwQ-shaped answer."""
    from pipeline.models.tiny_model import bundled_corpus
    from prompts import load_prompt

    wrapped = load_prompt(prompt_name).wrapped() if prompt_name else load_prompt().wrapped()
    answers = [part for part in bundled_corpus().split("<|im_start|>user\n") if part.strip()]
    return [wrapped + answer.split("<think>\n", 1)[-1] for answer in answers]


def gate_kld(model: Path | str, reference: Path | str, *, texts: Sequence[str] | None = None,
             chunks: int | None = None, store: Path | None = None, n_threads: int | None = None,
             progress: Progress = _quiet) -> KldResult:
    """`model` against `reference` (a GGUF, or a saved reference file that holds its own texts)."""
    from pipeline.generation.generate import file_sha256
    from pipeline.store.db import default_store_path

    model_path = model_file(model)
    reference_path = model_file(reference)
    if not reference_path.name.endswith(".gguf"):
        return compare(model_path, load_any(reference_path), n_threads=n_threads, progress=progress)
    chosen = list(texts) if texts is not None else default_texts()
    directory = references_dir(store or default_store_path())
    saved = cached_reference(reference_path, chosen, chunks=chunks, directory=directory,
                             model_sha256=file_sha256(reference_path), n_threads=n_threads, progress=progress)
    return compare(model_path, saved, n_threads=n_threads, progress=progress)


def store_texts(store_path: Path, run_id: int | None, config: str | None) -> list[str]:
    """The wrapped prompt plus each distinct recorded answer, in the run's order."""
    from pipeline.store.db import Store
    from prompts import load_prompt

    if not store_path.is_file():
        raise UsageError(f"no store at {store_path}; run `gencheck run` first or give --store PATH")
    with Store(store_path) as store:
        if run_id is None:
            assert config is not None
            run_id = store.latest_run_with_config(config)
            if run_id is None:
                raise UsageError(f"no finished run has configuration {config!r}; see `gencheck compare --list`")
        rows = [r for r in store.run_samples(run_id) if config is None or r.config_name == config]
    if not rows:
        raise UsageError(f"run {run_id} has no recorded answers" + (f" for {config!r}" if config else ""))
    texts: list[str] = []
    prompts: dict[str, str] = {}
    for row in rows:
        name = row.sample.prompt_name
        if name not in prompts:
            prompts[name] = load_prompt(name).wrapped()
        text = prompts[name] + row.sample.text
        if text not in texts:
            texts.append(text)
    return texts
