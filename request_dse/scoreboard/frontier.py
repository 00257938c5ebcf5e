"""The Pareto frontier of scoreboard entries on chosen axes, and hypervolume per participant.

A frontier and its hypervolumes exist per workload (:func:`per_workload`): results of different
workloads are never ranked together. An entry that lacks a value on one of the chosen axes is
left out of that frontier (and listed in :attr:`Frontier.excluded` with the axes it lacks); on
axes it has, it competes as usual. All participants are measured against one shared reference
point, so their hypervolumes compare. Entries on the frontier that the organizer has not
reproduced are listed in :attr:`Frontier.unvalidated` (the page marks them, it does not star
them). The page's script implements the same rules for two axes; tests hold the two to each other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from request_dse.results import fronts
from request_dse.scoreboard.axes import Axis
from request_dse.scoreboard.entries import Entry


@dataclass(frozen=True)
class Frontier:
    axes: tuple[str, ...]
    directions: tuple[str, ...]
    considered: tuple[str, ...]              # ids of the entries with every axis
    excluded: Mapping[str, tuple[str, ...]]  # id -> the chosen axes it lacks
    front: tuple[str, ...]                   # ids of the non-dominated entries
    reference: tuple[float, ...]             # shared reference point (empty when nothing is considered)
    hypervolume: Mapping[str, float]         # participant -> hypervolume of its own entries (0: none here)
    total_hypervolume: float                 # of all considered entries together
    unvalidated: tuple[str, ...] = ()        # ids on the frontier the organizer has not reproduced


def compute(entries: Sequence[Entry], axes: Sequence[Axis], *, margin: float = 0.1) -> Frontier:
    """Frontier, exclusions and per-participant hypervolume of ``entries`` on ``axes``."""
    names = tuple(a.name for a in axes)
    directions = tuple(a.direction for a in axes)
    considered = [e for e in entries if e.has(*names)]
    excluded = {e.id: tuple(n for n in names if e.value(n) is None) for e in entries if not e.has(*names)}
    participants = list(dict.fromkeys(e.participant for e in entries))
    if not considered:
        return Frontier(names, directions, (), excluded, (), (), dict.fromkeys(participants, 0.0), 0.0)
    points = np.array([[e.value(n) for n in names] for e in considered], dtype=float)
    front = [considered[i].id for i in fronts.front(points, directions)]
    reference = fronts.reference_point(points, directions, margin)
    volumes: dict[str, float] = {}
    for participant in participants:  # a participant with nothing on these axes scores 0
        own = points[[i for i, e in enumerate(considered) if e.participant == participant]]
        volumes[participant] = fronts.hypervolume(own, directions, reference) if len(own) else 0.0
    total = fronts.hypervolume(points, directions, reference)
    validated = {e.id for e in considered if e.validated}
    return Frontier(names, directions, tuple(e.id for e in considered), excluded, tuple(front),
                    tuple(reference), volumes, total, tuple(i for i in front if i not in validated))


def per_workload(entries: Sequence[Entry], axes_of: Mapping[str, Sequence[Axis]]) -> dict[str, Frontier]:
    """One frontier per workload, on that workload's axes (``axes_of[workload]``)."""
    groups: dict[str, list[Entry]] = {}
    for e in entries:
        groups.setdefault(e.workload, []).append(e)
    return {w: compute(group, axes_of[w]) for w, group in groups.items() if w in axes_of}
