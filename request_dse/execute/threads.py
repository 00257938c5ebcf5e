"""Executors that run each trial in a driver thread (``local``, ``inline``, ``ray``).

A trial's thread calls :func:`request_dse.evaluate.run_trial` with the executor's runtime, which
decides where the build and the measurement run (worker processes, Ray tasks, this process);
the thread only waits. Results come back through a queue, in the order trials finish.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from request_dse.evaluate import TrialJob, run_trial
from request_dse.execute._base import Executor
from request_dse.execute._worker import summarize_exception
from request_dse.results import TrialResult

INTERRUPTED = "the study was stopped while this trial ran"


class ThreadedExecutor(Executor):
    """Trial threads and their result queue; subclasses set ``runtime`` and ``_capacity``."""

    runtime: Any
    _capacity: int

    def __init__(self) -> None:
        self._done: queue.Queue[tuple[TrialJob, TrialResult]] = queue.Queue()
        self._threads: dict[int, tuple[TrialJob, threading.Thread]] = {}
        self._lock = threading.Lock()
        self._newest: Callable[[], Any] | None = None

    def follow_front(self, newest: Callable[[], Any]) -> None:
        self._newest = newest  # read from the trials' threads: it must return a frozen snapshot

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def in_flight(self) -> int:
        with self._lock:
            return len(self._threads)

    def submit(self, job: TrialJob) -> None:
        thread = threading.Thread(target=self._run, args=(job,), daemon=True, name=f"trial-{job.number}")
        with self._lock:
            self._threads[job.number] = (job, thread)
        thread.start()

    def _trial(self, job: TrialJob) -> TrialResult:
        """Run one trial (in its thread); the default runs it with this executor's runtime."""
        return run_trial(job, self.runtime, self._newest)

    def _run(self, job: TrialJob) -> None:
        try:
            result = self._trial(job)
        except Exception as exc:  # noqa: BLE001 - a bug in one trial must not stop the study
            result = job.failed("crashed", f"internal error: {summarize_exception(exc)}")
        self._done.put((job, result))

    def wait(self, timeout: float | None) -> list[tuple[TrialJob, TrialResult]]:
        out = []
        try:
            out.append(self._done.get(timeout=timeout))
            while True:
                out.append(self._done.get_nowait())
        except queue.Empty:
            pass
        with self._lock:
            for job, _ in out:
                self._threads.pop(job.number, None)
        return out

    def _drain(self, within_s: float) -> list[tuple[TrialJob, TrialResult]]:
        """After the runtime was closed: every trial still in flight, ``interrupted`` unless it
        finished ``ok`` within ``within_s`` seconds (for all of them together: a trial whose
        worker is still starting is not waited for; its thread is a daemon and its worker is
        killed as soon as it starts, the runner being closed). A thread that never started (the
        study was interrupted inside :meth:`submit`) is not waited for either."""
        with self._lock:
            pending = list(self._threads.values())
        deadline = time.monotonic() + within_s
        for _, thread in pending:
            if thread.is_alive():  # joining a thread whose start was interrupted would raise
                thread.join(timeout=max(0.0, deadline - time.monotonic()))
        finished = {job.number: result for job, result in self.wait(timeout=0)}
        with self._lock:  # handed back once: stopping again does not wait for them again
            for job, _ in pending:
                self._threads.pop(job.number, None)
        out = []
        for job, _ in pending:
            result = finished.get(job.number)
            if result is None or result.status != "ok":
                result = job.failed("interrupted", INTERRUPTED)
            out.append((job, result))
        return out
