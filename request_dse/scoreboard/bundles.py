"""Submission bundles as scoreboard entries (read through :mod:`request_dse.submission`).

Every bundle is verified (checksums, schema, size and depth limits) by the submission reader
before it becomes an entry; a rejected bundle -- or one the organizer's validation rejected
(unsafe settings, say) -- is listed with its reason, never ranked, and never stops the others. Badges come only from the organizer's validation store
(:class:`request_dse.submission.store.ValidationStore`), matched by content digest; what a
bundle's own ``validation.json`` says is shown as *claimed*. Names on the page are
bundle-relative (the folder given, then the path under it): no path of the organizer's machine
is published. The participant of a study's Pareto point is its study; baselines are grouped per
framework (``baseline (onnxruntime)``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from request_dse.scoreboard.entries import LIVE, Entry
from request_dse.submission import BundleError, find_bundles, read_bundle
from request_dse.submission.store import ValidationStore
from request_dse.text import escape

#: Badges from the weakest to the strongest; an entry shows the strongest it holds.
BADGE_ORDER = ("available", "functional", "reproduced")


@dataclass(frozen=True)
class LiveBundles:
    entries: tuple[Entry, ...]
    rejected: tuple[str, ...]                  # one line per rejected bundle: its name and reason
    declared: Mapping[str, str]                # metric -> direction, as the bundles declare them


def strongest_badge(badges: Iterable[Any]) -> str:
    held = {b for b in badges if isinstance(b, str)}
    found = [b for b in BADGE_ORDER if b in held]
    return found[-1] if found else ""


def participant_of(bundle: Any) -> str:
    """The name a bundle competes under: its study, or ``baseline (<framework>)``."""
    if bundle.is_baseline:
        return f"baseline ({bundle.framework})"
    return bundle.study or bundle.id


def display_name(path: Path, root: Path) -> str:
    """``path`` as the page shows it: the name of the folder given (``root``), then the path
    under it -- never an absolute path of the machine the page was made on."""
    top = root.resolve().name
    try:
        rel = path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.name
    return top if rel == "." else f"{top}/{rel}" if top else rel


def entry_of(bundle: Any, record: Mapping[str, Any] | None = None, name: str = "") -> Entry:
    """One verified :class:`request_dse.submission.Bundle` as an entry; ``record``: the
    organizer's verdict on its content (None: never validated by this organizer)."""
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
        "validated": f"{record.get('validated', '')} on {record.get('target', '')}" if record else "",
        "digest": bundle.digest[:16],
    }
    return Entry(
        id=bundle.id, participant=participant_of(bundle), study=bundle.study or "", track=LIVE,
        workload=bundle.workload, model=str(doc["workload"]["model_id"]), target=bundle.target,
        framework=bundle.framework + (f" {version}" if version else ""),
        precision=str(doc["workload"]["precision"]), baseline=bundle.is_baseline,
        badge=strongest_badge(record.get("badges", ())) if record else "",
        claimed="" if record else strongest_badge(bundle.claimed_badges),
        metrics=dict(bundle.metrics), source=name or bundle.source.name,
        details={k: v for k, v in details.items() if v})


def read_live(paths: Iterable[str | Path], store: ValidationStore | None = None) -> LiveBundles:
    """Every bundle at or under ``paths``: entries for the verified, one line for each rejected."""
    verdicts = (store or ValidationStore()).latest()
    rejected: list[str] = []
    bundles: list[tuple[Any, str]] = []
    seen: dict[str, tuple[Any, str]] = {}
    for root in [Path(p) for p in paths]:
        for path in find_bundles([root]):
            name = display_name(path, root)
            try:
                bundle = read_bundle(path)
            except BundleError as exc:
                rejected.append(escape(f"{name}: rejected ({exc.reason}): {exc.detail}"))
                continue
            if bundle.id not in seen:  # the same content twice (a folder and its archive) counts once
                seen[bundle.id] = (bundle, name)
                bundles.append((bundle, name))
            elif seen[bundle.id][0].digest != bundle.digest:
                rejected.append(escape(f"{name}: rejected (duplicate id): entry id {bundle.id!r} is already taken by "
                                       f"{seen[bundle.id][1]}, with other content"))
    declared: dict[str, str] = {}
    for b, _ in bundles:
        for metric, spec in b.submission["metrics"].items():
            if spec.get("better"):
                declared.setdefault(metric, spec["better"])
        for metric, direction in b.objectives:
            declared.setdefault(metric, direction)
    entries = []
    for b, name in bundles:
        record = verdicts.get(b.digest)
        if record is not None and record.get("status") == "rejected":  # the organizer refused this content
            why = str(record.get("reason", ""))
            why = why[why.index("rejected ("):] if "rejected (" in why else f"rejected: {why}"
            rejected.append(escape(f"{name}: {why} (when validated, {record.get('validated', '')})"))
            continue
        entries.append(entry_of(b, record, name))
    return LiveBundles(tuple(entries), tuple(rejected), declared)


def workload_names(entries: Sequence[Entry]) -> list[str]:
    """The workloads of ``entries``, the one with the most live entries first (then the most
    entries, then by name): the page opens on the first."""
    counts: dict[str, list[int]] = {}
    for e in entries:
        c = counts.setdefault(e.workload, [0, 0])
        c[0] += not e.read_only
        c[1] += 1
    return sorted(counts, key=lambda w: (-counts[w][0], -counts[w][1], w))
