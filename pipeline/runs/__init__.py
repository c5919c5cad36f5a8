"""Runs: the matrix of models x configurations x seeds (and its shards), validation of finished
samples, and the statistics and outcomes read back from the store."""

from pipeline.lazy_exports import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "execute": "matrix",
    "RunPlan": "matrix",
    "ConfigResult": "gate_config",
    "run_gate_config": "gate_config",
    "configuration": "matrix",
    "chain_configuration": "matrix",
    "choose_model": "matrix",
    "resolve_model": "matrix",
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
    "Shard": "shards",
    "open_engine": "open_engines",
    "open_slots": "open_engines",
    "parse_shard": "shards",
    "join_shard_runs": "shard_join",
})
