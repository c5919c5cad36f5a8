"""Every stage package serves the public names its __init__ lists, from the module that defines them."""

import importlib
import subprocess
import sys

import pytest

PACKAGES = ("pipeline.sampling", "pipeline.models", "pipeline.generation", "pipeline.runs",
            "pipeline.reports", "pipeline.store", "pipeline.fidelity", "pipeline.fidelity.saved", "validators.static", "validators.sandbox", "validators.smoke",
            "validators.play")


@pytest.mark.parametrize("package", PACKAGES)
def test_every_listed_public_name_resolves_to_its_definition(package: str) -> None:
    module = importlib.import_module(package)
    assert module.__all__, f"{package} lists no public names"
    for name in module.__all__:
        value = getattr(module, name)
        defined_in = getattr(value, "__module__", None)
        if defined_in is not None and defined_in.startswith(package):
            assert defined_in.startswith(f"{package}."), (package, name, defined_in)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        importlib.import_module("pipeline.runs").nothing_here  # noqa: B018


def test_importing_a_package_loads_none_of_its_heavy_modules() -> None:
    # libcst is left out: `validators` itself imports the static registry (names uses libcst)
    code = ("import sys, " + ", ".join(PACKAGES) + "; "
            "print(sorted(m for m in ('llama_cpp', 'pygame', 'scipy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]"
