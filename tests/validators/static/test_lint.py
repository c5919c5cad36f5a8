"""validators/static/lint.py: the real ruff binary, our rule set, error vs warning."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pipeline.codes import CATALOGUE
from pipeline.findings import Finding
from tests.helpers import assert_findings
from tests.paths import FIXTURES
from validators.static.lint import (
    _ruff_diagnostics,
    check_lint,
    check_lint_many,
    ruff_binary,
    selected_rules,
)


def assert_lint(source: str, *expected: str) -> None:
    assert_findings(source, *expected, checks=("lint",))


def test_uses_the_binary_the_ruff_package_installs() -> None:
    assert Path(ruff_binary()).is_file()


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('print("%d" % "text")\n', ["lint/PLE1307@1"]),
        ('print("%s %s" % (1,))\n', ["lint/F507@1"]),
        ('print("{0} {}".format(1, 2))\n', ["lint/F525@1"]),
        ('print("{} {}".format(1))\n', ["lint/F524@1"]),
        ("raise NotImplemented\n", ["lint/F901@1"]),
        ("class A:\n    def __init__(self):\n        return 1\n", ["lint/PLE0101@3"]),
        ("x = 1\n\ndef f():\n    print(x)\n    x = 2\n    return x\n", ["lint/F823@4"]),
        ("print([1, 2, 3][5])\n", ["lint/PLE0643@1"]),
    ],
)
def test_certain_runtime_failures_are_errors(source: str, expected: list[str]) -> None:
    assert_lint(source, *expected)
    findings = check_lint(source)
    assert all(f.severity == "error" for f in findings)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import os\n", ["lint/F401@1"]),
        ("def f():\n    unused = 1\n", ["lint/F841@2"]),
        ("def f(items=[]):\n    return items\n", ["lint/B006@1"]),
        ("x = 1\nx == 2\n", ["lint/B015@2"]),
        ('print("\\d")\n', ["lint/W605@1"]),
        ("x = 1\nif x is 1:\n    pass\n", ["lint/F632@2"]),
        ("d = {'a': 1, 'a': 2}\nprint(d)\n", ["lint/F601@1"]),
    ],
)
def test_likely_bugs_are_warnings(source: str, expected: list[str]) -> None:
    assert_lint(source, *expected)
    assert all(f.severity == "warning" for f in check_lint(source))


def test_style_is_not_reported() -> None:
    assert_lint("import sys,os\nx=1;y=2\nl = [ 1 ,2 ]\nprint(sys, os, x, y, l)\n")


def test_undefined_names_are_left_to_the_names_check() -> None:
    assert_lint("print(undefined_thing)\nfrom os import *\nprint(path)\n")


@pytest.mark.parametrize("name", ["healthy_flappy_functional.py", "healthy_flappy_classes.py"])
def test_healthy_games_pass_clean(name: str) -> None:
    assert check_lint((FIXTURES / "programs" / name).read_text()) == []


def test_every_selected_rule_is_a_catalogued_code() -> None:
    catalogued = {c.code for c in CATALOGUE if c.check == "lint"}
    assert set(selected_rules()) <= catalogued
    assert "F821" not in selected_rules()


def test_many_programs_in_one_process_match_one_at_a_time() -> None:
    programs = ["import os\n", 'print("%d" % "a")\n', "x = 1\nprint(x)\n", "def f(:\n"]
    assert check_lint_many(programs) == [check_lint(p) for p in programs]


def test_a_syntax_error_is_not_a_lint_finding() -> None:
    assert check_lint("def f(:\n") == []


def test_odd_input_becomes_findings_never_an_exception() -> None:
    for program in ["\x00\x01", "\ud800 = 1\n", "x = '" + "a" * 100000 + "'\n"]:
        assert all(f.check == "lint" for f in check_lint(program))


def test_ruff_failing_is_a_warning_finding_not_an_exception() -> None:
    # The real ruff refusing an unknown rule: exit 2, which is ruff failing, not a verdict.
    refused = _ruff_diagnostics(
        [ruff_binary(), "check", "--select", "NOPE999", "-"], b"x = 1\n", 30
    )
    assert isinstance(refused, Finding) and refused.key == "lint/ruff-failed"
    assert refused.severity == "warning" and "exited 2" in refused.message


def test_ruff_not_finishing_in_time_is_a_ruff_failed_finding() -> None:
    stuck = [sys.executable, "-c", "import time; time.sleep(10)"]
    stopped = _ruff_diagnostics(stuck, None, 0.3)
    assert isinstance(stopped, Finding) and stopped.key == "lint/ruff-failed"
    assert "did not finish" in stopped.message
