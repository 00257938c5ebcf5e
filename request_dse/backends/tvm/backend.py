"""Apache TVM (Relax): import ONNX, compile with a configurable pipeline, export a library.

Apply kinds:
  ``pass_context``     ``opt_level``, or any PassContext config key (``tirx.disable_vectorize``, ...)
  ``target_attr``      an attribute of the LLVM target (``mcpu``, ``mattr``)
  ``pipeline_option``  how the Relax pipeline is assembled: ``fuse`` (operator fusion on/off),
                       ``layout`` (``NCHW`` keeps the model's layout, ``NHWC`` converts convolutions)
  ``runtime_env``      an environment variable of the measurement process (``TVM_BIND_THREADS``)
  ``tuning``           MetaSchedule: ``trials`` (0 keeps the default schedules), ``cost_model``,
                       ``trials_per_iter``, or any ``EvolutionarySearch`` argument
                       (``population_size``, ...); see :mod:`request_dse.backends.tvm.tuning`

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

from request_dse.backends._base import (
    META_FILE,
    Backend,
    BuildRequest,
    KnownFailure,
    Session,
    UnsafeSettings,
    error_class,
    package_version,
    read_failure,
    read_meta,
    read_settings,
    write_meta,
)
from request_dse.backends.catalog import Catalog
from request_dse.backends.tvm import targets
from request_dse.backends.tvm.pipeline import gpu_pipeline, import_onnx, relax_pipeline
from request_dse.backends.tvm.tuning import TuningSpec, ensure_database
from request_dse.fields import describe
from request_dse.workloads import PreparedModel

LIBRARY = "model.so"
#: Code generation flags whose value can make code this CPU cannot run (SIGILL), first to blame first.
ISA_FLAGS = ("mattr", "mcpu")
_PLAIN_ISA = (None, "none", "generic")


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
    distribution = "apache-tvm"
    environment_requires = ("onnx", "psutil")
    description = "Apache TVM (Relax), LLVM CPU code generation"
    runs_on = frozenset({"local", "remote"})

    def version(self) -> str | None:
        return package_version("apache-tvm")

    def unavailable(self, capabilities: frozenset[str]) -> str | None:
        if self.version() is None:
            return "apache-tvm is not installed"
        return targets.cuda_problem() if {"local", "gpu"} <= capabilities else None

    def known_failure(self, status: str, error: str, flags: Mapping[str, Any]) -> KnownFailure | None:
        """Its ONNX frontend's ``OpNotImplemented`` (an operator it cannot import) is the model's;
        an illegal instruction (SIGILL) is the ``mattr`` (else ``mcpu``) value's that made the code."""
        known = read_failure(status, error)
        if known is not None:
            return known
        kind, message = error_class(error)
        if status == "build_error" and (kind == "OpNotImplemented" or "not supported for frontend" in message):
            return KnownFailure("model", f"TVM's ONNX frontend cannot import the model ({message})")
        if status == "crashed" and "SIGILL" in error:
            for flag in ISA_FLAGS:
                if flags.get(flag) not in _PLAIN_ISA:
                    return KnownFailure("flag", f"the code generated with {flag}={flags[flag]} uses an instruction "
                                                "this CPU lacks (SIGILL)", flag=flag)
        return None

    def build(self, request: BuildRequest, prepared: PreparedModel) -> Mapping[str, Any]:
        import tvm
        from tvm import relax

        groups = request.settings()
        options = groups.get("pipeline_option", {})
        context = dict(groups.get("pass_context", {}))
        opt_level = int(context.pop("opt_level", 3))
        target_dict = targets.target_dict(request.target, groups.get("target_attr", {}), request.threads)
        target = targets.make_target(target_dict)
        tuning = self._tune(request, prepared, target_dict, groups.get("tuning", {}))
        mod = import_onnx(prepared, request.batch_size)
        make_pipeline = gpu_pipeline if targets.is_gpu(target_dict) else relax_pipeline
        pipeline = make_pipeline(target, fuse=bool(options.get("fuse", True)), layout=str(options.get("layout", "NCHW")),
                                 database=tuning.get("database"))
        with tvm.transform.PassContext(opt_level=opt_level, config=context):
            executable = relax.build(mod, target=target, relax_pipeline=pipeline)
        out = request.out_dir
        out.mkdir(parents=True, exist_ok=True)
        targets.export(executable, out / LIBRARY, request.target)
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

        options = {k: v for k, v in settings.items() if k not in ("trials", "cost_model")}
        spec = TuningSpec(str(prepared.onnx_path), prepared.sha256, prepared.input_name,
                          (request.batch_size, *prepared.sample_shape), dict(target_dict), trials,
                          cost_model=str(settings.get("cost_model", "xgb")), options=options)
        database, seconds, reused = ensure_database(spec, request.cache_dir.parent, tvm.__version__)
        return {"database": database, "tuning_time_s": seconds, "reused": reused, "trials": trials}

    def check_artifact(self, artifact_dir: Path, catalog: Catalog) -> None:
        """``meta.json``'s ``runtime_env`` becomes the loading process's environment: only the
        variables the catalog declares (``runtime_env`` flags), each with a value its flag allows
        (written as text, as the build writes them)."""
        env = read_settings(artifact_dir, META_FILE).get("runtime_env", {})
        if not isinstance(env, dict):
            raise UnsafeSettings(META_FILE, "runtime_env", "must be a JSON object of variable names and values")
        declared = catalog.keys("runtime_env")
        for key, value in env.items():
            if key not in declared:
                raise UnsafeSettings(META_FILE, f"runtime_env.{key}", str(catalog.check_setting("runtime_env", key, value)))
            flag = declared[key]
            allowed = [str(flag.applied_value(v)) for v in flag.dimension.values()] if flag.dimension.enumerable else []
            if not isinstance(value, str) or value not in allowed:
                raise UnsafeSettings(META_FILE, f"runtime_env.{key}",
                                     f"must be one of {', '.join(map(repr, allowed))} (flag {flag.name}); got {describe(value)}")

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
