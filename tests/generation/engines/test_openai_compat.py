"""What an OpenAI-compatible request carries of a llama.cpp chain, and what it says it cannot."""

from __future__ import annotations

import pytest

from pipeline.generation.engines.base import GenerationRequest
from pipeline.generation.engines.openai_compat import OpenAIEngine, completion_fields
from pipeline.generation.engines.server import ServerError
from pipeline.sampling.chain import SamplerChain
from pipeline.sampling.presets import preset


def test_the_write_up_chain_sends_what_the_api_can_carry() -> None:
    fields = completion_fields(preset("unsloth-qwq"))
    assert fields == {"temperature": 0.6, "top_p": 0.95, "top_k": 40, "min_p": 0.1,
                      "presence_penalty": 0.0, "frequency_penalty": 0.0,
                      "repetition_penalty": 1.0, "seed": 3407}  # no `penalties` stage: 1.1 never ran


def test_stages_left_out_of_the_order_are_sent_neutral() -> None:
    chain = SamplerChain(order=("temperature",), seed=5).with_params(temp=0.3, top_k=10, min_p=0.2)
    fields = completion_fields(chain)
    assert fields["top_k"] == -1 and fields["top_p"] == 1.0 and fields["min_p"] == 0.0
    assert fields["temperature"] == 0.3


def test_a_random_seed_is_not_sent_and_biases_are_clamped() -> None:
    chain = SamplerChain(logit_bias=((7, float("-inf")), (9, 250.0)))
    fields = completion_fields(chain)
    assert "seed" not in fields
    assert fields["logit_bias"] == {"7": -100.0, "9": 100.0}


def test_limitations_name_the_order_and_dry() -> None:
    lines = OpenAIEngine.limitations(preset("unsloth-qwq-penalties"))
    text = "\n".join(lines)
    assert "order" in text and "DRY" in text


def test_request_body_has_the_limit_and_the_model() -> None:
    engine = OpenAIEngine("http://127.0.0.1:1/v1", model="qwq")
    body = engine.request_body(GenerationRequest("hi", SamplerChain(seed=1), 42))
    assert body["max_tokens"] == 42 and body["model"] == "qwq" and body["prompt"] == "hi"
    assert body["stream"] is True


def test_an_unreachable_server_is_a_one_line_error() -> None:
    engine = OpenAIEngine("http://127.0.0.1:9/v1")
    with pytest.raises(ServerError, match="unreachable"):
        list(engine.stream(GenerationRequest("hi", SamplerChain(seed=1), 5)))


def test_a_url_that_is_not_http_is_refused() -> None:
    with pytest.raises(ServerError, match="not an http"):
        OpenAIEngine("ftp://example/v1")
