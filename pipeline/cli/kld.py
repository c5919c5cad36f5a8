"""`gencheck kld --reference REF --model NEW.gguf`: KL divergence of a quant against a reference."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.errors import UsageError

if TYPE_CHECKING:
    from pipeline.fidelity.saved.reference import Reference

DESCRIPTION = """\
Check a new quant without sampling: feed the same texts through a reference model and the new
one and compare their next-token distributions at every position: mean KL(ref || new) with its
uncertainty, median/90/99/99.9 %/max, how often both rank the same token first, Δp (the change
in probability of the token the text really has), per region (prompt, reasoning, the final code
block, prose) and the 10 positions that diverge most.

Texts: --text FILE (repeatable), or the prompt plus the recorded answers of a run (--run ID) or
of a configuration's latest run (--config NAME) from the store. By default every position is
scored with its whole text before it; --chunks CTX uses llama-perplexity's windows (chunks of
CTX tokens, the second half scored), whose figures equal `llama-perplexity --kl-divergence`.

The reference's log-probabilities are saved once beside the store (keyed by the model's sha256
and the texts), so a later check reads them instead of running the reference again. REF may be
a GGUF, such a saved file, or a llama-perplexity --kl-divergence-base file (which holds its own
tokens: give no texts). --export-base writes one that llama-perplexity reads.

  gencheck kld --reference bf16.gguf --model q4_k_m.gguf --config unsloth-qwq
  gencheck kld --reference bf16.gguf --model q4_k_m.gguf --text answer.txt --chunks 512 --json
  gencheck kld --reference bf16.gguf --model q4_k_m.gguf --text answer.txt --chunks 512 --export-base base.kld
  llama-perplexity -m q4_k_m.gguf --kl-divergence-base base.kld --kl-divergence -c 512"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "kld", help="KL divergence and top-token agreement of a model against a reference",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference", type=Path, required=True, metavar="REF",
                        help="reference: a GGUF, a saved .kldref.npz, or a llama-perplexity "
                        "--kl-divergence-base file")
    parser.add_argument("--model", type=Path, required=True, metavar="NEW.gguf", help="the model to check")
    parser.add_argument("--text", type=Path, action="append", default=[], metavar="FILE",
                        help="a text to score (repeatable); UTF-8")
    parser.add_argument("--run", type=int, default=None, metavar="ID",
                        help="score the prompt plus every recorded answer of this run")
    parser.add_argument("--config", default=None, metavar="NAME",
                        help="score the answers of this configuration's latest run")
    parser.add_argument("--store", type=Path, default=None, metavar="PATH",
                        help="results store for --run/--config; references are saved beside it "
                        "(default: as gencheck run)")
    parser.add_argument("--chunks", type=int, default=None, metavar="CTX",
                        help="llama-perplexity's windowing: chunks of CTX tokens, second half scored")
    parser.add_argument("--no-save", action="store_true", help="do not save or reuse the reference's log-probs")
    parser.add_argument("--export-base", type=Path, default=None, metavar="FILE",
                        help="also write the reference as a llama-perplexity --kl-divergence-base "
                        "file (needs --chunks)")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="CPU threads for llama.cpp (default: all cores)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pipeline.fidelity.kld import compare
    from pipeline.fidelity.render import render_text
    from pipeline.fidelity.saved.base_file import write_kld_base

    if args.chunks is not None and args.chunks < 4:
        raise UsageError(f"--chunks must be at least 4 tokens, not {args.chunks}")
    if args.export_base is not None and not args.chunks:
        raise UsageError("--export-base writes llama-perplexity's windows: give --chunks CTX too")
    if not args.model.is_file():
        raise UsageError(f"model file {args.model} does not exist")
    if not args.reference.is_file():
        raise UsageError(f"reference {args.reference} does not exist")
    reference = load_reference(args)
    if args.export_base is not None:
        write_kld_base(args.export_base, reference.to_kld_base())
        print(f"kld: wrote llama-perplexity base file {args.export_base}", file=sys.stderr)
    result = compare(args.model, reference, n_threads=args.threads, progress=_progress)
    print(json.dumps(result.as_json(), indent=2) if args.json else render_text(result))
    return 0


def _progress(message: str) -> None:
    print(f"kld: {message}", file=sys.stderr, flush=True)


def load_reference(args: argparse.Namespace) -> Reference:
    from pipeline.fidelity.gate import store_texts
    from pipeline.fidelity.kld import cached_reference
    from pipeline.fidelity.saved.reference import load_any, references_dir
    from pipeline.store.db import default_store_path

    sources = sum([bool(args.text), args.run is not None, args.config is not None])
    if not args.reference.name.endswith(".gguf"):
        if sources:
            raise UsageError(f"{args.reference} already holds its texts' tokens; give no --text/--run/--config")
        reference = load_any(args.reference)
        if args.chunks and reference.chunks != args.chunks:
            raise UsageError(f"{args.reference} was made with chunks of {reference.chunks}, not {args.chunks}")
        return reference
    if sources != 1:
        raise UsageError("give the texts one way: --text FILE ..., --run ID or --config NAME")
    store_path = args.store or default_store_path()
    texts = read_texts(args.text) if args.text else store_texts(store_path, args.run, args.config)
    from pipeline.generation.generate import file_sha256

    sha = file_sha256(args.reference)
    directory = None if args.no_save else references_dir(store_path)
    return cached_reference(args.reference, texts, chunks=args.chunks, directory=directory,
                            model_sha256=sha, n_threads=args.threads, progress=_progress)


def read_texts(paths: list[Path]) -> list[str]:
    texts = []
    for path in paths:
        try:
            texts.append(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise UsageError(f"cannot read --text {path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise UsageError(f"--text {path} is not UTF-8 text") from None
    return texts
