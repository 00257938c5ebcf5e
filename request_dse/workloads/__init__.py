"""Workloads: the built-in model zoo and users' ONNX files."""

from __future__ import annotations

from request_dse.errors import ConfigError, UserError
from request_dse.workloads._base import PreparedModel, Workload, WorkloadRef
from request_dse.workloads.onnx_file import OnnxFileWorkload
from request_dse.workloads.zoo import DigitsZoo

__all__ = ["PreparedModel", "Workload", "ZOO", "get_workload"]

#: Zoo workloads by name.
ZOO = ("digits",)


def get_workload(ref: WorkloadRef, source: str = "") -> Workload:
    """The workload a study names: a zoo name, or a user ONNX file with its data."""
    if ref.onnx is not None:
        return OnnxFileWorkload(ref.name, ref.onnx, ref.data, ref.precisions)  # type: ignore[arg-type]
    if ref.name == "digits":
        return DigitsZoo()

    raise ConfigError(source, "workload", f"must be a zoo workload ({', '.join(ZOO)}) or {{name, onnx, data}}; "
                                          f"got {ref.name!r}") if source else UserError(f"unknown workload {ref.name!r}")
