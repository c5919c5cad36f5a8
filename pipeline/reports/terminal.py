"""A run's report in the forms people read: terminal table, JSON, JUnit XML, Markdown summary.

The HTML report lives in report_html.py. Every form reads the same `RunReport`.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import IO

from pipeline.findings import Finding
from pipeline.runs.outcomes import PASS_AT_K, PENDING, ConfigSummary, RunReport
from pipeline.runs.stats import Comparison


def _pct(value: float) -> str:
    return f"{value:.0%}"


def number(value: float | None, digits: int = 0) -> str:
    """A measure for a table: "–" when there is none."""
    if value is None:
        return "–"
    return f"{value:.{digits}f}"


def pass_at_text(c: ConfigSummary, k: int) -> str:
    """pass@k as a percentage, "–" when fewer than k samples were validated."""
    value = c.pass_at.get(k)
    return "–" if value is None else _pct(value)


def figure_notes(report: RunReport) -> list[str]:
    """What a "–" in the pass@k and requirement columns means, said once under the table."""
    notes = []
    short = [k for k in PASS_AT_K if any(c.pass_at.get(k) is None for c in report.configs)]
    for k in short:
        notes.append(f"pass@{k} is – where fewer than {k} samples were validated: the unbiased "
                     f"estimator 1 - C(n-c, {k})/C(n, {k}) needs n >= {k} (use --seeds {k} or more)")
    if any(c.requirements_mean is None and c.total for c in report.configs):
        notes.append("requirements are – where the smoke run was off (--no-smoke): they are "
                     "read from the game's play")
    return notes


def comparison_sentence(c: Comparison, alpha: float = 0.05) -> str:
    direction = "better" if c.difference > 0 else "worse" if c.difference < 0 else "the same"
    verdict = "significant" if c.significant(alpha) else "not significant"
    return (f"{c.name_b} vs {c.name_a}: {c.passed_b}/{c.total_b} vs {c.passed_a}/{c.total_a} "
            f"({c.difference * 100:+.0f} points, {direction}); Fisher's exact p = {c.p_value:.3g}, "
            f"{verdict} at {alpha:g}")


def finding_line(f: Finding) -> str:
    where = f" (line {f.line})" if f.line is not None else ""
    return f"{f.check}/{f.code}{where}: {f.message}"


# -- terminal ---------------------------------------------------------------------------------

def print_table(report: RunReport, file: IO[str]) -> None:
    """The per-configuration table, comparisons and gates, with rich (colour only on a terminal)."""
    from rich.console import Console
    from rich.table import Table

    # Off a terminal rich would squeeze the table into 80 columns and cut the names.
    width = None if file.isatty() else 200
    console = Console(file=file, highlight=False, soft_wrap=True, width=width)
    table = Table(title=f"gencheck run {report.run_id}: {report.generated} generated, "
                        f"{report.reused} reused")
    for column, justify in (("configuration", "left"), ("passed", "right"), ("rate", "right"),
                            ("95% interval", "center"), ("pass@1", "right"),
                            ("pass@3", "right"), ("requirements", "right"), ("looped", "right"), ("no compile", "right"),
                            ("undefined name", "right"), ("crashed", "right"),
                            ("median tokens", "right"), ("median s", "right")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for c in report.configs:
        pending = f" (+{c.pending} pending)" if c.pending else ""
        style = "green" if c.total and c.passed == c.total else "red" if c.passed == 0 else "yellow"
        table.add_row(c.name, f"{c.passed}/{c.total}{pending}", f"[{style}]{_pct(c.pass_rate)}[/]",
                      str(c.interval), pass_at_text(c, 1), pass_at_text(c, 3),
                      c.requirements_text(), str(c.looped), str(c.compile_failed), str(c.undefined_name),
                      str(c.crashed), number(c.median_tokens), number(c.median_seconds, 1))
    console.print(table)
    for note in figure_notes(report):
        console.print(note)
    for c in report.configs:
        if reasons := first_error_counts(report, c.name):
            console.print(f"{c.name} failed first on: "
                          + ", ".join(f"{code} ×{n}" for code, n in reasons.most_common()))
    for c in report.comparisons:
        console.print(comparison_sentence(c))
    for g in report.gates:
        mark = "[green]holds[/]" if g.holds else "[red]FAILS[/]"
        console.print(f"gate {g.config}: pass rate {_pct(g.pass_rate)} >= {_pct(g.min_pass_rate)} {mark}")


def first_error_counts(report: RunReport, config: str) -> Counter[str]:
    """check/code of each failed sample's first error: why a configuration failed, at a glance
    (the category columns count only loops, compile errors, undefined names and crashes)."""
    return Counter(f"{first.check}/{first.code}" for s in report.samples_of(config)
                   if s.verdict == "fail" and (first := s.first_error) is not None)


# -- JSON -------------------------------------------------------------------------------------

def to_json_text(report: RunReport) -> str:
    return json.dumps(report.to_json(), indent=2)


# -- JUnit ------------------------------------------------------------------------------------

# Characters XML 1.0 cannot hold at all (control characters, lone surrogates): ElementTree writes
# them as they are and every JUnit reader then rejects the whole file.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(text: str) -> str:
    """`text` with every character XML cannot hold written as a visible escape (\\x1b)."""
    return NOT_XML.sub(lambda m: m.group().encode("unicode_escape", "backslashreplace").decode(), text)


def to_junit(report: RunReport) -> ET.ElementTree:
    """One <testsuite> per configuration, one <testcase> per sample; the failure message is the
    sample's first error finding and the body lists every finding."""
    suites = ET.Element("testsuites", name="gencheck", tests=str(len(report.samples)))
    for config in report.configs:
        samples = report.samples_of(config.name)
        suite = ET.SubElement(
            suites, "testsuite", name=xml_safe(config.name), tests=str(len(samples)),
            failures=str(sum(s.verdict == "fail" for s in samples)),
            skipped=str(sum(s.verdict == PENDING for s in samples)),
            time=f"{sum(s.seconds or 0.0 for s in samples):.3f}")
        for s in samples:
            case = ET.SubElement(suite, "testcase", classname=xml_safe(f"gencheck.{config.name}"),
                                 name=f"seed {s.seed}", time=f"{s.seconds or 0.0:.3f}")
            if s.verdict == PENDING:
                ET.SubElement(case, "skipped", message="not validated: the run stopped before it")
            elif s.verdict == "fail":
                first = s.first_error
                message = finding_line(first) if first else "failed"
                failure = ET.SubElement(case, "failure", message=xml_safe(message),
                                        type=f"{first.check}/{first.code}" if first else "fail")
                failure.text = xml_safe("\n".join(finding_line(f) for f in s.findings))
            props = ET.SubElement(case, "properties")
            for key, value in (("model", s.model), ("tokens", s.tokens),
                               ("finish_reason", s.finish_reason), ("reused", s.reused)):
                ET.SubElement(props, "property", name=key, value=xml_safe(str(value)))
    ET.indent(suites)
    return ET.ElementTree(suites)


def write_junit(report: RunReport, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    to_junit(report).write(path, encoding="utf-8", xml_declaration=True)


# -- Markdown ---------------------------------------------------------------------------------

def to_markdown(report: RunReport) -> str:
    """A summary fit for `$GITHUB_STEP_SUMMARY`: the table, comparisons, gates, failures."""
    lines = [f"## gencheck run {report.run_id}", "",
             f"{report.generated} samples generated, {report.reused} reused. {report.headline()}", "",
             *[f"> {_md(note)}\n" for note in report.notes],
             "| configuration | passed | rate | 95% interval | pass@1 | pass@3 | requirements "
             "| looped | no compile | undefined name | crashed | median tokens | median s |",
             "|---|---:|---:|:---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for c in report.configs:
        lines.append(f"| {_md(c.name)} | {c.passed}/{c.total} | {_pct(c.pass_rate)} | {c.interval} "
                     f"| {pass_at_text(c, 1)} | {pass_at_text(c, 3)} | {c.requirements_text()} "
                     f"| {c.looped} | {c.compile_failed} | {c.undefined_name} | {c.crashed} "
                     f"| {number(c.median_tokens)} | {number(c.median_seconds, 1)} |")
    if notes := figure_notes(report):
        lines += ["", *[f"<sub>{_md(note)}</sub>  " for note in notes]]
    if report.comparisons:
        lines += ["", "### Comparisons", ""]
        lines += [f"- {_md(comparison_sentence(c))}" for c in report.comparisons]
    if report.gates:
        lines += ["", "### Gates", ""]
        lines += [f"- {'✅' if g.holds else '❌'} {_md(g.config)}: {_pct(g.pass_rate)} "
                  f"(needs {_pct(g.min_pass_rate)})" for g in report.gates]
    failed = [s for s in report.samples if s.verdict == "fail"]
    if failed:
        lines += ["", "<details><summary>Failed samples</summary>", ""]
        for s in failed:
            first = s.first_error
            lines.append(f"- {_md(s.name)}: {_md(finding_line(first)) if first else 'failed'}")
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    """Text from model output or names, kept as text: no table cell break, line break or HTML tag
    (GitHub renders HTML in a step summary: a `</details>` in a message would close ours)."""
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("|", "\\|").replace("\n", " "))
