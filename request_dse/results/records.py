"""What a trial ended with: the result a trial's path returns, and the trial as the study records it.

Every candidate ends with a status (:data:`STATUSES`); failures are values with an error text,
never exceptions across process boundaries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from request_dse.space import Candidate

Status = Literal["ok", "build_error", "build_timeout", "run_error", "run_timeout", "crashed", "wrong_answer",
                 "infeasible", "out_of_memory", "interrupted", "dominated_early"]

#: Every status a trial can end with, as ``request-dse report --json`` spells them.
STATUSES: tuple[str, ...] = ("ok", "build_error", "build_timeout", "run_error", "run_timeout", "crashed",
                             "wrong_answer", "infeasible", "out_of_memory", "interrupted", "dominated_early")

#: Statuses that say the candidate itself is bad (cached and never retried); the others may be
#: passing accidents of the machine.
DETERMINISTIC_FAILURES = frozenset({"build_error", "wrong_answer"})

#: A candidate measured briefly: the front beat it beyond the noise (early stopping).
DOMINATED_EARLY = "dominated_early"


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
    resume: Any = None  # a ``deferred`` survivor: what running its other sessions needs (never stored)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class TrialRecord:
    """One trial as the study's storage holds it."""

    number: int
    state: str
    status: str
    params: Mapping[str, Any]
    hash: str | None
    metrics: Mapping[str, float] = field(default_factory=dict)
    error: str = ""
    skip: str | None = None
    duplicate_of: int | None = None
    cached: bool = False
    paths: Mapping[str, str] = field(default_factory=dict)
    info: Mapping[str, Any] = field(default_factory=dict)
    timings: Mapping[str, float] = field(default_factory=dict)
    constraints: Mapping[str, float] = field(default_factory=dict)
    started: Any = None
    finished: Any = None
    owner: str | None = None

    @property
    def measured(self) -> bool:
        """A candidate's own, complete result (not a skipped proposal, not an interrupted run, not
        a result another process is still writing: storages without batched writes, like SQLite,
        show a trial's attributes one by one before its state)."""
        return self.skip is None and self.status not in ("", "interrupted") and self.state != "RUNNING"
