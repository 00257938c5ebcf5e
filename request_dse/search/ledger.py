"""What the search tells the study: a trial's outcome, a duplicate's, a skipped proposal's.

The :class:`Ledger` writes each outcome to the storage in one batched write (attributes,
constraints and state); the study's :class:`~request_dse.search.index.TrialIndex` then holds it
(the counts the progress line shows, the measured candidates by hash that no proposal measures
again).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from request_dse.results import DOMINATED_EARLY, TrialRecord, TrialResult
from request_dse.search._base import Counters
from request_dse.search._optuna import batched
from request_dse.search.index import TrialIndex
from request_dse.search.storage import (
    CACHED,
    DUPLICATE_OF,
    ERROR,
    ESTIMATE,
    INFO,
    METRICS,
    PATHS,
    SKIP,
    STATUS,
    TIMINGS,
)
from request_dse.space import Candidate
from request_dse.study import Plan


class Ledger:
    def __init__(self, plan: Plan, study: Any, index: TrialIndex, notify: Callable[[TrialRecord], None]) -> None:
        self.plan = plan
        self.study = study
        self.index = index
        self.notify = notify

    @property
    def counters(self) -> Counters:
        return self.index.counters

    @property
    def measured(self) -> dict[str, TrialRecord]:
        """The first measurement of each candidate of the study (by hash)."""
        return self.index.measured

    def objective_values(self, metrics: dict[str, float]) -> list[float] | None:
        values = [metrics.get(m) for m in self.plan.study.metric_names]
        if any(v is None or not np.isfinite(v) for v in values):
            return None
        return [float(v) for v in values]  # type: ignore[arg-type]

    def result(self, trial: Any, candidate: Candidate, result: TrialResult, *, cached: bool = False) -> TrialRecord:
        """Tell a measured (or cached) candidate's result; returns the trial as recorded."""
        from optuna.trial import TrialState

        metrics = {k: float(v) for k, v in result.metrics.items() if v is not None and np.isfinite(v)}
        status, error = result.status, result.error
        # a dominated_early estimate is told as a complete trial (the sampler learns from it), but
        # only ``ok`` trials make the Pareto front, submissions and the results cache
        values = self.objective_values(metrics) if status in ("ok", DOMINATED_EARLY) else None
        if status in ("ok", DOMINATED_EARLY) and values is None:
            missing = [m for m in self.plan.study.metric_names if m not in metrics]
            status, error = "run_error", f"the measurement produced no {', '.join(missing)}"
        constraints: dict[str, float] = {}
        if values is not None:
            for c in self.plan.study.constraints:
                constraints[str(c)] = c.violation(metrics[c.metric])
            broken = [f"{name} (got {metrics[c.metric]:.4g})" for c, name in
                      zip(self.plan.study.constraints, constraints, strict=False) if constraints[name] > 0]
            if broken:
                status, error = "infeasible", "violates " + "; ".join(broken)
        paths = {k: str(v) for k, v in (("artifact", result.artifact_dir), ("samples", result.samples_path),
                                        ("build_log", result.build_log), ("measure_log", result.measure_log))
                 if v is not None}
        attrs = {STATUS: status, METRICS: metrics, ERROR: error, PATHS: paths, INFO: dict(result.info),
                 TIMINGS: dict(result.timings)}
        if cached:
            attrs[CACHED] = True
        with batched(self.study):  # attributes, constraints and state in one storage write
            for key, value in attrs.items():
                trial.set_user_attr(key, value)
            for name, value in constraints.items():
                trial.set_constraint(name, value)
            if values is not None:
                self.study.tell(trial, values, state=TrialState.COMPLETE)
            else:
                self.study.tell(trial, state=TrialState.FAIL)
        self.index.refresh()
        rec = self.index.records.get(trial.number) or TrialRecord(
            trial.number, "COMPLETE" if values is not None else "FAIL", status, candidate.params, candidate.hash,
            metrics, error, cached=cached, paths=paths, info=dict(result.info), timings=dict(result.timings),
            constraints=constraints)
        self.notify(rec)
        return rec

    def waiting(self, trial: Any, result: TrialResult) -> None:
        """Note a survivor whose other sessions wait: its trial stays running, with its judging
        estimate's objective values (``estimate``) for the sampler to learn from meanwhile."""
        values = self.objective_values(dict(result.metrics))
        if values is not None:
            trial.set_user_attr(ESTIMATE, values)

    def duplicate(self, trial: Any, original: TrialRecord) -> None:
        """Tell a proposal of an already measured candidate its original's outcome (not counted)."""
        from optuna.trial import TrialState

        values = self.objective_values(dict(original.metrics)) \
            if original.status in ("ok", "infeasible", DOMINATED_EARLY) else None
        with batched(self.study):
            trial.set_user_attr(SKIP, "duplicate")
            trial.set_user_attr(DUPLICATE_OF, original.number)
            trial.set_user_attr(STATUS, original.status)
            trial.set_user_attr(METRICS, dict(original.metrics))
            trial.set_user_attr(ERROR, original.error)
            for name, value in original.constraints.items():
                trial.set_constraint(name, value)
            if values is not None:
                self.study.tell(trial, values, state=TrialState.COMPLETE)
            else:
                self.study.tell(trial, state=TrialState.FAIL)
        self.index.refresh()

    def skip(self, trial: Any, skip: str, status: str, error: str) -> None:
        """Tell a proposal that measures nothing (excluded, a twin in flight, no budget left)."""
        from optuna.trial import TrialState

        with batched(self.study):
            trial.set_user_attr(SKIP, skip)
            trial.set_user_attr(STATUS, status)
            trial.set_user_attr(ERROR, error)
            self.study.tell(trial, state=TrialState.FAIL)
        self.index.refresh()
