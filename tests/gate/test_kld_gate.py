"""The pytest gate's `gencheck.kld(model, reference=...)`: a quant close to its reference passes,
a coarse one fails, and the reference is computed once and saved beside the gate's store."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.models.random_qwen2 import ensure_random_qwen2

pytest_plugins = ("pytester",)

GATE_TESTS = """
import pytest

@pytest.mark.gencheck_gate
def test_q8_stays_close(gencheck):
    result = gencheck.kld("{q8}", reference="{ref}", texts=[TEXT])
    assert result.mean < 0.05 and result.same_top > 0.95, result.summary_line

@pytest.mark.gencheck_gate
def test_q4_stays_close(gencheck):
    result = gencheck.kld("{q4}", reference="{ref}", texts=[TEXT])
    assert result.mean < 0.05 and result.same_top > 0.95, result.summary_line

@pytest.mark.gencheck_gate
def test_the_gates_own_model_is_the_default(gencheck):
    result = gencheck.kld(reference="{ref}", texts=[TEXT])
    assert result.mean < 1e-5 and result.regions["code"].n_tokens > 0

TEXT = {text!r}
"""


def test_kld_gate_passes_a_close_quant_and_fails_a_coarse_one(pytester: pytest.Pytester, tmp_path: Path) -> None:
    # Models are built out here: pytester's in-process run unloads modules first imported in it.
    models = {kind: ensure_random_qwen2(kind, cache_dir=tmp_path / "models") for kind in ("F32", "Q8_0", "Q4_0")}
    text = (Path(__file__).resolve().parents[2] / "fixtures" / "corpus" / "answer_short_snippets.txt").read_text()
    pytester.makepyfile(GATE_TESTS.format(q8=models["Q8_0"], q4=models["Q4_0"], ref=models["F32"], text=text))
    store = tmp_path / "gate.db"
    result = pytester.runpytest("--gencheck-model", str(models["F32"]), "--gencheck-store", str(store))
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*test_q4_stays_close*", "*mean KLD 0.*same top*"])
    saved = list((tmp_path / "gate-kld-references").glob("*.kldref.npz"))
    assert len(saved) == 1  # one reference for the one text, shared by all three tests
