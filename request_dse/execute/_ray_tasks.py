"""What the Ray executor's tasks run, inside a Ray worker process on some node of the cluster.

The steps are the local executor's (:mod:`.steps`): a build runs
:func:`~request_dse.backends.build_candidate` and a measurement runs the target's sessions, each in an isolated child process (timeouts,
memory limit, crashes become statuses), pinned to the machine's build or measurement cores and
coordinated with every other build and measurement of the machine (:mod:`.host`). With
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

from request_dse.backends import BuildRequest, BuildResult
from request_dse.execute.host import HostCores, HostRunner
from request_dse.execute.process import InlineRunner
from request_dse.execute.steps import run_build, run_measurement
from request_dse.study import BuildConfig
from request_dse.targets import MeasureResult, SessionRequest, TargetSpec, make_target

_RUNNERS: dict[tuple[bool, tuple[str, ...]], Any] = {}
_LOCK = threading.Lock()


def _runner(isolate: bool, preload: tuple[str, ...]) -> Any:
    """One runner per Ray worker process (its forkserver keeps the heavy imports)."""
    with _LOCK:
        key = (isolate, preload)
        if key not in _RUNNERS:
            _RUNNERS[key] = HostRunner(preload=preload) if isolate else InlineRunner()
        return _RUNNERS[key]


def where() -> dict[str, str]:
    """The Ray node, host and process this task runs in."""
    import ray

    context = ray.get_runtime_context()
    return {"node_id": context.get_node_id(), "host": socket.gethostname(), "pid": str(os.getpid())}


def build_task(request: BuildRequest, config: BuildConfig, log_path: Path | None, target: TargetSpec,
          isolate: bool, preload: tuple[str, ...]) -> tuple[BuildResult, Mapping[str, str]]:
    """A build task: the candidate's build on this machine's build cores."""
    cores = make_target(target).build_cores() if isolate else ()
    return run_build(_runner(isolate, preload), request, config, cores, log_path), where()


def measure_task(target: TargetSpec, request: SessionRequest, log_path: Path | None, isolate: bool,
                 preload: tuple[str, ...], quiet: bool = False) -> tuple[MeasureResult, Mapping[str, str]]:
    """A measurement task: holds the target's Ray resource, and its cores on this machine (with
    ``quiet``, the target's build cores too)."""
    device = make_target(target)
    runner = _runner(isolate, preload)
    host = runner.host if isolate else HostCores()
    cores = device.measure_cores(request.threads)
    if quiet:
        cores = tuple(sorted({*cores, *device.build_cores()}))
    with host.measuring(cores):
        return run_measurement(runner, device, request, log_path), where()
