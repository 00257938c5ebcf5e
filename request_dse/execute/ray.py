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

import contextlib
import dataclasses
import logging
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from request_dse.errors import ConfigError, UserError
from request_dse.evaluate import TrialJob
from request_dse.execute._base import Activity
from request_dse.execute.ray_runtime import RayRuntime
from request_dse.execute.threads import ThreadedExecutor
from request_dse.results import TrialResult

OPTIONS: dict[str, tuple[type, ...]] = {"address": (str,), "host": (str,), "num_cpus": (int,),
                                       "build_cpus": (int, float), "max_in_flight": (int,), "isolate": (bool,)}


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


def disconnect() -> None:
    """Leave the Ray cluster; the processes of a cluster this process started are reaped, not
    left to the garbage collector (Ray waits about 1 s for each it kills; a loaded machine needs more)."""
    import ray

    started = _local_processes()
    ray.shutdown()
    for process in started:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=REAP_S)


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
        if self._started or self.where.startswith("the Ray cluster at"):
            disconnect()

    def shutdown(self) -> list[tuple[TrialJob, TrialResult]]:
        """Cancel every task in flight; their trials come back ``interrupted``; leave the cluster."""
        if self._shut:
            return []
        self._shut = True
        self.runtime.close()
        out = self._drain(within_s=10)
        self._disconnect()
        return out


#: How long leaving a started local cluster waits for each of its processes to end.
REAP_S = 10.0


def _local_processes() -> list[Any]:
    """The ``subprocess.Popen`` of each process of the local cluster this process started (Ray's
    ``_global_node.all_processes``; empty when a Ray release names them otherwise)."""
    import ray

    try:
        infos = ray._private.worker._global_node.all_processes or {}
    except AttributeError:
        return []
    return [info.process for group in infos.values() for info in group if hasattr(info, "process")]
