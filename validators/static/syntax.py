"""check `compile`: does the extracted program compile? Python's own message and line."""

from __future__ import annotations

import warnings

from pipeline.codes import finding
from pipeline.findings import Finding


def check_compile(code: str) -> list[Finding]:
    """Compile without running; SyntaxWarnings (invalid escapes...) are lint's business."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(code, "<program>", "exec", dont_inherit=True)
    except SyntaxError as exc:  # IndentationError and TabError are SyntaxErrors
        text = (exc.text or "").strip()
        message = f"{type(exc).__name__}: {exc.msg}"
        if text:
            message += f": {text[:120]}"
        return [finding("compile/syntax-error", message, exc.lineno, offset=exc.offset)]
    except ValueError as exc:  # e.g. "source code string cannot contain null bytes"
        return [finding("compile/syntax-error", f"ValueError: {exc}", None)]
    except (RecursionError, MemoryError) as exc:
        return [finding("compile/too-complex", f"{type(exc).__name__} while compiling", None)]
    return []
