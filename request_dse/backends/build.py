"""The build step of a candidate: prepare the workload's model, then build it with the backend.

:func:`build_candidate` runs in a build worker process (the executor decides which, and where);
it raises on failure and the worker turns the exception into a ``build_error`` value. A
candidate with an environment of its own takes the two halves in two workers:
:func:`prepare_candidate` in request-dse's own, :func:`build_prepared` in the environment's.
"""

from __future__ import annotations

import dataclasses
import shutil
import time

from request_dse.backends._base import BuildRequest, BuildResult
from request_dse.backends.registry import get_backend
from request_dse.workloads import PreparedModel, get_workload


def build_candidate(request: BuildRequest) -> BuildResult:
    """Prepare the candidate's model and build it with its backend (in a build worker)."""
    started = time.perf_counter()
    prepared = prepare_candidate(request)
    return build_prepared((request, prepared), prepared_s=time.perf_counter() - started)


def prepare_candidate(request: BuildRequest) -> PreparedModel:
    """The candidate's model, data and reference (in a worker of request-dse's own environment:
    the reference outputs are the same whatever version a candidate is built with)."""
    return get_workload(request.workload).prepare(request.candidate, request.cache_dir)


def build_prepared(job: tuple[BuildRequest, PreparedModel], prepared_s: float = 0.0) -> BuildResult:
    """Build a prepared model with the candidate's backend (in a build worker, perhaps in the
    interpreter of the candidate's environment)."""
    request, prepared = job
    started = time.perf_counter()
    if request.out_dir.exists():
        shutil.rmtree(request.out_dir)
    info = dict(get_backend(request.backend).build(request, prepared))
    tuning = float(info.pop("tuning_time_s", 0.0))
    tolerance = info.pop("output_tolerance", None)  # a backend computing in lower precision widens it
    if tolerance is not None:
        prepared = dataclasses.replace(prepared, tolerance=tuple(max(a, b) for a, b in zip(prepared.tolerance, tolerance)))
    return BuildResult("ok", request.out_dir, prepared, build_time_s=time.perf_counter() - started,
                       tuning_time_s=tuning, info={**info, "prepare_time_s": round(prepared_s, 4)})
