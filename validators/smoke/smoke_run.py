"""The smoke run: play the program headless, in the sandbox, through the prompt's scenarios.

play_scenarios(code, options) runs every scenario of the prompt (prompts/<name>.toml) in its own
sandbox with the child-side harness (validators/smoke/harness/), reads back what the harness wrote
(result.json, the per-frame draw record, PNG screenshots) and turns each failure into a
`smoke` finding: exception, no-frame, early-exit, quit-ignored, hang, resource-limit, crash.
The requirement checks (validators/play/requirements.py) then read the same draw record.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pipeline.codes import finding
from pipeline.errors import UsageError
from pipeline.findings import Finding
from validators.sandbox.box import Limits, Sandbox, SandboxResult, choose_tier, claims
from validators.smoke.out_files import (
    keep_screenshots,
    read_exit,
    read_frames,
    read_result,
    read_tail,
)
from validators.smoke.scenarios import Scenario, SmokeSettings, load_scenarios

HARNESS_DIR = Path(__file__).with_name("harness")
HARNESS_FILES = ("run_scenarios.py", "run_game.py", "harness_clock.py", "harness_input.py", "harness_record.py",
                 "autopilot.py", "draw_reader.py")
OUT_DIR = "_out"
# pygame imports numpy, whose BLAS would start a thread (with its own buffers) per core in
# every sandboxed process; a game needs none of them.
ONE_THREAD_BLAS = {name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                          "MKL_NUM_THREADS")}


@dataclass(frozen=True)
class SmokeOptions:
    screenshots_dir: Path | None = None   # where PNGs are kept; None keeps none
    min_sandbox: str | None = None        # refuse to run below this tier
    sandbox_tier: str | None = None       # force a tier (default: the strongest available)
    prompt: str = "flappy_bird"
    wall_s: float | None = None           # per scenario; default from the prompt's [smoke]
    hang_s: float | None = None           # wall seconds without a frame = hang
    parallel: int | None = None           # scenarios at once; default: CPU count
    seed: int = 0                         # Python's `random` seed inside the game
    only: tuple[str, ...] | None = None   # run only these scenarios
    requirements: bool = True             # also run the prompt's requirement checks


@dataclass
class ScenarioRun:
    scenario: Scenario
    result: dict[str, Any] | None      # the harness's result.json, None if it left none
    sandbox: SandboxResult
    frames: list[dict[str, Any]]       # the draw record: one entry per frame
    screenshots: list[Path]

    def summary(self) -> dict[str, Any]:
        r = self.result or {}
        data: dict[str, Any] = {
            "outcome": r.get("outcome", "no-result"), "frames": r.get("frame"),
            "flips": r.get("flips"), "virtual_s": round(r.get("virtual_ms", 0) / 1000, 2),
            "wall_s": round(self.sandbox.wall_s, 3), "stop_reason": r.get("stop_reason"),
            "screenshots": [str(p) for p in self.screenshots],
        }
        if "skipped_after" in r:  # not run: the game hung before its first frame there
            data["skipped_after"] = r["skipped_after"]
        if "exception" in r:
            data["exception"] = {k: r["exception"][k] for k in ("type", "message", "line")}
        return data


@dataclass
class SmokeReport:
    findings: list[Finding]
    screenshots: list[Path]
    sandbox_tier: str
    scenarios: dict[str, dict[str, Any]]
    runs: dict[str, ScenarioRun] = field(default_factory=dict)
    requirements_score: tuple[int, int] | None = None
    settings: SmokeSettings | None = None   # the prompt's [smoke] table the scenarios ran under

    def to_json(self) -> dict[str, Any]:
        # what the tier promised on this machine: the basic tier as root, say, has no
        # "no-network", and a reader of the result must not have to know that
        data: dict[str, Any] = {"sandbox_tier": self.sandbox_tier,
                                "sandbox_guarantees": sorted(claims(self.sandbox_tier)),
                                "scenarios": self.scenarios,
                                "screenshots": [str(p) for p in self.screenshots]}
        if self.requirements_score:
            data["requirements"] = "{}/{}".format(*self.requirements_score)
        return data


def play_scenarios(code: str, options: SmokeOptions | None = None) -> SmokeReport:
    """Every scenario of the prompt, played in the sandbox; no judgement beyond how each ended.

    The requirement and player checks read this report: `run_smoke` (validators/play/session.py)
    runs both."""
    options = options or SmokeOptions()
    settings, scenarios = load_scenarios(options.prompt)
    if options.only:
        unknown = sorted(set(options.only) - {s.name for s in scenarios})
        if unknown:
            raise UsageError(f"no scenario named {', '.join(unknown)} in prompt {options.prompt!r} "
                             f"(it declares {', '.join(s.name for s in scenarios)})")
        scenarios = [s for s in scenarios if s.name in options.only]
    tier = choose_tier(options.sandbox_tier, options.min_sandbox)
    if options.screenshots_dir is not None:
        prepare_screenshots_dir(options.screenshots_dir)
    runs = run_scenarios(code, scenarios, settings, tier, options)
    findings = merge_findings([f for run in runs for f in classify(run, settings)])
    report = SmokeReport(
        findings=findings,
        screenshots=[p for run in runs for p in run.screenshots],
        sandbox_tier=tier,
        scenarios={run.scenario.name: {**run.summary(), "tier": run.sandbox.tier} for run in runs},
        runs={run.scenario.name: run for run in runs},
        settings=settings,
    )
    return report


def run_scenarios(code: str, scenarios: list[Scenario], settings: SmokeSettings, tier: str,
                  options: SmokeOptions) -> list[ScenarioRun]:
    """All scenarios in one sandbox: the harness imports pygame once, then forks one child per
    scenario (`parallel` at a time), each with its own cwd, output files and wall-clock limit."""
    wall_s = options.wall_s or settings.wall_s
    parallel = options.parallel or max(1, min(len(scenarios), os.cpu_count() or 1))
    rounds = -(-len(scenarios) // parallel)
    limits = Limits(wall_s=wall_s * rounds + 5, cpu_s=int(wall_s) + 5)
    with Sandbox(tier=tier, limits=limits) as box:
        box.write("game.py", code)
        for name in HARNESS_FILES:
            box.write(f"_harness/{name}", (HARNESS_DIR / name).read_bytes())
        job = {"game": "game.py", "out_dir": OUT_DIR, "seed": options.seed,
               "hang_s": options.hang_s or settings.hang_s, "wall_s": wall_s,
               "parallel": parallel,
               "scenarios": [{**s.to_job(settings.quit_keys),
                              "screenshot_frames": list(s.screenshot_frames)} for s in scenarios]}
        box.write("_job.json", json.dumps(job))
        whole = box.run([sys.executable, "-I", "_harness/run_scenarios.py", "_job.json"],
                        env={"SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy",
                             "PYGAME_HIDE_SUPPORT_PROMPT": "1", **ONE_THREAD_BLAS})
        runs = []
        # every file below was within the game's reach: read it as untrusted (smoke_files.py)
        root, cap = box.root, box.limits.output_bytes
        for scenario in scenarios:
            out = box.workdir / OUT_DIR / scenario.name
            result = read_result(out, root)
            runs.append(ScenarioRun(scenario, result, _child_result(whole, out, root),
                                    read_frames(out / "frames.jsonl", root, cap),
                                    keep_screenshots(out, root, scenario.name, result,
                                                     options.screenshots_dir, cap)))
    return runs


def prepare_screenshots_dir(target: Path) -> None:
    """Make the screenshots dir before any run, so a path that cannot be one is the user's
    one-line mistake up front, not a traceback after the run."""
    if target.exists() and not target.is_dir():
        raise UsageError(f"screenshots dir {target}: exists and is not a directory")
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"screenshots dir {target}: cannot be created ({exc.strerror})") from None
    if not os.access(target, os.W_OK | os.X_OK):
        raise UsageError(f"screenshots dir {target}: not writable")


def _child_result(whole: SandboxResult, out: Path, root: Path) -> SandboxResult:
    """How one scenario's process ended, from the harness's exit.json; when the whole sandbox
    was stopped first, the sandbox's own ending stands for it."""
    ended = read_exit(out, root)
    stderr = read_tail(out / "stderr", root) or whole.stderr
    if ended is None:
        return replace(whole, stderr=stderr)
    return SandboxResult(
        tier=whole.tier, exit_code=ended.get("exit_code"), signal=ended.get("signal"),
        timed_out=ended["timed_out"], wall_s=float(ended.get("wall_s") or 0.0),
        stdout=read_tail(out / "stdout", root), stderr=stderr,
        descendants_killed=whole.descendants_killed, supervisor_lost=whole.supervisor_lost)


def classify(run: ScenarioRun, settings: SmokeSettings) -> list[Finding]:
    """What went wrong in one scenario, as smoke findings (none when it behaved)."""
    sc, r, box = run.scenario, run.result, run.sandbox
    where = {"scenario": sc.name, "sandbox_tier": box.tier}
    if run.screenshots:
        where["screenshot"] = str(run.screenshots[-1])
    if r is None:
        limit = box.limit_hit
        if limit in ("memory", "cpu", "output"):
            return [finding("smoke/resource-limit", f"killed by the {limit} limit in scenario "
                            f"{sc.name!r}", None, limit=limit, **where)]
        if box.timed_out:
            return [finding("smoke/hang", f"no result within {box.wall_s:.0f} s of wall time in "
                            f"scenario {sc.name!r}", None, **where)]
        how = f"signal {box.signal}" if box.signal else f"exit code {box.exit_code}"
        return [finding("smoke/crash", f"the process died ({how}) without a result in scenario "
                        f"{sc.name!r}; stderr: {box.stderr.strip()[-300:]}", None, **where)]
    frame, flips = r.get("frame", 0), r.get("flips", 0)
    where["frame"] = frame
    outcome = r.get("outcome")
    if outcome == "exception":
        exc = r["exception"]
        if exc["type"] == "MemoryError":
            return [finding("smoke/resource-limit", f"MemoryError (the memory limit) in scenario "
                            f"{sc.name!r} at frame {frame}", exc["line"], limit="memory", **where)]
        if "[Errno 27]" in exc["message"]:
            return [finding("smoke/resource-limit", f"the output size limit stopped a write in "
                            f"scenario {sc.name!r} at frame {frame}", exc["line"], limit="output",
                            **where)]
        when = "before the first frame" if flips == 0 else f"at frame {frame}"
        when += _recent_input(run.frames, frame)
        return [finding("smoke/exception", f"{exc['type']}: {exc['message']} {when} in "
                        f"scenario {sc.name!r}", exc["line"], exception=exc["type"],
                        traceback=exc.get("traceback", "")[-1500:], **where)]
    if outcome == "hang":
        hung_in = r.get("skipped_after", sc.name)  # scenarios skipped after it share its hang
        return [finding("smoke/hang", f"no frame for {r.get('hang_s')} s of wall time at frame "
                        f"{frame} in scenario {hung_in!r} (a loop that never draws or handles "
                        f"events)", r.get("line"), **where)]
    if box.limit_hit in ("memory", "cpu", "output"):
        return [finding("smoke/resource-limit", f"killed by the {box.limit_hit} limit in scenario "
                        f"{sc.name!r}", None, limit=box.limit_hit, **where)]
    quit_frame = sc.quit_frame(settings.quit_keys)
    if outcome == "exit":
        if flips == 0:
            return [finding("smoke/no-frame", f"the program exited without drawing a frame in "
                            f"scenario {sc.name!r}", None, **where)]
        if sc.expect == "running" or quit_frame is None or frame < quit_frame:
            before = (f"before its quit action at frame {quit_frame}" if quit_frame is not None
                      else "although nothing asked it to")
            return [finding("smoke/early-exit", f"the program exited at frame {frame} {before} "
                            f"in scenario {sc.name!r}", None, exit_code=r.get("exit_code"),
                            **where)]
        return []
    # outcome "stopped": the harness ended the game at its frame budget
    if flips == 0:
        return [finding("smoke/no-frame", f"{frame} frames passed without one drawn in scenario "
                        f"{sc.name!r}", None, **where)]
    if sc.expect == "exit":
        action = _describe_quit(sc, settings)
        return [finding("smoke/quit-ignored", f"still running {frame - (quit_frame or 0)} frames "
                        f"after {action} in scenario {sc.name!r}", None, action=action, **where)]
    return []


def _recent_input(frames: list[dict[str, Any]], frame: int) -> str:
    """`(right after pressing space at frame 300)` when input came just before a failure."""
    for entry in reversed(frames[-4:]):
        downs = [key for kind, key in entry.get("in", []) if kind == "down"]
        if downs and frame - int(entry.get("f", 0)) <= 3:
            return f" (right after pressing {downs[-1]} at frame {entry['f']})"
    return ""


def _describe_quit(sc: Scenario, settings: SmokeSettings) -> str:
    for step in sc.steps:
        if step.get("event") == "quit":
            return "the window was closed (QUIT event)"
        if step.get("press") in settings.quit_keys:
            return f"pressing {step['press']}"
    return "the quit action"


def merge_findings(findings: list[Finding]) -> list[Finding]:
    """One finding per failure: the same code on the same line in several scenarios is one,
    with every scenario listed in its details."""
    merged: dict[tuple[str, int | None, str], Finding] = {}
    for f in findings:
        key = (f.code, f.line, str(f.details.get("exception", f.details.get("action", ""))))
        if key not in merged:
            merged[key] = f
            continue
        first = merged[key]
        scenarios = list(first.details.get("scenarios", [first.details.get("scenario")]))
        scenarios.append(f.details.get("scenario"))
        merged[key] = Finding(first.check, first.code, first.severity, first.message, first.line,
                              {**first.details, "scenarios": scenarios})
    return list(merged.values())
