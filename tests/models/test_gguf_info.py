"""`gencheck inspect`: what a GGUF file says about itself, read from its header."""

from __future__ import annotations

import json
import math
from pathlib import Path

import gguf
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.cli import main as gencheck
from pipeline.errors import UsageError
from pipeline.models.gguf_info import chat_template_of, read_model_info, render_text
from pipeline.models.tiny_model import CHAT_TEMPLATE_WITH_THINK, make_tiny_model

QWQ_YARN = {  # the YaRN overrides of the write-up, stored in a file as a quant author would
    "qwen2.context_length": 131072,
    "qwen2.rope.scaling.type": "yarn",
    "qwen2.rope.scaling.factor": 4.0,
    "qwen2.rope.scaling.original_context_length": 32768,
    "qwen2.rope.scaling.attn_factor": 1.13862943649292,
}


@pytest.fixture(scope="module")
def think_model(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("think") / "think.gguf"
    make_tiny_model(out, merges=8, template_adds_think=True,
                    sampling={"top_k": 20, "temp": 0.6, "sequence": "top_k;temperature"})
    return out


def write_header_gguf(path: Path, fields: dict[str, object], *, q4k_tensors: int = 1) -> Path:
    """A real GGUF with given keys, a few tokens and Q4_K tensors (contents irrelevant here)."""
    writer = gguf.GGUFWriter(str(path), "qwen2")
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q4_K_M)
    writer.add_token_list(["a", "b", "<|endoftext|>", "<|im_end|>"])
    writer.add_token_types([1, 1, 3, 3])
    writer.add_eos_token_id(3)
    writer.add_pad_token_id(2)
    for key, value in fields.items():
        if isinstance(value, str):
            writer.add_string(key, value)
        elif isinstance(value, int):
            writer.add_uint32(key, value)
        else:
            writer.add_float32(key, float(value))
    block = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType.Q4_K][1]
    for i in range(q4k_tensors):
        writer.add_tensor(f"blk.{i}.ffn_up.weight", np.zeros((2, block), dtype=np.uint8),
                          raw_dtype=gguf.GGMLQuantizationType.Q4_K)  # 2 rows of 256 weights
    writer.add_tensor("output_norm.weight", np.ones(256, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_tiny_model_reports_qwq_tokens_and_a_template_without_think(tiny_model):
    info = read_model_info(tiny_model)
    assert info.architecture == "qwen2"
    assert info.eos.text == "<|im_end|>" and info.pad.text == "<|vision_pad|>"
    assert {ref.text for ref in info.end_tokens} == {"<|im_end|>", "<|endoftext|>"}
    assert info.template_adds_think is False
    assert info.rms_norm_eps == 1e-6 and info.context_length == 32768
    assert info.tensor_types == {"F32": 8, "F16": 7}
    assert info.file_size == tiny_model.stat().st_size
    assert info.warnings == ()


def test_inspect_says_when_the_template_already_opens_think(think_model, capsys):
    assert gencheck(["inspect", str(think_model)]) == 0
    out = capsys.readouterr().out
    assert "template <think>  yes" in out
    assert "sampling keys     sequence=top_k;temperature, temp=0.6, top_k=20" in out


def test_inspect_says_when_it_does_not(tiny_model, capsys):
    assert gencheck(["inspect", str(tiny_model)]) == 0
    assert "template <think>  no" in capsys.readouterr().out


def test_inspect_json_is_one_object_with_every_fact(think_model, capsys):
    assert gencheck(["inspect", str(think_model), "--json", "--template"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["template_adds_think"] is True
    assert data["sampling"] == {"sequence": "top_k;temperature", "temp": 0.6, "top_k": 20}
    assert data["eos"] == {"id": data["eos"]["id"], "text": "<|im_end|>"}
    assert data["chat_template"] == CHAT_TEMPLATE_WITH_THINK
    assert chat_template_of(think_model) == CHAT_TEMPLATE_WITH_THINK


def test_the_template_itself_is_printed_only_with_template(think_model, capsys):
    assert gencheck(["inspect", str(think_model), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert "chat_template" not in data and data["has_chat_template"] is True
    assert gencheck(["inspect", str(think_model), "--template"]) == 0
    out = capsys.readouterr().out
    assert out.endswith("chat template:\n" + CHAT_TEMPLATE_WITH_THINK + "\n")


def test_pad_that_is_also_an_end_token_is_warned_about(tmp_path):
    out = tmp_path / "badpad.gguf"
    make_tiny_model(out, merges=4, pad_token="<|endoftext|>")
    info = read_model_info(out)
    assert len(info.warnings) == 1 and "pad token" in info.warnings[0]
    assert render_text(info).splitlines()[-1].startswith("warning: pad token")


def test_yarn_keys_quant_types_and_file_type_are_shown(tmp_path):
    info = read_model_info(write_header_gguf(tmp_path / "q.gguf", QWQ_YARN, q4k_tensors=3))
    assert info.context_length == 131072
    assert info.rope == {"scaling.attn_factor": pytest.approx(1.138629),
                         "scaling.factor": 4.0, "scaling.original_context_length": 32768,
                         "scaling.type": "yarn"}
    assert info.tensor_types == {"Q4_K": 3, "F32": 1}
    assert info.file_type == "MOSTLY_Q4_K_M"
    assert "no chat template" in " ".join(info.warnings)
    assert any("pad token 2" in w for w in info.warnings)  # <|endoftext|> is an end token


@pytest.mark.parametrize("content, message", [
    (None, "does not exist"),
    (b"print('hello')\n", "is not a GGUF model file"),
    (b"GGUF\x03\x00\x00\x00\xff", "damaged or unsupported GGUF"),
])
def test_missing_or_foreign_files_exit_2_with_one_line(tmp_path, capsys, content, message):
    path = tmp_path / "model.gguf"
    if content is not None:
        path.write_bytes(content)
    assert gencheck(["inspect", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_a_folder_is_refused(tmp_path):
    with pytest.raises(UsageError, match="not a file"):
        read_model_info(tmp_path)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(junk=st.binary(max_size=400), keep=st.integers(min_value=0, max_value=2000))
def test_damaged_files_give_a_usage_error_never_a_crash(tmp_path_factory, think_model, junk, keep):
    # A real header cut short, with junk after it: every outcome is a report or a UsageError.
    path = tmp_path_factory.mktemp("junk") / "m.gguf"
    path.write_bytes(think_model.read_bytes()[:keep] + junk)
    try:
        info = read_model_info(path)
    except UsageError:
        return
    assert info.file_size == path.stat().st_size


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, width=32)


@settings(max_examples=40, deadline=None)
@given(top_p=finite, top_k=st.integers(min_value=0, max_value=2**31 - 1),
       sequence=st.text(alphabet="abcdefghijklmnopqrstuvwxyz_;", min_size=1, max_size=60))
def test_sampling_keys_read_back_as_written(tmp_path_factory, top_p, top_k, sequence):
    path = write_header_gguf(tmp_path_factory.mktemp("s") / "s.gguf", {
        "general.sampling.top_p": top_p, "general.sampling.top_k": top_k,
        "general.sampling.sequence": sequence,
    }, q4k_tensors=0)
    sampling = read_model_info(path).sampling
    assert sampling["top_k"] == top_k and sampling["sequence"] == sequence
    assert math.isclose(sampling["top_p"], top_p, rel_tol=1e-6, abs_tol=1e-30)
