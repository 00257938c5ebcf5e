"""The executor contract: where the trials of a study run, and how many at once.

An executor takes :class:`TrialJob` s and hands back :class:`~request_dse.records.TrialResult` s:

* ``capacity`` -- how many trials the search should keep in flight;
* :meth:`Executor.submit` -- start one (never blocks for long);
* :meth:`Executor.wait` -- results finished since the last call, waiting up to ``timeout``;
* :meth:`Executor.activity` -- builds in flight and measurements in flight per target;
* :meth:`Executor.shutdown` -- stop; in-flight trials come back as ``interrupted``.

Whatever the executor, a trial follows :func:`request_dse.trial.run_trial`; builds may run in
parallel but measurements on one target never overlap, and a build never shares cores with a
measurement (it is paused instead).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from request_dse.config import BuildConfig, TargetSpec
from request_dse.early_stop import FrontSnapshot
from request_dse.records import BuildRequest, BuildResult, SessionRequest, TrialResult
from request_dse.space import Candidate


@dataclass(frozen=True)
class TrialJob:
    number: int
    candidate: Candidate
    build: BuildRequest
    build_config: BuildConfig
    session: SessionRequest            # artifact_dir and prepared are filled in after the build
    target: TargetSpec
    trial_dir: Path
    front: FrontSnapshot | None = None  # the Pareto front when the job was made (for early stopping)
    reuse: BuildResult | None = None    # an earlier build to measure again instead of building (confirm phase)


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

    @abc.abstractmethod
    def shutdown(self) -> list[tuple[TrialJob, TrialResult]]:
        """Stop; return in-flight trials as ``interrupted``."""
