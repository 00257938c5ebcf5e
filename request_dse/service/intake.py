"""Accepting a submission: an uploaded archive becomes an entry of a track and a queued validation.

In order, and before anything is stored: the archive's limits (:mod:`.uploads`), the bundle's
checksums and schema (:func:`request_dse.submission.open_bundle`), the track (named, or the one
that takes the bundle's workload on its target), the track's window, metrics and rules. Then the
archive goes into the bundle store and, in one transaction, the entry, the upload and the job
are written. The same content for the same track is one entry: sending it again records the
upload and returns the entry.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from request_dse.service.database import bump, utcnow, writing
from request_dse.service.tables import entries, jobs, submissions
from request_dse.service.tokens import Principal
from request_dse.service.tournament import Tournament, Track
from request_dse.service.uploads import Refused, check_archive
from request_dse.submission import BundleError, open_bundle


@dataclass(frozen=True)
class Accepted:
    entry: str
    track: str
    bundle_id: str
    duplicate: bool
    job: int | None


@dataclass(frozen=True)
class Checked:
    """A verified bundle's documents, as the database keeps them."""

    kind: str
    digest: str
    submission: Mapping[str, Any]
    system: Mapping[str, Any]


def verify(upload: Path, tournament: Tournament) -> Checked:
    """Limits, checksums, schema; the bundle's documents or a refusal (nothing is stored)."""
    kind = check_archive(upload, tournament.limits)
    named = upload.with_name(f"upload.{kind}")
    os.replace(upload, named)
    try:
        with open_bundle(named) as bundle:
            return Checked(kind, bundle.digest, bundle.submission, bundle.system)
    except BundleError as exc:
        raise Refused(422, str(exc).replace(str(named), "upload")) from None
    except RecursionError:
        raise Refused(422, "a JSON document of the bundle is nested too deeply") from None
    finally:
        if named.exists():
            os.replace(named, upload)


def pick_track(tournament: Tournament, doc: Mapping[str, Any], name: str | None) -> Track:
    workload, target = str(doc["workload"]["name"]), str(doc["target"]["name"])
    offered = ", ".join(f"{t.name} ({t.workload} on {t.target})" for t in tournament.tracks)
    if name is not None:
        track = tournament.track(name)
        if track is None:
            raise Refused(404, f"no track named {name!r} in tournament {tournament.name} (tracks: {offered})")
        if (track.workload, track.target) != (workload, target):
            raise Refused(422, f"track {name!r} takes {track.workload} on {track.target}; the bundle is "
                               f"{workload} on {target}")
        return track
    fitting = [t for t in tournament.tracks if (t.workload, t.target) == (workload, target)]
    if not fitting:
        raise Refused(422, f"no track of tournament {tournament.name} takes workload {workload!r} on target "
                           f"{target!r} (tracks: {offered})")
    if len(fitting) > 1:
        raise Refused(422, f"several tracks take {workload} on {target}: name one "
                           f"({', '.join(t.name for t in fitting)})")
    return fitting[0]


def check_rules(track: Track, doc: Mapping[str, Any], now: dt.datetime) -> None:
    closed = track.closed_reason(now)
    if closed:
        raise Refused(403, f"{closed}: submissions are not accepted")
    metrics = doc["metrics"]
    for name, spec in metrics.items():
        if not math.isfinite(float(spec["value"])):
            raise Refused(422, f"submission.json: metrics/{name}: {spec['value']} is not a finite number")
    missing = [o.metric for o in track.metrics if o.metric not in metrics]
    if missing:
        raise Refused(422, f"track {track.name!r} ranks on {', '.join(o.metric for o in track.metrics)}; the bundle "
                           f"does not report {', '.join(missing)}")
    for rule in track.rules:
        if rule.metric not in metrics:
            raise Refused(422, f"track {track.name!r} requires {rule}; the bundle does not report {rule.metric}")
        claimed = float(metrics[rule.metric]["value"])
        if rule.violation(claimed) > 0:
            raise Refused(422, f"track {track.name!r} requires {rule}; the bundle claims {rule.metric} = {claimed:g}")


def entry_id(track: str, digest: str) -> str:
    return hashlib.sha256(f"{track}\n{digest}".encode()).hexdigest()[:16]


def accept(engine: Engine, tournament: Tournament, who: Principal, upload: Path, size: int,
           track_name: str | None = None) -> Accepted:
    """Verify ``upload`` and record it (see the module doc); raises :class:`Refused`."""
    checked = verify(upload, tournament)
    doc = checked.submission
    track = pick_track(tournament, doc, track_name)
    check_rules(track, doc, dt.datetime.now(dt.UTC))
    eid = entry_id(track.name, checked.digest)
    archive = f"{eid}.{checked.kind}"
    stored = tournament.store / archive
    tournament.store.mkdir(parents=True, exist_ok=True)
    added = not stored.exists()
    if added:  # on disk before the database says it exists: an accepted entry always has its archive
        with open(upload, "rb") as f:
            os.fsync(f.fileno())
        os.replace(upload, stored)  # same file system: uploads are received inside the store
        folder = os.open(tournament.store, os.O_RDONLY)
        try:
            os.fsync(folder)  # the new name too is on disk before the database names it
        finally:
            os.close(folder)
    try:
        for _ in range(3):  # a concurrent upload of the same content may win the insert: then it is a duplicate
            try:
                result = _record(engine, track, who, checked, eid, archive, size)
            except sa.exc.IntegrityError:
                continue
            if added and result.duplicate:  # the same content sent before in another archive format
                _drop_unreferenced(engine, stored)
            return result
        raise Refused(503, "the database is busy: send the bundle again")
    except BaseException:
        if added:
            _drop_unreferenced(engine, stored)
        raise


def _drop_unreferenced(engine: Engine, stored: Path) -> None:
    with engine.connect() as conn:
        used = conn.execute(sa.select(entries.c.id).where(entries.c.archive == stored.name)).first()
    if used is None:
        stored.unlink(missing_ok=True)


def _record(engine: Engine, track: Track, who: Principal, checked: Checked, eid: str, archive: str,
            size: int) -> Accepted:
    doc = checked.submission
    now = utcnow()
    with writing(engine) as conn:
        row = conn.execute(sa.select(entries.c.participant, entries.c.withdrawn).where(entries.c.id == eid)).first()
        if row is not None:
            if row.participant != who.name and not who.organizer:
                raise Refused(409, f"this bundle is already entry {eid} of another participant")
            conn.execute(submissions.insert().values(entry_id=eid, participant=who.name, received=now, size=size,
                                                     outcome="duplicate"))
            if row.withdrawn:
                conn.execute(entries.update().where(entries.c.id == eid).values(withdrawn=False))
                bump(conn)
            return Accepted(eid, track.name, str(doc["id"]), True, None)
        conn.execute(entries.insert().values(
            id=eid, track=track.name, digest=checked.digest, participant=who.name, bundle_id=str(doc["id"])[:200],
            archive=archive, size=size, submission=json.dumps(doc), system=json.dumps(checked.system), created=now,
            badge="pending", reason="", validated=None, withdrawn=False))
        conn.execute(submissions.insert().values(entry_id=eid, participant=who.name, received=now, size=size,
                                                 outcome="accepted"))
        job = conn.execute(jobs.insert().values(entry_id=eid, target=track.target, state="queued", attempts=0,
                                                created=now, note="", requested_by=who.name)).inserted_primary_key[0]
        bump(conn)
    return Accepted(eid, track.name, str(doc["id"]), False, int(job))
