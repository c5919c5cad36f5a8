"""`gencheck merge`: stores of shards (or of any runs) merged into one; optionally reported."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.errors import UsageError

if TYPE_CHECKING:
    from pipeline.store.db import Store

DESCRIPTION = """\
Merge results stores into OUT: every run (renumbered), sample and verdict of each IN. Samples
are matched by their key (model, prompt, sampler chain, seed, engine and version, options); a
key found in both with a different text is refused, naming it, and nothing is merged. Merging
the same stores again changes nothing. OUT may be a new file or one of the IN stores.

With --join-shards (or any report flag), the latest finished run of each IN must be one shard
of one matrix (`gencheck run --shard K/N`), all N present: they are joined into one run, whose
table and reports are those of the matrix run on one machine.

Exit 0, or 1 when a --min-pass-rate gate does not hold; 2 on a usage error or a refused merge."""

EPILOG = """\
example (a CI matrix of 4 GPU jobs, then one merge job):
  gencheck run --model M.gguf --preset unsloth-qwq --seeds 8 --shard 2/4 --store shard-2.db
  gencheck merge all.db shard-*.db --report html/ --junit junit.xml --min-pass-rate 0.75"""


def register(subparsers: argparse._SubParsersAction) -> None:
    from pipeline.cli.run import parse_rate

    parser = subparsers.add_parser(
        "merge", help="merge results stores (e.g. of --shard runs) into one, and report them",
        formatter_class=argparse.RawDescriptionHelpFormatter, description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("out", type=Path, metavar="OUT.db", help="the merged store (made if missing)")
    parser.add_argument("inputs", type=Path, nargs="+", metavar="IN.db", help="stores to merge into OUT")
    parser.add_argument("--join-shards", action="store_true",
                        help="join the shard runs (the latest finished run of each IN) into one run "
                        "and print its table; implied by the flags below")
    parser.add_argument("--json", action="store_true", help="print the joined run as one JSON object")
    parser.add_argument("--junit", type=Path, metavar="FILE", help="write JUnit XML of the joined run")
    parser.add_argument("--markdown", type=Path, metavar="FILE",
                        help="append a Markdown summary of the joined run to FILE")
    parser.add_argument("--report", type=Path, metavar="DIR", help="write the joined run's HTML report")
    parser.add_argument("--min-pass-rate", type=parse_rate, metavar="X",
                        help="gate: every configuration of the joined run must pass at least X")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pipeline.cli.run import check_outputs
    from pipeline.store.db import Store
    from pipeline.store.merge import merge_into

    join = args.join_shards or any(
        value is not None for value in (args.junit, args.markdown, args.report, args.min_pass_rate)) or args.json
    check_outputs(args)  # before merging: a report path that cannot be written costs nothing
    with Store(args.out) as out:
        merged = merge_into(out, args.inputs)
        for result in merged:
            print(result.line(), file=sys.stderr)
        if not join:
            return 0
        latest = []
        for result in merged:
            if result.latest_finished_run is None:
                raise UsageError(f"{result.path} has no finished run to join")
            latest.append(result.latest_finished_run)
        return report_joined(args, out, latest)


def report_joined(args: argparse.Namespace, store: Store, shard_runs: list[int]) -> int:
    from pipeline.reports import terminal as reports
    from pipeline.reports.html import write_html
    from pipeline.runs.outcomes import build_report
    from pipeline.runs.shard_join import join_shard_runs

    joined = join_shard_runs(store, shard_runs, ["gencheck", *sys.argv[1:]])
    result = build_report(store, joined, min_pass_rate=args.min_pass_rate)
    if store.db.execute("SELECT status FROM runs WHERE id = ?", (joined,)).fetchone()[0] != "finished":
        store.finish_run(joined, result.to_json())  # joined before: left as it was
    if args.json:
        print(reports.to_json_text(result))
    else:
        reports.print_table(result, sys.stdout)
    try:
        if args.junit:
            reports.write_junit(result, args.junit)
        if args.markdown:
            with args.markdown.open("a", encoding="utf-8") as handle:
                handle.write(reports.to_markdown(result))
        if args.report:
            print(f"HTML report: {write_html(result, args.report)}", file=sys.stderr)
    except OSError as exc:
        raise UsageError(f"cannot write {exc.filename or 'a report'}: {exc.strerror or exc}; "
                         f"the merged store is kept, the joined run is run {result.run_id}") from None
    return 0 if result.gates_hold else 1
