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


def test_eta_follows_the_mean_generation_time_of_the_samples_left() -> None:
    progress = RunProgress(3, enabled=False)
    assert progress.eta_seconds() is None
    progress.generating("a", "")
    progress._sample_started -= 10.0  # as if the first sample took ten seconds
    progress.generated_sample()
    eta = progress.eta_seconds()
    assert eta is not None and 19.0 < eta < 21.0


def test_progress_is_silent_when_stderr_is_not_a_terminal(capsys) -> None:
    with RunProgress(2) as progress:  # pytest's captured stderr is not a terminal
        progress.generating("a", "")
        progress.piece("x")
        progress.generated_sample()
    assert capsys.readouterr().err == ""
