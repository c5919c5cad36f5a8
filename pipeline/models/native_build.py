"""Build llama.cpp's own programs once from the llama.cpp that llama-cpp-python vendors.

The embedded engine runs llama.cpp through llama-cpp-python; to compare its tokens with
llama.cpp's own programs, those programs must come from the very same llama.cpp commit. That
commit ships inside the llama-cpp-python source distribution (`vendor/llama.cpp`), so this module
unpacks the sdist of the INSTALLED version and builds only the TOOLS below, CPU only, into a
cache folder. Fetching the sdist (`pip download`) happens here, at build time, and never while
the pipeline runs.

    python -m pipeline.models.native_build            # build (minutes on 2 cores), print the paths;
                                               # compiler output goes to <cache>/.../build.log
    python -m pipeline.models.native_build --print    # only say where the tools are, build nothing
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from pipeline.cache_dir import default_cache_dir
from pipeline.errors import UsageError

# llama-completion and llama-server: byte-identical parity and the server engine; batched-bench:
# the reference for parallel decoding; perplexity and quantize: KL-divergence parity and the
# quantized test models.
TOOLS: tuple[str, ...] = ("llama-completion", "llama-server", "llama-batched-bench",
                          "llama-perplexity", "llama-quantize")
DISTRIBUTION = "llama-cpp-python"
BIN_ENV = "GENCHECK_LLAMA_BIN"

# CPU only, no downloads during the build (the server's web UI would otherwise be fetched from
# a Hugging Face bucket), no HTTPS client, static so the binaries need no rpath into the build.
CMAKE_OPTIONS: tuple[str, ...] = (
    "-DCMAKE_BUILD_TYPE=Release",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_TOOLS=ON",
    "-DLLAMA_BUILD_SERVER=ON",
    "-DLLAMA_BUILD_UI=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",
    "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_CURL=OFF",
    "-DGGML_CUDA=OFF",
    "-DGGML_VULKAN=OFF",
    "-DGGML_METAL=OFF",
    "-DGGML_BLAS=OFF",
)


def installed_llama_cpp_version() -> str:
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise UsageError(f"{DISTRIBUTION} is not installed; install it first "
                         "(the native tools are built from its vendored llama.cpp)") from None


def build_root(version: str, cache_dir: Path | None = None) -> Path:
    """`<cache>/llama.cpp/<version>`: holds `bin/` (the tools), `BUILD_INFO.json` and the log."""
    return (cache_dir or default_cache_dir()) / "llama.cpp" / version


def find_llama_tool(name: str, *, cache_dir: Path | None = None) -> Path | None:
    """The path of a built llama.cpp program, or None (tests skip on None).

    `$GENCHECK_LLAMA_BIN` names a folder that wins over the cache (a build you made yourself).
    The cache is looked up for the installed llama-cpp-python version only: a program from
    another llama.cpp commit would not give the same tokens.
    """
    explicit = os.environ.get(BIN_ENV)
    if explicit:
        candidate = Path(explicit).expanduser() / name
        return candidate if _is_executable(candidate) else None
    try:
        version = installed_llama_cpp_version()
    except UsageError:
        return None
    candidate = build_root(version, cache_dir) / "bin" / name
    return candidate if _is_executable(candidate) else None


def run_llama_completion(tool: Path, args: Sequence[str],
                         complete: Callable[[subprocess.CompletedProcess[bytes]], bool], *,
                         attempts: int = 5, timeout: float = 300) -> subprocess.CompletedProcess[bytes]:
    """Run llama-completion (`-no-cnv`, stdin closed, output captured) until `complete(run)`.

    llama-completion writes its text and its log through an asynchronous logger that it never
    flushes at exit (common/log.cpp leaks it on purpose, llama.cpp issue 22142): on a busy
    machine the end of the output (the text's tail, the timings, at worst all but the first log
    lines) is sometimes lost while the exit status is still 0. Every test and bench that runs
    it goes through here: the caller says what a complete run shows, runs are repeated up to
    `attempts` times, and the last run is returned either way, so the caller's own assertion
    reports what was seen. A non-zero exit raises CalledProcessError at once.
    """
    result = None
    for _ in range(max(1, attempts)):
        result = subprocess.run([str(tool), *args, "-no-cnv"], capture_output=True, timeout=timeout,
                                stdin=subprocess.DEVNULL, check=True)
        if complete(result):
            break
    assert result is not None
    return result


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _progress(message: str) -> None:
    print(f"native-build: {message}", file=sys.stderr, flush=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sdist_name(version: str) -> str:
    return f"llama_cpp_python-{version}.tar.gz"


def obtain_sdist(version: str, cache_dir: Path) -> Path:
    """The sdist from `<cache>/sdist/`, or fetched there once with `pip download`."""
    folder = cache_dir / "sdist"
    wanted = folder / sdist_name(version)
    if wanted.is_file():
        return wanted
    folder.mkdir(parents=True, exist_ok=True)
    _progress(f"fetching the {DISTRIBUTION} {version} source distribution with pip")
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
         "--dest", str(folder), f"{DISTRIBUTION}=={version}"],
        check=True,
    )
    if not wanted.is_file():
        raise RuntimeError(f"pip download did not leave {wanted}")
    return wanted


def unpack_vendored_llama_cpp(sdist: Path, dest: Path) -> Path:
    """Extract only `*/vendor/llama.cpp/` of the sdist into dest; return that source folder."""
    with tarfile.open(sdist, "r:gz") as archive:
        members = [m for m in archive.getmembers() if "/vendor/llama.cpp/" in m.name]
        if not members:
            raise RuntimeError(f"{sdist} holds no vendor/llama.cpp")
        archive.extractall(dest, members=members, filter="data")
    top = members[0].name.split("/", 1)[0]
    return dest / top / "vendor" / "llama.cpp"


LOG_TAIL_LINES = 40


def _run_logged(command: Sequence[str], log: Path, *, echo: bool = False) -> None:
    """Run a build step, appending its output to the log; on failure print the log's tail.

    A build prints some 14,000 compiler lines: into a CI log they only bury what matters, so
    they go to the log file, and to stderr only with `echo` (--verbose).
    """
    _progress(" ".join(command))
    with log.open("a", encoding="utf-8") as sink:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True, errors="replace")
        assert process.stdout is not None
        tail: deque[str] = deque(maxlen=LOG_TAIL_LINES)
        for line in process.stdout:
            sink.write(line)
            tail.append(line)
            if echo:
                sys.stderr.write(line)
        if process.wait() != 0:
            if not echo:
                sys.stderr.write("".join(tail))
            raise RuntimeError(f"build step failed (exit {process.returncode}); "
                               f"the last {len(tail)} lines are above, the whole output is in {log}")


@contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """One build per version at a time, across processes (two test sessions, two helpers)."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_tools(version: str | None = None, *, cache_dir: Path | None = None, jobs: int = 2,
                keep_build: bool = False, verbose: bool = False) -> dict[str, Path]:
    """Build the TOOLS once for `version` (default: the installed one); return name -> path.

    The build's output goes to `<root>/build.log` (and to stderr too when `verbose`)."""
    version = version or installed_llama_cpp_version()
    cache_dir = cache_dir or default_cache_dir()
    root = build_root(version, cache_dir)
    with _exclusive(root.with_name(f"{version}.lock")):
        existing = {name: root / "bin" / name for name in TOOLS}
        if all(_is_executable(path) for path in existing.values()):
            return existing
        started = time.monotonic()
        sdist = obtain_sdist(version, cache_dir)
        root.mkdir(parents=True, exist_ok=True)
        log = root / "build.log"
        log.write_text("", encoding="utf-8")
        work = Path(tempfile.mkdtemp(prefix="build-", dir=root))
        try:
            _progress(f"unpacking vendored llama.cpp from {sdist.name}")
            source = unpack_vendored_llama_cpp(sdist, work / "src")
            build = work / "build"
            generator = ["-G", "Ninja"] if shutil.which("ninja") else []
            _run_logged(["cmake", "-S", str(source), "-B", str(build), *generator,
                         *CMAKE_OPTIONS], log, echo=verbose)
            _run_logged(["cmake", "--build", str(build), "--target", *TOOLS,
                         "-j", str(jobs)], log, echo=verbose)
            staged = work / "bin"
            staged.mkdir()
            for name in TOOLS:
                shutil.copy2(build / "bin" / name, staged / name)
            info = {
                "llama_cpp_python": version,
                "sdist": sdist.name,
                "sdist_sha256": _sha256(sdist),
                "cmake_options": list(CMAKE_OPTIONS),
                "tools": list(TOOLS),
                "build_seconds": round(time.monotonic() - started, 1),
            }
            (staged / "BUILD_INFO.json").write_text(json.dumps(info, indent=2) + "\n",
                                                    encoding="utf-8")
            # The rename makes the binaries appear all at once: a reader never sees half a set.
            if (root / "bin").exists():
                shutil.rmtree(root / "bin")
            staged.rename(root / "bin")
            _progress(f"built {', '.join(TOOLS)} in {info['build_seconds']} s into {root / 'bin'}")
        finally:
            if keep_build:
                _progress(f"build tree kept in {work}")
            else:
                shutil.rmtree(work, ignore_errors=True)
        return {name: root / "bin" / name for name in TOOLS}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.models.native_build",
        description="Build llama.cpp's tools (CPU only) from the llama.cpp "
        "vendored in the installed llama-cpp-python's source distribution, once, into the "
        "gencheck cache ($GENCHECK_CACHE, else $XDG_CACHE_HOME/gencheck, else ~/.cache/gencheck).",
    )
    parser.add_argument("--version", help="llama-cpp-python version to build from "
                        "(default: the installed one)")
    parser.add_argument("--cache-dir", type=Path, help="cache folder (default: see above)")
    parser.add_argument("-j", "--jobs", type=int, default=2, help="parallel compile jobs (2)")
    parser.add_argument("--keep-build", action="store_true",
                        help="keep the source and build tree (for debugging the build)")
    parser.add_argument("--verbose", action="store_true",
                        help="echo the compiler output (it always goes to build.log in the "
                        "build folder; a failed step prints the log's last lines)")
    parser.add_argument("--print", dest="print_only", action="store_true",
                        help="print where the tools are (or 'not built'), build nothing")
    args = parser.parse_args(argv)
    try:
        if args.print_only:
            for name in TOOLS:
                path = find_llama_tool(name, cache_dir=args.cache_dir)
                print(f"{name}: {path if path else 'not built'}")
            return 0
        tools = build_tools(args.version, cache_dir=args.cache_dir, jobs=args.jobs,
                            keep_build=args.keep_build, verbose=args.verbose)
    except UsageError as exc:
        print(f"native-build: error: {exc}", file=sys.stderr)
        return 2
    for name, path in tools.items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
