"""The target contract: where candidates are measured, and what that hardware is.

A target class has a ``kind`` (what ``kind:`` in ``targets/<name>.yaml`` selects) and an
``options`` spec for its kind-specific fields. An instance wraps one validated
:class:`~request_dse.targets.TargetSpec` and says:

* :attr:`Target.capabilities` -- what it offers backends: ``local`` (a device of this host),
  ``remote`` (a device reached over the network), ``cpu``, ``gpu``, ``replay`` (recorded
  results, nothing runs). Backends ask for capabilities, never for kinds.
* :meth:`Target.unavailable` -- why it cannot be used from here (no device, no server), or
  None. Cheap, never raises. :meth:`Target.protocol_unavailable` -- why it cannot measure with
  a protocol (``loadgen`` needs the backend's session in the measuring process), or None.
* :meth:`Target.cpu_features` -- the ISA features code built for it may use (flag values
  that need others are left out of the space).
* :meth:`Target.build_info` -- what a backend needs to compile for it (plain values).
* :meth:`Target.sessions` -- the measurement sessions of one built candidate, as
  :class:`SessionCall` s: the function a worker process runs, its argument, the host cores it
  is pinned to and its environment. The executor's runtime runs them, one target at a time,
  and turns how each worker ended into a :class:`MeasureResult`.
* :meth:`Target.measure_cores` / :meth:`Target.build_cores` -- host cores a measurement
  occupies (builds sharing them are paused) and the cores builds may use.
* :meth:`Target.system` -- the MLPerf-style system description recorded with every result.

Records: :class:`SessionRequest` -> a session worker -> :class:`SessionResult`; the sessions of
one candidate make a :class:`MeasureResult`. Failures are values (``status``, ``error``).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np

from request_dse.envs import Lock
from request_dse.fields import Spec
from request_dse.protocol import MeasureConfig
from request_dse.targets.spec import TargetSpec
from request_dse.workloads import PreparedModel


class Judge(Protocol):
    """Decides inside a session whether measuring the candidate on is worth it (early stopping,
    :mod:`request_dse.evaluate.judge`). Picklable: it travels with the request to the worker."""

    first_runs: int  # timed runs before the first look; then it looks at every doubling
    first_time_s: float  # ... and at least this much timed run time before the first look
    #: A scored session with a judge scores its held-out split at the judge's first look, asking
    #: it as it goes (:mod:`.scoring`): these rows first (the ones the study's candidates got
    #: wrong most often), then the rest in the split's order.
    order: tuple[int, ...]

    def __call__(self, samples_ns: np.ndarray, top5: np.ndarray | None, scored: np.ndarray | None = None, *,
                 probes_ns: np.ndarray | None = None) -> str | None:
        """Why the candidate need not be measured further (the session ends there), or None.
        ``top5``: the scored outputs so far, the held-out rows ``scored`` (None: every row, in order);
        ``probes_ns``: the host-speed probe before each timed run (:mod:`.host_speed`)."""


def judge_looks(samples_ns: np.ndarray, first_runs: int, first_time_s: float) -> list[int]:
    """After how many of these timed runs a session's judge looked (:func:`.session.time_runs`):
    once ``first_runs`` runs and ``first_time_s`` of run time were timed, then at every doubling
    of the runs; a look is taken between runs, so none after the session's last one."""
    timed = np.cumsum(np.asarray(samples_ns, dtype=np.int64))
    n = max(1, first_runs, int(np.searchsorted(timed, first_time_s * 1e9)) + 1)
    looks = []
    while n < len(timed):
        looks.append(n)
        n *= 2
    return looks


@dataclass(frozen=True)
class SessionRequest:
    """One measurement session: load the artifact, (score), time it under the protocol."""

    backend: str
    artifact_dir: Path
    prepared: PreparedModel
    batch_size: int
    threads: int
    protocol: MeasureConfig
    score: bool                       # also run the check inputs and the held-out split
    device: str = "cpu"
    environment: Lock | None = None   # measure with this environment's interpreter (None: this one's)
    log_dir: Path | None = None       # where LoadGen sessions keep their logs (a folder per session)
    compliance: bool = False          # the scored session also runs LoadGen's compliance tests TEST01, TEST04
    judge: Judge | None = None        # may end the timed runs early (the request-dse protocol's loop only)


@dataclass(frozen=True)
class SessionResult:
    samples_ns: np.ndarray            # int64, one per timed run (one batch each)
    load_time_s: float
    memory_peak_mb: float
    wall_s: float
    check_outputs: np.ndarray | None = None
    top5: np.ndarray | None = None    # (N, 5) class indices on the held-out split, best first
    energy_j: float | None = None     # per batch, where a counter was read
    loadgen: Mapping[str, Any] | None = None  # LoadGen's figures, log folder, accuracy and compliance outcome
    judged: str | None = None         # why the request's judge ended the timed runs early
    #: The held-out rows ``top5`` holds, in its order, where the judge ended the session before
    #: every row was scored (None: all of them, in the split's order).
    scored: np.ndarray | None = None
    #: A judging session's host-speed probe (ns) before each timed run (:mod:`.host_speed`).
    probes_ns: np.ndarray | None = None


@dataclass(frozen=True)
class MeasureResult:
    status: str
    sessions: tuple[SessionResult, ...] = ()
    error: str = ""
    wall_s: float = 0.0


@dataclass(frozen=True)
class SessionCall:
    """One session as a worker process runs it: ``fn(arg)`` returns a :class:`SessionResult`."""

    fn: Callable[[Any], SessionResult]
    arg: Any
    cores: tuple[int, ...] = ()       # host cores the worker is pinned to (none: unpinned)
    env: Mapping[str, str] = field(default_factory=dict)


class Target(abc.ABC):
    kind: ClassVar[str]
    options: ClassVar[Spec | None] = None

    def __init__(self, spec: TargetSpec) -> None:
        self.spec = spec

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    @abc.abstractmethod
    def capabilities(self) -> frozenset[str]:
        """What this target offers backends (``local``, ``remote``, ``cpu``, ``gpu``, ``replay``)."""

    @property
    def replays(self) -> bool:
        """True for a target that answers candidates from recorded results instead of measuring them."""
        return "replay" in self.capabilities

    @property
    def resource(self) -> str:
        """The name of the exclusive measurement slot (a Ray custom resource, a local lock)."""
        return f"target:{self.spec.name}"

    def unavailable(self) -> str | None:
        return None

    def protocol_unavailable(self, protocol: str) -> str | None:
        """Why this target cannot measure with ``protocol`` (``request-dse``, ``loadgen``), or None."""
        return None

    def cpu_features(self) -> frozenset[str]:
        return frozenset()

    def build_info(self) -> Mapping[str, Any]:
        return {"kind": self.kind, "name": self.name, "capabilities": sorted(self.capabilities)}

    def measure_cores(self, threads: int) -> tuple[int, ...]:
        return ()

    def build_cores(self) -> tuple[int, ...]:
        return ()

    def system(self) -> Mapping[str, Any]:
        return dict(self.spec.system)

    @abc.abstractmethod
    def sessions(self, request: SessionRequest) -> list[SessionCall]:
        """The ``request.protocol.repeats`` sessions of one built candidate (the first one scores
        when ``request.score``)."""
