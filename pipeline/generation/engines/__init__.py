"""Where tokens come from. Each engine turns a SamplerChain + prompt into streamed text."""
