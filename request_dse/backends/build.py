"""The build step of a candidate: prepare the workload's model, then build it with the backend.

:func:`build_candidate` runs in a build worker process (the executor decides which, and where);
it raises on failure and the worker turns the exception into a ``build_error`` value.
"""

from __future__ import annotations

import dataclasses
import shutil
import time

from request_dse.backends._base import BuildRequest, BuildResult
from request_dse.backends.registry import get_backend
from request_dse.workloads import get_workload


def build_candidate(request: BuildRequest) -> BuildResult:
    """Prepare the candidate's model and build it with its backend (in a build worker)."""
    started = time.perf_counter()
    if request.out_dir.exists():
        shutil.rmtree(request.out_dir)
    prepared = get_workload(request.workload).prepare(request.candidate, request.cache_dir)
    prepared_s = time.perf_counter() - started
    info = dict(get_backend(request.backend).build(request, prepared))
    tuning = float(info.pop("tuning_time_s", 0.0))
    tolerance = info.pop("output_tolerance", None)  # a backend computing in lower precision widens it
    if tolerance is not None:
        prepared = dataclasses.replace(prepared, tolerance=tuple(max(a, b) for a, b in zip(prepared.tolerance, tolerance)))
    return BuildResult("ok", request.out_dir, prepared, build_time_s=time.perf_counter() - started - prepared_s,
                       tuning_time_s=tuning, info={**info, "prepare_time_s": round(prepared_s, 4)})
