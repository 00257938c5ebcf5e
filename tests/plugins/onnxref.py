"""A complete backend in one file (plus its catalog ``onnxref.yaml`` beside it): ONNX's own
reference evaluator, pure Python.

Nothing in request-dse names it. A study can use it once this file is named in
``$REQUEST_DSE_PLUGINS`` (a module name or a path); the registry, every target with the
``local`` capability, ``request-dse doctor`` and ``request-dse space`` then know it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from request_dse.backends import Backend, BuildRequest, Session, package_version, read_meta, write_meta
from request_dse.workloads import PreparedModel

OPTIONS = "evaluator.json"


class ReferenceSession(Session):
    def __init__(self, evaluator: Any, input_name: str) -> None:
        self.evaluator = evaluator
        self.input_name = input_name

    def place(self, batch: np.ndarray) -> Any:
        return {self.input_name: np.ascontiguousarray(batch)}

    def run(self, placed: Any) -> Any:
        return self.evaluator.run(None, placed)

    def fetch(self, output: Any) -> np.ndarray:
        return np.asarray(output[0])


class OnnxReferenceBackend(Backend):
    name = "onnxref"
    apply_kinds = frozenset({"evaluator_option"})
    description = "ONNX's reference evaluator (pure Python; an example plug-in)"

    def version(self) -> str | None:
        return package_version("onnx")

    def build(self, request: BuildRequest, prepared: PreparedModel) -> Mapping[str, Any]:
        from onnx.reference import ReferenceEvaluator

        out = request.out_dir
        out.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(prepared.onnx_path, out / "model.onnx")
        options = request.settings().get("evaluator_option", {})
        ReferenceEvaluator(str(out / "model.onnx"), **options)  # the options are checked here
        (out / OPTIONS).write_text(json.dumps(options))
        write_meta(out, backend=self.name, version=self.version(), input_name=prepared.input_name,
                   files=["model.onnx", OPTIONS])
        return {"onnx": self.version()}

    def load(self, artifact_dir: Path, threads: int, device: str = "cpu") -> Session:
        from onnx.reference import ReferenceEvaluator

        meta = read_meta(artifact_dir)
        options = json.loads((artifact_dir / OPTIONS).read_text())
        return ReferenceSession(ReferenceEvaluator(str(artifact_dir / "model.onnx"), **options), meta["input_name"])
