"""The sandbox's always-on guarantees, held at every tier this machine has (real processes)."""

from __future__ import annotations

import os
import sys
import time

import pytest

from validators.sandbox.box import TIER_CLAIMS, TIERS, Limits, Sandbox, available_tiers, layers

TIERS_HERE = available_tiers()


def run_python(source: str, tier: str, **limits) -> tuple[Sandbox, object]:
    box = Sandbox(tier=tier, limits=Limits(**{"wall_s": 10.0, **limits}))
    box.write("prog.py", source)
    return box, box.run([sys.executable, "-I", "prog.py"])


def test_basic_tier_is_always_available_and_tiers_are_ordered():
    assert TIERS_HERE[0] == "basic"
    assert list(TIERS_HERE) == sorted(TIERS_HERE, key=TIERS.index)
    assert TIER_CLAIMS["basic"] < TIER_CLAIMS["seccomp"] < TIER_CLAIMS["landlock"] < TIER_CLAIMS["bwrap"]


@pytest.mark.parametrize("tier", TIERS_HERE)
def test_child_runs_in_a_fresh_dir_with_a_scrubbed_environment_and_no_stdin(tier, monkeypatch):
    monkeypatch.setenv("GENCHECK_TEST_SECRET", "hunter2")
    box, result = run_python(
        "import os, sys\n"
        "print(os.getcwd() == os.environ['HOME'], sorted(os.listdir('.')))\n"
        "print('secret' if 'hunter2' in repr(dict(os.environ)) else 'clean')\n"
        "print(repr(sys.stdin.read()))\n"
        "print(os.getsid(0) != os.getsid(os.getppid()) or os.getpgid(0) != os.getpgid(os.getppid()))\n",
        tier)
    try:
        assert result.tier == tier and result.exit_code == 0, result.stderr
        lines = result.stdout.splitlines()
        assert lines[0] == "True ['prog.py', 'tmp']"
        assert lines[1:4] == ["clean", "''", "True"]
    finally:
        box.close()
    assert not box.root.exists()


@pytest.mark.parametrize("tier", TIERS_HERE)
def test_wall_clock_limit_kills_a_busy_loop_in_seconds(tier):
    started = time.monotonic()
    box, result = run_python("while True:\n    pass\n", tier, wall_s=1.0)
    box.close()
    assert result.timed_out and result.limit_hit == "wall-clock"
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("tier", TIERS_HERE)
def test_output_is_capped_by_the_file_size_limit(tier):
    box, result = run_python("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n",
                             tier, output_bytes=1 << 20)
    size = sum(p.stat().st_size for p in box.control.glob("*.stdout"))
    box.close()
    assert result.limit_hit == "output"
    assert size <= 1 << 20


@pytest.mark.parametrize("tier", TIERS_HERE)
def test_memory_limit_turns_a_huge_allocation_into_memoryerror(tier):
    box, result = run_python("b = bytearray(2 << 30)\n", tier, memory_bytes=512 << 20)
    box.close()
    assert result.exit_code != 0 and result.limit_hit == "memory"


@pytest.mark.parametrize("tier", TIERS_HERE)
def test_grandchild_holding_stdout_neither_blocks_the_run_nor_survives_it(tier):
    box, result = run_python(
        "import subprocess\nsubprocess.Popen(['sleep', '30'])\nprint('started', flush=True)\n", tier)
    survivors = _processes_under(str(box.root))
    box.close()
    assert result.exit_code == 0 and "started" in result.stdout
    assert result.wall_s < 5
    assert survivors == []


@pytest.mark.parametrize("tier", TIERS_HERE)
def test_run_interrupted_by_ctrl_c_leaves_no_process_behind(tier):
    """The supervisor runs in its own session, so a terminal's Ctrl-C reaches only the parent:
    the parent must end the run itself before the interrupt goes on."""
    import signal

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    box = Sandbox(tier=tier, limits=Limits(wall_s=30.0))
    box.write("prog.py", "import subprocess, time\nsubprocess.Popen(['sleep', '30'])\n"
                         "while True:\n    time.sleep(0.05)\n")
    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 1.0)
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            box.run([sys.executable, "-I", "prog.py"])
        survivors = _processes_under(str(box.root))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        box.close()
    assert time.monotonic() - started < 5
    assert survivors == []


@pytest.mark.parametrize("tier", TIERS_HERE)
def test_a_command_that_cannot_start_is_a_sandbox_error_not_a_result(tier):
    from validators.sandbox.box import SandboxError

    with Sandbox(tier=tier, limits=Limits(wall_s=5.0)) as box:
        with pytest.raises(SandboxError, match="could not start /nonexistent/python: FileNotFound"):
            box.run(["/nonexistent/python"])


@pytest.mark.parametrize("tier", [t for t in TIERS_HERE if "seccomp" in layers(t)])
def test_a_layer_that_fails_to_apply_stops_the_run_instead_of_blaming_the_program(tier):
    """Under an 8 MB address space the supervisor's child cannot load libseccomp: the program
    never ran, so there is no result to give it (real limits, a real failure)."""
    from validators.sandbox.box import SandboxError

    box = Sandbox(tier=tier, limits=Limits(wall_s=5.0, memory_bytes=8 << 20))
    box.write("prog.py", "print('ran')\n")
    try:
        with pytest.raises(SandboxError, match=f"the {tier} sandbox could not start.*MemoryError"):
            box.run([sys.executable, "-I", "prog.py"])
    finally:
        box.close()


def _processes_under(root: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/cwd").startswith(root):
                    found.append(int(entry))
            except OSError:
                continue
    return found


@pytest.mark.skipif("bwrap" not in TIERS_HERE, reason="bubblewrap does not work here")
def test_bwrap_tier_runs_without_landlock_and_seccomp_and_claims_only_what_namespaces_give(monkeypatch):
    # A kernel without Landlock and a host without libseccomp cannot be made here, so the two
    # probes are told they failed; the run itself is real.
    import validators.sandbox.box as sandbox

    monkeypatch.setattr(sandbox, "landlock_works", lambda: False)
    monkeypatch.setattr(sandbox, "seccomp_works", lambda: False)
    assert sandbox.layers("bwrap") == ("rlimits", "bwrap")
    assert "no-unshare" not in sandbox.claims("bwrap") and "no-network" in sandbox.claims("bwrap")
    box, result = run_python("import socket\nsocket.socket().connect_ex(('127.0.0.1', 9))\nprint('ran')\n", "bwrap")
    box.close()
    assert result.exit_code == 0 and result.stdout.strip() == "ran", result.stderr
