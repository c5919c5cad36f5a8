"""The pytest plugin: gate tests skip without a model, settings follow flag > ini > marker > default."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest_plugins = ("pytester",)

SETTINGS_PROBE = """
import json
import pytest

@pytest.mark.gencheck_gate(seeds=5, engine="replay")
def test_marked(gencheck_settings):
    print("SETTINGS", json.dumps(gencheck_settings.__dict__))

@pytest.mark.gencheck_gate
def test_plain(gencheck_settings):
    print("SETTINGS", json.dumps(gencheck_settings.__dict__))
"""


def settings_printed(result: pytest.RunResult) -> list[dict]:
    import json

    return [json.loads(line.split("SETTINGS ", 1)[1]) for line in result.outlines if "SETTINGS " in line]


def test_gate_tests_skip_with_the_reason_when_no_model_is_given(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest

        @pytest.mark.gencheck_gate
        def test_gate(gencheck):
            raise AssertionError("must not run")

        def test_ordinary():
            pass
    """)
    result = pytester.runpytest("-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*no model given; run with --gencheck-model PATH.gguf*"])


def test_the_gencheck_fixture_skips_an_unmarked_test_without_a_model(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_gate(gencheck):\n    raise AssertionError('must not run')\n")
    pytester.runpytest().assert_outcomes(skipped=1)


def test_marker_arguments_apply_when_no_flag_or_ini_sets_them(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SETTINGS_PROBE)
    result = pytester.runpytest("-s", "--gencheck-model", "tiny")
    result.assert_outcomes(passed=2)
    marked, plain = settings_printed(result)
    assert (marked["seeds"], marked["engine"], marked["model"]) == (5, "replay", "tiny")
    assert (plain["seeds"], plain["engine"], plain["store"]) == (3, "embedded", None)


def test_ini_beats_marker_and_flag_beats_ini(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SETTINGS_PROBE)
    pytester.makeini("[pytest]\ngencheck_model = from-ini.gguf\ngencheck_seeds = 7\n"
                     "gencheck_store = ini.db\n")
    from_ini = settings_printed(pytester.runpytest("-s"))
    assert [s["seeds"] for s in from_ini] == [7, 7]
    assert {s["model"] for s in from_ini} == {"from-ini.gguf"}
    from_flag = settings_printed(pytester.runpytest("-s", "--gencheck-seeds", "2",
                                                    "--gencheck-model", "flag.gguf"))
    assert [s["seeds"] for s in from_flag] == [2, 2]
    assert {(s["model"], s["store"]) for s in from_flag} == {("flag.gguf", "ini.db")}


def test_a_model_from_the_marker_alone_runs_the_gate(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest

        @pytest.mark.gencheck_gate(model="tiny")
        def test_gate(gencheck_settings):
            assert gencheck_settings.model == "tiny"
    """)
    pytester.runpytest().assert_outcomes(passed=1)


def test_seeds_that_are_not_a_whole_number_are_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SETTINGS_PROBE)
    result = pytester.runpytest("--gencheck-model", "tiny", "--gencheck-seeds", "many")
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*--gencheck-seeds must be a whole number*"])


@pytest.mark.parametrize("mistake", [["--gencheck-model", "no-such-model.gguf"],
                                     ["--gencheck-engine", "bogus"]],
                         ids=["missing-model", "unknown-engine"])
def test_a_mistaken_gate_setting_fails_the_gate_in_one_line(pytester: pytest.Pytester, mistake: list[str],
                                                            tiny_model, tmp_path) -> None:
    # The tiny model is built (numpy loaded) out here: pytester's in-process run unloads modules
    # first imported inside it, and numpy cannot be loaded twice.
    flags = ["--gencheck-model", str(tiny_model), *mistake]
    pytester.makepyfile("""
        import pytest

        @pytest.mark.gencheck_gate
        def test_gate(gencheck):
            gencheck.run("unsloth-qwq")
    """)
    result = pytester.runpytest(*flags, "--gencheck-store", str(tmp_path / "gate.db"))
    result.assert_outcomes(failed=1)  # failed, not skipped: a misconfigured gate must not pass CI
    result.stdout.fnmatch_lines(["gencheck gate: *"])
    assert "Traceback" not in result.stdout.str() and "pipeline/runs/matrix.py" not in result.stdout.str()


def test_loading_the_plugin_imports_nothing_heavy() -> None:
    code = ("import sys, pipeline.pytest_plugin; "
            "heavy = [m for m in ('llama_cpp', 'scipy', 'libcst', 'pygame', 'rich', 'pipeline.runs.matrix')"
            " if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_gate_test_runs_the_tiny_model_end_to_end(pytester: pytest.Pytester, tiny_model,
                                                    tmp_path) -> None:
    pytester.makepyfile("""
        import pytest

        @pytest.mark.gencheck_gate(seeds=2)
        def test_gate(gencheck):
            result = gencheck.run("unsloth-qwq", n_predict=64)
            assert (result.name, result.total) == ("unsloth-qwq", 2)
            assert [s.seed for s in result.samples] == [1, 2]
            assert result.pass_rate == 0.0  # bigram babble is never a program
            comparison = gencheck.compare("unsloth-qwq-baseline", "unsloth-qwq", n_predict=64)
            assert not comparison.significant()
    """)
    result = pytester.runpytest("--gencheck-model", str(tiny_model),
                                "--gencheck-store", str(tmp_path / "gate.db"))
    result.assert_outcomes(passed=1)


def test_parallel_follows_flag_over_ini_over_marker_over_the_default(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SETTINGS_PROBE.replace('engine="replay"', 'engine="replay", parallel=4'))
    marked, plain = settings_printed(pytester.runpytest("-s", "--gencheck-model", "tiny"))
    assert (marked["parallel"], plain["parallel"]) == (4, 1)
    pytester.makeini("[pytest]\ngencheck_parallel = 2\n")
    assert [s["parallel"] for s in settings_printed(pytester.runpytest("-s", "--gencheck-model", "tiny"))] == [2, 2]
    from_flag = settings_printed(pytester.runpytest("-s", "--gencheck-model", "tiny", "--gencheck-parallel", "8"))
    assert [s["parallel"] for s in from_flag] == [8, 8]


def test_parallel_below_one_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SETTINGS_PROBE)
    result = pytester.runpytest("--gencheck-model", "tiny", "--gencheck-parallel", "0")
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*--gencheck-parallel must be at least 1, not 0*"])
