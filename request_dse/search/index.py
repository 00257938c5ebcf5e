"""The study's trials as the search sees them, kept up to date by what changed.

Several processes may share a study, so the search re-reads it all the time: what is measured,
what is in flight and where, which candidates a killed run left unmeasured, how much of the
budget is taken. :class:`TrialIndex` keeps those answers and updates them from the trials that
changed since the last look (:func:`~request_dse.search._optuna.changes`), so the cost of a look
does not grow with the study.

A finished trial never changes, so it is counted once, when it is first seen finished.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from request_dse.results import DOMINATED_EARLY, TrialRecord
from request_dse.search._base import Counters
from request_dse.search._optuna import changes
from request_dse.search.storage import owner_alive, record


@dataclass
class TrialIndex:
    study: Any
    owner: str
    #: called with every trial when it is first seen finished (this process's or another's)
    listeners: list[Callable[[TrialRecord], None]] = field(default_factory=list)
    #: every trial but the waiting ones, by number
    records: dict[int, TrialRecord] = field(default_factory=dict)
    #: trials that have not finished (RUNNING), by number
    running: dict[int, TrialRecord] = field(default_factory=dict)
    #: the first measurement of each candidate (by hash)
    measured: dict[str, TrialRecord] = field(default_factory=dict)
    #: candidates whose last trial was interrupted and that are not measured yet, oldest first
    interrupted: dict[str, TrialRecord] = field(default_factory=dict)
    #: counts over the finished trials
    counters: Counters = field(default_factory=Counters)
    _claims: list[int] = field(default_factory=list)  # numbers of finished trials holding a budget share
    _cursor: Any = None

    def refresh(self) -> list[TrialRecord]:
        """Read what changed; returns the trials that finished since the last look."""
        self._cursor, trials = changes(self.study, self._cursor)
        done = []
        for trial in trials:
            if trial.state.name == "WAITING":
                continue
            known = self.records.get(trial.number)
            if known is not None and known.state not in ("RUNNING", "WAITING"):
                continue  # finished: already counted
            rec = record(trial)
            self.records[rec.number] = rec
            if rec.state == "RUNNING":
                self.running[rec.number] = rec
            else:
                self.running.pop(rec.number, None)
                self._count(rec)
                done.append(rec)
        return done

    def _count(self, rec: TrialRecord) -> None:
        self._tally(rec)
        for listener in self.listeners:
            listener(rec)

    def _tally(self, rec: TrialRecord) -> None:
        c = self.counters
        if rec.skip is not None:
            c.skipped += 1
        if rec.status == "interrupted" and rec.hash and rec.skip is None and rec.hash not in self.measured:
            self.interrupted.pop(rec.hash, None)
            self.interrupted[rec.hash] = rec  # newest last
        if not rec.measured:
            return
        c.measured += 1
        c.ok += rec.status == "ok"
        c.failed += rec.status not in ("ok", "infeasible", DOMINATED_EARLY)
        c.dominated_early += rec.status == DOMINATED_EARLY
        c.cached += rec.cached
        if rec.hash:
            bisect.insort(self._claims, rec.number)
            if rec.hash not in self.measured or rec.number < self.measured[rec.hash].number:
                self.measured[rec.hash] = rec
            self.interrupted.pop(rec.hash, None)

    # -- what other processes do ------------------------------------------------------------------
    def in_flight_elsewhere(self, mine: set[str]) -> int:
        """Trials other live processes are measuring now (``mine``: the hashes this one measures)."""
        return sum(1 for r in self.running.values() if r.hash and r.skip is None and r.hash not in mine
                   and r.owner != self.owner and owner_alive(r.owner))

    def held_elsewhere(self) -> set[str]:
        """Candidates other live processes are measuring now."""
        return {r.hash for r in self.running.values() if r.hash and r.skip is None and r.owner != self.owner
                and owner_alive(r.owner)}

    def claimed_before(self, number: int, candidate_hash: str, mine: set[int]) -> tuple[TrialRecord | None, int]:
        """The trial before ``number`` that holds ``candidate_hash`` (a finished measurement, or a
        live process's trial being measured), and how many trials before ``number`` hold a share
        of the budget. ``mine``: the trial numbers this process is measuring now.

        A running trial takes a share once per candidate (twins wait for it); this process's own
        running trials count only while measured, not while held."""
        taken = bisect.bisect_left(self._claims, number)
        rival = self.measured.get(candidate_hash)
        if rival is not None and rival.number >= number:
            rival = None
        seen: set[str] = set()
        for n in sorted(self.running):
            rec = self.running[n]
            if n >= number or rec.skip is not None or not rec.hash or rec.hash in seen:
                continue
            alive = n in mine if rec.owner == self.owner else owner_alive(rec.owner)
            if not alive:
                continue
            seen.add(rec.hash)
            taken += 1
            if rec.hash == candidate_hash and rec.owner != self.owner and (rival is None or n < rival.number):
                rival = rec
        return rival, taken
