"""The parent reads what a sandboxed game left behind as untrusted input: real files, links,
FIFOs and devices in a temp dir standing for the sandbox's dir, never a crash or a hang."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.errors import UsageError
from validators.sandbox.untrusted import PNG_SIGNATURE, read_bytes
from validators.smoke.out_files import keep_screenshots, read_frames, read_result, read_tail
from validators.smoke.smoke_run import prepare_screenshots_dir

PNG = PNG_SIGNATURE + b"rest of a png"
OP = ["rect", [10, 20, 30], [0, 0, 40, 40], 0, None]
HEALTHY_RESULT = {"outcome": "stopped", "frame": 3, "flips": 3, "virtual_ms": 50,
                  "window": [400, 600], "screenshots": [{"path": "s-last.png", "frame": 3,
                                                         "label": "last"}]}


@pytest.fixture
def box(tmp_path: Path) -> tuple[Path, Path]:
    """(root, out): a sandbox dir and a scenario's out dir inside it."""
    out = tmp_path / "root" / "work" / "_out" / "s"
    out.mkdir(parents=True)
    return tmp_path / "root", out


def test_regular_file_inside_the_box_is_read_up_to_the_bound(box):
    root, out = box
    (out / "stdout").write_bytes(b"a" * 100 + b"END")
    assert read_bytes(out / "stdout", root, 10) == b"a" * 10
    assert read_tail(out / "stdout", root).endswith("END")


def test_fifo_is_refused_without_blocking(box):
    root, out = box
    os.mkfifo(out / "result.json")
    assert read_result(out, root) is None
    assert read_tail(out / "result.json", root) == ""


def test_link_to_a_device_or_out_of_the_box_is_refused(box, tmp_path):
    root, out = box
    os.symlink("/dev/zero", out / "frames.jsonl")
    secret = tmp_path / "host-secret"
    secret.write_text(json.dumps(HEALTHY_RESULT))
    os.symlink(secret, out / "result.json")
    assert read_frames(out / "frames.jsonl", root, 1 << 20) == []
    assert read_result(out, root) is None


def test_out_dir_swapped_for_a_link_out_of_the_box_is_refused(box, tmp_path):
    root, out = box
    host = tmp_path / "host"
    host.mkdir()
    (host / "result.json").write_text(json.dumps(HEALTHY_RESULT))
    out.rmdir()
    os.symlink(host, out)
    assert read_result(out, root) is None


def test_result_of_the_harness_shape_is_read(box):
    root, out = box
    (out / "result.json").write_text(json.dumps(HEALTHY_RESULT))
    assert read_result(out, root) == HEALTHY_RESULT


@pytest.mark.parametrize("bad", [
    [], 5, "x", {"outcome": "won"}, {**HEALTHY_RESULT, "frame": "3"},
    {**HEALTHY_RESULT, "screenshots": 7}, {**HEALTHY_RESULT, "screenshots": [5]},
    {**HEALTHY_RESULT, "outcome": "exception"},
    {**HEALTHY_RESULT, "outcome": "exception", "exception": 5},
    {**HEALTHY_RESULT, "outcome": "exception", "exception": {"type": "E", "message": 1, "line": 2}},
    {**HEALTHY_RESULT, "window": [400]},
])
def test_result_of_another_shape_counts_as_no_result(box, bad):
    root, out = box
    (out / "result.json").write_text(json.dumps(bad))
    assert read_result(out, root) is None


@settings(max_examples=150, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.sampled_from(sorted(HEALTHY_RESULT) + ["exception"]),
                                      inner, max_size=6), max_leaves=20))
def test_any_json_is_either_refused_or_fits_what_the_checks_read(tmp_path_factory, value):
    root = tmp_path_factory.mktemp("box")
    (root / "result.json").write_text(json.dumps(value))
    result = read_result(root, root)
    if result is not None:
        assert isinstance(result["frame"], int) and isinstance(result["flips"], int)
        for shot in result.get("screenshots", []):
            assert isinstance(shot["path"], str)


def test_draw_record_ends_at_the_first_entry_not_shaped_as_a_frame(box):
    root, out = box
    lines = [{"f": 0, "t": 0, "flip": 1, "in": [["down", "space"]], "ops": [OP]},
             {"f": 1, "t": 16, "flip": 1, "in": [["quit", None]], "same": 1},
             {"f": 2, "t": 33, "flip": 1, "in": [], "ops": [["rect", [1, 2], [0, 0, 1, 1], 0, None]]},
             {"f": 3, "t": 50, "flip": 1, "in": [], "ops": [OP]}]
    (out / "frames.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    frames = read_frames(out / "frames.jsonl", root, 1 << 20)
    assert [f["f"] for f in frames] == [0, 1]
    assert frames[1]["ops"] == [OP]


@pytest.mark.parametrize("line", ['5', '[1, 2]', '{"f": 1, "ops": 7}', '{"f": "a", "t": 0, "ops": []}',
                                  '{"f": 0, "t": 0, "same": 1}', '{"f": 0, "t": 0, "in": 3, "ops": []}',
                                  '{"f": 0, "t": 0, "ops": [[1, 2, 3]]}', "[" * 100000])
def test_malformed_first_line_leaves_an_empty_record(box, line):
    root, out = box
    (out / "frames.jsonl").write_text(line + "\n" + json.dumps({"f": 1, "t": 0, "ops": [OP]}) + "\n")
    assert read_frames(out / "frames.jsonl", root, 1 << 20) == []


def test_screenshots_are_copied_only_under_the_scenarios_own_names_as_real_pngs(box, tmp_path):
    root, out = box
    target = tmp_path / "shots"
    target.mkdir()
    host_png = tmp_path / "host.png"
    host_png.write_bytes(PNG)
    for name in ("s-last.png", "s-f0060.png", "vacation.png", "other-last.png"):
        (out / name).write_bytes(PNG)
    (out / "s-f0061.png").write_bytes(b"GIF89a not a png")
    (out.parent / "escape.png").write_bytes(PNG)
    os.symlink(host_png, out / "s-f0062.png")
    names = ["s-last.png", "s-f0061.png", "../escape.png", "s-f0062.png", "/tmp/abs.png",
             ".hidden.png", "s-last.txt", "vacation.png", "other-last.png", "s-f0060.png"]
    result = {**HEALTHY_RESULT, "screenshots": [{"path": n} for n in names]}
    kept = keep_screenshots(out, root, "s", result, target, 1 << 20)
    assert kept == [target / "s-last.png", target / "s-f0060.png"]
    assert sorted(p.name for p in target.iterdir()) == ["s-f0060.png", "s-last.png"]
    assert not (tmp_path / "escape.png").exists()


def test_screenshot_flood_is_capped(box, tmp_path):
    root, out = box
    target = tmp_path / "shots"
    target.mkdir()
    for i in range(100):
        (out / f"s-f{i:04d}.png").write_bytes(PNG)
    result = {**HEALTHY_RESULT, "screenshots": [{"path": f"s-f{i:04d}.png"} for i in range(100)]}
    assert len(keep_screenshots(out, root, "s", result, target, 1 << 20)) == 64


def test_screenshots_dir_that_is_a_file_or_cannot_be_made_is_a_usage_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(UsageError, match="not a directory"):
        prepare_screenshots_dir(tmp_path / "file")
    with pytest.raises(UsageError, match="cannot be created"):
        prepare_screenshots_dir(tmp_path / "file" / "sub")
    prepare_screenshots_dir(tmp_path / "new" / "dir")
    assert (tmp_path / "new" / "dir").is_dir()


coord = st.sampled_from([0, 1, -1, 5, 40, 300, 600, 10**9, -10**9]) | st.integers(-50, 700)
op_strategy = st.tuples(
    st.sampled_from(["rect", "fill", "circle", "ellipse", "polygon", "text", "blit", "line", "zz"]),
    st.none() | st.lists(st.integers(-5, 300), min_size=3, max_size=3),
    st.lists(coord, min_size=4, max_size=4), st.integers(-3, 3),
    st.none() | st.floats(-1e6, 1e6) | st.sampled_from(["3", "Score: 3", "Best: 9", ""])
    | st.lists(st.lists(coord, min_size=2, max_size=2), max_size=4)).map(list)
frame_strategy = st.fixed_dictionaries(
    {"f": coord, "t": coord, "flip": st.integers(0, 1),
     "in": st.lists(st.tuples(st.sampled_from(["down", "up", "quit"]),
                              st.sampled_from(["space", "q", "escape", "zz"])).map(list), max_size=2)},
    optional={"ops": st.lists(op_strategy, max_size=8), "same": st.just(1)})
result_strategy = st.fixed_dictionaries(
    {"outcome": st.sampled_from(["exit", "exception", "hang", "stopped"]), "frame": coord,
     "flips": coord, "window": st.none() | st.lists(coord, min_size=2, max_size=2),
     "exception": st.just({"type": "E", "message": "m", "line": 3}), "hang_s": st.just(2.0)})


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.lists(frame_strategy, max_size=40), result_strategy),
                min_size=1, max_size=7))
def test_whatever_the_readers_accept_the_checks_judge_without_crashing(tmp_path_factory, runs):
    """The readers are the only gate between the game's files and the checks: anything they
    let through must be judged (findings or none), never a traceback."""
    from validators.play.checks import check_play
    from validators.play.requirements import check_requirements
    from validators.sandbox.box import SandboxResult
    from validators.smoke.scenarios import load_scenarios
    from validators.smoke.smoke_run import ScenarioRun, SmokeReport, classify

    settings_, scenarios = load_scenarios("flappy_bird")
    root = tmp_path_factory.mktemp("box")
    played = []
    for scenario, (frames, result) in zip(scenarios, runs, strict=False):
        (root / "frames.jsonl").write_text("".join(json.dumps(f) + "\n" for f in frames))
        (root / "result.json").write_text(json.dumps(result))
        box = SandboxResult("basic", 0, None, False, 0.1, "", "", 0)
        played.append(ScenarioRun(scenario, read_result(root, root), box,
                                  read_frames(root / "frames.jsonl", root, 1 << 20), []))
    findings = [f for run in played for f in classify(run, settings_)]
    report = SmokeReport(findings, [], "basic", {r.scenario.name: r.summary() for r in played},
                         {r.scenario.name: r for r in played})
    check_requirements("x = 1\n", report, settings_)
    check_play("x = 1\n", report)
