"""Energy counters: RAPL for a CPU package, NVML for an NVIDIA GPU.

:func:`counter` returns a function that reads a monotonic joule counter for a device
(``cpu``, ``cuda``), or None where no counter can be read; a measurement reads it before and
after its timed runs. Where there is none, energy is estimated from the target's power model
and labelled as an estimate (:mod:`request_dse.metrics`).

NVML is reached through ``libnvidia-ml.so.1`` (shipped with the driver) with ctypes, so no
extra package is needed; ``nvmlDeviceGetTotalEnergyConsumption`` needs a Volta or newer GPU.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable
from functools import cache

from request_dse import sysinfo

Counter = Callable[[], "float | None"]


def _rapl() -> float | None:
    try:
        return int(sysinfo.RAPL.read_text()) / 1e6
    except (OSError, ValueError):
        return None


@cache
def _nvml() -> ctypes.CDLL | None:
    try:
        lib = ctypes.CDLL("libnvidia-ml.so.1")
    except OSError:
        return None
    if lib.nvmlInit_v2() != 0:
        return None
    return lib


def _nvml_handle(index: int) -> ctypes.c_void_p | None:
    lib = _nvml()
    if lib is None:
        return None
    handle = ctypes.c_void_p()
    if lib.nvmlDeviceGetHandleByIndex_v2(ctypes.c_uint(index), ctypes.byref(handle)) != 0:
        return None
    return handle


def _nvml_counter(index: int) -> Counter | None:
    lib, handle = _nvml(), _nvml_handle(index)
    if lib is None or handle is None:
        return None
    millijoules = ctypes.c_ulonglong()

    def read() -> float | None:
        if lib.nvmlDeviceGetTotalEnergyConsumption(handle, ctypes.byref(millijoules)) != 0:
            return None
        return millijoules.value / 1e3

    return read if read() is not None else None


def _visible_index() -> int:
    """NVML numbers all GPUs; a worker restricted by CUDA_VISIBLE_DEVICES sees the first one as 0."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")[0].strip()
    return int(visible) if visible.isdigit() else 0


def counter(device: str = "cpu") -> Counter | None:
    """A joule counter for ``device``, or None where none is readable."""
    if device.startswith("cuda"):
        return _nvml_counter(_visible_index())
    return _rapl if _rapl() is not None else None


def readable() -> list[tuple[str, bool, str]]:
    """(counter, readable, how or why not) for each kind of counter: what ``doctor`` prints."""
    rapl_ok, rapl_how = sysinfo.energy_readable()
    out = [("RAPL (CPU package)", rapl_ok, rapl_how)]
    if _nvml() is None:
        out.append(("NVML (NVIDIA GPU)", False, "libnvidia-ml.so.1 is not loadable (no NVIDIA driver)"))
    elif _nvml_counter(0) is None:
        out.append(("NVML (NVIDIA GPU)", False, "GPU 0 has no total-energy counter (needs Volta or newer)"))
    else:
        out.append(("NVML (NVIDIA GPU)", True, "nvmlDeviceGetTotalEnergyConsumption on GPU 0"))
    return out
