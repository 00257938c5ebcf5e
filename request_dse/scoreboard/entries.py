"""One row of the scoreboard: an :class:`Entry`, whatever it was read from.

A live submission bundle and a row of a historical results table both become an ``Entry``; the
frontier, the hypervolume and the page only ever see entries. A metric an entry lacks is
``None``: the entry stays in the table and is left out of a frontier only on the axes it lacks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: The track of entries read from submission bundles (historical tracks are named by their table).
LIVE = "live"


@dataclass(frozen=True)
class Entry:
    """One ranked point: who submitted it, what it ran, where, and what it measured.

    ``metrics`` maps a metric name to its value in the scoreboard's unit, or ``None`` where the
    source lacks it. ``badge`` is the highest validation badge the organizer's own record gives
    ("" when never validated); ``claimed``, the highest a bundle's own ``validation.json`` claims
    where the organizer has no record (shown as a claim, never as a badge).
    ``read_only`` marks historical figures that nothing can re-run. ``details`` holds further
    columns shown as text (batch size, flags, platform notes); ``source`` says where the entry
    was read from (a bundle directory, or ``file:row``).
    """

    id: str
    participant: str
    study: str
    track: str
    workload: str
    model: str
    target: str
    framework: str
    precision: str
    baseline: bool
    badge: str
    metrics: Mapping[str, float | None]
    source: str
    read_only: bool = False
    details: Mapping[str, str] = field(default_factory=dict)
    claimed: str = ""

    @property
    def validated(self) -> bool:
        """Reproduced by the organizer (or a historical, validated result): starred on a frontier."""
        return self.read_only or self.badge == "reproduced"

    def value(self, metric: str) -> float | None:
        """The metric's value, or ``None`` when missing or not a finite number."""
        v = self.metrics.get(metric)
        if v is None or not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
            return None
        return float(v)

    def has(self, *metrics: str) -> bool:
        return all(self.value(m) is not None for m in metrics)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "participant": self.participant, "study": self.study, "track": self.track,
                "workload": self.workload, "model": self.model, "target": self.target,
                "framework": self.framework, "precision": self.precision, "baseline": self.baseline,
                "badge": self.badge, "claimed": self.claimed, "validated": self.validated,
                "read_only": self.read_only, "source": self.source,
                "metrics": {k: self.value(k) for k in self.metrics}, "details": dict(self.details)}


def metric_names(entries: Sequence[Entry]) -> list[str]:
    """Every metric any entry carries, in first-seen order."""
    seen: dict[str, None] = {}
    for e in entries:
        for name in e.metrics:
            seen.setdefault(name, None)
    return list(seen)
