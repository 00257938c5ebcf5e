"""The search's contract with what watches it: observers (the progress line, tracking) and the
view of the search they are given."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from request_dse.execute import Executor
from request_dse.results import TrialRecord
from request_dse.space import Candidate
from request_dse.study import Plan


@dataclass
class Counters:
    measured: int = 0
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    cached: int = 0
    in_flight_elsewhere: int = 0
    dominated_early: int = 0   # measured briefly: the front beat them beyond the noise


class SearchView(Protocol):
    """What an observer may read of a running search."""

    plan: Plan
    executor: Executor
    study: Any            # the Optuna study
    stop_reason: str

    @property
    def counters(self) -> Counters: ...

    @property
    def budget(self) -> int: ...

    def elapsed(self) -> float: ...

    def front(self) -> tuple[list[TrialRecord], list[float], float]: ...

    def running(self) -> list[tuple[int, Candidate]]: ...

    @property
    def mode(self) -> str:
        """Where proposals come from now when not from the sampler, in words ('' otherwise)."""
        ...


class Observer(Protocol):
    """Watches a search: progress display, tracking. Must not raise; called from the search's thread."""

    def on_start(self, search: SearchView) -> None: ...

    def on_trial(self, search: SearchView, record: TrialRecord) -> None: ...

    def on_tick(self, search: SearchView) -> None: ...

    def on_end(self, search: SearchView) -> None: ...
