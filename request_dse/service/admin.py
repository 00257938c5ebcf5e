"""``request-dse admin``: the organizer's operations on the tournament's database, without the server
(it need not run; a running one picks up a queued job within a second)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from request_dse.errors import UserError
from request_dse.service import queue
from request_dse.service.tables import entries, jobs
from request_dse.service.tokens import list_tokens
from request_dse.service.tournament import Tournament
from request_dse.text import table


def find_entry(engine: Engine, key: str) -> tuple[str, str]:
    """(id, track) of the entry whose id is or starts with ``key`` (at least 4 characters)."""
    if len(key) < 4:
        raise UserError(f"entry {key!r}: give at least 4 characters of its id (`admin ... list` shows them)")
    with engine.connect() as conn:
        found = conn.execute(sa.select(entries.c.id, entries.c.track)
                             .where(entries.c.id.startswith(key, autoescape=True)).limit(3)).all()
    if not found:
        raise UserError(f"no entry {key!r} (`admin ... list` shows them)")
    if len(found) > 1:
        raise UserError(f"entry {key!r} is ambiguous: {', '.join(r.id for r in found)}...")
    return found[0].id, found[0].track


def revalidate(engine: Engine, tournament: Tournament, key: str, who: str = "admin") -> tuple[str, int]:
    """Queue a new validation of an entry; (entry id, job id)."""
    entry_id, track_name = find_entry(engine, key)
    track = tournament.track(track_name)
    if track is None:
        raise UserError(f"entry {entry_id} is on track {track_name!r}, which {tournament.source} no longer has")
    return entry_id, queue.enqueue(engine, entry_id, track.target, who)


def export(engine: Engine, tournament: Tournament, output: Path, base: str = "") -> Path:
    """The scoreboard as the server shows it, badges included, as one self-contained file."""
    from request_dse.service.pages import board_page
    from request_dse.service.snapshot import Boards

    snap = Boards(engine, tournament).current()
    html, _ = board_page(tournament, snap.entries, snap.standings, snap.revision, snap.directions, live=False,
                         base=base)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{output}: cannot write the scoreboard ({exc.strerror or exc})") from None
    return output


def listing(engine: Engine) -> str:
    """Tokens, entries and the queue, as text tables."""
    with engine.connect() as conn:
        tokens = list_tokens(conn)
        rows = conn.execute(sa.select(entries.c.id, entries.c.track, entries.c.participant, entries.c.badge,
                                      entries.c.bundle_id, entries.c.withdrawn, entries.c.created)
                            .order_by(entries.c.created)).all()
        states = dict(conn.execute(sa.select(jobs.c.state, sa.func.count()).group_by(jobs.c.state)).all())
    out = [f"tokens ({len(tokens)}):"]
    out.append(table(("name", "role", "created", "revoked"),
                     [(t["name"], t["role"], f"{t['created']:%Y-%m-%d %H:%M}",
                       f"{t['revoked']:%Y-%m-%d %H:%M}" if t["revoked"] else "") for t in tokens])
               if tokens else "  none")
    out.append(f"\nentries ({len(rows)}):")
    out.append(table(("id", "track", "participant", "badge", "bundle", "submitted (UTC)"),
                     [(r.id, r.track, r.participant, r.badge + (" (withdrawn)" if r.withdrawn else ""), r.bundle_id,
                       f"{r.created:%Y-%m-%d %H:%M}") for r in rows]) if rows else "  none")
    out.append("\njobs: " + (", ".join(f"{states[s]} {s}" for s in ("queued", "running", "done") if s in states)
                             or "none"))
    return "\n".join(out)
