"""Fidelity of a quant without sampling: KL divergence and top-token agreement against a
reference model along the prompt's own transcripts (kld), scored as llama-perplexity scores
(stats, logits, regions), its saved references (saved/), and the gate, run and compare views."""

from pipeline.lazy_exports import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "KldResult": "kld",
    "make_reference": "kld",
    "compare": "kld",
    "cached_reference": "kld",
    "KldSummary": "stats",
    "gate_kld": "gate",
    "run_kld": "run_report",
})
