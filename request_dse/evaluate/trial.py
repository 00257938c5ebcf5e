"""The path of one candidate: build, measure, check, score, derive.

    BuildRequest --runtime.build--> BuildResult --runtime.measure--> MeasureResult
                 --check against the reference, accuracy, statistics--> TrialResult

:func:`run_trial` is the same for every executor; the runtime decides where each step runs.
A replay target answers from its recorded table instead (:mod:`.replay`).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from request_dse.backends import BuildResult
from request_dse.evaluate import deferral, early_stop, second_look
from request_dse.evaluate._base import Runtime, TrialJob
from request_dse.evaluate.early_stop import FrontSnapshot
from request_dse.evaluate.environment import recorded
from request_dse.evaluate.judge import judge_bias, judge_rise, session_judge
from request_dse.evaluate.repeatability import settle
from request_dse.evaluate.replay import replay
from request_dse.evaluate.score import score
from request_dse.results import TrialResult
from request_dse.targets import MeasureResult, SessionRequest, Target, make_target


def run_trial(job: TrialJob, runtime: Runtime, newest: Callable[[], FrontSnapshot | None] | None = None) -> TrialResult:
    """Build, measure and score one candidate. ``timings`` records each step's wall-clock span
    (``build_start``/``build_end``/``measure_start``/``measure_end``, epoch seconds, and
    ``measure_resume`` when a deferred survivor's other sessions began) and length.
    A candidate's measurement sessions run back to back (:meth:`.Runtime.holding`). ``newest``:
    the newest front the search knows (early stopping), read when the measurement starts and again
    when the judging session ends; without it, or where it gives None, the job's own snapshot (the
    front when it was made)."""
    target = make_target(job.target)
    if target.replays:  # recorded results: nothing to build or measure
        return replay(target, job.candidate)
    log = job.trial_dir / "build.log"
    if job.resume is not None:  # a deferred survivor: built and judged already
        timings: dict[str, float] = {**job.resume.timings, "measure_resume": time.time()}
        build = job.resume.build
    else:
        timings = {"build_start": time.time()}
        t0 = time.perf_counter()
        if job.reuse is not None:
            build = job.reuse
        else:
            assert job.build is not None  # a job without a build request reuses an artifact
            build = runtime.build(job.build, job.build_config, log)
        timings["build"] = time.perf_counter() - t0
        timings["build_end"] = time.time()
    if build.status != "ok":
        return recorded(job, build, TrialResult(job.candidate, build.status, error=build.error, build_log=log,
                                                timings=timings, metrics={"build_time_s": build.build_time_s}))
    request = dataclasses.replace(job.session, artifact_dir=build.artifact_dir, prepared=build.prepared)
    t1 = time.perf_counter() - timings.get("measure", 0.0)  # a deferred survivor's judging session counts
    timings.setdefault("measure_start", time.time())
    with runtime.holding(target):  # its sessions back to back, once the candidate before it is measured
        if job.front is not None and job.resume is None and newest is not None:  # results that came in since
            job = dataclasses.replace(job, front=newest() or job.front)
        measured, ended, judged = _measure(job, build, runtime, target, request, timings, log, newest)
        probe = early_stop.fastest_probe(measured)  # the host's fast speed, as far as this trial saw it
        report = None
        if ended is None:
            measured, report = _settle(measured, runtime, target, request, job.trial_dir / "measure.log")
    timings["measure"] = time.perf_counter() - t1
    timings["measure_end"] = time.time()
    if ended is not None:
        if job.resume is not None and ended.status == early_stop.STATUS:
            ended = deferral.judged_again(ended)
        info = {**ended.info, "host_probe_ns": round(probe)} if probe else ended.info
        return recorded(job, build, dataclasses.replace(ended, timings=dict(timings), info=info))
    if measured.status != "ok":
        return recorded(job, build, TrialResult(
            job.candidate, measured.status, error=_explain(measured.error, build), artifact_dir=build.artifact_dir,
            build_log=log, info=dict(build.info), measure_log=job.trial_dir / "measure.log", timings=timings))
    result = score(job, build, measured, timings, log)
    info = {**result.info, "sessions": report} if report else dict(result.info)
    if probe:
        info["host_probe_ns"] = round(probe)
    if judged is not None and result.status == "ok" and job.front is not None:
        early = request.protocol.early_stop
        bias = judge_bias(judged, result.metrics, job.front, early.first_runs, early.first_time_s, request.batch_size)
        if bias is not None:
            info["judge_bias"] = round(bias, 4)  # what later candidates' judging margin allows for
        rise = judge_rise(judged, result.metrics, job.front, request.batch_size)
        if rise is not None:
            info["judge_rise"] = round(rise, 4)  # what a waiting survivor's place on the front allows for
    return recorded(job, build, dataclasses.replace(result, info=info))


def _settle(measured: MeasureResult, runtime: Runtime, target: Target, request: SessionRequest,
            log: Path) -> tuple[MeasureResult, dict[str, Any] | None]:
    """Runs of a slow spell set aside, sessions without steady runs measured again (:mod:`.repeatability`)."""
    protocol = request.protocol

    def more(n: int) -> MeasureResult:
        extra = dataclasses.replace(request, protocol=dataclasses.replace(protocol, repeats=n), score=False,
                                    compliance=False)
        return runtime.measure(target, extra, log)

    return settle(measured, protocol.repeats, protocol.session_tolerance, protocol.max_extra_sessions, more,
                  span_s=protocol.settle_span_s)


def _measure(job: TrialJob, build: BuildResult, runtime: Runtime, target: Target, request: SessionRequest,
             timings: dict[str, float], log: Path, newest: Callable[[], FrontSnapshot | None] | None = None,
             ) -> tuple[MeasureResult, TrialResult | None, np.ndarray | None]:
    """The measurement protocol. With early stopping, a scored judging session first (the protocol's
    first session, which its judge may end after a few runs, or a short one: :func:`.early_stop.reuses_first`):
    a candidate the job's front snapshot beats by more than the noise (or that gives a wrong
    answer) ends there, after a second session where the stop is doubtful (:mod:`.second_look`);
    a survivor comes back ``deferred`` when the job says so, and runs the rest when resumed
    (:mod:`.deferral`), judged once more against the front of that moment. After the judging
    session, the candidate is judged against ``newest()``: a result that came in while it ran (the
    candidate measured just before it, whose other sessions ran after its build) counts at once.
    Also returns a survivor's judging session's samples, when it had a judge (for its bias)."""
    measure_log = job.trial_dir / "measure.log"
    reused = early_stop.reuses_first(request.protocol)
    front = job.front
    if job.resume is not None:  # a deferred survivor: its judging session is done
        first, judged = job.resume.first, job.resume.judged
        if front is None:
            return early_stop.combine(first, runtime.measure(target, early_stop.rest_request(request), measure_log),
                                      reused), None, judged
    elif not early_stop.wanted(front, request.protocol):
        return runtime.measure(target, request, measure_log), None, None
    else:
        judge = session_judge(request, build, front)
        first = runtime.measure(target, early_stop.short_request(request, judge), measure_log)
        timings["measure_first_s"] = first.wall_s  # the judging session's part of measure_time_s
        if first.status != "ok":
            return first, None, None
        front = (newest() if newest is not None else None) or front  # what came in while it ran
    assert front is not None  # wanted() says so
    judging = early_stop.steady(first, front)  # its runs at the host's fast speed, as its judge read them
    if job.resume is None:
        judged = judging.sessions[0].samples_ns if judge is not None else None
    estimate = score(job, build, judging, timings, log)
    if estimate.status != "ok":
        return first, estimate, None
    margin, within = request.protocol.early_stop.margin, request.protocol.early_stop.confirm_within
    stopped = early_stop.stop(estimate, judging, front, margin)
    if stopped is not None and not second_look.doubtful(estimate, judging, front, margin, within):
        return first, stopped, None
    if stopped is None and job.defer:  # its other sessions wait while the front may improve
        return first, deferral.deferred(estimate, build, first, judged), None
    if stopped is None:
        rest = runtime.measure(target, early_stop.rest_request(request), measure_log)
        if not reused:  # a short judging session: its runs are not the protocol's
            timings["measure_unused_s"] = first.wall_s
        return early_stop.combine(first, rest, reused), None, judged
    judge = session_judge(request, build, front, second_look.exact(estimate))
    second_request = early_stop.unscored(request, 1, judge)
    if second_look.rescore(first):
        second_request = dataclasses.replace(second_request, score=True)
    second = runtime.measure(target, second_request, measure_log, quiet=True)  # no build beside it
    timings["measure_second_look_s"] = second.wall_s
    if second.status != "ok":
        return dataclasses.replace(second, wall_s=first.wall_s + second.wall_s), None, None
    alone = early_stop.combine(first, second, reused=False)  # the second session, with the scored outputs
    steady = early_stop.steady(alone, front)
    again = early_stop.stop(score(job, build, steady, timings, log), steady, front, margin)
    if again is not None:
        return alone, second_look.confirmed(again), None
    # the second session was a whole one: it counts, and so does a judging session its judge did not cut
    whole = reused and first.sessions[0].judged is None
    measured = early_stop.combine(first, second, reused=True) if whole else alone
    if not whole:
        timings["measure_unused_s"] = first.wall_s  # the judging session's runs, set aside
    sessions = request.protocol.repeats - len(measured.sessions)
    if sessions <= 0:
        return measured, None, judged
    rest = runtime.measure(target, early_stop.unscored(request, sessions), measure_log)
    return early_stop.combine(measured, rest, reused=True), None, judged


def _explain(error: str, build: BuildResult) -> str:
    """A crash on an illegal instruction names the code generation flags that caused it."""
    codegen = build.info.get("codegen")
    if "SIGILL" in error and codegen:
        head, _, rest = error.partition("\n")
        return (f"{head} -- the code was generated for {codegen}, which uses an instruction this CPU lacks; "
                f"pick another -mcpu/-mattr (or list the feature under `needs` in the backend catalog)"
                + (f"\n{rest}" if rest else ""))
    return error
