"""The two steps of a trial as a runtime runs them: a build in a build worker, and a target's
measurement sessions one after another; how each worker ended becomes a status.

A candidate with an environment of its own (``request.environment``) has it created first, on
this machine, in its own timed step (``env_time_s``, never part of the build's or the
measurement's figures); its model is prepared in a worker of request-dse's own environment and
built, then measured, in workers of that environment's interpreter. An environment that cannot
be created ends the build as ``build_error`` with the installer's message.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from request_dse.backends import BuildRequest, BuildResult, build_candidate, build_prepared, prepare_candidate
from request_dse.envs import Environment, Lock, create, find, installer
from request_dse.execute._base import ChildOutcome, Runner
from request_dse.study import BuildConfig
from request_dse.targets import MeasureResult, SessionRequest, Target

#: How a build worker's end maps onto a trial status.
BUILD_STATUS = {"error": "build_error", "timeout": "build_timeout", "crashed": "crashed",
                "out_of_memory": "out_of_memory", "interrupted": "interrupted"}
#: How a measurement worker's end maps onto a trial status.
MEASURE_STATUS = {"error": "run_error", "timeout": "run_timeout", "crashed": "crashed",
                  "out_of_memory": "out_of_memory", "interrupted": "interrupted"}
#: Creating an environment downloads and unpacks its wheels: the installer has its own timeouts.
CREATE_TIMEOUT_S = 3600.0


def build_result(outcome: ChildOutcome, log_path: Path | None) -> BuildResult:
    if outcome.status == "ok":
        result: BuildResult = outcome.value
        return BuildResult(result.status, result.artifact_dir, result.prepared, result.error, result.build_time_s,
                           result.tuning_time_s, log_path, result.info)
    return BuildResult(BUILD_STATUS[outcome.status], error=outcome.describe(), log_path=log_path,
                       build_time_s=outcome.wall_s)


def environment(runner: Runner, lock: Lock, cores: tuple[int, ...], log_path: Path | None
                ) -> tuple[Environment | None, float, str]:
    """The environment of ``lock`` on this machine: (environment, seconds spent creating it, why it
    cannot be had -- empty when it can). A missing one is created in a build worker, so that a
    measurement pauses the installer as it pauses builds."""
    found = find(lock)
    if found is not None:
        return found, 0.0, ""
    outcome = runner.run(create, (lock, installer.settings()), timeout_s=CREATE_TIMEOUT_S, cores=cores,
                         label="build", log_path=log_path)
    if outcome.status != "ok":
        return None, outcome.wall_s, f"the environment of {lock.label or lock.id} was not created: {outcome.describe()}"
    env, created_s, problem = outcome.value
    return env, created_s, problem


def run_build(runner: Runner, request: BuildRequest, config: BuildConfig, cores: tuple[int, ...],
              log_path: Path | None) -> BuildResult:
    """:func:`~request_dse.backends.build_candidate` in a build worker on ``cores``."""
    limits = {"timeout_s": config.timeout_s, "memory_limit_mb": config.memory_limit_mb, "cores": cores,
              "label": "build", "log_path": log_path}
    if request.environment is None:
        return build_result(runner.run(build_candidate, request, **limits), log_path)
    env, env_s, problem = environment(runner, request.environment, cores, log_path)
    if env is None:
        return BuildResult("build_error", error=problem, log_path=log_path, env_time_s=env_s)
    started = time.perf_counter()
    prepared = runner.run(prepare_candidate, request, **limits)
    if prepared.status != "ok":
        return dataclasses.replace(build_result(prepared, log_path), env_time_s=env_s)
    prepared_s = time.perf_counter() - started
    built = build_result(runner.run(build_prepared, (request, prepared.value), environment=env, **limits), log_path)
    info = {**built.info, "prepare_time_s": round(prepared_s, 4)} if built.status == "ok" else built.info
    return dataclasses.replace(built, info=info, env_time_s=env_s)


def run_measurement(runner: Runner, target: Target, request: SessionRequest, log_path: Path | None) -> MeasureResult:
    """The target's sessions of one built candidate, each in its own worker; the first that
    fails ends the measurement with its status."""
    env = None
    if request.environment is not None:
        env, _, problem = environment(runner, request.environment, (), log_path)  # made by the build, unless it ran elsewhere
        if env is None:
            return MeasureResult("run_error", (), problem)
    sessions = []
    wall = 0.0
    for call in target.sessions(request):
        outcome = runner.run(call.fn, call.arg, timeout_s=request.protocol.timeout_s,
                             memory_limit_mb=request.protocol.memory_limit_mb, cores=call.cores, env=call.env,
                             label="measure", log_path=log_path, environment=env)
        wall += outcome.wall_s
        if outcome.status != "ok":
            return MeasureResult(MEASURE_STATUS[outcome.status], tuple(sessions), outcome.describe(), wall)
        sessions.append(outcome.value)
    return MeasureResult("ok", tuple(sessions), "", wall)
