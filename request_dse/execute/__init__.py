"""Executors: where the trials of a study run -- ``inline`` (debugging), ``local`` (the default),
``ray`` (parallel, many machines) -- with their runtimes, process isolation and the host-wide
registry that keeps builds off the cores a measurement uses."""

from __future__ import annotations

from request_dse.execute._base import Activity, ChildOutcome, Executor, Runner
from request_dse.execute._worker import summarize_exception, sweep_dead_temp_dirs, worker_context
from request_dse.execute.batch import run_jobs
from request_dse.execute.local import InlineExecutor, LocalExecutor, LocalRuntime
from request_dse.execute.process import InlineRunner, ProcessRunner
from request_dse.execute.ray import RayExecutor
from request_dse.execute.signals import Terminated, exit_code, stop_on_sigterm
from request_dse.execute.steps import run_build, run_measurement
from request_dse.study import EXECUTORS, Plan
from request_dse.targets import TargetSpec, make_target

__all__ = ["EXECUTORS", "Activity", "ChildOutcome", "Executor", "InlineExecutor", "InlineRunner", "LocalExecutor",
           "LocalRuntime", "ProcessRunner", "RayExecutor", "Runner", "Terminated", "exit_code", "local_executor",
           "make_executor", "run_build", "run_jobs", "run_measurement", "stop_on_sigterm", "summarize_exception",
           "sweep_dead_temp_dirs", "worker_context"]


def local_executor(target: TargetSpec, preload: tuple[str, ...], workers: int | None = None) -> LocalExecutor:
    """The ``local`` executor for ``target``: builds on its build cores, measurements on its own."""
    cores = make_target(target).build_cores() or ()
    workers = workers or max(1, len(cores))
    return LocalExecutor(LocalRuntime(ProcessRunner(preload=preload), workers, cores), workers)


def make_executor(plan: Plan, name: str | None = None) -> Executor:
    name = name or plan.study.executor
    if name == "inline":
        return InlineExecutor()
    if name == "local":
        return local_executor(plan.target_spec, plan.preload(), plan.study.build.workers)
    if name == "ray":
        return RayExecutor(plan)
    raise ValueError(f"unknown executor {name!r} (known: {', '.join(EXECUTORS)})")
