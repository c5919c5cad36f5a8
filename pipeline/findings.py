"""The one currency of the pipeline: every stage reports what it saw as findings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

CHECKS = ("transcript", "extract", "compile", "lint", "names", "smoke", "requirements")


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    """One observation about a sample. A sample fails iff it has an error finding.

    `details` carries optional context (scenario, frame, screenshot path, ruff rule...) that
    reports show; it does not take part in equality.
    """

    check: str
    code: str
    severity: Severity
    message: str
    line: int | None = None
    details: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if self.check not in CHECKS:
            raise ValueError(f"unknown check {self.check!r}; expected one of {CHECKS}")

    @property
    def key(self) -> str:
        """`check/code@line` (or `check/code`): the form tests assert on."""
        base = f"{self.check}/{self.code}"
        return base if self.line is None else f"{base}@{self.line}"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "check": self.check,
            "code": self.code,
            "severity": str(self.severity),
            "message": self.message,
            "line": self.line,
        }
        if self.details:
            data["details"] = dict(self.details)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Finding:
        return cls(
            check=data["check"],
            code=data["code"],
            severity=Severity(data["severity"]),
            message=data["message"],
            line=data.get("line"),
            details=dict(data.get("details") or {}),
        )


def verdict(findings: Iterable[Finding]) -> str:
    """"fail" when any finding is an error, else "pass"."""
    return "fail" if any(f.severity is Severity.ERROR for f in findings) else "pass"


def first_error(findings: Iterable[Finding]) -> Finding | None:
    return next((f for f in findings if f.severity is Severity.ERROR), None)
