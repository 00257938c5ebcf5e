"""Exceptions that reach the user.

A :class:`UserError` is bad input: the CLI prints its one-line message and exits with code 2.
Everything else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations

from pathlib import Path


class UserError(Exception):
    """Bad input from the user: a file, a field, a rule."""

    exit_code = 2


class ConfigError(UserError):
    """A value in a file breaks a rule: ``<file>: <field>: <rule>``."""

    def __init__(self, source: str | Path, field: str, rule: str) -> None:
        self.source = str(source)
        self.field = field
        self.rule = rule
        where = f"{self.source}: {field}" if field else self.source
        super().__init__(f"{where}: {rule}")


class NothingMeasured(Exception):
    """A study ended without one successful trial (exit code 3)."""

    exit_code = 3
