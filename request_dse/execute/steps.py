"""The two steps of a trial as a runtime runs them: a build in a build worker, and a target's
measurement sessions one after another; how each worker ended becomes a status."""

from __future__ import annotations

from pathlib import Path

from request_dse.backends import BuildRequest, BuildResult, build_candidate
from request_dse.execute._base import ChildOutcome, Runner
from request_dse.study import BuildConfig
from request_dse.targets import MeasureResult, SessionRequest, Target

#: How a build worker's end maps onto a trial status.
BUILD_STATUS = {"error": "build_error", "timeout": "build_timeout", "crashed": "crashed",
                "out_of_memory": "out_of_memory", "interrupted": "interrupted"}
#: How a measurement worker's end maps onto a trial status.
MEASURE_STATUS = {"error": "run_error", "timeout": "run_timeout", "crashed": "crashed",
                  "out_of_memory": "out_of_memory", "interrupted": "interrupted"}


def build_result(outcome: ChildOutcome, log_path: Path | None) -> BuildResult:
    if outcome.status == "ok":
        result: BuildResult = outcome.value
        return BuildResult(result.status, result.artifact_dir, result.prepared, result.error, result.build_time_s,
                           result.tuning_time_s, log_path, result.info)
    return BuildResult(BUILD_STATUS[outcome.status], error=outcome.describe(), log_path=log_path,
                       build_time_s=outcome.wall_s)


def run_build(runner: Runner, request: BuildRequest, config: BuildConfig, cores: tuple[int, ...],
          log_path: Path | None) -> BuildResult:
    """:func:`~request_dse.backends.build_candidate` in a build worker on ``cores``."""
    outcome = runner.run(build_candidate, request, timeout_s=config.timeout_s, memory_limit_mb=config.memory_limit_mb,
                         cores=cores, label="build", log_path=log_path)
    return build_result(outcome, log_path)


def run_measurement(runner: Runner, target: Target, request: SessionRequest, log_path: Path | None) -> MeasureResult:
    """The target's sessions of one built candidate, each in its own worker; the first that
    fails ends the measurement with its status."""
    sessions = []
    wall = 0.0
    for call in target.sessions(request):
        outcome = runner.run(call.fn, call.arg, timeout_s=request.protocol.timeout_s,
                             memory_limit_mb=request.protocol.memory_limit_mb, cores=call.cores, env=call.env,
                             label="measure", log_path=log_path)
        wall += outcome.wall_s
        if outcome.status != "ok":
            return MeasureResult(MEASURE_STATUS[outcome.status], tuple(sessions), outcome.describe(), wall)
        sessions.append(outcome.value)
    return MeasureResult("ok", tuple(sessions), "", wall)
