"""The tree stays readable: no module past 400 lines, no folder past ten modules."""

from tests.paths import REPO

MAX_LINES = 400
MAX_MODULES = 10
PACKAGES = ("pipeline", "validators", "prompts")


def test_no_module_passes_400_lines() -> None:
    long = {str(path.relative_to(REPO)): n for top in PACKAGES for path in (REPO / top).rglob("*.py")
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}, f"split these by what they do: {long}"


def test_no_package_holds_more_than_ten_modules() -> None:
    crowded = {}
    for top in PACKAGES:
        for folder in [REPO / top, *(p for p in (REPO / top).rglob("*") if p.is_dir())]:
            modules = [p for p in folder.glob("*.py") if p.name != "__init__.py"]
            if len(modules) > MAX_MODULES:
                crowded[str(folder.relative_to(REPO))] = len(modules)
    assert crowded == {}, f"cut these packages by stage: {crowded}"
