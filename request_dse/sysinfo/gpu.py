"""NVIDIA GPUs on this machine, found without importing a framework.

The driver announces itself in ``/proc/driver/nvidia/version``; ``nvidia-smi`` lists the
devices (name, compute capability, memory). Every probe is cached and never raises: a machine
without a GPU gets a one-line reason instead.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DRIVER = Path("/proc/driver/nvidia/version")


@dataclass(frozen=True)
class Gpu:
    index: int
    name: str
    compute_capability: str   # "8.0"
    memory_mib: int
    driver: str

    @property
    def arch(self) -> str:
        """The CUDA architecture name code is compiled for (``sm_80``)."""
        return "sm_" + self.compute_capability.replace(".", "")


@cache
def probe() -> tuple[tuple[Gpu, ...], str | None]:
    """(the GPUs, None) or ((), why there are none)."""
    if not DRIVER.exists():
        return (), f"no NVIDIA driver on this machine ({DRIVER} is missing)"
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return (), "the NVIDIA driver is loaded but nvidia-smi is not on PATH"
    query = "index,name,compute_cap,memory.total,driver_version"
    try:
        run = subprocess.run([smi, f"--query-gpu={query}", "--format=csv,noheader,nounits"], capture_output=True,
                             text=True, timeout=20)
    except (OSError, subprocess.SubprocessError) as exc:
        return (), f"nvidia-smi failed ({exc})"
    if run.returncode != 0:
        return (), f"nvidia-smi failed: {(run.stderr or run.stdout).strip().splitlines()[-1:] or run.returncode}"
    gpus = []
    for line in run.stdout.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 5 and parts[0].isdigit():
            memory = int(float(parts[3])) if parts[3].replace(".", "").isdigit() else 0
            gpus.append(Gpu(int(parts[0]), parts[1], parts[2], memory, parts[4]))
    if not gpus:
        return (), "nvidia-smi lists no GPU"
    return tuple(gpus), None


def gpus() -> tuple[Gpu, ...]:
    return probe()[0]


def unavailable(index: int = 0) -> str | None:
    """Why GPU ``index`` cannot be used here, or None."""
    found, reason = probe()
    if reason:
        return reason
    if not any(g.index == index for g in found):
        return f"no GPU with index {index} (found {len(found)})"
    return None


def get(index: int = 0) -> Gpu | None:
    return next((g for g in gpus() if g.index == index), None)
