"""The execute contracts: where the trials of a study run, and how one function runs isolated.

An :class:`Executor` takes :class:`~request_dse.evaluate.TrialJob` s and hands back
:class:`~request_dse.results.TrialResult` s; each trial follows
:func:`request_dse.evaluate.run_trial` with the executor's runtime (the
:class:`~request_dse.evaluate.Runtime` it provides):

* ``capacity`` -- how many trials the search should keep in flight;
* :meth:`Executor.submit` -- start one (never blocks for long);
* :meth:`Executor.wait` -- results finished since the last call, waiting up to ``timeout``;
* :meth:`Executor.activity` -- builds in flight and measurements in flight per target;
* :meth:`Executor.shutdown` -- stop; in-flight trials come back as ``interrupted``.

Whatever the executor, builds may run in parallel but measurements on one target never
overlap, and a build never shares cores with a measurement (it is paused instead).

A :class:`Runner` runs one function in a worker and turns how the worker ended -- a result, a
Python exception, a crash, a timeout, too much memory, a stop -- into a :class:`ChildOutcome`;
it never raises for what happens in the worker. A worker runs this interpreter, or the
interpreter of a software environment (:mod:`request_dse.envs`) when one is given.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from request_dse.envs import Environment
from request_dse.evaluate import TrialJob
from request_dse.results import TrialResult


@dataclass(frozen=True)
class Activity:
    building: int = 0
    measuring: Mapping[str, int] | None = None


class Executor(abc.ABC):
    name: ClassVar[str]

    @property
    @abc.abstractmethod
    def capacity(self) -> int:
        """Trials worth keeping in flight."""

    @abc.abstractmethod
    def submit(self, job: TrialJob) -> None: ...

    @abc.abstractmethod
    def wait(self, timeout: float | None) -> list[tuple[TrialJob, TrialResult]]: ...

    @property
    @abc.abstractmethod
    def in_flight(self) -> int: ...

    def activity(self) -> Activity:
        return Activity()

    def follow_front(self, newest: Callable[[], Any]) -> None:
        """Early stopping: judge each trial against ``newest()``, the newest front the search knows
        when the trial's measurement starts (and again when its judging session ends), rather than
        the front its job was made with. An executor that runs its trials elsewhere may ignore it
        (an older front only stops fewer candidates)."""

    @abc.abstractmethod
    def shutdown(self) -> list[tuple[TrialJob, TrialResult]]:
        """Stop; return in-flight trials as ``interrupted``."""


@dataclass(frozen=True)
class ChildOutcome:
    """How a worker ended: ``ok``, ``error``, ``timeout``, ``crashed``, ``out_of_memory``, ``interrupted``."""

    status: str
    value: Any = None
    error: str = ""
    log_tail: str = ""
    wall_s: float = 0.0
    exitcode: int | None = None

    def describe(self) -> str:
        text = self.error
        if self.log_tail and self.status != "ok":
            text += "\n--- log tail ---\n" + self.log_tail
        return text.strip()


class Runner(abc.ABC):
    """Runs one function in an isolated worker; safe to use from several threads."""

    def start(self) -> None:  # noqa: B027 - optional: most runners start their workers on demand
        """Get ready to run (called once, from the main thread, before the first :meth:`run`)."""

    @abc.abstractmethod
    def run(self, fn: Callable[[Any], Any], arg: Any, *, timeout_s: float, memory_limit_mb: int | None = None,
            cores: tuple[int, ...] = (), env: Mapping[str, str] | None = None, label: str = "worker",
            log_path: Path | None = None, environment: Environment | None = None) -> ChildOutcome:
        """``fn(arg)`` in a worker pinned to ``cores`` with ``env``; how it ended, as a value.
        ``environment``: run it with that environment's interpreter (None: this one's)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Kill every worker; later :meth:`run` calls return ``interrupted`` at once."""
