"""The live display: counts, phase and speed of the current sample, ETA; silent off a terminal."""

from __future__ import annotations

from pipeline.runs.progress import RunProgress


def test_display_counts_samples_and_shows_the_current_phase() -> None:
    progress = RunProgress(4, enabled=False)
    progress.reused_sample()
    progress.generating("tiny / unsloth-qwq seed 2", "<|im_start|>assistant\n<think>\n")
    for piece in ("Let", " me", " think", "</think>", "\n```python"):
        progress.piece(piece)
    text = progress._render().plain
    assert "samples 1/4 (generated 0, reused 1)" in text
    assert "now: tiny / unsloth-qwq seed 2: answer, 5 tokens" in text


def test_eta_follows_the_rate_samples_finished_at_so_far() -> None:
    progress = RunProgress(3, enabled=False)
    assert progress.eta_seconds() is None
    progress.generating("a", "")
    progress._started -= 10.0  # as if the first sample took ten seconds
    progress.generated_sample()
    eta = progress.eta_seconds()
    assert eta is not None and 19.0 < eta < 21.0


def test_progress_is_silent_when_stderr_is_not_a_terminal(capsys) -> None:
    with RunProgress(2) as progress:  # pytest's captured stderr is not a terminal
        progress.generating("a", "")
        progress.piece("x")
        progress.generated_sample()
    assert capsys.readouterr().err == ""


def test_parallel_slots_each_show_their_sample_and_the_overall_line_sums_them() -> None:
    progress = RunProgress(8, enabled=False, n_slots=2)
    progress.generating("a seed 1", "<think>\n", slot=0)
    progress.generating("a seed 2", "", slot=1)
    for _ in range(3):
        progress.piece("x", slot=0)
    progress.piece("y", slot=1)
    text = progress._render().plain
    assert "slot 0: a seed 1: thinking, 3 tokens" in text
    assert "slot 1: a seed 2: answer, 1 tokens" in text
    assert "over 2 slots" in text and progress.tokens == 4
    progress.generated_sample(slot=0)
    assert "slot 0" not in progress._render().plain


def test_eta_counts_samples_finished_together_by_parallel_slots() -> None:
    progress = RunProgress(8, enabled=False, n_slots=4)
    for slot in range(4):
        progress.generating(f"s{slot}", "", slot=slot)
    progress._started = (progress._started or 0.0) - 10.0  # four samples in ten seconds
    for slot in range(4):
        progress.generated_sample(slot=slot)
    eta = progress.eta_seconds()
    assert eta is not None and 9.0 < eta < 11.0
