"""What a GGUF model file says about itself: the settings that decide how it generates.

Read with the `gguf` package's GGUFReader, which memory-maps the file and parses only the
header, so a 20 GB model is inspected in well under a second; token texts are decoded only for
the ids that matter (bos, eos, pad, the end-of-generation set), never for the whole vocabulary.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pipeline.chat_template import template_adds_think
from pipeline.errors import UsageError

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
    add_bos: bool | None
    end_tokens: tuple[TokenRef, ...]
    has_chat_template: bool
    template_adds_think: bool | None
    sampling: dict[str, Any]
    tensor_count: int
    tensor_types: dict[str, int]
    warnings: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _scalar(reader: Any, key: str) -> Any:
    """A scalar or string field's value, or None when absent (arrays are not read here)."""
    import gguf

    entry = reader.fields.get(key)
    if entry is None or not entry.types or entry.types[0] == gguf.GGUFValueType.ARRAY:
        return None
    part = entry.parts[entry.data[0]]
    if entry.types[0] == gguf.GGUFValueType.STRING:
        return bytes(part).decode("utf-8", errors="replace")
    value = part[0].item()
    if entry.types[0] == gguf.GGUFValueType.BOOL:
        return bool(value)
    if entry.types[0] in (gguf.GGUFValueType.FLOAT32, gguf.GGUFValueType.FLOAT64):
        return float(f"{value:.7g}")  # float32 1e-6 reads back as 9.99999997e-07
    return value


class _Vocab:
    """Token texts looked up by id without decoding the whole vocabulary."""

    def __init__(self, reader: Any) -> None:
        self._tokens = reader.fields.get("tokenizer.ggml.tokens")
        self._types = reader.fields.get("tokenizer.ggml.token_type")

    @property
    def size(self) -> int:
        return len(self._tokens.data) if self._tokens is not None else 0

    def ref(self, token_id: Any) -> TokenRef | None:
        if token_id is None or not 0 <= int(token_id) < self.size:
            return None
        part = self._tokens.parts[self._tokens.data[int(token_id)]]
        return TokenRef(int(token_id), bytes(part).decode("utf-8", errors="replace"))

    def end_tokens(self, explicit_ids: list[Any]) -> tuple[TokenRef, ...]:
        """The end-of-generation set: the eos/eot/eom ids plus tokens with a known end text."""
        found: dict[int, TokenRef] = {}
        for token_id in explicit_ids:
            ref = self.ref(token_id)
            if ref is not None:
                found[ref.id] = ref
        for token_id in self._special_ids():
            ref = self.ref(token_id)
            if ref is not None and ref.text in END_TOKEN_TEXTS:
                found[ref.id] = ref
        return tuple(found[i] for i in sorted(found))

    def _special_ids(self) -> range | list[int]:
        # End texts are control/user-defined tokens; skipping the normal ones keeps a 150K
        # vocabulary fast. Without a type array every id is a candidate.
        if self._types is None or len(self._types.data) != self.size:
            return range(self.size)
        import numpy as np

        types = np.asarray([self._types.parts[i][0] for i in self._types.data])
        return [int(i) for i in np.nonzero(types != TOKEN_TYPE_NORMAL)[0]]


def open_reader(path: Path) -> Any:
    """GGUFReader over path; a missing, non-GGUF or damaged file is the user's mistake."""
    if not path.exists():
        raise UsageError(f"{path} does not exist")
    if not path.is_file():
        raise UsageError(f"{path} is not a file")
    with path.open("rb") as handle:
        magic = handle.read(4)
    if magic != GGUF_MAGIC:
        raise UsageError(f"{path} is not a GGUF model file (it does not start with 'GGUF')")
    import gguf

    try:
        return gguf.GGUFReader(path)
    except Exception as exc:  # any parse failure of a damaged header is the file's fault
        raise UsageError(f"{path} is a damaged GGUF file: {type(exc).__name__}: {exc}") from None


def read_model_info(path: Path | str) -> ModelInfo:
    path = Path(path)
    reader = open_reader(path)
    try:
        return _model_info(path, reader)
    except UsageError:
        raise
    except (IndexError, KeyError, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path} is a damaged GGUF file: {type(exc).__name__}: {exc}") from None


def _model_info(path: Path, reader: Any) -> ModelInfo:
    import gguf

    arch = _scalar(reader, "general.architecture") or "unknown"
    vocab = _Vocab(reader)
    bos = vocab.ref(_scalar(reader, "tokenizer.ggml.bos_token_id"))
    eos_id = _scalar(reader, "tokenizer.ggml.eos_token_id")
    eos = vocab.ref(eos_id)
    pad = vocab.ref(_scalar(reader, "tokenizer.ggml.padding_token_id"))
    end_tokens = vocab.end_tokens([eos_id, _scalar(reader, "tokenizer.ggml.eot_token_id"),
                                   _scalar(reader, "tokenizer.ggml.eom_token_id")])
    template = _scalar(reader, "tokenizer.chat_template")
    rope_prefix = f"{arch}.rope."
    rope = {key.removeprefix(rope_prefix): _scalar(reader, key) for key in reader.fields
            if key.startswith(rope_prefix)}
    sampling = {key.removeprefix("general.sampling."): _scalar(reader, key)
                for key in reader.fields if key.startswith("general.sampling.")}
    file_type_id = _scalar(reader, "general.file_type")
    try:
        file_type = gguf.LlamaFileType(file_type_id).name if file_type_id is not None else None
    except ValueError:
        file_type = f"unknown ({file_type_id})"
    tensor_types = Counter(tensor.tensor_type.name for tensor in reader.tensors)

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
        path=str(path), file_size=path.stat().st_size, architecture=arch,
        name=_scalar(reader, "general.name"), file_type=file_type,
        block_count=_scalar(reader, f"{arch}.block_count"),
        embedding_length=_scalar(reader, f"{arch}.embedding_length"),
        vocab_size=vocab.size, context_length=_scalar(reader, f"{arch}.context_length"),
        rope=dict(sorted(rope.items())),
        rms_norm_eps=_scalar(reader, f"{arch}.attention.layer_norm_rms_epsilon"),
        bos=bos, eos=eos, pad=pad, add_bos=_scalar(reader, "tokenizer.ggml.add_bos_token"),
        end_tokens=end_tokens, has_chat_template=template is not None,
        template_adds_think=adds_think, sampling=dict(sorted(sampling.items())),
        tensor_count=len(reader.tensors), tensor_types=dict(tensor_types.most_common()),
        warnings=tuple(warnings),
    )


def chat_template_of(path: Path | str) -> str | None:
    """The GGUF's `tokenizer.chat_template`, for wrapping prompts as the model's runners do."""
    return _scalar(open_reader(Path(path)), "tokenizer.chat_template")


def _human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _token(ref: TokenRef | None) -> str:
    return "none" if ref is None else f"{ref.id} {ref.text!r}"


def render_text(info: ModelInfo) -> str:
    """The report a quant author reads: one line per fact, warnings last."""
    rope = ", ".join(f"{k} {v}" for k, v in info.rope.items()) or "none"
    sampling = ", ".join(f"{k}={v}" for k, v in info.sampling.items()) or "none"
    tensors = ", ".join(f"{name} x{count}" for name, count in info.tensor_types.items())
    if info.template_adds_think is None:
        think = "no chat template"
    elif info.template_adds_think:
        think = "yes: its generation prompt already opens <think> (gencheck adds none)"
    else:
        think = "no: the generation prompt ends at the assistant header (gencheck adds <think>)"
    bos_added = "" if info.add_bos is None else (" (added)" if info.add_bos else " (not added)")
    lines = [
        f"{info.path}  ({_human_size(info.file_size)})",
        f"  architecture      {info.architecture}"
        + (f" ({info.name!r})" if info.name else "")
        + f", {info.block_count} blocks, n_embd {info.embedding_length}, vocab {info.vocab_size}",
        f"  file type         {info.file_type or 'not stated'}",
        f"  context length    {info.context_length}",
        f"  rope              {rope}",
        f"  rms-norm epsilon  {info.rms_norm_eps:g}" if info.rms_norm_eps is not None
        else "  rms-norm epsilon  not stated",
        f"  tokens            bos {_token(info.bos)}{bos_added}, eos {_token(info.eos)}, "
        f"pad {_token(info.pad)}",
        f"  end tokens        {', '.join(_token(r) for r in info.end_tokens) or 'none'}",
        f"  template <think>  {think}",
        f"  sampling keys     {sampling}",
        f"  tensors           {info.tensor_count}: {tensors}",
    ]
    lines += [f"warning: {w}" for w in info.warnings]
    return "\n".join(lines)


def render_json(info: ModelInfo) -> str:
    return json.dumps(info.to_json(), indent=2, ensure_ascii=False)
