"""The search observer that tracks a study in MLflow without slowing it down.

On the search's thread it only turns each trial into a payload and appends it to the outbox
(a local file); a background thread sends the outbox with ``log_batch`` calls. When the server
cannot be reached, trials go on and their payloads wait; the thread tries again at the next
trial, and whatever is still waiting when the study ends is sent by the next run of the study
or by ``request-dse sync STUDY``.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TYPE_CHECKING, Any

import request_dse.tracking._projection as P
from request_dse.results import TrialRecord
from request_dse.search import owner_id, records
from request_dse.tracking._settings import TrackingTarget
from request_dse.tracking._sink import MlflowSink, is_connection_error
from request_dse.tracking.outbox import Outbox
from request_dse.tracking.summary import study_summary
from request_dse.tracking.sync import drain, outbox_for, repair, study_id

if TYPE_CHECKING:
    from request_dse.search import SearchView
    from request_dse.study import Plan

#: How long the end of a study waits for the outbox to be sent.
FLUSH_TIMEOUT_S = 60.0
#: How often the writer retries an unreachable server between trials.
RETRY_EVERY_S = 30.0


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
        self.offline_reason = ""
        self._sink: Any = None
        self._snapshot: list[TrialRecord] = []
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._warned = False

    # -- the search's thread --------------------------------------------------------------------
    def on_start(self, search: SearchView) -> None:
        t0 = time.perf_counter()
        self.study_id = study_id(search.study)
        self.owner = owner_id()
        self._snapshot = records(search.study)
        self.records = {r.number: r for r in self._snapshot if r.measured and r.skip is None}
        for seq, payload in self.outbox.pending():  # a previous run's end: this run re-opens the study
            if payload["key"] == "parent:end":
                self.outbox.done("parent:end", seq)
        self.outbox.put(P.parent_start(self.plan, self.study_id, self.owner))
        self._thread = threading.Thread(target=self._run, name="request-dse-tracking", daemon=True)
        self._thread.start()
        self._wake.set()  # open the parent run and repair stale runs now, not at the first trial
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
        self._wake.set()
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
        self._wake.set()
        self.callback_s += time.perf_counter() - t0

    def on_end(self, search: SearchView) -> None:
        names = self.plan.study.metric_names
        directions = [o.direction for o in self.plan.study.objectives]
        finished = list(self.records.values())
        self.outbox.put(P.pareto_update(finished, P.pareto_ranks(finished, names, directions)))

        artifacts, metrics = study_summary(self.plan, finished, self.plan.work_dir / "tracking")
        status = "KILLED" if search.stop_reason == "interrupted" else "FINISHED"
        self.outbox.put(P.parent_end(status, search.stop_reason or "done", artifacts, metrics))
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(self.flush_timeout_s)
        left = len(self.outbox)
        if left:
            reason = f" ({self.offline_reason})" if self.offline_reason else ""
            print(f"request-dse: tracking: {left} writes wait in {self.outbox.path}{reason}; they are sent at the "
                  f"next run of the study or by `request-dse sync {self.plan.study.source}`", file=sys.stderr)

    # -- the writer thread ----------------------------------------------------------------------
    def _connect(self) -> bool:
        try:
            if self._sink is None:
                self._sink = MlflowSink(self.target, self.study_id)
            if self._sink.experiment_id is None:
                self._sink.connect()
                names = self.plan.study.metric_names
                directions = [o.direction for o in self.plan.study.objectives]
                repair(self._sink, self.outbox, self._snapshot, self.study_id, self.plan.name, self.owner, names,
                       directions)
            return True
        except Exception as exc:  # noqa: BLE001 - the writer must not die
            if self._sink is not None:
                self._sink.experiment_id = None
            self._offline(f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}",
                          expected=is_connection_error(exc))
            return False

    def _offline(self, reason: str, *, expected: bool = True) -> None:
        self.offline_reason = reason
        if not self._warned:
            self._warned = True
            what = "cannot reach" if expected else "failed to write to"
            print(f"request-dse: tracking: {what} {self.target.uri} ({reason}); trials go on and their runs "
                  f"wait in {self.outbox.path}", file=sys.stderr)

    def _send(self) -> None:
        with self.outbox.sending() as mine:
            if not mine or not self._connect():
                return
            result = drain(self._sink, self.outbox)
            if result.offline:
                self._offline(result.error)
            else:
                self.offline_reason = ""

    def _run(self) -> None:
        deadline = None
        while True:
            self._wake.wait(RETRY_EVERY_S)
            self._wake.clear()
            try:
                self._send()
            except Exception as exc:  # noqa: BLE001 - never take the study down
                self._offline(f"{type(exc).__name__}: {exc}", expected=False)
            if self._stop.is_set():
                if not len(self.outbox) or self.offline_reason:
                    return
                deadline = deadline or time.monotonic() + self.flush_timeout_s
                if time.monotonic() > deadline:
                    return
                self._wake.set()
