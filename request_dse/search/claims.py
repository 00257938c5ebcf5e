"""Several processes sharing one study: who measures a candidate, who takes the budget, and what
a dead run left behind.

Each process stores the candidate's hash on its trial before measuring, then looks at the
earlier trials: the earliest trial holding a hash wins, and the first ``budget`` claims take the
budget, so a candidate is measured once and the budget is kept however the processes interleave.
Trials a dead run left RUNNING are failed as ``interrupted``; their candidates are measured again
before anything new (see :class:`~request_dse.search.index.TrialIndex`).
"""

from __future__ import annotations

import datetime
import time
from typing import Any

from optuna.exceptions import UpdateFinishedTrialError

from request_dse.results import TrialRecord
from request_dse.search._optuna import batched, trial_id
from request_dse.search.index import TrialIndex
from request_dse.search.storage import ERROR, STATUS, owner_alive

#: A trial another process has just asked for carries no owner for a moment (the owner is stored
#: with its parameters); only after this long without one is it a dead run's to recover.
OWNERLESS_GRACE_S = 10.0
#: How long a proposal waits for earlier trials of other processes to store their candidate.
SETTLE_S = 5.0


def just_asked(rec: TrialRecord, now: datetime.datetime) -> bool:
    """A trial some process asked for a moment ago and has not stored its owner on yet."""
    return rec.owner is None and rec.started is not None and (now - rec.started).total_seconds() < OWNERLESS_GRACE_S


def recover(study: Any, index: TrialIndex) -> list[int]:
    """Fail the trials a dead run left RUNNING as ``interrupted`` (their candidates are then
    measured again first); returns their numbers. A trial another process recovers first is
    left to it."""
    from optuna.trial import TrialState

    index.refresh()
    recovered = []
    now = datetime.datetime.now()
    for rec in list(index.running.values()):
        if just_asked(rec, now) or owner_alive(rec.owner):
            continue
        storage, tid = study._storage, trial_id(study, rec.number)
        try:
            with batched(study):  # the status, the reason and the state in one write
                storage.set_trial_user_attr(tid, STATUS, "interrupted")
                storage.set_trial_user_attr(tid, ERROR, "the process running this trial stopped before it finished")
                storage.set_trial_state_values(tid, TrialState.FAIL)
        except UpdateFinishedTrialError:
            continue  # finished meanwhile (its owner, or another process recovering it)
        recovered.append(rec.number)
    index.refresh()
    return recovered


def settle(index: TrialIndex, number: int) -> None:
    """Wait (up to :data:`SETTLE_S`) until every trial before ``number`` that another live process
    has just asked for carries its hash: it is stored a moment after the ask, and deciding
    without it would let two processes both take the last share of the budget."""
    deadline = time.monotonic() + SETTLE_S
    while True:
        index.refresh()
        now = datetime.datetime.now()
        unsettled = [r for n, r in index.running.items() if n < number and r.hash is None and r.skip is None
                     and r.owner != index.owner and (just_asked(r, now) or owner_alive(r.owner))]
        if not unsettled or time.monotonic() >= deadline:
            return
        time.sleep(0.01)


def claimed_elsewhere(index: TrialIndex, number: int, candidate_hash: str,
                      mine: set[int]) -> tuple[TrialRecord | None, int]:
    """The trial of another process that holds ``candidate_hash`` (or a finished measurement of
    it), and how many trials before ``number`` hold a share of the budget. ``mine``: the trial
    numbers this process is measuring now."""
    settle(index, number)
    return index.claimed_before(number, candidate_hash, mine)
