"""Every fixture gives the verdict and the exact findings fixtures/expected.toml records."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from pipeline.runs.validate import validate_path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
EXPECTED = tomllib.loads((FIXTURES / "expected.toml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("relpath", sorted(EXPECTED))
def test_fixture_gives_its_expected_verdict_and_findings(relpath: str) -> None:
    expected = EXPECTED[relpath]
    result = validate_path(FIXTURES / relpath, smoke=False)
    assert sorted(f.key for f in result.findings) == sorted(expected["findings"]), [
        (f.key, f.message) for f in result.findings
    ]
    assert result.verdict == expected["verdict"]


def test_every_fixture_file_is_in_the_manifest() -> None:
    on_disk = {
        str(p.relative_to(FIXTURES))
        for folder in ("programs", "transcripts")
        for p in (FIXTURES / folder).iterdir()
        if p.is_file()
    }
    assert on_disk == set(EXPECTED)


def test_the_manifest_covers_every_failure_class_of_the_issue() -> None:
    keys = {k.split("@")[0] for entry in EXPECTED.values() for k in entry["findings"]}
    assert {
        "transcript/unclosed-think",
        "transcript/cut-in-fence",
        "transcript/repetition-loop",
        "extract/no-code-block",
        "extract/unclosed-fence",
        "compile/syntax-error",
        "lint/PLE1307",
        "names/undefined-name",
        "names/unbound-local",
        "names/star-import",
        "names/used-before-binding",
    } <= keys
    healthy = [e for name, e in EXPECTED.items() if "healthy" in name]
    assert len(healthy) >= 4 and all(e["verdict"] == "pass" and not e["findings"] for e in healthy)


@pytest.mark.parametrize("relpath", sorted(name for name in EXPECTED if "healthy" in name))
def test_healthy_fixture_passes_the_smoke_run_too_with_no_finding(relpath: str) -> None:
    # The static manifest holds without the smoke run; a healthy answer must also play clean:
    # no error and no warning from the scenarios, the requirements or the play checks.
    result = validate_path(FIXTURES / relpath, smoke=True)
    assert [(f.key, f.message) for f in result.findings] == []
    assert result.details["sandbox_tier"]
