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

#: Target kinds the tvm backend builds for.
KINDS = ("local_cpu", "replay", "rpc", "cuda")


def target_dict(build_info: Mapping[str, Any], target_attrs: Mapping[str, Any], threads: int) -> dict[str, Any]:
    """The candidate's TVM target in dict form (``host`` nested for a GPU target)."""
    from request_dse.backends.tvm import llvm_target

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


def gpu_pipeline(target: Any, *, fuse: bool, layout: str, database: Path | None = None) -> Any:
    """The CUDA pipeline of ``relax.get_default_pipeline`` (dlight default schedules), with
    fusion and layout as options; ``database`` (a MetaSchedule work dir) comes first."""
    import tvm
    from tvm import relax
    from tvm.relax.backend.cuda import pipeline as gpu
    from tvm.s_tir import dlight as dl

    front = [relax.transform.DecomposeOpsForInference(), relax.transform.CanonicalizeBindings()]
    if layout == "NHWC":
        front.append(relax.transform.ConvertLayout({"relax.nn.conv2d": ["NHWC", "OHWI"]}))
    legalize = [relax.transform.LegalizeOps(), relax.transform.AnnotateTIROpPattern(), relax.transform.FoldConstant()]
    if fuse:
        legalize += [relax.transform.FuseOps(), relax.transform.FuseTIR()]
    if database is not None:
        legalize.append(relax.transform.MetaScheduleApplyDatabase(str(database), enable_warning=False))
    legalize.append(dl.ApplyDefaultSchedule(dl.gpu.Matmul(), dl.gpu.GEMV(), dl.gpu.Reduction(),
                                            dl.gpu.GeneralReduction(), dl.gpu.Fallback()))

    @tvm.transform.module_pass(opt_level=0)
    def _pipeline(mod: Any, _ctx: Any) -> Any:
        with target:
            passes = (front + gpu.library_dispatch_passes(target) + legalize + gpu.dataflow_lower_passes(target)
                      + gpu.finalize_passes(target))
            return tvm.transform.Sequential(passes)(mod)

    return _pipeline


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
