"""`gencheck make-test-model OUT.gguf [--corpus PATH] [--merges N] [--template-adds-think]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline.errors import UsageError
from pipeline.output_path import prepare_output_file


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "make-test-model",
        help="write the tiny qwen2 test model (a bigram chain of Python game code)",
        description="Write a small real qwen2 GGUF that llama.cpp runs as a bigram Markov chain "
        "of a corpus: byte-level vocabulary with learned merges, QwQ's special tokens "
        "(<|im_start|>, <|im_end|>, <think>, </think>), eos <|im_end|>, pad <|vision_pad|>, a "
        "ChatML template. By default the corpus is the bundled Python game code and QwQ-shaped "
        "answers, so the model sometimes writes a code block and ends its turn.",
    )
    parser.add_argument("out", type=Path, metavar="OUT.gguf", help="file to write")
    parser.add_argument("--corpus", type=Path, metavar="PATH",
                        help="a text file, or a folder whose *.txt files are joined "
                        "(default: the bundled corpus)")
    parser.add_argument("--merges", type=int, default=None, metavar="N",
                        help="BPE merges to learn from the corpus (default 300; more merges give "
                        "longer tokens, so the bigram chain sees more context)")
    parser.add_argument("--template-adds-think", action="store_true",
                        help="write a chat template whose generation prompt already opens "
                        "<think> (as some QwQ uploads do), for testing inspect and wrapping")
    parser.add_argument("--pad-token", default=None, metavar="TOKEN",
                        help="pad token (default <|vision_pad|>; <|endoftext|> makes the "
                        "pad-is-an-end-token mistake some uploads have)")
    parser.add_argument("--sampling", action="append", default=[], metavar="KEY=VALUE",
                        help="store a general.sampling.KEY default (top_k=40, temp=0.6, "
                        "sequence=...); repeatable")
    parser.add_argument("--random-qwen2", default=None, metavar="TYPE",
                        choices=("F32", "F16", "Q8_0", "Q4_0"),
                        help="instead: a small qwen2 model with random weights (seed --seed) stored "
                        "as TYPE (F32, F16, Q8_0, Q4_0); the copies of one seed differ by a known, "
                        "non-zero KL divergence (gencheck kld)")
    parser.add_argument("--seed", type=int, default=0, help="weights' seed for --random-qwen2 (default 0)")
    parser.set_defaults(func=run)


def parse_sampling(items: list[str]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise UsageError(f"--sampling expects KEY=VALUE, not {item!r}")
        pairs[key.strip()] = value.strip()
    return pairs


def run(args: argparse.Namespace) -> int:
    from pipeline.models.tiny_model import (
        DEFAULT_MERGES,
        PAD_TOKEN,
        SAMPLING_KEY_TYPES,
        check_tiny_model_options,
        make_tiny_model,
        read_corpus,
    )

    if args.random_qwen2:
        from pipeline.models.random_qwen2 import make_random_qwen2

        if args.out.suffix != ".gguf":
            raise UsageError(f"{args.out}: the output file name must end in .gguf")
        prepare_output_file(args.out, str(args.out))
        make_random_qwen2(args.out, weight_type=args.random_qwen2, seed=args.seed)
        print(f"{args.out}: random-weight qwen2, {args.random_qwen2}, seed {args.seed}")
        return 0
    sampling = parse_sampling(args.sampling)
    for key, value in sampling.items():
        kind = SAMPLING_KEY_TYPES.get(key)
        if kind in (int, float):
            try:
                kind(value)
            except ValueError:
                raise UsageError(f"--sampling {key} needs a number, not {value!r}") from None
    if args.out.suffix != ".gguf":
        raise UsageError(f"{args.out}: the output file name must end in .gguf")
    corpus = read_corpus(args.corpus) if args.corpus else None
    options = {"merges": DEFAULT_MERGES if args.merges is None else args.merges,
               "pad_token": args.pad_token or PAD_TOKEN, "sampling": sampling}
    check_tiny_model_options(args.out, **options)  # a mistake is one line, before "building"
    print(f"make-test-model: building {args.out} ...", file=sys.stderr)
    info = make_tiny_model(args.out, corpus=corpus, template_adds_think=args.template_adds_think,
                           **options)
    print(f"{info.path}: qwen2, {info.n_vocab} tokens ({info.merges} merges), "
          f"n_embd {info.n_embd}, bigrams of {info.corpus_tokens} corpus tokens")
    return 0
