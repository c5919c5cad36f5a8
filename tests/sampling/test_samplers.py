"""The sampler chain: llama.cpp's names and defaults, presets, GGUF defaults, explain, translations."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.errors import UsageError
from pipeline.sampling.chain import (
    DEFAULT_ORDER,
    LEGACY_DEFAULT_ORDER,
    LLAMA_DEFAULT_SEED,
    STAGE_LETTERS,
    STAGES,
    SamplerChain,
    SamplerParams,
)
from pipeline.sampling.explain import (
    chain_label,
    explain_chain,
    openai_limitations,
    server_limitations,
    server_request,
    unused_settings,
)
from pipeline.sampling.presets import (
    PRESETS,
    from_gguf_sampling,
    gguf_sampling_notes,
    preset,
    preset_user_set,
)
from tests.sampling.sampler_strategies import chains, orders

# --- names, letters, defaults ---------------------------------------------------------------


def test_defaults_are_those_of_the_vendored_llama_cpp_common_h() -> None:
    p = SamplerParams()
    assert (p.temp, p.top_k, p.top_p, p.min_p, p.typ_p, p.top_n_sigma) == (0.8, 40, 0.95, 0.05, 1.0, -1.0)
    assert (p.xtc_probability, p.xtc_threshold) == (0.0, 0.1)
    assert (p.penalty_last_n, p.penalty_repeat, p.penalty_freq, p.penalty_present) == (64, 1.0, 0.0, 0.0)
    assert (p.dry_multiplier, p.dry_base, p.dry_allowed_length, p.dry_penalty_last_n) == (0.0, 1.75, 2, 64)
    assert p.dry_sequence_breakers == ("\n", ":", "\"", "*")
    assert (p.dynatemp_range, p.dynatemp_exponent, p.adaptive_target, p.adaptive_decay) == (0.0, 1.0, -1.0, 0.9)
    assert SamplerChain().order == DEFAULT_ORDER
    assert SamplerChain().seed == LLAMA_DEFAULT_SEED


@pytest.mark.parametrize(("spelling", "stage"), [
    ("top_k", "top_k"), ("top-k", "top_k"), ("topk", "top_k"), ("TOP_K", "top_k"),
    ("nucleus", "top_p"), ("temp", "temperature"), ("typ", "typ_p"), ("typ-p", "typ_p"),
    ("top-n-sigma", "top_n_sigma"), ("topnsigma", "top_n_sigma"), ("minp", "min_p"),
    ("adaptive-p", "adaptive_p"), ("Penalties", "penalties"), ("XTC", "xtc"),
])
def test_llama_cpp_aliases_name_the_canonical_stage(spelling: str, stage: str) -> None:
    assert SamplerChain.from_names(spelling).order == (stage,)


def test_unknown_sampler_is_refused_naming_it_and_the_valid_names() -> None:
    with pytest.raises(UsageError, match="'bogus'.*top_k.*temperature"):
        SamplerChain.from_names("top_k;bogus")


def test_comma_separated_names_get_a_hint_because_llama_cpp_splits_only_on_semicolons() -> None:
    with pytest.raises(UsageError, match="separate names with ';'"):
        SamplerChain.from_names("top_k,top_p")


def test_space_after_a_semicolon_is_refused_because_llama_cpp_would_skip_that_sampler() -> None:
    with pytest.raises(UsageError, match="spaces"):
        SamplerChain.from_names("top_k; top_p")


def test_a_lookalike_unicode_letter_is_not_lowered_into_a_valid_name() -> None:
    with pytest.raises(UsageError):
        SamplerChain.from_names("top_\u212a")  # KELVIN SIGN lowers to "k" in Python only


def test_empty_string_is_the_empty_order_and_a_trailing_semicolon_is_skipped() -> None:
    assert SamplerChain.from_names("").order == ()
    assert SamplerChain.from_names("top_k;").order == ("top_k",)


def test_letters_follow_sampling_seq_and_are_case_sensitive() -> None:
    assert SamplerChain.from_letters("edskypmxt").order == DEFAULT_ORDER
    with pytest.raises(UsageError, match="'K'.*k=top_k"):
        SamplerChain.from_letters("K")


@pytest.mark.parametrize("changes", [
    {"top_p": 1.5}, {"min_p": -0.1}, {"dry_penalty_last_n": -1}, {"penalty_last_n": -1},
    {"mirostat": 3}, {"penalty_repeat": 0.0}, {"temp": math.nan}, {"dry_base": 0.5},
    {"top_k": -1}, {"xtc_threshold": 2.0}, {"top_k": 2**31}, {"top_k": 4.0}, {"temp": True},
    {"dry_sequence_breakers": ("",)}, {"dry_sequence_breakers": "\n"}, {"adaptive_decay": 1.0},
])
def test_out_of_range_values_are_refused_naming_the_flag(changes: dict) -> None:
    with pytest.raises(UsageError):
        SamplerChain().with_params(**changes)


def test_negative_zero_and_integral_floats_give_the_same_json_as_their_plain_forms() -> None:
    assert SamplerChain().with_params(temp=-0.0, top_n_sigma=-1).to_json() == \
        SamplerChain().with_params(temp=0.0, top_n_sigma=-1.0).to_json()


def test_a_legacy_chain_cannot_also_list_penalties() -> None:
    with pytest.raises(UsageError, match="legacy"):
        SamplerChain(order=("penalties", "top_k"), legacy_penalties=True)


# --- what runs ------------------------------------------------------------------------------


def test_plan_is_bias_then_order_then_dist_as_common_sampler_init_builds_it() -> None:
    chain = SamplerChain(order=("top_k", "temperature", "top_k"), logit_bias=((5, -math.inf),), seed=7)
    steps = chain.plan()
    assert [s.stage for s in steps] == ["logit_bias", "top_k", "temperature", "top_k", "dist"]
    assert steps[2].init == "llama_sampler_init_temp_ext"
    assert steps[-1].kwargs == {"seed": 7}


def test_legacy_runs_penalties_first_and_equals_the_penalties_first_preset() -> None:
    legacy = preset("unsloth-qwq").as_legacy()
    assert legacy.effective_order() == preset("unsloth-qwq-penalties").effective_order()
    assert [s.stage for s in legacy.plan()] == [s.stage for s in preset("unsloth-qwq-penalties").plan()]


def test_mirostat_replaces_the_list_with_plain_temperature_and_mirostat() -> None:
    steps = preset("unsloth-qwq").with_params(mirostat=2).plan()
    assert [s.init for s in steps] == ["llama_sampler_init_temp", "llama_sampler_init_mirostat_v2"]


def test_adaptive_p_replaces_dist_at_the_end_wherever_it_is_listed() -> None:
    steps = SamplerChain(order=("adaptive_p", "top_k")).plan()
    assert [s.stage for s in steps] == ["top_k", "adaptive_p"]


# --- presets --------------------------------------------------------------------------------


def test_unsloth_qwq_is_the_write_ups_order_and_flags_as_written() -> None:
    chain = preset("unsloth-qwq")
    assert chain.to_names() == "top_k;top_p;min_p;temperature;dry;typ_p;xtc"
    p = chain.params
    assert (p.temp, p.penalty_repeat, p.dry_multiplier, p.min_p, p.top_k, p.top_p) == \
        (0.6, 1.1, 0.5, 0.1, 40, 0.95)
    assert chain.seed == 3407
    assert preset("unsloth-qwq-penalties").order == ("penalties", *chain.order)


def test_baseline_preset_is_the_legacy_default_order_with_the_write_ups_flags() -> None:
    chain = preset("unsloth-qwq-baseline")
    assert chain.legacy_penalties and chain.order == LEGACY_DEFAULT_ORDER
    assert chain.effective_order()[0] == "penalties"


def test_every_preset_builds_and_names_itself() -> None:
    for name in PRESETS:
        assert chain_label(preset(name)) == name


def test_unknown_preset_lists_the_presets() -> None:
    with pytest.raises(UsageError, match="qwen-recommended"):
        preset("qwq")


def test_preset_user_set_counts_what_the_preset_sets_like_flags() -> None:
    assert preset_user_set("llama.cpp-default") == frozenset()
    assert {"order", "seed", "temp", "penalty_repeat"} <= preset_user_set("unsloth-qwq")
    assert "order" not in preset_user_set("unsloth-qwq-baseline")


# --- explain and unused settings ---------------------------------------------------------------


def test_repeat_penalty_without_a_penalties_stage_is_reported_unused() -> None:
    unused = unused_settings(preset("unsloth-qwq"))
    assert any("--repeat-penalty 1.1" in s and "`penalties`" in s for s in unused)
    assert "--repeat-penalty 1.1" in explain_chain(preset("unsloth-qwq"))
    assert unused_settings(preset("unsloth-qwq-penalties")) == []


def test_explain_has_one_line_per_built_sampler() -> None:
    chain = preset("unsloth-qwq")
    numbered = [line for line in explain_chain(chain).splitlines() if line.strip()[:2].rstrip(".").isdigit()]
    assert len(numbered) == len(chain.plan())


@pytest.mark.parametrize(("chain", "words"), [
    (SamplerChain().with_params(dry_base=2.0), "--dry-multiplier 0 turns DRY off"),
    (SamplerChain().with_params(xtc_probability=0.5, xtc_threshold=0.6), "above 0.5 turns XTC off"),
    (SamplerChain(order=("top_k",)).with_params(temp=0.6), "logits are sampled at temperature 1"),
    (SamplerChain().with_params(mirostat=1, min_p=0.1), "mirostat 1 replaces the sampler list"),
    (SamplerChain(order=("temperature", "top_p")).with_params(temp=0.0, top_p=0.5),
     "leaves a single token"),
    (SamplerChain().with_params(penalty_repeat=1.2, penalty_last_n=0), "--repeat-last-n 0"),
    (SamplerChain().with_params(mirostat_eta=0.2), "mirostat is off"),
])
def test_settings_that_change_nothing_are_named(chain: SamplerChain, words: str) -> None:
    assert any(words in sentence for sentence in unused_settings(chain)), unused_settings(chain)


def test_defaults_report_nothing_unused() -> None:
    assert unused_settings(SamplerChain()) == []


def test_explain_marks_off_stages_with_the_reason() -> None:
    assert "xtc          off (--xtc-probability 0)" in explain_chain(SamplerChain())


def test_legacy_explain_says_what_this_build_cannot_reproduce() -> None:
    assert "penalize_nl" in explain_chain(preset("unsloth-qwq-baseline"))


# --- translations -----------------------------------------------------------------------------


def test_server_request_sends_every_field_and_the_order_with_legacy_penalties_first() -> None:
    request = server_request(preset("unsloth-qwq-baseline"))
    assert request["samplers"][0] == "penalties"
    assert request["repeat_penalty"] == 1.1 and request["seed"] == 3407
    assert {"temperature", "typical_p", "dry_sequence_breakers", "repeat_last_n", "logit_bias"} <= set(request)


def test_server_request_omits_empty_breakers_and_says_so() -> None:
    chain = SamplerChain().with_params(dry_sequence_breakers=())
    assert "dry_sequence_breakers" not in server_request(chain)
    assert any("dry_sequence_breakers" in s for s in server_limitations(chain))


def test_server_request_bans_a_token_with_false() -> None:
    chain = SamplerChain(logit_bias=((3, -math.inf), (4, 1.5)))
    assert server_request(chain)["logit_bias"] == [[3, False], [4, 1.5]]


def test_openai_limitations_name_order_and_dry() -> None:
    limits = " ".join(openai_limitations(preset("unsloth-qwq")))
    assert "order" in limits and "DRY" in limits


def test_label_of_a_custom_chain_shows_letters_changes_and_seed() -> None:
    label = chain_label(SamplerChain.from_names("top_k;temperature").with_params(temp=0.5).with_seed(9))
    assert label == "kt temp=0.5 seed=9"
    assert chain_label(preset("unsloth-qwq").with_seed(1)) == "unsloth-qwq seed=1"


# --- GGUF general.sampling.* ------------------------------------------------------------------

GGUF = {"general.sampling.top_k": 20, "general.sampling.temp": 0.7,
        "general.sampling.sequence": "top_k;temperature", "general.architecture": "qwen2"}


def test_gguf_defaults_apply_where_the_user_set_nothing() -> None:
    chain = from_gguf_sampling(GGUF)
    assert chain.order == ("top_k", "temperature")
    assert (chain.params.top_k, chain.params.temp) == (20, 0.7)


def test_what_the_user_set_wins_over_the_model_file() -> None:
    base = SamplerChain.from_names("min_p").with_params(temp=0.6)
    chain = from_gguf_sampling(GGUF, {"order", "temp"}, base)
    assert chain.order == ("min_p",) and chain.params.temp == 0.6 and chain.params.top_k == 20
    assert any("--temp was given" in n for n in gguf_sampling_notes(GGUF, {"order", "temp"}, base))


def test_gguf_sequence_skips_unknown_names_like_llama_cpp() -> None:
    chain = from_gguf_sampling({"general.sampling.sequence": "top_k;bogus"})
    assert chain.order == ("top_k",)
    assert from_gguf_sampling({"general.sampling.sequence": "bogus"}).order == ()
    assert any("bogus" in n for n in gguf_sampling_notes({"general.sampling.sequence": "bogus"}))


def test_gguf_sequence_is_cut_at_llama_cpps_511_byte_buffer() -> None:
    chain = from_gguf_sampling({"general.sampling.sequence": "top_k;" * 100})
    assert len(chain.order) == 511 // len("top_k;") + (1 if 511 % 6 >= 5 else 0)


def test_gguf_numbers_are_read_as_llama_cpp_reads_their_text() -> None:
    assert from_gguf_sampling({"general.sampling.top_k": 40.9}).params.top_k == 40
    assert from_gguf_sampling({"general.sampling.top_p": "0.9x"}).params.top_p == 0.9
    assert from_gguf_sampling({"general.sampling.top_k": True}).params.top_k == 40


def test_gguf_values_llama_cpp_treats_as_off_are_read_as_the_off_bound() -> None:
    assert from_gguf_sampling({"general.sampling.top_k": -1}).params.top_k == 0


def test_gguf_value_out_of_range_is_refused_naming_key_and_flag() -> None:
    with pytest.raises(UsageError, match="general.sampling.top_p.*--top-p"):
        from_gguf_sampling({"general.sampling.top_p": 1.5})


def test_legacy_chains_ignore_gguf_sampling_keys() -> None:
    assert from_gguf_sampling(GGUF, base=preset("unsloth-qwq-baseline")) == preset("unsloth-qwq-baseline")


# --- properties -------------------------------------------------------------------------------


@given(orders)
def test_order_survives_names_and_letters(order: tuple[str, ...]) -> None:
    chain = SamplerChain(order=order)
    assert SamplerChain.from_names(chain.to_names()).order == order
    assert SamplerChain.from_letters(chain.to_letters()).order == order


@given(st.lists(st.sampled_from(STAGES), max_size=8), st.data())
def test_any_alias_spelling_in_any_case_parses_to_the_same_order(order: list[str], data: st.DataObject) -> None:
    spellings = []
    for stage in order:
        options = [stage] + ([stage.replace("_", "-"), stage.replace("_", "")] if "_" in stage else [])
        word = data.draw(st.sampled_from(options))
        spellings.append("".join(c.upper() if data.draw(st.booleans()) else c for c in word))
    assert SamplerChain.from_names(";".join(spellings)).order == tuple(order)


@given(chains())
def test_json_round_trips_and_is_canonical(chain: SamplerChain) -> None:
    text = chain.to_json()
    again = SamplerChain.from_json(text)
    assert again == chain and again.to_json() == text


@given(chains())
def test_explain_and_translations_never_fail_on_a_valid_chain(chain: SamplerChain) -> None:
    assert explain_chain(chain).count("\n") >= len(chain.plan())
    json.dumps(server_request(chain))
    openai_limitations(chain)
    assert chain_label(chain)


@given(chains())
def test_plan_ends_with_the_one_sampler_that_draws(chain: SamplerChain) -> None:
    last = chain.plan()[-1].stage
    assert last in ("dist", "adaptive_p", "mirostat")
    if chain.legacy_penalties:
        assert [s.stage for s in chain.plan() if s.stage != "logit_bias"][0] == "penalties"


@given(st.text(max_size=40))
def test_junk_names_and_letters_raise_only_usage_errors(text: str) -> None:
    for parse in (SamplerChain.from_names, SamplerChain.from_letters, SamplerChain.from_json):
        try:
            parse(text)
        except UsageError:
            pass


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                           max_leaves=8)


@given(st.dictionaries(st.sampled_from(["format", "order", "params", "seed", "logit_bias",
                                        "legacy_penalties"]), json_values), st.data())
def test_junk_json_objects_raise_only_usage_errors(data: dict, more: st.DataObject) -> None:
    if more.draw(st.booleans()):
        data["format"] = 1
    if more.draw(st.booleans()):
        data["params"] = more.draw(st.dictionaries(st.sampled_from(sorted(SamplerParams.__dataclass_fields__)), json_values))
    try:
        SamplerChain.from_dict(data)
    except UsageError:
        pass


@given(st.dictionaries(st.sampled_from([f"general.sampling.{k}" for k in (
    "sequence", "top_k", "top_p", "min_p", "temp", "penalty_last_n", "penalty_repeat", "mirostat",
    "mirostat_tau", "xtc_threshold", "unknown")]), json_values | st.binary(max_size=8)),
    st.sets(st.sampled_from(["order", "top_k", "temp"])))
def test_junk_gguf_sampling_keys_raise_only_usage_errors(metadata: dict, user_set: set) -> None:
    try:
        from_gguf_sampling(metadata, user_set)
    except UsageError:
        pass


def test_every_stage_has_a_letter_and_letters_are_unique() -> None:
    assert len(set(STAGE_LETTERS.values())) == len(STAGES)


def test_a_gguf_number_reads_as_c_strtol_does_not_as_python_int() -> None:
    """C's isspace has six characters and isdigit ten: "\\x1c0" is no number to llama.cpp (and
    int() refuses it), while "\\v 7" is 7."""
    assert from_gguf_sampling({"general.sampling.top_k": b"\x1c0"}).params.top_k == 40
    assert from_gguf_sampling({"general.sampling.top_k": b"\x0b 7"}).params.top_k == 7
