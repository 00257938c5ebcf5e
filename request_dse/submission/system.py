"""``system.json``: the MLPerf system-description fields that apply to one entry.

The target describes the hardware (processor model, cores, frequency, caches, memory,
accelerator, operating system; ``system:`` entries in ``targets/<name>.yaml`` override what is
detected); the entry adds its framework and the software stack it ran on: the exact versions of the
environment it was built and measured in (``software_environment``, whose lock with its hashes
is the bundle's ``environment.lock``).
"""

from __future__ import annotations

import platform
from collections.abc import Mapping
from typing import Any

from request_dse import sysinfo

#: Fields every system.json has (``unknown`` where a target cannot tell).
REQUIRED = ("system_name", "host_processor_model_name", "host_processor_core_count", "host_memory_capacity",
            "accelerator_model_name", "framework", "operating_system", "sw_notes")

#: The file of a bundle that holds the lock of its software environment.
LOCK_FILE = "environment.lock"

STACK = ("numpy", "onnx", "onnxruntime", "apache-tvm", "torch", "scikit-learn", "optuna")


def software_stack(versions: Mapping[str, str | None] | None = None) -> str:
    versions = versions if versions is not None else sysinfo.versions()
    parts = [f"Python {platform.python_version()}"]
    parts += [f"{name} {v}" for name in STACK if (v := versions.get(name))]
    return ", ".join(parts)


def describe(target_system: Mapping[str, Any], framework: str, framework_version: str | None,
             notes: str = "", versions: Mapping[str, str | None] | None = None,
             software: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The system description of an entry measured on a target with ``framework``; ``software``:
    the lock summary of the environment it ran in (its versions then make the software stack)."""
    versions = versions if versions is not None else sysinfo.versions()
    if software and software.get("packages"):
        pinned = dict(p.split("==", 1) for p in software["packages"])
        versions = {name: pinned.get(name) for name in STACK}  # what the environment held, nothing else
    out: dict[str, Any] = {
        "system_name": "unknown",
        "system_type": "edge",
        "number_of_nodes": 1,
        "host_processor_model_name": sysinfo.cpu_model(),
        "host_processors_per_node": 1,
        "host_processor_core_count": len(sysinfo.usable_cores()),
        "host_memory_capacity": f"{sysinfo.memory_bytes() / 2**30:.1f} GiB",
        "accelerator_model_name": "N/A",
        "accelerators_per_node": 0,
        "operating_system": sysinfo.operating_system(),
    }
    out.update({k: v for k, v in target_system.items() if v is not None})
    out["framework"] = f"{framework} {framework_version}" if framework_version else framework
    out["other_software_stack"] = software_stack(versions)
    out["sw_notes"] = notes or f"measured by request-dse {versions.get('request-dse') or ''}".strip()
    for key in ("host_processor_core_count", "number_of_nodes", "host_processors_per_node", "accelerators_per_node"):
        if key in out and not isinstance(out[key], int):
            try:
                out[key] = int(out[key])
            except (TypeError, ValueError):
                out.pop(key)
    for key in REQUIRED:
        out[key] = str(out[key]) if key != "host_processor_core_count" else out[key]
    if software:
        out["software_environment"] = {**{k: software[k] for k in ("id", "python", "hashed", "packages")
                                          if k in software}, "lock": LOCK_FILE}
    return out


def describe_entry(entry: Any, versions: Mapping[str, str | None] | None = None) -> dict[str, Any]:
    """The system description of a bundle entry (a :class:`~request_dse.submission.writer.Entry`)."""
    return describe(entry.target_system, entry.backend, entry.backend_version, versions=versions,
                    software=entry.software or None)
