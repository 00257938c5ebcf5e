"""Executors: ``inline`` (debugging), ``local`` (the default), ``ray`` (parallel, many machines)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from request_dse.execute._base import Activity, Executor, TrialJob

if TYPE_CHECKING:
    from request_dse.plan import Plan

__all__ = ["EXECUTORS", "Activity", "Executor", "TrialJob", "make_executor"]

EXECUTORS = ("inline", "local", "ray")


def make_executor(plan: Plan, name: str | None = None) -> Executor:
    name = name or plan.study.executor
    if name == "inline":
        from request_dse.execute.local import InlineExecutor

        return InlineExecutor()
    if name == "local":
        from request_dse.execute._process import ProcessRunner
        from request_dse.execute.local import LocalExecutor, LocalRuntime

        cores = plan.target.build_cores() or ()
        workers = plan.study.build.workers or max(1, len(cores))
        runner = ProcessRunner(preload=plan.preload())
        return LocalExecutor(LocalRuntime(runner, workers, cores), workers)
    if name == "ray":
        from request_dse.execute.ray import RayExecutor

        return RayExecutor(plan)
    raise ValueError(f"unknown executor {name!r} (known: {', '.join(EXECUTORS)})")
