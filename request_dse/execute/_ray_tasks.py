"""What the Ray executor's tasks run, inside a Ray worker process on some node of the cluster.

The steps are the local executor's: a build runs :func:`~request_dse.execute.steps.build_step`
and a measurement runs the target's protocol, each in an isolated child process (timeouts,
memory limit, crashes become statuses), pinned to the machine's build or measurement cores and
coordinated with every other build and measurement of the machine (:mod:`._host`). With
``isolate: false`` the step runs in the Ray worker itself: a crash then kills the Ray worker,
which the driver reports as ``crashed``.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from request_dse.config import BuildConfig, TargetSpec
from request_dse.records import BuildRequest, BuildResult, MeasureResult, SessionRequest

_RUNNERS: dict[tuple[bool, tuple[str, ...]], Any] = {}
_LOCK = threading.Lock()


def _runner(isolate: bool, preload: tuple[str, ...]) -> Any:
    """One runner per Ray worker process (its forkserver keeps the heavy imports)."""
    with _LOCK:
        key = (isolate, preload)
        if key not in _RUNNERS:
            if isolate:
                from request_dse.execute._host import HostRunner

                _RUNNERS[key] = HostRunner(preload=preload)
            else:
                from request_dse.execute._process import InlineRunner

                _RUNNERS[key] = InlineRunner()
        return _RUNNERS[key]


def where() -> dict[str, str]:
    """The Ray node, host and process this task runs in."""
    import ray

    context = ray.get_runtime_context()
    return {"node_id": context.get_node_id(), "host": socket.gethostname(), "pid": str(os.getpid())}


def build(request: BuildRequest, config: BuildConfig, log_path: Path | None, target: TargetSpec,
          isolate: bool, preload: tuple[str, ...]) -> tuple[BuildResult, Mapping[str, str]]:
    """A build task: the candidate's build on this machine's build cores."""
    from request_dse.execute.local import build_result
    from request_dse.execute.steps import build_step
    from request_dse.targets import make_target

    cores = make_target(target).build_cores() if isolate else ()
    outcome = _runner(isolate, preload).run(build_step, request, timeout_s=config.timeout_s,
                                            memory_limit_mb=config.memory_limit_mb, cores=cores, label="build",
                                            log_path=log_path)
    return build_result(outcome, log_path), where()


def measure(target: TargetSpec, request: SessionRequest, log_path: Path | None, isolate: bool,
            preload: tuple[str, ...]) -> tuple[MeasureResult, Mapping[str, str]]:
    """A measurement task: holds the target's Ray resource, and its cores on this machine."""
    from request_dse.targets import make_target

    from request_dse.execute._host import HostCores

    device = make_target(target)
    runner = _runner(isolate, preload)
    host = runner.host if isolate else HostCores()
    with host.measuring(device.measure_cores(request.threads)):
        return device.measure(request, runner, log_path), where()
