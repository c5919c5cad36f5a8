"""The OpenAI-compatible engine: `/v1/completions` on vLLM, Ollama, llama-server or the like.

Such a server has its own fixed sampler order and no DRY, XTC, top-n-sigma or typical sampling,
so it cannot reproduce a llama.cpp chain: `limitations()` (the chain's `openai_limitations()`)
says what will not be honoured, and `gencheck generate --engine openai` prints it before
generating. What it can carry is sent: temperature, top_p, seed, the token limit, presence and
frequency penalties, logit bias, and vLLM's extra fields top_k, min_p and repetition_penalty
(Ollama and others ignore those). Standard library only.
"""

from __future__ import annotations

import http.client
import math
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
from pipeline.sampling.chain import LLAMA_DEFAULT_SEED, SamplerChain
from pipeline.sampling.explain import openai_limitations

DEFAULT_URL = "http://127.0.0.1:8000/v1"
OPENAI_BIAS_LIMIT = 100.0  # the API's logit_bias range is -100..100


def completion_fields(chain: SamplerChain) -> dict[str, Any]:
    """The chain's settings that an OpenAI-style completion request can carry.

    A stage the chain does not run is sent in its neutral form, so the server's own defaults
    (which may not be neutral) do not creep in.
    """
    p, order = chain.params, set(chain.effective_order())
    fields: dict[str, Any] = {
        "temperature": p.temp if "temperature" in order else 1.0,
        "top_p": p.top_p if "top_p" in order else 1.0,
        "top_k": p.top_k if "top_k" in order and p.top_k > 0 else -1,
        "min_p": p.min_p if "min_p" in order else 0.0,
        "presence_penalty": p.penalty_present if "penalties" in order else 0.0,
        "frequency_penalty": p.penalty_freq if "penalties" in order else 0.0,
        "repetition_penalty": p.penalty_repeat if "penalties" in order else 1.0,
    }
    if chain.seed != LLAMA_DEFAULT_SEED:  # a random seed is left to the server
        fields["seed"] = chain.seed
    if chain.logit_bias:
        fields["logit_bias"] = {str(token): max(-OPENAI_BIAS_LIMIT, min(OPENAI_BIAS_LIMIT, bias))
                                if not math.isinf(bias) else -OPENAI_BIAS_LIMIT
                                for token, bias in chain.logit_bias}
    return fields


class OpenAIEngine:
    """A server speaking OpenAI's completions API at `url` (ending in /v1), serving `model`."""

    name = "openai"

    def __init__(self, url: str = DEFAULT_URL, *, model: str | None = None,
                 api_key: str | None = None, timeout_s: float = 600.0) -> None:
        self._http = JsonServer(url, who="the server", timeout_s=timeout_s,
                                headers={"Authorization": f"Bearer {api_key}"} if api_key else None)
        self.url = url
        self.model = model
        self.timeout_s = timeout_s

    def version(self) -> str:
        return f"openai-compatible server at {self.url}" + (f" ({self.model})" if self.model else "")

    def settings(self) -> dict[str, object]:
        return {"url": self.url, "model": self.model}

    @staticmethod
    def limitations(chain: SamplerChain) -> list[str]:
        return openai_limitations(chain)

    def request_body(self, request: GenerationRequest) -> dict[str, Any]:
        body: dict[str, Any] = {"prompt": request.prompt, "stream": True,
                                "stream_options": {"include_usage": True},
                                **completion_fields(request.chain)}
        if request.n_predict >= 0:
            body["max_tokens"] = request.n_predict
        if self.model:
            body["model"] = self.model
        return body

    def stream(self, request: GenerationRequest) -> OpenAIStream:
        return OpenAIStream(self, request)

    def close(self) -> None:
        pass


class OpenAIStream(GeneratorStream):
    """Pieces from the completions event stream; token counts come from the final `usage`."""

    def __init__(self, engine: OpenAIEngine, request: GenerationRequest) -> None:
        super().__init__()
        self._connection: http.client.HTTPConnection | None = None
        self._pieces = self._events(engine, request)

    def _events(self, engine: OpenAIEngine, request: GenerationRequest) -> Iterator[Piece]:
        self._connection, response = engine._http.open("POST", "/completions",
                                                        engine.request_body(request))
        events = 0
        try:
            for event in engine._http.events(response):
                usage = event.get("usage") or {}
                if usage:
                    self.n_prompt_tokens = int(usage.get("prompt_tokens", 0))
                    self.n_generated_tokens = int(usage.get("completion_tokens", 0))
                for choice in event.get("choices") or []:
                    if choice.get("finish_reason"):
                        self.finish_reason = FINISH_LENGTH if choice["finish_reason"] == "length" else FINISH_EOS
                    text = choice.get("text") or ""
                    if text:
                        # Without per-token data, one event is counted as one token.
                        events += 1
                        self.n_generated_tokens = max(self.n_generated_tokens, events)
                        yield Piece(text, text.encode("utf-8"), 1, None)
        finally:
            self._connection.close()
        if self.finish_reason is None:
            raise ServerError("the server closed the stream before saying why it stopped")

    def close(self) -> None:
        super().close()
        if self._connection is not None:
            self._connection.close()
