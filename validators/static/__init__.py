"""The checks that read the program without running it: the transcript, compile, ruff, and
the undefined-name analysis."""

from pipeline.lazy_exports import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "check_transcript": "transcript",
    "check_compile": "syntax",
    "check_lint": "lint",
    "check_lint_many": "lint",
    "check_names": "names",
})
