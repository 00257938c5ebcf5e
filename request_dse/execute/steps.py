"""The steps of one candidate that run in worker processes (imported by the forkserver)."""

from __future__ import annotations

import dataclasses
import shutil
import time

from request_dse.records import BuildRequest, BuildResult


def build_step(request: BuildRequest) -> BuildResult:
    """Prepare the candidate's model and build it with its backend (in a build worker)."""
    from request_dse.backends import get_backend
    from request_dse.workloads import get_workload

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
