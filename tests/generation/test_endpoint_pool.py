"""A pool of two real llama-servers (tiny model, -np 2): slots from /props, a server killed
mid-sample, its samples queued again on the other; nothing lost, nothing reported twice.

The `native` tests need llama-server built by `python -m pipeline.models.native_build`.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.generation.endpoint_pool import EndpointPool, is_endpoint_failure
from pipeline.generation.engines.base import GenerationRequest, Piece
from pipeline.generation.engines.http_json import RequestRefused, ServerError
from pipeline.generation.slots import SampleJob
from pipeline.runs.open_engines import open_pool
from pipeline.sampling.presets import preset
from pipeline.transcript import Transcript
from prompts import DEFAULT_PROMPT, load_prompt
from tests.native_tools import start_llama_server, stop

SEEDS = range(1, 11)
N_PREDICT = 120
SERVER_CTX = 2 * 1024  # two slots of 1024: the prompt (479 tokens) + the limit fit


class Recorder:
    """Collects finished samples; kills `victim` at the first piece one of its slots streams,
    so the kill lands mid-sample (a piece is only streamed before the sample's end)."""

    def __init__(self, victim: subprocess.Popen[bytes] | None = None, victim_slots: range = range(0)) -> None:
        self.transcripts: dict[object, Transcript] = {}
        self.requeued_tags: list[object] = []
        self.victim, self.victim_slots = victim, victim_slots
        self.killed_during: object = None
        self._lock = threading.Lock()
        self._current: dict[int, object] = {}

    def started(self, slot: int, job: SampleJob) -> None:
        self._current[slot] = job.tag

    def piece(self, slot: int, piece: Piece) -> None:
        with self._lock:
            if self.victim is not None and self.killed_during is None and slot in self.victim_slots:
                self.killed_during = self._current[slot]
                self.victim.kill()

    def finished(self, slot: int, job: SampleJob, transcript: Transcript) -> None:
        assert job.tag not in self.transcripts, f"seed {job.tag} reported twice"
        self.transcripts[job.tag] = transcript

    def requeued(self, slot: int, job: SampleJob) -> None:
        self.requeued_tags.append(job.tag)


def jobs() -> Iterator[SampleJob]:
    prompt = load_prompt(DEFAULT_PROMPT).wrapped()
    chain = preset("unsloth-qwq")
    for seed in SEEDS:
        yield SampleJob(seed, GenerationRequest(prompt, chain.with_seed(seed), N_PREDICT))


@pytest.fixture
def two_servers(tiny_model: Path, tmp_path: Path) -> Iterator[list[tuple[subprocess.Popen[bytes], str]]]:
    servers = []
    logs = [(tmp_path / f"server-{name}.log").open("wb") for name in ("a", "b")]
    try:
        for log in logs:
            servers.append(start_llama_server(tiny_model, log, n_ctx=SERVER_CTX, n_parallel=2))
        yield servers
    finally:
        for process, _ in servers:
            stop(process)
        for log in logs:
            log.close()


@pytest.mark.native
def test_a_server_killed_mid_sample_loses_nothing_and_reports_nothing_twice(
        two_servers: list[tuple[subprocess.Popen[bytes], str]], capsys: pytest.CaptureFixture[str]) -> None:
    (_, url_a), (process_b, url_b) = two_servers
    pool: EndpointPool = open_pool("server", [url_a, url_b])
    assert [e.slots for e in pool.endpoints] == [2, 2]  # from /props total_slots
    recorder = Recorder(victim=process_b, victim_slots=range(2, 4))
    pool.run(jobs(), recorder)
    assert recorder.killed_during is not None, "the server was never killed mid-sample"
    assert recorder.killed_during in recorder.requeued_tags
    assert sorted(recorder.transcripts) == list(SEEDS)
    assert "failed" in capsys.readouterr().err and not pool.endpoints[1].alive

    # Every text is whole: the same as the surviving server makes it alone.
    alone = Recorder()
    open_pool("server", [url_a]).run(jobs(), alone)
    for seed in SEEDS:
        assert recorder.transcripts[seed].text == alone.transcripts[seed].text, f"seed {seed}"
        assert recorder.transcripts[seed].finish_reason in ("eos", "length", "loop")


@pytest.mark.native
def test_a_run_over_the_pool_keys_samples_apart_from_the_endpoint_that_made_them(
        two_servers: list[tuple[subprocess.Popen[bytes], str]], tiny_model: Path, tmp_path: Path) -> None:
    (_, url_a), (_, url_b) = two_servers
    store = tmp_path / "pool.db"
    command = [sys.executable, "-m", "pipeline.cli.main", "run", "--engine", "server", "--model", str(tiny_model),
               "--seeds", "4", "--no-smoke", "--n-predict", "40", "--store", str(store)]
    both = subprocess.run([*command, "--server-url", url_a, "--server-url", url_b],
                          capture_output=True, text=True, timeout=600)
    assert both.returncode == 0, both.stderr
    assert "4 generated, 0 reused" in both.stdout
    one = subprocess.run([*command, "--server-url", url_b], capture_output=True, text=True, timeout=600)
    assert one.returncode == 0, one.stderr
    assert "0 generated, 4 reused" in one.stdout


def test_an_unreachable_endpoint_is_one_line_before_the_run(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "pipeline.cli.main", "run", "--engine", "server",
                           "--server-url", "http://127.0.0.1:9", "--store", str(tmp_path / "x.db")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].endswith("start it or fix --server-url")


def test_a_refused_request_stops_the_run_and_a_failed_endpoint_does_not() -> None:
    assert not is_endpoint_failure(RequestRefused("llama-server answered 400"))
    assert is_endpoint_failure(ServerError("llama-server broke off the stream"))
    assert is_endpoint_failure(ConnectionResetError())
