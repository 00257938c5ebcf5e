"""What the tvm backend compiles for, by target kind, and how it links the library.

* ``local_cpu`` (and ``replay``): this host's LLVM target with the candidate's ``mcpu``/``mattr``.
* ``rpc``: the device's ``tvm_target`` (from the target file; default: this host's LLVM) with
  the candidate's target attributes on top; the library is linked with the device's
  ``cross_compiler`` (default: this host's compiler, right for loopback).
* ``cuda``: TVM's ``cuda`` target (``arch`` from the target, e.g. ``sm_80``) with an LLVM host
  target carrying the candidate's CPU attributes; kernels get dlight's default GPU schedules
  unless a MetaSchedule database replaces them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any


def llvm_target(target_attrs: Mapping[str, Any], threads: int) -> dict[str, Any]:
    """The dict form of an LLVM target; ``mcpu: native`` resolved to this machine's CPU."""
    import tvm

    attrs: dict[str, Any] = {"kind": "llvm", "num-cores": threads}
    for key, value in target_attrs.items():
        if value in (None, "", "none", "default"):
            continue
        if key == "mcpu" and value == "native":
            value = tvm.target.codegen.llvm_get_system_cpu()
        if key == "mattr" and isinstance(value, str):
            value = [v for v in value.split(",") if v]
        attrs[key] = value
    return attrs


def target_dict(build_info: Mapping[str, Any], target_attrs: Mapping[str, Any], threads: int) -> dict[str, Any]:
    """The candidate's TVM target in dict form (``host`` nested for a GPU target)."""
    base = dict(build_info.get("tvm_target") or {"kind": "llvm"})
    if base.get("kind") == "llvm":
        return {**base, **llvm_target(target_attrs, threads)}
    host = dict(base.pop("host", None) or {"kind": "llvm"})
    base["host"] = {**host, **llvm_target(target_attrs, threads)}
    return base


def is_gpu(target: Mapping[str, Any]) -> bool:
    return target.get("kind") in ("cuda", "rocm", "vulkan", "opencl", "metal")


def make_target(target: Mapping[str, Any]) -> Any:
    import tvm

    attrs = dict(target)
    host = attrs.pop("host", None)
    return tvm.target.Target(attrs, host=tvm.target.Target(host)) if host else tvm.target.Target(attrs)


def export(executable: Any, path: Path, build_info: Mapping[str, Any]) -> None:
    """Link the library, with the device's cross compiler where the target names one."""
    compiler = build_info.get("cross_compiler")
    if compiler:
        try:
            from tvm.support import cc  # TVM 0.27
        except ImportError:
            from tvm.contrib import cc  # type: ignore[no-redef]  # earlier releases

        executable.export_library(str(path), fcompile=cc.cross_compiler(str(compiler)))
    else:
        executable.export_library(str(path))


def cuda_problem() -> str | None:
    """Why this TVM cannot run CUDA code here, or None (imports tvm: called for cuda targets only)."""
    try:
        import tvm
    except ImportError as exc:
        return f"apache-tvm cannot be imported ({exc})"
    if tvm.support.libinfo().get("USE_CUDA", "OFF") in ("OFF", "", "0"):
        return f"this apache-tvm {tvm.__version__} build has no CUDA support (USE_CUDA=OFF)"
    if not tvm.cuda(0).exist:
        return "TVM finds no CUDA device (is the NVIDIA driver loaded?)"
    return None
