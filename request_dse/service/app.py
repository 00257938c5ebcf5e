"""The service as an ASGI application: the live scoreboard (``/``), entry pages, the JSON API.

:func:`create_app` wires a tournament to its database and to the validation workers, which
start with the application (after the database is migrated and the jobs of a stopped server
are queued again) and stop with it (their running jobs go back to the queue).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import AsyncIterator

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.engine import Engine

from request_dse import __version__
from request_dse.service.api import add_upload_route, router
from request_dse.service.auth import RateLimiter
from request_dse.service.database import connect, revision
from request_dse.service.entry_page import entry_page
from request_dse.service.pages import board_page, csp, live_script
from request_dse.service.sandbox import check_mode
from request_dse.service.snapshot import Boards, Snapshot
from request_dse.service.tables import entries, jobs, submissions, validations
from request_dse.service.tournament import Tournament
from request_dse.service.validator import Validator

REVISION_TTL_S = 0.5


class Service:
    """What the request handlers share: the tournament, the database, the workers, caches."""

    def __init__(self, tournament: Tournament, engine: Engine | None = None) -> None:
        self.tournament = tournament
        self.engine = engine or connect(tournament.database)
        self.validator = Validator(self.engine, tournament)
        self.limiter = RateLimiter()
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._revision: tuple[float, int] = (0.0, -1)
        self.boards = Boards(self.engine, tournament)
        self._page: tuple[int, tuple[str, str]] = (-1, ("", ""))

    def revision(self) -> int:
        """The database's revision, asked at most every half second however many pages listen."""
        with self._lock:
            when, value = self._revision
            if time.monotonic() - when < REVISION_TTL_S:
                return value
        with self.engine.connect() as conn:
            value = revision(conn)
        with self._lock:
            self._revision = (time.monotonic(), value)
        return value

    def board(self) -> Snapshot:
        """The board at the database's current revision (built once per revision)."""
        return self.boards.current()

    def page(self) -> tuple[str, str]:
        """The board's HTML and its Content-Security-Policy, rendered once per revision."""
        snap = self.board()
        with self._lock:
            if self._page[0] == snap.revision:
                return self._page[1]
        page = board_page(self.tournament, snap.entries, snap.standings, snap.revision, snap.directions)
        with self._lock:
            self._page = (snap.revision, page)
        return page

    def entry_page(self, entry_id: str, server: str) -> tuple[str, str] | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(entries).where(entries.c.id == entry_id)).first()
            if row is None:
                return None
            history = {name: [r._mapping for r in conn.execute(sa.select(table).where(table.c.entry_id == entry_id)
                                                               .order_by(table.c.id))]
                       for name, table in (("submissions", submissions), ("jobs", jobs),
                                           ("validations", validations))}
            current = revision(conn)
        track = self.tournament.track(row.track)
        html = entry_page(row._mapping, history, current, track.target if track else row.track, server)
        return html, csp(live_script(current, "../"))


def create_app(tournament: Tournament, *, engine: Engine | None = None, validate: bool = True) -> FastAPI:
    """The application for ``tournament``; ``validate=False`` leaves the queue to other servers."""
    if validate and tournament.validation.workers and tournament.validation.executor == "local":
        check_mode(tournament.validation.sandbox)
    service = Service(tournament, engine)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if validate:
            service.validator.start()
        try:
            yield
        finally:
            service.stopping.set()
            if validate:
                service.validator.stop()

    app = FastAPI(title=f"request-dse tournament service: {tournament.name}", version=__version__,
                  description="Submissions, validation jobs and the live scoreboard of a ReQuEST-style tournament. "
                              "Writes need `Authorization: Bearer <token>` (tokens: `request-dse admin`).",
                  openapi_url="/api/v1/openapi.json", docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.service = service
    app.include_router(router)
    add_upload_route(app)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def scoreboard() -> HTMLResponse:
        html, policy = service.page()
        return HTMLResponse(html, headers={**PAGE_HEADERS, "Content-Security-Policy": policy})

    @app.get("/entries/{entry_id}", response_class=HTMLResponse, include_in_schema=False)
    def entry(entry_id: str, request: Request) -> HTMLResponse:
        found = service.entry_page(entry_id, str(request.base_url))
        if found is None:
            return HTMLResponse("<!DOCTYPE html><title>no such entry</title><p>No such entry.</p>", status_code=404,
                                headers={**PAGE_HEADERS, "Content-Security-Policy": csp()})
        return HTMLResponse(found[0], headers={**PAGE_HEADERS, "Content-Security-Policy": found[1]})

    return app


#: The pages load nothing from elsewhere and cannot be framed (their scripts: see pages.csp).
PAGE_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
