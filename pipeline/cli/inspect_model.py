"""`gencheck inspect MODEL.gguf [B.gguf] [--json] [--template]`: what a model file will do when
it runs, or what differs between two of them."""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.errors import UsageError

DESCRIPTION = """\
Read a GGUF model file's header (no weights are loaded) and show what decides how it generates:
architecture, context length and rope/YaRN keys, rms-norm epsilon, bos/eos/pad/eot and the
end-of-generation tokens (warns when the pad token also ends generation), the special tokens,
whether the chat template's generation prompt already opens <think>, the general.sampling.*
defaults llama.cpp applies when you set nothing, the tensors' quantization types by layer group
and the file size.

  gencheck inspect A.gguf          the facts of one file (exit 0)
  gencheck inspect A.gguf B.gguf   what differs between two files, e.g. a reference and a new
                                   quant: exit 1 when something that changes generation differs
                                   (template, token ids or texts, special tokens, rope, rms eps,
                                   context length, sampling keys, architecture, vocabulary);
                                   tensor types, file type and size are listed but are meant to
                                   differ between quants, so alone they exit 0

A missing or non-GGUF file exits 2."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "inspect",
        help="show what a GGUF says about itself, or diff two (tokens, template, rope, sampling keys)",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", type=Path, nargs="+", metavar="MODEL.gguf",
                        help="one model file, or two to compare (A then B)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--template", action="store_true",
                        help="also print the chat template itself (with two files: the "
                        "templates' unified diff, in JSON both templates)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pipeline.models.gguf_info import read_model_info, render_json, render_text

    if len(args.models) > 2:
        raise UsageError(f"give one model file, or two to compare, not {len(args.models)}")
    if len(args.models) == 2:
        return run_diff(args)
    info = read_model_info(args.models[0])
    if args.json:
        print(render_json(info, with_template=args.template))
        return 0
    print(render_text(info))
    if args.template:
        print("chat template:")
        print(info.chat_template if info.chat_template is not None else "(none)")
    return 0


def run_diff(args: argparse.Namespace) -> int:
    import json

    from pipeline.models.gguf_diff import diff_models, render_diff_text, template_diff
    from pipeline.models.gguf_info import read_model_info

    a, b = (read_model_info(path) for path in args.models)
    diff = diff_models(a, b)
    if args.json:
        data = diff.to_json()
        if args.template:
            data["chat_templates"] = {"a": a.chat_template, "b": b.chat_template}
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        print(render_diff_text(diff))
        if args.template and a.chat_template == b.chat_template:
            print("chat templates: identical")
        elif args.template:
            print("\n".join(template_diff(a.chat_template, b.chat_template)))
    return 1 if diff.changes_generation else 0
