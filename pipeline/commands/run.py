"""`gencheck run`: models x sampler configurations x seeds, generated once, validated, reported."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from types import ModuleType

from pipeline.errors import UsageError

DEFAULT_SEEDS = 3


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="generate and validate a matrix of models x sampler settings x seeds",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Generate every (model, sampler configuration, seed) sample once, validate "
        "each (compile, ruff, undefined names, a sandboxed smoke run) and report per configuration: "
        "pass rate with a 95%% Wilson interval, loops, compile failures, undefined names, crashes, "
        "median tokens and time. Two or more configurations (or models) are compared with Fisher's "
        "exact test. Finished samples live in the store and are never generated twice; a killed "
        "run resumes where it stopped.\n\n"
        "Without --model, runs the tiny test model (a bigram model built on first use into the "
        "cache folder): a quick look at the whole pipeline, not a verdict on any sampler.\n\n"
        "Exit 0 when every --min-pass-rate gate holds, 1 when one does not, 2 on a usage error.",
        epilog="example: gencheck run --model QwQ-32B-Q4_K_M.gguf --preset unsloth-qwq "
        "--preset llama.cpp-default --seeds 8 --report report/",
    )
    what = parser.add_argument_group("what to run")
    what.add_argument("--model", action="append", metavar="M.gguf",
                      help="model file (repeat to compare models); default: the tiny test model. "
                      "With --engine replay, a recorded transcript file instead")
    what.add_argument("--engine", default="embedded", choices=("embedded", "replay"),
                      help="embedded: llama.cpp in this process (default); replay: stream a recorded "
                      "transcript given as --model")
    what.add_argument("--preset", action="append", metavar="P",
                      help="sampler preset (repeat to compare); see `gencheck generate --help`")
    what.add_argument("--seeds", type=int, default=DEFAULT_SEEDS, metavar="N",
                      help=f"seeds 1..N per configuration (default {DEFAULT_SEEDS})")
    what.add_argument("--prompt", default=None, metavar="NAME",
                      help="test prompt name or .toml path (default flappy_bird)")
    what.add_argument("--n-predict", type=int, default=None, metavar="N",
                      help="token limit per sample (default: none; 768 on the tiny model)")
    what.add_argument("--no-smoke", action="store_true", help="static checks only, no smoke run")
    flags = _llama_flags()
    if flags is not None:
        flags.add_sampler_arguments(parser.add_argument_group(
            "llama-cli sampler flags", "one more configuration, built from llama-cli's flags"))
    how = parser.add_argument_group("where and how")
    how.add_argument("--store", type=Path, default=None, metavar="PATH",
                     help="SQLite results store (default $GENCHECK_HOME/gencheck.db or "
                     "~/.local/share/gencheck/gencheck.db)")
    how.add_argument("--jobs", type=int, default=None, metavar="N",
                     help="validation worker processes (default: number of cores)")
    out = parser.add_argument_group("reports and gates")
    out.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    out.add_argument("--junit", type=Path, metavar="FILE", help="write JUnit XML, one testcase per sample")
    out.add_argument("--markdown", type=Path, metavar="FILE",
                     help="write a Markdown summary (e.g. $GITHUB_STEP_SUMMARY)")
    out.add_argument("--report", type=Path, metavar="DIR",
                     help="write the HTML report (index.html, per sample pages, screenshots)")
    out.add_argument("--min-pass-rate", type=parse_rate, metavar="X",
                     help="gate: every configuration's pass rate must be at least X (0.75 or 75%%)")
    parser.set_defaults(func=run)


def _llama_flags() -> ModuleType | None:
    """pipeline.llama_flags, when built: llama-cli's sampler flags as one more configuration."""
    try:
        module = importlib.import_module("pipeline.llama_flags")
    except ModuleNotFoundError as exc:
        if exc.name == "pipeline.llama_flags":
            return None
        raise
    if not hasattr(module, "add_sampler_arguments") or not hasattr(module, "chain_from_args"):
        return None
    return module


def parse_rate(text: str) -> float:
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a rate like 0.75 or 75%") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not between 0 and 1 (or 0% and 100%)")
    return value


def run(args: argparse.Namespace) -> int:
    from pipeline import report as reports
    from pipeline.report_html import write_html
    from pipeline.run import (
        TINY,
        TINY_N_PREDICT,
        RunPlan,
        chain_configuration,
        choose_model,
        configuration,
        execute,
    )
    from pipeline.samplers import SamplerChain
    from pipeline.store import Store
    from pipeline.validation_pool import default_jobs
    from prompts import DEFAULT_PROMPT, load_prompt

    if args.seeds < 1:
        raise UsageError(f"--seeds must be at least 1, not {args.seeds}")
    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"--jobs must be at least 1, not {args.jobs}")
    if args.engine == "replay" and not args.model:
        raise UsageError("--engine replay needs --model TRANSCRIPT (a recorded transcript file)")
    prompt = load_prompt(args.prompt or DEFAULT_PROMPT)
    configs = [configuration(name) for name in args.preset or ()]
    flags = _llama_flags()
    if flags is not None and flags.sampler_flags_given(args):
        configs.append(chain_configuration(flags.chain_from_args(args)))
    if not configs:
        configs.append(chain_configuration(SamplerChain(), "llama.cpp-default"))
    if len({c.name for c in configs}) != len(configs):
        raise UsageError("the same configuration is named twice; give each --preset once")

    notes: list[str] = []
    specs = args.model or [TINY]
    with Store(args.store) as store:
        models = [choose_model(spec, store) for spec in specs]
        if not args.model:
            note = (f"No --model given: running the tiny test model ({models[0].path}), a bigram "
                    "model built for trying the pipeline end to end; its programs are not meant "
                    "to pass. Give --model M.gguf for a real verdict.")
            print(note, file=sys.stderr)
            notes.append(note)
        if len({m.sha256 for m in models}) != len(models):
            raise UsageError("the same model file is given twice; give each --model once")
        n_predict = args.n_predict
        if n_predict is None:
            n_predict = TINY_N_PREDICT if all(m.is_tiny for m in models) else -1
        plan = RunPlan(models=tuple(models), configs=tuple(configs),
                       seeds=tuple(range(1, args.seeds + 1)), prompt=prompt, engine=args.engine,
                       n_predict=n_predict, smoke=not args.no_smoke, jobs=args.jobs or default_jobs())
        result = execute(plan, store, command=["gencheck", *sys.argv[1:]],
                         min_pass_rate=args.min_pass_rate, notes=notes)

    if args.json:
        print(reports.to_json_text(result))
    else:
        reports.print_table(result, sys.stdout)
    if args.junit:
        reports.write_junit(result, args.junit)
    if args.markdown:
        with args.markdown.open("a", encoding="utf-8") as handle:  # a step summary is appended to
            handle.write(reports.to_markdown(result))
    if args.report:
        index = write_html(result, args.report)
        print(f"HTML report: {index}", file=sys.stderr)
    return 0 if result.gates_hold else 1
