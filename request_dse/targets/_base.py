"""The target contract: where candidates are measured, and what that hardware is.

A target class has a ``kind`` (what ``kind:`` in ``targets/<name>.yaml`` selects) and an
``options`` spec for its kind-specific fields. An instance wraps one validated
:class:`~request_dse.config.TargetSpec` and:

* :meth:`Target.unavailable` -- why it cannot be used from here (no device, no server), or
  None. Cheap, never raises.
* :meth:`Target.cpu_features` -- the ISA features code built for it may use (flag values
  that need others are left out of the space).
* :meth:`Target.build_info` -- what a backend needs to compile for it (plain values).
* :meth:`Target.measure` -- runs the measurement sessions of one built candidate through the
  given process runner and returns a :class:`~request_dse.records.MeasureResult`. Sessions of
  one target never overlap; the executor guarantees it (``resource`` names the lock).
* :meth:`Target.measure_cores` -- host cores a measurement occupies (builds sharing them are
  paused); empty for a remote device.
* :meth:`Target.system` -- the MLPerf-style system description recorded with every result.
* :meth:`Target.replay` -- only where ``replays`` is true (the ``replay`` kind): the recorded
  outcome of a candidate, which then is neither built nor measured.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from request_dse.config import TargetSpec
from request_dse.config._schema import Spec

if TYPE_CHECKING:
    from request_dse.execute._process import ProcessRunner
    from request_dse.records import MeasureResult, SessionRequest, TrialResult
    from request_dse.space import Candidate


class Target(abc.ABC):
    kind: ClassVar[str]
    options: ClassVar[Spec | None] = None
    #: True for a target that answers candidates from recorded results instead of measuring them.
    replays: ClassVar[bool] = False

    def __init__(self, spec: TargetSpec) -> None:
        self.spec = spec

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def resource(self) -> str:
        """The name of the exclusive measurement slot (a Ray custom resource, a local lock)."""
        return f"target:{self.spec.name}"

    def unavailable(self) -> str | None:
        return None

    def cpu_features(self) -> frozenset[str]:
        return frozenset()

    def build_info(self) -> Mapping[str, Any]:
        return {"kind": self.kind, "name": self.name}

    def measure_cores(self, threads: int) -> tuple[int, ...]:
        return ()

    def build_cores(self) -> tuple[int, ...]:
        return ()

    def system(self) -> Mapping[str, Any]:
        return dict(self.spec.system)

    def replay(self, candidate: Candidate) -> TrialResult:
        """The recorded outcome of ``candidate`` (targets with ``replays`` only)."""
        raise NotImplementedError(f"target kind {self.kind!r} measures; it does not replay")

    @abc.abstractmethod
    def measure(self, request: SessionRequest, runner: ProcessRunner, log_path: Path | None = None) -> MeasureResult:
        """Run ``request.protocol.repeats`` sessions of the built candidate; workers log to ``log_path``."""
