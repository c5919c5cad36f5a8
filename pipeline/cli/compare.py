"""`gencheck compare`: A/B from the store, as a table and Fisher's exact test. Generates nothing."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.errors import UsageError

if TYPE_CHECKING:
    from pipeline.runs.outcomes import ConfigSummary
    from pipeline.store.db import Store

    Pair = tuple[str, ConfigSummary, str, ConfigSummary]

DESCRIPTION = """\
Compare pass rates already in the store (run `gencheck run` first); nothing is generated.

  gencheck compare A B          configuration B against A, each from the latest run that has it
  gencheck compare --runs 3 4   every configuration of run 4 against the same one in run 3
  gencheck compare --last       the latest finished run against the last one before it with the
                                same configurations (what changed since last night; the pytest
                                gate's own runs are left out)
  gencheck compare --list       the runs and configurations in the store

Two quants run side by side (gencheck run --model Q8_0.gguf --model Q4_K_M.gguf) are two
configurations named after their files: gencheck compare Q8_0 Q4_K_M.

Beside each pair: pass@1 and pass@3 (the unbiased estimator over the seeds; – with fewer than
3 validated samples) and the mean requirement score out of 8 (– when the smoke run was off).
The test is Fisher's exact test on the pass/fail counts (two-sided unless --alternative).
Exit 0, or 1 with --fail-if-worse when a B is significantly worse than its A; 2 on a usage error."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compare", help="A/B pass rates of configurations or runs from the store, with a test",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("configs", nargs="*", metavar="CONFIG", help="two configuration names: A B")
    parser.add_argument("--runs", nargs=2, type=int, metavar=("A", "B"), help="compare two runs by id")
    parser.add_argument("--last", action="store_true",
                        help="compare the latest finished run with the last earlier one of the "
                        "same configurations")
    parser.add_argument("--list", action="store_true", help="list runs and configurations")
    parser.add_argument("--store", type=Path, default=None, metavar="PATH",
                        help="SQLite results store (default: as gencheck run)")
    parser.add_argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
    parser.add_argument("--alternative", choices=("two-sided", "greater", "less"), default="two-sided",
                        help="greater: does B pass more often than A? (default two-sided)")
    parser.add_argument("--fail-if-worse", action="store_true",
                        help="exit 1 when a B passes significantly less often than its A")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pipeline.store.db import Store, default_store_path

    if not 0 < args.alpha < 1:
        raise UsageError(f"--alpha must lie between 0 and 1, not {args.alpha}")
    if args.fail_if_worse and args.alternative == "greater":
        raise UsageError("--fail-if-worse asks whether B is worse, which --alternative greater "
                         "never finds; use two-sided or less")
    modes = sum([bool(args.configs), args.runs is not None, args.last, args.list])
    if modes != 1:
        raise UsageError("give two configurations (A B), or --runs A B, or --last, or --list")
    if args.configs and len(args.configs) != 2:
        raise UsageError(f"give exactly two configurations to compare, not {len(args.configs)}")
    path = args.store or default_store_path()
    if not path.is_file():
        raise UsageError(f"no store at {path}; run `gencheck run` first or give --store PATH")
    with Store(path) as store:
        if args.list:
            return list_store(store, args.json)
        pairs = pairs_to_compare(store, args)
    return report(pairs, args)


def list_store(store: Store, as_json: bool) -> int:
    runs = [{"id": r["id"], "started_at": r["started_at"], "status": r["status"],
             "configs": store.config_names(r["id"])} for r in store.runs()]
    if as_json:
        print(json.dumps({"runs": runs}, indent=2))
    elif not runs:
        print(f"no runs in {store.path} yet: gencheck run writes them")
    else:
        for r in runs:
            print(f"run {r['id']:>4}  {r['started_at']}  {r['status']:8}  {', '.join(r['configs'])}")
    return 0


def pairs_to_compare(store: Store, args: argparse.Namespace) -> list[Pair]:
    """[(label A, summary A, label B, summary B)] from the store."""
    from functools import cache

    from pipeline.runs.outcomes import build_report

    @cache
    def summaries(run_id: int) -> dict[str, ConfigSummary]:
        return {c.name: c for c in build_report(store, run_id).configs}

    def summary_of(run_id: int, name: str) -> ConfigSummary:
        if name not in summaries(run_id):
            raise UsageError(f"run {run_id} has no configuration {name!r}")
        return summaries(run_id)[name]

    if args.configs:
        pairs = []
        runs = []
        for name in args.configs:
            run_id = store.latest_run_with_config(name)
            if run_id is None:
                known = ", ".join(store.config_names()) or "none yet"
                raise UsageError(f"no configuration {name!r} in the store (known: {known})")
            runs.append(run_id)
        a, b = (summary_of(r, n) for r, n in zip(runs, args.configs, strict=True))
        models = [_model_names(store, r) for r in runs]
        if models[0] != models[1]:  # names do not say the model: a cross-model A/B must be visible
            print(f"gencheck compare: note: {a.name} (run {runs[0]}) ran on {', '.join(models[0])} but "
                  f"{b.name} (run {runs[1]}) on {', '.join(models[1])}", file=sys.stderr)
        pairs.append((f"{a.name} (run {runs[0]})", a, f"{b.name} (run {runs[1]})", b))
        return pairs
    if args.last:
        run_a, run_b = last_two_runs(store)
    else:
        run_a, run_b = args.runs
        known = [r["id"] for r in store.runs()]
        for run_id in (run_a, run_b):
            if run_id not in known:
                have = f"runs {known[0]} to {known[-1]}" if known else "no runs yet"
                raise UsageError(f"no run {run_id} in the store ({have}; see gencheck compare --list)")
    shared = [n for n in store.config_names(run_b) if n in set(store.config_names(run_a))]
    if not shared:
        raise UsageError(f"runs {run_a} and {run_b} share no configuration")
    return [(f"{n} (run {run_a})", summary_of(run_a, n), f"{n} (run {run_b})", summary_of(run_b, n))
            for n in shared]


def _model_names(store: Store, run_id: int) -> list[str]:
    return sorted(Path(m["path"]).name for m in store.run_settings(run_id).get("models", []))


def last_two_runs(store: Store) -> tuple[int, int]:
    """The latest finished run and the latest one before it with the same configurations.

    The pytest gate's own runs (one configuration each) are left out: the nightly job runs the
    gate after its matrix, and "since last night" means last night's matrix, not its gate.
    """
    runs = store.finished_runs(with_gate=False, with_shards=False)  # a shard is part of a matrix
    if not runs:
        raise UsageError("--last needs two finished runs in the store; there are none")
    latest, configs = runs[-1], store.config_names(runs[-1])
    previous = next((r for r in reversed(runs[:-1]) if store.config_names(r) == configs), None)
    if previous is None:
        raise UsageError(f"--last: no finished run before run {latest} has its configurations "
                         f"({', '.join(configs)}); compare two runs with --runs A B")
    return previous, latest


def kld_column(pairs: list[Pair], args: argparse.Namespace) -> dict[str, Any]:
    """Each side's KLD from `gencheck run --reference`, or {} when no compared run was checked."""
    from pipeline.fidelity.compare import kld_by_label
    from pipeline.store.db import default_store_path

    found = kld_by_label(args.store or default_store_path(), [x for la, _, lb, _ in pairs for x in (la, lb)])
    return found if any(found.values()) else {}


def report(pairs: list[Pair], args: argparse.Namespace) -> int:
    from pipeline.reports.terminal import comparison_sentence
    from pipeline.runs.stats import compare_pass_rates

    comparisons = [compare_pass_rates(la, a.passed, a.total, lb, b.passed, b.total,
                                      alternative=args.alternative) for la, a, lb, b in pairs]
    worse = [c for c in comparisons if c.difference < 0 and c.significant(args.alpha)]
    kld = kld_column(pairs, args)
    if args.json:
        from pipeline.fidelity.compare import short

        entries = [{**c.to_json(), "figures": {"a": figures_json(a), "b": figures_json(b)}}
                   for c, (_, a, _, b) in zip(comparisons, pairs, strict=True)]
        print(json.dumps({"comparisons": entries, "alpha": args.alpha,
                          "significantly_worse": [c.name_b for c in worse],
                          **({"kld": {label: short(e) for label, e in kld.items()}} if kld else {})},
                         indent=2))
    else:
        width = max(len(name) for c in comparisons for name in (c.name_a, c.name_b)) + 2
        print(f"{'A':{width}} {'passed':>8}   {'B':{width}} {'passed':>8}  {'diff':>6}  {'p':>8}")
        for c in comparisons:
            mark = " *" if c.significant(args.alpha) else ""
            print(f"{c.name_a:{width}} {c.passed_a:>3}/{c.total_a:<4}   {c.name_b:{width}} "
                  f"{c.passed_b:>3}/{c.total_b:<4}  {c.difference * 100:+5.0f}  {c.p_value:8.3g}{mark}")
        for c in comparisons:
            print(comparison_sentence(c, args.alpha))
        for la, a, lb, b in pairs:
            print()
            print(side_by_side(la, a, lb, b))
        if kld:
            from pipeline.fidelity.compare import cell

            print()
            print("KL divergence against the reference (mean KLD / same top):")
            for la, _, lb, _ in pairs:
                print(f"  {la}: {cell(kld[la])}   {lb}: {cell(kld[lb])}")
    if worse and args.fail_if_worse:
        print(f"significantly worse: {', '.join(c.name_b for c in worse)}", file=sys.stderr)
        return 1
    return 0


def figure_rows(summary: ConfigSummary) -> list[tuple[str, str]]:
    """The figures a quant write-up reports, one (label, value) a row; a KLD row goes here."""
    from pipeline.reports.terminal import pass_at_text

    return [("passed", f"{summary.passed}/{summary.total}"),
            ("pass@1", pass_at_text(summary, 1)), ("pass@3", pass_at_text(summary, 3)),
            ("requirements", summary.requirements_text())]


def side_by_side(label_a: str, a: ConfigSummary, label_b: str, b: ConfigSummary) -> str:
    """A and B in two columns, one figure a row."""
    from pipeline.runs.outcomes import PASS_AT_K

    rows_a, rows_b = figure_rows(a), figure_rows(b)
    width_a = max(len(label_a), *(len(v) for _, v in rows_a)) + 2
    lines = [f"{'':14}{label_a:{width_a}}{label_b}"]
    lines += [f"{name:14}{value_a:{width_a}}{value_b}"
              for (name, value_a), (_, value_b) in zip(rows_a, rows_b, strict=True)]
    short = [k for k in PASS_AT_K if a.pass_at.get(k) is None or b.pass_at.get(k) is None]
    if short:
        lines.append(f"(pass@{short[-1]} needs at least {short[-1]} validated samples a side)")
    return "\n".join(lines)


def figures_json(summary: ConfigSummary) -> dict[str, object]:
    data = summary.to_json()
    return {key: data[key] for key in ("name", "passed", "total", "pass_rate", "pass_at_k",
                                       "requirements")}
