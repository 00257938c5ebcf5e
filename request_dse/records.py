"""Frozen records passed between the steps of one candidate's path (and between processes).

    BuildRequest -> Backend.build -> BuildResult
    SessionRequest -> Backend.load + protocol -> SessionResult   (one per measurement session)
    ... -> TrialResult   (what the search is told, what tracking and reports read)

Only paths and plain values cross from build to measure, so the two may run on different
machines. Failures are values: every record that ends a step carries a ``status`` and ``error``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from request_dse.config import Catalog, MeasureConfig, WorkloadRef
from request_dse.space import Candidate
from request_dse.workloads._base import PreparedModel

Status = Literal["ok", "build_error", "build_timeout", "run_error", "run_timeout", "crashed", "wrong_answer",
                 "infeasible", "out_of_memory", "interrupted", "dominated_early"]

#: Every status a trial can end with, as ``request-dse report --json`` spells them.
STATUSES: tuple[str, ...] = ("ok", "build_error", "build_timeout", "run_error", "run_timeout", "crashed",
                             "wrong_answer", "infeasible", "out_of_memory", "interrupted", "dominated_early")

#: Statuses that say the candidate itself is bad (cached and never retried); the others may be
#: passing accidents of the machine.
DETERMINISTIC_FAILURES = frozenset({"build_error", "wrong_answer"})


@dataclass(frozen=True)
class BuildRequest:
    candidate: Candidate
    workload: WorkloadRef
    backend: str
    catalog: Catalog
    flags: Mapping[str, Any]          # every catalog flag, resolved (candidate value or default)
    target: Mapping[str, Any]         # what the backend needs to know of the target (kind, cpu, features)
    batch_size: int
    threads: int
    out_dir: Path                     # where the artifact goes (created by the build)
    cache_dir: Path                   # shared caches: prepared models, tuning databases


@dataclass(frozen=True)
class BuildResult:
    status: str
    artifact_dir: Path | None = None
    prepared: PreparedModel | None = None
    error: str = ""
    build_time_s: float = 0.0
    tuning_time_s: float = 0.0
    log_path: Path | None = None
    info: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SessionRequest:
    """One measurement session: load the artifact, (score), time it under the protocol."""

    backend: str
    artifact_dir: Path
    prepared: PreparedModel
    batch_size: int
    threads: int
    protocol: MeasureConfig
    score: bool                       # also run the check inputs and the held-out split
    device: str = "cpu"


@dataclass(frozen=True)
class SessionResult:
    samples_ns: np.ndarray            # int64, one per timed run (one batch each)
    load_time_s: float
    memory_peak_mb: float
    wall_s: float
    check_outputs: np.ndarray | None = None
    top5: np.ndarray | None = None    # (N, 5) class indices on the held-out split, best first
    energy_j: float | None = None     # per batch, where a counter was read


@dataclass(frozen=True)
class MeasureResult:
    status: str
    sessions: tuple[SessionResult, ...] = ()
    error: str = ""
    wall_s: float = 0.0


@dataclass(frozen=True)
class TrialResult:
    """How one candidate ended: status, metrics, error text and where its files are."""

    candidate: Candidate
    status: str
    metrics: Mapping[str, float] = field(default_factory=dict)
    error: str = ""
    artifact_dir: Path | None = None
    samples_path: Path | None = None
    build_log: Path | None = None
    info: Mapping[str, Any] = field(default_factory=dict)
    measure_log: Path | None = None
    timings: Mapping[str, float] = field(default_factory=dict)  # wall seconds per step

    @property
    def ok(self) -> bool:
        return self.status == "ok"
