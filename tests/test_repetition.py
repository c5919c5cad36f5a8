"""pipeline/repetition.py: loops trip the detector, healthy answers never do, streaming agrees
with the whole-text check."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.repetition import LoopSignal, RepetitionDetector, find_loop

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
HEALTHY = sorted(
    [p for p in (FIXTURES / "programs").glob("healthy_*.py")]
    + [
        p
        for p in (FIXTURES / "transcripts").glob("*")
        if p.name.startswith(("healthy_", "two_blocks", "crlf_"))
    ]
)
INTRO = "Okay, let me write the game. First the window, then the bird.\n"

LOOPS = {
    "repeated_paragraph": INTRO
    + "Wait, the collision check looks right. The bird rect and the pipe rect overlap, so it is "
    "game over.\nLet me check again.\n\n" * 6,
    "repeated_line": INTRO + "The pipe gap should be 150 pixels.\n" * 12,
    "endless_spaces": INTRO + "def main():\n" + " " * 400,
    "endless_newlines": INTRO + "\n" * 400,
    "repeated_short_phrase": INTRO + "I think " * 60,
    "two_alternating_lines": INTRO
    + "".join(f"Check pipe {i % 2}.\nIt moves left.\n" for i in range(80)),
}


def stream(text: str, piece: int, **kw: int) -> LoopSignal | None:
    detector = RepetitionDetector(**kw)
    for start in range(0, len(text), piece):
        signal = detector.feed(text[start : start + piece])
        if signal is not None:
            return signal
    return None


@pytest.mark.parametrize("name", sorted(LOOPS))
def test_whole_text_check_finds_each_kind_of_loop(name: str) -> None:
    signal = find_loop(LOOPS[name])
    assert signal is not None
    assert len(INTRO) - 1 <= signal.onset_char <= len(INTRO) + 40


@pytest.mark.parametrize("name", sorted(LOOPS))
@pytest.mark.parametrize("piece", [1, 3, 17, 200])
def test_streaming_trips_on_each_kind_of_loop_whatever_the_piece_size(
    name: str, piece: int
) -> None:
    assert stream(LOOPS[name], piece) is not None


@pytest.mark.parametrize("path", HEALTHY, ids=lambda p: p.name)
def test_healthy_answers_never_trip(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert find_loop(text) is None
    assert stream(text, 4) is None
    assert stream(text, 1, check_every=1) is None


HALF_THRESHOLDS = {
    "min_span_chars": 128,
    "small_repeats": 4,
    "large_repeats": 2,
    "diversity_lines": 30,
    "check_every": 1,
}


@pytest.mark.parametrize("path", HEALTHY, ids=lambda p: p.name)
def test_healthy_answers_stay_clear_even_at_half_the_thresholds(path: Path) -> None:
    # The margin the defaults keep: halving every threshold still trips nothing healthy.
    assert stream(path.read_text(encoding="utf-8"), 3, **HALF_THRESHOLDS) is None


def test_repeated_code_lines_a_healthy_program_has_do_not_trip() -> None:
    program = (
        "def draw():\n"
        + "    pygame.draw.rect(screen, RED, pipe_rect)\n" * 3
        + "\n\n\n"
        + "    else:\n        pass\n" * 3
        + "# "
        + "=" * 78
        + "\n"
        + "grid = ["
        + "0, " * 40
        + "]\n"
    )
    assert find_loop(program) is None
    assert stream(program, 5) is None


def test_a_few_lines_in_no_fixed_order_trip_the_diversity_signal() -> None:
    import random

    rng = random.Random(7)
    variants = ["Check the pipe.", "Check the bird.", "Check the score.", "Hmm."]
    text = INTRO + "".join(rng.choice(variants) + "\n" for _ in range(200))
    signal = find_loop(text)
    assert signal is not None and "distinct lines" in signal.reason
    assert signal.onset_char == len(INTRO)  # from the run's first line, not 60 lines back


def test_the_diversity_onset_is_a_line_start_even_mid_line() -> None:
    import random

    rng = random.Random(7)
    variants = ["Check the pipe.", "Check the bird.", "Check the score.", "Hmm."]
    text = INTRO + "".join(rng.choice(variants) + "\n" for _ in range(100)) + "Check the"
    signal = RepetitionDetector(window_chars=1024, max_period=200).feed(text)
    assert signal is not None and "distinct lines" in signal.reason
    assert signal.onset_char > 0 and text[signal.onset_char - 1] == "\n"


def test_a_loop_the_text_leaves_is_not_reported() -> None:
    text = LOOPS["repeated_line"] + "Fine, moving on.\n" + INTRO * 2 + "Now the score text.\n"
    assert find_loop(text) is None


def test_signal_is_reported_once_and_kept() -> None:
    detector = RepetitionDetector()
    signals = [detector.feed(piece) for piece in ["x" * 100] * 10]
    assert sum(s is not None for s in signals) == 1
    assert detector.signal == next(s for s in signals if s is not None)


def test_onset_points_at_the_start_of_the_repeated_line() -> None:
    text = LOOPS["repeated_line"]
    signal = find_loop(text)
    assert signal is not None and text[signal.onset_char :].startswith("The pipe gap")
    assert signal.period == len("The pipe gap should be 150 pixels.\n")
    assert "line repeats" in signal.reason


def test_describes_endless_whitespace() -> None:
    signal = find_loop(LOOPS["endless_spaces"])
    assert signal is not None and "spaces" in signal.reason and signal.period == 1


def test_window_must_hold_two_spans() -> None:
    with pytest.raises(ValueError):
        RepetitionDetector(window_chars=100)


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet="abc \n", min_size=1, max_size=30),
    st.integers(min_value=20, max_value=60),
    st.integers(min_value=1, max_value=50),
)
def test_any_unit_repeated_long_enough_trips_streaming_and_whole(
    unit: str, repeats: int, piece: int
) -> None:
    text = "prefix that does not repeat: 0123456789\n" + unit * max(repeats, 600 // len(unit))
    assert find_loop(text) is not None
    assert stream(text, piece) is not None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=200), max_size=40), st.integers(1, 300))
def test_feed_never_raises_and_counts_every_character(pieces: list[str], piece: int) -> None:
    detector = RepetitionDetector()
    for text in pieces:
        detector.feed(text)
    assert detector.chars_seen == sum(map(len, pieces))
