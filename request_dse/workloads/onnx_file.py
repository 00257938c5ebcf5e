"""A user's workload: any ONNX file plus an ``.npz`` of inputs (and labels, for accuracy).

The ``.npz`` holds ``inputs`` (N samples, float32, shaped like the model input without its
batch axis) and optionally ``labels`` (N integers in [0, classes)). Both files are checked
when the study is loaded; a bad one is a ConfigError naming the file and the field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from request_dse.bounded import Refused, check_file, npz_arrays
from request_dse.errors import ConfigError
from request_dse.expr import Expression
from request_dse.files import cached, sha256_file
from request_dse.space import Candidate, Constraint, Dimension
from request_dse.workloads._base import PreparedModel, Workload
from request_dse.workloads.quantize import RECIPE, quantize_static, reference_outputs

CHECK_SIZE = 16
CALIBRATION_SIZE = 64
TOLERANCE = {"fp32": (1e-3, 1e-3), "int8": (0.1, 0.0)}
#: Largest model file read (protobuf's own limit) and largest data once loaded.
MAX_ONNX_BYTES = 2 << 30
MAX_DATA_BYTES = 2 << 30


@dataclass(frozen=True)
class _Signature:
    input_name: str
    sample_shape: tuple[int, ...]
    num_classes: int | None
    fixed_batch: int | None = None  # the batch axis's size when the model fixes it, else None (dynamic)


def read_signature(path: Path) -> _Signature:
    """Check the ONNX file and read its single float input and its output width."""
    import onnx

    try:
        check_file(path, MAX_ONNX_BYTES)  # a device, a FIFO or a folder is never opened by onnx
        model = onnx.load(str(path), load_external_data=False)
        onnx.checker.check_model(model)
    except FileNotFoundError:
        raise ConfigError(path, "", "file not found") from None
    except Refused as exc:
        raise ConfigError(path, "", str(exc)) from None
    except Exception as exc:  # onnx raises DecodeError, ValidationError, ... on bad files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(path, "", f"is not a valid ONNX model ({first})") from None
    initializers = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    if len(inputs) != 1:
        raise ConfigError(path, "graph.input", f"must have exactly one input; got {len(inputs)}")
    tensor = inputs[0].type.tensor_type
    if tensor.elem_type != onnx.TensorProto.FLOAT:
        raise ConfigError(path, f"graph.input[{inputs[0].name!r}]", "must be float32")
    dims = [d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim]
    if len(dims) < 2 or any(d is None for d in dims[1:]):
        raise ConfigError(path, f"graph.input[{inputs[0].name!r}]",
                          f"must be (batch, fixed dims...); got shape {tuple(dims)}")
    out_dims = [d.dim_value if d.HasField("dim_value") else None for d in model.graph.output[0].type.tensor_type.shape.dim]
    classes = out_dims[-1] if len(out_dims) == 2 and out_dims[-1] else None
    return _Signature(inputs[0].name, tuple(dims[1:]), classes, dims[0] or None)  # type: ignore[arg-type]


def read_data(path: Path, signature: _Signature) -> tuple[np.ndarray, np.ndarray | None]:
    try:
        npz_arrays(path, MAX_DATA_BYTES)  # sizes as declared, before anything is loaded
        with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except FileNotFoundError:
        raise ConfigError(path, "", "file not found") from None
    except Refused as exc:
        raise ConfigError(path, "", str(exc)) from None
    except Exception as exc:
        raise ConfigError(path, "", f"is not a readable .npz file ({type(exc).__name__})") from None
    unknown = sorted(set(arrays) - {"inputs", "labels"})
    if unknown:
        raise ConfigError(path, unknown[0], "unknown array (allowed: inputs, labels)")
    if "inputs" not in arrays:
        raise ConfigError(path, "inputs", "is required")
    x = arrays["inputs"]
    if x.dtype != np.float32:
        raise ConfigError(path, "inputs", f"must be float32; got {x.dtype}")
    if x.ndim != len(signature.sample_shape) + 1 or tuple(x.shape[1:]) != signature.sample_shape:
        raise ConfigError(path, "inputs", f"must have shape (N, {', '.join(map(str, signature.sample_shape))}) "
                                          f"to match the model input; got {tuple(x.shape)}")
    if len(x) < 1 or not np.all(np.isfinite(x)):
        raise ConfigError(path, "inputs", "must hold at least one sample, all finite")
    y = arrays.get("labels")
    if y is not None:
        if not np.issubdtype(y.dtype, np.integer):
            raise ConfigError(path, "labels", f"must be integers; got {y.dtype}")
        if y.shape != (len(x),):
            raise ConfigError(path, "labels", f"must have shape ({len(x)},), one per input; got {tuple(y.shape)}")
        high = signature.num_classes
        if y.min() < 0 or (high is not None and y.max() >= high):
            raise ConfigError(path, "labels", f"must lie in [0, {high}) (the model's outputs); "
                                              f"got values in [{y.min()}, {y.max()}]")
    return x, (y.astype(np.int64) if y is not None else None)


class OnnxFileWorkload(Workload):
    def __init__(self, name: str, onnx_path: Path, data_path: Path, precisions: Sequence[str]) -> None:
        self.name = name
        self.onnx_path = onnx_path
        self.data_path = data_path
        self.precisions = tuple(precisions)
        self.signature = read_signature(onnx_path)
        self.x, self.y = read_data(data_path, self.signature)
        self.sha256 = sha256_file(onnx_path)

    @property
    def has_labels(self) -> bool:
        return self.y is not None

    def dimensions(self) -> Sequence[tuple[Dimension, Any]]:
        return [(Dimension("model.precision", "categorical", self.precisions, origin=f"workload {self.name}"),
                 self.precisions[0])]

    def constraints(self) -> Sequence[Constraint]:
        batch = self.signature.fixed_batch
        if batch is None:
            return ()
        return (Constraint(Expression.parse(f"batch_size == {batch}"), f"workload {self.name}",
                           f"{self.onnx_path.name} fixes its batch axis to {batch}: batch_size == {batch} "
                           "(export the model with a dynamic first axis to try other batch sizes)"),)

    def identity(self, candidate: Candidate) -> str:
        return f"{self.name}/{candidate.get('model.precision', 'fp32')}/{self.sha256[:16]}"

    def prepare(self, candidate: Candidate, cache_dir: Path) -> PreparedModel:
        precision = candidate.get("model.precision", "fp32")
        stem = f"{self.name}-{self.sha256[:12]}"
        model = self.onnx_path
        if precision == "int8":
            model = cached(cache_dir / "models" / f"{stem}-int8-{RECIPE}.onnx",
                           lambda tmp: quantize_static(self.onnx_path, tmp, self.x[:CALIBRATION_SIZE],
                                                       self.signature.input_name))
        data_sha = sha256_file(self.data_path)[:12]
        arrays = {"x_eval": self.x, "x_check": self.x[:CHECK_SIZE]}
        if self.y is not None:
            arrays["y_eval"] = self.y
        data = cached(cache_dir / "data" / f"{stem}-{data_sha}.npz", lambda tmp: _save_npz(tmp, arrays))
        sha = sha256_file(model)
        reference = cached(cache_dir / "reference" / f"{stem}-{precision}-{sha[:12]}.npy",
                           lambda tmp: _save_reference(tmp, model, self.x[:CHECK_SIZE], self.signature.input_name))
        return PreparedModel(
            model_id=f"{self.name}-{precision}", onnx_path=model, sha256=sha, input_name=self.signature.input_name,
            sample_shape=self.signature.sample_shape, num_classes=self.signature.num_classes, precision=precision,
            data_path=data, reference_path=reference, tolerance=TOLERANCE[precision],
        )

    def describe(self) -> Mapping[str, Any]:
        return {"name": self.name, "kind": "onnx", "onnx": str(self.onnx_path), "data": str(self.data_path),
                "sha256": self.sha256, "samples": len(self.x), "labels": self.has_labels}


def _save_npz(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def _save_reference(path: Path, model: Path, inputs: np.ndarray, input_name: str) -> None:
    with open(path, "wb") as f:
        np.save(f, reference_outputs(model, inputs, input_name))
