"""validators/static/transcript.py: unclosed think, cut fence, loop, each at its transcript line."""

from __future__ import annotations

from validators.static.transcript import check_transcript


def keys(text: str) -> list[str]:
    return [f.key for f in check_transcript(text)]


def test_healthy_transcript_has_no_finding() -> None:
    assert keys("<think>\nplan\n</think>\n```python\nx = 1\n```\n") == []


def test_think_opened_and_never_closed() -> None:
    assert keys("intro\n<think>\nstill going") == ["transcript/unclosed-think@2"]


def test_a_transcript_that_starts_inside_think_and_closes_it_is_fine() -> None:
    assert keys("reasoning\n</think>\nanswer\n") == []


def test_text_cut_inside_the_answer_fence() -> None:
    assert keys("</think>\n\n```python\nimport pygame\ndef main(") == ["transcript/cut-in-fence@3"]


def test_text_cut_inside_a_reasoning_draft() -> None:
    found = keys("<think>\nDraft:\n```python\nimport pyg")
    assert found == ["transcript/unclosed-think@1", "transcript/cut-in-fence@3"]


def test_an_unclosed_draft_in_the_reasoning_does_not_shift_the_answer_fences() -> None:
    assert keys("<think>\n```python\nhalf a draft\n</think>\n```python\nx = 1\n```\n") == []


def test_a_loop_is_reported_at_the_line_it_starts() -> None:
    text = "one\ntwo\n" + "Let me check the pipes again.\n" * 20
    (finding,) = check_transcript(text)
    assert finding.key == "transcript/repetition-loop@3"
    assert finding.details["period"] == len("Let me check the pipes again.\n")


def test_crlf_does_not_change_lines() -> None:
    text = "one\r\ntwo\r\n" + "Let me check the pipes again.\r\n" * 20
    assert keys(text) == ["transcript/repetition-loop@3"]
