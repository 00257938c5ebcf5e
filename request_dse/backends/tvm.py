"""Apache TVM (Relax): import ONNX, compile with a configurable pipeline, export a library.

Apply kinds:
  ``pass_context``     ``opt_level``, or any PassContext config key (``tirx.disable_vectorize``, ...)
  ``target_attr``      an attribute of the LLVM target (``mcpu``, ``mattr``)
  ``pipeline_option``  how the Relax pipeline is assembled: ``fuse`` (operator fusion on/off),
                       ``layout`` (``NCHW`` keeps the model's layout, ``NHWC`` converts convolutions)
  ``runtime_env``      an environment variable of the measurement process (``TVM_BIND_THREADS``)
  ``tuning``           MetaSchedule: ``trials`` (0 keeps the default schedules), ``cost_model``,
                       ``trials_per_iter``, or any ``EvolutionarySearch`` argument
                       (``population_size``, ...); see :mod:`request_dse.backends.tvm_tuning`

The target string is built in the dict form TVM 0.27 accepts; ``mcpu: native`` means the CPU of
the machine that builds, as LLVM names it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
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


def _front_passes(fuse: bool, layout: str) -> list[Any]:
    """Relax passes up to fused, legalized TIR kernels (the ones MetaSchedule tunes)."""
    from tvm import relax

    passes = [relax.transform.DecomposeOpsForInference(), relax.transform.CanonicalizeBindings()]
    if layout == "NHWC":
        passes.append(relax.transform.ConvertLayout({"relax.nn.conv2d": ["NHWC", "OHWI"]}))
    passes += [relax.transform.LegalizeOps(), relax.transform.AnnotateTIROpPattern(), relax.transform.FoldConstant()]
    if fuse:
        passes += [relax.transform.FuseOps(), relax.transform.FuseTIR()]
    return passes


def relax_pipeline(target: Any, *, fuse: bool, layout: str, database: Path | None = None) -> Any:
    """The CPU pipeline of ``relax.get_default_pipeline``, with fusion and layout as options;
    ``database`` (a MetaSchedule work dir) replaces default schedules by tuned ones."""
    import tvm
    from tvm import relax
    from tvm.relax.backend.cpu_generic import pipeline as cpu

    @tvm.transform.module_pass(opt_level=0)
    def _pipeline(mod: Any, _ctx: Any) -> Any:
        with target:
            passes = cpu.library_dispatch_passes(target) + _front_passes(fuse, layout)
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
        return tvm.transform.Sequential(cpu.library_dispatch_passes(target) + _front_passes(True, "NCHW"))(mod)


def import_onnx_file(path: Path, input_name: str, shape: Sequence[int]) -> Any:
    import onnx
    from tvm.relax.frontend.onnx import from_onnx

    return from_onnx(onnx.load(str(path)), shape_dict={input_name: list(shape)}, keep_params_in_input=False)


def import_onnx(prepared: PreparedModel, batch_size: int) -> Any:
    return import_onnx_file(prepared.onnx_path, prepared.input_name, [batch_size, *prepared.sample_shape])


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
    apply_kinds = frozenset({"pass_context", "target_attr", "pipeline_option", "runtime_env", "tuning"})
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
        tuning = self._tune(request, prepared, target_dict, groups.get("tuning", {}))
        mod = import_onnx(prepared, request.batch_size)
        make_pipeline = tvm_targets.gpu_pipeline if tvm_targets.is_gpu(target_dict) else relax_pipeline
        pipeline = make_pipeline(target, fuse=bool(options.get("fuse", True)), layout=str(options.get("layout", "NCHW")),
                                 database=tuning.get("database"))
        with tvm.transform.PassContext(opt_level=opt_level, config=context):
            executable = relax.build(mod, target=target, relax_pipeline=pipeline)
        out = request.out_dir
        out.mkdir(parents=True, exist_ok=True)
        tvm_targets.export(executable, out / LIBRARY, request.target)
        env = {str(k): str(v) for k, v in groups.get("runtime_env", {}).items()}
        write_meta(out, backend=self.name, version=tvm.__version__, input_name=prepared.input_name,
                   target=target_dict, opt_level=opt_level, pass_config=context, pipeline=options, runtime_env=env,
                   tuning={k: str(v) for k, v in tuning.items()}, files=[LIBRARY])
        codegen = " ".join(f"-{k}={','.join(v) if isinstance(v, list) else v}" for k, v in target_dict.items()
                           if k in ("mcpu", "mattr"))
        info = {"tvm": tvm.__version__, "target": json.dumps(target_dict, sort_keys=True),
                "codegen": f"llvm {codegen or '(generic CPU)'}"}
        if tuning:
            info.update(tuning_time_s=tuning["tuning_time_s"], tuning_reused=tuning["reused"],
                        tuning_database=str(tuning["database"]))
        return info

    @staticmethod
    def _tune(request: BuildRequest, prepared: PreparedModel, target_dict: Mapping[str, Any],
              settings: Mapping[str, Any]) -> dict[str, Any]:
        """Tune (or reuse) the MetaSchedule database when ``tuning_trials`` > 0."""
        trials = int(settings.get("trials", 0))
        if trials <= 0:
            return {}
        import tvm

        from request_dse.backends.tvm_tuning import TuningSpec, ensure_database

        options = {k: v for k, v in settings.items() if k not in ("trials", "cost_model")}
        spec = TuningSpec(str(prepared.onnx_path), prepared.sha256, prepared.input_name,
                          (request.batch_size, *prepared.sample_shape), dict(target_dict), trials,
                          cost_model=str(settings.get("cost_model", "xgb")), options=options)
        database, seconds, reused = ensure_database(spec, request.cache_dir.parent, tvm.__version__)
        return {"database": database, "tuning_time_s": seconds, "reused": reused, "trials": trials}

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
