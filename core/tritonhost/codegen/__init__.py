"""From IR to code: size expressions, memory planning, the FX wrapper, the torch.compile backend."""
