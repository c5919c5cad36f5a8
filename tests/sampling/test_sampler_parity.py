"""The chain gencheck derives from llama-cli flags and a model's general.sampling.* keys is the
chain llama-completion (built from the same vendored llama.cpp) prints for the same command line.

llama-completion logs its parameters and its sampler chain ("logits -> top-k -> ?typical -> ...",
where `?` marks a sampler that changes nothing); both are compared with `plan()` and with the
off reasons that `explain()` prints. Needs the native build: `python -m pipeline.models.native_build`.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from pipeline.models.native_build import run_llama_completion
from pipeline.sampling.chain import SamplerChain
from pipeline.sampling.explain import planned_off_reason
from pipeline.sampling.llama_flags import parse_llama_args
from pipeline.sampling.presets import from_gguf_sampling
from tests.native_tools import llama_tool

pytestmark = pytest.mark.native

MODEL_SAMPLING = {"sequence": "top_k;temperature", "top_k": 7, "temp": 0.3, "penalty_last_n": 32,
                  "min_p": 0.07}
# llama.cpp's sampler names (llama_sampler_name) for the initialiser each planned step calls.
LLAMA_NAMES = {
    "logit_bias": "logit-bias", "penalties": "penalties", "dry": "dry", "top_n_sigma": "top-n-sigma",
    "top_k": "top-k", "typical": "typical", "top_p": "top-p", "min_p": "min-p", "xtc": "xtc",
    "temp_ext": "temp-ext", "temp": "temp", "infill": "infill", "mirostat": "mirostat",
    "mirostat_v2": "mirostat-v2", "adaptive_p": "adaptive-p", "dist": "dist",
}
# llama.cpp's printed parameter names -> SamplerParams fields.
PRINTED = {
    "repeat_last_n": "penalty_last_n", "repeat_penalty": "penalty_repeat",
    "frequency_penalty": "penalty_freq", "presence_penalty": "penalty_present",
    "dry_multiplier": "dry_multiplier", "dry_base": "dry_base",
    "dry_allowed_length": "dry_allowed_length", "dry_penalty_last_n": "dry_penalty_last_n",
    "top_k": "top_k", "top_p": "top_p", "min_p": "min_p", "xtc_probability": "xtc_probability",
    "xtc_threshold": "xtc_threshold", "typical_p": "typ_p", "top_n_sigma": "top_n_sigma",
    "temp": "temp", "mirostat": "mirostat", "mirostat_lr": "mirostat_eta",
    "mirostat_ent": "mirostat_tau", "adaptive_target": "adaptive_target",
    "adaptive_decay": "adaptive_decay",
}
COMMANDS = [
    "",
    "--sampling-seq kpm",  # llama.cpp lets the model's sequence replace --sampling-seq
    "--samplers 'top_p;min_p'",
    "--top-k 3 --temp 0.9",
    "--temp 0.6 --repeat-penalty 1.1 --dry-multiplier 0.5 --min-p 0.1 --top-k 40 --top-p 0.95 "
    "--samplers 'top_k;top_p;min_p;temperature;dry;typ_p;xtc'",
    "--samplers 'penalties;dry;xtc;typ;top_n_sigma' --repeat-penalty 1.1 --dry-multiplier 0.5 "
    "--xtc-probability 0.5 --xtc-threshold 0.6 --top-n-sigma 1.5 --typical 0.9",
    "--mirostat 2 --mirostat-ent 4 --temp 1",
    "--mirostat 1 --mirostat-lr 0.2",
    "--samplers 'top_k;adaptive_p;temp' --adaptive-target 0.5 --adaptive-decay 0.5",
    "--temp -1 --samplers 'TOP-K;Nucleus;temp;minp'",
    "-l 5+1.5 -l 6-inf --samplers temperature --dynatemp-range 0.2 --dynatemp-exp 2",
    "--dry-penalty-last-n 0 --dry-multiplier 0.8 --repeat-last-n 0 --repeat-penalty 1.3 "
    "--samplers 'penalties;dry;top_k;temp'",
    "--samplers ''",
]


@pytest.fixture(scope="module")
def completion() -> Path:
    return llama_tool("llama-completion")


@pytest.fixture(scope="module")
def model_with_sampling_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pipeline.models.tiny_model import make_tiny_model

    out = tmp_path_factory.mktemp("parity") / "tiny-sampling.gguf"
    corpus = "def add(a, b):\n    return a + b\n\nprint(add(1, 2))\n" * 8
    make_tiny_model(out, corpus=corpus, sampling=MODEL_SAMPLING)
    return out


def llama_completion_view(tool: Path, model: Path, flags: list[str],
                          log_file: Path) -> tuple[list[str], dict[str, str]]:
    # A run whose log stops before the chain line (llama-completion's unflushed logger, about
    # one run in fifteen on a loaded 2-core machine) says nothing about sampling: run again.
    # --log-file truncates the file on each run.
    def log() -> str:
        return log_file.read_text(encoding="utf-8", errors="replace") if log_file.exists() else ""

    run_llama_completion(tool, ["-m", str(model), "-p", "def", "-n", "4", "-t", "1", "-c", "128",
                                "-s", "1", "--log-file", str(log_file), *flags],
                         lambda _: "sampler chain: logits ->" in log(), attempts=3, timeout=120)
    text = log()
    chain_line = re.search(r"sampler chain: logits -> (.*)", text)
    assert chain_line is not None, text[-2000:]
    params = dict(re.findall(r"(\w+) = (-?[\d.]+)", text.split("sampler params:")[1]))
    return chain_line.group(1).split(" -> "), params


def our_view(chain: SamplerChain) -> list[str]:
    view = []
    for step in chain.plan():
        name = LLAMA_NAMES[step.init.removeprefix("llama_sampler_init_")]
        view.append(("?" if planned_off_reason(step) else "") + name)
    return view


@pytest.mark.parametrize("command", COMMANDS)
def test_flags_and_model_keys_give_llama_completions_chain(command: str, completion: Path,
                                                            model_with_sampling_keys: Path,
                                                            tmp_path: Path) -> None:
    flags = shlex.split(command)
    args = parse_llama_args(flags + ["-s", "1"])
    metadata = {f"general.sampling.{key}": value for key, value in MODEL_SAMPLING.items()}
    chain = from_gguf_sampling(metadata, args.user_set, args.chain)
    printed_chain, printed_params = llama_completion_view(completion, model_with_sampling_keys, flags,
                                                          tmp_path / "llama.log")
    assert [s.strip() for s in printed_chain if s.strip()] == our_view(chain)
    for printed, field in PRINTED.items():
        value = getattr(chain.params, field)
        expected = str(value) if isinstance(value, int) else f"{value:.3f}"
        assert printed_params[printed] == expected, (printed, printed_params[printed], expected)
