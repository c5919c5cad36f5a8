"""Test prompts: one file per prompt with its text, chat wrapping, scenarios and requirement checks."""
