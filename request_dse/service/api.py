"""The JSON API under ``/api/v1/``: entries, tracks, submissions, jobs (OpenAPI at ``/api/v1/openapi.json``).

Reads of the scoreboard (entries, tracks, the revision, its events) are public; every write and
every private read needs a token. Participants see and change only their own submissions;
organizer-only operations are checked here, on the server.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse

from request_dse.service import queue
from request_dse.service.auth import organizer, participant, too_many
from request_dse.service.intake import accept
from request_dse.service.models import (
    AcceptedOut,
    EntryDetail,
    EntryOut,
    JobOut,
    Problem,
    Revision,
    SubmissionOut,
    TournamentOut,
    TrackOut,
    WhoAmI,
)
from request_dse.service.tables import entries, jobs, submissions, validations
from request_dse.service.tokens import Principal
from request_dse.service.uploads import Refused, drain, receive

#: A refused upload is read (and dropped) up to this many times the upload limit before the answer.
DRAIN_FACTOR = 4

router = APIRouter(prefix="/api/v1")
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": Problem}
                                           for code in (401, 403, 404, 409, 413, 415, 422, 429)}


def _service(request: Request) -> Any:
    return request.app.state.service


def entry_out(row: Any) -> EntryOut:
    from request_dse.service.board import entry_of_row

    e = entry_of_row(row)
    return EntryOut(id=row.id, participant=row.participant, track=row.track, badge=row.badge, reason=row.reason,
                    bundle_id=row.bundle_id, label=e.details.get("label", ""), workload=e.workload, model=e.model,
                    framework=e.framework, target=e.target, precision=e.precision, baseline=e.baseline,
                    submitted=row.created, validated=row.validated, metrics=dict(e.metrics), url=f"/entries/{row.id}")


def job_out(row: Any) -> JobOut:
    return JobOut(id=row.id, entry=row.entry_id, target=row.target, state=row.state, attempts=row.attempts,
                  created=row.created, started=row.started, finished=row.finished, note=row.note,
                  requested_by=row.requested_by)


def _entry_row(conn: Any, entry_id: str) -> Any:
    row = conn.execute(sa.select(entries).where(entries.c.id == entry_id)).first()
    if row is None:
        raise HTTPException(404, f"no entry {entry_id!r}")
    return row


@router.get("/entries", response_model=list[EntryOut], summary="Every entry on the scoreboard (public)")
def list_entries(request: Request, track: str | None = None, participant: str | None = None,
                 badge: str | None = None) -> Response:
    snap = _service(request).board()
    wanted = {k: v for k, v in (("track", track), ("participant", participant), ("badge", badge)) if v is not None}
    if not wanted:
        return Response(snap.listing_json, media_type="application/json")
    return JSONResponse([e for e in snap.listing if all(e[k] == v for k, v in wanted.items())])


@router.get("/entries/{entry_id}", response_model=EntryDetail, responses=ERRORS, summary="One entry, its validations")
def get_entry(request: Request, entry_id: str) -> EntryDetail:
    with _service(request).engine.connect() as conn:
        row = _entry_row(conn, entry_id)
        found = conn.execute(sa.select(validations).where(validations.c.entry_id == entry_id)
                             .order_by(validations.c.id)).all()
        job_rows = conn.execute(sa.select(jobs).where(jobs.c.entry_id == entry_id).order_by(jobs.c.id)).all()
    doc = json.loads(row.submission)
    checks = []
    for v in found:
        result = json.loads(v.result)
        checks.append({"job": v.job_id, "status": v.status, "reason": v.reason, "finished": v.finished, "node": v.node,
                       "isolation": v.isolation, "checks": result.get("checks", []),
                       "not_compared": result.get("not_compared", {})})
    return EntryDetail(**entry_out(row).model_dump(), system=json.loads(row.system), reproduce=doc.get("reproduce", {}),
                       validations=checks, jobs=[job_out(j) for j in job_rows])


@router.get("/entries/{entry_id}/bundle", responses=ERRORS, summary="The entry's bundle archive, as submitted")
def get_bundle(request: Request, entry_id: str) -> FileResponse:
    service = _service(request)
    with service.engine.connect() as conn:
        row = _entry_row(conn, entry_id)
    return FileResponse(service.tournament.store / row.archive, filename=row.archive,
                        media_type="application/zip" if row.archive.endswith(".zip") else "application/gzip")


@router.delete("/entries/{entry_id}", responses=ERRORS, summary="Withdraw an entry (its participant or an organizer)")
def withdraw(request: Request, entry_id: str, who: Principal = Depends(participant)) -> dict[str, str]:  # noqa: B008
    service = _service(request)
    from request_dse.service.database import bump, writing

    with writing(service.engine) as conn:
        row = _entry_row(conn, entry_id)
        if row.participant != who.name and not who.organizer:
            raise HTTPException(403, f"entry {entry_id} belongs to another participant")
        conn.execute(entries.update().where(entries.c.id == entry_id).values(withdrawn=True))
        bump(conn)
    return {"entry": entry_id, "state": "withdrawn"}


@router.post("/entries/{entry_id}/revalidate", response_model=JobOut, responses=ERRORS,
             summary="Queue a new validation of an entry (organizers)")
def revalidate(request: Request, entry_id: str, who: Principal = Depends(organizer)) -> JobOut:  # noqa: B008
    service = _service(request)
    with service.engine.connect() as conn:
        row = _entry_row(conn, entry_id)
    track = service.tournament.track(row.track)
    if track is None:
        raise HTTPException(409, f"entry {entry_id} is on track {row.track!r}, which the tournament file no longer has")
    job_id = queue.enqueue(service.engine, entry_id, track.target, who.name)
    service.validator.wake()
    with service.engine.connect() as conn:
        return job_out(conn.execute(sa.select(jobs).where(jobs.c.id == job_id)).one())


@router.get("/tracks", response_model=list[TrackOut], summary="Each track, its frontier and hypervolumes (public)")
def list_tracks(request: Request) -> list[dict[str, Any]]:
    return [s.to_json() for s in _service(request).board().standings]


@router.get("/tournament", response_model=TournamentOut, summary="The tournament, its limits and tracks (public)")
def get_tournament(request: Request) -> TournamentOut:
    t = _service(request).tournament
    limits = t.limits
    return TournamentOut(name=t.name, title=t.title, description=t.description,
                         opens=t.opens.isoformat() if t.opens else None,
                         closes=t.closes.isoformat() if t.closes else None,
                         tracks=[tr.name for tr in t.tracks],
                         limits={"upload_mb": limits.upload_mb, "expanded_mb": limits.expanded_mb,
                                 "members": limits.members, "requests_per_minute": limits.requests_per_minute,
                                 "submissions_per_hour": limits.submissions_per_hour})


@router.get("/revision", response_model=Revision, summary="The scoreboard's revision (public)")
def get_revision(request: Request) -> Revision:
    return Revision(revision=_service(request).revision())


@router.get("/events", summary="Server-sent events: 'revision' whenever the scoreboard changes (public)")
async def events(request: Request) -> StreamingResponse:
    service = _service(request)

    async def stream() -> Any:
        last, quiet = None, 0
        while not service.stopping.is_set() and not await request.is_disconnected():
            current = await run_in_threadpool(service.revision)
            if current != last:
                last, quiet = current, 0
                yield f"event: revision\ndata: {current}\n\n"
            elif quiet >= 15:
                quiet = 0
                yield ": still here\n\n"
            quiet += 1
            await asyncio.sleep(1.0)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


@router.get("/whoami", response_model=WhoAmI, responses=ERRORS, summary="The token's name and role")
def whoami(who: Principal = Depends(participant)) -> WhoAmI:  # noqa: B008
    return WhoAmI(name=who.name, role=who.role)  # type: ignore[arg-type]


async def _upload(request: Request, response: Response, track: str | None = None,
                  who: Principal = Depends(participant)) -> AcceptedOut:  # noqa: B008
    service = _service(request)
    limits = service.tournament.limits
    wait = service.limiter.take(f"uploads:{who.name}", limits.submissions_per_hour, 3600.0)
    if wait:
        raise too_many(wait, f"submissions for token {who.name!r} (limit {limits.submissions_per_hour} an hour)")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.upload_bytes:
        await drain(request.receive, DRAIN_FACTOR * limits.upload_bytes)
        raise HTTPException(413, f"upload of {int(declared)} bytes: larger than the limit of {limits.upload_mb:g} MiB")
    incoming = service.tournament.store / ".incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=incoming))
    try:
        size = await receive(request.stream(), folder / "upload", limits.upload_bytes)
        result = await run_in_threadpool(accept, service.engine, service.tournament, who, folder / "upload", size,
                                         track)
    except Refused as exc:
        if exc.unread:
            await drain(request.receive, DRAIN_FACTOR * limits.upload_bytes)
        raise HTTPException(exc.status, exc.message) from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    service.validator.wake()
    response.status_code = 200 if result.duplicate else 201
    return AcceptedOut(entry=result.entry, track=result.track, bundle_id=result.bundle_id, duplicate=result.duplicate,
                       job=result.job, url=f"/entries/{result.entry}")


def add_upload_route(app: Any) -> None:
    """The upload route. The tournament's size limit is checked by the handler itself -- on the
    declared length first, then on every chunk -- so a refusal is the same one line in every case."""
    app.add_api_route("/api/v1/submissions", _upload, methods=["POST"], status_code=201, response_model=AcceptedOut,
                      responses=ERRORS,
                      summary="Submit a bundle archive (.tar.gz or .zip) as the request body; ?track=NAME optional",
                      openapi_extra={"requestBody": {"required": True, "content": {
                             "application/gzip": {"schema": {"type": "string", "format": "binary"}},
                             "application/zip": {"schema": {"type": "string", "format": "binary"}}}}})


@router.get("/submissions", response_model=list[SubmissionOut], responses=ERRORS,
            summary="Uploads: your own (organizers: everyone's)")
def list_submissions(request: Request, who: Principal = Depends(participant)) -> list[SubmissionOut]:  # noqa: B008
    query = sa.select(submissions).order_by(submissions.c.id)
    if not who.organizer:
        query = query.where(submissions.c.participant == who.name)
    with _service(request).engine.connect() as conn:
        return [SubmissionOut(id=r.id, entry=r.entry_id, participant=r.participant, received=r.received, size=r.size,
                              outcome=r.outcome) for r in conn.execute(query)]


@router.get("/jobs", response_model=list[JobOut], responses=ERRORS,
            summary="Validation jobs: of your entries (organizers: all)")
def list_jobs(request: Request, state: str | None = None,
              who: Principal = Depends(participant)) -> list[JobOut]:  # noqa: B008
    query = sa.select(jobs).order_by(jobs.c.id)
    if state is not None:
        query = query.where(jobs.c.state == state)
    if not who.organizer:
        query = query.where(jobs.c.entry_id.in_(sa.select(entries.c.id).where(entries.c.participant == who.name)))
    with _service(request).engine.connect() as conn:
        return [job_out(r) for r in conn.execute(query)]
