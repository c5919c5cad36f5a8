"""Errors a user can cause. The CLI prints them as one line and exits 2; everything else is a bug."""


class UsageError(Exception):
    """A mistake in the user's input: the message says what to change, in one line."""
