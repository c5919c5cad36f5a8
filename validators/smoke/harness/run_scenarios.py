"""Run every scenario of a job, each in a forked child that plays it (run_game.play).

Usage (inside the sandbox, cwd = its temp dir): python -I run_scenarios.py job.json

pygame is imported once here, before the forks, so no child pays for it. `parallel` children
run at once, each under the job's wall-clock limit; how each ended goes to
<out_dir>/<scenario>/exit.json. A game that hangs before its first frame hangs there whatever
the scenario (no input has reached it yet), so the scenarios not yet started are not run: each
gets the hung one's result, marked `skipped_after`, instead of another wait for the same hang.
Imports only the standard library and pygame (through run_game), never the project's code.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # -I leaves the script dir out

import harness_clock  # noqa: E402
import run_game  # noqa: E402 - imports pygame, with the SDL variables set first


def start_scenario(job: dict[str, Any], scenario: dict[str, Any]) -> int:
    """Fork a child that plays one scenario with its own cwd, HOME, output files and result
    dir."""
    out = Path(job["out_dir"]).resolve() / scenario["name"]
    home = Path("_runs").resolve() / scenario["name"]
    out.mkdir(parents=True, exist_ok=True)
    home.mkdir(parents=True, exist_ok=True)
    game = str(Path(job["game"]).resolve())
    pid = os.fork()
    if pid:
        return pid
    try:
        for fd, name in ((1, "stdout"), (2, "stderr")):
            target = os.open(out / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(target, fd)
            os.close(target)
        os.chdir(home)
        os.environ["HOME"] = str(home)
        run_game.play({**job, "game": game, "scenario": scenario, "out_dir": str(out),
                       "screenshot_frames": scenario.get("screenshot_frames", [])})
    finally:
        os._exit(70)
    return 0


def hung_before_first_frame(out: Path) -> dict[str, Any] | None:
    """The scenario's result when it is a hang before any frame was drawn."""
    try:
        result = json.loads((out / "result.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if isinstance(result, dict) and result.get("outcome") == "hang" and result.get("flips") == 0:
        return result
    return None


def skip(out_dir: Path, scenario: dict[str, Any], hung: str, result: dict[str, Any]) -> None:
    out = out_dir / scenario["name"]
    out.mkdir(parents=True, exist_ok=True)
    (out / "result.json").write_text(json.dumps(
        {**result, "scenario": scenario["name"], "screenshots": [], "skipped_after": hung}),
        encoding="utf-8")
    (out / "exit.json").write_text(json.dumps(
        {"exit_code": None, "signal": None, "timed_out": False, "wall_s": 0.0}), encoding="utf-8")


def main() -> int:
    job = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    out_dir = Path(job["out_dir"])
    # longest first, so the short ones fill in beside it (the whole run ends sooner)
    todo = sorted(job["scenarios"], key=lambda s: -int(s.get("max_frames", 600)))
    parallel = max(1, int(job.get("parallel", 1)))
    wall_s = float(job.get("wall_s", 20.0))
    running: dict[int, tuple[str, float]] = {}
    while todo or running:
        while todo and len(running) < parallel:
            scenario = todo.pop(0)
            running[start_scenario(job, scenario)] = (scenario["name"], harness_clock.real_monotonic())
        pid, status = os.waitpid(-1, os.WNOHANG)
        now = harness_clock.real_monotonic()
        if pid == 0:
            for child, (name, started) in list(running.items()):
                if now - started > wall_s:
                    os.kill(child, 9)  # reaped, and recorded as timed out, by the next wait
                    running[child] = (name, -1e9)
            harness_clock.real_sleep(0.003)
            continue
        name, started = running.pop(pid, ("?", now))
        record = {"exit_code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
                  "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
                  "timed_out": started < 0, "wall_s": round(now - started, 3) if started > 0 else wall_s}
        (out_dir / name / "exit.json").write_text(json.dumps(record), encoding="utf-8")
        hung = hung_before_first_frame(out_dir / name)
        if hung is not None:
            for scenario in todo:
                skip(out_dir, scenario, name, hung)
            todo = []
    return 0


if __name__ == "__main__":
    sys.exit(main())
