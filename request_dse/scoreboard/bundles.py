"""Submission bundles as scoreboard entries (read through :mod:`request_dse.submission`).

Every bundle is verified (checksums, schema) by the submission reader before it becomes an
entry; a rejected bundle is reported with its reason, never ranked. The participant of a study's
Pareto point is its study; baselines are grouped per framework (``baseline (onnxruntime)``), so
the hypervolume table compares each study with each framework's default-flags baseline.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from request_dse.scoreboard.entries import LIVE, Entry
from request_dse.submission import load_bundles

#: Badges from the weakest to the strongest; an entry shows the strongest it holds.
BADGE_ORDER = ("available", "functional", "reproduced")


@dataclass(frozen=True)
class LiveBundles:
    entries: tuple[Entry, ...]
    rejected: tuple[str, ...]                  # one line per rejected bundle: path and reason
    declared: Mapping[str, str]                # metric -> direction, as the bundles declare them


def strongest_badge(badges: Iterable[str]) -> str:
    held = [b for b in BADGE_ORDER if b in set(badges)]
    return held[-1] if held else ""


def participant_of(bundle: Any) -> str:
    """The name a bundle competes under: its study, or ``baseline (<framework>)``."""
    if bundle.is_baseline:
        return f"baseline ({bundle.framework})"
    return bundle.study or bundle.id


def entry_of(bundle: Any) -> Entry:
    """One verified :class:`request_dse.submission.Bundle` as an entry."""
    doc = bundle.submission
    version = (doc["framework"].get("version") or "").strip()
    system = bundle.system
    pareto = bundle.pareto or {}
    details = {
        "label": bundle.label,
        "batch_size": str(doc["target"]["batch_size"]),
        "threads": str(doc["target"]["threads"]),
        "processor": str(system.get("host_processor_model_name", "")),
        "system": str(system.get("system_name", "")),
        "pareto_rank": str(pareto["rank"]) if "rank" in pareto else "",
        "confirmed": "yes" if pareto.get("confirmed") else "",
        "objectives": ", ".join(f"{d[:3]} {m}" for m, d in bundle.objectives),
        "validate": doc["reproduce"]["validate"],
    }
    return Entry(
        id=bundle.id, participant=participant_of(bundle), study=bundle.study or "", track=LIVE,
        workload=bundle.workload, model=str(doc["workload"]["model_id"]), target=bundle.target,
        framework=bundle.framework + (f" {version}" if version else ""),
        precision=str(doc["workload"]["precision"]), baseline=bundle.is_baseline,
        badge=strongest_badge(bundle.badges), metrics=dict(bundle.metrics), source=str(bundle.source),
        details={k: v for k, v in details.items() if v})


def read_live(paths: Iterable[str | Path]) -> LiveBundles:
    """Every bundle at or under ``paths``: entries for the verified, reasons for the rejected."""
    found, errors = load_bundles(list(paths))
    rejected = [str(e) for e in errors]
    bundles: list[Any] = []
    seen: dict[str, Any] = {}
    for b in found:  # the same content twice (a folder and its archive) counts once
        if b.id not in seen:
            seen[b.id] = b
            bundles.append(b)
        elif seen[b.id].digest != b.digest:
            rejected.append(f"{b.source}: rejected (duplicate id): entry id {b.id!r} is already taken by "
                            f"{seen[b.id].source}, with other content")
    declared: dict[str, str] = {}
    for b in bundles:
        for name, spec in b.submission["metrics"].items():
            if spec.get("better"):
                declared.setdefault(name, spec["better"])
        for name, direction in b.objectives:
            declared.setdefault(name, direction)
    return LiveBundles(tuple(entry_of(b) for b in bundles), tuple(rejected), declared)
