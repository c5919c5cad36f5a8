"""`gencheck run`: models x sampler configurations x seeds, generated once, validated, reported."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

from pipeline.errors import UsageError
from pipeline.output_path import prepare_output_file, prepare_output_folder

DEFAULT_SEEDS = 3

DESCRIPTION = """\
Generate every (model, sampler configuration, seed) sample once, validate each (compile, ruff,
undefined names, a sandboxed smoke run) and report per configuration: the pass rate with a 95%
Wilson interval, loops, compile failures, undefined names, crashes, median tokens and seconds.
Two or more configurations (or models) are compared with Fisher's exact test.

Finished samples live in the store and are never generated twice; a killed run resumes where it
stopped. Without --model, gencheck runs the tiny test model (a bigram model built on first use
into the cache folder): a quick look at the whole pipeline, not a verdict on any sampler.

Exit 0 when every --min-pass-rate gate holds, 1 when one does not, 2 on a usage error."""

EPILOG = """\
example: gencheck run --model QwQ-32B-Q4_K_M.gguf --preset unsloth-qwq \\
             --preset llama.cpp-default --seeds 8 --report report/

llama-cli's flags, pasted as they are, make one more configuration, built from llama.cpp's
defaults (not from a --preset):
  gencheck run --model M.gguf --temp 0.6 --min-p 0.1 --repeat-penalty 1.1 \\
               --samplers "top_k;top_p;min_p;temperature;dry;typ_p;xtc"
Their -m adds a model; -ngl, -c, -t and --override-kv set up the engine; --seed is replaced by
--seeds; -n is --n-predict."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="generate and validate a matrix of models x sampler settings x seeds",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=DESCRIPTION,
        epilog=EPILOG,
        allow_abbrev=False,  # llama-cli's --seed must not be read as our --seeds
    )
    what = parser.add_argument_group("what to run")
    what.add_argument("--model", action="append", metavar="M.gguf",
                      help="model file (repeat to compare models); default: the tiny test model. "
                      "With --engine replay, a recorded transcript file instead")
    what.add_argument("--engine", default="embedded", choices=("embedded", "replay", "server", "openai"),
                      help="embedded: llama.cpp in this process (default); replay: stream a recorded "
                      "transcript given as --model; server: a pool of running llama-servers "
                      "(--server-url); openai: a pool of OpenAI-compatible servers such as vLLM")
    what.add_argument("--preset", action="append", metavar="P",
                      help="sampler preset (repeat to compare); see `gencheck generate --help`")
    what.add_argument("--seeds", type=int, default=DEFAULT_SEEDS, metavar="N",
                      help=f"seeds 1..N per configuration (default {DEFAULT_SEEDS})")
    what.add_argument("--prompt", default=None, metavar="NAME",
                      help="test prompt name or .toml path (default flappy_bird)")
    what.add_argument("--n-predict", type=int, default=None, metavar="N",
                      help="token limit per sample (default -1: none; 768 on the tiny model; "
                      "-2: until the context is full)")
    what.add_argument("--no-smoke", action="store_true", help="static checks only, no smoke run")
    what.add_argument("--reference", type=Path, default=None, metavar="REF.gguf",
                      help="also score each model's KL divergence against this reference model "
                      "along the run's own transcripts (saved beside the store; in every report)")
    how = parser.add_argument_group("where and how")
    how.add_argument("--parallel", "-np", type=int, default=1, metavar="N",
                     help="embedded: decode N samples together in one llama.cpp context (llama.cpp's "
                     "-np); -c is then the whole context, each sample holding -c / N. Without -c "
                     "the context is what one sample needs (prompt + --n-predict, or 16384 without "
                     "a limit) times N, shown before the run")
    how.add_argument("--server-url", action="append", metavar="URL",
                     help="an endpoint of the pool (repeat for more); --engine server or openai. "
                     "A failed endpoint's samples are queued again on the others")
    how.add_argument("--server-slots", type=int, default=None, metavar="N",
                     help="requests each endpoint takes at once (default: llama-server's /props "
                     "total_slots, i.e. its -np; 1 for other servers)")
    how.add_argument("--server-model", default=None, metavar="NAME",
                     help="the model an OpenAI-compatible pool serves (required with --engine openai)")
    how.add_argument("--store", type=Path, default=None, metavar="PATH",
                     help="SQLite results store (default $GENCHECK_HOME/gencheck.db or "
                     "~/.local/share/gencheck/gencheck.db)")
    how.add_argument("--shard", type=shard_flag, default=None, metavar="K/N",
                     help="generate only shard K of N (1 <= K <= N): a fixed share of the cells, the "
                     "same on every machine; merge the shards' stores with `gencheck merge`")
    how.add_argument("--jobs", type=int, default=None, metavar="N",
                     help="validation worker processes (default: number of cores)")
    out = parser.add_argument_group("reports and gates")
    out.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    out.add_argument("--junit", type=Path, metavar="FILE", help="write JUnit XML, one testcase per sample")
    out.add_argument("--markdown", type=Path, metavar="FILE",
                     help="append a Markdown summary to FILE (e.g. $GITHUB_STEP_SUMMARY)")
    out.add_argument("--report", type=Path, metavar="DIR",
                     help="write the HTML report (index.html, per sample pages, screenshots); in a "
                     "folder used before, only the earlier report's own files are replaced")
    out.add_argument("--min-pass-rate", type=parse_rate, metavar="X",
                     help="gate: every configuration's pass rate must be at least X (0.75 or 75%%)")
    from pipeline.sampling.llama_flags import add_llama_help

    add_llama_help(parser)
    parser.set_defaults(func=run, accepts_extra_args=True)


def llama_configuration(extra: list[str], notes: list[str]) -> tuple[Any, list[str], dict[str, Any], int | None]:
    """llama-cli flags -> (configuration, extra model specs, engine options, n_predict or None)."""
    from pipeline.runs.matrix import chain_configuration
    from pipeline.sampling.explain import chain_label
    from pipeline.sampling.llama_flags import parse_llama_args

    parsed = parse_llama_args(extra)
    if parsed.prompt is not None or parsed.prompt_file is not None:
        raise UsageError("gencheck run takes a test prompt by name (--prompt NAME), not llama-cli's "
                         "-p/-f text; use `gencheck generate` for a free prompt")
    notes += parsed.notes
    if "seed" in parsed.user_set:
        notes.append("--seed ignored: gencheck run uses seeds 1..N (--seeds N)")
    options = parsed.engine_options()
    name = parsed.preset or " ".join(word for word in chain_label(parsed.chain).split()
                                     if not word.startswith("seed="))
    # any_sampling_flag, not user_set: a lone --sampling-seq or --legacy is a configuration too
    configuration = chain_configuration(parsed.chain, name) if parsed.any_sampling_flag or parsed.preset else None
    n_predict = parsed.n_predict if parsed.n_predict != -1 else None
    return configuration, [parsed.model] if parsed.model else [], options, n_predict


def shard_flag(text: str) -> Any:
    from pipeline.runs.shards import parse_shard

    try:
        return parse_shard(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_rate(text: str) -> float:
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a rate like 0.75 or 75%") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not between 0 and 1 (or 0% and 100%)")
    return value


def run(args: argparse.Namespace) -> int:
    from pipeline.reports import terminal as reports
    from pipeline.reports.html import write_html
    from pipeline.runs.matrix import (
        TINY,
        TINY_N_PREDICT,
        RunPlan,
        chain_configuration,
        choose_model,
        configuration,
        execute,
    )
    from pipeline.runs.validation_pool import default_jobs
    from pipeline.sampling.chain import SamplerChain
    from pipeline.store.db import Store
    from prompts import DEFAULT_PROMPT, load_prompt

    if args.seeds < 1:
        raise UsageError(f"--seeds must be at least 1, not {args.seeds}")
    if args.n_predict is not None and args.n_predict < -2:  # llama-cli's -n takes the same
        raise UsageError(f"--n-predict must be at least -2 (-1 = no limit, -2 = fill the context), "
                         f"not {args.n_predict}")
    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"--jobs must be at least 1, not {args.jobs}")
    if args.reference is not None and not args.reference.is_file():
        raise UsageError(f"--reference {args.reference} does not exist")
    if args.engine == "replay" and not args.model:
        raise UsageError("--engine replay needs --model TRANSCRIPT (a recorded transcript file)")
    check_engine_flags(args)
    check_outputs(args)  # before the run: a long run must not end on a report it cannot write
    prompt = load_prompt(args.prompt or DEFAULT_PROMPT)
    configs = [configuration(name) for name in args.preset or ()]
    notes: list[str] = []
    flag_config, flag_models, engine_options, flag_n_predict = llama_configuration(
        list(getattr(args, "extra_args", None) or []), notes)
    if flag_config is not None:
        configs.append(flag_config)
    if not configs:
        configs.append(chain_configuration(SamplerChain(), "llama.cpp-default"))
    if len({c.name for c in configs}) != len(configs):
        raise UsageError("the same configuration is named twice; give each --preset once")

    specs = [*(args.model or []), *flag_models] or [TINY]
    with Store(args.store) as store:
        if args.engine in ("server", "openai"):
            models = [pool_model(args.engine, args.server_url, args.server_model, specs if args.model or flag_models
                                 else [], store, server_slots=args.server_slots)]
            specs = [str(models[0].path)]
        else:
            models = [choose_model(spec, store) for spec in specs]
        if specs == [TINY] and not args.model:
            notes.insert(0, f"No --model given: running the tiny test model ({models[0].path}), "
                         "a bigram model built for trying the pipeline end to end; its babble "
                         "rarely reaches a program, so expect failures and no smoke-run "
                         "screenshots. Give --model M.gguf for a real verdict.")
        for note in notes:
            print(note, file=sys.stderr)
        if len({m.sha256 for m in models}) != len(models):
            raise UsageError("the same model file is given twice; give each --model once")
        n_predict = args.n_predict if args.n_predict is not None else flag_n_predict
        if n_predict is None:
            n_predict = TINY_N_PREDICT if all(m.is_tiny for m in models) else -1
        plan = RunPlan(models=tuple(models), configs=tuple(configs),
                       seeds=tuple(range(1, args.seeds + 1)), prompt=prompt, engine=args.engine,
                       n_predict=n_predict, smoke=not args.no_smoke, jobs=args.jobs or default_jobs(),
                       engine_options=engine_options, parallel=args.parallel,
                       endpoints=tuple(args.server_url or ()), server_slots=args.server_slots,
                       server_model=args.server_model, shard=args.shard)
        if args.shard is not None:  # a shard may hold few cells, or none: say so before the run
            whole = len(dataclasses.replace(plan, shard=None).cells())
            print(f"shard {args.shard}: {len(plan.cells())} of the matrix's {whole} cells", file=sys.stderr)
        result = execute(plan, store, command=["gencheck", *sys.argv[1:]],
                         min_pass_rate=args.min_pass_rate, notes=notes)
        store_path = store.path
    if args.reference is not None:
        from pipeline.fidelity.run_report import run_kld

        result = dataclasses.replace(result, kld=tuple(run_kld(store_path, result.run_id, models, args.reference)))

    if args.json:
        print(reports.to_json_text(result))
    else:
        reports.print_table(result, sys.stdout)
        if result.kld:
            from pipeline.fidelity.run_report import text_lines

            print("\n".join(text_lines(result.kld)))
    try:
        if args.junit:
            reports.write_junit(result, args.junit)
        if args.markdown:
            args.markdown.parent.mkdir(parents=True, exist_ok=True)  # as --junit and --report do
            with args.markdown.open("a", encoding="utf-8") as handle:  # a step summary is appended to
                handle.write(reports.to_markdown(result))
                if result.kld:
                    from pipeline.fidelity.run_report import markdown

                    handle.write(markdown(result.kld))
        if args.report:
            index = write_html(result, args.report)
            print(f"HTML report: {index}", file=sys.stderr)
    except OSError as exc:
        raise UsageError(f"cannot write {exc.filename or 'a report'}: {exc.strerror or exc}; "
                         f"the run itself is kept in the store as run {result.run_id}") from None
    return 0 if result.gates_hold else 1


def check_engine_flags(args: argparse.Namespace) -> None:
    """Flags that belong to one engine, given with another, are a mistake worth one line."""
    if args.parallel < 1:
        raise UsageError(f"--parallel must be at least 1, not {args.parallel}")
    if args.parallel > 1 and args.engine != "embedded":
        raise UsageError("--parallel is for --engine embedded; a pool's slots come from its servers "
                         "(llama-server -np, or --server-slots)")
    pool = args.engine in ("server", "openai")
    if not pool and (args.server_url or args.server_slots is not None or args.server_model):
        raise UsageError("--server-url, --server-slots and --server-model need --engine server or openai")
    if pool and not args.server_url:
        raise UsageError(f"--engine {args.engine} needs --server-url URL (repeat it for a pool)")
    if args.server_slots is not None and args.server_slots < 1:
        raise UsageError(f"--server-slots must be at least 1, not {args.server_slots}")


def check_outputs(args: argparse.Namespace) -> None:
    """--junit and --markdown name files, --report a folder: checked and their folders made
    before the run, so a mistyped path costs nothing rather than the run's work."""
    for flag, path in (("--junit", args.junit), ("--markdown", args.markdown)):
        if path is not None:
            prepare_output_file(path, f"{flag} {path}")
    if args.report is not None:
        prepare_output_folder(args.report, f"--report {args.report}")


def pool_model(engine: str, urls: list[str], server_model: str | None, specs: list[str], store: Any, *,
               server_slots: int | None) -> Any:
    """The one model a pool serves, as the sample keys name it.

    With --model M.gguf (the file the servers loaded, here too), its sha256 as for the embedded
    engine; without it, the name the servers report (llama-server's /props model_path, or
    --server-model), keyed as `served:<engine>:<name>`.
    """
    from pipeline.runs.matrix import ModelChoice, choose_model
    from pipeline.runs.open_engines import open_pool, pool_model_name
    from pipeline.store.db import sha256_text

    if len(specs) > 1:
        raise UsageError("a pool serves one model; give at most one --model with --engine server or openai")
    pool = open_pool(engine, urls, server_slots=server_slots, server_model=server_model)
    served = pool_model_name(pool, engine, server_model)
    if specs:
        choice = choose_model(specs[0], store)
        if engine == "server" and Path(served).name != choice.path.name:
            print(f"gencheck: note: the servers report {served}, not {choice.path.name}; samples are keyed "
                  f"by {choice.path.name}", file=sys.stderr)
        return choice
    return ModelChoice(path=Path(served), sha256=f"served:{engine}:{sha256_text(served)}",
                       label=Path(served).stem)
