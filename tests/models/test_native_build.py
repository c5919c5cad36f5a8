"""The llama.cpp programs built from llama-cpp-python's vendored sources, and how tests find them."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from pipeline.models import native_build
from pipeline.models.native_build import (
    BIN_ENV,
    build_root,
    find_llama_tool,
    installed_llama_cpp_version,
    obtain_sdist,
    run_llama_completion,
    sdist_name,
    unpack_vendored_llama_cpp,
)
from tests.native_tools import llama_tool


def _executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n", encoding="utf-8")
    path.chmod(0o755)
    return path


def test_bin_env_folder_wins_and_a_missing_tool_is_none(tmp_path, monkeypatch):
    tool = _executable(tmp_path / "bin" / "llama-completion")
    monkeypatch.setenv(BIN_ENV, str(tmp_path / "bin"))
    assert find_llama_tool("llama-completion") == tool
    assert find_llama_tool("llama-server") is None


def test_cache_lookup_is_for_the_installed_version_only(tmp_path, monkeypatch):
    monkeypatch.delenv(BIN_ENV, raising=False)
    version = installed_llama_cpp_version()
    _executable(build_root("0.0.1", tmp_path) / "bin" / "llama-server")
    assert find_llama_tool("llama-server", cache_dir=tmp_path) is None
    tool = _executable(build_root(version, tmp_path) / "bin" / "llama-server")
    assert find_llama_tool("llama-server", cache_dir=tmp_path) == tool


def test_a_file_that_is_not_executable_is_not_a_tool(tmp_path, monkeypatch):
    (tmp_path / "llama-server").write_text("", encoding="utf-8")
    monkeypatch.setenv(BIN_ENV, str(tmp_path))
    assert find_llama_tool("llama-server") is None


def test_only_the_vendored_llama_cpp_is_unpacked(tmp_path):
    sdist = tmp_path / sdist_name("9.9.9")
    with tarfile.open(sdist, "w:gz") as archive:
        for name in ("pkg-9.9.9/vendor/llama.cpp/CMakeLists.txt", "pkg-9.9.9/llama_cpp/x.py"):
            data = name.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    source = unpack_vendored_llama_cpp(sdist, tmp_path / "src")
    assert (source / "CMakeLists.txt").read_text() == "pkg-9.9.9/vendor/llama.cpp/CMakeLists.txt"
    assert not (tmp_path / "src" / "pkg-9.9.9" / "llama_cpp").exists()


def test_a_cached_sdist_is_used_without_fetching(tmp_path, monkeypatch):
    cached = tmp_path / "sdist" / sdist_name("1.2.3")
    cached.parent.mkdir()
    cached.write_bytes(b"")

    def no_network(*args, **kwargs):
        raise AssertionError("pip download was called although the sdist is cached")

    monkeypatch.setattr(native_build.subprocess, "run", no_network)
    assert obtain_sdist("1.2.3", tmp_path) == cached


@pytest.mark.native
def test_built_llama_completion_runs_the_tiny_model_greedily(tiny_model):
    import llama_cpp

    tool = llama_tool("llama-completion")
    # Greedy "import" runs 40 tokens with no end token: a complete run ends with the "\n\n"
    # llama-completion prints at exit (the unflushed logger may drop it and the text's tail).
    result = run_llama_completion(
        tool, ["-m", str(tiny_model), "-p", "import", "-n", "40", "--temp", "0", "-t", "1",
               "-c", "256", "--no-display-prompt"],
        lambda run: run.stdout.endswith(b"\n\n"), timeout=120)
    llm = llama_cpp.Llama(model_path=str(tiny_model), n_ctx=256, verbose=False)
    try:
        expected = llm.create_completion("import", max_tokens=40, temperature=0.0)
    finally:
        llm.close()
    assert result.stdout.decode("utf-8").strip() == expected["choices"][0]["text"].strip()


def _numbered_lines_then_exit(code: int) -> list[str]:
    import sys

    return [sys.executable, "-c", f"[print('line', i) for i in range(500)]; raise SystemExit({code})"]


def test_a_build_steps_output_goes_to_the_log_not_to_stderr(tmp_path, capsys):
    log = tmp_path / "build.log"
    native_build._run_logged(_numbered_lines_then_exit(0), log)
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith("native-build: ")  # the step, no output
    assert log.read_text(encoding="utf-8").splitlines()[-1] == "line 499"


def test_a_failed_build_step_prints_the_logs_tail_and_names_the_log(tmp_path, capsys):
    log = tmp_path / "build.log"
    with pytest.raises(RuntimeError, match=f"exit 3.*{log}"):
        native_build._run_logged(_numbered_lines_then_exit(3), log)
    err = capsys.readouterr().err
    tail = [f"line {i}" for i in range(500 - native_build.LOG_TAIL_LINES, 500)]
    assert err.splitlines()[1:] == tail
    assert len(log.read_text(encoding="utf-8").splitlines()) == 500


def test_verbose_echoes_the_build_output(tmp_path, capsys):
    native_build._run_logged(_numbered_lines_then_exit(0), tmp_path / "build.log", echo=True)
    assert capsys.readouterr().err.count("line ") == 500

