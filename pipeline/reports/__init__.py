"""Reports of a run: the terminal table and JSON, JUnit, Markdown, and the HTML folder."""

from pipeline.lazy_exports import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "print_table": "terminal",
    "to_json_text": "terminal",
    "to_junit": "terminal",
    "write_junit": "terminal",
    "to_markdown": "terminal",
    "write_html": "html",
})
