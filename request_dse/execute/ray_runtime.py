"""The runtime of the ``ray`` executor: a trial's build and measurement as Ray tasks.

Used from the driver's trial threads: each step is submitted as a task (:mod:`._ray_tasks`) and
awaited; a cancelled, timed-out or lost task becomes a status with a clear message, never an
exception in the driver.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from request_dse.backends import BuildRequest, BuildResult
from request_dse.execute._base import Activity
from request_dse.execute._ray_tasks import build_task, measure_task
from request_dse.study import BuildConfig
from request_dse.targets import MeasureResult, SessionRequest, Target, TargetSpec

POLL_S = 0.2
RESOURCE_CHECK_S = 2.0


class _Stop(Exception):
    """A task was cancelled: the executor is stopping, a deadline passed, or the device is gone."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status


def describe_failure(exc: BaseException, step: str) -> tuple[str, str]:
    """A Ray exception from a task as (status, one clear message)."""
    import ray.exceptions as rex

    text = str(exc).strip()
    if isinstance(exc, rex.NodeDiedError):
        node = re.search(r"node ID: (\w+)", text)
        ip = re.search(r"Node IP: ([\w.:-]+)", text)
        return "crashed", (f"Ray node {ip.group(1) if ip else '?'} ({node.group(1)[:12] if node else '?'}) "
                           f"was lost while it ran this trial's {step}")
    if isinstance(exc, rex.OutOfMemoryError):
        return "out_of_memory", f"Ray killed the {step} for lack of memory on its node: {text.splitlines()[0]}"
    if isinstance(exc, rex.TaskCancelledError):
        return "interrupted", f"the {step} was cancelled"
    if isinstance(exc, rex.WorkerCrashedError):
        return "crashed", (f"the Ray worker running the {step} died (a crash in native code, or the "
                           f"process was killed)")
    if isinstance(exc, rex.RayTaskError):
        cause = exc.cause if getattr(exc, "cause", None) is not None else exc
        last = (str(cause).strip().splitlines() or [""])[-1]
        return "crashed", f"internal error in the {step} task: {type(cause).__name__}: {last}"
    return "crashed", f"the {step} failed in Ray: {type(exc).__name__}: {text.splitlines()[0] if text else ''}"


def _lost_nodes(seen_alive: set[str]) -> list[str]:
    """Nodes that were alive when the study started and are dead now."""
    import ray

    return [f"{n['NodeManagerAddress']} ({n['NodeID'][:12]})" for n in ray.nodes()
            if not n["Alive"] and n["NodeID"] in seen_alive]


class RayRuntime:
    """The :class:`~request_dse.evaluate.Runtime` whose steps are Ray tasks (used from driver threads)."""

    def __init__(self, options: Mapping[str, Any], preload: tuple[str, ...], target: TargetSpec) -> None:
        import ray

        self.target = target  # build tasks keep off the cores this target measures on
        self.isolate = bool(options.get("isolate", True))
        self.preload = preload
        self._build = ray.remote(build_task).options(num_cpus=options.get("build_cpus", 1), max_retries=0,
                                                           name="request-dse build")
        self._measure = ray.remote(measure_task)
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._refs: dict[Any, tuple[str, str]] = {}  # in-flight task -> (step, target name)
        self._where = threading.local()
        self._resources: dict[str, Any] = {}
        self._resources_at = 0.0
        self._alive_nodes = {n["NodeID"] for n in ray.nodes() if n["Alive"]}

    # -- waiting on one task ---------------------------------------------------------------------
    def _await(self, ref: Any, step: str, target: str = "", deadline: float | None = None,
               resource: str | None = None) -> Any:
        import ray

        with self._lock:
            self._refs[ref] = (step, target)
        try:
            while True:
                ready, _ = ray.wait([ref], timeout=POLL_S)
                if ready:
                    return ray.get(ref)
                if self._closed.is_set():
                    raise self._cancel(ref, "interrupted", "the study was stopped while this ran")
                if deadline is not None and time.monotonic() > deadline:
                    status = "build_timeout" if step == "build" else "run_timeout"
                    raise self._cancel(ref, status, f"{step} timed out: the Ray task was cancelled")
                if resource is not None and not self._cluster_has(resource):
                    raise self._cancel(ref, "run_error",
                                       f"no node of the Ray cluster owns {resource} any more (its node was lost "
                                       f"or left); this candidate was not measured")
        finally:
            with self._lock:
                self._refs.pop(ref, None)

    @staticmethod
    def _cancel(ref: Any, status: str, message: str) -> _Stop:
        import ray

        try:
            ray.cancel(ref, force=True)
        except Exception:  # noqa: BLE001 - already finished or its node is gone
            pass
        return _Stop(status, message)

    def _cluster_has(self, resource: str) -> bool:
        import ray

        now = time.monotonic()
        if now - self._resources_at > RESOURCE_CHECK_S:
            try:
                self._resources = ray.cluster_resources()
            except Exception:  # noqa: BLE001 - keep the last answer
                pass
            self._resources_at = now
        return self._resources.get(resource, 0) > 0

    def _failure(self, exc: BaseException, step: str) -> tuple[str, str]:
        status, message = describe_failure(exc, step)
        if status == "crashed" and "was lost" not in message:
            try:
                lost = _lost_nodes(self._alive_nodes)
            except Exception:  # noqa: BLE001
                lost = []
            if lost:
                message += f"; Ray node {', '.join(lost)} was lost"
        return status, message

    # -- the steps -------------------------------------------------------------------------------
    def build(self, request: BuildRequest, config: BuildConfig, log_path: Path | None) -> BuildResult:
        started = time.monotonic()
        ref = self._build.remote(request, config, log_path, self.target, self.isolate, self.preload)
        deadline = None if self.isolate else started + config.timeout_s
        try:
            result, where = self._await(ref, "build", deadline=deadline)
        except _Stop as stop:
            return BuildResult(stop.status, error=str(stop), log_path=log_path, build_time_s=time.monotonic() - started)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a value
            status, message = self._failure(exc, "build")
            return BuildResult(status, error=message, log_path=log_path, build_time_s=time.monotonic() - started)
        self._where.build = where
        return dataclasses.replace(result, info={**result.info, "build_node": where["node_id"],
                                                 "build_host": where["host"]})

    def holding(self, target: Target) -> contextlib.AbstractContextManager[None]:
        """Nothing kept: a measurement is a task on the node that holds the target's resource."""
        return contextlib.nullcontext()

    def measure(self, target: Target, request: SessionRequest, log_path: Path | None = None, *,
                quiet: bool = False) -> MeasureResult:
        started = time.monotonic()
        task = self._measure.options(num_cpus=0, resources={target.resource: 1}, max_retries=0,
                                     name=f"request-dse measure on {target.name}")
        ref = task.remote(target.spec, request, log_path, self.isolate, self.preload, quiet)
        protocol = request.protocol
        deadline = None if self.isolate else started + protocol.timeout_s * protocol.repeats + 30
        try:
            result, where = self._await(ref, "measurement", target.name, deadline, target.resource)
        except _Stop as stop:
            return MeasureResult(stop.status, error=str(stop), wall_s=time.monotonic() - started)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a value
            status, message = self._failure(exc, "measurement")
            return MeasureResult(status, error=message, wall_s=time.monotonic() - started)
        self._where.measure = where
        return result

    def take_where(self) -> dict[str, str]:
        """Where this thread's last build and measurement ran (and forget it)."""
        out = {}
        for step in ("build", "measure"):
            where = getattr(self._where, step, None)
            if where is not None:
                out[f"ray_{step}_node"] = where["node_id"]
                out[f"ray_{step}_host"] = where["host"]
                setattr(self._where, step, None)
        return out

    def activity(self) -> Activity:
        with self._lock:
            steps = list(self._refs.values())
        measuring: dict[str, int] = {}
        for step, target in steps:
            if step == "measurement":
                measuring[target] = measuring.get(target, 0) + 1
        return Activity(building=sum(step == "build" for step, _ in steps), measuring=measuring)

    def close(self) -> None:
        self._closed.set()
