"""What a running search holds and shows: its fields, and the read side observers use
(:class:`~request_dse.search._base.SearchView`). :class:`~request_dse.search.loop.Search` adds the loop."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from request_dse.evaluate import FrontSnapshot, TrialJob
from request_dse.execute import Executor
from request_dse.results import ResultsCache, TrialRecord
from request_dse.search._base import Counters, Observer
from request_dse.search.exclusions import Exclusion, Exclusions
from request_dse.search.front import FrontTracker
from request_dse.search.index import TrialIndex
from request_dse.search.ledger import Ledger
from request_dse.search.proposals import Proposer
from request_dse.search.waiting import WaitingRoom
from request_dse.space import Candidate
from request_dse.study import Plan


@dataclass
class SearchState:
    plan: Plan
    executor: Executor
    observers: Sequence[Observer] = ()
    cache: ResultsCache | None = None
    study: Any = None
    started: float = 0.0
    exhausted: bool = False
    stop_reason: str = ""
    _ledger: Ledger | None = None
    _index: TrialIndex | None = None
    _front: FrontTracker | None = None
    _exclusions: Exclusions | None = None
    _proposer: Proposer | None = None
    _owner: str = ""
    _in_flight: dict[str, tuple[Any, TrialJob]] = field(default_factory=dict)
    _held: dict[str, list[tuple[Any, Candidate]]] = field(default_factory=dict)
    _budget_full: bool = False  # the claims say others took the rest of the budget: wait for a change
    _waiting: WaitingRoom | None = None  # survivors whose other sessions wait (early_stop.defer)
    _newest_front: FrontSnapshot | None = None  # early stopping: the front as of the last result (read by trial threads)

    # -- state ----------------------------------------------------------------------------------
    @property
    def index(self) -> TrialIndex:
        if self._index is None:
            raise RuntimeError("the search is not open: call open() or run() first")
        return self._index

    @property
    def ledger(self) -> Ledger:
        """What the study has been told (available once the search is open)."""
        if self._ledger is None:
            raise RuntimeError("the search is not open: call open() or run() first")
        return self._ledger

    @property
    def counters(self) -> Counters:
        if self._index is None:
            return Counters()
        c = dataclasses.replace(self._index.counters)
        c.in_flight_elsewhere = self._index.in_flight_elsewhere(set(self._in_flight))
        return c

    @property
    def exclusions(self) -> list[Exclusion]:
        """The exclusions the study has learned from its failures."""
        return list(self._exclusions.known.values()) if self._exclusions is not None else []

    @property
    def mode(self) -> str:
        """Where proposals come from now, when not from the sampler ('' otherwise)."""
        return self._proposer.mode if self._proposer is not None else ""

    def records(self) -> list[TrialRecord]:
        """The study's trials (waiting ones aside) as records, by number."""
        self.index.refresh()
        return [self.index.records[n] for n in sorted(self.index.records)]

    def refresh(self) -> None:
        """Read what other processes sharing the study did."""
        self.index.refresh()

    def running(self) -> list[tuple[int, Candidate]]:
        """The trials being built or measured now: (trial number, candidate)."""
        return [(trial.number, job.candidate) for trial, job in self._in_flight.values()]

    @property
    def waiting(self) -> int:
        """Survivors whose other sessions wait (``early_stop.defer``)."""
        return len(self._waiting) if self._waiting is not None else 0

    @property
    def budget(self) -> int:
        return self.plan.study.trials

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def snapshot(self, exclude: str = "") -> FrontSnapshot:
        """The front a trial is judged against (early stopping), the waiting survivors on it but
        ``exclude`` (a candidate's hash)."""
        waiting = self._waiting.points(exclude) if self._waiting is not None else ()
        return self._front.snapshot(waiting)  # type: ignore[union-attr]

    def front(self) -> tuple[list[TrialRecord], list[float], float]:
        """The Pareto front (``ok`` trials), the reference point and the hypervolume."""
        return self._front.result() if self._front is not None else ([], [], 0.0)
