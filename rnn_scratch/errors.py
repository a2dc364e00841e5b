"""What every layer may raise: the one error type shared from the model up to the study.

It lives at the bottom of the package so that tasks (which check their own files and options) and the
training harness (which validates a whole run) raise the same type without importing each other.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """A bad configuration value; the message starts with the key."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
