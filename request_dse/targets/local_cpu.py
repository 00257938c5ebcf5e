"""This machine's CPU: measurement in isolated worker processes pinned to their own cores."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from request_dse import sysinfo
from request_dse.config._schema import AnyOf, Choice, Field, ListOf, Record, Str
from request_dse.targets._base import Target

if TYPE_CHECKING:
    from request_dse.execute._process import ProcessRunner
    from request_dse.records import MeasureResult, SessionRequest

#: How a worker's end maps onto a measurement status.
STATUS = {"error": "run_error", "timeout": "run_timeout", "crashed": "crashed",
          "out_of_memory": "out_of_memory", "interrupted": "interrupted"}


class LocalCpuTarget(Target):
    """Options: ``isa`` (``host``, or the list of CPU features builds may use: code then also
    runs on an older CPU of a fleet, whatever the building host has)."""

    kind = "local_cpu"
    options = Record({"isa": Field(AnyOf(((lambda v: v == "host", Choice(("host",))),
                                          (lambda v: isinstance(v, list), ListOf(Str(), unique=True))),
                                         hint="'host' or a list of CPU feature names"), "host")})

    def cores(self) -> tuple[int, ...]:
        return sysinfo.usable_cores()

    def measure_cores(self, threads: int) -> tuple[int, ...]:
        """The last ``threads`` usable cores (or the configured ones)."""
        cores = self.spec.measure_cores or self.cores()
        return tuple(cores[-threads:]) if threads <= len(cores) else tuple(cores)

    def build_cores(self) -> tuple[int, ...]:
        """Cores left to builds while a one-thread measurement runs (all, on a one-core machine)."""
        cores = self.cores()
        reserved = set(self.measure_cores(1))
        return tuple(c for c in cores if c not in reserved) or cores

    def cpu_features(self) -> frozenset[str]:
        host = sysinfo.cpu_features()
        isa = self.spec.options.get("isa", "host")
        return host if isa == "host" else host & frozenset(isa)

    def build_info(self) -> Mapping[str, Any]:
        return {"kind": self.kind, "name": self.name, "cpu": sysinfo.cpu_model(),
                "features": sorted(self.cpu_features())}

    def system(self) -> Mapping[str, Any]:
        mhz = sysinfo.cpu_mhz()
        detected = {
            "system_name": f"{self.name} ({sysinfo.cpu_model()})",
            "system_type": "edge",
            "number_of_nodes": 1,
            "host_processor_model_name": sysinfo.cpu_model(),
            "host_processors_per_node": 1,
            "host_processor_core_count": len(self.cores()),
            "host_processor_frequency": f"{mhz:.0f} MHz" if mhz else "unknown",
            "host_processor_caches": sysinfo.caches() or "unknown",
            "host_memory_capacity": f"{sysinfo.memory_bytes() / 2**30:.1f} GiB",
            "accelerator_model_name": "N/A",
            "accelerators_per_node": 0,
            "operating_system": sysinfo.operating_system(),
        }
        return {**detected, **self.spec.system}

    def worker_env(self, threads: int) -> dict[str, str]:
        """Extra environment variables of a measurement worker (a subclass names its device)."""
        return {}

    def measure(self, request: SessionRequest, runner: ProcessRunner, log_path: Path | None = None) -> MeasureResult:
        from request_dse.measure import run_session
        from request_dse.records import MeasureResult

        threads = str(request.threads)
        env = {"OMP_NUM_THREADS": threads, "TVM_NUM_THREADS": threads, "TVM_BIND_THREADS": "0",
               "MKL_NUM_THREADS": threads, **self.worker_env(request.threads)}
        sessions = []
        wall = 0.0
        for i in range(request.protocol.repeats):
            session_request = dataclasses.replace(request, score=request.score and i == 0)
            outcome = runner.run(run_session, session_request, timeout_s=request.protocol.timeout_s,
                                 memory_limit_mb=request.protocol.memory_limit_mb,
                                 cores=self.measure_cores(request.threads), env=env, label="measure",
                                 log_path=log_path)
            wall += outcome.wall_s
            if outcome.status != "ok":
                return MeasureResult(STATUS[outcome.status], tuple(sessions), outcome.describe(), wall)
            sessions.append(outcome.value)
        return MeasureResult("ok", tuple(sessions), "", wall)
