"""pipeline/extract.py: the last fenced Python block of the answer, or a finding why there is none."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.extract import extract_program, fenced_blocks, parses_as_python
from tests.helpers import draw_transcript

GAME = "import pygame\nprint('game')\n"


def keys(text: str) -> list[str]:
    return [f.key for f in extract_program(text).findings]


def test_takes_the_block_after_think_not_the_drafts_inside() -> None:
    text = "<think>\n```python\ndraft = 1\n```\n</think>\n```python\n" + GAME + "```\n"
    assert extract_program(text).code == GAME


def test_takes_the_last_of_several_answer_blocks() -> None:
    text = "</think>\n```python\nfirst = 1\n```\nFixed:\n```python\n" + GAME + "```\n"
    result = extract_program(text)
    assert result.code == GAME and result.blocks_in_answer == 2


def test_reports_where_the_program_starts_in_the_transcript() -> None:
    text = "<think>\nplan\n</think>\n\n```python\n" + GAME + "```\n"
    assert extract_program(text).code_start_line == 6


def test_accepts_py_and_capitalised_python_labels() -> None:
    for label in ("py", "Python", "python3", "PY"):
        assert extract_program(f"```{label}\n{GAME}```\n").code == GAME


def test_accepts_a_bare_fence_whose_content_parses() -> None:
    assert extract_program("```\n" + GAME + "```\n").code == GAME


def test_skips_a_bare_fence_that_is_not_python() -> None:
    text = "```python\n" + GAME + "```\nRun:\n```\npython flappy.py --fast\n```\n"
    assert extract_program(text).code == GAME


def test_skips_blocks_in_other_languages() -> None:
    text = "```python\n" + GAME + "```\n```bash\npip install pygame\n```\n"
    assert extract_program(text).code == GAME


def test_tolerates_crlf_line_ends() -> None:
    text = ("</think>\n```python\n" + GAME + "```\n").replace("\n", "\r\n")
    assert extract_program(text).code == GAME


def test_dedents_an_indented_fence_in_a_list_item() -> None:
    text = "1. Save it:\n\n   ```python\n   import pygame\n   if True:\n       pass\n   ```\n"
    assert extract_program(text).code == "import pygame\nif True:\n    pass\n"


def test_tolerates_trailing_prose_after_the_block() -> None:
    text = "```python\n" + GAME + "```\n\nThis game uses pygame. Enjoy ``` fences in prose.\n"
    assert extract_program(text).code == GAME


def test_tilde_fences_and_longer_backtick_fences() -> None:
    assert extract_program("~~~python\n" + GAME + "~~~\n").code == GAME
    inner = "s = '''\n```\n'''\n"
    assert extract_program("````python\n" + inner + "````\n").code == inner


def test_no_block_is_a_finding() -> None:
    assert keys("Just describe the game, no code.") == ["extract/no-code-block"]


def test_unclosed_think_means_no_answer() -> None:
    text = "<think>\n```python\n" + GAME + "```\nstill thinking"
    assert keys(text) == ["extract/no-code-block"]


def test_an_unclosed_final_fence_is_its_own_finding_with_its_line() -> None:
    text = "</think>\n\n```python\nimport pygame\ndef main(\n"
    assert keys(text) == ["extract/unclosed-fence@3"]


def test_an_unclosed_final_fence_wins_over_an_earlier_good_block() -> None:
    text = "```python\n" + GAME + "```\nBetter version:\n```python\nimport pyg"
    assert keys(text) == ["extract/unclosed-fence@6"]


def test_empty_text() -> None:
    assert keys("") == ["extract/no-code-block"]


def test_an_empty_python_block_is_no_program() -> None:
    for empty in ("```python\n```\n", "Here:\n```py\n\n   \n```\n"):
        result = extract_program(empty)
        assert result.code is None
        assert [f.key for f in result.findings] == ["extract/no-code-block"]
        assert "empty" in result.findings[0].message


def test_an_empty_final_block_leaves_the_earlier_program() -> None:
    result = extract_program("```python\nprint(1)\n```\nDone.\n```python\n```\n")
    assert result.code == "print(1)\n" and not result.findings


def test_fenced_blocks_marks_the_last_unclosed_block() -> None:
    blocks = fenced_blocks("```py\na\n```\n```\nb\n")
    assert [(b.label, b.closed) for b in blocks] == [("py", True), ("", False)]


def test_parses_as_python_never_raises_on_odd_input() -> None:
    assert not parses_as_python("\x00")
    assert not parses_as_python("(" * 500)


# ------------------------------------------------------------------ property tests

fence_label = st.sampled_from(["python", "py", "Python", "", "bash", "text", "python title=x.py"])
snippet = st.sampled_from([GAME, "x = 1\n", "def f(:\n", "", "print('```')\n", "  indented\n"])
prose = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)


@st.composite
def transcripts(draw: st.DrawFn) -> str:
    pieces = {
        "prose": prose,
        "block": st.builds(lambda label, code: f"```{label}\n{code}```\n", fence_label, snippet),
        "indent": st.builds(
            lambda label, code: f"  ```{label}\n  {code}  ```\n", fence_label, snippet
        ),
    }
    return draw_transcript(draw, pieces, max_parts=5)


@settings(max_examples=300, deadline=None)
@given(transcripts())
def test_extraction_gives_code_or_exactly_one_error_never_both(text: str) -> None:
    result = extract_program(text)
    if result.code is None:
        assert len(result.findings) == 1 and result.findings[0].severity == "error"
    else:
        assert result.findings == [] and result.code_start_line is not None


@settings(max_examples=300, deadline=None)
@given(transcripts(), st.sampled_from(["python", "py", ""]))
def test_a_final_good_block_is_always_the_one_extracted(prefix: str, label: str) -> None:
    text = prefix + "\n</think>\n" + f"```{label}\n{GAME}```\ntrailing words\n"
    assert extract_program(text).code == GAME
