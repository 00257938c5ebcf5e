"""An NVIDIA GPU of this machine (CUDA).

TVM compiles for TVM's ``cuda`` target (dlight default GPU schedules; MetaSchedule where the
candidate sets ``tuning_trials`` > 0), ONNX Runtime runs its CUDA execution provider, PyTorch
runs on ``cuda``. A measurement session is a worker process on this host that sees only the
chosen GPU (``CUDA_VISIBLE_DEVICES``); every timed call returns after the device has finished
(each backend synchronizes), and energy comes from the GPU's NVML counter where readable.

On a machine without an NVIDIA driver or GPU the target is unavailable, with the reason.

Options: ``device`` (the GPU's index, default 0); ``arch`` (``auto``: the GPU's compute
capability, e.g. ``sm_90``; or a fixed one, which lets this host build without the GPU).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from request_dse import sysinfo
from request_dse.fields import Field, Int, Record, Str
from request_dse.sysinfo import gpu
from request_dse.targets.local_cpu import LocalCpuTarget


class CudaTarget(LocalCpuTarget):
    """Options: ``device`` (GPU index), ``arch`` (``auto`` or ``sm_XY``)."""

    kind = "cuda"
    device = "cuda"
    options = Record({"device": Field(Int(low=0), 0),
                      "arch": Field(Str(pattern=r"auto|sm_\d{2,3}[a-z]?", hint="'auto' or a CUDA arch such as sm_80"),
                                    "auto")})

    @property
    def index(self) -> int:
        return int(self.spec.options.get("device", 0))

    @property
    def capabilities(self) -> frozenset[str]:
        return frozenset({"local", "gpu"})

    def unavailable(self) -> str | None:
        return gpu.unavailable(self.index)

    def cpu_features(self) -> frozenset[str]:
        return sysinfo.cpu_features()  # the host side of the program runs on this CPU

    def arch(self) -> str | None:
        arch = self.spec.options.get("arch", "auto")
        if arch != "auto":
            return str(arch)
        device = gpu.get(self.index)
        return device.arch if device else None

    def build_info(self) -> Mapping[str, Any]:
        tvm_target: dict[str, Any] = {"kind": "cuda"}
        arch = self.arch()
        if arch:
            tvm_target["arch"] = arch
        return {**super().build_info(), "kind": self.kind, "tvm_target": tvm_target, "device": "cuda",
                "gpu_index": self.index}

    def measure_cores(self, threads: int) -> tuple[int, ...]:
        return super().measure_cores(1)  # the host thread that launches kernels

    def system(self) -> Mapping[str, Any]:
        device = gpu.get(self.index)
        detected = {"accelerator_model_name": device.name if device else "unknown NVIDIA GPU",
                    "accelerators_per_node": 1,
                    "accelerator_memory_capacity": f"{device.memory_mib / 1024:.0f} GiB" if device else "unknown",
                    "accelerator_host_interconnect": "PCIe",
                    "system_type": "datacenter"}
        return {**super().system(), **detected, **self.spec.system}

    def worker_env(self, threads: int) -> dict[str, str]:
        return {"CUDA_VISIBLE_DEVICES": str(self.index)}
