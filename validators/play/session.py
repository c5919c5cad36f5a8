"""The smoke run as gencheck judges it: every scenario played in the sandbox, then what the
prompt asks (requirements) and what a player would see (the play checks), read from the record.

The smoke run itself only plays and says how each scenario ended; the judgement sits here, above
it, so the player's checks can read the smoke run's types without the smoke run importing them.
"""

from __future__ import annotations

from validators.play.checks import check_play
from validators.play.requirements import check_requirements
from validators.smoke.smoke_run import SmokeOptions, SmokeReport, play_scenarios


def run_smoke(code: str, options: SmokeOptions | None = None) -> SmokeReport:
    """Play every scenario; unless `options.requirements` is off, add the requirement and
    player findings and the k/8 requirement score to the report."""
    options = options or SmokeOptions()
    report = play_scenarios(code, options)
    if options.requirements and report.settings is not None:
        req_findings, report.requirements_score = check_requirements(code, report, report.settings)
        report.findings += req_findings
        report.findings += check_play(code, report)
    return report
