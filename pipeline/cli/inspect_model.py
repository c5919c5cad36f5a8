"""`gencheck inspect MODEL.gguf [--json] [--template]`: what a model file will do when it runs."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "inspect",
        help="show what a GGUF says about itself (tokens, template, rope, sampling keys)",
        description="Read a GGUF model file's header (no weights are loaded) and show what "
        "decides how it generates: architecture, context length and rope/YaRN keys, rms-norm "
        "epsilon, bos/eos/pad and the end-of-generation tokens (warns when the pad token also "
        "ends generation), whether the chat template's generation prompt already opens "
        "<think>, the general.sampling.* defaults llama.cpp applies when you set nothing, the "
        "tensors' quantization types and the file size. A missing or non-GGUF file exits 2.",
    )
    parser.add_argument("model", type=Path, metavar="MODEL.gguf", help="the model file")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--template", action="store_true",
                        help="also print the chat template itself")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pipeline.models.gguf_info import read_model_info, render_json, render_text

    info = read_model_info(args.model)
    if args.json:
        print(render_json(info, with_template=args.template))
        return 0
    print(render_text(info))
    if args.template:
        print("chat template:")
        print(info.chat_template if info.chat_template is not None else "(none)")
    return 0
