"""The llama-server engine: the same chain sent as one `/completion` request over HTTP.

llama-server builds the chain per request from the `samplers` array and the per-sampler fields
(tools/server/server-schema.cpp) with the same common_sampler code as llama-completion, and it
shows the prompt to the sampler too, so a request carries everything. Only the standard library
is used: the server speaks plain HTTP with server-sent events when streaming.
"""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from typing import Any

from pipeline.generation.engines.base import (
    FINISH_EOS,
    FINISH_LENGTH,
    GenerationRequest,
    GeneratorStream,
    Piece,
)
from pipeline.generation.engines.http_json import JsonServer, ServerError
from pipeline.sampling.explain import server_request

__all__ = ["DEFAULT_URL", "ServerEngine", "ServerError", "ServerStream"]

DEFAULT_URL = "http://127.0.0.1:8080"


class ServerEngine:
    """A running llama-server at `url` (the user starts it with their model and context)."""

    name = "server"

    def __init__(self, url: str = DEFAULT_URL, *, timeout_s: float = 600.0, stream: bool = True) -> None:
        self._http = JsonServer(url, who="llama-server", timeout_s=timeout_s)
        self.url = url
        self.timeout_s = timeout_s
        self.streaming = stream
        self._props: dict[str, Any] | None = None

    def props(self) -> dict[str, Any]:
        """The server's /props (model path, build), fetched once."""
        if self._props is None:
            self._props = self._http.json("GET", "/props")
        return self._props

    @property
    def model_path(self) -> str | None:
        """The model file as the server names it (it may live on another machine)."""
        return self.props().get("model_path")

    def settings(self) -> dict[str, object]:
        props = self.props()
        generation = props.get("default_generation_settings") or {}
        return {"url": self.url, "n_ctx": generation.get("n_ctx"), "total_slots": props.get("total_slots")}

    def version(self) -> str:
        build = self.props().get("build_info")
        return f"llama-server {build}" if build else "llama-server"

    def request_body(self, request: GenerationRequest, *, stream: bool) -> dict[str, Any]:
        body = dict(server_request(request.chain))
        body.update(prompt=request.prompt, n_predict=request.n_predict, stream=stream,
                    return_tokens=True, cache_prompt=False)
        return body

    def stream(self, request: GenerationRequest) -> ServerStream:
        return ServerStream(self, request)

    def complete(self, request: GenerationRequest) -> dict[str, Any]:
        """One non-streamed request: the server's whole answer (with every token id)."""
        return self._http.json("POST", "/completion", self.request_body(request, stream=False))

    def close(self) -> None:
        pass


def _finish_reason(final: dict[str, Any]) -> str:
    return FINISH_EOS if final.get("stop_type") == "eos" else FINISH_LENGTH


class ServerStream(GeneratorStream):
    """Pieces from the server's event stream (or from one reply when streaming is off)."""

    def __init__(self, engine: ServerEngine, request: GenerationRequest) -> None:
        super().__init__()
        self._connection: http.client.HTTPConnection | None = None
        runner = self._events if engine.streaming else self._whole
        self._pieces = runner(engine, request)

    def _whole(self, engine: ServerEngine, request: GenerationRequest) -> Iterator[Piece]:
        reply = engine.complete(request)
        text = reply.get("content", "")
        tokens = reply.get("tokens") or []
        self._finish(reply)
        if text or tokens:
            yield Piece(text, text.encode("utf-8"), self.n_generated_tokens, None)

    def _events(self, engine: ServerEngine, request: GenerationRequest) -> Iterator[Piece]:
        self._connection, response = engine._http.open("POST", "/completion",
                                                        engine.request_body(request, stream=True))
        predicted = pending = 0
        try:
            for event in engine._http.events(response):
                # Tokens that end inside a UTF-8 character are sent with the one that completes
                # it, so count tokens by the server's running total, not by event.
                now = int(event.get("tokens_predicted", predicted))
                text = event.get("content", "")
                if event.get("stop"):
                    self._finish(event)
                    if text:
                        yield Piece(text, text.encode("utf-8"), 0, None)
                    return
                pending, predicted = pending + now - predicted, now
                self.n_generated_tokens = predicted  # so far; the final event corrects it
                if text:
                    tokens = event.get("tokens") or [None]
                    yield Piece(text, text.encode("utf-8"), pending, tokens[-1])
                    pending = 0
        finally:
            self._connection.close()
        raise ServerError("llama-server closed the stream before its final event")

    def _finish(self, final: dict[str, Any]) -> None:
        self.finish_reason = _finish_reason(final)
        self.n_prompt_tokens = int(final.get("tokens_evaluated", 0))
        predicted = int(final.get("tokens_predicted", 0))
        # llama-server counts the end-of-generation token it sampled; the embedded engine (and
        # llama-completion's output) do not.
        self.n_generated_tokens = predicted - 1 if self.finish_reason == FINISH_EOS and predicted else predicted

    def close(self) -> None:
        super().close()
        if self._connection is not None:
            self._connection.close()
