"""Deferred survivors (``measure.early_stop.defer``): a survivor's other sessions wait for a better front.

A candidate is judged against the front the search knows when its judging session starts. The
first candidates of a study meet a young front, and a slow candidate judged just before a much
faster one of the same accuracy survives its judging session and gets the whole protocol. With
``early_stop.defer: N``, a survivor of its judging session comes back ``deferred`` instead: its
trial stays running, with the judging session's estimate and samples, while the search receives
N more results. Whenever the front changes meanwhile, the search judges it again
(:func:`rejudge`), by the same rule and margin, against the newer front; a candidate the front
now beats stops there (``dominated_early``), its other sessions never run. When its wait is
over, or when the search has nothing else to measure, it runs them (:func:`resume_job`) and its
result is the full protocol's, as if it had never waited (:mod:`request_dse.search.waiting`).

Only a clear stop is made while it waits: one the judging session's second look would doubt
(:func:`request_dse.evaluate.second_look.doubtful`) is judged again when the survivor resumes,
against the front of that moment, and takes that second look then. The default sampler learns
from a waiting survivor's judging estimate at once (the trial's ``estimate`` user attribute);
Optuna's own samplers hear of it only when it is told its result.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from request_dse.backends import BuildResult
from request_dse.evaluate import early_stop, second_look
from request_dse.evaluate._base import Resume, TrialJob
from request_dse.protocol import EarlyStopConfig
from request_dse.results import TrialResult, to_minimization
from request_dse.targets import MeasureResult

STATUS = "deferred"


def deferred(estimate: TrialResult, build: BuildResult, first: MeasureResult, judged: np.ndarray | None) -> TrialResult:
    """The judging session's estimate of a survivor, to come back ``deferred`` with what resuming needs."""
    return dataclasses.replace(estimate, status=STATUS, resume=Resume(build, first, judged))


def rejudge(result: TrialResult, front: early_stop.FrontSnapshot, early: EarlyStopConfig) -> TrialResult | None:
    """The ``dominated_early`` result of a waiting survivor that ``front`` now clearly beats, or None."""
    resume = result.resume
    estimate = dataclasses.replace(result, status="ok", resume=None)
    judging = early_stop.steady(resume.first, front)  # its runs at the host's fast speed, as first judged
    stopped = early_stop.stop(estimate, judging, front, early.margin)
    if stopped is None or second_look.doubtful(estimate, judging, front, early.margin, early.confirm_within):
        return None
    return judged_again(stopped)


def judged_again(stopped: TrialResult) -> TrialResult:
    """A waiting survivor's stop (while it waited, or when resumed), saying so."""
    info = {**stopped.info, "early_stop": {**stopped.info.get("early_stop", {}), "deferred": True}}
    return dataclasses.replace(stopped, error=f"{stopped.error}; judged again while its other sessions waited",
                               info=info)


def resume_job(job: TrialJob, result: TrialResult, front: early_stop.FrontSnapshot | None = None) -> TrialJob:
    """The job that runs a waiting survivor's other sessions on its built artifact, judged first
    against ``front`` (the front when it resumes): a stop there that the waiting room left alone as
    doubtful takes the second look a judging session's doubtful stop takes (:mod:`.second_look`)."""
    resume = dataclasses.replace(result.resume, timings=dict(result.timings))
    return dataclasses.replace(job, reuse=resume.build, resume=resume, defer=False,
                               front=front if front is not None else job.front)


def point(result: TrialResult, metrics: tuple[str, ...], directions: tuple[str, ...]) -> tuple[float, ...]:
    """A result's objective values, each turned to be minimized (inf, the worst, where missing)."""
    worst = [-np.inf if d == "maximize" else np.inf for d in directions]
    values = [result.metrics.get(m) for m in metrics]
    raw = [float(v) if v is not None and np.isfinite(v) else w for v, w in zip(values, worst, strict=True)]
    return tuple(float(x) for x in to_minimization(np.array(raw), directions)[0])
