"""A writer process for the store stress test (tests/store/test_store_concurrency.py).

Its own module without pytest, so that each spawned process starts quickly."""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

SHARED_SAMPLES = 10  # every writer writes these same keys: one row each must survive
OWN_SAMPLES = 5      # and these under keys of its own


def sample_key(seed: int, writer: int | None) -> Any:
    from pipeline.store.db import SampleKey

    options = {"n_predict": 64} if writer is None else {"n_predict": 64, "writer": writer}
    return SampleKey(model_sha256="cd" * 32, prompt_name="flappy_bird", chain={"temp": 0.6},
                     seed=seed, engine="replay", engine_version="stress", options=options)


def write_one_run(store_path: str, writer: int, start: Any, errors: Any) -> None:
    """Wait for every writer, then open the (new) store and write a whole run into it."""
    try:
        from pipeline.store.db import Store, sha256_text, validation_key

        start.wait()
        with Store(Path(store_path)) as store:
            run_id = store.start_run(["stress", str(writer)], {"writer": writer}, "stress")
            for seed in range(SHARED_SAMPLES):
                text = f"shared sample {seed}"
                sample = store.add_sample(run_id, "shared", sample_key(seed, None), "m.gguf", text,
                                          {"seconds": 0.1, "finish_reason": "eos"})
                content = sha256_text(text)
                stored = store.add_validation(
                    validation_key(content, "stress", {}), content_sha256=content, code_sha256=None,
                    validators_version="stress", options={}, verdict="fail", findings=[], code=None,
                    details={}, seconds=0.0)
                store.attach_validation(run_id, sample.id, "shared", stored.id)
            for seed in range(OWN_SAMPLES):
                store.add_sample(run_id, "own", sample_key(seed, writer), "m.gguf",
                                 f"writer {writer} sample {seed}", {"seconds": 0.1})
            store.finish_run(run_id, {"writer": writer})
        errors.put(None)
    except BaseException:  # reported to the test, which names it
        errors.put(f"writer {writer}: {traceback.format_exc()}")
