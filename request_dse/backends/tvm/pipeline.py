"""Relax pipelines of the tvm backend: ONNX import, CPU and GPU lowering with fusion and layout
as options, and the module MetaSchedule tunes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from request_dse.workloads import PreparedModel


def decompose_passes(layout: str) -> list[Any]:
    """Inference decomposition, and the layout conversion the candidate asks for."""
    from tvm import relax

    passes = [relax.transform.DecomposeOpsForInference(), relax.transform.CanonicalizeBindings()]
    if layout == "NHWC":
        passes.append(relax.transform.ConvertLayout({"relax.nn.conv2d": ["NHWC", "OHWI"]}))
    return passes


def legalize_passes(fuse: bool) -> list[Any]:
    """Legalization to TIR kernels, fused or not (the kernels MetaSchedule tunes)."""
    from tvm import relax

    passes = [relax.transform.LegalizeOps(), relax.transform.AnnotateTIROpPattern(), relax.transform.FoldConstant()]
    if fuse:
        passes += [relax.transform.FuseOps(), relax.transform.FuseTIR()]
    return passes


def front_passes(fuse: bool, layout: str) -> list[Any]:
    """Relax passes up to legalized (fused) TIR kernels."""
    return decompose_passes(layout) + legalize_passes(fuse)


def relax_pipeline(target: Any, *, fuse: bool, layout: str, database: Path | None = None) -> Any:
    """The CPU pipeline of ``relax.get_default_pipeline``, with fusion and layout as options;
    ``database`` (a MetaSchedule work dir) replaces default schedules by tuned ones."""
    import tvm
    from tvm import relax
    from tvm.relax.backend.cpu_generic import pipeline as cpu

    @tvm.transform.module_pass(opt_level=0)
    def _pipeline(mod: Any, _ctx: Any) -> Any:
        with target:
            passes = cpu.library_dispatch_passes(target) + front_passes(fuse, layout)
            if database is not None:
                passes.append(relax.transform.MetaScheduleApplyDatabase(str(database), enable_warning=False))
            passes += cpu.dataflow_lower_passes(target) + cpu.finalize_passes(target)
            return tvm.transform.Sequential(passes)(mod)

    return _pipeline


def tuning_module(mod: Any, target: Any) -> Any:
    """``mod`` lowered to the fused TIR kernels MetaSchedule extracts as tasks (default pipeline)."""
    import tvm
    from tvm.relax.backend.cpu_generic import pipeline as cpu

    with target, tvm.transform.PassContext(opt_level=3):
        return tvm.transform.Sequential(cpu.library_dispatch_passes(target) + front_passes(True, "NCHW"))(mod)


def import_onnx_file(path: Path, input_name: str, shape: Sequence[int]) -> Any:
    import onnx
    from tvm.relax.frontend.onnx import from_onnx

    return from_onnx(onnx.load(str(path)), shape_dict={input_name: list(shape)}, keep_params_in_input=False)


def import_onnx(prepared: PreparedModel, batch_size: int) -> Any:
    return import_onnx_file(prepared.onnx_path, prepared.input_name, [batch_size, *prepared.sample_shape])


def gpu_pipeline(target: Any, *, fuse: bool, layout: str, database: Path | None = None) -> Any:
    """The CUDA pipeline of ``relax.get_default_pipeline`` (dlight default schedules), with
    fusion and layout as options; ``database`` (a MetaSchedule work dir) comes first."""
    import tvm
    from tvm import relax
    from tvm.relax.backend.cuda import pipeline as gpu
    from tvm.s_tir import dlight as dl

    front = decompose_passes(layout)
    legalize = legalize_passes(fuse)
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
