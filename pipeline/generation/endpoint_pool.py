"""A pool of llama-server / OpenAI-compatible endpoints as the slots of one run.

Each endpoint takes as many requests at once as it has slots: llama-server says how many in
/props (`total_slots`, its -np); for other servers --server-slots sets it. Every slot is a
thread that pulls the next job from one queue and streams it through `generate()` (loop guard
and all); the finished transcript goes back to the caller's thread, which alone writes the
store. When an endpoint fails (unreachable, a stream cut off, a 5xx), it is dropped and every
sample it had in flight is queued again for the others: a sample is reported only once it has
finished, so nothing is lost and nothing is written twice. A request the server refuses (4xx)
would fail anywhere, so it stops the run instead.
"""

from __future__ import annotations

import http.client
import queue
import sys
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from pipeline.errors import UsageError
from pipeline.generation.engines.base import Engine
from pipeline.generation.engines.http_json import RequestRefused
from pipeline.generation.slots import SampleJob, SlotListener
from pipeline.transcript import Transcript


@dataclass
class Endpoint:
    engine: Engine
    url: str
    slots: int
    alive: bool = True
    failure: str | None = None
    announced: bool = False


def server_slot_count(engine: Engine, server_slots: int | None) -> int:
    """--server-slots when given, else llama-server's /props total_slots, else 1."""
    if server_slots is not None:
        return server_slots
    props = getattr(engine, "props", None)
    if callable(props):
        return max(1, int(props().get("total_slots") or 1))
    return 1


def is_endpoint_failure(error: BaseException) -> bool:
    """True when the endpoint, not the request, failed: the sample may succeed elsewhere."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, RequestRefused):
            return False
        seen = seen.__cause__
    return isinstance(error, UsageError | OSError | http.client.HTTPException)


@dataclass
class _Result:
    job: SampleJob
    slot: int
    endpoint: Endpoint
    transcript: Transcript | None = None
    error: BaseException | None = None


class EndpointPool:
    """The endpoints' slots, numbered across the pool in the order the endpoints were given."""

    def __init__(self, endpoints: list[Endpoint]) -> None:
        if not endpoints:
            raise UsageError("the pool has no endpoints; give --server-url")
        self.endpoints = endpoints
        self.n_slots = sum(e.slots for e in endpoints)

    def live_slots(self) -> int:
        return sum(e.slots for e in self.endpoints if e.alive)

    def run(self, jobs: Iterator[SampleJob], listener: SlotListener) -> None:
        """`listener.started` and `.piece` come from the slot threads; `.finished` from this one."""
        work: queue.Queue[SampleJob | None] = queue.Queue()
        results: queue.Queue[_Result] = queue.Queue()
        threads: list[threading.Thread] = []
        slot = 0
        for endpoint in self.endpoints:
            for _ in range(endpoint.slots):
                thread = threading.Thread(target=self._work, args=(endpoint, slot, work, results, listener),
                                          name=f"gencheck-slot-{slot}", daemon=True)
                threads.append(thread)
                thread.start()
                slot += 1
        try:
            self._dispatch(jobs, work, results, listener)
        finally:
            for _ in threads:
                work.put(None)
        for thread in threads:
            thread.join(timeout=5.0)  # idle slots stop at once; a dead endpoint's may hang: daemons

    def _dispatch(self, jobs: Iterator[SampleJob], work: queue.Queue[SampleJob | None],
                  results: queue.Queue[_Result], listener: SlotListener) -> None:
        retry: deque[SampleJob] = deque()
        outstanding, more_jobs = 0, True
        while True:
            if self.live_slots() == 0:
                failures = "; ".join(f"{e.url}: {e.failure}" for e in self.endpoints)
                raise UsageError(f"every endpoint failed ({failures})")
            # Keep every live slot busy, and no more: the jobs are pulled lazily (the store is
            # consulted for each), and a failed endpoint's samples go first.
            while outstanding < self.live_slots() and (retry or more_jobs):
                job = retry.popleft() if retry else next(jobs, None)
                if job is None:
                    more_jobs = False
                    break
                work.put(job)
                outstanding += 1
            if outstanding == 0:
                return
            result = results.get()
            outstanding -= 1
            if result.error is None:
                assert result.transcript is not None
                listener.finished(result.slot, result.job, result.transcript)
            elif is_endpoint_failure(result.error):
                self._drop(result.endpoint, result.error)
                requeued = getattr(listener, "requeued", None)
                if callable(requeued):
                    requeued(result.slot, result.job)
                retry.append(result.job)
            else:
                raise result.error

    def _drop(self, endpoint: Endpoint, error: BaseException) -> None:
        endpoint.failure = endpoint.failure or str(error) or type(error).__name__
        if not endpoint.announced:
            endpoint.announced = True
            left = len([e for e in self.endpoints if e.alive and e is not endpoint])
            where = f"queued again on the {left} other endpoint(s)" if left else "left: no endpoint is up"
            print(f"gencheck: endpoint {endpoint.url} failed ({endpoint.failure}); its samples are {where}",
                  file=sys.stderr)
        endpoint.alive = False

    def _work(self, endpoint: Endpoint, slot: int, work: queue.Queue[SampleJob | None],
              results: queue.Queue[_Result], listener: SlotListener) -> None:
        from pipeline.generation.generate import generate

        while True:
            job = work.get()
            if job is None:
                return
            if not endpoint.alive:  # a sibling slot found the endpoint dead: hand the job back
                results.put(_Result(job, slot, endpoint, error=ConnectionError(endpoint.failure or "failed")))
                return
            listener.started(slot, job)
            request = job.request
            try:
                transcript = generate(endpoint.engine, request.prompt, request.chain,
                                      n_predict=request.n_predict, prompt_name=job.prompt_name,
                                      progress=False, on_piece=lambda piece: listener.piece(slot, piece),
                                      model_path=job.model_path)
            except BaseException as error:  # handed to the caller's thread, which decides
                if is_endpoint_failure(error):
                    endpoint.alive = False
                    endpoint.failure = endpoint.failure or str(error) or type(error).__name__
                results.put(_Result(job, slot, endpoint, error=error))
                if not endpoint.alive:
                    return
                continue
            results.put(_Result(job, slot, endpoint, transcript=transcript))
