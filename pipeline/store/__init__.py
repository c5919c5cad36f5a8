"""The results store: one SQLite file that many runs and processes share (db), its schema as
named migrations (schema), the lock that makes openings and writes take turns (lock), and the
merge of stores made on other machines (merge)."""

from pipeline.lazy_exports import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "Store": "db",
    "SampleKey": "db",
    "default_store_path": "db",
    "merge_into": "merge",
})
