"""The smoke run: the prompt's scenarios played headless in the sandbox by the harness/, and how
each one ended."""

from pipeline.lazy_exports import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "play_scenarios": "smoke_run",
    "SmokeOptions": "smoke_run",
    "SmokeReport": "smoke_run",
    "ScenarioRun": "smoke_run",
    "Scenario": "scenarios",
    "SmokeSettings": "scenarios",
    "load_scenarios": "scenarios",
})
