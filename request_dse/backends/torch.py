"""PyTorch (CPU): the zoo's own PyTorch definitions and committed weights, eager or ``torch.compile``.

The build copies the weights into the artifact and writes ``session.json`` (model family and
size, input shape, settings). With ``compile`` set it also compiles once, so the compiled
kernels land in the artifact's own Inductor cache (``inductor/``); the measurement worker then
compiles again at load time -- from that cache, outside the timed runs -- and its load time is
what a deployment pays at start-up. Builds and measurements stay separate processes.

Apply kinds:
  ``compile``         ``mode``: ``none`` (eager) or a ``torch.compile`` mode (Inductor)
  ``model_option``    ``memory_format`` (``contiguous`` / ``channels_last``), ``autocast``
                      (``none`` / ``bf16``: CPU autocast to bfloat16)
  ``inductor_config`` any ``torch._inductor.config`` entry (``freezing``, ``cpp.simdlen``, ...),
                      applied for the compile

Thread count is the target's ``threads`` (``torch.set_num_threads``). The backend builds only
workloads that come with PyTorch definitions (the zoo); a user's ONNX file is excluded from the
space with that reason, and int8 is excluded by the catalog (``backends/torch.yaml``).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from request_dse.backends._base import (
    Backend,
    BuildRequest,
    Session,
    UnsafeSettings,
    check_keys,
    package_version,
    read_meta,
    read_settings,
    write_meta,
)
from request_dse.backends.catalog import Catalog
from request_dse.files import sha256_file
from request_dse.workloads import PreparedModel, Workload

SETTINGS_FILE = "session.json"
WEIGHTS_FILE = "weights.safetensors"
INDUCTOR_DIR = "inductor"
#: (atol, rtol) relative to max |reference| when the model runs in bfloat16 (8 mantissa bits).
BF16_TOLERANCE = (0.05, 0.0)


def make_module(spec: Mapping[str, Any], weights: Path) -> Any:
    """The zoo model in eval mode with its committed weights."""
    from safetensors.torch import load_file

    from request_dse.workloads import models

    module = models.build(spec["family"], width=spec.get("width"), depth=spec.get("depth"),
                          num_classes=int(spec.get("num_classes", 10)))
    module.load_state_dict(load_file(str(weights)))
    return module.eval()


#: What ``session.json`` may hold, and the model it may describe.
_SETTINGS_KEYS = {"model": dict, "sample_shape": list, "batch_size": int, "compile": dict, "model_option": dict,
                  "inductor_config": dict, "flags": dict}
_MODEL_KEYS = {"family": str, "width": (int, float, type(None)), "depth": (int, type(None)),
               "resolution": (int, type(None)), "num_classes": int}


def check_settings(artifact_dir: Path, catalog: Catalog, kinds: frozenset[str]) -> None:
    """``session.json`` describes a zoo model within bounds, and every compile, model and
    Inductor setting it applies is one the catalog declares (see :meth:`Backend.check_artifact`)."""
    saved = check_keys(SETTINGS_FILE, "", read_settings(artifact_dir, SETTINGS_FILE), _SETTINGS_KEYS)
    model = check_keys(SETTINGS_FILE, "model", saved.get("model", {}), _MODEL_KEYS)
    if model.get("family") not in ("mobilenet", "resnet"):
        raise UnsafeSettings(SETTINGS_FILE, "model.family", "must be a zoo family (mobilenet, resnet)")
    for key, high in (("width", 4), ("depth", 200), ("resolution", 1024), ("num_classes", 100_000)):
        value = model.get(key)
        if value is not None and not 0 < value <= high:
            raise UnsafeSettings(SETTINGS_FILE, f"model.{key}", f"must be in (0, {high}]; got {value!r}")
    shape = saved.get("sample_shape", [])
    if not (1 <= len(shape) <= 4 and all(isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 4096 for d in shape)
            and int(np.prod(shape)) <= 1 << 24):
        raise UnsafeSettings(SETTINGS_FILE, "sample_shape", "must be 1 to 4 sizes in [1, 4096], of at most 2**24 values")
    if not 1 <= saved.get("batch_size", 1) <= 4096:
        raise UnsafeSettings(SETTINGS_FILE, "batch_size", "must be in [1, 4096]")
    for kind in sorted(kinds):
        for key, value in saved.get(kind, {}).items():
            rule = catalog.check_setting(kind, key, value)
            if rule is not None:
                raise UnsafeSettings(SETTINGS_FILE, f"{kind}.{key}", rule)


class TorchSession(Session):
    """On ``cuda``, inputs are placed on the GPU outside the timing and each run returns after
    the device has finished (``torch.cuda.synchronize``)."""

    def __init__(self, fn: Any, channels_last: bool, autocast: bool, device: str = "cpu") -> None:
        import torch

        self._torch = torch
        self._fn = fn
        self._channels_last = channels_last
        self._autocast = autocast
        self._device = device
        self._cuda = device.startswith("cuda")

    def place(self, batch: np.ndarray) -> Any:
        tensor = self._torch.from_numpy(np.ascontiguousarray(batch)).to(self._device)
        return tensor.contiguous(memory_format=self._torch.channels_last) if self._channels_last else tensor

    def run(self, placed: Any) -> Any:
        torch = self._torch
        with torch.inference_mode(), torch.autocast("cuda" if self._cuda else "cpu", dtype=torch.bfloat16,
                                                    enabled=self._autocast):
            out = self._fn(placed)
        if self._cuda:
            torch.cuda.synchronize()
        return out

    def fetch(self, output: Any) -> np.ndarray:
        return output.float().cpu().numpy()


def load_session(artifact_dir: Path, threads: int, batch_size: int | None = None,
                 device: str = "cpu") -> tuple[TorchSession, float]:
    """Build the session from the artifact, run it once (compiling, if asked); returns it and the
    seconds the first run took."""
    settings = json.loads((artifact_dir / SETTINGS_FILE).read_text())
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str((artifact_dir / INDUCTOR_DIR).resolve())
    os.environ.setdefault("TORCHINDUCTOR_COMPILE_THREADS", "1")
    import torch

    torch.set_num_threads(threads)
    options = settings["model_option"]
    channels_last = options.get("memory_format") == "channels_last"
    module = make_module(settings["model"], artifact_dir / WEIGHTS_FILE).to(device)
    if channels_last:
        module = module.to(memory_format=torch.channels_last)
    fn: Any = module
    mode = settings["compile"].get("mode", "none")
    if mode != "none":
        import torch._inductor.config as inductor_config

        inductor_config.patch(settings.get("inductor_config", {})).__enter__()  # for this process's life
        fn = torch.compile(module, mode=None if mode == "default" else mode, dynamic=False)
    session = TorchSession(fn, channels_last, options.get("autocast") == "bf16", device)
    batch = batch_size or int(settings["batch_size"])
    started = time.perf_counter()
    session.fetch(session.run(session.place(np.zeros((batch, *settings["sample_shape"]), np.float32))))
    return session, time.perf_counter() - started


class TorchBackend(Backend):
    name = "torch"
    apply_kinds = frozenset({"compile", "model_option", "inductor_config"})
    preload = ("torch",)
    distribution = "torch"
    environment_requires = ("safetensors",)
    runs_on_note = "only TVM uploads a compiled library to a remote device"
    description = "PyTorch (CPU): eager or torch.compile (Inductor), from the zoo's PyTorch definitions"

    def version(self) -> str | None:
        return package_version("torch")

    def unavailable(self, capabilities: frozenset[str]) -> str | None:
        if self.version() is None:
            return "torch is not installed (pip install 'request-dse[torch]')"
        if package_version("safetensors") is None:
            return "safetensors is not installed (pip install 'request-dse[torch]')"
        version = self.version() or ""
        if {"local", "gpu"} <= capabilities and "+cpu" in version:
            return f"torch {version} is a CPU-only build (install a CUDA build of torch)"
        return None

    def excludes(self, workload: Workload) -> str | None:
        if workload.describe().get("kind") != "zoo":
            return ("it is an ONNX file; the torch backend builds zoo models from their PyTorch definitions "
                    "and committed weights, and an ONNX file has neither")
        return None

    def build(self, request: BuildRequest, prepared: PreparedModel) -> Mapping[str, Any]:
        if prepared.torch_spec is None:
            raise ValueError(f"model {prepared.model_id} has no PyTorch definition (only zoo models do)")
        spec = dict(prepared.torch_spec)
        weights = Path(spec.pop("weights"))
        expected = spec.pop("weights_sha256", None)
        if expected and sha256_file(weights) != expected:
            raise RuntimeError(f"{weights} does not match the sha256 in its manifest; retrain or restore it")
        out = request.out_dir
        out.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(weights, out / WEIGHTS_FILE)
        groups = request.settings()
        settings = {"model": {**spec, "num_classes": prepared.num_classes or 10},
                    "sample_shape": list(prepared.sample_shape), "batch_size": request.batch_size,
                    "compile": groups.get("compile", {}), "model_option": groups.get("model_option", {}),
                    "inductor_config": groups.get("inductor_config", {}), "flags": dict(request.flags)}
        (out / SETTINGS_FILE).write_text(json.dumps(settings, indent=1, sort_keys=True) + "\n")
        # One run here checks the settings and, when compiling, fills the artifact's Inductor cache.
        _, first_run_s = load_session(out, request.threads, request.batch_size)
        compiled = settings["compile"].get("mode", "none") != "none"
        if not compiled:
            shutil.rmtree(out / INDUCTOR_DIR, ignore_errors=True)
        import torch

        write_meta(out, backend=self.name, version=torch.__version__, input_name=prepared.input_name,
                   files=[WEIGHTS_FILE, SETTINGS_FILE], caches=[INDUCTOR_DIR] if compiled else [])
        info: dict[str, Any] = {"torch": torch.__version__}
        if compiled:
            info["compile_time_s"] = round(first_run_s, 3)
        if settings["model_option"].get("autocast") == "bf16":
            info["output_tolerance"] = list(BF16_TOLERANCE)
        return info

    def check_artifact(self, artifact_dir: Path, catalog: Catalog) -> None:
        check_settings(artifact_dir, catalog, self.apply_kinds)

    def load(self, artifact_dir: Path, threads: int, device: str = "cpu") -> Session:
        read_meta(artifact_dir)
        session, _ = load_session(artifact_dir, threads, device=device)
        return session
