"""Hostile programs against the sandbox, at every tier this machine has.

Each attack names the guarantee (a TIER_CLAIMS entry) that must contain it; at a tier that does
not make that claim the attack is skipped, with the reason, rather than run against the host.
Every attack must end failed or contained, leave the host untouched (no file, no connection,
no surviving process) and leave the pipeline standing (the next sandboxed run works).
"""

from __future__ import annotations

import os
import secrets
import socket
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from validators.sandbox.box import Limits, Sandbox, SandboxResult, available_tiers, claims

pytestmark = pytest.mark.hostile
TIERS_HERE = available_tiers()


@dataclass
class Attack:
    claim: str
    source: str
    contained: Callable[[SandboxResult, dict], None]
    limits: dict


def survivors(token: str) -> list[int]:
    """Processes whose command line carries the attack's token (they exec `sleep 30.<token>`)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    if token.encode() in fh.read():
                        found.append(int(entry))
            except OSError:
                continue
    return found


SLEEPER = "os.execv('/bin/sleep', ['sleep', '30.{token}'])"


def _no_connection(result, ctx):
    with pytest.raises(TimeoutError):
        ctx["listener"].accept()


def _no_file(result, ctx):
    assert not Path(ctx["outside"]).exists()


def _failed_by(limit):
    def check(result, ctx):
        assert result.exit_code != 0 and result.limit_hit == limit, (result.exit_code, result.limit_hit, result.stderr[-300:])
    return check


def _quiet(result, ctx):
    assert "LEAK" not in result.stdout, result.stdout[-500:]


ATTACKS = {
    "loopback-connect": Attack("no-network", """
        import socket
        s = socket.create_connection(("127.0.0.1", {port}), timeout=2)
        s.sendall(b"escaped")
        """, _no_connection, {}),
    "write-outside": Attack("no-write-outside", """
        open({outside!r}, "w").write("escaped")
        """, _no_file, {}),
    "alloc-4gb": Attack("memory", """
        block = bytearray(4 << 30)
        """, _failed_by("memory"), {}),
    "cpu-spin": Attack("cpu", """
        while True:
            pass
        """, _failed_by("cpu"), {"cpu_s": 1, "wall_s": 15}),
    "fork-storm": Attack("no-survivor", """
        import os
        for i in range(100):
            if os.fork() == 0:
                """ + SLEEPER + """
        """, lambda r, c: None, {}),
    "stdout-flood": Attack("output", """
        import sys
        chunk = b"x" * (1 << 20)
        for _ in range(2048):
            sys.stdout.buffer.write(chunk)
        """, _failed_by("output"), {}),
    "open-files": Attack("open-files", """
        files = [open(f"f{{i}}", "w") for i in range(5000)]
        """, lambda r, c: (r.exit_code != 0 and "Too many open files" in r.stderr) or pytest.fail(r.stderr[-300:]), {}),
    "setsid-daemon": Attack("no-survivor", """
        import os
        if os.fork() == 0:
            try:
                os.setsid()
            except OSError:
                pass
            if os.fork() == 0:
                """ + SLEEPER + """
            os._exit(0)
        """, lambda r, c: None, {}),
    "kill-parent": Attack("no-survivor", """
        import os, signal
        try:
            os.kill(os.getppid(), signal.SIGKILL)
        except OSError:
            pass
        """ + SLEEPER + """
        """, lambda r, c: None, {}),
    "own-environment": Attack("scrubbed-env", """
        import os
        print("LEAK" if {secret!r} in repr(dict(os.environ)) else "clean")
        """, _quiet, {}),
    "parent-environment": Attack("no-parent-env", """
        import os
        for pid in os.listdir("/proc"):
            try:
                if {secret!r}.encode() in open(f"/proc/{{pid}}/environ", "rb").read():
                    print("LEAK", pid)
            except OSError:
                pass
        """, _quiet, {}),
    "ptrace": Attack("no-ptrace", """
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        for pid in (os.getppid(), {test_pid}):
            if libc.ptrace(16, pid, None, None) == 0:
                print("LEAK attached", pid)
        """, _quiet, {}),
    "signal-outside": Attack("no-kill-outside", """
        try:
            os.kill({test_pid}, 0)  # signal 0: only asks whether a signal would be allowed
            print("LEAK could signal the test process")
        except OSError:
            pass
        """, _quiet, {}),
    "unshare": Attack("no-unshare", """
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(0x10000000 | 0x40000000) == 0:
            print("LEAK unshared")
        """, _quiet, {}),
}


@pytest.mark.parametrize("tier", TIERS_HERE)
@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attack_ends_failed_or_contained(name, tier, monkeypatch, tmp_path):
    attack = ATTACKS[name]
    if attack.claim not in claims(tier):
        pytest.skip(f"the {tier} tier does not claim {attack.claim!r}; a stronger tier must")
    token = secrets.token_hex(4)
    secret = f"gencheck-secret-{token}"
    monkeypatch.setenv("GENCHECK_HOSTILE_SECRET", secret)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.3)
    outside = str(tmp_path / f"escaped-{token}")
    ctx = {"listener": listener, "outside": outside}
    source = "import os\n" + textwrap.dedent(attack.source).format(
        port=listener.getsockname()[1], outside=outside, token=token, secret=secret,
        test_pid=os.getpid())
    limits = Limits(**{"wall_s": 8.0, "cpu_s": 10, **attack.limits})
    started = time.monotonic()
    try:
        with Sandbox(tier=tier, limits=limits) as box:
            box.write("prog.py", source.replace("{token}", token))
            result = box.run([sys.executable, "-I", "prog.py"])
            assert result.tier == tier
            attack.contained(result, ctx)
    finally:
        listener.close()
    assert time.monotonic() - started < limits.wall_s + 10
    assert survivors(token) == []
    assert_pipeline_standing(tier)


def assert_pipeline_standing(tier: str) -> None:
    with Sandbox(tier=tier, limits=Limits(wall_s=10)) as box:
        box.write("ok.py", "print('still here')\n")
        result = box.run([sys.executable, "-I", "ok.py"])
    assert result.exit_code == 0 and "still here" in result.stdout


def test_hostile_game_through_the_smoke_run_is_a_finding_and_leaves_no_daemon():
    from validators.play.session import run_smoke
    from validators.smoke.smoke_run import SmokeOptions

    token = secrets.token_hex(4)
    game = textwrap.dedent(f"""
        import os
        if os.fork() == 0:
            try:
                os.setsid()
            except OSError:
                pass
            if os.fork() == 0:
                os.execv('/bin/sleep', ['sleep', '30.{token}'])
            os._exit(0)
        hog = bytearray(4 << 30)
        """)
    report = run_smoke(game, SmokeOptions(only=("window-close",), requirements=False))
    assert [f.code for f in report.findings] == ["resource-limit"]
    assert survivors(token) == []


TAMPERING_GAME = """
import json, os, signal
out = os.path.join(os.getcwd(), "..", "..", "_out", os.path.basename(os.getcwd()))
for name in ("result.json", "stdout", "frames.jsonl"):
    if os.path.lexists(os.path.join(out, name)):
        os.unlink(os.path.join(out, name))
os.symlink("/dev/zero", os.path.join(out, "frames.jsonl"))
os.symlink("/etc/hostname", os.path.join(out, "host.png"))
os.mkfifo(os.path.join(out, "stdout"))
open(os.path.join(out, "..", "escape.png"), "wb").write(b"\\x89PNG\\r\\n\\x1a\\n")
if {result_fifo}:
    os.mkfifo(os.path.join(out, "result.json"))
else:
    shots = [{{"path": p}} for p in ("../escape.png", "host.png", "/etc/hostname.png")]
    json.dump({{"outcome": "exit", "frame": 0, "flips": 0, "screenshots": shots}},
              open(os.path.join(out, "result.json"), "w"))
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.parametrize("tier", TIERS_HERE)
@pytest.mark.parametrize(("result_fifo", "code"), [(True, "crash"), (False, "no-frame")])
def test_game_that_swaps_its_result_files_for_fifos_and_links_is_a_finding(tier, result_fifo,
                                                                          code, tmp_path):
    """The parent neither blocks on a FIFO, nor reads /dev/zero, nor copies a linked or
    out-of-dir screenshot: the run ends in a smoke finding and DIR holds nothing foreign."""
    from validators.play.session import run_smoke
    from validators.smoke.smoke_run import SmokeOptions

    shots = tmp_path / "shots"
    started = time.monotonic()
    report = run_smoke(TAMPERING_GAME.format(result_fifo=result_fifo),
                       SmokeOptions(only=("window-close",), requirements=False,
                                    sandbox_tier=tier, screenshots_dir=shots))
    assert time.monotonic() - started < 30
    assert [f.code for f in report.findings] == [code], [f.message for f in report.findings]
    assert report.sandbox_tier == tier and report.runs["window-close"].frames == []
    assert report.runs["window-close"].sandbox.signal == 9  # the game got to its last line
    assert list(shots.iterdir()) == [] and not (tmp_path / "escape.png").exists()
