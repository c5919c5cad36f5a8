"""gencheck: generate with a llama.cpp sampler chain, extract the final program, validate it, report."""

__version__ = "0.1.0"
