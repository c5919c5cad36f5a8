"""Loop detection, shared by the transcript check (a whole text) and the generation loop guard
(a stream of pieces).

A loop is a tail of the text that repeats itself exactly: the same character (endless
spaces or newlines), the same short phrase, the same line, the same paragraph. Exact
periodicity is cheap to test with C-speed string operations: the last `key_chars` of the
tail are looked up earlier in the tail (`str.rfind`), each distance found is a candidate
period p, and the tail is p-periodic over a span S when `tail[-S:] == tail[-S-p:-p]`.
A second signal catches loops that alternate between a few variants: the last
`diversity_lines` non-blank lines hold at most `max_distinct_lines` distinct lines.

Thresholds were measured on the healthy fixtures and long healthy programs
(tests/test_repetition.py holds both sides): healthy Python repeats a line two or three
times in a row (`pygame.draw.rect(...)`, blank lines, `else:`), never eight, and no healthy
answer has 256 characters of one repeated short unit.
"""

from __future__ import annotations

from dataclasses import dataclass

SMALL_PERIOD = 64  # a unit up to this many characters must repeat `small_repeats` times...
SMALL_REPEATS = 8
LARGE_REPEATS = 4  # ...a longer unit (a paragraph) `large_repeats` times
MIN_SPAN_CHARS = 256  # and the repeated span must cover at least this many characters


@dataclass(frozen=True)
class LoopSignal:
    """Where a loop starts (absolute character offset in the stream), its period in characters
    and why it counts as a loop, in words."""

    onset_char: int
    period: int
    reason: str


class RepetitionDetector:
    """Feed pieces of a stream; `feed` returns a LoopSignal the first time the tail has entered
    a loop, None otherwise (and None again after that: the signal stays in `.signal`).

    The work per feed is amortised O(len(piece)): the buffer is trimmed to `window_chars`, and
    the tail is tested only after every `check_every` new characters, each test bounded by the
    window (a handful of C-level searches and slice comparisons).
    """

    def __init__(
        self,
        *,
        window_chars: int = 8192,
        check_every: int = 64,
        key_chars: int = 32,
        max_period: int = 2000,
        min_span_chars: int = MIN_SPAN_CHARS,
        small_period: int = SMALL_PERIOD,
        small_repeats: int = SMALL_REPEATS,
        large_repeats: int = LARGE_REPEATS,
        diversity_lines: int = 60,
        max_distinct_lines: int = 6,
        max_candidates: int = 8,
    ) -> None:
        if window_chars < 2 * min_span_chars:
            raise ValueError("window_chars must hold at least two minimal repeated spans")
        self.window_chars = window_chars
        self.check_every = max(1, check_every)
        self.key_chars = key_chars
        self.max_period = max_period
        self.min_span_chars = min_span_chars
        self.small_period = small_period
        self.small_repeats = small_repeats
        self.large_repeats = large_repeats
        self.diversity_lines = diversity_lines
        self.max_distinct_lines = max_distinct_lines
        self.max_candidates = max_candidates
        self._buffer = ""
        self._consumed = 0  # characters fed so far; the buffer ends at this offset
        self._since_check = 0
        self.signal: LoopSignal | None = None

    @property
    def chars_seen(self) -> int:
        return self._consumed

    def feed(self, piece: str) -> LoopSignal | None:
        if not piece or self.signal is not None:
            self._consumed += len(piece)
            return None
        self._buffer += piece
        self._consumed += len(piece)
        self._since_check += len(piece)
        # Keep twice the window so trimming is amortised, not done on every piece.
        if len(self._buffer) > 2 * self.window_chars:
            self._buffer = self._buffer[-self.window_chars :]
        if self._since_check < self.check_every:
            return None
        self._since_check = 0
        self.signal = self.check_tail()
        return self.signal

    def check_tail(self) -> LoopSignal | None:
        """Is the current tail in a loop? (Does not latch; `feed` does.)"""
        tail = self._buffer[-self.window_chars :]
        base = self._consumed - len(tail)
        return periodic_tail(tail, base, self) or low_diversity_tail(tail, base, self)

    def required_span(self, period: int) -> int:
        repeats = self.small_repeats if period <= self.small_period else self.large_repeats
        return max(self.min_span_chars, (repeats - 1) * period)


def periodic_tail(tail: str, base: int, cfg: RepetitionDetector) -> LoopSignal | None:
    """The smallest period p whose repetition covers the required span at the end of `tail`."""
    n = len(tail)
    k = min(cfg.key_chars, n // 2)
    if k == 0:
        return None
    key = tail[-k:]
    end = n - 1  # an occurrence must end before the last char, so its distance is >= 1
    for _ in range(cfg.max_candidates):
        j = tail.rfind(key, 0, end)
        if j < 0:
            return None
        period = n - k - j
        if period > cfg.max_period:
            return None
        span = cfg.required_span(period)
        if span + period <= n and tail[n - span :] == tail[n - span - period : n - period]:
            length = _periodic_suffix_length(tail, period, span)
            onset = _snap_to_line_start(tail, n - length - period, period)
            return LoopSignal(base + onset, period, _describe(tail[onset : onset + period]))
        end = j + k - 1
    return None


def _periodic_suffix_length(tail: str, period: int, known: int) -> int:
    """Largest L with tail[-L:] == tail[-L-period:-period], given that `known` holds."""
    lo, hi = known, len(tail) - period
    while lo < hi:  # periodicity of a suffix is monotone in its length: binary search
        mid = (lo + hi + 1) // 2
        if tail[len(tail) - mid :] == tail[len(tail) - mid - period : len(tail) - period]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _snap_to_line_start(tail: str, onset: int, period: int) -> int:
    """A repeated unit that spans lines is reported from the start of a line, not from the
    tail of the line before that happens to end like the unit ("...enough." / "...pixels.")."""
    if onset == 0 or tail[onset - 1] == "\n":
        return onset
    newline = tail.find("\n", onset, onset + period)
    return newline + 1 if newline >= 0 else onset


def low_diversity_tail(tail: str, base: int, cfg: RepetitionDetector) -> LoopSignal | None:
    """The last `diversity_lines` non-blank lines are a few lines over and over; the loop is
    reported from the first line of that run (it may reach back past those lines)."""
    *lines, partial = tail.split("\n")  # the last line is still being written
    distinct: set[str] = set()
    onset = None
    nonblank = 0
    start = len(tail) - len(partial)
    for line in reversed(lines):
        start -= len(line) + 1  # where this line begins in the tail
        text = line.strip()
        if not text:
            continue
        if nonblank < cfg.diversity_lines:
            distinct.add(text)
            nonblank += 1
            if len(distinct) > cfg.max_distinct_lines:
                return None
        elif text not in distinct:
            break  # the run of a few lines begins after this one
        onset = start
    if nonblank < cfg.diversity_lines or onset is None:
        return None
    return LoopSignal(
        base + onset,
        sum(len(text) for text in distinct),
        f"the last {cfg.diversity_lines} non-blank lines are only {len(distinct)} distinct lines",
    )


def _describe(unit: str) -> str:
    if unit.strip() == "":
        names = {" ": "spaces", "\n": "newlines", "\t": "tabs"}
        kinds = sorted(names.get(c, repr(c)) for c in set(unit))
        return "an endless run of " + " and ".join(kinds)
    shown = unit if len(unit) <= 60 else unit[:57] + "..."
    if len(set(unit)) == 1:
        return f"an endless run of {unit[0]!r}"
    if unit.count("\n") == 1 and unit.endswith("\n"):
        return f"the same line repeats: {shown!r}"
    if unit.count("\n") >= 2:
        return f"a {len(unit)}-character passage repeats: {shown!r}"
    return f"the same {len(unit)}-character unit repeats: {shown!r}"


def find_loop(
    text: str, *, window_chars: int = 65536, max_period: int = 16000
) -> LoopSignal | None:
    """Does `text` end in a loop it never leaves? One check of its tail, with a wide window so a
    repeated long passage is seen too. A loop the text escaped from is not reported."""
    detector = RepetitionDetector(window_chars=window_chars, max_period=max_period, check_every=1)
    return detector.feed(text)
