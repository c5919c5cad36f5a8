"""The HTML report: a self-contained folder (no scripts, no external assets, relative links).

    DIR/index.html              pass rates per configuration, comparisons, every sample's verdict
    DIR/samples/<id>.html       one sample: verdict, findings, the extracted program, screenshots
    DIR/samples/img/<id>-N.png  the smoke run's screenshots, copied in so the folder travels
"""

from __future__ import annotations

import shutil
from html import escape
from pathlib import Path

from pipeline.reports.terminal import (
    comparison_sentence,
    figure_notes,
    finding_line,
    number,
    pass_at_text,
)
from pipeline.runs.outcomes import PENDING, RunReport, SampleOutcome

MANIFEST = ".gencheck-report"  # the files the last write_html() put in the folder, one a line
TRANSCRIPT_TAIL = 6000  # characters of the transcript's end shown on a sample page

CSS = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 80em; color: #1b1b1b;
       padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.8em; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { padding: 0.3em 0.7em; border-bottom: 1px solid #ddd; text-align: left; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
th, td:first-child { white-space: nowrap; }
.bar { width: 8em; height: 0.9em; background: #eee; position: relative; border-radius: 3px; }
.bar .fill { position: absolute; left: 0; top: 0; bottom: 0; background: #3a9a52; border-radius: 3px; }
.bar .ci { position: absolute; top: -2px; bottom: -2px; border-left: 2px solid #333;
           border-right: 2px solid #333; }
.pass { color: #16703a; font-weight: 600; } .fail { color: #b3261e; font-weight: 600; }
.pending { color: #8a6d00; font-weight: 600; }
.error { color: #b3261e; } .warning { color: #8a6d00; }
pre { background: #f6f8fa; padding: 0.8em; overflow-x: auto; font-size: 13px; line-height: 1.35; }
pre .ln { color: #999; user-select: none; display: inline-block; width: 3.5em; }
pre .hit { background: #ffe3e0; display: inline-block; width: 100%; }
.shots img { max-width: 18em; border: 1px solid #ccc; margin: 0 0.6em 0.6em 0; }
.shots figure { display: inline-block; margin: 0; } figcaption { font-size: 12px; color: #555; }
p.note { font-size: 13px; color: #555; margin: 0.2em 0; }
img.thumb { height: 4em; border: 1px solid #ccc; vertical-align: middle; }
"""


def _page(title: str, body: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<link rel=\"icon\" href=\"data:,\">"
            f"<title>{escape(title)}</title><style>{CSS}</style></head>\n<body>\n{body}\n</body></html>\n")


def _verdict(verdict: str) -> str:
    return f'<span class="{escape(verdict)}">{escape(verdict)}</span>'


def _copy_screenshots(sample: SampleOutcome, img_dir: Path) -> list[tuple[str, str]]:
    """Copy the sample's screenshots into the report; return (relative src, caption) pairs."""
    copied = []
    for n, source in enumerate(sample.screenshots):
        path = Path(source)
        if not path.is_file():
            continue
        name = f"{sample.sample_id}-{n}{path.suffix or '.png'}"
        img_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, img_dir / name)
        copied.append((f"img/{name}", path.stem))
    return copied


def _code_block(code: str, error_lines: set[int]) -> str:
    rows = []
    for n, line in enumerate(code.splitlines(), start=1):
        text = f'<span class="ln">{n}</span>{escape(line)}'
        rows.append(f'<span class="hit" id="L{n}">{text}</span>' if n in error_lines else text)
    return "<pre>" + "\n".join(rows) + "</pre>"


def sample_page(report: RunReport, sample: SampleOutcome, shots: list[tuple[str, str]]) -> str:
    parts = [f'<p><a href="../index.html">← run {report.run_id}</a></p>',
             f"<h1>{escape(sample.name)}: {_verdict(sample.verdict)}</h1>",
             f"<p>model {escape(sample.model)} · {sample.tokens or 0} tokens · "
             f"{(sample.seconds or 0):.1f} s · finished by {escape(str(sample.finish_reason))} · "
             f"{'reused from an earlier run' if sample.reused else 'generated in this run'}</p>",
             "<h2>Findings</h2>"]
    if sample.findings:
        parts.append("<table><tr><th>severity</th><th>check/code</th><th>line</th><th>message</th></tr>")
        for f in sample.findings:
            line = f'<a href="#L{f.line}">{f.line}</a>' if f.line and sample.code else (f.line or "")
            parts.append(f'<tr><td class="{f.severity}">{f.severity}</td><td>{escape(f.check)}/'
                         f"{escape(f.code)}</td><td>{line}</td><td>{escape(f.message)}</td></tr>")
        parts.append("</table>")
    elif sample.verdict == PENDING:
        parts.append("<p>Not validated: the run stopped before this sample's validation.</p>")
    else:
        parts.append("<p>None.</p>")
    parts += _scenario_table(sample.details)
    if shots:
        parts.append('<h2>Screenshots of the smoke run</h2><div class="shots">')
        parts += [f'<figure><img src="{escape(src)}" alt="{escape(caption)}">'
                  f"<figcaption>{escape(caption)}</figcaption></figure>" for src, caption in shots]
        parts.append("</div>")
    parts.append("<h2>Extracted program</h2>")
    if sample.code:
        error_lines = {f.line for f in sample.findings if f.line and f.check != "transcript"}
        parts.append(_code_block(sample.code, error_lines))
    else:
        parts.append("<p>No program could be extracted.</p>")
    tail = sample.text[-TRANSCRIPT_TAIL:]
    parts.append(f"<details><summary>Transcript (last {len(tail)} of {len(sample.text)} characters)"
                 f"</summary><pre>{escape(tail)}</pre></details>")
    return _page(f"gencheck {sample.name}", "\n".join(parts))


def _scenario_table(details: dict) -> list[str]:
    """The smoke run's scenarios as the validator recorded them: outcome, frames, wall time."""
    scenarios = details.get("scenarios")
    if not isinstance(scenarios, dict) or not scenarios:
        return [f"<p>Smoke run: {escape(str(details['smoke']))}</p>"] if details.get("smoke") else []
    tier = details.get("sandbox_tier")
    rows = [f"<h2>Smoke run{f' (sandbox: {escape(str(tier))})' if tier else ''}</h2>",
            "<table><tr><th>scenario</th><th>outcome</th><th>frames</th><th>game seconds</th>"
            "<th>wall seconds</th><th>stopped by</th></tr>"]
    for name, run in scenarios.items():
        run = run if isinstance(run, dict) else {}
        rows.append(f"<tr><td>{escape(str(name))}</td><td>{escape(str(run.get('outcome', '')))}</td>"
                    f"<td class=\"n\">{escape(str(run.get('frames', '')))}</td>"
                    f"<td class=\"n\">{escape(str(run.get('virtual_s', '')))}</td>"
                    f"<td class=\"n\">{escape(str(run.get('wall_s', '')))}</td>"
                    f"<td>{escape(str(run.get('stop_reason') or ''))}</td></tr>")
    rows.append("</table>")
    return rows


def index_page(report: RunReport, thumbs: dict[int, str]) -> str:
    parts = [f"<h1>gencheck run {report.run_id}</h1>",
             f"<p>{report.generated} samples generated, {report.reused} reused. "
             f"{escape(report.headline())}</p>",
             *[f"<p>{escape(note)}</p>" for note in report.notes],  # before the numbers they explain
             "<h2>Pass rates</h2><table><tr><th>configuration</th><th>passed</th><th>rate</th>"
             "<th>95% interval</th><th></th><th>pass@1</th><th>pass@3</th><th>requirements</th>"
             "<th>looped</th><th>no compile</th><th>undefined<br>name</th>"
             "<th>crashed</th><th>median<br>tokens</th><th>median<br>seconds</th></tr>"]
    for c in report.configs:
        bar = (f'<div class="bar" title="{c.pass_rate:.0%}, 95% interval {c.interval}">'
               f'<div class="fill" style="width:{c.pass_rate * 100:.1f}%"></div>'
               f'<div class="ci" style="left:{c.interval.low * 100:.1f}%;'
               f'width:{(c.interval.high - c.interval.low) * 100:.1f}%"></div></div>')
        parts.append(
            f'<tr><td><a href="#{_anchor(c.name)}">{escape(c.name)}</a></td>'
            f'<td class="n">{c.passed}/{c.total}</td><td class="n">{c.pass_rate:.0%}</td>'
            f"<td>{c.interval}</td><td>{bar}</td><td class=\"n\">{pass_at_text(c, 1)}</td>"
            f'<td class="n">{pass_at_text(c, 3)}</td><td class="n">{c.requirements_text()}</td>'
            f"<td class=\"n\">{c.looped}</td>"
            f'<td class="n">{c.compile_failed}</td><td class="n">{c.undefined_name}</td>'
            f'<td class="n">{c.crashed}</td><td class="n">{number(c.median_tokens, 0)}</td>'
            f'<td class="n">{number(c.median_seconds, 1)}</td></tr>')
    parts.append("</table>")
    parts += [f'<p class="note">{escape(note)}</p>' for note in figure_notes(report)]
    if report.comparisons:
        parts.append("<h2>Comparisons</h2><ul>")
        parts += [f"<li>{escape(comparison_sentence(c))}</li>" for c in report.comparisons]
        parts.append("</ul>")
    if report.gates:
        parts.append("<h2>Gates</h2><ul>")
        parts += [f'<li class="{"pass" if g.holds else "fail"}">{escape(g.config)}: '
                  f"{g.pass_rate:.0%} (needs {g.min_pass_rate:.0%})</li>" for g in report.gates]
        parts.append("</ul>")
    if report.kld:  # `gencheck run --reference`: each model against the reference
        from pipeline.fidelity.run_report import html_section

        parts.append(html_section(report.kld))
    # No sample reached the smoke run (the tiny model's never do): no column of empty cells.
    shot_header = "<th>screenshot</th>" if thumbs else ""
    for c in report.configs:
        parts.append(f'<h2 id="{_anchor(c.name)}">{escape(c.name)}</h2><table><tr><th>seed</th>'
                     f"<th>verdict</th><th>first error</th><th>tokens</th>{shot_header}</tr>")
        for s in report.samples_of(c.name):
            first = s.first_error
            thumb = thumbs.get(s.sample_id)
            image = f'<img class="thumb" src="{escape(thumb)}" alt="screenshot">' if thumb else ""
            parts.append(
                f'<tr><td><a href="samples/{s.sample_id}.html">seed {s.seed}</a></td>'
                f"<td>{_verdict(s.verdict)}</td><td>{escape(finding_line(first)) if first else ''}</td>"
                f'<td class="n">{s.tokens or 0}</td>'
                + (f"<td>{image}</td>" if thumbs else "") + "</tr>")
        parts.append("</table>")
    return _page(f"gencheck run {report.run_id}", "\n".join(parts))


def _anchor(name: str) -> str:
    return "c-" + "".join(ch if ch.isalnum() else "-" for ch in name)


def write_html(report: RunReport, directory: Path) -> Path:
    """Write the report folder; return the path of index.html.

    A folder used before keeps no page of the earlier run: the files gencheck wrote there last
    time (listed in MANIFEST) are removed first, and nothing else in the folder is touched.
    """
    _remove_earlier_report(directory)
    samples_dir = directory / "samples"
    samples_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    thumbs: dict[int, str] = {}
    for sample in report.samples:
        shots = _copy_screenshots(sample, samples_dir / "img")
        written += [samples_dir / src for src, _ in shots]
        if shots:
            thumbs[sample.sample_id] = f"samples/{shots[-1][0]}"
        page = samples_dir / f"{sample.sample_id}.html"
        page.write_text(sample_page(report, sample, shots), encoding="utf-8")
        written.append(page)
    index = directory / "index.html"
    index.write_text(index_page(report, thumbs), encoding="utf-8")
    written.append(index)
    (directory / MANIFEST).write_text(
        "".join(f"{path.relative_to(directory).as_posix()}\n" for path in written), encoding="utf-8")
    return index


def _remove_earlier_report(directory: Path) -> None:
    manifest = directory / MANIFEST
    if not manifest.is_file():
        return
    root = directory.resolve()
    for line in manifest.read_text(encoding="utf-8").splitlines():
        path = directory / line
        # Only plain files inside the folder: an edited manifest cannot reach anything else.
        if line and path.resolve().is_relative_to(root) and path.is_file() and not path.is_symlink():
            path.unlink()
    manifest.unlink()
