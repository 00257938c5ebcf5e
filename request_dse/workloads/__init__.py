"""Workloads: the built-in model zoo and users' ONNX files."""

from __future__ import annotations

import re
from pathlib import Path

from request_dse.errors import ConfigError, UserError
from request_dse.text import did_you_mean
from request_dse.workloads._base import PreparedModel, Workload, WorkloadRef
from request_dse.workloads.onnx_file import OnnxFileWorkload
from request_dse.workloads.zoo import DigitsZoo

__all__ = ["PreparedModel", "Workload", "ZOO", "get_workload", "workload_refusal"]

#: Zoo workloads by name.
ZOO = ("digits",)

#: The forms a study's ``workload`` field takes, as the refusal of any other value shows them.
FORMS = ("a zoo workload name ({zoo}) or a mapping {{name: <name>, onnx: <model>.onnx, data: <inputs>.npz}} "
         "with optional precisions: [fp32, int8] (see docs/workloads.md)")


def workload_refusal(value: object) -> str:
    """Why ``value`` is not a workload, showing the accepted forms (one line)."""
    if isinstance(value, str) and value.strip().lower().endswith(".onnx"):
        stem = re.sub(r"[^A-Za-z0-9_.-]", "-", Path(value.strip()).stem) or "model"
        return (f"an ONNX model is named with the data it runs on, as a mapping such as "
                f"{{name: {stem}, onnx: {value.strip()}, data: {stem}.npz}} (see docs/workloads.md); got {value!r}")
    got = repr(value) if isinstance(value, str) else f"{value!r} ({type(value).__name__})"
    return f"must be {FORMS.format(zoo=', '.join(ZOO))}; got {got[:80]}{did_you_mean(value, ZOO)}"


def get_workload(ref: WorkloadRef, source: str = "") -> Workload:
    """The workload a study names: a zoo name, or a user ONNX file with its data."""
    if ref.onnx is not None:
        return OnnxFileWorkload(ref.name, ref.onnx, ref.data, ref.precisions)  # type: ignore[arg-type]
    if ref.name == "digits":
        return DigitsZoo()
    if source:
        raise ConfigError(source, "workload", workload_refusal(ref.name))
    raise UserError(f"unknown workload {ref.name!r}{did_you_mean(ref.name, ZOO)}")
