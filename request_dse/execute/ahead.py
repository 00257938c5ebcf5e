"""Workers forked ahead of their job: a measurement session's wall time holds no fork.

Each session of the measurement protocol runs in a fresh worker forked from the worker server.
The fork and the worker's first steps happen where the server runs (on the build cores, beside a
build), before the worker pins itself to the measurement cores: on the reference host 17-73 ms
went by between asking for a worker and its first instruction, the largest single part of what
an early-stopped candidate's judging session cost. So for the labels it is given (measurement
workers), a runner keeps one worker forked ahead: it waits for its job on a pipe, runs that one
job as every worker does (:func:`request_dse.envs.child_main`: its own process group, death with
its parent, pinned cores, the job's environment, its log) and ends. Every job still gets a
process of its own, forked from the same server, so no state survives from one session to the
next. A spare that never gets a job ends when its runner closes, or when its pipe closes (the
driver gone).
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from request_dse.execute._worker import spare_main

__all__ = ["AHEAD", "Spares"]

#: Labels whose next worker a :class:`~request_dse.execute.ProcessRunner` forks ahead.
AHEAD = ("measure",)


@dataclass
class _Spare:
    process: Any
    results: Any  # the parent's end of the pipe its result comes back on
    jobs: Any     # the parent's end of the pipe its job goes to


class Spares:
    """One worker forked ahead per label, taken by the next job of that label. Thread-safe."""

    def __init__(self, labels: Iterable[str] = AHEAD) -> None:
        self.labels = frozenset(labels)
        self._ready: dict[str, _Spare] = {}
        self._lock = threading.Lock()
        self._closed = False

    def take(self, label: str, args: tuple[Any, ...]) -> tuple[Any, Any] | None:
        """Give ``args`` (:func:`~request_dse.envs.child_main`'s, after its pipe) to the spare of
        ``label``: its process and the pipe its result comes back on; None when none is ready
        (or it could not take the job: it is then ended, and the job goes to a fresh worker)."""
        with self._lock:
            spare = self._ready.pop(label, None)
        if spare is None:
            return None
        try:
            spare.jobs.send(args)
        except Exception:  # noqa: BLE001 - a spare that died, or a job that cannot be pickled: a fresh worker says which
            _end(spare)
            return None
        spare.jobs.close()
        return spare.process, spare.results

    def fork(self, label: str, ctx: Any) -> None:
        """Fork the next spare of ``label`` from the worker server ``ctx``, unless one is ready,
        the label is not forked ahead or the runner is closed."""
        if label not in self.labels:
            return
        with self._lock:
            if self._closed or label in self._ready:
                return
            jobs_in, jobs = ctx.Pipe(duplex=False)
            results, results_out = ctx.Pipe(duplex=False)
            process = ctx.Process(target=spare_main, daemon=True, name=f"request-dse-{label}",
                                  args=(jobs_in, results_out))
            process.start()
            jobs_in.close()
            results_out.close()
            self._ready[label] = _Spare(process, results, jobs)

    def ready(self, label: str) -> int | None:
        """The pid of the spare of ``label`` waiting for a job, if one is."""
        with self._lock:
            spare = self._ready.get(label)
            return spare.process.pid if spare is not None else None

    def close(self) -> None:
        """End every spare; no more are forked."""
        with self._lock:
            self._closed = True
            spares, self._ready = list(self._ready.values()), {}
        for spare in spares:
            _end(spare)


def _end(spare: _Spare) -> None:
    for conn in (spare.jobs, spare.results):
        conn.close()
    try:
        os.kill(spare.process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    spare.process.join(timeout=5)
    if spare.process.exitcode is not None:
        spare.process.close()
