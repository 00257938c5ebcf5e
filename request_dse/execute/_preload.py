"""Imported once by the forkserver of worker processes (see :mod:`._worker`): finds the plug-ins
(backends and target kinds) there, so that every forked worker inherits the registries instead
of scanning entry points and importing every backend module again before its work starts."""

from __future__ import annotations

from request_dse.backends import names
from request_dse.targets import kinds

names()
kinds()
