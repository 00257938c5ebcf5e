"""What evaluating one candidate needs: the job, and a runtime that decides where its steps run.

    TrialJob --run_trial--> runtime.build (a build worker) --> runtime.measure (the target's
    sessions, exclusive per target) --> score --> TrialResult

:func:`request_dse.evaluate.run_trial` is the same for every executor; the executor passes its
:class:`Runtime` (worker processes on this machine, Ray tasks on a cluster, this process), so
evaluation never imports an executor and an executor never re-implements evaluation.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from request_dse.backends import BuildRequest, BuildResult
from request_dse.evaluate.early_stop import FrontSnapshot
from request_dse.results import TrialResult
from request_dse.space import Candidate
from request_dse.study import BuildConfig
from request_dse.targets import MeasureResult, SessionRequest, Target, TargetSpec


@dataclass(frozen=True)
class Resume:
    """What a survivor whose other sessions waited (``early_stop.defer``) needs to run them."""

    build: BuildResult
    first: MeasureResult                 # its judging session, scored
    judged: np.ndarray | None = None     # that session's samples where a judge looked (for its bias)
    timings: Mapping[str, float] = field(default_factory=dict)  # the trial's steps so far


@dataclass(frozen=True)
class TrialJob:
    """Everything one trial needs, as plain values (it crosses threads, processes and machines)."""

    number: int
    candidate: Candidate
    build: BuildRequest | None          # None only with ``reuse``
    build_config: BuildConfig
    session: SessionRequest            # artifact_dir and prepared are filled in after the build
    target: TargetSpec
    trial_dir: Path
    front: FrontSnapshot | None = None  # the Pareto front when the job was made (for early stopping)
    reuse: BuildResult | None = None    # a built artifact to measure instead of building (confirm, validate)
    defer: bool = False                 # a survivor of its judging session comes back ``deferred`` (early_stop.defer)
    resume: Resume | None = None        # run a deferred survivor's other sessions (its judging session is done)

    def failed(self, status: str, error: str) -> TrialResult:
        """The result of this job when it could not run to its end (interrupted, crashed)."""
        return TrialResult(self.candidate, status, error=error)


class Runtime(Protocol):
    """Where the steps of a trial run. Thread-safe: several trials call it at once."""

    def build(self, request: BuildRequest, config: BuildConfig, log_path: Path | None) -> BuildResult:
        """Run :func:`request_dse.backends.build_candidate` in a build worker; failures as values."""

    def measure(self, target: Target, request: SessionRequest, log_path: Path | None = None, *,
                quiet: bool = False) -> MeasureResult:
        """Run ``target.sessions(request)`` in measurement workers, alone on the target and its cores;
        ``quiet``: with no build running on the target's build cores either (a second look, which
        must not share a slow spell with the session it checks: on hosts whose cores share
        execution units, a build on one slows a measurement on the other)."""

    def holding(self, target: Target) -> AbstractContextManager[None]:
        """Keep ``target`` for this thread's :meth:`measure` calls until the block ends: a
        candidate's sessions run back to back, and the next candidate's sessions wait until this
        one's measurement is over (so early stopping judges it against a front holding this one)."""
