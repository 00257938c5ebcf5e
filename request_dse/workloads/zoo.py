"""The built-in digits model zoo: two CNN families at five input resolutions, two precisions."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from request_dse.expr import Expression
from request_dse.files import cached, sha256_file
from request_dse.space import Candidate, Dimension
from request_dse.workloads import digits
from request_dse.workloads._base import PreparedModel, Workload
from request_dse.workloads.quantize import RECIPE, quantize_static, reference_outputs

ZOO_DIR = Path(__file__).parent / "zoo" / "digits"
#: (atol, rtol) of a build's outputs against the reference, both relative to max |reference|.
TOLERANCE = {"fp32": (1e-3, 1e-3), "int8": (0.1, 0.0)}


class DigitsZoo(Workload):
    """scikit-learn digits; MobileNet-style (width multiplier) and ResNet (depth) families."""
    name = "digits"

    def __init__(self, zoo_dir: Path = ZOO_DIR) -> None:
        self.zoo_dir = zoo_dir

    @cached_property
    def manifest(self) -> Mapping[str, Any]:
        return json.loads((self.zoo_dir / "manifest.json").read_text())

    @cached_property
    def entries(self) -> dict[str, Mapping[str, Any]]:
        return {e["id"]: e for e in self.manifest["models"]}

    def dimensions(self) -> Sequence[tuple[Dimension, Any]]:
        models = self.manifest["models"]
        widths = tuple(sorted({e["width"] for e in models if e["family"] == "mobilenet"}))
        depths = tuple(sorted({e["depth"] for e in models if e["family"] == "resnet"}))
        families = tuple(f for f in ("mobilenet", "resnet") if any(e["family"] == f for e in models))
        resolutions = tuple(sorted({e["resolution"] for e in models}))
        origin = "workload digits"
        return [
            (Dimension("model.family", "categorical", families, origin=origin), families[0]),
            (Dimension("model.width", "categorical", widths, when=Expression.parse("model.family == 'mobilenet'"),
                       origin=origin), widths[-1]),
            (Dimension("model.depth", "categorical", depths, when=Expression.parse("model.family == 'resnet'"),
                       origin=origin), depths[0]),
            (Dimension("model.resolution", "categorical", resolutions, origin=origin), 8),
            (Dimension("model.precision", "categorical", ("fp32", "int8"), origin=origin), "fp32"),
        ]

    def entry(self, candidate: Candidate) -> Mapping[str, Any]:
        family = candidate["model.family"]
        size = candidate["model.width"] if family == "mobilenet" else candidate["model.depth"]
        mid = f"mobilenet-w{size:g}-r{candidate['model.resolution']}" if family == "mobilenet" \
            else f"resnet{size}-r{candidate['model.resolution']}"
        if mid not in self.entries:
            raise LookupError(f"the digits zoo has no model {mid} (see {self.zoo_dir / 'manifest.json'})")
        return self.entries[mid]

    def identity(self, candidate: Candidate) -> str:
        entry = self.entry(candidate)
        return f"digits/{entry['id']}/{candidate.get('model.precision', 'fp32')}/{entry['sha256'][:16]}"

    def prepare(self, candidate: Candidate, cache_dir: Path) -> PreparedModel:
        entry = self.entry(candidate)
        precision = candidate.get("model.precision", "fp32")
        resolution = entry["resolution"]
        source = self.zoo_dir / entry["file"]
        if sha256_file(source) != entry["sha256"]:
            raise RuntimeError(f"{source} does not match the sha256 in its manifest; retrain or restore it")
        # the split (scikit-learn, resizing) is computed only when a cached file is missing:
        # a build in a fresh worker then costs milliseconds, not seconds
        split = lambda: digits.split(resolution)  # noqa: E731 - lru_cached
        model = source
        if precision == "int8":
            model = cached(cache_dir / "models" / f"{entry['id']}-int8-{RECIPE}-{entry['sha256'][:12]}.onnx",
                           lambda tmp: quantize_static(source, tmp, split().x_calibration, "input"))
        data = cached(cache_dir / "data" / f"digits-r{resolution}.npz",
                      lambda tmp: _save_npz(tmp, x_eval=split().x_test, y_eval=split().y_test, x_check=split().x_check))
        sha = sha256_file(model)
        reference = cached(cache_dir / "reference" / f"{entry['id']}-{precision}-{sha[:12]}.npy",
                           lambda tmp: _save_reference(tmp, model, split().x_check))
        return PreparedModel(
            model_id=f"{entry['id']}-{precision}", onnx_path=model, sha256=sha, input_name="input",
            sample_shape=(1, resolution, resolution), num_classes=digits.NUM_CLASSES, precision=precision,
            data_path=data, reference_path=reference, tolerance=TOLERANCE[precision],
            params=entry["params"], flops=entry["flops"],
            torch_spec={"family": entry["family"], "width": entry["width"], "depth": entry["depth"],
                        "resolution": resolution, "weights": str(self.zoo_dir / entry["weights"]),
                        "weights_sha256": entry["weights_sha256"]},
            info={"zoo_id": entry["id"], "zoo_accuracy": entry["test_accuracy"]},
        )

    def describe(self) -> Mapping[str, Any]:
        return {"name": self.name, "kind": "zoo", "description": self.manifest.get("description", ""),
                "dataset": self.manifest.get("dataset", {})}


def _save_npz(path: Path, **arrays: np.ndarray) -> None:
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def _save_reference(path: Path, model: Path, inputs: np.ndarray) -> None:
    with open(path, "wb") as f:
        np.save(f, reference_outputs(model, inputs, "input"))
