"""`server_request(chain)` is understood field by field by a real llama-server.

The server echoes the settings a request ran with (`generation_settings`); every field must come
back as the chain holds it, the order included. Needs the native build (python -m
pipeline.models.native_build); the server runs the tiny model on a free local port.
"""

from __future__ import annotations

import json
import math
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.sampling.chain import PARAM_SPECS, SamplerChain
from pipeline.sampling.explain import server_request
from pipeline.sampling.presets import preset
from tests.native_tools import running_llama_server

pytestmark = pytest.mark.native

CHAINS = {
    "unsloth-qwq": preset("unsloth-qwq"),
    "legacy-baseline": preset("unsloth-qwq-baseline"),
    "everything-set": SamplerChain.from_names("penalties;dry;top_n_sigma;xtc;typ_p;temperature").with_params(
        penalty_freq=0.25, penalty_present=-0.5, penalty_last_n=16, dry_base=2.5, dry_allowed_length=3,
        dry_penalty_last_n=32, dry_sequence_breakers=("\n", "def"), top_n_sigma=1.5,
        xtc_probability=0.25, xtc_threshold=0.2, typ_p=0.9, dynatemp_range=0.1,
        dynatemp_exponent=1.5, min_keep=2).with_seed(77),
    "biased": SamplerChain(order=("top_k",), logit_bias=((5, 1.5), (6, -math.inf))),
    "mirostat": SamplerChain().with_params(mirostat=2, mirostat_tau=4.0, mirostat_eta=0.2),
    "adaptive": SamplerChain.from_names("top_k;adaptive_p").with_params(adaptive_target=0.5,
                                                                        adaptive_decay=0.5),
}


@pytest.fixture(scope="module")
def server_url(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("server") / "server.log"
    with running_llama_server(tiny_model, log, n_ctx=256) as url:
        yield url


def _complete(url: str, body: dict) -> dict:
    request = urllib.request.Request(f"{url}/completion", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def _same(echoed: object, ours: object) -> bool:
    if isinstance(ours, float):  # the server holds floats as float32
        return isinstance(echoed, int | float) and math.isclose(echoed, ours, rel_tol=1e-6, abs_tol=1e-7)
    return echoed == ours


@pytest.mark.parametrize("name", sorted(CHAINS))
def test_llama_server_runs_the_request_with_every_setting_of_the_chain(name: str, server_url: str) -> None:
    chain = CHAINS[name]
    settings = _complete(server_url, {"prompt": "def", "n_predict": 1, "cache_prompt": False,
                                      **server_request(chain)})["generation_settings"]
    assert settings["samplers"] == list(chain.effective_order())
    assert settings["seed"] == chain.seed
    for field, spec in PARAM_SPECS.items():
        assert _same(settings[spec.server], getattr(chain.params, field)), (spec.server, settings[spec.server])
    assert settings["dry_sequence_breakers"] == list(chain.params.dry_sequence_breakers)
    # -inf (sent as `false`, "never this token") is echoed as null: JSON has no infinity
    echoed_bias = [(entry["token"], -math.inf if entry["bias"] is None else entry["bias"])
                   for entry in settings["logit_bias"]]
    assert echoed_bias == list(chain.logit_bias)


def test_a_request_the_server_refuses_is_one_line_with_the_servers_reason(server_url: str) -> None:
    from pipeline.generation.engines.base import GenerationRequest
    from pipeline.generation.engines.http_json import ServerError
    from pipeline.generation.engines.openai_compat import OpenAIEngine
    from pipeline.generation.engines.server import ServerEngine

    too_long = GenerationRequest("word " * 2000, SamplerChain(seed=1), 5)  # the server holds 256
    refusals = []
    for attempt in (lambda: ServerEngine(server_url).complete(too_long),
                    lambda: list(ServerEngine(server_url).stream(too_long)),
                    lambda: list(OpenAIEngine(f"{server_url}/v1").stream(too_long))):
        with pytest.raises(ServerError) as refused:
            attempt()
        refusals.append(str(refused.value))
    for message, endpoint in zip(refusals, ("/completion", "/completion", "/completions"), strict=True):
        assert f"answered 400 to {endpoint}: " in message and "\n" not in message
        assert "exceeds the available context size" in message
