"""Play one game through one scenario, headless, and write what happened to files.

run_scenarios.py (the entry point inside the sandbox) calls play() in a forked child per
scenario. The job names the game file, the scenario (driver, steps, frame budget, when the game
should exit), the screenshot frames and the wall-clock hang budget. Results go to the job's out_dir:
result.json (outcome, frames, exception with the game's line, screenshots), frames.jsonl (one
line per frame: virtual time, the input applied, the draw record) and PNG screenshots.
Imports only the standard library and pygame, and never the project's code.
"""

from __future__ import annotations

import json
import os
import random
import runpy
import sys
import threading
import traceback
from pathlib import Path
from typing import Any

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # -I leaves the script dir out
# pygame.pkgdata tries pkg_resources first (80 ms of imports) and falls back to plain files
# when it is missing; a game never needs it, so the harness takes the fast path.
sys.modules.setdefault("pkg_resources", None)  # type: ignore[arg-type]

import harness_clock  # noqa: E402 - the SDL variables must be set before pygame loads
import harness_input  # noqa: E402
import harness_record  # noqa: E402
import pygame  # noqa: E402

POLLS_PER_IDLE_FRAME = 8  # a loop that polls events without drawing still lets frames pass
SWALLOWED_STOPS_BEFORE_HARD_EXIT = 5


class StopGame(BaseException):
    """Raised out of the game's own calls when the scenario is over (not an Exception, so a
    game's `except Exception` cannot swallow it)."""


class Run:
    def __init__(self, job: dict[str, Any]) -> None:
        self.job = job
        self.scenario = job["scenario"]
        self.game_path = str(Path(job["game"]).resolve())
        self.out = Path(job["out_dir"])
        self.out.mkdir(parents=True, exist_ok=True)
        self.max_frames = int(self.scenario.get("max_frames", 600))
        self.exit_within = int(self.scenario.get("exit_within", 30))
        self.shot_frames = {int(f) for f in job.get("screenshot_frames", [])}
        self.vt = harness_clock.VirtualTime(self.game_path)
        self.driver = harness_input.make_driver(self.scenario)
        self.inputs = harness_input.InputState()
        self.frame = 0          # frame boundaries passed (flips, or ticks/polls without a flip)
        self.flips = 0          # frames actually presented with display.flip/update
        self.polls_since_boundary = 0
        self.flipped_since_tick = False
        self.ticks_seen = False  # does the game keep time with Clock.tick?
        self.flip_time = -1.0    # virtual time of the last frame-ending flip
        self.quit_frame: int | None = None
        self.stop_reason: str | None = None
        self.stops_raised = 0
        self.frames: list[dict[str, Any]] = []
        self.screenshots: list[dict[str, Any]] = []
        self.last_frame: pygame.Surface | None = None
        self.last_progress = harness_clock.real_monotonic()
        self.started_inputs = False
        self.lock = threading.Lock()
        self.finished = False
        self.pid = os.getpid()  # a process the game forks must not write this scenario's result

    # Frame boundaries ------------------------------------------------------------------
    def sync_inputs(self) -> None:
        """Apply the driver's actions for the current frame, once."""
        if not self.started_inputs and pygame.display.get_init():
            self.started_inputs = True
            self._apply(self.frame, [])

    def _apply(self, frame: int, last_ops: list[Any]) -> None:
        actions = self.driver.actions_for_frame(frame, last_ops)
        if actions and pygame.display.get_init():
            self.inputs.apply(frame, actions)
            if self.quit_frame is None and any(self._is_quit(a) for a in actions):
                self.quit_frame = frame

    def _is_quit(self, action: harness_input.Action) -> bool:
        kind, key = action
        return kind == "quit" or (kind == "down" and key in self.scenario.get("quit_keys", ()))

    def boundary(self, flipped: bool) -> None:
        ops = harness_record.RECORDER.take_frame()
        entry: dict[str, Any] = {"f": self.frame, "t": int(self.vt.now_ms), "flip": int(flipped),
                                 "in": [[k, key] for (fr, k, key) in self.inputs.applied if fr == self.frame],
                                 "ops": ops}
        self.frames.append(entry)
        if flipped:
            self.flips += 1
            self._keep_last_frame()
            if self.frame in self.shot_frames:
                self.screenshot(f"f{self.frame:04d}")
        self.frame += 1
        self.polls_since_boundary = 0
        self.last_progress = harness_clock.real_monotonic()
        if self.frame >= self.max_frames:
            self.stop("max-frames")
        if self.quit_frame is not None and self.frame > self.quit_frame + self.exit_within:
            self.stop("quit-ignored")
        if getattr(self.driver, "finished", None):  # a driver that plays (autopilot) is done
            self.stop(str(self.driver.finished))
        self.started_inputs = True
        self._apply(self.frame, ops)

    def stop(self, reason: str) -> None:
        self.stop_reason = self.stop_reason or reason
        self.stops_raised += 1
        if self.stops_raised > SWALLOWED_STOPS_BEFORE_HARD_EXIT:
            self.finish({"outcome": "stopped", "stop_reason": self.stop_reason,
                         "note": "the game swallowed the harness's stop"})
            os._exit(0)
        raise StopGame(reason)

    def _keep_last_frame(self) -> None:
        screen = harness_record.RECORDER.screen
        if screen is None:
            return
        if self.last_frame is None or self.last_frame.get_size() != screen.get_size():
            self.last_frame = pygame.Surface(screen.get_size())
        pygame.Surface.blit(self.last_frame, screen, (0, 0))

    def screenshot(self, label: str, surface: pygame.Surface | None = None) -> None:
        surface = surface or harness_record.RECORDER.screen
        if surface is None:
            return
        name = f"{self.scenario['name']}-{label}.png"
        try:
            pygame.image.save(surface, str(self.out / name))
        except (pygame.error, OSError):
            return
        self.screenshots.append({"frame": self.frame, "label": label, "path": name})

    # Patched pygame entry points -------------------------------------------------------
    def install(self) -> None:
        real_flip, real_update = pygame.display.flip, pygame.display.update
        real_get, real_poll = pygame.event.get, pygame.event.poll
        real_peek = pygame.event.peek
        run = self

        def on_tick() -> None:
            run.ticks_seen = True
            if not run.flipped_since_tick:
                run.boundary(False)
            run.flipped_since_tick = False

        harness_clock.install(self.vt, on_tick)
        harness_record.install()

        def presented() -> None:
            """A flip or update ends a frame, except one that follows another with nothing
            drawn and no time passed between them (an update per dirty rect). A game with no
            clock at all runs flat out, so each of its frames costs a frame of time."""
            idle = run.vt.now_ms == run.flip_time
            if idle and run.flips and not harness_record.RECORDER.frame_ops:
                return
            if idle and run.flips and not run.ticks_seen:
                run.vt.advance(harness_clock.DEFAULT_FRAME_MS)
            run.flipped_since_tick = True
            run.flip_time = run.vt.now_ms
            run.boundary(True)

        def flip() -> None:
            real_flip()
            presented()

        def update(*args: Any, **kwargs: Any) -> None:
            real_update(*args, **kwargs)
            presented()

        def polled() -> None:
            run.sync_inputs()
            run.polls_since_boundary += 1
            if run.polls_since_boundary > POLLS_PER_IDLE_FRAME:
                run.vt.advance(harness_clock.DEFAULT_FRAME_MS)
                run.boundary(False)

        def get(*args: Any, **kwargs: Any) -> list[Any]:
            polled()
            return real_get(*args, **kwargs)

        def poll() -> Any:
            polled()
            return real_poll()

        def peek(*args: Any, **kwargs: Any) -> Any:
            polled()
            return real_peek(*args, **kwargs)

        def wait(timeout: int = 0) -> Any:
            # An empty queue would block forever under the dummy driver: let frames pass.
            # With a timeout, as in pygame, NOEVENT comes back once that much time has passed.
            waited = 0.0
            while True:
                run.sync_inputs()
                event = real_poll()
                if event.type != pygame.NOEVENT or (timeout and waited >= timeout):
                    return event
                step = min(harness_clock.DEFAULT_FRAME_MS, timeout - waited) if timeout else harness_clock.DEFAULT_FRAME_MS
                run.vt.advance(step)
                waited += step
                if not timeout or waited >= harness_clock.DEFAULT_FRAME_MS:
                    run.boundary(False)

        def get_pressed() -> harness_input.PressedKeys:
            run.sync_inputs()
            return run.inputs.get_pressed()

        pygame.display.flip, pygame.display.update = flip, update
        pygame.event.get, pygame.event.poll, pygame.event.wait = get, poll, wait
        pygame.event.peek = peek
        pygame.key.get_pressed = get_pressed
        real_exit = os._exit

        def hard_exit(code: int = 0) -> None:
            run.finish(run.outcome_for_exit(code))
            real_exit(code)

        os._exit = hard_exit

    # Outcomes --------------------------------------------------------------------------
    def outcome_for_exit(self, code: Any) -> dict[str, Any]:
        return {"outcome": "exit", "exit_code": code if isinstance(code, int) or code is None else str(code)}

    def exception_outcome(self, exc: BaseException) -> dict[str, Any]:
        tb = traceback.extract_tb(exc.__traceback__)
        game_lines = [f for f in tb if f.filename == self.game_path]
        where = game_lines[-1] if game_lines else None
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return {"outcome": "exception", "exception": {
            "type": type(exc).__name__, "message": str(exc)[:500],
            "line": where.lineno if where else None, "code": where.line if where else None,
            "traceback": text[-4000:]}}

    def hang_outcome(self, budget_s: float) -> dict[str, Any]:
        frames = sys._current_frames()
        frame = frames.get(threading.main_thread().ident or -1)
        line, code = None, None
        while frame is not None:
            if frame.f_code.co_filename == self.game_path:
                line = frame.f_lineno
                break
            frame = frame.f_back
        if line is not None:
            import linecache

            code = linecache.getline(self.game_path, line).strip() or None
        return {"outcome": "hang", "hang_s": budget_s, "line": line, "code": code}

    def finish(self, outcome: dict[str, Any]) -> None:
        for stream in (sys.stdout, sys.stderr):  # the process ends with os._exit: no flush
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        with self.lock:
            if self.finished or os.getpid() != self.pid:
                return
            self.finished = True
        if self.last_frame is not None:
            self.screenshot("last", self.last_frame)
        screen = harness_record.RECORDER.screen
        result = {**outcome, "scenario": self.scenario["name"], "frame": self.frame,
                  "window": list(screen.get_size()) if screen is not None else None,
                  "flips": self.flips, "virtual_ms": int(self.vt.now_ms),
                  "quit_frame": self.quit_frame, "stop_reason": outcome.get("stop_reason", self.stop_reason),
                  "screenshots": self.screenshots}
        pending = [[k, key] for (fr, k, key) in self.inputs.applied if fr == self.frame]
        ops = harness_record.RECORDER.take_frame()
        if pending or ops:  # the frame the game ended in: its input is often the cause
            self.frames.append({"f": self.frame, "t": int(self.vt.now_ms), "flip": 0,
                                "in": pending, "ops": ops, "partial": 1})
        with open(self.out / "frames.jsonl", "w", encoding="utf-8") as fh:
            previous: Any = None
            for entry in self.frames:
                # A still screen (game over, a pause) repeats its ops: write them once.
                same = entry["ops"] == previous and bool(entry["ops"])
                previous = entry["ops"]
                if same:
                    entry = {k: v for k, v in entry.items() if k != "ops"} | {"same": 1}
                fh.write(json.dumps(entry, separators=(",", ":")) + "\n")
        tmp = self.out / "result.json.tmp"
        tmp.write_text(json.dumps(result), encoding="utf-8")
        os.replace(tmp, self.out / "result.json")

    def watchdog(self) -> None:
        """A game that stops reaching frame boundaries (a busy loop) is a hang: report the
        line it is stuck on, then end the process."""
        budget = float(self.job["hang_s"])
        # Before its first frame a game may legitimately take longer (SysFont runs fc-list,
        # a loaded machine is slow to load fonts); a loop before the first frame is still caught.
        first_frame_budget = max(budget, float(self.job.get("first_frame_s", 8.0)))
        while not self.finished:
            harness_clock.real_sleep(0.05)
            allowed = budget if self.frame else first_frame_budget
            if harness_clock.real_monotonic() - self.last_progress > allowed:
                self.finish(self.hang_outcome(allowed))
                os._exit(3)


def play(job: dict[str, Any]) -> None:
    """Play one scenario in this process, write its result, and end the process."""
    # each scenario its own seed, so the runs of one game sample its random choices
    random.seed(int(job.get("seed", 0)) + int(job["scenario"].get("seed_offset", 0)))
    run = Run(job)
    run.install()
    threading.Thread(target=run.watchdog, daemon=True).start()
    sys.argv = [run.game_path]
    sys.path[0] = str(Path(run.game_path).parent)
    try:
        runpy.run_path(run.game_path, run_name="__main__")
        outcome: dict[str, Any] = {"outcome": "exit", "exit_code": None, "returned": True}
    except StopGame:
        outcome = {"outcome": "stopped"}
    except SystemExit as exc:
        outcome = run.outcome_for_exit(exc.code)
    except BaseException as exc:  # noqa: BLE001 - every failure of the game is a result
        outcome = run.exception_outcome(exc)
    run.finish(outcome)
    os._exit(0)  # pygame atexit handlers and game threads must not outlive the verdict
