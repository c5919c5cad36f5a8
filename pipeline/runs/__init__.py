"""Runs: the matrix of models x configurations x seeds, validation of finished samples, the
results store, and the statistics and outcomes read back from it."""

from pipeline.lazy_exports import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "execute": "matrix",
    "RunPlan": "matrix",
    "ConfigResult": "matrix",
    "run_gate_config": "matrix",
    "configuration": "matrix",
    "chain_configuration": "matrix",
    "choose_model": "matrix",
    "resolve_model": "matrix",
    "Store": "store",
    "SampleKey": "store",
    "default_store_path": "store",
    "RunReport": "outcomes",
    "ConfigSummary": "outcomes",
    "SampleOutcome": "outcomes",
    "build_report": "outcomes",
    "wilson_interval": "stats",
    "compare_pass_rates": "stats",
    "Comparison": "stats",
    "validate_path": "validate",
    "validate_text": "validate",
    "SampleResult": "validate",
    "ValidationPool": "validation_pool",
    "ValidationJob": "validation_pool",
    "RunProgress": "progress",
})
