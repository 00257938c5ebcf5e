"""The search observer that tracks a study in MLflow without slowing it down.

On the search's thread it only turns each trial into a payload, appends it to the outbox (a
local file) and wakes the sending process (:mod:`.sender`), which sends the outbox with
``log_batch`` calls. When the server cannot be reached, trials go on and their payloads wait;
the sender tries again at the next trial, and whatever is still waiting when the study ends is
sent by the next run of the study or by ``request-dse sync STUDY``.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

import request_dse.tracking._projection as P
from request_dse.results import TrialRecord
from request_dse.search import owner_id, records
from request_dse.tracking._settings import TrackingTarget
from request_dse.tracking.outbox import Outbox
from request_dse.tracking.sender import SenderConfig, SenderProcess
from request_dse.tracking.summary import study_summary
from request_dse.tracking.sync import outbox_for, study_id

if TYPE_CHECKING:
    from request_dse.search import SearchView
    from request_dse.study import Plan

#: How long the end of a study waits for the outbox to be sent.
FLUSH_TIMEOUT_S = 60.0


class TrackingObserver:
    """Projects a running study onto MLflow: a parent run, one child run per trial."""

    def __init__(self, plan: Plan, target: TrackingTarget, *, flush_timeout_s: float = FLUSH_TIMEOUT_S) -> None:
        self.plan = plan
        self.target = target
        self.outbox: Outbox = outbox_for(plan.work_dir)
        self.flush_timeout_s = flush_timeout_s
        self.study_id = ""
        self.owner = ""
        self.records: dict[int, TrialRecord] = {}
        self.started: set[int] = set()
        self.callback_s = 0.0  # time spent in the search's thread (see benchmarks/tracking_overhead.py)
        self.sender: SenderProcess | None = None

    # -- the search's thread --------------------------------------------------------------------
    def on_start(self, search: SearchView) -> None:
        t0 = time.perf_counter()
        self.study_id = study_id(search.study)
        self.owner = owner_id()
        snapshot = records(search.study)
        self.records = {r.number: r for r in snapshot if r.measured and r.skip is None}
        for seq, payload in self.outbox.pending():  # a previous run's end: this run re-opens the study
            if payload["key"] == "parent:end":
                self.outbox.done("parent:end", seq)
        self.outbox.put(P.parent_start(self.plan, self.study_id, self.owner))
        study = self.plan.study
        self.sender = SenderProcess(SenderConfig(
            self.target, self.outbox, self.study_id, self.plan.name, self.owner, tuple(study.metric_names),
            tuple(o.direction for o in study.objectives), tuple(snapshot), self.flush_timeout_s,
            study.tracking.cpu_share))
        self.callback_s += time.perf_counter() - t0

    def on_tick(self, search: SearchView) -> None:
        running = [(n, c) for n, c in search.running() if n not in self.started]
        if not running:
            return
        t0 = time.perf_counter()
        payloads = []
        for number, candidate in running:
            self.started.add(number)
            rec = TrialRecord(number, "RUNNING", "running", candidate.params, candidate.hash,
                              timings={"build_start": time.time()})
            payloads.append(P.trial_payload(rec, self.study_id, self.plan.name, self.owner, running=True))
        self.outbox.put(*payloads)
        self._wake()
        self.callback_s += time.perf_counter() - t0

    def on_trial(self, search: SearchView, record: TrialRecord) -> None:
        t0 = time.perf_counter()
        self.records[record.number] = record
        # the search keeps its front up to date one trial at a time: nothing here grows with the
        # study. A trial off the front gets its rank with every other trial's at the study's end.
        front, _, hv = search.front()
        on_front = any(r.number == record.number for r in front)
        rank = 1 if on_front else None
        self.outbox.put(P.trial_payload(record, self.study_id, self.plan.name, self.owner, rank=rank),
                        P.parent_progress(search.counters.measured, hv, len(front), search.counters.measured,
                                          int(time.time() * 1000)))
        self._wake()
        self.callback_s += time.perf_counter() - t0

    def on_end(self, search: SearchView) -> None:
        names = self.plan.study.metric_names
        directions = [o.direction for o in self.plan.study.objectives]
        finished = list(self.records.values())
        self.outbox.put(P.pareto_update(finished, P.pareto_ranks(finished, names, directions)))

        artifacts, metrics = study_summary(self.plan, finished, self.plan.work_dir / "tracking")
        status = "KILLED" if search.stop_reason == "interrupted" else "FINISHED"
        self.outbox.put(P.parent_end(status, search.stop_reason or "done", artifacts, metrics))
        reason = ""
        if self.sender is not None:
            self.sender.finish()
            reason = self.sender.offline_reason()
        left = len(self.outbox)
        self.outbox.close()
        if left:
            reason = f" ({reason})" if reason else ""
            print(f"request-dse: tracking: {left} writes wait in {self.outbox.path}{reason}; they are sent at the "
                  f"next run of the study or by `request-dse sync {self.plan.study.source}`", file=sys.stderr)

    def _wake(self) -> None:
        if self.sender is not None:
            self.sender.wake()
