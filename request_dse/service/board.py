"""The scoreboard's data, from the database: entries, and each track's frontier and hypervolume.

Entries are the scoreboard's own (:class:`request_dse.scoreboard.Entry`, made by the same code
as for bundles on disk) with what only the service knows put in: the participant is the token
that submitted it, the track is the tournament's, and the badge is the outcome of the last
validation job this service ran (``pending`` before it). A track ranks its ``reproduced``
entries that keep its rules, on its own metrics, against its reference point.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from request_dse.results import front, hypervolume, reference_point
from request_dse.scoreboard import Entry, known_axes
from request_dse.scoreboard.bundles import entry_of
from request_dse.service.tournament import Tournament, Track
from request_dse.submission import Bundle

RANKED = "reproduced"


@dataclass(frozen=True)
class Standing:
    """One track's ranking: its frontier and each participant's hypervolume."""

    track: Track
    counts: Mapping[str, int]                 # badge -> entries
    ranked: tuple[str, ...]                   # ids of the entries ranked (reproduced, within the rules)
    front: tuple[str, ...]                    # ids on the frontier
    reference: tuple[float, ...]
    reference_given: bool                     # from the tournament file (else computed from the entries)
    hypervolume: Mapping[str, float]          # participant -> hypervolume of its ranked entries
    total: float

    def to_json(self) -> dict[str, Any]:
        t = self.track
        return {"name": t.name, "description": t.description, "workload": t.workload, "target": t.target,
                "metrics": [{"metric": o.metric, "direction": o.direction} for o in t.metrics],
                "rules": [str(r) for r in t.rules],
                "reference": dict(zip([o.metric for o in t.metrics], self.reference, strict=True)),
                "reference_given": self.reference_given,
                "opens": t.opens.isoformat() if t.opens else None, "closes": t.closes.isoformat() if t.closes else None,
                "counts": dict(self.counts), "ranked": list(self.ranked), "front": list(self.front),
                "hypervolume": dict(self.hypervolume), "total_hypervolume": self.total}


KNOWN = frozenset(known_axes())


def entry_of_row(row: Any, directions: dict[str, str] | None = None) -> Entry:
    """A database row of ``entries`` as a scoreboard entry. A metric the project does not know
    is kept only when the bundle declares its direction (recorded in ``directions``)."""
    doc = json.loads(row.submission)
    bundle = Bundle(Path(f"entries/{row.id}"), None, doc, json.loads(row.system), row.digest)
    entry = entry_of(bundle)
    own = {name: spec.get("better") for name, spec in doc["metrics"].items()}
    own.update(dict(bundle.objectives))
    metrics = {}
    for name, value in entry.metrics.items():
        direction = own.get(name)
        if name in KNOWN or direction in ("minimize", "maximize"):
            metrics[name] = value
            if directions is not None and name not in KNOWN:
                directions.setdefault(name, str(direction))
    details = {**entry.details, "bundle": row.bundle_id}
    details.pop("validate", None)
    return dataclasses.replace(entry, id=row.id, participant=row.participant, track=row.track, badge=row.badge,
                               source=f"/entries/{row.id}", metrics=metrics,
                               details={k: v for k, v in details.items() if v})


def _keeps_rules(e: Entry, track: Track) -> bool:
    return all(e.value(r.metric) is not None and r.violation(e.value(r.metric) or 0.0) <= 0 for r in track.rules)


def standing(track: Track, all_entries: Sequence[Entry]) -> Standing:
    mine = [e for e in all_entries if e.track == track.name]
    counts: dict[str, int] = {}
    for e in mine:
        counts[e.badge] = counts.get(e.badge, 0) + 1
    names = [o.metric for o in track.metrics]
    directions = [o.direction for o in track.metrics]
    ranked = [e for e in mine if e.badge == RANKED and e.has(*names) and _keeps_rules(e, track)]
    points = np.array([[e.value(n) for n in names] for e in ranked], dtype=float).reshape(-1, len(names))
    given = all(n in track.reference for n in names)
    if given:
        reference = [float(track.reference[n]) for n in names]
    else:
        every = np.array([[e.value(n) for n in names] for e in mine if e.has(*names)],
                         dtype=float).reshape(-1, len(names))
        reference = reference_point(every, directions) if len(every) else [0.0] * len(names)
        reference = [float(track.reference.get(n, r)) for n, r in zip(names, reference, strict=True)]
    on_front = [ranked[i].id for i in front(points, directions)] if len(ranked) else []
    volumes: dict[str, float] = {}
    for participant in dict.fromkeys(e.participant for e in mine):
        own = points[[i for i, e in enumerate(ranked) if e.participant == participant]]
        volumes[participant] = hypervolume(own, directions, reference) if len(own) else 0.0
    total = hypervolume(points, directions, reference) if len(ranked) else 0.0
    return Standing(track, counts, tuple(e.id for e in ranked), tuple(on_front), tuple(reference), given,
                    volumes, total)


def standings(tournament: Tournament, all_entries: Sequence[Entry]) -> list[Standing]:
    return [standing(t, all_entries) for t in tournament.tracks]


def declared(tournament: Tournament) -> dict[str, str]:
    """metric -> direction, as the tracks declare them (bundles' own declarations fill the rest)."""
    out: dict[str, str] = {}
    for t in tournament.tracks:
        for o in t.metrics:
            out.setdefault(o.metric, o.direction)
    return out
