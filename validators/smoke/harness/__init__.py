"""The child-side harness of the smoke run.

These files are copied into each sandbox and run there (`python -I run_scenarios.py job.json`); they
import only the standard library and pygame and talk to the parent through files in the
sandbox's temp dir. The project never imports them to run a game; tests import single modules
(the scripted driver, say) to check them in isolation.
"""
