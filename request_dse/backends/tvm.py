"""Apache TVM (Relax): import ONNX, compile with a configurable pipeline, export a library.

Apply kinds:
  ``pass_context``     ``opt_level``, or any PassContext config key (``tirx.disable_vectorize``, ...)
  ``target_attr``      an attribute of the LLVM target (``mcpu``, ``mattr``)
  ``pipeline_option``  how the Relax pipeline is assembled: ``fuse`` (operator fusion on/off),
                       ``layout`` (``NCHW`` keeps the model's layout, ``NHWC`` converts convolutions)
  ``runtime_env``      an environment variable of the measurement process (``TVM_BIND_THREADS``)

The target string is built in the dict form TVM 0.27 accepts; ``mcpu: native`` means the CPU of
the machine that builds, as LLVM names it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from request_dse.backends._base import Backend, Session, package_version, read_meta, write_meta
from request_dse.config import TargetSpec
from request_dse.records import BuildRequest
from request_dse.workloads._base import PreparedModel

LIBRARY = "model.so"


def split_flags(request: BuildRequest) -> dict[str, dict[str, Any]]:
    """The resolved flags grouped by apply kind: ``{kind: {key: applied value}}``."""
    groups: dict[str, dict[str, Any]] = {}
    for name, value in request.flags.items():
        flag = request.catalog.flags[name]
        groups.setdefault(flag.apply_kind, {})[flag.apply[flag.apply_kind]] = flag.applied_value(value)
    return groups


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


def relax_pipeline(target: Any, *, fuse: bool, layout: str, database: Any = None) -> Any:
    """The CPU pipeline of ``relax.get_default_pipeline``, with fusion and layout as options."""
    import tvm
    from tvm import relax
    from tvm.relax.backend.cpu_generic import pipeline as cpu

    legalize = [relax.transform.LegalizeOps(), relax.transform.AnnotateTIROpPattern(), relax.transform.FoldConstant()]
    if fuse:
        legalize += [relax.transform.FuseOps(), relax.transform.FuseTIR()]
    if database is not None:
        legalize.append(relax.transform.MetaScheduleApplyDatabase(enable_warning=False))
    front = [relax.transform.DecomposeOpsForInference(), relax.transform.CanonicalizeBindings()]
    if layout == "NHWC":
        front.append(relax.transform.ConvertLayout({"relax.nn.conv2d": ["NHWC", "OHWI"]}))

    @tvm.transform.module_pass(opt_level=0)
    def _pipeline(mod: Any, _ctx: Any) -> Any:
        with target:
            passes = (front + cpu.library_dispatch_passes(target) + legalize
                      + cpu.dataflow_lower_passes(target) + cpu.finalize_passes(target))
            return tvm.transform.Sequential(passes)(mod)

    return _pipeline


def import_onnx(prepared: PreparedModel, batch_size: int) -> Any:
    import onnx
    from tvm.relax.frontend.onnx import from_onnx

    model = onnx.load(str(prepared.onnx_path))
    return from_onnx(model, shape_dict={prepared.input_name: [batch_size, *prepared.sample_shape]},
                     keep_params_in_input=False)


class TvmSession(Session):
    def __init__(self, function: Any, device: Any) -> None:
        self._function = function
        self._device = device
        self._sync = device.dlpack_device_type() != 1  # kDLCPU runs synchronously

    def place(self, batch: np.ndarray) -> Any:
        import tvm

        return tvm.runtime.tensor(np.ascontiguousarray(batch), self._device)

    def run(self, placed: Any) -> Any:
        out = self._function(placed)
        if self._sync:
            self._device.sync()
        return out

    def fetch(self, output: Any) -> np.ndarray:
        return output.numpy() if hasattr(output, "numpy") else output[0].numpy()


class TvmBackend(Backend):
    name = "tvm"
    apply_kinds = frozenset({"pass_context", "target_attr", "pipeline_option", "runtime_env"})
    preload = ("tvm", "tvm.relax", "tvm.relax.frontend.onnx")
    description = "Apache TVM (Relax), LLVM CPU code generation"

    def version(self) -> str | None:
        return package_version("apache-tvm")

    def unavailable(self, target: TargetSpec) -> str | None:
        if self.version() is None:
            return "apache-tvm is not installed"
        from request_dse.backends.tvm_targets import KINDS, cuda_problem

        if target.kind not in KINDS:
            return f"builds for target kinds {', '.join(KINDS)} (not {target.kind!r})"
        return cuda_problem() if target.kind == "cuda" else None

    def build(self, request: BuildRequest, prepared: PreparedModel) -> Mapping[str, Any]:
        import tvm
        from tvm import relax

        groups = split_flags(request)
        options = groups.get("pipeline_option", {})
        context = dict(groups.get("pass_context", {}))
        opt_level = int(context.pop("opt_level", 3))
        from request_dse.backends import tvm_targets

        target_dict = tvm_targets.target_dict(request.target, groups.get("target_attr", {}), request.threads)
        target = tvm_targets.make_target(target_dict)
        mod = import_onnx(prepared, request.batch_size)
        make_pipeline = tvm_targets.gpu_pipeline if tvm_targets.is_gpu(target_dict) else relax_pipeline
        pipeline = make_pipeline(target, fuse=bool(options.get("fuse", True)), layout=str(options.get("layout", "NCHW")))
        with tvm.transform.PassContext(opt_level=opt_level, config=context):
            executable = relax.build(mod, target=target, relax_pipeline=pipeline)
        out = request.out_dir
        out.mkdir(parents=True, exist_ok=True)
        tvm_targets.export(executable, out / LIBRARY, request.target)
        env = {str(k): str(v) for k, v in groups.get("runtime_env", {}).items()}
        write_meta(out, backend=self.name, version=tvm.__version__, input_name=prepared.input_name,
                   target=target_dict, opt_level=opt_level, pass_config=context, pipeline=options, runtime_env=env,
                   files=[LIBRARY])
        return {"tvm": tvm.__version__, "target": json.dumps(target_dict, sort_keys=True)}

    def load(self, artifact_dir: Path, threads: int, device: str = "cpu") -> Session:
        meta = read_meta(artifact_dir)
        os.environ.update(meta.get("runtime_env", {}))
        os.environ["TVM_NUM_THREADS"] = str(threads)
        os.environ.setdefault("TVM_BIND_THREADS", "0")
        import tvm
        from tvm import relax

        dev = tvm.device(device)
        lib = tvm.runtime.load_module(str(artifact_dir / LIBRARY))
        vm = relax.VirtualMachine(lib, dev)
        return TvmSession(vm["main"], dev)
