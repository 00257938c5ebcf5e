"""The backend contract: how a framework builds a candidate and runs what it built.

A backend is a class with a ``name`` (its catalog is ``backends/<name>.yaml``) and:

* ``apply_kinds`` -- the ``apply:`` kinds its catalog may use. Kinds that map onto open-ended
  option maps are applied generically, so adding such a flag is a YAML edit.
* ``preload`` -- modules worth importing once in the worker pool (they are heavy).
* ``distribution`` -- the registry package of its library (``onnxruntime``): what a ``version``
  value of the search space pins, in an environment of its own (:mod:`request_dse.envs`); with
  ``environment_requires``, what else that environment needs for the backend's worker side.
  The worker side (``build``, ``load``, the session) must import in such an environment:
  nothing of the driver (Optuna, MLflow, Ray), and code that tolerates the library's releases.
* ``runs_on`` -- the target capabilities it can use: a target must offer one of them
  (``local``: a device of this host, ``remote``: a device reached over TVM RPC). Backends never
  look at a target's kind.
* :meth:`Backend.unavailable` -- why it cannot run on a target with these capabilities (a
  missing library, no GPU support in this build), or None. Must not raise and must not import
  heavy modules when it can decide without them.
* :meth:`Backend.excludes` -- why a workload can never be built by it (a reason shown by
  ``request-dse space``), or None.
* :meth:`Backend.build` -- runs in a build worker process: turns the prepared ONNX model and
  the resolved flags into files under ``request.out_dir`` and returns that folder. It raises on
  failure; the worker turns the exception into a ``build_error`` value.
* :meth:`Backend.load` -- runs in a measurement worker: loads the folder and returns a
  :class:`Session`. Nothing from the build process is shared but files.
* :meth:`Backend.check_artifact` -- before an artifact from someone else (a submission bundle)
  is loaded: every setting :meth:`load` would apply from its files must be a key the catalog
  declares, with a value its flag can take, of the right type; otherwise it raises
  :class:`UnsafeSettings` naming the file, the key and the rule. A backend whose ``load`` reads
  settings from the artifact must check each one here; the default checks ``meta.json`` only.
* :meth:`Backend.known_failure` -- runs in the driver: reads a failed candidate's status and
  error text (the worker's ``ExceptionType: message``) and says whether the failure is a
  property of more than this candidate -- the model with this framework (its frontend cannot
  import the model, an operator is unsupported), or one value of one flag (the library rejects
  it, the code it makes uses an instruction the target lacks) -- as a :class:`KnownFailure`, or
  None for anything that may pass another time (a timeout, a crash under load) or that it
  cannot tell. The search learns a known failure as an exclusion of the study. The default
  reads :class:`ModelUnsupported` and :class:`FlagRejected`, which ``build`` may raise.

Backends never time anything themselves; the target's measurement session does, around
:meth:`Session.run`, so every backend is measured by the same protocol.

Records: :class:`BuildRequest` -> :meth:`Backend.build` (through :func:`request_dse.backends.build_candidate`,
which prepares the workload's model first) -> :class:`BuildResult`. Only paths and plain values
cross from build to measure, so the two may run on different machines.
"""

from __future__ import annotations

import abc
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from request_dse.backends.catalog import Catalog
from request_dse.envs import Lock
from request_dse.space import Candidate
from request_dse.workloads import PreparedModel, Workload, WorkloadRef

META_FILE = "meta.json"
#: Largest settings file read from an artifact someone else built.
MAX_SETTINGS_BYTES = 1 << 20


class UnsafeSettings(ValueError):
    """An artifact's settings break its backend's catalog: ``<file>: <key>: <rule>``."""

    def __init__(self, file: str, key: str, rule: str) -> None:
        self.file, self.key, self.rule = file, key, rule
        super().__init__(f"{file}: {key}: {rule}" if key else f"{file}: {rule}")


@dataclass(frozen=True)
class BuildRequest:
    candidate: Candidate
    workload: WorkloadRef
    backend: str
    catalog: Catalog
    flags: Mapping[str, Any]          # every catalog flag, resolved (candidate value or default)
    target: Mapping[str, Any]         # what the backend needs to know of the target (capabilities, cpu, features)
    batch_size: int
    threads: int
    out_dir: Path                     # where the artifact goes (created by the build)
    cache_dir: Path                   # shared caches: prepared models, tuning databases
    environment: Lock | None = None   # build with this environment's interpreter (None: this one's)

    def settings(self) -> dict[str, dict[str, Any]]:
        """The resolved flags grouped by apply kind: ``{kind: {key: applied value}}``."""
        return self.catalog.apply(self.flags)


@dataclass(frozen=True)
class BuildResult:
    status: str
    artifact_dir: Path | None = None
    prepared: PreparedModel | None = None
    error: str = ""
    build_time_s: float = 0.0
    tuning_time_s: float = 0.0
    log_path: Path | None = None
    info: Mapping[str, Any] = field(default_factory=dict)
    env_time_s: float = 0.0           # creating the environment it was built in (0.0: it existed)


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


@dataclass(frozen=True)
class KnownFailure:
    """What a failure is a property of (see :meth:`Backend.known_failure`)."""

    scope: str                  # "model": the model with this framework; "flag": one value of one flag
    reason: str                 # why, in one line
    flag: str | None = None     # scope "flag": the flag's name in the backend's catalog


class ModelUnsupported(Exception):
    """Raised by :meth:`Backend.build` when the framework cannot take this model at all, whatever the flags."""


class FlagRejected(Exception):
    """Raised by :meth:`Backend.build` when the library rejects one flag's value, whatever the model."""

    def __init__(self, flag: str, value: Any, why: str) -> None:
        super().__init__(f"{flag}={value!r}: {why}")


#: The error classes that never say anything beyond one attempt: timeouts, a worker killed for
#: memory or stopped, a wrong answer (numerics), a candidate stopped early.
TRANSIENT_STATUSES = frozenset({"build_timeout", "run_timeout", "out_of_memory", "interrupted", "wrong_answer",
                                "dominated_early", "infeasible", "ok"})
_FLAG_REJECTED = re.compile(r"^(?P<flag>[\w.\-]+)=(?P<value>.+?): (?P<why>.*)$")


def error_class(error: str) -> tuple[str, str]:
    """``(exception type, message)`` of a worker's error text (``Type: message (at file:line ...)``);
    the type is ``""`` when the text does not start with one."""
    first = error.strip().splitlines()[0] if error.strip() else ""
    name, sep, message = first.partition(": ")
    if not sep or not re.fullmatch(r"[A-Za-z_][\w.]*", name):
        return "", first
    return name.rpartition(".")[2], re.sub(r" \(at [^()]*\)$", "", message).strip()


def read_failure(status: str, error: str) -> KnownFailure | None:
    """The failures any backend's build may report by type: :class:`ModelUnsupported`,
    :class:`FlagRejected` (see :meth:`Backend.known_failure`)."""
    if status in TRANSIENT_STATUSES:
        return None
    kind, message = error_class(error)
    if kind == "ModelUnsupported":
        return KnownFailure("model", message)
    if kind == "FlagRejected" and (m := _FLAG_REJECTED.match(message)):
        return KnownFailure("flag", f"rejected by the library: {m['why']}", flag=m["flag"])
    return None


class Backend(abc.ABC):
    name: ClassVar[str]
    apply_kinds: ClassVar[frozenset[str]]
    preload: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = ""
    #: The registry package of the backend's library, and what else its worker side imports.
    distribution: ClassVar[str | None] = None
    environment_requires: ClassVar[tuple[str, ...]] = ()
    #: Target capabilities this backend can use (one is enough), and why not others.
    runs_on: ClassVar[frozenset[str]] = frozenset({"local"})
    runs_on_note: ClassVar[str] = ""

    def unavailable(self, capabilities: frozenset[str]) -> str | None:
        """Why this backend cannot run on a target with ``capabilities``, or None."""
        return None

    def excludes(self, workload: Workload) -> str | None:
        """Why ``workload`` can never be built by this backend, or None."""
        return None

    def version(self) -> str | None:
        """The framework's version, read without importing it."""
        return None

    def known_failure(self, status: str, error: str, flags: Mapping[str, Any]) -> KnownFailure | None:
        """What a failed candidate's failure is a property of, or None (see the module docstring).
        ``flags``: the candidate's flags of this backend, by catalog name."""
        return read_failure(status, error)

    @abc.abstractmethod
    def build(self, request: BuildRequest, prepared: PreparedModel) -> Mapping[str, Any]:
        """Write the artifact into ``request.out_dir``; return facts worth recording."""

    @abc.abstractmethod
    def load(self, artifact_dir: Path, threads: int, device: str = "cpu") -> Session:
        """Load an artifact written by :meth:`build`."""

    def check_artifact(self, artifact_dir: Path, catalog: Catalog) -> None:
        """Refuse (:class:`UnsafeSettings`) what an artifact from someone else would apply when
        loaded, unless ``catalog`` allows it (see the module docstring)."""
        if (artifact_dir / META_FILE).exists():
            read_settings(artifact_dir, META_FILE)


def write_meta(out_dir: Path, **meta: Any) -> None:
    (out_dir / META_FILE).write_text(json.dumps(meta, indent=1, sort_keys=True, default=str) + "\n")


def read_meta(artifact_dir: Path) -> dict[str, Any]:
    return json.loads((artifact_dir / META_FILE).read_text())


def read_settings(artifact_dir: Path, name: str) -> dict[str, Any]:
    """A JSON object of an artifact someone else built, within size and depth limits
    (:class:`UnsafeSettings` otherwise)."""
    from request_dse.bounded import Refused, read_json

    try:
        doc = read_json(artifact_dir / name, MAX_SETTINGS_BYTES)
    except FileNotFoundError:
        raise UnsafeSettings(name, "", "is missing") from None
    except Refused as exc:
        raise UnsafeSettings(name, "", str(exc)) from None
    except (OSError, ValueError) as exc:
        raise UnsafeSettings(name, "", f"is not valid JSON ({type(exc).__name__})") from None
    if not isinstance(doc, dict):
        raise UnsafeSettings(name, "", f"must be a JSON object; got {type(doc).__name__}")
    return doc


def check_keys(file: str, where: str, value: Any, allowed: Mapping[str, Any]) -> dict[str, Any]:
    """``value`` must be a JSON object whose keys are among ``allowed`` (name -> type or tuple)
    and whose values have those types; returns it."""
    if not isinstance(value, dict):
        raise UnsafeSettings(file, where, f"must be a JSON object; got {type(value).__name__}")
    for key, item in value.items():
        if key not in allowed:
            raise UnsafeSettings(file, f"{where}.{key}" if where else str(key),
                                 f"is not a known key (allowed: {', '.join(sorted(allowed))})")
        kind = allowed[key]
        if not isinstance(item, kind) or (isinstance(item, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,))):
            raise UnsafeSettings(file, f"{where}.{key}" if where else str(key), f"has the wrong type ({type(item).__name__})")
    return value


def package_version(dist: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None
