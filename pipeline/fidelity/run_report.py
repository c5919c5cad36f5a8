"""`gencheck run --reference REF.gguf`: each model's KL divergence against the reference along the
run's own transcripts (the prompt plus every recorded answer), recorded in the KLD ledger and
shown in the run's terminal table, Markdown, JSON and HTML reports."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any, Protocol

from pipeline.fidelity.saved import ledger as kld_ledger


class ModelLike(Protocol):
    path: Path
    sha256: str
    label: str


def run_kld(store_path: Path, run_id: int, models: Sequence[ModelLike], reference: Path, *,
            threads: int | None = None) -> list[dict[str, Any]]:
    """Score every model of the run against `reference`; one ledger entry (a JSON dict) per model."""
    from pipeline.fidelity.gate import store_texts
    from pipeline.fidelity.kld import cached_reference, compare
    from pipeline.fidelity.saved.reference import references_dir
    from pipeline.generation.generate import file_sha256

    texts = store_texts(store_path, run_id, None)
    reference_sha = file_sha256(reference)

    def progress(message: str) -> None:
        print(f"kld: {message}", file=sys.stderr, flush=True)

    saved = cached_reference(reference, texts, chunks=None, directory=references_dir(store_path),
                             model_sha256=reference_sha, n_threads=threads, progress=progress)
    found = []
    for model in models:
        result = compare(model.path, saved, n_threads=threads, progress=progress)
        entry = {"run_id": run_id, "model_label": model.label, "model_sha256": model.sha256,
                 "reference_sha256": reference_sha, "texts": len(texts), **result.as_json()}
        kld_ledger.record(store_path, entry)
        found.append(entry)
    return found


def _row(entry: dict[str, Any]) -> tuple[str, str, str, str, str, str]:
    p = entry["kld_percentiles"]
    return (str(entry.get("model_label") or entry["model"]),
            f"{entry['mean_kld']:.6f} ± {entry.get('mean_kld_uncertainty', 0.0):.6f}",
            f"{100 * entry['same_top']:.2f} %", f"{p['99']:.6f}", f"{p['max']:.6f}", str(entry["n_tokens"]))


HEADER = ("model", "mean KLD", "same top", "99% KLD", "max KLD", "tokens")


def text_lines(entries: Sequence[dict[str, Any]]) -> list[str]:
    if not entries:
        return []
    rows = [HEADER, *(_row(e) for e in entries)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    lines = [f"KL divergence against {entries[0]['reference']} (the run's own transcripts):"]
    lines += ["  " + "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)) for r in rows]
    return lines


def markdown(entries: Sequence[dict[str, Any]]) -> str:
    if not entries:
        return ""
    lines = [f"\n#### KL divergence against `{entries[0]['reference']}`\n",
             "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(_row(e)) + " |" for e in entries]
    return "\n".join(lines) + "\n"


def html_section(entries: Sequence[dict[str, Any]]) -> str:
    """The report's "KL divergence" section: the summary, regions, and the top divergences."""
    if not entries:
        return ""
    parts = [f"<h2>KL divergence against {escape(str(entries[0]['reference']))}</h2>",
             "<p>Along the run's own transcripts (the prompt plus every recorded answer), every "
             "position scored with its whole text before it.</p><table><tr>"
             + "".join(f"<th>{escape(h)}</th>" for h in HEADER) + "<th>regions</th></tr>"]
    for entry in entries:
        regions = "; ".join(f"{escape(name)} {r['mean_kld']:.4f} / {100 * r['same_top']:.1f} %"
                            for name, r in entry.get("regions", {}).items() if r.get("n_tokens"))
        cells = _row(entry)
        parts.append("<tr><td>" + escape(cells[0]) + "</td>"
                     + "".join(f'<td class="n">{escape(c)}</td>' for c in cells[1:])
                     + f"<td>{regions}</td></tr>")
    parts.append("</table>")
    for entry in entries:
        top = entry.get("top_divergences") or []
        if not top:
            continue
        parts.append(f"<h3>Where {escape(str(entry.get('model_label') or entry['model']))} diverges most</h3>"
                     "<table><tr><th>KLD</th><th>region</th><th>top token</th><th>text before ⟦next token⟧</th></tr>")
        for d in top:
            parts.append(f'<tr><td class="n">{d["kld"]:.5f}</td><td>{escape(d["region"])}</td>'
                         f'<td>{"same" if d["same_top"] else "differs"}</td>'
                         f'<td><code>…{escape(d["before"][-80:])}⟦{escape(d["token"])}⟧</code></td></tr>')
        parts.append("</table>")
    return "\n".join(parts)
