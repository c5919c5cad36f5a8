"""Every run of generated code goes through here.

Always on (tier `basic`): a fresh temp dir as cwd and HOME, a scrubbed environment, stdin from
/dev/null, stdout/stderr to files capped by RLIMIT_FSIZE (never pipes a grandchild could hold
open), a new session, rlimits (address space, CPU, file size, open files, core 0, processes
where not root), a wall-clock limit, and a supervisor (validators/sandbox/supervisor.py) that is a
child subreaper and kills every descendant when the run ends. Stronger tiers, detected once:
`seccomp` adds a seccomp filter (no inet/netlink sockets, no setsid/setpgid, ptrace, unshare,
mount); `landlock` adds Landlock to that (writes only in the temp dir, reads only of system and
Python directories, no TCP, no signals to processes outside); `bwrap` runs inside bubblewrap
namespaces (read-only root, private /tmp and /proc, no network, a PID namespace that dies with
it) with whichever of seccomp and Landlock work here. claims(tier) says what a tier promises.

The tier used is in every result. A caller may demand a minimum (`min_tier`); below it the run
is refused with a UsageError, never silently weakened. A program the supervisor could not start
under the tier's confinement raises SandboxError (no result, so no verdict on the program).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import site
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from pipeline.errors import UsageError
from validators.sandbox.untrusted import (
    is_int,
    is_number,
    is_str,
    optional,
    read_json_object,
    read_text,
)

TIERS: tuple[str, ...] = ("basic", "seccomp", "landlock", "bwrap")

# What each layer of confinement promises. A tier is a set of layers (see layers()); the hostile
# tests hold every claim of every tier this machine has.
LAYER_CLAIMS: Mapping[str, frozenset[str]] = {
    "rlimits": frozenset({"memory", "cpu", "output", "open-files", "wall-clock", "no-survivor",
                          "scrubbed-env", "no-stdin"}),
    "seccomp": frozenset({"no-network", "no-ptrace", "no-unshare", "no-setsid"}),
    "landlock": frozenset({"no-write-outside", "no-parent-env", "no-kill-outside"}),
    "bwrap": frozenset({"no-network", "no-write-outside", "no-parent-env", "no-kill-outside",
                        "pid-namespace", "read-only-root"}),
}
# The layers each tier applies; bwrap adds the two after it only where they work (layers()).
TIER_LAYERS: Mapping[str, tuple[str, ...]] = {
    "basic": ("rlimits",),
    "seccomp": ("rlimits", "seccomp"),
    "landlock": ("rlimits", "seccomp", "landlock"),
    "bwrap": ("rlimits", "bwrap", "seccomp", "landlock"),
}


def _claims_of(applied: Sequence[str]) -> frozenset[str]:
    return frozenset().union(*(LAYER_CLAIMS[layer] for layer in applied))


# The most each tier can claim, where every layer it may use is present.
TIER_CLAIMS: Mapping[str, frozenset[str]] = {t: _claims_of(ls) for t, ls in TIER_LAYERS.items()}

SUPERVISOR = Path(__file__).with_name("supervisor.py")
MARKER_VAR = "GENCHECK_SANDBOX_RUN"
_BWRAP_GRACE_S = 5.0
_OUTPUT_TAIL = 64 * 1024
# The supervisor's status file, as supervisor.py writes it; the box's dir is writable from
# inside at some tiers, so a status of another shape counts as a lost supervisor.
_STATUS_SCHEMA = {"exit_code": optional(is_int), "signal": optional(is_int),
                  "timed_out": lambda v: isinstance(v, bool), "wall_s": is_number,
                  "descendants_killed": is_int, "start_failure": optional(is_str)}
# Top-level directories a sandboxed program may read (Landlock tier); /root, /home, /proc,
# /tmp and the like stay closed, so neither secrets nor the parent's environment are readable.
_READABLE_SYSTEM_DIRS = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc/fonts",
                         "/etc/ld.so.cache", "/etc/localtime", "/etc/alternatives",
                         "/etc/passwd", "/etc/nsswitch.conf", "/var/cache/fontconfig", "/opt",
                         "/sys/devices/system/cpu", "/dev")


_START_FAILURE = "sandbox: could not start the program: "  # as supervisor.py words it


class SandboxError(UsageError):
    """The sandbox could not start the program confined as its tier says (a layer detected as
    working failed to apply, or the command is missing). That is no verdict on the program, so
    the run stops here, with this one line, rather than blame the program for a crash."""


@dataclass(frozen=True)
class Limits:
    wall_s: float = 20.0
    cpu_s: int = 30
    memory_bytes: int = 1 << 30
    output_bytes: int = 32 << 20
    open_files: int = 256
    processes: int = 64


@dataclass(frozen=True)
class SandboxResult:
    tier: str
    exit_code: int | None
    signal: int | None
    timed_out: bool
    wall_s: float
    stdout: str
    stderr: str
    descendants_killed: int
    supervisor_lost: bool = False

    @property
    def limit_hit(self) -> str | None:
        """Which resource limit ended the run, if one did: memory, cpu, output or wall-clock."""
        if self.timed_out:
            return "wall-clock"
        if self.signal == signal.SIGXCPU:
            return "cpu"
        # Python ignores SIGXFSZ, so for it the file-size limit is an EFBIG OSError
        if self.signal == signal.SIGXFSZ or "[Errno 27] File too large" in self.stderr[-4000:]:
            return "output"
        if "MemoryError" in self.stderr[-4000:]:
            return "memory"
        return None

    def to_json(self) -> dict[str, object]:
        return {"tier": self.tier, "exit_code": self.exit_code, "signal": self.signal,
                "timed_out": self.timed_out, "wall_s": round(self.wall_s, 3),
                "limit_hit": self.limit_hit, "descendants_killed": self.descendants_killed}


def layers(tier: str) -> tuple[str, ...]:
    """The confinement a tier applies here: bwrap adds seccomp and Landlock when they work."""
    if tier != "bwrap":
        return TIER_LAYERS[tier]
    works = {"seccomp": seccomp_works(), "landlock": landlock_works()}
    return tuple(layer for layer in TIER_LAYERS[tier] if works.get(layer, True))


def claims(tier: str) -> frozenset[str]:
    """What a tier guarantees on this machine. Landlock scopes signals only from ABI 6 on, so
    with an older kernel the landlock tier does not promise that no signal leaves the sandbox."""
    promised = _claims_of(layers(tier))
    if tier == "landlock":
        from validators.sandbox.supervisor import SCOPED_SIGNALS_ABI, landlock_abi

        if landlock_abi() < SCOPED_SIGNALS_ABI:
            promised -= {"no-kill-outside"}
    return promised


def tier_rank(tier: str) -> int:
    if tier not in TIERS:
        raise UsageError(f"unknown sandbox tier {tier!r}; choose one of {', '.join(TIERS)}")
    return TIERS.index(tier)


def _probe_in_child(code: str) -> bool:
    return _probe([sys.executable, "-I", "-c",
                   f"import sys; sys.path.insert(0, {str(SUPERVISOR.parent)!r}); {code}"])


@functools.cache
def seccomp_works() -> bool:
    """pyseccomp and libseccomp load and a filter installs (probed in a real child)."""
    return _probe_in_child("import supervisor as s; s.apply_seccomp()")


@functools.cache
def landlock_works() -> bool:
    """Landlock ABI >= 4 (TCP rules) and a ruleset applies (probed in a real child)."""
    return _probe_in_child("import os, supervisor as s, sys; assert s.landlock_abi() >= 4; "
                           "s.apply_landlock(['/usr'], []); "
                           "sys.exit(0 if os.access('/usr', os.R_OK) else 1)")


@functools.cache
def bwrap_works() -> bool:
    exe = shutil.which("bwrap")
    return bool(exe) and _probe([exe, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
                                 "--unshare-all", "--die-with-parent", "--", "/bin/true"])


def _probe(argv: list[str]) -> bool:
    try:
        return subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=10, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@functools.cache
def available_tiers() -> tuple[str, ...]:
    """The tiers this machine can run, weakest first; detected once per process."""
    tiers = ["basic"]
    if seccomp_works():
        tiers.append("seccomp")
        if landlock_works():
            tiers.append("landlock")
    if bwrap_works():
        tiers.append("bwrap")
    return tuple(tiers)


def choose_tier(tier: str | None = None, min_tier: str | None = None) -> str:
    """The tier to run at: `tier` if given (and available), else the strongest available."""
    have = available_tiers()
    chosen = tier or have[-1]
    if chosen not in have:
        tier_rank(chosen)
        raise UsageError(f"sandbox tier {chosen!r} is not available here (available: {', '.join(have)})")
    if min_tier is not None and tier_rank(chosen) < tier_rank(min_tier):
        raise UsageError(f"the strongest sandbox here is {chosen!r}, below --min-sandbox {min_tier}; "
                         "install bubblewrap or enable Landlock, or lower --min-sandbox")
    return chosen


def _scrubbed_env(workdir: Path, marker: str, extra: Mapping[str, str]) -> dict[str, str]:
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(workdir),
           "TMPDIR": str(workdir / "tmp"), "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1",
           "PYTHONUNBUFFERED": "1", MARKER_VAR: marker}
    env.update(extra)
    return env


def _readable_paths(workdir: Path) -> list[str]:
    paths = list(_READABLE_SYSTEM_DIRS)
    paths += [sys.base_prefix, sys.prefix, *site.getsitepackages(), str(SUPERVISOR.parent)]
    return paths


class Sandbox:
    """A temp dir and the means to run programs confined in it; remove it with `close()`.

    with Sandbox(limits=Limits(wall_s=5)) as box:
        box.write("game.py", code)
        result = box.run([sys.executable, "-I", "game.py"])
    """

    def __init__(self, tier: str | None = None, min_tier: str | None = None,
                 limits: Limits | None = None) -> None:
        self.tier = choose_tier(tier, min_tier)
        self.limits = limits or Limits()
        self.root = Path(tempfile.mkdtemp(prefix="gencheck-box-"))
        self.workdir = self.root / "work"
        self.control = self.root / "control"
        for d in (self.workdir, self.workdir / "tmp", self.control):
            d.mkdir()
        self._runs = 0

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def write(self, relpath: str, data: str | bytes) -> Path:
        path = self.workdir / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            path.write_text(data, encoding="utf-8")
        else:
            path.write_bytes(data)
        return path

    def run(self, argv: Sequence[str], env: Mapping[str, str] | None = None) -> SandboxResult:
        """Run argv (argv[0] an absolute path) in the work dir and wait, never past the limits."""
        self._runs += 1
        marker = uuid.uuid4().hex
        tag = f"run{self._runs}"
        status_path = self.control / f"{tag}.status.json"
        plan = {
            "argv": list(argv), "cwd": str(self.workdir), "wall_s": self.limits.wall_s,
            "status_path": str(status_path), "rlimits": self._rlimits(),
            "seccomp": "seccomp" in layers(self.tier),
            "landlock": None if "landlock" not in layers(self.tier) else {
                "read": _readable_paths(self.workdir), "write": [str(self.workdir), "/dev/null"]},
        }
        plan_path = self.control / f"{tag}.plan.json"
        plan_path.write_text(json.dumps(plan), encoding="utf-8")
        command = [sys.executable, "-I", str(SUPERVISOR), str(plan_path)]
        if self.tier == "bwrap":
            command = self._bwrap_prefix() + command
        out_path, err_path = self.control / f"{tag}.stdout", self.control / f"{tag}.stderr"
        started = time.monotonic()
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                    cwd=self.workdir, env=_scrubbed_env(self.workdir, marker, env or {}),
                                    start_new_session=True, close_fds=True)
        backstop_fired = False
        try:
            proc.wait(timeout=self.limits.wall_s + _BWRAP_GRACE_S)
        except subprocess.TimeoutExpired:
            backstop_fired = True
        finally:  # also when the wait is interrupted (Ctrl-C): no part of the run outlives it
            _kill_group(proc.pid)
            proc.wait()
            stray = kill_marked_processes(marker)
        wall = time.monotonic() - started
        status = read_json_object(status_path, self.root, _STATUS_SCHEMA, ("timed_out",))
        if status is not None and status.get("start_failure"):
            raise SandboxError(f"the {self.tier} sandbox could not start {argv[0]}: "
                               f"{str(status['start_failure']).removeprefix(_START_FAILURE)}")
        if status is None:  # the supervisor itself died (killed from inside, or failed to start)
            code = proc.returncode
            status = {"exit_code": code if code >= 0 else None,
                      "signal": -code if code < 0 else None, "timed_out": backstop_fired}
        return SandboxResult(
            tier=self.tier,
            exit_code=status.get("exit_code"),
            signal=status.get("signal"),
            timed_out=bool(status.get("timed_out")),
            wall_s=wall,
            stdout=read_text(out_path, self.root, _OUTPUT_TAIL, tail=True),
            stderr=read_text(err_path, self.root, _OUTPUT_TAIL, tail=True),
            descendants_killed=int(status.get("descendants_killed", 0)) + stray,
            supervisor_lost="wall_s" not in status,
        )

    def _rlimits(self) -> dict[str, int]:
        lim = self.limits
        limits = {"as": lim.memory_bytes, "cpu": lim.cpu_s, "fsize": lim.output_bytes,
                  "nofile": lim.open_files, "core": 0}
        if os.geteuid() != 0:  # the kernel does not enforce RLIMIT_NPROC on root
            limits["nproc"] = lim.processes
        return limits

    def _bwrap_prefix(self) -> list[str]:
        """Read-only root, private /tmp, /proc, /dev, no network; only our box is writable."""
        args = [shutil.which("bwrap") or "bwrap", "--ro-bind", "/", "/", "--dev", "/dev",
                "--proc", "/proc", "--tmpfs", "/tmp", "--tmpfs", "/home", "--tmpfs", "/root"]
        for path in dict.fromkeys([sys.base_prefix, sys.prefix, *site.getsitepackages(),
                                   str(SUPERVISOR.parent)]):
            if path.startswith(("/root", "/home", "/tmp")):
                args += ["--ro-bind", path, path]
        args += ["--bind", str(self.root), str(self.root), "--unshare-all", "--die-with-parent",
                 "--cap-drop", "ALL", "--hostname", "sandbox", "--chdir", str(self.workdir), "--"]
        return args


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def kill_marked_processes(marker: str) -> int:
    """Last net: kill any process still carrying this run's marker in its environment."""
    needle = f"{MARKER_VAR}={marker}".encode()
    killed = 0
    for _ in range(20):
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit() and int(entry) != os.getpid():
                try:
                    with open(f"/proc/{entry}/environ", "rb") as fh:
                        if needle in fh.read():
                            found.append(int(entry))
                except OSError:
                    continue
        if not found:
            break
        for pid in found:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except OSError:
                pass
        time.sleep(0.01)
    return killed
