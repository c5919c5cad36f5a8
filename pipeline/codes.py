"""Every finding code gencheck can emit, in one catalogue a reader can scan.

A stage never invents a code on the spot: it calls `finding("check/code", message, line)`,
which takes the severity from here. The README's table of codes is generated from CATALOGUE
(`python -m pipeline.codes --markdown`).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from pipeline.findings import Finding, Severity

E, W = Severity.ERROR, Severity.WARNING


@dataclass(frozen=True)
class Code:
    check: str
    code: str
    severity: Severity
    meaning: str

    @property
    def key(self) -> str:
        return f"{self.check}/{self.code}"


CATALOGUE: tuple[Code, ...] = (
    # transcript: the generated text as a whole
    Code("transcript", "unclosed-think", E, "the <think> section was opened and never closed, so there is no answer"),
    Code("transcript", "cut-in-fence", E, "the text ends inside a code fence: generation hit its length limit mid-program"),
    Code("transcript", "repetition-loop", E, "the text is dominated by repetition: the model looped"),
    # extract: finding the final program
    Code("extract", "no-code-block", E, "the answer holds no fenced Python block"),
    Code("extract", "unclosed-fence", E, "the final code fence is never closed"),
    # compile
    Code("compile", "syntax-error", E, "the program does not compile; the message is Python's"),
    # names
    Code("names", "undefined-name", E, "a name is read at run time and no binding can reach it (NameError)"),
    Code("names", "star-import", W, "names may come from a star import; they are treated as bound"),
)

_BY_KEY = {c.key: c for c in CATALOGUE}


def lookup(key: str) -> Code:
    try:
        return _BY_KEY[key]
    except KeyError:
        raise KeyError(f"finding code {key!r} is not in pipeline/codes.py CATALOGUE") from None


def finding(key: str, message: str, line: int | None = None, **details: Any) -> Finding:
    """Build a Finding for a catalogued `check/code`, with the catalogue's severity."""
    code = lookup(key)
    return Finding(code.check, code.code, code.severity, message, line, details)


def markdown_table() -> str:
    rows = ["| check | code | severity | meaning |", "|---|---|---|---|"]
    rows += [f"| {c.check} | `{c.code}` | {c.severity} | {c.meaning} |" for c in CATALOGUE]
    return "\n".join(rows)


if __name__ == "__main__":
    if sys.argv[1:] == ["--markdown"]:
        print(markdown_table())
    else:
        for c in CATALOGUE:
            print(f"{c.key:40} {c.severity:8} {c.meaning}")
