"""The board at one revision of the database, built once per revision and shared by every request.

Bundles never change once accepted, so each one's documents are parsed once and kept; a new
revision reads only the columns that change (badge, reason, validation time, withdrawal) and the
entries it has not seen. The page at ``/`` and ``GET /api/v1/entries`` are served from it.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from request_dse.scoreboard import Entry
from request_dse.service.board import Standing, entry_of_row, standings
from request_dse.service.database import revision
from request_dse.service.tables import entries
from request_dse.service.tournament import Tournament

_LIGHT = (entries.c.id, entries.c.badge, entries.c.reason, entries.c.validated, entries.c.withdrawn,
          entries.c.created, entries.c.bundle_id)


@dataclass(frozen=True)
class Snapshot:
    revision: int
    entries: tuple[Entry, ...]                 # on the board (not withdrawn), oldest first
    directions: dict[str, str]                 # metric -> direction, for metrics only bundles declare
    standings: tuple[Standing, ...]
    listing: tuple[dict[str, Any], ...]        # GET /api/v1/entries, in the same order
    listing_json: bytes                        # the same, serialized


def listed(entry: Entry, row: Any) -> dict[str, Any]:
    """An entry as ``GET /api/v1/entries`` lists it (the fields of :class:`..models.EntryOut`)."""
    return {"id": entry.id, "participant": entry.participant, "track": entry.track, "badge": row.badge,
            "reason": row.reason, "bundle_id": row.bundle_id, "label": entry.details.get("label", ""),
            "workload": entry.workload, "model": entry.model, "framework": entry.framework, "target": entry.target,
            "precision": entry.precision, "baseline": entry.baseline, "submitted": row.created.isoformat(),
            "validated": row.validated.isoformat() if row.validated else None,
            "metrics": {name: entry.value(name) for name in entry.metrics},
            "url": f"/entries/{entry.id}"}


class Boards:
    """Snapshots of the board of one tournament, one per database revision."""

    def __init__(self, engine: Engine, tournament: Tournament) -> None:
        self.engine, self.tournament = engine, tournament
        self._parsed: dict[str, tuple[Entry, dict[str, str]]] = {}
        self._current: Snapshot | None = None
        self._lock = threading.Lock()

    def current(self) -> Snapshot:
        with self.engine.connect() as conn:
            now = revision(conn)
            if self._current is not None and self._current.revision == now:
                return self._current
            with self._lock:  # one request builds it; the others wait and share it
                if self._current is not None and self._current.revision == now:
                    return self._current
                rows = conn.execute(sa.select(*_LIGHT).order_by(entries.c.created, entries.c.id)).all()
                new = [r.id for r in rows if r.id not in self._parsed]
                for start in range(0, len(new), 500):
                    chunk = new[start: start + 500]
                    for row in conn.execute(sa.select(entries).where(entries.c.id.in_(chunk))):
                        declared: dict[str, str] = {}
                        self._parsed[row.id] = (entry_of_row(row, declared), declared)
                self._current = self._build(now, [r for r in rows if not r.withdrawn])
                return self._current

    def _build(self, now: int, rows: Sequence[Any]) -> Snapshot:
        found, directions, listing = [], {}, []
        for row in rows:
            entry, declared = self._parsed[row.id]
            entry = dataclasses.replace(entry, badge=row.badge)
            found.append(entry)
            for name, direction in declared.items():
                directions.setdefault(name, direction)
            listing.append(listed(entry, row))
        return Snapshot(now, tuple(found), directions, tuple(standings(self.tournament, found)), tuple(listing),
                        json.dumps(listing, allow_nan=False, default=str).encode())
