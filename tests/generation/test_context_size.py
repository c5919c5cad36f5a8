"""The default context: what the samples need times the slots; -c split as llama-server splits it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.errors import UsageError
from pipeline.generation.context_size import (
    UNLIMITED_SAMPLE_CONTEXT,
    ContextChoice,
    ModelShape,
    check_fits,
    choose_context,
    key_context,
    read_model_shape,
)
from prompts import DEFAULT_PROMPT, load_prompt

QWQ_YARN = ModelShape(n_ctx_train=131072, n_layer=64, n_head=40, n_head_kv=8, n_embd=5120, n_prompt_tokens=250)


@given(prompt=st.integers(1, 4000), n_predict=st.integers(-2, 20000), n_parallel=st.integers(1, 16),
       trained=st.integers(512, 200000))
def test_the_default_holds_every_sample_whole_in_each_slot(prompt: int, n_predict: int, n_parallel: int,
                                                          trained: int) -> None:
    shape = ModelShape(trained, 1, 1, 1, 64, prompt)
    choice = choose_context(user_ctx=None, n_parallel=n_parallel, n_predict=n_predict, shape=shape)
    assert choice.n_ctx == choice.per_sample * n_parallel
    need = prompt + n_predict + 1 if n_predict >= 0 else UNLIMITED_SAMPLE_CONTEXT
    assert choice.per_sample >= min(need, trained)
    assert choice.per_sample <= max(need + 255, 0) and choice.per_sample <= trained


@given(user_ctx=st.integers(1, 1 << 20), n_parallel=st.integers(1, 64))
def test_a_given_c_is_the_whole_context_split_between_the_slots(user_ctx: int, n_parallel: int) -> None:
    choice = choose_context(user_ctx=user_ctx, n_parallel=n_parallel, n_predict=-1, shape=QWQ_YARN)
    assert choice.n_ctx == user_ctx and choice.per_sample == user_ctx // n_parallel


def test_qwq_with_yarn_no_longer_allocates_its_training_context() -> None:
    unlimited = choose_context(user_ctx=None, n_parallel=1, n_predict=-1, shape=QWQ_YARN)
    assert unlimited.n_ctx == 16384 and "16384" in unlimited.describe()
    four = choose_context(user_ctx=None, n_parallel=4, n_predict=8000, shape=QWQ_YARN)
    assert four.n_ctx == 4 * 8448 and four.describe().startswith("context: 4 slots x 8448 tokens = -c 33792")
    # 16384 cells of f16 K and V, 64 layers, 8 KV heads of 128: 4 GiB; 131072 would be 32 GiB.
    assert QWQ_YARN.kv_bytes(unlimited.n_ctx) == 4 << 30


def test_a_context_larger_than_free_memory_is_refused_before_loading() -> None:
    huge = ContextChoice(n_ctx=1 << 26, n_parallel=1, why="-c given")
    with pytest.raises(UsageError, match=r"needs .* GiB of KV cache; .* GiB is free: lower -c, --parallel"):
        check_fits(huge, QWQ_YARN, on_gpu=False)
    check_fits(huge, QWQ_YARN, on_gpu=True)  # on a GPU llama.cpp itself refuses, in one line


def test_a_prompt_that_fills_a_slot_is_refused() -> None:
    with pytest.raises(UsageError, match="the prompt has 250 tokens but each sample's context holds 128"):
        check_fits(ContextChoice(512, 4, "-c given"), QWQ_YARN, on_gpu=False)


def test_the_key_carries_the_context_only_where_it_can_cut_a_sample() -> None:
    default = choose_context(user_ctx=None, n_parallel=4, n_predict=768, shape=QWQ_YARN)
    assert key_context(default, user_given=False, n_predict=768) is None
    unlimited = choose_context(user_ctx=None, n_parallel=4, n_predict=-1, shape=QWQ_YARN)
    assert key_context(unlimited, user_given=False, n_predict=-1) == 16384
    given_c = choose_context(user_ctx=8192, n_parallel=1, n_predict=768, shape=QWQ_YARN)
    assert key_context(given_c, user_given=True, n_predict=768) == 8192  # as before --parallel
    split = choose_context(user_ctx=8192, n_parallel=4, n_predict=768, shape=QWQ_YARN)
    assert key_context(split, user_given=True, n_predict=768) == 2048


def test_the_tiny_models_shape_and_prompt_are_read_without_its_weights(tiny_model: Path) -> None:
    shape = read_model_shape(tiny_model, load_prompt(DEFAULT_PROMPT).wrapped(),
                             {"qwen2.context_length": 4096})
    assert shape.n_ctx_train == 4096 and shape.n_layer == 1 and shape.n_prompt_tokens > 100


def test_run_shows_the_context_before_it_starts(tiny_model: Path, tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "pipeline.cli.main", "run", "--model", str(tiny_model),
                           "--seeds", "2", "--no-smoke", "--n-predict", "20", "--parallel", "2",
                           "--store", str(tmp_path / "r.db")], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "context: 2 slots x 512 tokens = -c 1024 (prompt 479 + --n-predict 20, times 2 slots)" in done.stderr
