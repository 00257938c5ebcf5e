"""ONNX Runtime: the CPU execution provider, or the CUDA one on a ``cuda`` target.

Building validates the session options by creating a session once and writes the model and
the resolved options; graph optimization itself happens when the measurement worker creates
its session, as it would in deployment.

Apply kinds:
  ``session_option``  an attribute of ``SessionOptions`` (``enum`` names its enum class)
  ``config_entry``    ``SessionOptions.add_session_config_entry(key, str(value))``
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from request_dse.backends._base import (
    META_FILE,
    Backend,
    BuildRequest,
    FlagRejected,
    ModelUnsupported,
    Session,
    UnsafeSettings,
    check_keys,
    package_version,
    read_meta,
    read_settings,
    write_meta,
)
from request_dse.backends.catalog import Catalog
from request_dse.workloads import PreparedModel

OPTIONS_FILE = "session.json"
#: Options that write files where they name, refused even if a catalog were to declare them.
WRITES_FILES = ("optimized_model_filepath", "profile_file_prefix", "enable_profiling")


def resolve_options(flags: Mapping[str, Any], catalog: Catalog) -> list[dict[str, Any]]:
    """The catalog's flags as self-contained settings ``{kind, key, value[, enum]}``."""
    out = []
    for name, value in sorted(flags.items()):
        flag = catalog.flags[name]
        setting = {"kind": flag.apply_kind, "key": flag.apply[flag.apply_kind], "value": flag.applied_value(value)}
        if "enum" in flag.apply:
            setting["enum"] = flag.apply["enum"]
        out.append(setting)
    return out


def session_options(settings: list[Mapping[str, Any]], threads: int) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    for setting in settings:
        value = setting["value"]
        if setting["kind"] == "session_option":
            if "enum" in setting:
                value = getattr(getattr(ort, setting["enum"]), value)
            setattr(options, setting["key"], value)
        else:
            options.add_session_config_entry(setting["key"], str(value))
    return options


def check_settings(artifact_dir: Path, catalog: Catalog, kinds: frozenset[str]) -> None:
    """Every setting ``session.json`` would apply must be one ``catalog`` declares (see
    :meth:`Backend.check_artifact`); ``meta.json`` must name the input as a string."""
    meta = check_keys(META_FILE, "", read_settings(artifact_dir, META_FILE),
                      {"backend": str, "version": str, "input_name": str, "files": list})
    if not isinstance(meta.get("input_name"), str):
        raise UnsafeSettings(META_FILE, "input_name", "is required (a string)")
    saved = check_keys(OPTIONS_FILE, "", read_settings(artifact_dir, OPTIONS_FILE), {"settings": list, "flags": dict})
    for i, setting in enumerate(saved.get("settings", [])):
        where = f"settings[{i}]"
        check_keys(OPTIONS_FILE, where, setting, {"kind": str, "key": str, "value": (str, int, float, bool), "enum": str})
        kind, key = setting.get("kind"), setting.get("key")
        if kind not in kinds or "value" not in setting:
            raise UnsafeSettings(OPTIONS_FILE, where, f"must have a kind among {', '.join(sorted(kinds))}, a key and a value")
        if key in WRITES_FILES:
            raise UnsafeSettings(OPTIONS_FILE, f"{where}.key", f"{key!r} writes files where it names: never applied")
        rule = catalog.check_setting(kind, key, setting["value"])
        if rule is None and "enum" in setting and setting["enum"] != catalog.keys(kind)[key].apply.get("enum"):
            rule = f"enum {setting['enum']!r} is not the one the catalog names"
        if rule is not None:
            raise UnsafeSettings(OPTIONS_FILE, f"{where} ({kind} {key})", rule)
def blame(model: Path, flags: Mapping[str, Any], settings: list[dict[str, Any]], threads: int,
          exc: Exception) -> Exception:
    """Why a session could not be created: the model (it fails with default options too:
    :class:`ModelUnsupported`), one flag (the first whose setting alone fails: :class:`FlagRejected`),
    or ``exc`` itself when neither alone is to blame."""
    import onnxruntime as ort

    why = " ".join(str(exc).split())[:300]

    def fails(chosen: list[dict[str, Any]]) -> bool:
        try:
            ort.InferenceSession(str(model), session_options(chosen, threads), providers=["CPUExecutionProvider"])
        except Exception:  # noqa: BLE001
            return True
        return False

    if fails([]):
        return ModelUnsupported(f"ONNX Runtime cannot load the model: {why}")
    for name, setting in zip(sorted(flags), settings, strict=True):  # resolve_options keeps the flags' sorted order
        if fails([setting]):
            return FlagRejected(name, flags[name], why)
    return exc


class OrtSession(Session):
    def __init__(self, session: Any, input_name: str) -> None:
        self._session = session
        self._input = input_name

    def place(self, batch: np.ndarray) -> Any:
        return {self._input: np.ascontiguousarray(batch)}

    def run(self, placed: Any) -> Any:
        return self._session.run(None, placed)

    def fetch(self, output: Any) -> np.ndarray:
        return np.asarray(output[0])


class OrtCudaSession(Session):
    """The CUDA execution provider with inputs and outputs kept on the GPU (IOBinding); a run
    returns after the outputs are complete on the device."""

    def __init__(self, session: Any, input_name: str) -> None:
        self._session = session
        self._input = input_name
        self._output = session.get_outputs()[0].name

    def place(self, batch: np.ndarray) -> Any:
        import onnxruntime as ort

        return ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(batch), "cuda", 0)

    def run(self, placed: Any) -> Any:
        binding = self._session.io_binding()
        binding.bind_ortvalue_input(self._input, placed)
        binding.bind_output(self._output, "cuda", 0)
        self._session.run_with_iobinding(binding)
        binding.synchronize_outputs()
        return binding

    def fetch(self, output: Any) -> np.ndarray:
        return np.asarray(output.copy_outputs_to_cpu()[0])


def cuda_problem() -> str | None:
    """Why this onnxruntime cannot use a GPU here, or None."""
    try:
        import onnxruntime as ort
    except ImportError:
        return "onnxruntime is not installed"
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return f"this onnxruntime {ort.__version__} build has no CUDAExecutionProvider (install onnxruntime-gpu)"
    return None


class OnnxRuntimeBackend(Backend):
    name = "onnxruntime"
    apply_kinds = frozenset({"session_option", "config_entry"})
    preload = ("onnxruntime",)
    distribution = "onnxruntime"
    runs_on_note = "only TVM uploads a compiled library to a remote device"
    description = "ONNX Runtime, CPU execution provider"

    def version(self) -> str | None:
        return package_version("onnxruntime")

    def unavailable(self, capabilities: frozenset[str]) -> str | None:
        if self.version() is None:
            return "onnxruntime is not installed"
        return cuda_problem() if {"local", "gpu"} <= capabilities else None

    def build(self, request: BuildRequest, prepared: PreparedModel) -> Mapping[str, Any]:
        import onnxruntime as ort

        out = request.out_dir
        out.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(prepared.onnx_path, out / "model.onnx")
        settings = resolve_options(request.flags, request.catalog)
        try:
            ort.InferenceSession(str(out / "model.onnx"), session_options(settings, request.threads),
                                 providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - ONNX Runtime raises several kinds
            raise blame(out / "model.onnx", request.flags, settings, request.threads, exc) from exc
        (out / OPTIONS_FILE).write_text(json.dumps({"settings": settings, "flags": dict(request.flags)},
                                                   indent=1, sort_keys=True) + "\n")
        write_meta(out, backend=self.name, version=ort.__version__, input_name=prepared.input_name,
                   files=["model.onnx", OPTIONS_FILE])
        return {"onnxruntime": ort.__version__}

    def check_artifact(self, artifact_dir: Path, catalog: Catalog) -> None:
        check_settings(artifact_dir, catalog, self.apply_kinds)

    def load(self, artifact_dir: Path, threads: int, device: str = "cpu") -> Session:
        import onnxruntime as ort

        meta = read_meta(artifact_dir)
        saved = json.loads((artifact_dir / OPTIONS_FILE).read_text())
        options = session_options(saved["settings"], threads)
        if device.startswith("cuda"):
            providers = [("CUDAExecutionProvider", {"device_id": 0}), "CPUExecutionProvider"]
            session = ort.InferenceSession(str(artifact_dir / "model.onnx"), options, providers=providers)
            return OrtCudaSession(session, meta["input_name"])
        session = ort.InferenceSession(str(artifact_dir / "model.onnx"), options, providers=["CPUExecutionProvider"])
        return OrtSession(session, meta["input_name"])
