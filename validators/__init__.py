"""Checks on an extracted program. Each is a plain function `code -> list[Finding]`."""
