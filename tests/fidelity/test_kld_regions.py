"""Splitting a transcript into prompt, reasoning, final code block and prose."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.fidelity.regions import (
    CODE,
    PROMPT,
    PROSE,
    REASONING,
    REGIONS,
    byte_regions,
    token_regions,
)

TRANSCRIPT = (b"<|im_start|>user\nMake a game<|im_end|>\n<|im_start|>assistant\n<think>\nplan it\n</think>\n"
              b"Here it is:\n```python\nprint('x')\n```\nEnjoy.")


def _region_of(text: bytes, needle: bytes) -> int:
    labels = byte_regions(text)
    return int(labels[text.index(needle)])


def test_each_part_of_a_transcript_gets_its_region() -> None:
    assert _region_of(TRANSCRIPT, b"Make a game") == PROMPT
    assert _region_of(TRANSCRIPT, b"plan it") == REASONING
    assert _region_of(TRANSCRIPT, b"</think>") == REASONING
    assert _region_of(TRANSCRIPT, b"Here it is") == PROSE
    assert _region_of(TRANSCRIPT, b"print(") == CODE
    assert _region_of(TRANSCRIPT, b"```\nEnjoy") == CODE
    assert _region_of(TRANSCRIPT, b"Enjoy") == PROSE


def test_only_the_last_code_block_is_the_code_region() -> None:
    text = b"</think>a\n```python\nfirst\n```\nb\n```python\nlast\n```\n"
    assert _region_of(text, b"first") == PROSE
    assert _region_of(text, b"last") == CODE


def test_an_unclosed_think_or_fence_runs_to_the_end() -> None:
    assert _region_of(b"<|im_start|>assistant\n<think>\nloops forever", b"forever") == REASONING
    assert _region_of(b"</think>x\n```python\nnever closed", b"closed") == CODE


def test_a_token_takes_the_region_of_its_first_byte() -> None:
    pieces = [b"<|im_start|>assistant\n", b"<think>", b"\nhm", b"</think>", b"\n```", b"python\nx", b"\n```\n"]
    labels = list(token_regions(pieces))
    assert labels[0] == PROMPT and labels[2] == REASONING and labels[5] == CODE


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from([b"<think>", b"</think>", b"```", b"```python\n", b"\n", b"x = 1",
                                 b"<|im_start|>assistant\n", b"prose "]), max_size=30))
def test_every_byte_gets_exactly_one_known_region(parts: list[bytes]) -> None:
    text = b"".join(parts)
    labels = byte_regions(text)
    assert len(labels) == len(text)
    assert all(0 <= int(v) < len(REGIONS) for v in labels)
    assert len(token_regions(parts)) == len(parts)
