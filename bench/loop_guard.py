"""How soon the loop guard stops a loop (tokens from onset to stop), and how often it stops healthy text.

    python bench/loop_guard.py [--seeds 8] [--tokens 3000]

Looping runs: the recorded looping transcripts of fixtures/ (replayed, token-like pieces) and
live runs of the tiny model that loop (the write-up's chain at temperature 0 and 0.05, and a
greedy chain, on the test prompts, several seeds). Healthy text: every recorded transcript
whose expected findings hold no loop, the healthy programs and the corpus answers of fixtures/.
Goal (issue 4): every loop stopped within 512 tokens of its onset; no healthy text stopped.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pipeline.generation.engines.base import GenerationRequest, PieceStream  # noqa: E402
from pipeline.generation.engines.embedded import EmbeddedEngine  # noqa: E402
from pipeline.generation.engines.replay import ReplayEngine  # noqa: E402
from pipeline.generation.loop_guard import GuardedStream  # noqa: E402
from pipeline.models.tiny_model import ensure_tiny_model  # noqa: E402
from pipeline.repetition import find_loop  # noqa: E402
from pipeline.sampling.chain import SamplerChain  # noqa: E402
from pipeline.sampling.presets import preset  # noqa: E402
from prompts import available, load_prompt  # noqa: E402

FIXTURES = REPO / "fixtures"
GOAL_TOKENS = 512


def guard(stream: PieceStream) -> dict:
    guarded = GuardedStream(stream)
    text = "".join(piece.text for piece in guarded)
    report = {**guarded.report(), "tokens": guarded.n_generated_tokens}
    if not report["stopped"]:  # did the run end in a loop the guard let through?
        report["loop_at_end"] = find_loop(text) is not None
    return report


def recorded(looping: bool) -> list[Path]:
    expected = tomllib.loads((FIXTURES / "expected.toml").read_text(encoding="utf-8"))
    return sorted(FIXTURES / name for name, entry in expected.items()
                  if name.startswith("transcripts/")
                  and any(k.startswith("transcript/repetition-loop") for k in entry["findings"]) == looping)


def healthy_texts() -> list[Path]:
    programs = [p for p in (FIXTURES / "programs").glob("healthy_*.py")]
    corpus = sorted((FIXTURES / "corpus").glob("*.txt"))
    return recorded(looping=False) + sorted(programs) + corpus


def replayed(path: Path) -> dict:
    engine = ReplayEngine(path.read_text(encoding="utf-8"), source=str(path))
    return guard(engine.stream(GenerationRequest("", SamplerChain(), -1)))


def live_loops(seeds: int, tokens: int) -> list[tuple[str, dict]]:
    chains = {
        "write-up order, temp 0": preset("unsloth-qwq").with_params(temp=0.0),
        "write-up order, temp 0.05": preset("unsloth-qwq").with_params(temp=0.05),
        "penalties first, temp 0, repeat 1.3": preset("unsloth-qwq-penalties").with_params(
            temp=0.0, penalty_repeat=1.3),
    }
    results = []
    with EmbeddedEngine(ensure_tiny_model(), n_ctx=tokens + 2048, n_threads=1) as engine:
        for prompt_name in available():
            prompt = load_prompt(prompt_name).wrapped()
            for label, chain in chains.items():
                for seed in range(1, seeds + 1):
                    report = guard(engine.stream(GenerationRequest(prompt, chain.with_seed(seed), tokens)))
                    results.append((f"{prompt_name}, {label}, seed {seed}", report))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=3000)
    args = parser.parse_args()

    loops = [(path.name, replayed(path)) for path in recorded(looping=True)]
    live = live_loops(args.seeds, args.tokens)
    stopped = [(name, r) for name, r in loops + live if r["stopped"]]
    missed = [name for name, r in loops if not r["stopped"]]
    live_unstopped = [name for name, r in live if not r["stopped"]]
    late = [(name, r) for name, r in stopped if r["tokens_after_onset"] > GOAL_TOKENS]
    after = [r["tokens_after_onset"] for _, r in stopped]
    print(f"recorded looping transcripts: {len(loops)}, stopped {len(loops) - len(missed)}"
          + (f" (missed: {', '.join(missed)})" if missed else ""))
    missed_live = [name for name, r in live if r.get("loop_at_end")]
    print(f"live tiny-model runs:         {len(live)}, stopped {len(live) - len(live_unstopped)}; "
          f"of the others, ending in a loop (find_loop): {len(missed_live)}")
    if after:
        print(f"tokens from onset to stop:    median {statistics.median(after):.0f}, "
              f"max {max(after)} (goal <= {GOAL_TOKENS}); later than the goal: {len(late)}")
    healthy = healthy_texts()
    false_stops = [(path.name, r) for path in healthy if (r := replayed(path))["stopped"]]
    print(f"healthy texts replayed:       {len(healthy)}, stopped {len(false_stops)} (goal 0)")
    for name, report in late + false_stops:
        print(f"  {name}: {report}")
    return 0 if not (missed or missed_live or late or false_stops) else 1


if __name__ == "__main__":
    sys.exit(main())
