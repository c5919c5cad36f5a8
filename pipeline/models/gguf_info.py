"""What a GGUF model file says about itself: the settings that decide how it generates.

Read with pipeline.models.gguf_header, which memory-maps the file and walks only the header (the
`gguf` package's GGUFReader took 13.7 s on a Qwen-sized vocabulary); token texts are decoded
only for the ids that matter (bos, eos, pad, the end-of-generation set).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import UsageError
from pipeline.models.chat_template import template_adds_think
from pipeline.models.gguf_header import GGUFFormatError, GGUFHeader, StringArray, read_header

GGUF_MAGIC = b"GGUF"

# Token texts llama.cpp adds to its end-of-generation set on its own (llama-vocab.cpp), beside
# the eos/eot/eom ids. A pad token among them ends generation wherever it is sampled and, in
# fine-tuning, teaches the model that padding means "stop".
END_TOKEN_TEXTS = frozenset({
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<end_of_turn>",
    "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
    "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<｜end▁of▁sentence｜>",
})
TOKEN_TYPE_NORMAL = 1
# llama.cpp's token types that make a token "special": unknown, control, user-defined. Byte and
# unused tokens are neither text a template writes nor ids a runner stops on.
SPECIAL_TOKEN_TYPES = (2, 3, 4)
# A block tensor's name: blk.<layer>.<role>[.weight]. The role is its layer group; a bias keeps
# its `.bias` (always F32, it would only blur its weight's group).
BLOCK_TENSOR = re.compile(r"blk\.\d+\.(?P<role>.+?)(?:\.weight)?")


@dataclass(frozen=True)
class TokenRef:
    id: int
    text: str


@dataclass(frozen=True)
class ModelInfo:
    path: str
    file_size: int
    architecture: str
    name: str | None
    file_type: str | None
    block_count: int | None
    embedding_length: int | None
    vocab_size: int
    context_length: int | None
    rope: dict[str, Any]
    rms_norm_eps: float | None
    bos: TokenRef | None
    eos: TokenRef | None
    pad: TokenRef | None
    eot: TokenRef | None
    add_bos: bool | None
    end_tokens: tuple[TokenRef, ...]
    has_chat_template: bool
    template_adds_think: bool | None
    sampling: dict[str, Any]
    tensor_count: int
    tensor_types: dict[str, int]
    # control, user-defined and unknown tokens, and the quantization types of each layer group
    # (attn_q, ffn_down, token_embd, ...): where two quants of one model differ
    special_tokens: tuple[TokenRef, ...] = field(default=())
    tensor_groups: dict[str, dict[str, int]] = field(default_factory=dict)
    warnings: tuple[str, ...] = field(default=())
    chat_template: str | None = field(default=None, repr=False)  # long: JSON only on request

    def to_json(self, *, with_template: bool = False) -> dict[str, Any]:
        data = asdict(self)
        template = data.pop("chat_template")
        return {**data, "chat_template": template} if with_template else data


def _scalar(fields: dict[str, Any], key: str) -> Any:
    """A scalar or string field's value, or None when absent or not a scalar."""
    value = fields.get(key)
    return value if isinstance(value, (str, int, float, bool)) else None


class _Vocab:
    """Token texts looked up by id without decoding the whole vocabulary."""

    def __init__(self, fields: dict[str, Any]) -> None:
        tokens = fields.get("tokenizer.ggml.tokens")
        types = fields.get("tokenizer.ggml.token_type")
        self._tokens = tokens if isinstance(tokens, StringArray) else None
        self._types = types if isinstance(types, np.ndarray) else None

    @property
    def size(self) -> int:
        return len(self._tokens) if self._tokens is not None else 0

    def ref(self, token_id: Any) -> TokenRef | None:
        if not isinstance(token_id, int) or not 0 <= token_id < self.size:
            return None
        assert self._tokens is not None
        return TokenRef(token_id, self._tokens[token_id])

    def end_tokens(self, explicit_ids: list[Any]) -> tuple[TokenRef, ...]:
        """The end-of-generation set: the eos/eot/eom ids plus tokens with a known end text."""
        found: dict[int, TokenRef] = {}
        for token_id in [*explicit_ids, *self._special_ids()]:
            ref = self.ref(token_id)
            if ref is not None and (token_id in explicit_ids or ref.text in END_TOKEN_TEXTS):
                found[ref.id] = ref
        return tuple(found[i] for i in sorted(found))

    def special_tokens(self) -> tuple[TokenRef, ...]:
        """Control, user-defined and unknown tokens (what templates write and runners parse)."""
        if self._types is None or len(self._types) != self.size:
            return ()
        ids = np.nonzero(np.isin(self._types, SPECIAL_TOKEN_TYPES))[0]
        return tuple(TokenRef(int(i), self[int(i)]) for i in ids)

    def __getitem__(self, token_id: int) -> str:
        assert self._tokens is not None
        return self._tokens[token_id]

    def _special_ids(self) -> list[int]:
        # End texts are control/user-defined tokens; skipping the normal ones keeps a 150K
        # vocabulary fast. Without a matching type array every id is a candidate.
        if self._types is None or len(self._types) != self.size:
            return list(range(self.size))
        return [int(i) for i in np.nonzero(self._types != TOKEN_TYPE_NORMAL)[0]]


def open_header(path: Path) -> GGUFHeader:
    """The GGUF header of path; a missing, non-GGUF or damaged file is the user's mistake."""
    if not path.exists():
        raise UsageError(f"{path} does not exist")
    if not path.is_file():
        raise UsageError(f"{path} is not a file")
    with path.open("rb") as handle:
        magic = handle.read(4)
    if magic != GGUF_MAGIC:
        raise UsageError(f"{path} is not a GGUF model file (it does not start with 'GGUF')")
    try:
        return read_header(path)
    except GGUFFormatError as exc:
        raise UsageError(f"{path} is a damaged or unsupported GGUF file: {exc}") from None


def _type_name(enum: Any, value: Any) -> str | None:
    if value is None:
        return None
    try:
        return str(enum(value).name)
    except ValueError:
        return f"unknown ({value})"


def layer_group(tensor_name: str) -> str:
    """The group a tensor belongs to: its role inside a block (`blk.7.attn_v.weight` ->
    `attn_v`, `blk.7.attn_v.bias` -> `attn_v.bias`), or its own name without `.weight` outside
    the blocks (`token_embd`, `output`)."""
    match = BLOCK_TENSOR.fullmatch(tensor_name)
    if match:
        return match["role"]
    return tensor_name.removesuffix(".weight")


def tensor_groups(names_and_types: list[tuple[str, str | None]]) -> dict[str, dict[str, int]]:
    """{group: {type: count}}, groups in file order, types most common first."""
    groups: dict[str, Counter[str]] = {}
    for name, type_name in names_and_types:
        groups.setdefault(layer_group(name), Counter())[str(type_name)] += 1
    return {group: dict(counts.most_common()) for group, counts in groups.items()}


def read_model_info(path: Path | str) -> ModelInfo:
    import gguf  # only its enums, for the names of file and tensor types

    path = Path(path)
    header = open_header(path)
    fields = header.fields
    arch = _scalar(fields, "general.architecture") or "unknown"
    vocab = _Vocab(fields)
    bos = vocab.ref(_scalar(fields, "tokenizer.ggml.bos_token_id"))
    eos_id = _scalar(fields, "tokenizer.ggml.eos_token_id")
    eos = vocab.ref(eos_id)
    pad = vocab.ref(_scalar(fields, "tokenizer.ggml.padding_token_id"))
    end_tokens = vocab.end_tokens([eos_id, _scalar(fields, "tokenizer.ggml.eot_token_id"),
                                   _scalar(fields, "tokenizer.ggml.eom_token_id")])
    template = _scalar(fields, "tokenizer.chat_template")
    if not isinstance(template, str):
        template = None
    rope_prefix = f"{arch}.rope."
    rope = {key.removeprefix(rope_prefix): _scalar(fields, key) for key in fields
            if key.startswith(rope_prefix)}
    sampling = {key.removeprefix("general.sampling."): _scalar(fields, key)
                for key in fields if key.startswith("general.sampling.")}
    typed = [(tensor.name, _type_name(gguf.GGMLQuantizationType, tensor.type_id))
             for tensor in header.tensors]
    tensor_types = Counter(type_name for _, type_name in typed)

    warnings: list[str] = []
    if pad is not None and pad.id in {ref.id for ref in end_tokens}:
        warnings.append(f"pad token {pad.id} {pad.text!r} is also an end-of-generation token: "
                        "padding then means 'stop' (use a distinct pad such as <|vision_pad|>)")
    if eos is None:
        warnings.append("no eos token: generation only stops at the token limit")
    if template is None:
        warnings.append("no chat template: runners fall back to their own guess")
    adds_think = template_adds_think(template) if template is not None else None
    return ModelInfo(
        path=str(path), file_size=path.stat().st_size, architecture=str(arch),
        name=_scalar(fields, "general.name"),
        file_type=_type_name(gguf.LlamaFileType, _scalar(fields, "general.file_type")),
        block_count=_scalar(fields, f"{arch}.block_count"),
        embedding_length=_scalar(fields, f"{arch}.embedding_length"),
        vocab_size=vocab.size, context_length=_scalar(fields, f"{arch}.context_length"),
        rope=dict(sorted(rope.items())),
        rms_norm_eps=_scalar(fields, f"{arch}.attention.layer_norm_rms_epsilon"),
        bos=bos, eos=eos, pad=pad, eot=vocab.ref(_scalar(fields, "tokenizer.ggml.eot_token_id")),
        add_bos=_scalar(fields, "tokenizer.ggml.add_bos_token"),
        end_tokens=end_tokens, has_chat_template=template is not None,
        template_adds_think=adds_think, sampling=dict(sorted(sampling.items())),
        tensor_count=len(header.tensors), tensor_types=dict(tensor_types.most_common()),
        special_tokens=vocab.special_tokens(), tensor_groups=tensor_groups(typed),
        warnings=tuple(warnings), chat_template=template,
    )


def chat_template_of(path: Path | str) -> str | None:
    """The GGUF's `tokenizer.chat_template`, for wrapping prompts as the model's runners do."""
    template = _scalar(open_header(Path(path)).fields, "tokenizer.chat_template")
    return template if isinstance(template, str) else None


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


SPECIALS_SHOWN = 8  # a Qwen vocabulary has ~200 special tokens; --json lists them all


def type_counts(types: dict[str, int]) -> str:
    return ", ".join(f"{name} x{count}" for name, count in types.items())


def _token(ref: TokenRef | None) -> str:
    return "none" if ref is None else f"{ref.id} {ref.text!r}"


def render_text(info: ModelInfo) -> str:
    """The report a quant author reads: one line per fact, warnings last."""
    rope = ", ".join(f"{k} {v}" for k, v in info.rope.items()) or "none"
    sampling = ", ".join(f"{k}={v}" for k, v in info.sampling.items()) or "none"
    tensors = type_counts(info.tensor_types)
    groups = "; ".join(f"{g} {type_counts(t)}" for g, t in info.tensor_groups.items()) or "none"
    shown = info.special_tokens[:SPECIALS_SHOWN]
    specials = ", ".join(repr(r.text) for r in shown) or "none"
    if len(info.special_tokens) > len(shown):
        specials += f", ... ({len(info.special_tokens) - len(shown)} more)"
    if info.template_adds_think is None:
        think = "no chat template"
    elif info.template_adds_think:
        think = "yes: its generation prompt already opens <think> (gencheck adds none)"
    else:
        think = "no: the generation prompt ends at the assistant header (gencheck adds <think>)"
    bos_added = "" if info.add_bos is None else (" (added)" if info.add_bos else " (not added)")
    lines = [
        f"{info.path}  ({human_size(info.file_size)})",
        f"  architecture      {info.architecture}"
        + (f" ({info.name!r})" if info.name else "")
        + f", {info.block_count} blocks, n_embd {info.embedding_length}, vocab {info.vocab_size}",
        f"  file type         {info.file_type or 'not stated'}",
        f"  context length    {info.context_length}",
        f"  rope              {rope}",
        f"  rms-norm epsilon  {info.rms_norm_eps:g}" if info.rms_norm_eps is not None
        else "  rms-norm epsilon  not stated",
        f"  tokens            bos {_token(info.bos)}{bos_added}, eos {_token(info.eos)}, "
        f"pad {_token(info.pad)}" + (f", eot {_token(info.eot)}" if info.eot else ""),
        f"  end tokens        {', '.join(_token(r) for r in info.end_tokens) or 'none'}",
        f"  template <think>  {think}",
        f"  sampling keys     {sampling}",
        f"  special tokens    {len(info.special_tokens)}: {specials}",
        f"  tensors           {info.tensor_count}: {tensors}",
        f"  by layer group    {groups}",
    ]
    lines += [f"warning: {w}" for w in info.warnings]
    return "\n".join(lines)


def render_json(info: ModelInfo, *, with_template: bool = False) -> str:
    return json.dumps(info.to_json(with_template=with_template), indent=2, ensure_ascii=False)
