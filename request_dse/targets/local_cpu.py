"""This machine's CPU: measurement in isolated worker processes pinned to their own cores."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from request_dse import sysinfo
from request_dse.fields import AnyOf, Choice, Field, ListOf, Record, Str
from request_dse.targets._base import SessionCall, SessionRequest, Target
from request_dse.targets.loadgen import measure_session
from request_dse.targets.session import run_session


class LocalCpuTarget(Target):
    """Options: ``isa`` (``host``, or the list of CPU features builds may use: code then also
    runs on an older CPU of a fleet, whatever the building host has)."""

    kind = "local_cpu"
    device = "cpu"
    options = Record({"isa": Field(AnyOf(((lambda v: v == "host", Choice(("host",))),
                                          (lambda v: isinstance(v, list), ListOf(Str(), unique=True))),
                                         hint="'host' or a list of CPU feature names"), "host")})

    @property
    def capabilities(self) -> frozenset[str]:
        return frozenset({"local", "cpu"})

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
        return {**super().build_info(), "cpu": sysinfo.cpu_model(), "features": sorted(self.cpu_features())}

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

    def sessions(self, request: SessionRequest) -> list[SessionCall]:
        threads = str(request.threads)
        env = {"OMP_NUM_THREADS": threads, "TVM_NUM_THREADS": threads, "TVM_BIND_THREADS": "0",
               "MKL_NUM_THREADS": threads, **self.worker_env(request.threads)}
        cores = self.measure_cores(request.threads)
        calls = []
        for i in range(request.protocol.repeats):
            first = request.score and i == 0
            arg = dataclasses.replace(request, score=first, compliance=request.compliance and first, device=self.device)
            fn = measure_session if arg.protocol.uses_loadgen or arg.compliance else run_session
            calls.append(SessionCall(fn, arg, cores, env))
        return calls
