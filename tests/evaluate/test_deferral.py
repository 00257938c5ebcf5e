"""Deferred survivors: judged again against a newer front, resumed on their built artifact."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from request_dse.backends import BuildResult
from request_dse.evaluate import TrialJob
from request_dse.evaluate.deferral import STATUS, deferred, point, rejudge, resume_job
from request_dse.evaluate.early_stop import snapshot
from request_dse.protocol import EarlyStopConfig
from request_dse.results import TrialResult
from request_dse.targets import MeasureResult, SessionResult

OBJECTIVES = (["accuracy_top1", "latency_p90_ms"], ["maximize", "minimize"])
EARLY = EarlyStopConfig(enabled=True, margin=0.25, confirm_within=0.5, defer=4)


def waiting(p90_ms: float, accuracy: float = 0.97) -> TrialResult:
    """A survivor's ``deferred`` result: a judging session of steady runs at ``p90_ms``."""
    samples = np.full(256, int(p90_ms * 1e6), dtype=np.int64)
    estimate = TrialResult({}, "ok", metrics={"accuracy_top1": accuracy, "latency_p90_ms": p90_ms},
                           timings={"build": 0.5, "measure": 0.1})
    first = MeasureResult("ok", (SessionResult(samples, 0.0, 0.0, 0.0),), "", 0.1)
    return deferred(estimate, BuildResult("ok", Path("/nowhere/artifact")), first, samples)


@pytest.mark.parametrize(("front_p90", "front_accuracy", "slow_session", "stops"), [
    (0.1, 0.97, 0.05, True),    # 10x faster, as accurate: beaten far beyond the margin
    (0.1, 0.96, 0.05, False),   # faster but less accurate: no point of the front beats it
    (0.9, 0.97, 0.05, False),   # faster by less than the 25% margin
    (0.7, 0.97, 0.05, False),   # beyond the margin, but by less than a second look would doubt
    (0.1, 0.97, None, False),   # no candidate had two sessions yet: every stop is doubtful
])
def test_a_waiting_survivor_stops_only_when_the_newer_front_clearly_beats_it(
        front_p90: float, front_accuracy: float, slow_session: float | None, stops: bool) -> None:
    front = snapshot(*OBJECTIVES, [(7, (front_accuracy, front_p90))], slow_session=slow_session)
    result = rejudge(waiting(1.0), front, EARLY)
    if not stops:
        assert result is None
        return
    assert result is not None and result.status == "dominated_early" and result.resume is None
    assert "trial 7" in result.error and "while its other sessions waited" in result.error
    assert result.info["early_stop"]["deferred"] is True
    assert result.metrics["latency_p90_ms"] == 1.0 and result.timings["build"] == 0.5  # its estimate, kept


def test_a_stop_by_a_waiting_survivor_says_so() -> None:
    front = snapshot(*OBJECTIVES, [], slow_session=0.05, waiting=[(4, (0.97, 0.1))])
    result = rejudge(waiting(1.0), front, EARLY)
    assert result is not None and "dominated by trial 4 (still waiting for its other sessions" in result.error


def test_a_resumed_job_measures_the_built_artifact_and_carries_the_judging_session() -> None:
    result = waiting(1.0)
    assert result.status == STATUS
    job = TrialJob(3, {}, None, None, None, None, Path("/nowhere"), defer=True)  # type: ignore[arg-type]
    resumed = resume_job(job, result)
    assert resumed.reuse is result.resume.build and resumed.defer is False
    assert resumed.resume.first is result.resume.first and resumed.resume.timings == {"build": 0.5, "measure": 0.1}


def test_a_point_turns_every_objective_to_be_minimized() -> None:
    assert point(waiting(2.0, 0.9), ("accuracy_top1", "latency_p90_ms"), ("maximize", "minimize")) == (-0.9, 2.0)
    assert point(waiting(2.0), ("energy_mj_per_inference",), ("minimize",)) == (np.inf,)
