"""`gencheck inspect A.gguf B.gguf`: what differs between two model files, and whether it
changes generation (exit 1) or is what quants of one model are meant to differ in (exit 0)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import gguf
import numpy as np
import pytest
from gguf import quants
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.cli import main as gencheck
from pipeline.models.gguf_diff import diff_models
from pipeline.models.gguf_info import layer_group, read_model_info, tensor_groups
from pipeline.models.tiny_model import make_tiny_model


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Variants of the tiny model, written with the gguf package: healthy, pad = eos, and a
    template whose generation prompt already opens <think>."""
    folder = tmp_path_factory.mktemp("diff")
    paths = {name: folder / f"{name}.gguf" for name in ("healthy", "pad_eos", "think")}
    make_tiny_model(paths["healthy"], merges=4)
    make_tiny_model(paths["pad_eos"], merges=4, pad_token="<|im_end|>")
    make_tiny_model(paths["think"], merges=4, template_adds_think=True)
    return paths


def inspect(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = gencheck(["inspect", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_pad_that_is_the_eos_against_a_healthy_file_exits_1_and_names_the_pad(models, capsys):
    code, out, _ = inspect(capsys, models["healthy"], models["pad_eos"])
    assert code == 1
    changed = out.split("differs, and changes how the model generates:\n")[1].splitlines()
    assert changed[:2] == ["  pad token         A 263 '<|vision_pad|>'",
                           "                    B 262 '<|im_end|>'"]
    assert "warning (B): pad token 262 '<|im_end|>' is also an end-of-generation token" in out
    assert out.rstrip().endswith("generation differs: the files are not interchangeable")


def test_the_pad_is_the_only_difference_in_the_json(models, capsys):
    code, out, _ = inspect(capsys, models["pad_eos"], models["healthy"], "--json")
    data = json.loads(out)
    assert code == 1 and data["changes_generation"] is True
    assert data["differences"] == [{"fact": "pad token", "a": "262 '<|im_end|>'",
                                    "b": "263 '<|vision_pad|>'", "changes_generation": True}]
    assert "eos token" in data["same"] and data["warnings"]["b"] == []
    assert len(data["warnings"]["a"]) == 1


def test_a_file_against_itself_exits_0(models, capsys):
    code, out, _ = inspect(capsys, models["healthy"], models["healthy"])
    assert code == 0
    assert out.rstrip().endswith("nothing that changes generation differs; "
                                 "the headers agree on every fact shown")


def test_a_template_that_opens_think_is_a_difference_with_its_diff(models, capsys):
    code, out, _ = inspect(capsys, models["healthy"], models["think"])
    assert code == 1
    assert "  template <think>  A does not open <think>\n" in out
    assert "B opens <think>" in out
    assert "      +++ B chat template" in out
    assert any(line.startswith("      +") and "<think>" in line for line in out.splitlines())


def write_qwen2(path: Path, *, attn_q: gguf.GGMLQuantizationType, fields: dict[str, object] | None = None,
                pad: int = 3) -> Path:
    """A real two-layer qwen2 header whose attn_q weights are stored as `attn_q` (F32, Q8_0, Q4_0)."""
    writer = gguf.GGUFWriter(str(path), "qwen2")
    writer.add_block_count(2)
    writer.add_context_length(32768)
    writer.add_token_list(["a", "b", "<|endoftext|>", "<|vision_pad|>", "<|im_end|>"])
    writer.add_token_types([1, 1, 3, 3, 3])
    writer.add_eos_token_id(4)
    writer.add_pad_token_id(pad)
    writer.add_chat_template("{{ messages[0]['content'] }}")
    for key, value in (fields or {}).items():
        if isinstance(value, str):
            writer.add_string(key, value)
        else:
            writer.add_float32(key, float(value))
    weights = np.random.default_rng(0).standard_normal((4, 64)).astype(np.float32)
    for layer in range(2):
        if attn_q == gguf.GGMLQuantizationType.F32:
            writer.add_tensor(f"blk.{layer}.attn_q.weight", weights)
        else:
            writer.add_tensor(f"blk.{layer}.attn_q.weight", quants.quantize(weights, attn_q),
                              raw_dtype=attn_q)
        writer.add_tensor(f"blk.{layer}.attn_q.bias", np.zeros(4, dtype=np.float32))
    writer.add_tensor("output_norm.weight", np.ones(64, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_quants_that_differ_only_in_tensor_types_exit_0_and_list_them(tmp_path, capsys):
    a = write_qwen2(tmp_path / "f32.gguf", attn_q=gguf.GGMLQuantizationType.F32)
    b = write_qwen2(tmp_path / "q4.gguf", attn_q=gguf.GGMLQuantizationType.Q4_0)
    code, out, _ = inspect(capsys, a, b, "--json")
    data = json.loads(out)
    assert code == 0 and data["changes_generation"] is False
    assert {d["fact"]: (d["a"], d["b"]) for d in data["differences"]} == {
        "file size": (a.stat().st_size, b.stat().st_size),
        "tensor types attn_q": ({"F32": 2}, {"Q4_0": 2}),
    }
    code, out, _ = inspect(capsys, a, b)
    assert code == 0 and "  tensor types attn_q  A F32 x2\n" in out and "B Q4_0 x2" in out


def test_yarn_keys_on_one_side_only_change_generation(tmp_path, capsys):
    yarn = {"qwen2.rope.scaling.type": "yarn", "qwen2.rope.scaling.factor": 4.0}
    a = write_qwen2(tmp_path / "plain.gguf", attn_q=gguf.GGMLQuantizationType.Q8_0)
    b = write_qwen2(tmp_path / "yarn.gguf", attn_q=gguf.GGMLQuantizationType.Q8_0, fields=yarn)
    code, out, _ = inspect(capsys, a, b, "--json")
    facts = {d["fact"]: (d["a"], d["b"]) for d in json.loads(out)["differences"]
             if d["changes_generation"]}
    assert code == 1
    assert facts == {"rope.scaling.factor": (None, 4.0), "rope.scaling.type": (None, "yarn")}


def test_a_sampling_default_set_in_one_file_only_changes_generation(tmp_path, capsys):
    a = write_qwen2(tmp_path / "a.gguf", attn_q=gguf.GGMLQuantizationType.F32)
    b = write_qwen2(tmp_path / "b.gguf", attn_q=gguf.GGMLQuantizationType.F32,
                    fields={"general.sampling.temp": 0.6})
    code, out, _ = inspect(capsys, a, b)
    assert code == 1 and "  general.sampling.temp  A absent\n" in out and "B 0.6" in out


@pytest.mark.parametrize("extra, message", [(["x.gguf", "y.gguf"], "not 3"),
                                            (["missing.gguf"], "does not exist")])
def test_three_files_or_a_missing_b_exit_2_with_one_line(models, capsys, extra, message):
    code, _, err = inspect(capsys, models["healthy"], *extra)
    assert code == 2 and message in err and err.count("\n") == 1


role = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_.0123456789", min_size=1, max_size=20).filter(
    lambda r: not r.endswith(".weight") and not r.startswith(".") and r != "weight")


@given(layer=st.integers(min_value=0, max_value=999), role=role)
def test_a_block_tensor_belongs_to_its_role_whatever_the_layer(layer, role):
    assert layer_group(f"blk.{layer}.{role}.weight") == role
    assert layer_group(f"blk.{layer}.{role}") == role


@given(name=st.text(min_size=1, max_size=30).filter(lambda n: not n.startswith("blk.")))
def test_a_tensor_outside_the_blocks_is_its_own_group(name):
    assert layer_group(name + ".weight") == name


@given(tensors=st.lists(st.tuples(st.sampled_from(["blk.0.attn_q.weight", "blk.1.attn_q.weight",
                                                    "blk.0.ffn_down.weight", "output.weight"]),
                                  st.sampled_from(["Q4_K", "Q6_K", "F32"]))))
def test_tensor_groups_count_every_tensor_once(tensors):
    groups = tensor_groups(tensors)
    assert sum(sum(types.values()) for types in groups.values()) == len(tensors)


value = st.one_of(st.none(), st.integers(0, 5), st.sampled_from(["yarn", "linear"]))


@settings(max_examples=60, deadline=None)
@given(rope_a=st.dictionaries(st.sampled_from(["freq_base", "scaling.type", "scaling.factor"]), value),
       rope_b=st.dictionaries(st.sampled_from(["freq_base", "scaling.type", "scaling.factor"]), value))
def test_every_rope_key_that_differs_is_one_difference_and_only_those(models, rope_a, rope_b):
    info = read_model_info(models["healthy"])
    diff = diff_models(dataclasses.replace(info, rope=rope_a), dataclasses.replace(info, rope=rope_b))
    differing = {f"rope.{k}" for k in set(rope_a) | set(rope_b) if rope_a.get(k) != rope_b.get(k)}
    assert {d.fact for d in diff.differences} == differing
    assert diff.changes_generation is bool(differing)
