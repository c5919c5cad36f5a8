"""Where a run's samples come from: an engine opened as slots, or a pool of endpoints.

embedded: one model in this process; --parallel N decodes N samples in one context
(pipeline/generation/parallel.py), 1 keeps the single stream exactly as `generate` runs it.
replay: a recorded transcript streamed again. server / openai: a pool of running servers
(pipeline/generation/endpoint_pool.py). The engine's version is part of every sample key, so it is worked
out here without loading a model.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from pipeline.errors import UsageError
from pipeline.generation.context_size import (
    ContextChoice,
    check_fits,
    choose_context,
    read_model_shape,
)
from pipeline.generation.engines.base import Engine
from pipeline.generation.slots import SampleSlots, SerialSlots

ENGINES = ("embedded", "replay", "server", "openai")
POOL_ENGINES = ("server", "openai")


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


def embedded_context(model: Path, prompt: str, options: Mapping[str, Any], *, n_parallel: int,
                     n_predict: int, announce: bool = True) -> ContextChoice:
    """The context one model's run allocates, shown before it loads; a UsageError if it cannot fit."""
    shape = read_model_shape(model, prompt, options.get("kv_overrides"))
    choice = choose_context(user_ctx=options.get("n_ctx"), n_parallel=n_parallel, n_predict=n_predict,
                            shape=shape)
    if announce:
        print(f"gencheck: {model.name}: {choice.describe()}", file=sys.stderr)
    check_fits(choice, shape, on_gpu=_offloads(options))
    return choice


def _offloads(options: Mapping[str, Any]) -> bool:
    import llama_cpp as lib

    return bool(lib.llama_supports_gpu_offload()) and options.get("n_gpu_layers", -1) != 0


def open_slots(engine: str, model: Path, options: Mapping[str, Any], *,
               context: ContextChoice | None) -> tuple[SampleSlots, Callable[[], None]]:
    """The model's slots and how to free them."""
    if engine != "embedded" or context is None:
        opened = open_engine(engine, model, dict(options))
        return SerialSlots(opened), opened.close
    from pipeline.generation.engines.embedded import EmbeddedEngine

    loaded = EmbeddedEngine(model, **{**options, "n_ctx": context.n_ctx, "n_parallel": context.n_parallel})
    if context.n_parallel == 1:
        return SerialSlots(loaded), loaded.close
    from pipeline.generation.parallel import ParallelSequences

    sequences = ParallelSequences(loaded)

    def close() -> None:
        sequences.close()
        loaded.close()

    return sequences, close


# -- pools of endpoints ------------------------------------------------------------------------

def open_pool(engine: str, urls: Sequence[str], *, server_slots: int | None = None,
              server_model: str | None = None) -> Any:
    """An EndpointPool over the URLs (each asked for its slots now: a dead one fails here, early)."""
    from pipeline.generation.endpoint_pool import Endpoint, EndpointPool, server_slot_count

    if engine not in POOL_ENGINES:
        raise UsageError(f"--server-url needs --engine {' or '.join(POOL_ENGINES)}")
    endpoints = []
    for url in urls:
        if engine == "server":
            from pipeline.generation.engines.server import ServerEngine

            opened: Engine = ServerEngine(url)
        else:
            from pipeline.generation.engines.openai_compat import OpenAIEngine

            opened = OpenAIEngine(url, model=server_model)
        endpoints.append(Endpoint(opened, url, server_slot_count(opened, server_slots)))
    return EndpointPool(endpoints)


def pool_version(pool: Any, engine: str, server_model: str | None) -> str:
    """One version for the whole pool (the key must not depend on which endpoint ran a sample)."""
    if engine == "openai":
        return "openai-compatible server" + (f" ({server_model})" if server_model else "")
    versions = {e.engine.version() for e in pool.endpoints}
    if len(versions) > 1:
        raise UsageError(f"the endpoints run different builds ({', '.join(sorted(versions))}); "
                         "a pool must be one build, or samples would not be comparable")
    return versions.pop()


def pool_model_name(pool: Any, engine: str, server_model: str | None) -> str:
    """The model the pool serves: llama-server's /props model_path (the same on every endpoint)."""
    if engine == "openai":
        if not server_model:
            raise UsageError("--engine openai needs --server-model NAME (the model every endpoint serves)")
        return server_model
    names = {Path(str(e.engine.props().get("model_path") or "")).name for e in pool.endpoints}
    if len(names) != 1 or "" in names:
        raise UsageError(f"the endpoints serve different models ({', '.join(sorted(names)) or 'none named'}); "
                         "a pool serves one model")
    return names.pop()
