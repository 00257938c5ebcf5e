"""The workload contract: what a model family (or a user's ONNX file) offers the engine.

A :class:`Workload` declares the ``model.*`` dimensions of the search space and turns a
candidate into a :class:`PreparedModel`: an ONNX file (quantized if the candidate asks), the
held-out data its accuracy is computed on, and the reference outputs every build is checked
against. ``prepare`` runs in a build worker and must be safe to call from several processes at
once (files are written to a temporary name, then renamed). Everything it returns is a path or
a plain value, so it crosses process and machine boundaries.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from request_dse.space import Candidate, Constraint, Dimension


@dataclass(frozen=True)
class WorkloadRef:
    """A zoo workload by ``name``, or a user ONNX model with an ``.npz`` of inputs (and labels)."""

    name: str
    onnx: Path | None = None
    data: Path | None = None
    precisions: tuple[str, ...] = ("fp32",)


@dataclass(frozen=True)
class PreparedModel:
    """One candidate's model, ready for any backend to build."""

    model_id: str              # stable identity: zoo id or file stem, plus precision
    onnx_path: Path
    sha256: str                # of the ONNX file actually built from
    input_name: str
    sample_shape: tuple[int, ...]  # one sample, without the batch axis
    num_classes: int | None
    precision: str
    data_path: Path            # .npz: x_eval, (y_eval), x_check
    reference_path: Path       # .npy: reference outputs on x_check
    tolerance: tuple[float, float]  # (atol, rtol) against the reference, relative to max |reference|
    params: int | None = None
    flops: int | None = None
    torch_spec: Mapping[str, Any] | None = None  # family/width/depth/resolution + weights path, zoo only
    info: Mapping[str, Any] = field(default_factory=dict)


class Workload(abc.ABC):
    """A model family and its data; the source of the ``model.*`` dimensions."""

    name: str

    @abc.abstractmethod
    def dimensions(self) -> Sequence[tuple[Dimension, Any]]:
        """Each ``model.*`` dimension with its default value."""

    def constraints(self) -> Sequence[Constraint]:
        return ()

    @abc.abstractmethod
    def prepare(self, candidate: Candidate, cache_dir: Path) -> PreparedModel:
        """The candidate's model, data and reference, created under ``cache_dir`` if missing."""

    @abc.abstractmethod
    def identity(self, candidate: Candidate) -> str:
        """What the candidate's model is, for cache keys (changes when the model file does)."""

    def describe(self) -> Mapping[str, Any]:
        return {"name": self.name}
