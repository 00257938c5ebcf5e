"""What this machine is: CPU, cores, memory, OS, energy counters, library versions.

Read from /proc and /sys without importing heavy libraries; recorded with every measurement
and used for the MLPerf-style system description of a submission.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import socket
import subprocess
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

#: Distributions whose versions change what is measured.
LIBRARIES = ("request-dse", "optuna", "numpy", "onnx", "onnxruntime", "apache-tvm", "apache-tvm-ffi", "torch",
             "mlflow", "ray", "scikit-learn")

RAPL = Path("/sys/class/powercap/intel-rapl:0/energy_uj")


@cache
def cpuinfo() -> dict[str, str]:
    """The first processor's block of /proc/cpuinfo."""
    out: dict[str, str] = {}
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return out
    for line in text.split("\n\n")[0].splitlines():
        key, _, value = line.partition(":")
        out[key.strip()] = value.strip()
    return out


def cpu_model() -> str:
    return cpuinfo().get("model name") or platform.processor() or platform.machine()


def cpu_features() -> frozenset[str]:
    return frozenset(cpuinfo().get("flags", "").split())


#: Set by a driver before it pins itself to its build cores, and inherited by its workers, so
#: that every process of a study sees the cores the study may use, not the ones it is pinned to.
CORES_ENV = "REQUEST_DSE_CORES"


def usable_cores() -> tuple[int, ...]:
    """The cores this study may use (the process's CPU affinity when the study started)."""
    text = os.environ.get(CORES_ENV)
    if text:
        try:
            return tuple(sorted(int(c) for c in text.split(",")))
        except ValueError:
            pass
    return tuple(sorted(os.sched_getaffinity(0)))


def remember_cores() -> None:
    """Record :func:`usable_cores` for this process and its children before it pins itself."""
    os.environ.setdefault(CORES_ENV, ",".join(map(str, usable_cores())))


def memory_bytes() -> int:
    import psutil

    return int(psutil.virtual_memory().total)


def cpu_mhz() -> float | None:
    try:
        return float(Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq").read_text()) / 1000
    except (OSError, ValueError):
        pass
    try:
        return float(cpuinfo().get("cpu MHz", ""))
    except ValueError:
        return None


def caches() -> str:
    sizes = []
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            level = (index / "level").read_text().strip()
            kind = (index / "type").read_text().strip()
            size = (index / "size").read_text().strip()
        except OSError:
            continue
        sizes.append(f"L{level}{'d' if kind == 'Data' else 'i' if kind == 'Instruction' else ''} {size}")
    return ", ".join(sizes)


def operating_system() -> str:
    try:
        release = platform.freedesktop_os_release().get("PRETTY_NAME", "")
    except OSError:
        release = ""
    return f"{release} (Linux {platform.release()})" if release else f"{platform.system()} {platform.release()}"


def energy_readable() -> tuple[bool, str]:
    """Whether an energy counter can be read here, and why not."""
    if not RAPL.exists():
        return False, "no RAPL counter (/sys/class/powercap/intel-rapl:0) on this machine"
    try:
        int(RAPL.read_text())
    except (OSError, ValueError) as exc:
        return False, f"RAPL counter not readable ({exc.__class__.__name__})"
    return True, "RAPL package counter"


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for dist in LIBRARIES:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


@cache
def git_revision() -> str | None:
    root = Path(__file__).resolve().parents[1]
    if not (root / ".git").exists():
        return None
    try:
        rev = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return rev + ("-dirty" if dirty else "")


@cache
def environment() -> dict[str, Any]:
    """Everything recorded with a measurement about where it was taken."""
    return {
        "host": socket.gethostname(), "cpu_model": cpu_model(), "cpu_features": sorted(cpu_features()),
        "cores": len(usable_cores()), "memory_bytes": memory_bytes(), "os": operating_system(),
        "python": platform.python_version(), "versions": versions(), "git_revision": git_revision(),
    }


def fingerprint(env: dict[str, Any] | None = None) -> str:
    """What must match for a cached measurement to stand for a new one."""
    env = env or environment()
    key = {k: env[k] for k in ("cpu_model", "cpu_features", "cores", "versions")}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
