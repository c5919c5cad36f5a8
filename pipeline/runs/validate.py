"""The library entry point of validation: text or file -> SampleResult (verdict + findings).

The CLI (`gencheck validate`), the run matrix and the pytest gate all call validate_text /
validate_path; nothing else decides a verdict. Flow: transcript checks -> extract ->
compile (gate) -> lint -> names -> smoke run (when requested).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import UsageError
from pipeline.extract import THINK_OPEN, extract_program, normalise_newlines, prompt_opens_think
from pipeline.findings import Finding, Severity, verdict
from pipeline.transcript import sidecar_path
from validators import GATING_CHECK, STATIC_VALIDATORS
from validators.play.session import run_smoke
from validators.static.transcript import check_transcript

# When two checks see the same failure on the same line, one restates the other: for
# `x += 1` on an unbound local, ruff says F823 (read before assignment) and F841 (assigned,
# never used) where names says unbound-local. Key: dropped when value is on the same line.
DUPLICATES: dict[str, str] = {
    "lint/F823": "names/unbound-local",
    "lint/F841": "names/unbound-local",
}


@dataclass
class SampleResult:
    source: str
    verdict: str
    findings: list[Finding]
    code: str | None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.ERROR]

    def to_json(self) -> dict[str, Any]:
        """The issue's shape: source, verdict, findings[check, code, severity, message, line]."""
        return {
            "source": self.source,
            "verdict": self.verdict,
            "findings": [f.to_json() for f in self.findings],
            "details": self.details,
        }


def validate_text(
    text: str,
    *,
    source: str = "<text>",
    is_code: bool = False,
    smoke: bool = True,
    smoke_options: object | None = None,
    starts_in_think: bool = False,
) -> SampleResult:
    """Validate a transcript (or, with is_code, a bare program).

    `starts_in_think`: the prompt opened `<think>` (see extract.prompt_opens_think), so the
    text is read as if it began with the tag; without it, a transcript that never closes its
    reasoning would have its last draft taken for the answer.
    """
    timings: dict[str, float] = {}
    details: dict[str, Any] = {"is_code": is_code, "timings_ms": timings}
    findings: list[Finding] = []
    if starts_in_think and not is_code:
        text = THINK_OPEN + text  # no newline: transcript line numbers stay as they are
        details["starts_in_think"] = True

    if is_code:
        code: str | None = normalise_newlines(text)
        details["code_start_line"] = 1
    else:
        with _timed(timings, "transcript"):
            findings += check_transcript(text)
        with _timed(timings, "extract"):
            extraction = extract_program(text)
        findings += extraction.findings
        code = extraction.code
        details.update(
            code_start_line=extraction.code_start_line,
            fence_label=extraction.label,
            blocks_in_answer=extraction.blocks_in_answer,
        )
    if code is None:
        return _result(source, findings, None, details)
    details["lines_of_code"] = code.count("\n") + (0 if code.endswith("\n") else 1)

    compiled = True
    for check, validator in STATIC_VALIDATORS:
        with _timed(timings, check):
            produced = validator(code)
        findings += produced
        if check == GATING_CHECK and any(f.severity is Severity.ERROR for f in produced):
            compiled = False
            break

    # The smoke run: the single place where its findings join the static ones.
    if smoke and compiled:
        with _timed(timings, "smoke"):
            outcome = run_smoke(code, smoke_options)
        findings += outcome.findings
        details["smoke"] = "run"
        details.update(outcome.to_json())  # sandbox_tier, scenarios, screenshots, requirements
    elif smoke:
        details["smoke"] = "skipped: the program does not compile"

    return _result(source, _without_duplicates(findings), code, details)


def validate_path(path: Path, **kw: Any) -> SampleResult:
    """A `.py` file is validated as code, anything else as a transcript."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{path} is a directory; pass the files inside it")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    text = data.decode("utf-8", errors="replace")
    kw.setdefault("is_code", path.suffix.lower() == ".py")
    kw.setdefault("starts_in_think", prompt_opens_think(_sidecar_prompt(path)))
    return validate_text(text, source=str(path), **kw)


def _sidecar_prompt(path: Path) -> str | None:
    """The prompt a generated transcript's `.json` sidecar records, if there is a readable one."""
    sidecar = sidecar_path(path)
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    prompt = meta.get("prompt") if isinstance(meta, dict) else None
    return prompt if isinstance(prompt, str) else None


def _result(source: str, findings: list[Finding], code: str | None, details: dict) -> SampleResult:
    return SampleResult(source, verdict(findings), findings, code, details)


def _without_duplicates(findings: list[Finding]) -> list[Finding]:
    keys = {(f"{f.check}/{f.code}", f.line) for f in findings}
    return [f for f in findings if (DUPLICATES.get(f"{f.check}/{f.code}"), f.line) not in keys]


class _timed:
    """Adds the milliseconds a block took to timings[name]."""

    def __init__(self, timings: dict[str, float], name: str) -> None:
        self.timings, self.name = timings, name

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        elapsed = (time.perf_counter() - self.start) * 1000
        self.timings[self.name] = round(self.timings.get(self.name, 0.0) + elapsed, 2)
