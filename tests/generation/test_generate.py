"""generate() and `gencheck generate` on the real tiny model: transcripts that reproduce themselves."""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.generation import generate as generation
from pipeline.generation.engines.base import GenerationRequest, Piece
from pipeline.generation.engines.embedded import EmbeddedEngine
from pipeline.generation.generate import ProgressLine, ThinkPhase, file_sha256, generate
from pipeline.generation.loop_guard import LoopGuardSettings
from pipeline.sampling.chain import SamplerChain
from pipeline.transcript import Transcript

PROMPT = "<|im_start|>user\nWrite a game.<|im_end|>\n<|im_start|>assistant\n<think>\n"


@pytest.fixture(scope="module")
def engine(tiny_model: Path):
    with EmbeddedEngine(tiny_model, n_ctx=4096, n_threads=1) as loaded:
        yield loaded


def never_end(engine: EmbeddedEngine) -> tuple[tuple[int, float], ...]:
    """A logit bias that rules out the end tokens, for runs that must reach their limit."""
    return tuple((engine.tokenize(t)[0], float("-inf")) for t in ("<|im_end|>", "<|endoftext|>"))


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENCHECK_CACHE", str(tmp_path / "cache"))
    generation._hash_memory.clear()


def test_a_transcript_records_how_it_was_made(engine: EmbeddedEngine, tiny_model: Path) -> None:
    chain = SamplerChain(seed=21, logit_bias=never_end(engine)).with_params(temp=0.7)
    transcript = generate(engine, PROMPT, chain, n_predict=64, prompt_name="tiny")
    assert transcript.model_path == str(tiny_model)
    assert transcript.model_sha256 == hashlib.sha256(tiny_model.read_bytes()).hexdigest()
    assert transcript.engine == "embedded" and transcript.engine_version.startswith("llama-cpp-python")
    assert transcript.chain == chain.to_dict()
    assert transcript.seed == 21 and transcript.prompt == PROMPT and transcript.prompt_name == "tiny"
    assert transcript.n_generated_tokens == 64 and transcript.finish_reason == "length"
    assert transcript.n_prompt_tokens == len(engine.tokenize(PROMPT))
    assert transcript.seconds > 0 and transcript.tokens_per_second > 0
    assert 0 < transcript.extra["seconds_to_first_token"] <= transcript.seconds
    assert transcript.extra["n_predict"] == 64 and transcript.extra["engine_settings"]["n_ctx"] == 4096
    assert transcript.loop_guard == {"enabled": True, "stopped": False}


def test_a_random_seed_is_drawn_recorded_and_reproduces_the_text(engine: EmbeddedEngine) -> None:
    first = generate(engine, PROMPT, SamplerChain().with_params(temp=1.0), n_predict=80)
    assert first.seed != 0xFFFFFFFF
    again = generate(engine, PROMPT, SamplerChain.from_dict(first.chain), n_predict=80)
    assert again.text == first.text


def test_many_seeds_in_one_process_reuse_one_engine(engine: EmbeddedEngine) -> None:
    texts = {generate(engine, PROMPT, SamplerChain(seed=seed), n_predict=40).text for seed in range(12)}
    assert len(texts) >= 10


def test_the_loop_guard_can_be_switched_off(engine: EmbeddedEngine) -> None:
    greedy = SamplerChain(order=("temperature",), seed=1).with_params(temp=0.0)
    guarded = generate(engine, "def main(", greedy, n_predict=1500)
    unguarded = generate(engine, "def main(", greedy, n_predict=1500,
                         loop_guard=LoopGuardSettings(enabled=False))
    assert guarded.finish_reason == "loop" and guarded.loop_guard["stopped"]
    assert unguarded.finish_reason == "length" and unguarded.loop_guard == {"enabled": False}
    assert unguarded.text.startswith(guarded.text)


def test_file_hash_is_remembered_by_path_size_and_mtime(tmp_path: Path) -> None:
    model = tmp_path / "m.gguf"
    model.write_bytes(b"a" * 1000)
    stamp = os.stat(model).st_mtime_ns
    first = file_sha256(model)
    model.write_bytes(b"b" * 1000)  # same size; put the old mtime back: the cache answers
    os.utime(model, ns=(stamp, stamp))
    generation._hash_memory.clear()  # the on-disk cache alone must answer
    assert file_sha256(model) == first
    os.utime(model, ns=(stamp + 10**9, stamp + 10**9))
    assert file_sha256(model) == hashlib.sha256(b"b" * 1000).hexdigest()


def test_think_phase_follows_tags_split_across_pieces() -> None:
    phase = ThinkPhase("...<|im_start|>assistant\n<think>\n")
    assert phase.thinking
    for chunk in ["reasoning </th", "ink>", "\n\nanswer"]:
        phase.feed(chunk)
    assert phase.name == "answer"
    phase.feed("<thi")
    phase.feed("nk> again")
    assert phase.thinking
    assert not ThinkPhase("plain prompt").thinking


def test_progress_line_shows_phase_tokens_and_rate_only_when_enabled() -> None:
    out = io.StringIO()
    line = ProgressLine("<think>\n", stream=out, enabled=True)
    line.update(Piece("abc", b"abc"), 1)
    line.finish(1, "eos")
    assert "thinking" in out.getvalue() and "tok/s" in out.getvalue() and "eos" in out.getvalue()
    quiet = io.StringIO()
    silent = ProgressLine("", stream=quiet)  # a StringIO is no terminal
    silent.update(Piece("abc", b"abc"), 1)
    silent.finish(1, "eos")
    assert quiet.getvalue() == ""


# -- the command -------------------------------------------------------------------------------

def test_unknown_sampler_exits_2_naming_it_and_the_valid_names(tiny_model: Path, capsys) -> None:
    assert main(["generate", "--model", str(tiny_model), "--samplers", "top_k;bogus"]) == 2
    err = capsys.readouterr().err.strip()
    assert "bogus" in err and "temperature" in err and "penalties" in err
    assert len(err.splitlines()) == 1


def test_repeat_penalty_without_penalties_stage_is_reported_unused(tiny_model: Path, capsys) -> None:
    code = main(["generate", "--model", str(tiny_model), "--explain", "--repeat-penalty", "1.1",
                 "--samplers", "top_k;top_p;min_p;temperature;dry;typ_p;xtc"])
    assert code == 0
    out = capsys.readouterr().out
    assert "--repeat-penalty 1.1" in out and "penalties" in out


def test_raw_output_is_exactly_the_generated_bytes_with_a_sidecar(tiny_model: Path, tmp_path: Path,
                                                                  capsys) -> None:
    prompt_file = tmp_path / "prompt.txt"
    prompt_file.write_text(PROMPT, encoding="utf-8")
    out = tmp_path / "out.txt"
    with EmbeddedEngine(tiny_model, n_ctx=2048, n_threads=1) as engine:
        biases = [f"{token}-inf" for token, _ in never_end(engine)]
    code = main(["generate", "--model", str(tiny_model), "--raw", "-f", str(prompt_file),
                 "--output", str(out), "-n", "120", "--seed", "8", "-t", "1", "-c", "2048",
                 "--logit-bias", biases[0], "--logit-bias", biases[1]])
    assert code == 0
    meta = json.loads((tmp_path / "out.txt.json").read_text(encoding="utf-8"))
    # -f drops one trailing newline, as llama.cpp does
    assert meta["prompt"] == PROMPT.removesuffix("\n") and meta["prompt_name"] is None
    assert meta["seed"] == 8 and meta["n_generated_tokens"] == 120
    with EmbeddedEngine(tiny_model, n_ctx=2048, n_threads=1) as engine:
        stream = engine.stream(GenerationRequest(meta["prompt"], SamplerChain.from_dict(meta["chain"]), 120))
        expected = b"".join(piece.data for piece in stream)
    assert out.read_bytes() == expected
    assert Transcript.load(out).finish_reason == "length"
    captured = capsys.readouterr()
    assert captured.out == ""  # the text went to the file, not to stdout
    assert "sampler chain" in captured.err and "finish: length" in captured.err


def test_named_prompt_is_wrapped_with_think_once_and_json_printed(tiny_model: Path, capsys) -> None:
    code = main(["generate", "--model", str(tiny_model), "--prompt-name", "flappy_bird", "--json",
                 "-n", "30", "--seed", "3", "-t", "1", "-c", "4096"])
    assert code == 0
    record = json.loads(capsys.readouterr().out)
    assert record["prompt_name"] == "flappy_bird"
    assert record["prompt"].endswith("<|im_start|>assistant\n<think>\n")
    assert record["prompt"].count("<think>") == 1
    assert 0 < record["n_generated_tokens"] <= 30 and record["finish_reason"] in ("eos", "length")


def test_missing_model_and_unreachable_server_are_one_line_errors(capsys) -> None:
    assert main(["generate", "-n", "5"]) == 2
    assert main(["generate", "--engine", "server", "--server-url", "http://127.0.0.1:9", "-n", "5",
                 "-p", "hi"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert "--model" in lines[0]
    assert "unreachable" in lines[-1]


def test_a_template_that_opens_think_gets_it_once_and_model_defaults_apply(tmp_path: Path,
                                                                          capsys) -> None:
    from pipeline.models.tiny_model import make_tiny_model

    model = tmp_path / "think.gguf"
    make_tiny_model(model, template_adds_think=True, sampling={"temp": 0.5, "top_k": 12})
    code = main(["generate", "--model", str(model), "--json", "-n", "20", "--seed", "2", "-t", "1",
                 "-c", "2048", "--top-k", "30"])
    assert code == 0
    captured = capsys.readouterr()
    record = json.loads(captured.out)
    assert record["prompt"].endswith("<|im_start|>assistant\n<think>\n")
    assert record["prompt"].count("<think>") == 1
    # temp comes from the model file; top_k was given, so the file's 12 is not used
    assert record["chain"]["params"]["temp"] == 0.5 and record["chain"]["params"]["top_k"] == 30
    assert "general.sampling.temp" in captured.err and "general.sampling.top_k" in captured.err
    assert record["extra"]["engine_settings"]["n_ctx"] == 2048
    assert record["extra"]["llama_args"][:2] == ["--model", str(model)]


# -- Ctrl-C and where the text goes ------------------------------------------------------------

def test_ctrl_c_keeps_what_was_generated_as_an_interrupted_transcript(engine: EmbeddedEngine) -> None:
    from pipeline.generation.generate import GenerationInterrupted

    seen: list[Piece] = []

    def stop_after_ten(piece: Piece) -> None:
        seen.append(piece)
        if len(seen) == 10:
            raise KeyboardInterrupt

    chain = SamplerChain(seed=5, logit_bias=never_end(engine))
    with pytest.raises(GenerationInterrupted) as stopped:
        generate(engine, PROMPT, chain, n_predict=500, on_piece=stop_after_ten, progress=False)
    partial = stopped.value.transcript
    assert isinstance(stopped.value, KeyboardInterrupt)  # callers that do not look still stop
    assert partial.finish_reason == "interrupted" and partial.n_generated_tokens == 10
    assert partial.text == "".join(piece.text for piece in seen) and partial.seed == 5
    full = generate(engine, PROMPT, chain, n_predict=500, progress=False)
    assert full.text.startswith(partial.text)


@pytest.mark.parametrize(("signal_name", "exit_code"), [("SIGINT", 130), ("SIGTERM", 143)])
def test_a_stopped_gencheck_generate_writes_the_partial_transcript(
        signal_name: str, exit_code: int, tiny_model: Path, tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "run" / "out.txt"
    with EmbeddedEngine(tiny_model, n_ctx=256, n_threads=1) as loaded:
        biases = [arg for token, _ in never_end(loaded) for arg in ("-l", f"{token}-inf")]
    command = [sys.executable, "-m", "pipeline.cli", "generate", "--model", str(tiny_model),
               "--no-loop-guard", "-p", "def f", "-n", "-1", "-c", "0", "-t", "1", "--seed", "4",
               "--output", str(out), *biases]
    log = tmp_path / "stderr.txt"
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=sink,
                                   stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        # The chain is printed just before generation starts; give it a moment to produce tokens.
        while b"dist" not in log.read_bytes():
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        time.sleep(1.0)
        process.send_signal(getattr(signal, signal_name))
        process.wait(timeout=60)
    finally:
        process.kill()
    err = log.read_bytes()
    assert process.returncode == exit_code, err.decode()
    meta = json.loads((tmp_path / "run" / "out.txt.json").read_text(encoding="utf-8"))
    assert meta["finish_reason"] == "interrupted" and 0 < meta["n_generated_tokens"] < 32768
    assert len(out.read_text(encoding="utf-8")) > 0
    assert b"finish: interrupted after" in err


def test_an_output_path_that_cannot_be_written_is_refused_before_generating(
        tiny_model: Path, tmp_path: Path, capsys) -> None:
    a_file = tmp_path / "plain.txt"
    a_file.write_text("x", encoding="utf-8")
    for output in (tmp_path, a_file / "out.txt"):
        assert main(["generate", "--model", str(tiny_model), "-n", "5", "--output", str(output)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [f"gencheck generate: error: --output {tmp_path} is a folder; give a file name",
                     f"gencheck generate: error: --output {a_file / 'out.txt'}: {a_file} is a file, "
                     "not a folder"]


def test_a_closed_stdout_without_output_is_refused(tiny_model: Path, monkeypatch, capsys) -> None:
    import sys

    monkeypatch.setattr(sys, "stdout", None)  # what Python sets when started with fd 1 closed
    assert main(["generate", "--model", str(tiny_model), "-n", "5", "-p", "hi"]) == 2
    assert "stdout is closed" in capsys.readouterr().err


def test_explain_says_how_large_the_context_is_and_where_that_came_from(tiny_model: Path,
                                                                        capsys) -> None:
    runs = {"model": [], "override": ["--override-kv", "qwen2.context_length=int:131072"],
            "flag": ["-c", "4096"]}
    said = {}
    for name, flags in runs.items():
        assert main(["generate", "--model", str(tiny_model), "--explain", *flags]) == 0
        said[name] = [line for line in capsys.readouterr().out.splitlines() if "context:" in line]
    assert said["model"] == ["note: context: 32768 tokens, the model's training context "
                             "(qwen2.context_length of the model file) as -c is 0 or unset; its whole "
                             "KV cache is allocated at load: set -c to what the run needs"]
    assert len(said["override"]) == 1
    assert said["override"][0].startswith("note: context: 131072 tokens")
    assert "of an --override-kv" in said["override"][0]
    assert said["flag"] == ["note: context: 4096 tokens (-c 4096)"]


def test_a_prompt_mistake_is_reported_before_the_model_is_loaded(tiny_model: Path, capsys) -> None:
    # A context llama.cpp cannot allocate fails only at load: the prompt's error must come first.
    assert main(["generate", "--model", str(tiny_model), "--prompt-name", "no-such-prompt",
                 "-c", "100000000"]) == 2
    assert "unknown prompt 'no-such-prompt'" in capsys.readouterr().err
