"""Imported once, first, by the forkserver of worker processes (see :mod:`._worker`): binds the
server's life to the driver's, runs the driver's main script once, then finds the plug-ins (backends and target kinds) there, so
that every forked worker inherits the registries instead of scanning entry points and importing
every backend module again before its work starts."""

from __future__ import annotations

from request_dse.execute._worker import bind_to_driver, import_main

bind_to_driver()
import_main()  # the driver's script, which each worker would otherwise run again

from request_dse.backends import names  # noqa: E402 - after binding: the server dies with the driver from here on
from request_dse.targets import kinds  # noqa: E402

names()
kinds()

# A judging session's judge (early stopping) is unpickled in the worker: its module is loaded here once.
import request_dse.evaluate.judge  # noqa: E402,F401
