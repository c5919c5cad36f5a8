"""The built llama.cpp programs for the `native` tests: a tool's path, a running llama-server.

A `native` test runs only when asked for (tox -e native builds the tools first), so a missing
tool fails it with the command that builds it: a skip would pass a run that checked nothing.
"""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import pytest

from pipeline.models.native_build import find_llama_tool

STARTUP_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def llama_tool(name: str) -> Path:
    path = find_llama_tool(name)
    if path is None:
        pytest.fail(f"{name} is not built: run `python -m pipeline.models.native_build` first")
    return path


def start_llama_server(model: Path, log: BinaryIO, *, n_ctx: int,
                       n_parallel: int = 1) -> tuple[subprocess.Popen[bytes], str]:
    """llama-server on `model` (`n_parallel` slots, one thread) and its URL, once /health says 200.
    Its output goes to `log`; the caller stops the process."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [str(llama_tool("llama-server")), "-m", str(model), "--host", "127.0.0.1",
         "--port", str(port), "-c", str(n_ctx), "-np", str(n_parallel), "-t", "1", "--no-webui"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not _healthy(url):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"llama-server did not come up within {STARTUP_TIMEOUT_S} s "
                        f"(exit {process.poll()}); see {log.name}")
        time.sleep(0.2)
    return process, url


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def running_llama_server(model: Path, log_path: Path, *, n_ctx: int) -> Iterator[str]:
    """A started llama-server's URL for the `with` block; its output goes to `log_path`."""
    with log_path.open("wb") as log:
        process, url = start_llama_server(model, log, n_ctx=n_ctx)
        try:
            yield url
        finally:
            stop(process)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as reply:
            return reply.status == 200
    except OSError:  # refused while it starts, or 503 while the model loads
        return False
