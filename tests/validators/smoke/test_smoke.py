"""The smoke run: real games played headless in the real sandbox through the prompt's scenarios."""

from __future__ import annotations

import struct
from collections import Counter
from pathlib import Path

import pytest

from pipeline.errors import UsageError
from pipeline.findings import verdict
from tests.paths import REPO
from validators.sandbox.box import SandboxResult, available_tiers, choose_tier, claims
from validators.smoke.scenarios import Scenario, SmokeSettings
from validators.smoke.smoke_run import ScenarioRun, classify, merge_findings

from .smoke_runs import expected, game_code, smoke_report

SETTINGS = SmokeSettings()


def test_healthy_game_passes_every_scenario_of_the_prompt():
    report = smoke_report("healthy_events")
    assert report.findings == []
    assert {"play-restart-q", "esc-after-loss", "window-close", "idle"} <= set(report.scenarios)
    assert report.scenarios["idle"]["outcome"] == "stopped"
    assert report.scenarios["idle"]["virtual_s"] >= 9.9  # ten seconds of game time, not of wall
    for name in ("play-restart-q", "esc-after-loss", "window-close"):
        assert report.scenarios[name]["outcome"] == "exit"
    assert report.sandbox_tier == available_tiers()[-1]


def test_screenshots_are_png_files_of_the_window():
    report = smoke_report("healthy_events")
    names = {p.name for p in report.screenshots}
    assert {"play-restart-q-f0299.png", "play-restart-q-last.png", "idle-last.png"} <= names
    data = report.screenshots[0].read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24]) == (400, 600)


def test_draw_record_holds_text_and_where_it_was_blitted():
    run = smoke_report("healthy_events").runs["play-restart-q"]
    over = [op for f in run.frames if f["f"] == 299 for op in f["ops"] if op[0] == "text"]
    assert any(op[4] == "Best: 0" for op in over)
    score = next(op for op in over if op[4] == "0")
    assert score[2][0] > 300 and score[2][1] < 50  # top right of a 400 px window


def test_draw_record_keeps_the_frame_of_a_window_close_and_the_presses_before_it():
    frames = smoke_report("healthy_events").runs["window-close"].frames
    inputs = [(f["f"], kind, key) for f in frames for kind, key in f["in"]]
    assert (60, "quit", None) in inputs
    assert [(f, k) for f, k, _ in inputs if k == "down"] == [(10, "down"), (25, "down"), (40, "down")]


def test_restart_after_loss_runs_reset_code_and_reports_the_nameerror():
    report = smoke_report("restart_nameerror", ("play-restart-q",))
    [f] = [f for f in report.findings if f.check == "smoke"]
    assert f.key == "smoke/exception@34"
    assert "NameError" in f.message and "right after pressing space" in f.message
    assert f.details["scenario"] == "play-restart-q" and f.details["frame"] > 0


def test_ignored_quit_key_is_caught_within_the_scenario_budget():
    report = smoke_report("quit_ignored", ("play-restart-q",))
    [f] = [f for f in report.findings if f.check == "smoke"]
    assert f.key == "smoke/quit-ignored" and "pressing q" in f.message
    assert report.scenarios["play-restart-q"]["wall_s"] < 10


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(expected()))
def test_fixture_game_gets_exactly_its_expected_findings(name):
    want = expected()[name]
    report = smoke_report(name)
    got = Counter(f.key if f.line is not None else f"{f.check}/{f.code}" for f in report.findings)
    assert got == Counter(want["findings"]), [f.message for f in report.findings]
    assert verdict(report.findings) == want["verdict"]
    if "requirements" in want:
        assert report.requirements_score == (want["requirements"], 8)


def _run(result: dict | None, scenario: Scenario, **box) -> ScenarioRun:
    sandbox = SandboxResult(tier="basic", exit_code=box.get("exit_code", 0), signal=box.get("signal"),
                            timed_out=box.get("timed_out", False), wall_s=0.1, stdout="",
                            stderr=box.get("stderr", ""), descendants_killed=0)
    return ScenarioRun(scenario, result, sandbox, [], [])


PLAY = Scenario("play", ({"at": 10, "press": "space"}, {"at": 50, "press": "q"}), expect="exit")
IDLE = Scenario("idle", (), expect="running", max_frames=100)


@pytest.mark.parametrize(("scenario", "result", "box", "code"), [
    (PLAY, {"outcome": "exit", "frame": 30, "flips": 30}, {}, "early-exit"),
    (IDLE, {"outcome": "exit", "frame": 30, "flips": 30}, {}, "early-exit"),
    (PLAY, {"outcome": "exit", "frame": 0, "flips": 0}, {}, "no-frame"),
    (PLAY, {"outcome": "stopped", "frame": 81, "flips": 81, "stop_reason": "quit-ignored"}, {}, "quit-ignored"),
    (PLAY, {"outcome": "hang", "frame": 12, "flips": 12, "line": 7, "hang_s": 2}, {}, "hang"),
    (PLAY, {"outcome": "exception", "frame": 3, "flips": 3,
            "exception": {"type": "MemoryError", "message": "", "line": 4}}, {}, "resource-limit"),
    (PLAY, None, {"signal": 25, "exit_code": None}, "resource-limit"),
    (PLAY, None, {"timed_out": True, "exit_code": None}, "hang"),
    (PLAY, None, {"signal": 11, "exit_code": None}, "crash"),
])
def test_each_failure_of_a_scenario_gets_its_own_code(scenario, result, box, code):
    [f] = classify(_run(result, scenario, **box), SETTINGS)
    assert (f.check, f.code) == ("smoke", code)


@pytest.mark.parametrize(("scenario", "result"), [
    (PLAY, {"outcome": "exit", "frame": 52, "flips": 52}),
    (IDLE, {"outcome": "stopped", "frame": 100, "flips": 100, "stop_reason": "max-frames"}),
])
def test_a_scenario_that_ends_as_declared_has_no_finding(scenario, result):
    assert classify(_run(result, scenario), SETTINGS) == []


def test_same_failure_in_several_scenarios_is_one_finding_listing_them():
    crash = {"outcome": "exception", "frame": 0, "flips": 0,
             "exception": {"type": "TypeError", "message": "m", "line": 9}}
    findings = [f for s in (PLAY, IDLE) for f in classify(_run(crash, s), SETTINGS)]
    [merged] = merge_findings(findings)
    assert merged.key == "smoke/exception@9" and merged.details["scenarios"] == ["play", "idle"]


def test_sandbox_below_min_tier_is_refused_with_a_usage_error():
    with pytest.raises(UsageError, match="min-sandbox"):
        choose_tier("basic", "bwrap" if "bwrap" in available_tiers() else "landlock")
    with pytest.raises(UsageError, match="unknown sandbox tier"):
        choose_tier(None, "chroot")


def test_gencheck_validate_writes_screenshots_and_reports_the_tier(tmp_path, capsys):
    import json

    from pipeline.cli import main

    game = tmp_path / "game.py"
    game.write_text(game_code("healthy_dt"), encoding="utf-8")
    shots = tmp_path / "shots"
    assert main(["validate", str(game), "--screenshots", str(shots), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)["results"][0]
    assert result["details"]["sandbox_tier"] == available_tiers()[-1]
    assert result["details"]["sandbox_guarantees"] == sorted(claims(available_tiers()[-1]))
    assert {"memory", "wall-clock", "no-survivor"} <= set(result["details"]["sandbox_guarantees"])
    assert result["details"]["requirements"] == "8/8"
    assert {Path(p).name for p in result["details"]["screenshots"]} == {p.name for p in shots.iterdir()}
    assert "play-restart-q-last.png" in {p.name for p in shots.iterdir()}


CLOCK_PROBE = """
import time
import pygame
pygame.init()
screen = pygame.display.set_mode((100, 100))
clock = pygame.time.Clock()
TIMER = pygame.USEREVENT + 1
pygame.time.set_timer(TIMER, 500)
t0, m0 = time.time(), time.monotonic()
fired, space = [], []
for frame in range(120):
    for event in pygame.event.get():
        if event.type == TIMER:
            fired.append(pygame.time.get_ticks())
        if event.type == pygame.KEYDOWN and event.key == pygame.K_SPACE:
            space.append(("event", frame))
    if pygame.key.get_pressed()[pygame.K_SPACE]:
        space.append(("pressed", frame))
    screen.fill((0, 0, 0))
    pygame.display.flip()
    dt = clock.tick(60)
time.sleep(30)
print("dt", dt, "ticks", pygame.time.get_ticks(), "time", round(time.time() - t0, 1),
      "mono", round(time.monotonic() - m0, 1))
print("fired", fired)
print("space", space)
"""


def test_virtual_clock_drives_ticks_timers_and_sleep_and_keys_reach_queue_and_get_pressed():
    report = smoke_report_of(CLOCK_PROBE, ("play-restart-q",))
    run = report.runs["play-restart-q"]
    lines = run.sandbox.stdout.splitlines()
    assert lines[0] == "dt 17 ticks 32000 time 32.0 mono 32.0"
    assert lines[1] == "fired [500, 1000, 1500]"
    # SPACE every 20 frames from frame 10: seen as an event and as held, in the same frame
    assert lines[2] == "space " + str([(kind, f) for f in range(10, 120, 20) for kind in ("event", "pressed")])
    assert run.sandbox.wall_s < 5  # thirty seconds of sleep cost no wall time


def smoke_report_of(code: str, only: tuple[str, ...]):
    from validators.play.session import run_smoke
    from validators.smoke.smoke_run import SmokeOptions

    return run_smoke(code, SmokeOptions(only=only, requirements=False))


def test_text_drawn_with_pygame_freetype_is_recorded_too():
    code = """
import sys
import pygame
import pygame.freetype
pygame.init()
screen = pygame.display.set_mode((300, 300))
big, small = pygame.freetype.SysFont(None, 24), pygame.freetype.Font(None, 20)
clock = pygame.time.Clock()
while True:
    for e in pygame.event.get():
        if e.type == pygame.QUIT:
            sys.exit()
    screen.fill((200, 220, 255))
    big.render_to(screen, (200, 10), "7", (0, 0, 0))
    surface, _ = small.render("Best: 3", (0, 0, 0))
    screen.blit(surface, (50, 100))
    pygame.display.flip()
    clock.tick(60)
"""
    report = smoke_report_of(code, ("window-close",))
    ops = report.runs["window-close"].frames[3]["ops"]
    assert [(op[4], op[2][:2]) for op in ops if op[0] == "text"] == [("7", [200, 10]), ("Best: 3", [50, 100])]
    assert report.findings == []


@pytest.mark.parametrize("tier", available_tiers())
def test_the_harness_plays_at_every_sandbox_tier_here(tier):
    from validators.play.session import run_smoke
    from validators.smoke.smoke_run import SmokeOptions

    report = run_smoke(game_code("healthy_polling"),
                       SmokeOptions(sandbox_tier=tier, only=("window-close",), requirements=False))
    assert report.sandbox_tier == tier and report.findings == []
    assert report.scenarios["window-close"]["outcome"] == "exit"


WAITING_GAME = """
import sys
import pygame
pygame.init()
screen = pygame.display.set_mode((200, 200))
screen.fill((200, 220, 255))
pygame.display.flip()
while True:  # a title screen that blocks until SPACE
    event = pygame.event.wait()
    if event.type == pygame.KEYDOWN and event.key == pygame.K_SPACE:
        break
started = pygame.time.get_ticks()
while True:
    event = pygame.event.wait(100)  # a frame limiter: NOEVENT after 100 ms
    if event.type == pygame.KEYDOWN and event.key == pygame.K_q:
        print("started", started, "quit", pygame.time.get_ticks())
        sys.exit()
    screen.fill((200, 220, 255))
    pygame.display.flip()
"""


def test_event_wait_lets_frames_pass_and_returns_noevent_after_its_timeout():
    report = smoke_report_of(WAITING_GAME, ("play-restart-q",))
    assert report.findings == []
    started, quit_at = map(int, report.runs["play-restart-q"].sandbox.stdout.split()[1::2])
    assert 130 <= started <= 200  # SPACE came at frame 10, after nine frames of waiting
    assert quit_at > started + 3000  # the 100 ms waits passed game time until q


def test_only_a_hang_before_any_frame_stands_for_the_scenarios_not_yet_started(tmp_path):
    import json

    from validators.smoke.harness.run_scenarios import hung_before_first_frame, skip

    hang = {"outcome": "hang", "frame": 0, "flips": 0, "hang_s": 8.0, "line": 3}
    for name, result in (("early", hang), ("late", {**hang, "frame": 40, "flips": 40}),
                         ("exit", {"outcome": "exit", "frame": 0, "flips": 0})):
        (tmp_path / name).mkdir()
        (tmp_path / name / "result.json").write_text(json.dumps(result))
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "result.json").write_text("[")
    assert hung_before_first_frame(tmp_path / "early") == hang
    assert [hung_before_first_frame(tmp_path / n) for n in ("late", "exit", "bad")] == [None] * 3
    skip(tmp_path, {"name": "idle"}, "early", hang)
    from validators.smoke.out_files import read_exit, read_result

    assert read_result(tmp_path / "idle", tmp_path) == {**hang, "scenario": "idle",
                                                        "screenshots": [], "skipped_after": "early"}
    assert read_exit(tmp_path / "idle", tmp_path)["timed_out"] is False


@pytest.mark.slow
def test_game_that_hangs_before_its_first_frame_costs_one_hang_budget_not_one_per_scenario():
    from validators.play.session import run_smoke
    from validators.smoke.smoke_run import SmokeOptions

    only = ("play-restart-q", "window-close", "idle")
    report = run_smoke("while True:\n    pass\n", SmokeOptions(only=only, parallel=1,
                                                             requirements=False))
    [f] = report.findings
    assert f.code == "hang" and sorted(f.details["scenarios"]) == sorted(only)
    ran = [n for n, s in report.scenarios.items() if "skipped_after" not in s]
    assert len(ran) == 1 and f"in scenario {ran[0]!r}" in f.message
    assert "no frame for 8.0 s" in f.message  # the budget before a first frame, as waited
    assert sum(s["wall_s"] for s in report.scenarios.values()) < 12


def test_harness_and_supervisor_import_only_the_standard_library_and_pygame():
    """They run inside the sandbox, where the project is not importable at every tier (and
    must not be: no project code runs beside the game). The one exception is autopilot's
    fallback for tests, inside `except ImportError`."""
    import ast
    import sys

    harness = REPO / "validators" / "smoke" / "harness"
    siblings = {p.stem for p in harness.glob("*.py")}
    allowed = set(sys.stdlib_module_names) | siblings | {"pygame", "pyseccomp"}
    files = [*harness.glob("*.py"), REPO / "validators" / "sandbox" / "supervisor.py"]
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        fallbacks = {id(node) for handler in ast.walk(tree) if isinstance(handler, ast.ExceptHandler)
                     for node in ast.walk(handler)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom) and id(node) not in fallbacks:
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                for name in names:
                    assert name.split(".")[0] in allowed, f"{path.name} imports {name}"


def test_asking_for_a_scenario_the_prompt_does_not_declare_is_a_usage_error():
    from validators.play.session import run_smoke
    from validators.smoke.smoke_run import SmokeOptions

    with pytest.raises(UsageError, match="no scenario named nope"):
        run_smoke("pass\n", SmokeOptions(only=("idle", "nope")))
