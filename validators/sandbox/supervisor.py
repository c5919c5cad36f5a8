"""The sandbox's supervisor: the first process inside the sandbox, run as a script.

It is started by validators/sandbox/box.py with one argument, the path of a JSON plan. It makes
itself a child subreaper (so a double-forked, setsid daemon is re-parented to it rather than to
init), forks the sandboxed program, confines that child (rlimits, then Landlock and seccomp
when the plan asks), waits for it under a wall-clock deadline, kills every descendant that is
still alive, and writes a JSON status next to the plan. It imports only the standard library
(and pyseccomp when the plan asks for seccomp): no project code runs inside the sandbox.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import resource
import select
import signal
import socket
import sys
import time

PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_SET_PDEATHSIG = 1

# x86_64 and aarch64 share the Landlock syscall numbers (they are new, so generic).
SYS_LANDLOCK_CREATE_RULESET = 444
SYS_LANDLOCK_ADD_RULE = 445
SYS_LANDLOCK_RESTRICT_SELF = 446
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_PATH_BENEATH = 1

FS_EXECUTE, FS_WRITE_FILE, FS_READ_FILE, FS_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
FS_WRITE_RIGHTS_V1 = sum(1 << i for i in range(4, 13))  # remove dir/file, make char..sym
FS_REFER, FS_TRUNCATE = 1 << 13, 1 << 14
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1
SCOPE_ABSTRACT_UNIX, SCOPE_SIGNAL = 1 << 0, 1 << 1
SCOPED_SIGNALS_ABI = 6
FILE_ONLY_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE

RLIMITS = {
    "as": resource.RLIMIT_AS,
    "cpu": resource.RLIMIT_CPU,
    "fsize": resource.RLIMIT_FSIZE,
    "nofile": resource.RLIMIT_NOFILE,
    "core": resource.RLIMIT_CORE,
    "nproc": resource.RLIMIT_NPROC,
}

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("fs", ctypes.c_uint64), ("net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 when Landlock is absent or disabled."""
    version = _libc.syscall(SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0),
                            ctypes.c_uint32(LANDLOCK_CREATE_RULESET_VERSION))
    return max(int(version), 0)


def apply_landlock(read_paths: list[str], write_paths: list[str]) -> None:
    """Writes only beneath write_paths, reads only beneath read_paths, no TCP, no signals out."""
    abi = landlock_abi()
    if abi < 1:
        raise OSError(errno.ENOSYS, "Landlock is not available")
    fs = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_READ_DIR | FS_WRITE_RIGHTS_V1
    fs |= FS_REFER if abi >= 2 else 0
    fs |= FS_TRUNCATE if abi >= 3 else 0
    net = NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0
    scoped = SCOPE_ABSTRACT_UNIX | SCOPE_SIGNAL if abi >= SCOPED_SIGNALS_ABI else 0
    attr = _RulesetAttr(fs, net, scoped)
    size = ctypes.sizeof(_RulesetAttr) if abi >= 6 else (16 if abi >= 4 else 8)
    ruleset = _libc.syscall(SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr),
                            ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
    read_rights = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR
    for path, rights in [(p, read_rights) for p in read_paths] + [(p, fs) for p in write_paths]:
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            continue  # a path this machine lacks grants nothing
        if not os.path.isdir(path):
            rights &= FILE_ONLY_RIGHTS
        rule = _PathBeneath(rights, fd)
        rc = _libc.syscall(SYS_LANDLOCK_ADD_RULE, ctypes.c_int(ruleset),
                           ctypes.c_int(LANDLOCK_RULE_PATH_BENEATH), ctypes.byref(rule),
                           ctypes.c_uint32(0))
        os.close(fd)
        if rc < 0:
            raise OSError(ctypes.get_errno(), f"landlock_add_rule {path} failed")
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS failed")
    if _libc.syscall(SYS_LANDLOCK_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0)) < 0:
        raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    os.close(ruleset)


# Syscalls a game never needs and an escape does: leaving the process group or session
# (the wall-clock kill targets the group), new namespaces, tracing other processes, mounts.
DENIED_SYSCALLS = (
    "setsid", "setpgid", "ptrace", "process_vm_readv", "process_vm_writev", "unshare",
    "setns", "mount", "umount2", "pivot_root", "chroot", "bpf", "perf_event_open",
    "kexec_load", "init_module", "finit_module", "delete_module", "keyctl", "add_key",
    "request_key", "userfaultfd", "swapon", "swapoff", "reboot", "settimeofday",
)
NAMESPACE_CLONE_FLAGS = 0x7E020000  # CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET
DENIED_SOCKET_FAMILIES = (socket.AF_INET, socket.AF_INET6, socket.AF_PACKET, socket.AF_NETLINK)


def apply_seccomp() -> None:
    import pyseccomp as sc  # only inside the child: the parent must not need libseccomp

    deny = sc.ERRNO(errno.EPERM)
    flt = sc.SyscallFilter(sc.ALLOW)
    for name in DENIED_SYSCALLS:
        try:
            flt.add_rule(deny, name)
        except (OSError, ValueError):
            continue  # a syscall this architecture does not have
    for family in DENIED_SOCKET_FAMILIES:
        flt.add_rule(sc.ERRNO(errno.EAFNOSUPPORT), "socket", sc.Arg(0, sc.EQ, family))
    for bit in range(64):
        if NAMESPACE_CLONE_FLAGS >> bit & 1:
            flt.add_rule(deny, "clone", sc.Arg(0, sc.MASKED_EQ, 1 << bit, 1 << bit))
    # clone3 passes its flags in memory a filter cannot read: make libc fall back to clone.
    flt.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    flt.load()


def descendants(root: int) -> list[int]:
    """Every live process below `root`, found through /proc (orphans come to us: subreaper)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(b")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def sweep(root: int, pgid: int) -> int:
    """Kill the group and every descendant until none is left; return how many were killed."""
    killed: set[int] = set()
    for _ in range(200):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except OSError:
            pass
        alive = descendants(root)
        if not alive:
            break
        for pid in alive:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            except OSError:
                pass
        reap_all()
        time.sleep(0.005)
    reap_all()
    return len(killed)


def reap_all() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def confine_and_exec(plan: dict, report_fd: int) -> None:
    """In the forked child: limits, confinement, then exec. Never returns. A failure is written
    to report_fd, which the exec closes unread when all went well (it is close-on-exec)."""
    try:
        os.setpgid(0, 0)  # its own group, so the sweep can kill the group without killing us
        os.chdir(plan["cwd"])
        for name, value in plan["rlimits"].items():
            # CPU: a soft limit below the hard one, so the kernel sends SIGXCPU (reported as the
            # CPU limit) rather than a bare SIGKILL
            hard = value + 1 if name == "cpu" else value
            resource.setrlimit(RLIMITS[name], (value, hard))
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if plan.get("seccomp"):
            import pyseccomp  # noqa: F401 - load it while site-packages is still readable
        if plan.get("landlock"):
            apply_landlock(plan["landlock"]["read"], plan["landlock"]["write"])
        if plan.get("seccomp"):
            apply_seccomp()
        os.execve(plan["argv"][0], plan["argv"], os.environ)
    except BaseException as exc:  # noqa: BLE001 - report any failure to confine, then die
        message = f"sandbox: could not start the program: {exc!r}"
        os.write(2, f"{message}\n".encode())
        os.write(report_fd, message.encode()[:4000])
        os._exit(127)


def start_failure(report_fd: int, timeout_s: float) -> str | None:
    """What the child reported before its exec, None once the exec closed the pipe silently:
    only the supervisor's own code writes there, so the program cannot fake it."""
    ready, _, _ = select.select([report_fd], [], [], timeout_s)
    data = os.read(report_fd, 4096) if ready else b""
    os.close(report_fd)
    return data.decode("utf-8", "replace") or None


def main() -> int:
    plan_path = sys.argv[1]
    with open(plan_path, encoding="utf-8") as fh:
        plan = json.load(fh)
    _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    started = time.monotonic()
    report_r, report_w = os.pipe()  # not inheritable: the child's exec closes its end
    pid = os.fork()
    if pid == 0:
        os.close(report_r)
        confine_and_exec(plan, report_w)
    os.close(report_w)
    failure = start_failure(report_r, plan["wall_s"])
    deadline = started + plan["wall_s"]
    status, timed_out = None, False
    while status is None:
        done, raw = os.waitpid(pid, os.WNOHANG)
        if done:
            status = raw
            break
        if time.monotonic() >= deadline:
            timed_out = True
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            break
        time.sleep(0.002)
    wall = time.monotonic() - started
    killed = sweep(os.getpid(), pid)
    result = {
        "exit_code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        "timed_out": timed_out,
        "wall_s": wall,
        "descendants_killed": killed,
        "start_failure": failure,
    }
    tmp = plan["status_path"] + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(result, fh)
    os.replace(tmp, plan["status_path"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
