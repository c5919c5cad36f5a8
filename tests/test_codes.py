"""The catalogue of finding codes is the single source: keys are unique and the README shows it."""

from __future__ import annotations

from pipeline.codes import CATALOGUE, README_END, README_START, markdown_table, readme_with_table
from pipeline.findings import CHECKS
from tests.paths import REPO


def test_every_code_is_unique_and_belongs_to_a_known_check() -> None:
    keys = [code.key for code in CATALOGUE]
    assert len(keys) == len(set(keys))
    assert {code.check for code in CATALOGUE} <= set(CHECKS)
    assert all(code.meaning and code.code == code.code.strip() for code in CATALOGUE)


def test_readme_table_of_codes_is_the_catalogue() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert README_START in readme and README_END in readme
    assert readme_with_table(readme) == readme, (
        "README's table of finding codes is stale: run `python -m pipeline.codes --update-readme README.md`")


def test_table_has_a_row_per_code() -> None:
    assert markdown_table().count("\n") == len(CATALOGUE) + 1
