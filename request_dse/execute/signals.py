"""Stopping a study from outside: SIGTERM ends it the way Ctrl-C (SIGINT) does.

Python turns SIGINT into :class:`KeyboardInterrupt` in the main thread; :func:`stop_on_sigterm`
turns SIGTERM (what ``kill``, systemd, Docker and job schedulers send) into
:class:`Terminated`, a ``KeyboardInterrupt``, so both take one path: the executor stops (its
workers are killed), the trials in flight are told ``interrupted`` and re-queued, tracking
closes the study's runs as KILLED, and the process ends within a couple of seconds.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

#: Exit codes of a study stopped by SIGINT and by SIGTERM (128 + the signal's number).
EXIT_SIGINT, EXIT_SIGTERM = 128 + signal.SIGINT, 128 + signal.SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived (raised in the main thread, like Ctrl-C's KeyboardInterrupt)."""


def exit_code(stop: BaseException) -> int:
    """The exit code of a run stopped by ``stop`` (a KeyboardInterrupt or :class:`Terminated`)."""
    return EXIT_SIGTERM if isinstance(stop, Terminated) else EXIT_SIGINT


@contextlib.contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """Inside the block, SIGTERM raises :class:`Terminated` in the main thread (elsewhere: nothing
    changes). The handler raises only once: a second SIGTERM while stopping is ignored, so the
    stop is not cut short."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    raised = False

    def handler(signum: int, frame: Any) -> None:
        nonlocal raised
        if not raised:
            raised = True
            raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
