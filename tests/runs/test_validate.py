"""pipeline/runs/validate.py: the library entry point's result shape and flow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.errors import UsageError
from pipeline.runs.validate import SampleResult, validate_path, validate_text

GOOD = "import pygame\n\npygame.init()\n"


def test_json_shape_matches_the_issue() -> None:
    result = validate_text(
        "</think>\n```python\ndef f():\n    global pipes\n    pipes.clear()\n```\n", smoke=False
    )
    data = json.loads(json.dumps(result.to_json()))
    assert data["source"] == "<text>" and data["verdict"] == "fail"
    (finding,) = data["findings"]
    assert {k: finding[k] for k in ("check", "code", "severity", "line")} == {
        "check": "names",
        "code": "undefined-name",
        "severity": "error",
        "line": 3,
    }
    assert isinstance(finding["message"], str)


def test_transcript_result_points_into_the_transcript() -> None:
    result = validate_text("<think>\nx\n</think>\n```python\n" + GOOD + "```\n", smoke=False)
    assert isinstance(result, SampleResult)
    assert result.verdict == "pass" and result.code == GOOD
    assert result.details["code_start_line"] == 5


def test_code_mode_skips_transcript_checks() -> None:
    assert (
        validate_text("<think>\n" + GOOD, is_code=True, smoke=False).verdict == "fail"
    )  # `<think>` is not Python
    assert validate_text(GOOD, is_code=True, smoke=False).findings == []


def test_compile_failure_stops_the_static_chain() -> None:
    result = validate_text("import os\nprint(undefined\n", is_code=True, smoke=False)
    assert [f.key for f in result.findings] == ["compile/syntax-error@2"]


def test_ruff_and_names_do_not_both_report_one_unbound_local() -> None:
    code = "score = 0\n\ndef add():\n    score += 1\n"
    keys = [f.key for f in validate_text(code, is_code=True, smoke=False).findings]
    assert keys == ["names/unbound-local@4"]


def test_no_smoke_records_that_it_did_not_run() -> None:
    result = validate_text(GOOD, is_code=True, smoke=False)
    assert "smoke" not in result.details


def test_path_suffix_chooses_the_mode(tmp_path: Path) -> None:
    program = tmp_path / "game.py"
    program.write_text(GOOD)
    transcript = tmp_path / "run.txt"
    transcript.write_text(GOOD)
    assert validate_path(program, smoke=False).verdict == "pass"
    assert [f.key for f in validate_path(transcript, smoke=False).findings] == [
        "extract/no-code-block"
    ]


def test_missing_file_and_directory_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file"):
        validate_path(tmp_path / "missing.txt")
    with pytest.raises(UsageError, match="directory"):
        validate_path(tmp_path)


def test_undecodable_bytes_become_findings_not_errors(tmp_path: Path) -> None:
    path = tmp_path / "bin.txt"
    path.write_bytes(b"\xff\xfe\x00garbage```python\n\xff\n```")
    assert [f.key for f in validate_path(path, smoke=False).findings] == [
        "transcript/cut-in-fence@3",  # `garbage```python` opens nothing; line 3's ``` does
        "extract/unclosed-fence@3",
    ]
    path.write_bytes(b"\xff\xfe\ngarbage\n```python\nx = 1  # \xff\n```\n")
    result = validate_path(path, smoke=False)
    assert result.verdict == "pass" and result.code == "x = 1  # \ufffd\n"


def test_a_transcript_whose_prompt_opened_think_has_no_answer_until_it_closes() -> None:
    text = "Draft:\n```python\n" + GOOD + "```\nstill thinking"
    assert validate_text(text, smoke=False).verdict == "pass"  # taken as the answer
    result = validate_text(text, smoke=False, starts_in_think=True)
    assert [f.key for f in result.findings] == [
        "transcript/unclosed-think@1",
        "extract/no-code-block",
    ]


def test_validate_path_reads_from_the_sidecar_that_the_prompt_opened_think(tmp_path: Path) -> None:
    path = tmp_path / "sample.txt"
    path.write_text("Draft:\n```python\n" + GOOD + "```\nstill thinking")
    path.with_name("sample.txt.json").write_text(
        json.dumps({"prompt": "<|im_start|>assistant\n<think>\n"})
    )
    assert validate_path(path, smoke=False).verdict == "fail"
    path.with_name("sample.txt.json").write_text("not json")
    assert validate_path(path, smoke=False).verdict == "pass"
