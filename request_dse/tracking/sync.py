"""Bringing MLflow up to date with a study: send the outbox, then repair what is missing.

The study's Optuna storage is the source of truth and MLflow a projection of it, so after the
outbox is sent, every finished trial whose run is missing or in another state (a run that a
killed process left RUNNING, say) is projected again. Trials a dead process left RUNNING close
as KILLED runs.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import request_dse.tracking._projection as P
from request_dse.search import owner_alive, owner_id
from request_dse.tracking._sink import MlflowSink, is_connection_error
from request_dse.tracking.outbox import Outbox
from request_dse.tracking.summary import study_summary

#: The Optuna study attribute that names the study in MLflow (stable across resumes).
STUDY_ID_ATTR = "tracking_id"


def study_id(study: Any) -> str:
    """The study's tracking id, created on first use and kept in the study's storage."""
    value = study.user_attrs.get(STUDY_ID_ATTR)
    if not value:
        value = uuid.uuid4().hex[:16]
        study.set_user_attr(STUDY_ID_ATTR, value)
    return str(value)


def outbox_for(work_dir: Path) -> Outbox:
    return Outbox(work_dir / "tracking" / "outbox.jsonl")


@dataclass
class DrainResult:
    sent: int = 0
    pending: int = 0
    rejected: int = 0
    error: str = ""

    @property
    def offline(self) -> bool:
        return bool(self.error)


PROGRESS_BATCH = 300   # points per request (three metrics each: within MLflow's 1000 per batch)
MARKS_BATCH = 32       # sent payloads acknowledged per outbox write


def drain(sink: Any, outbox: Outbox, *, within_s: float | None = None) -> DrainResult:
    """Send every pending payload, oldest first; stop at the first connection failure.

    A payload the store rejects outright (not a connection problem) is set aside in
    ``outbox.rejected.jsonl`` with the reason, so it cannot block the ones after it.
    ``within_s``: stop, between two requests, once this long has passed (the rest stays pending).
    """
    result = DrainResult()
    deadline = None if within_s is None else time.monotonic() + within_s
    # the parent run first: a resumed study's trials may wait behind its (re-)opening
    ordered = sorted(outbox.pending(), key=lambda item: (item[1]["key"] != "parent:start", item[0]))
    # the parent's stepped progress points go together, in one request, after the rest
    steps = [item for item in ordered if item[1]["key"].startswith(P.PROGRESS)]
    groups = [[item] for item in ordered if not item[1]["key"].startswith(P.PROGRESS)]
    groups += [steps[i:i + PROGRESS_BATCH] for i in range(0, len(steps), PROGRESS_BATCH)]
    pareto = next(((seq, p) for seq, p in ordered if p["key"] == "pareto"), None)
    marks: list[tuple[str, int]] = []  # sent: acknowledged together (a payload sent twice is harmless)
    for group in groups:
        if deadline is not None and result.sent and time.monotonic() > deadline:
            break
        try:
            if sink.experiment_id is None:
                sink.connect()
            if group[0][1]["key"].startswith(P.PROGRESS):
                sink.progress([payload for _, payload in group])
            else:
                sink.apply(_with_ranks(group[0], pareto))
        except Exception as exc:  # noqa: BLE001 - every failure becomes a value here
            if is_connection_error(exc):
                sink.experiment_id = None  # list the runs again once it is back
                result.error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}" if str(exc) else type(exc).__name__
                break
            for _, payload in group:
                _reject(outbox, payload, exc)
            result.rejected += len(group)
        marks += [(payload["key"], seq) for seq, payload in group]
        result.sent += len(group)
        if len(marks) >= MARKS_BATCH:
            outbox.done_many(marks)
            marks = []
    outbox.done_many(marks)
    result.pending = len(outbox)
    if not result.pending:
        outbox.compact()
    return result


def _with_ranks(item: tuple[int, dict[str, Any]], pareto: tuple[int, dict[str, Any]] | None) -> dict[str, Any]:
    """A trial's payload with the Pareto tags of a newer ``pareto`` payload still waiting: its run is
    written once with its final rank (at a study's end, most runs of a fast study are still waiting)."""
    seq, payload = item
    if pareto is None or payload.get("role") != "trial" or pareto[0] < seq:
        return payload
    tags = pareto[1]["tags"].get(str(payload.get("number")))
    return {**payload, "tags": {**payload["tags"], **tags}} if tags else payload


def _reject(outbox: Outbox, payload: dict[str, Any], exc: Exception) -> None:
    path = outbox.path.with_name("outbox.rejected.jsonl")
    with open(path, "a") as f:
        f.write(json.dumps({"error": f"{type(exc).__name__}: {exc}", "payload": payload}, default=str) + "\n")
    print(f"request-dse: tracking: MLflow rejected {payload['key']} ({type(exc).__name__}: "
          f"{str(exc).splitlines()[0][:200] if str(exc) else ''}); kept in {path}", file=sys.stderr)


def projectable(record: Any) -> str | None:
    """The trial status a record's run should show, or None when it gets no run."""
    if record.skip is not None:
        return None
    if record.state == "RUNNING":
        return None if owner_alive(record.owner) else "interrupted"
    return record.status or None


def repair(sink: Any, outbox: Outbox, records: Sequence[Any], sid: str, study: str, owner: str,
           names: Sequence[str], directions: Sequence[str]) -> int:
    """Queue a payload for every trial whose run is missing or stale; returns how many."""
    import dataclasses

    pending = {payload["key"]: payload.get("status") for _, payload in outbox.pending()}
    ranks = P.pareto_ranks([r for r in records if r.state != "RUNNING"], names, directions)
    queued = 0
    for record in records:
        status = projectable(record)
        if status is None:
            continue
        wanted = P.run_status(status)
        # a waiting payload may be stale too: a killed process's "trial started" for a trial since interrupted
        if pending.get(P.trial_key(record.number), sink.status_of(record.number)) == wanted:
            continue
        if status != record.status:
            record = dataclasses.replace(record, status=status,
                                         error=record.error or "the process running this trial stopped")
        outbox.put(P.trial_payload(record, sid, study, owner, rank=ranks.get(record.number)))
        queued += 1
    return queued


def sync_study(plan: Any, target: Any, optuna_study: Any, all_records: Sequence[Any]) -> DrainResult:
    """Send the outbox of ``plan``'s study, then repair its runs (``request-dse sync``)."""
    sid, owner = study_id(optuna_study), owner_id()
    outbox = outbox_for(plan.work_dir)
    names = plan.study.metric_names
    directions = [o.direction for o in plan.study.objectives]
    with outbox.sending() as mine:
        if not mine:
            return DrainResult(pending=len(outbox), error="another request-dse process is sending this outbox")
        sink = MlflowSink(target, sid)
        try:
            sink.connect()
        except Exception as exc:  # noqa: BLE001
            if not is_connection_error(exc):
                raise
            return DrainResult(pending=len(outbox), error=f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")

        pending = {payload["key"] for _, payload in outbox.pending()}
        if sink.parent is None and "parent:start" not in pending:
            outbox.put(P.parent_start(plan, sid, owner))
        repair(sink, outbox, all_records, sid, plan.name, owner, names, directions)
        finished = [r for r in all_records if projectable(r) and r.state != "RUNNING"]
        outbox.put(P.pareto_update(finished, P.pareto_ranks(finished, names, directions)))
        parent = sink.parent
        if "parent:end" not in pending and (parent is None or (
                parent.status == "RUNNING" and not owner_alive(parent.tags.get(P.OWNER)))):
            artifacts, metrics = study_summary(plan, finished, plan.work_dir / "tracking")
            status, reason = ("FINISHED", "done") if parent is None else ("KILLED", "the process running the study stopped")
            outbox.put(P.parent_end(status, reason, artifacts, metrics))
        return drain(sink, outbox)
