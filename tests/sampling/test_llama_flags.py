"""llama-cli flags, pasted as users type them, parsed as common/arg.cpp parses them (stricter)."""

from __future__ import annotations

import argparse
import math
import os
import re
import shlex
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.errors import UsageError
from pipeline.sampling.chain import LLAMA_DEFAULT_SEED, SamplerChain
from pipeline.sampling.llama_flags import (
    CONSOLE_ONLY,
    PARAM_FLAGS,
    SWITCHES,
    VALUE_FLAGS,
    add_llama_help,
    chain_to_flags,
    escape_for_flag,
    parse_kv_overrides,
    parse_llama_args,
    process_escapes,
)
from pipeline.sampling.presets import preset
from tests.sampling.sampler_strategies import chains

WRITE_UP = ("--model QwQ-32B-Q4_K_M.gguf --threads 32 --ctx-size 16384 --n-gpu-layers 99 --seed 3407 "
            "--prio 2 --temp 0.6 --repeat-penalty 1.1 --dry-multiplier 0.5 --min-p 0.1 --top-k 40 "
            "--top-p 0.95 -no-cnv --samplers \"top_k;top_p;min_p;temperature;dry;typ_p;xtc\" "
            "--prompt \"<|im_start|>user\\nhi<|im_end|>\\n<|im_start|>assistant\\n<think>\\n\"")


def parse(command: str, **kwargs) -> object:
    return parse_llama_args(shlex.split(command), **kwargs)


def test_the_write_ups_command_parses_to_its_preset_and_run_settings() -> None:
    args = parse(WRITE_UP)
    assert args.chain == preset("unsloth-qwq")
    assert (args.model, args.threads, args.ctx_size, args.n_gpu_layers) == ("QwQ-32B-Q4_K_M.gguf", 32, 16384, 99)
    assert args.prompt == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n<think>\n"
    assert any("--prio" in n for n in args.notes) and any("-no-cnv" in n for n in args.notes)
    assert args.user_set == preset("unsloth-qwq").params.changed().keys() | {"order", "seed", "top_k", "top_p"}


def test_short_forms_equals_forms_and_underscores_are_accepted() -> None:
    args = parse("-m a.gguf -p hi -n 12 -c 256 -t 2 -ngl 0 -s 5 -l 7+1.5 --top_k=3 --temp=0.5")
    assert (args.model, args.prompt, args.n_predict, args.ctx_size, args.threads) == ("a.gguf", "hi", 12, 256, 2)
    assert args.n_gpu_layers == 0 and args.chain.seed == 5 and args.chain.logit_bias == ((7, 1.5),)
    assert (args.chain.params.top_k, args.chain.params.temp) == (3, 0.5)


def test_bogus_sampler_name_is_refused_naming_it_and_the_valid_names() -> None:
    with pytest.raises(UsageError, match="'bogus'.*valid names: penalties"):
        parse("--samplers 'top_k;bogus'")


def test_last_value_wins_and_sampling_seq_replaces_samplers() -> None:
    args = parse("--temp 0.1 --temp 0.2 --samplers top_k --sampling-seq pm")
    assert args.chain.params.temp == 0.2 and args.chain.order == ("top_p", "min_p")


def test_only_samplers_counts_as_setting_the_order_as_in_llama_cpp() -> None:
    assert "order" in parse("--samplers top_k").user_set
    assert "order" not in parse("--sampling-seq k").user_set


@pytest.mark.parametrize("command", ["--sampling-seq k", "-l 1+1", "--legacy", "--typical 0.9",
                                     "--preset unsloth-qwq"])
def test_any_sampling_flag_says_whether_the_chain_was_shaped(command: str) -> None:
    assert parse(command).any_sampling_flag
    assert not parse("-m x.gguf -c 16 -t 1 -no-cnv").any_sampling_flag


def test_a_seed_alone_picks_a_sample_not_a_configuration() -> None:
    assert not parse("--seed 1").any_sampling_flag
    assert "seed" in parse("--seed 1").user_set


def test_dry_breakers_clear_the_defaults_once_and_are_unescaped() -> None:
    args = parse(r"--dry-sequence-breaker '\n' --dry-sequence-breaker '}'")
    assert args.chain.params.dry_sequence_breakers == ("\n", "}")
    assert parse("--dry-sequence-breaker none").chain.params.dry_sequence_breakers == ()
    assert parse(r"--no-escape --dry-sequence-breaker '\n'").chain.params.dry_sequence_breakers == ("\\n",)


def test_prompt_escapes_follow_llama_cpp_and_no_escape_keeps_them() -> None:
    assert parse(r"-p 'a\tb\x41\\n\q'").prompt == "a\tbA\\n\\q"
    assert parse(r"-p 'a\nb' --no-escape").prompt == "a\\nb"


def test_prompt_file_loses_one_trailing_newline_and_the_later_of_p_and_f_wins(tmp_path: Path) -> None:
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("line\\none\n\n", encoding="utf-8")
    args = parse(f"-p ignored -f {prompt}")
    assert args.prompt is None and args.prompt_text() == "line\none\n"
    assert parse(f"-f {prompt} -p kept").prompt_text() == "kept"
    with pytest.raises(UsageError, match="cannot read"):
        parse(f"-f {tmp_path / 'missing.txt'}").prompt_text()


def test_negative_temperature_is_clamped_to_greedy_with_a_note() -> None:
    args = parse("--temp -1")
    assert args.chain.params.temp == 0.0 and any("clamps" in n for n in args.notes)


def test_seed_minus_one_is_random_and_too_large_is_refused() -> None:
    assert parse("--seed -1").chain.seed == LLAMA_DEFAULT_SEED
    with pytest.raises(UsageError, match="--seed"):
        parse("--seed 4294967296")


@pytest.mark.parametrize(("value", "parsed"), [("auto", "auto"), ("all", "all"), ("-1", "auto"),
                                               ("-2", "all"), ("99", 99)])
def test_gpu_layers_take_counts_auto_and_all(value: str, parsed: object) -> None:
    assert parse(f"-ngl {value}").n_gpu_layers == parsed


def test_gpu_layers_that_are_no_count_name_auto_and_all() -> None:
    with pytest.raises(UsageError, match="^-ngl: expected a whole number, auto or all, got 'max'$"):
        parse("-ngl max")


def test_an_override_key_past_llama_cpps_127_bytes_is_refused_as_such() -> None:
    assert parse_kv_overrides("k" * 127 + "=int:1") == {"k" * 127: 1}
    with pytest.raises(UsageError, match="at most 127 bytes.*has 128"):
        parse_kv_overrides("k" * 128 + "=int:1")
    with pytest.raises(UsageError, match="has 128"):  # bytes, not characters
        parse_kv_overrides("é" * 64 + "=int:1")


def test_threads_zero_means_every_core() -> None:
    assert parse("-t 0").threads == (os.cpu_count() or 1)


def test_override_kv_types_and_comma_lists() -> None:
    kv = parse_kv_overrides("qwen2.rope.scaling.factor=float:4,qwen2.context_length=int:131072,"
                            "qwen2.rope.scaling.type=str:yarn,tokenizer.ggml.add_bos_token=bool:false")
    assert kv == {"qwen2.rope.scaling.factor": 4.0, "qwen2.context_length": 131072,
                  "qwen2.rope.scaling.type": "yarn", "tokenizer.ggml.add_bos_token": False}
    assert type(kv["qwen2.rope.scaling.factor"]) is float
    assert parse("--override-kv a=int:1 --override-kv b=str:x").kv_overrides == {"a": 1, "b": "x"}


@pytest.mark.parametrize("bad", ["a=long:1", "a", "a=int:x", "a=bool:yes", "=int:1", "a=float:1,,"])
def test_bad_override_kv_is_refused(bad: str) -> None:
    with pytest.raises(UsageError, match="--override-kv"):
        parse_kv_overrides(bad)


def test_logit_bias_accepts_minus_inf_and_refuses_plus_inf() -> None:
    assert parse("-l 15043-inf").chain.logit_bias == ((15043, -math.inf),)
    with pytest.raises(UsageError):
        parse("-l 15043+inf")
    with pytest.raises(UsageError, match="TOKEN_ID"):
        parse("-l hello")


def test_preset_is_the_base_wherever_it_stands_and_flags_win() -> None:
    args = parse("--temp 0.9 --preset unsloth-qwq")
    assert args.chain == preset("unsloth-qwq").with_params(temp=0.9)
    assert args.preset == "unsloth-qwq" and "order" in args.user_set


def test_legacy_moves_penalties_out_of_the_list_with_a_note() -> None:
    args = parse("--samplers 'penalties;top_k' --legacy")
    assert args.chain.order == ("top_k",) and args.chain.legacy_penalties
    assert any("--legacy" in n for n in args.notes)


def test_base_chain_is_kept_where_no_flag_sets_anything() -> None:
    base = preset("qwen-recommended")
    assert parse("--top-k 20", base=base).chain == base.with_params(top_k=20)


@pytest.mark.parametrize(("command", "words"), [
    ("--tmep 1", "did you mean --temp"), ("--grammar x", "unknown or unsupported flag"),
    ("stray", "unexpected argument"), ("--top-k", "needs a value"), ("--top-k 4.5", "whole number"),
    ("--top-p 0.9x", "expected a number"), ("--dry-base 0.5", ">= 1"), ("--no-conversation=1", "takes no value"),
    ("--prio 9", "-1 to 3"), ("-n -3", ">= -2"), ("--mirostat 3", "0 (off), 1 or 2"),
    ("--dry-penalty-last-n -1", ">= 0"),
])
def test_mistakes_give_one_line_usage_errors(command: str, words: str) -> None:
    with pytest.raises(UsageError, match=re.escape(words)) as caught:
        parse(command)
    assert "\n" not in str(caught.value)


def test_help_lists_the_flags_and_keeps_its_line_breaks() -> None:
    parser = argparse.ArgumentParser(prog="gencheck generate")
    add_llama_help(parser)
    text = parser.format_help()
    assert "--samplers" in text and "--override-kv" in text and "\n  presets" in text


# --- properties -------------------------------------------------------------------------------


@given(chains(with_min_keep=False))
def test_flags_rendered_from_a_chain_parse_back_to_it(chain: SamplerChain) -> None:
    assert parse_llama_args(chain_to_flags(chain)).chain == chain


@given(chains(with_min_keep=False))
def test_equals_forms_of_the_same_flags_parse_the_same(chain: SamplerChain) -> None:
    flags, joined, i = chain_to_flags(chain), [], 0
    while i < len(flags):
        if flags[i].startswith("--") and flags[i] not in SWITCHES and i + 1 < len(flags):
            joined.append(f"{flags[i]}={flags[i + 1]}")
            i += 2
        else:
            joined.append(flags[i])
            i += 1
    assert parse_llama_args(joined).chain == chain


@given(st.text())
def test_escaping_for_a_flag_is_undone_by_llama_cpps_escape_processing(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return
    assert process_escapes(escape_for_flag(text), "-p") in (text, "none")


known = sorted({*PARAM_FLAGS, *VALUE_FLAGS, *SWITCHES, *CONSOLE_ONLY})
tokens = st.one_of(st.sampled_from(known), st.text(max_size=12),
                   st.sampled_from(["-1", "0", "0.5", "1e9", "nan", "inf", "top_k;x", "kpmt",
                                    "a=int:1", "7-inf", "none", "auto"]))


@given(st.lists(tokens, max_size=8))
def test_random_argument_lists_raise_only_usage_errors(argv: list[str]) -> None:
    try:
        args = parse_llama_args(argv)
    except UsageError:
        return
    assert isinstance(args.chain, SamplerChain)
