"""The validation queue: jobs are rows, so a server that stops -- even killed -- loses none.

A job is ``queued``, then ``running`` under one owner (``host:pid:start`` of the server
process running it) that renews its heartbeat, then ``done`` with exactly one validation row:
finishing is one transaction that succeeds only while the job is still the owner's. A job whose
owner is gone (a dead process of this host, or no heartbeat for ``lease_s``) is queued again;
one whose runner was lost ``attempts`` times fails with the reason.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from request_dse.service.database import bump, utcnow, writing
from request_dse.service.tables import entries, jobs, validations

LEASE_S = 60.0
BADGES = ("pending", "available", "functional", "reproduced", "failed")


@dataclass(frozen=True)
class Job:
    id: int
    entry_id: str
    track: str
    target: str
    archive: str
    attempts: int


@dataclass(frozen=True)
class Outcome:
    """How a validation ended: a badge (available, functional, reproduced or failed) and its why."""

    status: str
    reason: str = ""
    result: Mapping[str, Any] = field(default_factory=dict)
    isolation: str = ""
    node: str = ""


def owner_id() -> str:
    import psutil

    return f"{socket.gethostname()}:{os.getpid()}:{int(psutil.Process().create_time())}"


def _owner_gone(owner: str) -> bool:
    """True when ``owner`` is a process of this host that no longer runs (a killed server)."""
    import psutil

    host, _, rest = owner.partition(":")
    pid, _, started = rest.partition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        return int(psutil.Process(int(pid)).create_time()) != int(started or 0)
    except psutil.NoSuchProcess:
        return True
    except (psutil.Error, ValueError):
        return False


def claim(engine: Engine, owner: str, targets: Iterable[str], max_attempts: int) -> Job | None:
    """The oldest queued job for one of ``targets``, now running under ``owner`` (None: nothing to do)."""
    targets = list(targets)
    if not targets:
        return None
    with writing(engine) as conn:
        row = conn.execute(sa.select(jobs.c.id).where(jobs.c.state == "queued", jobs.c.target.in_(targets))
                           .order_by(jobs.c.id).limit(1).with_for_update(skip_locked=True)).first()
        if row is None:
            return None
        taken = conn.execute(jobs.update().where(jobs.c.id == row.id, jobs.c.state == "queued").values(
            state="running", owner=owner, heartbeat=time.time(), started=utcnow(), attempts=jobs.c.attempts + 1))
        if taken.rowcount != 1:
            return None
        got = conn.execute(sa.select(jobs.c.id, jobs.c.entry_id, jobs.c.target, jobs.c.attempts, jobs.c.note,
                                     entries.c.track, entries.c.archive)
                           .join(entries, entries.c.id == jobs.c.entry_id).where(jobs.c.id == row.id)).one()
        bump(conn)
    job = Job(got.id, got.entry_id, got.track, got.target, got.archive, got.attempts)
    if job.attempts > max_attempts:
        finish(engine, job, owner, Outcome("failed", f"gave up after {max_attempts} attempts whose runner was lost "
                                                     f"({got.note or 'no reason recorded'})"))
        return claim(engine, owner, targets, max_attempts)
    return job


def heartbeat(engine: Engine, job: Job, owner: str) -> bool:
    """Renew the lease; False when the job is no longer this owner's (it was queued again)."""
    with writing(engine) as conn:
        done = conn.execute(jobs.update().where(jobs.c.id == job.id, jobs.c.owner == owner, jobs.c.state == "running")
                            .values(heartbeat=time.time()))
    return done.rowcount == 1


def finish(engine: Engine, job: Job, owner: str, outcome: Outcome) -> bool:
    """Record the outcome once: False (nothing written) when the job is no longer this owner's."""
    now = utcnow()
    with writing(engine) as conn:
        done = conn.execute(jobs.update().where(jobs.c.id == job.id, jobs.c.owner == owner, jobs.c.state == "running")
                            .values(state="done", finished=now, heartbeat=None))
        if done.rowcount != 1:
            return False
        conn.execute(validations.insert().values(
            job_id=job.id, entry_id=job.entry_id, status=outcome.status, reason=outcome.reason[:4000],
            result=json.dumps(outcome.result, default=str), isolation=outcome.isolation[:2000],
            node=outcome.node[:200], finished=now))
        conn.execute(entries.update().where(entries.c.id == job.entry_id)
                     .values(badge=outcome.status, reason=outcome.reason[:4000], validated=now))
        bump(conn)
    return True


def requeue(engine: Engine, job: Job, owner: str | None, note: str, *, count: bool = True) -> bool:
    """Put a running job back in the queue (``count``: the attempt counts towards the limit)."""
    where = [jobs.c.id == job.id, jobs.c.state == "running"]
    if owner is not None:
        where.append(jobs.c.owner == owner)
    values: dict[str, Any] = {"state": "queued", "owner": None, "heartbeat": None, "note": note[:2000]}
    if not count:
        values["attempts"] = jobs.c.attempts - 1
    with writing(engine) as conn:
        done = conn.execute(jobs.update().where(*where).values(**values))
        if done.rowcount:
            bump(conn)
    return done.rowcount == 1


def recover(engine: Engine, lease_s: float = LEASE_S) -> list[int]:
    """Queue again the running jobs whose owner is gone; their ids."""
    with engine.connect() as conn:
        running = conn.execute(sa.select(jobs.c.id, jobs.c.owner, jobs.c.heartbeat, jobs.c.entry_id, jobs.c.target,
                                         jobs.c.attempts).where(jobs.c.state == "running")).all()
    out = []
    for row in running:
        owner = row.owner or ""
        if _owner_gone(owner):
            note = f"re-queued: the server running it ({owner}) stopped"
        elif row.heartbeat is None or time.time() - row.heartbeat > lease_s:
            note = f"re-queued: no sign of life from {owner or 'its runner'} for more than {lease_s:g} s"
        else:
            continue
        job = Job(row.id, row.entry_id, "", row.target, "", row.attempts)
        if requeue(engine, job, row.owner, note):
            out.append(row.id)
    return out


def enqueue(engine: Engine, entry_id: str, target: str, requested_by: str) -> int:
    """A new validation job for an entry on ``target`` (the one already waiting, when there is one)."""
    with writing(engine) as conn:
        entry = conn.execute(sa.select(entries.c.id, entries.c.track).where(entries.c.id == entry_id)).first()
        if entry is None:
            raise KeyError(entry_id)
        waiting = conn.execute(sa.select(jobs.c.id).where(jobs.c.entry_id == entry_id,
                                                          jobs.c.state.in_(("queued", "running")))).first()
        if waiting is not None:
            return int(waiting.id)
        job = conn.execute(jobs.insert().values(entry_id=entry_id, target=target, state="queued", attempts=0,
                                                created=utcnow(), note="", requested_by=requested_by))
        bump(conn)
    return int(job.inserted_primary_key[0])
