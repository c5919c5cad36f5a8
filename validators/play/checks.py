"""The checks a play-tester makes (issue 7), on the runs of one smoke report: the autopilot
could fly through pipes (or the game made it impossible), the score counts, texts stay inside
the window, nothing flickers, what the prompt calls random varies across seeded runs, and,
round by round, pipes come from the first round and the best score keeps the round's score.

check_play(code, report) -> findings; validators/smoke/smoke_run.py calls it after the requirement checks.
It also notes the pipes the autopilot flew through in report.scenarios["autopilot"]["pipes_passed"].
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.findings import Finding
from validators.play.player.collision import check_pipes_solid
from validators.play.player.flicker import check_flicker
from validators.play.player.pipes import check_pipes_playable
from validators.play.player.rounds import check_best_kept, check_pipes_by_round
from validators.play.player.score import check_score_counts
from validators.play.player.seeded_runs import check_random
from validators.play.player.text import check_text_inside
from validators.play.track import played_runs

if TYPE_CHECKING:
    from validators.smoke.smoke_run import SmokeReport

AUTOPILOT = "autopilot"


def check_play(code: str, report: SmokeReport) -> list[Finding]:
    runs = played_runs(report.runs)
    if not runs:
        return []
    autopilot = runs.get(AUTOPILOT)
    findings: list[Finding] = []
    if autopilot is not None and AUTOPILOT in report.scenarios:  # shown in the result's details
        report.scenarios[AUTOPILOT]["pipes_passed"] = len(autopilot.passes)
    ended = (report.runs[AUTOPILOT].result or {}).get("outcome") if autopilot else None
    if autopilot is not None and ended == "stopped":  # a crash or hang is the smoke check's finding
        budget_s = report.runs[AUTOPILOT].scenario.max_frames / 60
        findings += check_pipes_playable(autopilot, budget_s)
    findings += check_pipes_by_round(autopilot)
    findings += check_best_kept(autopilot)
    findings += check_score_counts(code, autopilot)
    findings += check_pipes_solid(runs)
    findings += check_text_inside(runs)
    findings += check_flicker(runs)
    findings += check_random(runs)
    return findings
