"""Byte-for-byte parity with llama.cpp's own programs built from the same vendored commit.

`native`: needs `python -m pipeline.models.native_build` to have built llama-completion and
llama-server (tox -e native does).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.generation.engines.base import GenerationRequest
from pipeline.generation.engines.embedded import EmbeddedEngine
from pipeline.generation.engines.server import ServerEngine
from pipeline.models.native_build import run_llama_completion
from pipeline.sampling.llama_flags import parse_llama_args
from tests.native_tools import llama_tool, running_llama_server

pytestmark = pytest.mark.native

PROMPT = "<|im_start|>user\nWrite a Flappy Bird game.<|im_end|>\n<|im_start|>assistant\n<think>\n"
RUN_FLAGS = ["-n", "400", "-c", "4096", "-t", "1"]
# Five orders: with and without penalties, with DRY, temperature first and last.
ORDERS = {
    "write-up-as-written": ["--samplers", "top_k;top_p;min_p;temperature;dry;typ_p;xtc",
                            "--temp", "0.6", "--repeat-penalty", "1.1", "--dry-multiplier", "0.5",
                            "--min-p", "0.1", "--seed", "3407"],
    "penalties-first": ["--samplers", "penalties;top_k;top_p;min_p;temperature;dry;typ_p;xtc",
                        "--temp", "0.6", "--repeat-penalty", "1.3", "--dry-multiplier", "0.8",
                        "--min-p", "0.1", "--seed", "7"],
    "llama-default-with-penalties": ["--temp", "0.9", "--repeat-penalty", "1.2",
                                     "--presence-penalty", "0.3", "--frequency-penalty", "0.2",
                                     "--dry-multiplier", "0.5", "--seed", "5"],
    "temperature-first": ["--samplers", "temperature;top_k;min_p;dry", "--temp", "1.2",
                          "--dry-multiplier", "0.6", "--seed", "11"],
    "sigma-xtc-typical-no-penalties": ["--sampling-seq", "sxyt", "--top-n-sigma", "1.5",
                                       "--xtc-probability", "0.5", "--xtc-threshold", "0.1",
                                       "--typical", "0.9", "--temp", "1.0", "--seed", "13"],
}


def completion_output(args: list[str], trailer: bytes) -> bytes:
    """llama-completion's stdout for `args`, complete: a run whose output ends with the trailer
    our finish reason predicts (a run on a busy machine may lose its end; see
    run_llama_completion)."""
    return run_llama_completion(llama_tool("llama-completion"), [*args, "--no-display-prompt"],
                                lambda run: run.stdout.endswith(trailer), attempts=6,
                                timeout=120).stdout


def trailer_for(finish_reason: str) -> bytes:
    """What llama-completion prints after the text: " [end of text]\n" after an end token,
    then "\n\n" at exit."""
    return b" [end of text]\n\n\n" if finish_reason == "eos" else b"\n\n"


@pytest.mark.parametrize("flags", ORDERS.values(), ids=ORDERS.keys())
def test_generate_raw_matches_llama_completion_byte_for_byte(flags: list[str], tiny_model: Path,
                                                             tmp_path: Path, capsys) -> None:
    prompt_file = tmp_path / "prompt.txt"
    prompt_file.write_text(PROMPT, encoding="utf-8")
    out = tmp_path / "out.txt"
    args = ["-m", str(tiny_model), "-f", str(prompt_file), *RUN_FLAGS, *flags]
    assert main(["generate", "--raw", "--no-loop-guard", "--output", str(out), *args]) == 0
    capsys.readouterr()
    ours = out.read_bytes()
    meta = json.loads((tmp_path / "out.txt.json").read_text(encoding="utf-8"))
    trailer = trailer_for(meta["finish_reason"])
    assert len(ours) > 50
    assert ours + trailer == completion_output(args, trailer)


@pytest.fixture(scope="module")
def server_url(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("server") / "server.log"
    with running_llama_server(tiny_model, log, n_ctx=4096) as url:
        yield url


@pytest.mark.parametrize("flags", ORDERS.values(), ids=ORDERS.keys())
def test_llama_server_gives_the_embedded_engines_tokens(flags: list[str], tiny_model: Path,
                                                        server_url: str) -> None:
    chain = parse_llama_args(flags).chain
    request = GenerationRequest(PROMPT, chain, 300)
    server = ServerEngine(server_url)
    tokens = server.complete(request)["tokens"]
    with EmbeddedEngine(tiny_model, n_ctx=4096, n_threads=1) as engine:
        stream = engine.stream(request)
        embedded = [piece.token for piece in stream]
        embedded_text = "".join(piece.text for piece in engine.stream(request))
        finish = stream.finish_reason
        if finish == "eos":  # the server lists the end token it sampled; the engine stops before it
            assert engine.is_end_of_generation(tokens[-1])
            tokens = tokens[:-1]
    assert len(embedded) > 20
    assert tokens == embedded
    streamed = server.stream(request)
    assert "".join(piece.text for piece in streamed) == embedded_text
    assert streamed.finish_reason == finish
    assert streamed.n_generated_tokens == len(embedded)


def test_generate_through_the_server_engine_records_it(server_url: str, capsys) -> None:
    code = main(["generate", "--engine", "server", "--server-url", server_url, "--raw", "--json",
                 "-p", PROMPT, "-n", "50", "--seed", "4"])
    assert code == 0
    record = json.loads(capsys.readouterr().out)
    assert record["engine"] == "server" and record["engine_version"].startswith("llama-server")
    assert 0 < record["n_generated_tokens"] <= 50


def test_openai_engine_on_llama_servers_v1_matches_greedy_text(tiny_model: Path, server_url: str) -> None:
    # Greedy: the only choice no fixed server order can change, so the text must match.
    from pipeline.generation.engines.openai_compat import OpenAIEngine

    chain = parse_llama_args(["--temp", "0", "--seed", "1"]).chain
    request = GenerationRequest(PROMPT, chain, 120)
    with EmbeddedEngine(tiny_model, n_ctx=4096, n_threads=1) as engine:
        stream = engine.stream(request)
        expected = "".join(piece.text for piece in stream)
    remote = OpenAIEngine(f"{server_url}/v1").stream(request)
    assert "".join(piece.text for piece in remote) == expected
    assert remote.finish_reason == stream.finish_reason
    assert remote.n_generated_tokens == stream.n_generated_tokens


@pytest.fixture(scope="module")
def model_with_sampling_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pipeline.models.tiny_model import make_tiny_model

    path = tmp_path_factory.mktemp("sampling-keys") / "tiny-sampling.gguf"
    make_tiny_model(path, sampling={"sequence": "top_k;min_p;temperature", "temp": 1.3,
                                    "top_k": 20, "min_p": 0.02})
    return path


@pytest.mark.parametrize("flags", [["--seed", "21"],
                                   ["--seed", "22", "--samplers", "min_p;temperature;top_k"],
                                   ["--seed", "23", "--temp", "0.8", "--sampling-seq", "kt"]],
                         ids=["model-defaults", "user-order", "user-temp-letters"])
def test_model_file_sampling_defaults_apply_as_in_llama_completion(
        flags: list[str], model_with_sampling_keys: Path, tmp_path: Path, capsys) -> None:
    prompt_file = tmp_path / "prompt.txt"
    prompt_file.write_text(PROMPT, encoding="utf-8")
    out = tmp_path / "out.txt"
    args = ["-m", str(model_with_sampling_keys), "-f", str(prompt_file), *RUN_FLAGS, *flags]
    assert main(["generate", "--raw", "--no-loop-guard", "--output", str(out), *args]) == 0
    assert "taken from the model file" in capsys.readouterr().err
    meta = json.loads((tmp_path / "out.txt.json").read_text(encoding="utf-8"))
    trailer = trailer_for(meta["finish_reason"])
    assert out.read_bytes() + trailer == completion_output(args, trailer)


def test_the_loop_guard_stops_a_server_stream_and_the_server_serves_on(server_url: str) -> None:
    from pipeline.generation.generate import generate

    greedy = parse_llama_args(["--temp", "0", "--seed", "1"]).chain
    server = ServerEngine(server_url)
    looped = generate(server, "def main(", greedy, n_predict=3000, progress=False)
    assert looped.finish_reason == "loop" and 0 < looped.n_generated_tokens < 3000
    assert looped.loop_guard["stop_token"] == looped.n_generated_tokens
    after = server.complete(GenerationRequest(PROMPT, greedy, 20))  # the slot was released
    assert after["tokens_predicted"] <= 20 and after["content"]


def test_a_server_that_dies_mid_run_leaves_the_text_so_far_marked_error(tiny_model: Path,
                                                                       tmp_path: Path, capsys) -> None:
    import threading

    from tests.native_tools import start_llama_server, stop

    out = tmp_path / "out.txt"
    with (tmp_path / "server.log").open("wb") as log:
        process, url = start_llama_server(tiny_model, log, n_ctx=32768)
        try:
            with EmbeddedEngine(tiny_model, n_ctx=256, n_threads=1) as engine:
                ends = [t for t in range(engine.n_vocab) if engine.is_end_of_generation(t)]
            # 32K tokens take the server seconds; it is killed one second in.
            threading.Timer(1.0, process.kill).start()
            code = main(["generate", "--engine", "server", "--server-url", url, "--raw",
                         "--no-loop-guard", "-p", "def f", "-n", "-1", "--output", str(out),
                         *[arg for token in ends for arg in ("-l", f"{token}-inf")]])
        finally:
            stop(process)
    assert code == 2
    err_lines = capsys.readouterr().err.strip().splitlines()
    assert err_lines[-1] == "gencheck generate: error: llama-server closed the stream before its final event"
    assert err_lines[-2].startswith("finish: error after ")
    meta = json.loads((tmp_path / "out.txt.json").read_text(encoding="utf-8"))
    assert meta["finish_reason"] == "error" and 0 < meta["n_generated_tokens"] < 32000
    assert len(out.read_bytes()) > 0
