"""Local executors: ``local`` (isolated worker processes, parallel builds) and ``inline``."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from request_dse import sysinfo
from request_dse.backends import BuildRequest, BuildResult
from request_dse.evaluate import TrialJob
from request_dse.execute._base import Activity
from request_dse.execute.process import InlineRunner, ProcessRunner
from request_dse.execute.steps import run_build, run_measurement
from request_dse.execute.threads import ThreadedExecutor
from request_dse.results import TrialResult
from request_dse.study import BuildConfig
from request_dse.targets import MeasureResult, SessionRequest, Target

#: How long stopping waits for in-flight trials to end on their own (their workers are killed first).
STOP_WITHIN_S = 1.0


class LocalRuntime:
    """Runs the steps of trials on this machine: builds on build cores, one measurement per target.

    While a measurement occupies cores that builds use, running builds are paused (SIGSTOP)
    and new builds wait, so no measurement is ever taken under load; a quiet measurement pauses
    every build.
    """

    def __init__(self, runner: ProcessRunner, build_workers: int, build_cores: tuple[int, ...]) -> None:
        self.runner = runner
        self.build_cores = build_cores
        self._slots = threading.BoundedSemaphore(build_workers)
        self._target_locks: dict[str, threading.RLock] = {}
        self._cond = threading.Condition()
        self._busy_cores: set[int] = set()
        self.measuring: dict[str, int] = {}

    def build(self, request: BuildRequest, config: BuildConfig, log_path: Path | None) -> BuildResult:
        with self._slots:
            with self._cond:
                self._cond.wait_for(lambda: not (self._busy_cores & set(self.build_cores)) or self.runner.closed)
            return run_build(self.runner, request, config, self.build_cores, log_path)

    def _target_lock(self, target: Target) -> threading.RLock:
        with self._cond:
            return self._target_locks.setdefault(target.resource, threading.RLock())

    @contextlib.contextmanager
    def holding(self, target: Target) -> Iterator[None]:
        with self._target_lock(target):  # this thread's measure() calls take it again, at once
            yield

    @contextlib.contextmanager
    def _exclusive(self, target: Target, cores: tuple[int, ...]) -> Iterator[None]:
        with self._target_lock(target):
            with self._cond:
                self._busy_cores |= set(cores)
                self.measuring[target.name] = self.measuring.get(target.name, 0) + 1
            paused = self.runner.pause(cores)
            try:
                yield
            finally:
                self.runner.resume(paused)
                with self._cond:
                    self._busy_cores -= set(cores)
                    self.measuring[target.name] -= 1
                    self._cond.notify_all()

    def measure(self, target: Target, request: SessionRequest, log_path: Path | None = None, *,
                quiet: bool = False) -> MeasureResult:
        cores = target.measure_cores(request.threads)
        if quiet:  # the builds on the other cores pause too
            cores = tuple(sorted({*cores, *self.build_cores}))
        with self._exclusive(target, cores):
            return run_measurement(self.runner, target, request, log_path)


class LocalExecutor(ThreadedExecutor):
    """Each trial in a driver thread; builds and measurement sessions in isolated workers.

    The driver process itself keeps to the build cores, so its own bursts of work (telling
    the sampler, writing the storage) never preempt a measurement on the measurement cores.
    """

    name: ClassVar[str] = "local"

    def __init__(self, runtime: LocalRuntime, build_workers: int) -> None:
        super().__init__()
        self.runtime = runtime
        self._capacity = build_workers + 1
        self._affinity = os.sched_getaffinity(0)
        if runtime.build_cores and set(runtime.build_cores) != self._affinity:
            sysinfo.remember_cores()
            os.sched_setaffinity(0, runtime.build_cores)
        runtime.runner.start()  # from this (main) thread: the worker server then dies with this process

    def activity(self) -> Activity:
        counts = self.runtime.runner.running()
        return Activity(building=counts.get("build", 0), measuring={k: v for k, v in self.runtime.measuring.items() if v})

    def shutdown(self) -> list[tuple[TrialJob, TrialResult]]:
        os.sched_setaffinity(0, self._affinity)
        self.runtime.runner.close()
        with self.runtime._cond:
            self.runtime._cond.notify_all()  # builds waiting for cores see the runner closed
        return self._drain(within_s=STOP_WITHIN_S)


class InlineExecutor(LocalExecutor):
    """One trial at a time, every step in this process: no isolation, for debugging."""

    name: ClassVar[str] = "inline"

    def __init__(self) -> None:
        super().__init__(LocalRuntime(InlineRunner(), 1, ()), 1)
        self._capacity = 1

    def submit(self, job: TrialJob) -> None:
        with self._lock:
            self._threads[job.number] = (job, threading.current_thread())
        self._run(job)
