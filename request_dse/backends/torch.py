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

from request_dse.backends._base import Backend, BuildRequest, Session, package_version, read_meta, write_meta
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

    def load(self, artifact_dir: Path, threads: int, device: str = "cpu") -> Session:
        read_meta(artifact_dir)
        session, _ = load_session(artifact_dir, threads, device=device)
        return session
