"""Run a list of trial jobs through an executor: the confirm phase, baselines and validation
all measure this way (exclusive measurement, isolated workers, failures as values)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from request_dse.evaluate import TrialJob
from request_dse.execute._base import Executor
from request_dse.results import TrialResult


def run_jobs(executor: Executor, jobs: Sequence[TrialJob],
             on_result: Callable[[TrialJob, TrialResult], None] | None = None) -> list[tuple[TrialJob, TrialResult]]:
    """Every job's result, in the order they finish (``on_result`` is called as each does)."""
    queue = list(jobs)
    out: list[tuple[TrialJob, TrialResult]] = []
    while queue or executor.in_flight:
        while queue and executor.in_flight < executor.capacity:
            executor.submit(queue.pop(0))
        for job, result in executor.wait(timeout=0.25):
            out.append((job, result))
            if on_result is not None:
                on_result(job, result)
    return out
