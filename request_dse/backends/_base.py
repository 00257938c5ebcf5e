"""The backend contract: how a framework builds a candidate and runs what it built.

A backend is a class with a ``name`` (its catalog is ``backends/<name>.yaml``) and:

* ``apply_kinds`` -- the ``apply:`` kinds its catalog may use. Kinds that map onto open-ended
  option maps are applied generically, so adding such a flag is a YAML edit.
* ``preload`` -- modules worth importing once in the worker pool (they are heavy).
* :meth:`Backend.unavailable` -- why it cannot run on a target (a missing library, a device
  it does not support), or None. Must not raise and must not import heavy modules when it can
  decide without them.
* :meth:`Backend.excludes` -- why a workload can never be built by it (a reason shown by
  ``request-dse space``), or None.
* :meth:`Backend.build` -- runs in a build worker process: turns the prepared ONNX model and
  the resolved flags into files under ``request.out_dir`` and returns that folder. It raises on
  failure; the worker turns the exception into a ``build_error`` value.
* :meth:`Backend.load` -- runs in a measurement worker: loads the folder and returns a
  :class:`Session`. Nothing from the build process is shared but files.

Backends never time anything themselves; :mod:`request_dse.measure` does, around
:meth:`Session.run`, so every backend is measured by the same protocol.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from request_dse.config import TargetSpec
from request_dse.records import BuildRequest
from request_dse.workloads._base import PreparedModel, Workload

META_FILE = "meta.json"


class Session(abc.ABC):
    """A loaded artifact, ready to run batches of one fixed shape."""

    @abc.abstractmethod
    def place(self, batch: np.ndarray) -> Any:
        """Put an input batch where :meth:`run` reads it (on the device), outside the timing."""

    @abc.abstractmethod
    def run(self, placed: Any) -> Any:
        """Run one batch and return the backend's own output object (the timed call).
        Asynchronous devices must have finished when it returns."""

    @abc.abstractmethod
    def fetch(self, output: Any) -> np.ndarray:
        """The output as a host NumPy array."""

    def close(self) -> None:  # noqa: B027 - optional
        """Release the session's resources."""


class Backend(abc.ABC):
    name: ClassVar[str]
    apply_kinds: ClassVar[frozenset[str]]
    preload: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = ""

    def unavailable(self, target: TargetSpec) -> str | None:
        """Why this backend cannot run on ``target``, or None."""
        return None

    def excludes(self, workload: Workload) -> str | None:
        """Why ``workload`` can never be built by this backend, or None."""
        return None

    def version(self) -> str | None:
        """The framework's version, read without importing it."""
        return None

    @abc.abstractmethod
    def build(self, request: BuildRequest, prepared: PreparedModel) -> Mapping[str, Any]:
        """Write the artifact into ``request.out_dir``; return facts worth recording."""

    @abc.abstractmethod
    def load(self, artifact_dir: Path, threads: int, device: str = "cpu") -> Session:
        """Load an artifact written by :meth:`build`."""


def write_meta(out_dir: Path, **meta: Any) -> None:
    (out_dir / META_FILE).write_text(json.dumps(meta, indent=1, sort_keys=True, default=str) + "\n")


def read_meta(artifact_dir: Path) -> dict[str, Any]:
    return json.loads((artifact_dir / META_FILE).read_text())


def package_version(dist: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None
