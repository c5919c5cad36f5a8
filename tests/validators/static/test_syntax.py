"""validators/static/syntax.py: compile with Python's own message and line."""

from __future__ import annotations

from tests.helpers import assert_findings
from validators.static.syntax import check_compile


def test_syntax_error_with_its_line() -> None:
    assert_findings("x = 1\nPIPE_SPEED=- ( )    ?\n", "compile/syntax-error@2")


def test_message_is_pythons() -> None:
    (finding,) = check_compile("def main(:\n    pass\n")
    assert finding.message.startswith("SyntaxError:") and finding.line == 1


def test_indentation_error_is_a_syntax_error() -> None:
    (finding,) = check_compile("if True:\nprint(1)\n")
    assert finding.code == "syntax-error" and "IndentationError" in finding.message


def test_a_name_split_by_a_space() -> None:
    assert_findings("LAND_ HEIGHT = 80\n", "compile/syntax-error@1")


def test_null_bytes_are_a_finding() -> None:
    (finding,) = check_compile("x = 1\x00\n")
    assert finding.key.startswith("compile/syntax-error")


def test_deep_nesting_is_a_finding_not_a_crash() -> None:
    findings = check_compile("x = " + "(" * 5000 + ")" * 5000 + "\n")
    assert len(findings) == 1 and findings[0].severity == "error"


def test_a_compile_error_stops_lint_and_names() -> None:
    assert_findings("import os\nprint(undefined\n", "compile/syntax-error@2")


def test_valid_program_has_no_finding() -> None:
    assert check_compile("import pygame\npygame.init()\n") == []
