"""The ``ray`` executor: builds and measurements as Ray tasks, on one machine or many.

* Builds are Ray tasks that ask for ``build_cpus`` CPUs; any node with free CPUs runs them.
* A measurement is a Ray task that asks for one unit of the target's custom resource
  (``{"target:<name>": 1}``), which only the node owning that device advertises: so at most
  one measurement per device runs at a time, always on that device's node.
* Several trials are in flight at once; each follows :func:`request_dse.trial.run_trial` in a
  driver thread, exactly as with the local executor, only its steps run as Ray tasks.
* On each machine, builds and measurements never share cores (:mod:`._host`).

Options (``executor: {name: ray, options: {...}}`` in the study):

``address``        ``auto`` (the cluster ``ray start`` made on this machine), ``host:port`` of a
                   head node, or ``ray://host:port`` (Ray Client). Default: ``$RAY_ADDRESS``,
                   else a local cluster is started for the study (and stopped after it).
``host``           the node address a started local cluster asks for (default ``127.0.0.1``; Ray 2.60
                   still listens on every interface: see docs/multi-node.md, "Network exposure").
``num_cpus``       CPUs of a started local cluster (default: the target's build cores).
``build_cpus``     CPUs one build asks for (default 1).
``max_in_flight``  trials in flight (default: builds the cluster can run at once + device slots).
``isolate``        run each step in an isolated child process (default true); false runs it in
                   the Ray worker itself (cheaper; a crash then kills that worker).

Failures are statuses: a Ray worker that dies ends its trial ``crashed``; a node that
disappears ends the trials it ran ``crashed`` with "node ... lost"; a measurement whose device
no node owns any more ends ``run_error``. Stopping (Ctrl-C) cancels every task in flight and
ends their trials ``interrupted``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from request_dse.config import BuildConfig, TargetSpec
from request_dse.errors import ConfigError, UserError
from request_dse.execute._base import Activity, TrialJob
from request_dse.execute._threads import ThreadedExecutor
from request_dse.records import BuildRequest, BuildResult, MeasureResult, SessionRequest, TrialResult
from request_dse.targets import Target

OPTIONS: dict[str, tuple[type, ...]] = {"address": (str,), "host": (str,), "num_cpus": (int,),
                                       "build_cpus": (int, float), "max_in_flight": (int,), "isolate": (bool,)}
POLL_S = 0.2
RESOURCE_CHECK_S = 2.0


def ray_options(source: str | Path, options: Mapping[str, Any]) -> dict[str, Any]:
    """Validated executor options (unknown keys and wrong types are errors, never dropped)."""
    out: dict[str, Any] = {}
    for key, value in options.items():
        field = f"executor.options.{key}"
        if key not in OPTIONS:
            raise ConfigError(source, field, f"unknown option of the ray executor (known: {', '.join(OPTIONS)})")
        types = OPTIONS[key]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise ConfigError(source, field, f"must be {' or '.join(t.__name__ for t in types)}; got {value!r}")
        if key in ("num_cpus", "build_cpus", "max_in_flight") and value <= 0:
            raise ConfigError(source, field, f"must be > 0; got {value!r}")
        out[key] = value
    return out


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
    """The :class:`~request_dse.trial.Runtime` whose steps are Ray tasks (used from driver threads)."""

    def __init__(self, options: Mapping[str, Any], preload: tuple[str, ...], target: TargetSpec) -> None:
        import ray

        from request_dse.execute import _ray_tasks

        self.target = target  # build tasks keep off the cores this target measures on
        self.isolate = bool(options.get("isolate", True))
        self.preload = preload
        self._build = ray.remote(_ray_tasks.build).options(num_cpus=options.get("build_cpus", 1), max_retries=0,
                                                           name="request-dse build")
        self._measure = ray.remote(_ray_tasks.measure)
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

    def measure(self, target: Target, request: SessionRequest, log_path: Path | None = None) -> MeasureResult:
        started = time.monotonic()
        task = self._measure.options(num_cpus=0, resources={target.resource: 1}, max_retries=0,
                                     name=f"request-dse measure on {target.name}")
        ref = task.remote(target.spec, request, log_path, self.isolate, self.preload)
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


def _connect(plan: Any, options: Mapping[str, Any]) -> tuple[bool, str]:
    """Connect to the cluster the options name, or start a local one; (started_here, description)."""
    import ray

    if ray.is_initialized():
        return False, "the Ray instance of this process"
    quiet = {"logging_level": logging.WARNING, "log_to_driver": False, "include_dashboard": False}
    address = options.get("address") or os.environ.get("RAY_ADDRESS")
    if address:
        try:
            ray.init(address=address, **quiet)
        except Exception as exc:  # noqa: BLE001 - Ray raises many kinds
            raise UserError(f"cannot connect to the Ray cluster at {address!r}: {type(exc).__name__}: "
                            f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''}") from None
        return False, f"the Ray cluster at {address}"
    target = plan.target
    cpus = options.get("num_cpus") or max(1, len(target.build_cores()) or (os.cpu_count() or 1))
    # Ray keeps only num_cpus idle workers by default: a measurement worker (no CPU) would be
    # killed after each task and the next one would pay the worker's start-up and its
    # forkserver's imports again.
    ray.init(num_cpus=cpus, resources={target.resource: 1}, _node_ip_address=options.get("host", "127.0.0.1"),
             _system_config={"num_workers_soft_limit": cpus + 2}, **quiet)
    return True, f"a local Ray cluster ({cpus} CPUs)"


class RayExecutor(ThreadedExecutor):
    """Trials in driver threads; their builds and measurements as Ray tasks (see the module doc)."""

    name: ClassVar[str] = "ray"

    def __init__(self, plan: Any, options: Mapping[str, Any] | None = None) -> None:
        import ray

        super().__init__()
        if options is None:  # the study's options are for the ray executor only when it names it
            options = plan.study.executor_options if plan.study.executor == "ray" else {}
        opts = ray_options(plan.study.source, options)
        self._started, self.where = _connect(plan, opts)
        target = plan.target
        resources = ray.cluster_resources()
        if resources.get(target.resource, 0) <= 0:
            self._disconnect()
            raise UserError(f"no node of {self.where} advertises {target.resource!r}, so target {target.name!r} "
                            f"cannot be measured: start the node that owns it with `ray start --address=<head> "
                            f"--resources='{{\"{target.resource}\": 1}}'` (docs/multi-node.md)")
        self.runtime = RayRuntime(opts, plan.preload(), plan.target_spec)
        builds = int(resources.get("CPU", 1) // opts.get("build_cpus", 1)) or 1
        self._capacity = int(opts.get("max_in_flight") or builds + int(resources.get(target.resource, 1)))
        self._shut = False

    def _trial(self, job: TrialJob) -> TrialResult:
        result = super()._trial(job)
        where = self.runtime.take_where()
        return dataclasses.replace(result, info={**result.info, **where}) if where else result

    def activity(self) -> Activity:
        return self.runtime.activity()

    def _disconnect(self) -> None:
        import ray

        if self._started or self.where.startswith("the Ray cluster at"):
            ray.shutdown()

    def shutdown(self) -> list[tuple[TrialJob, TrialResult]]:
        """Cancel every task in flight; their trials come back ``interrupted``; leave the cluster."""
        if self._shut:
            return []
        self._shut = True
        self.runtime.close()
        out = self._drain(join_timeout=30)
        self._disconnect()
        return out
