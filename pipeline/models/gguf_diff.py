"""What differs between two GGUF files, sorted by whether it changes how the model generates.

Two quants of one model must agree on everything a runner reads from the header (chat
template, special token ids and texts, rope/YaRN, rms eps, context length, the sampling
defaults): a difference there changes every answer before a weight is read, and is what broke
the write-up's uploads (pad = eos, a template that opened <think> a second time). Tensor types
and the file size are meant to differ between quants: they are listed, but only KL divergence
against the reference says whether they matter, so they never fail the diff.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any

from pipeline.models.gguf_info import ModelInfo, TokenRef, human_size, type_counts

SPECIALS_LISTED = 10  # added/removed special tokens shown in the text form; JSON has them all
TEMPLATE_DIFF_LINES = 40


@dataclass(frozen=True)
class Difference:
    fact: str
    a: Any
    b: Any
    changes_generation: bool

    def to_json(self) -> dict[str, Any]:
        return {"fact": self.fact, "a": self.a, "b": self.b,
                "changes_generation": self.changes_generation}


@dataclass(frozen=True)
class ModelDiff:
    a: ModelInfo
    b: ModelInfo
    differences: tuple[Difference, ...]
    same: tuple[str, ...]  # the generation facts that were compared and agree

    @property
    def changes_generation(self) -> bool:
        return any(d.changes_generation for d in self.differences)

    def to_json(self) -> dict[str, Any]:
        return {"a": self.a.path, "b": self.b.path,
                "changes_generation": self.changes_generation,
                "differences": [d.to_json() for d in self.differences],
                "same": list(self.same),
                "warnings": {"a": list(self.a.warnings), "b": list(self.b.warnings)}}


def _token(ref: TokenRef | None) -> str | None:
    return None if ref is None else f"{ref.id} {ref.text!r}"


def _think(info: ModelInfo) -> str:
    if info.template_adds_think is None:
        return "no chat template"
    return "opens <think>" if info.template_adds_think else "does not open <think>"


def _keyed(prefix: str, a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """One fact per key of either dict: (prefix.key, value in A or None, value in B or None)."""
    keys = sorted(set(a) | set(b))
    return [(f"{prefix}{key}", a.get(key), b.get(key)) for key in keys]


def _generation_facts(a: ModelInfo, b: ModelInfo) -> list[tuple[str, Any, Any]]:
    """(fact, value in A, value in B) for everything a runner reads from the header."""
    facts: list[tuple[str, Any, Any]] = [
        ("architecture", a.architecture, b.architecture),
        ("block count", a.block_count, b.block_count),
        ("embedding length", a.embedding_length, b.embedding_length),
        ("vocabulary size", a.vocab_size, b.vocab_size),
        ("chat template", a.chat_template, b.chat_template),
        ("template <think>", _think(a), _think(b)),
        ("bos token", _token(a.bos), _token(b.bos)),
        ("bos added", a.add_bos, b.add_bos),
        ("eos token", _token(a.eos), _token(b.eos)),
        ("pad token", _token(a.pad), _token(b.pad)),
        ("eot token", _token(a.eot), _token(b.eot)),
        ("end tokens", [_token(r) for r in a.end_tokens], [_token(r) for r in b.end_tokens]),
        ("special tokens", [_token(r) for r in a.special_tokens],
         [_token(r) for r in b.special_tokens]),
        ("context length", a.context_length, b.context_length),
        ("rms-norm epsilon", a.rms_norm_eps, b.rms_norm_eps),
    ]
    facts += _keyed("rope.", a.rope, b.rope)
    facts += _keyed("general.sampling.", a.sampling, b.sampling)
    return facts


def _quant_facts(a: ModelInfo, b: ModelInfo) -> list[tuple[str, Any, Any]]:
    """What is meant to differ between quants of one model."""
    facts: list[tuple[str, Any, Any]] = [("file type", a.file_type, b.file_type),
                                         ("file size", a.file_size, b.file_size)]
    groups = list(dict.fromkeys([*a.tensor_groups, *b.tensor_groups]))
    facts += [(f"tensor types {group}", a.tensor_groups.get(group), b.tensor_groups.get(group))
              for group in groups]
    return facts


def diff_models(a: ModelInfo, b: ModelInfo) -> ModelDiff:
    differences: list[Difference] = []
    same: list[str] = []
    for fact, value_a, value_b in _generation_facts(a, b):
        if value_a != value_b:
            differences.append(Difference(fact, value_a, value_b, changes_generation=True))
        elif not fact.startswith(("rope.", "general.sampling.")):
            same.append(fact)
    if not a.rope and not b.rope:
        same.append("rope (no keys)")
    elif all(d.fact.split(".")[0] != "rope" for d in differences):
        same.append("rope")
    if a.sampling == b.sampling:
        same.append("general.sampling" + ("" if a.sampling else " (no keys)"))
    differences += [Difference(fact, value_a, value_b, changes_generation=False)
                    for fact, value_a, value_b in _quant_facts(a, b) if value_a != value_b]
    return ModelDiff(a, b, tuple(differences), tuple(same))


# -- rendering --------------------------------------------------------------------------------

def _shown(fact: str, value: Any) -> str:
    if value is None:
        return "absent"
    if fact == "file size":
        return human_size(value)
    if fact == "chat template":
        return f"{len(value)} characters"
    if fact.startswith("tensor types"):
        return type_counts(value)
    return str(value)


def _token_list_change(d: Difference) -> list[str]:
    only_a = [t for t in d.a if t not in set(d.b)]
    only_b = [t for t in d.b if t not in set(d.a)]
    lines = []
    for label, tokens in (("only in A", only_a), ("only in B", only_b)):
        if tokens:
            more = f", ... ({len(tokens) - SPECIALS_LISTED} more)" if len(tokens) > SPECIALS_LISTED else ""
            lines.append(f"      {label}: {', '.join(tokens[:SPECIALS_LISTED])}{more}")
    return lines


def template_diff(a: str | None, b: str | None) -> list[str]:
    """The chat templates' unified diff, cut at TEMPLATE_DIFF_LINES lines."""
    lines = list(difflib.unified_diff((a or "").splitlines(), (b or "").splitlines(),
                                      "A chat template", "B chat template", lineterm=""))
    if len(lines) > TEMPLATE_DIFF_LINES:
        lines = lines[:TEMPLATE_DIFF_LINES] + [f"... ({len(lines) - TEMPLATE_DIFF_LINES} more lines)"]
    return lines


def render_diff_text(diff: ModelDiff) -> str:
    lines = [f"A  {diff.a.path}  ({human_size(diff.a.file_size)})",
             f"B  {diff.b.path}  ({human_size(diff.b.file_size)})"]
    width = max([len(d.fact) for d in diff.differences] + [16]) + 2
    for changes, title in ((True, "differs, and changes how the model generates:"),
                           (False, "differs as quants of one model do (KL divergence says if it matters):")):
        chosen = [d for d in diff.differences if d.changes_generation is changes]
        if not chosen:
            continue
        lines.append(title)
        for d in chosen:
            lines.append(f"  {d.fact:{width}}A {_shown(d.fact, d.a)}")
            lines.append(f"  {'':{width}}B {_shown(d.fact, d.b)}")
            if d.fact in ("special tokens", "end tokens"):
                lines += _token_list_change(d)
            elif d.fact == "chat template":
                lines += [f"      {line}" for line in template_diff(d.a, d.b)]
    lines.append("same: " + ", ".join(diff.same))
    for label, info in (("A", diff.a), ("B", diff.b)):
        lines += [f"warning ({label}): {w}" for w in info.warnings]
    verdict = ("generation differs: the files are not interchangeable"
               if diff.changes_generation else
               "nothing that changes generation differs" + (
                   "" if diff.differences else "; the headers agree on every fact shown"))
    lines.append(verdict)
    return "\n".join(lines)


def render_diff_json(diff: ModelDiff) -> str:
    return json.dumps(diff.to_json(), indent=2, ensure_ascii=False)
