"""The command line, thin over the library: `gencheck` (main.py dispatches to one module per
subcommand) and the pytest plugin (pytest_plugin.py)."""

from pipeline.cli.main import main

__all__ = ["main"]
