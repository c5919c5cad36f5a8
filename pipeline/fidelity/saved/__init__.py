"""A reference's distributions saved once and compared anywhere: llama-perplexity's
--kl-divergence-base format (base_file), gencheck's own keyed file beside the store
(reference), and the ledger of KLD results that `gencheck compare` reads (ledger)."""

from pipeline.lazy_exports import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "KldBaseFile": "base_file",
    "read_kld_base": "base_file",
    "write_kld_base": "base_file",
    "Reference": "reference",
    "load_any": "reference",
    "references_dir": "reference",
})
