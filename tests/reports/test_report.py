"""Reports: JUnit, Markdown, JSON and HTML say the same thing, and the HTML renders in Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.codes import finding
from pipeline.reports.html import write_html
from pipeline.reports.terminal import to_json_text, to_junit, to_markdown
from pipeline.runs.outcomes import PENDING, SampleOutcome, comparisons_of, summarize
from pipeline.runs.outcomes import RunReport as Report
from tests.paths import REPO

HEALTHY = REPO / "fixtures" / "corpus" / "answer_flappy_shapes.txt"


def outcome(seed: int, verdict: str, findings: tuple = (), config: str = "cfg", **kw: object) -> SampleOutcome:
    fields: dict = dict(config=config, model="m.gguf", seed=seed, sample_id=seed, reused=False,
                        verdict=verdict, findings=findings, code="print('hi')\n", text="text",
                        tokens=100, seconds=1.0, finish_reason="eos")
    fields.update(kw)
    return SampleOutcome(**fields)


def report_of(*samples: SampleOutcome) -> Report:
    names = list(dict.fromkeys(s.config for s in samples))
    configs = tuple(summarize(n, [s for s in samples if s.config == n]) for n in names)
    return Report(run_id=7, generated=len(samples), reused=0, samples=samples, configs=configs,
                  comparisons=comparisons_of(configs))


UNDEFINED = finding("names/undefined-name", "pipes is read but never bound at module level", 12)
NO_CODE = finding("extract/no-code-block", "no fenced Python block in the text")


def test_junit_failure_message_is_the_first_error_and_body_lists_all() -> None:
    report = report_of(outcome(1, "pass"), outcome(2, "fail", (UNDEFINED, NO_CODE)),
                       outcome(3, PENDING, code=None))
    root = to_junit(report).getroot()
    cases = root.findall(".//testcase")
    assert [c.get("name") for c in cases] == ["seed 1", "seed 2", "seed 3"]
    assert cases[0].find("failure") is None
    failure = cases[1].find("failure")
    assert failure is not None
    assert failure.get("message") == "names/undefined-name (line 12): pipes is read but never bound at module level"
    assert failure.get("type") == "names/undefined-name"
    assert "extract/no-code-block" in (failure.text or "")
    assert cases[2].find("skipped") is not None
    suite = root.find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "1", "1")


def test_junit_stays_well_formed_when_model_output_holds_control_characters(tmp_path: Path) -> None:
    from pipeline.reports.terminal import write_junit

    raw = finding("names/undefined-name", "name \x1b[31mpipes\x00 and a lone \ud800 surrogate", 3)
    write_junit(report_of(outcome(1, "fail", (raw,), config="cfg\x01", model="m\x7f.gguf")),
                tmp_path / "junit.xml")
    failure = ET.parse(tmp_path / "junit.xml").getroot().find(".//failure")
    assert failure is not None
    assert failure.get("message") == ("names/undefined-name (line 3): name \\x1b[31mpipes\\x00 and a "
                                      "lone \\ud800 surrogate")


def test_pending_samples_are_counted_apart_from_the_pass_rate() -> None:
    summary = summarize("cfg", [outcome(1, "pass"), outcome(2, PENDING)])
    assert (summary.passed, summary.total, summary.pending, summary.pass_rate) == (1, 1, 1, 1.0)


def test_failure_categories_are_counted_per_configuration() -> None:
    looped = outcome(1, "fail", (finding("transcript/repetition-loop", "loop"),), finish_reason="loop")
    syntax = outcome(2, "fail", (finding("compile/syntax-error", "bad", 3),))
    summary = summarize("cfg", [looped, syntax, outcome(3, "fail", (UNDEFINED,))])
    assert (summary.looped, summary.compile_failed, summary.undefined_name, summary.crashed) == (1, 1, 1, 0)


def test_json_report_carries_comparisons_between_configurations() -> None:
    samples = [outcome(s, "fail", (NO_CODE,), config="old") for s in range(1, 9)]
    samples += [outcome(s + 10, "pass", config="fixed") for s in range(1, 9)]
    data = json.loads(to_json_text(report_of(*samples)))
    assert [c["name"] for c in data["configs"]] == ["old", "fixed"]
    comparison = data["comparisons"][0]
    assert (comparison["a"], comparison["b"]) == ("old", "fixed")
    assert comparison["p_value"] < 0.001 and comparison["difference"] == 1.0


def test_markdown_escapes_table_breaking_characters() -> None:
    text = to_markdown(report_of(outcome(1, "fail", (UNDEFINED,), config="a|b")))
    assert "| a\\|b |" in text
    assert "names/undefined-name (line 12)" in text


def test_markdown_keeps_html_in_model_output_as_text() -> None:
    hostile = finding("names/undefined-name", "x = '</details><img src=x onerror=alert(1)>' & more", 2)
    text = to_markdown(report_of(outcome(1, "fail", (hostile,), config="<b>cfg</b>")))
    assert text.count("</details>") == 1 and "<img" not in text and "<b>" not in text
    assert "&lt;/details&gt;&lt;img src=x onerror=alert(1)&gt;' &amp; more" in text


def test_html_escapes_model_output(tmp_path: Path) -> None:
    hostile = outcome(1, "fail", (UNDEFINED,), code="print('</pre><script>alert(1)</script>')\n",
                      text="<img src=x onerror=alert(1)>")
    write_html(report_of(hostile), tmp_path)
    page = (tmp_path / "samples" / "1.html").read_text(encoding="utf-8")
    assert "<script>" not in page and "<img src=x" not in page
    assert "&lt;script&gt;" in page


def test_html_marks_the_line_of_a_finding(tmp_path: Path) -> None:
    code = "".join(f"x{n} = {n}\n" for n in range(1, 20))
    write_html(report_of(outcome(1, "fail", (UNDEFINED,), code=code)), tmp_path)
    page = (tmp_path / "samples" / "1.html").read_text(encoding="utf-8")
    assert '<span class="hit" id="L12">' in page and 'href="#L12"' in page


# -- the whole HTML report in a real browser ----------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--enable-logging=stderr", "--v=0"]

# Appended to a copy of a page: once everything has loaded, record how many images decoded.
IMAGE_PROBE = """<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const broken = images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src);
  document.documentElement.setAttribute("data-images", String(images.length));
  document.documentElement.setAttribute("data-broken", JSON.stringify(broken));
});
</script>"""


def chromium(page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra,
                           page.as_uri()], capture_output=True, text=True, timeout=120)


def console_messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def probe_images(page: Path, profile: Path) -> tuple[int, list[str]]:
    probe = page.with_name(f"probe-{page.name}")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", IMAGE_PROBE + "</body>"),
                     encoding="utf-8")
    try:
        dom = chromium(probe, profile, "--dump-dom", "--virtual-time-budget=5000").stdout
    finally:
        probe.unlink()
    images = re.search(r'data-images="(\d+)"', dom)
    broken = re.search(r'data-broken="([^"]*)"', dom)
    assert images and broken, "the probe did not run"
    return int(images.group(1)), json.loads(broken.group(1).replace("&quot;", '"'))


@pytest.fixture(scope="module")
def html_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real run (a recorded healthy game replayed, smoke run included) written as HTML.

    The store is named relative to the folder the run starts in, and the report is written by a
    second run from another folder: the screenshots recorded by the first must still be found.
    """
    out = tmp_path_factory.mktemp("html-report")
    (out / "elsewhere").mkdir()
    argv = ["run", "--engine", "replay", "--model", str(HEALTHY), "--seeds", "1", "--jobs", "1", "--json"]
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(out)
        assert main([*argv, "--store", "store.db"]) == 0
        patch.chdir(out / "elsewhere")
        assert main([*argv, "--store", "../store.db", "--report", str(out / "html")]) == 0
    return out / "html"


def test_html_report_copies_the_smoke_screenshots_in(html_report: Path) -> None:
    shots = sorted((html_report / "samples" / "img").glob("*.png"))
    assert shots, "no screenshots copied into the report"
    page = (html_report / "samples" / "1.html").read_text(encoding="utf-8")
    for shot in shots:
        assert f'src="img/{shot.name}"' in page
    assert re.search(r"(src|href)=\"(https?:|/)", page) is None, "an absolute or external link"


def test_html_report_of_a_played_game_shows_its_requirement_score_and_why_pass_at_3_is_missing(
        html_report: Path) -> None:
    index = (html_report / "index.html").read_text(encoding="utf-8")
    # one seed of the healthy game: pass@1 100%, pass@3 undefined, all 8 requirements met
    assert '<td class="n">100%</td><td class="n">–</td><td class="n">8.0/8</td>' in index
    assert "pass@3 is – where fewer than 3 samples were validated" in index


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")
def test_html_report_renders_in_chromium_without_console_errors_and_images_load(
        html_report: Path, tmp_path: Path) -> None:
    for page in (html_report / "index.html", html_report / "samples" / "1.html"):
        shot = tmp_path / f"{page.stem}.png"
        rendered = chromium(page, tmp_path / f"profile-{page.stem}", f"--screenshot={shot}",
                            "--window-size=1280,1600")
        assert shot.is_file() and shot.stat().st_size > 10_000, rendered.stderr[-2000:]
        assert console_messages(rendered.stderr) == []
        count, broken = probe_images(page, tmp_path / f"probe-profile-{page.stem}")
        assert count > 0 and broken == [], broken


def test_a_reused_report_folder_drops_the_earlier_runs_pages_and_keeps_the_users_files(tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    shot.write_bytes(b"\x89PNG fake")
    write_html(report_of(outcome(1, "fail", (UNDEFINED,)), outcome(2, "pass", screenshots=(str(shot),))),
               tmp_path / "html")
    assert (tmp_path / "html" / "samples" / "img" / "2-0.png").is_file()
    (tmp_path / "html" / "notes.txt").write_text("mine")
    (tmp_path / "html" / "samples" / "keep.html").write_text("mine too")
    outside = tmp_path / "outside.txt"
    outside.write_text("not the report's")
    with (tmp_path / "html" / ".gencheck-report").open("a") as manifest:
        manifest.write("../outside.txt\n")  # an edited manifest must not reach out of the folder
    write_html(report_of(outcome(3, "pass")), tmp_path / "html")
    left = sorted(p.relative_to(tmp_path / "html").as_posix()
                  for p in (tmp_path / "html").rglob("*") if p.is_file())
    assert left == [".gencheck-report", "index.html", "notes.txt", "samples/3.html", "samples/keep.html"]
    assert outside.read_text() == "not the report's"


def test_index_puts_the_notes_above_the_numbers_and_shows_screenshots_only_when_there_are_any(
        tmp_path: Path) -> None:
    import dataclasses

    note = "No --model given: running the tiny test model"
    report = dataclasses.replace(report_of(outcome(1, "fail", (NO_CODE,))), notes=(note,))
    index = write_html(report, tmp_path / "none").read_text(encoding="utf-8")
    assert index.index(note) < index.index("<h2>Pass rates</h2>")
    assert "screenshot" not in index
    shot = tmp_path / "shot.png"
    shot.write_bytes(b"\x89PNG fake")
    with_shot = report_of(outcome(1, "pass", screenshots=(str(shot),)), outcome(2, "fail", (NO_CODE,)))
    index = write_html(with_shot, tmp_path / "shots").read_text(encoding="utf-8")
    assert index.count("<th>screenshot</th>") == 1 and 'src="samples/img/1-0.png"' in index


def test_terminal_table_says_what_each_configuration_failed_first_on() -> None:
    import io

    from pipeline.reports.terminal import print_table

    out = io.StringIO()
    print_table(report_of(outcome(1, "fail", (NO_CODE, UNDEFINED)), outcome(2, "fail", (NO_CODE,)),
                          outcome(3, "fail", (UNDEFINED,)), outcome(4, "pass"),
                          outcome(5, "pass", config="clean")), out)
    text = out.getvalue()
    assert "cfg failed first on: extract/no-code-block ×2, names/undefined-name ×1" in text
    assert "clean failed first on" not in text
