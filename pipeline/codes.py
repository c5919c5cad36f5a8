"""Every finding code gencheck can emit, in one catalogue a reader can scan.

A stage never invents a code on the spot: it calls `finding("check/code", message, line)`,
which takes the severity from here. The README's table of codes is generated from CATALOGUE
(`python -m pipeline.codes --markdown`;
`python -m pipeline.codes --update-readme README.md` rewrites it there).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
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
    Code("transcript", "repetition-loop", E, "the text ends in a loop it never leaves (a repeated line, paragraph or phrase, endless whitespace)"),
    # extract: finding the final program
    Code("extract", "no-code-block", E, "the answer holds no fenced Python block"),
    Code("extract", "unclosed-fence", E, "the final code fence is never closed"),
    # compile
    Code("compile", "syntax-error", E, "the program does not compile; the message is Python's"),
    # compile: Python itself cannot say more; these keep odd input a finding, never a crash
    Code("compile", "too-complex", E, "the program is too deeply nested for the compiler (RecursionError/MemoryError)"),
    # lint: ruff rules chosen for generated programs (validators/static/lint.py selects exactly these).
    # Errors mean a certain failure when the line runs; warnings are likely bugs, never style.
    Code("lint", "F501", E, "invalid %-format string literal (ValueError)"),
    Code("lint", "F502", E, "%-format expects a mapping but gets something else (TypeError)"),
    Code("lint", "F503", E, "%-format expects a sequence but gets a mapping (TypeError)"),
    Code("lint", "F506", E, "%-format mixes positional and named placeholders (TypeError)"),
    Code("lint", "F507", E, "%-format placeholder count differs from the substitutions (TypeError)"),
    Code("lint", "F508", E, "%-format `*` specifier needs a sequence (TypeError)"),
    Code("lint", "F509", E, "%-format uses an unsupported format character (ValueError)"),
    Code("lint", "F521", E, "invalid str.format string (ValueError)"),
    Code("lint", "F524", E, "str.format call misses arguments the string refers to (IndexError/KeyError)"),
    Code("lint", "F525", E, "str.format string mixes automatic and manual numbering (ValueError)"),
    Code("lint", "F633", E, "Python 2 `print >>` syntax (TypeError)"),
    Code("lint", "F823", E, "a local variable is read before it is assigned (UnboundLocalError)"),
    Code("lint", "F901", E, "`raise NotImplemented` raises a TypeError, not NotImplementedError"),
    Code("lint", "PLE0101", E, "`__init__` returns a value (TypeError at instantiation)"),
    Code("lint", "PLE0302", E, "a special method has the wrong signature (TypeError when Python calls it)"),
    Code("lint", "PLE0307", E, "`__str__` returns a non-string (TypeError)"),
    Code("lint", "PLE0643", E, "a literal sequence is indexed past its end (IndexError)"),
    Code("lint", "PLE1307", E, "%-format type does not match the value (TypeError)"),
    Code("lint", "B002", W, "`++x` is two unary plus signs, not an increment"),
    Code("lint", "B006", W, "mutable default argument, shared between calls"),
    Code("lint", "B015", W, "a comparison whose result is thrown away (an `==` meant as `=`?)"),
    Code("lint", "B018", W, "an expression statement that does nothing"),
    Code("lint", "B023", W, "a function defined in a loop uses the loop variable late-bound"),
    Code("lint", "F401", W, "an import is never used"),
    Code("lint", "F402", W, "a loop variable shadows an import"),
    Code("lint", "F601", W, "a dict literal repeats a key; the earlier value is lost"),
    Code("lint", "F632", W, "`is` compares with a literal; use `==`"),
    Code("lint", "F811", W, "a definition is replaced before it is ever used"),
    Code("lint", "F841", W, "a local variable is assigned and never used"),
    Code("lint", "W605", W, "an invalid escape sequence in a string (SyntaxWarning)"),
    Code("lint", "ruff-failed", W, "ruff could not check the program; lint findings are missing"),
    # names
    Code("names", "undefined-name", E, "a name is read at run time and no binding can reach it, or only one `del` or the end of its `except ... as` handler undid (NameError)"),
    Code("names", "unbound-local", E, "a function's local name is read where none of its bindings can have run: only `x += ...`, above its first binding, after `del x` or after the `except ... as x` handler (UnboundLocalError)"),
    Code("names", "used-before-binding", E, "a statement runs code that reads a name before any binding of it can have run: a module-level call, `for i in range(i)`, a class body in a function (NameError)"),
    Code("names", "star-import", W, "names may come from a star import; they are treated as bound"),
    Code("names", "dynamic-scope", W, "globals()/exec/vars may bind names the analysis cannot see; unbound names are not errors"),
    Code("names", "parse-failed", W, "libcst could not parse the program, so names were not checked"),
    # smoke: the program played headless in the sandbox, through the prompt's scenarios
    Code("smoke", "exception", E, "the program raised an exception while played (type, message, line, scenario, frame)"),
    Code("smoke", "no-frame", E, "the program ended (or waited) without ever drawing a frame"),
    Code("smoke", "early-exit", E, "the program exited before the scenario's quit key or window close"),
    Code("smoke", "quit-ignored", E, "the program kept running after the quit key or window close"),
    Code("smoke", "hang", E, "the program stopped reaching frames (a loop that never draws or handles events)"),
    Code("smoke", "resource-limit", E, "the program was stopped by a sandbox limit: memory, CPU time or output size"),
    Code("smoke", "crash", E, "the program's process died without a Python exception (a signal, or no result)"),
    # requirements: the prompt's points, read from what the program drew and from its code
    Code("requirements", "background", W, "the first background is not light blue, or a later one is not light"),
    Code("requirements", "accelerate", W, "repeated SPACE presses do not add up: the bird's upward speed does not grow"),
    Code("requirements", "bird", W, "no bird seen as a dark square, circle or triangle, or its shape/colour is never random"),
    Code("requirements", "land", W, "no land at the bottom in dark brown or yellow"),
    Code("requirements", "score", W, "no score text in the top-right area, or nothing in the code increments it"),
    Code("requirements", "pipes", W, "no pipes with a gap in dark green, light brown or dark gray, or their spacing is never random"),
    Code("requirements", "best-score", W, "no best score shown after a loss"),
    Code("requirements", "quit-restart", E, "on the game-over screen q or Esc does not quit or SPACE never leaves it, or closing the window does not quit"),
    # play: the autopilot flies the bird through pipes; what a play-tester would report (issue 7)
    Code("smoke", "autopilot", W, "the autopilot passed no pipe, and the game is not shown to be at fault (no pipes drawn, no bird found, or it could not fly it)"),
    Code("requirements", "pipes-impossible", E, "no pipe can be passed: every gap is smaller than the bird, or pipes overlap with no gap left"),
    Code("requirements", "pipes-unfair", W, "some pipe openings are too narrow for the bird (small gap or overlapping pairs), though others can be passed"),
    Code("requirements", "pipes-no-hit", E, "the bird flew inside a pipe's body and the game went on: hitting a pipe does not end the round"),
    Code("requirements", "score-never-counts", E, "the bird flew through pipes and no number in the score text went up"),
    Code("requirements", "score-uncalled", W, "a function with 'score' in its name is defined but never called"),
    Code("requirements", "text-off-screen", W, "a rendered text runs past an edge of the window (text, edge, pixels out)"),
    Code("requirements", "flicker", W, "a region's colour (background, land, pipe, bird) changes frame after frame while its shape stays"),
    Code("requirements", "not-random", W, "what the prompt calls random is the same in every seeded run (or the background never changes on restart)"),
    Code("requirements", "first-background", W, "a seeded run's first frame does not start with a light blue background"),
    # rounds: the autopilot plays up to 3 rounds, restarting like a tester (issue 11). Errors:
    # each is a point of the prompt (7 or 8) failing in play, measured, not guessed from code.
    # A first round without pipes is the game as every player first meets it: no obstacle, no
    # score, until they lose on purpose; a best score below the score just made is a wrong
    # number on the very screen point 8 asks for.
    Code("requirements", "no-pipes", E, "the autopilot played several rounds and no pipe was drawn in any of them"),
    Code("requirements", "pipes-after-restart", E, "the first round has no pipes; they first appear only after a loss and a restart"),
    Code("requirements", "best-not-kept", E, "after a round that scored k, the game-over screen shows a best score below k"),
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


README_START, README_END = "<!-- codes:start -->", "<!-- codes:end -->"


def readme_with_table(readme: str) -> str:
    """The README text with the table between its codes markers replaced by the catalogue's."""
    head, _, rest = readme.partition(README_START)
    _, _, tail = rest.partition(README_END)
    return f"{head}{README_START}\n{markdown_table()}\n{README_END}{tail}"


if __name__ == "__main__":
    if sys.argv[1:] == ["--markdown"]:
        print(markdown_table())
    elif sys.argv[1:2] == ["--update-readme"] and len(sys.argv) == 3:
        readme_path = Path(sys.argv[2])
        readme_path.write_text(readme_with_table(readme_path.read_text(encoding="utf-8")), encoding="utf-8")
    else:
        for c in CATALOGUE:
            print(f"{c.key:40} {c.severity:8} {c.meaning}")
