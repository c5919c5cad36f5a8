"""Which part of a transcript each byte belongs to: prompt, reasoning, the final code block, prose.

A quant that keeps prose intact can still change one token of the program, so KL divergence is
reported per region. The text is bytes (tokens render to bytes; a byte-level token may split a
character). Rules, in order:
- prompt: everything up to the end of the last `<|im_start|>assistant\\n` (none if absent);
- reasoning: from there through `</think>` when the answer holds `</think>` or starts with
  `<think>` (an unclosed `<think>` runs to the end);
- code: the last fenced block (```python or ```) after the reasoning, fences included; an
  unclosed last fence runs to the end;
- prose: the rest.
"""

from __future__ import annotations

import re

import numpy as np

REGIONS: tuple[str, ...] = ("prompt", "reasoning", "code", "prose")
PROMPT, REASONING, CODE, PROSE = range(4)

_ASSISTANT = b"<|im_start|>assistant\n"
_THINK_OPEN = b"<think>"
_THINK_CLOSE = b"</think>"
_FENCE = re.compile(rb"^[ \t]*```", re.MULTILINE)


def byte_regions(text: bytes) -> np.ndarray:
    """One region index (REGIONS) per byte of `text`."""
    labels = np.full(len(text), PROSE, dtype=np.int8)
    answer = text.rfind(_ASSISTANT)
    answer = 0 if answer < 0 else answer + len(_ASSISTANT)
    labels[:answer] = PROMPT
    body = answer
    close = text.find(_THINK_CLOSE, answer)
    if close >= 0:
        body = close + len(_THINK_CLOSE)
    elif text.startswith(_THINK_OPEN, answer):
        body = len(text)
    labels[answer:body] = REASONING
    fences = [m.start() for m in _FENCE.finditer(text, body)]
    if fences:
        if len(fences) % 2 == 1:  # an unclosed last fence: the code runs to the end
            labels[fences[-1]:] = CODE
        else:
            end_line = text.find(b"\n", fences[-1])
            labels[fences[-2]:len(text) if end_line < 0 else end_line + 1] = CODE
    return labels


def token_regions(pieces: list[bytes]) -> np.ndarray:
    """The region of each token: that of its first byte in the joined text (empty pieces: the next byte)."""
    text = b"".join(pieces)
    labels = byte_regions(text)
    starts = np.cumsum([0] + [len(p) for p in pieces[:-1]]) if pieces else np.zeros(0, dtype=np.int64)
    if len(text) == 0:
        return np.full(len(pieces), PROSE, dtype=np.int8)
    return labels[np.minimum(starts, len(text) - 1)]
